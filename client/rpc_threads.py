"""The blocking API's fast path of :class:`~gfclient.rpc.RpcChannel`: calls made from
threads other than the channel's trio thread, as an object the channel owns
(:attr:`RpcChannel.threads`).

Calls from other threads (the blocking API's fast path): :meth:`RpcChannel.call` is
thread-safe.  Awaited in a thread that is not the channel's trio thread -- the blocking API
drives the coroutine itself, see :func:`gfclient.sync.run_inline` -- it never suspends: it
registers the call and sends it from the calling thread, then blocks that thread until its
reply is in.  One lock guards what the threads share (the sans-IO connection, the pending
calls, the output queue, who reads): a single xid sequence, a single table of pending calls
and one ping / frame-timeout / close logic for both kinds of callers.

Who reads the socket (the *reader role*): normally the trio receive task, which hands a
thread its reply by releasing the lock the thread blocks on -- a second thread wake-up per
call on top of the kernel's.  So when the calls the receive task answered were all
threads' and none is left, it stands by and lets the next calling thread read (``poll`` +
``recv_into``) and decode its own reply: one wake-up per call, as in a blocking client.  A
thread that leaves the role passes it to another waiting thread, or back to the receive
task when trio tasks wait for replies (their replies read by a thread go to the trio thread
through ``run_sync_soon``); a trio call made while nobody reads wakes the receive task, and
so does ``standby`` seconds (:data:`gfclient.rpc.STANDBY` by default) without a reader, so that the end of
a connection that went idle is noticed within that time.  Only sockets get a reader role;
other streams are always read by the task.

It works on the state the channel shares between its trio thread and calling threads,
always under ``channel.lock``: the sans-IO ``conn`` and its ``drain``, the pending
``waiters``, the socket (``sock``, ``poller``, ``thread_buffer``), who reads it
(``reader``, ``eof``, ``close_pending``, ``reader_wake``), and hands results to the trio
thread with ``to_trio`` (``resume_all``, ``run_callbacks``, ``shutdown``).  Those are the
channel's interface for this class, and nothing else touches them from other threads.
"""

from __future__ import annotations

import errno
import math
import threading
import time
from typing import TYPE_CHECKING, Any

from fakegluster.proto.events import Call, Reply

from .errors import GlusterConnectionError
from .identity import Identity

if TYPE_CHECKING:
    from .rpc import RpcChannel

__all__ = ["ThreadCalls"]


class _Waiter:
    """One call waiting for its reply: a parked trio task, or a blocked thread.

    A thread waiter blocks on ``lock`` (held from the start); :meth:`RpcChannel._signal`
    releases it, under the channel lock and at most once until the thread takes it back, to
    say "look at your state": ``done`` (``reply``/``error`` set) or ``promoted`` (you read
    the socket now).
    """

    __slots__ = (
        "prog",
        "vers",
        "proc",
        "task",
        "lock",
        "signalled",
        "done",
        "promoted",
        "reply",
        "error",
        "deadline",
        "timeout",
    )

    def __init__(self, prog: int, vers: int, proc: int) -> None:
        self.prog, self.vers, self.proc = prog, vers, proc
        self.task: Any = None
        self.lock: threading.Lock | None = None
        self.signalled = False
        self.done = False
        self.promoted = False
        self.reply: Reply | None = None
        self.error: BaseException | None = None
        self.deadline = math.inf
        self.timeout = 0.0


