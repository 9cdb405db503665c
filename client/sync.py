"""The blocking API, shaped like libgfapi-python's ``gluster.gfapi.Volume`` / ``File``.

``with gfclient.connect(uri) as vol:`` mounts the volume: a trio loop runs the async API
(:mod:`gfclient.aio`) in a thread of its own (:class:`fakegluster.trio_thread.TrioThread`).
Leaving the ``with`` block (or :meth:`Volume.close`) releases open fds, closes the
connections and stops the thread.

How a call gets to the async API:

* The data path -- a :class:`File`'s reads and writes of at most :data:`~gfclient.file.CHUNK`
  bytes, and its other single-FOP methods (fstat, fsync, ftruncate, xattrs...) -- runs the
  async method's coroutine in the calling thread (:func:`run_inline`).  Such a coroutine
  awaits nothing but :meth:`gfclient.rpc.RpcChannel.call`, which, called from a thread that
  is not its trio thread, sends from that thread and blocks it until the reply is in --
  usually reading the socket itself (see :mod:`gfclient.rpc`), so a call costs no thread
  handoff at all instead of the two of ``trio.from_thread.run`` (~125 µs here).  Same code,
  same state (xids, pending calls, fds, pings, reconnects) as the async API.  Only when
  the client graph allows it (:attr:`gfclient.file.File.inline_io`: no translator that
  fans out to several bricks at once -- replicate and disperse do).
* Everything else (path walks, open, close, larger IO split into concurrent calls) runs in
  the trio thread through ``trio.from_thread.run``.

A :class:`File` keeps its offset under a lock of its own, so threads sharing it get
distinct ranges from :meth:`File.read` / :meth:`File.write`, as with an OS file.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

from fakegluster.trio_thread import TrioThread

from . import aio
from .aio import DirEntry
from .file import CHUNK
from .identity import Identity
from .tls import ClientTLS
from .uri import GlusterURI

__all__ = ["connect", "Volume", "File", "run_inline"]

R = TypeVar("R")


def run_inline(coro: Coroutine[Any, Any, R]) -> R:
    """Run an async-API coroutine to its end in this thread, without trio.

    Only for coroutines that await nothing but :meth:`RpcChannel.call` (which blocks instead
    of suspending outside its trio thread); one that tries to suspend is a bug in gfclient:
    RuntimeError (trio's own functions raise RuntimeError outside a trio run, too).
    """
    try:
        coro.send(None)
    except StopIteration as done:
        value: R = done.value
        return value
    coro.close()
    raise RuntimeError(f"{coro!r} tried to suspend outside the trio thread")


class _Loop:
    """The mounted async volume in a trio loop of its own thread
    (:class:`fakegluster.trio_thread.TrioThread`)."""

    def __init__(self, uri: str | GlusterURI, options: dict[str, Any]) -> None:
        self.thread: TrioThread[aio.Volume] = TrioThread("gfclient")
        self.avol = self.thread.start(lambda: aio.connect(uri, **options))

    def _check(self) -> None:
        if not self.thread.alive:
            raise ValueError("the volume is closed")

    def run(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """``await fn(*args, **kwargs)`` in the trio thread."""
        self._check()
        return self.thread.run(fn, *args, **kwargs)

    def inline(self, coro: Coroutine[Any, Any, R]) -> R:
        """:func:`run_inline` once the volume is known to be mounted."""
        try:
            self._check()
        except ValueError:
            coro.close()
            raise
        return run_inline(coro)

    def stop(self) -> None:
        self.thread.stop()


def _nbytes(data: Any) -> int:
    return data.nbytes if isinstance(data, memoryview) else len(memoryview(data).cast("B"))


class File:
    """A blocking file object over :class:`gfclient.aio.File`."""

    def __init__(self, loop: _Loop, afile: aio.File) -> None:
        self._loop = loop
        self._f = afile
        self._offset_lock = threading.Lock()
        # a cluster translator that fans out (replicate, disperse) needs the trio thread
        self._inline_ok = afile.inline_io

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, fn: Callable[..., Awaitable[R]], *args: Any) -> R:
        """In the trio thread."""
        return self._loop.run(fn, *args)

    def _inline(self, fn: Callable[..., Coroutine[Any, Any, R]], *args: Any) -> R:
        """In this thread (a single-FOP method, see the module docstring) when the graph
        allows it, else in the trio thread."""
        if not self._inline_ok:
            return self._loop.run(fn, *args)
        return self._loop.inline(fn(*args))

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._f.closed

    @property
    def name(self) -> str:
        """The path this file was opened with."""
        return self._f.name

    @property
    def mode(self) -> str | None:
        """The Python mode it was opened with (``fopen``), or None (``open`` with flags)."""
        return self._f.mode

    @property
    def fd(self) -> int:
        """The first brick's fd number (-1 once closed or lost)."""
        return self._f.fd

    def close(self) -> None:
        """FLUSH then RELEASE (errors of the FLUSH are raised after the release)."""
        if not self._f.closed:
            self._run(self._f.close)

    # offset IO: the aio methods without their trio lock, under this file's thread lock
    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all up to the end when negative) at the file offset, which moves
        on."""
        with self._offset_lock:
            if size is not None and 0 <= size <= CHUNK:
                return self._inline(self._f.read_unlocked, size)
            return self._run(self._f.read_unlocked, size)

    readall = read

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Read into ``buf`` at the file offset; returns the number of bytes read."""
        view = memoryview(buf).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write all of ``data`` at the file offset (at the end with ``O_APPEND``); returns its length."""
        with self._offset_lock:
            if _nbytes(data) <= CHUNK:
                return self._inline(self._f.write_unlocked, data)
            return self._run(self._f.write_unlocked, data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the file offset (``SEEK_SET``/``SEEK_CUR``/``SEEK_END``, and
        ``SEEK_DATA``/``SEEK_HOLE`` through the SEEK fop); returns it."""
        with self._offset_lock:
            return self._inline(self._f.seek_unlocked, offset, whence)

    lseek = seek

    def tell(self) -> int:
        """The file offset."""
        return self._f.tell()

    # positional IO
    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer only at the end of the file); the offset does not
        move."""
        if size <= CHUNK:
            return self._inline(self._f.pread, size, offset)
        return self._run(self._f.pread, size, offset)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> int:
        """Write all of ``data`` at ``offset``; returns its length; the offset does not move."""
        if _nbytes(data) <= CHUNK:
            return self._inline(self._f.pwrite, data, offset)
        return self._run(self._f.pwrite, data, offset)

    # single FOPs
    def fstat(self) -> os.stat_result:
        """The :class:`os.stat_result` of the open file (FSTAT)."""
        return self._inline(self._f.fstat)

    def fgetsize(self) -> int:
        """``fstat().st_size``."""
        return self._inline(self._f.fgetsize)

    def truncate(self, size: int | None = None) -> int:
        """Cut or extend the file to ``size`` (default: the file offset) with FTRUNCATE; returns the
        new size."""
        return self._inline(self._f.truncate, size)

    ftruncate = truncate

    def fsync(self) -> None:
        """FSYNC: data and metadata reach the bricks' disks."""
        self._inline(self._f.fsync)

    def fdatasync(self) -> None:
        """FSYNC with the datasync flag (data only)."""
        self._inline(self._f.fdatasync)

    def discard(self, offset: int, length: int) -> None:
        """Punch a hole of ``length`` bytes at ``offset`` (DISCARD); the size does not change."""
        self._inline(self._f.discard, offset, length)

    def zerofill(self, offset: int, length: int) -> None:
        """Write ``length`` zeros at ``offset`` (ZEROFILL); may extend the file."""
        self._inline(self._f.zerofill, offset, length)

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """FALLOCATE ``length`` bytes at ``offset`` (``mode`` as fallocate(2): 0 or
        ``FALLOC_FL_KEEP_SIZE``)."""
        self._inline(self._f.fallocate, mode, offset, length)

    def fchmod(self, mode: int) -> None:
        """Set the permission bits (FSETATTR)."""
        self._inline(self._f.fchmod, mode)

    def fchown(self, uid: int, gid: int) -> None:
        """Set the owner and group; -1 leaves one as it is (FSETATTR)."""
        self._inline(self._f.fchown, uid, gid)

    def fgetxattr(self, key: str, size: int = 0) -> bytes:
        """The value of the extended attribute ``key`` (``ENODATA`` if absent; ``ERANGE`` if longer
        than a non-zero ``size``)."""
        return self._inline(self._f.fgetxattr, key, size)

    def flistxattr(self, size: int = 0) -> list[str]:
        """The extended attribute names (``ERANGE`` if they need more than a non-zero ``size`` bytes)."""
        return self._inline(self._f.flistxattr, size)

    def fsetxattr(self, key: str, value: bytes | str, flags: int = 0) -> None:
        """Set the extended attribute ``key`` (a ``str`` value is UTF-8 encoded; ``flags``:
        ``XATTR_CREATE``/``XATTR_REPLACE``)."""
        self._inline(self._f.fsetxattr, key, value, flags)

    def fremovexattr(self, key: str) -> None:
        """Remove the extended attribute ``key``."""
        self._inline(self._f.fremovexattr, key)

    def __repr__(self) -> str:
        return repr(self._f)


