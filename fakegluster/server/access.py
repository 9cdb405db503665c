"""Who a FOP runs as, and whether it may: the brick's root/all squashing (rpcsvc,
``RPC_AUTH_ROOT_SQUASH`` applied in ``server-helpers.c``'s ``get_frame_from_request``) and
the access-control translator's checks before each FOP (``posix-acl.c``), read off a real
10.3 brick (tests/server/test_access_control.py asserts them on fake and real).

The checks, FOP by FOP: OPEN by its access mode (O_TRUNC/O_APPEND want write), OPENDIR,
READDIR(P) and GETXATTR (but of ACL keys) want read, TRUNCATE write; new entries want write
and search on the parent; UNLINK/RMDIR/RENAME also the sticky-directory rule; SETATTR: only
the owner changes the mode (EPERM) or gives the file away (chown EPERM, chgrp to a group the
caller is in), times need ownership or write; SETXATTR: ACL keys only by the owner (EPERM),
anything else wants write; ACCESS answers as for a FUSE call.  READ, WRITE, FTRUNCATE,
STAT, LOOKUP, XATTROP and the lock FOPs are not checked.
"""

from __future__ import annotations

import errno
import stat
from typing import Any

from ..store.base import fs_error
from .acl import ACL_KEYS, DEFAULT_XATTR, Caller, R, W, X, get_acl, permits, sticky_permits

__all__ = ["caller_of", "check_access", "CHECKED", "NFS_PID"]

NFS_PID = 1
#: pids never squashed (GF_CLIENT_PID_GSYNCD, DEFRAG, NO_ROOT_SQUASH, QUOTA_MOUNT, SELF_HEALD)
_SQUASH_EXEMPT = frozenset({-1, -3, -4, -5, -6})
O_ACCMODE, O_WRONLY, O_RDWR, O_TRUNC, O_APPEND = 0o3, 0o1, 0o2, 0o1000, 0o2000
#: the FOPs the access-control translator looks at
CHECKED = frozenset(
    {
        "ACCESS",
        "TRUNCATE",
        "OPEN",
        "OPENDIR",
        "READDIR",
        "READDIRP",
        "MKDIR",
        "MKNOD",
        "CREATE",
        "SYMLINK",
        "UNLINK",
        "RMDIR",
        "RENAME",
        "LINK",
        "SETATTR",
        "FSETATTR",
        "SETXATTR",
        "FSETXATTR",
        "GETXATTR",
        "FGETXATTR",
        "REMOVEXATTR",
        "FREMOVEXATTR",
    }
)


def caller_of(cred: Any, options: Any) -> Caller:
    """The caller of a FOP from its AUTH_GLUSTERFS credentials, squashed as the brick's
    ``server.root-squash`` / ``server.all-squash`` say (uid/gid 0, or all, become
    ``server.anonuid``/``anongid``; also for the trusted clients of the pool, as 10.3 does)."""
    uid, gid = getattr(cred, "uid", 0), getattr(cred, "gid", 0)
    groups = tuple(getattr(cred, "groups", ()) or ())
    pid = getattr(cred, "pid", 0)
    if pid not in _SQUASH_EXEMPT and (options.root_squash or options.all_squash):
        anonuid, anongid = options.anonuid, options.anongid
        if options.all_squash:
            uid, gid = anonuid, anongid
        else:
            uid = anonuid if uid == 0 else uid
            gid = anongid if gid == 0 else gid
        groups = tuple(anongid if g == 0 else g for g in groups)
    return Caller(uid, gid, groups, pid)


def check_access(h: Any, name: str, a: Any, caller: Caller) -> Any:
    """Raise EACCES/EPERM where the translator refuses ``name``; returns ACCESS's answer
    (None for every other FOP).  Objects that do not resolve are left to the FOP itself."""
    store = h.store
    try:
        return _check(h, store, name, a, caller)
    except _Unresolved:
        return None


class _Unresolved(Exception):
    pass


def _attr(store: Any, gfid: bytes) -> Any:
    try:
        return store.getattr(gfid)
    except OSError:
        raise _Unresolved from None


def _entry(store: Any, pargfid: bytes, name: str) -> Any:
    try:
        return store.lookup(pargfid, name)
    except OSError:
        return None


def _ok(store: Any, caller: Caller, attr: Any, want: int) -> bool:
    if caller.superuser:
        return True
    return permits(caller, attr, get_acl(store, attr.gfid, False), want)


def _need(store: Any, caller: Caller, attr: Any, want: int) -> None:
    if not _ok(store, caller, attr, want):
        raise fs_error(errno.EACCES)


def _target(h: Any, a: Any) -> Any:
    if hasattr(a, "fd"):
        try:
            return h._fd(a.gfid, a.fd).gfid
        except OSError:
            raise _Unresolved from None
    return a.gfid


