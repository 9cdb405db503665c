"""The one ``target`` of the conformance tests: a served GlusterFS volume, real or fake.

A test that takes ``target`` runs once per kind in :data:`TARGETS` (the session starts each
at most once): ``real`` (a real GlusterFS 10.3 volume; marked ``real``, so it FAILS under
``CI=true`` without one), ``fake`` (fakegluster in this process, memory store) and
``fake-subprocess`` (``fakegluster serve`` as a process, directory store).  The same
assertions hold on each: a test passing on ``real`` and failing on another kind has found a
difference of that kind (fix it, or record it in fakegluster/differences.py and mark the
test with :func:`tests.helpers.known_difference`).

A module restricts the kinds with ``pytestmark = pytest.mark.targets("fake", "real")``, or
asks for more: the volumes of other types, real (``real-replica3``... :data:`REAL_CLUSTER_KINDS`,
the session's ``real_cluster`` volumes) and fake (``fake-replica3``... :data:`FAKE_CLUSTER_KINDS`,
served by the session's ``fake_cluster``), run only where a module names them (gfclient's
conformance module does); a module without the mark gets :data:`DEFAULT_KINDS`.
Add a kind by adding a factory (it gets the fixture's request, to reach session fixtures)::

    TARGETS["fake-replica3"] = make_replica3_target
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

import gfclient
from gfclient.uri import GlusterURI

__all__ = [
    "Target",
    "TARGETS",
    "TARGET_MARKS",
    "GLUSTERD_SOCKET",
    "DEFAULT_KINDS",
    "REAL_CLUSTER_KINDS",
    "FAKE_CLUSTER_KINDS",
    "FAKE_CLUSTERS",
]

#: Where the real glusterd's unix socket is (it serves GETSPEC there).
GLUSTERD_SOCKET = "/var/run/glusterd.socket"


@dataclasses.dataclass(frozen=True)
class Target:
    """One served volume: glusterd at ``host``:``port`` (and its unix ``socket``, or None)."""

    kind: str
    volume: str
    host: str
    port: int
    socket: str | None = None

    @property
    def tcp(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def unix(self) -> str | None:
        return self.socket

    @property
    def real(self) -> bool:
        return self.kind.startswith("real")

    def tcp_uri(self, path: str | None = None) -> str:
        """``gluster://HOST:PORT/VOLUME[/PATH]``."""
        return GlusterURI("tcp", self.host, self.port, None, self.volume, path or None).to_uri()

    def unix_uri(self, path: str | None = None) -> str | None:
        """``gluster+unix:///VOLUME[/PATH]?socket=SOCKET``, or None without a unix socket."""
        if self.socket is None:
            return None
        return GlusterURI("unix", None, None, self.socket, self.volume, path or None).to_uri()

    def connect(self, path: str | None = None) -> gfclient.Volume:
        return gfclient.connect(self.tcp_uri(path))


def make_real_target(request: pytest.FixtureRequest) -> Target:
    """A real GlusterFS 10.3 volume (one brick), shared by the session."""
    vol = request.getfixturevalue("real_volume")
    return Target("real", vol.name, vol.host, vol.port, GLUSTERD_SOCKET)


def make_fake_target(request: pytest.FixtureRequest) -> Target:
    """fakegluster in this process (a thread), in-memory store."""
    from fakegluster.server import FakeGluster

    sock = request.getfixturevalue("tmp_path_factory").mktemp("target-fake") / "glusterd.sock"
    server = FakeGluster(["confvol"], ["tcp://127.0.0.1:0", f"unix://{sock}"])
    info = server.start()
    request.session.config.add_cleanup(server.stop)
    return Target("fake", "confvol", "127.0.0.1", info.port, info.unix[0].path)


