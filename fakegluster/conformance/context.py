"""What a scenario works with: servers it sets up, clients it mounts, and ways to judge.

``ctx.serve(...)`` starts a :class:`~fakegluster.server.FakeGluster` of the scenario's own
(glusterd on 127.0.0.1 and ::1 on free ports and on a unix socket, volumes as one-line specs),
``ctx.mount(server)`` mounts it with the client under test, ``ctx.spawn(fn)`` runs a client
call in the background (to act on the server while it is in flight).  Judging: ``ctx.fail``,
``ctx.warn``, ``ctx.omit``, :meth:`Ctx.expect_error`, :meth:`Ctx.wait_for`, and the server's
call log (``server.calls``).  Everything started is torn down when the scenario ends: clients
first (killed, never waited for), then servers.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno as _errno
import importlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ..server import FakeGluster
from ..server.calllog import CallLog, CallRecord
from .core import Failed, Omit, Scenario
from .drivers.base import ClientError, ClientHang, Driver, Server, Session, Target

if TYPE_CHECKING:
    from ..testing.realgluster import RealGluster

__all__ = ["Ctx", "pattern", "errname"]

T = TypeVar("T")


def pattern(size: int, seed: int = 1) -> bytes:
    """``size`` bytes no two scenarios confuse: a counter mixed with ``seed``."""
    block = bytes((i * 31 + seed * 17 + (i >> 8)) & 0xFF for i in range(4096))
    return (block * (size // 4096 + 1))[:size]


def errname(err: int | None) -> str:
    return _errno.errorcode.get(err or 0, str(err)) if err else "no errno"


class Ctx:
    """One scenario's run on one client."""

    def __init__(
        self, scenario: Scenario, driver: Driver, workdir: str | None = None, real: RealGluster | None = None
    ) -> None:
        self.scenario, self.driver = scenario, driver
        #: servers are volumes of this real GlusterFS, not fakes (:mod:`.real`)
        self.real = real
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.tmp = tempfile.mkdtemp(prefix="fgc-", dir=workdir)
        self._servers: list[Any] = []
        self._sessions: list[Session] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._cleanups: list[Callable[[], object]] = []

    # ---- verdicts --------------------------------------------------------------------
    def fail(self, reason: str) -> NoReturn:
        raise Failed(reason)

    def warn(self, reason: str) -> None:
        """Passes, but not as it should: the outcome is WARN with this reason."""
        self.warnings.append(reason)

    def note(self, text: str) -> None:
        """A detail for the JSON report (what the client said, timings)."""
        self.notes.append(text)

    def omit(self, reason: str) -> NoReturn:
        raise Omit(reason)

    def need(self, *caps: str) -> None:
        for cap in caps:
            self.driver.need(cap)

    def check(self, condition: object, reason: str) -> None:
        if not condition:
            self.fail(reason)

    # ---- servers ---------------------------------------------------------------------
    def serve(
        self,
        *volumes: str | Mapping[str, Any],
        nodes: int | Sequence[str] | None = None,
        options: Mapping[str, str] | None = None,
        tcp6: bool = True,
    ) -> FakeGluster:
        """A started fake (default: one in-memory volume ``vol``), torn down at the end (on a
        real GlusterFS: a real volume of that spec, see :mod:`.real`)."""
        if self.real is not None:
            if not self.scenario.real:
                self.omit("this scenario runs on the fake only")
            from .real import serve_real

            real = serve_real(self.real, volumes, dict(options or {}), nodes)
            self._servers.append(real)
            return real  # type: ignore[return-value]  # FakeGluster's face, see .real
        listen = ["tcp://127.0.0.1:0", f"unix://{self.tmp}/glusterd.sock"]
        if tcp6:
            listen.insert(1, "tcp://[::1]:0")
        server = FakeGluster(list(volumes) or ["vol"], listen, nodes=nodes, options=options)
        server.start()
        self._servers.append(server)
        return server

    def target(
        self, server: FakeGluster, volume: str | None = None, *, transport: str = "tcp", backups: Iterable[Server] = ()
    ) -> Target:
        """How a client reaches ``volume`` of ``server``: ``transport`` tcp (IPv4), tcp6,
        unix or rdma; ``backups``: volfile servers after the first."""
        assert server.info is not None
        volume = volume or server.info.volumes[0]
        primary: Server
        if transport == "unix":
            primary = Server("unix", socket=server.info.unix[0].path or "")
        else:
            family = [li for li in server.info.tcp if (":" in (li.host or "")) == (transport == "tcp6")]
            if not family:
                self.fail(f"the server does not listen on {transport}")
            li = family[0]
            host = "::1" if transport == "tcp6" else "127.0.0.1"
            primary = Server("rdma" if transport == "rdma" else "tcp", host, li.port or 0)
        return Target(volume, (primary, *backups))

    # ---- clients ---------------------------------------------------------------------
    def mount(
        self,
        where: FakeGluster | Target,
        volume: str | None = None,
        *,
        transport: str = "tcp",
        timeout: float = 30.0,
    ) -> Session:
        """Mount with the client under test (ClientError / ClientHang propagate)."""
        target = where if isinstance(where, Target) else self.target(where, volume, transport=transport)
        if target.server.transport in ("unix", "rdma"):
            self.need(target.server.transport)
        if ":" in target.server.host:
            self.need("tcp6")
        if len(target.servers) > 1:
            self.need("servers")
        session = self.driver.connect(target, timeout=timeout)
        self._sessions.append(session)
        return session

    def mount_uri(self, uri: str, *, timeout: float = 30.0) -> Session:
        self.need("uri")
        session = self.driver.connect_uri(uri, timeout=timeout)
        self._sessions.append(session)
        return session

    def spawn(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``fn`` (client calls) in the background; ``.result(timeout)`` later."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="conformance")
        return self._pool.submit(fn)

    # ---- judging ---------------------------------------------------------------------
    def expect_error(
        self, fn: Callable[[], object], errnos: Iterable[int] = (), what: str = "the call", timeout: float | None = None
    ) -> ClientError:
        """``fn()`` must fail: FAIL if it succeeds or hangs; WARN if ``errnos`` are given
        and the client reported another errno.  Returns the error."""
        started = time.monotonic()
        try:
            if timeout is None:
                fn()
            else:
                self.spawn(fn).result(timeout)
        except ClientError as exc:
            wanted = list(errnos)
            if wanted and exc.errno not in wanted:
                self.warn(f"{what} failed with {exc.name}, expected {' or '.join(errname(e) for e in wanted)}")
            self.note(f"{what}: {exc} after {time.monotonic() - started:.1f} s")
            return exc
        except (ClientHang, concurrent.futures.TimeoutError):
            self.fail(f"{what} hung (no answer in {time.monotonic() - started:.0f} s)")
        self.fail(f"{what} succeeded; it should have failed")

    def wait_for(self, predicate: Callable[[], T], timeout: float, interval: float = 0.05) -> T | None:
        """Poll ``predicate`` until it returns something true (returned) or ``timeout`` passes (None)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                return None
            time.sleep(interval)

    def retry(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        """``fn()`` until it stops raising ClientError (e.g. while a client reconnects); the
        last error FAILs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return fn()
            except ClientError as exc:
                if time.monotonic() >= deadline:
                    self.fail(f"{what}: still failing after {timeout:g} s ({exc})")
                time.sleep(0.25)

    @property
    def wire(self) -> bool:
        """Whether the servers keep a call log (a real GlusterFS does not: a scenario that
        also runs there judges the wire only ``if ctx.wire``)."""
        return self.real is None

    def calls(self, server: FakeGluster) -> CallLog:
        if server.calls is None:
            self.omit("a real GlusterFS keeps no call log")
        return server.calls

    def find(self, server: FakeGluster, proc: str, brick: str | None = None, **fields: Any) -> list[CallRecord]:
        """Calls of ``proc`` the server received (``brick``: a server-name prefix)."""
        return [r for r in self.calls(server).find(proc, brick, **fields) if r.direction == "in"]

    def other_client(self, server: FakeGluster, volume: str | None = None) -> Any:
        """A second client that is not the one under test (gfclient, in this process, with
        process-name ``conformance-other``): for changes the client under test must notice."""
        gfclient = importlib.import_module("gfclient")  # (mypy sees the client as client.*)
        vol = gfclient.connect(self.target(server, volume).uri(), process_name="conformance-other")
        self._cleanups.append(vol.close)
        return vol

    # ---- teardown --------------------------------------------------------------------
    def close(self) -> None:
        for cleanup in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        for session in reversed(self._sessions):
            with contextlib.suppress(Exception):
                session.abort()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for server in reversed(self._servers):
            with contextlib.suppress(Exception):
                server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
