"""Converting GlusterFS structures to Python's: stats, statvfs, open flags, d_type.

* :func:`stat_result` turns a ``gfx_iattx`` into a real :class:`os.stat_result` (st_mode with
  the type bits, st_ino = the gfid's last 8 bytes as the brick sends it, st_blocks in 512-byte
  units, float and ``*_ns`` times, st_blksize, st_rdev).
* :func:`statvfs_result` turns a ``gf_statfs`` into an :class:`os.statvfs_result`.
* :func:`gf_flags` maps this platform's ``os.O_*`` bits to the wire's GF_O_* values (the
  Linux x86 octal values), so the client also speaks the right numbers elsewhere.
* :func:`mode_flags` parses a Python ``open()`` mode string (``"r"``, ``"w+b"``, ``"a"``...).
"""

from __future__ import annotations

import errno
import math
import os
import stat as _stat
from typing import Any

__all__ = [
    "stat_result",
    "statvfs_result",
    "gf_flags",
    "mode_flags",
    "GF_O",
    "DT_DIR",
    "DT_REG",
    "DT_LNK",
    "dtype_to_mode",
    "is_dir",
    "is_symlink",
    "DirEntry",
]

#: GF_O_* on the wire (Linux x86 octal values).
GF_O = {
    "O_RDONLY": 0o0,
    "O_WRONLY": 0o1,
    "O_RDWR": 0o2,
    "O_CREAT": 0o100,
    "O_EXCL": 0o200,
    "O_NOCTTY": 0o400,
    "O_TRUNC": 0o1000,
    "O_APPEND": 0o2000,
    "O_NONBLOCK": 0o4000,
    "O_DSYNC": 0o10000,
    "O_ASYNC": 0o20000,
    "O_DIRECT": 0o40000,
    "O_LARGEFILE": 0o100000,
    "O_DIRECTORY": 0o200000,
    "O_NOFOLLOW": 0o400000,
    "O_NOATIME": 0o1000000,
    "O_CLOEXEC": 0o2000000,
    "O_SYNC": 0o4010000,
}

DT_DIR, DT_REG, DT_LNK = 4, 8, 10
_DT_MODES = {
    1: _stat.S_IFIFO,
    2: _stat.S_IFCHR,
    4: _stat.S_IFDIR,
    6: _stat.S_IFBLK,
    8: _stat.S_IFREG,
    10: _stat.S_IFLNK,
    12: _stat.S_IFSOCK,
}


def gf_flags(flags: int) -> int:
    """This platform's ``os.O_*`` flags as GF_O_* wire flags (unknown bits are dropped)."""
    out = flags & 0o3  # access mode: the same numbers everywhere we care about
    for name, gf in GF_O.items():
        local = getattr(os, name, 0)
        if name in ("O_RDONLY", "O_WRONLY", "O_RDWR") or not local:
            continue
        if flags & local == local:
            out |= gf
    return out


def mode_flags(mode: str) -> int:
    """``os.O_*`` flags for a Python file mode string ("r", "rb", "r+", "w", "w+", "a", "a+", "x"...)."""
    kinds = set(mode) - set("bt")
    if (
        not mode
        or not kinds <= set("rwax+")
        or sum(c in kinds for c in "rwax") != 1
        or mode.count("+") > 1
        or len(set(mode)) != len(mode)
    ):
        raise ValueError(f"invalid mode: {mode!r}")
    plus = "+" in kinds
    if "r" in kinds:
        return os.O_RDWR if plus else os.O_RDONLY
    rw = os.O_RDWR if plus else os.O_WRONLY
    if "w" in kinds:
        return rw | os.O_CREAT | os.O_TRUNC
    if "a" in kinds:
        return rw | os.O_CREAT | os.O_APPEND
    return rw | os.O_CREAT | os.O_EXCL


def stat_result(iatt: Any) -> os.stat_result:
    """An :class:`os.stat_result` from a ``gfx_iattx``."""
    at = iatt.ia_atime * 1_000_000_000 + iatt.ia_atime_nsec
    mt = iatt.ia_mtime * 1_000_000_000 + iatt.ia_mtime_nsec
    ct = iatt.ia_ctime * 1_000_000_000 + iatt.ia_ctime_nsec
    return os.stat_result(
        (
            iatt.mode,
            iatt.ia_ino,
            iatt.ia_dev,
            iatt.ia_nlink,
            iatt.ia_uid,
            iatt.ia_gid,
            iatt.ia_size,
            iatt.ia_atime,
            iatt.ia_mtime,
            iatt.ia_ctime,
        ),
        {
            "st_atime": at / 1e9,
            "st_mtime": mt / 1e9,
            "st_ctime": ct / 1e9,
            "st_atime_ns": at,
            "st_mtime_ns": mt,
            "st_ctime_ns": ct,
            "st_blksize": iatt.ia_blksize,
            "st_blocks": iatt.ia_blocks,
            "st_rdev": iatt.ia_rdev,
        },
    )


def statvfs_result(sfs: Any) -> os.statvfs_result:
    """An :class:`os.statvfs_result` from a ``gf_statfs``."""
    return os.statvfs_result(
        (
            sfs.bsize,
            sfs.frsize,
            sfs.blocks,
            sfs.bfree,
            sfs.bavail,
            sfs.files,
            sfs.ffree,
            sfs.favail,
            sfs.flag,
            sfs.namemax,
        ),
        {"f_fsid": sfs.fsid},
    )


def dtype_to_mode(d_type: int) -> int:
    """The S_IFMT bits for a READDIR ``d_type`` (0 when unknown)."""
    return _DT_MODES.get(d_type, 0)


def is_dir(iatt: Any) -> bool:
    return _stat.S_ISDIR(iatt.mode)


def is_symlink(iatt: Any) -> bool:
    return _stat.S_ISLNK(iatt.mode)


class DirEntry:
    """One directory entry, like :class:`os.DirEntry`; stats come from READDIRP (and, for a
    symlink, from following it once during the scan)."""

    __slots__ = ("name", "path", "_lstat", "_target")

    def __init__(self, name: str, path: str, lstat: os.stat_result, target: os.stat_result | None) -> None:
        self.name = name
        self.path = path
        self._lstat = lstat
        self._target = target

    def inode(self) -> int:
        """The entry's inode number (``st_ino`` of its lstat)."""
        return self._lstat.st_ino

    def is_symlink(self) -> bool:
        """Whether the entry itself is a symlink."""
        return _stat.S_ISLNK(self._lstat.st_mode)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        """Its :class:`os.stat_result` (the symlink's target's unless ``follow_symlinks=False``), from
        the scan: no call."""
        if follow_symlinks and self.is_symlink():
            if self._target is None:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), self.path)
            return self._target
        return self._lstat

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        """Whether it is a directory (through a symlink unless ``follow_symlinks=False``)."""
        st = self._target if follow_symlinks and self.is_symlink() else self._lstat
        return st is not None and _stat.S_ISDIR(st.st_mode)

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        """Whether it is a regular file (through a symlink unless ``follow_symlinks=False``)."""
        st = self._target if follow_symlinks and self.is_symlink() else self._lstat
        return st is not None and _stat.S_ISREG(st.st_mode)

    def __fspath__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"<DirEntry {self.name!r}>"


def to_ns(t: float) -> int:
    """Seconds (float) to nanoseconds without float rounding of the fraction (1.25 -> 1250000000)."""
    sec = math.floor(t)
    return sec * 1_000_000_000 + round((t - sec) * 1e9)
