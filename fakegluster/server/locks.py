"""The lock tables of a brick, as the features/locks translator keeps them (glusterfs v10.3
``xlators/features/locks/src``): a pure state machine, no IO and no clock of its own.

Three kinds of locks, each per inode:

* :class:`PosixLocks` — fcntl record locks (the LK FOP; ``common.c``: ``pl_setlk``,
  ``pl_getlk``, ``__insert_and_merge``, ``__grant_blocked_locks``).  A lock belongs to a
  (client, lk-owner) pair; one owner's locks merge and split by range; blocked requests
  wait in the inode's one list and are woken in list order.
* :class:`InodeLocks` — INODELK/FINODELK ranges in named domains (``inodelk.c``); an unlock
  must name exactly a granted range; blocked requests are granted in arrival order and a
  grantable request still waits behind a conflicting blocked one (starvation guard) unless
  its owner already holds a lock in the domain.
* :class:`EntryLocks` — ENTRYLK/FENTRYLK on a name (or all names) of a directory, per
  domain (``entrylk.c``); two locks on one name conflict whatever their types.

Waiting requests carry an opaque ``waiter`` the caller supplied; whatever changes the tables
returns :class:`Answer` values for the waiters it settled, in the order the real brick
unwinds them.  Contention (``notify-contention``) is returned as :class:`Contention` values:
granted inodelks a conflicting request ran into, at most once per ``delay`` seconds each.
"""

from __future__ import annotations

import dataclasses
import errno
import math
from collections.abc import Hashable
from typing import Any

__all__ = [
    "RDLCK",
    "WRLCK",
    "UNLCK",
    "LLONG_MAX",
    "Answer",
    "Contention",
    "PosixLock",
    "PosixLocks",
    "InodeLock",
    "InodeLocks",
    "Revocation",
    "EntryLock",
    "EntryLocks",
    "lock_end",
    "s64",
    "GRANTED",
    "BLOCKED",
    "EAGAIN",
]

RDLCK, WRLCK, UNLCK = 0, 1, 2  # Linux F_RDLCK, F_WRLCK, F_UNLCK (what gluster uses)
LLONG_MAX = (1 << 63) - 1
GRANTED, BLOCKED, EAGAIN = "granted", "blocked", "eagain"


def s64(n: int) -> int:
    """``n`` as C's int64_t (two's complement wrap)."""
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >> 63 else n


def lock_end(start: int, length: int) -> int:
    """The last byte of a lock: ``LLONG_MAX`` for length 0 ("to the end"), as C computes it."""
    return LLONG_MAX if length == 0 else s64(start + length - 1)


@dataclasses.dataclass
class Answer:
    """A deferred reply: ``waiter`` gets op_ret/op_errno (and, for LK, the flock ``lock``)."""

    waiter: Any
    op_ret: int
    op_errno: int
    lock: Any = None


@dataclasses.dataclass
class Contention:
    """``inodelk_contention_notify``: tell ``lock.client`` that someone waits for ``lock``."""

    lock: InodeLock


# ---- fcntl locks -----------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class PosixLock:
    """``posix_lock_t``: ``end`` is inclusive; ``fd`` is the open file the lock came through."""

    type: int
    start: int
    end: int
    client: Hashable
    owner: bytes
    pid: int = 0
    fd: Hashable = None
    lk_flags: int = 0
    blocked: bool = False
    waiter: Any = None

    @property
    def length(self) -> int:
        return 0 if self.end == LLONG_MAX else self.end - self.start + 1

    def overlaps(self, other: PosixLock) -> bool:
        return self.end >= other.start and other.end >= self.start

    def same_owner(self, other: PosixLock) -> bool:
        return self.owner == other.owner and self.client == other.client

    def copy(self, **changes: Any) -> PosixLock:
        return dataclasses.replace(self, **changes)


