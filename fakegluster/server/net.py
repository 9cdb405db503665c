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
import ctypes
import dataclasses
import errno
import gc
import itertools
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from time import time as now
from typing import Any, Protocol

import trio

from ..proto import AcceptStat, Call, ConnectionClosed, ProtocolError, Reply, Role, RpcConnection, error_reply
from ..proto.cli import GLUSTER_CLI_PROGRAM
from ..proto.events import NEED_DATA, Denied, Expensive
from ..proto.programs import Program, lookup
from ..proto.record import LAST_FRAGMENT
from ..proto.xdr import encode
from .calllog import CallLog, CallRecord, Faults
from .glusterd import NO_REPLY
from .handle import DEFERRED, Sliced

__all__ = [
    "Session",
    "Dispatcher",
    "Connection",
    "serve_stream",
    "serve_socket",
    "serve_listener",
    "RECEIVE_SIZE",
    "IOV_MAX",
    "LISTEN_BACKLOG",
    "ConnectionLimit",
]

log = logging.getLogger("fakegluster.server")
RECEIVE_SIZE = 256 * 1024
#: listen() backlog: GLUSTERFS_SOCKET_LISTEN_BACKLOG (glusterd and bricks, transport.listen-backlog)
LISTEN_BACKLOG = 1024
#: One receive buffer for every socket served by one thread (a server's sockets all run in
#: its trio thread, and what is received is fed to the connection before the next await): an
#: idle connection holds no receive buffer of its own.  Per thread, not per process: several
#: servers in one process (each FakeGluster has its own trio thread) must not share one.
_RECEIVE_BUFFERS = threading.local()


def _receive_buffer() -> tuple[bytearray, memoryview]:
    """This thread's receive buffer and a view of it."""
    try:
        return _RECEIVE_BUFFERS.pair  # type: ignore[no-any-return]
    except AttributeError:
        buf = bytearray(RECEIVE_SIZE)
        _RECEIVE_BUFFERS.pair = (buf, memoryview(buf))
        return _RECEIVE_BUFFERS.pair  # type: ignore[no-any-return]


