"""Targets for the conformance suite: every test runs once per target.

A target is a served GlusterFS volume: ``kind`` ("real", "fake", ...), ``volume``, and the
URIs to reach it.  Add a target by adding a factory to :data:`TARGETS`::

    def make_fake_target(request: pytest.FixtureRequest) -> Target:
        info = request.getfixturevalue("fake_gluster")      # a session fixture of yours
        return Target("fake", "testvol", tcp=("127.0.0.1", info.port), socket=info.unix[0].path)

    TARGETS["fake"] = make_fake_target
    TARGET_MARKS["fake"] = []

A factory gets the ``target`` fixture's request (so it can pull session fixtures with
``request.getfixturevalue``) and is called once per session.  The real target needs a real
glusterd (``real_gluster``/``real_volume`` of tests/conftest.py): without one the tests are
skipped, and under ``CI=true`` they FAIL.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator

import pytest

import gfclient
from gfclient.uri import GlusterURI

__all__ = ["Target", "TARGETS", "TARGET_MARKS", "GLUSTERD_SOCKET"]

#: Where the real glusterd's unix socket is (it serves GETSPEC there).
GLUSTERD_SOCKET = "/var/run/glusterd.socket"


@dataclasses.dataclass(frozen=True)
class Target:
    """One served volume.  ``tcp`` is the volfile server (host, port); ``socket`` its unix
    socket, or None when the target has none."""

    kind: str
    volume: str
    tcp: tuple[str, int]
    socket: str | None = None

    def tcp_uri(self, path: str | None = None) -> str:
        """``gluster://HOST:PORT/VOLUME[/PATH]``."""
        host, port = self.tcp
        return GlusterURI("tcp", host, port, None, self.volume, path or None).to_uri()

    def unix_uri(self, path: str | None = None) -> str | None:
        """``gluster+unix:///VOLUME[/PATH]?socket=SOCKET``, or None without a unix socket."""
        if self.socket is None:
            return None
        return GlusterURI("unix", None, None, self.socket, self.volume, path or None).to_uri()

    def connect(self, path: str | None = None) -> gfclient.Volume:
        return gfclient.connect(self.tcp_uri(path))


def make_real_target(request: pytest.FixtureRequest) -> Target:
    """A real GlusterFS 10.3 volume (one brick) created for this session."""
    vol = request.getfixturevalue("real_volume")
    return Target("real", vol.name, (vol.host, vol.port), GLUSTERD_SOCKET)


def make_fake_target(request: pytest.FixtureRequest) -> Target:
    """fakegluster in this process (a thread), in-memory store."""
    from fakegluster.server import FakeGluster

    sock = request.getfixturevalue("tmp_path_factory").mktemp("conf-fake") / "glusterd.sock"
    server = FakeGluster(["confvol"], ["tcp://127.0.0.1:0", f"unix://{sock}"])
    info = server.start()
    request.session.config.add_cleanup(server.stop)
    return Target("fake", "confvol", ("127.0.0.1", info.port), info.unix[0].path)


def make_fake_subprocess_target(request: pytest.FixtureRequest) -> Target:
    """``fakegluster serve`` as a process, serving a directory (the directory store)."""
    from fakegluster.testing.serve import serve_process

    tmp = request.getfixturevalue("tmp_path_factory").mktemp("conf-fake-proc")
    (tmp / "data").mkdir()
    sock = tmp / "glusterd.sock"
    served = serve_process(volumes=[f"confdir={tmp / 'data'}"], listen=["tcp://127.0.0.1:0", f"unix://{sock}"])
    request.session.config.add_cleanup(served.stop)
    return Target("fake-subprocess", "confdir", ("127.0.0.1", served.port()), str(sock))


#: kind -> factory.  Append fake targets here.
TARGETS: dict[str, Callable[[pytest.FixtureRequest], Target]] = {
    "real": make_real_target,
    "fake": make_fake_target,
    "fake-subprocess": make_fake_subprocess_target,
}
#: kind -> marks for its tests (``real``: needs the real peer, required under CI=true).
TARGET_MARKS: dict[str, list[pytest.MarkDecorator]] = {"real": [pytest.mark.real]}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        metafunc.parametrize(
            "target",
            [pytest.param(kind, marks=TARGET_MARKS.get(kind, []), id=kind) for kind in TARGETS],
            indirect=True,
            scope="session",
        )


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    return TARGETS[request.param](request)


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
