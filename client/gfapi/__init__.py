"""libgfapi-python's ``gluster.gfapi`` on gfclient: code written for it runs unchanged,
without libgfapi.

Change the import (``from gluster import gfapi`` -> ``from gfclient import gfapi``), or
leave the code alone and call :func:`install` once (e.g. in a ``conftest.py``), which makes
``import gluster.gfapi`` and ``gluster.gfapi.exceptions`` this module::

    from gfclient import gfapi

    vol = gfapi.Volume("127.0.0.1", "testvol")        # hosts, volname, proto, port
    vol.mount()
    with vol.fopen("a.txt", "w") as f:
        f.write(b"hello")
    fd = vol.open("a.txt", os.O_RDONLY)                # a raw glfd, as in libgfapi-python
    with gfapi.File(fd, path="a.txt") as f:
        assert f.read() == b"hello"
    vol.setxattr("a.txt", "user.k", "v")               # xattrs are str, as there
    vol.umount()

The API is libgfapi-python 1.2's (``gluster/gfapi/gfapi.py``), method for method, with its
quirks kept so that its users see no change: ``File.read`` returns ``None`` at end of file,
``readinto`` takes only a ``bytearray``, xattr values are ``str`` cut at the first NUL,
``listxattr`` is sorted, ``makedirs`` fails on an existing leaf, ``walk`` puts symlinks to
directories among the files, ``scandir`` entries do not follow symlinks by default,
``copyfile`` of a file onto itself raises :class:`Error`, a mount failure raises
:class:`LibgfapiException` (``glfs_init(...) failed: ...``), a call on an unmounted volume
:class:`VolumeNotMounted`, on a closed file ``OSError(EBADF)``.

Where it cannot be the same: ``stat``/``statvfs`` results are :class:`os.stat_result` /
:class:`os.statvfs_result` (same ``st_*``/``f_*`` attributes as libgfapi-python's ctypes
structures); ``set_logging`` writes gfclient's :mod:`logging` records (not libgfapi's) to
the file at the matching level; ``setfsuid``/``setfsgid`` change the identity of every later
call on this volume (libgfapi: of the calling thread, on every volume); ``dup`` opens the
path again with the same flags and offset (a second fd, where ``glfs_dup`` shares one);
``write(data, flags)`` honours ``O_SYNC``/``O_DSYNC`` with an fsync after the write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import itertools
import logging
import os
import posixpath
import stat
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

from ..sync import File as _SyncFile
from ..sync import Volume as _SyncVolume
from ..sync import connect as _connect
from .exceptions import Error, LibgfapiException, VolumeNotMounted

__all__ = ["Volume", "File", "Dir", "DirEntry", "Dirent", "install", "LibgfapiException", "VolumeNotMounted", "Error"]
__version__ = "1.2"  # the libgfapi-python API this module follows

log = logging.getLogger("gfclient.gfapi")

_MODE_FLAGS: dict[str, int] = {}
for _names, _flags in (
    (("r", "rb"), os.O_RDONLY),
    (("w", "wb"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    (("a", "ab"), os.O_WRONLY | os.O_CREAT | os.O_APPEND),
    (("r+", "rb+", "r+b"), os.O_RDWR),
    (("w+", "wb+", "w+b"), os.O_RDWR | os.O_CREAT | os.O_TRUNC),
    (("a+", "ab+", "a+b"), os.O_RDWR | os.O_CREAT | os.O_APPEND),
):
    for _name in _names:
        _MODE_FLAGS[_name] = _flags

#: libglusterfs's gf_loglevel_t (GF_LOG_NONE = 0 ... GF_LOG_TRACE = 9) -> logging levels
_LOG_LEVELS = {0: logging.CRITICAL + 10, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.CRITICAL,
               4: logging.ERROR, 5: logging.WARNING, 6: logging.INFO, 7: logging.INFO, 8: logging.DEBUG,
               9: logging.DEBUG}  # fmt: skip


def _text(value: Any) -> str:
    """A path or name given as str or bytes (libgfapi-python takes both)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, os.PathLike):
        return _text(os.fspath(value))
    raise ValueError(f"Cannot convert object with type {type(value)}")


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValueError(f"Cannot convert object with type {type(value)}")


def _xattr_text(value: bytes) -> str:
    # libgfapi-python returns ``buf.value[:rc]``: ctypes' value stops at the first NUL
    return value.split(b"\0", 1)[0].decode("utf-8")


# ---- raw fds: libgfapi-python's File wraps a glfd number --------------------------------------

_fds: dict[int, tuple[_SyncFile, Volume, int]] = {}  # glfd -> (file, volume, open flags)
_fd_numbers = itertools.count(0x7F1D0001, 2)  # odd, never 0: "if self.fd" stays true
_fd_lock = threading.Lock()


def _register(f: _SyncFile, vol: Volume, flags: int) -> int:
    with _fd_lock:
        fd = next(_fd_numbers)
        _fds[fd] = (f, vol, flags)
    return fd


def _lookup(fd: int) -> tuple[_SyncFile, Volume, int]:
    entry = _fds.get(fd)
    if entry is None:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    return entry


