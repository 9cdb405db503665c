"""features/leases (glusterfs v10.3 ``xlators/features/leases/src``): one inode's leases as a
pure state machine, plus the conflict rules the brick applies to other FOPs.

A lease belongs to a lease id (16 bytes the client picks; all zeros is EINVAL) and is a
read (1) or read-write (2) lease, counted per id and type (``lease_id_entry_t``).  A lease is
granted unless a recall is under way or blocked FOPs are being resumed, or it conflicts with
the open fds of other lease ids (a read lease with one open for writing, a read-write lease
with any) or with other ids' leases (a read-write lease with any, a read lease with a
read-write one).  Refused, it recalls the existing leases: every holder gets RECALL_LEASE, and
``features.lease-lock-recall-timeout`` seconds later whatever was not returned is revoked.
A FOP of another lease id (or none) that conflicts waits (or fails with EAGAIN when its fd
is non-blocking) and recalls too; it runs when the last lease goes (``do_blocked_fops``).
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Hashable
from typing import Any

__all__ = ["LeaseState", "RD_LEASE", "RW_LEASE", "GET_LEASE", "SET_LEASE", "UNLK_LEASE", "NULL_ID", "lease_flags"]

RD_LEASE, RW_LEASE = 1, 2
GET_LEASE, SET_LEASE, UNLK_LEASE = 1, 2, 3
NULL_ID = bytes(16)
DATA_MODIFY, BLOCKING = 0x1, 0x2
O_WRONLY, O_RDWR, O_NONBLOCK = 0o1, 0o2, 0o4000
#: FOPs that modify data (GET_FLAGS)
_MODIFY = frozenset(
    {
        "UNLINK",
        "RENAME",
        "TRUNCATE",
        "FTRUNCATE",
        "FLUSH",
        "FSYNC",
        "WRITE",
        "FALLOCATE",
        "DISCARD",
        "ZEROFILL",
        "SETATTR",
        "FSETATTR",
        "LINK",
    }
)


def same_id(k1: bytes | None, k2: bytes | None) -> bool:
    """``__is_same_lease_id``: ``memcmp(k1, k2, strlen(k1))`` — an id is compared up to its
    first NUL, so an all-zero id (an fd opened without one) matches every id."""
    a, b = k1 or b"", k2 or b""
    n = a.find(b"\0")
    n = len(a) if n < 0 else n
    return a[:n] == b[:n]


def lease_flags(fop: str, fd_flags: int, lk: tuple[int, int] | None = None) -> int:
    """``GET_FLAGS`` / ``GET_FLAGS_LK``: DATA_MODIFY and BLOCKING bits of a FOP."""
    flags = 0
    if lk is not None:
        cmd, type_ = lk
        if cmd in (1, 2) and type_ == 1:  # SETLK/SETLKW of a write lock
            flags |= DATA_MODIFY
        if fd_flags & O_NONBLOCK and cmd == 2:
            flags |= BLOCKING
        return flags
    if (fop == "OPEN" and fd_flags & (O_WRONLY | O_RDWR)) or fop in _MODIFY:
        flags |= DATA_MODIFY
    if not fd_flags & O_NONBLOCK:
        flags |= BLOCKING
    return flags


@dataclasses.dataclass
class _Entry:
    client: Hashable
    counts: dict[int, int] = dataclasses.field(default_factory=lambda: {RD_LEASE: 0, RW_LEASE: 0})

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @property
    def type(self) -> int:
        return (RD_LEASE if self.counts[RD_LEASE] else 0) | (RW_LEASE if self.counts[RW_LEASE] else 0)


class LeaseState:
    """One inode's leases (``lease_inode_ctx_t``)."""

    def __init__(self) -> None:
        self.entries: dict[bytes, _Entry] = {}
        self.recalling = False
        self.generation = 0  # bumped at each recall, so a stale revocation timer does nothing
        self.blocked: list[Any] = []  # FOPs waiting for the leases to go, oldest first

    @property
    def count(self) -> int:
        return sum(e.count for e in self.entries.values())

    @property
    def type(self) -> int:
        t = 0
        for e in self.entries.values():
            t |= e.type
        return t

    def holders(self) -> list[Hashable]:
        """The clients to recall from (one per lease id, as ``__recall_lease`` loops)."""
        return [e.client for e in self.entries.values()]

    def _others(self, lease_id: bytes) -> bool:
        """``__another_lease_found``."""
        return any(not same_id(lease_id, i) and e.count for i, e in self.entries.items())

    def _entry(self, lease_id: bytes) -> _Entry | None:
        """``__get_lease_id_entry``."""
        return next((e for i, e in self.entries.items() if same_id(lease_id, i)), None)

    def grantable(self, lease_id: bytes, type_: int, fds: list[tuple[bytes | None, int]]) -> bool:
        """``__is_lease_grantable``; ``fds``: (lease id, flags) of the inode's open fds (None:
        an fd the leases translator does not know, which forbids every lease)."""
        if self.recalling or self.blocked:
            return False
        if any(lid is None for lid, _ in fds):
            return False
        others = [flags for lid, flags in fds if not same_id(lid, lease_id)]
        if type_ == RD_LEASE:
            if others and any(f & (O_WRONLY | O_RDWR) for f in others):
                return False
            return self.type in (0, RD_LEASE) or not self._others(lease_id)
        if type_ == RW_LEASE:
            return not others and (self.type == 0 or not self._others(lease_id))
        return False

    def request(
        self, cmd: int, type_: int, lease_id: bytes, client: Hashable, fds: list[tuple[bytes | None, int]]
    ) -> tuple[int, int, int, bool]:
        """``process_lease_req``: (op_ret, op_errno, lease type to report, recall?)."""
        if lease_id == NULL_ID:
            return -1, errno.EINVAL, type_, False
        if cmd == GET_LEASE:
            return 0, 0, self.type, False
        if cmd == SET_LEASE:
            if type_ in (RD_LEASE, RW_LEASE) and self.grantable(lease_id, type_, fds):
                entry = self._entry(lease_id)
                if entry is None:
                    entry = self.entries[lease_id] = _Entry(client)
                entry.counts[type_] += 1
                return 0, 0, type_, False
            return -1, errno.EPERM, type_, True  # (process_lease_req's -1, read as an errno)
        if cmd == UNLK_LEASE:
            held = self._entry(lease_id)
            if held is None:
                return 0, 0, type_, False  # already revoked: a no-op
            entry = held
            if type_ not in entry.counts or not entry.counts[type_]:
                return -1, errno.EINVAL, type_, False
            entry.counts[type_] -= 1
            if not entry.count:
                self.entries = {i: e for i, e in self.entries.items() if e is not entry}
            if not self.count:
                self.recalling = False
            return 0, 0, type_, False
        return -1, errno.EINVAL, type_, False

    def conflicts(self, fop: str, lease_id: bytes | None, flags: int, internal: bool) -> bool:
        """``__check_lease_conflict`` (the caller recalls when it says True)."""
        if not self.type:
            return False
        if fop in ("RENAME", "UNLINK"):
            return True
        if internal:
            return False
        if lease_id is None:
            return bool(self.count)
        if self.type & RW_LEASE:
            entry = self._entry(lease_id)
            return not (entry is not None and entry.counts[RW_LEASE])
        return bool(flags & DATA_MODIFY) and self._others(lease_id)

    def start_recall(self) -> bool:
        """``__recall_lease``: True when a new recall starts (holders to be told); with no
        lease held nothing starts (the flag is set inside its loop over the holders)."""
        if self.recalling or not self.entries:
            return False
        self.recalling = True
        self.generation += 1
        return True

    def revoke(self, generation: int) -> bool:
        """The recall timer fired: every lease goes (False: the recall had ended)."""
        if not self.recalling or generation != self.generation:
            return False
        self.entries.clear()
        self.recalling = False
        return True

    def drop_client(self, client: Hashable) -> None:
        """``cleanup_client_leases``: a client that disconnected loses its leases."""
        for lid in [i for i, e in self.entries.items() if e.client == client]:
            del self.entries[lid]
        if not self.count:
            self.recalling = False

    def take_blocked(self) -> list[Any]:
        """``do_blocked_fops``: the waiting FOPs, once no lease is left."""
        if self.count:
            return []
        out, self.blocked = self.blocked, []
        return out
