"""The xdata a brick's reply carries for the keys its request named: what the posix
translator fills (``posix_xattr_fill``, posix-helpers.c) and the lock counts features/locks
adds (``pl_set_xdata_response``); read off a 10.3 brick (tests/server/test_brick_semantics.py).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import stat
from typing import Any

from ..proto import fops as F
from ..proto.common import NULL_GFID
from ..proto.gfdict import GfxValue
from .acl import ACCESS_TEXT, DEFAULT_TEXT, SHOWN, STORED, from_mode, get_acl, to_text
from .lockfops import ANON_FD, DEFERRED, lock_counts

__all__ = ["FILLED", "POSIX_FILLED", "fill_reply_xdata", "entry_xdata", "posix_fill", "mdata_blob", "MDATA_KEY"]

#: FOPs whose replies carry what the request's xdata asks for: the posix translator's
#: ``posix_xattr_fill`` and features/locks' counts (``PL_LOCAL_GET_REQUESTS``)...
POSIX_FILLED = frozenset(
    {F.GfFop.LOOKUP, F.GfFop.STAT, F.GfFop.FSTAT, F.GfFop.SETATTR, F.GfFop.FSETATTR, F.GfFop.XATTROP, F.GfFop.FXATTROP}
)
#: ... and the FOPs that only carry the lock counts.
FILLED = POSIX_FILLED | {
    F.GfFop.WRITE,
    F.GfFop.READ,
    F.GfFop.FLUSH,
    F.GfFop.FSYNC,
    F.GfFop.FTRUNCATE,
    F.GfFop.FALLOCATE,
    F.GfFop.DISCARD,
    F.GfFop.ZEROFILL,
    F.GfFop.FSETXATTR,
    F.GfFop.FREMOVEXATTR,
    F.GfFop.MKDIR,
    F.GfFop.MKNOD,
    F.GfFop.CREATE,
    F.GfFop.SYMLINK,
    F.GfFop.READDIRP,
}


def fill_reply_xdata(h: Any, proc: int, a: Any, out: Any) -> Any:
    """What the posix and locks translators add to a successful reply's xdata for the
    keys the request's xdata names (``posix_xattr_fill``, ``pl_set_xdata_response``)."""
    result, payload = out if isinstance(out, tuple) else (out, b"")
    if result is DEFERRED or not hasattr(result, "op_ret") or result.op_ret < 0:
        return out
    xdata = a.xdata
    posix: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    fd_gfid = h._fd(a.gfid, a.fd).gfid if hasattr(a, "fd") else None
    if proc == F.GfFop.CREATE:
        fd_gfid = result.stat.ia_gfid  # pl_create counts on the new fd's inode
    if proc == F.GfFop.LOOKUP:
        target = result.prestat.ia_gfid
    else:
        target = fd_gfid or getattr(a, "gfid", None)
    anon = int(getattr(a, "fd", None) == ANON_FD)  # (an anonymous fd is open for the call)
    if proc in POSIX_FILLED and target is not None:
        st = h.state.peek(target)
        posix = posix_fill(h.store, h.store.getattr(target), xdata, (st.fd_count if st else 0) + anon)
        if proc == F.GfFop.LOOKUP:
            posix = {k: v for k, v in posix.items() if not _marker_internal(k)}
    elif proc == F.GfFop.WRITE and fd_gfid is not None:
        st = h.state.peek(fd_gfid)
        appending = result.prestat.ia_size == a.offset or bool(h._fd(a.gfid, a.fd).flags & 0o2000)
        posix = writev_fill(xdata, (st.fd_count if st else 0) + anon, appending)
    if proc == F.GfFop.LOOKUP:
        counts = lock_counts(h.state, xdata, target, a.pargfid if a.pargfid != NULL_GFID else None, a.bname)
    elif fd_gfid is not None:
        counts = lock_counts(h.state, xdata, fd_gfid)
    elif getattr(a, "pargfid", None) is not None:
        counts = lock_counts(h.state, xdata, a.pargfid)  # loc.parent of an entry FOP
    # a glusterfs dict serializes its newest key first: the locks translator adds its
    # counts to the dict posix filled
    extra = {**dict(reversed(counts.items())), **dict(reversed(posix.items()))}
    if not extra and (result.xdata is not None or proc not in POSIX_FILLED | {F.GfFop.WRITE}):
        return out
    merged = {**extra, **(result.xdata or {})}
    result = dataclasses.replace(result, xdata=merged)
    return (result, payload) if isinstance(out, tuple) else result