class File:
    """An open file (``Volume.fopen``, or ``File(vol.open(path, flags))``): libgfapi-python's
    ``File``.  Methods raise ``OSError`` (``EBADF`` once closed)."""

    def __init__(self, fd: Any, path: Any = None, mode: str | None = None) -> None:
        """Wrap the raw fd ``fd`` that :meth:`Volume.open` returned; ``path`` and ``mode``
        are only remembered (:attr:`name`, :attr:`mode`)."""
        self.fd: int | None = fd
        self.originalpath = path
        self._mode = mode
        self._validate_init()

    def _validate_init(self) -> None:
        if self.fd is None or not isinstance(self.fd, int):
            raise ValueError("I/O operation on invalid fd")

    def __enter__(self) -> File:
        self._validate_init()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd:
            self.close()

    def _f(self) -> _SyncFile:
        if not self.fd:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return _lookup(self.fd)[0]

    @property
    def fileno(self) -> int | None:
        """The raw fd (glfd) this object wraps (a property, as in libgfapi-python)."""
        return self.fd

    @property
    def mode(self) -> str | None:
        """The mode given to :meth:`Volume.fopen` (None for a wrapped raw fd)."""
        return self._mode

    @property
    def name(self) -> Any:
        """The path given to :meth:`Volume.fopen`."""
        return self.originalpath

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return not self.fd

    def close(self) -> None:
        """Close the file (FLUSH + RELEASE); a closed file cannot be used any more."""
        f = self._f()
        assert self.fd is not None
        with _fd_lock:
            _fds.pop(self.fd, None)
        self.fd = None
        f.close()

    def discard(self, offset: int, length: int) -> None:
        """Punch a hole of ``length`` bytes at ``offset`` (DISCARD)."""
        self._f().discard(offset, length)

    def dup(self) -> File:
        """A second File on the same file, with the same flags and offset (gfclient opens
        the path again: ``glfs_dup`` would share one fd)."""
        f = self._f()
        assert self.fd is not None
        _, vol, flags = _lookup(self.fd)
        again = vol._svol().open(f.name, flags & ~(os.O_CREAT | os.O_TRUNC | os.O_EXCL))
        again.seek(f.tell())
        return File(_register(again, vol, flags), self.originalpath)

    def fallocate(self, mode: int, offset: int, length: int) -> None:
        """``fallocate(2)`` on the range (FALLOCATE)."""
        self._f().fallocate(mode, offset, length)

    def fchmod(self, mode: int) -> None:
        """Change the file's mode."""
        self._f().fchmod(mode)

    def fchown(self, uid: int, gid: int) -> None:
        """Change the file's owner and group."""
        self._f().fchown(uid, gid)

    def fdatasync(self) -> None:
        """Flush the file's data (FSYNC with datasync)."""
        self._f().fdatasync()

    def fgetsize(self) -> int:
        """The file's size, as ``fstat`` reports it."""
        return self.fstat().st_size

    def fgetxattr(self, key: Any, size: int = 0) -> str:
        """The value of extended attribute ``key``, as text (``size`` is accepted and
        ignored: the whole value is fetched)."""
        return _xattr_text(self._f().fgetxattr(_text(key), size))

    def flistxattr(self, size: int = 0) -> list[str]:
        """The names of the file's extended attributes, sorted."""
        return sorted(_text(k) for k in self._f().flistxattr(size))

    def fsetxattr(self, key: Any, value: Any, flags: int = 0) -> None:
        """Set ``key`` to ``value`` (str or bytes); ``flags`` 1 = XATTR_CREATE, 2 =
        XATTR_REPLACE."""
        self._f().fsetxattr(_text(key), _bytes(value), flags)

    def fremovexattr(self, key: Any) -> None:
        """Remove extended attribute ``key``."""
        self._f().fremovexattr(_text(key))

    def fstat(self) -> os.stat_result:
        """The file's stat (FSTAT)."""
        return self._f().fstat()

    def fsync(self) -> None:
        """Flush the file's data and metadata (FSYNC)."""
        self._f().fsync()

    def ftruncate(self, length: int) -> None:
        """Truncate (or extend with zeros) to ``length`` bytes."""
        self._f().truncate(length)

    def lseek(self, pos: int, how: int) -> int:
        """Move the offset (``how``: SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE);
        returns the new offset."""
        return self._f().seek(pos, how)

    def read(self, size: int = -1) -> bytes | None:
        """Read up to ``size`` bytes at the offset (all that is left if negative); ``None``
        at end of file, as libgfapi-python returns."""
        f = self._f()
        if size < 0:
            size = self.fgetsize()
        data = f.read(size)
        return data if data else None

    def readinto(self, buf: bytearray) -> int:
        """Read into ``buf`` (a ``bytearray`` only, as in libgfapi-python); returns the
        number of bytes read (0 at end of file)."""
        if type(buf) is not bytearray:
            raise TypeError("buffer must of type bytearray")
        return self._f().readinto(buf)

    def write(self, data: Any, flags: int = 0) -> int:
        """Write ``data`` (bytes-like) at the offset; returns how many bytes were written.
        ``flags`` with O_SYNC/O_DSYNC: the write is made durable before returning."""
        if isinstance(data, str):
            raise TypeError("write() argument must be a bytes-like object, not 'str'")
        f = self._f()
        written = f.write(data)
        if flags & os.O_SYNC == os.O_SYNC:
            f.fsync()
        elif flags & os.O_DSYNC:
            f.fdatasync()
        return written

    def zerofill(self, offset: int, length: int) -> None:
        """Write ``length`` zero bytes at ``offset`` (ZEROFILL)."""
        self._f().zerofill(offset, length)

    def __repr__(self) -> str:
        return f"<gfapi.File {self.originalpath!r} fd={self.fd}>"


