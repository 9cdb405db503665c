"""libgfapi-python's ``Volume`` on gfclient (see :mod:`gfclient.gfapi`)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import posixpath
import stat
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ..sync import Volume as _SyncVolume
from ..sync import connect as _connect
from ._common import (
    _LOG_LEVELS,
    _MODE_FLAGS,
    _bytes,
    _fd_lock,
    _fds,
    _mounted,
    _register,
    _text,
    _xattr_text,
    log,
)
from .exceptions import Error, LibgfapiException, VolumeNotMounted
from .files import Dir, DirEntry, File


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

    # ---- the volume ----------------------------------------------------------------------------
    @_mounted
    def get_volume_id(self) -> uuid.UUID:
        """The volume's UUID (glusterd's GET_VOLUME_INFO, as ``glfs_get_volumeid`` asks it)."""
        if self.volid is None:
            self.volid = self._svol().volume_id()
        return self.volid

    @_mounted
    def access(self, path: Any, mode: int) -> bool:
        """Whether the caller may access ``path`` as ``mode`` says (F_OK, or R_OK|W_OK|X_OK;
        the brick decides: ACCESS)."""
        return self._svol().access(self._path(path), mode)

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
        if self._vol is not None and self._mounted:  # else applied at mount
            self._vol.set_identity(uid=uid)

    def setfsgid(self, gid: int) -> None:
        """The gid later calls are made as (on this volume; libgfapi: on the calling thread)."""
        self._gid = gid
        if self._vol is not None and self._mounted:  # else applied at mount
            self._vol.set_identity(gid=gid)

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
        self._svol().mknod(self._path(path), mode, dev)

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
