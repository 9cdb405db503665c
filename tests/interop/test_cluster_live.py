"""Live changes under unmodified real clients (issue #9): a ``volume set`` while FUSE, qemu-io
and fio work (each switches graph, no IO error), a brick of a replica 3 and of a 4 + 2 disperse
stopped mid-workload (IO goes on; brought back on a new port, the clients find it through the
port map; heal makes the bricks identical / consistent), the first node down (clients fall
back to their other volfile servers).

The fake (three nodes) runs in a network namespace of its own, so its glusterd owns
127.0.0.1:24007 (fio's gfapi engine asks nothing else); its clients run there too.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from fakegluster.proto.gfdict import old_dict_text
from fakegluster.server import FakeGluster
from fakegluster.testing.netns import netns
from fakegluster.testing.procs import _env
from fakegluster.xl import ec
from tests.interop.clusterwork import (
    Target,
    blob,
    brick_tree,
    fuse_mount,
    fuse_umount,
    require_cluster_tools,
)

pytestmark = pytest.mark.real


# ---- live changes: an option set, a brick stopped, a node down, while real clients work ----
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A fake of three nodes in a network namespace of its own: a replica 3 and a 4 + 2
    disperse volume on directory bricks, and a replica 3 for the option change."""
    require_cluster_tools()
    root = tmp_path_factory.mktemp("live")
    specs = [
        {"name": "r3", "dir": str(root / "r3"), "replica": 3},
        {"name": "ec", "dir": str(root / "ec"), "disperse": 6, "redundancy": 2},
        {"name": "gs", "replica": 3},
    ]
    for s in specs[:2]:
        Path(s["dir"]).mkdir()
    with netns("fglive") as ns, FakeGluster(specs, ["tcp://127.0.0.1:24007"], nodes=3, netns=ns) as server:
        yield server, ns, root