#: serve_socket yields to the scheduler at least once per this many receives, or this many
#: bytes received (a peer streaming a 64 MiB WRITE lets the others in every MiB).
FAIRNESS = 32
FAIRNESS_BYTES = 1 << 20
#: One slice of a connection's work: after this many calls, or this many bytes of replies,
#: the connection sends what it has and lets the others run (a receive of 256 KiB can hold
#: thousands of calls; a peer that does not read its replies is not read either).
SLICE_CALLS = 64
SLICE_BYTES = 4 << 20
#: how long sliced work (a handler's :class:`~fakegluster.server.handle.Sliced`) runs at once
SLICE_SECONDS = 0.003
#: a call that keeps the server busy longer than this is logged (WARNING; DEBUG for the
#: gluster CLI's program: a volume create or delete makes or removes directory stores, and a
#: real glusterd takes seconds for those)
SLOW_CALL = 0.05
#: Records that cost more bytes than this to decode are decoded in a worker thread (a 24 MB
#: message holding a 1M-entry dict takes seconds to decode in Python; the trio thread keeps
#: serving the others meanwhile, sharing the GIL in its 5 ms slices).
DECODE_INLINE = 256 * 1024
#: at most this many such decodes at once (they share the GIL anyway)
_DECODE_THREADS = trio.CapacityLimiter(2)
#: buffers per sendmsg: Linux refuses more than IOV_MAX (1024) with EMSGSIZE
IOV_MAX = 1024
#: bytes written to one socket before the others get a turn
SEND_SLICE = 4 << 20
_connection_ids = itertools.count(1)
#: record mark, xid, REPLY, MSG_ACCEPTED, AUTH_NULL verifier (flavour, length), SUCCESS
_REPLY_HEAD = struct.Struct(">7I")


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
        #: calls are left over from the last slice of work (:meth:`resume` again)
        self.more = False
        #: a record to decode in a worker thread (:meth:`decode_expensive`)
        self.expensive: Any = None  # bytes, a memoryview or record.Pieces
        #: sliced work under way: (call, steps, its size for the call log)
        self.work: tuple[Call, Any, int] | None = None
        #: the session's fast path (``BrickSession.fast``: a plain READ), or None
        self.fast: Callable[[Call], tuple[Any, Any] | None] | None = getattr(session, "fast", None)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Take bytes received (``b""``: the peer closed) and answer what they complete, as
        far as one slice of work goes (see :meth:`resume`)."""
        self.conn.receive_data(data)
        return self.resume()

    def resume(self) -> list[Any]:
        """Answer buffered calls until no complete record is left or one slice of work is
        done: :data:`SLICE_CALLS` calls or :data:`SLICE_BYTES` bytes of replies.  Then
        ``more`` says calls are left (the loop sends, lets other connections run and comes
        back), and ``expensive`` holds a record too costly to decode here (over
        :data:`DECODE_INLINE`): the loop decodes it in a worker thread and calls
        :meth:`answer_event`."""
        conn = self.conn
        self.more = False
        if self.work is not None:
            out = self._step()
            if self.work is not None:
                self.more = True
                return out
        else:
            out = []
        calls = size = 0
        while True:
            if calls >= SLICE_CALLS or size >= SLICE_BYTES or self.work is not None:
                self.more = True
                return out
            try:
                event = conn.next_event(DECODE_INLINE)
            except ProtocolError as exc:
                out.extend(self._protocol_error(exc))
                if self.closing:
                    return out
                continue
            if event is NEED_DATA:
                return out
            if isinstance(event, Expensive):
                self.expensive = event.record
                return out
            calls += 1
            n = len(out)
            out.extend(self.answer_event(event))
            for b in out[n:]:
                size += len(b) if isinstance(b, bytes) else memoryview(b).nbytes
            if self.closing:
                return out

    def answer_event(self, event: Any) -> list[Any]:
        """The buffers for one event of the connection (a Call, mostly)."""
        if isinstance(event, ConnectionClosed):
            self.closing = True
            return []
        if event.__class__ is not Call:
            return []
        faults = self.faults
        if self.fast is not None and not (faults is not None and faults.active):
            done = self.fast(event)
            if done is not None:
                return self._fast_reply(event, *done)
        fault = self.faults.match(self.name, _proc_name(event)) if self.faults and self.faults.active else None
        if fault is not None:
            if fault.action == "drop":
                self._record(event, None, "fault: drop")
                self.closing = True
                return []
            if fault.delay or fault.action == "hang":
                self.delayed.append((event, fault))
                return []
        return self.answer(event, fault)

    def decode_expensive(self, record: Any) -> Any:
        """Decode ``record`` (in a worker thread: it touches the connection's decoder only);
        the event, or the ProtocolError, goes to :meth:`answer_decoded` in the trio thread."""
        try:
            event: Any = self.conn.decode_record(record)
        except ProtocolError as exc:
            event = exc
        return event

    def answer_decoded(self, event: Any) -> list[Any]:
        """Answer what :meth:`decode_expensive` returned."""
        if isinstance(event, ProtocolError):
            return self._protocol_error(event)
        return self.answer_event(event)

    def _protocol_error(self, exc: ProtocolError) -> list[Any]:
        log.info("%s: connection %d from %s: %s", self.name, self.cid, self.peer, exc)
        self._record_error(exc)
        reply = self._error_reply(exc)
        if exc.fatal:
            self.closing = True
        return [reply] if reply is not None else []

    def answer(self, call: Call, fault: Any = None) -> list[Any]:
        """The buffers answering ``call``.  Nothing a handler does, and no reply that cannot
        be encoded, escapes: either becomes a SYSTEM_ERR reply to that call alone (what
        rpcsvc sends when an actor fails, ``rpcsvc_error_reply``)."""
        in_size = self.conn.last_record_size - len(call.payload)  # what the call log may keep
        if fault is not None and fault.errno is not None:
            return self._fail(call, fault)
        t0 = time.perf_counter()
        try:
            result, payload = self.session.handle(call)
        except Exception:  # a bug must not take the server down: answer SYSTEM_ERR
            log.exception("%s: %s failed", self.name, _proc_name(call))
            self.errors += 1
            self._record(call, None, "SYSTEM_ERR", in_size)
            return self._system_err(call)
        took = time.perf_counter() - t0
        if took > SLOW_CALL:  # every other client waited as long: say which call it was
            level = logging.DEBUG if call.prog == GLUSTER_CLI_PROGRAM else logging.WARNING
            log.log(level, "%s: %s took %.0f ms: %.300r", self.name, _proc_name(call), took * 1000, call.args)
        if result is DEFERRED:  # the session answers later, through Connection.reply
            return []
        if result.__class__ is Denied:  # rpcsvc refused the call (MSG_DENIED), e.g. an insecure port
            self._record(call, None, f"{result.reject_stat.name}: {result.auth_stat.name}")
            return self.conn.send_buffers(dataclasses.replace(result, xid=call.xid))
        if isinstance(result, Sliced):  # long work, a step per slice (see resume)
            self.work = (call, result.steps, in_size)
            return []
        return self.reply_buffers(call, result, payload, in_size)

    def _step(self) -> list[Any]:
        """Run the sliced work for one slice (:data:`SLICE_SECONDS`); its reply once done."""
        assert self.work is not None
        call, steps, in_size = self.work
        end = time.perf_counter() + SLICE_SECONDS
        try:
            while time.perf_counter() < end:
                next(steps)
            return []
        except StopIteration as done:
            self.work = None
            result, payload = done.value
            return self.reply_buffers(call, result, payload, in_size)
        except Exception:  # as in answer(): a bug answers SYSTEM_ERR
            self.work = None
            log.exception("%s: %s failed", self.name, _proc_name(call))
            self.errors += 1
            self._record(call, None, "SYSTEM_ERR", in_size)
            return self._system_err(call)

    def reply_buffers(self, call: Call, result: Any, payload: Any = b"", in_size: int = 0) -> list[Any]:
        """Record the reply to ``call`` and encode it (SYSTEM_ERR if it cannot be encoded)."""
        try:
            buffers = self.conn.send_buffers(Reply(call.xid, result, payload=payload))
        except (ValueError, TypeError, OverflowError, struct.error) as exc:
            log.error(
                "%s: the reply to %s cannot be encoded (%s); answering SYSTEM_ERR", self.name, _proc_name(call), exc
            )
            self.errors += 1
            self._record(call, None, f"SYSTEM_ERR: reply not encodable: {exc}", in_size)
            return self._system_err(call)
        self._record(call, result, None, in_size + len(buffers[0]))
        return buffers

    def _fast_reply(self, call: Call, result: Any, payload: Any) -> list[Any]:
        """:meth:`reply_buffers` for a successful reply the session's fast path made: the
        record mark and accepted-reply header (AUTH_NULL verifier, as every gluster server
        sends) in one ``pack``."""
        try:
            body = encode(result.__class__, result)
        except (ValueError, TypeError, OverflowError, struct.error):
            return self.reply_buffers(call, result, payload, self.conn.last_record_size - len(call.payload))
        n = len(payload)
        head = _REPLY_HEAD.pack(LAST_FRAGMENT | (24 + len(body) + n), call.xid, 1, 0, 0, 0, 0) + body
        if self.calls is not None:
            self._record(call, result, None, self.conn.last_record_size - len(call.payload) + len(head))
        return [head, payload] if n else [head]

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
        program = lookup(call.prog, call.vers)
        assert program is not None  # the call was decoded, so its program is known
        proc = program.procs[call.proc]
        if proc.reply is None or "op_ret" not in proc.reply.field_names:
            self._record(call, None, "fault: SYSTEM_ERR")
            return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
        result = proc.reply(op_ret=-1, op_errno=fault.errno)
        try:
            buffers = self.conn.send_buffers(Reply(call.xid, result))
        except (ValueError, TypeError, OverflowError, struct.error) as exc:  # an errno no int32 holds
            self._record(call, None, f"fault: SYSTEM_ERR: reply not encodable: {exc}")
            return self._system_err(call)
        self._record(call, result, f"fault: errno {fault.errno}")
        return buffers

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

    def _record(self, call: Call, result: Any, error: str | None, size: int = 0) -> None:
        """Log ``call`` (``size``: its bytes on the wire, payloads left out, for the log's
        byte bound)."""
        if self.calls is not None:
            self.calls.append(
                (now(), self.name, self.cid, self.peer, call.prog, call.vers, call.proc, call.xid, call.args, result,
                 error), size,
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
    like a real brick granting a blocked lock before answering the unlock).  A writer task,
    started in the connection's nursery only when output has to wait, drains the rest.
    Thread-unsafe: the server's trio thread only.
    """

    def __init__(self, dispatcher: Dispatcher, *, sock: socket.socket | None = None,
                 stream: trio.abc.SendStream | None = None) -> None:  # fmt: skip
        self.d = dispatcher
        self.id, self.peer, self.name = dispatcher.cid, dispatcher.peer, dispatcher.name
        self._sock, self._stream = sock, stream
        self._queue: collections.deque[Any] = collections.deque()
        self._writing = False  # a stream write is under way (its bytes left the queue)
        self._writer = False  # a writer task runs (started when output has to wait)
        self._drained: trio.Event | None = None
        self._closed = False
        self._xid = 0
        self._on_close: list[Callable[[], None]] = []
        self.cancel_scope: trio.CancelScope | None = None
        self.nursery: trio.Nursery | None = None
        #: a :class:`~fakegluster.server.pcap.Tap` that gets every byte both ways (or None)
        self.tap: Any = None

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
        self._set_drained()

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
        if self.tap is not None:
            self.tap.sent(buffers)
        if self._sock is not None and not self._queue:
            buffers = self._send_now(buffers)
            if not buffers:
                return
        self._queue.extend(buffers)
        if not self._writer:
            if self.nursery is None:  # the connection is ending: nobody will send it
                self._queue.clear()
                return
            self._writer = True
            self.nursery.start_soon(self._write)

    def _send_now(self, buffers: list[Any]) -> list[Any]:
        """Write what the socket takes without blocking, up to :data:`SEND_SLICE` bytes (a
        peer reading a 2 GiB reply as fast as it comes would keep us here); return the rest."""
        sock = self._sock
        assert sock is not None
        budget = SEND_SLICE
        while buffers and budget > 0:
            try:
                sent = sock.sendmsg(buffers[:IOV_MAX])
            except BlockingIOError:
                return buffers
            except OSError as exc:
                log.info("%s: connection %d from %s: send failed: %s", self.name, self.id, self.peer, exc)
                self._broken()
                return []
            budget -= sent
            buffers = _advance(buffers, sent)
        return buffers

    async def wait_drained(self) -> None:
        while self.pending and not self._closed:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()

    async def _write(self) -> None:
        """Drain the outbox, then end (the next ``post`` that cannot write at once starts
        another writer): an idle connection has no writer task."""
        try:
            while self._queue and not self._closed:
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
        finally:
            self._writer = False
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
        if self.tap is not None:
            self.tap.closed()
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
    while dispatcher.work is not None and dispatcher.work[0] is call:  # a sliced READ/WRITE
        await trio.lowlevel.checkpoint()
        conn.post(dispatcher._step())


async def _serve(
    conn: Connection, d: Dispatcher, receive: Callable[[], Any], *, yield_every: int | None = None
) -> None:
    """The reading loop shared by both shells: feed, answer, wait for output to drain.

    Back-pressure: nothing more is read (or answered) while replies wait to be sent, so a
    peer that does not read its replies holds at most one slice of them.  Fairness: after a
    slice of work (:data:`SLICE_CALLS`, :data:`SLICE_BYTES`) or ``yield_every`` receives,
    the other connections run.  A record too costly to decode here goes to a worker thread.
    """
    try:
        async with trio.open_nursery() as nursery:
            conn.cancel_scope = nursery.cancel_scope
            conn.nursery = nursery
            busy = got = 0
            while not d.closing and not conn.closed:
                if d.more:
                    out = d.resume()
                else:
                    data = await receive()
                    got += len(data)
                    if conn.tap is not None:
                        conn.tap.received(data)
                    out = d.feed(data)
                _start_delayed(d, conn, nursery)
                conn.post(out)
                if d.expensive is not None:
                    record, d.expensive = d.expensive, None
                    if conn.pending:
                        await conn.wait_drained()
                    event = await trio.to_thread.run_sync(d.decode_expensive, record, limiter=_DECODE_THREADS)
                    conn.post(d.answer_decoded(event))
                    _start_delayed(d, conn, nursery)
                    d.more = True  # what followed it is still buffered
                if conn.pending:
                    await conn.wait_drained()
                    busy = got = 0
                elif d.more:
                    await trio.lowlevel.checkpoint()
                elif yield_every is not None:
                    busy += 1
                    if busy >= yield_every or got >= FAIRNESS_BYTES:
                        busy = got = 0
                        await trio.lowlevel.checkpoint()
            nursery.cancel_scope.cancel()
    finally:
        conn.nursery = None


def _start_delayed(d: Dispatcher, conn: Connection, nursery: trio.Nursery) -> None:
    for call, fault in d.delayed:
        nursery.start_soon(_run_delayed, d, conn, call, fault)
    d.delayed.clear()


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
    tap: Any = None,
) -> None:
    """Serve one connection over any trio stream until the peer closes it (``tap``: a
    :class:`~fakegluster.server.pcap.Tap` that gets its bytes both ways)."""
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
    conn.tap = tap
    _attach(session, conn)

    async def receive() -> bytes | bytearray:
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
    tap: Any = None,
) -> None:
    """Serve one connected non-blocking socket until the peer closes it (the hot path;
    ``tap`` as for :func:`serve_stream`)."""
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
    conn.tap = tap
    _attach(session, conn)

    buffer, view = _receive_buffer()  # this connection's trio thread's

    async def receive() -> memoryview | bytes:
        # the shared buffer: its bytes are fed to ``d`` before anything awaits (see _serve)
        while True:
            try:
                n = sock.recv_into(buffer)
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


