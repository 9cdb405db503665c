"""Acceptance: a volume made and started through the unmodified ``gluster`` CLI on the fake serves
real clients (qemu-img/qemu-io through libgfapi, the glusterfs FUSE client), and a ``volume set``
through the CLI while a client works switches that client's graph (GF-CBK FETCHSPEC, then the
client's GETSPEC again) without an IO error.  The call log holds the CLI's calls, decoded."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest

from fakegluster.testing import clirun
from fakegluster.testing.procs import filter_gfapi_log, run_gfapi
from tests.conftest import unavailable
from tests.helpers import require_tool

pytestmark = pytest.mark.real


def _gluster(sock: str, *args: str) -> str:
    cp = clirun.run_gluster(list(args), sock=sock, timeout=60)
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
    return cp.stdout


@pytest.fixture(scope="module")
def cli_volume(tmp_path_factory):
    """A fake with no volume; ``clivol`` (replica 3, directory bricks) created and started with the CLI."""
    require_tool("gluster")
    from fakegluster.server import FakeGluster

    sock = str(tmp_path_factory.mktemp("clivol") / "gd.sock")
    root = tempfile.mkdtemp(prefix="fg-fake-", dir="/tmp")
    try:
        with FakeGluster((), [f"unix://{sock}", "tcp://127.0.0.1:0"]) as fake:
            host = fake.cluster.nodes[0].host
            bricks = [f"{host}:{root}/b{i}" for i in (1, 2, 3)]
            out = _gluster(sock, "volume", "create", "clivol", "replica", "3", *bricks, "force")
            assert out == "volume create: clivol: success: please start the volume to access data\n"
            assert _gluster(sock, "volume", "start", "clivol") == "volume start: clivol: success\n"
            yield fake, sock, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_call_log_records_the_cli_decoded(cli_volume):
    fake, sock, root = cli_volume
    (create,) = fake.calls.assert_called("CREATE_VOLUME", count=1, server="glusterd")
    assert create.program == "GlusterD svc cli" and create.op_ret == 0
    assert create.args.dict["volname"] == b"clivol\0" and create.args.dict["replica-count"] == b"3\0"
    fake.calls.assert_called("START_VOLUME", count=1)
    assert create.as_json()["args"]["dict"]["type"] == "2"  # rendered as text


def test_cli_volume_serves_qemu(cli_volume):
    require_tool("qemu-img")
    fake, _, root = cli_volume
    uri = f"gluster://127.0.0.1:{fake.info.port}/clivol/cli.qcow2"
    run_gfapi(["qemu-img", "create", "-f", "qcow2", uri, "16M"], check=True)
    r = run_gfapi(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 1M", "-c", "read -P 0x5a 0 1M", uri], check=True)
    assert "read 1048576/1048576 bytes" in r.stdout and "failed" not in r.stdout
    # replica 3: the image is a plain file in each brick directory the CLI named, the same on all
    copies = {open(os.path.join(root, f"b{i}", "cli.qcow2"), "rb").read() for i in (1, 2, 3)}
    assert len(copies) == 1 and len(copies.pop()) > 1 << 20


def test_cli_volume_serves_fuse(cli_volume, tmp_path):
    glusterfs = require_tool("glusterfs")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        unavailable("the FUSE client needs root and /dev/fuse")
    fake, _, root = cli_volume
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(
        [glusterfs, "--volfile-server=127.0.0.1", f"--volfile-server-port={fake.info.port}", "--volfile-id=clivol",
         str(mnt)],
        check=True, timeout=60,
    )  # fmt: skip
    try:
        (mnt / "dir").mkdir()
        (mnt / "dir" / "f.txt").write_text("through fuse\n")
        assert (mnt / "dir" / "f.txt").read_text() == "through fuse\n"
        for i in (1, 2, 3):
            assert open(os.path.join(root, f"b{i}", "dir", "f.txt")).read() == "through fuse\n"
    finally:
        subprocess.run(["umount", str(mnt)], timeout=60)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], timeout=60)


def test_volume_set_through_the_cli_switches_a_running_clients_graph(cli_volume):
    """qemu-io writes, sleeps while ``gluster volume set`` turns write-behind off, then goes on:
    glusterd sent it FETCHSPEC and it fetched the new volfile (no write-behind) mid-run."""
    qemu_io = require_tool("qemu-io")
    fake, sock, root = cli_volume
    uri = f"gluster://127.0.0.1:{fake.info.port}/clivol/switch.raw"
    run_gfapi(["qemu-img", "create", "-f", "raw", uri, "1M"], check=True)
    getspecs = len(fake.calls.find("GETSPEC"))
    qio = subprocess.Popen(
        [qemu_io, "-f", "raw", "-c", "write -P 0x11 0 64k", "-c", "sleep 4000", "-c", "write -P 0x22 64k 64k",
         "-c", "read -P 0x11 0 64k", "-c", "read -P 0x22 64k 64k", uri],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        brick_file = os.path.join(root, "b1", "switch.raw")
        deadline = time.monotonic() + 30
        while open(brick_file, "rb").read(65536) != b"\x11" * 65536:
            assert time.monotonic() < deadline and qio.poll() is None, "qemu-io did not write"
            time.sleep(0.1)
        assert _gluster(sock, "volume", "set", "clivol", "performance.write-behind", "off") == "volume set: success\n"
        out, err = qio.communicate(timeout=120)
    finally:
        qio.kill()
    assert "failed" not in out and out.count("read 65536/65536") == 2, out + filter_gfapi_log(err)
    fake.calls.assert_called("FETCHSPEC")  # glusterd's push to the connected clients
    new = fake.calls.find("GETSPEC")[getspecs:]
    assert len(new) >= 2  # qemu-io's first fetch, and the one FETCHSPEC asked for
    spec = new[-1].result.spec
    assert "performance/write-behind" not in spec and "type cluster/replicate" in spec
    assert open(os.path.join(root, "b2", "switch.raw"), "rb").read(131072) == b"\x11" * 65536 + b"\x22" * 65536
