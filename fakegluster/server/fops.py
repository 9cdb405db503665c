"""The FOP v400 procedures of a brick, on a :class:`~fakegluster.store.base.Store`.

Synchronous and IO-free apart from the store: each handler takes the decoded request
(``gfx_*_req`` dataclass) and returns the reply dataclass (plus raw data for READ).  The
semantics follow the posix xlator behind ``server-rpc-fops_v2.c`` (glusterfs v10.3):

* an ``OSError`` from the store becomes ``op_ret -1, op_errno`` (Linux errno values, which
  gluster uses unchanged) with every other reply field zero;
* new objects take the client's ``gfid-req`` (xdata GFUUID) as their gfid; without one the
  call is EINVAL, as posix answers (a brick never invents gfids); ``ia_ino`` is derived from
  the gfid;
* the fd table and the FOPs on open fds (OPEN, the data FOPs, RELEASE, OPENDIR, READDIR[P])
  are :mod:`.fdfops`'s, a mixin like the xattr, lock, lease and index handlers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import stat
from collections.abc import Callable
from typing import Any

import trio

from ..proto import fops as F
from ..proto.common import NULL_GFID
from ..proto.events import Call
from ..proto.gfdict import GfDataType, GfxValue
from ..store.base import (
    Store,
    fs_error,
)
from .access import CHECKED, caller_of, check_access, new_owner, parent_default_acl
from .acl import Caller, apply_acl, inherit
from .brickstate import BrickState
from .fdfops import (
    ANON_FD,
    EOF_COOKIE,
    MAX_RW_COUNT,
    O_EXCL,
    O_RDWR,
    O_TRUNC,
    SLICE_IO,
    FdFops,
    FdTable,
    OpenFd,
    _err,
)
from .handle import DEFERRED, Sliced
from .iatt import ZERO_IATT, to_iatt, to_statfs
from .index import IndexFops
from .leasefops import LeaseFops
from .lockfops import LockFops, credentials
from .mdata import NEW_OBJECTS, stamp
from .upcall import after_fop, before_fop
from .xattrs import PreopFailed, XattrFops, entry_xattrs, layout_stale, preop_check
from .xdata import FILLED, fill_reply_xdata

__all__ = ["OpenFd", "FdTable", "FopHandlers", "ANON_FD", "SLICE_IO", "MAX_RW_COUNT", "EOF_COOKIE"]


# SETATTR valid bits (glusterfs/iatt.h GF_SET_ATTR_*)
SET_MODE, SET_UID, SET_GID, SET_SIZE, SET_ATIME, SET_MTIME = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
SET_ATIME_NOW, SET_MTIME_NOW = 0x80, 0x100


def _gfid_req(xdata: Any) -> bytes:
    """The new object's gfid: the client's ``gfid-req``.  posix refuses to create an object
    without one (EINVAL), so a real brick never invents gfids."""
    if xdata:
        v = xdata.get("gfid-req")
        if v is not None and v.type == GfDataType.GFUUID and v.value != NULL_GFID:
            return bytes(v.value)
    raise fs_error(errno.EINVAL, "gfid-req")


#: the FOPs mandatory locking looks at (pl_readv, pl_writev, truncate_stat_cbk, pl_open)
_MANDATORY = frozenset({"READ", "WRITE", "TRUNCATE", "FTRUNCATE", "OPEN"})
#: what features/locks holds while other clients lock the inode removed (PL_INODE_REMOVE)
_REMOVES = frozenset({"UNLINK", "RMDIR", "RENAME"})


def _echo(xdata: Any) -> dict[str, Any]:
    """posix_create answers with its request's xdata: the dict decoded from the wire (newest
    key first) serialized again, so in reverse order."""
    return dict(reversed(list(xdata.items())))


_RESOLVER_ERRNOS = (errno.EPERM, errno.ESTALE, errno.ENOENT)


def _error_xdata(proc: int, code: int, args: Any) -> Any:
    """What a 10.3 brick puts in xdata of a failed reply: errors from the posix layer (not
    from server-resolve) echo CREATE's ``gfid-req`` and give UNLINK/RENAME an empty dict."""
    if code in (errno.EPERM, errno.ESTALE, errno.EEXIST) or (proc != F.GfFop.CREATE and code in _RESOLVER_ERRNOS):
        return None
    if proc == F.GfFop.CREATE and args.xdata:
        return _echo(args.xdata)
    if proc in (F.GfFop.UNLINK, F.GfFop.RENAME):
        return {}
    return None


