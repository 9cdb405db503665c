"""The gfid index of a :class:`~fakegluster.store.directory.DirectoryStore`: which gfid each
(parent gfid, name) is, kept in dicts and in SQLite under the hidden ``.fakegluster/``.

``GfidIndex`` is a mixin: the store calls ``_add``/``_drop``/``_move`` as it learns or
changes names, and every namespace method (``@_namespace``) commits what it queued when it
returns or fails, so a commit survives ``kill -9``; ``_sync_db`` makes commits durable for
``fsync``.  Rows are only trusted while reachable from the root (``_load``).  The table
``foreign`` holds the store's ``foreign_gfids`` (found in the folder, not made through it; a
new database starts with the root; one from before the table, with nothing).
"""

from __future__ import annotations

import collections
import errno
import functools
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from .base import ROOT_GFID

__all__ = ["GfidIndex", "DB_NAME", "HIDDEN"]

HIDDEN = ".fakegluster"
_HIDDEN = HIDDEN.encode()
DB_NAME = "gfids.sqlite3"
_PATH_DIR = os.O_PATH | os.O_NOFOLLOW | os.O_DIRECTORY | os.O_CLOEXEC

_SCHEMA = """CREATE TABLE IF NOT EXISTS dentry (
    pgfid BLOB NOT NULL, name BLOB NOT NULL, gfid BLOB NOT NULL, ino INTEGER NOT NULL,
    isdir INTEGER NOT NULL, PRIMARY KEY (pgfid, name)) WITHOUT ROWID"""
_INSERT = "INSERT OR REPLACE INTO dentry VALUES (?, ?, ?, ?, ?)"
_DELETE = "DELETE FROM dentry WHERE pgfid = ? AND name = ?"
_DELETE_DIR = "DELETE FROM dentry WHERE pgfid = ?"
_FOREIGN = "CREATE TABLE IF NOT EXISTS foreign_gfid (gfid BLOB PRIMARY KEY) WITHOUT ROWID"
_ADD_FOREIGN = "INSERT OR REPLACE INTO foreign_gfid VALUES (?)"
_DEL_FOREIGN = "DELETE FROM foreign_gfid WHERE gfid = ?"


class _Obj:
    """What the store knows of one gfid: its inode number, its type, its names."""

    __slots__ = ("ino", "isdir", "names")

    def __init__(self, ino: int, isdir: bool) -> None:
        self.ino = ino
        self.isdir = isdir
        self.names: list[tuple[bytes, bytes]] = []  # (parent gfid, name); one for a directory


F = TypeVar("F", bound=Callable[..., Any])


def _namespace(method: F) -> F:
    """Commit whatever the mapping learnt or changed when a namespace method returns or fails."""

    @functools.wraps(method)
    def wrapper(self: GfidIndex, *args: Any, **kw: Any) -> Any:
        try:
            return method(self, *args, **kw)
        finally:
            self._flush()

    return wrapper  # type: ignore[return-value]


