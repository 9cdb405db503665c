"""Which objects a brick answers ``trusted.glusterfs.mdata`` for (features.ctime, on by default
in 10.3).  A real brick has that xattr only on what a client's FOP stamped: posix_set_ctime /
posix_set_parent_ctime (posix-metadata.c) create it, from the frame's time, when the FOP's
AUTH v3 ``flags`` ask for times (MDATA_CTIME/MTIME/ATIME for the inode, MDATA_PAR_* for the
parent; the utime xlator and gfclient set them per FOP); the utime xlator's ``set-ctime-mdata``
SETXATTR (sent after a LOOKUP that came back without mdata) creates it too
(posix_set_mdata_xattr_legacy_files).  An object made outside gluster (a user's file in the
brick's folder, the brick root itself) or by a FOP without flags has none: a LOOKUP asking for
it gets nothing (read off a 10.3 brick).  The fake keeps that as the store's
``foreign_gfids`` and still builds the blob from its own clock (:func:`.xdata.mdata_blob`).
"""

from __future__ import annotations

from typing import Any

from .lockfops import credentials

__all__ = ["NEW_OBJECTS", "asks_times", "stamp"]

MDATA_INODE = 1 | 2 | 4  # MDATA_CTIME, MDATA_MTIME, MDATA_ATIME (glusterfs/stack.h)
MDATA_PARENT = 8 | 16 | 32  # MDATA_PAR_CTIME, MDATA_PAR_MTIME, MDATA_PAR_ATIME
#: the FOPs that call posix_set_ctime on an inode, and the request fields naming it
_INODE = {
    **dict.fromkeys(
        ("OPEN", "OPENDIR", "READ", "WRITE", "SETATTR", "FSETATTR", "TRUNCATE", "FTRUNCATE", "FALLOCATE", "DISCARD",
         "ZEROFILL", "REMOVEXATTR", "FREMOVEXATTR", "RCHECKSUM"),
        ("gfid",),
    ),
    "COPY_FILE_RANGE": ("gfid1", "gfid2"),  # posix_set_ctime_cfr
    "LINK": ("oldgfid",),
}  # fmt: skip
#: ... and posix_set_parent_ctime on a parent
_PARENT = {
    **dict.fromkeys(("CREATE", "MKDIR", "MKNOD", "SYMLINK", "UNLINK", "RMDIR"), ("pargfid",)),
    "LINK": ("newgfid",),
    "RENAME": ("oldgfid", "newgfid"),
}
#: the FOPs that make an object (stamped by its own posix_set_ctime, or left without mdata)
NEW_OBJECTS = frozenset({"CREATE", "MKDIR", "MKNOD", "SYMLINK"})


def _flags(call: Any) -> int:
    return int(getattr(credentials(call), "flags", 0) or 0)


def asks_times(call: Any) -> bool:
    """Does the FOP ask for its inode's times (posix_set_ctime stamps it)?"""
    return bool(_flags(call) & MDATA_INODE)


def _made(args: Any, result: Any) -> bool:
    """Did the FOP make its object (a CREATE without O_EXCL may open an existing file)? A new
    object takes the request's ``gfid-req``."""
    req = (args.xdata or {}).get("gfid-req")
    return req is not None and bytes(req.value) == bytes(result.stat.ia_gfid)


def stamp(store: Any, name: str, call: Any, result: Any) -> None:
    """After the FOP ``name`` succeeded with ``result``: what it stamped is no longer foreign;
    a new object made without times is."""
    foreign = store.foreign_gfids
    inode = _INODE.get(name, ())
    parent = _PARENT.get(name, ())
    new = name in NEW_OBJECTS
    moved = result.stat.ia_gfid if name == "RENAME" else None
    args = call.args
    if not new and moved not in foreign and not any(getattr(args, f) in foreign for f in inode + parent):
        return
    flags = _flags(call)
    if flags & MDATA_INODE:
        for f in inode:
            store.adopt(getattr(args, f))
        if moved is not None or new:
            store.adopt(moved or result.stat.ia_gfid)  # (CREATE may open a foreign file)
    elif new and _made(args, result):
        store.disown(result.stat.ia_gfid)
    if flags & MDATA_PARENT:
        for f in parent:
            store.adopt(getattr(args, f))
