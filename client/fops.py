"""Typed FOP calls (program 1298437 version 400) with the credentials libgfapi would send.

:class:`Fops` builds each request from the schemas of :mod:`fakegluster.proto.fops` and
sends it into the top of the client graph (:mod:`gfclient.graph`); a failure comes back as
``OSError(op_errno, strerror, path)``.  fd-based calls take the graph's
:class:`~gfclient.xl.base.Fd` (each brick puts in its own fd number).

Credentials: application FOPs carry the process's pid/uid/gid and the pid as lk_owner;
RELEASE/RELEASEDIR carry pid 0 (they come from the fd's destruction, not a caller).  When
the volfile has ``features/utime``, the v3 credential gets the flags and ctime that xlator
puts on the frames it handles (``utime_update_attribute_flags``): CREATE/MKDIR/MKNOD/SYMLINK
31, UNLINK/RMDIR/RENAME/LINK 25, WRITE/TRUNCATE/FTRUNCATE 3, FALLOCATE/ZEROFILL 6,
REMOVEXATTR 1, OPEN/OPENDIR/READ 4 (0 with ``noatime``), SETATTR per ``valid``; every other
FOP 0 with a zero ctime.  The brick's ctime feature only updates times when these flags ask
for it, so they matter.

Named LOOKUPs and CREATE/MKDIR/MKNOD/SYMLINK carry a fresh ``gfid-req`` (GFUUID) in xdata.
"""

from __future__ import annotations

import errno
import logging
import time
import uuid
from typing import Any

from fakegluster.proto import fops as F
from fakegluster.proto.common import NULL_GFID, GfxIattx
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue

from .errors import GlusterConnectionError, RpcError
from .graph import ClientGraph
from .rpc import INTERNAL, Identity
from .xl.base import Fd

log = logging.getLogger("gfclient.fops")

__all__ = ["Fops", "SETATTR", "XATTR_CREATE", "XATTR_REPLACE", "SEEK_DATA", "SEEK_HOLE", "READDIR_SIZE"]

# gfx_setattr_req.valid bits (GF_SET_ATTR_* / GF_ATTR_*_NOW)
SETATTR = {
    "MODE": 0x1,
    "UID": 0x2,
    "GID": 0x4,
    "SIZE": 0x8,
    "ATIME": 0x10,
    "MTIME": 0x20,
    "CTIME": 0x40,
    "ATIME_NOW": 0x80,
    "MTIME_NOW": 0x100,
}
XATTR_CREATE, XATTR_REPLACE = 1, 2
SEEK_DATA, SEEK_HOLE = 0, 1
READDIR_SIZE = 131072

_MDATA_CTIME, _MDATA_MTIME, _MDATA_ATIME, _MDATA_PAR_CTIME, _MDATA_PAR_MTIME = 1, 2, 4, 8, 16
_UTIME_FLAGS = {
    GfFop.CREATE: 31,
    GfFop.MKDIR: 31,
    GfFop.MKNOD: 31,
    GfFop.SYMLINK: 31,
    GfFop.UNLINK: 25,
    GfFop.RMDIR: 25,
    GfFop.RENAME: 25,
    GfFop.LINK: 25,
    GfFop.WRITE: 3,
    GfFop.TRUNCATE: 3,
    GfFop.FTRUNCATE: 3,
    GfFop.FALLOCATE: 6,
    GfFop.ZEROFILL: 6,
    GfFop.REMOVEXATTR: 1,
    GfFop.FREMOVEXATTR: 1,
    GfFop.OPEN: _MDATA_ATIME,
    GfFop.OPENDIR: _MDATA_ATIME,
    GfFop.READ: _MDATA_ATIME,
}
_ATIME_ONLY = (GfFop.OPEN, GfFop.OPENDIR, GfFop.READ)


