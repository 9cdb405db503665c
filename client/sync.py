"""The blocking API, shaped like libgfapi-python's ``gluster.gfapi.Volume`` / ``File``.

``with gfclient.connect(uri) as vol:`` mounts the volume: a trio loop runs the async API
(:mod:`gfclient.aio`) in a daemon thread.  Leaving the ``with`` block (or
:meth:`Volume.close`) releases open fds, closes the connections and stops the thread.

How a call gets to the async API:

* The data path -- a :class:`File`'s reads and writes of at most :data:`~gfclient.file.CHUNK`
  bytes, and its other single-FOP methods (fstat, fsync, ftruncate, xattrs...) -- runs the
  async method's coroutine in the calling thread (:func:`run_inline`).  Such a coroutine
  awaits nothing but :meth:`gfclient.rpc.RpcChannel.call`, which, called from a thread that
  is not its trio thread, sends from that thread and blocks it until the reply is in --
  usually reading the socket itself (see :mod:`gfclient.rpc`), so a call costs no thread
  handoff at all instead of the two of ``trio.from_thread.run`` (~125 µs here).  Same code,
  same state (xids, pending calls, fds, pings, reconnects) as the async API.
* Everything else (path walks, open, close, larger IO split into concurrent calls) runs in
  the trio thread through ``trio.from_thread.run``.

A :class:`File` keeps its offset under a lock of its own, so threads sharing it get
distinct ranges from :meth:`File.read` / :meth:`File.write`, as with an OS file.
"""

from __future__ import annotations

import functools
import os
import posixpath
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import trio

from . import aio
from .aio import DirEntry
from .file import CHUNK
from .tls import ClientTLS
from .uri import GlusterURI

__all__ = ["connect", "Volume", "File", "run_inline"]


