"""DirectoryStore: a folder on disk served as a volume (what the contract suite cannot see)."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from fakegluster.store.base import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    ROOT_GFID,
    SEEK_DATA,
    SEEK_HOLE,
)
from fakegluster.store.directory import HIDDEN, DirectoryStore

R = ROOT_GFID


def gf() -> bytes:
    return uuid.uuid4().bytes


def err(code: int, fn, *args, **kw) -> None:
    with pytest.raises(OSError) as info:
        fn(*args, **kw)
    assert info.value.errno == code, (info.value, errno.errorcode[code])


@pytest.fixture
def vol(tmp_path):
    root = tmp_path / "vol"
    root.mkdir()
    return root


@pytest.fixture
def dstore(vol):
    s = DirectoryStore(vol)
    yield s
    s.close()


def fill_by_hand(root) -> None:
    """A folder as a user leaves it: nested dirs, a symlink, a hard link, a sparse file, a fifo."""
    os.makedirs(root / "a" / "b")
    (root / "a" / "b" / "c.txt").write_bytes(b"nested")
    os.symlink("a/b/c.txt", root / "ln")
    os.link(root / "a" / "b" / "c.txt", root / "hard")
    with open(root / "sparse", "wb") as f:
        f.write(b"head")
        f.seek(1 << 20)
        f.write(b"tail")
    os.mkfifo(root / "pipe", 0o640)
    (root / "empty").mkdir(mode=0o750)
    (root / "ünïcode \udcff").write_bytes(b"u")


def same_stat(attr, st, gfid=None) -> None:
    assert (attr.mode, attr.nlink, attr.uid, attr.gid, attr.size, attr.blocks) == (
        st.st_mode,
        st.st_nlink,
        st.st_uid,
        st.st_gid,
        st.st_size,
        st.st_blocks,
    )
    assert (attr.mtime_ns, attr.ctime_ns, attr.dev, attr.rdev) == (
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_dev,
        st.st_rdev,
    )
    if gfid is not None:
        assert attr.gfid == gfid


# ---- serving a folder filled by hand ----------------------------------------------------------
def test_serves_a_folder_filled_by_hand(vol):
    fill_by_hand(vol)
    with DirectoryStore(vol) as s:
        names = [n for n, _ in s.readdir(R)]
        assert sorted(names) == sorted(n for n in os.listdir(vol) if n != HIDDEN)
        assert names == [n for n, _ in s.readdir(R)]  # a stable order
        entries = dict(s.readdir(R))
        for name, attr in entries.items():
            same_stat(attr, os.lstat(vol / name))
        assert len({a.gfid for a in entries.values()}) == len(entries)
        assert R not in {a.gfid for a in entries.values()}
        # the hard link and its other name share a gfid; nested lookups see the same object
        c = s.resolve_path("a/b/c.txt")
        assert c.gfid == entries["hard"].gfid and c.nlink == 2
        assert s.read(c.gfid, 0, 100) == b"nested"
        assert [n for n, _ in s.readdir(s.resolve_path("a").gfid)] == ["b"]
        assert s.parent(s.resolve_path("a/b").gfid) == s.resolve_path("a").gfid
        assert s.parent(R) == R
        err(errno.ENOTDIR, s.parent, c.gfid)
        # symlink: served as a symlink
        ln = entries["ln"]
        assert stat.S_ISLNK(ln.mode) and s.readlink(ln.gfid) == "a/b/c.txt"
        err(errno.EINVAL, s.read, ln.gfid, 0, 10)
        err(errno.EINVAL, s.readlink, c.gfid)
        # sparse file: data, hole, data
        sp = entries["sparse"]
        assert sp.size == (1 << 20) + 4 and sp.blocks < 64
        assert s.read(sp.gfid, 0, 8) == b"head" + bytes(4)
        assert s.read(sp.gfid, 1 << 20, 100) == b"tail"
        assert s.seek(sp.gfid, 0, SEEK_HOLE) == 4096
        assert s.seek(sp.gfid, 4096, SEEK_DATA) == 1 << 20
        err(errno.ENXIO, s.seek, sp.gfid, sp.size, SEEK_DATA)
        # fifo: visible, never opened
        pipe = entries["pipe"]
        assert stat.S_ISFIFO(pipe.mode) and stat.S_IMODE(pipe.mode) == 0o640
        err(errno.EINVAL, s.read, pipe.gfid, 0, 1)
        err(errno.ESPIPE, s.seek, pipe.gfid, 0, SEEK_DATA)
        err(errno.EISDIR, s.read, entries["empty"].gfid, 0, 1)
        assert s.read(entries["ünïcode \udcff"].gfid, 0, 9) == b"u"
        # the root: the OS's attributes, nlink without the hidden directory
        root = s.getattr(R)
        assert root.gfid == R and stat.S_ISDIR(root.mode)
        assert root.nlink == 2 + 2  # a/ and empty/
        assert s.statfs().namemax == 255 and s.statfs().blocks == os.statvfs(vol).f_blocks


def test_gfids_are_stable_across_restarts_and_renames(vol):
    fill_by_hand(vol)
    with DirectoryStore(vol) as s:
        before = {n: a.gfid for n, a in s.readdir(R)}
        c = s.resolve_path("a/b/c.txt").gfid
        f, _ = s.create(R, "new", 0o600, uid=0, gid=0, gfid=gf())
        d = s.mkdir(R, "dir", 0o755, uid=0, gid=0, gfid=gf())
        s.rename(R, "a", d.gfid, "moved")  # a directory with contents
        s.rename(R, "new", d.gfid, "renamed")  # a file, across directories
        s.link(f.gfid, R, "f-link")
    with DirectoryStore(vol) as s:
        assert s.resolve_path("dir/moved/b/c.txt").gfid == c
        assert s.resolve_path("dir/renamed").gfid == f.gfid == s.resolve_path("f-link").gfid
        assert s.resolve_path("dir").gfid == d.gfid
        assert s.resolve_path("dir/moved").gfid == before["a"]
        now = {n: a.gfid for n, a in s.readdir(R)}
        for name in ("ln", "hard", "sparse", "pipe", "empty"):
            assert now[name] == before[name]
        # a hard link made by hand to a known file joins its gfid
        os.link(vol / "sparse", vol / "dir" / "sparse2")
        assert s.resolve_path("dir/sparse2").gfid == before["sparse"]
    with DirectoryStore(vol) as s:  # and the ones only seen through readdir/lookup persist too
        assert s.resolve_path("dir/sparse2").gfid == before["sparse"] == s.resolve_path("sparse").gfid


def test_changes_behind_our_back(vol, dstore):
    s = dstore
    f, _ = s.create(R, "f", 0o644, uid=0, gid=0, gfid=gf())
    s.write(f.gfid, 0, b"x")
    d = s.mkdir(R, "d", 0o755, uid=0, gid=0, gfid=gf())
    (vol / "d" / "inner").write_bytes(b"i")
    inner = s.lookup(d.gfid, "inner")  # known, not open
    opened, _ = s.create(d.gfid, "opened", 0o644, uid=0, gid=0, gfid=gf())  # its fd is cached
    os.unlink(vol / "f")  # deleted by hand (its fd is cached)
    err(errno.ESTALE, s.getattr, f.gfid)
    err(errno.ESTALE, s.read, f.gfid, 0, 1)
    (vol / "f").write_bytes(b"other")  # a new file under the old name: a new gfid
    g = s.lookup(R, "f").gfid
    assert g != f.gfid and s.read(g, 0, 10) == b"other"
    os.rename(vol / "d", vol / "d2")  # a directory renamed by hand: its subtree goes stale
    s.write(opened.gfid, 0, b"o")  # a cached fd follows its inode (still inside the volume) ...
    assert (vol / "d2" / "opened").read_bytes() == b"o"
    err(errno.ESTALE, s.getattr, inner.gfid)
    err(errno.ESTALE, s.write, opened.gfid, 0, b"o")  # ... until its directory is found stale
    err(errno.ESTALE, s.readdir, d.gfid)
    err(errno.ENOENT, s.lookup, R, "d")
    assert s.resolve_path("d2/inner").gfid not in (inner.gfid, d.gfid)
    err(errno.ESTALE, s.getattr, gf())


def test_hidden_entry_is_invisible_and_singular(vol, dstore):
    s = dstore
    user = set()
    for i in range(40):
        s.create(R, f"f{i}", 0o644, uid=0, gid=0, gfid=gf())
        d = s.mkdir(R, f"d{i}", 0o755, uid=0, gid=0, gfid=gf())
        s.create(d.gfid, "inner", 0o644, uid=0, gid=0, gfid=gf())
        s.symlink(R, f"l{i}", f"f{i}", uid=0, gid=0, gfid=gf())
        user |= {f"f{i}", f"d{i}", f"l{i}"}
    s.mknod(R, "fifo", stat.S_IFIFO | 0o600, 0, uid=0, gid=0, gfid=gf())
    user.add("fifo")
    x, _ = s.create(R, "x", 0o644, uid=0, gid=0, gfid=gf())
    s.fsync(x.gfid)
    s.rename(R, "f0", R, "g0")
    user = (user - {"f0"}) | {"g0", "x"}
    assert set(os.listdir(vol)) == user | {HIDDEN}
    assert {n for n, _ in s.readdir(R)} == user
    assert s.getattr(R).nlink == 2 + 40
    err(errno.ENOENT, s.lookup, R, HIDDEN)
    err(errno.ENOENT, s.unlink, R, HIDDEN)
    err(errno.ENOENT, s.rmdir, R, HIDDEN)
    err(errno.ENOENT, s.rename, R, HIDDEN, R, "stolen")
    for call in (
        lambda: s.create(R, HIDDEN, 0o644, uid=0, gid=0, gfid=gf()),
        lambda: s.mkdir(R, HIDDEN, 0o755, uid=0, gid=0, gfid=gf()),
        lambda: s.mknod(R, HIDDEN, stat.S_IFIFO | 0o644, 0, uid=0, gid=0, gfid=gf()),
        lambda: s.symlink(R, HIDDEN, "x", uid=0, gid=0, gfid=gf()),
        lambda: s.link(x.gfid, R, HIDDEN),
        lambda: s.rename(R, "x", R, HIDDEN),
    ):
        err(errno.EPERM, call)
    assert sorted(os.listdir(vol / HIDDEN)) in (["gfids.sqlite3"], ["gfids.sqlite3", "gfids.sqlite3-wal"])
    # elsewhere the name is an ordinary one
    sub = s.resolve_path("d1").gfid
    s.mkdir(sub, HIDDEN, 0o755, uid=0, gid=0, gfid=gf())
    assert [n for n, _ in s.readdir(sub)] == [HIDDEN, "inner"]


def test_a_second_store_on_the_same_folder_is_refused(vol, dstore):
    err(errno.EBUSY, DirectoryStore, vol)
    code = f"from fakegluster.store.directory import DirectoryStore\nDirectoryStore({str(vol)!r})"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode and "already served" in r.stderr


def test_a_foreign_hidden_name_stops_the_store(tmp_path):
    (tmp_path / HIDDEN).write_text("mine")
    err(errno.ENOTDIR, DirectoryStore, tmp_path)
    assert (tmp_path / HIDDEN).read_text() == "mine"


# ---- nothing outside the root --------------------------------------------------------------------
def snapshot(path) -> dict:
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            data = None
            if stat.S_ISREG(st.st_mode):  # O_NOATIME: the snapshot itself must not move atimes
                fd = os.open(p, os.O_RDONLY | os.O_NOATIME)
                data = os.read(fd, 1 << 20)
                os.close(fd)
            out[p] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_atime_ns,
                st.st_nlink,
                data,
                sorted(os.listxattr(p, follow_symlinks=False)),
            )
    return out


def test_nothing_outside_the_root_is_read_or_changed(tmp_path):
    out = tmp_path / "outside"
    (out / "sub").mkdir(parents=True)
    (out / "secret").write_bytes(b"secret")
    (out / "sub" / "deep").write_bytes(b"deep")
    os.utime(out / "secret", ns=(10**18, 10**18))  # an atime a read would move (relatime)
    future = (int(time.time()) + 10 * 86400) * 10**9
    for d in (out, out / "sub"):  # an atime our own os.walk does not move (relatime)
        os.utime(d, ns=(future, os.stat(d).st_mtime_ns))
    vol = tmp_path / "a" / "vol"
    vol.mkdir(parents=True)
    os.symlink(out, vol / "abs_dir")
    os.symlink("../../outside", vol / "rel_dir")
    os.symlink(out / "secret", vol / "abs_file")
    os.symlink("../../outside/secret", vol / "rel_file")
    os.symlink("/", vol / "slash")
    (vol / "real").mkdir()
    (vol / "real" / "f").write_bytes(b"inside")
    shared = tmp_path / "shared"  # a hard link to a file outside is inside too: it may be served
    shared.write_bytes(b"shared")
    os.link(shared, vol / "shared")
    before = snapshot(out)

    with DirectoryStore(vol) as s:
        links = {n: a for n, a in s.readdir(R) if stat.S_ISLNK(a.mode)}
        assert sorted(links) == ["abs_dir", "abs_file", "rel_dir", "rel_file", "slash"]
        assert s.readlink(links["abs_file"].gfid) == str(out / "secret")
        assert s.read(s.lookup(R, "shared").gfid, 0, 10) == b"shared"
        for name, a in links.items():
            g = a.gfid
            same_stat(s.getattr(g), os.lstat(vol / name), g)
            err(errno.ENOTDIR, s.lookup, g, "secret")  # a symlinked directory in the middle of a path
            err(errno.ENOTDIR, s.readdir, g)
            err(errno.ENOTDIR, s.resolve_path, f"{name}/secret")
            err(errno.ENOTDIR, s.create, g, "planted", 0o644, uid=0, gid=0, gfid=gf())
            err(errno.ENOTDIR, s.mkdir, g, "planted", 0o755, uid=0, gid=0, gfid=gf())
            err(errno.EINVAL, s.read, g, 0, 100)
            err(errno.EINVAL, s.write, g, 0, b"pwned")
            err(errno.EINVAL, s.truncate, g, 0)
            err(errno.ENODEV, s.fallocate, g, 0, 0, 4096)
            err(errno.ENODEV, s.seek, g, 0, SEEK_DATA)
            s.fsync(g)
            s.setattr(g, mode=0o777)  # skipped for symlinks
            s.setattr(g, uid=1234, gid=1234, atime_ns=5 * 10**17, mtime_ns=5 * 10**17)  # the link itself
            st = os.lstat(vol / name)
            assert (st.st_uid, st.st_mtime_ns) == (1234, 5 * 10**17)
            err(errno.EPERM, s.setxattr, g, "user.x", b"v")  # Linux: no user.* xattrs on symlinks
            s.setxattr(g, "trusted.x", b"v")  # on the link itself
            assert s.getxattr(g, "trusted.x") == b"v" and "trusted.x" in s.listxattr(g)
            s.removexattr(g, "trusted.x")
            err(errno.ENODATA, s.getxattr, g, "trusted.x")
            l2 = s.link(g, R, name + ".hard")  # a hard link to the symlink itself
            assert l2.gfid == g and s.readlink(g) == os.readlink(vol / name)
        s.rename(R, "abs_file", R, "moved_link")  # renames the link, not the target
        s.unlink(R, "moved_link")
        s.unlink(R, "rel_file")
        # names that try to leave the directory they are used in
        bad = ["..", ".", "", "/", "a/b", str(out / "secret"), "../outside", "x\0y", "n" * 256, "é" * 128]
        for name in bad:
            code = errno.ENAMETOOLONG if len(os.fsencode(name)) > 255 else errno.EINVAL
            err(code, s.lookup, R, name)
            err(code, s.create, R, name, 0o644, uid=0, gid=0, gfid=gf())
            err(code, s.mkdir, R, name, 0o755, uid=0, gid=0, gfid=gf())
            err(code, s.mknod, R, name, stat.S_IFIFO | 0o644, 0, uid=0, gid=0, gfid=gf())
            err(code, s.symlink, R, name, "x", uid=0, gid=0, gfid=gf())
            err(code, s.link, s.lookup(R, "shared").gfid, R, name)
            err(code, s.unlink, R, name)
            err(code, s.rmdir, R, name)
            err(code, s.rename, R, "shared", R, name)
            err(code, s.rename, R, name, R, "z")
        # a device node would reach the host's devices: refused
        err(errno.EPERM, s.mknod, R, "disk", stat.S_IFBLK | 0o666, os.makedev(8, 0), uid=0, gid=0, gfid=gf())
        err(errno.EPERM, s.mknod, R, "mem", stat.S_IFCHR | 0o666, os.makedev(1, 1), uid=0, gid=0, gfid=gf())
        # a parent directory replaced by a symlink after its gfid was learned
        real = s.lookup(R, "real")
        f = s.lookup(real.gfid, "f")
        os.rename(vol / "real", vol / "real.old")
        os.symlink(out, vol / "real")
        for call in (
            lambda: s.lookup(real.gfid, "secret"),
            lambda: s.readdir(real.gfid),
            lambda: s.getattr(real.gfid),
            lambda: s.getattr(f.gfid),
            lambda: s.read(f.gfid, 0, 10),
            lambda: s.write(f.gfid, 0, b"pwned"),
            lambda: s.setattr(f.gfid, mode=0o777),
            lambda: s.setxattr(f.gfid, "user.x", b"v"),
            lambda: s.truncate(f.gfid, 0),
            lambda: s.create(real.gfid, "planted", 0o644, uid=0, gid=0, gfid=gf()),
            lambda: s.mkdir(real.gfid, "planted", 0o755, uid=0, gid=0, gfid=gf()),
            lambda: s.symlink(real.gfid, "planted", "x", uid=0, gid=0, gfid=gf()),
            lambda: s.unlink(real.gfid, "secret"),
            lambda: s.rmdir(real.gfid, "sub"),
            lambda: s.rename(real.gfid, "secret", R, "stolen"),
            lambda: s.rename(R, "shared", real.gfid, "secret"),
            lambda: s.link(s.lookup(R, "shared").gfid, real.gfid, "planted"),
        ):
            err(errno.ESTALE, call)
        # ... and the same with a directory that is deeper, replaced in the middle of the path
        os.unlink(vol / "real")
        os.makedirs(vol / "m" / "n")
        (vol / "m" / "n" / "f").write_bytes(b"m")
        mf = s.resolve_path("m/n/f")
        mn = s.resolve_path("m/n")
        os.rename(vol / "m", vol / "m.old")
        os.symlink(out, vol / "m")
        os.symlink(out, vol / "m.old" / "n.tmp")
        os.rename(vol / "m.old" / "n.tmp", vol / "m.old" / "n.tmp2")
        for call in (
            lambda: s.getattr(mf.gfid),
            lambda: s.write(mf.gfid, 0, b"pwned"),
            lambda: s.readdir(mn.gfid),
            lambda: s.create(mn.gfid, "sub", 0o644, uid=0, gid=0, gfid=gf()),
        ):
            err(errno.ESTALE, call)
        # through a symlink, the volume root is not left either: resolve_path walks lookups
        err(errno.ENOTDIR, s.resolve_path, "slash/etc/passwd")
        err(errno.ENOTDIR, s.resolve_path, "rel_dir/sub/deep")
    assert snapshot(out) == before
    assert shared.read_bytes() == b"shared"


# ---- data and metadata ---------------------------------------------------------------------------
def test_data_ops_are_the_os_ones(vol, dstore):
    s = dstore
    f, created = s.create(R, "f", 0o640, uid=1000, gid=1001, gfid=gf())
    assert created and (f.uid, f.gid, stat.S_IMODE(f.mode)) == (1000, 1001, 0o640)
    g = f.gfid
    assert s.write(g, 0, b"a" * 10000) == 10000
    assert s.write(g, 5, memoryview(b"xyz")) == 3
    assert (vol / "f").read_bytes()[:10] == b"aaaaaxyzaa"
    assert s.read(g, 9998, 100) == b"aa" and s.read(g, 20000, 10) == b""
    s.truncate(g, 3)
    assert (vol / "f").read_bytes() == b"aaa"
    s.fallocate(g, 0, 0, 1 << 16)
    assert os.stat(vol / "f").st_size == 1 << 16
    s.fallocate(g, FALLOC_FL_KEEP_SIZE, 1 << 16, 1 << 16)
    assert os.stat(vol / "f").st_size == 1 << 16
    s.write(g, 0, b"b" * 8192)
    s.fallocate(g, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)
    assert s.read(g, 0, 4097) == bytes(4096) + b"b"
    s.fallocate(g, FALLOC_FL_ZERO_RANGE, 4096, 2)
    assert s.read(g, 4094, 4) == bytes(4)
    err(errno.EOPNOTSUPP, s.fallocate, g, FALLOC_FL_PUNCH_HOLE, 0, 4096)
    err(errno.EINVAL, s.fallocate, g, 0, 0, 0)
    err(errno.EINVAL, s.seek, g, 0, os.SEEK_SET)
    # lseek's answers: data written into a preallocated (unwritten) range is data before
    # writeback (an unwritten block whose zero page is cached may be called data too)
    h, _ = s.create(R, "prealloc", 0o644, uid=0, gid=0, gfid=gf())
    s.fallocate(h.gfid, 0, 0, 1 << 20)
    assert s.read(h.gfid, 0, 8192) == bytes(8192)
    s.write(h.gfid, 1 << 19, b"x")
    assert s.seek(h.gfid, 1 << 16, SEEK_DATA) <= 1 << 19 < s.seek(h.gfid, 1 << 19, SEEK_HOLE)
    s.fsync(g)
    s.fsync(g, datasync=True)
    s.fsync(R)
    a = s.setattr(g, mode=0o4711, atime_ns=123, mtime_ns=456 * 10**9 + 7)
    st = os.lstat(vol / "f")
    assert stat.S_IMODE(st.st_mode) == 0o4711 and (st.st_atime_ns, st.st_mtime_ns) == (123, 456 * 10**9 + 7)
    same_stat(a, st, g)
    a = s.setattr(g, mtime_ns=10**9)  # atime untouched (UTIME_OMIT)
    assert (a.atime_ns, a.mtime_ns) == (123, 10**9)
    s.setxattr(g, "user.k", b"v")
    assert os.getxattr(vol / "f", "user.k") == b"v" and s.listxattr(g) == ["user.k"]
    err(errno.EEXIST, s.setxattr, g, "user.k", b"w", 1)
    err(errno.ENODATA, s.setxattr, g, "user.z", b"w", 2)
    err(errno.EOPNOTSUPP, s.getxattr, g, "system.posix_acl_access")
    err(errno.EOPNOTSUPP, s.setxattr, g, "other.k", b"v")
    s.removexattr(g, "user.k")
    err(errno.ENODATA, s.removexattr, g, "user.k")
    s.setxattr(R, "user.root", b"r")
    assert os.getxattr(vol, "user.root") == b"r"


def test_namespace_ops_leave_plain_files(vol, dstore):
    s = dstore
    d = s.mkdir(R, "d", 0o2775, uid=7, gid=8, gfid=gf())
    assert os.stat(vol / "d").st_mode == stat.S_IFDIR | 0o2775
    f, _ = s.create(d.gfid, "f", 0o600, uid=9, gid=10, gfid=gf())
    st = os.stat(vol / "d" / "f")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (9, 8, 0o600)  # group of the setgid directory
    assert s.create(d.gfid, "f", 0o644, uid=0, gid=0, gfid=gf()) == (s.getattr(f.gfid), False)
    err(errno.EEXIST, s.create, d.gfid, "f", 0o644, uid=0, gid=0, gfid=gf(), exclusive=True)
    err(errno.EEXIST, s.create, d.gfid, "g", 0o644, uid=0, gid=0, gfid=f.gfid)  # gfid in use
    err(errno.EISDIR, s.create, R, "d", 0o644, uid=0, gid=0, gfid=gf())
    sl = s.symlink(R, "sl", "d/f", uid=5, gid=6, gfid=gf())
    assert os.readlink(vol / "sl") == "d/f" and os.lstat(vol / "sl").st_uid == 5 and sl.size == 3
    fifo = s.mknod(d.gfid, "fifo", stat.S_IFIFO | 0o604, 0, uid=0, gid=0, gfid=gf())
    assert stat.S_ISFIFO(os.lstat(vol / "d" / "fifo").st_mode) and stat.S_IMODE(fifo.mode) == 0o604
    s.mknod(R, "sock", stat.S_IFSOCK | 0o600, 0, uid=0, gid=0, gfid=gf())
    assert stat.S_ISSOCK(os.lstat(vol / "sock").st_mode)
    s.mknod(R, "reg", 0o600, 0, uid=0, gid=0, gfid=gf())
    assert stat.S_ISREG(os.lstat(vol / "reg").st_mode)
    lk = s.link(f.gfid, R, "hard")
    assert lk.gfid == f.gfid and lk.nlink == 2 and os.path.samefile(vol / "hard", vol / "d" / "f")
    err(errno.EPERM, s.link, d.gfid, R, "dirlink")
    err(errno.EEXIST, s.link, f.gfid, R, "sl")
    # rename over a file, onto a hard link of itself (a no-op), a directory into itself
    s.write(f.gfid, 0, b"f")
    s.rename(R, "hard", d.gfid, "f")
    assert os.path.exists(vol / "hard") and s.lookup(R, "hard").gfid == f.gfid
    s.rename(R, "reg", R, "hard")
    assert s.lookup(d.gfid, "f").gfid == f.gfid and s.read(f.gfid, 0, 1) == b"f"
    assert s.lookup(R, "hard").gfid != f.gfid
    err(errno.EINVAL, s.rename, R, "d", d.gfid, "inside")
    e = s.mkdir(R, "e", 0o755, uid=0, gid=0, gfid=gf())
    err(errno.ENOTEMPTY, s.rename, R, "e", R, "d")
    s.rename(R, "d", R, "e")  # over an empty directory
    err(errno.ESTALE, s.getattr, e.gfid)
    assert s.resolve_path("e/f").gfid == f.gfid
    err(errno.EISDIR, s.unlink, R, "e")
    err(errno.ENOTDIR, s.rmdir, R, "sl")
    err(errno.ENOTEMPTY, s.rmdir, R, "e")
    s.unlink(d.gfid, "f")
    err(errno.ESTALE, s.read, f.gfid, 0, 1)
    s.unlink(d.gfid, "fifo")
    s.rmdir(R, "e")
    err(errno.ESTALE, s.getattr, d.gfid)
    err(errno.ENOENT, s.lookup, R, "e")
    assert sorted(os.listdir(vol)) == sorted([HIDDEN, "sl", "sock", "hard"])


def test_fd_cache_is_bounded_and_closed(vol):
    fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
    base = fds()
    s = DirectoryStore(vol, fd_cache=8)
    files = [s.create(R, f"f{i}", 0o644, uid=0, gid=0, gfid=gf())[0].gfid for i in range(30)]
    for i, g in enumerate(files * 2):
        s.write(g, 0, b"%d" % (i % 30))
    assert fds() <= base + 8 + 4
    assert [s.read(g, 0, 2) for g in files] == [b"%d" % i for i in range(30)]
    s.close()
    s.close()
    assert fds() == base


# ---- durability ------------------------------------------------------------------------------
def test_fsynced_objects_survive_kill_9(vol):
    code = textwrap.dedent(f"""
        import sys, time
        from fakegluster.store.directory import DirectoryStore
        from fakegluster.store.base import ROOT_GFID as R
        s = DirectoryStore({str(vol)!r})
        d = s.mkdir(R, "d", 0o755, uid=0, gid=0, gfid=bytes(range(16)))
        a, _ = s.create(d.gfid, "tmp", 0o644, uid=0, gid=0, gfid=bytes(range(1, 17)))
        s.write(a.gfid, 0, b"durable data")
        s.rename(d.gfid, "tmp", d.gfid, "kept")
        s.fsync(a.gfid)
        print("synced", flush=True)
        b, _ = s.create(R, "maybe", 0o644, uid=0, gid=0, gfid=bytes(range(2, 18)))
        s.write(b.gfid, 0, b"unsynced")
        print("more", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "synced\n"
        assert p.stdout.readline() == "more\n"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert p.returncode == -signal.SIGKILL
    with DirectoryStore(vol) as s:
        a = s.resolve_path("d/kept")
        assert a.gfid == bytes(range(1, 17)) and s.resolve_path("d").gfid == bytes(range(16))
        assert s.read(a.gfid, 0, 100) == b"durable data"
        s.resolve_path("maybe")  # (it may or may not keep its gfid after a crash: not asserted)


def test_a_full_filesystem_answers_enospc_and_loses_no_mapping(tmp_path):
    """On a full filesystem SQLite ends the index's transaction itself (SQLITE_FULL): a CREATE
    gets ENOSPC, not a second error from ROLLBACK (found by ``make fuzz`` after a 1 TiB
    FALLOCATE filled the disk), and the mappings it could not write are written once there is
    room again: after a restart every name keeps its gfid."""
    from tests.helpers import require_root

    require_root("mounting a small tmpfs")
    root = tmp_path / "small"
    root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "fgfull", str(root)], check=True)
    try:
        s = DirectoryStore(root)
        made: dict[str, bytes] = {}
        s.create(R, "filler", 0o644, uid=0, gid=0, gfid=gf())
        with open(root / "filler", "wb") as f:  # the rest of the filesystem, by hand
            try:
                while True:
                    f.write(b"x" * 65536)
                    f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC
        refused = 0
        for i in range(64):  # until the index's commit cannot grow its WAL any more
            g = gf()
            try:
                s.create(R, f"f{i}", 0o644, uid=0, gid=0, gfid=g)
                made[f"f{i}"] = g
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                refused += 1
                made[f"f{i}"] = g  # (the file may be there: its mapping is pending)
                break
        assert refused == 1
        os.truncate(root / "filler", 0)  # room again (the store may hold the file open)
        made["after"] = gf()
        s.create(R, "after", 0o644, uid=0, gid=0, gfid=made["after"])
        s.close()
        s = DirectoryStore(root)
        for name, g in made.items():
            if os.path.exists(root / name):
                assert (name, s.lookup(R, name).gfid) == (name, g)
        s.close()
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