class FopHandlers(FdFops, IndexFops, LockFops, LeaseFops, XattrFops):
    """Handlers for one connection.  ``handle(call)`` -> (reply dataclass, payload), or
    ``(DEFERRED, b"")`` for a request answered later (a lock that must wait).

    ``state`` is the brick-wide :class:`~.brickstate.BrickState` (locks, open-fd counts);
    ``session`` the connection's ``BrickSession`` (``client_uid``, ``conn``), None in tests
    that drive the handlers alone."""

    def __init__(
        self, store: Store, fds: FdTable | None = None, *, state: BrickState | None = None, session: Any = None
    ) -> None:
        self.store = store
        self.fds = fds if fds is not None else FdTable()
        self.state = state if state is not None else BrickState()
        self.session = session
        self._table: dict[int, Callable[[Any, Call], Any]] = {}
        for num, proc in F.PROGRAM.procs.items():
            method = getattr(self, "op_" + proc.name.lower(), None)
            if method is not None:
                self._table[num] = method

    def handle(self, call: Call) -> tuple[Any, bytes | memoryview]:
        proc = F.PROGRAM.procs[call.proc]
        method = self._table.get(call.proc)
        if method is None:
            return _err(proc.reply, OSError(errno.ENOSYS, "no such FOP")), b""
        faults = self.state.faults
        if faults.active and (faults.cuts(self.session) or faults.delay_for(proc.name)):
            return self._faulted(call, proc.name)
        return self.handle_now(call)

    def handle_now(self, call: Call) -> tuple[Any, Any]:
        """``handle`` without the brick's data faults (partition, slowness)."""
        proc = F.PROGRAM.procs[call.proc]
        method = self._table[call.proc]
        try:
            if self.state.orphans and self.orphan_gone(proc.name, call.args):
                raise fs_error(errno.ENOENT)
            reply = self.index_call(proc.name, call.args, call)  # (features/index sits above the rest)
            if reply is not None:
                return reply, b""
            if self.state.options.leases:
                held = self.lease_check(proc.name, call.args, call, self.caller(call).pid)
                if held is not None:
                    return held
            if proc.name in _MANDATORY and self.state.options.mandatory_locking != "off":
                held = self.mandatory_check(proc.name, call.args, call)
                if held is not None:
                    return held
            removing = self.remove_prepare(proc.name, call.args, call) if proc.name in _REMOVES else None
            if removing is DEFERRED:
                return DEFERRED, b""
            if proc.name in CHECKED:
                check_access(self, proc.name, call.args, self.caller(call))
            victim = before_fop(self, proc.name, call.args) if self.state.upcalls.enabled else None
            try:
                out = method(call.args, call)
            finally:
                if isinstance(removing, bytes):
                    self.remove_done(removing)
            if isinstance(out, tuple) and isinstance(out[0], Sliced):  # (finished when its steps end)
                out[0].steps = self._finish_sliced(out[0].steps, proc, call, victim)
                return out
            return self._finish(proc, call, out, victim)
        except OSError as exc:
            return self._error(proc, call, exc)

    def _faulted(self, call: Call, name: str) -> tuple[Any, Any]:
        """A partitioned client's connection is closed; a slow brick answers later."""
        conn = getattr(self.session, "conn", None)
        if conn is None:  # (handlers driven without a connection: no faults)
            return self.handle_now(call)
        if self.state.faults.cuts(self.session):
            conn.close()
            return DEFERRED, b""
        trio.lowlevel.spawn_system_task(self._later, call, self.state.faults.delay_for(name))
        return DEFERRED, b""

    async def _later(self, call: Call, delay: float) -> None:
        await trio.sleep(delay)
        result, payload = self.handle_now(call)
        if isinstance(result, Sliced):
            try:
                while True:
                    next(result.steps)
                    await trio.lowlevel.checkpoint()
            except StopIteration as done:
                result, payload = done.value
        conn = self.session.conn
        if result is not DEFERRED and not conn.closed:
            conn.reply(call, result, payload)

    def _finish(self, proc: Any, call: Call, out: Any, victim: Any) -> tuple[Any, Any]:
        """What the translators above posix add to a successful reply: the xdata the request
        asked for, and upcalls to other clients."""
        if (self.store.foreign_gfids or proc.name in NEW_OBJECTS) and _succeeded(out):
            with contextlib.suppress(OSError):  # (posix_set_ctime only logs its failures)
                stamp(self.store, proc.name, call, out[0] if isinstance(out, tuple) else out)
        xdata = call.args.xdata
        if call.proc in FILLED and (xdata or (xdata is not None and call.proc == F.GfFop.WRITE)):
            out = fill_reply_xdata(self, call.proc, call.args, out)
        pair: tuple[Any, Any] = out if isinstance(out, tuple) else (out, b"")
        if xdata and call.proc in (F.GfFop.LOOKUP, F.GfFop.FSTAT) and pair[0] is not DEFERRED:
            count = self.link_count(xdata)
            if count:
                pair = (dataclasses.replace(pair[0], xdata={**count, **(pair[0].xdata or {})}), pair[1])
        if self.state.upcalls.enabled and pair[0] is not DEFERRED and pair[0].op_ret >= 0:
            self.state.notify(after_fop(self, proc.name, call.args, pair[0], victim))
        return pair

    def _finish_sliced(self, steps: Any, proc: Any, call: Call, victim: Any) -> Any:
        out = yield from steps
        try:
            return self._finish(proc, call, out, victim)
        except OSError as exc:
            return self._error(proc, call, exc)

    @staticmethod
    def _error(proc: Any, call: Call, exc: OSError) -> tuple[Any, bytes]:
        reply = _err(proc.reply, exc)
        xdata = _error_xdata(call.proc, reply.op_errno, call.args)
        if isinstance(exc, PreopFailed):
            reply = dataclasses.replace(reply, op_errno=exc.reply_errno)
            xdata = {"glusterfs.preop.check.failed": GfxValue.int(1)}
            if call.proc == F.GfFop.CREATE:  # posix_create answers with its xdata, the keys checked gone
                rest = {k: v for k, v in call.args.xdata.items() if k != "glusterfs.preop.parent.key"}
                rest.pop(str(exc.filename or ""), None)
                xdata.update(_echo(rest))
        return (dataclasses.replace(reply, xdata=xdata) if xdata is not None else reply), b""

    # ---- helpers ------------------------------------------------------------------------
    def _iatt(self, gfid: bytes) -> Any:
        return to_iatt(self.store.getattr(gfid))

    def _fd(self, gfid: bytes, fd: int) -> OpenFd:
        if fd == ANON_FD:
            try:
                self.store.getattr(gfid)
            except OSError as exc:  # resolving an anonymous fd is a nameless lookup: ENOENT
                raise fs_error(errno.ENOENT if exc.errno == errno.ESTALE else exc.errno or errno.EIO) from None
            if self.state.orphans.get(gfid) is False:  # replaced by a rename: no handle to open
                raise fs_error(errno.ENOENT)
            return OpenFd(gfid, O_RDWR)
        return self.fds.get(fd)

    def caller(self, call: Call) -> Caller:
        """Who the call runs as (AUTH_GLUSTERFS, squashed by the brick's options)."""
        return caller_of(credentials(call), self.state.options)

    def _new_object(self, call: Call, pargfid: bytes, mode: int, umask: int, is_dir: bool) -> tuple[Any, ...]:
        """(uid, gid, mode, access ACL, default ACL) of a new object: the caller's (a
        set-group-id parent's group), and the parent's default ACL inherited instead of the
        umask (``posix_acl_inherit``)."""
        caller = self.caller(call)
        default = parent_default_acl(self.store, pargfid)
        access = None
        if default:
            access, mode = inherit(default, mode)
        else:
            mode = (mode & ~0o7777) | (mode & ~umask & 0o7777)
        uid, gid, mode = new_owner(self.store, pargfid, caller, mode, is_dir)
        return uid, gid, mode, access, (default if is_dir else None)

    def _set_acls(self, gfid: bytes, access: Any, default: Any) -> None:
        if access:
            apply_acl(self.store, gfid, False, access)
        if default:
            apply_acl(self.store, gfid, True, default)

    def _parent(self, pargfid: bytes, name: str, need: str) -> Any:
        """server-resolve.c's entry resolution, before posix runs (checked on a 10.3 brick).

        ``need``: ``"exist"`` (unlink, rmdir, rename source), ``"new"`` (mkdir, mknod,
        symlink, link target) or ``"create"``.  Returns the parent's iatt.
        """
        attr = self.store.getattr(pargfid)  # ESTALE for an unknown parent
        if not stat.S_ISDIR(attr.mode) or "/" in name or "\0" in name:
            raise fs_error(errno.EPERM, name)
        if name in ("", ".", ".."):
            raise fs_error({"exist": errno.ENOENT, "new": errno.EEXIST, "create": errno.EISDIR}[need], name)
        return to_iatt(attr)

    def _entry_reply(
        self, pargfid: bytes, name: str, make: Callable[[bytes], Any], xdata: Any = None
    ) -> F.GfxCommon3iattRsp:
        pre = self._parent(pargfid, name, "new")
        attr = make(_gfid_req(xdata))
        self.state.linked(attr.gfid, pargfid, name)
        entry_xattrs(self.store, attr.gfid, xdata)
        return F.GfxCommon3iattRsp(0, 0, None, to_iatt(attr), pre, self._iatt(pargfid))

    # ---- inode operations ---------------------------------------------------------------
    def op_lookup(self, a: F.GfxLookupReq, call: Call) -> F.GfxCommon2iattRsp:
        if a.pargfid == NULL_GFID:
            if a.gfid == NULL_GFID:
                raise fs_error(errno.EINVAL, "no gfid")  # (server-resolve: nothing to resolve)
            try:
                attr = self.store.getattr(a.gfid)
            except OSError as exc:  # a nameless lookup of an unknown gfid is ENOENT, not ESTALE
                raise fs_error(errno.ENOENT if exc.errno == errno.ESTALE else exc.errno or errno.EIO) from None
            post = ZERO_IATT
            if attr.gfid != self.store.root_gfid and stat.S_ISDIR(attr.mode):
                post = self._iatt(self.store.parent(attr.gfid))
            return F.GfxCommon2iattRsp(0, 0, {}, to_iatt(attr), post)
        parent = self.store.getattr(a.pargfid)
        if not stat.S_ISDIR(parent.mode) or "/" in a.bname or "\0" in a.bname:
            raise fs_error(errno.EPERM, a.bname)
        if not a.bname:
            raise fs_error(errno.EINVAL)
        try:
            if a.bname == ".":  # libgfapi resolves lstat(".") by a named lookup of "."
                attr = self.store.getattr(a.pargfid)
            elif a.bname == "..":
                attr = self.store.getattr(self.store.parent(a.pargfid))
            else:
                attr = self.store.lookup(a.pargfid, a.bname)
        except OSError as exc:
            if exc.errno == errno.ENOENT:  # no stats at all (server4_lookup_cbk skips them on failure)
                return F.GfxCommon2iattRsp(-1, errno.ENOENT, None, ZERO_IATT, ZERO_IATT)
            raise
        if a.bname not in (".", ".."):
            self.state.linked(attr.gfid, a.pargfid, a.bname)
        return F.GfxCommon2iattRsp(0, 0, {}, to_iatt(attr), self._iatt(a.pargfid))

    def op_stat(self, a: F.GfxStatReq, call: Call) -> F.GfxCommonIattRsp:
        return F.GfxCommonIattRsp(0, 0, None, self._iatt(a.gfid))

    def op_fstat(self, a: F.GfxFstatReq, call: Call) -> F.GfxCommonIattRsp:
        ofd = self._fd(a.gfid, a.fd)
        return F.GfxCommonIattRsp(0, 0, None, self._iatt(ofd.gfid))

    def op_access(self, a: F.GfxAccessReq, call: Call) -> F.GfxCommonRsp:
        self.store.getattr(a.gfid)
        return F.GfxCommonRsp(0, 0, None)

    def op_statfs(self, a: F.GfxStatfsReq, call: Call) -> F.GfxStatfsRsp:
        if a.gfid == NULL_GFID:
            raise fs_error(errno.EINVAL)
        self.store.getattr(a.gfid)
        vfs = self.store.statfs()
        if self.state.faults.space is not None:  # a disk filled by a fault
            free = self.state.faults.space // max(vfs.frsize, 1)
            vfs = dataclasses.replace(vfs, bfree=free, bavail=free)
        return F.GfxStatfsRsp(0, 0, None, to_statfs(vfs))

    def op_readlink(self, a: F.GfxReadlinkReq, call: Call) -> F.GfxReadlinkRsp:
        if a.size == 0:
            raise fs_error(errno.EINVAL)
        target = self.store.readlink(a.gfid)
        return F.GfxReadlinkRsp(
            len(target.encode("utf-8", "surrogateescape")), errno.EINVAL, None, self._iatt(a.gfid), target
        )

    def _setattr(self, gfid: bytes, st: Any, valid: int) -> F.GfxCommon2iattRsp:
        """``posix_setattr``: chown, then chmod, then ``posix_do_utimes`` (utimensat), each
        applied as it comes, so an invalid time fails with EINVAL after the mode changed
        (both seen on a 10.3 brick)."""
        pre = self._iatt(gfid)
        now = self.store.clock()
        kw: dict[str, Any] = {}
        if valid & SET_UID:
            kw["uid"] = st.ia_uid
        if valid & SET_GID:
            kw["gid"] = st.ia_gid
        if valid & SET_MODE:
            kw["mode"] = st.mode & 0o7777
        times: dict[str, Any] = {}
        if valid & SET_ATIME_NOW:
            times["atime_ns"] = now
        elif valid & SET_ATIME:
            times["atime_ns"] = _utimens(st.ia_atime, st.ia_atime_nsec, now)
        if valid & SET_MTIME_NOW:
            times["mtime_ns"] = now
        elif valid & SET_MTIME:
            times["mtime_ns"] = _utimens(st.ia_mtime, st.ia_mtime_nsec, now)
        if any(t is _EINVAL for t in times.values()):
            if kw:
                self.store.setattr(gfid, **kw)
            raise fs_error(errno.EINVAL)
        kw.update((k, t) for k, t in times.items() if t is not _OMIT)
        # GF_SET_ATTR_SIZE is ignored by a 10.3 brick: sizes change through (F)TRUNCATE only
        attr = self.store.setattr(gfid, **kw) if kw else self.store.getattr(gfid)
        return F.GfxCommon2iattRsp(0, 0, None, pre, to_iatt(attr))

    def op_setattr(self, a: F.GfxSetattrReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._setattr(a.gfid, self._sgid(a.gfid, a.stbuf, a.valid, call), a.valid)

    def op_fsetattr(self, a: F.GfxFsetattrReq, call: Call) -> F.GfxCommon2iattRsp:
        gfid = self._fd(a.gfid, a.fd).gfid
        return self._setattr(gfid, self._sgid(gfid, a.stbuf, a.valid, call), a.valid)

    def _sgid(self, gfid: bytes, st: Any, valid: int, call: Call) -> Any:
        """A chmod by someone outside the file's group drops S_ISGID (``setattr_scrutiny``)."""
        if valid & SET_MODE and st.mode & stat.S_ISGID:
            caller = self.caller(call)
            if not caller.superuser and not caller.in_group(self.store.getattr(gfid).gid):
                return dataclasses.replace(st, mode=st.mode & ~stat.S_ISGID)
        return st

    # ---- namespace ----------------------------------------------------------------------
    def op_mkdir(self, a: F.GfxMkdirReq, call: Call) -> F.GfxCommon3iattRsp:
        if a.xdata and "glusterfs.preop.parent.key" in a.xdata:
            self._parent(a.pargfid, a.bname, "new")
            a = dataclasses.replace(a, xdata=preop_check(self.store, a.pargfid, a.xdata))
        return self._new_entry(
            a,
            call,
            True,
            lambda g, uid, gid, mode: self.store.mkdir(a.pargfid, a.bname, mode, uid=uid, gid=gid, gfid=g),
        )

    def op_mknod(self, a: F.GfxMknodReq, call: Call) -> F.GfxCommon3iattRsp:
        return self._new_entry(
            a,
            call,
            False,
            lambda g, uid, gid, mode: self.store.mknod(a.pargfid, a.bname, mode, a.dev, uid=uid, gid=gid, gfid=g),
        )

    def op_symlink(self, a: F.GfxSymlinkReq, call: Call) -> F.GfxCommon3iattRsp:
        caller = self.caller(call)
        return self._entry_reply(
            a.pargfid,
            a.bname,
            lambda g: self.store.symlink(
                a.pargfid, a.bname, a.linkname, gfid=g, **dict(zip(("uid", "gid"), self._symlink_owner(a, caller)))
            ),
            a.xdata,
        )

    def _symlink_owner(self, a: Any, caller: Caller) -> tuple[int, int]:
        uid, gid, _ = new_owner(self.store, a.pargfid, caller, 0, False)
        return uid, gid

    def _new_entry(self, a: Any, call: Call, is_dir: bool, make: Callable[..., Any]) -> F.GfxCommon3iattRsp:
        """MKDIR/MKNOD: owner, mode and ACLs as posix and the access-control translator set
        them (see :meth:`_new_object`)."""
        pre = self._parent(a.pargfid, a.bname, "new")
        mode = a.mode if is_dir else a.mode
        uid, gid, mode, access, default = self._new_object(call, a.pargfid, mode, a.umask, is_dir)
        attr = make(_gfid_req(a.xdata), uid, gid, mode if not is_dir else mode & 0o7777)
        self.state.linked(attr.gfid, a.pargfid, a.bname)
        entry_xattrs(self.store, attr.gfid, a.xdata)
        self._set_acls(attr.gfid, access, default)
        return F.GfxCommon3iattRsp(0, 0, None, self._iatt(attr.gfid), pre, self._iatt(a.pargfid))

    def op_link(self, a: F.GfxLinkReq, call: Call) -> F.GfxCommon3iattRsp:
        self.store.getattr(a.oldgfid)
        pre = self._parent(a.newgfid, a.newbname, "new")
        if stat.S_ISDIR(self.store.getattr(a.oldgfid).mode):
            raise fs_error(errno.EPERM)
        attr = self.store.link(a.oldgfid, a.newgfid, a.newbname)
        self.state.linked(attr.gfid, a.newgfid, a.newbname)
        return F.GfxCommon3iattRsp(0, 0, None, to_iatt(attr), pre, self._iatt(a.newgfid))

    def op_unlink(self, a: F.GfxUnlinkReq, call: Call) -> F.GfxCommon2iattRsp:
        pre = self._parent(a.pargfid, a.bname, "exist")
        victim = self.store.lookup(a.pargfid, a.bname)
        keep = self.keep_open(victim)
        self.store.unlink(a.pargfid, a.bname, keep=keep)
        if keep:
            self.state.orphans[victim.gfid] = True
        self.state.unlinked(a.pargfid, a.bname)
        return F.GfxCommon2iattRsp(0, 0, _link_counts(a.xdata, victim.nlink, keep), pre, self._iatt(a.pargfid))

    def op_rmdir(self, a: F.GfxRmdirReq, call: Call) -> F.GfxCommon2iattRsp:
        pre = self._parent(a.pargfid, a.bname, "exist")
        self.store.rmdir(a.pargfid, a.bname)
        self.state.unlinked(a.pargfid, a.bname)
        # (a real brick leaves whatever errno posix last saw in op_errno here; it varies)
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(a.pargfid))

    def op_rename(self, a: F.GfxRenameReq, call: Call) -> F.GfxRenameRsp:
        pre_old = self._parent(a.oldgfid, a.oldbname, "exist")
        moved = self.store.lookup(a.oldgfid, a.oldbname).gfid
        pre_new = self._parent(a.newgfid, a.newbname, "new")
        replaced = self._replaced(moved, a.newgfid, a.newbname)
        self.store.rename(a.oldgfid, a.oldbname, a.newgfid, a.newbname, keep=replaced is not None)
        if replaced is not None:
            self.state.orphans[replaced] = False
        self.state.unlinked(a.newgfid, a.newbname)
        self.state.unlinked(a.oldgfid, a.oldbname)
        self.state.linked(moved, a.newgfid, a.newbname)
        return F.GfxRenameRsp(
            0, 0, {}, self._iatt(moved), pre_old, self._iatt(a.oldgfid), pre_new, self._iatt(a.newgfid)
        )

    def _replaced(self, moved: bytes, pargfid: bytes, name: str) -> bytes | None:
        """The gfid of an open file a rename replaces (it lives on as an orphan), or None."""
        try:
            dst = self.store.lookup(pargfid, name)
        except OSError:
            return None
        return dst.gfid if dst.gfid != moved and self.keep_open(dst) else None

    def op_create(self, a: F.GfxCreateReq, call: Call) -> F.GfxCreateRsp:
        pre = self._parent(a.pargfid, a.bname, "create")
        if a.xdata and "glusterfs.preop.parent.key" in a.xdata:
            try:
                self.store.lookup(a.pargfid, a.bname)
            except OSError:  # only for a new name (posix_create's was_present)
                a = dataclasses.replace(a, xdata=layout_stale(self.store, a.pargfid, a.xdata))
        uid, gid, mode, access, _ = self._new_object(call, a.pargfid, a.mode & 0o7777, a.umask, False)
        attr, created = self.store.create(
            a.pargfid,
            a.bname,
            mode & 0o7777,
            uid=uid,
            gid=gid,
            gfid=_gfid_req(a.xdata),
            exclusive=bool(a.flags & O_EXCL),
        )
        self.state.linked(attr.gfid, a.pargfid, a.bname)
        if created:
            entry_xattrs(self.store, attr.gfid, a.xdata)
            self._set_acls(attr.gfid, access, None)
            attr = self.store.getattr(attr.gfid)
        if not created and a.flags & O_TRUNC and attr.size:
            self.store.truncate(attr.gfid, 0)
            attr = self.store.getattr(attr.gfid)
        fd = self.opened_fd(OpenFd(attr.gfid, a.flags, lease_id=self._fd_lease_id(a.xdata)))
        return F.GfxCreateRsp(0, 0, _echo(a.xdata) if a.xdata else None, to_iatt(attr), fd, pre, self._iatt(a.pargfid))

    # ---- the rest ----------------------------------------------------------------------
    def op_icreate(self, a: F.GfxIcreateReq, call: Call) -> F.GfxCommonIattRsp:
        # a 10.3 brick answers ESTALE (no namespace-less inodes without RIO)
        raise fs_error(errno.ESTALE)

    def op_namelink(self, a: F.GfxNamelinkReq, call: Call) -> F.GfxCommon2iattRsp:
        # a 10.3 brick crashes on NAMELINK (seen: glusterfsd dies); we answer instead
        raise fs_error(errno.ENOSYS)

    def op_ipc(self, a: F.GfxIpcReq, call: Call) -> F.GfxCommonRsp:
        # a 10.3 brick's xlator stack accepts IPC ops 0 and 2 and refuses the rest
        if a.op in (0, 2):
            return F.GfxCommonRsp(0, 0, None)
        return F.GfxCommonRsp(-1, errno.EOPNOTSUPP, None)

    def op_getactivelk(self, a: F.GfxGetactivelkReq, call: Call) -> F.GfxGetactivelkRsp:
        self.store.getattr(a.gfid)
        return F.GfxGetactivelkRsp(0, 0, None, ())

    def op_setactivelk(self, a: F.GfxSetactivelkReq, call: Call) -> F.GfxCommonRsp:
        self.store.getattr(a.gfid)
        return F.GfxCommonRsp(0, 0, None)


