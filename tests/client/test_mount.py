"""Mounting against a scripted glusterd + brick (tests/client/scripted.py): the call sequence
of a 10.3 libgfapi client, SETVOLUME's dict, credentials, translators refused by name, failures
naming the server, and the reconnect after a ping-timeout (re-SETVOLUME, fd reopen)."""

from __future__ import annotations

import errno
import os
import re
import time
from pathlib import Path

import pytest
import trio

import gfclient
from fakegluster.decode import decode_capture
from fakegluster.mgmt.create import plain_volume
from fakegluster.mgmt.volgen import client_volfile
from fakegluster.proto.events import Call
from fakegluster.proto.gfdict import old_dict_text
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, AuthGlusterfsParmsV2, lk_owner_for_pid
from fakegluster.proto.volfile import parse_volfile
from gfclient.errors import GlusterConnectionError, UnsupportedVolumeError
from gfclient.graph import build_graph

from .scripted import DUMP, FOP, HNDSK, PMAP, ScriptedCluster

CAPTURE = Path(__file__).parents[2] / "fixtures" / "pcaps" / "qemu_create_write_read.pcap"
URI = "gluster://127.0.0.1/testvol"


def names(calls: list[Call]) -> list[tuple[int, int, int]]:
    return [(c.xid, c.prog, c.proc) for c in calls]


@pytest.fixture
async def cluster(monkeypatch, nursery):
    c = ScriptedCluster(nursery)
    monkeypatch.setattr("gfclient.mgmt.open_stream", c.open_stream)
    monkeypatch.setattr("gfclient.brick.open_stream", c.open_stream)
    return c


async def test_mount_sends_what_libgfapi_sends(cluster):
    async with gfclient.aio.connect(URI) as vol:
        assert (await vol.stat("/")).st_ino == 1
        mgmt, portmap, brick = cluster.conns
        assert (mgmt.port, portmap.port, portmap.host, brick.port, brick.host) == (24007, 24007, "vm", 49152, "vm")
        # gfapi mgmt: its own rpc client, GETSPEC is xid 2; then (unlike libgfapi, whose
        # volfile connection is never pinged) the keep-alive PING that notices a frozen glusterd
        getspec, ping = mgmt.calls
        assert (getspec.xid, getspec.prog, getspec.proc) == (2, HNDSK, 2)
        assert (ping.xid, ping.prog, ping.proc) == (3, DUMP, 2)
        assert (getspec.args.flags, getspec.args.key) == (1, "testvol")
        assert list(old_dict_text(getspec.args.xdata).items()) == [
            ("max-op-version", "100000"),
            ("min-op-version", "1"),
        ]
        # protocol/client: DUMP + PING, PORTBYBRICK on glusterd; then xids go on at the brick
        assert names(portmap.calls) == [(2, DUMP, 1), (3, DUMP, 2), (4, PMAP, 1)]
        assert portmap.calls[0].args.gfs_id == 0xCAED
        assert portmap.calls[2].args.brick == "/bricks/b0"
        assert names(brick.calls) == [(5, DUMP, 1), (6, DUMP, 2), (7, HNDSK, 1), (8, FOP, 14), (9, FOP, 27)]
        for c in [getspec, *portmap.calls, *brick.calls[:2]]:
            assert isinstance(c.cred, AuthGlusterfsParmsV2) and c.cred.pid == 0
        setvolume, statfs, lookup = brick.calls[2:]
        for c in (setvolume, statfs):  # v3 once DUMP listed FOP 400; internal frames: pid 0
            assert isinstance(c.cred, AuthGlusterfsParamsV3) and c.cred.pid == 0
        assert lookup.cred.pid == os.getpid() and lookup.cred.lk_owner == lk_owner_for_pid(os.getpid())
        assert lookup.args.gfid == bytes(15) + b"\x01" and lookup.args.bname == ""
        sv = old_dict_text(setvolume.args.dict)
        assert sv["remote-subvolume"] == "/bricks/b0" and sv["transport-type"] == "socket"
        assert re.fullmatch(
            r"CTX_ID:[0-9a-f-]{36}-GRAPH_ID:0-PID:\d+-HOST:.+-PC_NAME:testvol-client-0-RECON_NO:-0", sv["process-uuid"]
        )
        assert all(v.endswith(b"\0") for v in setvolume.args.dict.values())


