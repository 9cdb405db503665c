"""The thin trio shell: move bytes between a connection and an RpcConnection + session.

:class:`~.dispatch.Dispatcher` (:mod:`.dispatch`) is everything between bytes received and
buffers to send (decoding, error replies, the call log, faults); it does no IO.  Two loops
drive it:

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
import errno
import gc
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import trio

from ..proto import Call
from ..proto.programs import Program
from .calllog import CallLog, Faults
from .dispatch import _DECODE_THREADS, SLICE_BYTES, SLICE_CALLS, SLOW_CALL, Dispatcher, Session, next_connection_id
from .listen import LISTEN_BACKLOG

__all__ = [
    "Session",
    "Dispatcher",
    "next_connection_id",
    "SLICE_CALLS",
    "SLICE_BYTES",
    "SLOW_CALL",
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
#: buffers per sendmsg: Linux refuses more than IOV_MAX (1024) with EMSGSIZE
IOV_MAX = 1024
#: bytes written to one socket before the others get a turn
SEND_SLICE = 4 << 20
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class Reader(Protocol):
    """What :func:`serve_socket`'s loop asks of a connection's reader thread
    (:class:`.brickthread.Reader`): whether to give it the input now, the turn itself (what
    it hands back, answered: buffers to send) and its end."""

    def due(self) -> bool: ...

    async def give_turn(self) -> list[Any]: ...

    async def stop(self) -> bool: ...


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
        rest, failed = self.send_some(buffers)
        if failed is not None:
            log.info("%s: connection %d from %s: send failed: %s", self.name, self.id, self.peer, failed)
            self._broken()
            return []
        return rest

    def send_some(self, buffers: list[Any]) -> tuple[list[Any], OSError | None]:
        """:meth:`_send_now` without its consequences (no trio object touched: a brick
        connection's reader thread calls it): the buffers left, and the error that ended the
        connection, if any.  ``MSG_DONTWAIT``: never blocks, also on a blocking socket (the
        reader thread's, see :mod:`.brickthread`)."""
        sock = self._sock
        assert sock is not None
        budget = SEND_SLICE
        while buffers and budget > 0:
            try:
                sent = sock.sendmsg(buffers[:IOV_MAX], (), _DONTWAIT)
            except BlockingIOError:
                return buffers, None
            except OSError as exc:
                return [], exc
            budget -= sent
            buffers = _advance(buffers, sent)
        return buffers, None

    def kick(self) -> None:
        """Start a writer if output waits in the outbox and none runs (a reader thread left it
        there: it starts no task)."""
        if self._queue and not self._writer and not self._closed and self.nursery is not None:
            self._writer = True
            self.nursery.start_soon(self._write)

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
    conn: Connection,
    d: Dispatcher,
    receive: Callable[[], Any],
    *,
    yield_every: int | None = None,
    reader: Reader | None = None,
) -> None:
    """The reading loop shared by both shells: feed, answer, wait for output to drain.

    Back-pressure: nothing more is read (or answered) while replies wait to be sent, so a
    peer that does not read its replies holds at most one slice of them.  Fairness: after a
    slice of work (:data:`SLICE_CALLS`, :data:`SLICE_BYTES`) or ``yield_every`` receives,
    the other connections run.  A record too costly to decode here goes to a worker thread.
    With a ``reader`` (a brick connection's reader thread, :mod:`.brickthread`), the loop
    gives it the input whenever it says it is due and goes on with what it hands back.
    """
    try:
        async with trio.open_nursery() as nursery:
            conn.cancel_scope = nursery.cancel_scope
            conn.nursery = nursery
            busy = got = 0
            while not d.closing and not conn.closed:
                if d.more:
                    out = d.resume()
                elif reader is not None and reader.due():
                    out = await reader.give_turn()
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
    reader: Callable[[Dispatcher, Connection, socket.socket], Reader] | None = None,
) -> None:
    """Serve one connected non-blocking socket until the peer closes it (the hot path;
    ``tap`` as for :func:`serve_stream`; ``reader``: makes the connection's reader thread,
    :mod:`.brickthread`)."""
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
    thread = reader(d, conn, sock) if reader is not None else None

    buffer, view = _receive_buffer()  # this connection's trio thread's

    async def receive() -> memoryview | bytes:
        # the shared buffer: its bytes are fed to ``d`` before anything awaits (see _serve);
        # MSG_DONTWAIT: a reader thread makes the socket blocking (it waits in recv)
        while True:
            try:
                n = sock.recv_into(buffer, 0, _DONTWAIT)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(sock)
                continue
            except OSError:
                n = 0
            return view[:n] if n else b""

    log.debug("%s: connection %d from %s", name, connection_id, peer)
    try:
        await _serve(conn, d, receive, yield_every=FAIRNESS, reader=thread)
    finally:
        conn.finish()
        d.close()
        if thread is None or await thread.stop():
            sock.close()
        else:  # (a closed fd number can be reused at once: the thread must not hold it)
            log.error("%s: connection %d: the reader thread did not end; its socket is left open", name, connection_id)
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
