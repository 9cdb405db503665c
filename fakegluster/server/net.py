"""The thin trio shell: move bytes between a connection and an RpcConnection + session.

:class:`Dispatcher` is everything between bytes received and buffers to send (decoding,
error replies, the call log, faults); it does no IO.  Two loops drive it:

* :func:`serve_socket` — TCP and unix connections.  The hot path: it calls the socket's
  non-blocking ``recv_into``/``sendmsg`` directly and only waits (``trio.lowlevel
  .wait_readable``/``wait_writable``) when the kernel says it would block, so a request
  costs one pass of trio's scheduler instead of three (the high-level stream API adds a
  checkpoint to every call), and a READ payload goes out with its header in one
  ``sendmsg`` without being copied.  It yields every :data:`FAIRNESS` requests so a busy
  client cannot starve the others.
* :func:`serve_stream` — any ``trio.abc.Stream`` (emulated rdma, memory streams in tests).

Every byte a connection sends goes through its :class:`Connection`, the
:class:`~fakegluster.server.handle.ConnectionHandle` its session gets: replies, deferred
replies (a lock granted later) and one-way CALLs to the peer (GF-CBK callbacks).  It writes
eagerly when the socket takes the bytes and keeps the rest, in order, in an outbox that a
writer task drains; the reading loop waits for the outbox to drain before it reads more
(back-pressure: a peer that does not read its replies is not read either).

A misbehaving peer costs nothing to the others: its task ends, its fds are released.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import itertools
import logging
import socket
import struct
from collections.abc import Callable, Sequence
from time import time as now
from typing import Any, Protocol

import trio

from ..proto import AcceptStat, Call, ConnectionClosed, ProtocolError, Reply, Role, RpcConnection, error_reply
from ..proto.events import NEED_DATA, Denied
from ..proto.programs import Program, lookup
from .calllog import CallLog, CallRecord, Faults
from .glusterd import NO_REPLY
from .handle import DEFERRED

__all__ = [
    "Session",
    "Dispatcher",
    "Connection",
    "serve_stream",
    "serve_socket",
    "serve_listener",
    "RECEIVE_SIZE",
    "IOV_MAX",
]

log = logging.getLogger("fakegluster.server")
RECEIVE_SIZE = 256 * 1024
#: serve_socket yields to the scheduler at least once per this many requests.
FAIRNESS = 32
#: buffers per sendmsg: Linux refuses more than IOV_MAX (1024) with EMSGSIZE
IOV_MAX = 1024
_connection_ids = itertools.count(1)


class Session(Protocol):
    def handle(self, call: Call) -> tuple[Any, Any]: ...


def next_connection_id() -> int:
    return next(_connection_ids)


class Dispatcher:
    """Bytes in, buffers out, for one connection (no IO).

    ``feed(data)`` returns the buffers to send now; ``closing`` says the connection must be
    closed after they are sent; ``delayed`` collects (call, fault) pairs to answer later
    (injected delays), which the loop runs in tasks of its own.
    """

    def __init__(
        self,
        session: Session,
        programs: Sequence[Program],
        *,
        name: str,
        peer: str,
        connection_id: int,
        calls: CallLog | None,
        faults: Faults | None,
        max_record: int | None,
    ) -> None:
        self.conn = RpcConnection(
            Role.SERVER, programs, decode_creds=False, **({"max_record": max_record} if max_record else {})
        )
        self.session, self.name, self.peer, self.cid = session, name, peer, connection_id
        self.calls, self.faults = calls, faults
        self.closing = False
        self.delayed: list[tuple[Call, Any]] = []
        #: handler failures and unencodable replies answered SYSTEM_ERR (fuzz campaigns count them)
        self.errors = 0

    def feed(self, data: bytes | memoryview) -> list[Any]:
        conn = self.conn
        conn.receive_data(data)
        out: list[Any] = []
        while True:
            try:
                event = conn.next_event()
            except ProtocolError as exc:
                log.info("%s: connection %d from %s: %s", self.name, self.cid, self.peer, exc)
                self._record_error(exc)
                reply = self._error_reply(exc)
                if reply is not None:
                    out.append(reply)
                if exc.fatal:
                    self.closing = True
                    return out
                continue
            if event is NEED_DATA:
                return out
            if isinstance(event, ConnectionClosed):
                self.closing = True
                return out
            if not isinstance(event, Call):
                continue
            fault = self.faults.match(self.name, _proc_name(event)) if self.faults and self.faults.active else None
            if fault is not None:
                if fault.action == "drop":
                    self._record(event, None, "fault: drop")
                    self.closing = True
                    return out
                if fault.delay or fault.action == "hang":
                    self.delayed.append((event, fault))
                    continue
            out.extend(self.answer(event, fault))

    def answer(self, call: Call, fault: Any = None) -> list[Any]:
        """The buffers answering ``call``.  Nothing a handler does, and no reply that cannot
        be encoded, escapes: either becomes a SYSTEM_ERR reply to that call alone (what
        rpcsvc sends when an actor fails, ``rpcsvc_error_reply``)."""
        if fault is not None and fault.errno is not None:
            return self._fail(call, fault)
        try:
            result, payload = self.session.handle(call)
        except Exception:  # a bug must not take the server down: answer SYSTEM_ERR
            log.exception("%s: %s failed", self.name, _proc_name(call))
            self.errors += 1
            self._record(call, None, "SYSTEM_ERR")
            return self._system_err(call)
        if result is DEFERRED:  # the session answers later, through Connection.reply
            return []
        if result.__class__ is Denied:  # rpcsvc refused the call (MSG_DENIED), e.g. an insecure port
            self._record(call, None, f"{result.reject_stat.name}: {result.auth_stat.name}")
            return self.conn.send_buffers(dataclasses.replace(result, xid=call.xid))
        return self.reply_buffers(call, result, payload)

    def reply_buffers(self, call: Call, result: Any, payload: Any = b"") -> list[Any]:
        """Record the reply to ``call`` and encode it (SYSTEM_ERR if it cannot be encoded)."""
        try:
            buffers = self.conn.send_buffers(Reply(call.xid, result, payload=payload))
        except (ValueError, TypeError, OverflowError, struct.error) as exc:
            log.error(
                "%s: the reply to %s cannot be encoded (%s); answering SYSTEM_ERR", self.name, _proc_name(call), exc
            )
            self.errors += 1
            self._record(call, result, f"SYSTEM_ERR: reply not encodable: {exc}")
            return self._system_err(call)
        self._record(call, result, None)
        return buffers

    def _system_err(self, call: Call) -> list[Any]:
        return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))

    def call_buffers(self, call: Call) -> list[Any]:
        """Record a one-way CALL this server sends to its peer and encode it."""
        if self.calls is not None:
            self.calls.append(
                CallRecord(now(), self.name, self.cid, self.peer, call.prog, call.vers, call.proc, call.xid,
                           call.args, direction="out")
            )  # fmt: skip
        return self.conn.send_buffers(call)

    def _fail(self, call: Call, fault: Any) -> list[Any]:
        proc = lookup(call.prog, call.vers).procs[call.proc]
        if proc.reply is None or "op_ret" not in proc.reply.field_names:
            self._record(call, None, "fault: SYSTEM_ERR")
            return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
        result = proc.reply.cls(op_ret=-1, op_errno=fault.errno)
        self._record(call, result, f"fault: errno {fault.errno}")
        return self.conn.send_buffers(Reply(call.xid, result))

    def _error_reply(self, exc: ProtocolError) -> bytes | None:
        """rpcsvc's error reply, with the body some actors still attach to GARBAGE_ARGS."""
        garbage = getattr(self.session, "garbage", None)
        if exc.reply == "GARBAGE_ARGS" and exc.xid and exc.prog is not None and garbage is not None:
            body = garbage(exc.prog, exc.proc)
            if body is NO_REPLY:
                return None
            if body.__class__ is Denied:
                return b"".join(bytes(b) for b in self.conn.send_buffers(dataclasses.replace(body, xid=exc.xid)))
            if body is not None:
                return b"".join(
                    bytes(b) for b in self.conn.send_buffers(Reply(exc.xid, body, stat=AcceptStat.GARBAGE_ARGS))
                )
        return error_reply(exc)

    def _record(self, call: Call, result: Any, error: str | None) -> None:
        if self.calls is not None:
            self.calls.append(
                (now(), self.name, self.cid, self.peer, call.prog, call.vers, call.proc, call.xid, call.args, result,
                 error)
            )  # fmt: skip

    def _record_error(self, exc: ProtocolError) -> None:
        if self.calls is not None:
            self.calls.append(
                CallRecord(
                    now(),
                    self.name,
                    self.cid,
                    self.peer,
                    exc.prog,
                    exc.vers,
                    exc.proc,
                    exc.xid or 0,
                    None,
                    None,
                    f"{exc.reply}: {exc}",
                )
            )

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if close is not None:
            close()