@dataclasses.dataclass
class Dirent:
    """One directory entry as ``glfs_readdir_r`` fills ``struct dirent``."""

    d_ino: int
    d_off: int
    d_reclen: int
    d_type: int
    d_name: bytes


_DT = {stat.S_IFIFO: 1, stat.S_IFCHR: 2, stat.S_IFDIR: 4, stat.S_IFBLK: 6, stat.S_IFREG: 8, stat.S_IFLNK: 10,
       stat.S_IFSOCK: 12}  # fmt: skip


class Dir:
    """An open directory (``Volume.opendir``): iterating gives :class:`Dirent` values, or
    ``(Dirent, stat)`` pairs with ``readdirplus``, "." and ".." included, as readdir does."""

    def __init__(self, entries: list[tuple[str, os.stat_result]], readdirplus: bool = False) -> None:
        self._entries = iter(entries)
        self._off = 0
        self.readdirplus = readdirplus

    def __iter__(self) -> Dir:
        return self

    def __next__(self) -> Any:
        """The next :class:`Dirent` (``StopIteration`` at the end), as ``gluster.gfapi.Dir.next``."""
        name, st = next(self._entries)
        raw = _bytes(name) if isinstance(name, str) else name
        self._off += 1
        entry = Dirent(st.st_ino, self._off, (19 + len(raw) + 1 + 7) & ~7, _DT.get(stat.S_IFMT(st.st_mode), 0), raw)
        return (entry, st) if self.readdirplus else entry

    next = __next__


class DirEntry:
    """What :meth:`Volume.scandir` yields: libgfapi-python's ``DirEntry`` (``stat``,
    ``is_dir``, ``is_file`` do not follow symlinks unless asked)."""

    __slots__ = ("_name", "_vol", "_lstat", "_stat", "_path")

    def __init__(self, vol: Volume, scandir_path: Any, name: Any, lstat: os.stat_result) -> None:
        self._name = _text(name)
        self._vol = vol
        self._lstat = lstat
        self._stat: os.stat_result | None = None
        self._path = os.path.join(_text(scandir_path), self._name)

    @property
    def name(self) -> str:
        """The entry's name."""
        return self._name

    @property
    def path(self) -> str:
        """``os.path.join(scandir_path, name)``."""
        return self._path

    def stat(self, follow_symlinks: bool = False) -> os.stat_result:
        """The entry's lstat, or its target's stat with ``follow_symlinks``."""
        if not follow_symlinks:
            return self._lstat
        if self._stat is None:
            self._stat = self._vol.stat(self.path) if self.is_symlink() else self._lstat
        return self._stat

    def _is(self, fmt: int, follow_symlinks: bool) -> bool:
        if follow_symlinks and self.is_symlink():
            try:
                st = self.stat(follow_symlinks=True)
            except OSError as err:
                if err.errno != errno.ENOENT:
                    raise
                return False
            return stat.S_IFMT(st.st_mode) == fmt
        return stat.S_IFMT(self._lstat.st_mode) == fmt

    def is_dir(self, follow_symlinks: bool = False) -> bool:
        """A directory (its target's type with ``follow_symlinks``)."""
        return self._is(stat.S_IFDIR, follow_symlinks)

    def is_file(self, follow_symlinks: bool = False) -> bool:
        """A regular file (its target's type with ``follow_symlinks``)."""
        return self._is(stat.S_IFREG, follow_symlinks)

    def is_symlink(self) -> bool:
        """A symbolic link, even a broken one."""
        return stat.S_ISLNK(self._lstat.st_mode)

    def inode(self) -> int:
        """The entry's inode number."""
        return self._lstat.st_ino

    def __str__(self) -> str:
        return f"<{self.__class__.__name__}: {self.name!r}>"

    __repr__ = __str__


_M = TypeVar("_M", bound=Callable[..., Any])


def _mounted(method: _M) -> _M:
    """libgfapi-python's ``validate_mount``: VolumeNotMounted unless mounted."""

    @functools.wraps(method)
    def wrapper(self: Volume, *args: Any, **kwargs: Any) -> Any:
        if self._vol is None or not self._mounted:
            raise VolumeNotMounted(f'Volume "{self.volname}" not mounted.')
        return method(self, *args, **kwargs)

    return cast(_M, wrapper)