class PosixLocks:
    """One inode's fcntl locks: ``ext_list`` (granted and blocked, in list order)."""

    def __init__(self) -> None:
        self.locks: list[PosixLock] = []

    def __len__(self) -> int:
        return len(self.locks)

    def granted(self) -> list[PosixLock]:
        return [lk for lk in self.locks if not lk.blocked]

    def getlk(self, req: PosixLock) -> PosixLock:
        """``pl_getlk``: the first granted lock of another owner that conflicts, else ``req``
        itself turned into F_UNLCK."""
        for lk in self.locks:
            if lk.blocked or not lk.overlaps(req) or lk.same_owner(req):
                continue
            if WRLCK in (lk.type, req.type):
                return lk
        return req.copy(type=UNLCK)

    def grantable(self, req: PosixLock) -> bool:
        """``__is_lock_grantable``."""
        if req.type == UNLCK:
            return True
        return not any(
            not lk.blocked and lk.overlaps(req) and WRLCK in (lk.type, req.type) and not lk.same_owner(req)
            for lk in self.locks
        )

    def setlk(self, req: PosixLock, can_block: bool) -> tuple[str, list[Answer]]:
        """``pl_setlk``: (GRANTED | BLOCKED | EAGAIN, answers for woken waiters).

        A blocking request that must wait first gives up its owner's own locks on the range
        (``pl_send_prelock_unlock``, so an upgrade cannot deadlock), which may wake others."""
        answers: list[Answer] = []
        if can_block and not self.grantable(req):
            self._insert_and_merge(req.copy(type=UNLCK, waiter=None, blocked=False))
            answers += self._grant_blocked()
        if self.grantable(req):
            self._insert_and_merge(req.copy(waiter=None, blocked=False))
            status = GRANTED
        elif can_block:
            req.blocked = True
            self.locks.append(req)
            status = BLOCKED
        else:
            status = EAGAIN
        answers += self._grant_blocked()
        return status, answers

    def rw_allowed(self, region: PosixLock, read: bool, optimal: bool) -> bool:
        """``__rw_allowable`` (mandatory locking, not enforced): no granted lock of another
        owner overlaps the region (for a read, only write locks count; in "optimal" mode,
        only mandatory ones)."""
        for lk in self.locks:
            if lk.blocked or not lk.overlaps(region) or lk.same_owner(region):
                continue
            if read and lk.type != WRLCK:
                continue
            if optimal and not lk.lk_flags & 1:  # GF_LK_MANDATORY
                continue
            return False
        return True

    def holds_fd(self, fd: Hashable) -> bool:
        """``pl_locks_by_fd``: whether any lock (granted or blocked) came through ``fd``."""
        return any(lk.fd == fd for lk in self.locks)

    def release_fd(self, fd: Hashable) -> list[Answer]:
        """``delete_locks_of_fd`` (RELEASE, or FLUSH without an lk-owner): the fd's granted
        locks go, its blocked requests fail with EAGAIN, then waiters are retried."""
        answers = [Answer(lk.waiter, -1, errno.EAGAIN, lk) for lk in self.locks if lk.fd == fd and lk.blocked]
        self.locks = [lk for lk in self.locks if lk.fd != fd]
        return answers + self._grant_blocked()

    def flush_owner(self, client: Hashable, owner: bytes) -> list[Answer]:
        """``__delete_locks_of_owner`` (FLUSH): every granted lock of (client, owner) on the
        inode, whatever fd it came through; blocked requests stay."""
        self.locks = [lk for lk in self.locks if lk.blocked or lk.client != client or lk.owner != owner]
        return self._grant_blocked()

    def cancel(self, waiter: Any) -> list[Answer]:
        """Forget a blocked request (its connection is gone), then retry the others."""
        self.locks = [lk for lk in self.locks if not (lk.blocked and lk.waiter is waiter)]
        return self._grant_blocked()

    # -- the list algebra of common.c -----------------------------------------------------
    def _insert_and_merge(self, lock: PosixLock) -> None:
        for conf in list(self.locks):
            if conf.blocked or not conf.overlaps(lock):
                continue
            if conf.same_owner(lock):
                self.locks.remove(conf)
                if conf.type == lock.type and conf.lk_flags == lock.lk_flags:
                    self._insert_and_merge(lock.copy(start=min(lock.start, conf.start), end=max(lock.end, conf.end)))
                    return
                whole = conf.copy(start=min(lock.start, conf.start), end=max(lock.end, conf.end))
                for piece in _subtract(whole, lock):
                    self._insert_and_merge(piece)
                self.locks = [lk for lk in self.locks if lk.type != UNLCK]
                return
            if lock.type == UNLCK:
                continue
            if conf.type == RDLCK and lock.type == RDLCK:
                self.locks.append(lock)
                return
        if lock.type != UNLCK:
            self.locks.append(lock)

    def _grant_blocked(self) -> list[Answer]:
        """``__grant_blocked_locks``: waiters no granted lock overlaps are retried in list
        order; each one granted is answered with its own range."""
        ready = []
        for lk in list(self.locks):
            if lk.blocked and not any(not g.blocked and g.overlaps(lk) for g in self.locks):
                self.locks.remove(lk)
                lk.blocked = False
                ready.append(lk)
        answers = []
        for lk in ready:
            if self.grantable(lk):
                answers.append(Answer(lk.waiter, 0, 0, lk.copy()))
                self._insert_and_merge(lk.copy(waiter=None))
            else:
                lk.blocked = True
                self.locks.append(lk)
        return answers


