"""pytest plugin (loaded through the ``pytest11`` entry point): fake GlusterFS fixtures.

Fixtures (``pytest --fixtures`` shows each one's own text):

* ``fakegluster_server`` — a server of this test's own (fresh, ~1 ms to start).
* ``fakegluster_shared`` — the session's server, reset before the test (stores wiped, call
  log and faults cleared, options restored): the pytest-httpserver pattern, for suites that
  would rather not bind new ports per test.
* ``fakegluster_session`` — the session's server itself (session scope, never reset).
* ``fakegluster_factory`` — more servers: ``fakegluster_factory(["vm;replica=3"], nodes=3)``
  with every argument of :class:`~fakegluster.server.FakeGluster`.
* ``fakegluster`` — the old name of ``fakegluster_server``, kept working.  Inside a test it
  hides the package of the same name (``import fakegluster`` at the top of the module):
  prefer ``fakegluster_server``, or import the package under another name.

::

    def test_qemu_sees_the_image(fakegluster_server):
        fakegluster_server.write_file("a.img", b"\\0" * 65536)
        run(["qemu-img", "info", fakegluster_server.uri("testvol", "a.img")])
        fakegluster_server.calls.assert_called("LOOKUP", path="/a.img")

Options (command line, then ini key, then environment; a factory argument wins over all):

* ``--fakegluster-target`` / ``fakegluster_target`` / ``FAKEGLUSTER_TARGET``: ``fake``
  (default); ``real``: a real GlusterFS 10.3 on this machine (root and ``glusterfs-server``;
  throw-away volumes made by :class:`~fakegluster.testing.realgluster.RealGluster`); or
  ``gluster://HOST[:PORT]/VOLUME``: an existing volume somewhere, **erased before each test**.
  The same suite then runs hermetic by default and against real GlusterFS in a nightly job.
  On a real target ``fakegluster_server``/``fakegluster_shared``/``fakegluster_session`` give
  a :class:`~fakegluster.testing.target.RealTarget` (``uri``, ``write_file``, ``read_file``,
  ``makedirs``, ``exists``); tests marked ``@pytest.mark.fakegluster_only`` and those using
  ``fakegluster_factory`` are skipped there, and the call log or faults raise.
* ``--fakegluster-volume SPEC`` (repeatable) / ``fakegluster_volumes`` (lines): the volumes of
  the fixtures' servers (default ``testvol``; specs as ``fakegluster serve --volume``).
* ``--fakegluster-pcap DIR`` / ``fakegluster_pcap``: every fixture server writes its traffic
  to ``DIR/<test>.pcap`` (the session's to ``DIR/session.pcap``), for Wireshark/tshark.

Servers listen on a free TCP port of 127.0.0.1 and on a unix socket in a short temporary
directory of their own (``/tmp/fg-XXXXXX``: an AF_UNIX path must fit 107 bytes, which
pytest's tmp_path often does not); each pytest-xdist worker has its own.  trio is imported
only when a fake server is started.

libgfapi tools (qemu-img, qemu-io, fio's gfapi engine, your own libgfapi program) take ~10 s
to exit after their last I/O, against a real GlusterFS as against the fake: libgfapi 10.x's
rpc-clnt arms a 10 s ``call_bail`` timer on the first brick request that ``glfs_fini``
cannot cancel (fixed upstream after 10.x, gluster/glusterfs#4329; no server-side choice
avoids it).  Run such tools in parallel rather than one after the other:
:func:`fakegluster.testing.procs.run_gfapi_parallel` (``run_gfapi`` for one) runs a list of
commands at once and returns their results with libgfapi's log lines filtered out.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

__all__ = ["pytest_addoption", "pytest_configure"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakegluster", "fake GlusterFS fixtures")
    group.addoption(
        "--fakegluster-target",
        metavar="TARGET",
        help="what the fakegluster fixtures serve: fake (default), real (a real GlusterFS on this machine, "
        "throw-away volumes) or gluster://HOST[:PORT]/VOLUME (an existing volume, erased before each test); "
        "ini fakegluster_target, environment FAKEGLUSTER_TARGET",
    )
    group.addoption(
        "--fakegluster-volume",
        action="append",
        metavar="SPEC",
        help="a volume of the fixtures' servers (repeatable; default testvol; specs as 'fakegluster serve "
        "--volume', e.g. 'vm;replica=3'); ini fakegluster_volumes",
    )
    group.addoption(
        "--fakegluster-pcap",
        metavar="DIR",
        help="every fixture server writes its traffic to DIR/<test>.pcap (Wireshark reads it); ini fakegluster_pcap",
    )
    parser.addini("fakegluster_target", "default of --fakegluster-target", default="")
    parser.addini("fakegluster_volumes", "default volumes (one spec per line)", type="linelist", default=[])
    parser.addini("fakegluster_pcap", "default of --fakegluster-pcap", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fakegluster_only: needs what only the fake offers (call log, faults); skipped on a real target"
    )


class Settings:
    """The plugin's settings, resolved: command line, then ini, then environment."""

    def __init__(self, config: pytest.Config) -> None:
        from .target import parse_target

        def opt(name: str, ini: str, env: str | None = None) -> Any:
            value = config.getoption(name)
            if value in (None, []):
                value = config.getini(ini)
            if value in (None, "", []) and env:
                value = os.environ.get(env)
            return value

        self.target = parse_target(opt("fakegluster_target", "fakegluster_target", "FAKEGLUSTER_TARGET"))
        self.volumes: list[str] = list(opt("fakegluster_volume", "fakegluster_volumes") or ["testvol"])
        self.pcap: str | None = opt("fakegluster_pcap", "fakegluster_pcap") or None

    @property
    def real(self) -> bool:
        return self.target != "fake"

    def pcap_file(self, name: str) -> str | None:
        if self.pcap is None:
            return None
        os.makedirs(self.pcap, exist_ok=True)
        return os.path.join(self.pcap, re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[-150:] + ".pcap")


