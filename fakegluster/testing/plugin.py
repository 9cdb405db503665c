"""pytest plugin (loaded through the ``pytest11`` entry point): fake GlusterFS fixtures.

* ``fakegluster`` — a fresh :class:`~fakegluster.server.FakeGluster` per test, serving one
  in-memory volume ``testvol`` on a free TCP port of 127.0.0.1 and on a unix socket in a
  short temporary directory of its own (``/tmp/fg-XXXXXX``: a socket path must fit AF_UNIX's
  107 bytes, which pytest's tmp_path often does not), removed after the test; its call log
  and fault rules belong to that test only::

      def test_qemu_sees_the_image(fakegluster):
          fakegluster.write_file("a.img", b"\\0" * 65536)
          run(["qemu-img", "info", fakegluster.uri("testvol", "a.img")])
          fakegluster.calls.assert_called("LOOKUP", bname="a.img")

* ``fakegluster_factory`` — start more servers: ``fakegluster_factory(volumes=[...],
  listen=[...])``; all are stopped after the test.

A server starts in milliseconds, so a per-test server is the default; for a session-wide
one, start ``FakeGluster`` in a session fixture of your own.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from ..server import FakeGluster


@pytest.fixture
def fakegluster_factory() -> Iterator[Callable[..., FakeGluster]]:
    started: list[FakeGluster] = []
    dirs: list[str] = []

    def make(volumes: Iterable[Any] = ("testvol",), listen: Iterable[str] | None = None, **kw: Any) -> FakeGluster:
        if listen is None:
            dirs.append(tempfile.mkdtemp(prefix="fg-"))  # short: AF_UNIX paths end at 107 bytes
            listen = ["tcp://127.0.0.1:0", f"unix://{dirs[-1]}/glusterd.sock"]
        server = FakeGluster(volumes, listen, **kw)
        server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fakegluster(fakegluster_factory: Callable[..., FakeGluster]) -> FakeGluster:
    return fakegluster_factory()
