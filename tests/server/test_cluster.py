"""Volumes of every type, each brick on its own port and store, on one node or several; bricks
and nodes stopped and started while clients are connected.  Wire-level, in-process, fast:
the real clients on these volumes are in tests/interop/test_cluster_interop.py."""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

from fakegluster.mgmt import volgen
from fakegluster.proto import callback, dump, handshake, portmap
from fakegluster.proto.gfdict import old_dict
from fakegluster.proto.volfile import parse_volfile
from fakegluster.server import ClusterError, FakeGluster, parse_volume_spec
from fakegluster.server.volspec import cluster_from_mapping
from fakegluster.testing.serve import serve_process
from tests.rawclient import ROOT, Mount, Raw


def _portbybrick(host: str, port: int, path: str) -> int:
    raw = Raw(host, port)
    try:
        r = raw.call(portmap.GLUSTER_PMAP_PROGRAM, 1, 1, portmap.PmapPortByBrickReq(path)).result
    finally:
        raw.close()
    return r.port if r.op_ret == 0 else -1


def _graph(server: FakeGluster, volume: str):
    m = Mount("127.0.0.1", server.info.port, volume, brick=0)
    m.close()
    return parse_volfile(m.volfile)


TYPES = [
    # spec, cluster xlator, sets, bricks per set
    ("d4;bricks=4", None, 4, 1),
    ("r2;replica=2", "cluster/replicate", 1, 2),
    ("r3;replica=3", "cluster/replicate", 1, 3),
    ("arb;replica=3;arbiter=1", "cluster/replicate", 1, 3),
    ("dr;replica=3;bricks=6", "cluster/replicate", 2, 3),
    ("ec;disperse=6;redundancy=2", "cluster/disperse", 1, 6),
    ("dec;disperse=6;redundancy=2;bricks=12", "cluster/disperse", 2, 6),
]


@pytest.fixture(scope="module")
def every_type():
    with FakeGluster([t[0] for t in TYPES], ["tcp://127.0.0.1:0"]) as server:
        yield server


@pytest.mark.parametrize("spec,xtype,sets,per_set", TYPES, ids=[t[0].split(";")[0] for t in TYPES])
def test_every_type_is_served_brick_by_brick(every_type, spec, xtype, sets, per_set):
    server = every_type
    name = parse_volume_spec(spec).name
    graph = _graph(server, name)
    clients = graph.of_type("protocol/client")
    bricks = server.bricks(name)
    assert len(clients) == len(bricks) == sets * per_set
    # each brick: its own path in the volfile, its own port from the port map, its own store
    assert [c.options["remote-subvolume"] for c in clients] == [b.path for b in bricks]
    ports = [_portbybrick("127.0.0.1", server.info.port, b.path) for b in bricks]
    assert ports == [b.port for b in bricks] and len(set(ports)) == len(ports) and all(p > 0 for p in ports)
    assert len({id(b.store) for b in bricks}) == len(bricks)
    if xtype is None:
        [dht] = graph.of_type("cluster/distribute")
        assert list(dht.subvolumes) == [c.name for c in clients]
    else:
        layers = graph.of_type(xtype)
        assert len(layers) == sets
        assert [list(x.subvolumes) for x in layers] == [
            [c.name for c in clients[i : i + per_set]] for i in range(0, len(clients), per_set)
        ]
        [dht] = graph.of_type("cluster/distribute")
        assert list(dht.subvolumes) == [x.name for x in layers]
    # a brick's files are its own: created on one brick, absent from the others
    m = Mount("127.0.0.1", server.info.port, name, brick=len(bricks) - 1)
    try:
        assert m.create(ROOT, f"only-on-last-{name}").op_ret == 0
    finally:
        m.close()
    seen = [server.run_sync(_exists, b.store, f"only-on-last-{name}") for b in bricks]
    assert seen == [False] * (len(bricks) - 1) + [True]


def _exists(store, name):
    try:
        store.lookup(ROOT, name)
    except FileNotFoundError:
        return False
    return True