#: Request keys ``_posix_xattr_get_set`` skips (``posix_ignore_xattrs``).
POSIX_IGNORED = frozenset(
    {
        "gfid-req",
        "glusterfs-internal-fop",
        "glusterfs.entrylk-count",
        "glusterfs.inodelk-count",
        "glusterfs.posixlk-count",
        "glusterfs.parent-entrylk",
        "gfidless-lookup",
        "glusterfs.inodelk-dom-count",
    }
)
_NAMESPACES = ("trusted.", "security.", "system.", "user.")


MDATA_KEY = "trusted.glusterfs.mdata"


def _marker_internal(key: str) -> bool:
    """What features/marker takes out of a LOOKUP reply, quota off (marker.c
    ``marker_lookup_cbk`` -> ``marker_filter_internal_xattrs``, ``_is_quota_internal_xattr``):
    the quota keys and the pgfid keys, however the request asked for them (a glob, list-xattr)."""
    return fnmatch.fnmatchcase(key, "trusted.glusterfs.quota*") or key.startswith("trusted.pgfid.")


def mdata_blob(attr: Any) -> bytes:
    """``trusted.glusterfs.mdata`` as the ctime feature stores it (57 bytes, big-endian):
    u8 version 1, u64 flags 0, then ctime, mtime, atime as (u64 sec, u64 nsec).  Seconds
    before 1970 go as their 64-bit two's complement (``htobe64`` of a signed ``tv_sec`` in
    ``posix_mdata_to_disk``; seen on a 10.3 brick).  A real 10.3 brick answers a LOOKUP that
    asks for it (without it the client's utime xlator sends a SETXATTR per inode)."""
    out = b"\x01" + bytes(8)
    for ns in (attr.ctime_ns, attr.mtime_ns, attr.atime_ns):
        sec, nsec = divmod(ns, 1_000_000_000)
        out += (sec & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "big") + nsec.to_bytes(8, "big")
    return out


def entry_xdata(h: Any, attr: Any, name: str, xdata: Any) -> dict[str, Any]:
    """A READDIRP entry's dict: what ``posix_readdirp_fill`` fills for its xattrs (not for
    "." and "..") and the lock counts features/locks adds for each entry."""
    counts = lock_counts(h.state, xdata, attr.gfid)
    posix: dict[str, Any] = {}
    if name not in (".", ".."):
        st = h.state.peek(attr.gfid)
        posix = posix_fill(h.store, attr, xdata, st.fd_count if st else 0)
    return {**dict(reversed(counts.items())), **posix}


def writev_fill(xdata: Any, fd_count: int, appending: bool) -> dict[str, GfxValue]:
    """``_fill_writev_xdata``: a WRITE with xdata gets a dict back (empty if nothing asked):
    the inode's open fds, and ``glusterfs.write-is-append`` (the write began at the end of
    the file, or its fd is O_APPEND: AFR's eager-lock uses it)."""
    out: dict[str, GfxValue] = {}
    for key in ("glusterfs.open-fd-count", "glusterfs.open-active-fd-count"):
        if key in xdata:
            out[key] = GfxValue.uint(fd_count)
    if "glusterfs.write-is-append" in xdata:
        out["glusterfs.write-is-append"] = GfxValue.uint(int(appending))
    return out