def _check(h: Any, store: Any, name: str, a: Any, caller: Caller) -> Any:
    if name == "ACCESS":
        return _access(store, caller, _attr(store, a.gfid), a.mask)
    if caller.superuser:
        return None
    if name == "OPEN":
        want = {0: R, O_WRONLY: W, O_RDWR: R | W}.get(a.flags & O_ACCMODE, 0)
        if a.flags & (O_TRUNC | O_APPEND):
            want |= W
        _need(store, caller, _attr(store, a.gfid), want)
    elif name in ("OPENDIR", "READDIR", "READDIRP"):
        _need(store, caller, _attr(store, _target(h, a)), R)
    elif name == "TRUNCATE":
        _need(store, caller, _attr(store, a.gfid), W)
    elif name in ("MKDIR", "MKNOD", "CREATE", "SYMLINK"):
        _need(store, caller, _attr(store, a.pargfid), W | X)
    elif name in ("UNLINK", "RMDIR"):
        parent = _attr(store, a.pargfid)
        victim = _entry(store, a.pargfid, a.bname)
        if victim is not None and not sticky_permits(caller, parent, victim):
            raise fs_error(errno.EACCES)
        _need(store, caller, parent, W | X)
    elif name == "RENAME":
        old_parent, new_parent = _attr(store, a.oldgfid), _attr(store, a.newgfid)
        _need(store, caller, old_parent, W)
        _need(store, caller, new_parent, W)
        moved = _entry(store, a.oldgfid, a.oldbname)
        if moved is not None and not sticky_permits(caller, old_parent, moved):
            raise fs_error(errno.EACCES)
        target = _entry(store, a.newgfid, a.newbname)
        if target is not None and not sticky_permits(caller, new_parent, target):
            raise fs_error(errno.EACCES)
    elif name == "LINK":
        new_parent = _attr(store, a.newgfid)
        _need(store, caller, new_parent, W)
        if not sticky_permits(caller, new_parent, _attr(store, a.oldgfid)):
            raise fs_error(errno.EACCES)
    elif name in ("SETATTR", "FSETATTR"):
        _setattr(store, caller, _attr(store, _target(h, a)), a.stbuf, a.valid)
    elif name in ("SETXATTR", "FSETXATTR"):
        attr = _attr(store, _target(h, a))
        if a.dict and any(k in ACL_KEYS for k in a.dict):
            if caller.uid != attr.uid:
                raise fs_error(errno.EPERM)
        else:
            _need(store, caller, attr, W)
    elif name in ("GETXATTR", "FGETXATTR"):
        if a.name not in ACL_KEYS:
            _need(store, caller, _attr(store, _target(h, a)), R)
    elif name in ("REMOVEXATTR", "FREMOVEXATTR"):
        attr = _attr(store, _target(h, a))
        if a.name in ACL_KEYS and caller.uid != attr.uid:
            raise fs_error(errno.EPERM)
        _need(store, caller, attr, W)
    return None


def _access(store: Any, caller: Caller, attr: Any, mask: int) -> Any:
    """``posix_acl_access`` as a FUSE call: all of ``mask`` or EACCES; 0 passes; a mask
    without R/W/X bits is EINVAL."""
    want = mask & 7
    if not mask:
        return 0
    if not want:
        raise fs_error(errno.EINVAL)
    if not _ok(store, caller, attr, want):
        raise fs_error(errno.EACCES)
    return 0


SET_MODE, SET_UID, SET_GID, SET_ATIME, SET_MTIME = 0x1, 0x2, 0x4, 0x10, 0x20


def _setattr(store: Any, caller: Caller, attr: Any, st: Any, valid: int) -> None:
    """``setattr_scrutiny``."""
    if valid & SET_MODE and caller.uid != attr.uid:
        raise fs_error(errno.EPERM)
    if valid & (SET_ATIME | SET_MTIME) and caller.uid != attr.uid and not _ok(store, caller, attr, W):
        raise fs_error(errno.EACCES)
    if valid & SET_UID and st.ia_uid != attr.uid:
        raise fs_error(errno.EPERM)
    if valid & SET_GID and (caller.uid != attr.uid or not caller.in_group(st.ia_gid)):
        raise fs_error(errno.EPERM)


def sgid_mode(caller: Caller, attr: Any, mode: int) -> int:
    """A non-member chmod'ing a file loses S_ISGID (``setattr_scrutiny``)."""
    if not caller.superuser and not caller.in_group(attr.gid):
        return mode & ~stat.S_ISGID
    return mode


def new_owner(store: Any, pargfid: bytes, caller: Caller, mode: int, is_dir: bool) -> tuple[int, int, int]:
    """Owner, group and mode of a new object: the caller's, but a set-group-id directory's
    group (and, for a directory, its S_ISGID bit) — posix_mkdir/posix_create's ``sgid``."""
    parent = store.getattr(pargfid)
    gid = caller.gid
    if parent.mode & stat.S_ISGID:
        gid = parent.gid
        if is_dir:
            mode |= stat.S_ISGID
    return caller.uid, gid, mode


def parent_default_acl(store: Any, pargfid: bytes) -> Any:
    try:
        return get_acl(store, pargfid, True)
    except OSError:
        return None


__all__ += ["sgid_mode", "new_owner", "parent_default_acl", "DEFAULT_XATTR"]