def _popen(t: Target, argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(t.argv(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _setvolumes_after(server: FakeGluster, when: float, brick: str | None = None) -> list[dict[str, str]]:
    found = server.calls.find("SETVOLUME", server=brick)
    return [old_dict_text(r.args.dict) for r in found if r.time > when and r.op_ret == 0]


def test_an_option_set_mid_workload_switches_every_clients_graph(live):
    """As graph_switch.pcap: ``volume set`` while FUSE, qemu-io and fio run; each fetches the
    new volfile, builds graph 2 (new brick connections) and goes on without an IO error."""
    server, ns, root = live
    t = Target("gs", ns)
    mnt = root / "mnt-gs"
    fuse_mount(t, mnt)
    try:
        with open(mnt / "g.raw", "wb") as f:
            f.truncate(4 << 20)
        io = ["-c", "write -P 0x11 0 64k", "-c", "sleep 4000", "-c", "read -P 0x11 0 64k"]
        io += ["-c", "write -P 0x22 64k 64k", "-c", "read -P 0x22 64k 64k"]
        qemu = _popen(t, ["qemu-io", "-f", "raw", *io, t.uri("g.raw")])
        fio_argv = ["fio", "--name=w", "--ioengine=gfapi", "--volume=gs", "--brick=127.0.0.1", "--filename=fio.dat"]
        fio_argv += ["--size=4m", "--bs=4k", "--rw=write", "--rate=1m", "--verify=crc32c", "--do_verify=1"]
        fio = _popen(t, [*fio_argv, "--verify_fatal=1", "--verify_state_save=0"])
        time.sleep(2)
        switch = time.time()
        server.set_option("performance.write-behind", "off", "gs")
        time.sleep(1)
        (mnt / "after").write_text("written after the switch\n")
        assert (mnt / "after").read_text() == "written after the switch\n"
        q_out, q_err = qemu.communicate(timeout=120)
        f_out, f_err = fio.communicate(timeout=120)
    finally:
        fuse_umount(mnt)
    assert qemu.returncode == 0 and "Pattern verification failed" not in q_out, q_err[-2000:]
    assert q_out.count("read 65536/65536 bytes") == 2
    assert fio.returncode == 0, f_err[-2000:]
    # glusterd told every management connection; each asked again on it and got graph 2 up
    told = [r for r in server.calls if r.direction == "out" and r.proc == "FETCHSPEC" and r.time >= switch]
    assert len(told) >= 3
    asked = {r.connection for r in server.calls.find("GETSPEC") if r.time > switch}
    assert {r.connection for r in told} <= asked
    new = [d.get("process-uuid", "") for d in _setvolumes_after(server, switch)]
    clients = {u.split("-GRAPH_ID:")[0] for u in new}
    assert len(clients) == 3 and len(new) == 9, new  # FUSE, qemu-io, fio: 3 bricks each
    assert all("-GRAPH_ID:0-" not in u for u in new), new  # a new graph (FUSE counts graphs from 0 too)
    assert " 2-gs: " in q_err  # libgfapi's log: the new graph's translators


def _stop_start_during(server: FakeGluster, volume: str, brick: int, mnt: Path, down: float) -> int:
    """Write through FUSE, stop a brick, write on, start it again (a new port); returns it."""
    (mnt / "before").write_bytes(blob("before", 200_000))
    b = server.bricks(volume)[brick]
    old = b.port
    time.sleep(0.5)
    b.stop()
    time.sleep(1)  # as replica3_brickdown: the brick dies, then the writes (not in the same instant)
    (mnt / "during").write_bytes(blob("during", 300_000))
    (mnt / "d1" / "d2").mkdir(parents=True)
    (mnt / "d1" / "d2" / "deep").write_bytes(blob("deep", 70_000))
    with open(mnt / "before", "r+b") as f:
        f.seek(100_000)
        f.write(blob("patch", 5000))
    os.chmod(mnt / "during", 0o600)
    time.sleep(down)
    port = b.start()
    assert port and port != old
    time.sleep(1)
    (mnt / "after").write_bytes(blob("after", 10_000))
    return port


def _expected_files() -> dict[str, bytes]:
    before = bytearray(blob("before", 200_000))
    before[100_000:105_000] = blob("patch", 5000)
    return {
        "before": bytes(before),
        "during": blob("during", 300_000),
        "d1/d2/deep": blob("deep", 70_000),
        "after": blob("after", 10_000),
    }


@pytest.mark.parametrize("volume,brick", [("r3", 2), ("ec", 1)])
def test_a_brick_stopped_mid_workload_comes_back_through_portmap_and_is_healed(live, volume, brick):
    server, ns, root = live
    t = Target(volume, ns)
    mnt = root / f"mnt-bd-{volume}"
    fuse_mount(t, mnt)
    try:
        with open(mnt / "bd.raw", "wb") as f:
            f.truncate(4 << 20)
        io = ["-c", "write -P 1 0 512k", "-c", "sleep 1500", "-c", "write -P 2 512k 512k", "-c", "sleep 6000"]
        io += ["-c", "write -P 3 1M 512k", "-c", "sleep 1000"]
        io += ["-c", "read -P 1 0 512k", "-c", "read -P 2 512k 512k", "-c", "read -P 3 1M 512k"]
        qemu = _popen(t, ["qemu-io", "-f", "raw", *io, t.uri("bd.raw")])
        t0 = time.time()
        port = _stop_start_during(server, volume, brick, mnt, down=3.0)
        q_out, q_err = qemu.communicate(timeout=120)
        assert qemu.returncode == 0 and "Pattern verification failed" not in q_out, q_err[-3000:]
        for name, data in _expected_files().items():
            assert (mnt / name).read_bytes() == data, name
    finally:
        fuse_umount(mnt)
    path = server.bricks(volume)[brick].path
    pmap = [r for r in server.calls.find("PORTBYBRICK", brick=path) if r.time > t0]
    assert any(r.op_ret == -1 for r in pmap)  # asked while it was down ...
    assert any(r.op_ret == 0 and r.result.port == port for r in pmap)  # ... and found again
    restarted = server.bricks(volume)[brick].name
    back = {d.get("process-uuid", "").split("-GRAPH_ID:")[0] for d in _setvolumes_after(server, t0, restarted)}
    assert len(back) >= 2  # FUSE and qemu-io connected to the brick again
    server.heal(volume, timeout=60)  # the daemon may have done it all already
    assert not any(i.entries for i in server.heal_info(volume))
    trees = [brick_tree(b.path, volume) for b in server.bricks(volume)]
    if volume == "r3":
        assert all(tr == trees[0] for tr in trees), "replicas differ after heal"
        assert all(e.afr_clean for tr in trees for e in tr.values())
    else:
        codec = ec.Codec(6, 2)
        expected = {**_expected_files()}
        for name, data in expected.items():
            x = [dict(tr[name].xattrs) for tr in trees]
            assert len({d["trusted.ec.version"] for d in x}) == 1 and {d["trusted.ec.dirty"] for d in x} == {"0" * 32}
            frags = [Path(b.path, name).read_bytes() for b in server.bricks(volume)]
            for use in ((0, 1, 2, 3), (2, 3, 4, 5), (0, 1, 4, 5)):  # any 4 fragments, the healed one too
                assert codec.decode({i: frags[i] for i in use})[: len(data)] == data, (name, use)


def test_clients_fail_over_to_another_volfile_server(live):
    """The first node (its glusterd and its bricks) down: QEMU given server.0 and server.1,
    and the FUSE client given a backup volfile server, reach the volume through the second."""
    server, ns, root = live
    t = Target("r3", ns)
    mnt = root / "mnt-fo"
    fuse_mount(t, mnt)
    try:
        (mnt / "fo.raw").write_bytes(blob("fo", 1 << 20))
    finally:
        fuse_umount(mnt)
    port = server.nodes[0].port
    server.nodes[0].stop()
    try:
        opts = "driver=raw,file.driver=gluster,file.volume=r3,file.path=fo.raw"
        for i, host in enumerate(("127.0.0.1", "127.0.0.2")):
            opts += f",file.server.{i}.type=inet,file.server.{i}.host={host},file.server.{i}.port={port}"
        qemu = _popen(t, ["qemu-io", "--image-opts", "-c", "read 0 64k", opts])
        fuse_mount(Target("r3", ns), mnt, ["--volfile-server=127.0.0.2"])
        try:
            assert (mnt / "fo.raw").read_bytes() == blob("fo", 1 << 20)
        finally:
            fuse_umount(mnt)
        q_out, q_err = qemu.communicate(timeout=120)
        assert qemu.returncode == 0 and "read 65536/65536 bytes" in q_out, q_err[-2000:]
    finally:
        server.nodes[0].start()
    assert server.calls.find("GETSPEC", key="r3")  # libgfapi's key has no leading slash
