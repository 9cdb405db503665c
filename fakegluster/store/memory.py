"""The in-memory store: a whole volume in Python objects, with ext4's semantics.

Every object is an inode (:mod:`.meminode`: :class:`_File`, :class:`_Dir`, :class:`_Symlink`
or a plain :class:`_Inode` for fifos, sockets and devices) found by gfid in one dict; a
directory maps raw name bytes to inodes (a dict, so lookups are O(1) and readdir keeps
insertion order).

A regular file is sparse.  Its data lives in ``BLOCK``-byte ``bytearray`` blocks keyed by
block index, and the blocks it has *allocated* are a set of block ranges (:class:`_Ranges`).
Like an ext4 extent, an allocated block is either *written* (it has a data block) or
*unwritten* (allocated by fallocate, reads as zeros, and is a hole to SEEK_DATA/SEEK_HOLE,
as ext4 reports it once its page cache is clean).  ``blocks`` counts allocated blocks, so a
10 GiB truncate costs nothing and a 10 GiB fallocate costs one range.  These ext4 rules were
measured on Linux 6.18 (the contract tests compare against a real ext4 directory):

* write: touched blocks become written; size grows to the end of the write.
* truncate: to a size <= the current one frees every block past the new EOF block (also
  KEEP_SIZE preallocations past EOF) and zeroes the tail of the last one; growing frees
  nothing.  mtime and ctime move even when the size is unchanged.
* fallocate: mode 0 / KEEP_SIZE allocate the touched holes as unwritten; ZERO_RANGE also
  turns fully covered written blocks unwritten and zeroes the partial edges; PUNCH_HOLE
  does nothing at or past EOF, else clips the range to EOF rounded up to a block, frees
  the fully covered blocks and zeroes partial edges.  mtime and ctime always move.
* reads, readdir and readlink update atime by the ``relatime`` rule.
* data operations on a directory raise ``EISDIR``; on other non-regular files ``EINVAL``,
  except fallocate and seek: ``ESPIPE`` for fifos and sockets, ``ENODEV`` for the rest.

Known differences from ext4 (documented in ``tests/store/test_contract.py``): no extent
tree blocks (ext4 charges 8 more ``st_blocks`` when a file has more than 4 extents), no
xattr block (ext4 charges 8 once xattrs overflow the inode), xattrs have no total size
limit (ext4: one 4 KiB block), directories stay 4096 bytes, and ENOSPC never half-applies.
"""

from __future__ import annotations

import bisect
import errno
import stat
import time
from collections.abc import Callable
from typing import Any

from .base import (
    BLOCK,
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    ROOT_GFID,
    SEEK_DATA,
    SEEK_HOLE,
    XATTR_CREATE,
    XATTR_REPLACE,
    Attr,
    StatVfs,
    Store,
    check_name,
    fs_error,
)
from .meminode import _ZERO, _dec, _Dir, _enc, _File, _Inode, _Symlink

__all__ = ["MemoryStore"]

MAXBYTES = (1 << 44) - BLOCK  # ext4's s_maxbytes with 4 KiB blocks and extents
LINK_MAX = 65000  # EXT4_LINK_MAX
XATTR_SIZE_MAX = 65536
SYMLINK_MAX = 4095  # PATH_MAX less the NUL
DEFAULT_SIZE = 1 << 40  # what statfs reports without a capacity
FILES = 1 << 32
_XATTR_PREFIXES = (b"user.", b"trusted.", b"security.")


