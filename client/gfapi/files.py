"""libgfapi-python's file and directory objects on gfclient: :class:`File` (over a raw fd),
:class:`Dir` / :class:`Dirent` (``opendir``), :class:`DirEntry` (``scandir``)."""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
from typing import TYPE_CHECKING, Any

from ..sync import File as _SyncFile
from ._common import (
    _bytes,
    _fd_lock,
    _fds,
    _lookup,
    _register,
    _text,
    _xattr_text,
)

if TYPE_CHECKING:
    from .volume import Volume


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