def _subtract(big: PosixLock, small: PosixLock) -> list[PosixLock]:
    """``subtract_locks``: ``big`` (which contains ``small``) minus ``small``, plus ``small``."""
    if big.start == small.start and big.end == small.end:
        return [big.copy(type=small.type)]
    if small.start > big.start and small.end < big.end:
        return [big.copy(end=small.start - 1), small.copy(), big.copy(start=small.end + 1)]
    if small.start == big.start:
        return [big.copy(start=small.end + 1), small.copy()]
    return [big.copy(end=small.start - 1), small.copy()]


# ---- inodelk --------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class InodeLock:
    """``pl_inode_lock_t``; ``flock`` is the request's (start, len) as the client sent it,
    ``flock_pid``/``flock_owner`` its flock's pid and owner (``user_flock``, what a
    contention upcall reports); ``pid`` is the caller's (``client_pid``)."""

    type: int
    start: int
    end: int
    client: Hashable
    owner: bytes
    domain: str
    pid: int = 0
    flock: tuple[int, int] = (0, 0)
    waiter: Any = None
    contention_time: float | None = None
    flock_pid: int = 0
    flock_owner: bytes = b""
    granted_time: float = 0.0

    def conflicts(self, other: InodeLock) -> bool:
        return self.end >= other.start and other.end >= self.start and WRLCK in (self.type, other.type)

    def same_owner(self, other: InodeLock | EntryLock) -> bool:
        return self.owner == other.owner and self.client == other.client


@dataclasses.dataclass(frozen=True)
class Revocation:
    """features/locks ``revocation-secs``, ``revocation-max-blocked``, ``revocation-clear-all``
    (``features.locks-revocation-*``)."""

    secs: int = 0
    max_blocked: int = 0
    clear_all: bool = False

    def old(self, granted: float, now: float) -> bool:
        """``gf_time() - granted_time > revocation_secs``, in whole seconds."""
        return math.floor(now) - math.floor(granted) > self.secs


class _Domain:
    __slots__ = ("granted", "blocked")

    def __init__(self) -> None:
        self.granted: list[Any] = []  # newest first (list_add)
        self.blocked: list[Any] = []  # oldest first (list_add_tail)


