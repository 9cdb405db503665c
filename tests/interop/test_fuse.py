"""The glusterfs FUSE client (Debian's glusterfs-client 10.3), unmodified, mounts a volume
of ``fakegluster serve``: what it writes lands in the directory volume as plain files, and
gfclient reads it back byte for byte."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

import gfclient
from tests.helpers import require_tool, unavailable

pytestmark = pytest.mark.real


@pytest.fixture
def fuse_mount(served, tmp_path):
    glusterfs = require_tool("glusterfs")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        unavailable("the FUSE client needs root and /dev/fuse")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(
        [
            glusterfs,
            "--volfile-server=127.0.0.1",
            f"--volfile-server-port={served.tcp4}",
            "--volfile-id=handvol",
            str(mnt),
        ],
        check=True,
        timeout=60,
    )
    try:
        assert os.path.ismount(mnt)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], timeout=60)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], timeout=60)


def test_fuse_client_writes_plain_files_that_gfclient_reads(served, fuse_mount):
    top = f"fuse-{uuid.uuid4().hex[:8]}"
    data = os.urandom((3 << 20) + 123)
    (fuse_mount / top / "sub").mkdir(parents=True)
    (fuse_mount / top / "sub" / "blob").write_bytes(data)
    (fuse_mount / top / "note.txt").write_text("from fuse\n")
    os.rename(fuse_mount / top / "note.txt", fuse_mount / top / "renamed.txt")
    os.symlink("renamed.txt", fuse_mount / top / "link")
    assert sorted(os.listdir(fuse_mount / top)) == ["link", "renamed.txt", "sub"]
    assert (fuse_mount / top / "link").read_text() == "from fuse\n"
    assert os.stat(fuse_mount / top / "sub" / "blob").st_size == len(data)

    # the directory volume holds them as plain files
    on_disk = served.handvol_dir / top
    assert (on_disk / "sub" / "blob").read_bytes() == data
    assert os.readlink(on_disk / "link") == "renamed.txt"
    assert not (on_disk / "note.txt").exists()

    # and gfclient reads what the FUSE client wrote
    with gfclient.connect(served.uri("", volume="handvol")) as vol:
        assert sorted(vol.listdir(top)) == ["link", "renamed.txt", "sub"]
        with vol.fopen(f"{top}/sub/blob", "r") as f:
            assert f.read() == data

    os.unlink(fuse_mount / top / "sub" / "blob")
    assert not (on_disk / "sub" / "blob").exists()