def _proc_name(call: Call) -> str:
    program = lookup(call.prog, call.vers)
    proc = program.procs.get(call.proc) if program else None
    return proc.name if proc else ""


class Connection:
    """One served connection's output side; the ConnectionHandle sessions see.

    ``post(buffers)`` queues bytes in order; on a socket it first writes what the kernel
    takes at once (so a deferred reply goes out before the reply of the call that caused it,
    like a real brick granting a blocked lock before answering the unlock).  ``run_writer``
    (a task of the connection's nursery) drains the rest.  Thread-unsafe: the server's trio
    thread only.
    """

    def __init__(self, dispatcher: Dispatcher, *, sock: socket.socket | None = None,
                 stream: trio.abc.SendStream | None = None) -> None:  # fmt: skip
        self.d = dispatcher
        self.id, self.peer, self.name = dispatcher.cid, dispatcher.peer, dispatcher.name
        self._sock, self._stream = sock, stream
        self._queue: collections.deque[Any] = collections.deque()
        self._writing = False  # a stream write is under way (its bytes left the queue)
        self._wake = trio.Event()
        self._drained: trio.Event | None = None
        self._closed = False
        self._xid = 0
        self._on_close: list[Callable[[], None]] = []
        self.cancel_scope: trio.CancelScope | None = None

    # ---- ConnectionHandle -----------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def reply(self, call: Call, result: Any, payload: bytes | memoryview = b"") -> None:
        if not self._closed:
            self.post(self.d.reply_buffers(call, result, payload))

    def send_call(self, prog: int, vers: int, proc: int, args: Any = None) -> int:
        if self._closed:
            return 0
        self._xid += 1
        self.post(self.d.call_buffers(Call(self._xid, prog, vers, proc, args)))
        return self._xid

    def close(self) -> None:
        self._queue.clear()
        self._closed = True
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()
        self._wake.set()

    def on_close(self, callback: Callable[[], None]) -> None:
        if self._closed:
            callback()
        else:
            self._on_close.append(callback)

    # ---- the loops' side -----------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Output not yet handed to the kernel (or a stream) — the reader waits for it."""
        return bool(self._queue) or self._writing

    def post(self, buffers: list[Any]) -> None:
        if self._closed or not buffers:
            return
        if self._sock is not None and not self._queue:
            buffers = self._send_now(buffers)
            if not buffers:
                return
        self._queue.extend(buffers)
        self._wake.set()

    def _send_now(self, buffers: list[Any]) -> list[Any]:
        """Write what the socket takes without blocking; return the rest."""
        sock = self._sock
        assert sock is not None
        while buffers:
            try:
                sent = sock.sendmsg(buffers[:IOV_MAX])
            except BlockingIOError:
                return buffers
            except OSError:
                self._broken()
                return []
            buffers = _advance(buffers, sent)
        return buffers

    async def wait_drained(self) -> None:
        while self.pending and not self._closed:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()

    async def run_writer(self) -> None:
        """Drain the outbox forever (cancelled with the connection)."""
        while not self._closed:
            if not self._queue:
                self._wake = trio.Event()
                self._set_drained()
                await self._wake.wait()
                continue
            if self._sock is not None:
                await trio.lowlevel.wait_writable(self._sock)
                rest = self._send_now(list(self._queue))
                self._queue.clear()
                self._queue.extend(rest)
            else:
                assert self._stream is not None
                data = b"".join(bytes(b) if isinstance(b, memoryview) else b for b in self._queue)
                self._queue.clear()
                self._writing = True
                try:
                    await self._stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._broken()
                finally:
                    self._writing = False
        self._set_drained()

    def _set_drained(self) -> None:
        if self._drained is not None and not self.pending:
            self._drained.set()
            self._drained = None

    def _broken(self) -> None:
        """The peer is gone: drop the output and end the connection."""
        self.close()

    def finish(self) -> None:
        """The connection ended: run the close callbacks once."""
        self._closed = True
        self._queue.clear()
        self._set_drained()
        callbacks, self._on_close = self._on_close, []
        for cb in callbacks:
            try:
                cb()
            except Exception:
                log.exception("%s: a close callback of connection %d failed", self.name, self.id)


