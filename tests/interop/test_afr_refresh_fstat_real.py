"""A file another client unlinks while it is open stays readable through the fd, also when AFR
must learn the inode's readable copies again first -- here because a brick went down and came
back (the event generation changed).  GlusterFS 10.3 ``afr_inode_refresh_do`` (afr-common.c)
refreshes by FSTAT on the fd when the FOP has one; a LOOKUP of the gfid would find nothing (the
brick moved the gfid's handle away at the unlink).  The real FUSE client is the judge, then
gfclient does the same against the same real replica 3 (tests/client/test_afr_refresh_fstat.py
is the fake's side)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

import gfclient
from tests.helpers import require_tool
from tests.interop.clusterwork import fuse_umount

pytestmark = pytest.mark.real

OPTIONS = {  # no client-side cache between the application's read and AFR
    "performance.quick-read": "off",
    "performance.io-cache": "off",
    "performance.read-ahead": "off",
    "performance.open-behind": "off",
    "cluster.self-heal-daemon": "off",
}
DATA = b"still here after the unlink\n" * 8


def _wait(what, timeout: float = 60.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what.__doc__ or what}"
        time.sleep(every)


@pytest.fixture(scope="module")
def volume(real_gluster):
    vol = real_gluster.create_volume(bricks=3, replica=3, options=OPTIONS)
    yield vol
    vol.delete()


def _unlink_elsewhere(volume, name: str) -> None:
    with gfclient.connect(f"gluster://127.0.0.1/{volume.name}") as other:
        other.unlink(name)
    assert not os.path.exists(volume.brick_file(name, 0))


def test_the_real_client_reads_an_unlinked_open_file_after_a_brick_came_back(volume, tmp_path):
    require_tool("glusterfs")
    mnt, log = tmp_path / "mnt", tmp_path / "fuse.log"
    mnt.mkdir()
    argv = ["glusterfs", "--volfile-server=127.0.0.1", f"--volfile-id={volume.name}", "--direct-io-mode=enable"]
    subprocess.run([*argv, f"--log-file={log}", str(mnt)], check=True)
    try:
        _wait(lambda: os.path.ismount(mnt))
        (mnt / "fuse").write_bytes(DATA)
        fd = os.open(mnt / "fuse", os.O_RDONLY)
        try:
            assert os.pread(fd, len(DATA), 0) == DATA
            _unlink_elsewhere(volume, "fuse")
            up = "-client-2: Connected, attached to remote volume"  # client_setvolume_cbk
            connected = Path(log).read_text().count(up)
            volume.kill_brick(2)
            volume.start_force()

            def reconnected() -> bool:
                """the FUSE client connected to the restarted brick"""
                return Path(log).read_text().count(up) > connected

            _wait(reconnected)
            assert os.pread(fd, len(DATA), 0) == DATA
        finally:
            os.close(fd)
    finally:
        fuse_umount(mnt)


def test_gfclient_reads_an_unlinked_open_file_after_a_brick_came_back(volume):
    with gfclient.connect(f"gluster://127.0.0.1/{volume.name}") as v:
        with v.fopen("gf", "wb") as f:
            f.write(DATA)
        bricks = v._avol.graph.bricks
        with v.fopen("gf", "rb") as f:
            assert f.pread(len(DATA), 0) == DATA
            _unlink_elsewhere(volume, "gf")
            volume.kill_brick(2)
            _wait(lambda: not bricks[2].up)
            volume.start_force()
            _wait(lambda: bricks[2].up)
            assert f.pread(len(DATA), 0) == DATA
