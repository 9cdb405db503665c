"""An RPC client over one trio stream, driving the sans-IO :class:`RpcConnection`.

:class:`RpcChannel` is one connection of a gluster ``rpc_clnt``: concurrent calls matched by
xid (replies may come in any order), a receive task, server-to-client callback CALLs logged
and dropped (the client never answers them), and rpc-clnt-ping.c's keep-alive:

* after a call is submitted, if no ping timer runs and calls are outstanding, a GF-DUMP PING
  is sent at once and an "expired" timer armed for ``ping_timeout`` seconds;
* the PING reply re-arms a "start" timer: ``ping_timeout`` seconds later the next PING goes
  out, but only if calls are outstanding then (otherwise the next submit restarts it);
* when the "expired" timer fires and nothing was received *or* sent for ``ping_timeout``
  seconds, the server is gone: the connection is torn down and every pending call fails
  with ENOTCONN; with activity the timer is simply re-armed.

:class:`XidCounter` is the xid source of one ``rpc_clnt``: the first xid is 2 and the count
goes on across reconnects, so the brick client passes the same counter to each new channel.

Credentials: a channel starts with AUTH_GLUSTERFS_v2 (as every rpc_clnt does after a
connect) and switches to v3 when the owner sets :attr:`RpcChannel.use_v3` (after DUMP lists
the FOP program 1298437/400).  Callers pass an :class:`Identity`; the channel encodes it in
the flavour in force, so PINGs after the switch carry v3 credentials, like the C client.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import math
from typing import Any, Callable

import trio

from fakegluster.proto.connection import Role, RpcConnection
from fakegluster.proto.dump import GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc
from fakegluster.proto.errors import AcceptStat, ProtocolError, RejectStat
from fakegluster.proto.events import NEED_DATA, Call, ConnectionClosed, Denied, Reply
from fakegluster.proto.programs import lookup
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, AuthGlusterfsParmsV2, lk_owner_for_pid

from .errors import GlusterConnectionError, RpcError

__all__ = ["Identity", "INTERNAL", "XidCounter", "RpcChannel", "RECEIVE_SIZE"]

log = logging.getLogger("gfclient.rpc")

RECEIVE_SIZE = 256 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who a call is made for: the AUTH_GLUSTERFS credential fields.

    ``flags``/``ctime_ns`` are the features/utime fields of the v3 credential (0 when the
    FOP does not go through utime).  ``lk_owner`` defaults to the little-endian pid.
    """

    pid: int = 0
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    lk_owner: bytes | None = None
    flags: int = 0
    ctime_ns: int = 0

    def credential(self, v3: bool) -> Any:
        owner = self.lk_owner if self.lk_owner is not None else lk_owner_for_pid(self.pid)
        if v3:
            sec, nsec = divmod(self.ctime_ns, 1_000_000_000)
            return AuthGlusterfsParamsV3.cls(self.pid, self.uid, self.gid, self.flags, nsec, sec,
                                             tuple(self.groups), owner)
        return AuthGlusterfsParmsV2.cls(self.pid, self.uid, self.gid, tuple(self.groups), owner)


#: Frames the client makes itself (DUMP, PING, SETVOLUME, RELEASE...): pid/uid/gid 0.
INTERNAL = Identity()


class XidCounter:
    """The xid source of one rpc client: pre-increment from 1, so the first xid is 2."""

    def __init__(self, last: int = 1) -> None:
        self.last = last

    def next(self) -> int:
        self.last = (self.last + 1) & 0xFFFFFFFF
        return self.last


@dataclasses.dataclass(eq=False, slots=True)
class _Waiter:
    done: trio.Event
    reply: Reply | None = None
    error: BaseException | None = None


def _rpc_refusal(ev: Reply | Denied, what: str) -> RpcError:
    if isinstance(ev, Denied):
        if ev.reject_stat == RejectStat.AUTH_ERROR:
            return RpcError(errno.EACCES, f"{what}: call denied, AUTH_ERROR ({ev.auth_stat.name})", "AUTH_ERROR")
        return RpcError(errno.EPROTO, f"{what}: call denied, RPC_MISMATCH ({ev.low}..{ev.high})", "RPC_MISMATCH")
    stat = ev.stat
    if stat in (AcceptStat.PROG_UNAVAIL, AcceptStat.PROC_UNAVAIL, AcceptStat.PROG_MISMATCH):
        extra = f" (server has versions {ev.low}..{ev.high})" if stat == AcceptStat.PROG_MISMATCH else ""
        return RpcError(errno.EOPNOTSUPP, f"{what}: {stat.name}{extra}", stat.name)
    return RpcError(errno.EPROTO, f"{what}: {stat.name}", stat.name)


