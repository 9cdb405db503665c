"""An fd opened while a brick of a real GlusterFS 10.3 replica 3 was down reaches that brick once
it is back (``afr_fix_open``, afr-open.c): first the real client is the judge -- a FUSE mount's
fd -- then gfclient does the same against the same volume (tests/client/test_afr_fix_open.py is
the fake's side).  Self-heal is off everywhere: what brick 2 holds came through the fd (the bytes
written while it was down stay missing there)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

import gfclient
from tests.helpers import require_tool
from tests.interop.clusterwork import fuse_umount

pytestmark = pytest.mark.real

OPTIONS = {
    "cluster.self-heal-daemon": "off",
    "cluster.data-self-heal": "off",
    "cluster.metadata-self-heal": "off",
    "cluster.entry-self-heal": "off",
}


def _wait(what, timeout: float = 30.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what.__doc__ or what}"
        time.sleep(every)


def _backend(vol, name: str, brick: int) -> bytes:
    with open(vol.brick_file(name, brick), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def volume(real_gluster):
    vol = real_gluster.create_volume(bricks=3, replica=3, options=OPTIONS)
    yield vol
    vol.delete()


def test_the_real_client_reopens_its_fd_on_a_brick_that_comes_back(volume, tmp_path):
    require_tool("glusterfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["glusterfs", "--volfile-server=127.0.0.1", f"--volfile-id={volume.name}", str(mnt)], check=True)
    try:
        _wait(lambda: os.path.ismount(mnt))
        (mnt / "fuse").write_bytes(b"")
        volume.kill_brick(2)
        fd = os.open(mnt / "fuse", os.O_WRONLY)
        try:
            os.pwrite(fd, b"while down", 0)
            os.fsync(fd)
            volume.start_force()

            def reached() -> bool:
                """a write through the fd reached brick 2"""
                os.pwrite(fd, b"back", 100)
                os.fsync(fd)
                return _backend(volume, "fuse", 2)[100:104] == b"back"

            _wait(reached, every=0.5)
        finally:
            os.close(fd)
    finally:
        fuse_umount(mnt)
    assert _backend(volume, "fuse", 2)[:10] == bytes(10)  # no heal: the bytes came through the fd
    assert _backend(volume, "fuse", 0)[:10] == b"while down"


def test_gfclient_reopens_its_fd_on_a_real_brick_that_comes_back(volume):
    with gfclient.connect(f"gluster://127.0.0.1/{volume.name}") as v:
        with v.fopen("gf", "w"):
            pass
        bricks = v._avol.graph.bricks
        volume.kill_brick(2)
        _wait(lambda: not bricks[2].up)
        f = v.open("gf", os.O_WRONLY)
        try:
            f.pwrite(b"while down", 0)
            volume.start_force()
            _wait(lambda: bricks[2].up)
            f.pwrite(b"back", 100)  # the first FOP after the return opens the fd on brick 2
        finally:
            f.close()
    assert [_backend(volume, "gf", b)[100:104] for b in range(3)] == [b"back"] * 3
    assert _backend(volume, "gf", 2)[:10] == bytes(10)
