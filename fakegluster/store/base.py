"""The store interface: a volume's files, addressed by gfid, with Linux filesystem semantics.

A brick turns FOPs into calls on a :class:`Store`; it never touches files itself.  Two
implementations: :class:`~fakegluster.store.memory.MemoryStore` (the default) and
:class:`~fakegluster.store.directory.DirectoryStore` (serves an existing folder).

Rules every store follows (the contract tests in ``tests/store/`` check them on both):

* Objects are named by 16-byte gfids.  The root directory's gfid is ``ROOT_GFID`` (00..01).
  A new object takes the gfid the caller passes (the client's ``gfid-req``); hard links
  share their inode's gfid.  An unknown gfid raises ``ESTALE``.
* Errors are ``OSError`` with the errno Linux (ext4) gives for the same operation — the
  reference is measured, not read (tests/store/test_contract.py runs a differential state
  machine against a real ext4 directory): ``ENOENT`` missing name, ``EEXIST``, ``ENOTDIR``,
  ``EISDIR``, ``ENOTEMPTY`` (also renaming a directory onto its ancestor), ``EINVAL``
  (rename of a directory into itself), ``EPERM`` (hard link to a directory; ``user.*``
  xattrs on special files), ``ENODATA`` (missing xattr), ``ENAMETOOLONG``, ``EFBIG``
  (offsets past 2**44 - 4096), ``EMLINK``, ``E2BIG``/``ERANGE`` (xattr sizes),
  ``EOPNOTSUPP`` (unknown xattr namespace), ``ENOSPC`` (capacity).  read/write/truncate of
  special files are ``EINVAL``; fallocate/seek ``ESPIPE`` (fifo, socket) or ``ENODEV``.
* Names are single path components: no ``/``, no NUL, not ``""``, ``"."`` or ``".."``
  (``EINVAL``; over 255 bytes ``ENAMETOOLONG``).  Nothing ever resolves outside the volume:
  symlinks are stored, never followed.
* Timestamps are integer nanoseconds since the epoch, taken from the store's ``clock``.
  They move like on Linux: write/truncate/fallocate move the file's mtime+ctime (truncate
  and fallocate always, even when nothing changes); namespace ops move the parents'
  mtime+ctime and the object's ctime (link, unlink, rename, also of a replaced object);
  setattr moves ctime; reads, readdir and readlink move atime by the relatime rule.
  chown clears setuid (and setgid with group-exec) on non-directories; chmod of a
  symlink is ignored; a setgid directory passes its group (and, to subdirectories, the
  bit) on.
* Regular files are sparse: data lives in ``BLOCK``-byte blocks; a block never written is
  a hole.  ``blocks`` counts 512-byte units of allocated blocks, as ``st_blocks`` does;
  fallocated-but-unwritten blocks count there, read as zeros and are holes to
  ``seek``.  ``seek`` answers ``SEEK_DATA``/``SEEK_HOLE`` at block granularity like ext4
  and raises ``ENXIO`` for a negative offset or one at or past EOF (both whences).
  ``write`` writes everything, short only across the 2**44 - 4096 size limit.
* Directory sizes are 4096 (a big ext4 directory grows; the stores do not model that),
  ``nlink`` of a directory is 2 + its subdirectories.
* An open file outlives its last name, as on Linux: ``unlink`` or ``rename`` with
  ``keep=True`` that removes a regular file's last name leaves it an *orphan* (the brick
  passes ``keep`` while a client holds an fd on it: posix_unlink moves the gfid handle to
  ``.glusterfs/unlink`` then).  An orphan has ``nlink`` 0 and no name; its gfid still
  reaches its attributes, data and xattrs (and stays in use: a new object cannot take it;
  ``link`` to it is ``ESTALE``) until ``forget(gfid)`` (the brick's last RELEASE:
  posix_release -> posix_unlink_renamed_file) drops it.  Orphans are not durable: a store
  opened again has none and nothing of them is left in its folder.
* Objects made outside the store are *foreign* (``foreign_gfids``): the root (a brick's
  root is a plain mkdir) and, in a directory store, whatever it found in its folder, until
  ``adopt(gfid)`` (``disown(gfid)``: the brick made one without a client's times).  The
  brick answers ``trusted.glusterfs.mdata`` only for the others, as a 10.3 brick has that
  xattr only on what a client's FOP touched (posix_set_ctime) or stamped
  (``set-ctime-mdata``): fakegluster/server/mdata.py.  A directory store keeps the set
  across restarts.
* Stores are not thread-safe; a brick calls them from one thread.
"""

from __future__ import annotations

import abc
import dataclasses
import errno
import os
import time
from collections.abc import Callable, Iterable

from ..proto.common import ROOT_GFID
from ..proto.frozen import fast_init

