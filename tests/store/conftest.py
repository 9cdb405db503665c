"""Fixtures for the store contract tests: one ``store`` per implementation.

``STORE_FACTORIES`` maps a name to ``factory(tmp_path) -> Store``; the ``store`` fixture is
parametrized over it, so every contract test runs on every store.  ``DirectoryStore`` joins
the list as soon as ``fakegluster.store.directory`` exists.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import time

import pytest

from fakegluster.store.memory import MemoryStore


def fake_clock(start: int = 1_700_000_000 * 10**9, step: int = 1_000_000):
    """A ``time.time_ns`` stand-in that moves ``step`` ns on every call."""
    counter = itertools.count(start, step)
    return lambda: next(counter)


def _memory(tmp_path):
    return MemoryStore(clock=fake_clock(), uid=os.getuid(), gid=os.getgid())


def _directory(tmp_path):
    from fakegluster.store.directory import DirectoryStore

    root = tmp_path / "volume"
    root.mkdir()
    root.chmod(0o755)
    return DirectoryStore(root, allow_devices=True)


STORE_FACTORIES = {"memory": _memory}
if importlib.util.find_spec("fakegluster.store.directory") is not None:
    STORE_FACTORIES["directory"] = _directory


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request, tmp_path):
    s = STORE_FACTORIES[request.param](tmp_path)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store_factory(request):
    """``factory(tmp_path) -> Store`` for tests that need several fresh stores."""
    return STORE_FACTORIES[request.param]


@pytest.fixture
def tick(store):
    """Let time pass between two operations so timestamps can move: a store on a real
    filesystem needs a few ms (coarse kernel clock); a fake clock already moved."""
    if isinstance(store, MemoryStore):
        return lambda: None
    return lambda: time.sleep(0.012)
