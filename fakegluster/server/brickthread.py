"""Brick connections read by a thread of their own: a READ answered without trio's scheduler.

A 4k READ at queue depth 1 waits for every µs of the server's turn-around (issue #16).  Served
by trio, a request costs an ``epoll_wait``, a wake-up of the connection's task and a pass of
the scheduler; a thread blocked in ``recv`` is woken by the kernel itself.  So a plain (TCP or
unix, not TLS, not emulated rdma, no pcap tap) brick connection gets a *reader thread*:

* The connection's trio task reads and answers as ``net.serve_socket`` does until
  :data:`HANDOVER` calls in a row took the READ fast path; then it gives the thread the turn
  (a connection that does not stream READs never wakes its thread: a turn costs two thread
  switches).
* The thread owns the connection's input while it is its **turn**: it blocks in ``recv``,
  feeds the connection's decoder and answers each READ the brick's fast path takes
  (``BrickSession.fast``: a plain READ of a running brick, no faults, upcalls, leases...) with
  :meth:`~.dispatch.Dispatcher.answer_fast`, writing the reply with a non-blocking
  ``sendmsg``.  The first record it does not answer so (any other call, an expensive or
  broken record, the peer's EOF) and any reply the socket does not take at once are **handed
  to the trio task** of the connection, in order, and the turn with them: the thread reads
  nothing more until the task gives the turn back, which it does only when it has answered
  every buffered record, its output is sent (today's back-pressure: a peer that does not read
  its replies is not read either) and again :data:`HANDOVER` READs in a row took the fast
  path.  So every call is answered in the order it came, by
  exactly the code that answers it without the thread.
* A thread that finds the server lock taken (trio busy with other connections) gives the turn
  back after that batch, and trio serves the next :data:`BACKOFF` READs itself: with many
  clients streaming READs at once, threads handing the lock around cost more than they save.
* **One lock per server** (:class:`ServerLock`, FIFO): while any reader thread has the turn,
  the trio thread holds it whenever it runs, i.e. always except while it waits for IO (a trio
  instrument, :class:`_Holder`); the reader threads take it for each batch of work.  So a
  reader thread's work happens between two passes of trio's scheduler, as a trio task's step
  would: no brick state (stores, fds, locks,
  the call log, the connection's decoder and outbox) is ever touched by two threads at once,
  and trio-side output (deferred replies, upcalls, lock grants) is written under it too.
  FIFO: a busy trio loop (it releases the lock at each IO poll) cannot starve the threads, nor
  they it.
* **Ending**: a connection ends as before, in its trio task (peer EOF, a fatal record, brick
  stop/kill, ``Connection.close``, server stop: all cancel the task).  Cancellation revokes the
  thread's turn at once (the task's abort callback, under the lock), so a stopped brick answers
  nothing more; the task then shuts the socket's read side (which wakes a thread blocked in
  ``recv``), waits for the thread to end and only then closes the socket (a closed fd number
  can be reused at once: the thread must not hold it).
* At most :data:`MAX_THREADS` such threads per process (each has a receive buffer and a
  stack): further connections are served by trio alone.
* On by default; ``FAKEGLUSTER_BRICK_THREADS=0`` in the server's environment switches it off
  (every connection served by trio alone).

Measured with ``make bench BENCH_ARGS="--select qd1"`` (README, Benchmarks).
"""

from __future__ import annotations

import collections
import logging
import os
import socket
import threading
from typing import Any

import trio

from ..proto import Call, ProtocolError
from ..proto.events import NEED_DATA, Expensive
from .dispatch import DECODE_INLINE, SLICE_BYTES, SLICE_CALLS, Dispatcher
from .net import RECEIVE_SIZE, Connection

__all__ = ["ENABLED", "MAX_THREADS", "Reader", "ServerLock", "server_lock", "stats"]

log = logging.getLogger("fakegluster.server")

#: serve plain brick connections with a reader thread (off: ``FAKEGLUSTER_BRICK_THREADS=0``)
ENABLED = os.environ.get("FAKEGLUSTER_BRICK_THREADS", "1") != "0"
#: reader threads per process at most; further connections are served by trio alone
MAX_THREADS = 32
#: the connection's trio task gives its thread the turn after this many READs in a row took the
#: fast path (a connection that does not stream READs is served by trio alone)
HANDOVER = 8
#: READs in a row served by trio again before the next turn, after a turn in which the thread
#: had to wait for the server lock (other connections keep it busy: 16 clients at QD1 ran at a
#: third of their IOPS with a thread each, the threads and trio handing the lock around)
BACKOFF = 512
#: how long an ending connection waits for its thread before it gives up (and leaks the fd)
EXIT_WAIT = 10.0

#: what the reader threads did (tests, diagnostics), by (server name as in the call log, what):
#: "started", "answered" (READs), "handed" (turns given back to trio), "flushed" (of them: a
#: reply the socket did not take at once), "contended" (the thread waited for the server lock)
stats: collections.Counter[tuple[str, str]] = collections.Counter()

_count_lock = threading.Lock()
_threads = 0  # reader threads running or reserved, all servers of the process