class ThreadCalls:
    """Calls of one :class:`~gfclient.rpc.RpcChannel` from other threads."""

    def __init__(self, channel: RpcChannel) -> None:
        self.ch = channel

    def call_blocking(
        self,
        prog: int,
        vers: int,
        proc: int,
        args: Any,
        ident: Identity,
        payload: bytes | memoryview,
        timeout: float | None,
    ) -> Reply:
        """:meth:`call` from another thread: send from here, then block until the reply.

        The reply is read by whoever holds the reader role: the trio receive task, which
        hands it over (a thread wake-up), or -- when nobody reads -- this thread itself,
        which then needs no wake-up at all.  A thread that leaves the role passes it to
        another waiting thread, or back to the trio task if trio calls are waiting.
        """
        w = _Waiter(prog, vers, proc)
        w.lock = lock = threading.Lock()
        w.timeout = 0.0 if timeout is None else timeout
        lock.acquire()
        xid = self.ch.submit(w, args, ident, payload, False)
        if self.ch.pinger.submitted_elsewhere():
            self.ch.to_trio(self.ch.pinger.start_soon)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with self.ch.lock:
                    if w.done:
                        break
                    if w.promoted or (self.ch.reader is None and not self.ch.eof and self.ch.close_reason is None):
                        w.promoted = False
                        self.ch.reader = w
                        reading = True
                    else:
                        reading = False
                if reading:
                    self._read_for(w, deadline)
                    with self.ch.lock:
                        if w.done:
                            break
                if deadline is None:
                    got = lock.acquire()
                else:
                    remaining = deadline - time.monotonic()
                    got = lock.acquire(True, remaining) if remaining > 0 else False
                with self.ch.lock:
                    if got:
                        w.signalled = False
                    elif w.signalled:  # released under _lock, which we hold: no wait
                        lock.acquire()
                        w.signalled = False
                    if w.done or w.promoted:
                        continue
                    if deadline is not None and time.monotonic() >= deadline:
                        self.ch.waiters.pop(xid, None)
                        raise self.ch.frame_timeout.error(w, xid)
        except BaseException:  # bailed out, KeyboardInterrupt...: forget the call
            with self.ch.lock:
                self.ch.waiters.pop(xid, None)
            self._leave_reader(w)  # if it was promoted meanwhile
            raise
        if w.error is not None:
            raise w.error
        assert w.reply is not None
        return w.reply

    def _read_for(self, w: _Waiter, deadline: float | None) -> None:
        """Read the socket in this thread until ``w`` is done, the deadline passes or the
        connection ends; then leave the reader role."""
        sock, poller, buf = self.ch.sock, self.ch.poller, self.ch.thread_buffer
        assert sock is not None and buf is not None
        view = memoryview(buf)
        # the reply cannot be in yet (the call was just sent, and whoever read before us
        # decoded every complete record it had): wait before the first read
        ready = False
        try:
            while True:
                trio_done: list[tuple[_Waiter, Reply | None, BaseException | None]] = []
                callbacks: list[Call] = []
                reason: GlusterConnectionError | None = None
                with self.ch.lock:
                    if w.done or self.ch.close_reason is not None:
                        return
                    try:
                        if not ready:
                            raise BlockingIOError
                        n = sock.recv_into(buf)
                    except BlockingIOError:
                        n = -1
                    except OSError as exc:
                        n = -1
                        reason = GlusterConnectionError(errno.ENOTCONN, f"connection to {self.ch.peer} lost: {exc}")
                    else:
                        if n:
                            self.ch.last_received = self.ch.now()
                        self.ch.conn.receive_data(view[:n])
                        reason = self.ch.drain(trio_done, callbacks)
                    if reason is not None:
                        self.ch.eof = True
                    finished = w.done
                if trio_done:
                    self.ch.to_trio(self.ch.resume_all, trio_done)
                if callbacks:
                    self.ch.to_trio(self.ch.run_callbacks, callbacks)
                if reason is not None:
                    self.ch.to_trio(self.ch.shutdown, reason)
                    return
                if finished:
                    return
                if n < 0:
                    wait = 1.0
                    if deadline is not None:
                        wait = min(wait, deadline - time.monotonic())
                        if wait <= 0:
                            return
                    ready = bool(poller.poll(wait * 1000))
        finally:
            self._leave_reader(w)

    def _leave_reader(self, w: _Waiter) -> None:
        """``w``'s thread stops reading: pass the role on (another waiting thread first,
        else the trio receive task if trio calls wait; else nobody until the next call)."""
        wake_trio = False
        with self.ch.lock:
            if self.ch.reader is not w:
                return
            self.ch.reader = None
            if self.ch.close_pending:
                self.ch.close_pending = False
                self.ch.sock.close()  # type: ignore[union-attr]
            elif self.ch.close_reason is None and not self.ch.eof:
                for other in self.ch.waiters.values():
                    if other.lock is not None and other is not w:
                        self.ch.reader = other
                        other.promoted = True
                        self.ch.signal(other)
                        break
                else:
                    wake_trio = bool(self.ch.waiters)
        if wake_trio:
            self.ch.to_trio(self._wake_reader)

    def _wake_reader(self) -> None:
        self.ch.reader_wake.set()
