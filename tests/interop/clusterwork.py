"""Workloads of unmodified real clients on a volume (qemu-img/qemu-io, fio's gfapi engine, the
FUSE client), run the same way against the fake and a real GlusterFS 10.3, and what their
bricks hold afterwards, in a form two clusters can be compared by."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from fakegluster.testing.netns import in_netns
from fakegluster.testing.procs import run_gfapi
from tests.conftest import unavailable
from tests.helpers import require_tool

#: names on a brick that are the brick's own business (real: .glusterfs; fake: .fakegluster)
BRICK_PRIVATE = {".glusterfs", ".fakegluster", ".trashcan"}
#: files whose content differs from run to run (fio's verify headers carry times)
VOLATILE = {"fio.dat"}


@dataclasses.dataclass
class Target:
    """Where a volume is: its name, the glusterd to ask (127.0.0.1:24007 in ``netns``)."""

    volume: str
    netns: str | None = None
    host: str = "127.0.0.1"
    port: int = 24007

    def uri(self, path: str) -> str:
        return f"gluster://{self.host}:{self.port}/{self.volume}/{path}"

    def argv(self, argv: list[str]) -> list[str]:
        return in_netns(self.netns, argv)


def require_cluster_tools() -> None:
    """The real clients these tests run (a missing one fails under CI=true)."""
    for tool in ("qemu-img", "qemu-io", "fio", "glusterfs", "ip", "nsenter"):
        require_tool(tool)
    if not Path("/dev/fuse").exists():
        unavailable("the FUSE client needs /dev/fuse")


def _check(cp: subprocess.CompletedProcess, what: str) -> str:
    if cp.returncode != 0:  # libgfapi's error and warning lines say why
        log = "\n".join(ln for ln in cp.stderr.splitlines() if "] E [" in ln or "] W [" in ln)[-4000:]
        raise AssertionError(f"{what}: exit {cp.returncode}\n{cp.qemu_stderr}{cp.stdout}\n{log}")  # type: ignore[attr-defined]
    return cp.stdout


def qemu_workload(t: Target) -> str:
    """A qcow2 image created, written with patterns and read back with ``-P`` checks."""
    img = t.uri("vm.qcow2")
    _check(run_gfapi(t.argv(["qemu-img", "create", "-q", "-f", "qcow2", img, "8M"]), 120), "qemu-img create")
    io = ["-c", "write -P 0x5a 0 256k", "-c", "write -P 0xa5 1M 64k", "-c", "write -z 2M 64k"]
    io += ["-c", "read -P 0x5a 0 256k", "-c", "read -P 0xa5 1M 64k", "-c", "read -P 0 2M 64k"]
    out = _check(run_gfapi(t.argv(["qemu-io", "-f", "qcow2", *io, img]), 120), "qemu-io")
    assert "Pattern verification failed" not in out, out
    return out


def fio_workload(t: Target) -> str:
    """fio's gfapi engine, random writes then reads checked with crc32c."""
    argv = ["fio", "--name=w", "--ioengine=gfapi", f"--volume={t.volume}", f"--brick={t.host}"]
    argv += ["--filename=fio.dat", "--size=1m", "--bs=16k", "--rw=randwrite", "--verify=crc32c", "--do_verify=1"]
    argv += ["--verify_fatal=1", "--verify_state_save=0", "--randrepeat=1", "--output-format=terse"]
    cp = run_gfapi(t.argv(argv), 120)
    out = _check(cp, "fio")
    assert "verify" not in cp.qemu_stderr.lower(), cp.qemu_stderr  # type: ignore[attr-defined]
    return out


def blob(name: str, size: int) -> bytes:
    """Deterministic content (the same on every run, so bricks can be compared byte for byte)."""
    out = bytearray()
    seed = name.encode()
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


def posix_workload(mnt: Path) -> None:
    """Directories, files at every level, a cross-directory rename (DHT linkto), a symlink,
    a hard link, chmod, a user xattr, a sparse file, truncation, unlink, rmdir."""
    (mnt / "a" / "b").mkdir(parents=True)
    (mnt / "gone").mkdir()
    for i in range(1, 7):
        (mnt / f"f{i:02}").write_bytes(blob(f"f{i}", 3000 * i))
    for i in range(7, 12):
        (mnt / "a" / f"f{i:02}").write_bytes(blob(f"f{i}", 5000))
    for i in range(12, 16):
        (mnt / "a" / "b" / f"f{i:02}").write_bytes(blob(f"f{i}", 70000))
    os.rename(mnt / "a" / "f07", mnt / "a" / "b" / "f07-renamed")
    os.symlink("../f01", mnt / "a" / "link")
    os.link(mnt / "f02", mnt / "a" / "hard")
    os.chmod(mnt / "f03", 0o600)
    os.setxattr(mnt / "f04", "user.k", b"v")
    with open(mnt / "a" / "sparse", "wb") as f:
        f.seek(1 << 20)
        f.write(blob("sparse", 4096))
    with open(mnt / "f05", "r+b") as f:
        f.truncate(1000)
    os.unlink(mnt / "f06")
    os.rmdir(mnt / "gone")
    # read everything back through the mount
    assert (mnt / "a" / "b" / "f07-renamed").read_bytes() == blob("f7", 5000)
    assert (mnt / "a" / "link").read_bytes() == blob("f1", 3000)
    assert (mnt / "a" / "hard").read_bytes() == blob("f2", 6000)
    assert (mnt / "f05").read_bytes() == blob("f5", 15000)[:1000]
    with open(mnt / "a" / "sparse", "rb") as f:
        assert f.read() == bytes(1 << 20) + blob("sparse", 4096)
    assert sorted(os.listdir(mnt / "a")) == ["b", "f08", "f09", "f10", "f11", "hard", "link", "sparse"]


