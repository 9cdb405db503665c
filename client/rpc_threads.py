"""The blocking API's fast path of :class:`~gfclient.rpc.RpcChannel`: calls made from
threads other than the channel's trio thread (see the "Calls from other threads" and "Who
reads the socket" parts of :mod:`gfclient.rpc`'s docstring).  A mixin: it works on the
channel's state under the channel's lock."""

from __future__ import annotations

import errno
import math
import threading
import time
from typing import Any

from fakegluster.proto.events import Call, Reply

from .errors import GlusterConnectionError
from .identity import Identity

__all__ = ["ThreadCallers"]


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


class ThreadCallers:
    """Methods of :class:`~gfclient.rpc.RpcChannel` for calls from other threads."""

    def _call_blocking(
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
        xid = self._submit(w, args, ident, payload, False)
        if not self._ping_started and self.ping_timeout > 0:
            # rpc_clnt_check_and_start_ping: the call was outstanding at submit time, so the
            # ping goes out even if its reply is already in when the trio thread gets to it
            self._ping_started = True
            self._in_trio(self._start_ping, True)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                with self._lock:
                    if w.done:
                        break
                    if w.promoted or (self._reader is None and not self._eof and self.close_reason is None):
                        w.promoted = False
                        self._reader = w
                        reading = True
                    else:
                        reading = False
                if reading:
                    self._read_for(w, deadline)
                    with self._lock:
                        if w.done:
                            break
                if deadline is None:
                    got = lock.acquire()
                else:
                    remaining = deadline - time.monotonic()
                    got = lock.acquire(True, remaining) if remaining > 0 else False
                with self._lock:
                    if got:
                        w.signalled = False
                    elif w.signalled:  # released under _lock, which we hold: no wait
                        lock.acquire()
                        w.signalled = False
                    if w.done or w.promoted:
                        continue
                    if deadline is not None and time.monotonic() >= deadline:
                        self._waiters.pop(xid, None)
                        raise self._bailed(w, xid)
        except BaseException:  # bailed out, KeyboardInterrupt...: forget the call
            with self._lock:
                self._waiters.pop(xid, None)
            self._leave_reader(w)  # if it was promoted meanwhile
            raise
        if w.error is not None:
            raise w.error
        assert w.reply is not None
        return w.reply

    def _read_for(self, w: _Waiter, deadline: float | None) -> None:
        """Read the socket in this thread until ``w`` is done, the deadline passes or the
        connection ends; then leave the reader role."""
        sock, poller, buf = self._sock, self._poller, self._tbuf
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
                with self._lock:
                    if w.done or self.close_reason is not None:
                        return
                    try:
                        if not ready:
                            raise BlockingIOError
                        n = sock.recv_into(buf)
                    except BlockingIOError:
                        n = -1
                    except OSError as exc:
                        n = -1
                        reason = GlusterConnectionError(errno.ENOTCONN, f"connection to {self.peer} lost: {exc}")
                    else:
                        if n:
                            self.last_received = self._now()
                        self._conn.receive_data(view[:n])
                        reason = self._drain(trio_done, callbacks)
                    if reason is not None:
                        self._eof = True
                    finished = w.done
                if trio_done:
                    self._in_trio(self._resume_all, trio_done)
                if callbacks:
                    self._in_trio(self._run_callbacks, callbacks)
                if reason is not None:
                    self._in_trio(self._shutdown, reason)
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
        with self._lock:
            if self._reader is not w:
                return
            self._reader = None
            if self._close_pending:
                self._close_pending = False
                self._sock.close()  # type: ignore[union-attr]
            elif self.close_reason is None and not self._eof:
                for other in self._waiters.values():
                    if other.lock is not None and other is not w:
                        self._reader = other
                        other.promoted = True
                        self._signal(other)
                        break
                else:
                    wake_trio = bool(self._waiters)
        if wake_trio:
            self._in_trio(self._wake_reader)

    def _wake_reader(self) -> None:
        self._reader_wake.set()