def _advance(buffers: list[Any], sent: int) -> list[Any]:
    """The buffers left after the first ``sent`` bytes went out."""
    i = 0
    while sent and i < len(buffers):
        n = len(buffers[i]) if isinstance(buffers[i], bytes) else memoryview(buffers[i]).nbytes
        if sent >= n:
            sent -= n
            i += 1
        else:
            rest = memoryview(buffers[i]).cast("B")[sent:]
            return [rest, *buffers[i + 1 :]]
    return buffers[i:]


def _attach(session: Any, conn: Connection) -> None:
    attach = getattr(session, "attach", None)
    if attach is not None:
        attach(conn)


async def _run_delayed(dispatcher: Dispatcher, conn: Connection, call: Call, fault: Any) -> None:
    if fault.action == "hang":
        dispatcher._record(call, None, "fault: hang")
        await trio.sleep_forever()
    await trio.sleep(fault.delay)
    conn.post(dispatcher.answer(call, fault if fault.errno is not None else None))


async def _serve(
    conn: Connection, d: Dispatcher, receive: Callable[[], Any], *, yield_every: int | None = None
) -> None:
    """The reading loop shared by both shells: feed, answer, wait for output to drain."""
    async with trio.open_nursery() as nursery:
        conn.cancel_scope = nursery.cancel_scope
        nursery.start_soon(conn.run_writer)
        busy = 0
        while not d.closing and not conn.closed:
            data = await receive()
            out = d.feed(data)
            for call, fault in d.delayed:
                nursery.start_soon(_run_delayed, d, conn, call, fault)
            d.delayed.clear()
            conn.post(out)
            if conn.pending:
                await conn.wait_drained()
            elif yield_every is not None:
                busy += 1
                if busy >= yield_every:
                    busy = 0
                    await trio.lowlevel.checkpoint()
        nursery.cancel_scope.cancel()


