"""Store attributes as the wire structures a posix brick sends (``gfx_iattx``, ``gf_statfs``)."""

from __future__ import annotations

import stat
import struct
from typing import cast

from ..proto.common import IA_FLAGS_ALL, GfStatfs, GfxIattx
from ..proto.xdr import Encoded
from ..store.base import Attr, StatVfs

__all__ = ["to_iatt", "to_statfs", "d_type", "ZERO_IATT", "ino_of"]

ZERO_IATT = GfxIattx()
#: st_dev reported for stores without a real device (the capture's brick had 0xfe00).
FAKE_DEV = 0xFE00


def ino_of(gfid: bytes) -> int:
    """glusterfs's inode number: the last 8 gfid bytes, big-endian (root -> 1)."""
    return int.from_bytes(gfid[8:], "big")


_IATTX = struct.Struct(">16s8Q4q9I")  # gfx_iattx: gfid, 8 u64, 4 i64 times, 9 u32
assert _IATTX.size == 148


def to_iatt(a: Attr) -> GfxIattx:
    """The ``gfx_iattx`` of ``a``, already encoded (one ``struct.pack``); attribute access
    still works on it (it decodes lazily), so it is typed as the struct it stands for."""
    at, mt, ct = divmod(a.atime_ns, 1_000_000_000), divmod(a.mtime_ns, 1_000_000_000), divmod(a.ctime_ns, 1_000_000_000)
    return cast(
        GfxIattx,
        Encoded(
            GfxIattx,
            _IATTX.pack(
                a.gfid,
                IA_FLAGS_ALL,
                int.from_bytes(a.gfid[8:], "big"),
                a.dev or FAKE_DEV,
                a.rdev,
                a.size,
                a.blocks,
                0,
                0,
                at[0],
                mt[0],
                ct[0],
                0,
                at[1],
                mt[1],
                ct[1],
                0,
                a.nlink,
                a.uid,
                a.gid,
                a.blksize,
                a.mode,
            ),
        ),
    )


def to_statfs(s: StatVfs) -> GfStatfs:
    return GfStatfs(
        s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax
    )


_DT = {
    stat.S_IFDIR: 4,
    stat.S_IFREG: 8,
    stat.S_IFLNK: 10,
    stat.S_IFIFO: 1,
    stat.S_IFCHR: 2,
    stat.S_IFBLK: 6,
    stat.S_IFSOCK: 12,
}


def d_type(mode: int) -> int:
    """The ``DT_*`` value for an ``st_mode``."""
    return _DT.get(stat.S_IFMT(mode), 0)