def _fsync_dir(pathfd: int) -> None:
    fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=pathfd)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class GfidIndex:
    """The mapping and its database; the store provides ``root``, ``_rootfd`` and
    ``_forget_fd(gfid)`` (drop what it caches for a forgotten gfid)."""

    root: str
    _rootfd: int
    _obj: dict[bytes, _Obj]
    _kids: dict[bytes, dict[bytes, bytes]]
    _ino: dict[int, bytes]
    _pending: list[tuple[str, tuple[Any, ...]]]
    _db: sqlite3.Connection | None
    foreign_gfids: set[bytes]

    def _forget_fd(self, gfid: bytes) -> None:
        raise NotImplementedError

    def _init_index(self) -> None:
        self._obj = {}
        self._kids = {}
        self._ino = {}  # inode number -> gfid, non-directories (hard links)
        self._pending = []
        self._dirty = False  # namespace committed since the last fsync
        self._db = None
        self._hidfd = -1

    # ---- the hidden entry and the database ----------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("the gfid index is closed")
        return self._db

    def _open_db(self) -> None:
        try:
            os.mkdir(_HIDDEN, 0o700, dir_fd=self._rootfd)
        except FileExistsError:
            pass
        try:
            self._hidfd = os.open(_HIDDEN, _PATH_DIR, dir_fd=self._rootfd)
        except OSError as e:
            raise OSError(e.errno, f"{HIDDEN} in the root is not a fakegluster metadata directory", self.root) from e
        db = sqlite3.connect(
            f"/proc/self/fd/{self._hidfd}/{DB_NAME}", isolation_level=None, check_same_thread=False, timeout=0
        )
        self._db = db
        try:
            db.execute("PRAGMA locking_mode = EXCLUSIVE")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("BEGIN IMMEDIATE")  # a write lock, held until close (EXCLUSIVE mode)
            tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            db.execute(_SCHEMA)
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)")
            db.execute(_FOREIGN)
            if "dentry" not in tables:  # a new folder: its root was not made through gluster
                db.execute(_ADD_FOREIGN, (ROOT_GFID,))
            db.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise OSError(errno.EBUSY, "the folder is already served by another DirectoryStore", self.root) from e
            raise

    def _load(self) -> None:
        """Read the mapping, keeping only rows reachable from the root (breadth first)."""
        rows: dict[bytes, list[tuple[bytes, bytes, int, int]]] = collections.defaultdict(list)
        for pg, name, g, ino, isdir in self._conn().execute("SELECT pgfid, name, gfid, ino, isdir FROM dentry"):
            rows[pg].append((name, g, ino, isdir))
        todo = [ROOT_GFID]
        while todo:
            pg = todo.pop()
            for name, g, ino, isdir in rows.pop(pg, ()):
                obj = self._obj.get(g)
                if g == ROOT_GFID or (obj is not None and (obj.isdir or isdir or obj.ino != ino)):
                    self._pending.append((_DELETE, (pg, name)))
                    continue
                self._add(pg, name, g, ino, bool(isdir), persist=False)
                if isdir:
                    todo.append(g)
        for pg in rows:  # orphans (a parent forgotten before a crash)
            self._pending.append((_DELETE_DIR, (pg,)))
        self.foreign_gfids = set()
        for (g,) in self._conn().execute("SELECT gfid FROM foreign_gfid"):
            if g in self._obj:
                self.foreign_gfids.add(g)
            else:
                self._pending.append((_DEL_FOREIGN, (g,)))
        self._flush()

    def _flush(self) -> None:
        if not self._pending or self._db is None:
            return
        ops, self._pending = self._pending, []
        db = self._db
        db.execute("BEGIN")
        try:
            for sql, args in ops:
                db.execute(sql, args)
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:  # (SQLite ends it itself on some errors: SQLITE_FULL)
                db.execute("ROLLBACK")
            self._pending[:0] = ops  # the next flush tries again
            if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from exc  # (what the FOP answers)
            raise
        self._dirty = True

    def _sync_db(self) -> None:
        """Make every commit durable: one tiny FULL-synchronous commit fsyncs the WAL (opening
        the database files ourselves would drop SQLite's POSIX locks on close)."""
        db = self._conn()
        db.execute("PRAGMA synchronous = FULL")
        try:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('synced', ?)", (time.time_ns(),))
        finally:
            db.execute("PRAGMA synchronous = NORMAL")
        _fsync_dir(self._hidfd)  # the -wal file's directory entry
        self._dirty = False

    # ---- the mapping ----------------------------------------------------------------------
    def _foreign(self, g: bytes) -> bytes:
        """``g`` was found in the folder, not made through the store."""
        self.foreign_gfids.add(g)
        self._pending.append((_ADD_FOREIGN, (g,)))
        return g

    def adopt(self, gfid: bytes) -> None:
        if gfid in self.foreign_gfids:
            self.foreign_gfids.discard(gfid)
            self._pending.append((_DEL_FOREIGN, (gfid,)))
            self._flush()

    def disown(self, gfid: bytes) -> None:
        if gfid not in self.foreign_gfids and gfid in self._obj:
            self._foreign(gfid)
            self._flush()

    def _add(self, pg: bytes, name: bytes, g: bytes, ino: int, isdir: bool, persist: bool = True) -> bytes:
        obj = self._obj.get(g)
        if obj is None:
            obj = self._obj[g] = _Obj(ino, isdir)
        obj.names.append((pg, name))
        self._kids.setdefault(pg, {})[name] = g
        if not isdir:
            self._ino[ino] = g
        if persist:
            self._pending.append((_INSERT, (pg, name, g, ino, int(isdir))))
        return g

    def _drop(self, pg: bytes, name: bytes) -> None:
        """Forget one name; a gfid left without names is forgotten, a directory's with its subtree."""
        kids = self._kids.get(pg)
        g = kids.pop(name, None) if kids else None
        if g is None:
            return
        self._pending.append((_DELETE, (pg, name)))
        todo = [(g, (pg, name))]
        while todo:
            g, ent = todo.pop()
            obj = self._obj[g]
            obj.names.remove(ent)
            if obj.names:
                continue
            del self._obj[g]
            self._forget_fd(g)
            if g in self.foreign_gfids:
                self.foreign_gfids.discard(g)
                self._pending.append((_DEL_FOREIGN, (g,)))
            if self._ino.get(obj.ino) == g:
                del self._ino[obj.ino]
            kids = self._kids.pop(g, None)
            if kids:
                self._pending.append((_DELETE_DIR, (g,)))
                todo.extend((cg, (g, cname)) for cname, cg in kids.items())

    def _move(self, g: bytes, pg: bytes, name: bytes, npg: bytes, nname: bytes) -> None:
        obj = self._obj[g]
        del self._kids[pg][name]
        obj.names.remove((pg, name))
        self._pending.append((_DELETE, (pg, name)))
        self._add(npg, nname, g, obj.ino, obj.isdir)