class InodeLocks:
    """One inode's inodelks, per domain (``pl_dom_list_t``).

    Args:
        notify_delay: ``notify-contention-delay`` seconds; None when ``notify-contention``
            is off.
    """

    def __init__(self, notify_delay: float | None = 5.0) -> None:
        self.domains: dict[str, _Domain] = {}
        self.notify_delay = notify_delay
        #: PL_INODE_REMOVE: removes held for other clients' locks (client, token), oldest
        #: first (``pl_inode->waiting``); a remove running (``remove_running``); either
        #: makes new inodelks of clients holding none wait (``is_locked``)
        self.removes: list[tuple[Hashable, Any]] = []
        self.removing = 0
        self.remove_locked = False

    def count(self, domain: str | None = None) -> int:
        """``__get_inodelk_count``: granted and blocked, in one domain or all."""
        doms = self.domains.values() if domain is None else [self.domains.get(domain, _Domain())]
        return sum(len(d.granted) + len(d.blocked) for d in doms)

    def lock(self, req: InodeLock, can_block: bool, now: float) -> tuple[str, list[Contention]]:
        dom = self.domains.setdefault(req.domain, _Domain())
        contention: list[Contention] = []
        status = self._lock(dom, req, can_block, now, contention)
        return status, contention

    def unlock(self, req: InodeLock, now: float) -> tuple[bool, list[Answer], list[Contention]]:
        """``__inode_unlock_lock``: the owner's granted lock with exactly this range goes
        (False: none, EINVAL); then the domain's waiters are retried."""
        dom = self.domains.setdefault(req.domain, _Domain())
        for lk in dom.granted:
            if lk.start == req.start and lk.end == req.end and lk.same_owner(req):
                dom.granted.remove(lk)
                break
        else:
            return False, [], []
        contention: list[Contention] = []
        return True, self._grant_blocked(dom, now, contention), contention

    # ---- PL_INODE_REMOVE (common.c) -----------------------------------------------------
    def owners_besides(self, client: Hashable) -> list[InodeLock]:
        """``pl_inode_has_owners``: granted locks of other clients, every domain (those of
        internal clients, pid < 0, left out)."""
        return [lk for d in self.domains.values() for lk in d.granted if lk.client != client and lk.pid >= 0]

    def prepare_remove(self, client: Hashable, token: Any, now: float) -> tuple[bool, list[Contention]]:
        """``pl_inode_remove_prepare``: True: the remove may run now (call :meth:`removed`
        once it did); False: ``token`` waits for the other clients' locks, whose holders
        are notified (``notify-contention``)."""
        owners = self.owners_besides(client)
        self.remove_locked = True
        if owners:
            contention: list[Contention] = []
            for lk in owners:
                self._contend(lk, now, contention)
            self.removes.append((client, token))
            return False, contention
        self.removing += 1
        return True, []

    def removed(self, now: float) -> tuple[list[Answer], list[Contention]]:
        """``pl_inode_remove_cbk``: the last remove done and none waiting, the inodelks
        that waited for it are granted."""
        self.removing -= 1
        answers: list[Answer] = []
        contention: list[Contention] = []
        if self.removing == 0 and not self.removes:
            self.remove_locked = False
            for dom in self.domains.values():
                answers += self._grant_blocked(dom, now, contention)
        return answers, contention

    def ready_removes(self) -> list[Any]:
        """``pl_inode_remove_unlocked`` (after an unlock; a disconnect's cleanup does not
        look): the tokens of held removes no other client's lock holds any more."""
        if not self.remove_locked:
            return []
        ready = [(c, t) for c, t in self.removes if not self.owners_besides(c)]
        self.removes = [r for r in self.removes if r not in ready]
        return [t for _, t in ready]

    def _remove_blocks(self, req: InodeLock) -> bool:
        """``pl_inode_remove_inodelk``: a user lock waits while a remove runs or waits,
        unless its client already holds a lock on the inode."""
        if req.pid < 0 or not self.remove_locked:
            return False
        if self.removing > 0:
            return True
        return not any(lk.client == req.client for d in self.domains.values() for lk in d.granted)

    def cleanup(self, client: Hashable, now: float) -> tuple[list[Answer], list[Contention]]:
        """``pl_inodelk_client_cleanup``: the client's locks go, its waiters get EAGAIN."""
        answers: list[Answer] = []
        contention: list[Contention] = []
        for dom in self.domains.values():
            gone = [lk for lk in dom.blocked if lk.client == client]
            answers += [Answer(lk.waiter, -1, errno.EAGAIN) for lk in gone]
            dom.blocked = [lk for lk in dom.blocked if lk.client != client]
            dom.granted = [lk for lk in dom.granted if lk.client != client]
        for dom in self.domains.values():
            answers += self._grant_blocked(dom, now, contention)
        return answers, contention

    def cancel(self, waiter: Any, now: float) -> list[Answer]:
        for dom in self.domains.values():
            dom.blocked = [lk for lk in dom.blocked if lk.waiter is not waiter]
        return [a for dom in self.domains.values() for a in self._grant_blocked(dom, now, [])]

    def _lock(self, dom: _Domain, req: InodeLock, can_block: bool, now: float, contention: list[Contention]) -> str:
        """``__lock_inodelk``."""
        if self._remove_blocks(req):
            if can_block:
                dom.blocked.append(req)
                return BLOCKED
            return EAGAIN
        conflict = False
        for lk in dom.granted:
            if lk.conflicts(req) and not lk.same_owner(req):
                conflict = True
                self._contend(lk, now, contention)
        if not conflict and any(b.conflicts(req) for b in dom.blocked):
            owner_has = any(lk.same_owner(req) for lk in dom.granted + dom.blocked)
            conflict = not owner_has
        if conflict:
            if can_block:
                dom.blocked.append(req)
                return BLOCKED
            return EAGAIN
        req.granted_time = now
        dom.granted.insert(0, req)
        return GRANTED

    def prune_stale(self, req: InodeLock, now: float, revoke: Revocation) -> tuple[list[Answer], list[Contention]]:
        """``__inodelk_prune_stale`` (a lock request with ``revocation-secs`` set): when a
        granted lock of the domain that conflicts with ``req`` (whoever owns it) is older
        than ``secs``, or ``max_blocked`` requests wait in the domain, the domain's granted
        locks go (and with ``clear_all`` its waiters, EAGAIN; ``clrlk_clear_inodelk``),
        then its waiters are retried."""
        dom = self.domains.get(req.domain)
        if dom is None or not dom.granted:
            return [], []
        stale = any(lk.conflicts(req) and revoke.old(lk.granted_time, now) for lk in dom.granted)
        if not stale and not (revoke.max_blocked and len(dom.blocked) >= revoke.max_blocked):
            return [], []
        answers: list[Answer] = []
        if revoke.clear_all:
            answers += [Answer(lk.waiter, -1, errno.EAGAIN) for lk in reversed(dom.blocked)]
            dom.blocked = []
        dom.granted = []
        contention: list[Contention] = []
        return answers + self._grant_blocked(dom, now, contention), contention

    def _grant_blocked(self, dom: _Domain, now: float, contention: list[Contention]) -> list[Answer]:
        waiting, dom.blocked = dom.blocked, []
        answers = []
        for lk in waiting:
            if self._lock(dom, lk, True, now, contention) == GRANTED:
                answers.append(Answer(lk.waiter, 0, 0))
        return answers

    def _contend(self, lk: InodeLock, now: float, contention: list[Contention]) -> None:
        """``inodelk_contention_notify_check``: once per ``notify_delay`` per lock."""
        if self.notify_delay is None:
            return
        if lk.contention_time is not None and now - lk.contention_time < self.notify_delay:
            return
        if any(c.lock is lk for c in contention):
            return
        lk.contention_time = now
        contention.append(Contention(lk))


