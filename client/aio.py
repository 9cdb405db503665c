"""The trio API of gfclient: ``async with gfclient.aio.connect(uri) as vol: ...``.

:func:`connect` is an async context manager (trio's structured concurrency: the receive and
ping tasks live in a nursery that the ``async with`` block owns).  Inside, ``vol`` is a
mounted :class:`Volume` whose methods are the sync API's (:class:`gfclient.Volume`), as
coroutines; ``await vol.fopen(path, "w")`` gives a :class:`File` (an async context manager).

What connect does (libgfapi's ``glfs_init``): GETSPEC over tcp or the unix socket (the
connection stays open), parse the volfile, build the client graph (:mod:`gfclient.graph`:
distribute, replicate, disperse over protocol/client), connect every brick (DUMP,
PORTBYBRICK via glusterd, DUMP, SETVOLUME, the DHT STATFS) concurrently, and LOOKUP the
root.

Paths are resolved from the root by a named LOOKUP per component (:mod:`gfclient.resolve`).
A path call whose LOOKUP or FOP meets ESTALE (another client removed or replaced what the path
named in between) starts again once, as libgfapi's do (``ESTALE_RETRY``; :mod:`gfclient.resolve`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import posixpath
import stat as _stat
import sys
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import trio

from fakegluster.proto.common import NULL_GFID, ROOT_GFID

from ._util import unwrap_groups
from .aio_asyncio import any_loop
from .brick import BrickClient
from .errors import GlusterConnectionError, RpcError, UnsupportedVolumeError, fop_error, where
from .file import File
from .fops import SETATTR, XATTR_CREATE, XATTR_REPLACE, Fops
from .graph import ClientGraph, Timeouts
from .identity import Identity
from .mgmt import MgmtClient, VolfileServer
from .mount import Mount
from .resolve import Resolver, again_if_stale, text_path
from .stat import DirEntry, gf_flags, is_dir, is_symlink, mode_flags, stat_result, statvfs_result, to_ns
from .tls import ClientTLS
from .uri import GlusterURI, parse_uri
from .xl.base import Fd

__all__ = ["connect", "Volume", "File", "DirEntry"]


class Volume:
    """A mounted volume (use :func:`connect`).  Methods mirror ``gluster.gfapi.Volume``."""

    def __init__(
        self,
        uri: GlusterURI,
        nursery: trio.Nursery,
        *,
        process_name: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        servers: Sequence[str | VolfileServer] = (),
        timeouts: Timeouts | None = None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.uri = uri
        self.volname = uri.volume
        self.image_path = uri.path
        self._nursery = nursery
        argv0 = (getattr(sys, "orig_argv", None) or sys.argv or ["python"])[0]
        primary = VolfileServer(uri.transport, uri.host, uri.port, uri.socket)
        extra = [s if isinstance(s, VolfileServer) else VolfileServer.parse(s) for s in servers]
        self._mount = Mount(
            uri.volume,
            [primary, *extra],
            nursery,
            process_name=process_name or f"gfapi.{posixpath.basename(argv0) or 'python'}",
            pid=os.getpid(),
            uid=os.getuid() if uid is None else uid,
            gid=os.getgid() if gid is None else gid,
            timeouts=timeouts or Timeouts(),
            open_files=lambda: self._files,
            tls=tls,
        )
        self._names = Resolver(lambda: self.fops)
        self._files: set[File] = set()
        self._volume_id: uuid.UUID | None = None
        self.mounted = False

    # ---- mount / unmount ---------------------------------------------------------------
    async def mount(self) -> None:
        """Fetch the volfile, connect the bricks, look up the root (``glfs_init``)."""
        u = self.uri
        try:
            fops = await self._mount.mount()
            root = await fops.lookup_gfid(ROOT_GFID, "/")
            if not is_dir(root.prestat):
                raise GlusterConnectionError(errno.ENOTDIR, f"the root of {u.volume!r} is not a directory")
            self._names.root = root.prestat
        except (GlusterConnectionError, RpcError, OSError) as exc:
            await self._mount.close()
            if isinstance(exc, UnsupportedVolumeError):
                raise
            raise GlusterConnectionError(
                exc.errno or errno.ENOTCONN,
                f"Gluster connection for volume {u.volume}, path {u.path or '/'} failed to connect: "
                f"{exc.strerror or exc}; hint: failed on {self._mount.mgmt.server}",
            ) from exc
        self.mounted = True

    async def close(self) -> None:
        """Release the fds still open and close the connections (like ``glfs_fini``)."""
        if not self.mounted:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await self._mount.mgmt.aclose()  # glfs_fini drops the volfile connection first
            for f in list(self._files):
                await f._release()
        self.mounted = False
        await self._mount.close()

    umount = close

    # ---- internals ---------------------------------------------------------------------
    @property
    def fops(self) -> Fops:
        """The mounted graph's FOPs by gfid (:class:`gfclient.fops.Fops`); ENOTCONN once unmounted."""
        fops = self._mount.fops
        if fops is None or not self.mounted:
            raise GlusterConnectionError(errno.ENOTCONN, f"volume {self.volname!r} is not mounted")
        return fops

    # ---- stat family -------------------------------------------------------------------
    @again_if_stale
    async def _resolve(self, path: Any, follow: bool) -> tuple[bytes, Any]:
        """(gfid, iatt) of ``path`` (glfs_resolve/glfs_lresolve with their ESTALE_RETRY)."""
        return await self._names.resolve(path, follow)

    @again_if_stale
    async def _parent(self, path: Any) -> tuple[bytes, str, str]:
        """(parent gfid, basename, path), the parent resolved with glfs_resolve's ESTALE_RETRY."""
        return await self._names.parent(path)

    async def stat(self, path: Any) -> os.stat_result:
        """The :class:`os.stat_result` of ``path``, symlinks followed (OSError as :func:`os.stat`)."""
        return stat_result((await self._resolve(path, True))[1])

    async def lstat(self, path: Any) -> os.stat_result:
        """The :class:`os.stat_result` of ``path`` itself (a final symlink is not followed)."""
        return stat_result((await self._resolve(path, False))[1])

    async def exists(self, path: Any) -> bool:
        """Whether ``path`` resolves, symlinks followed (as :func:`os.path.exists`)."""
        with contextlib.suppress(OSError):
            await self._resolve(path, True)
            return True
        return False

    async def _mode_or_zero(self, path: Any, follow: bool = True) -> int:
        try:
            return int((await self._resolve(path, follow))[1].mode)
        except OSError:
            return 0

    async def isdir(self, path: Any) -> bool:
        """Whether ``path`` is a directory (symlinks followed; False if it does not exist)."""
        return _stat.S_ISDIR(await self._mode_or_zero(path))

    async def isfile(self, path: Any) -> bool:
        """Whether ``path`` is a regular file (symlinks followed; False if it does not exist)."""
        return _stat.S_ISREG(await self._mode_or_zero(path))

    async def islink(self, path: Any) -> bool:
        """Whether ``path`` is a symlink (False if it does not exist)."""
        return _stat.S_ISLNK(await self._mode_or_zero(path, False))

    async def getsize(self, path: Any) -> int:
        """``stat(path).st_size``."""
        return (await self.stat(path)).st_size

    async def access(self, path: Any, mode: int) -> bool:
        """Whether the caller may access ``path`` as ``mode`` says (``os.F_OK``, or ``os.R_OK``,
        ``W_OK``, ``X_OK`` or'ed; symlinks followed): the brick decides (ACCESS, as
        ``glfs_access``); False on any error, as :func:`os.access`."""
        try:
            await self._access(path, mode)
        except OSError:
            return False
        return True

    @again_if_stale
    async def _access(self, path: Any, mode: int) -> None:
        gfid, _ = await self._names.resolve(path, True)
        await self.fops.access(gfid, mode, text_path(path))

    @again_if_stale
    async def statvfs(self, path: Any = "/") -> os.statvfs_result:
        """The volume's :class:`os.statvfs_result` (STATFS on the file system holding ``path``)."""
        gfid, _ = await self._names.resolve(path, True)
        return statvfs_result(await self.fops.statfs(gfid, text_path(path)))

    # ---- directories -------------------------------------------------------------------
    @again_if_stale
    async def mkdir(self, path: Any, mode: int = 0o777) -> None:
        """Make the directory ``path`` (MKDIR; ``FileExistsError`` if it exists)."""
        pgfid, name, p = await self._names.parent(path)
        await self.fops.mkdir(pgfid, name, mode & 0o7777, p)

    async def makedirs(self, path: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
        """Make ``path`` and missing parents; an existing ``path`` fails unless ``exist_ok`` and a dir."""
        p = text_path(path)
        head, tail = posixpath.split(p.rstrip("/"))
        if head and tail and not await self.exists(head):
            with contextlib.suppress(FileExistsError):
                await self.makedirs(head, mode, exist_ok=True)
        try:
            await self.mkdir(p, mode)
        except OSError:
            if not exist_ok or not await self.isdir(p):
                raise

    @again_if_stale
    async def rmdir(self, path: Any) -> None:
        """Remove the empty directory ``path`` (RMDIR)."""
        pgfid, name, p = await self._names.parent(path)
        self._names.forget(pgfid, name)
        await self.fops.rmdir(pgfid, name, p)

    async def scandir(self, path: Any = "/") -> list[DirEntry]:
        """All entries but "." and ".." (READDIRP until an empty reply)."""
        p = text_path(path)
        gfid, fd = await self._opendir(p)
        raw = await self._readdir(fd, p)
        out = []
        for ent in raw:
            if ent.name in (".", ".."):
                continue
            child = posixpath.join(p, ent.name)
            st = ent.stat
            if st.ia_gfid == bytes(16) or not st.mode:
                st = (await self.fops.lookup(gfid, ent.name, child)).prestat
            target = None
            if is_symlink(st):
                with contextlib.suppress(OSError):
                    target = await self.stat(child)
            out.append(DirEntry(ent.name, child, stat_result(st), target))
        return out

    @again_if_stale
    async def _opendir(self, path: str) -> tuple[bytes, Fd]:
        """Resolve and OPENDIR ``path`` (glfs_opendir: both are retried on ESTALE)."""
        gfid, iatt = await self._names.resolve(path, True)
        if not is_dir(iatt):
            raise fop_error(errno.ENOTDIR, path)
        fd = Fd(gfid, 0, is_dir=True)
        await self.fops.opendir(fd, path)
        return gfid, fd

    async def _readdir(self, fd: Fd, path: str) -> list[Any]:
        """READDIRP ``fd`` until an empty reply, then RELEASEDIR it."""
        entries: list[Any] = []
        try:
            offset = 0
            while True:
                batch = await self.fops.readdirp(fd, offset, path)
                if not batch:
                    break
                entries.extend(batch)
                offset = batch[-1].d_off
        finally:
            with trio.CancelScope(shield=True), contextlib.suppress(OSError):
                await self.fops.release(fd)
        return entries

    async def listdir(self, path: Any = "/") -> list[str]:
        """The names in the directory ``path``, without ``.`` and ``..`` (READDIRP's order)."""
        return [e.name for e in await self.scandir(path)]

    async def walk(
        self, top: Any, topdown: bool = True, onerror: Any = None, followlinks: bool = False
    ) -> AsyncGenerator[tuple[str, list[str], list[str]], None]:
        """Like :func:`os.walk`, as an async generator."""
        top = text_path(top)
        try:
            entries = await self.scandir(top)
        except OSError as exc:
            if onerror is not None:
                onerror(exc)
            return
        dirs = [e.name for e in entries if e.is_dir()]
        files = [e.name for e in entries if not e.is_dir()]
        links = {e.name for e in entries if e.is_symlink()}
        if topdown:
            yield top, dirs, files
        for d in dirs:
            if followlinks or d not in links:
                async for item in self.walk(posixpath.join(top, d), topdown, onerror, followlinks):
                    yield item
        if not topdown:
            yield top, dirs, files

    async def rmtree(self, path: Any, ignore_errors: bool = False, onerror: Any = None) -> None:
        """Remove a directory tree (symlinks are unlinked, not followed)."""
        p = text_path(path)

        def failed(fn: Any, where_: str, exc: OSError) -> None:
            if ignore_errors:
                return
            if onerror is None:
                raise exc
            onerror(fn, where_, (type(exc), exc, exc.__traceback__))

        try:
            if await self.islink(p):
                raise OSError(errno.ENOTDIR, "Cannot call rmtree on a symbolic link", p)
            entries = await self.scandir(p)
        except OSError as exc:
            return failed(self.scandir, p, exc)
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    await self.rmtree(e.path, ignore_errors, onerror)
                else:
                    await self.unlink(e.path)
            except OSError as exc:
                failed(self.unlink, e.path, exc)
        try:
            await self.rmdir(p)
        except OSError as exc:
            failed(self.rmdir, p, exc)

    # ---- names -------------------------------------------------------------------------
    @again_if_stale
    async def unlink(self, path: Any) -> None:
        """Remove the file (or symlink) ``path`` (UNLINK)."""
        pgfid, name, p = await self._names.parent(path)
        self._names.forget(pgfid, name)
        await self.fops.unlink(pgfid, name, p)

    remove = unlink

    @again_if_stale
    async def rename(self, src: Any, dst: Any) -> None:
        """RENAME; renaming a name onto itself or onto another hard link of the same file
        does nothing (POSIX; the kernel checks this before any filesystem sees it -- a real
        10.3 brick would drop the file's gfid handle)."""
        spgfid, sname, sp = await self._names.parent(src)
        dpgfid, dname, _ = await self._names.parent(dst)
        sgfid = (await self.fops.lookup(spgfid, sname, sp)).prestat.ia_gfid
        try:
            dgfid = (await self.fops.lookup(dpgfid, dname, text_path(dst))).prestat.ia_gfid
        except FileNotFoundError:
            dgfid = None
        if dgfid == sgfid:
            return
        self._names.forget(spgfid, sname)
        self._names.forget(dpgfid, dname)
        await self.fops.rename(spgfid, sname, dpgfid, dname, sp)

    @again_if_stale
    async def mknod(self, path: Any, mode: int = 0o600, device: int = 0) -> None:
        """Make a file system node at ``path`` (MKNOD, as ``glfs_mknod``): ``mode`` holds the type
        (``stat.S_IFIFO``, ``S_IFCHR``, ``S_IFBLK``, ``S_IFSOCK``, ``S_IFREG``) and the permission
        bits, ``device`` the device number of a device node (:func:`os.makedev`)."""
        pgfid, name, p = await self._names.parent(path)
        await self.fops.mknod(pgfid, name, mode, device, p)

    async def link(self, source: Any, link_name: Any) -> None:
        """Make ``link_name`` a hard link to ``source`` (LINK)."""
        gfid, _ = await self._resolve(source, False)
        pgfid, name, p = await self._parent(link_name)
        await self.fops.link(gfid, pgfid, name, p)  # glfs_link: no ESTALE_RETRY of the LINK

    @again_if_stale
    async def symlink(self, source: Any, link_name: Any) -> None:
        """Make ``link_name`` a symlink whose target is the text ``source`` (SYMLINK)."""
        pgfid, name, p = await self._names.parent(link_name)
        await self.fops.symlink(pgfid, name, text_path(source), p)

    @again_if_stale
    async def readlink(self, path: Any) -> str:
        """The target of the symlink ``path`` (READLINK; ``EINVAL`` if it is not one)."""
        gfid, iatt = await self._names.resolve(path, False)
        if not is_symlink(iatt):
            raise fop_error(errno.EINVAL, text_path(path))
        return await self.fops.readlink(gfid, text_path(path))

    # ---- attributes --------------------------------------------------------------------
    @again_if_stale
    async def chmod(self, path: Any, mode: int) -> None:
        """Set the permission bits of ``path`` (SETATTR, symlinks followed)."""
        gfid, _ = await self._names.resolve(path, True)
        await self.fops.setattr(gfid, SETATTR["MODE"], path=text_path(path), mode=mode & 0o7777)

    @again_if_stale
    async def chown(self, path: Any, uid: int, gid: int) -> None:
        """Set the owner and group of ``path``; -1 leaves one as it is (SETATTR, symlinks followed)."""
        gfid, _ = await self._names.resolve(path, True)
        valid = (SETATTR["UID"] if uid != -1 else 0) | (SETATTR["GID"] if gid != -1 else 0)
        if valid:
            await self.fops.setattr(gfid, valid, path=text_path(path), ia_uid=max(uid, 0), ia_gid=max(gid, 0))

    @again_if_stale
    async def utime(
        self, path: Any, times: tuple[float, float] | None = None, *, ns: tuple[int, int] | None = None
    ) -> None:
        """Set (atime, mtime); ``times=None`` and no ``ns`` means now."""
        gfid, _ = await self._names.resolve(path, True)
        if ns is None:
            if times is None:
                now = time.time_ns()
                ns = (now, now)
            else:
                ns = (to_ns(times[0]), to_ns(times[1]))
        a, m = (divmod(t, 1_000_000_000) for t in ns)
        await self.fops.setattr(
            gfid,
            SETATTR["ATIME"] | SETATTR["MTIME"],
            path=text_path(path),
            ia_atime=a[0],
            ia_atime_nsec=a[1],
            ia_mtime=m[0],
            ia_mtime_nsec=m[1],
        )

    @again_if_stale
    async def truncate(self, path: Any, length: int) -> None:
        """Cut or extend the file ``path`` to ``length`` bytes (TRUNCATE)."""
        gfid, _ = await self._names.resolve(path, True)
        await self.fops.truncate(gfid, length, text_path(path))

    # ---- xattrs ------------------------------------------------------------------------
    @again_if_stale
    async def getxattr(self, path: Any, key: str, size: int = 0) -> bytes:
        """The value of xattr ``key`` (ENODATA if absent, ERANGE if longer than a non-zero ``size``)."""
        gfid, _ = await self._names.resolve(path, True)
        values = await self.fops.getxattr(gfid, key, text_path(path))
        if key not in values:
            raise fop_error(errno.ENODATA, text_path(path))
        value = values[key]
        if size and len(value) > size:
            raise fop_error(errno.ERANGE, text_path(path))
        return value

    @again_if_stale
    async def listxattr(self, path: Any, size: int = 0) -> list[str]:
        """The xattr names of ``path`` (ERANGE if longer in all than a non-zero ``size``)."""
        gfid, _ = await self._names.resolve(path, True)
        names = list(await self.fops.getxattr(gfid, None, text_path(path)))
        if size and sum(len(n) + 1 for n in names) > size:
            raise fop_error(errno.ERANGE, text_path(path))
        return names

    async def setxattr(self, path: Any, key: str, value: bytes | str, flags: int = 0) -> None:
        """Set xattr ``key`` (a str value is UTF-8; ``flags``: XATTR_CREATE/XATTR_REPLACE)."""
        gfid, _ = await self._resolve(path, True)  # glfs_setxattr: no ESTALE_RETRY of the SETXATTR
        data = value.encode() if isinstance(value, str) else bytes(value)
        await self.fops.setxattr(gfid, key, data, flags & (XATTR_CREATE | XATTR_REPLACE), text_path(path))

    @again_if_stale
    async def removexattr(self, path: Any, key: str) -> None:
        """Remove the extended attribute ``key`` of ``path``."""
        gfid, _ = await self._names.resolve(path, True)
        await self.fops.removexattr(gfid, key, text_path(path))

    # ---- files -------------------------------------------------------------------------
    @again_if_stale
    async def open(self, path: Any, flags: int = os.O_RDONLY, mode: int = 0o777) -> File:
        """Open like ``glfs_open``/``glfs_creat``: ``flags`` are ``os.O_*``."""
        p = text_path(path)
        gf = gf_flags(flags)
        try:
            gfid, iatt = await self._names.resolve(p, True)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            pgfid, name, _ = await self._names.parent(p)
            fd = Fd(NULL_GFID, gf)
            await self.fops.create(pgfid, name, fd, mode & 0o7777, p)
            return self._adopt(fd, p, flags)
        if flags & os.O_CREAT and flags & os.O_EXCL:
            raise fop_error(errno.EEXIST, p)
        if is_dir(iatt):
            if flags & (os.O_RDWR | os.O_WRONLY) or (flags & os.O_CREAT and not flags & os.O_DIRECTORY):
                raise fop_error(errno.EISDIR, p)
        elif flags & os.O_DIRECTORY:
            raise fop_error(errno.ENOTDIR, p)
        elif not _stat.S_ISREG(iatt.mode):
            raise fop_error(errno.EINVAL, p)
        open_flags = gf & ~(0o100 | 0o200)  # O_CREAT | O_EXCL mean nothing for an existing inode
        fd = Fd(gfid, open_flags)
        await self.fops.open(fd, p)
        return self._adopt(fd, p, flags)

    async def fopen(self, path: Any, mode: str = "r") -> File:
        """Open with a Python mode string ("r", "rb", "r+", "w", "w+", "a", "a+", "x")."""
        f = await self.open(path, mode_flags(mode), 0o666)
        f.mode = mode
        return f

    def _adopt(self, fd: Fd, path: str, flags: int) -> File:
        f = File(self, fd, path, flags)
        self._files.add(f)
        return f

    def _dropped(self, f: File) -> None:
        self._files.discard(f)

    # ---- identity ----------------------------------------------------------------------
    @property
    def identity(self) -> Identity:
        """Who later calls are made as (pid, uid, gid, groups of the AUTH_GLUSTERFS credential)."""
        return self.fops.app

    def set_identity(
        self, *, uid: int | None = None, gid: int | None = None, groups: Sequence[int] | None = None
    ) -> None:
        """Make later calls as ``uid``/``gid``/supplementary ``groups`` (None: unchanged); the bricks
        check permissions against them.  libgfapi's ``glfs_setfsuid``/``glfs_setfsgid``/
        ``glfs_setfsgroups`` set them per thread; here they hold for the volume."""
        fops, app = self.fops, self.fops.app
        groups_ = app.groups if groups is None else tuple(groups)
        fops.app = dataclasses.replace(
            app, uid=app.uid if uid is None else uid, gid=app.gid if gid is None else gid, groups=groups_
        )

    async def volume_id(self) -> uuid.UUID:
        """The volume's UUID (``gluster volume info``'s Volume ID), asked of glusterd once over
        the volfile server connection (``glfs_get_volumeid``: GET_VOLUME_INFO)."""
        if self._volume_id is None:
            self._volume_id = await self._mount.mgmt.volume_id()
        return self._volume_id

    # ---- diagnostics -------------------------------------------------------------------
    @property
    def graph(self) -> ClientGraph:
        """The current client graph (its ``top`` node and its ``bricks``)."""
        assert self._mount.graph is not None
        return self._mount.graph

    @property
    def mgmt(self) -> MgmtClient:
        """The volfile server connection."""
        return self._mount.mgmt

    @property
    def graph_switches(self) -> int:
        """How many times the volume moved to a new graph (FETCHSPEC with a new volfile)."""
        return self._mount.switches

    @property
    def brick(self) -> BrickClient:
        """The first brick's connection (the only one of a one-brick volume)."""
        return self.graph.bricks[0]

    def __repr__(self) -> str:
        return f"<gfclient.aio.Volume {self.volname!r} on {where(self.uri.host, self.uri.port, self.uri.socket)}>"


@contextlib.asynccontextmanager
async def _connect_trio(
    uri: str | GlusterURI,
    *,
    process_name: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
    servers: Sequence[str | VolfileServer] = (),
    connect_timeout: float | None = None,
    ping_timeout: float | None = None,
    frame_timeout: float | None = None,
    tls: ClientTLS | None = None,
) -> AsyncIterator[Volume]:
    """Mount the volume of ``uri`` for the duration of an ``async with`` block (under trio,
    or asyncio: :mod:`gfclient.aio_asyncio`, picked by the running loop).

    ``uri`` may name an image path or only a volume (``gluster://host/vol``).  ``servers``:
    more volfile servers to try, in order, when the URI's cannot be reached (``"host"``,
    ``"host:port"``, ``"unix:///path"``: like ``glfs_set_volfile_server`` called again, or
    QEMU's ``server.1``...).  Timeouts in seconds: ``connect_timeout`` for one connection
    attempt (default 30), ``ping_timeout`` and ``frame_timeout`` over the volfile's (42 and
    1800 by default; the volfile server connection is pinged with ``ping_timeout`` too), so
    that a frozen server fails calls with ENOTCONN in bounded time.  Raises
    :class:`~gfclient.errors.GlusterConnectionError` (naming the servers that failed) or
    :class:`~gfclient.errors.UnsupportedVolumeError` (a translator gfclient cannot drive).

    TLS follows the volfile (``client.ssl``: its protocol/client has
    ``transport.socket.ssl-enabled`` and the certificate options) and management encryption
    the machine's ``/var/lib/glusterd/secure-access``, as libgfapi does; ``tls`` overrides
    the latter (:class:`gfclient.ClientTLS`: on or off, and the management certificate files).
    """
    parsed = uri if isinstance(uri, GlusterURI) else parse_uri(uri, require_path=False)
    timeouts = Timeouts(ping=ping_timeout, frame=frame_timeout, connect=connect_timeout)
    with unwrap_groups():
        async with trio.open_nursery() as nursery:
            vol = Volume(
                parsed,
                nursery,
                process_name=process_name,
                uid=uid,
                gid=gid,
                servers=servers,
                timeouts=timeouts,
                tls=tls,
            )
            await vol.mount()
            try:
                yield vol
            finally:
                await vol.close()
                nursery.cancel_scope.cancel()


connect = any_loop(_connect_trio)  # the same under asyncio (gfclient.aio_asyncio)