def make_fake_subprocess_target(request: pytest.FixtureRequest) -> Target:
    """``fakegluster serve`` as a process, serving a directory (the directory store)."""
    from fakegluster.testing.serve import serve_process

    tmp = request.getfixturevalue("tmp_path_factory").mktemp("target-fake-proc")
    (tmp / "data").mkdir()
    sock = tmp / "glusterd.sock"
    served = serve_process(volumes=[f"confdir={tmp / 'data'}"], listen=["tcp://127.0.0.1:0", f"unix://{sock}"])
    request.session.config.add_cleanup(served.stop)
    return Target("fake-subprocess", "confdir", "127.0.0.1", served.port(), str(sock))


def _real_cluster(kind: str) -> Callable[[pytest.FixtureRequest], Target]:
    """A factory for the session's real volume of another type (tests/conftest.py
    ``REAL_CLUSTERS``: distribute 2, replica 3, arbiter, 2 x 3, disperse 4+2)."""

    def make(request: pytest.FixtureRequest) -> Target:
        vol = request.getfixturevalue("real_cluster")(kind)
        return Target(f"real-{kind}", vol.name, vol.host, vol.port, GLUSTERD_SOCKET)

    return make


def _fake_cluster(kind: str) -> Callable[[pytest.FixtureRequest], Target]:
    """A factory for the session's fake volume of another type (tests/conftest.py
    ``FAKE_CLUSTERS``, all served by one fakegluster: ``fake_cluster``)."""

    def make(request: pytest.FixtureRequest) -> Target:
        server = request.getfixturevalue("fake_cluster")
        return Target(
            f"fake-{kind}", FAKE_CLUSTERS[kind].split(";")[0], "127.0.0.1", server.info.port, server.info.unix[0].path
        )

    return make


#: The fake volumes of the real cluster types, as one-line specs (fakegluster.server.volspec).
FAKE_CLUSTERS: dict[str, str] = {
    "distribute2": "fdist2;bricks=2",
    "replica3": "frep3;replica=3",
    "arbiter": "farb;replica=3;arbiter=1",
    "2x3": "f2x3;replica=3;bricks=6",
    "disperse": "fec;disperse=6;redundancy=2",
}
_CLUSTER_TYPES = tuple(FAKE_CLUSTERS)
#: The real volume types beyond one brick (opt-in kinds, see the module docstring).
REAL_CLUSTER_KINDS = [f"real-{k}" for k in _CLUSTER_TYPES]
#: The same types served by fakegluster (opt-in too).
FAKE_CLUSTER_KINDS = [f"fake-{k}" for k in _CLUSTER_TYPES]
#: The kinds of a module without a ``targets`` mark.
DEFAULT_KINDS = ["real", "fake", "fake-subprocess"]

#: kind -> factory.
TARGETS: dict[str, Callable[[pytest.FixtureRequest], Target]] = {
    "real": make_real_target,
    **{kind: _real_cluster(kind.removeprefix("real-")) for kind in REAL_CLUSTER_KINDS},
    "fake": make_fake_target,
    "fake-subprocess": make_fake_subprocess_target,
    **{kind: _fake_cluster(kind.removeprefix("fake-")) for kind in FAKE_CLUSTER_KINDS},
}
#: kind -> marks of its tests (``real``: needs the real peer, required under CI=true).
TARGET_MARKS: dict[str, list[pytest.MarkDecorator]] = {
    "real": [pytest.mark.real],
    **{kind: [pytest.mark.real] for kind in REAL_CLUSTER_KINDS},
}


def parametrize_targets(metafunc: pytest.Metafunc) -> None:
    """``pytest_generate_tests`` for ``target`` (tests/conftest.py calls it)."""
    if "target" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("targets")
    kinds = list(marker.args) if marker else list(DEFAULT_KINDS)
    unknown = set(kinds) - set(TARGETS)
    if unknown:
        raise ValueError(f"unknown target kinds {sorted(unknown)}; known: {list(TARGETS)}")
    metafunc.parametrize(
        "target",
        [pytest.param(kind, marks=TARGET_MARKS.get(kind, []), id=kind) for kind in kinds],
        indirect=True,
        scope="session",
    )