def test_a_directory_volume_has_one_folder_per_brick(tmp_path):
    with FakeGluster([f"vm={tmp_path};replica=3"], ["tcp://127.0.0.1:0"]) as server:
        paths = [b.path for b in server.bricks("vm")]
        assert paths == [str(tmp_path / f"brick{i}") for i in range(3)]
        m = Mount("127.0.0.1", server.info.port, "vm", brick=1)
        assert m.create(ROOT, "plain").op_ret == 0
        m.close()
    assert sorted(os.listdir(tmp_path)) == ["brick0", "brick1", "brick2"]
    assert (tmp_path / "brick1" / "plain").is_file() and not (tmp_path / "brick0" / "plain").exists()


def test_stopped_brick_leaves_the_port_map_and_comes_back_on_a_new_port():
    with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:0"]) as server:
        b2 = server.bricks("vm")[2]
        old = b2.port
        m = Mount("127.0.0.1", server.info.port, "vm", brick=2)
        assert m.fop("STATFS", gfid=ROOT).op_ret == 0
        b2.stop()
        assert b2.status == "stopped" and b2.port == 0
        # the client's connection is gone, glusterd's port map no longer knows the brick
        with pytest.raises((ConnectionResetError, OSError)):
            m.fop("STATFS", gfid=ROOT)
        assert _portbybrick("127.0.0.1", server.info.port, b2.path) == -1
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", old), timeout=5).close()
        new = b2.start()
        assert new == b2.port == _portbybrick("127.0.0.1", server.info.port, b2.path)
        m2 = Mount("127.0.0.1", server.info.port, "vm", brick=2)
        assert m2.brick_port == new and m2.fop("STATFS", gfid=ROOT).op_ret == 0
        m2.close()
        # the other bricks never noticed
        assert all(b.status == "running" for b in server.bricks("vm")[:2])
        server.calls.assert_called("PORTBYBRICK", op_ret=-1)


def test_a_brick_restarted_on_its_old_port_and_a_killed_one():
    with FakeGluster(["vm;replica=2"], ["tcp://127.0.0.1:0"]) as server:
        b0, b1 = server.bricks("vm")
        port = b0.port
        b0.kill()
        assert b0.start(port) == port
        b1.kill()
        assert b1.status == "stopped" and _portbybrick("127.0.0.1", server.info.port, b1.path) == -1
        server.stop_volume("vm")
        assert [b.status for b in server.bricks("vm")] == ["stopped", "stopped"]
        server.start_volume("vm")
        assert [b.status for b in server.bricks("vm")] == ["running", "running"]
        assert server.volume_model("vm").bricks[1].online and server.volume_model("vm").bricks[1].port == b1.port


def test_nodes_have_their_own_glusterd_and_port_map():
    with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:0"], nodes=3) as server:
        n0, n1, n2 = server.nodes
        assert [n.address for n in server.nodes] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        assert n1.port == n2.port == n0.port == server.info.port  # one glusterd port, as in a pool
        bricks = server.bricks("vm")
        assert [b.host for b in bricks] == [n0.host, "127.0.0.2", "127.0.0.3"]
        clients = _graph(server, "vm").of_type("protocol/client")
        assert [c.options["remote-host"] for c in clients] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        # a node's glusterd knows its own bricks only
        assert _portbybrick("127.0.0.2", n1.port, bricks[1].path) == bricks[1].port
        assert _portbybrick("127.0.0.1", n0.port, bricks[1].path) == -1
        # the other glusterds serve the volfile too (a client's backup volfile servers)
        m = Mount("127.0.0.3", n2.port, "vm", brick=1)
        assert m.fop("STATFS", gfid=ROOT).op_ret == 0
        n1.stop()
        assert not n1.running and bricks[1].status == "stopped"
        with pytest.raises(ConnectionRefusedError):
            Raw("127.0.0.2", n1.port)
        with pytest.raises((ConnectionResetError, OSError)):
            m.fop("STATFS", gfid=ROOT)
        assert bricks[0].status == bricks[2].status == "running"
        n1.start()
        assert n1.running and n1.port == n0.port and bricks[1].status == "running"
        assert _portbybrick("127.0.0.2", n1.port, bricks[1].path) == bricks[1].port