async def serve_stream(
    stream: trio.abc.Stream,
    session: Session,
    programs: Sequence[Program],
    *,
    name: str,
    peer: str,
    connection_id: int,
    calls: CallLog | None = None,
    faults: Faults | None = None,
    max_record: int | None = None,
) -> None:
    """Serve one connection over any trio stream until the peer closes it."""
    d = Dispatcher(
        session,
        programs,
        name=name,
        peer=peer,
        connection_id=connection_id,
        calls=calls,
        faults=faults,
        max_record=max_record,
    )
    conn = Connection(d, stream=stream)
    _attach(session, conn)

    async def receive() -> bytes:
        try:
            return await stream.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return b""

    log.debug("%s: connection %d from %s", name, connection_id, peer)
    try:
        await _serve(conn, d, receive)
    finally:
        conn.finish()
        d.close()
        await trio.aclose_forcefully(stream)
        log.debug("%s: connection %d from %s closed", name, connection_id, peer)


async def serve_socket(
    sock: socket.socket,
    session: Session,
    programs: Sequence[Program],
    *,
    name: str,
    peer: str,
    connection_id: int,
    calls: CallLog | None = None,
    faults: Faults | None = None,
    max_record: int | None = None,
) -> None:
    """Serve one connected non-blocking socket until the peer closes it (the hot path)."""
    d = Dispatcher(
        session,
        programs,
        name=name,
        peer=peer,
        connection_id=connection_id,
        calls=calls,
        faults=faults,
        max_record=max_record,
    )
    conn = Connection(d, sock=sock)
    _attach(session, conn)
    buf = bytearray(RECEIVE_SIZE)
    view = memoryview(buf)

    async def receive() -> memoryview | bytes:
        while True:
            try:
                n = sock.recv_into(buf)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(sock)
                continue
            except OSError:
                n = 0
            return view[:n] if n else b""

    log.debug("%s: connection %d from %s", name, connection_id, peer)
    try:
        await _serve(conn, d, receive, yield_every=FAIRNESS)
    finally:
        conn.finish()
        d.close()
        sock.close()
        log.debug("%s: connection %d from %s closed", name, connection_id, peer)


async def serve_listener(
    lsock: socket.socket, handler: Callable[[socket.socket, Any], Any], nursery: trio.Nursery
) -> None:
    """Accept connections on a listening socket forever; ``handler(sock, addr)`` serves each
    (in ``nursery``).  Accept errors that mean "too many files" are logged and retried later,
    like trio's serve_listeners."""
    lsock.setblocking(False)
    try:
        while True:
            try:
                conn, addr = lsock.accept()
            except BlockingIOError:
                await trio.lowlevel.wait_readable(lsock)
                continue
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS):
                    log.error("accept: %s; sleeping 100 ms", exc)
                    await trio.sleep(0.1)
                    continue
                raise
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            nursery.start_soon(handler, conn, addr)
            await trio.lowlevel.checkpoint()
    finally:
        lsock.close()