# ---- entrylk --------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class EntryLock:
    """``pl_entry_lock_t``: ``name`` None locks every name of the directory."""

    type: int
    name: str | None
    client: Hashable
    owner: bytes
    domain: str
    pid: int = 0
    waiter: Any = None
    granted_time: float = 0.0

    def names_conflict(self, other: EntryLock) -> bool:
        return self.name is None or other.name is None or self.name == other.name

    def same_owner(self, other: EntryLock) -> bool:
        return self.owner == other.owner and self.client == other.client


class EntryLocks:
    """One directory's entry locks, per domain.  (A 10.3 brick never sends entrylk
    contention upcalls: ``new_entrylk_lock`` leaves the lock's contend list head unset, so
    ``entrylk_contention_notify_check`` always returns early.)"""

    def __init__(self) -> None:
        self.domains: dict[str, _Domain] = {}

    def count(self) -> int:
        """``get_entrylk_count``: granted and blocked, every domain."""
        return sum(len(d.granted) + len(d.blocked) for d in self.domains.values())

    def has_name_lock(self, name: str) -> bool:
        """``check_entrylk_on_basename``: a granted lock on exactly ``name`` (an all-names
        lock does not count) in some domain."""
        for dom in self.domains.values():
            exact = [lk for lk in dom.granted if lk.name is not None and lk.name == name]
            if exact:
                return True
        return False

    def lock(self, req: EntryLock, can_block: bool, now: float = 0.0) -> str:
        return self._lock(self.domains.setdefault(req.domain, _Domain()), req, can_block, now)

    def prune_stale(self, req: EntryLock, now: float, revoke: Revocation) -> list[Answer]:
        """``__entrylk_prune_stale``: :meth:`InodeLocks.prune_stale` for entry locks (a
        granted lock on a conflicting name, whatever its type or owner)."""
        dom = self.domains.get(req.domain)
        if dom is None or not dom.granted:
            return []
        stale = any(lk.names_conflict(req) and revoke.old(lk.granted_time, now) for lk in dom.granted)
        if not stale and not (revoke.max_blocked and len(dom.blocked) >= revoke.max_blocked):
            return []
        answers: list[Answer] = []
        if revoke.clear_all:
            answers += [Answer(lk.waiter, -1, errno.EAGAIN) for lk in reversed(dom.blocked)]
            dom.blocked = []
        dom.granted = []
        return answers + self._grant_blocked(dom, now)

    def unlock(self, req: EntryLock, now: float = 0.0) -> tuple[bool, list[Answer]]:
        """``__unlock_entrylk``: the owner's granted lock on the same name with the same type."""
        dom = self.domains.setdefault(req.domain, _Domain())
        for lk in dom.granted:
            if lk.name == req.name and lk.same_owner(req) and lk.type == req.type:
                dom.granted.remove(lk)
                break
        else:
            return False, []
        return True, self._grant_blocked(dom, now)

    def cleanup(self, client: Hashable, now: float = 0.0) -> list[Answer]:
        answers: list[Answer] = []
        for dom in self.domains.values():
            answers += [Answer(lk.waiter, -1, errno.EAGAIN) for lk in dom.blocked if lk.client == client]
            dom.blocked = [lk for lk in dom.blocked if lk.client != client]
            dom.granted = [lk for lk in dom.granted if lk.client != client]
        for dom in self.domains.values():
            answers += self._grant_blocked(dom, now)
        return answers

    def cancel(self, waiter: Any, now: float = 0.0) -> list[Answer]:
        for dom in self.domains.values():
            dom.blocked = [lk for lk in dom.blocked if lk.waiter is not waiter]
        return [a for dom in self.domains.values() for a in self._grant_blocked(dom, now)]

    def _lock(self, dom: _Domain, req: EntryLock, can_block: bool, now: float = 0.0) -> str:
        """``__lock_entrylk``."""
        conflict = any(lk.names_conflict(req) and not lk.same_owner(req) for lk in dom.granted)
        if not conflict and any(b.names_conflict(req) for b in dom.blocked):
            conflict = not any(lk.same_owner(req) for lk in dom.granted + dom.blocked)
        if conflict:
            if can_block:
                dom.blocked.append(req)
                return BLOCKED
            return EAGAIN
        req.granted_time = now
        dom.granted.insert(0, req)
        return GRANTED

    def _grant_blocked(self, dom: _Domain, now: float = 0.0) -> list[Answer]:
        waiting, dom.blocked = dom.blocked, []
        return [Answer(lk.waiter, 0, 0) for lk in waiting if self._lock(dom, lk, True, now) == GRANTED]