def test_bricks_placed_on_nodes_by_host():
    spec = "vm;replica=2;bricks=127.0.0.3:/b/x,127.0.0.2:/b/y;store=memory"
    with FakeGluster([spec], ["tcp://127.0.0.1:0"], nodes=["127.0.0.2", "127.0.0.3"]) as server:
        assert [(b.host, b.path) for b in server.bricks("vm")] == [("127.0.0.3", "/b/x"), ("127.0.0.2", "/b/y")]
        assert [len(n.bricks) for n in server.nodes] == [0, 1, 1]


def test_volumes_created_set_and_deleted_while_serving():
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as server:
        server.create_volume("late", replica=3)
        assert server.info.volumes == ["testvol", "late"] and len(server.bricks("late")) == 3
        server.set_option("network.ping-timeout", "7", "late")
        clients = _graph(server, "late").of_type("protocol/client")
        assert {c.options["ping-timeout"] for c in clients} == {"7"}
        assert server.volume_model("late").options["network.ping-timeout"] == "7"
        with pytest.raises(ClusterError, match="storage.reserve is not supported by fakegluster"):
            server.set_option("storage.reserve", "5", "late")
        assert "storage.reserve" not in server.volume_model("late").options
        with pytest.raises(ClusterError, match="needs to be stopped"):
            server.delete_volume("late")
        server.stop_volume("late")
        server.delete_volume("late")
        assert server.info.volumes == ["testvol"]
        r = Raw("127.0.0.1", server.info.port).call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID))
        assert r.result.op_ret == 0


@pytest.mark.parametrize(
    "spec,message",
    [
        ("vm;replica=1", "replica count should be greater than 1"),
        ("vm;disperse=4;redundancy=2", "redundancy must be greater than or equal to 1 and less than 2"),
        ("vm;replica=3;disperse=6", "replicated-dispersed volume is not supported"),
        ("vm;arbiter=1", "arbiter option must be preceded by replica option"),
        ("vm;colour=blue", "unknown key 'colour'"),
        ("vm;replica=three", "replica='three' is not a number"),
        ("vm;bricks=10.0.0.9:/x", "no such node"),
        ("vm;no.such.option=1", "option : no.such.option does not exist"),
        ("vm;performance.write-behind=maybe", "Error, Validation Failed"),
        ("vm;features.read-only=on", "features.read-only is not supported by fakegluster"),
    ],
)
def test_impossible_specs_are_refused_with_glusterds_words(spec, message):
    with pytest.raises(ValueError, match=message):
        FakeGluster([spec], ["tcp://127.0.0.1:0"])


def test_two_volumes_may_not_share_a_brick_directory(tmp_path):
    (tmp_path / "brick0").mkdir()
    with pytest.raises(ClusterError, match="Brick may be containing or be contained by an existing brick"):
        FakeGluster([f"a={tmp_path};replica=2", f"b={tmp_path / 'brick0'}"], ["tcp://127.0.0.1:0"])


def test_cluster_file(tmp_path):
    cf = cluster_from_mapping(
        {
            "listen": "tcp://127.0.0.1:0",
            "nodes": 2,
            "volume": [{"name": "vm", "replica": 3, "options": {"performance.write-behind": "off"}}],
        }
    )
    assert cf.listen == ["tcp://127.0.0.1:0"] and cf.nodes == ["127.0.0.2", "127.0.0.3"]
    assert cf.volumes[0].replica == 3 and cf.volumes[0].options == {"performance.write-behind": "off"}
    with pytest.raises(ValueError, match="no name"):
        cluster_from_mapping({"volume": [{"replica": 3}]})
    path = tmp_path / "c.toml"
    path.write_text(
        'listen = ["tcp://127.0.0.1:0"]\nnodes = ["127.0.0.2"]\n[[volume]]\nname = "ec"\ndisperse = 3\nredundancy = 1\n'
    )
    with serve_process(["--cluster", str(path)]) as served:
        lines = served.lines
        port = served.port()
    assert lines[1:3] == [
        f"node {socket.gethostname()} tcp://127.0.0.1:{port}",
        f"node 127.0.0.2 tcp://127.0.0.2:{port}",
    ]
    assert [ln.split()[:4] for ln in lines if ln.startswith("brick")] == [
        ["brick", "ec", "0", f"{socket.gethostname()}:/fakegluster/ec/brick0"],
        ["brick", "ec", "1", "127.0.0.2:/fakegluster/ec/brick1"],
        ["brick", "ec", "2", f"{socket.gethostname()}:/fakegluster/ec/brick2"],
    ]