class ConnectionLimit:
    """How many connections a server serves at once (all its listeners together).

    ``maximum`` None: no limit of our own (the process's RLIMIT_NOFILE still applies, see
    :func:`serve_listener`).  A connection over the limit is accepted and closed at once, so
    the peer sees EOF instead of waiting in the backlog.
    """

    def __init__(self, maximum: int | None = None) -> None:
        self.maximum = maximum
        self.current = 0
        self.refused = 0
        self.accepted = 0
        #: run a full garbage collection when the last connection closes (at most once a
        #: second): a serving process (:func:`tune_gc`) leaves full collections to quiet times
        self.collect_when_idle = False
        self._collected = 0.0

    def closed_one(self) -> None:
        self.current -= 1
        if not self.current and self.collect_when_idle and time.monotonic() - self._collected > 1.0:
            gc.collect()
            _trim()  # and give the freed memory back to the system
            self._collected = time.monotonic()

    @property
    def full(self) -> bool:
        return self.maximum is not None and self.current >= self.maximum


def _trim() -> None:
    """glibc keeps freed memory for reuse; ``malloc_trim`` returns what it can (elsewhere: nothing)."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def tune_gc() -> None:
    """For a process that only serves (``fakegluster serve``): Python's full garbage
    collections walk every live object -- with 10,000 connections open, 400 ms during which
    nobody is answered.  Leave the start-up objects out of them for good (``gc.freeze``) and
    make them rare (a full collection after 200 of the middle generation instead of 10);
    :class:`ConnectionLimit` runs one whenever the server goes idle.  No collection first:
    it would walk every object (~34,000 after the imports, 10-40 ms) before the first call
    is answered, to free the ~200 the imports left unreachable."""
    gc.freeze()
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 200)


async def _counted(handler: Callable[[socket.socket, Any], Any], conn: socket.socket, addr: Any,
                   limit: ConnectionLimit) -> None:  # fmt: skip
    try:
        await handler(conn, addr)
    except Exception:  # a bug in one connection's task must end that connection, not the server
        log.exception("a connection's task failed")
    finally:
        limit.closed_one()


#: accept() calls per wake-up of a listener before it lets the others run
ACCEPT_BATCH = 64


async def serve_listener(
    lsock: socket.socket,
    handler: Callable[[socket.socket, Any], Any],
    nursery: trio.Nursery,
    limit: ConnectionLimit | None = None,
) -> None:
    """Accept connections on a listening socket forever; ``handler(sock, addr)`` serves each
    (in ``nursery``).  Accept errors that mean "too many files" are logged and retried later,
    like trio's serve_listeners; connections over ``limit`` are closed at once."""
    lsock.setblocking(False)
    limit = limit if limit is not None else ConnectionLimit()
    try:
        while True:
            for _ in range(ACCEPT_BATCH):
                try:
                    conn, addr = lsock.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS):
                        log.error("accept: %s; sleeping 100 ms", exc)
                        await trio.sleep(0.1)
                        break
                    raise
                if limit.full:
                    if not limit.refused % 1000:
                        log.warning("connection limit (%d) reached: closing new connections", limit.maximum)
                    limit.refused += 1
                    conn.close()
                    continue
                limit.current += 1
                limit.accepted += 1
                conn.setblocking(False)
                if conn.family in (socket.AF_INET, socket.AF_INET6):
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                nursery.start_soon(_counted, handler, conn, addr, limit)
            await trio.lowlevel.wait_readable(lsock)
    finally:
        lsock.close()
