"""Reservation locks of features/locks (glusterfs v10.3 ``xlators/features/locks/src/
reservelk.c``, driven by ``pl_lk`` in ``posix.c``): LK cmds 3-6 (GF_LK_RESLK_LCK,
GF_LK_RESLK_LCKW, GF_LK_RESLK_UNLCK, GF_LK_GETLK_FD), a pure state machine like
:mod:`.locks`.

What a 10.3 brick does, read off one (tests/server/test_brick_semantics.py asserts it on fake and
real alike) and explained by the source:

* A reservation is a byte range.  Two reservations conflict only when their boundaries are
  *equal* (``reservelks_equal``), whatever their owners: the same owner reserving the same range
  twice gets EAGAIN, an overlapping but different range is granted.  RESLK_LCKW waits instead.
* A reservation is answered like F_GETLK (``pl_getlk``): the first posix lock of another owner in
  the way, else the request turned into F_UNLCK.  It does not care about posix locks otherwise.
* RESLK_UNLCK removes the reservation with equal boundaries, *whoever* made it (EINVAL when there
  is none).  Reservations survive their fd and their client (nothing cleans them up).
* ``pl_verify_reservelk`` runs before every F_SETLK/F_SETLKW (and GETLK_FD): with no reservation on
  the inode the lock goes on; a reservation with equal boundaries and the same lk-owner is
  *consumed* and the lock goes on; anything else — a reservation of another owner, or (because
  ``__matching_reservelk`` returns the list head when nothing matches) any reservation at all on
  another range, even the caller's own — queues the call on ``blocked_calls``.
* Nothing ever retries ``blocked_calls`` (``__grant_blocked_lock_calls`` splices
  ``blocked_reservelks`` instead): a queued F_SETLK is never answered, even a non-blocking one.
  What that splice does do, when some call is queued: the RESLK_LCKW waiters still blocked after an
  unreserve are re-verified as if they were F_SETLKs (a conflict moves them to ``blocked_calls``
  for good; otherwise they become posix locks, never answered when granted, EAGAIN when not).
* GETLK_FD walks the locks held through the fd (``pl_getlk_fd``): a per-fd copy of them is handed
  out one per call, and made again when used up; with none the request comes back as it was.

Not imitated: after a RESLK_LCKW waiter is granted, a 10.3 brick leaves that lock linked into a
list on the unwinding thread's stack (``__grant_blocked_reserve_locks`` adds it to both lists),
so later reservations on that inode read freed memory; the fake keeps a consistent list.
"""

from __future__ import annotations

import errno
from collections.abc import Hashable

from .locks import BLOCKED, EAGAIN, GRANTED, Answer, PosixLock, PosixLocks

__all__ = ["Reservations"]


class Reservations:
    """One inode's reservations (``reservelk_list``, newest first), RESLK_LCKW waiters
    (``blocked_reservelks``), how many calls sit on ``blocked_calls`` (never answered), and the
    GETLK_FD cursors of its fds (``pl_fdctx_t``)."""

    def __init__(self) -> None:
        self.held: list[PosixLock] = []
        self.blocked: list[PosixLock] = []
        self.dead_calls = 0
        self.cursors: dict[Hashable, list[PosixLock]] = {}

    def busy(self) -> bool:
        return bool(self.held or self.blocked or self.dead_calls or self.cursors)

    def _equal(self, lock: PosixLock) -> PosixLock | None:
        for r in self.held:
            if r.start == lock.start and r.end == lock.end:
                return r
        return None

    def reserve(self, req: PosixLock, can_block: bool) -> str:
        """``__lock_reservelk``: GRANTED, BLOCKED (``req`` waits, RESLK_LCKW) or EAGAIN."""
        if self._equal(req) is not None:
            if not can_block:
                return EAGAIN
            self.blocked.append(req)
            return BLOCKED
        self.held.insert(0, req.copy(waiter=None))
        return GRANTED

    def verify(self, req: PosixLock) -> bool:
        """``pl_verify_reservelk``: whether an F_SETLK(W)/GETLK_FD may go on; when not, the call
        is queued for good (its caller never hears back)."""
        if not self.held:
            return True
        conf = self._equal(req)
        if conf is not None and conf.owner == req.owner:  # is_same_lkowner: the client does not count
            self.held.remove(conf)
            return True
        self.dead_calls += 1
        return False

    def unreserve(self, req: PosixLock, posix: PosixLocks) -> tuple[bool, list[Answer]]:
        """``pl_reserve_unlock``: (found, answers).  The waiters are retried either way."""
        conf = self._equal(req)
        if conf is not None:
            self.held.remove(conf)
        answers = self._grant_reservations()
        return conf is not None, answers + self._grant_calls(posix)

    def getlk_fd(self, fd: Hashable, posix: PosixLocks) -> PosixLock | None:
        """``pl_getlk_fd``: the next lock held through ``fd`` (None: the fd holds none)."""
        if not posix.holds_fd(fd):
            return None
        cursor = self.cursors.get(fd)
        if not cursor:
            cursor = self.cursors[fd] = [lk.copy(waiter=None) for lk in posix.locks if lk.fd == fd]
        lock = cursor.pop(0)
        if not cursor:
            del self.cursors[fd]
        return lock

    def forget_fd(self, fd: Hashable) -> None:
        self.cursors.pop(fd, None)

    def _grant_reservations(self) -> list[Answer]:
        """``__grant_blocked_reserve_locks``: each waiter tries again in order; the granted are
        answered (with their own request) in reverse order (``list_add`` onto ``granted``)."""
        waiting, self.blocked = self.blocked, []
        answers: list[Answer] = []
        for bl in waiting:
            if self.reserve(bl, True) == GRANTED:
                answers.insert(0, Answer(bl.waiter, 0, 0, bl))
        return answers

    def _grant_calls(self, posix: PosixLocks) -> list[Answer]:
        """``grant_blocked_lock_calls`` as 10.3 has it (see the module docstring)."""
        if not self.dead_calls:
            return []
        waiting, self.blocked = self.blocked, []
        ready = [bl for bl in waiting if self.verify(bl)]
        answers: list[Answer] = []
        for bl in ready:
            status, woken = posix.setlk(bl.copy(waiter=None, blocked=False), False)
            answers += woken
            if status == EAGAIN:
                answers.append(Answer(bl.waiter, -1, errno.EAGAIN, None))
        return answers
