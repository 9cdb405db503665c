"""The FOP v400 procedures of a brick, on a :class:`~fakegluster.store.base.Store`.

Synchronous and IO-free apart from the store: each handler takes the decoded request
(``gfx_*_req`` dataclass) and returns the reply dataclass (plus raw data for READ).  The
semantics follow the posix xlator behind ``server-rpc-fops_v2.c`` (glusterfs v10.3):

* an ``OSError`` from the store becomes ``op_ret -1, op_errno`` (Linux errno values, which
  gluster uses unchanged) with every other reply field zero;
* new objects take the client's ``gfid-req`` (xdata GFUUID) as their gfid, a fresh one if
  absent; ``ia_ino`` is derived from the gfid;
* ``fd`` numbers are per connection, lowest free first; ``fd -2`` is the anonymous fd
  (operate on ``gfid`` as if opened O_RDWR); an unknown fd is ``EBADF``;
* READDIR/READDIRP list "." and ".." first; ``d_off`` is the cookie that continues after the
  entry; ``op_ret 0`` is the end of the directory.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import stat
import zlib
from collections.abc import Callable
from typing import Any

import trio

from ..proto import fops as F
from ..proto.common import NULL_GFID
from ..proto.events import Call
from ..proto.gfdict import GfDataType, GfxValue
from ..proto.record import Pieces
from ..proto.rpc import OpaqueAuth, decode_auth
from ..store.base import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    SEEK_DATA,
    SEEK_HOLE,
    Store,
    fs_error,
)
from .access import CHECKED, caller_of, check_access, new_owner, parent_default_acl
from .acl import Caller, apply_acl, inherit
from .brickstate import BrickState
from .handle import DEFERRED, Sliced
from .iatt import ZERO_IATT, d_type, ino_of, to_iatt, to_statfs
from .index import IndexFops
from .leasefops import LeaseFops, lease_id_of
from .leases import NULL_ID
from .lockfops import LockFops
from .upcall import after_fop, before_fop
from .xattrs import PreopFailed, XattrFops, entry_xattrs, layout_stale, preop_check
from .xdata import FILLED, entry_xdata, fill_reply_xdata

__all__ = ["OpenFd", "FdTable", "FopHandlers", "ANON_FD"]

ANON_FD = F.GF_ANON_FD_NO
O_ACCMODE = 0o3
O_WRONLY, O_RDWR, O_TRUNC, O_APPEND, O_EXCL, O_CREAT = 0o1, 0o2, 0o1000, 0o2000, 0o200, 0o100

# SETATTR valid bits (glusterfs/iatt.h GF_SET_ATTR_*)
SET_MODE, SET_UID, SET_GID, SET_SIZE, SET_ATIME, SET_MTIME = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
SET_ATIME_NOW, SET_MTIME_NOW = 0x80, 0x100
GF_SEEK_DATA, GF_SEEK_HOLE = 0, 1
#: Linux's cap on one read/write system call (INT_MAX rounded down to a page)
MAX_RW_COUNT = 0x7FFFF000
#: READs and WRITEs bigger than this are done a piece per slice of the connection's work
#: (net.Dispatcher), so a 64 MiB WRITE does not hold up the other clients
SLICE_IO = 1 << 20


@dataclasses.dataclass(eq=False)  # an fd is itself: two opens of one file are two fds
class OpenFd:
    gfid: bytes
    flags: int
    is_dir: bool = False
    #: the lease id features/leases gave it (None: opened while leases were off)
    lease_id: bytes | None = None
    entries: list[tuple[str, Any]] | None = None  # directory listing being read


class FdTable:
    """A connection's open fds: numbers from 0, lowest free first (like the server's fdtable)."""

    def __init__(self) -> None:
        self._fds: dict[int, OpenFd] = {}

    def add(self, ofd: OpenFd) -> int:
        n = 0
        while n in self._fds:
            n += 1
        self._fds[n] = ofd
        return n

    def get(self, fd: int) -> OpenFd:
        try:
            return self._fds[fd]
        except KeyError:
            raise fs_error(errno.EBADF) from None

    def pop(self, fd: int) -> OpenFd:
        try:
            return self._fds.pop(fd)
        except KeyError:
            raise fs_error(errno.EBADF) from None

    def __len__(self) -> int:
        return len(self._fds)

    def clear(self) -> list[OpenFd]:
        fds = list(self._fds.values())
        self._fds.clear()
        return fds


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


def _err(schema: Any, exc: OSError) -> Any:
    return schema(op_ret=-1, op_errno=exc.errno or errno.EIO)


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


class FopHandlers(IndexFops, LockFops, LeaseFops, XattrFops):
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
            return OpenFd(gfid, O_RDWR)
        return self.fds.get(fd)

    def caller(self, call: Call) -> Caller:
        """Who the call runs as (AUTH_GLUSTERFS, squashed by the brick's options)."""
        cred = call.cred
        if isinstance(cred, OpaqueAuth):  # the server keeps credentials raw until needed
            try:
                cred = decode_auth(cred)
            except ValueError:
                cred = None
        return caller_of(cred, self.state.options)

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
        self.store.unlink(a.pargfid, a.bname)
        self.state.unlinked(a.pargfid, a.bname)
        left = victim.nlink - 1
        # posix answers the link count left (dht asks for it; a 10.3 brick always sends it)
        return F.GfxCommon2iattRsp(0, 0, {"get-link-count": GfxValue.uint(max(left, 0))}, pre, self._iatt(a.pargfid))

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
        self.store.rename(a.oldgfid, a.oldbname, a.newgfid, a.newbname)
        self.state.unlinked(a.newgfid, a.newbname)
        self.state.unlinked(a.oldgfid, a.oldbname)
        self.state.linked(moved, a.newgfid, a.newbname)
        return F.GfxRenameRsp(
            0, 0, {}, self._iatt(moved), pre_old, self._iatt(a.oldgfid), pre_new, self._iatt(a.newgfid)
        )

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

    # ---- files --------------------------------------------------------------------------
    def op_open(self, a: F.GfxOpenReq, call: Call) -> F.GfxOpenRsp:
        attr = self.store.getattr(a.gfid)
        if stat.S_ISDIR(attr.mode) and a.flags & O_ACCMODE:
            raise fs_error(errno.EISDIR)
        if stat.S_ISLNK(attr.mode):
            raise fs_error(errno.ELOOP)
        if a.flags & O_TRUNC and a.flags & O_ACCMODE and stat.S_ISREG(attr.mode):
            self.store.truncate(a.gfid, 0)
        fd = self.opened_fd(
            OpenFd(a.gfid, a.flags, is_dir=stat.S_ISDIR(attr.mode), lease_id=self._fd_lease_id(a.xdata))
        )
        return F.GfxOpenRsp(0, 0, None, fd)

    def op_read(self, a: F.GfxReadReq, call: Call) -> tuple[F.GfxReadRsp | Sliced, Any]:
        ofd = self._fd(a.gfid, a.fd)
        if ofd.flags & O_ACCMODE == O_WRONLY:
            raise fs_error(errno.EBADF)
        # posix_readv's pread: Linux moves at most MAX_RW_COUNT bytes per call, so a 10.3
        # brick answers a READ of 2 GiB or more with 2147479552 bytes (op_ret stays an int32)
        size = min(a.size, MAX_RW_COUNT)
        if size > SLICE_IO:  # many MiB: a piece per slice, the others run in between
            return Sliced(self._read_sliced(ofd.gfid, a.offset, size)), b""
        data = self.store.read(ofd.gfid, a.offset, size)
        return self._read_reply(ofd.gfid, a.offset, len(data)), data

    def fast_read(self, call: Call) -> tuple[F.GfxReadRsp, Any] | None:
        """:meth:`handle` of a READ that none of the translators above posix changes (no data
        faults, leases, mandatory locking, upcalls or index entries; no xdata asked for) and
        that succeeds: the reply :meth:`op_read` gives through :meth:`handle_now`, without
        the lookups those layers make (4k reads at queue depth 1 wait for every µs of it).
        None: anything else, nothing done; :meth:`handle` answers it."""
        a = call.args
        state = self.state
        opts = state.options
        if (
            a.xdata
            or state.faults.active
            or state.upcalls.enabled
            or opts.leases
            or opts.mandatory_locking != "off"
            or state.index.subdirs
            or a.gfid in state.index.vgfids
            or a.size > SLICE_IO
        ):
            return None
        try:
            ofd = self._fd(a.gfid, a.fd)
            if ofd.flags & O_ACCMODE == O_WRONLY:
                return None
            data = self.store.read(ofd.gfid, a.offset, a.size)
            return self._read_reply(ofd.gfid, a.offset, len(data)), data
        except OSError:
            return None

    def _read_reply(self, gfid: bytes, offset: int, n: int) -> Any:
        post = self.store.getattr(gfid)
        # posix_readv sets op_errno ENOENT when the read reached the end of the file
        eof = offset + n >= post.size
        return F.GfxReadRsp(n, errno.ENOENT if eof else 0, to_iatt(post), n, None)

    def _read_sliced(self, gfid: bytes, offset: int, size: int) -> Any:
        pieces: list[Any] = []
        n = 0
        try:
            while n < size:
                piece = self.store.read(gfid, offset + n, min(SLICE_IO, size - n))
                if not piece:
                    break
                pieces.append(piece)
                n += len(piece)
                yield
            return self._read_reply(gfid, offset, n), pieces
        except OSError as exc:  # the file went away under the read
            return _err(F.GfxReadRsp, exc), b""

    def op_write(self, a: F.GfxWriteReq, call: Call) -> F.GfxCommon2iattRsp | tuple[Sliced, bytes]:
        ofd = self._fd(a.gfid, a.fd)
        if ofd.flags & O_ACCMODE == 0 or ofd.is_dir:
            raise fs_error(errno.EBADF)
        pre = self.store.getattr(ofd.gfid)
        offset = pre.size if ofd.flags & O_APPEND else a.offset
        data = call.payload
        if len(data) != a.size:
            raise fs_error(errno.EINVAL)
        faults = self.state.faults
        if faults.active:
            if faults.stale_writes:  # acknowledged, not stored
                return F.GfxCommon2iattRsp(len(data), 0, None, to_iatt(pre), to_iatt(pre))
            data = data[: faults.take(len(data))]
        if len(data) > SLICE_IO:  # many MiB: a piece per slice, the others run in between
            return Sliced(self._write_sliced(ofd.gfid, offset, data, pre)), b""
        if isinstance(data, Pieces):
            n = self.store.writev(ofd.gfid, offset, data.parts)
        else:
            n = self.store.write(ofd.gfid, offset, data)
        return F.GfxCommon2iattRsp(n, 0, None, to_iatt(pre), self._iatt(ofd.gfid))

    def _write_sliced(self, gfid: bytes, offset: int, data: Any, pre: Any) -> Any:
        """A big WRITE, :data:`SLICE_IO` bytes per step (the loop runs others between steps);
        a payload in :class:`Pieces` is written piece by piece, never joined."""
        if not isinstance(data, Pieces):
            data = memoryview(data)
        total = len(data)
        n = 0
        try:
            while n < total:
                step = data[n : n + SLICE_IO]
                if isinstance(step, Pieces):
                    k = self.store.writev(gfid, offset + n, step.parts)
                else:
                    k = self.store.write(gfid, offset + n, step)
                n += k
                if k < len(step):
                    break
                yield
        except OSError as exc:
            if not n:
                return _err(F.GfxCommon2iattRsp, exc), b""
        return F.GfxCommon2iattRsp(n, 0, None, to_iatt(pre), self._iatt(gfid)), b""

    def op_flush(self, a: F.GfxFlushReq, call: Call) -> F.GfxCommonRsp:
        ofd, fdkey = self._fd_key(a.gfid, a.fd)
        self.flush_locks(ofd.gfid, fdkey, call)
        return F.GfxCommonRsp(0, 0, None)

    def op_fsync(self, a: F.GfxFsyncReq, call: Call) -> F.GfxCommon2iattRsp:
        ofd = self._fd(a.gfid, a.fd)
        pre = self._iatt(ofd.gfid)
        self.store.fsync(ofd.gfid, datasync=bool(a.data))
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(ofd.gfid))

    def op_fsyncdir(self, a: F.GfxFsyncdirReq, call: Call) -> F.GfxCommonRsp:
        self.store.fsync(self._fd(a.gfid, a.fd).gfid)
        return F.GfxCommonRsp(0, 0, None)

    def _truncate(self, gfid: bytes, size: int) -> F.GfxCommon2iattRsp:
        pre = self._iatt(gfid)
        if not self.state.faults.stale_writes:
            self.store.truncate(gfid, size)
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(gfid))

    def op_truncate(self, a: F.GfxTruncateReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._truncate(a.gfid, a.offset)

    def op_ftruncate(self, a: F.GfxFtruncateReq, call: Call) -> F.GfxCommon2iattRsp:
        ofd = self._fd(a.gfid, a.fd)
        if ofd.flags & O_ACCMODE == 0:
            raise fs_error(errno.EINVAL)
        return self._truncate(ofd.gfid, a.offset)

    def _fallocate(self, gfid: bytes, mode: int, offset: int, size: int) -> F.GfxCommon2iattRsp:
        pre = self._iatt(gfid)
        faults = self.state.faults
        if faults.active and not mode & FALLOC_FL_PUNCH_HOLE and faults.take(size) < size:
            raise fs_error(errno.ENOSPC)
        if not faults.stale_writes:
            self.store.fallocate(gfid, mode, offset, size)
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(gfid))

    def op_fallocate(self, a: F.GfxFallocateReq, call: Call) -> F.GfxCommon2iattRsp:
        # posix_glfallocate only looks at keep_size: PUNCH_HOLE/ZERO_RANGE bits are ignored
        return self._fallocate(self._fd(a.gfid, a.fd).gfid, a.flags & FALLOC_FL_KEEP_SIZE, a.offset, a.size)

    def op_discard(self, a: F.GfxDiscardReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._fallocate(
            self._fd(a.gfid, a.fd).gfid, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a.offset, a.size
        )

    def op_zerofill(self, a: F.GfxZerofillReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._fallocate(self._fd(a.gfid, a.fd).gfid, FALLOC_FL_ZERO_RANGE, a.offset, a.size)

    def op_seek(self, a: F.GfxSeekReq, call: Call) -> F.GfxSeekRsp:
        ofd = self._fd(a.gfid, a.fd)
        whence = {GF_SEEK_DATA: SEEK_DATA, GF_SEEK_HOLE: SEEK_HOLE}.get(a.what)
        if whence is None:
            raise fs_error(errno.EINVAL)
        return F.GfxSeekRsp(0, 0, None, self.store.seek(ofd.gfid, a.offset, whence))

    def op_rchecksum(self, a: F.GfxRchecksumReq, call: Call) -> F.GfxRchecksumRsp:
        data = self.store.read(self._fd(a.gfid, a.fd).gfid, a.offset, a.len)
        xdata = {"fips-mode-rchecksum": GfxValue.int(1)}
        if a.xdata and "check-zero-filled" in a.xdata:  # (AFR's data self-heal skips zero blocks)
            xdata["buf-has-zeroes"] = GfxValue.uint(int(not any(data)))
        # gf_rsync_weak_checksum is adler32 started from 0; flags 1: the strong one is SHA-256
        return F.GfxRchecksumRsp(0, 0, xdata, 1, zlib.adler32(data, 0), hashlib.sha256(data).digest())

    def op_copy_file_range(self, a: F.GfxCopyFileRangeReq, call: Call) -> F.GfxCommon3iattRsp:
        src, dst = self._fd(a.gfid1, a.fd_in), self._fd(a.gfid2, a.fd_out)
        pre = self._iatt(dst.gfid)
        data = self.store.read(src.gfid, a.off_in, a.size)
        n = self.store.write(dst.gfid, a.off_out, data) if data else 0
        return F.GfxCommon3iattRsp(n, 0, None, self._iatt(src.gfid), pre, self._iatt(dst.gfid))

    def op_release(self, a: F.GfxReleaseReq, call: Call) -> F.GfxCommonRsp:
        try:
            ofd = self.fds.pop(a.fd)
        except OSError:
            pass  # a 10.3 brick answers success for an fd it does not know
        else:
            self.closed_fd(ofd)
        return F.GfxCommonRsp(0, 0, {})

    def _fd_lease_id(self, xdata: Any) -> bytes | None:
        """leases_open/create's fd context: the request's lease id (zeros without one)."""
        return (lease_id_of(xdata) or NULL_ID) if self.state.options.leases else None

    def opened_fd(self, ofd: OpenFd) -> int:
        """Register a new fd: its number, and the brick-wide open-fd count of its inode."""
        self.state.inode(ofd.gfid).open_fds.append(ofd)
        return self.fds.add(ofd)

    def closed_fd(self, ofd: OpenFd) -> None:
        """An fd is gone (RELEASE or disconnect): its posix locks go with it."""
        st = self.state.peek(ofd.gfid)
        if st is not None and ofd in st.open_fds:
            st.open_fds.remove(ofd)
        self.release_locks_of_fd(ofd.gfid, ofd)
        self.state.released(ofd.gfid)

    def close(self) -> None:
        """The connection ended: every fd is released (``server_connection_cleanup``)."""
        for ofd in self.fds.clear():
            self.closed_fd(ofd)

    op_releasedir = op_release

    # ---- directories --------------------------------------------------------------------
    def op_opendir(self, a: F.GfxOpendirReq, call: Call) -> F.GfxOpenRsp:
        attr = self.store.getattr(a.gfid)
        if not stat.S_ISDIR(attr.mode):
            raise fs_error(errno.ENOTDIR)
        # op_errno EINVAL on success, as posix_opendir leaves it (harmless: op_ret is 0)
        return F.GfxOpenRsp(0, errno.EINVAL, None, self.opened_fd(OpenFd(a.gfid, 0, is_dir=True)))

    def _listing(self, a: Any) -> tuple[list[tuple[str, Any]], int]:
        ofd = self._fd(a.gfid, a.fd)
        if a.fd == ANON_FD or not ofd.is_dir:
            if not stat.S_ISDIR(self.store.getattr(ofd.gfid).mode):
                raise fs_error(errno.ENOENT)
        if ofd.entries is None or a.offset == 0:
            me = self.store.getattr(ofd.gfid)
            up = self.store.getattr(self.store.parent(ofd.gfid))
            ofd.entries = [(".", me), ("..", up), *self.store.readdir(ofd.gfid)]
        return ofd.entries, a.offset

    def _entries(
        self, a: Any, per_entry: int, make: Callable[[int, int, str, Any, list[Any]], Any]
    ) -> tuple[list[Any], int]:
        """Entries from ``a.offset`` while their XDR size fits ``a.size`` (nothing that fits:
        op_ret 0 with op_errno 0, not the end); returns (entries, op_errno)."""
        entries, start = self._listing(a)
        start = min(start, len(entries))
        out, used = [], 0
        for i in range(start, len(entries)):
            name, attr = entries[i]
            raw = len(name.encode("utf-8", "surrogateescape"))
            cost = 32 + raw + (-raw % 4) + per_entry
            if used + cost > a.size:
                break
            used += cost
            out.append(make(i, raw, name, attr, entries))
        return out, _eof_errno(start, out, entries)

    def op_readdir(self, a: F.GfxReaddirReq, call: Call) -> F.GfxReaddirRsp:
        out, code = self._entries(
            a,
            0,
            lambda i, raw, name, attr, entries: F.GfxDirlist(
                ino_of(attr.gfid), _cookie(i, entries), raw, d_type(attr.mode), name
            ),
        )
        return F.GfxReaddirRsp(len(out), code, None, tuple(out))

    def op_readdirp(self, a: F.GfxReaddirpReq, call: Call) -> F.GfxReaddirpRsp:
        out, code = self._entries(
            a,
            148 + 12,
            lambda i, raw, name, attr, entries: F.GfxDirplist(
                ino_of(attr.gfid),
                _cookie(i, entries),
                raw,
                d_type(attr.mode),
                name,
                to_iatt(attr),
                entry_xdata(self, attr, name, a.xdata) if a.xdata else {},
            ),
        )
        return F.GfxReaddirpRsp(len(out), code, None, tuple(out))

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


#: The d_off of the last entry of a directory: ext4 gives its end-of-directory cookie.
EOF_COOKIE = (1 << 63) - 1


def _cookie(i: int, entries: list[Any]) -> int:
    return EOF_COOKIE if i == len(entries) - 1 else i + 1


def _eof_errno(start: int, out: list[Any], entries: list[Any]) -> int:
    """posix_do_readdir leaves ENOENT in op_errno once the end of the directory was read."""
    return errno.ENOENT if start + len(out) >= len(entries) else 0
