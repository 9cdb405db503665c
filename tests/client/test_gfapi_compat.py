"""gfclient.gfapi: code written for libgfapi-python's ``gluster.gfapi`` runs unchanged.

One scenario, written as a libgfapi-python user writes it (through ``gfapi.install()``:
``from gluster import gfapi``), runs on each target and records what it sees; on the real
10.3 volume and on the fake the records are the same, and each record is checked against
what libgfapi-python 1.2 documents (its quirks included: ``read`` gives None at EOF, xattrs
are str, ``makedirs`` refuses an existing leaf, ``walk`` lists symlinks to directories as
files)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import uuid

import pytest

pytestmark = pytest.mark.targets("fake", "real")


def scenario(gfapi, exceptions, target, top: str) -> dict:  # noqa: C901 - one story, step by step
    out: dict = {}
    vol = gfapi.Volume(target.host, target.volume, port=target.port)
    try:
        vol.stat("/")
    except exceptions.VolumeNotMounted as exc:
        out["unmounted"] = str(exc)
    vol.mount()
    vol.mount()  # twice: nothing
    out["mounted"] = vol.mounted
    out["volume_id_is_uuid"] = isinstance(vol.get_volume_id(), uuid.UUID)
    vol.mkdir(top, 0o755)
    vol.chdir(top)
    out["cwd"] = vol.getcwd() == "/" + top

    # files: fopen / raw fds / File
    with vol.fopen("a.txt", "w") as f:
        out["write"] = f.write(b"hello world")
        out["file_attrs"] = (f.name, f.mode, isinstance(f.fileno, int), f.closed)
    out["closed_after_with"] = f.closed
    try:
        f.read()
    except OSError as exc:
        out["read_closed"] = exc.errno
    fd = vol.open("a.txt", os.O_RDWR)
    with gfapi.File(fd, path="a.txt") as f:
        out["read_all"] = f.read()
        out["read_eof"] = f.read()
        out["lseek"] = f.lseek(6, os.SEEK_SET)
        buf = bytearray(5)
        out["readinto"] = (f.readinto(buf), bytes(buf))
        try:
            f.readinto(memoryview(bytearray(2)))
        except TypeError:
            out["readinto_type"] = "TypeError"
        out["fgetsize"] = f.fgetsize()
        f.ftruncate(5)
        out["after_ftruncate"] = f.fstat().st_size
        f.fsetxattr("user.f", "fval")
        out["fxattr"] = (f.fgetxattr("user.f"), "user.f" in f.flistxattr())
        f.fremovexattr("user.f")
        dup = f.dup()
        out["dup_offset"] = dup.lseek(0, os.SEEK_CUR) == f.lseek(0, os.SEEK_CUR)
        dup.close()
        f.lseek(0, os.SEEK_END)
        out["write_sync"] = f.write(b"!", os.O_SYNC)
        f.fsync()
        f.fdatasync()
        f.fchmod(0o600)
    out["mode"] = stat.S_IMODE(vol.stat("a.txt").st_mode)
    out["content"] = vol.fopen("a.txt").read()
    try:
        vol.fopen("a.txt", "rw")
    except ValueError as exc:
        out["bad_mode"] = str(exc)
    try:
        vol.open("a.txt", "r")
    except TypeError as exc:
        out["bad_flags"] = str(exc)

    # stat family, xattrs as str
    out["exists"] = (vol.exists("a.txt"), vol.exists("nope"), vol.isfile("a.txt"), vol.isdir("."), vol.islink("a.txt"))
    out["getsize"] = vol.getsize("a.txt")
    st = vol.stat("a.txt")
    out["times"] = (vol.getatime("a.txt"), vol.getmtime("a.txt"), vol.getctime("a.txt")) == (
        st.st_atime,
        st.st_mtime,
        st.st_ctime,
    )
    vol.setxattr("a.txt", "user.key", "value")
    vol.setxattr("a.txt", "user.bin", b"ab\0cd")
    out["getxattr"] = (vol.getxattr("a.txt", "user.key"), vol.getxattr("a.txt", "user.bin"))
    out["listxattr"] = [k for k in vol.listxattr("a.txt") if k.startswith("user.")]
    try:
        vol.setxattr("a.txt", "user.key", "again", 1)  # XATTR_CREATE
    except OSError as exc:
        out["xattr_create"] = exc.errno
    vol.removexattr("a.txt", "user.key")
    out["access"] = (vol.access("a.txt", os.R_OK | os.W_OK), vol.access("nope", os.F_OK))
    out["statvfs"] = vol.statvfs("/").f_bsize > 0

    # directories
    vol.makedirs("d1/d2/d3")
    try:
        vol.makedirs("d1/d2/d3")
    except OSError as exc:
        out["makedirs_again"] = exc.errno
    vol.fopen("d1/d2/f", "w").close()
    vol.symlink("d1", "link-to-d1")
    out["listdir"] = sorted(vol.listdir("."))
    out["listdir_with_stat"] = sorted((n, stat.S_IFMT(s.st_mode)) for n, s in vol.listdir_with_stat("d1/d2"))
    out["scandir"] = sorted((e.name, e.is_dir(), e.is_file(), e.is_symlink()) for e in vol.scandir("."))
    out["opendir"] = sorted((e.d_name, e.d_type) for e in vol.opendir("d1"))
    out["walk"] = [(p, sorted(d), sorted(f)) for p, d, f in vol.walk("d1")]
    out["walk_symlink_as_file"] = [sorted(f) for p, d, f in vol.walk(".") if p == "."]
    vol.copytree("d1", "copy")
    out["copytree"] = [(p, sorted(d), sorted(f)) for p, d, f in vol.walk("copy")]
    vol.copy("a.txt", "copy")
    vol.copy2("a.txt", "b.txt")
    out["copies"] = (vol.fopen("copy/a.txt").read(), stat.S_IMODE(vol.stat("copy/a.txt").st_mode))
    out["copy2_mtime"] = vol.getmtime("b.txt") == vol.getmtime("a.txt")
    try:
        vol.copyfile("a.txt", "a.txt")
    except exceptions.Error as exc:
        out["copy_same"] = str(exc)
    out["samefile"] = (vol.samefile("a.txt", "a.txt"), vol.samefile("a.txt", "b.txt"))
    vol.link("a.txt", "hard")
    out["hardlink"] = vol.samefile("a.txt", "hard")
    vol.rename("hard", "moved")
    out["readlink"] = vol.readlink("link-to-d1")
    vol.mknod("fifo", stat.S_IFIFO | 0o644, 0)
    out["mknod"] = stat.S_ISFIFO(vol.lstat("fifo").st_mode)
    vol.utime("b.txt", (1_000_000, 2_000_000))
    out["utime"] = (vol.getatime("b.txt"), vol.getmtime("b.txt"))
    try:
        vol.utime("b.txt", [1, 2])
    except TypeError:
        out["utime_list"] = "TypeError"
    vol.chown("b.txt", 1234, 5678)
    out["chown"] = (vol.stat("b.txt").st_uid, vol.stat("b.txt").st_gid)
    try:
        vol.rmtree("link-to-d1")
    except OSError as exc:
        out["rmtree_link"] = str(exc)
    vol.rmtree("copy")
    vol.remove("moved")
    out["after_rm"] = sorted(vol.listdir("."))

    # identity: setfsuid/setfsgid change who later calls are made as
    vol.mkdir("private", 0o755)
    vol.setfsuid(4321)
    vol.setfsgid(4321)
    try:
        vol.fopen("private/x", "w")
    except OSError as exc:
        out["as_4321"] = exc.errno
    vol.setfsuid(0)
    vol.setfsgid(0)
    vol.fopen("private/x", "w").close()

    vol.chdir("/")
    vol.rmtree(top)
    vol.umount()
    out["umounted"] = vol.mounted
    return out


def test_libgfapi_python_code_runs_unchanged(target):
    from gfclient import gfapi

    gfapi.install()
    from gluster import gfapi as imported  # what libgfapi-python's users write
    from gluster.gfapi import exceptions

    assert imported is gfapi
    got = scenario(imported, exceptions, target, f"gfapi-{uuid.uuid4().hex[:8]}")
    expected = {
        "unmounted": f'Volume "{target.volume}" not mounted.',
        "mounted": True,
        "volume_id_is_uuid": True,
        "cwd": True,
        "write": 11,
        "file_attrs": ("a.txt", "w", True, False),
        "closed_after_with": True,
        "read_closed": errno.EBADF,
        "read_all": b"hello world",
        "read_eof": None,
        "lseek": 6,
        "readinto": (5, b"world"),
        "readinto_type": "TypeError",
        "fgetsize": 11,
        "after_ftruncate": 5,
        "fxattr": ("fval", True),
        "dup_offset": True,
        "write_sync": 1,
        "mode": 0o600,
        "content": b"hello!",
        "bad_mode": "Invalid mode",
        "bad_flags": "flags must evaluate to an integer",
        "exists": (True, False, True, True, False),
        "getsize": 6,
        "times": True,
        "getxattr": ("value", "ab"),
        "listxattr": ["user.bin", "user.key"],
        "xattr_create": errno.EEXIST,
        "access": (True, False),
        "statvfs": True,
        "makedirs_again": errno.EEXIST,
        "listdir": ["a.txt", "d1", "link-to-d1"],
        "listdir_with_stat": [("d3", stat.S_IFDIR), ("f", stat.S_IFREG)],
        "scandir": [("a.txt", False, True, False), ("d1", True, False, False), ("link-to-d1", False, False, True)],
        "opendir": [(b".", 4), (b"..", 4), (b"d2", 4)],
        "walk": [("d1", ["d2"], []), ("d1/d2", ["d3"], ["f"]), ("d1/d2/d3", [], [])],
        "walk_symlink_as_file": [["a.txt", "link-to-d1"]],
        "copytree": [("copy", ["d2"], []), ("copy/d2", ["d3"], ["f"]), ("copy/d2/d3", [], [])],
        "copies": (b"hello!", 0o600),
        "copy2_mtime": True,
        "copy_same": "`a.txt` and `a.txt` are the same file",
        "samefile": (True, False),
        "hardlink": True,
        "readlink": "d1",
        "mknod": True,
        "utime": (1_000_000, 2_000_000),
        "utime_list": "TypeError",
        "chown": (1234, 5678),
        "rmtree_link": "Cannot call rmtree on a symbolic link",
        "after_rm": ["a.txt", "b.txt", "d1", "fifo", "link-to-d1"],
        "as_4321": errno.EACCES,
        "umounted": False,
    }
    assert got == expected


def test_volume_id_is_glusterds(target):
    """get_volume_id() is the id glusterd gives (``gluster volume info`` on the real one)."""
    from gfclient import gfapi

    vol = gfapi.Volume(target.host, target.volume, port=target.port)
    vol.mount()
    try:
        got = vol.get_volume_id()
    finally:
        vol.umount()
    if target.real:
        info = subprocess.run(["gluster", "volume", "info", target.volume], capture_output=True, text=True).stdout
        want = next(line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("Volume ID"))
        assert str(got) == want
    else:
        assert got.version == 4


def test_arguments_and_mount_failures_as_libgfapi_python(tmp_path):
    from gfclient import gfapi
    from gfclient.gfapi.exceptions import LibgfapiException

    with pytest.raises(LibgfapiException, match="Host and Volume name should not be None"):
        gfapi.Volume(None, "v")
    with pytest.raises(LibgfapiException, match="Invalid protocol specified"):
        gfapi.Volume("h", "v", proto="udp")
    with pytest.raises(LibgfapiException, match="Invalid port specified"):
        gfapi.Volume("h", "v", port="24007")
    with pytest.raises(LibgfapiException, match="At least one host must be specified"):
        gfapi.Volume([], "v")
    vol = gfapi.Volume(str(tmp_path / "no.sock"), "v", proto="unix")
    with pytest.raises(LibgfapiException, match=r"glfs_init\(v\) failed"):
        vol.mount()
    assert not vol.mounted
    with pytest.raises(ValueError, match="invalid fd"):
        gfapi.File(None)


def test_logging_goes_to_the_log_file(tmp_path):
    """set_logging(file, level): gfclient's records (mount, FOPs at DEBUG) go to the file."""
    from fakegluster.server import FakeGluster
    from gfclient import gfapi

    log = tmp_path / "gfapi.log"
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as server:
        vol = gfapi.Volume("127.0.0.1", "testvol", port=server.info.port, log_file=str(log), log_level=8)
        vol.mount()
        vol.listdir("/")
        vol.umount()
        vol.disable_logging()
    text = log.read_text()
    assert "mounted testvol" in text


def test_several_hosts_are_volfile_servers_tried_in_order(tmp_path):
    """Volume([host1, host2, ...]) as libgfapi-python: glfs_set_volfile_server per host, so a
    first host that does not answer falls back to the next (gfclient's servers=); every host
    down is glfs_init's failure."""
    from fakegluster.server import FakeGluster
    from gfclient import gfapi
    from gfclient.gfapi.exceptions import LibgfapiException

    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as server:
        port = server.info.port
        vol = gfapi.Volume(["127.0.0.2", "127.0.0.1"], "testvol", port=port)  # nothing on 127.0.0.2
        vol.mount()
        vol.fopen("x", "w").close()
        assert vol.listdir("/") == ["x"]
        vol.umount()
        server.calls.assert_called("GETSPEC", 1, key="testvol")
    with pytest.raises(LibgfapiException, match=r"glfs_init\(testvol\) failed"):
        gfapi.Volume(["127.0.0.2", "127.0.0.3"], "testvol", port=port).mount()
