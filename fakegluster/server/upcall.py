"""features/upcall's cache invalidation (glusterfs v10.3 ``xlators/features/upcall/src``):
which clients touched which inode, and whom a change must be told.  Pure: no IO, no clock of
its own; it returns :class:`Notice` values the brick turns into GF-CBK CACHE_INVALIDATION
calls (``server_process_event_upcall``).

Every FOP a client sends registers it on the inode(s) it touches (``UP_UPDATE_CLIENT``,
``upcall_cache_invalidate`` with only ``UP_ATIME``); a FOP that changes an inode tells every
*other* client registered there within ``cache-invalidation-timeout`` seconds, with the
flags of its kind and the stats after it (``up_*_cbk``).  A client silent for more than twice
the timeout is dropped.  When the brick forgets an inode (its last name and open fd gone),
every registered client, the one that removed it included, gets ``UP_FORGET``.  xattr
changes are told only for keys clients registered (IPC ``GF_IPC_TARGET_UPCALL``), and zero
AFR changelog values never.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Hashable
from typing import Any

__all__ = [
    "Upcalls",
    "Notice",
    "UP_NLINK",
    "UP_MODE",
    "UP_OWN",
    "UP_SIZE",
    "UP_TIMES",
    "UP_ATIME",
    "UP_PERM",
    "UP_RENAME",
    "UP_FORGET",
    "UP_PARENT_TIMES",
    "UP_XATTR",
    "UP_XATTR_RM",
    "UP_WRITE_FLAGS",
    "UP_ATTR_FLAGS",
    "UP_NLINK_FLAGS",
]

# libglusterfs/src/glusterfs/upcall-utils.h
UP_NLINK, UP_MODE, UP_OWN, UP_SIZE, UP_TIMES, UP_ATIME = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
UP_PERM, UP_RENAME, UP_FORGET, UP_PARENT_TIMES, UP_XATTR, UP_XATTR_RM = 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
UP_UPDATE_CLIENT = UP_ATIME
UP_WRITE_FLAGS = UP_SIZE | UP_TIMES
UP_ATTR_FLAGS = UP_SIZE | UP_TIMES | UP_OWN | UP_MODE | UP_PERM
UP_NLINK_FLAGS = UP_NLINK | UP_TIMES
AFR_XATTR_PREFIX = "trusted.afr."


@dataclasses.dataclass
class Notice:
    """One CACHE_INVALIDATION to send: to ``client`` about ``gfid``."""

    client: Hashable
    gfid: bytes
    flags: int
    expire: int
    stat: Any = None
    parent_stat: Any = None
    oldparent_stat: Any = None
    xattrs: dict[str, bytes] | None = None


@dataclasses.dataclass
class _Entry:
    access: float
    expire: int


class Upcalls:
    """The brick's upcall registry.

    Args:
        enabled: ``features.cache-invalidation``.
        timeout: ``features.cache-invalidation-timeout`` (seconds, default 60).
    """

    def __init__(self, enabled: bool = False, timeout: int = 60) -> None:
        self.enabled = enabled
        self.timeout = timeout
        self.inodes: dict[bytes, dict[Hashable, _Entry]] = {}
        self.xattrs: set[str] = set()  # names (globs) clients registered through IPC

    def register_xattrs(self, names: list[str]) -> None:
        """``up_ipc``: xattr names clients want to hear about (never unregistered)."""
        self.xattrs.update(names)

    def touch(
        self,
        gfid: bytes,
        client: Hashable,
        now: float,
        flags: int = UP_UPDATE_CLIENT,
        stat: Any = None,
        parent_stat: Any = None,
        oldparent_stat: Any = None,
        xattrs: dict[str, bytes] | None = None,
    ) -> list[Notice]:
        """``upcall_cache_invalidate``: ``client`` did something to ``gfid``."""
        if not self.enabled or client is None:
            return []
        entries = self.inodes.setdefault(gfid, {})
        out = []
        for other, entry in list(entries.items()):
            if other == client:
                entry.access = now
                continue
            if not flags & ~UP_ATIME:
                continue
            out += self._tell(gfid, other, entry, now, flags, stat, parent_stat, oldparent_stat, xattrs)
        if client not in entries:
            entries[client] = _Entry(now, self.timeout)
        return out

    def xattr_change(
        self, gfid: bytes, client: Hashable, now: float, flags: int, changed: dict[str, bytes], stat: Any = None
    ) -> list[Notice]:
        """SETXATTR/REMOVEXATTR/XATTROP: only registered names, AFR zero values left out
        (``up_filter_xattr``); nothing left, nothing told (and no registration either)."""
        if not self.enabled:
            return []
        keep = {
            k: v
            for k, v in changed.items()
            if any(fnmatch.fnmatchcase(k, pat) for pat in self.xattrs)
            and not (k.startswith(AFR_XATTR_PREFIX) and not any(v))
        }
        if not keep:
            return []
        return self.touch(gfid, client, now, flags, stat, xattrs=keep)

    def forget(self, gfid: bytes, now: float) -> list[Notice]:
        """``upcall_cache_forget``: the inode is gone; everyone registered hears UP_FORGET."""
        entries = self.inodes.pop(gfid, None)
        if not self.enabled or not entries:
            return []
        out = []
        for client, entry in entries.items():
            entry.access = now
            out += self._tell(gfid, client, entry, now, UP_FORGET, None, None, None, None)
        return out

    def gone(self, client: Hashable) -> None:
        """A client disconnected: notifications for it would fail and drop its entries."""
        for entries in self.inodes.values():
            entries.pop(client, None)

    def _tell(self, gfid: bytes, client: Hashable, entry: _Entry, now: float, flags: int, *rest: Any) -> list[Notice]:
        """``upcall_client_cache_invalidate``: only to a client seen within the timeout; one
        silent for more than twice the timeout is dropped."""
        idle = now - entry.access
        if idle < self.timeout:
            return [Notice(client, gfid, flags, entry.expire, *rest)]
        if idle > 2 * self.timeout:
            self.inodes.get(gfid, {}).pop(client, None)
        return []


# ---- what each FOP tells (upcall.c's up_*_cbk), on the brick's handlers ------------------


def gf_iatt(iatt: Any) -> Any:
    """``gf_stat_from_iatt``: a reply's ``gfx_iattx`` as the callback's ``gf_iatt``."""
    from ..proto.common import GfIatt

    if iatt is None:
        return GfIatt()
    m = 0xFFFFFFFF
    return GfIatt(
        iatt.ia_gfid,
        iatt.ia_ino,
        iatt.ia_dev,
        iatt.mode,
        iatt.ia_nlink,
        iatt.ia_uid,
        iatt.ia_gid,
        iatt.ia_rdev,
        iatt.ia_size,
        iatt.ia_blksize,
        iatt.ia_blocks,
        iatt.ia_atime & m,
        iatt.ia_atime_nsec,
        iatt.ia_mtime & m,
        iatt.ia_mtime_nsec,
        iatt.ia_ctime & m,
        iatt.ia_ctime_nsec,
    )


#: FOPs that only register their caller on the inode they name (by gfid or fd)
_REGISTER = frozenset(
    {"OPEN", "STATFS", "OPENDIR", "READDIR", "STAT", "FSTAT", "ACCESS", "LK", "SEEK", "GETXATTR", "FGETXATTR"}
)
_WRITES = frozenset({"WRITE", "TRUNCATE", "FTRUNCATE", "FALLOCATE", "DISCARD", "ZEROFILL"})
_NEW = frozenset({"CREATE", "MKDIR", "MKNOD", "SYMLINK"})


def before_fop(h: Any, name: str, a: Any) -> Any:
    """What must be read before a FOP runs: the inode an UNLINK, RMDIR or RENAME removes."""
    try:
        if name in ("UNLINK", "RMDIR"):
            return h.store.lookup(a.pargfid, a.bname).gfid
        if name == "RENAME":
            return h.store.lookup(a.newgfid, a.newbname).gfid
    except OSError:
        return None
    return None


def after_fop(h: Any, name: str, a: Any, result: Any, victim: Any) -> list[Notice]:
    """The notices a successful FOP causes (and the registrations it makes)."""
    up: Upcalls = h.state.upcalls
    client = getattr(h.session, "client_uid", None)
    now = h.state.clock()
    gfid: bytes = getattr(a, "gfid", b"")
    if hasattr(a, "fd") and name not in ("RELEASE", "RELEASEDIR"):
        try:
            gfid = h._fd(a.gfid, a.fd).gfid
        except OSError:
            return []
    out: list[Notice] = []
    if name in _REGISTER:
        out += up.touch(gfid, client, now)
    elif name == "LOOKUP":
        out += up.touch(result.prestat.ia_gfid, client, now, stat=result.prestat)
    elif name == "READ":
        out += up.touch(gfid, client, now, stat=result.stat)
    elif name == "READLINK":
        out += up.touch(gfid, client, now, stat=result.buf)
    elif name == "READDIRP":
        out += up.touch(gfid, client, now)
        for entry in result.reply:
            if entry.name not in (".", ".."):
                out += up.touch(entry.stat.ia_gfid, client, now, stat=entry.stat)
    elif name in _WRITES:
        out += up.touch(gfid, client, now, UP_WRITE_FLAGS, result.poststat)
    elif name in ("SETATTR", "FSETATTR"):
        flags = UP_ATTR_FLAGS
        if (result.prestat.mode & 0o7777) != (result.poststat.mode & 0o7777):
            flags |= UP_XATTR  # a new mode may change permission xattrs (ACLs)
        out += up.touch(gfid, client, now, flags, result.poststat)
    elif name in _NEW:
        out += up.touch(a.pargfid, client, now, UP_TIMES, result.postparent)
        out += up.touch(result.stat.ia_gfid, client, now, stat=result.stat)
    elif name in ("UNLINK", "RMDIR"):
        if victim is not None:
            out += up.touch(victim, client, now, UP_NLINK_FLAGS | UP_PARENT_TIMES, parent_stat=result.poststat)
        out += up.touch(a.pargfid, client, now, stat=result.poststat)
        out += h.state.maybe_forget(victim, _alive(h, victim))
    elif name == "LINK":
        out += up.touch(a.oldgfid, client, now, UP_NLINK_FLAGS | UP_PARENT_TIMES, result.stat, result.postparent)
        out += up.touch(a.newgfid, client, now, stat=result.postparent)
    elif name in ("SETXATTR", "FSETXATTR", "REMOVEXATTR", "FREMOVEXATTR", "XATTROP", "FXATTROP"):
        out += _xattr_notices(up, name, gfid, client, now, a, result)
    elif name == "IPC" and a.op == 2 and a.xdata:  # GF_IPC_TARGET_UPCALL: xattrs to watch
        up.register_xattrs(list(a.xdata))
    elif name == "RENAME":
        moved = result.stat.ia_gfid
        out += up.touch(
            moved, client, now, UP_RENAME | UP_PARENT_TIMES, result.stat, result.postnewparent, result.postoldparent
        )
        out += up.touch(a.oldgfid, client, now, stat=result.postoldparent)
        out += up.touch(a.newgfid, client, now, stat=result.postnewparent)
        if victim is not None and victim != moved:
            out += h.state.maybe_forget(victim, _alive(h, victim))
    return out


def _alive(h: Any, gfid: bytes | None) -> bool:
    if gfid is None:
        return True
    try:
        return bool(h.store.getattr(gfid).nlink)
    except OSError:
        return False


def _xattr_notices(up: Upcalls, name: str, gfid: bytes, client: Any, now: float, a: Any, result: Any) -> list[Notice]:
    from .xattrs import _xattr_bytes

    if "REMOVEXATTR" in name:
        changed, flags = {a.name: b"\0"}, UP_XATTR_RM  # (dict_set_str of "")
    else:
        changed = {k: _xattr_bytes(v) for k, v in (a.dict or {}).items()}
        flags = UP_XATTR
    stat = None
    if "XATTROP" in name:
        for key, value in changed.items():  # up_compare_afr_xattr
            if key.startswith(AFR_XATTR_PREFIX) and result.dict.get(key) is not None:
                if bytes(result.dict[key].value) != value:
                    return []
    else:
        post = (result.xdata or {}).get("virt-gf-poststat")
        if post is not None:
            stat, flags = post.value, flags | UP_TIMES
    return up.xattr_change(gfid, client, now, flags, changed, stat)
