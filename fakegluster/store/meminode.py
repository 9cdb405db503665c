"""The inodes of :class:`~fakegluster.store.memory.MemoryStore` (the rules they keep are in
that module's docstring): :class:`_File` (sparse ``BLOCK``-byte data blocks, the allocated
block ranges in :class:`_Ranges`), :class:`_Dir` (raw name -> inode), :class:`_Symlink` and a
plain :class:`_Inode` for fifos, sockets and devices.
"""

from __future__ import annotations

import bisect
from typing import Any

from .base import BLOCK

FAST_SYMLINK = 59  # ext4 keeps a target this short in the inode (no block)
_ZERO = bytes(BLOCK)


def _enc(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _dec(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


class _Ranges:
    """A set of block numbers kept as sorted, disjoint, non-touching ``[start, end)`` ranges."""

    __slots__ = ("starts", "ends", "total")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.total = 0

    def count(self, s: int, e: int) -> int:
        """How many of the blocks ``[s, e)`` are in the set."""
        i, j = bisect.bisect_right(self.ends, s), bisect.bisect_left(self.starts, e)
        return sum(min(self.ends[k], e) - max(self.starts[k], s) for k in range(i, j))

    def add(self, s: int, e: int) -> None:
        i, j = bisect.bisect_left(self.ends, s), bisect.bisect_right(self.starts, e)
        if i < j:
            s, e = min(s, self.starts[i]), max(e, self.ends[j - 1])
        self.total += (e - s) - sum(self.ends[k] - self.starts[k] for k in range(i, j))
        self.starts[i:j], self.ends[i:j] = [s], [e]

    def remove(self, s: int, e: int) -> int:
        """Remove ``[s, e)``; returns how many blocks were in the set."""
        i, j = bisect.bisect_right(self.ends, s), bisect.bisect_left(self.starts, e)
        if i >= j:
            return 0
        keep_s: list[int] = []
        keep_e: list[int] = []
        if self.starts[i] < s:
            keep_s.append(self.starts[i])
            keep_e.append(s)
        if self.ends[j - 1] > e:
            keep_s.append(e)
            keep_e.append(self.ends[j - 1])
        gone = sum(self.ends[k] - self.starts[k] for k in range(i, j)) - sum(b - a for a, b in zip(keep_s, keep_e))
        self.starts[i:j], self.ends[i:j] = keep_s, keep_e
        self.total -= gone
        return gone


class _Inode:
    __slots__ = ("gfid", "mode", "nlink", "uid", "gid", "atime", "mtime", "ctime", "rdev", "xattrs")

    def __init__(self, gfid: bytes, mode: int, uid: int, gid: int, now: int, rdev: int = 0) -> None:
        self.gfid, self.mode, self.nlink, self.uid, self.gid, self.rdev = gfid, mode, 1, uid, gid, rdev
        self.atime = self.mtime = self.ctime = now
        self.xattrs: dict[bytes, bytes] = {}

    size = 0

    def nblocks(self) -> int:
        """Allocated 4 KiB blocks."""
        return 0


class _File(_Inode):
    __slots__ = ("size", "data", "alloc", "_keys")

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.size = 0
        self.data: dict[int, bytearray] = {}  # written blocks
        self.alloc = _Ranges()  # allocated blocks (written or unwritten)
        self._keys: list[int] | None = []  # sorted(self.data), rebuilt lazily

    def nblocks(self) -> int:
        return self.alloc.total

    def keys(self) -> list[int]:
        if self._keys is None:
            self._keys = sorted(self.data)
        return self._keys

    def drop_data(self, s: int, e: int) -> None:
        """Forget the data of blocks ``[s, e)`` (they become unwritten or holes)."""
        if not self.data:
            return
        gone = (
            [b for b in self.data if s <= b < e]
            if e - s > len(self.data)
            else [b for b in range(s, e) if b in self.data]
        )
        for b in gone:
            del self.data[b]
        if gone:
            self._keys = None

    def free(self, s: int, e: int) -> int:
        """Deallocate blocks ``[s, e)``; returns how many were allocated."""
        self.drop_data(s, e)
        return self.alloc.remove(s, e)

    def zero_edges(self, lo: int, hi: int) -> tuple[int, int]:
        """Zero the partially covered blocks' share of ``[lo, hi)``; returns the range of
        fully covered blocks."""
        full_s, full_e = -(-lo // BLOCK), hi // BLOCK
        self.zero(lo, min(hi, full_s * BLOCK))
        self.zero(max(lo, full_e * BLOCK), hi)
        return full_s, full_e

    def zero(self, lo: int, hi: int) -> None:
        """Zero the bytes ``[lo, hi)`` of written blocks (no allocation change)."""
        for b in range(lo // BLOCK, (hi - 1) // BLOCK + 1) if lo < hi else ():
            blk = self.data.get(b)
            if blk is not None:
                s, e = max(lo, b * BLOCK) - b * BLOCK, min(hi, (b + 1) * BLOCK) - b * BLOCK
                blk[s:e] = _ZERO[: e - s]


class _Dir(_Inode):
    __slots__ = ("entries", "parent")

    def __init__(self, *args: Any, parent: _Dir | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.nlink = 2
        self.entries: dict[bytes, _Inode] = {}
        self.parent = parent or self

    size = BLOCK

    def nblocks(self) -> int:
        return 1


class _Symlink(_Inode):
    __slots__ = ("target", "size")

    def __init__(self, *args: Any, target: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.target, self.size = target, len(_enc(target))

    def nblocks(self) -> int:
        return 0 if self.size <= FAST_SYMLINK else 1