def fuse_mount(t: Target, mnt: Path, extra: list[str] | None = None) -> None:
    mnt.mkdir(parents=True, exist_ok=True)
    argv = ["glusterfs", f"--volfile-server={t.host}", f"--volfile-server-port={t.port}"]
    argv += [*(extra or []), f"--volfile-id={t.volume}", str(mnt)]
    subprocess.run(t.argv(argv), check=True, timeout=60)
    deadline = time.monotonic() + 20
    while not os.path.ismount(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.ismount(mnt), f"{mnt} is not mounted"


def fuse_umount(mnt: Path) -> None:
    subprocess.run(["umount", str(mnt)], timeout=60, capture_output=True)
    if os.path.ismount(mnt):
        subprocess.run(["umount", "-l", str(mnt)], timeout=60, capture_output=True)


def with_fuse(t: Target, mnt: Path, work: Callable[[Path], None]) -> None:
    fuse_mount(t, mnt)
    try:
        work(mnt)
    finally:
        fuse_umount(mnt)


# ---- what bricks hold ---------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Entry:
    kind: str
    perm: int
    size: int
    digest: str | None  # sha256 of the content (None: a directory or a volatile file)
    xattrs: tuple[tuple[str, str], ...]  # normalised, see brick_tree
    gfid: str
    afr_clean: bool


def _norm_xattrs(path: str, volume: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    out = []
    clean = True
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        value = os.getxattr(path, name, follow_symlinks=False)
        if name.startswith("trusted.afr."):
            clean = clean and not any(value)
        elif name in ("trusted.ec.size", "trusted.ec.config") or name.startswith("user."):
            out.append((name, value.hex()))
        elif name in ("trusted.ec.version", "trusted.ec.dirty"):  # counters: compared within a set
            out.append((name, value.hex()))
        elif name == "trusted.glusterfs.dht":
            out.append((name, value[-8:].hex()))  # the hash range (the first words: commit hash, type)
        elif name == "trusted.glusterfs.dht.linkto":
            out.append((name, value.decode().rstrip("\0").replace(volume, "VOL")))
        elif name == "trusted.glusterfs.dht.mds":
            out.append((name, "present"))
    return tuple(out), clean


def brick_tree(root: str | Path, volume: str) -> dict[str, Entry]:
    """Every object on a brick (its private directory left out), by path."""
    out = {}
    root = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in BRICK_PRIVATE]
        for name in [*dirnames, *filenames]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel.startswith(".glusterfs-anonymous-inode-"):  # AFR's private dir, named after the volume id
                rel = ".glusterfs-anonymous-inode-VOLUME_ID"
            st = os.lstat(full)
            kind = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "link"}.get(
                stat.S_IFMT(st.st_mode), "other"
            )
            digest = None
            if kind == "file" and name not in VOLATILE:
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif kind == "link":
                digest = os.readlink(full)
            xattrs, clean = _norm_xattrs(full, volume)
            try:
                gfid = os.getxattr(full, "trusted.gfid", follow_symlinks=False).hex()
            except OSError:
                gfid = ""
            out[rel] = Entry(kind, stat.S_IMODE(st.st_mode), st.st_size if kind == "file" else 0, digest, xattrs,
                             gfid, clean)  # fmt: skip
    root_x, root_clean = _norm_xattrs(root, volume)
    out["."] = Entry("dir", 0, 0, None, root_x, "", root_clean)
    return out


def without(tree: dict[str, Entry], *fields: str) -> dict[str, Entry]:
    """``tree`` with some fields blanked (``gfid`` differs between two clusters, ...); the
    field ``counters`` stands for the disperse version/dirty counters, which count
    transactions and so depend on how concurrent clients' operations interleaved."""
    blank = {"gfid": "", "digest": None, "xattrs": (), "afr_clean": True, "perm": 0, "size": 0}
    out = {}
    for k, v in tree.items():
        if "counters" in fields:
            v = dataclasses.replace(v, xattrs=tuple(x for x in v.xattrs if x[0] not in _COUNTERS))
        out[k] = dataclasses.replace(v, **{f: blank[f] for f in fields if f != "counters"})
    return out


_COUNTERS = ("trusted.ec.version", "trusted.ec.dirty")