class Volume:
    """A GlusterFS volume to mount: libgfapi-python's ``Volume(hosts, volname, proto="tcp",
    port=24007, log_file="/dev/null", log_level=7)``.

    ``hosts``: a host name or address, or a list of them (volfile servers tried in order),
    or, with ``proto="unix"``, glusterd's socket path.  ``proto``: ``tcp``, ``rdma`` or
    ``unix``.  Paths may be str or bytes, relative to :meth:`getcwd` (``/`` at first).
    """

    def __init__(
        self,
        hosts: Any,
        volname: Any,
        proto: str = "tcp",
        port: int = 24007,
        log_file: str | None = "/dev/null",
        log_level: int = 7,
    ) -> None:
        """Check the arguments (``LibgfapiException`` as libgfapi-python raises); nothing is
        contacted before :meth:`mount`."""
        self._mounted = False
        self._vol: _SyncVolume | None = None
        self.fs: _SyncVolume | None = None
        self.log_file, self.log_level = log_file, log_level
        self._log_handler: logging.Handler | None = None
        if None in (volname, hosts):
            raise LibgfapiException("Host and Volume name should not be None.")
        if proto not in ("tcp", "rdma", "unix"):
            raise LibgfapiException("Invalid protocol specified.")
        if not isinstance(port, int):
            raise LibgfapiException("Invalid port specified.")
        if type(hosts) is not list:
            hosts = [hosts]
        if len(hosts) < 1:
            raise LibgfapiException("At least one host must be specified")
        self.hosts, self.volname, self.protocol, self.port = hosts, volname, proto, port
        self.volid: uuid.UUID | None = None
        self._cwd = "/"
        self._uid: int | None = None
        self._gid: int | None = None

    # ---- mounting ----------------------------------------------------------------------------
    @property
    def mounted(self) -> bool:
        """True between :meth:`mount` and :meth:`umount`."""
        return self._mounted

    def _uri(self, host: Any) -> str:
        name = _text(self.volname)
        if self.protocol == "unix":
            return f"gluster+unix:///{name}?socket={_text(host)}"
        h = _text(host)
        if ":" in h and not h.startswith("["):
            h = f"[{h}]"
        scheme = "gluster+rdma" if self.protocol == "rdma" else "gluster"
        return f"{scheme}://{h}:{self.port}/{name}"

    def mount(self) -> None:
        """Mount the volume (``glfs_init``: volfile from the first host that answers, then
        the bricks); ``LibgfapiException`` if it fails.  Mounting twice does nothing."""
        if self._vol is not None and self._mounted:
            return
        self.set_logging(self.log_file, self.log_level)
        servers = [self._uri(h).split("/", 3)[2] if self.protocol != "unix" else f"unix://{_text(h)}"
                   for h in self.hosts[1:]]  # fmt: skip
        kw: dict[str, Any] = {"uid": self._uid, "gid": self._gid}
        if servers:
            kw["servers"] = servers
        log.debug("mounting %s from %s", self.volname, self._uri(self.hosts[0]))
        try:
            self._vol = _connect(self._uri(self.hosts[0]), **kw)
        except (OSError, TypeError, ValueError) as exc:
            raise LibgfapiException(f"glfs_init({self.volname}) failed: {exc}") from exc
        self.fs = self._vol
        self._mounted = True
        log.debug("mounted %s", self.volname)

    def umount(self) -> None:
        """Unmount (``glfs_fini``): open files are closed, connections too."""
        vol, self._vol, self.fs = self._vol, None, None
        if vol is None or not self._mounted:
            return
        self._mounted = False
        with _fd_lock:
            mine = [fd for fd, (_, v, _) in _fds.items() if v is self]
        for fd in mine:
            entry = _fds.pop(fd, None)
            if entry is not None:
                with contextlib.suppress(OSError):
                    entry[0].close()
        try:
            vol.close()
        except OSError as exc:
            raise LibgfapiException(f"glfs_fini({self.volname}) failed: {exc}") from exc
        log.debug("unmounted %s", self.volname)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.umount()

    def set_logging(self, log_file: str | None, log_level: int) -> None:
        """Where gfclient's log records of this process go: ``log_file`` (``/dev/null`` or
        None: nowhere) at ``log_level`` (libglusterfs's scale: 4 error, 5 warning, 7 info,
        8 debug, 9 trace)."""
        self.log_file, self.log_level = log_file, log_level
        logger = logging.getLogger("gfclient")
        if self._log_handler is not None:
            logger.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        if log_file and log_file != "/dev/null":
            handler = logging.FileHandler(log_file)
            handler.setLevel(_LOG_LEVELS.get(int(log_level), logging.DEBUG))
            handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname).1s [%(name)s] %(message)s"))
            logger.addHandler(handler)
            if logger.getEffectiveLevel() > handler.level:
                logger.setLevel(handler.level)
            self._log_handler = handler

    def disable_logging(self) -> None:
        """Send the log to /dev/null."""
        self.set_logging("/dev/null", self.log_level)

    # ---- plumbing ------------------------------------------------------------------------------
    def _svol(self) -> _SyncVolume:
        if self._vol is None or not self._mounted:
            raise VolumeNotMounted(f'Volume "{self.volname}" not mounted.')
        return self._vol

    def _path(self, path: Any) -> str:
        p = _text(path)
        return p if p.startswith("/") else posixpath.join(self._cwd, p)

    def _inside(self, fn: Callable[[Any], Any]) -> Any:
        """Run the coroutine function ``fn(avol)`` in gfclient's IO thread (what the sync API
        does not offer: ACCESS, MKNOD, the identity of later calls)."""
        svol = self._svol()
        return svol._loop.run(fn, svol._avol)

    # ---- the volume ----------------------------------------------------------------------------
    @_mounted
    def get_volume_id(self) -> uuid.UUID:
        """The volume's UUID (glusterd's GET_VOLUME_INFO, as ``glfs_get_volumeid`` asks it)."""
        if self.volid is None:
            self.volid = _volume_id(self.protocol, self.hosts, self.port, _text(self.volname))
        return self.volid

    @_mounted
    def access(self, path: Any, mode: int) -> bool:
        """Whether the caller may access ``path`` as ``mode`` says (F_OK, or R_OK|W_OK|X_OK;
        the brick decides: ACCESS)."""
        p = self._path(path)

        async def access(avol: Any) -> None:
            from fakegluster.proto import fops as F
            from fakegluster.proto.fops import GfFop

            gfid, _ = await avol._resolve(p, True)
            await avol.fops.call(GfFop.ACCESS, F.GfxAccessReq(gfid, mode, None), path=p)

        try:
            self._inside(access)
        except OSError:
            return False
        return True

    @_mounted
    def chdir(self, path: Any) -> None:
        """Change the directory relative paths start from (ENOENT, ENOTDIR as chdir(2))."""
        p = self._path(path)
        if not stat.S_ISDIR(self._svol().stat(p).st_mode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), p)
        self._cwd = posixpath.normpath(p)

    @_mounted
    def getcwd(self) -> str:
        """The current directory (``/`` after mount)."""
        return self._cwd

    def setfsuid(self, uid: int) -> None:
        """The uid later calls are made as (on this volume; libgfapi: on the calling thread)."""
        self._uid = uid
        self._set_identity(uid=uid)

    def setfsgid(self, gid: int) -> None:
        """The gid later calls are made as (on this volume; libgfapi: on the calling thread)."""
        self._gid = gid
        self._set_identity(gid=gid)

    def _set_identity(self, **changes: int) -> None:
        if self._vol is None or not self._mounted:
            return  # applied at mount

        async def change(avol: Any) -> None:
            avol.fops.app = dataclasses.replace(avol.fops.app, **changes)

        self._inside(change)

    # ---- stat family ---------------------------------------------------------------------------
    @_mounted
    def stat(self, path: Any) -> os.stat_result:
        """stat(2) of ``path`` (symlinks followed)."""
        return self._svol().stat(self._path(path))

    @_mounted
    def lstat(self, path: Any) -> os.stat_result:
        """stat(2) of ``path`` itself (a symlink's own)."""
        return self._svol().lstat(self._path(path))

    @_mounted
    def statvfs(self, path: Any) -> os.statvfs_result:
        """The volume's statvfs (STATFS)."""
        return self._svol().statvfs(self._path(path))

    def exists(self, path: Any) -> bool:
        """True if ``stat`` succeeds (False for a broken symlink)."""
        try:
            self.stat(path)
        except OSError:
            return False
        return True

    def _fmt_is(self, path: Any, fmt: int, follow: bool = True) -> bool:
        try:
            st = self.stat(path) if follow else self.lstat(path)
        except OSError:
            return False
        return stat.S_IFMT(st.st_mode) == fmt

    def isdir(self, path: Any) -> bool:
        """True for an existing directory (symlinks followed)."""
        return self._fmt_is(path, stat.S_IFDIR)

    def isfile(self, path: Any) -> bool:
        """True for an existing regular file (symlinks followed)."""
        return self._fmt_is(path, stat.S_IFREG)

    def islink(self, path: Any) -> bool:
        """True for a symbolic link."""
        return self._fmt_is(path, stat.S_IFLNK, follow=False)

    def getsize(self, path: Any) -> int:
        """The size of ``path``, from stat."""
        return self.stat(path).st_size

    def getatime(self, path: Any) -> float:
        """The last access time of ``path``, from stat."""
        return self.stat(path).st_atime

    def getmtime(self, path: Any) -> float:
        """The last modification time of ``path``, from stat."""
        return self.stat(path).st_mtime

    def getctime(self, path: Any) -> float:
        """The last status change time of ``path``, from stat."""
        return self.stat(path).st_ctime

    def samefile(self, path1: Any, path2: Any) -> bool:
        """True if both paths are the same file (device and inode); OSError if a stat fails."""
        s1, s2 = self.stat(path1), self.stat(path2)
        return s1.st_ino == s2.st_ino and s1.st_dev == s2.st_dev

    # ---- xattrs --------------------------------------------------------------------------------
    @_mounted
    def getxattr(self, path: Any, key: Any, size: int = 0) -> str:
        """The value of extended attribute ``key`` of ``path``, as text."""
        return _xattr_text(self._svol().getxattr(self._path(path), _text(key), size))

    @_mounted
    def listxattr(self, path: Any, size: int = 0) -> list[str]:
        """The extended attribute names of ``path``, sorted."""
        return sorted(_text(k) for k in self._svol().listxattr(self._path(path), size))

    @_mounted
    def setxattr(self, path: Any, key: Any, value: Any, flags: int = 0) -> None:
        """Set ``key`` to ``value`` (str or bytes); ``flags`` 1 = XATTR_CREATE, 2 =
        XATTR_REPLACE."""
        self._svol().setxattr(self._path(path), _text(key), _bytes(value), flags)

    @_mounted
    def removexattr(self, path: Any, key: Any) -> None:
        """Remove extended attribute ``key`` of ``path``."""
        self._svol().removexattr(self._path(path), _text(key))

    # ---- directories -------------------------------------------------------------------------
    @_mounted
    def mkdir(self, path: Any, mode: int = 0o777) -> None:
        """Create directory ``path``."""
        self._svol().mkdir(self._path(path), mode)

    def makedirs(self, path: Any, mode: int = 0o777) -> None:
        """Create ``path`` and the directories above it; fails (EEXIST) if ``path`` exists."""
        head, tail = os.path.split(_text(path))
        if not tail:
            head, tail = os.path.split(head)
        if head and tail and not self.exists(head):
            try:
                self.makedirs(head, mode)
            except OSError as err:
                if err.errno != errno.EEXIST:
                    raise
            if tail == os.curdir:
                return
        self.mkdir(path, mode)

    @_mounted
    def rmdir(self, path: Any) -> None:
        """Remove the empty directory ``path``."""
        self._svol().rmdir(self._path(path))

    @_mounted
    def opendir(self, path: Any, readdirplus: bool = False) -> Dir:
        """Open directory ``path`` for reading: a :class:`Dir` of :class:`Dirent` values
        (``(Dirent, stat)`` with ``readdirplus``), "." and ".." first."""
        p = self._path(path)
        svol = self._svol()
        entries = [(".", svol.stat(p)), ("..", svol.stat(posixpath.join(p, "..")))]
        entries += [(e.name, e.stat(follow_symlinks=False)) for e in svol.scandir(p)]
        return Dir(entries, readdirplus)

    def listdir(self, path: Any) -> list[str]:
        """The names in directory ``path`` (without "." and "..")."""
        return [_text(e.d_name) for e in self.opendir(path) if _text(e.d_name) not in (".", "..")]

    def listdir_with_stat(self, path: Any) -> list[tuple[str, os.stat_result]]:
        """``(name, stat)`` of each entry of directory ``path`` (READDIRP's stats)."""
        return [(_text(e.d_name), st) for e, st in self.opendir(path, readdirplus=True)
                if _text(e.d_name) not in (".", "..")]  # fmt: skip

    def scandir(self, path: Any) -> Iterator[DirEntry]:
        """:class:`DirEntry` per entry of directory ``path`` (an iterator)."""
        for entry, lstat in self.opendir(path, readdirplus=True):
            if entry.d_name not in (b".", b".."):
                yield DirEntry(self, path, entry.d_name, lstat)

    def walk(self, top: Any, topdown: bool = True, onerror: Any = None, followlinks: bool = False) -> Iterator[Any]:
        """``(dirpath, dirnames, filenames)`` per directory under ``top``, like libgfapi-python
        (symlinks to directories are among the files unless ``followlinks``)."""
        dirs, nondirs = [], []
        try:
            for entry in self.scandir(top):
                if entry.is_dir(follow_symlinks=followlinks):
                    dirs.append(entry)
                else:
                    nondirs.append(entry.name)
        except OSError as err:
            if onerror is not None:
                onerror(err)
            return
        if topdown:
            yield top, [d.name for d in dirs], nondirs
        for directory in dirs:
            if followlinks or not directory.is_symlink():
                yield from self.walk(os.path.join(top, directory.name), topdown, onerror, followlinks)
        if not topdown:
            yield top, [d.name for d in dirs], nondirs

    def rmtree(self, path: Any, ignore_errors: bool = False, onerror: Any = None) -> None:
        """Remove the tree at ``path`` (OSError on a symlink); errors go to ``onerror(func,
        path, exc)``, are ignored, or are raised."""
        if ignore_errors:

            def onerror(*args: Any) -> None:
                pass

        elif onerror is None:

            def onerror(func: Any, p: Any, exc: BaseException) -> None:
                raise exc

        if self.islink(path):
            raise OSError("Cannot call rmtree on a symbolic link")
        try:
            for entry in self.scandir(path):
                fullname = os.path.join(_text(path), entry.name)
                if entry.is_dir(follow_symlinks=False):
                    self.rmtree(fullname, ignore_errors, onerror)
                else:
                    try:
                        self.unlink(fullname)
                    except OSError as e:
                        onerror(self.unlink, fullname, e)
        except OSError as e:
            onerror(self.scandir, path, e)
        try:
            self.rmdir(path)
        except OSError as e:
            onerror(self.rmdir, path, e)

    # ---- files ----------------------------------------------------------------------------------
    @_mounted
    def fopen(self, path: Any, mode: str = "r") -> File:
        """Open ``path`` like Python's ``open`` (modes r, w, a, r+, w+, a+, with or without
        b; no buffering): a :class:`File`."""
        if not isinstance(mode, str):
            raise TypeError("Mode must be a string")
        try:
            flags = _MODE_FLAGS[mode]
        except KeyError:
            raise ValueError("Invalid mode") from None
        f = self._svol().open(self._path(path), flags, 0o666)
        return File(_register(f, self, flags), path=path, mode=mode)

    @_mounted
    def open(self, path: Any, flags: int, mode: int = 0o777) -> int:
        """Open ``path`` like ``os.open``: returns the raw fd, to wrap in :class:`File`."""
        if not isinstance(flags, int):
            raise TypeError("flags must evaluate to an integer")
        f = self._svol().open(self._path(path), flags, mode)
        return _register(f, self, flags)

    @_mounted
    def mknod(self, path: Any, mode: int, dev: int) -> None:
        """Create a file node (FIFO, device, socket or regular file) at ``path``."""
        p = self._path(path)

        async def mknod(avol: Any) -> None:
            pgfid, name, full = await avol._parent(p)
            await avol.fops.mknod(pgfid, name, mode, dev, full)

        self._inside(mknod)

    @_mounted
    def readlink(self, path: Any) -> str:
        """The target of symlink ``path``."""
        return _text(self._svol().readlink(self._path(path)))

    def remove(self, path: Any) -> None:
        """Same as :meth:`unlink`."""
        self.unlink(path)

    @_mounted
    def unlink(self, path: Any) -> None:
        """Remove the file ``path``."""
        self._svol().unlink(self._path(path))

    @_mounted
    def rename(self, src: Any, dst: Any) -> None:
        """Rename ``src`` to ``dst`` (a file there is replaced)."""
        self._svol().rename(self._path(src), self._path(dst))

    @_mounted
    def link(self, source: Any, link_name: Any) -> None:
        """Make ``link_name`` a hard link to ``source``."""
        self._svol().link(self._path(source), self._path(link_name))

    @_mounted
    def symlink(self, source: Any, link_name: Any) -> None:
        """Make ``link_name`` a symbolic link to ``source`` (stored as given)."""
        self._svol().symlink(_text(source), self._path(link_name))

    @_mounted
    def chmod(self, path: Any, mode: int) -> None:
        """Change the mode of ``path``."""
        self._svol().chmod(self._path(path), mode)

    @_mounted
    def chown(self, path: Any, uid: int, gid: int) -> None:
        """Change the owner and group of ``path``."""
        self._svol().chown(self._path(path), uid, gid)

    @_mounted
    def utime(self, path: Any, times: Any) -> None:
        """Set ``(atime, mtime)`` of ``path`` (``None``: now)."""
        if times is None:
            now = time.time()
            times = (now, now)
        elif type(times) is not tuple or len(times) != 2:
            raise TypeError("utime() arg 2 must be a tuple (atime, mtime)")
        self._svol().utime(self._path(path), times)

    # ---- copies (shutil's, on the volume) ------------------------------------------------------------
    @classmethod
    def copyfileobj(cls, fsrc: Any, fdst: Any, length: int = 128 * 1024) -> None:
        """Copy from the file object ``fsrc`` (from its offset) to ``fdst``, ``length`` bytes
        at a time."""
        buf = bytearray(length)
        while True:
            nread = fsrc.readinto(buf)
            if not nread or nread <= 0:
                break
            fdst.write(buf if nread == length else buf[:nread])

    def copyfile(self, src: Any, dst: Any) -> None:
        """Copy the content of ``src`` to ``dst`` (replaced); :class:`Error` if they are the
        same file."""
        try:
            same = self.samefile(src, dst)
        except OSError:
            same = False
        if same:
            raise Error(f"`{src}` and `{dst}` are the same file")
        with self.fopen(src, "rb") as fsrc, self.fopen(dst, "wb") as fdst:
            self.copyfileobj(fsrc, fdst)

    def copymode(self, src: Any, dst: Any) -> None:
        """Copy the permission bits of ``src`` to ``dst``."""
        self.chmod(dst, stat.S_IMODE(self.stat(src).st_mode))

    def copystat(self, src: Any, dst: Any) -> None:
        """Copy the permission bits and times of ``src`` to ``dst``."""
        st = self.stat(src)
        self.utime(dst, (st.st_atime, st.st_mtime))
        self.chmod(dst, stat.S_IMODE(st.st_mode))

    def copy(self, src: Any, dst: Any) -> None:
        """``cp src dst``: content and mode (into ``dst`` if it is a directory)."""
        if self.isdir(dst):
            dst = os.path.join(_text(dst), os.path.basename(_text(src)))
        self.copyfile(src, dst)
        self.copymode(src, dst)

    def copy2(self, src: Any, dst: Any) -> None:
        """``cp -p src dst``: content, mode and times."""
        if self.isdir(dst):
            dst = os.path.join(_text(dst), os.path.basename(_text(src)))
        self.copyfile(src, dst)
        self.copystat(src, dst)

    def copytree(self, src: Any, dst: Any, symlinks: bool = False, ignore: Any = None) -> None:
        """Copy the tree at ``src`` to the new directory ``dst`` (``symlinks``: copy links as
        links; ``ignore(src, names)`` -> names to skip); :class:`Error` lists what failed."""

        def isdir(path: str, st: os.stat_result, follow: bool) -> bool:
            if stat.S_ISDIR(st.st_mode):
                return True
            return follow and stat.S_ISLNK(st.st_mode) and self.isdir(path)

        entries = self.listdir_with_stat(src)
        ignored = ignore(src, [n for n, _ in entries]) if ignore is not None else set()
        self.makedirs(dst)
        errors: list[Any] = []
        for name, st in entries:
            if name in ignored:
                continue
            srcpath, dstpath = os.path.join(_text(src), name), os.path.join(_text(dst), name)
            try:
                if symlinks and stat.S_ISLNK(st.st_mode):
                    self.symlink(self.readlink(srcpath), dstpath)
                elif isdir(srcpath, st, not symlinks):
                    self.copytree(srcpath, dstpath, symlinks)
                else:
                    with self.fopen(srcpath, "rb") as fsrc, self.fopen(dstpath, "wb") as fdst:
                        self.copyfileobj(fsrc, fdst)
                    self.utime(dstpath, (st.st_atime, st.st_mtime))
                    self.chmod(dstpath, stat.S_IMODE(st.st_mode))
            except (Error, OSError) as why:
                errors.append((srcpath, dstpath, str(why)))
        try:
            self.copystat(src, dst)
        except OSError as why:
            errors.append((src, dst, str(why)))
        if errors:
            raise Error(errors)

    def __repr__(self) -> str:
        state = "mounted" if self._mounted else "not mounted"
        return f"<gfapi.Volume {self.volname!r} on {self.hosts} ({self.protocol}:{self.port}), {state}>"


