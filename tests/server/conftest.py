"""Raw clients (tests/rawclient.py) on the ``target`` volume, shared by the brick tests: ``mount``
(one per module) and ``a``, ``b``, ``c`` (three independent clients per test, for contention)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.rawclient import Mount


def _mounted(target) -> Iterator[Mount]:
    m = Mount(target.host, target.port, target.volume)
    yield m
    m.close()


@pytest.fixture(scope="module")
def mount(target) -> Iterator[Mount]:
    yield from _mounted(target)


@pytest.fixture
def a(target) -> Iterator[Mount]:
    yield from _mounted(target)


@pytest.fixture
def b(target) -> Iterator[Mount]:
    yield from _mounted(target)


@pytest.fixture
def c(target) -> Iterator[Mount]:
    yield from _mounted(target)