def posix_fill(store: Any, attr: Any, xdata: Any, fd_count: int = 0) -> dict[str, GfxValue]:
    """``posix_xattr_fill``: what a posix brick puts in a reply's xdata for the keys a
    request's xdata names (LOOKUP, STAT, FSTAT, (F)SETATTR, (F)XATTROP, READDIRP entries).

    ``glusterfs.content`` (a small file's data), ``glusterfs.open-fd-count`` and
    ``glusterfs.open-active-fd-count`` (the brick's open fds on the inode), ``get-size``,
    ``gf_request_link_count`` (echoed); any other key is a glob matched against the inode's
    xattr names (``_posix_xattr_get_set``: how AFR, DHT and EC read their xattrs with a
    LOOKUP).  (posix-helpers.c)"""
    out: dict[str, GfxValue] = {}
    names: list[str] | None = None  # the inode's xattrs, listed once (``_get_list_xattr``)
    for key, value in xdata.items():
        if key in POSIX_IGNORED:
            continue
        if key == "glusterfs.content":
            if stat.S_ISREG(attr.mode) and _as_int(value) >= attr.size:
                out[key] = GfxValue.ptr(store.read(attr.gfid, 0, attr.size))
        elif key in ("glusterfs.open-fd-count", "glusterfs.open-active-fd-count"):
            out[key] = GfxValue.uint(fd_count)
        elif key == "gf_request_link_count":
            out[key] = value
        elif key == "get-size":
            if stat.S_ISREG(attr.mode):
                out[key] = GfxValue.uint(attr.size)
        elif key.startswith((ACCESS_TEXT, DEFAULT_TEXT)):
            default = key.startswith(DEFAULT_TEXT)
            if stat.S_ISLNK(attr.mode) or (default and not stat.S_ISDIR(attr.mode)):
                continue
            entries = get_acl(store, attr.gfid, default)
            entries = ([] if default else from_mode(attr.mode)) if entries is None else entries
            out[key] = GfxValue.str(to_text(entries))
        elif key == "glusterfs.ancestry.path":
            continue  # (path ancestry: not modelled)
        elif key == "list-xattr":
            continue  # (after the named keys: below)
        else:
            if names is None:
                names = _xattr_names(store, attr.gfid)
            for name in (*names, MDATA_KEY):
                if name == MDATA_KEY and fnmatch.fnmatchcase(name, key):
                    if attr.gfid not in store.foreign_gfids:  # (none yet: mdata.py)
                        out[name] = GfxValue.ptr(mdata_blob(attr))
                elif name.startswith(_NAMESPACES) and fnmatch.fnmatchcase(name, key):
                    _add_xattr(store, attr.gfid, name, out)
    if "list-xattr" in xdata:
        _list_xattr(store, attr.gfid, _xattr_names(store, attr.gfid) if names is None else names, out)
    return out


def _xattr_names(store: Any, gfid: bytes) -> list[str]:
    """The inode's xattr names as a brick's ``llistxattr`` has them: the ACLs the store keeps
    under ``trusted.fakegluster.*`` by their ``system.posix_acl_*`` names, the rest of the
    fake's own ``trusted.fakegluster.*`` left out."""
    return [SHOWN.get(n, n) for n in store.listxattr(gfid) if n in SHOWN or not n.startswith("trusted.fakegluster.")]


def _add_xattr(store: Any, gfid: bytes, name: str, out: dict[str, GfxValue]) -> None:
    """``_posix_xattr_get_set_from_backend``: ``name``'s value into ``out`` (nothing if it is gone)."""
    try:
        out[name] = GfxValue.ptr(store.getxattr(gfid, STORED.get(name, name)))
    except OSError:
        pass


#: what ``_handle_list_xattr`` leaves out: ``list_xattr_ignore_xattrs``, the marker and
#: geo-replication keys, gfid2path
_LIST_IGNORED = ("trusted.gfid", "trusted.glusterfs.volume-id", "security.selinux")
_LIST_IGNORED_GLOBS = ("trusted.glusterfs.quota*", "trusted.glusterfs.*.xtime", "trusted.glusterfs.*.stime")


def _list_xattr(store: Any, gfid: bytes, names: list[str], out: dict[str, GfxValue]) -> None:
    """``list-xattr`` (AFR asks it with every LOOKUP, to compare the copies' xattrs before a
    metadata heal): every on-disk xattr (``names``) the reply does not carry yet
    (posix-helpers.c ``_handle_list_xattr``).  Not ``trusted.glusterfs.mdata``, which a 10.3
    brick lists too: its times come from the client (ctime feature) and are equal on every
    replica, while a fake brick stamps its own clock, so AFR would heal times on every lookup."""
    for name in names:
        if name in out or name in _LIST_IGNORED or name.startswith("trusted.gfid2path."):
            continue
        if not name.startswith(_NAMESPACES) or any(fnmatch.fnmatchcase(name, g) for g in _LIST_IGNORED_GLOBS):
            continue
        _add_xattr(store, gfid, name, out)


def _as_int(value: GfxValue) -> int:
    v = value.value
    if isinstance(v, int):
        return v
    try:
        return int(bytes(v).rstrip(b"\0") or b"0")
    except (TypeError, ValueError):
        return 0