@pytest.fixture(scope="session")
def fakegluster_settings(pytestconfig: pytest.Config) -> Settings:
    """The fakegluster plugin's settings (``--fakegluster-target``, ``--fakegluster-volume``,
    ``--fakegluster-pcap`` and their ini keys), resolved."""
    return Settings(pytestconfig)


def _start(settings: Settings, dirs: list[str], pcap_name: str, volumes: Iterable[Any] | None = None,
           listen: Iterable[str] | None = None, **kw: Any) -> Any:  # fmt: skip
    from ..server import FakeGluster

    if listen is None:
        dirs.append(tempfile.mkdtemp(prefix="fg-"))  # short: AF_UNIX paths end at 107 bytes
        listen = ["tcp://127.0.0.1:0", f"unix://{dirs[-1]}/glusterd.sock"]
    if "pcap" not in kw and settings.pcap is not None:
        kw["pcap"] = settings.pcap_file(pcap_name)
    server = FakeGluster(list(settings.volumes if volumes is None else volumes), listen, **kw)
    server.start()
    return server


@pytest.fixture(scope="session")
def fakegluster_session(fakegluster_settings: Settings) -> Iterator[Any]:
    """The session's server, started at its first use and stopped at the end of the session
    (one per pytest-xdist worker): a :class:`~fakegluster.server.FakeGluster` serving
    ``--fakegluster-volume`` (default ``testvol``) on a free port of 127.0.0.1 and a unix
    socket, or a :class:`~fakegluster.testing.target.RealTarget` when
    ``--fakegluster-target`` names a real GlusterFS.  Never reset: use
    ``fakegluster_shared`` in tests that want a clean state."""
    if fakegluster_settings.real:
        from .target import start_real_target

        target = start_real_target(fakegluster_settings.target, fakegluster_settings.volumes)
        try:
            yield target
        finally:
            target.close()
        return
    dirs: list[str] = []
    server = _start(fakegluster_settings, dirs, "session")
    try:
        yield server
    finally:
        server.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fakegluster_shared(fakegluster_session: Any) -> Any:
    """The session's server (``fakegluster_session``), reset before this test: in-memory
    volumes emptied and created again with their starting options, volumes the test adds
    deleted, stopped nodes and bricks back, the call log and fault rules cleared
    (:meth:`~fakegluster.server.FakeGluster.reset`, a few ms).  Same ports all session.
    On a real target: every volume's files erased."""
    fakegluster_session.reset()
    return fakegluster_session


@pytest.fixture
def fakegluster_factory(request: pytest.FixtureRequest, fakegluster_settings: Settings) -> Iterator[Callable[..., Any]]:
    """Start more fake servers for this test, stopped after it:
    ``fakegluster_factory(volumes=["vm;replica=3"], listen=None, nodes=3, options={...})``
    takes :class:`~fakegluster.server.FakeGluster`'s arguments (``listen`` None: a free
    port of 127.0.0.1 and a unix socket of its own).  Fake only: skipped on a real target."""
    if fakegluster_settings.real:
        pytest.skip("fakegluster_factory starts fake servers: not on a real target")
    started: list[Any] = []
    dirs: list[str] = []

    def make(volumes: Iterable[Any] = ("testvol",), listen: Iterable[str] | None = None, **kw: Any) -> Any:
        name = f"{request.node.nodeid}-{len(started)}"
        server = _start(fakegluster_settings, dirs, name, volumes, listen, **kw)
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        server.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fakegluster_server(request: pytest.FixtureRequest, fakegluster_settings: Settings) -> Iterator[Any]:
    """A fake GlusterFS of this test's own (``--fakegluster-volume``, default ``testvol``, in
    memory), on a free port of 127.0.0.1 and a unix socket; its own call log and fault rules;
    stopped after the test.  ``.uri("testvol", "a.img")``, ``.write_file``, ``.read_file``,
    ``.calls.assert_called("WRITE", path="/a.img")``, ``.faults.inject("WRITE", errno=EIO)``,
    ``.bricks()``, ``.set_option(...)``: see :class:`~fakegluster.server.FakeGluster`.
    On a real target: the session's real volume, erased first (a real volume per test would
    take seconds)."""
    if fakegluster_settings.real:
        target = request.getfixturevalue("fakegluster_session")
        target.reset()
        yield target
        return
    dirs: list[str] = []
    server = _start(fakegluster_settings, dirs, request.node.nodeid)
    try:
        yield server
    finally:
        server.stop()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fakegluster(fakegluster_server: Any) -> Any:
    """The old name of ``fakegluster_server`` (a server of this test's own).  As a parameter
    it hides the ``fakegluster`` package inside the test: prefer ``fakegluster_server``."""
    return fakegluster_server


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("fakegluster_only") is None:
        return
    settings = Settings(item.config)
    if settings.real:
        pytest.skip(f"fakegluster_only: not on the real target {settings.target}")