__all__ = [
    "Attr",
    "StatVfs",
    "Store",
    "ROOT_GFID",
    "BLOCK",
    "SEEK_DATA",
    "SEEK_HOLE",
    "FALLOC_FL_KEEP_SIZE",
    "FALLOC_FL_PUNCH_HOLE",
    "FALLOC_FL_ZERO_RANGE",
    "XATTR_CREATE",
    "XATTR_REPLACE",
    "check_name",
    "fs_error",
]

BLOCK = 4096
SEEK_DATA = os.SEEK_DATA  # 3 on Linux
SEEK_HOLE = os.SEEK_HOLE  # 4
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10
XATTR_CREATE = 1
XATTR_REPLACE = 2
NAME_MAX = 255


def fs_error(code: int, what: str = "") -> OSError:
    """``OSError(code, strerror)`` with ``what`` (a name or gfid) as its filename."""
    return OSError(code, os.strerror(code), what) if what else OSError(code, os.strerror(code))


def check_name(name: str) -> bytes:
    """Validate one path component; return it encoded (UTF-8, surrogateescape)."""
    raw = name.encode("utf-8", "surrogateescape")
    if raw in (b"", b".", b"..") or b"/" in raw or b"\0" in raw:
        raise fs_error(errno.EINVAL, name)
    if len(raw) > NAME_MAX:
        raise fs_error(errno.ENAMETOOLONG, name)
    return raw


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Attr:
    """What a stat says about one object (the brick turns it into a ``gfx_iattx``)."""

    gfid: bytes
    mode: int  # st_mode, S_IFMT type bits included
    nlink: int
    uid: int
    gid: int
    size: int
    blocks: int  # 512-byte units
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    rdev: int = 0
    blksize: int = BLOCK
    dev: int = 0


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class StatVfs:
    bsize: int
    frsize: int
    blocks: int
    bfree: int
    bavail: int
    files: int
    ffree: int
    favail: int
    fsid: int
    flag: int
    namemax: int = NAME_MAX