class MemoryStore(Store):
    """A volume held in memory (see the module docstring).

    ``capacity`` (bytes) bounds the allocated blocks (files' blocks, one per directory and
    per long symlink): an operation needing more fails with ``ENOSPC`` and changes nothing.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] = time.time_ns,
        capacity: int | None = None,
        uid: int = 0,
        gid: int = 0,
        root_mode: int = 0o755,
    ) -> None:
        super().__init__(clock=clock)
        self.capacity = capacity
        root = _Dir(ROOT_GFID, stat.S_IFDIR | (root_mode & 0o7777), uid, gid, self.clock())
        self._inodes: dict[bytes, _Inode] = {ROOT_GFID: root}
        self._used = 1  # allocated 4 KiB blocks, the root directory's included

    # ---- helpers ------------------------------------------------------------------------
    def _get(self, gfid: bytes) -> _Inode:
        ino = self._inodes.get(gfid)
        if ino is None:
            raise fs_error(errno.ESTALE, gfid.hex())
        return ino

    def _dir(self, gfid: bytes) -> _Dir:
        ino = self._get(gfid)
        if not isinstance(ino, _Dir):
            raise fs_error(errno.ENOTDIR, gfid.hex())
        return ino

    def _file(self, gfid: bytes, other: int = errno.EINVAL, pipe: int | None = None) -> _File:
        """The regular file ``gfid``: ``EISDIR`` for a directory, else ``pipe`` (if given)
        for a fifo or socket and ``other`` for the rest."""
        ino = self._get(gfid)
        if isinstance(ino, _File):
            return ino
        if isinstance(ino, _Dir):
            raise fs_error(errno.EISDIR, gfid.hex())
        if pipe is not None and (stat.S_ISFIFO(ino.mode) or stat.S_ISSOCK(ino.mode)):
            other = pipe
        raise fs_error(other, gfid.hex())

    def _attr(self, ino: _Inode) -> Attr:
        # positional: this runs for every stat a reply carries
        return Attr(
            ino.gfid,
            ino.mode,
            ino.nlink,
            ino.uid,
            ino.gid,
            ino.size,
            ino.nblocks() * 8,
            ino.atime,
            ino.mtime,
            ino.ctime,
            ino.rdev,
        )

    def _reserve(self, n: int) -> None:
        if n > 0 and self.capacity is not None and self._used + n > self.capacity // BLOCK:
            raise fs_error(errno.ENOSPC)

    def _release(self, ino: _Inode) -> None:
        self._used -= ino.nblocks()
        del self._inodes[ino.gfid]
        self.foreign_gfids.discard(ino.gfid)

    @staticmethod
    def _touch_atime(ino: _Inode, now: int) -> None:
        """relatime: update atime if it is not after mtime or ctime, or is a day old."""
        if ino.atime <= ino.mtime or ino.atime <= ino.ctime or now // 10**9 - ino.atime // 10**9 >= 86400:
            ino.atime = now

    def _new(
        self, pargfid: bytes, name: str, gfid: bytes, mode: int, uid: int, gid: int, cls: type = _Inode, **kw: Any
    ) -> Attr:
        """Create and name a new inode of class ``cls``."""
        d = self._dir(pargfid)
        raw = check_name(name)
        if raw in d.entries:
            raise fs_error(errno.EEXIST, name)
        if len(gfid) != 16 or gfid == bytes(16):
            raise fs_error(errno.EINVAL, gfid.hex())
        if gfid in self._inodes:
            raise fs_error(errno.EEXIST, gfid.hex())
        if d.mode & stat.S_ISGID:  # a setgid directory passes on its group (and, to directories, the bit)
            gid, mode = d.gid, mode | (stat.S_ISGID if cls is _Dir else 0)
        now = self.clock()
        ino = cls(gfid, mode, uid, gid, now, **({"parent": d} if cls is _Dir else kw))
        self._reserve(ino.nblocks())
        self._inodes[gfid] = ino
        self._used += ino.nblocks()
        d.entries[raw] = ino
        d.mtime = d.ctime = now
        d.nlink += cls is _Dir
        return self._attr(ino)

    def _drop_link(self, ino: _Inode, now: int, keep: bool = False) -> None:
        """One name less; the last one frees the inode, unless ``keep`` makes a regular
        file an orphan (reachable by gfid until :meth:`forget`)."""
        ino.nlink -= 1
        if ino.nlink == 0 and not (keep and isinstance(ino, _File)):
            self._release(ino)
        else:
            ino.ctime = now

    # ---- attributes and names -----------------------------------------------------------
    def getattr(self, gfid: bytes) -> Attr:
        return self._attr(self._get(gfid))

    def lookup(self, pargfid: bytes, name: str) -> Attr:
        d = self._dir(pargfid)
        ino = d.entries.get(check_name(name))
        if ino is None:
            raise fs_error(errno.ENOENT, name)
        return self._attr(ino)

    def parent(self, gfid: bytes) -> bytes:
        return self._dir(gfid).parent.gfid

    def readdir(self, gfid: bytes) -> list[tuple[str, Attr]]:
        d = self._dir(gfid)
        self._touch_atime(d, self.clock())
        return [(_dec(raw), self._attr(ino)) for raw, ino in d.entries.items()]

    # ---- creating and removing names ----------------------------------------------------
    def create(
        self, pargfid: bytes, name: str, mode: int, *, uid: int, gid: int, gfid: bytes, exclusive: bool = False
    ) -> tuple[Attr, bool]:
        d = self._dir(pargfid)
        old = d.entries.get(check_name(name))
        if old is not None:
            if exclusive:
                raise fs_error(errno.EEXIST, name)
            if isinstance(old, _Dir):
                raise fs_error(errno.EISDIR, name)
            return self._attr(old), False
        return self._new(pargfid, name, gfid, stat.S_IFREG | (mode & 0o7777), uid, gid, _File), True

    def mkdir(self, pargfid: bytes, name: str, mode: int, *, uid: int, gid: int, gfid: bytes) -> Attr:
        return self._new(pargfid, name, gfid, stat.S_IFDIR | (mode & 0o7777), uid, gid, _Dir)

    def mknod(self, pargfid: bytes, name: str, mode: int, rdev: int, *, uid: int, gid: int, gfid: bytes) -> Attr:
        kind = stat.S_IFMT(mode) or stat.S_IFREG
        if kind == stat.S_IFDIR:
            raise fs_error(errno.EPERM, name)
        if kind not in (stat.S_IFREG, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFSOCK):
            raise fs_error(errno.EINVAL, name)
        if kind == stat.S_IFREG:
            return self._new(pargfid, name, gfid, kind | (mode & 0o7777), uid, gid, _File)
        rdev = rdev if kind in (stat.S_IFCHR, stat.S_IFBLK) else 0
        return self._new(pargfid, name, gfid, kind | (mode & 0o7777), uid, gid, rdev=rdev)

    def symlink(self, pargfid: bytes, name: str, target: str, *, uid: int, gid: int, gfid: bytes) -> Attr:
        raw_target = _enc(target)
        if not raw_target:
            raise fs_error(errno.ENOENT, name)
        if len(raw_target) > SYMLINK_MAX:
            raise fs_error(errno.ENAMETOOLONG, name)
        if b"\0" in raw_target:
            raise fs_error(errno.EINVAL, name)
        return self._new(pargfid, name, gfid, stat.S_IFLNK | 0o777, uid, gid, _Symlink, target=target)

    def link(self, gfid: bytes, pargfid: bytes, name: str) -> Attr:
        ino = self._get(gfid)
        d = self._dir(pargfid)
        raw = check_name(name)
        if raw in d.entries:
            raise fs_error(errno.EEXIST, name)
        if isinstance(ino, _Dir):
            raise fs_error(errno.EPERM, name)
        if not ino.nlink:  # an orphan: its gfid no longer leads to a name (posix: no handle)
            raise fs_error(errno.ESTALE, gfid.hex())
        if ino.nlink >= LINK_MAX:
            raise fs_error(errno.EMLINK, name)
        now = self.clock()
        ino.nlink += 1
        ino.ctime = now
        d.entries[raw] = ino
        d.mtime = d.ctime = now
        return self._attr(ino)

    def _entry(self, pargfid: bytes, name: str) -> tuple[_Dir, bytes, _Inode]:
        d = self._dir(pargfid)
        raw = check_name(name)
        ino = d.entries.get(raw)
        if ino is None:
            raise fs_error(errno.ENOENT, name)
        return d, raw, ino

    def unlink(self, pargfid: bytes, name: str, *, keep: bool = False) -> None:
        d, raw, ino = self._entry(pargfid, name)
        if isinstance(ino, _Dir):
            raise fs_error(errno.EISDIR, name)
        now = self.clock()
        del d.entries[raw]
        d.mtime = d.ctime = now
        self._drop_link(ino, now, keep)

    def forget(self, gfid: bytes) -> None:
        ino = self._inodes.get(gfid)
        if ino is not None and ino.nlink == 0 and isinstance(ino, _File):
            self._release(ino)

    def rmdir(self, pargfid: bytes, name: str) -> None:
        d, raw, ino = self._entry(pargfid, name)
        if not isinstance(ino, _Dir):
            raise fs_error(errno.ENOTDIR, name)
        if ino.entries:
            raise fs_error(errno.ENOTEMPTY, name)
        del d.entries[raw]
        d.nlink -= 1
        d.mtime = d.ctime = self.clock()
        self._release(ino)

    def rename(
        self, src_pargfid: bytes, src_name: str, dst_pargfid: bytes, dst_name: str, *, keep: bool = False
    ) -> None:
        sd, dd = self._dir(src_pargfid), self._dir(dst_pargfid)
        sraw, draw = check_name(src_name), check_name(dst_name)
        src = sd.entries.get(sraw)
        if src is None:
            raise fs_error(errno.ENOENT, src_name)
        dst = dd.entries.get(draw)
        if sd is not dd:  # lock_rename()'s traps, in Linux's order
            if isinstance(src, _Dir) and self._is_ancestor(src, dd):
                raise fs_error(errno.EINVAL, src_name)
            if isinstance(dst, _Dir) and self._is_ancestor(dst, sd):
                raise fs_error(errno.ENOTEMPTY, dst_name)
        if dst is src:  # the same name, or two hard links of one inode: nothing happens
            return
        if dst is not None:
            if isinstance(src, _Dir) and not isinstance(dst, _Dir):
                raise fs_error(errno.ENOTDIR, dst_name)
            if not isinstance(src, _Dir) and isinstance(dst, _Dir):
                raise fs_error(errno.EISDIR, dst_name)
            if isinstance(dst, _Dir) and dst.entries:
                raise fs_error(errno.ENOTEMPTY, dst_name)
        now = self.clock()
        if isinstance(dst, _Dir):
            dd.nlink -= 1
            self._release(dst)
        elif dst is not None:
            self._drop_link(dst, now, keep)
        del sd.entries[sraw]
        dd.entries[draw] = src
        if isinstance(src, _Dir) and sd is not dd:
            sd.nlink -= 1
            dd.nlink += 1
            src.parent = dd
        src.ctime = now
        sd.mtime = sd.ctime = dd.mtime = dd.ctime = now

    @staticmethod
    def _is_ancestor(a: _Dir, d: _Dir) -> bool:
        """Is ``a`` the directory ``d`` or one of its ancestors?"""
        while True:
            if d is a:
                return True
            if d.parent is d:
                return False
            d = d.parent

    def readlink(self, gfid: bytes) -> str:
        ino = self._get(gfid)
        if not isinstance(ino, _Symlink):
            raise fs_error(errno.EINVAL, gfid.hex())
        self._touch_atime(ino, self.clock())
        return ino.target

    # ---- data ---------------------------------------------------------------------------
    def read(self, gfid: bytes, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:  # pread(2) checks before the file's type
            raise fs_error(errno.EINVAL, gfid.hex())
        f = self._file(gfid)
        if size == 0 or offset >= MAXBYTES:
            return b""
        self._touch_atime(f, self.clock())
        end = min(offset + size, f.size)
        if offset >= end:
            return b""
        if not f.data:
            return bytes(end - offset)
        first, last = offset // BLOCK, (end - 1) // BLOCK
        if first == last:  # the common case: within one block
            blk = f.data.get(first)
            s = offset - first * BLOCK
            if blk is None:
                return _ZERO[s : s + end - offset]
            return bytes(blk) if end - offset == BLOCK else bytes(blk[s : s + end - offset])  # a copy: blocks change
        get = f.data.get
        s = offset - first * BLOCK
        blk = get(first)
        head: bytes | bytearray = _ZERO if blk is None else blk
        # the whole blocks between the first and the last as they are: one copy, by join
        parts: list[bytes | bytearray] = [head[s:] if s else head]
        parts += [_ZERO if (blk := get(b)) is None else blk for b in range(first + 1, last)]
        blk = get(last)
        parts.append((_ZERO if blk is None else blk)[: end - last * BLOCK])
        return b"".join(parts)

    def write(self, gfid: bytes, offset: int, data: bytes | memoryview) -> int:
        f = self._file(gfid)
        if offset < 0:
            raise fs_error(errno.EINVAL, gfid.hex())
        mv = memoryview(data).cast("B")
        if not len(mv):
            return 0
        if offset >= MAXBYTES:
            raise fs_error(errno.EFBIG, gfid.hex())
        mv = mv[: MAXBYTES - offset]  # like Linux: a short write up to the size limit
        end = offset + len(mv)
        first, stop = offset // BLOCK, (end - 1) // BLOCK + 1
        self._reserve(need := (stop - first) - f.alloc.count(first, stop))
        blocks = f.data
        whole_first, whole_stop = -(-offset // BLOCK), end // BLOCK  # blocks the write covers whole
        if whole_first >= whole_stop:  # within one block, or across the border of two
            whole_first = whole_stop = stop
        for b in (first, stop - 1) if first < whole_first or whole_stop < stop else ():
            if whole_first <= b < whole_stop:
                continue
            s, e = max(offset, b * BLOCK), min(end, (b + 1) * BLOCK)
            blk = blocks.get(b)
            if blk is None:
                blocks[b] = blk = bytearray(BLOCK)
                f._keys = None
            blk[s - b * BLOCK : e - b * BLOCK] = mv[s - offset : e - offset]
            if first == stop - 1:
                break
        i = whole_first * BLOCK - offset  # where block whole_first starts in mv
        for b in range(whole_first, whole_stop):
            blk = blocks.get(b)
            if blk is None:
                blocks[b] = bytearray(mv[i : i + BLOCK])
                f._keys = None
            else:
                blk[:] = mv[i : i + BLOCK]
            i += BLOCK
        f.alloc.add(first, stop)
        self._used += need
        f.size = max(f.size, end)
        f.mtime = f.ctime = self.clock()
        return len(mv)

    def truncate(self, gfid: bytes, size: int) -> None:
        if size < 0:  # truncate(2) checks before the file's type
            raise fs_error(errno.EINVAL, gfid.hex())
        f = self._file(gfid)
        if size > MAXBYTES:
            raise fs_error(errno.EFBIG, gfid.hex())
        if size <= f.size:  # also frees preallocation past EOF when the size stays
            keep = -(-size // BLOCK)
            self._used -= f.free(keep, max(keep, f.alloc.ends[-1] if f.alloc.ends else 0))
            f.zero(size, keep * BLOCK)
        f.size = size
        f.mtime = f.ctime = self.clock()

    def fallocate(self, gfid: bytes, mode: int, offset: int, length: int) -> None:
        if offset < 0 or length <= 0:
            raise fs_error(errno.EINVAL, gfid.hex())
        keep, kind = mode & FALLOC_FL_KEEP_SIZE, mode & ~FALLOC_FL_KEEP_SIZE
        if kind not in (0, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE) or (kind == FALLOC_FL_PUNCH_HOLE and not keep):
            raise fs_error(errno.EOPNOTSUPP, gfid.hex())
        f = self._file(gfid, errno.ENODEV, errno.ESPIPE)
        end = offset + length
        if end > MAXBYTES:
            raise fs_error(errno.EFBIG, gfid.hex())
        if kind == FALLOC_FL_PUNCH_HOLE:
            if offset < f.size:
                full_s, full_e = f.zero_edges(offset, min(end, -(-f.size // BLOCK) * BLOCK))
                if full_s < full_e:
                    self._used -= f.free(full_s, full_e)
        else:
            first, stop = offset // BLOCK, (end - 1) // BLOCK + 1
            self._reserve(need := (stop - first) - f.alloc.count(first, stop))
            f.alloc.add(first, stop)
            self._used += need
            if kind == FALLOC_FL_ZERO_RANGE:
                f.drop_data(*f.zero_edges(offset, end))  # still allocated: now unwritten
            if not keep:
                f.size = max(f.size, end)
        f.mtime = f.ctime = self.clock()

    def seek(self, gfid: bytes, offset: int, whence: int) -> int:
        f = self._file(gfid, errno.ENODEV, errno.ESPIPE)
        if whence not in (SEEK_DATA, SEEK_HOLE):
            raise fs_error(errno.EINVAL, gfid.hex())
        if offset < 0 or offset >= f.size:
            raise fs_error(errno.ENXIO, gfid.hex())
        keys, b = f.keys(), offset // BLOCK
        i = bisect.bisect_left(keys, b)
        if whence == SEEK_DATA:
            if i == len(keys) or keys[i] * BLOCK >= f.size:
                raise fs_error(errno.ENXIO, gfid.hex())
            return max(offset, keys[i] * BLOCK)
        if i == len(keys) or keys[i] != b:
            return offset
        # the run of consecutive blocks from b is where keys[j] - j stays b - i (it never falls)
        j = bisect.bisect_right(range(len(keys)), b - i, lo=i, key=lambda j: keys[j] - j)
        return min((keys[j - 1] + 1) * BLOCK, f.size)

    def fsync(self, gfid: bytes, datasync: bool = False) -> None:
        self._get(gfid)

    # ---- metadata -----------------------------------------------------------------------
    def setattr(
        self,
        gfid: bytes,
        *,
        mode: int | None = None,
        uid: int | None = None,
        gid: int | None = None,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
    ) -> Attr:
        ino = self._get(gfid)
        if mode is not None and not isinstance(ino, _Symlink):  # Linux cannot chmod a symlink
            ino.mode = stat.S_IFMT(ino.mode) | (mode & 0o7777)
        if uid is not None or gid is not None:
            ino.uid, ino.gid = ino.uid if uid is None else uid, ino.gid if gid is None else gid
            if not isinstance(ino, _Dir):  # chown(2) drops set-user-ID and (group-executable) set-group-ID
                kill = stat.S_ISUID | (stat.S_ISGID if ino.mode & stat.S_IXGRP else 0)
                ino.mode &= ~kill
        if atime_ns is not None:
            ino.atime = atime_ns
        if mtime_ns is not None:
            ino.mtime = mtime_ns
        if (mode, uid, gid, atime_ns, mtime_ns) != (None,) * 5:
            ino.ctime = self.clock()
        return self._attr(ino)

    def _xattr(self, gfid: bytes, name: str, value: bytes = b"") -> tuple[_Inode, bytes, bool]:
        """(inode, raw name, may it hold user.* xattrs?) after Linux's name checks."""
        ino = self._get(gfid)
        raw = _enc(name)
        if not raw or len(raw) > 255:
            raise fs_error(errno.ERANGE, name)
        if len(value) > XATTR_SIZE_MAX:
            raise fs_error(errno.E2BIG, name)
        prefix = next((p for p in _XATTR_PREFIXES if raw.startswith(p)), None)
        if prefix is None:
            raise fs_error(errno.EOPNOTSUPP, name)
        user_ok = prefix != b"user." or isinstance(ino, (_File, _Dir))
        if raw == prefix and user_ok:
            raise fs_error(errno.EINVAL, name)
        return ino, raw, user_ok

    def getxattr(self, gfid: bytes, name: str) -> bytes:
        ino, raw, _ = self._xattr(gfid, name)
        value = ino.xattrs.get(raw)
        if value is None:
            raise fs_error(errno.ENODATA, name)
        return value

    def listxattr(self, gfid: bytes) -> list[str]:
        return [_dec(raw) for raw in self._get(gfid).xattrs]

    def setxattr(self, gfid: bytes, name: str, value: bytes, flags: int = 0) -> None:
        if flags & ~(XATTR_CREATE | XATTR_REPLACE):
            raise fs_error(errno.EINVAL, name)
        ino, raw, user_ok = self._xattr(gfid, name, value)
        if not user_ok:
            raise fs_error(errno.EPERM, name)
        old = ino.xattrs.get(raw)
        if old is not None and flags & XATTR_CREATE:
            raise fs_error(errno.EEXIST, name)
        if old is None and flags & XATTR_REPLACE:
            raise fs_error(errno.ENODATA, name)
        if old != value:  # ext4 leaves an identical value (and the ctime) alone
            ino.xattrs[raw] = bytes(value)
            ino.ctime = self.clock()

    def removexattr(self, gfid: bytes, name: str) -> None:
        ino, raw, user_ok = self._xattr(gfid, name)
        if not user_ok:
            raise fs_error(errno.EPERM, name)
        if ino.xattrs.pop(raw, None) is None:
            raise fs_error(errno.ENODATA, name)
        ino.ctime = self.clock()

    # ---- the volume ---------------------------------------------------------------------
    def statfs(self) -> StatVfs:
        total = (DEFAULT_SIZE if self.capacity is None else self.capacity) // BLOCK
        free = max(total - self._used, 0)
        ffree = FILES - len(self._inodes)
        return StatVfs(
            bsize=BLOCK,
            frsize=BLOCK,
            blocks=total,
            bfree=free,
            bavail=free,
            files=FILES,
            ffree=ffree,
            favail=ffree,
            fsid=0x66616B65676C7573,
            flag=0,
        )