def run_inline(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run an async-API coroutine to its end in this thread, without trio.

    Only for coroutines that await nothing but :meth:`RpcChannel.call` (which blocks instead
    of suspending outside its trio thread); one that tries to suspend is a bug in gfclient:
    RuntimeError (trio's own functions raise RuntimeError outside a trio run, too).
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError(f"{coro!r} tried to suspend outside the trio thread")


class _Loop:
    """One trio loop in a daemon thread, holding the mounted async volume."""

    def __init__(self, uri: str | GlusterURI, options: dict[str, Any]) -> None:
        self.avol: aio.Volume | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main, uri, options), name="gfclient", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    async def _main(self, uri: str | GlusterURI, options: dict[str, Any]) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        try:
            async with aio.connect(uri, **options) as vol:
                self.avol = vol
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # handed to the thread that waits in __init__ / close
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
                return
            raise

    def _check(self) -> None:
        if self.token is None or self.avol is None or not self._thread.is_alive():
            raise ValueError("the volume is closed")

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` (a coroutine function) in the trio thread."""
        self._check()
        return trio.from_thread.run(functools.partial(fn, *args, **kwargs), trio_token=self.token)

    def inline(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """:func:`run_inline` once the volume is known to be mounted."""
        try:
            self._check()
        except ValueError:
            coro.close()
            raise
        return run_inline(coro)

    def stop(self) -> None:
        if self._thread.is_alive() and self.token is not None and self._stop is not None:
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
            except trio.RunFinishedError:
                pass
            self._thread.join()


def _nbytes(data: Any) -> int:
    return data.nbytes if isinstance(data, memoryview) else len(memoryview(data).cast("B"))


class File:
    """A blocking file object over :class:`gfclient.aio.File`."""

    def __init__(self, loop: _Loop, afile: aio.File) -> None:
        self._loop = loop
        self._f = afile
        self._offset_lock = threading.Lock()
        # a cluster translator that fans out (replicate, disperse) needs the trio thread
        self._inline_ok = afile._vol.graph.top.inline_io

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """In the trio thread."""
        return self._loop.run(getattr(self._f, name), *args, **kwargs)

    def _inline(self, name: str, *args: Any) -> Any:
        """In this thread (a single-FOP method, see the module docstring) when the graph
        allows it, else in the trio thread."""
        if not self._inline_ok:
            return self._run(name, *args)
        return self._loop.inline(getattr(self._f, name)(*args))

    @property
    def closed(self) -> bool:
        return self._f.closed

    @property
    def name(self) -> str:
        return self._f.name

    @property
    def mode(self) -> str | None:
        return self._f.mode

    @property
    def fd(self) -> int:
        return self._f.fd

    def close(self) -> None:
        if not self._f.closed:
            self._run("close")

    # offset IO: the aio methods without their trio lock, under this file's thread lock
    def read(self, size: int = -1) -> bytes:
        with self._offset_lock:
            if size is not None and 0 <= size <= CHUNK:
                return self._inline("_read", size)
            return self._run("_read", size)

    readall = read

    def readinto(self, buf: bytearray | memoryview) -> int:
        view = memoryview(buf).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        with self._offset_lock:
            if _nbytes(data) <= CHUNK:
                return self._inline("_write", data)
            return self._run("_write", data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        with self._offset_lock:
            return self._inline("_seek", offset, whence)

    lseek = seek

    def tell(self) -> int:
        return self._f.tell()

    # positional IO
    def pread(self, size: int, offset: int) -> bytes:
        if size <= CHUNK:
            return self._inline("pread", size, offset)
        return self._run("pread", size, offset)

    def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> int:
        if _nbytes(data) <= CHUNK:
            return self._inline("pwrite", data, offset)
        return self._run("pwrite", data, offset)

    # single FOPs
    def fstat(self) -> os.stat_result:
        return self._inline("fstat")

    def fgetsize(self) -> int:
        return self._inline("fgetsize")

    def truncate(self, size: int | None = None) -> int:
        return self._inline("truncate", size)

    ftruncate = truncate

    def fsync(self) -> None:
        self._inline("fsync")

    def fdatasync(self) -> None:
        self._inline("fdatasync")

    def discard(self, offset: int, length: int) -> None:
        self._inline("discard", offset, length)

    def zerofill(self, offset: int, length: int) -> None:
        self._inline("zerofill", offset, length)

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        self._inline("fallocate", mode, offset, length)

    def fchmod(self, mode: int) -> None:
        self._inline("fchmod", mode)

    def fchown(self, uid: int, gid: int) -> None:
        self._inline("fchown", uid, gid)

    def fgetxattr(self, key: str, size: int = 0) -> bytes:
        return self._inline("fgetxattr", key, size)

    def flistxattr(self, size: int = 0) -> list[str]:
        return self._inline("flistxattr", size)

    def fsetxattr(self, key: str, value: bytes | str, flags: int = 0) -> None:
        self._inline("fsetxattr", key, value, flags)

    def fremovexattr(self, key: str) -> None:
        self._inline("fremovexattr", key)

    def __repr__(self) -> str:
        return repr(self._f)


class Volume:
    """A mounted volume (blocking).  ``Volume(uri)`` mounts at once; close it (or use it as a
    context manager) to unmount."""

    def __init__(
        self,
        uri: str | GlusterURI,
        *,
        process_name: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        tls: ClientTLS | None = None,
    ) -> None:
        self._loop = _Loop(uri, {"process_name": process_name, "uid": uid, "gid": gid, "tls": tls})
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
        return self._avol.mounted

    def close(self) -> None:
        """Release open fds, close the connections, stop the IO thread."""
        self._loop.stop()

    umount = close

    def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._loop.run(getattr(self._avol, name), *args, **kwargs)

    # files
    def open(self, path: Any, flags: int = os.O_RDONLY, mode: int = 0o777) -> File:
        return File(self._loop, self._run("open", path, flags, mode))

    def fopen(self, path: Any, mode: str = "r") -> File:
        return File(self._loop, self._run("fopen", path, mode))

    # stat family
    def stat(self, path: Any) -> os.stat_result:
        return self._run("stat", path)

    def lstat(self, path: Any) -> os.stat_result:
        return self._run("lstat", path)

    def exists(self, path: Any) -> bool:
        return self._run("exists", path)

    def isdir(self, path: Any) -> bool:
        return self._run("isdir", path)

    def isfile(self, path: Any) -> bool:
        return self._run("isfile", path)

    def islink(self, path: Any) -> bool:
        return self._run("islink", path)

    def getsize(self, path: Any) -> int:
        return self._run("getsize", path)

    def statvfs(self, path: Any = "/") -> os.statvfs_result:
        return self._run("statvfs", path)

    # directories
    def mkdir(self, path: Any, mode: int = 0o777) -> None:
        self._run("mkdir", path, mode)

    def makedirs(self, path: Any, mode: int = 0o777, exist_ok: bool = False) -> None:
        self._run("makedirs", path, mode, exist_ok)

    def rmdir(self, path: Any) -> None:
        self._run("rmdir", path)

    def rmtree(self, path: Any, ignore_errors: bool = False, onerror: Any = None) -> None:
        self._run("rmtree", path, ignore_errors, onerror)

    def listdir(self, path: Any = "/") -> list[str]:
        return self._run("listdir", path)

    def scandir(self, path: Any = "/") -> _Scandir:
        return _Scandir(self._run("scandir", path))

    def walk(
        self, top: Any, topdown: bool = True, onerror: Any = None, followlinks: bool = False
    ) -> Iterator[tuple[str, list[str], list[str]]]:
        """Like :func:`os.walk` (entries from READDIRP)."""
        top = os.fsdecode(os.fspath(top))
        try:
            entries = list(self.scandir(top))
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
                yield from self.walk(posixpath.join(top, d), topdown, onerror, followlinks)
        if not topdown:
            yield top, dirs, files

    # names
    def unlink(self, path: Any) -> None:
        self._run("unlink", path)

    remove = unlink

    def rename(self, src: Any, dst: Any) -> None:
        self._run("rename", src, dst)

    def link(self, source: Any, link_name: Any) -> None:
        self._run("link", source, link_name)

    def symlink(self, source: Any, link_name: Any) -> None:
        self._run("symlink", source, link_name)

    def readlink(self, path: Any) -> str:
        return self._run("readlink", path)

    # attributes
    def chmod(self, path: Any, mode: int) -> None:
        self._run("chmod", path, mode)

    def chown(self, path: Any, uid: int, gid: int) -> None:
        self._run("chown", path, uid, gid)

    def utime(self, path: Any, times: tuple[float, float] | None = None, *, ns: tuple[int, int] | None = None) -> None:
        self._run("utime", path, times, ns=ns)

    def truncate(self, path: Any, length: int) -> None:
        self._run("truncate", path, length)

    # xattrs
    def getxattr(self, path: Any, key: str, size: int = 0) -> bytes:
        return self._run("getxattr", path, key, size)

    def listxattr(self, path: Any, size: int = 0) -> list[str]:
        return self._run("listxattr", path, size)

    def setxattr(self, path: Any, key: str, value: bytes | str, flags: int = 0) -> None:
        self._run("setxattr", path, key, value, flags)

    def removexattr(self, path: Any, key: str) -> None:
        self._run("removexattr", path, key)

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
    tls: ClientTLS | None = None,
) -> Volume:
    """Mount the volume of ``uri`` (with or without an image path): ``with connect(uri) as vol:``.
    ``tls``: see :func:`gfclient.aio.connect`."""
    return Volume(uri, process_name=process_name, uid=uid, gid=gid, tls=tls)