#: utimensat's special tv_nsec values (linux/stat.h)
UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2
#: ext4's timestamp range (256-byte inodes): the kernel clamps times to it and then drops
#: the nanoseconds at either bound (``timestamp_truncate``); a 10.3 brick on ext4 reports
#: 2^63-1 s as 15032385535 and -2^63 s as -2^31.
EXT4_TIME_MIN, EXT4_TIME_MAX = -(1 << 31), (1 << 31) - 1 + (3 << 32)
_EINVAL, _OMIT = object(), object()


def _succeeded(out: Any) -> bool:
    reply = out[0] if isinstance(out, tuple) else out
    return reply is not DEFERRED and reply.op_ret >= 0


def _link_counts(xdata: Any, nlink: int, kept: bool) -> dict[str, GfxValue]:
    """UNLINK's reply xdata (posix_unlink, read off a 10.3 brick): ``get-link-count`` always,
    0 unless asked for; then the file's lstat just before the unlink, less its gfid handle:
    the names it had when more than one, else 0 (the handle already went), or 1 while open
    (the handle moved to .glusterfs/unlink).  ``gf_request_link_count`` adds
    ``gf_response_link_count``, the names it had (posix_dict_set_nlink; set last, so first)."""
    count = 0
    if xdata and "get-link-count" in xdata:
        count = nlink if nlink > 1 else int(kept)
    out = {"get-link-count": GfxValue.uint(count)}
    if xdata and "gf_request_link_count" in xdata:
        out = {"gf_response_link_count": GfxValue.uint(nlink), **out}
    return out


def _utimens(sec: int, nsec: int, now: int) -> Any:
    """One timestamp of a SETATTR as utimensat takes it: nanoseconds since the epoch,
    ``_OMIT``, or ``_EINVAL`` (tv_nsec out of range: the call fails, nothing is set)."""
    if nsec == UTIME_NOW:
        return now
    if nsec == UTIME_OMIT:
        return _OMIT
    if nsec >= 1_000_000_000:
        return _EINVAL
    if sec <= EXT4_TIME_MIN or sec >= EXT4_TIME_MAX:
        return min(max(sec, EXT4_TIME_MIN), EXT4_TIME_MAX) * 1_000_000_000
    return sec * 1_000_000_000 + nsec
