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


def _heal_info(sock: str) -> str:
    """``gluster volume heal clivol info``: glfsheal asks /var/run/glusterd.socket for the
    volfile, so it runs where that is the fake's socket (a mount namespace)."""
    cp = subprocess.run(
        [*clirun.glusterd_socket_prefix(sock), "gluster", "--mode=script", f"--glusterd-sock={sock}",
         "volume", "heal", "clivol", "info"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert cp.returncode == 0, (cp.stdout, cp.stderr)
    return cp.stdout


def _entries(info: str) -> list[int | None]:
    """Per brick, its "Number of entries" (None: "-", the brick is not connected)."""
    counts = [line.split(":")[1].strip() for line in info.splitlines() if line.startswith("Number of entries:")]
    return [None if n == "-" else int(n) for n in counts]


def test_heal_through_the_cli(cli_volume, tmp_path):
    """A brick killed, a file written through FUSE: ``volume heal V info`` (the real glfsheal
    on the fake's bricks) lists what the dead brick missed; ``volume start V force`` brings
    the brick back and ``volume heal V`` has the self-heal daemon copy it: the entries go to
    zero and the brick holds the file."""
    glusterfs = require_tool("glusterfs")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        unavailable("the FUSE client and the mount namespace need root and /dev/fuse")
    fake, sock, root = cli_volume
    fake.bricks("clivol")[2].kill()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        subprocess.run(
            [glusterfs, "--volfile-server=127.0.0.1", f"--volfile-server-port={fake.info.port}",
             "--volfile-id=clivol", str(mnt)],
            check=True, timeout=60,
        )  # fmt: skip
        try:
            (mnt / "healme").mkdir()
            (mnt / "healme" / "f.bin").write_bytes(b"\x7f" * 100_000)
        finally:
            subprocess.run(["umount", str(mnt)], timeout=60)
            if os.path.ismount(mnt):
                subprocess.run(["umount", "-l", str(mnt)], timeout=60)
        info = _heal_info(sock)
        assert "Status: Transport endpoint is not connected" in info, info
        pending = _entries(info)
        assert len(pending) == 3 and pending[2] is None, info
        assert all(n is not None and n >= 2 for n in pending[:2]), info  # /healme, /healme/f.bin (and /)
        assert "/healme/f.bin" in info or "<gfid:" in info, info
    finally:
        out = _gluster(sock, "volume", "start", "clivol", "force")
    assert out == "volume start: clivol: success\n"
    out = _gluster(sock, "volume", "heal", "clivol")
    assert out.startswith("Launching heal operation to perform index self heal on volume clivol has been successful")
    healed = os.path.join(root, "b3", "healme", "f.bin")
    deadline = time.monotonic() + 60
    while not (os.path.exists(healed) and open(healed, "rb").read() == b"\x7f" * 100_000):
        assert time.monotonic() < deadline, "the self-heal daemon did not copy the file"
        time.sleep(0.2)
    while (counts := _entries(info := _heal_info(sock))) != [0, 0, 0]:  # glfsheal: ~10 s a run (glfs_fini)
        assert time.monotonic() < deadline and None not in counts, info
