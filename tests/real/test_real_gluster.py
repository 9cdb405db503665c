"""The real-GlusterFS harness works with the real tools (qemu-img / qemu-io).

A libgfapi client needs ~10 s to exit after its last IO (glfs_fini), so the
qemu processes of this module run concurrently from one module fixture and
the tests only look at the results.
"""

from __future__ import annotations

import os
import secrets
import socket
import stat
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from fakegluster.testing import realgluster
from fakegluster.testing.realgluster import (
    RealGluster,
    available,
    filter_gfapi_log,
    gluster_cli,
    run_gfapi,
)
from tests.helpers import unavailable

pytestmark = pytest.mark.real

IMG = "fg-harness.img"
IMG_SIZE = 1 << 20
PATTERN_LEN = 64 << 10


@pytest.fixture(scope="module")
def qemu_tools():
    ok, reason = available(tools=("qemu-img", "qemu-io"))
    if not ok:
        unavailable(reason)


def _stat(path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


@pytest.fixture(scope="module")
def qemu_run(real_volume, qemu_tools):
    vol = real_volume
    brick_file = vol.brick_file(IMG)
    out = {}
    with ThreadPoolExecutor(max_workers=3) as pool:
        t0 = time.monotonic()
        missing = pool.submit(run_gfapi, ["qemu-img", "info", vol.uri("no-such-image.img")])
        create = pool.submit(run_gfapi, ["qemu-img", "create", "-f", "raw", vol.uri(IMG), str(IMG_SIZE)])
        # qemu-img is done with the file ~10 s before it exits (glfs_fini):
        # start qemu-io as soon as the brick holds the full-size file.
        st = None
        while not create.done() and time.monotonic() - t0 < 60:
            st = _stat(brick_file)
            if st is not None and st.st_size == IMG_SIZE:
                break
            time.sleep(0.05)
        out["brick_stat_after_create"] = st if st is not None else _stat(brick_file)
        rw = pool.submit(
            run_gfapi,
            [
                "qemu-io",
                "-f",
                "raw",
                "-c",
                f"write -P 0xab 0 {PATTERN_LEN // 1024}k",
                "-c",
                f"read -P 0xab 0 {PATTERN_LEN // 1024}k",
                vol.uri(IMG),
            ],
        )
        out["missing"] = missing.result()
        out["create"] = create.result()
        out["rw"] = rw.result()
        out["elapsed"] = time.monotonic() - t0
    return out


def test_qemu_img_create_raw(qemu_run, real_volume):
    r = qemu_run["create"]
    assert r.returncode == 0, r.qemu_stderr
    assert f"Formatting '{real_volume.uri(IMG)}', fmt=raw size={IMG_SIZE}" in r.stdout
    assert r.qemu_stderr.strip() == ""


def test_brick_holds_plain_file_of_right_size(qemu_run, real_volume):
    st = qemu_run["brick_stat_after_create"]
    assert st is not None, f"{real_volume.brick_file(IMG)} never appeared on the brick"
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size == IMG_SIZE
    # the posix brick also hard-links it under .glusterfs/<gfid>
    assert st.st_nlink == 2
    assert len(os.getxattr(real_volume.brick_file(IMG), "trusted.gfid")) == 16


def test_qemu_io_write_then_read_pattern(qemu_run, real_volume):
    r = qemu_run["rw"]
    assert r.returncode == 0, r.qemu_stderr + r.stdout
    assert f"wrote {PATTERN_LEN}/{PATTERN_LEN} bytes at offset 0" in r.stdout
    assert f"read {PATTERN_LEN}/{PATTERN_LEN} bytes at offset 0" in r.stdout
    assert "Pattern verification failed" not in r.stdout + r.stderr
    # and the bytes really are on the brick, where they belong
    with open(real_volume.brick_file(IMG), "rb") as f:
        data = f.read()
    assert len(data) == IMG_SIZE
    assert data[:PATTERN_LEN] == b"\xab" * PATTERN_LEN
    assert data[PATTERN_LEN:] == bytes(IMG_SIZE - PATTERN_LEN)


def test_qemu_img_info_missing_image(qemu_run):
    r = qemu_run["missing"]
    assert r.returncode != 0
    assert "No such file or directory" in r.qemu_stderr


def test_gfapi_log_lines_filtered(qemu_run):
    for r in (qemu_run["create"], qemu_run["rw"], qemu_run["missing"]):
        assert not any(line.startswith("[") for line in r.qemu_stderr.splitlines())
        assert filter_gfapi_log(r.stderr) == r.qemu_stderr
    raw = "[2026-11-25 17:50:49.122755 +0000] I [io-stats.c:3701:x] 0-v: hi\nqemu-img: boom\n"
    assert filter_gfapi_log(raw) == "qemu-img: boom\n"


def test_parallel_runs_overlap_the_exit_delay(qemu_run):
    # three libgfapi processes, each ~10 s in glfs_fini, ran concurrently
    serial = sum(qemu_run[k].elapsed for k in ("missing", "create", "rw"))
    assert qemu_run["elapsed"] < serial


# ---------------------------------------------------------------------------
# the harness itself
# ---------------------------------------------------------------------------


def test_volume_shape(real_gluster, real_volume):
    v = real_volume
    assert v.name.startswith("fgreal-")
    assert v in real_gluster.volumes
    assert v.uri("a/b.img") == f"gluster://127.0.0.1/{v.name}/a/b.img"
    assert v.uri("/x") == f"gluster://127.0.0.1/{v.name}/x"
    assert len(v.brick_paths) == len(v.brick_ports) == 1
    assert all(os.path.isdir(p) for p in v.brick_paths)
    st = v.status()
    assert [b["port"] for b in st] == v.brick_ports
    assert all(b["online"] for b in st)
    assert v.name in gluster_cli("volume", "list").stdout.split()
    info = gluster_cli("volume", "get", v.name, "server.allow-insecure").stdout
    assert "server.allow-insecure" in info and " on" in info


def _rpc_dump(port: int) -> tuple[int, bytes]:
    """ONC RPC call GF-DUMP (123451501 v1) proc DUMP, AUTH_NULL, from an
    unprivileged source port; returns (source port, reply body)."""
    with socket.socket() as s:
        s.settimeout(10)
        s.bind(("127.0.0.1", 0))
        s.connect(("127.0.0.1", port))
        body = struct.pack(">6I", 0x2A, 0, 2, 123451501, 1, 1)  # xid CALL rpcv prog vers proc
        body += struct.pack(">4I", 0, 0, 0, 0)  # cred, verf: AUTH_NULL
        body += struct.pack(">Q", 1)  # gf_dump_req.gfs_id
        s.sendall(struct.pack(">I", 0x80000000 | len(body)) + body)
        hdr = s.recv(4, socket.MSG_WAITALL)
        n = struct.unpack(">I", hdr)[0] & 0x7FFFFFFF
        return s.getsockname()[1], s.recv(n, socket.MSG_WAITALL)


def test_unprivileged_source_ports_accepted(real_volume):
    """What a pure-Python client does: glusterd and the brick must accept it."""
    for port in (realgluster.GLUSTERD_PORT, *real_volume.brick_ports):
        src, reply = _rpc_dump(port)
        assert src >= 1024
        xid, mtype, reply_stat, _vflav, _vlen, accept_stat = struct.unpack(">6I", reply[:24])
        assert (xid, mtype) == (0x2A, 1)
        # MSG_ACCEPTED / SUCCESS (an insecure-port refusal is MSG_DENIED/AUTH_ERROR)
        assert (reply_stat, accept_stat) == (0, 0), (port, reply[:24].hex())


def test_left_over_volume_of_a_crashed_run_is_removed(real_gluster, tmp_path):
    """A volume with our prefix whose owner session is gone gets stop+deleted
    by the next start(); a live session's volumes are left alone."""
    stale = f"fgreal-1-{secrets.token_hex(3)}-1"  # owner session never existed
    brick = tmp_path / "stale-brick"
    brick.mkdir()
    gluster_cli("volume", "create", stale, f"{socket.gethostname()}:{brick}", "force")
    gluster_cli("volume", "start", stale)
    rg2 = RealGluster()
    rg2.start()
    try:
        assert not rg2.started_glusterd  # the session's glusterd was reused
        names = gluster_cli("volume", "list").stdout.split()
        assert stale not in names
        assert all(v.name in names for v in real_gluster.volumes)
        assert not realgluster._volume_procs([stale])
    finally:
        rg2.stop()
    # rg2 did not start glusterd, and real_gluster's session is still alive
    assert realgluster._glusterd_pids()
    assert gluster_cli("volume", "list").returncode == 0


def test_available_reports_missing_tool():
    ok, reason = available(tools=("no-such-tool-xyz",))
    assert not ok and "no-such-tool-xyz" in reason
