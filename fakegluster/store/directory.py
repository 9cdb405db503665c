"""DirectoryStore: serve an existing folder as a volume.

The user's files stay plain files: names, content, modes, symlinks and directories are what
plain POSIX calls would leave, and a folder filled by hand is served as it is.  The OS's
attributes (times, sizes, nlink, blocks) are the truth; ``clock`` is not used.

**The hidden entry.**  Exactly one: the directory ``.fakegluster/`` at the root (mode 0700,
holding ``gfids.sqlite3`` and its ``-wal``).  Through the store it does not exist: readdir
omits it, the root's nlink does not count it; lookup/unlink/rmdir/rename *from* that name
are ``ENOENT``, create/mkdir/mknod/symlink/link/rename *to* it ``EPERM`` (what glusterfs
says for ``.glusterfs``: a final error, not an ``EEXIST`` a client would retry).  Only the
root's is hidden.  A ``.fakegluster`` that is not a directory stops the store from opening.

**gfids.**  The root is ``ROOT_GFID``, created objects take the caller's gfid, objects found
on disk a random uuid4 when first seen.  The mapping is kept in dicts and in SQLite (a row
per dentry: parent gfid, name -> gfid, inode number; WAL mode, EXCLUSIVE locking so a second
store on the folder gets ``EBUSY``), committed at the end of every namespace operation,
lookups and readdirs that learnt names included; a commit survives ``kill -9``
(:mod:`fakegluster.store.gfidindex`).
``fsync()`` also syncs the WAL and, after namespace changes, the object's parent
directories, for power loss.  A name is trusted while its inode number matches: a file
replaced by hand gets a new gfid and the old one is ``ESTALE``.  Hard links (nlink > 1, same
st_dev/st_ino as a still valid known name) share a gfid.  Renames through the store keep
gfids across restarts; renamed or moved by hand (or copied, with new inode numbers): new.

**Safety** (:mod:`.dirpaths`).  No path is resolved as a string: a gfid's parent is reached
from an ``O_PATH`` root fd by one ``openat(O_PATH|O_NOFOLLOW|O_DIRECTORY)`` per name, each
directory's inode checked (a symlink, a missing name or another inode on the way: ``ESTALE``), and the last
name is used with ``dir_fd`` and never followed (``lstat``, ``O_NOFOLLOW``,
``follow_symlinks=False``; xattrs on ``/proc/self/fd/<parent>/<name>``, unfollowed).
Symlinks are served as symlinks (readlink; the target may point anywhere).  Read, write and
truncate of a symlink, fifo, socket or device are ``EINVAL`` (as in :class:`MemoryStore`;
``O_NOFOLLOW`` would say ``ELOOP``) and never open it; fallocate/seek say ``ESPIPE`` (fifo,
socket) or ``ENODEV``; a directory is ``EISDIR``.  ``setattr(mode=)`` skips symlinks (Linux
cannot chmod one; glusterfs ignores it too).  Char/block devices are ``EPERM`` unless
``allow_devices=True`` (a client could plant a world-writable node of the host's disk).
xattrs: ``user.``, ``trusted.``, ``security.`` only (else ``EOPNOTSUPP``); the fs's own
errors pass through (``EPERM`` for ``user.*`` on a symlink...).

**IO.**  Regular files are opened ``O_RDWR`` (else ``O_RDONLY``; writes then raise the
refusal's errno) into an LRU of ``fd_cache`` fds: a read or write is one pread/pwrite.  A
cached fd follows its inode: IO on a file moved or deleted by hand reaches it until its gfid
is found stale.  SEEK_DATA/SEEK_HOLE are ``lseek``'s: on ext4 an unwritten (fallocated)
block whose page is cached reads as data, a superset of MemoryStore's extent-based answer.
Unprivileged, creating keeps the caller's ownership if chown is refused (setattr: EPERM).

**Orphans** (``keep=True``, see :mod:`.base`).  The store opens the file before removing its
last name and keeps that fd outside the LRU; the orphan is that fd alone (fstat, pread,
fsetxattr, fchmod...) until ``forget`` closes it.  Nothing is left in the folder, nothing in
the index: the kernel frees the inode at the close, or when the process dies (posix moves
the file to ``.glusterfs/unlink`` and empties that at start: the same outcome).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import os
import stat
import time
from collections.abc import Callable
from typing import Any

from .base import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    ROOT_GFID,
    SEEK_DATA,
    SEEK_HOLE,
    Attr,
    StatVfs,
    Store,
    check_name,
)
from .dirpaths import GfidPaths, _err
from .gfidindex import _HIDDEN, DB_NAME, HIDDEN, _fsync_dir, _namespace, _Obj

__all__ = ["DirectoryStore", "HIDDEN", "DB_NAME"]

_OPEN = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
_FALLOC_MODES = {
    0,
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_ZERO_RANGE,
    FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
}
_XATTR_NS = ("user.", "trusted.", "security.")
_MAX_READ = 1 << 26

_libc = ctypes.CDLL(None, use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


class DirectoryStore(GfidPaths, Store):
    """A :class:`Store` over the folder ``root`` (see the module docstring)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        clock: Callable[[], int] = time.time_ns,
        allow_devices: bool = False,
        fd_cache: int = 128,
    ) -> None:
        super().__init__(clock=clock)
        self.root = os.fspath(root)
        self.allow_devices = allow_devices
        self._fd_max = max(1, fd_cache)
        self._fds: collections.OrderedDict[bytes, int] = collections.OrderedDict()
        self._ro: dict[bytes, int] = {}  # gfid -> errno of the refused O_RDWR open
        self._orphans: dict[bytes, int] = {}  # gfid -> fd of a file that lost its last name
        self._init_index()
        self._closed = False
        self._rootfd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self._open_db()
            self._obj[ROOT_GFID] = _Obj(os.fstat(self._rootfd).st_ino, True)
            self._load()
        except BaseException:
            self.close()
            raise

    def _forget_fd(self, g: bytes) -> None:
        fd = self._fds.pop(g, None)
        if fd is not None:
            os.close(fd)
            self._ro.pop(g, None)

    def _attr(self, g: bytes, st: os.stat_result) -> Attr:
        nlink = st.st_nlink
        if g == ROOT_GFID and nlink > 2:
            nlink -= 1  # the hidden directory's ".."
        return Attr(
            g,
            st.st_mode,
            nlink,
            st.st_uid,
            st.st_gid,
            st.st_size,
            st.st_blocks,
            st.st_atime_ns,
            st.st_mtime_ns,
            st.st_ctime_ns,
            rdev=st.st_rdev,
            blksize=st.st_blksize,
            dev=st.st_dev,
        )

    @staticmethod
    def _name(pargfid: bytes, name: str, hidden: int = errno.EPERM) -> bytes:
        """``check_name``; the hidden name: ``EPERM`` to make it, ``ENOENT`` to use it."""
        raw = check_name(name)
        if raw == _HIDDEN and pargfid == ROOT_GFID:
            raise _err(hidden, name)
        return raw

    def _check_gfid(self, gfid: bytes, pfd: int, raw: bytes) -> None:
        """EINVAL for a malformed gfid, EEXIST for one in use (or if ``raw`` exists after all)."""
        code = (
            errno.EINVAL
            if len(gfid) != 16 or not any(gfid)
            else errno.EEXIST
            if gfid in self._obj or gfid in self._orphans
            else 0
        )
        if code:
            with contextlib.suppress(FileNotFoundError):
                os.lstat(raw, dir_fd=pfd)
                code = errno.EEXIST
            raise _err(code, gfid)

    def _own(
        self, pfd: int, name: bytes, st: os.stat_result, mode: int, uid: int, gid: int, keep: int = 0
    ) -> os.stat_result:
        """Give a new entry the requested owner and exact permission bits (umask aside); in a
        setgid directory the group stays the directory's (BSD semantics, as Linux does)."""
        if gid != st.st_gid and os.fstat(pfd).st_mode & stat.S_ISGID:
            gid = st.st_gid
        if (uid, gid) != (st.st_uid, st.st_gid):
            try:
                os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
            except PermissionError:
                if os.geteuid() == 0:
                    raise
        want = (mode & 0o7777) | (st.st_mode & keep)
        if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) != want:
            os.chmod(name, want, dir_fd=pfd, follow_symlinks=False)
        return os.lstat(name, dir_fd=pfd)

    # ---- attributes and names -----------------------------------------------------------
    @_namespace
    def getattr(self, gfid: bytes) -> Attr:
        fd = self._fds.get(gfid)
        if fd is not None:
            st = os.fstat(fd)
            if st.st_nlink:
                return self._attr(gfid, st)
        if self._orphans and gfid in self._orphans:
            return self._attr(gfid, os.fstat(self._orphans[gfid]))
        with self._at(gfid) as (_, _, st):
            return self._attr(gfid, st)

    @_namespace
    def lookup(self, pargfid: bytes, name: str) -> Attr:
        raw = self._name(pargfid, name, errno.ENOENT)
        with self._in(pargfid) as dfd:
            st = os.lstat(raw, dir_fd=dfd)
        return self._attr(self._learn(pargfid, raw, st), st)

    @_namespace
    def parent(self, gfid: bytes) -> bytes:
        self._rel(self._dirfd(gfid))
        return ROOT_GFID if gfid == ROOT_GFID else self._obj[gfid].names[0][0]

    @_namespace
    def readdir(self, gfid: bytes) -> list[tuple[str, Attr]]:
        with self._in(gfid) as dfd:
            rfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dfd)
        found = []
        try:
            with os.scandir(rfd) as it:
                for entry in it:
                    raw = os.fsencode(entry.name)
                    if raw == _HIDDEN and gfid == ROOT_GFID:
                        continue
                    try:
                        found.append((raw, entry.stat(follow_symlinks=False)))
                    except FileNotFoundError:
                        pass
        finally:
            os.close(rfd)
        found.sort()
        seen = {raw for raw, _ in found}
        for raw in [n for n in self._kids.get(gfid, {}) if n not in seen]:
            self._drop(gfid, raw)  # removed behind our back
        return [(os.fsdecode(raw), self._attr(self._learn(gfid, raw, st), st)) for raw, st in found]

    # ---- creating and removing names ----------------------------------------------------
    @_namespace
    def create(
        self, pargfid: bytes, name: str, mode: int, *, uid: int, gid: int, gfid: bytes, exclusive: bool = False
    ) -> tuple[Attr, bool]:
        raw = self._name(pargfid, name)
        with self._in(pargfid) as pfd:
            try:
                st = os.lstat(raw, dir_fd=pfd)
            except FileNotFoundError:
                pass
            else:
                if exclusive:
                    raise _err(errno.EEXIST, name)
                if stat.S_ISDIR(st.st_mode):
                    raise _err(errno.EISDIR, name)
                return self._attr(self._learn(pargfid, raw, st), st), False
            self._check_gfid(gfid, pfd, raw)
            fd = os.open(raw, os.O_RDWR | os.O_CREAT | os.O_EXCL | _OPEN, mode & 0o7777, dir_fd=pfd)
            try:
                st = self._own(pfd, raw, os.fstat(fd), mode, uid, gid)
            except BaseException:
                os.close(fd)
                os.unlink(raw, dir_fd=pfd)
                raise
        self._add(pargfid, raw, gfid, st.st_ino, False)
        self._cache(gfid, fd, 0)
        return self._attr(gfid, st), True

    def _make(
        self,
        pargfid: bytes,
        name: str,
        gfid: bytes,
        make: Callable[[bytes, int], None],
        mode: int,
        uid: int,
        gid: int,
        keep: int = 0,
    ) -> Attr:
        raw = self._name(pargfid, name)
        with self._in(pargfid) as pfd:
            self._check_gfid(gfid, pfd, raw)
            make(raw, pfd)
            st = self._own(pfd, raw, os.lstat(raw, dir_fd=pfd), mode, uid, gid, keep)
        self._add(pargfid, raw, gfid, st.st_ino, stat.S_ISDIR(st.st_mode))
        return self._attr(gfid, st)

    @_namespace
    def mkdir(self, pargfid: bytes, name: str, mode: int, *, uid: int, gid: int, gfid: bytes) -> Attr:
        return self._make(
            pargfid,
            name,
            gfid,
            lambda raw, pfd: os.mkdir(raw, mode & 0o7777, dir_fd=pfd),
            mode,
            uid,
            gid,
            keep=stat.S_ISGID,
        )  # an inherited setgid bit stays

    @_namespace
    def mknod(self, pargfid: bytes, name: str, mode: int, rdev: int, *, uid: int, gid: int, gfid: bytes) -> Attr:
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            if not self.allow_devices:
                raise _err(errno.EPERM, name)
        else:
            rdev = 0
        return self._make(pargfid, name, gfid, lambda raw, pfd: os.mknod(raw, mode, rdev, dir_fd=pfd), mode, uid, gid)

    @_namespace
    def symlink(self, pargfid: bytes, name: str, target: str, *, uid: int, gid: int, gfid: bytes) -> Attr:
        def make(raw: bytes, pfd: int) -> None:
            try:
                os.symlink(os.fsencode(target), raw, dir_fd=pfd)
            except ValueError:  # an embedded NUL
                raise _err(errno.EINVAL, target) from None

        return self._make(pargfid, name, gfid, make, 0o777, uid, gid)

    @_namespace
    def link(self, gfid: bytes, pargfid: bytes, name: str) -> Attr:
        raw = self._name(pargfid, name)
        with self._at(gfid) as (spfd, sname, _), self._in(pargfid) as dpfd:
            os.link(sname, raw, src_dir_fd=spfd, dst_dir_fd=dpfd, follow_symlinks=False)
            st = os.lstat(raw, dir_fd=dpfd)
        self._add(pargfid, raw, gfid, st.st_ino, False)
        return self._attr(gfid, st)

    def _remove(self, pargfid: bytes, name: str, isdir: bool, keep: bool = False) -> None:
        raw = self._name(pargfid, name, errno.ENOENT)
        orphan = None
        with self._in(pargfid) as pfd:
            st = os.lstat(raw, dir_fd=pfd)
            if isdir:
                os.rmdir(raw, dir_fd=pfd)
            elif stat.S_ISDIR(st.st_mode):
                raise _err(errno.EISDIR, name)
            else:
                orphan = self._hold(pargfid, raw, st) if keep else None
                os.unlink(raw, dir_fd=pfd)
        self._orphan(orphan)
        self._drop(pargfid, raw)

    def _hold(self, pg: bytes, raw: bytes, st: os.stat_result) -> bytes | None:
        """Before a regular file's last name goes: its gfid, its fd open (None otherwise)."""
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            return None
        g = self._learn(pg, raw, st)
        self._fd(g)
        return g

    def _orphan(self, g: bytes | None) -> None:
        """The name is gone: the held fd leaves the LRU (``_drop`` would close it)."""
        if g is not None:
            self._orphans[g] = self._fds.pop(g)

    @_namespace
    def unlink(self, pargfid: bytes, name: str, *, keep: bool = False) -> None:
        self._remove(pargfid, name, False, keep)

    def forget(self, gfid: bytes) -> None:
        fd = self._orphans.pop(gfid, None)
        if fd is not None:
            self._ro.pop(gfid, None)
            os.close(fd)

    @_namespace
    def rmdir(self, pargfid: bytes, name: str) -> None:
        self._remove(pargfid, name, True)

    @_namespace
    def rename(
        self, src_pargfid: bytes, src_name: str, dst_pargfid: bytes, dst_name: str, *, keep: bool = False
    ) -> None:
        sraw = self._name(src_pargfid, src_name, errno.ENOENT)
        orphan = None
        draw = self._name(dst_pargfid, dst_name)
        with self._in(src_pargfid) as spfd, self._in(dst_pargfid) as dpfd:
            sst = os.lstat(sraw, dir_fd=spfd)
            sg = self._learn(src_pargfid, sraw, sst)
            dst: os.stat_result | None
            try:
                dst = os.lstat(draw, dir_fd=dpfd)
            except FileNotFoundError:
                dst = None
            else:
                self._learn(dst_pargfid, draw, dst)
                if keep and (dst.st_dev, dst.st_ino) != (sst.st_dev, sst.st_ino):
                    orphan = self._hold(dst_pargfid, draw, dst)
            os.rename(sraw, draw, src_dir_fd=spfd, dst_dir_fd=dpfd)
        if dst is not None:
            if (dst.st_dev, dst.st_ino) == (sst.st_dev, sst.st_ino):
                return  # two names of one inode (or the same name): rename does nothing
            self._orphan(orphan)
            self._drop(dst_pargfid, draw)
        self._move(sg, src_pargfid, sraw, dst_pargfid, draw)

    @_namespace
    def readlink(self, gfid: bytes) -> str:
        if gfid in self._orphans:
            raise _err(errno.EINVAL, gfid)
        with self._at(gfid) as (pfd, name, st):
            if not stat.S_ISLNK(st.st_mode):
                raise _err(errno.EINVAL, gfid)
            return os.fsdecode(os.readlink(name, dir_fd=pfd))

    # ---- data ---------------------------------------------------------------------------
    def _cache(self, gfid: bytes, fd: int, ro: int) -> None:
        self._fds[gfid] = fd
        if ro:
            self._ro[gfid] = ro
        while len(self._fds) > self._fd_max:
            old, ofd = self._fds.popitem(last=False)
            self._ro.pop(old, None)
            os.close(ofd)

    @_namespace
    def _open(self, gfid: bytes, other: int = errno.EINVAL) -> int:
        """Open and cache the regular file ``gfid``: EISDIR for a directory; for the rest
        ``other``, or for ``other=ESPIPE`` ESPIPE (fifo, socket) / ENODEV (symlink, device)."""
        with self._at(gfid) as (pfd, name, st):
            if not stat.S_ISREG(st.st_mode):
                if stat.S_ISDIR(st.st_mode):
                    other = errno.EISDIR
                elif other == errno.ESPIPE and not (stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode)):
                    other = errno.ENODEV
                raise _err(other, gfid)
            ro = 0
            try:
                fd = os.open(name, os.O_RDWR | _OPEN, dir_fd=pfd)
            except OSError as e:
                if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ETXTBSY):
                    raise
                fd, ro = os.open(name, os.O_RDONLY | _OPEN, dir_fd=pfd), e.errno
        fst = os.fstat(fd)
        if fst.st_ino != st.st_ino or not stat.S_ISREG(fst.st_mode):
            os.close(fd)
            raise _err(errno.ESTALE, gfid)
        self._cache(gfid, fd, ro)
        return fd

    def _fd(self, gfid: bytes, other: int = errno.EINVAL) -> int:
        fd = self._fds.get(gfid)
        if fd is None:
            if self._orphans and gfid in self._orphans:
                return self._orphans[gfid]
            return self._open(gfid, other)
        self._fds.move_to_end(gfid)
        return fd

    def _wfd(self, gfid: bytes, other: int = errno.EINVAL) -> int:
        fd = self._fd(gfid, other)
        if self._ro and gfid in self._ro:
            raise _err(self._ro[gfid], gfid)
        return fd

    def read(self, gfid: bytes, offset: int, size: int) -> bytes:
        if size > _MAX_READ or size < 0 or offset < 0:
            if size < 0 or offset < 0:  # pread(2) checks before the file's type
                raise _err(errno.EINVAL, gfid)
            size = max(0, min(size, os.fstat(self._fd(gfid)).st_size - offset))
        return os.pread(self._fd(gfid), size, offset)

    def write(self, gfid: bytes, offset: int, data: bytes | memoryview) -> int:
        fd = self._wfd(gfid)
        total = data.nbytes if isinstance(data, memoryview) else len(data)
        done = os.pwrite(fd, data, offset)
        if done < total:  # pwrite(2) wrote part: go on; an error after some progress is a short write
            view = memoryview(data).cast("B")
            try:
                while done < total:
                    done += os.pwrite(fd, view[done:], offset + done)
            except OSError:
                return done
        return total

    def truncate(self, gfid: bytes, size: int) -> None:
        if size < 0:  # truncate(2) checks before the file's type
            raise _err(errno.EINVAL, gfid)
        os.ftruncate(self._wfd(gfid), size)

    def fallocate(self, gfid: bytes, mode: int, offset: int, length: int) -> None:
        if offset < 0 or length <= 0:
            raise _err(errno.EINVAL, gfid)
        if mode not in _FALLOC_MODES:
            raise _err(errno.EOPNOTSUPP, gfid)
        fd = self._wfd(gfid, errno.ESPIPE)
        if mode == 0:
            os.posix_fallocate(fd, offset, length)
        elif _libc.fallocate(fd, mode, offset, length):
            raise _err(ctypes.get_errno(), gfid)

    def seek(self, gfid: bytes, offset: int, whence: int) -> int:
        fd = self._fd(gfid, errno.ESPIPE)
        if whence not in (SEEK_DATA, SEEK_HOLE):
            raise _err(errno.EINVAL, gfid)
        return os.lseek(fd, offset, whence)

    @_namespace
    def fsync(self, gfid: bytes, datasync: bool = False) -> None:
        sync = os.fdatasync if datasync else os.fsync
        if gfid in self._orphans:  # no name to make durable
            sync(self._orphans[gfid])
            return
        obj = self._obj.get(gfid)
        if obj is None:
            raise _err(errno.ESTALE, gfid)
        if obj.isdir:
            self._sync_dir(gfid)
        else:
            try:
                sync(self._fd(gfid))
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
                self._rel(self._locate(gfid)[0])  # a symlink, fifo...: it exists; its dentry is what matters
        if self._dirty:
            for pg, _ in list(obj.names):
                self._sync_dir(pg)
            self._sync_db()

    def _sync_dir(self, gfid: bytes) -> None:
        with self._in(gfid) as dfd:
            _fsync_dir(dfd)

    # ---- metadata -----------------------------------------------------------------------
    @_namespace
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
        if gfid in self._orphans:
            return self._fsetattr(gfid, self._orphans[gfid], mode, uid, gid, atime_ns, mtime_ns)
        with self._at(gfid) as (pfd, name, st):
            if uid is not None or gid is not None:
                os.chown(
                    name, -1 if uid is None else uid, -1 if gid is None else gid, dir_fd=pfd, follow_symlinks=False
                )
            if mode is not None and not stat.S_ISLNK(st.st_mode):
                os.chmod(name, mode & 0o7777, dir_fd=pfd, follow_symlinks=False)
            if atime_ns is not None or mtime_ns is not None:  # the other one: as it is
                st = os.lstat(name, dir_fd=pfd)
                a = st.st_atime_ns if atime_ns is None else atime_ns
                m = st.st_mtime_ns if mtime_ns is None else mtime_ns
                os.utime(name, ns=(a, m), dir_fd=pfd, follow_symlinks=False)
            return self._attr(gfid, os.lstat(name, dir_fd=pfd))

    def _fsetattr(
        self, gfid: bytes, fd: int, mode: int | None, uid: int | None, gid: int | None, a: int | None, m: int | None
    ) -> Attr:
        """:meth:`setattr` of an orphan, through its fd."""
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        if mode is not None:
            os.fchmod(fd, mode & 0o7777)
        if a is not None or m is not None:
            st = os.fstat(fd)
            os.utime(fd, ns=(st.st_atime_ns if a is None else a, st.st_mtime_ns if m is None else m))
        return self._attr(gfid, os.fstat(fd))

    @_namespace
    def _xattr(self, gfid: bytes, call: Callable[..., Any], *args: Any) -> Any:
        """``call(path, *args)`` on ``/proc/self/fd/<parent>/<name>``, the name not followed
        (an orphan's: on its fd)."""
        if args and not args[0].startswith(_XATTR_NS) and 0 < len(os.fsencode(args[0])) <= 255:
            raise _err(errno.EOPNOTSUPP, args[0])  # (an empty or over-long name: the fs says ERANGE)
        if gfid in self._orphans:
            return call(self._orphans[gfid], *args)
        with self._at(gfid) as (pfd, name, _):
            return call(b"/proc/self/fd/%d/%s" % (pfd, name), *args, follow_symlinks=False)

    def getxattr(self, gfid: bytes, name: str) -> bytes:
        value: bytes = self._xattr(gfid, os.getxattr, name)
        return value

    def listxattr(self, gfid: bytes) -> list[str]:
        return [x for x in self._xattr(gfid, os.listxattr) if x.startswith(_XATTR_NS)]

    def setxattr(self, gfid: bytes, name: str, value: bytes, flags: int = 0) -> None:
        self._xattr(gfid, os.setxattr, name, value, flags)

    def removexattr(self, gfid: bytes, name: str) -> None:
        self._xattr(gfid, os.removexattr, name)

    # ---- the volume ---------------------------------------------------------------------
    def statfs(self) -> StatVfs:
        v = os.fstatvfs(self._rootfd)
        return StatVfs(
            v.f_bsize,
            v.f_frsize,
            v.f_blocks,
            v.f_bfree,
            v.f_bavail,
            v.f_files,
            v.f_ffree,
            v.f_favail,
            v.f_fsid,
            v.f_flag,
            v.f_namemax,
        )

    def close(self) -> None:
        """fsync the cached files, commit and close the database, release every fd."""
        if self._closed:
            return
        self._closed = True
        try:
            while self._fds:
                _, fd = self._fds.popitem()
                with contextlib.suppress(OSError):
                    os.fsync(fd)
                os.close(fd)
            while self._orphans:  # (the kernel frees them)
                os.close(self._orphans.popitem()[1])
            if self._db is not None:
                try:
                    self._flush()  # closing checkpoints the WAL into the fsynced database
                finally:
                    self._db.close()
                    self._db = None
        finally:
            for fd in (self._hidfd, self._rootfd):
                if fd >= 0:
                    os.close(fd)
            self._hidfd = self._rootfd = -1
            for table in (self._obj, self._kids, self._ino, self._ro):
                table.clear()