class Volume:
    """A mounted volume (blocking).  ``Volume(uri)`` mounts at once; close it (or use it as a
    context manager) to unmount."""

    def __init__(self, uri: str | GlusterURI, **options: Any) -> None:
        self._loop = _Loop(uri, options)
        assert self._loop.avol is not None
        self._avol: aio.Volume = self._loop.avol
        self.uri = self._avol.uri
        self.volname = self._avol.volname
        self.image_path = self._avol.image_path

    def __enter__(self) -> Volume:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def mounted(self) -> bool:
        """True from the mount until :meth:`close`."""
        return self._avol.mounted

    def close(self) -> None:
        """Release open fds, close the connections, stop the IO thread."""
        self._loop.stop()

    umount = close

    # the volume and who calls
    def volume_id(self) -> uuid.UUID:
        """The volume's UUID (``gluster volume info``'s Volume ID), asked of glusterd once."""
        return self._loop.run(self._avol.volume_id)

    @property
    def identity(self) -> Identity:
        """Who later calls are made as (pid, uid, gid, groups of the AUTH_GLUSTERFS credential)."""
        return self._avol.identity

    def set_identity(
        self, *, uid: int | None = None, gid: int | None = None, groups: Sequence[int] | None = None
    ) -> None:
        """Make later calls (from any thread) as ``uid``/``gid``/supplementary ``groups`` (None:
        unchanged); the bricks check permissions against them."""
        self._avol.set_identity(uid=uid, gid=gid, groups=groups)

    # files
    def open(self, path: Any, flags: int = os.O_RDONLY, mode: int = 0o777) -> File:
        """Open ``path`` with ``os.O_*`` ``flags`` (``O_CREAT`` makes it with ``mode``), like
        ``glfs_open``/``glfs_creat``: a file at offset 0."""
        return File(self._loop, self._loop.run(self._avol.open, path, flags, mode))

    def fopen(self, path: Any, mode: str = "r") -> File:
        """Open ``path`` with a Python file mode (``r``, ``w``, ``a``, ``x``, with ``+``; ``b`` is
        implied): a file at offset 0 (at the end for ``a``)."""
        return File(self._loop, self._loop.run(self._avol.fopen, path, mode))

    # stat family
    def stat(self, path: Any) -> os.stat_result:
        """The :class:`os.stat_result` of ``path``, symlinks followed; ``OSError``
        (``FileNotFoundError``, ...) as :func:`os.stat`."""
        return self._loop.run(self._avol.stat, path)

    def lstat(self, path: Any) -> os.stat_result:
        """The :class:`os.stat_result` of ``path`` itself (a final symlink is not followed)."""
        return self._loop.run(self._avol.lstat, path)

    def exists(self, path: Any) -> bool:
        """Whether ``path`` can be resolved (symlinks followed: False for a dangling one, as
        :func:`os.path.exists`)."""
        return self._loop.run(self._avol.exists, path)

    def isdir(self, path: Any) -> bool:
        """Whether ``path`` is a directory (symlinks followed; False if it does not exist)."""
        return self._loop.run(self._avol.isdir, path)

    def isfile(self, path: Any) -> bool:
        """Whether ``path`` is a regular file (symlinks followed; False if it does not exist)."""
        return self._loop.run(self._avol.isfile, path)

    def islink(self, path: Any) -> bool:
        """Whether ``path`` is a symlink (False if it does not exist)."""
        return self._loop.run(self._avol.islink, path)

    def getsize(self, path: Any) -> int:
        """``stat(path).st_size``."""
        return self._loop.run(self._avol.getsize, path)

    def statvfs(self, path: Any = "/") -> os.statvfs_result:
        """The volume's :class:`os.statvfs_result` (STATFS on the file system holding ``path``)."""
        return self._loop.run(self._avol.statvfs, path)

    def access(self, path: Any, mode: int) -> bool:
        """Whether the caller may access ``path`` as ``mode`` says (``os.F_OK``, or ``os.R_OK``,
        ``W_OK``, ``X_OK`` or'ed; symlinks followed): the brick decides (ACCESS); False on any
        error, as :func:`os.access`."""
        return self._loop.run(self._avol.access, path, mode)

    # directories
    def mkdir(self, path: Any, mode: int = 0o777) -> None:
        """Make the directory ``path`` (MKDIR; ``FileExistsError`` if it exists)."""
        self._loop.run(self._avol.mkdir, path, mode)

    def makedirs(self, path: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
        """Make ``path`` and its missing parents; an existing ``path`` is an error unless ``exist_ok``
        (then it must be a directory)."""
        self._loop.run(self._avol.makedirs, path, mode, exist_ok)

    def rmdir(self, path: Any) -> None:
        """Remove the empty directory ``path`` (RMDIR)."""
        self._loop.run(self._avol.rmdir, path)

    def rmtree(self, path: Any, ignore_errors: bool = False, onerror: Any = None) -> None:
        """Remove the directory tree ``path`` (symlinks inside are unlinked, not followed; ``path``
        itself being a symlink is an error), as :func:`shutil.rmtree` with
        ``ignore_errors``/``onerror``."""
        self._loop.run(self._avol.rmtree, path, ignore_errors, onerror)

    def listdir(self, path: Any = "/") -> list[str]:
        """The names in the directory ``path``, without ``.`` and ``..`` (READDIRP's order)."""
        return self._loop.run(self._avol.listdir, path)

    def scandir(self, path: Any = "/") -> _Scandir:
        """The entries of the directory ``path`` as DirEntry objects (like :func:`os.scandir`; their
        stats come from READDIRP, no extra call)."""
        return _Scandir(self._loop.run(self._avol.scandir, path))

    def walk(
        self, top: Any, topdown: bool = True, onerror: Any = None, followlinks: bool = False
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like :func:`os.walk` (entries from READDIRP): :meth:`gfclient.aio.Volume.walk` driven
        one step at a time in the trio thread, so that pruning ``dirs`` in place works."""
        agen = self._avol.walk(top, topdown, onerror, followlinks)

        async def step() -> tuple[str, list[str], list[str]] | None:
            try:
                return await agen.__anext__()
            except StopAsyncIteration:
                return None

        try:
            while (item := self._loop.run(step)) is not None:
                yield item
        finally:
            if self._loop.thread.alive:
                self._loop.run(agen.aclose)

    # names
    def mknod(self, path: Any, mode: int = 0o600, device: int = 0) -> None:
        """Make a file system node at ``path`` (MKNOD): ``mode`` holds the type (``stat.S_IFIFO``,
        ``S_IFCHR``, ...) and the permission bits, ``device`` a device node's number."""
        self._loop.run(self._avol.mknod, path, mode, device)

    def unlink(self, path: Any) -> None:
        """Remove the file (or symlink) ``path`` (UNLINK)."""
        self._loop.run(self._avol.unlink, path)

    remove = unlink

    def rename(self, src: Any, dst: Any) -> None:
        """Rename ``src`` to ``dst``, replacing ``dst`` as :func:`os.rename` does (RENAME)."""
        self._loop.run(self._avol.rename, src, dst)

    def link(self, source: Any, link_name: Any) -> None:
        """Make ``link_name`` a hard link to ``source`` (LINK)."""
        self._loop.run(self._avol.link, source, link_name)

    def symlink(self, source: Any, link_name: Any) -> None:
        """Make ``link_name`` a symlink whose target is the text ``source`` (SYMLINK)."""
        self._loop.run(self._avol.symlink, source, link_name)

    def readlink(self, path: Any) -> str:
        """The target of the symlink ``path`` (READLINK; ``EINVAL`` if it is not one)."""
        return self._loop.run(self._avol.readlink, path)

    # attributes
    def chmod(self, path: Any, mode: int) -> None:
        """Set the permission bits of ``path`` (SETATTR, symlinks followed)."""
        self._loop.run(self._avol.chmod, path, mode)

    def chown(self, path: Any, uid: int, gid: int) -> None:
        """Set the owner and group of ``path``; -1 leaves one as it is (SETATTR, symlinks followed)."""
        self._loop.run(self._avol.chown, path, uid, gid)

    def utime(self, path: Any, times: tuple[float, float] | None = None, *, ns: tuple[int, int] | None = None) -> None:
        """Set the access and modification times of ``path`` (seconds as ``times`` or nanoseconds as
        ``ns``; neither: now)."""
        self._loop.run(self._avol.utime, path, times, ns=ns)

    def truncate(self, path: Any, length: int) -> None:
        """Cut or extend the file ``path`` to ``length`` bytes (TRUNCATE)."""
        self._loop.run(self._avol.truncate, path, length)

    # xattrs
    def getxattr(self, path: Any, key: str, size: int = 0) -> bytes:
        """The value of the extended attribute ``key`` of ``path`` (``ENODATA`` if absent; ``ERANGE``
        if longer than a non-zero ``size``)."""
        return self._loop.run(self._avol.getxattr, path, key, size)

    def listxattr(self, path: Any, size: int = 0) -> list[str]:
        """The extended attribute names of ``path`` (``ERANGE`` if they need more than a non-zero
        ``size`` bytes)."""
        return self._loop.run(self._avol.listxattr, path, size)

    def setxattr(self, path: Any, key: str, value: bytes | str, flags: int = 0) -> None:
        """Set the extended attribute ``key`` of ``path`` (a ``str`` value is UTF-8 encoded; ``flags``:
        ``XATTR_CREATE``/``XATTR_REPLACE``)."""
        self._loop.run(self._avol.setxattr, path, key, value, flags)

    def removexattr(self, path: Any, key: str) -> None:
        """Remove the extended attribute ``key`` of ``path``."""
        self._loop.run(self._avol.removexattr, path, key)

    def __repr__(self) -> str:
        return repr(self._avol).replace("gfclient.aio.", "gfclient.")


class _Scandir:
    """The iterator :meth:`Volume.scandir` returns (also a context manager, like os.scandir)."""

    def __init__(self, entries: list[DirEntry]) -> None:
        self._it = iter(entries)

    def __iter__(self) -> _Scandir:
        return self

    def __next__(self) -> DirEntry:
        return next(self._it)

    def __enter__(self) -> _Scandir:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._it = iter(())


def connect(
    uri: str | GlusterURI,
    *,
    process_name: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
    servers: Sequence[str] = (),
    connect_timeout: float | None = None,
    ping_timeout: float | None = None,
    frame_timeout: float | None = None,
    tls: ClientTLS | None = None,
) -> Volume:
    """Mount the volume of ``uri`` (with or without an image path): ``with connect(uri) as vol:``.

    The options are :func:`gfclient.aio.connect`'s: other volfile ``servers`` to fall back
    to, timeouts over the volfile's, ``tls``."""
    return Volume(
        uri,
        process_name=process_name,
        uid=uid,
        gid=gid,
        servers=servers,
        connect_timeout=connect_timeout,
        ping_timeout=ping_timeout,
        frame_timeout=frame_timeout,
        tls=tls,
    )
