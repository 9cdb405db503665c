"""Where a gfid of a :class:`~fakegluster.store.directory.DirectoryStore` is on disk, found
without ever following a symlink (the store's safety: no path is resolved as a string).

A gfid's parent is reached from the ``O_PATH`` root fd by one ``openat(O_PATH|O_NOFOLLOW|
O_DIRECTORY)`` per name of its chain in the :class:`~.gfidindex.GfidIndex`, each directory's
inode checked: a symlink, a missing name or another inode on the way is ``ESTALE`` (and the
stale name is dropped from the index).  The last name is then used with ``dir_fd`` and
``lstat``.  Entries found on disk get their gfid here (``_learn``): the known one while the
inode matches, a hard link's (same inode, still reachable) or a new uuid4.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Iterator

from .base import ROOT_GFID, fs_error
from .gfidindex import _PATH_DIR, GfidIndex

__all__ = ["GfidPaths"]

_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)  # a name no longer leads where we thought
_MAX_DEPTH = 4096


def _err(code: int, what: bytes | str = "") -> OSError:
    if isinstance(what, bytes):
        what = what.hex() if len(what) == 16 else os.fsdecode(what)
    return fs_error(code, what)


class GfidPaths(GfidIndex):
    """The index plus its on-disk resolution (a mixin: the store provides ``_rootfd`` and
    ``_orphans``, the gfids of open files without a name)."""

    _orphans: dict[bytes, int]

    def _learn(self, pg: bytes, name: bytes, st: os.stat_result) -> bytes:
        """The gfid of the entry ``name`` (lstat ``st``) in directory ``pg``, new if unknown."""
        isdir = stat.S_ISDIR(st.st_mode)
        g = self._kids.get(pg, {}).get(name)
        if g is not None:
            obj = self._obj[g]
            if obj.ino == st.st_ino and obj.isdir == isdir:
                return g
            self._drop(pg, name)  # replaced behind our back
        if not isdir and st.st_nlink > 1:
            cand = self._ino.get(st.st_ino)
            if cand is not None and self._still(cand, st):
                return self._add(pg, name, cand, st.st_ino, False)
        g = uuid.uuid4().bytes
        while g in self._obj:
            g = uuid.uuid4().bytes
        return self._foreign(self._add(pg, name, g, st.st_ino, isdir))

    def _still(self, g: bytes, st: os.stat_result) -> bool:
        """Whether a name of ``g`` still leads to the inode of ``st`` (a hard link)."""
        try:
            pfd, _, st2 = self._locate(g)
        except OSError:
            return False
        self._rel(pfd)
        return st2.st_dev == st.st_dev

    def _rel(self, fd: int) -> None:
        if fd != self._rootfd:
            os.close(fd)

    def _dirfd(self, gfid: bytes) -> int:
        """An O_PATH fd on directory ``gfid`` (release with ``_rel``): ESTALE, ENOTDIR."""
        chain: list[tuple[bytes, bytes, int]] = []
        g = gfid
        while g != ROOT_GFID:
            obj = self._obj.get(g)
            if obj is None or len(chain) > _MAX_DEPTH:
                raise _err(errno.ENOTDIR if g in self._orphans else errno.ESTALE, gfid)
            if not obj.isdir:
                raise _err(errno.ENOTDIR, gfid)
            pg, name = obj.names[0]
            chain.append((pg, name, obj.ino))
            g = pg
        fd = self._rootfd
        try:
            for pg, name, ino in reversed(chain):
                try:
                    nfd = os.open(name, _PATH_DIR, dir_fd=fd)
                except OSError as e:
                    if e.errno not in _GONE:
                        raise
                    nfd = -1
                self._rel(fd)
                fd = nfd
                if fd < 0 or os.fstat(fd).st_ino != ino:
                    self._drop(pg, name)
                    raise _err(errno.ESTALE, gfid)
        except BaseException:
            if fd >= 0:
                self._rel(fd)
            raise
        return fd

    def _locate(self, gfid: bytes) -> tuple[int, bytes, os.stat_result]:
        """(O_PATH fd of a parent, name, lstat) of ``gfid``; the root is (root fd, ".", stat)."""
        obj = self._obj.get(gfid)
        if obj is None:
            raise _err(errno.ESTALE, gfid)
        if gfid == ROOT_GFID:
            return self._rootfd, b".", os.fstat(self._rootfd)
        for pg, name in list(obj.names):
            try:
                pfd = self._dirfd(pg)
            except OSError as e:
                if e.errno == errno.ESTALE:
                    continue
                raise
            try:
                st = os.lstat(name, dir_fd=pfd)
            except OSError as e:
                self._rel(pfd)
                if e.errno not in _GONE:
                    raise
                self._drop(pg, name)
                continue
            if st.st_ino == obj.ino and stat.S_ISDIR(st.st_mode) == obj.isdir:
                return pfd, name, st
            self._rel(pfd)
            self._drop(pg, name)
        raise _err(errno.ESTALE, gfid)

    @contextlib.contextmanager
    def _at(self, gfid: bytes) -> Iterator[tuple[int, bytes, os.stat_result]]:
        """``_locate`` for a with-block."""
        pfd, name, st = self._locate(gfid)
        try:
            yield pfd, name, st
        finally:
            self._rel(pfd)

    @contextlib.contextmanager
    def _in(self, gfid: bytes) -> Iterator[int]:
        """``_dirfd`` for a with-block."""
        fd = self._dirfd(gfid)
        try:
            yield fd
        finally:
            self._rel(fd)