# what a reader thread hands to the trio task besides a decoded event or a ProtocolError
_FLUSH = "flush"  # output waits in the outbox: drain it, then answer what is buffered
_BROKEN = "broken"  # sending failed: the peer is gone

# the turn
_THREAD, _TRIO, _ENDED = 1, 2, 3


class ServerLock:
    """A FIFO lock handed over directly: ``release`` wakes the longest waiter only, which owns
    the lock from then on (no herd of waiters woken to race for it), threads and trio alike."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._locked = False
        self._waiters: collections.deque[Any] = collections.deque()

    def try_acquire(self) -> bool:
        """Take it if it is free now (nobody holds it or waits for it)."""
        with self._mutex:
            if self._locked or self._waiters:
                return False
            self._locked = True
            return True

    def acquire(self) -> None:
        with self._mutex:
            if not self._locked and not self._waiters:
                self._locked = True
                return
            baton = threading.Lock()
            baton.acquire()
            self._waiters.append(baton)
        baton.acquire()  # released by release(): the lock is ours

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # (stays locked: handed over)
            else:
                self._locked = False

    def __enter__(self) -> ServerLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Holder(trio.abc.Instrument):
    """Keeps ``lock`` held by the trio thread while any reader thread of the run has the turn,
    except while trio waits for IO.  With no turn out, trio runs without it (no lock traffic
    at each IO wait: many connections served by trio pay nothing for the threads)."""

    def __init__(self, lock: ServerLock) -> None:
        self.lock = lock
        self.held = False
        self.turns = 0  # reader threads that have the turn (or were given it)

    def before_io_wait(self, timeout: float) -> None:
        if self.held:
            self.held = False
            self.lock.release()

    def after_io_wait(self, timeout: float) -> None:
        if self.turns and not self.held:
            self.lock.acquire()
            self.held = True

    def after_run(self) -> None:
        self.before_io_wait(0)

    def turn_given(self) -> None:
        """A thread gets the turn (in the trio thread): from now on trio holds the lock."""
        self.turns += 1
        self.after_io_wait(0)

    def turn_back(self) -> None:
        """A turn ended (in the trio thread, the lock held): the last one lets it go."""
        self.turns -= 1
        if not self.turns:
            self.before_io_wait(0)


_HOLDER: trio.lowlevel.RunVar[_Holder | None] = trio.lowlevel.RunVar("fakegluster_server_lock", default=None)


def _holder() -> _Holder:
    holder = _HOLDER.get()
    if holder is None:
        holder = _Holder(ServerLock())
        trio.lowlevel.add_instrument(holder)
        _HOLDER.set(holder)
    return holder


def server_lock() -> ServerLock:
    """This trio run's server lock (held by the trio thread whenever it runs while a reader
    thread has the turn)."""
    return _holder().lock


def _reserve() -> bool:
    global _threads
    with _count_lock:
        if _threads >= MAX_THREADS:
            return False
        _threads += 1
        return True


def _unreserve() -> None:
    global _threads
    with _count_lock:
        _threads -= 1


class Reader:
    """A connection's reader thread and the turn it shares with the connection's trio task
    (what :func:`.net.serve_socket` is given as ``reader``)."""

    def __init__(self, d: Dispatcher, conn: Connection, sock: socket.socket, lock: ServerLock | None = None) -> None:
        self.d, self.conn, self.sock = d, conn, sock
        self.lock = lock  # the server's (at the first turn: a server whose connections never
        # stream READs does not even take its lock)
        self.token = trio.lowlevel.current_trio_token()
        self.turn = _TRIO
        self.item: Any = None
        self.task: Any = None  # the trio task waiting for the turn back
        self.go = threading.Event()  # the thread's turn (or its end)
        self.stopping = False
        self.exited = trio.Event()
        self.thread = threading.Thread(target=self._run, name=f"{d.name}#{d.cid}", daemon=True)
        self.started = False
        self.refused = False  # no thread to be had (MAX_THREADS): trio serves it all
        #: the thread had to wait for the server lock during its turn (the server is busy with
        #: other connections: a thread then costs more than it saves)
        self.contended = False

    def can_take(self) -> bool:
        """Whether the thread runs, started now if need be (the first turn)."""
        if self.started or self.refused:
            return self.started
        if not _reserve():
            self.refused = True
            return False
        if self.lock is None:
            self.lock = server_lock()
        self.sock.setblocking(True)  # the thread blocks in recv; every other IO is MSG_DONTWAIT
        try:
            self.thread.start()
        except RuntimeError as exc:  # (can't start new thread)
            log.warning("%s: connection %d: no reader thread: %s", self.d.name, self.d.cid, exc)
            _unreserve()
            self.refused = True
            return False
        self.started = True
        stats[self.d.name, "started"] += 1
        return True

    # ---- the trio side (the trio thread: the lock is held) --------------------------------
    def due(self) -> bool:
        """Whether the connection's trio task gives the thread the turn now: :data:`HANDOVER`
        calls in a row took the fast path (a connection that does not stream READs never
        wakes its thread: each turn costs two thread switches)."""
        return self.d.streak >= HANDOVER and self.can_take()

    async def give_turn(self) -> list[Any]:
        """A turn of the thread; the trio task's answer to what it handed back (buffers to
        send; what followed it is left buffered: ``d.more``)."""
        item = await self.take()
        d = self.d
        if self.contended:  # busy with others: trio's for a while
            self.contended = False
            d.streak = -BACKOFF
        else:
            d.streak = HANDOVER if item is _FLUSH else 0  # (only output waited: READs go on)
        out = _take(d, self.conn, item)
        self.conn.kick()  # output the thread left in the outbox
        return out

    async def take(self) -> Any:
        """Give the thread the turn; what it hands back with it, once it does."""
        holder = _holder()
        holder.turn_given()
        self.turn = _THREAD
        self.task = trio.lowlevel.current_task()
        self.go.set()

        def abort(_: Any) -> Any:  # cancelled: the connection ends, the thread answers nothing more
            self.task = None
            self.turn = _ENDED
            holder.turn_back()
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)
        holder.turn_back()
        item, self.item = self.item, None
        return item

    def _wake(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    def _exited(self) -> None:
        self.exited.set()

    async def stop(self) -> bool:
        """End the thread: True once it has (the socket may be closed), False if it did not
        within :data:`EXIT_WAIT`."""
        self.turn = _ENDED
        if not self.started:
            return True
        self.stopping = True
        self.go.set()
        try:
            self.sock.shutdown(socket.SHUT_RD)  # wakes a recv (the peer sees nothing of it)
        except OSError:
            pass
        with trio.CancelScope(shield=True), trio.move_on_after(EXIT_WAIT):
            await self.exited.wait()
        _unreserve()
        return self.exited.is_set()

    # ---- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        buffer = bytearray(RECEIVE_SIZE)
        view = memoryview(buffer)
        sock, lock, d = self.sock, self.lock, self.d
        assert lock is not None  # (can_take)
        try:
            while True:
                self.go.wait()
                self.go.clear()
                if self.stopping:
                    return
                more = False  # records are left from the last batch: no recv first
                while True:
                    if not more:
                        try:
                            n = sock.recv_into(buffer)
                        except OSError:
                            n = 0
                    if not lock.try_acquire():  # the server is busy with other work
                        self.contended = True
                        stats[d.name, "contended"] += 1
                        lock.acquire()
                    try:
                        if self.turn != _THREAD:  # the connection is ending
                            return
                        if not more:
                            d.conn.receive_data(view[:n] if n else b"")
                        item, more = self._batch()
                        if item is None and self.contended and not more:
                            item = _FLUSH  # give the turn back: trio serves it with the others
                        if item is not None:
                            self._hand(item)
                            break
                    finally:
                        lock.release()
        except BaseException:  # a bug: the trio task must not wait for a turn forever
            log.exception("%s: connection %d: the reader thread failed", d.name, d.cid)
            with lock:
                if self.turn == _THREAD:
                    self._hand(_BROKEN)
        finally:
            try:
                self.token.run_sync_soon(self._exited)
            except trio.RunFinishedError:
                pass

    def _hand(self, item: Any) -> None:
        """Hand the turn and ``item`` to the trio task (under the lock)."""
        self.turn = _TRIO
        self.item = item
        name = self.d.name
        stats[name, "handed"] += 1
        if item is _FLUSH:
            stats[name, "flushed"] += 1
        self.token.run_sync_soon(self._wake)

    def _batch(self) -> tuple[Any, bool]:
        """Answer buffered READs by the fast path, at most a slice of work (the lock is held
        that long).  Returns (what to hand to trio or None, whether records may be left)."""
        d, conn = self.d, self.conn
        out: list[Any] = []
        item: Any = None
        calls = size = 0
        more = False
        while True:
            if calls >= SLICE_CALLS or size >= SLICE_BYTES:
                more = True
                break
            try:
                event = d.conn.next_event(DECODE_INLINE)
            except ProtocolError as exc:
                item = exc
                break
            if event is NEED_DATA:
                break
            if isinstance(event, Expensive):
                item = event
                break
            bufs = d.answer_fast(event) if event.__class__ is Call else None
            if bufs is None:
                item = event
                break
            calls += 1
            out += bufs
            for b in bufs:
                size += len(b) if isinstance(b, bytes) else memoryview(b).nbytes
        if calls:
            stats[d.name, "answered"] += calls
        if out:
            if conn.closed:
                return _BROKEN, False
            if conn.tap is not None:
                conn.tap.sent(out)
            rest = out
            if not conn.pending:  # (output the trio side queued goes first)
                rest, failed = conn.send_some(out)
                if failed is not None:
                    return _BROKEN, False
            if rest:
                conn._queue.extend(rest)
                if item is None:
                    item = _FLUSH
        return item, more and item is None


def _take(d: Dispatcher, conn: Connection, item: Any) -> list[Any]:
    """The trio task's answer to what the thread handed over (then it resumes the rest)."""
    if item is _FLUSH:
        d.more = True
        return []
    if item is _BROKEN:
        conn.close()
        return []
    if isinstance(item, Expensive):
        d.expensive = item.record
        return []
    d.more = True  # what followed it is still buffered
    return d.answer_decoded(item)