def _gfid_req() -> dict[str, GfxValue]:
    return {"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}


class Fops:
    """FOP calls for one mounted volume (see the module docstring)."""

    def __init__(self, graph: ClientGraph, *, pid: int, uid: int, gid: int, groups: tuple[int, ...] = ()) -> None:
        self.graph = graph
        self.top = graph.top
        self.app = Identity(pid=pid, uid=uid, gid=gid, groups=tuple(groups))

    # ---- plumbing ----------------------------------------------------------------------
    def identity(self, proc: GfFop, *, internal: bool = False, valid: int = 0, stbuf: Any = None) -> Identity:
        base = INTERNAL if internal else self.app
        if not self.graph.utime:
            return base
        now = time.time_ns()
        if proc in (GfFop.SETATTR, GfFop.FSETATTR):
            flags = 0
            if not valid or valid & (SETATTR["UID"] | SETATTR["GID"] | SETATTR["MODE"]):
                flags |= _MDATA_CTIME
            if valid & (SETATTR["ATIME"] | SETATTR["MTIME"]) and stbuf is not None:
                if valid & SETATTR["ATIME_NOW"]:
                    now = stbuf.ia_atime * 1_000_000_000 + stbuf.ia_atime_nsec
                elif valid & SETATTR["MTIME_NOW"]:
                    now = stbuf.ia_mtime * 1_000_000_000 + stbuf.ia_mtime_nsec
            return _with(base, flags, now)
        known = _UTIME_FLAGS.get(proc)
        if known is None:
            return base
        if proc in _ATIME_ONLY and self.graph.noatime:
            known = 0
        return _with(base, known, now)

    async def call(
        self,
        proc: GfFop,
        args: Any,
        *,
        path: str | None = None,
        payload: bytes | memoryview = b"",
        internal: bool = False,
        ident: Identity | None = None,
        fd: Fd | None = None,
    ) -> Any:
        """Send ``proc`` down the graph; return the result (READ: ``(rsp, data)``), or raise
        OSError (with ``path`` as its filename).  Every FOP is logged at DEBUG
        (``gfclient.fops``: name, path, outcome)."""
        top = self.top if fd is None or fd.top is None else fd.top  # an fd stays in its graph
        try:
            result = await top.call(proc, args, ident or self.identity(proc, internal=internal), fd=fd, payload=payload)
        except (GlusterConnectionError, RpcError):
            raise
        except OSError as exc:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s: %s", proc.name, path or "", errno.errorcode.get(exc.errno or 0, exc.errno))
            if path is None or exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, path) from None
        if log.isEnabledFor(logging.DEBUG):
            rsp = result[0] if proc == GfFop.READ else result
            log.debug("%s %s: %d", proc.name, path or "", rsp.op_ret)
        return result

    # ---- namespace ---------------------------------------------------------------------
    async def lookup(self, pargfid: bytes, name: str, path: str | None = None) -> Any:
        """Named LOOKUP; returns the reply (``prestat`` = the entry, ``poststat`` = parent)."""
        return await self.call(GfFop.LOOKUP, F.GfxLookupReq(NULL_GFID, pargfid, 0, name, _gfid_req()), path=path)

    async def lookup_gfid(self, gfid: bytes, path: str | None = None) -> Any:
        """Nameless LOOKUP by gfid (the root, or revalidation)."""
        return await self.call(GfFop.LOOKUP, F.GfxLookupReq(gfid, NULL_GFID, 0, "", None), path=path)

    async def stat(self, gfid: bytes, path: str | None = None) -> Any:
        return (await self.call(GfFop.STAT, F.GfxStatReq(gfid, None), path=path)).stat

    async def mkdir(self, pargfid: bytes, name: str, mode: int, path: str | None = None) -> Any:
        return (await self.call(GfFop.MKDIR, F.GfxMkdirReq(pargfid, mode, 0, name, _gfid_req()), path=path)).stat

    async def mknod(self, pargfid: bytes, name: str, mode: int, dev: int, path: str | None = None) -> Any:
        return (await self.call(GfFop.MKNOD, F.GfxMknodReq(pargfid, dev, mode, 0, name, _gfid_req()), path=path)).stat

    async def symlink(self, pargfid: bytes, name: str, target: str, path: str | None = None) -> Any:
        return (await self.call(GfFop.SYMLINK, F.GfxSymlinkReq(pargfid, name, 0, target, _gfid_req()), path=path)).stat

    async def readlink(self, gfid: bytes, path: str | None = None) -> str:
        return str((await self.call(GfFop.READLINK, F.GfxReadlinkReq(gfid, 4096, None), path=path)).path)

    async def unlink(self, pargfid: bytes, name: str, path: str | None = None) -> None:
        await self.call(GfFop.UNLINK, F.GfxUnlinkReq(pargfid, name, 0, None), path=path)

    async def rmdir(self, pargfid: bytes, name: str, path: str | None = None) -> None:
        await self.call(GfFop.RMDIR, F.GfxRmdirReq(pargfid, 0, name, None), path=path)

    async def rename(self, oldpar: bytes, oldname: str, newpar: bytes, newname: str, path: str | None = None) -> Any:
        return await self.call(GfFop.RENAME, F.GfxRenameReq(oldpar, newpar, oldname, newname, None), path=path)

    async def link(self, gfid: bytes, newpar: bytes, newname: str, path: str | None = None) -> Any:
        return (await self.call(GfFop.LINK, F.GfxLinkReq(gfid, newpar, newname, None), path=path)).stat

    async def truncate(self, gfid: bytes, size: int, path: str | None = None) -> Any:
        return (await self.call(GfFop.TRUNCATE, F.GfxTruncateReq(gfid, size, None), path=path)).poststat

    async def setattr(self, gfid: bytes, valid: int, *, path: str | None = None, **fields: Any) -> Any:
        stbuf = GfxIattx(**fields)
        ident = self.identity(GfFop.SETATTR, valid=valid, stbuf=stbuf)
        return (
            await self.call(GfFop.SETATTR, F.GfxSetattrReq(gfid, stbuf, valid, None), path=path, ident=ident)
        ).poststat

    async def statfs(self, gfid: bytes, path: str | None = None) -> Any:
        return (await self.call(GfFop.STATFS, F.GfxStatfsReq(gfid, None), path=path)).statfs

    async def access(self, gfid: bytes, mask: int, path: str | None = None) -> None:
        """ACCESS: the brick checks ``mask`` (F_OK or R_OK|W_OK|X_OK) for the caller; OSError if denied."""
        await self.call(GfFop.ACCESS, F.GfxAccessReq(gfid, mask, None), path=path)

    # ---- xattrs ------------------------------------------------------------------------
    async def getxattr(self, gfid: bytes, name: str | None, path: str | None = None) -> dict[str, bytes]:
        req = F.GfxGetxattrReq(gfid, 1 if name else 0, name or "", None)
        rsp = await self.call(GfFop.GETXATTR, req, path=path)
        return {k: _xattr_bytes(v) for k, v in (rsp.dict or {}).items()}

    async def setxattr(self, gfid: bytes, name: str, value: bytes, flags: int, path: str | None = None) -> None:
        await self.call(GfFop.SETXATTR, F.GfxSetxattrReq(gfid, flags, {name: GfxValue.ptr(value)}, None), path=path)

    async def removexattr(self, gfid: bytes, name: str, path: str | None = None) -> None:
        await self.call(GfFop.REMOVEXATTR, F.GfxRemovexattrReq(gfid, name, None), path=path)

    async def fgetxattr(self, fd: Fd, name: str | None, path: str | None = None) -> dict[str, bytes]:
        req = F.GfxFgetxattrReq(fd.gfid, -1, 1 if name else 0, name or "", None)
        rsp = await self.call(GfFop.FGETXATTR, req, path=path, fd=fd)
        return {k: _xattr_bytes(v) for k, v in (rsp.dict or {}).items()}

    async def fsetxattr(self, fd: Fd, name: str, value: bytes, flags: int, path: str | None = None) -> None:
        req = F.GfxFsetxattrReq(fd.gfid, -1, flags, {name: GfxValue.ptr(value)}, None)
        await self.call(GfFop.FSETXATTR, req, path=path, fd=fd)

    async def fremovexattr(self, fd: Fd, name: str, path: str | None = None) -> None:
        await self.call(GfFop.FREMOVEXATTR, F.GfxFremovexattrReq(fd.gfid, -1, name, None), path=path, fd=fd)

    # ---- fds ---------------------------------------------------------------------------
    def use(self, graph: ClientGraph) -> None:
        """From now on, FOPs without an fd go to ``graph`` (a graph switch)."""
        self.graph, self.top = graph, graph.top

    async def open(self, fd: Fd, path: str | None = None) -> None:
        """OPEN ``fd.gfid`` with ``fd.flags``; every brick keeps its fd in ``fd``."""
        fd.top = self.top
        await self.call(GfFop.OPEN, F.GfxOpenReq(fd.gfid, fd.flags, None), path=path, fd=fd)

    async def create(self, pargfid: bytes, name: str, fd: Fd, mode: int, path: str | None = None) -> Any:
        """CREATE ``name`` with ``fd.flags``; sets ``fd.gfid``; returns the reply."""
        req = F.GfxCreateReq(pargfid, fd.flags, mode, 0, name, _gfid_req())
        fd.top = self.top
        rsp = await self.call(GfFop.CREATE, req, path=path, fd=fd)
        fd.gfid = rsp.stat.ia_gfid
        return rsp

    async def opendir(self, fd: Fd, path: str | None = None) -> None:
        fd.top = self.top
        await self.call(GfFop.OPENDIR, F.GfxOpendirReq(fd.gfid, None), path=path, fd=fd)

    async def readdirp(self, fd: Fd, offset: int, path: str | None = None) -> tuple[Any, ...]:
        req = F.GfxReaddirpReq(fd.gfid, -1, offset, READDIR_SIZE, None)
        return tuple((await self.call(GfFop.READDIRP, req, path=path, fd=fd)).reply)

    async def read(self, fd: Fd, offset: int, size: int, path: str | None = None) -> bytes:
        _, data = await self.call(GfFop.READ, F.GfxReadReq(fd.gfid, -1, offset, size, 0, None), path=path, fd=fd)
        return bytes(data)

    async def write(self, fd: Fd, offset: int, data: bytes | memoryview, path: str | None = None) -> Any:
        """WRITE; returns the reply (``op_ret`` = bytes written, ``poststat``)."""
        return await self.call(
            GfFop.WRITE, F.GfxWriteReq(fd.gfid, -1, offset, len(data), 0, None), path=path, payload=data, fd=fd
        )

    async def fstat(self, fd: Fd, path: str | None = None) -> Any:
        return (await self.call(GfFop.FSTAT, F.GfxFstatReq(fd.gfid, -1, None), path=path, fd=fd)).stat

    async def ftruncate(self, fd: Fd, size: int, path: str | None = None) -> Any:
        req = F.GfxFtruncateReq(fd.gfid, -1, size, None)
        return (await self.call(GfFop.FTRUNCATE, req, path=path, fd=fd)).poststat

    async def fsync(self, fd: Fd, datasync: bool = False, path: str | None = None) -> None:
        await self.call(GfFop.FSYNC, F.GfxFsyncReq(fd.gfid, -1, 1 if datasync else 0, None), path=path, fd=fd)

    async def flush(self, fd: Fd, path: str | None = None) -> None:
        await self.call(GfFop.FLUSH, F.GfxFlushReq(fd.gfid, -1, None), path=path, fd=fd)

    async def release(self, fd: Fd) -> None:
        if fd.is_dir:
            await self.call(GfFop.RELEASEDIR, F.GfxReleasedirReq(fd.gfid, -1, {}), internal=True, fd=fd)
        else:
            await self.call(GfFop.RELEASE, F.GfxReleaseReq(fd.gfid, -1, {}), internal=True, fd=fd)

    async def fsetattr(self, fd: Fd, valid: int, *, path: str | None = None, **fields: Any) -> Any:
        stbuf = GfxIattx(**fields)
        ident = self.identity(GfFop.FSETATTR, valid=valid, stbuf=stbuf)
        req = F.GfxFsetattrReq(fd.gfid, -1, stbuf, valid, None)
        return (await self.call(GfFop.FSETATTR, req, path=path, ident=ident, fd=fd)).poststat

    async def discard(self, fd: Fd, offset: int, size: int, path: str | None = None) -> None:
        await self.call(GfFop.DISCARD, F.GfxDiscardReq(fd.gfid, -1, offset, size, None), path=path, fd=fd)

    async def zerofill(self, fd: Fd, offset: int, size: int, path: str | None = None) -> None:
        await self.call(GfFop.ZEROFILL, F.GfxZerofillReq(fd.gfid, -1, offset, size, None), path=path, fd=fd)

    async def fallocate(self, fd: Fd, mode: int, offset: int, size: int, path: str | None = None) -> None:
        req = F.GfxFallocateReq(fd.gfid, -1, mode, offset, size, None)
        await self.call(GfFop.FALLOCATE, req, path=path, fd=fd)

    async def seek(self, fd: Fd, offset: int, what: int, path: str | None = None) -> int:
        req = F.GfxSeekReq(fd.gfid, -1, offset, what, None)
        return int((await self.call(GfFop.SEEK, req, path=path, fd=fd)).offset)


def _with(base: Identity, flags: int, ctime_ns: int) -> Identity:
    return Identity(base.pid, base.uid, base.gid, base.groups, base.lk_owner, flags, ctime_ns)


def _xattr_bytes(v: GfxValue) -> bytes:
    """An xattr value as bytes: PTR/STR_OLD as sent; a C string (STR) without its NUL."""
    try:
        return v.as_bytes()
    except ValueError:
        return str(v.value).encode()