def test_setvolume_dict_matches_a_real_client():
    """Same keys, same order, same values as qemu-img's SETVOLUME in the bundled capture."""
    events = [m.event for m in decode_capture(str(CAPTURE))]
    volfile = next(
        e.result.spec for e in events if getattr(e, "proc", None) == 2 and e.prog == HNDSK and not isinstance(e, Call)
    )
    real = next(e for e in events if isinstance(e, Call) and e.prog == HNDSK and e.proc == 1)
    real_dict = old_dict_text(real.args.dict)
    graph = build_graph(parse_volfile(volfile), "testvol", process_name=real_dict["process-name"], pid=3574)
    ours = old_dict_text(graph.bricks[0].setvolume_dict())
    assert list(ours) == list(real_dict)
    differ = {k for k in ours if ours[k] != real_dict[k]}
    assert differ == {"process-uuid"}  # CTX_ID and HOST are ours
    assert re.sub(r"CTX_ID:[^-]+(-[^-]+){4}|HOST:[^-]+", "", ours["process-uuid"]) == re.sub(
        r"CTX_ID:[^-]+(-[^-]+){4}|HOST:[^-]+", "", real_dict["process-uuid"]
    )


async def test_fop_credentials_carry_utime_flags(cluster):
    async with gfclient.aio.connect(URI) as vol:
        before = time.time_ns()
        async with await vol.fopen("f", "w") as f:
            await f.write(b"abc")
        async with await vol.fopen("f", "r") as f:
            assert await f.read() == b"abc"
        calls = {c.proc: c for c in cluster.conns[-1].calls[5:] if c.prog == FOP}
        create, write, open_, read, release = calls[23], calls[13], calls[11], calls[12], calls[41]
        assert create.cred.flags == 31 and write.cred.flags == 3
        assert open_.cred.flags == 0 and read.cred.flags == 0  # the volfile says noatime on
        assert before <= create.cred.ctime_sec * 10**9 + create.cred.ctime_nsec <= time.time_ns()
        assert calls[15].cred.flags == 0 and calls[15].cred.ctime_sec == 0  # FLUSH: not a utime fop
        assert release.cred.pid == 0 and release.args.xdata == {}
        assert create.args.xdata["gfid-req"].value == create.args.xdata["gfid-req"].value  # present
        assert create.args.flags == 0o1101 and create.args.mode == 0o666 and create.args.umask == 0
        assert open_.args.flags == 0


def test_translators_that_change_the_data_are_refused_by_name():
    volfile = client_volfile(plain_volume("testvol", ["vm:/b0", "vm:/b1"]), trusted=False)
    graph = parse_volfile(volfile)
    assert build_graph(graph, "testvol", process_name="p", pid=1).top.type == "cluster/distribute"
    shard = volfile + ("\nvolume testvol-shard\n    type features/shard\n    subvolumes testvol\nend-volume\n")
    with pytest.raises(UnsupportedVolumeError) as ei:
        build_graph(parse_volfile(shard), "testvol", process_name="p", pid=1)
    assert ei.value.errno == errno.EOPNOTSUPP
    assert "'testvol-shard' of type features/shard" in str(ei.value)


def test_graph_of_a_single_brick_without_dht():
    text = (
        "volume v-client-0\n type protocol/client\n option remote-host h\n option remote-subvolume /b\n"
        " option remote-port 5000\n option ping-timeout 10\nend-volume\n"
    )
    graph = build_graph(parse_volfile(text), "v", process_name="p", pid=1)
    (brick,) = graph.bricks
    c = brick.config
    assert (c.host, c.port, c.subvolume, c.ping_timeout) == ("h", 5000, "/b", 10)
    assert not graph.dht and not graph.utime and graph.top.type == "protocol/client"


