"""Fixtures of the gfclient conformance suite: every test runs once per target (the one
``target`` fixture of tests/targets.py, defined in tests/conftest.py)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

import gfclient
from tests.targets import Target


@pytest.fixture
def vol(target: Target) -> Iterator[gfclient.Volume]:
    """A mounted volume (sync API) for one test."""
    with target.connect() as v:
        yield v


@pytest.fixture
def workdir(request: pytest.FixtureRequest, vol: gfclient.Volume) -> str:
    """A fresh directory of this test in the shared volume (not removed afterwards)."""
    name = request.node.originalname.removeprefix("test_")[:40]
    path = f"/conf-{name}-{secrets.token_hex(3)}"
    vol.mkdir(path, 0o755)
    return path