def _describe(prog: int, vers: int, proc: int) -> str:
    program = lookup(prog, vers)
    if program is None:
        return f"program {prog} v{vers} procedure {proc}"
    p = program.procs.get(proc)
    return f"{program.name} {p.name if p else f'procedure {proc}'}"


class RpcChannel:
    """One client connection (see the module docstring).

    Args:
        stream: a connected trio stream.
        peer: how to name the server in errors (``"host H and port N"``).
        xids: the rpc client's xid counter (shared across reconnects).
        ping_timeout: seconds; 0 disables pings (the mgmt connection).
        on_callback: called with each server-to-client CALL (no reply is ever sent).
        on_close: called once, synchronously, when the connection ends (with the reason),
            before any pending call sees its error -- like rpc-clnt's DISCONNECT notify.

    Start :meth:`run` in a nursery (``await nursery.start(channel.run)``) before calling.
    """

    def __init__(self, stream: trio.abc.Stream, *, peer: str, xids: XidCounter | None = None,
                 ping_timeout: float = 0.0, on_callback: Callable[[Call], None] | None = None,
                 on_close: Callable[[GlusterConnectionError], None] | None = None) -> None:
        self.stream = stream
        self.peer = peer
        self.xids = xids if xids is not None else XidCounter()
        self.ping_timeout = float(ping_timeout)
        self.use_v3 = False
        self.closed = trio.Event()
        self.close_reason: GlusterConnectionError | None = None
        self.last_sent = -math.inf
        self.last_received = -math.inf
        self.pings_sent = 0
        self._on_callback = on_callback
        self._on_close = on_close
        self._conn = RpcConnection(Role.CLIENT)
        self._waiters: dict[int, _Waiter] = {}
        self._send_lock = trio.StrictFIFOLock()
        self._nursery: trio.Nursery | None = None
        self._timer: trio.CancelScope | None = None
        self._ping_started = False
        self._finished = trio.Event()

    # ---- lifecycle ---------------------------------------------------------------------
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Receive replies (and run the ping timers) until the connection ends."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                now = trio.current_time()
                self.last_sent = self.last_received = now
                nursery.start_soon(self._receive_loop)
                task_status.started()
                await self.closed.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            self._shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} closed"))
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(self.stream)
            self._finished.set()

    async def aclose(self) -> None:
        """Close the connection; pending calls fail with ENOTCONN."""
        self._shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} closed by the client"))
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(self.stream)

    def _shutdown(self, reason: GlusterConnectionError) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        self._disarm()
        self._ping_started = False
        if self._on_close is not None:
            self._on_close(reason)
        waiters, self._waiters = self._waiters, {}
        for w in waiters.values():
            w.error = reason
            w.done.set()

    def disconnect(self, reason: GlusterConnectionError) -> None:
        """Tear the connection down now (the receive task closes the stream)."""
        log.warning("%s", reason)
        self._shutdown(reason)

    @property
    def outstanding(self) -> int:
        """Calls sent and not yet answered (pings included)."""
        return len(self._waiters)

    # ---- calls -------------------------------------------------------------------------
    async def call(self, prog: int, vers: int, proc: int, args: Any = None, *,
                   ident: Identity = INTERNAL, payload: bytes | memoryview = b"",
                   timeout: float | None = None) -> Reply:
        """Send one CALL and wait for its reply.

        Returns the accepted, successful :class:`Reply` (``result`` decoded, ``payload`` for
        READ).  Raises :class:`GlusterConnectionError` (ENOTCONN) when the connection is or
        goes down, or when ``timeout`` (frame-timeout) passes; :class:`RpcError` when the
        peer refuses the call at the RPC level or the reply does not decode.
        """
        if self.closed.is_set():
            assert self.close_reason is not None
            raise self.close_reason
        waiter = _Waiter(trio.Event())
        is_ping = prog == GF_DUMP_PROGRAM and proc == GfDumpProc.GF_DUMP_PING
        with trio.CancelScope(shield=True):
            async with self._send_lock:
                if self.closed.is_set():
                    assert self.close_reason is not None
                    raise self.close_reason
                xid = self.xids.next()
                event = Call(xid, prog, vers, proc, args, ident.credential(self.use_v3), payload=payload)
                buffers = self._conn.send_buffers(event)
                self._waiters[xid] = waiter
                try:
                    for buf in buffers:
                        await self.stream.send_all(buf)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                    self._shutdown(GlusterConnectionError(
                        errno.ENOTCONN, f"connection to {self.peer} failed while sending: {exc}"))
                    assert self.close_reason is not None
                    raise self.close_reason from exc
                self.last_sent = trio.current_time()
        if not is_ping:
            self._check_and_start_ping()
        what = _describe(prog, vers, proc)
        try:
            with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
                await waiter.done.wait()
        finally:
            if not waiter.done.is_set():
                # cancelled or bailed out: drop the waiter; a late reply is then ignored
                self._waiters.pop(xid, None)
        if scope.cancelled_caught:
            raise GlusterConnectionError(
                errno.ENOTCONN, f"{what} (xid {xid}) to {self.peer} bailed out after {timeout:g} s "
                "(frame-timeout)")
        if waiter.error is not None:
            raise waiter.error
        assert waiter.reply is not None
        return waiter.reply

    # ---- receiving ---------------------------------------------------------------------
    async def _receive_loop(self) -> None:
        try:
            while not self.closed.is_set():
                data = await self.stream.receive_some(RECEIVE_SIZE)
                if data:
                    self.last_received = trio.current_time()
                self._conn.receive_data(data)
                if not self._drain():
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self._shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} lost: {exc}"))

    def _drain(self) -> bool:
        """Handle every buffered event; False once the connection is over."""
        while True:
            try:
                ev = self._conn.next_event()
            except ProtocolError as exc:
                if exc.reply == "IGNORE":
                    w = self._waiters.pop(exc.xid, None) if exc.xid is not None else None
                    if w is not None:
                        w.error = RpcError(errno.EPROTO, f"undecodable reply from {self.peer}: {exc}", "UNDECODABLE")
                        w.done.set()
                    continue
                if not exc.fatal and exc.xid is not None:
                    # a server CALL we do not serve: the client never answers callbacks
                    log.debug("ignoring server call from %s: %s", self.peer, exc)
                    continue
                self._shutdown(GlusterConnectionError(
                    errno.EPROTO, f"protocol error from {self.peer}, disconnecting: {exc}"))
                return False
            if ev is NEED_DATA:
                return True
            if isinstance(ev, ConnectionClosed):
                self._shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection closed by {self.peer}"))
                return False
            if isinstance(ev, Call):
                log.debug("callback from %s: program %d proc %d (ignored)", self.peer, ev.prog, ev.proc)
                if self._on_callback is not None:
                    self._on_callback(ev)
                continue
            assert isinstance(ev, (Reply, Denied))
            w = self._waiters.pop(ev.xid, None)
            if w is None:
                continue  # the caller gave up (cancelled / bailed out)
            if isinstance(ev, Denied) or ev.stat != AcceptStat.SUCCESS:
                w.error = _rpc_refusal(ev, f"{_describe(ev.prog or 0, ev.vers or 0, ev.proc or 0)} "
                                           f"refused by {self.peer}")
            else:
                w.reply = ev
            w.done.set()

    # ---- ping (rpc-clnt-ping.c) -------------------------------------------------------
    def _check_and_start_ping(self) -> None:
        if not self._ping_started:
            self._start_ping()

    def _start_ping(self) -> None:
        self._disarm()
        self._ping_started = False
        if self.ping_timeout <= 0 or self.closed.is_set() or not self._waiters or self._nursery is None:
            return
        self._arm("expired")
        self._nursery.start_soon(self._send_ping)

    async def _send_ping(self) -> None:
        self.pings_sent += 1
        try:
            await self.call(GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc.GF_DUMP_PING, ident=INTERNAL)
        except (GlusterConnectionError, RpcError) as exc:
            log.debug("ping to %s failed: %s", self.peer, exc)
            self._disarm()
            self._ping_started = False
            return
        self._arm("start")

    def _ping_expired(self) -> None:
        now = trio.current_time()
        if now - self.last_received < self.ping_timeout or now - self.last_sent < self.ping_timeout:
            self._arm("expired")
            return
        self._ping_started = False
        self.disconnect(GlusterConnectionError(
            errno.ENOTCONN,
            f"server {self.peer} has not responded in the last {self.ping_timeout:g} seconds, disconnecting"))

    def _arm(self, kind: str) -> None:
        self._disarm()
        if self._nursery is None or self.closed.is_set():
            return
        scope = trio.CancelScope()
        self._timer = scope
        self._ping_started = True
        self._nursery.start_soon(self._timer_task, scope, trio.current_time() + self.ping_timeout, kind)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _timer_task(self, scope: trio.CancelScope, deadline: float, kind: str) -> None:
        with scope:
            await trio.sleep_until(deadline)
            if self._timer is not scope:
                return
            self._timer = None
            if kind == "start":
                self._start_ping()
            else:
                self._ping_expired()
