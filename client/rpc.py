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

The IO (why it looks the way it does: a call is on the hot path of every FOP):

* Over a socket (tcp, unix) the channel takes the socket out of its ``trio.SocketStream`` and
  drives it directly, like the server's ``serve_socket``: non-blocking ``sendmsg`` of the
  header and the payload (never copied) right from :meth:`RpcChannel.call`, ``recv_into`` a
  preallocated buffer in the receive task, and ``trio.lowlevel.wait_readable`` /
  ``wait_writable`` only when the kernel says it would block.  The high-level stream API
  costs a checkpoint per send and per receive; this costs one pass of trio's scheduler per
  reply.  Other streams (rdma emulation, memory streams in tests) go through a writer task.
* Bytes the kernel did not take at once wait in an output queue that a writer task sends
  in order; later calls queue behind them, so records never interleave.
* A waiting call parks its task (``wait_task_rescheduled``); frame-timeout is one timer
  task for the channel (:mod:`gfclient.bail`, rpc-clnt's ``call_bail``).

Calls from other threads (the blocking API's fast path) and who reads the socket (the
*reader role*, the receive task's stand-by): see :mod:`gfclient.rpc_threads`.
"""

from __future__ import annotations

import errno
import logging
import math
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

import outcome
import trio

from fakegluster.proto.connection import Role, RpcConnection
from fakegluster.proto.dump import GF_DUMP_PROGRAM, GfDumpProc
from fakegluster.proto.errors import AcceptStat, ProtocolError
from fakegluster.proto.events import NEED_DATA, Call, ConnectionClosed, Denied, Reply

from ._util import unsent_part
from .bail import FrameTimeout
from .errors import GlusterConnectionError, RpcError, describe_call, rpc_refusal
from .identity import INTERNAL, Identity, XidCounter
from .ping import Pinger
from .rpc_threads import ThreadCalls, _Waiter

__all__ = ["Identity", "INTERNAL", "XidCounter", "RpcChannel", "RECEIVE_SIZE"]

log = logging.getLogger("gfclient.rpc")

RECEIVE_SIZE = 256 * 1024
#: The receive task yields to the scheduler at least once per this many successful reads.
FAIRNESS = 16
#: How long the trio receive task stands by while threads read the socket themselves,
#: before it takes the reading back (so that an idle connection's end is noticed).
STANDBY = 0.05
_IOV_MAX = 512
_get_ident = threading.get_ident


#: ``RpcChannel.reader`` when the trio receive task reads the socket.
_TRIO = "trio"
_OK, _CLOSED, _STEP_BACK = 0, 1, 2


class RpcChannel:
    """One client connection (see the module docstring).

    Args:
        stream: a connected trio stream.  A ``trio.SocketStream`` is taken apart: the
            channel owns its socket from then on and closes it.
        peer: how to name the server in errors (``"host H and port N"``).
        xids: the rpc client's xid counter (shared across reconnects).
        ping_timeout: seconds; 0 disables pings (the mgmt connection).
        on_callback: called with each server-to-client CALL (no reply is ever sent).
        on_close: called once, synchronously, when the connection ends (with the reason),
            before any pending call sees its error -- like rpc-clnt's DISCONNECT notify.
        standby: seconds the receive task lets threads read the socket before it takes the
            reading back by itself (``math.inf``: only a trio call or the end takes it back).

    Start :meth:`run` in a nursery (``await nursery.start(channel.run)``) before calling.

    Objects of its own do part of the work: :attr:`pinger` (:class:`~gfclient.ping.Pinger`,
    the keep-alive), :attr:`frame_timeout` (:class:`~gfclient.bail.FrameTimeout`) and
    :attr:`threads` (:class:`~gfclient.rpc_threads.ThreadCalls`, calls from other threads).
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        *,
        peer: str,
        xids: XidCounter | None = None,
        ping_timeout: float = 0.0,
        on_callback: Callable[[Call], None] | None = None,
        on_close: Callable[[GlusterConnectionError], None] | None = None,
        standby: float = STANDBY,
    ) -> None:
        self.stream = stream
        self.standby = standby
        self.peer = peer
        self.xids = xids if xids is not None else XidCounter()
        self.ping_timeout = float(ping_timeout)
        self.use_v3 = False
        self.closed = trio.Event()
        self.close_reason: GlusterConnectionError | None = None
        self.last_sent = -math.inf
        self.last_received = -math.inf
        self._on_callback = on_callback
        self._on_close = on_close
        self.conn = RpcConnection(Role.CLIENT)
        self.waiters: dict[int, _Waiter] = {}
        # `lock` guards what the trio thread and calling threads (self.threads) share:
        # conn, waiters, close_reason, _outq, reader, eof, close_pending, the waiters' signal
        # state, and every use of sock outside the trio thread
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.poller: Any = None
        self.thread_buffer: bytearray | None = None
        if isinstance(stream, trio.SocketStream):
            self.sock = socket.socket(fileno=stream.socket.detach())
            self.sock.setblocking(False)
            self.poller = select.poll()
            self.poller.register(self.sock, select.POLLIN)
            self.thread_buffer = bytearray(RECEIVE_SIZE)
        self.reader: Any = _TRIO  # who reads the socket: _TRIO, None, or a thread's _Waiter
        self.eof = False  # a thread saw the end; the trio thread's _shutdown is on its way
        self.close_pending = False  # close the socket when the thread reading it leaves
        self.reader_wake = trio.Event()
        self.finished_threads = 0  # threads' calls answered (the receive task's step-back cue)
        self._outq: list[Any] = []
        self._writer_wake = trio.Event()
        self.nursery: trio.Nursery | None = None
        self.pinger = Pinger(self)
        self.threads = ThreadCalls(self)
        self.frame_timeout = FrameTimeout(self)
        self._loop_thread: int | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._clock: Any = None
        self._finished = trio.Event()

    # ---- lifecycle ---------------------------------------------------------------------
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Receive replies (and run the ping timers) until the connection ends."""
        self._loop_thread = _get_ident()
        self._token = trio.lowlevel.current_trio_token()
        self._clock = trio.lowlevel.current_clock()
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                now = trio.current_time()
                self.last_sent = self.last_received = now
                nursery.start_soon(self._receive_socket if self.sock is not None else self._receive_stream)
                nursery.start_soon(self._writer)
                nursery.start_soon(self.frame_timeout.run)
                task_status.started()
                await self.closed.wait()
                nursery.cancel_scope.cancel()
        finally:
            self.nursery = None
            self.shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} closed"))
            with trio.CancelScope(shield=True):
                await self._close_transport()
            self._finished.set()

    async def aclose(self) -> None:
        """Close the connection; pending calls fail with ENOTCONN."""
        self.shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} closed by the client"))
        with trio.CancelScope(shield=True):
            await self._close_transport()

    async def _close_transport(self) -> None:
        sock = self.sock
        if sock is None:
            await trio.aclose_forcefully(self.stream)
            return
        # only after _shutdown: from then on no thread sends or starts reading (they check
        # close_reason under _lock); a thread still reading closes the socket when it leaves,
        # so that its fd number cannot be reused under it
        assert self.close_reason is not None
        with self.lock:
            if sock.fileno() != -1:
                trio.lowlevel.notify_closing(sock)
                if isinstance(self.reader, _Waiter):
                    self.close_pending = True
                else:
                    sock.close()
        await trio.lowlevel.checkpoint()

    def shutdown(self, reason: GlusterConnectionError) -> None:
        """Tear down (the trio thread only): fail every pending call with ``reason``."""
        with self.lock:
            if self.close_reason is not None:
                return
            self.close_reason = reason
            waiters, self.waiters = self.waiters, {}
            self._outq.clear()
            if isinstance(self.reader, _Waiter):
                try:  # wake the thread polling the socket
                    self.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
                except OSError:
                    pass
            trio_waiters = []
            for w in waiters.values():
                if w.lock is None:
                    trio_waiters.append(w)
        self.closed.set()
        self._writer_wake.set()
        self.reader_wake.set()
        self.pinger.stop()
        if self._on_close is not None:
            self._on_close(reason)
        with self.lock:  # after on_close, like rpc-clnt's DISCONNECT notify
            for w in waiters.values():
                if w.lock is not None:
                    self.finish(w, None, reason)
        for w in trio_waiters:
            self.resume(w, None, reason)

    def disconnect(self, reason: GlusterConnectionError) -> None:
        """Tear the connection down now (the receive task closes the stream)."""
        log.warning("%s", reason)
        self.shutdown(reason)

    @property
    def pings_sent(self) -> int:
        """PINGs sent so far (the :class:`~gfclient.ping.Pinger`'s count)."""
        return self.pinger.sent

    @property
    def outstanding(self) -> int:
        """Calls sent and not yet answered (pings included)."""
        return len(self.waiters)

    def now(self) -> float:
        return self._clock.current_time() if self._clock is not None else trio.current_time()

    def to_trio(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` in the trio thread soon (from another thread)."""
        if self._token is None:
            return
        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            pass

    # ---- calls -------------------------------------------------------------------------
    async def call(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Any = None,
        *,
        ident: Identity = INTERNAL,
        payload: bytes | memoryview = b"",
        timeout: float | None = None,
    ) -> Reply:
        """Send one CALL and wait for its reply.

        Returns the accepted, successful :class:`Reply` (``result`` decoded, ``payload`` for
        READ).  Raises :class:`GlusterConnectionError` (ENOTCONN) when the connection is or
        goes down, or when ``timeout`` (frame-timeout) passes; :class:`RpcError` when the
        peer refuses the call at the RPC level or the reply does not decode.

        From a thread other than the channel's trio thread this blocks that thread and
        never suspends (see the module docstring).
        """
        if self._loop_thread is not None and _get_ident() != self._loop_thread:
            return self.threads.call_blocking(prog, vers, proc, args, ident, payload, timeout)
        w = _Waiter(prog, vers, proc)
        w.task = trio.lowlevel.current_task()
        xid = self.submit(w, args, ident, payload, True)
        if self.reader is None:
            self.reader_wake.set()  # nobody reads the socket: the receive task takes over
        if timeout is not None:
            self.frame_timeout.arm(w, timeout)
        self.pinger.submitted(prog == GF_DUMP_PROGRAM and proc == GfDumpProc.GF_DUMP_PING)

        def abort(_: Any) -> trio.lowlevel.Abort:
            # cancelled: drop the waiter (a late reply is then ignored) -- unless a thread
            # reading the socket took the reply already: it is on its way, wait for it
            with self.lock:
                if self.waiters.pop(xid, None) is None:
                    return trio.lowlevel.Abort.FAILED
            return trio.lowlevel.Abort.SUCCEEDED

        reply: Reply = await trio.lowlevel.wait_task_rescheduled(abort)
        return reply

    def submit(self, w: _Waiter, args: Any, ident: Identity, payload: bytes | memoryview, in_trio: bool) -> int:
        """Register ``w`` and send its CALL (or queue it behind unsent bytes); returns the xid."""
        failed: OSError | None = None
        kick = False
        with self.lock:
            if self.close_reason is not None:
                raise self.close_reason
            xid = self.xids.next()
            event = Call(xid, w.prog, w.vers, w.proc, args, ident.opaque_auth(self.use_v3), payload=payload)
            buffers = self.conn.send_buffers(event)
            self.waiters[xid] = w
            sock = self.sock
            if sock is not None and not self._outq:
                try:
                    sent = sock.sendmsg(buffers)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:
                    self.waiters.pop(xid, None)
                    failed = exc
                    sent = 0
                if failed is None:
                    self.last_sent = self.now()
                    rest = unsent_part(buffers, sent)
                    if rest:
                        self._outq.extend(rest)
                        kick = True
            else:
                self._outq.extend(buffers)
                kick = True
        if failed is not None:
            reason = GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} failed while sending: {failed}")
            if in_trio:
                self.shutdown(reason)
            else:
                self.to_trio(self.shutdown, reason)
            raise reason from failed
        if kick:
            if in_trio:
                self._writer_wake.set()
            else:
                self.to_trio(self._kick_writer)
        return xid

    def _kick_writer(self) -> None:
        self._writer_wake.set()

    # ---- handing replies over ----------------------------------------------------------
    def finish(self, w: _Waiter, reply: Reply | None, error: BaseException | None) -> None:
        """Complete a thread's waiter (under _lock; ``w`` is already out of ``_waiters``)."""
        w.reply, w.error, w.done = reply, error, True
        self.signal(w)

    @staticmethod
    def signal(w: _Waiter) -> None:
        """Wake the thread of ``w`` to look at its state (under _lock)."""
        if not w.signalled:
            w.signalled = True
            w.lock.release()  # type: ignore[union-attr]

    @staticmethod
    def resume(w: _Waiter, reply: Reply | None, error: BaseException | None) -> None:
        """Complete a trio task's waiter (in the trio thread; ``w`` is out of ``_waiters``)."""
        trio.lowlevel.reschedule(w.task, outcome.Error(error) if error is not None else outcome.Value(reply))

    def resume_all(self, done: list[tuple[_Waiter, Reply | None, BaseException | None]]) -> None:
        for w, reply, error in done:
            self.resume(w, reply, error)

    def run_callbacks(self, callbacks: list[Call]) -> None:
        for ev in callbacks:
            log.debug("callback from %s: program %d proc %d (ignored)", self.peer, ev.prog, ev.proc)
            if self._on_callback is not None:
                self._on_callback(ev)

    # ---- sending -----------------------------------------------------------------------
    async def _writer(self) -> None:
        """Send what the calls left in the output queue, in order."""
        sock = self.sock
        while True:
            await self._writer_wake.wait()
            self._writer_wake = trio.Event()
            while True:
                failed: BaseException | None = None
                blocked = False
                with self.lock:
                    if self.close_reason is not None:
                        return
                    queued = self._outq
                    if not queued:
                        break
                    if sock is not None:
                        try:
                            sent = sock.sendmsg(queued[:_IOV_MAX])
                        except BlockingIOError:
                            blocked = True
                        except OSError as exc:
                            failed = exc
                        else:
                            self._outq = unsent_part(queued, sent)
                            self.last_sent = self.now()
                    else:
                        data = b"".join(queued)
                        self._outq = []
                if failed is None and sock is None:
                    try:
                        await self.stream.send_all(data)
                        self.last_sent = trio.current_time()
                    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                        failed = exc
                elif blocked:
                    assert sock is not None
                    try:
                        await trio.lowlevel.wait_writable(sock)
                    except (trio.ClosedResourceError, OSError) as exc:
                        failed = exc
                if failed is not None:
                    self.shutdown(
                        GlusterConnectionError(
                            errno.ENOTCONN, f"connection to {self.peer} failed while sending: {failed}"
                        )
                    )
                    return

    # ---- receiving ---------------------------------------------------------------------
    async def _receive_socket(self) -> None:
        """Read the socket while the reader role is the trio task's; hand the role over
        (stand by) once the calls it served were all threads' and none is left."""
        sock = self.sock
        assert sock is not None
        buf = bytearray(RECEIVE_SIZE)
        view = memoryview(buf)
        try:
            while True:
                streak = 0
                while True:
                    try:
                        n = sock.recv_into(buf)
                    except BlockingIOError:
                        streak = 0
                        await trio.lowlevel.wait_readable(sock)
                        continue
                    if n:
                        self.last_received = trio.current_time()
                    status = self._feed(view[:n], True)
                    if status == _CLOSED:
                        return
                    if status == _STEP_BACK:
                        break
                    if not self.waiters:  # nothing more is expected: skip a read that would fail
                        streak = 0
                        await trio.lowlevel.wait_readable(sock)
                        continue
                    streak += 1
                    if streak >= FAIRNESS:
                        streak = 0
                        await trio.lowlevel.checkpoint()
                # standing by: threads read; take the role back when a trio call wants a
                # reply, or after a while (to notice an idle connection's end)
                while True:
                    with trio.move_on_after(self.standby):
                        await self.reader_wake.wait()
                    self.reader_wake = trio.Event()
                    with self.lock:
                        if self.close_reason is not None:
                            return
                        if self.reader is None:
                            self.reader = _TRIO
                            break
        except (trio.ClosedResourceError, OSError) as exc:
            self.shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} lost: {exc}"))

    async def _receive_stream(self) -> None:
        try:
            while True:
                data = await self.stream.receive_some(RECEIVE_SIZE)
                if data:
                    self.last_received = trio.current_time()
                if self._feed(data, False) == _CLOSED:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            self.shutdown(GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} lost: {exc}"))

    def _feed(self, data: bytes | bytearray | memoryview, may_step_back: bool) -> int:
        """Take received bytes in the trio thread and hand every complete reply over."""
        done: list[tuple[_Waiter, Reply | None, BaseException | None]] = []
        callbacks: list[Call] = []
        with self.lock:
            if self.close_reason is not None:
                return _CLOSED
            threads = self.finished_threads
            self.conn.receive_data(data)
            reason = self.drain(done, callbacks)
            step_back = may_step_back and reason is None and not self.waiters and self.finished_threads != threads
            if step_back:
                self.reader = None
        for w, reply, error in done:
            self.resume(w, reply, error)
        if callbacks:
            self.run_callbacks(callbacks)
        if reason is not None:
            self.shutdown(reason)
            return _CLOSED
        return _STEP_BACK if step_back else _OK

    def drain(self, trio_done: list[Any], callbacks: list[Call]) -> GlusterConnectionError | None:
        """Decode every buffered event (under _lock): threads' replies are handed over at
        once, trio tasks' are collected in ``trio_done``; returns the reason to close, if any."""
        conn, waiters = self.conn, self.waiters
        while True:
            try:
                ev = conn.next_event()
            except ProtocolError as exc:
                if exc.reply == "IGNORE":
                    w = waiters.pop(exc.xid, None) if exc.xid is not None else None
                    if w is not None:
                        self.hand(
                            w,
                            None,
                            RpcError(errno.EPROTO, f"undecodable reply from {self.peer}: {exc}", "UNDECODABLE"),
                            trio_done,
                        )
                    continue
                if not exc.fatal and exc.xid is not None:
                    # a server CALL we do not serve: the client never answers callbacks
                    log.debug("ignoring server call from %s: %s", self.peer, exc)
                    continue
                return GlusterConnectionError(errno.EPROTO, f"protocol error from {self.peer}, disconnecting: {exc}")
            if ev is NEED_DATA:
                return None
            if type(ev) is Reply and ev.stat == AcceptStat.SUCCESS:
                w = waiters.pop(ev.xid, None)
                if w is not None:  # else the caller gave up (cancelled / bailed out)
                    self.hand(w, ev, None, trio_done)
                continue
            if isinstance(ev, ConnectionClosed):
                return GlusterConnectionError(errno.ENOTCONN, f"connection closed by {self.peer}")
            if isinstance(ev, Call):
                callbacks.append(ev)
                continue
            assert isinstance(ev, (Reply, Denied))
            w = waiters.pop(ev.xid, None)
            if w is not None:
                self.hand(
                    w,
                    None,
                    rpc_refusal(
                        ev, f"{describe_call(ev.prog or 0, ev.vers or 0, ev.proc or 0)} refused by {self.peer}"
                    ),
                    trio_done,
                )

    def hand(self, w: _Waiter, reply: Reply | None, error: BaseException | None, trio_done: list[Any]) -> None:
        if w.lock is None:
            trio_done.append((w, reply, error))
        else:
            self.finished_threads += 1
            self.finish(w, reply, error)
