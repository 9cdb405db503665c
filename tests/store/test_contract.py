"""The contract every store keeps (``fakegluster/store/base.py``), and Linux as its judge.

Three parts:

1. Contract tests, run on every store of ``conftest.STORE_FACTORIES``.  Their expected
   values (errnos, ``st_blocks``, SEEK_DATA/SEEK_HOLE offsets) were measured on ext4
   (Linux 6.18), not derived from reading the docs.
2. MemoryStore-only tests: capacity/ENOSPC, statfs accounting, memory use of sparse files.
3. Differential tests against a real ext4 directory: a table of timestamp cases, and a
   hypothesis state machine running the same random operations on a store and on ext4 and
   comparing results, errnos, attributes, data and seek maps.

What ext4 does that the stores do not model (asserted, so a change shows up):

* ext4 charges an extent-tree block (8 units of ``st_blocks``) once a file has more than 4
  extents; the comparison uses the data blocks FIEMAP reports and checks that
  ``st_blocks`` exceeds them by exactly 0 or 8 (8 whenever there are more than 4 extents).
* ext4 charges an xattr block once a file's xattrs overflow its inode (~100 bytes here); the
  state machine keeps xattrs small.
* On ext4 an *unwritten* (fallocated) block whose page is cached and up to date, e.g. after
  a read, answers SEEK_DATA as data until the page is evicted; the reference side syncs and
  drops its page cache (``POSIX_FADV_DONTNEED``) before every seek, so it answers by its
  extents, which is what the stores model.
* ``create`` on an existing symlink returns the symlink (base.py); ``open(O_CREAT)`` would
  follow it.  Data operations on symlinks/fifos, fallocate modes COLLAPSE/INSERT and
  ext4's directory growth past 4096 bytes are not compared.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import itertools
import os
import pathlib
import shutil
import stat
import struct
import tempfile
import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from fakegluster.store.base import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    ROOT_GFID,
    SEEK_DATA,
    SEEK_HOLE,
    XATTR_CREATE,
    XATTR_REPLACE,
    Store,
)
from fakegluster.store.memory import MemoryStore
from tests.helpers import require_root, unavailable

from .conftest import fake_clock

R = ROOT_GFID
KEEP, PUNCH, ZERO = FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE
EXT4_MAXBYTES = (1 << 44) - 4096
UID, GID = os.getuid(), os.getgid()
_gfids = itertools.count(0x100)


def gf() -> bytes:
    return next(_gfids).to_bytes(16, "big")


def err(code: int, fn, *args, **kw) -> None:
    with pytest.raises(OSError) as info:
        fn(*args, **kw)
    assert info.value.errno == code, f"{info.value!r}: wanted {errno.errorcode[code]}"


def mkfile(s: Store, name: str, parent: bytes = R, data: bytes = b"", mode: int = 0o644) -> bytes:
    attr, created = s.create(parent, name, mode, uid=UID, gid=GID, gfid=gf())
    assert created
    if data:
        assert s.write(attr.gfid, 0, data) == len(data)
    return attr.gfid


def mkdir(s: Store, name: str, parent: bytes = R, mode: int = 0o755) -> bytes:
    return s.mkdir(parent, name, mode, uid=UID, gid=GID, gfid=gf()).gfid


def seeks(s: Store, g: bytes, offsets, whence: int) -> list:
    out = []
    for o in offsets:
        try:
            out.append(s.seek(g, o, whence))
        except OSError as e:
            out.append(errno.errorcode[e.errno])
    return out


def segments(s: Store, g: bytes) -> list[tuple[int, int]]:
    """The data segments SEEK_DATA/SEEK_HOLE report: [(start, end), ...]."""
    out, o, size = [], 0, s.getattr(g).size
    while o < size:
        try:
            d = s.seek(g, o, SEEK_DATA)
        except OSError as e:
            assert e.errno == errno.ENXIO
            break
        o = s.seek(g, d, SEEK_HOLE)
        out.append((d, o))
    return out


# =====================================================================================
# 1. The contract
# =====================================================================================


def test_root(store):
    a = store.getattr(R)
    assert stat.S_ISDIR(a.mode) and a.gfid == R
    assert (a.nlink, a.size, a.blocks) == (2, 4096, 8)
    assert store.parent(R) == R
    assert store.readdir(R) == []
    assert store.resolve_path("/").gfid == R
    err(errno.ENOENT, store.lookup, R, "nothing")
    err(errno.ESTALE, store.getattr, b"\x07" * 16)


@pytest.mark.parametrize(
    "name, code",
    [
        ("", errno.EINVAL),
        (".", errno.EINVAL),
        ("..", errno.EINVAL),
        ("a/b", errno.EINVAL),
        ("a\0b", errno.EINVAL),
        ("x" * 256, errno.ENAMETOOLONG),
        ("é" * 128, errno.ENAMETOOLONG),
    ],
)
def test_bad_names(store, name, code):
    err(code, store.lookup, R, name)
    err(code, store.create, R, name, 0o644, uid=UID, gid=GID, gfid=gf())
    err(code, store.mkdir, R, name, 0o755, uid=UID, gid=GID, gfid=gf())
    err(code, store.symlink, R, name, "t", uid=UID, gid=GID, gfid=gf())
    err(code, store.unlink, R, name)
    err(code, store.rmdir, R, name)


def test_long_and_odd_names(store):
    for name in ("x" * 255, "é" * 127, "ünï cöde", "\udcff raw byte", "-", " ", "a.b.c", "..."):
        g = mkfile(store, name)
        assert store.lookup(R, name).gfid == g
    assert {n for n, _ in store.readdir(R)} == {
        "x" * 255,
        "é" * 127,
        "ünï cöde",
        "\udcff raw byte",
        "-",
        " ",
        "a.b.c",
        "...",
    }


def test_unknown_gfids_are_estale(store):
    bad = b"\x09" * 16
    for fn, args in [
        (store.getattr, (bad,)),
        (store.lookup, (bad, "x")),
        (store.readdir, (bad,)),
        (store.parent, (bad,)),
        (store.read, (bad, 0, 1)),
        (store.write, (bad, 0, b"x")),
        (store.truncate, (bad, 0)),
        (store.fallocate, (bad, 0, 0, 1)),
        (store.seek, (bad, 0, SEEK_DATA)),
        (store.fsync, (bad,)),
        (store.readlink, (bad,)),
        (store.getxattr, (bad, "user.a")),
        (store.listxattr, (bad,)),
        (store.setxattr, (bad, "user.a", b"v")),
        (store.removexattr, (bad, "user.a")),
        (store.link, (bad, R, "x")),
        (store.setattr, (bad,)),
    ]:
        err(errno.ESTALE, fn, *args)
    err(errno.ESTALE, store.create, bad, "x", 0o644, uid=UID, gid=GID, gfid=gf())
    err(errno.ESTALE, store.mkdir, bad, "x", 0o755, uid=UID, gid=GID, gfid=gf())
    err(errno.ESTALE, store.rename, bad, "x", R, "y")


def test_create(store):
    g = gf()
    a, created = store.create(R, "f", 0o640, uid=UID, gid=GID, gfid=g)
    assert created and a.gfid == g
    assert a.mode == stat.S_IFREG | 0o640
    assert (a.nlink, a.size, a.blocks, a.uid, a.gid) == (1, 0, 0, UID, GID)
    assert store.lookup(R, "f") == store.getattr(g)
    again, created = store.create(R, "f", 0o600, uid=UID, gid=GID, gfid=gf())
    assert not created and again.gfid == g and again.mode == stat.S_IFREG | 0o640
    err(errno.EEXIST, store.create, R, "f", 0o644, uid=UID, gid=GID, gfid=gf(), exclusive=True)
    d = mkdir(store, "d")
    err(errno.EISDIR, store.create, R, "d", 0o644, uid=UID, gid=GID, gfid=gf())
    err(errno.EEXIST, store.create, R, "d", 0o644, uid=UID, gid=GID, gfid=gf(), exclusive=True)
    err(errno.ENOTDIR, store.create, g, "x", 0o644, uid=UID, gid=GID, gfid=gf())
    err(errno.ENOTDIR, store.lookup, g, "x")
    err(errno.EEXIST, store.create, d, "other", 0o644, uid=UID, gid=GID, gfid=g)  # gfid in use
    err(errno.ENOENT, store.lookup, d, "other")


def test_mkdir_and_parent(store):
    d = mkdir(store, "d", mode=0o750)
    a = store.getattr(d)
    assert a.mode == stat.S_IFDIR | 0o750 and (a.nlink, a.size, a.blocks) == (2, 4096, 8)
    assert store.getattr(R).nlink == 3
    sub = mkdir(store, "sub", d)
    assert store.getattr(d).nlink == 3 and store.getattr(R).nlink == 3
    assert store.parent(sub) == d and store.parent(d) == R
    f = mkfile(store, "f", d)
    assert store.getattr(d).nlink == 3  # files do not count
    err(errno.ENOTDIR, store.parent, f)
    err(errno.EEXIST, store.mkdir, R, "d", 0o755, uid=UID, gid=GID, gfid=gf())
    err(errno.EEXIST, store.mkdir, d, "f", 0o755, uid=UID, gid=GID, gfid=gf())
    err(errno.ENOTDIR, store.mkdir, f, "x", 0o755, uid=UID, gid=GID, gfid=gf())
    assert store.resolve_path("d/sub").gfid == sub
    assert store.resolve_path("/d/f").gfid == f
    err(errno.ENOTDIR, store.resolve_path, "d/f/x")


def test_setgid_directory_is_inherited(store):
    d = mkdir(store, "d")
    store.setattr(d, gid=1234, mode=0o2775)
    sub = store.mkdir(d, "sub", 0o755, uid=UID, gid=GID, gfid=gf())
    f, _ = store.create(d, "f", 0o644, uid=UID, gid=GID, gfid=gf())
    assert sub.gid == 1234 and sub.mode == stat.S_IFDIR | 0o2755
    assert f.gid == 1234 and f.mode == stat.S_IFREG | 0o644


def test_mknod(store):
    a = store.mknod(R, "fifo", stat.S_IFIFO | 0o640, 0, uid=UID, gid=GID, gfid=gf())
    assert a.mode == stat.S_IFIFO | 0o640 and (a.nlink, a.size, a.blocks, a.rdev) == (1, 0, 0, 0)
    a = store.mknod(R, "reg", stat.S_IFREG | 0o600, 0, uid=UID, gid=GID, gfid=gf())
    assert a.mode == stat.S_IFREG | 0o600 and a.size == 0
    assert store.write(a.gfid, 0, b"ok") == 2
    a = store.mknod(R, "plain", 0o644, 0, uid=UID, gid=GID, gfid=gf())  # no type: a regular file
    assert a.mode == stat.S_IFREG | 0o644
    a = store.mknod(R, "sock", stat.S_IFSOCK | 0o644, 0, uid=UID, gid=GID, gfid=gf())
    assert stat.S_ISSOCK(a.mode)
    err(errno.EPERM, store.mknod, R, "d", stat.S_IFDIR | 0o755, 0, uid=UID, gid=GID, gfid=gf())
    err(errno.EINVAL, store.mknod, R, "l", stat.S_IFLNK | 0o777, 0, uid=UID, gid=GID, gfid=gf())
    err(errno.EEXIST, store.mknod, R, "fifo", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf())


def test_mknod_device(store):
    require_root("a device node")
    a = store.mknod(R, "null", stat.S_IFCHR | 0o666, os.makedev(1, 3), uid=UID, gid=GID, gfid=gf())
    assert stat.S_ISCHR(a.mode) and a.rdev == os.makedev(1, 3) and a.size == 0


def test_symlink(store):
    for name, target, blocks in [
        ("s", "target", 0),
        ("s59", "t" * 59, 0),
        ("s60", "t" * 60, 8),
        ("abs", "/etc/passwd", 0),
        ("up", "../../..", 0),
        ("max", "m" * 4095, 8),
        ("uni", "ü", 0),
    ]:
        a = store.symlink(R, name, target, uid=UID, gid=GID, gfid=gf())
        assert stat.S_ISLNK(a.mode) and a.nlink == 1
        assert (a.size, a.blocks) == (len(target.encode()), blocks), name
        assert store.readlink(a.gfid) == target
    err(errno.ENOENT, store.symlink, R, "empty", "", uid=UID, gid=GID, gfid=gf())
    err(errno.ENAMETOOLONG, store.symlink, R, "long", "m" * 4096, uid=UID, gid=GID, gfid=gf())
    err(errno.EEXIST, store.symlink, R, "s", "x", uid=UID, gid=GID, gfid=gf())
    err(errno.EINVAL, store.readlink, R)
    err(errno.EINVAL, store.readlink, mkfile(store, "f"))
    # never followed
    mkdir(store, "dir")
    store.symlink(R, "todir", "dir", uid=UID, gid=GID, gfid=gf())
    err(errno.ENOTDIR, store.resolve_path, "todir/x")
    err(errno.ENOTDIR, store.create, store.lookup(R, "todir").gfid, "x", 0o644, uid=UID, gid=GID, gfid=gf())


def test_hard_links(store):
    d = mkdir(store, "d")
    g = mkfile(store, "f", data=b"hello")
    a = store.link(g, d, "l")
    assert a.gfid == g and a.nlink == 2
    assert store.lookup(R, "f").nlink == 2 and store.lookup(d, "l").gfid == g
    assert store.read(store.lookup(d, "l").gfid, 0, 10) == b"hello"
    err(errno.EEXIST, store.link, g, d, "l")
    err(errno.EEXIST, store.link, d, R, "f")  # the name is checked before the type
    err(errno.EPERM, store.link, d, R, "dirlink")
    err(errno.ENOTDIR, store.link, g, g, "x")
    store.unlink(R, "f")
    assert store.getattr(g).nlink == 1 and store.read(g, 0, 10) == b"hello"
    store.unlink(d, "l")
    err(errno.ESTALE, store.getattr, g)
    # links to symlinks and fifos are links to them
    s = store.symlink(R, "s", "t", uid=UID, gid=GID, gfid=gf()).gfid
    assert store.link(s, R, "s2").nlink == 2 and store.readlink(store.lookup(R, "s2").gfid) == "t"
    p = store.mknod(R, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf()).gfid
    assert store.link(p, d, "p2").nlink == 2


def test_unlink_and_rmdir(store):
    d = mkdir(store, "d")
    mkfile(store, "f", d)
    err(errno.ENOENT, store.unlink, R, "missing")
    err(errno.ENOENT, store.rmdir, R, "missing")
    err(errno.EISDIR, store.unlink, R, "d")
    err(errno.ENOTDIR, store.rmdir, d, "f")
    err(errno.ENOTEMPTY, store.rmdir, R, "d")
    store.unlink(d, "f")
    err(errno.ENOENT, store.lookup, d, "f")
    assert store.getattr(R).nlink == 3
    store.rmdir(R, "d")
    assert store.getattr(R).nlink == 2
    err(errno.ESTALE, store.getattr, d)
    s = store.symlink(R, "s", "t", uid=UID, gid=GID, gfid=gf()).gfid
    store.unlink(R, "s")
    err(errno.ESTALE, store.getattr, s)
    store.mknod(R, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf())
    store.unlink(R, "p")
    assert store.readdir(R) == []


class TestRename:
    def test_file(self, store):
        d1, d2 = mkdir(store, "d1"), mkdir(store, "d2")
        g = mkfile(store, "f", d1, b"data")
        store.rename(d1, "f", d1, "g")  # within a directory
        err(errno.ENOENT, store.lookup, d1, "f")
        assert store.lookup(d1, "g").gfid == g
        store.rename(d1, "g", d2, "h")  # across
        assert store.lookup(d2, "h").gfid == g and store.read(g, 0, 9) == b"data"
        assert [n for n, _ in store.readdir(d1)] == []
        err(errno.ENOENT, store.rename, d1, "g", d2, "x")

    def test_replace_file(self, store):
        a, b = mkfile(store, "a", data=b"A"), mkfile(store, "b", data=b"B")
        store.link(b, R, "b2")
        store.rename(R, "a", R, "b")
        assert store.lookup(R, "b").gfid == a and store.read(a, 0, 1) == b"A"
        assert store.getattr(b).nlink == 1  # still reachable as b2
        c = mkfile(store, "c")
        store.rename(R, "b", R, "c")
        err(errno.ESTALE, store.getattr, c)  # its last name went
        assert {n for n, _ in store.readdir(R)} == {"b2", "c"}

    def test_kind_mismatches(self, store):
        mkfile(store, "f")
        d = mkdir(store, "d")
        mkfile(store, "x", mkdir(store, "full"))
        err(errno.EISDIR, store.rename, R, "f", R, "d")
        err(errno.ENOTDIR, store.rename, R, "d", R, "f")
        err(errno.ENOTEMPTY, store.rename, R, "d", R, "full")
        s = store.symlink(R, "s", "d", uid=UID, gid=GID, gfid=gf()).gfid
        err(errno.ENOTDIR, store.rename, R, "d", R, "s")
        store.rename(R, "s", R, "f")  # a symlink replaces a file
        assert store.lookup(R, "f").gfid == s
        assert store.getattr(d).nlink == 2

    def test_replace_empty_dir(self, store):
        src_parent, dst_parent = mkdir(store, "p1"), mkdir(store, "p2")
        moving = mkdir(store, "m", src_parent)
        mkfile(store, "inside", moving)
        victim = mkdir(store, "v", dst_parent)
        assert store.getattr(R).nlink == 4
        store.rename(src_parent, "m", dst_parent, "v")
        err(errno.ESTALE, store.getattr, victim)
        assert store.lookup(dst_parent, "v").gfid == moving
        assert store.parent(moving) == dst_parent
        assert store.getattr(src_parent).nlink == 2 and store.getattr(dst_parent).nlink == 3
        assert store.lookup(moving, "inside")
        # within one directory, over an empty sibling
        mkdir(store, "e", dst_parent)
        store.rename(dst_parent, "v", dst_parent, "e")
        assert store.getattr(dst_parent).nlink == 3 and store.lookup(dst_parent, "e").gfid == moving

    def test_directory_moves(self, store):
        a = mkdir(store, "a")
        b = mkdir(store, "b", a)
        c = mkdir(store, "c", b)
        store.rename(a, "b", R, "b")
        assert store.parent(b) == R and store.getattr(a).nlink == 2 and store.getattr(R).nlink == 4
        assert store.resolve_path("b/c").gfid == c

    def test_into_own_subtree(self, store):
        a = mkdir(store, "a")
        b = mkdir(store, "b", a)
        mkdir(store, "c", b)
        err(errno.EINVAL, store.rename, R, "a", b, "x")  # under itself
        err(errno.EINVAL, store.rename, R, "a", a, "x")  # into itself
        err(errno.EINVAL, store.rename, R, "a", a, "b")  # onto its own child
        err(errno.ENOTEMPTY, store.rename, b, "c", R, "a")  # onto its own ancestor
        err(errno.ENOTEMPTY, store.rename, a, "b", R, "a")
        assert store.resolve_path("a/b/c")

    def test_noops(self, store):
        d = mkdir(store, "d")
        g = mkfile(store, "f", d)
        store.link(g, d, "l")
        before = store.getattr(d)
        store.rename(d, "f", d, "f")
        store.rename(d, "f", d, "l")  # two names of one inode: nothing happens
        store.rename(R, "d", R, "d")
        assert {n for n, _ in store.readdir(d)} == {"f", "l"}
        assert store.getattr(g).nlink == 2
        after = store.getattr(d)
        assert (after.mtime_ns, after.ctime_ns) == (before.mtime_ns, before.ctime_ns)

    def test_parents_must_be_dirs(self, store):
        f = mkfile(store, "f")
        mkfile(store, "g")
        err(errno.ENOTDIR, store.rename, R, "g", f, "x")
        err(errno.ENOTDIR, store.rename, f, "x", R, "y")

    def test_special_files(self, store):
        d = mkdir(store, "d")
        p = store.mknod(R, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf()).gfid
        s = store.symlink(R, "s", "x", uid=UID, gid=GID, gfid=gf()).gfid
        store.rename(R, "p", d, "p")
        store.rename(R, "s", d, "s")
        assert store.lookup(d, "p").gfid == p and store.lookup(d, "s").gfid == s
        assert store.readlink(s) == "x"


class TestData:
    def test_round_trip(self, store):
        g = mkfile(store, "f")
        assert store.write(g, 0, b"hello world") == 11
        assert store.read(g, 0, 5) == b"hello"
        assert store.read(g, 6, 100) == b"world"  # short at EOF
        assert store.read(g, 11, 10) == b"" and store.read(g, 1000, 10) == b""
        assert store.read(g, 0, 0) == b""
        assert store.write(g, 6, memoryview(b"WORLD")) == 5
        assert store.read(g, 0, 100) == b"hello WORLD"
        assert store.write(g, 3, b"") == 0 and store.getattr(g).size == 11
        a = store.getattr(g)
        assert (a.size, a.blocks) == (11, 8)

    def test_big_unaligned_and_aligned(self, store):
        g = mkfile(store, "f")
        chunk = bytes(range(256)) * 512  # 128 KiB
        assert store.write(g, 0, chunk) == len(chunk)
        assert store.read(g, 0, len(chunk)) == chunk
        assert store.write(g, 1000, chunk) == len(chunk)
        want = chunk[:1000] + chunk
        assert store.read(g, 0, 1 << 20) == want
        assert store.read(g, 4095, 2) == want[4095:4097]
        assert store.getattr(g).blocks == 8 * ((len(want) + 4095) // 4096)

    def test_writev_pieces_land_in_order(self, store):
        g = mkfile(store, "f")
        payload = bytes(range(256)) * 64  # 16 KiB
        edges = [0, 1, 4095, 4096, 4097, 9000, 12288, len(payload)]
        pieces = [memoryview(payload)[a:b] for a, b in itertools.pairwise(edges)]
        assert store.writev(g, 4093, pieces) == len(payload)
        assert store.read(g, 0, 1 << 20) == bytes(4093) + payload
        assert store.writev(g, 0, []) == 0 and store.getattr(g).size == 4093 + len(payload)

    def test_writev_stops_at_the_size_limit(self, store):
        g = mkfile(store, "f")
        limit = EXT4_MAXBYTES
        assert store.writev(g, limit - 3, [b"ab", b"cd", b"ef"]) == 3  # short, as pwritev(2)
        with pytest.raises(OSError) as e:
            store.writev(g, limit, [b"ab"])
        assert e.value.errno == errno.EFBIG

    def test_sources_are_copied(self, store):
        g = mkfile(store, "f")
        buf = bytearray(b"x" * 8192)
        store.write(g, 0, buf)
        buf[:] = b"y" * 8192
        out = store.read(g, 0, 8192)
        assert out == b"x" * 8192
        assert store.read(g, 0, 4096) == b"x" * 4096

    def test_errors(self, store):
        d = mkdir(store, "d")
        g = mkfile(store, "f")
        p = store.mknod(R, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf()).gfid
        s = store.symlink(R, "s", "f", uid=UID, gid=GID, gfid=gf()).gfid
        for fn, args in [
            (store.read, (0, 1)),
            (store.write, (0, b"x")),
            (store.truncate, (0,)),
            (store.fallocate, (0, 0, 1)),
            (store.seek, (0, SEEK_DATA)),
        ]:
            err(errno.EISDIR, fn, d, *args)
        err(errno.EINVAL, store.read, g, -1, 1)
        err(errno.EINVAL, store.write, g, -1, b"x")
        err(errno.EINVAL, store.truncate, g, -1)
        err(errno.EINVAL, store.read, p, 0, 1)
        err(errno.EINVAL, store.write, s, 0, b"x")
        err(errno.EINVAL, store.truncate, p, 0)
        err(errno.ESPIPE, store.seek, p, 0, SEEK_DATA)
        err(errno.ESPIPE, store.fallocate, p, 0, 0, 1)
        err(errno.ENODEV, store.fallocate, s, 0, 0, 1)

    def test_size_limit(self, store):
        g = mkfile(store, "f")
        err(errno.EFBIG, store.write, g, EXT4_MAXBYTES, b"x")
        err(errno.EFBIG, store.truncate, g, EXT4_MAXBYTES + 1)
        err(errno.EFBIG, store.fallocate, g, KEEP, EXT4_MAXBYTES - 4096, 8192)
        store.truncate(g, EXT4_MAXBYTES)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (EXT4_MAXBYTES, 0)
        assert store.read(g, EXT4_MAXBYTES - 3, 10) == bytes(3)
        assert store.write(g, EXT4_MAXBYTES - 2, b"abcd") == 2  # short, like Linux
        assert store.read(g, EXT4_MAXBYTES - 2, 10) == b"ab"


class TestSparse:
    def test_holes_cost_nothing(self, store):
        g = mkfile(store, "f")
        store.write(g, 5000, b"x")
        a = store.getattr(g)
        assert (a.size, a.blocks) == (5001, 8)
        assert store.read(g, 0, 6000) == bytes(5000) + b"x"
        store.truncate(g, 10 << 30)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (10 << 30, 8)
        assert store.read(g, (10 << 30) - 10, 100) == bytes(10)
        store.write(g, 1 << 30, b"y" * 4097)  # two blocks
        assert store.getattr(g).blocks == 24

    def test_truncate(self, store):
        g = mkfile(store, "f", data=b"q" * 8192)
        store.truncate(g, 5000)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (5000, 16)
        store.truncate(g, 8192)  # the cut tail reads back as zeros
        assert store.read(g, 0, 8192) == b"q" * 5000 + bytes(3192)
        store.truncate(g, 4096)
        assert store.getattr(g).blocks == 8
        store.truncate(g, 0)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (0, 0)
        store.truncate(g, 100)
        assert store.read(g, 0, 200) == bytes(100) and store.getattr(g).blocks == 0


class TestSeek:
    # Every value below was measured with os.lseek on ext4.
    OFFS = [0, 1, 4095, 4096, 4097, 5000, 5001, 5002, 8192, -1]

    def test_empty_file(self, store):
        g = mkfile(store, "f")
        assert seeks(store, g, self.OFFS, SEEK_DATA) == ["ENXIO"] * 10
        assert seeks(store, g, self.OFFS, SEEK_HOLE) == ["ENXIO"] * 10

    def test_one_byte_in_the_second_block(self, store):
        g = mkfile(store, "f")
        store.write(g, 5000, b"x")
        assert seeks(store, g, self.OFFS, SEEK_DATA) == [4096, 4096, 4096, 4096, 4097, 5000] + ["ENXIO"] * 4
        assert seeks(store, g, self.OFFS, SEEK_HOLE) == [0, 1, 4095, 5001, 5001, 5001] + ["ENXIO"] * 4

    def test_partial_single_block(self, store):
        g = mkfile(store, "f")
        store.write(g, 100, b"x" * 10)
        assert seeks(store, g, [0, 109, 110], SEEK_DATA) == [0, 109, "ENXIO"]
        assert seeks(store, g, [0, 109, 110], SEEK_HOLE) == [110, 110, "ENXIO"]

    def test_data_between_holes(self, store):
        g = mkfile(store, "f")
        store.write(g, 0, b"x" * 10)
        store.truncate(g, 40960)
        store.write(g, 20000, b"y")
        offs = [0, 1, 4095, 4096, 8192, 16383, 20000, 20479, 20480, 40959, 40960, 40961]
        assert seeks(store, g, offs, SEEK_DATA) == [0, 1, 4095, 16384, 16384, 16384, 20000, 20479] + ["ENXIO"] * 4
        assert seeks(store, g, offs, SEEK_HOLE) == [
            4096,
            4096,
            4096,
            4096,
            8192,
            16383,
            20480,
            20480,
            20480,
            40959,
            "ENXIO",
            "ENXIO",
        ]
        assert segments(store, g) == [(0, 4096), (16384, 20480)]

    def test_all_hole(self, store):
        g = mkfile(store, "f")
        store.truncate(g, 40960)
        assert seeks(store, g, [0, 4096, 40959, 40960], SEEK_DATA) == ["ENXIO"] * 4
        assert seeks(store, g, [0, 4097, 40959, 40960], SEEK_HOLE) == [0, 4097, 40959, "ENXIO"]

    def test_long_run(self, store):
        g = mkfile(store, "f")
        store.write(g, 4096, b"d" * (4096 * 300 + 17))
        store.write(g, 4096 * 400, b"e")
        assert segments(store, g) == [(4096, 4096 * 302), (4096 * 400, 4096 * 400 + 1)]
        assert store.seek(g, 4096 * 150 + 3, SEEK_HOLE) == 4096 * 302

    def test_bad_whence(self, store):
        g = mkfile(store, "f", data=b"x")
        err(errno.EINVAL, store.seek, g, 0, 7)


class TestFallocate:
    def test_allocate_extends_and_reads_zero(self, store):
        g = mkfile(store, "f")
        store.fallocate(g, 0, 1000, 5000)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (6000, 16)
        assert segments(store, g) == []  # unwritten extents are holes to SEEK_DATA
        assert seeks(store, g, [0, 5999], SEEK_HOLE) == [0, 5999]
        store.write(g, 100, b"z")
        assert segments(store, g) == [(0, 4096)] and store.getattr(g).blocks == 16
        store.fallocate(g, 0, 0, 100)  # inside: size stays
        assert store.getattr(g).size == 6000
        # reads come last: on ext4 a read caches the unwritten blocks' zeros, and SEEK_DATA
        # reports cached pages as data until they are evicted (module docstring)
        assert store.read(g, 0, 10000) == bytes(100) + b"z" + bytes(5899)

    def test_keep_size(self, store):
        g = mkfile(store, "f")
        store.fallocate(g, KEEP, 0, 8192)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (0, 16)
        store.truncate(g, 4096)  # growing keeps the preallocation
        assert store.getattr(g).blocks == 16
        store.truncate(g, 0)
        assert store.getattr(g).blocks == 0

    def test_truncate_drops_preallocation_past_eof(self, store):
        g = mkfile(store, "f", data=b"x" * 10000)
        store.fallocate(g, KEEP, 0, 65536)
        assert store.getattr(g).blocks == 128
        store.truncate(g, 5000)
        assert store.getattr(g).blocks == 16
        h = mkfile(store, "h", data=b"x" * 100)
        store.fallocate(h, KEEP, 0, 65536)
        store.truncate(h, 100)  # even to the same size
        assert store.getattr(h).blocks == 8

    def test_preallocation_then_write_past_eof(self, store):
        g = mkfile(store, "f")
        store.fallocate(g, KEEP, 0, 65536)
        store.truncate(g, 10000)
        store.write(g, 20000, b"z")
        a = store.getattr(g)
        assert (a.size, a.blocks) == (20001, 128)
        assert segments(store, g) == [(16384, 20001)]

    def test_punch_hole(self, store):
        g = mkfile(store, "f", data=b"q" * 40960)
        store.fsync(g)
        store.fallocate(g, PUNCH | KEEP, 5000, 10000)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (40960, 72)  # only block 2 was fully inside
        assert store.read(g, 0, 40960) == b"q" * 5000 + bytes(10000) + b"q" * 25960
        assert segments(store, g) == [(0, 8192), (12288, 40960)]

    def test_punch_inside_one_block(self, store):
        g = mkfile(store, "f", data=b"z" * 16384)
        store.fsync(g)
        store.fallocate(g, PUNCH | KEEP, 1000, 100)
        assert store.getattr(g).blocks == 32
        assert store.read(g, 0, 16384).count(b"z") == 16284
        h = mkfile(store, "h")
        store.truncate(h, 16384)
        store.fallocate(h, PUNCH | KEEP, 1000, 100)
        assert store.getattr(h).blocks == 0

    def test_punch_at_and_past_eof(self, store):
        g = mkfile(store, "f", data=b"q" * 10000)
        store.fsync(g)
        store.fallocate(g, KEEP, 0, 65536)
        store.fallocate(g, PUNCH | KEEP, 20000, 8192)  # past EOF: nothing
        assert store.getattr(g).blocks == 128
        store.fallocate(g, PUNCH | KEEP, 8192, 30000)  # clipped to EOF rounded up to a block
        a = store.getattr(g)
        assert (a.size, a.blocks) == (10000, 120)
        assert segments(store, g) == [(0, 8192)]
        h = mkfile(store, "h", data=b"q" * 8192)
        store.fsync(h)
        store.fallocate(h, KEEP, 0, 65536)
        store.fallocate(h, PUNCH | KEEP, 8192, 30000)  # from an aligned EOF: nothing
        assert store.getattr(h).blocks == 128
        store.fallocate(h, PUNCH | KEEP, 4096, 30000)
        assert store.getattr(h).blocks == 120 and segments(store, h) == [(0, 4096)]

    def test_zero_range(self, store):
        g = mkfile(store, "f", data=b"q" * 40960)
        store.fsync(g)
        store.fallocate(g, ZERO, 5000, 10000)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (40960, 80)  # still allocated
        assert segments(store, g) == [(0, 8192), (12288, 40960)]
        assert store.read(g, 0, 40960) == b"q" * 5000 + bytes(10000) + b"q" * 25960

    def test_zero_range_extends_or_keeps_size(self, store):
        g = mkfile(store, "f", data=b"q" * 100)
        store.fallocate(g, ZERO, 5000, 10000)
        a = store.getattr(g)
        assert (a.size, a.blocks) == (15000, 32)
        assert segments(store, g) == [(0, 4096)]
        h = mkfile(store, "h", data=b"q" * 100)
        store.fallocate(h, ZERO | KEEP, 5000, 10000)
        a = store.getattr(h)
        assert (a.size, a.blocks) == (100, 32)
        k = mkfile(store, "k")
        store.truncate(k, 16384)
        store.fallocate(k, ZERO, 1000, 100)  # a partial hole block gets allocated
        assert store.getattr(k).blocks == 8 and segments(store, k) == []

    def test_modes_and_arguments(self, store):
        g = mkfile(store, "f", data=b"x")
        err(errno.EOPNOTSUPP, store.fallocate, g, PUNCH, 0, 10)  # needs KEEP_SIZE
        err(errno.EOPNOTSUPP, store.fallocate, g, PUNCH | ZERO, 0, 10)
        err(errno.EOPNOTSUPP, store.fallocate, g, PUNCH | ZERO | KEEP, 0, 10)
        err(errno.EOPNOTSUPP, store.fallocate, g, 0x04, 0, 10)  # NO_HIDE_STALE
        err(errno.EOPNOTSUPP, store.fallocate, g, 0x40, 0, 10)  # UNSHARE_RANGE
        err(errno.EINVAL, store.fallocate, g, 0, 0, 0)
        err(errno.EINVAL, store.fallocate, g, 0, -1, 10)
        err(errno.EINVAL, store.fallocate, g, 0, 0, -1)
        assert store.read(g, 0, 10) == b"x"


class TestXattrs:
    def test_set_get_list_remove(self, store):
        g = mkfile(store, "f")
        err(errno.ENODATA, store.getxattr, g, "user.a")
        store.setxattr(g, "user.a", b"1")
        store.setxattr(g, "user.b", b"")
        store.setxattr(g, "trusted.t", b"\x00\xff")
        assert store.getxattr(g, "user.a") == b"1" and store.getxattr(g, "user.b") == b""
        assert store.getxattr(g, "trusted.t") == b"\x00\xff"
        assert set(store.listxattr(g)) == {"user.a", "user.b", "trusted.t"}
        store.setxattr(g, "user.a", b"22")
        assert store.getxattr(g, "user.a") == b"22"
        store.removexattr(g, "user.a")
        err(errno.ENODATA, store.getxattr, g, "user.a")
        err(errno.ENODATA, store.removexattr, g, "user.a")
        assert set(store.listxattr(g)) == {"user.b", "trusted.t"}

    def test_flags(self, store):
        g = mkfile(store, "f")
        err(errno.ENODATA, store.setxattr, g, "user.a", b"1", XATTR_REPLACE)
        store.setxattr(g, "user.a", b"1", XATTR_CREATE)
        err(errno.EEXIST, store.setxattr, g, "user.a", b"2", XATTR_CREATE)
        err(errno.EEXIST, store.setxattr, g, "user.a", b"2", XATTR_CREATE | XATTR_REPLACE)
        store.setxattr(g, "user.a", b"3", XATTR_REPLACE)
        assert store.getxattr(g, "user.a") == b"3"
        err(errno.EINVAL, store.setxattr, g, "user.a", b"4", 4)

    def test_names_and_sizes(self, store):
        g = mkfile(store, "f")
        store.setxattr(g, "user." + "n" * 250, b"1")  # 255 bytes in all
        err(errno.ERANGE, store.setxattr, g, "user." + "n" * 251, b"1")
        err(errno.ERANGE, store.getxattr, g, "user." + "n" * 251)
        err(errno.ERANGE, store.setxattr, g, "", b"1")
        err(errno.EINVAL, store.setxattr, g, "user.", b"1")
        for name in ("foo.bar", "plain", "system.other"):
            err(errno.EOPNOTSUPP, store.setxattr, g, name, b"1")
            err(errno.EOPNOTSUPP, store.getxattr, g, name)
        err(errno.E2BIG, store.setxattr, g, "user.big", b"x" * 65537)

    def test_on_other_kinds(self, store):
        d = mkdir(store, "d")
        store.setxattr(d, "user.a", b"dir")
        assert store.getxattr(d, "user.a") == b"dir"
        s = store.symlink(R, "s", "t", uid=UID, gid=GID, gfid=gf()).gfid
        p = store.mknod(R, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf()).gfid
        for g in (s, p):  # Linux allows user.* only on regular files and directories
            err(errno.EPERM, store.setxattr, g, "user.a", b"1")
            err(errno.ENODATA, store.getxattr, g, "user.a")
            err(errno.EPERM, store.removexattr, g, "user.a")

    def test_trusted_on_other_kinds(self, store):
        require_root("a trusted.* xattr")
        s = store.symlink(R, "s", "t", uid=UID, gid=GID, gfid=gf()).gfid
        p = store.mknod(R, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf()).gfid
        for g in (s, p):  # unlike user.*, allowed on any kind
            store.setxattr(g, "trusted.t", b"1")
            assert store.getxattr(g, "trusted.t") == b"1"
            assert "trusted.t" in store.listxattr(g)

    def test_follow_hard_links(self, store):
        g = mkfile(store, "f")
        store.link(g, R, "l")
        store.setxattr(g, "user.a", b"1")
        assert store.getxattr(store.lookup(R, "l").gfid, "user.a") == b"1"


class TestSetattr:
    def test_fields(self, store):
        g = mkfile(store, "f")
        a = store.setattr(g, mode=0o4711)
        assert a.mode == stat.S_IFREG | 0o4711
        a = store.setattr(g, mode=stat.S_IFDIR | 0o600)  # type bits are ignored
        assert a.mode == stat.S_IFREG | 0o600
        a = store.setattr(g, atime_ns=1_000_000_123, mtime_ns=2_000_000_456)
        assert (a.atime_ns, a.mtime_ns) == (1_000_000_123, 2_000_000_456)
        assert store.getattr(g).mtime_ns == 2_000_000_456

    def test_owner(self, store):
        require_root("chown")
        g = mkfile(store, "f")
        a = store.setattr(g, uid=1234, gid=5678)
        assert (a.uid, a.gid) == (1234, 5678)
        a = store.setattr(g, gid=42)
        assert (a.uid, a.gid) == (1234, 42)

    def test_chown_drops_setid_bits(self, store):
        require_root("chown")
        g = mkfile(store, "f")
        store.setattr(g, mode=0o6755)
        assert store.setattr(g, uid=UID).mode == stat.S_IFREG | 0o755
        store.setattr(g, mode=0o6745)  # set-group-ID without group exec stays (mandatory locking)
        assert store.setattr(g, gid=GID).mode == stat.S_IFREG | 0o2745
        d = mkdir(store, "d")
        store.setattr(d, mode=0o6755)
        assert store.setattr(d, uid=UID).mode == stat.S_IFDIR | 0o6755


class TestTimestamps:
    """Which of atime/mtime/ctime move (Linux's rules, measured on ext4 with relatime)."""

    @staticmethod
    def moved(store, tick, fn, *gfids):
        before = [store.getattr(g) for g in gfids]
        tick()
        fn()
        out = []
        for g, b in zip(gfids, before):
            a = store.getattr(g)
            out.append(
                "".join(
                    c if x != y else "-"
                    for c, x, y in zip(
                        "amc", (b.atime_ns, b.mtime_ns, b.ctime_ns), (a.atime_ns, a.mtime_ns, a.ctime_ns)
                    )
                )
            )
        return out

    def test_new_objects(self, store, tick):
        d = mkdir(store, "d")
        tick()
        a, _ = store.create(d, "f", 0o644, uid=UID, gid=GID, gfid=gf())
        assert a.atime_ns == a.mtime_ns == a.ctime_ns
        p = store.getattr(d)
        assert p.mtime_ns == p.ctime_ns >= a.ctime_ns > store.getattr(R).ctime_ns
        assert self.moved(store, tick, lambda: mkdir(store, "x", d), d) == ["-mc"]
        assert self.moved(store, tick, lambda: store.symlink(d, "s", "t", uid=UID, gid=GID, gfid=gf()), d) == ["-mc"]
        assert self.moved(
            store, tick, lambda: store.mknod(d, "p", stat.S_IFIFO | 0o600, 0, uid=UID, gid=GID, gfid=gf()), d
        ) == ["-mc"]
        assert self.moved(store, tick, lambda: store.create(d, "f", 0o644, uid=UID, gid=GID, gfid=gf()), d, a.gfid) == [
            "---",
            "---",
        ]

    def test_data(self, store, tick):
        d = mkdir(store, "d")
        g = mkfile(store, "f", d)
        assert self.moved(store, tick, lambda: store.write(g, 0, b"x" * 100), g, d) == ["-mc", "---"]
        assert self.moved(store, tick, lambda: store.write(g, 0, b""), g) == ["---"]
        assert self.moved(store, tick, lambda: store.read(g, 0, 10), g) == ["a--"]  # relatime: atime < mtime
        assert self.moved(store, tick, lambda: store.read(g, 0, 10), g) == ["---"]
        for size in (5000, 5000, 10):
            assert self.moved(store, tick, lambda size=size: store.truncate(g, size), g) == ["-mc"]
        for mode, off, length in [
            (0, 0, 100),
            (0, 0, 10000),
            (KEEP, 0, 20000),
            (PUNCH | KEEP, 0, 4096),
            (PUNCH | KEEP, 1 << 20, 4096),
            (ZERO, 0, 4096),
            (ZERO | KEEP, 0, 30000),
        ]:
            assert self.moved(
                store, tick, lambda mode=mode, off=off, length=length: store.fallocate(g, mode, off, length), g
            ) == ["-mc"]
        assert self.moved(store, tick, lambda: store.fsync(g), g) == ["---"]
        assert self.moved(store, tick, lambda: store.seek(g, 0, SEEK_HOLE), g) == ["---"]
        assert self.moved(store, tick, lambda: store.read(g, 0, 0), g) == ["---"]

    def test_names(self, store, tick):
        d1, d2 = mkdir(store, "d1"), mkdir(store, "d2")
        g = mkfile(store, "f", d1)
        assert self.moved(store, tick, lambda: store.link(g, d2, "l"), g, d1, d2) == ["--c", "---", "-mc"]
        assert self.moved(store, tick, lambda: store.unlink(d2, "l"), g, d1, d2) == ["--c", "---", "-mc"]
        assert self.moved(store, tick, lambda: store.rename(d1, "f", d1, "g"), g, d1) == ["--c", "-mc"]
        assert self.moved(store, tick, lambda: store.rename(d1, "g", d2, "g"), g, d1, d2) == ["--c", "-mc", "-mc"]
        sub = mkdir(store, "sub", d1)
        assert self.moved(store, tick, lambda: store.rename(d1, "sub", d2, "sub"), sub, d1, d2) == [
            "--c",
            "-mc",
            "-mc",
        ]  # a moved directory's own mtime stays, though its ".." changed
        victim = mkfile(store, "v", d2)
        store.link(victim, d1, "v2")
        assert self.moved(store, tick, lambda: store.rename(d2, "g", d2, "v"), victim, g) == ["--c", "--c"]
        store.link(g, d2, "g2")
        assert self.moved(store, tick, lambda: store.rename(d2, "v", d2, "g2"), g, d2) == ["---", "---"]
        e = mkdir(store, "e", d1)
        assert self.moved(store, tick, lambda: store.rmdir(d1, "e"), d1) == ["-mc"]
        err(errno.ESTALE, store.getattr, e)
        assert self.moved(store, tick, lambda: store.lookup(d1, "v2"), d1, victim) == ["---", "---"]
        assert self.moved(store, tick, lambda: store.readdir(d1), d1) == ["a--"]
        s = store.symlink(R, "s", "t", uid=UID, gid=GID, gfid=gf()).gfid
        assert self.moved(store, tick, lambda: store.readlink(s), s) == ["a--"]

    def test_metadata(self, store, tick):
        g = mkfile(store, "f")
        assert self.moved(store, tick, lambda: store.setxattr(g, "user.a", b"1"), g) == ["--c"]
        assert self.moved(store, tick, lambda: store.setxattr(g, "user.a", b"1"), g) == ["---"]  # same value
        assert self.moved(store, tick, lambda: store.getxattr(g, "user.a"), g) == ["---"]
        assert self.moved(store, tick, lambda: store.listxattr(g), g) == ["---"]
        assert self.moved(store, tick, lambda: store.removexattr(g, "user.a"), g) == ["--c"]
        assert self.moved(store, tick, lambda: store.setattr(g, mode=0o600), g) == ["--c"]
        assert self.moved(store, tick, lambda: store.setattr(g, mode=0o600), g) == ["--c"]
        assert self.moved(store, tick, lambda: store.setattr(g, uid=UID, gid=GID), g) == ["--c"]
        before = store.getattr(g).ctime_ns
        tick()
        a = store.setattr(g, atime_ns=10**18, mtime_ns=10**18)
        assert (a.atime_ns, a.mtime_ns) == (10**18, 10**18) and a.ctime_ns > before


def test_readdir(store):
    d = mkdir(store, "d")
    want = {
        "f": mkfile(store, "f", d, b"abc"),
        "sub": mkdir(store, "sub", d),
        "s": store.symlink(d, "s", "target", uid=UID, gid=GID, gfid=gf()).gfid,
        "p": store.mknod(d, "p", stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf()).gfid,
    }
    store.link(want["f"], d, "l")
    want["l"] = want["f"]
    entries = store.readdir(d)
    assert sorted(n for n, _ in entries) == sorted(want)
    for name, attr in entries:
        assert attr.gfid == want[name]
        looked = store.lookup(d, name)
        assert (attr.mode, attr.size, attr.nlink, attr.blocks) == (
            looked.mode,
            looked.size,
            looked.nlink,
            looked.blocks,
        )
    store.rename(d, "f", d, "g")
    store.unlink(d, "p")
    assert sorted(n for n, _ in store.readdir(d)) == ["g", "l", "s", "sub"]
    assert store.readdir(want["sub"]) == []
    err(errno.ENOTDIR, store.readdir, want["l"])
    assert store.readdir(d) == store.readdir(d)  # a stable order


def test_statfs(store):
    v = store.statfs()
    assert v.bsize > 0 and v.frsize > 0 and v.namemax == 255
    assert v.blocks >= v.bfree >= v.bavail >= 0
    assert v.files >= v.ffree >= 0


def test_fsync_and_close(store):
    g = mkfile(store, "f", data=b"x")
    store.fsync(g)
    store.fsync(g, datasync=True)
    store.fsync(R)


# =====================================================================================
# 2. MemoryStore only
# =====================================================================================


def _walk_blocks(s: Store, g: bytes = R, seen: set | None = None) -> int:
    seen = set() if seen is None else seen
    total = 0
    for _, a in s.readdir(g):
        if a.gfid not in seen:
            seen.add(a.gfid)
            total += a.blocks
            if stat.S_ISDIR(a.mode):
                total += _walk_blocks(s, a.gfid, seen)
    return total


class TestMemory:
    def test_statfs_counts_every_allocated_block(self):
        s = MemoryStore()
        v = s.statfs()
        assert (v.bsize, v.frsize, v.blocks) == (4096, 4096, (1 << 40) // 4096)
        assert v.bfree == v.blocks - 1  # the root directory
        d = mkdir(s, "d")
        g = mkfile(s, "f", d, b"x" * 10000)
        s.fallocate(g, KEEP, 0, 65536)
        s.symlink(d, "long", "l" * 100, uid=0, gid=0, gfid=gf())
        s.symlink(d, "short", "l", uid=0, gid=0, gfid=gf())
        s.link(g, R, "hard")
        used = (8 + _walk_blocks(s)) // 8
        assert used == 1 + 1 + 16 + 1
        assert s.statfs().bfree == s.statfs().blocks - used
        s.unlink(d, "f")
        s.unlink(R, "hard")
        assert s.statfs().bfree == s.statfs().blocks - 3
        assert s.statfs().ffree == s.statfs().files - 4

    def test_capacity(self):
        s = MemoryStore(capacity=64 * 4096)
        assert (s.statfs().blocks, s.statfs().bfree) == (64, 63)
        g = mkfile(s, "f", data=b"a" * (62 * 4096))
        assert s.statfs().bfree == 1
        state = lambda: (s.getattr(g).size, s.getattr(g).blocks, s.getattr(g).mtime_ns, s.read(g, 0, 1 << 20))
        before = state()
        err(errno.ENOSPC, s.write, g, 100 * 4096, b"b" * 8192)  # needs 2 blocks
        err(errno.ENOSPC, s.write, g, 62 * 4096 - 10, b"b" * 8192)  # overlaps, still needs 2
        err(errno.ENOSPC, s.fallocate, g, 0, 0, 70 * 4096)
        err(errno.ENOSPC, s.fallocate, g, ZERO, 62 * 4096, 8192)
        assert state() == before  # nothing half done
        h = mkfile(s, "h")  # inodes are free
        assert s.write(g, 0, b"c" * (62 * 4096)) == 62 * 4096  # overwriting needs nothing
        s.write(h, 0, b"d")
        assert s.statfs().bfree == 0
        err(errno.ENOSPC, s.write, h, 4096, b"e")
        err(errno.ENOSPC, s.mkdir, R, "d", 0o755, uid=0, gid=0, gfid=gf())
        err(errno.ENOSPC, s.symlink, R, "l", "x" * 60, uid=0, gid=0, gfid=gf())
        s.symlink(R, "short", "x" * 59, uid=0, gid=0, gfid=gf())  # lives in the inode
        s.fallocate(g, PUNCH | KEEP, 0, 8192)
        assert s.statfs().bfree == 2
        s.truncate(g, 0)
        assert s.statfs().bfree == 62
        s.unlink(R, "h")
        assert s.statfs().bfree == 63

    def test_sparse_files_cost_no_memory(self):
        s = MemoryStore()
        g = mkfile(s, "f")
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            s.truncate(g, 64 << 30)
            s.write(g, 32 << 30, b"x")
            assert tracemalloc.get_traced_memory()[0] - base < 64 * 1024
            s.fallocate(g, KEEP, 0, 10 << 30)  # one range, not 2.6 million blocks
            assert tracemalloc.get_traced_memory()[0] - base < 64 * 1024
        finally:
            tracemalloc.stop()
        a = s.getattr(g)
        assert a.size == 64 << 30 and a.blocks == (10 << 30) // 512 + 8
        assert s.read(g, (64 << 30) - 100, 200) == bytes(100)
        assert s.read(g, (32 << 30) - 2, 4) == b"\0\0x\0"
        assert s.seek(g, 0, SEEK_DATA) == 32 << 30

    def test_uses_its_clock(self):
        clock = fake_clock(5_000, 7)
        s = MemoryStore(clock=clock, uid=12, gid=34, root_mode=0o711)
        r = s.getattr(R)
        assert (r.mode, r.uid, r.gid, r.ctime_ns) == (stat.S_IFDIR | 0o711, 12, 34, 5_000)
        a, _ = s.create(R, "f", 0o644, uid=1, gid=2, gfid=gf())
        assert a.ctime_ns == a.mtime_ns == a.atime_ns == 5_007 == s.getattr(R).mtime_ns

    def test_bad_gfids(self):
        s = MemoryStore()
        err(errno.EINVAL, s.create, R, "f", 0o644, uid=0, gid=0, gfid=b"short")
        err(errno.EINVAL, s.mkdir, R, "d", 0o755, uid=0, gid=0, gfid=bytes(16))
        err(errno.EEXIST, s.mkdir, R, "d", 0o755, uid=0, gid=0, gfid=R)

    def test_symlink_mode_is_fixed(self):
        s = MemoryStore()
        g = s.symlink(R, "s", "t", uid=0, gid=0, gfid=gf()).gfid
        assert s.setattr(g, mode=0o600).mode == stat.S_IFLNK | 0o777


# =====================================================================================
# 3. Linux as the reference
# =====================================================================================


def _fstype(path: str) -> str:
    path, best, kind = os.path.realpath(path), "", ""
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, fstype, *_ = line.split()
            mnt = mnt.replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, fstype
    return kind


REF_BASE = tempfile.gettempdir()


@pytest.fixture
def ext4_dir():
    if _fstype(REF_BASE) != "ext4":
        unavailable(f"{REF_BASE} is {_fstype(REF_BASE) or 'unknown'}, not ext4: no Linux reference")
    path = tempfile.mkdtemp(prefix="store-ref-", dir=REF_BASE)
    yield path
    shutil.rmtree(path, ignore_errors=True)


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
FIEMAP = 0xC020660B
FIEMAP_FLAG_SYNC, FIEMAP_EXTENT_LAST = 0x1, 0x1


def _fiemap(fd: int) -> list[tuple[int, int, int]]:
    """The file's extents: [(logical, length, flags)], past EOF included."""
    out, start, n = [], 0, 256
    while True:
        buf = bytearray(struct.pack("=QQIIII", start, (1 << 64) - 1 - start, FIEMAP_FLAG_SYNC, 0, n, 0) + bytes(56 * n))
        fcntl.ioctl(fd, FIEMAP, buf)
        count = struct.unpack_from("=I", buf, 20)[0]
        for i in range(count):
            logical, _, length, _, _, flags = struct.unpack_from("=QQQQQI", buf, 32 + 56 * i)
            out.append((logical, length, flags))
        if count < n or out[-1][2] & FIEMAP_EXTENT_LAST:
            return out
        start = out[-1][0] + out[-1][1]


class LinuxFS:
    """Paths relative to ``root`` on ext4, through os.* calls: the reference."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _p(self, path: str) -> str:
        return os.path.join(self.root, path) if path else self.root

    def now(self) -> int:
        return time.time_ns()

    def create(self, path, exclusive=False):
        flags = os.O_CREAT | os.O_RDWR | os.O_NONBLOCK | (os.O_EXCL if exclusive else 0)
        os.close(os.open(self._p(path), flags, 0o644))

    def mkdir(self, path):
        os.mkdir(self._p(path), 0o755)

    def mkfifo(self, path):
        os.mknod(self._p(path), stat.S_IFIFO | 0o644)

    def symlink(self, target, path):
        os.symlink(target, self._p(path))

    def link(self, src, dst):
        os.link(self._p(src), self._p(dst), follow_symlinks=False)

    def unlink(self, path):
        os.unlink(self._p(path))

    def rmdir(self, path):
        os.rmdir(self._p(path))

    def rename(self, src, dst):
        os.rename(self._p(src), self._p(dst))

    def readlink(self, path):
        return os.readlink(self._p(path))

    def listdir(self, path):
        return sorted(os.listdir(self._p(path)))

    def _fd(self, path, flags=os.O_RDWR):
        return os.open(self._p(path), flags | os.O_NOFOLLOW | os.O_NONBLOCK)

    def write(self, path, offset, data):
        fd = self._fd(path)
        try:
            return os.pwrite(fd, data, offset)
        finally:
            os.close(fd)

    def writev(self, path, offset, buffers):
        return self.write(path, offset, b"".join(buffers))  # pwritev(2) = pwrite of them joined

    def read(self, path, offset, size):
        fd = self._fd(path, os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def truncate(self, path, size):
        os.truncate(self._p(path), size)

    def fallocate(self, path, mode, offset, length):
        fd = self._fd(path)
        try:
            if _libc.fallocate(fd, mode, offset, length):
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        finally:
            os.close(fd)

    def seek(self, path, offset, whence):
        fd = self._fd(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # answer by extents, not by what the page cache holds (module docstring)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            return os.lseek(fd, offset, whence)
        finally:
            os.close(fd)

    def fsync(self, path):
        fd = self._fd(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid, follow_symlinks=False)

    def utime(self, path, atime, mtime):
        os.utime(self._p(path), ns=(atime, mtime), follow_symlinks=False)

    def setxattr(self, path, name, value, flags=0):
        os.setxattr(self._p(path), name, value, flags, follow_symlinks=False)

    def getxattr(self, path, name):
        return os.getxattr(self._p(path), name, follow_symlinks=False)

    def removexattr(self, path, name):
        os.removexattr(self._p(path), name, follow_symlinks=False)

    def listxattr(self, path):
        return sorted(os.listxattr(self._p(path), follow_symlinks=False))

    def times(self, path):
        st = os.lstat(self._p(path))
        return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns

    def attrs(self, path):
        """(type, perms, nlink, size, blocks, uid, gid); for a regular file ``blocks`` counts
        its data extents (checking what ext4 adds for its extent tree)."""
        st = os.lstat(self._p(path))
        blocks = st.st_blocks
        if stat.S_ISREG(st.st_mode):
            fd = self._fd(path, os.O_RDONLY)
            try:
                os.fsync(fd)
                extents = _fiemap(fd)
            finally:
                os.close(fd)
            blocks = sum(length for _, length, _ in extents) // 512
            extra = os.lstat(self._p(path)).st_blocks - blocks
            assert extra in (0, 8), (path, extents, extra)
            assert extra == 8 or len(extents) <= 4, (path, extents, extra)
        return (
            stat.S_IFMT(st.st_mode),
            stat.S_IMODE(st.st_mode),
            st.st_nlink,
            st.st_size,
            blocks,
            st.st_uid,
            st.st_gid,
        )


class StoreFS:
    """The same path API on a :class:`Store` (names resolved by lookups from the root)."""

    def __init__(self, store: Store) -> None:
        self.s = store

    def _g(self, path):
        return self.s.resolve_path(path).gfid

    def _split(self, path):
        parent, _, name = path.rpartition("/")
        return self._g(parent), name

    def now(self):
        return self.s.clock()

    def create(self, path, exclusive=False):
        self.s.create(*self._split(path), 0o644, uid=UID, gid=GID, gfid=gf(), exclusive=exclusive)

    def mkdir(self, path):
        self.s.mkdir(*self._split(path), 0o755, uid=UID, gid=GID, gfid=gf())

    def mkfifo(self, path):
        self.s.mknod(*self._split(path), stat.S_IFIFO | 0o644, 0, uid=UID, gid=GID, gfid=gf())

    def symlink(self, target, path):
        self.s.symlink(*self._split(path), target, uid=UID, gid=GID, gfid=gf())

    def link(self, src, dst):
        self.s.link(self._g(src), *self._split(dst))

    def unlink(self, path):
        self.s.unlink(*self._split(path))

    def rmdir(self, path):
        self.s.rmdir(*self._split(path))

    def rename(self, src, dst):
        self.s.rename(*self._split(src), *self._split(dst))

    def readlink(self, path):
        return self.s.readlink(self._g(path))

    def listdir(self, path):
        return sorted(name for name, _ in self.s.readdir(self._g(path)))

    def write(self, path, offset, data):
        return self.s.write(self._g(path), offset, data)

    def writev(self, path, offset, buffers):
        return self.s.writev(self._g(path), offset, buffers)

    def read(self, path, offset, size):
        return self.s.read(self._g(path), offset, size)

    def truncate(self, path, size):
        self.s.truncate(self._g(path), size)

    def fallocate(self, path, mode, offset, length):
        self.s.fallocate(self._g(path), mode, offset, length)

    def seek(self, path, offset, whence):
        return self.s.seek(self._g(path), offset, whence)

    def fsync(self, path):
        self.s.fsync(self._g(path))

    def chmod(self, path, mode):
        self.s.setattr(self._g(path), mode=mode)

    def chown(self, path, uid, gid):
        self.s.setattr(self._g(path), uid=None if uid == -1 else uid, gid=None if gid == -1 else gid)

    def utime(self, path, atime, mtime):
        self.s.setattr(self._g(path), atime_ns=atime, mtime_ns=mtime)

    def setxattr(self, path, name, value, flags=0):
        self.s.setxattr(self._g(path), name, value, flags)

    def getxattr(self, path, name):
        return self.s.getxattr(self._g(path), name)

    def removexattr(self, path, name):
        self.s.removexattr(self._g(path), name)

    def listxattr(self, path):
        return sorted(self.s.listxattr(self._g(path)))

    def times(self, path):
        a = self.s.getattr(self._g(path))
        return a.atime_ns, a.mtime_ns, a.ctime_ns

    def attrs(self, path):
        a = self.s.getattr(self._g(path))
        return stat.S_IFMT(a.mode), stat.S_IMODE(a.mode), a.nlink, a.size, a.blocks, a.uid, a.gid


def outcome(fn, *args):
    """``("ok", result)`` or ``("err", errno name)``."""
    try:
        return ("ok", fn(*args))
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


def _pair(tmp: str, factory) -> tuple[LinuxFS, StoreFS]:
    """A reference directory and a fresh store from ``factory``, both under ``tmp``."""
    root = os.path.join(tmp, "ref")
    os.mkdir(root, 0o755)
    os.chmod(root, 0o755)
    os.mkdir(os.path.join(tmp, "store"))
    return LinuxFS(root), StoreFS(factory(pathlib.Path(tmp, "store")))


def _setup(fs):
    fs.mkdir("d")
    fs.mkdir("d2")
    fs.mkdir("d/sub")
    fs.create("d/f")
    fs.write("d/f", 0, b"x" * 100)
    fs.link("d/f", "d2/hl")
    fs.create("d/g")
    fs.symlink("tgt", "d/s")
    fs.mkfifo("d/p")


# (operation, [observed path, or (path before, path after)][, setup after the common one])
TIME_CASES = {
    "create": (lambda fs: fs.create("d/new"), ["d"]),
    "create existing": (lambda fs: fs.create("d/f"), ["d", "d/f"]),
    "mkdir": (lambda fs: fs.mkdir("d/m"), ["d"]),
    "mkfifo": (lambda fs: fs.mkfifo("d/m"), ["d"]),
    "symlink": (lambda fs: fs.symlink("t", "d/m"), ["d"]),
    "link": (lambda fs: fs.link("d/f", "d2/l2"), ["d/f", "d", "d2"]),
    "unlink a link": (lambda fs: fs.unlink("d2/hl"), ["d/f", "d", "d2"]),
    "unlink last": (lambda fs: fs.unlink("d/g"), ["d"]),
    "rmdir": (lambda fs: fs.rmdir("d/sub"), ["d"]),
    "rename within": (lambda fs: fs.rename("d/g", "d/g2"), ["d", ("d/g", "d/g2")]),
    "rename across": (lambda fs: fs.rename("d/g", "d2/g"), ["d", "d2", ("d/g", "d2/g")]),
    "rename over a linked file": (lambda fs: fs.rename("d/g", "d/f"), ["d", "d2/hl", ("d/g", "d/f")]),
    "rename dir across": (lambda fs: fs.rename("d/sub", "d2/sub"), ["d", "d2", ("d/sub", "d2/sub")]),
    "rename same inode": (lambda fs: fs.rename("d2/hl", "d/f"), ["d", "d2", "d/f"]),
    "rename onto itself": (lambda fs: fs.rename("d/sub", "d/sub"), ["d", "d/sub"]),
    "write": (lambda fs: fs.write("d/f", 10, b"y"), ["d/f", "d"]),
    "write nothing": (lambda fs: fs.write("d/f", 10, b""), ["d/f"]),
    "read": (lambda fs: fs.read("d/f", 0, 10), ["d/f"]),
    "read nothing": (lambda fs: fs.read("d/f", 0, 0), ["d/f"]),
    "read at EOF": (lambda fs: fs.read("d/f", 100, 10), ["d/f"]),
    "read again": (lambda fs: fs.read("d/f", 0, 1), ["d/f"], lambda fs: fs.read("d/f", 0, 1)),
    "read after a write": (
        lambda fs: fs.read("d/f", 0, 1),
        ["d/f"],
        lambda fs: (fs.read("d/f", 0, 1), time.sleep(0.012), fs.write("d/f", 0, b"z")),
    ),
    "read, atime in the future": (
        lambda fs: (fs.utime("d/f", fs.now() + 3600 * 10**9, fs.now()), fs.read("d/f", 0, 1)),
        ["d/f"],
    ),
    "truncate grow": (lambda fs: fs.truncate("d/f", 5000), ["d/f"]),
    "truncate same": (lambda fs: fs.truncate("d/f", 100), ["d/f"]),
    "truncate shrink": (lambda fs: fs.truncate("d/f", 10), ["d/f"]),
    "fallocate": (lambda fs: fs.fallocate("d/f", 0, 0, 10000), ["d/f"]),
    "fallocate inside": (lambda fs: fs.fallocate("d/f", 0, 0, 10), ["d/f"]),
    "fallocate keep": (lambda fs: fs.fallocate("d/f", KEEP, 0, 10000), ["d/f"]),
    "punch": (lambda fs: fs.fallocate("d/f", PUNCH | KEEP, 0, 10), ["d/f"]),
    "punch past EOF": (lambda fs: fs.fallocate("d/f", PUNCH | KEEP, 8192, 10), ["d/f"]),
    "zero range": (lambda fs: fs.fallocate("d/f", ZERO, 0, 10000), ["d/f"]),
    "seek": (lambda fs: fs.seek("d/f", 0, SEEK_HOLE), ["d/f"]),
    "fsync": (lambda fs: fs.fsync("d/f"), ["d/f"]),
    "setxattr": (lambda fs: fs.setxattr("d/f", "user.a", b"1"), ["d/f", "d"]),
    "setxattr same value": (
        lambda fs: fs.setxattr("d/f", "user.a", b"1"),
        ["d/f"],
        lambda fs: fs.setxattr("d/f", "user.a", b"1"),
    ),
    "setxattr new value": (
        lambda fs: fs.setxattr("d/f", "user.a", b"2"),
        ["d/f"],
        lambda fs: fs.setxattr("d/f", "user.a", b"1"),
    ),
    "removexattr": (lambda fs: fs.removexattr("d/f", "user.a"), ["d/f"], lambda fs: fs.setxattr("d/f", "user.a", b"1")),
    "getxattr": (lambda fs: outcome(fs.getxattr, "d/f", "user.a"), ["d/f"]),
    "listxattr": (lambda fs: fs.listxattr("d/f"), ["d/f"]),
    "chmod": (lambda fs: fs.chmod("d/f", 0o600), ["d/f", "d"]),
    "chmod same": (lambda fs: fs.chmod("d/f", 0o644), ["d/f"]),
    "chown same": (lambda fs: fs.chown("d/f", UID, GID), ["d/f"]),
    "utime": (lambda fs: fs.utime("d/f", 10**18, 10**18), ["d/f"]),
    "readdir": (lambda fs: fs.listdir("d"), ["d"]),
    "readdir again": (lambda fs: fs.listdir("d"), ["d"], lambda fs: fs.listdir("d")),
    "readlink": (lambda fs: fs.readlink("d/s"), ["d/s"]),
    "lookup": (lambda fs: fs.attrs("d/f"), ["d", "d/f"]),
}


@pytest.mark.parametrize("case", sorted(TIME_CASES))
def test_timestamps_like_linux(ext4_dir, store_factory, case):
    op, observed, *setup = TIME_CASES[case]
    pairs = [(o, o) if isinstance(o, str) else o for o in observed]
    results = []
    ref, fs = _pair(ext4_dir, store_factory)
    try:
        for side in (ref, fs):
            _setup(side)
            for extra in setup:
                time.sleep(0.012)
                extra(side)
            before = [side.times(b) for b, _ in pairs]
            time.sleep(0.012)
            op(side)
            after = [side.times(a) for _, a in pairs]
            results.append(
                ["".join(c if x != y else "-" for c, x, y in zip("amc", b, a)) for b, a in zip(before, after)]
            )
    finally:
        fs.s.close()
    assert results[1] == results[0], f"store {results[1]} != linux {results[0]} for {observed}"


# ---- the state machine ---------------------------------------------------------------

NAMES = ("a", "b", "c")
TARGETS = ("x", "a/b", "/etc/passwd", "../..", "t" * 59, "t" * 60)
XNAMES = ("user.a", "user.b", "trusted.t")
FMODES = (0, KEEP, PUNCH | KEEP, ZERO, ZERO | KEEP, PUNCH, PUNCH | ZERO, 0x04)
MiB = 1 << 20
offsets = st.one_of(
    st.integers(0, 4 * MiB),
    st.integers(0, 1024).map(lambda b: b * 4096),
    st.sampled_from([0, 1, 4095, 4096, 4097, 8191, 8192, EXT4_MAXBYTES - 1, EXT4_MAXBYTES, -1]),
)
lengths = st.one_of(
    st.integers(1, 300_000), st.integers(1, 64).map(lambda b: b * 4096), st.sampled_from([1, 4095, 4096, 4097, 0])
)


class LinuxReference(RuleBasedStateMachine):
    """Random operations on a store and on ext4; every result, errno and attribute must agree."""

    factory = None  # set by the test: tmp_path -> Store

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="store-sm-", dir=REF_BASE)
        self.ref, self.fs = _pair(self.tmp, type(self).factory)
        # A store on a real filesystem answers st_blocks with ext4's extent-tree block and
        # SEEK_DATA by ext4's page cache too (module docstring): compared more loosely.
        self.exact = isinstance(self.fs.s, MemoryStore)

    def teardown(self) -> None:
        self.fs.s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @initialize(
        sizes=st.lists(
            st.one_of(st.integers(0, 3 * MiB), st.integers(0, 64).map(lambda b: b * 4096)), min_size=3, max_size=3
        )
    )
    def start(self, sizes):
        """A few files (sparse or not), a directory and a hard link to begin with."""
        for fs in (self.ref, self.fs):
            fs.mkdir("b")
            for path, size in zip(("a", "b/a", "c"), sizes):
                fs.create(path)
                if size:
                    fs.write(path, max(0, size - 70_000), b"s" * min(size, 70_000))
            fs.link("b/a", "b/c")

    # -- what exists (read off the reference) --
    def _walk(self):
        out = []
        for top, dirs, files in os.walk(self.ref.root):
            rel = os.path.relpath(top, self.ref.root)
            rel = "" if rel == "." else rel
            for n in dirs + files:
                p = os.path.join(rel, n)
                out.append((p, stat.S_IFMT(os.lstat(os.path.join(self.ref.root, p)).st_mode)))
        return out

    def dirs(self):
        return [""] + [p for p, t in self._walk() if t == stat.S_IFDIR]

    def files(self):
        return [p for p, t in self._walk() if t == stat.S_IFREG]

    def same(self, op: str, *args):
        want, got = outcome(getattr(self.ref, op), *args), outcome(getattr(self.fs, op), *args)
        assert got == want, f"{op}{args}: store {got} != linux {want}"
        return want

    def _path(self, data):
        return os.path.join(
            data.draw(st.sampled_from(self.dirs()), label="dir"), data.draw(st.sampled_from(NAMES), label="name")
        )

    def _object(self, data):
        paths = [p for p, _ in self._walk()]
        return data.draw(st.sampled_from(paths), label="object") if paths else self._path(data)

    def _file(self, data):
        """A regular file mostly; sometimes a directory or a missing name (never a symlink
        or fifo, where the store's errnos differ from open()'s by design)."""
        files = self.files()
        if files and data.draw(st.integers(0, 9), label="pick") > 0:
            return data.draw(st.sampled_from(files), label="file")
        path = self._path(data)
        kind = self._kind(path)
        return path if kind in (None, stat.S_IFDIR, stat.S_IFREG) else ""

    def _kind(self, path):
        try:
            return stat.S_IFMT(os.lstat(os.path.join(self.ref.root, path)).st_mode)
        except OSError:
            return None

    # -- namespace --
    @rule(data=st.data(), exclusive=st.booleans())
    def create(self, data, exclusive):
        path = self._path(data)
        if not os.path.islink(os.path.join(self.ref.root, path)):  # open(O_CREAT) would follow it
            self.same("create", path, exclusive)

    @rule(data=st.data())
    def mkdir(self, data):
        self.same("mkdir", self._path(data))

    @rule(data=st.data())
    def mkfifo(self, data):
        self.same("mkfifo", self._path(data))

    @rule(data=st.data(), points_to=st.sampled_from(TARGETS))
    def symlink(self, data, points_to):
        self.same("symlink", points_to, self._path(data))

    @rule(data=st.data())
    def link(self, data):
        self.same("link", self._object(data), self._path(data))

    @rule(data=st.data())
    def unlink(self, data):
        self.same("unlink", data.draw(st.one_of(st.just(self._object(data)), st.just(self._path(data)))))

    @rule(data=st.data())
    def rmdir(self, data):
        self.same("rmdir", data.draw(st.one_of(st.just(self._object(data)), st.just(self._path(data)))))

    @rule(data=st.data())
    def rename(self, data):
        src = data.draw(st.one_of(st.just(self._object(data)), st.just(self._path(data))), label="src")
        dst = data.draw(st.one_of(st.just(self._object(data)), st.just(self._path(data))), label="dst")
        self.same("rename", src, dst)

    # -- data --
    @rule(data=st.data(), offset=offsets, length=lengths, fill=st.integers(0, 255))
    def write(self, data, offset, length, fill):
        self.same("write", self._file(data), offset, bytes([fill]) * length)

    @rule(data=st.data(), offset=offsets, length=lengths, cuts=st.lists(st.integers(0, 300_000), max_size=6))
    def writev(self, data, offset, length, cuts):
        """A payload in pieces (a big WRITE as it arrived), cut anywhere: block borders or not."""
        payload = os.urandom(min(length, 8192)) * (length // 8192 + 1)
        edges = sorted({0, len(payload), *(c % (len(payload) + 1) for c in cuts)})
        pieces = [memoryview(payload)[a:b] for a, b in itertools.pairwise(edges)]
        self.same("writev", self._file(data), offset, pieces)

    @rule(data=st.data(), offset=offsets, length=lengths)
    def overwrite(self, data, offset, length):
        """Writes again (data ops are what a brick does most)."""
        self.same("write", self._file(data), offset, os.urandom(min(length, 8192)) * (length // 8192 + 1))

    @rule(data=st.data(), size=offsets)
    def truncate(self, data, size):
        path = self._file(data)
        if size >= 0 or self._kind(path) is not None:  # truncate(2) checks the length before the path
            self.same("truncate", path, size)

    @rule(data=st.data(), mode=st.sampled_from(FMODES), offset=offsets, length=lengths)
    def fallocate(self, data, mode, offset, length):
        path = self._file(data)
        if self._kind(path) == stat.S_IFREG:  # open() refuses a directory before fallocate's checks
            self.same("fallocate", path, mode, offset, length)

    @rule(data=st.data(), offset=offsets, size=lengths)
    def read(self, data, offset, size):
        self.same("read", self._file(data), offset, size)

    @rule(data=st.data(), offset=offsets, whence=st.sampled_from([SEEK_DATA, SEEK_HOLE]))
    def seek(self, data, offset, whence):
        path = self._file(data)
        if self._kind(path) != stat.S_IFREG:  # lseek on a directory fd is not a data question
            return
        if self.exact:
            self.same("seek", path, offset, whence)
            return
        want, got = outcome(self.ref.seek, path, offset, whence), outcome(self.fs.seek, path, offset, whence)
        if got != want:  # cached unwritten blocks count as data: data earlier, holes later
            assert got[0] == "ok" and (want[0] == "err" or (got[1] < want[1]) == (whence == SEEK_DATA)), (got, want)
            assert self.fs.read(path, got[1] if whence == SEEK_DATA else want[1], 1) in (b"\0", b"")

    # -- xattrs --
    @rule(
        data=st.data(),
        name=st.sampled_from(XNAMES),
        value=st.binary(max_size=8),
        flags=st.sampled_from([0, 0, XATTR_CREATE, XATTR_REPLACE]),
    )
    def setxattr(self, data, name, value, flags):
        self.same("setxattr", self._object(data), name, value, flags)

    @rule(data=st.data(), name=st.sampled_from(XNAMES))
    def getxattr(self, data, name):
        self.same("getxattr", self._object(data), name)

    @rule(data=st.data(), name=st.sampled_from(XNAMES))
    def removexattr(self, data, name):
        self.same("removexattr", self._object(data), name)

    # -- the whole tree agrees after every step --
    @invariant()
    def trees_agree(self):
        for d in self.dirs():
            assert self.fs.listdir(d) == self.ref.listdir(d), d
        assert self.fs.attrs("") == self.ref.attrs("")
        for path, kind in self._walk():
            got, want = self.fs.attrs(path), self.ref.attrs(path)
            if kind == stat.S_IFREG and not self.exact:  # its st_blocks: ext4's extent tree too
                assert got[4] - want[4] in (0, 8), (path, got, want)
                got = got[:4] + want[4:5] + got[5:]
            assert got == want, path
            assert self.fs.listxattr(path) == self.ref.listxattr(path), path
            if kind == stat.S_IFLNK:
                assert self.fs.readlink(path) == self.ref.readlink(path)
            if kind == stat.S_IFREG:
                segs, mine = self._map(self.ref, path), self._map(self.fs, path)
                if self.exact:
                    assert mine == segs, path
                else:  # a superset, the extra reading as zeros
                    assert all(any(a <= s and e <= b for a, b in mine) for s, e in segs), (path, mine, segs)
                    for a, b in mine:
                        for s, e in segs:  # what is outside the reference's data reads as zeros
                            if a >= b:
                                break
                            if a < s:
                                assert not self.fs.read(path, a, min(b, s) - a).strip(b"\0"), (path, a, s)
                            a = max(a, e)
                        if a < b:
                            assert not self.fs.read(path, a, b - a).strip(b"\0"), (path, a, b)
                for start, end in segs:  # holes read as zeros on both by construction
                    assert self.fs.read(path, start, end - start) == self.ref.read(path, start, end - start)

    @staticmethod
    def _map(fs, path):
        """The data segments by SEEK_DATA/SEEK_HOLE."""
        out, o, size = [], 0, fs.attrs(path)[3]
        while o < size:
            kind, d = outcome(fs.seek, path, o, SEEK_DATA)
            if kind == "err":
                break
            o = fs.seek(path, d, SEEK_HOLE)
            out.append((d, o))
        return out


def test_differential_against_ext4(ext4_dir, store_factory):
    """The hypothesis state machine (see :class:`LinuxReference`) on each store.

    Derandomized, so a run is reproducible; ``STORE_SM_RANDOM=1`` draws new sequences and
    ``STORE_SM_EXAMPLES=1000`` runs more of them (about 0.2 s each on a MemoryStore)."""
    machine = type("LinuxReferenceRun", (LinuxReference,), {"factory": staticmethod(store_factory)})
    old = os.umask(0o022)
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=int(os.environ.get("STORE_SM_EXAMPLES", "60")),
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
                database=None,
                derandomize=os.environ.get("STORE_SM_RANDOM") != "1",
            ),
        )
    finally:
        os.umask(old)