def test_store_of_a_multi_brick_volume_needs_a_brick():
    with FakeGluster(["vm;replica=2"], ["tcp://127.0.0.1:0"]) as server:
        with pytest.raises(ClusterError, match="name one"):
            server.store("vm")
        assert server.store("vm", brick=1) is server.bricks("vm")[1].store
        with pytest.raises(ClusterError, match="does not exist"):
            server.bricks("nope")


def test_a_frozen_brick_accepts_and_holds_every_call_until_it_thaws():
    with FakeGluster(["vm;replica=2"], ["tcp://127.0.0.1:0"]) as server:
        b1 = server.bricks("vm")[1]
        m = Mount("127.0.0.1", server.info.port, "vm", brick=1)
        b1.freeze()
        assert b1.status == "frozen" and b1.running
        m.raw.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            m.fop("STATFS", gfid=ROOT)
        # a new connection is accepted (the kernel does it) but DUMP is not answered either
        late = Raw("127.0.0.1", b1.port, timeout=0.3)
        with pytest.raises(TimeoutError):
            late.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID))
        assert _portbybrick("127.0.0.1", server.info.port, b1.path) == b1.port  # glusterd still lists it
        b1.thaw()
        m.raw.sock.settimeout(10)
        late.sock.settimeout(10)
        assert m.raw.event().result.op_ret == 0  # the held STATFS is answered now
        assert late.event().result.op_ret == 0
        assert m.fop("STATFS", gfid=ROOT).op_ret == 0
        late.close()
        m.close()


def test_glusterd_sends_fetchspec_to_every_connection_when_a_volume_changes():
    with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:0"], nodes=2) as server:
        watchers = [Raw("127.0.0.1", server.info.port), Raw("127.0.0.2", server.nodes[1].port)]
        for w in watchers:  # a client's management connection: GETSPEC, then it stays open
            assert w.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID)).result.op_ret == 0
        server.set_option("performance.write-behind", "off", "vm")
        for w in watchers:
            ev = w.event()
            assert (ev.prog, ev.vers, ev.proc, ev.xid) == (callback.GLUSTER_CBK_PROGRAM, 1, 1, 1)
            w.close()
        out = [r for r in server.calls if r.direction == "out"]
        assert [(r.server, r.proc) for r in out] == [("glusterd", "FETCHSPEC")] * 2


def test_glusterd_hands_out_brick_and_self_heal_daemon_volfiles_too():
    with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:0"]) as server:
        raw = Raw("127.0.0.1", server.info.port)
        m = server.volume_model("vm")
        req = {"max-op-version": "100000", "min-op-version": "1"}
        for key, xtype in (("shd/vm", "cluster/replicate"), (volgen.volfile_id(m, 1), "storage/posix")):
            r = raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, key, old_dict(req)))
            assert r.result.op_ret > 0 and parse_volfile(r.result.spec).of_type(xtype), key
        r = raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, "vm.tcp", old_dict(req)))
        assert r.result.op_ret > 0 and "remote-port" in r.result.spec  # the client volfile, as for "vm"
        r = raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, "shd/nope", old_dict(req)))
        assert (r.result.op_ret, r.result.op_errno) == (-1, errno.ENOENT)
        raw.close()


def test_volume_set_refuses_a_client_option_newer_than_a_connected_client():
    with FakeGluster(["vm;replica=2"], ["tcp://127.0.0.1:0"]) as server:
        old = Raw("127.0.0.1", server.info.port)  # a client that runs op-version 31000 at most
        req = old_dict({"max-op-version": "31000", "min-op-version": "1"})
        r = old.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, "vm", req))
        assert r.result.op_ret > 0
        assert server.cluster.clients("vm") == [(f"127.0.0.1:{old.sock.getsockname()[1]}", 1, 31000)]
        with pytest.raises(ClusterError, match="127.0.0.1"):  # performance.nl-cache: op-version 31100
            server.set_option("performance.nl-cache", "on", "vm")
        old.close()
        deadline = time.monotonic() + 5
        while server.cluster.clients("vm") and time.monotonic() < deadline:
            time.sleep(0.05)
        server.set_option("performance.nl-cache", "on", "vm")  # the old client is gone