class Store(abc.ABC):
    """A volume's namespace and data (see the module docstring for the rules).

    Args common to constructors: ``clock`` (a ``time.time_ns``-like callable).
    """

    root_gfid = ROOT_GFID

    def __init__(self, *, clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        #: the foreign objects (module docstring): read it, change it by :meth:`adopt`
        self.foreign_gfids: set[bytes] = {ROOT_GFID}

    def adopt(self, gfid: bytes) -> None:
        """``gfid`` is no longer foreign (a client's FOP touched it)."""
        self.foreign_gfids.discard(gfid)

    def disown(self, gfid: bytes) -> None:
        """``gfid`` counts as foreign (made by a FOP that asked for no times)."""
        self.foreign_gfids.add(gfid)

    # ---- attributes and names -----------------------------------------------------------
    @abc.abstractmethod
    def getattr(self, gfid: bytes) -> Attr:
        """The object's attributes (``ESTALE`` if the gfid is unknown)."""

    @abc.abstractmethod
    def lookup(self, pargfid: bytes, name: str) -> Attr:
        """The entry ``name`` in directory ``pargfid`` (``ENOENT``, ``ENOTDIR``, ``ESTALE``)."""

    @abc.abstractmethod
    def parent(self, gfid: bytes) -> bytes:
        """A directory's parent gfid (the root is its own parent; ``ENOTDIR`` for files)."""

    @abc.abstractmethod
    def readdir(self, gfid: bytes) -> list[tuple[str, Attr]]:
        """The entries of directory ``gfid``, without "." and "..", in a stable order."""

    # ---- creating and removing names ----------------------------------------------------
    @abc.abstractmethod
    def create(
        self, pargfid: bytes, name: str, mode: int, *, uid: int, gid: int, gfid: bytes, exclusive: bool = False
    ) -> tuple[Attr, bool]:
        """Create (or, unless ``exclusive``, open) the regular file ``name``.

        ``mode`` holds permission bits only.  Returns (attr, created).  An existing entry:
        ``EEXIST`` if ``exclusive``, ``EISDIR`` if it is a directory, else its attrs.
        A ``gfid`` already used by another object raises ``EEXIST``.
        """

    @abc.abstractmethod
    def mkdir(self, pargfid: bytes, name: str, mode: int, *, uid: int, gid: int, gfid: bytes) -> Attr: ...

    @abc.abstractmethod
    def mknod(self, pargfid: bytes, name: str, mode: int, rdev: int, *, uid: int, gid: int, gfid: bytes) -> Attr:
        """``mode`` includes the type (S_IFREG, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK)."""

    @abc.abstractmethod
    def symlink(self, pargfid: bytes, name: str, target: str, *, uid: int, gid: int, gfid: bytes) -> Attr: ...

    @abc.abstractmethod
    def link(self, gfid: bytes, pargfid: bytes, name: str) -> Attr:
        """A new name for an existing non-directory (``EPERM`` for directories)."""

    @abc.abstractmethod
    def unlink(self, pargfid: bytes, name: str, *, keep: bool = False) -> None:
        """Remove a non-directory name (``EISDIR`` for directories); ``keep``: a regular
        file losing its last name becomes an orphan (module docstring) instead of going."""

    @abc.abstractmethod
    def rmdir(self, pargfid: bytes, name: str) -> None:
        """Remove an empty directory (``ENOTDIR``, ``ENOTEMPTY``)."""

    @abc.abstractmethod
    def rename(
        self, src_pargfid: bytes, src_name: str, dst_pargfid: bytes, dst_name: str, *, keep: bool = False
    ) -> None:
        """POSIX rename(2), including replacing a file or an empty directory; ``keep``: a
        replaced regular file losing its last name becomes an orphan, as in :meth:`unlink`."""

    @abc.abstractmethod
    def forget(self, gfid: bytes) -> None:
        """Drop the orphan ``gfid`` (its data goes); nothing for a named or unknown gfid."""

    @abc.abstractmethod
    def readlink(self, gfid: bytes) -> str:
        """A symlink's target (``EINVAL`` if not a symlink)."""

    # ---- data ---------------------------------------------------------------------------
    @abc.abstractmethod
    def read(self, gfid: bytes, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (short at EOF, empty past it; ``EISDIR``)."""

    @abc.abstractmethod
    def write(self, gfid: bytes, offset: int, data: bytes | memoryview) -> int:
        """Write all of ``data`` at ``offset``; returns its length."""

    def writev(self, gfid: bytes, offset: int, buffers: Iterable[bytes | memoryview]) -> int:
        """pwritev(2): the buffers one after another from ``offset`` (a WRITE payload kept in
        the pieces it arrived in, never joined); the bytes written.  A short write stops it;
        an error after some bytes were written is a short write too, as pwritev(2)."""
        buffers = [b for b in buffers if len(b)]
        if not buffers:
            return self.write(gfid, offset, b"")  # the checks of a write of nothing
        n = 0
        for buf in buffers:
            try:
                k = self.write(gfid, offset + n, buf)
            except OSError:
                if n:
                    return n
                raise
            n += k
            if k < len(buf):
                break
        return n

    @abc.abstractmethod
    def truncate(self, gfid: bytes, size: int) -> None: ...

    @abc.abstractmethod
    def fallocate(self, gfid: bytes, mode: int, offset: int, length: int) -> None:
        """fallocate(2): mode 0 (allocate, may extend), KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE,
        ZERO_RANGE[|KEEP_SIZE]; other combinations ``EOPNOTSUPP`` (ext4 would also do
        COLLAPSE/INSERT_RANGE; no gluster client sends them)."""

    @abc.abstractmethod
    def seek(self, gfid: bytes, offset: int, whence: int) -> int:
        """lseek(2) with ``SEEK_DATA``/``SEEK_HOLE`` (``ENXIO`` as on Linux)."""

    @abc.abstractmethod
    def fsync(self, gfid: bytes, datasync: bool = False) -> None:
        """Make the object's data (and, unless ``datasync``, metadata) durable."""

    # ---- metadata -----------------------------------------------------------------------
    @abc.abstractmethod
    def setattr(
        self,
        gfid: bytes,
        *,
        mode: int | None = None,
        uid: int | None = None,
        gid: int | None = None,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
    ) -> Attr:
        """Change what is not ``None`` (``mode``: permission bits only); ctime moves."""

    @abc.abstractmethod
    def getxattr(self, gfid: bytes, name: str) -> bytes:
        """``ENODATA`` if absent."""

    @abc.abstractmethod
    def listxattr(self, gfid: bytes) -> list[str]: ...

    @abc.abstractmethod
    def setxattr(self, gfid: bytes, name: str, value: bytes, flags: int = 0) -> None:
        """``XATTR_CREATE`` (``EEXIST`` if present), ``XATTR_REPLACE`` (``ENODATA`` if absent)."""

    @abc.abstractmethod
    def removexattr(self, gfid: bytes, name: str) -> None:
        """``ENODATA`` if absent."""

    # ---- the volume ---------------------------------------------------------------------
    @abc.abstractmethod
    def statfs(self) -> StatVfs: ...

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op unless a store needs it
        """Flush everything to durable storage and release resources (idempotent)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- helpers for tests and fixtures (default implementations on the primitives) -----
    def resolve_path(self, path: str) -> Attr:
        """The object at a slash-separated path from the root (symlinks not followed)."""
        attr = self.getattr(self.root_gfid)
        for part in _parts(path):
            attr = self.lookup(attr.gfid, part)
        return attr


def _parts(path: str) -> Iterable[str]:
    return [p for p in path.split("/") if p]