async def test_unknown_volume_and_refused_brick_name_the_server(cluster):
    with pytest.raises(GlusterConnectionError) as ei:
        async with gfclient.aio.connect("gluster://127.0.0.1/nosuchvol"):
            pass
    assert ei.value.errno == errno.ENOENT
    assert "hint: failed on host 127.0.0.1 and port 24007" in str(ei.value)
    cluster.refuse.add(cluster.brick_port)
    with pytest.raises(GlusterConnectionError) as ei:
        async with gfclient.aio.connect(URI):
            pass
    assert ei.value.errno == errno.ECONNREFUSED
    assert "failed on host vm and port 49152" in str(ei.value)


async def test_reconnect_after_ping_timeout(cluster, autojump_clock):
    async with gfclient.aio.connect(URI) as vol:
        f = await vol.fopen("f", "w+")
        await f.write(b"before")
        old_fd = f.fd
        await trio.sleep(100)  # let the ping timers settle
        cluster.silent = True
        t0 = trio.current_time()
        with pytest.raises(GlusterConnectionError) as ei:
            await f.pread(6, 0)
        assert ei.value.errno == errno.ENOTCONN and "has not responded in the last 42 seconds" in str(ei.value)
        assert trio.current_time() - t0 == pytest.approx(42)
        with pytest.raises(GlusterConnectionError) as ei:  # while down: ENOTCONN at once
            await vol.stat("f")
        assert "not connected to brick /bricks/b0" in str(ei.value)
        assert f.fd == -1
        cluster.silent = False
        n = len(cluster.conns)
        await trio.sleep(3.5)  # the 3 s reconnect timer
        glusterd, brick = cluster.conns[n:]
        assert glusterd.port == 24007 and brick.port == 49152  # the port is asked for again
        assert [c.proc for c in glusterd.calls if c.prog != DUMP] == [1]  # PORTBYBRICK
        procs = [(c.prog, c.proc) for c in brick.calls if (c.prog, c.proc) != (DUMP, 2)]
        assert procs == [(DUMP, 1), (HNDSK, 1), (FOP, 11), (FOP, 14)]  # DUMP SETVOLUME OPEN STATFS
        assert min(c.xid for c in brick.calls) > max(c.xid for c in cluster.conns[n - 1].calls)
        sv = brick.calls[[c.proc for c in brick.calls].index(1, 1)].args.dict
        assert list(sv)[0] == "volume-id"  # learnt from the first SETVOLUME reply, sent first
        assert old_dict_text(sv)["process-uuid"].endswith("RECON_NO:-1")
        reopen = next(c for c in brick.calls if (c.prog, c.proc) == (FOP, 11))
        assert reopen.args.gfid == f.gfid and reopen.args.flags == 0o2  # O_RDWR; no CREAT/TRUNC
        assert f.fd != -1 and f.fd != old_fd
        assert await f.pread(6, 0) == b"before"
        await f.close()


async def test_unmount_releases_fds_left_open(cluster):
    async with gfclient.aio.connect(URI) as vol:
        f = await vol.fopen("left-open", "w")
        await f.write(b"x")
    brick = cluster.conns[-1].calls
    release = brick[-1]
    assert (release.prog, release.proc, release.args.gfid, release.cred.pid) == (FOP, 41, f.gfid, 0)
    assert f.closed


async def test_volfile_connection_is_kept_and_reconnected(cluster, autojump_clock):
    async with gfclient.aio.connect(URI) as vol:
        mgmt = cluster.conns[0]
        await trio.sleep(60)
        assert len(cluster.conns) == 3  # the GETSPEC connection stays open, nothing re-fetched
        await mgmt.peer.aclose()  # glusterd drops it
        await trio.sleep(3.5)  # gfapi's mgmt rpc reconnects after 3 s and fetches again
        again = cluster.conns[3]
        assert (again.port, [(c.xid, c.prog, c.proc) for c in again.calls]) == (24007, [(4, HNDSK, 2), (5, DUMP, 2)])
        assert (await vol.stat("/")).st_ino == 1  # the brick connection was not disturbed
