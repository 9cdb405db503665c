"""Orphans (fakegluster/store/base.py): a regular file whose last name goes by ``unlink`` or
``rename`` with ``keep=True`` lives on, reachable by gfid, until ``forget`` (what a brick does
for a file a client still holds open: posix_unlink's move to ``.glusterfs/unlink``,
posix_release's unlink).  On both stores; the directory store's folder keeps no trace."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import uuid

import pytest

from fakegluster.store.base import FALLOC_FL_KEEP_SIZE, ROOT_GFID, SEEK_DATA
from fakegluster.store.directory import HIDDEN, DirectoryStore

R = ROOT_GFID


def gf() -> bytes:
    return uuid.uuid4().bytes


def err(code: int, fn, *args, **kw) -> None:
    with pytest.raises(OSError) as info:
        fn(*args, **kw)
    assert info.value.errno == code, (info.value, errno.errorcode[code])


def new_file(store, name: str, data: bytes = b"hello") -> bytes:
    a, _ = store.create(R, name, 0o644, uid=os.getuid(), gid=os.getgid(), gfid=gf())
    store.write(a.gfid, 0, data)
    return a.gfid


def test_an_unlinked_file_kept_open_is_served_by_gfid_until_forgotten(store):
    g = new_file(store, "f")
    store.setxattr(g, "user.k", b"v")
    store.unlink(R, "f", keep=True)
    err(errno.ENOENT, store.lookup, R, "f")
    assert [n for n, _ in store.readdir(R)] == []
    a = store.getattr(g)
    assert (a.nlink, a.size) == (0, 5)
    assert store.read(g, 0, 10) == b"hello"
    assert store.write(g, 5, b" world") == 6
    store.truncate(g, 8)
    assert store.read(g, 0, 100) == b"hello wo"
    store.fallocate(g, FALLOC_FL_KEEP_SIZE, 0, 8192)
    assert store.seek(g, 0, SEEK_DATA) == 0
    store.fsync(g)
    store.fsync(g, datasync=True)
    assert store.getxattr(g, "user.k") == b"v"
    store.setxattr(g, "user.k2", b"w")
    store.removexattr(g, "user.k")
    assert sorted(n for n in store.listxattr(g) if n.startswith("user.")) == ["user.k2"]
    b = store.setattr(g, mode=0o600, mtime_ns=10**18)
    assert (b.mode & 0o7777, b.mtime_ns, b.nlink) == (0o600, 10**18, 0)
    # its gfid names no entry: no new name for it, and no new object takes it
    err(errno.ESTALE, store.link, g, R, "again")
    err(errno.EEXIST, store.create, R, "other", 0o644, uid=0, gid=0, gfid=g)
    err(errno.EEXIST, store.mkdir, R, "dir", 0o755, uid=0, gid=0, gfid=g)
    err(errno.ENOTDIR, store.lookup, g, "x")
    err(errno.ENOTDIR, store.readdir, g)
    err(errno.EINVAL, store.readlink, g)
    store.forget(g)
    err(errno.ESTALE, store.getattr, g)
    err(errno.ESTALE, store.read, g, 0, 1)
    store.forget(g)  # (again: nothing)
    new_file(store, "f2")
    store.create(R, "reuse", 0o644, uid=os.getuid(), gid=os.getgid(), gfid=g)  # the gfid is free again


def test_without_keep_or_with_another_name_nothing_is_kept(store):
    g = new_file(store, "gone")
    store.unlink(R, "gone")  # (keep=False: as before)
    err(errno.ESTALE, store.getattr, g)
    h = new_file(store, "one")
    store.link(h, R, "two")
    store.unlink(R, "one", keep=True)  # not its last name: an ordinary unlink
    assert store.getattr(h).nlink == 1
    store.forget(h)  # (named: nothing)
    assert store.read(h, 0, 10) == b"hello"
    assert store.resolve_path("two").gfid == h


def test_a_file_replaced_by_rename_is_kept(store):
    old = new_file(store, "dst", b"old")
    new = new_file(store, "src", b"new")
    store.rename(R, "src", R, "dst", keep=True)
    assert store.resolve_path("dst").gfid == new
    assert (store.getattr(old).nlink, store.read(old, 0, 10)) == (0, b"old")
    store.write(old, 0, b"OLD")
    assert store.read(new, 0, 10) == b"new"
    store.forget(old)
    err(errno.ESTALE, store.getattr, old)
    assert [n for n, _ in store.readdir(R)] == ["dst"]


def test_an_orphan_takes_no_name_in_the_folder(tmp_path):
    root = tmp_path / "vol"
    root.mkdir()
    with DirectoryStore(root) as s:
        g = new_file(s, "f", b"data")
        other = new_file(s, "dst", b"x")
        new_file(s, "src", b"y")
        s.rename(R, "src", R, "dst", keep=True)
        s.unlink(R, "f", keep=True)
        assert sorted(os.listdir(root)) == [HIDDEN, "dst"]
        assert s.read(g, 0, 10) == b"data" and s.read(other, 0, 10) == b"x"
        hidden = sorted(os.listdir(root / HIDDEN))
        s.forget(g)
        assert sorted(os.listdir(root)) == [HIDDEN, "dst"] and sorted(os.listdir(root / HIDDEN)) == hidden
    # closed with an orphan still held, then opened again: the same files, no orphan
    with DirectoryStore(root) as s:
        assert [n for n, _ in s.readdir(R)] == ["dst"]
        assert s.read(s.resolve_path("dst").gfid, 0, 10) == b"y"
        err(errno.ESTALE, s.getattr, other)


def test_a_killed_server_loses_and_invents_nothing(tmp_path):
    """kill -9 with an orphan open: the next store sees exactly the named files."""
    root = tmp_path / "vol"
    root.mkdir()
    code = textwrap.dedent(f"""
        import time
        from fakegluster.store.directory import DirectoryStore
        from fakegluster.store.base import ROOT_GFID as R
        s = DirectoryStore({str(root)!r})
        for i, name in enumerate(["keep", "orphan"]):
            a, _ = s.create(R, name, 0o644, uid=0, gid=0, gfid=bytes(range(i, 16 + i)))
            s.write(a.gfid, 0, name.encode())
            s.fsync(a.gfid)
        s.unlink(R, "orphan", keep=True)
        s.write(bytes(range(1, 17)), 0, b"written after the unlink")
        print("held", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "held\n"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert sorted(os.listdir(root)) == [HIDDEN, "keep"]
    with DirectoryStore(root) as s:
        assert [n for n, _ in s.readdir(R)] == ["keep"]
        a = s.resolve_path("keep")
        assert (a.gfid, s.read(a.gfid, 0, 10)) == (bytes(range(16)), b"keep")
        err(errno.ESTALE, s.getattr, bytes(range(1, 17)))