def _volume_id(proto: str, hosts: list[Any], port: int, volname: str) -> uuid.UUID:
    """Ask glusterd for the volume's id, as ``glfs_get_volume_info`` does (GF-HANDSHAKE
    GET_VOLUME_INFO with ``volname`` and ``flags`` = GF_GET_VOLUME_UUID), from the first host
    that answers."""
    import socket

    from fakegluster.proto import handshake
    from fakegluster.proto.connection import Role, RpcConnection, encode_call
    from fakegluster.proto.events import Call, Reply
    from fakegluster.proto.gfdict import old_dict, old_dict_text

    args = handshake.GfGetVolumeInfoReq(old_dict(volname=volname, flags=handshake.GF_GET_VOLUME_UUID))
    last: OSError | None = None
    for host in hosts:
        try:
            if proto == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(30)
                sock.connect(_text(host))
            else:
                sock = socket.create_connection((_text(host), port), timeout=30)
        except OSError as exc:
            last = exc
            continue
        with sock:
            conn = RpcConnection(Role.CLIENT, None)
            call = Call(
                1, handshake.PROGRAM.prog, handshake.PROGRAM.vers, handshake.GfHndskProc.GF_HNDSK_GET_VOLUME_INFO, args
            )
            conn.expect_reply(1, call.prog, call.vers, call.proc)
            sock.sendall(b"".join(bytes(b) for b in encode_call(call)))
            while True:
                event = conn.next_event()
                if isinstance(event, Reply):
                    rsp = event.result
                    break
                data = sock.recv(65536)
                if not data:
                    raise OSError(errno.ECONNRESET, "glusterd closed the connection")
                conn.receive_data(data)
        if rsp.op_ret < 0:
            raise OSError(rsp.op_errno or errno.EIO, os.strerror(rsp.op_errno or errno.EIO))
        return uuid.UUID(old_dict_text(rsp.dict)["volume_id"])
    raise last or OSError(errno.ENOTCONN, "no volfile server")


def install() -> None:
    """Make ``import gluster.gfapi`` (and ``from gluster import gfapi``,
    ``gluster.gfapi.exceptions``) give this module, so code written for libgfapi-python runs
    unchanged.  Call it before that code imports them (a ``conftest.py`` is a good place)."""
    from . import exceptions

    pkg = sys.modules.get("gluster")
    if pkg is None or getattr(pkg, "gfapi", None) is not sys.modules[__name__]:
        pkg = types.ModuleType("gluster")
        pkg.__path__ = []
        sys.modules["gluster"] = pkg
    pkg.gfapi = sys.modules[__name__]  # type: ignore[attr-defined]
    sys.modules["gluster.gfapi"] = sys.modules[__name__]
    sys.modules["gluster.gfapi.exceptions"] = exceptions
