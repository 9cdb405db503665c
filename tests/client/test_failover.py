"""Timeouts, volfile-server fallback and graph switches against the scripted glusterd + brick
(tests/client/scripted.py), on trio's autojump clock: a frozen glusterd or brick fails calls
with ENOTCONN in bounded time, the user's timeouts beat the volfile's, a mount tries each
volfile server in turn, and a FETCHSPEC with a new volfile moves open files to a new graph."""

from __future__ import annotations

import errno

import pytest
import trio

import gfclient
from fakegluster.proto.gfdict import old_dict_text
from gfclient.errors import GlusterConnectionError

from .scripted import DUMP, FOP, HNDSK, ScriptedCluster

URI = "gluster://127.0.0.1/testvol"


@pytest.fixture
async def cluster(monkeypatch, nursery):
    c = ScriptedCluster(nursery)
    monkeypatch.setattr("gfclient.mgmt.open_stream", c.open_stream)
    monkeypatch.setattr("gfclient.brick.open_stream", c.open_stream)
    return c


async def test_a_frozen_glusterd_fails_the_mount_within_the_ping_timeout(cluster, autojump_clock):
    cluster.silent_glusterd = True
    t0 = trio.current_time()
    with pytest.raises(GlusterConnectionError) as ei:
        async with gfclient.aio.connect(URI, ping_timeout=5):
            pass
    assert ei.value.errno == errno.ENOTCONN
    assert "has not responded in the last 5 seconds" in str(ei.value)
    assert trio.current_time() - t0 == pytest.approx(5)


async def test_frame_timeout_bails_out_a_call_the_brick_never_answers(cluster, autojump_clock):
    async with gfclient.aio.connect(URI, frame_timeout=3, ping_timeout=1000) as vol:
        cluster.frozen_calls.add((FOP, 1))  # STAT
        t0 = trio.current_time()
        with pytest.raises(GlusterConnectionError) as ei:
            await vol.fops.stat(vol._names.root.ia_gfid)
        assert ei.value.errno == errno.ENOTCONN and "bailed out after 3 s (frame-timeout)" in str(ei.value)
        assert trio.current_time() - t0 == pytest.approx(3)
        assert (await vol.stat("/")).st_ino == 1  # LOOKUP still answered: the connection stays


async def test_user_timeouts_beat_the_volfile(cluster, autojump_clock):
    async with gfclient.aio.connect(URI, ping_timeout=7, frame_timeout=9, connect_timeout=4) as vol:
        c = vol.brick.config
        assert (c.ping_timeout, c.frame_timeout, c.connect_timeout) == (7, 9, 4)
        assert vol.brick.channel.ping_timeout == 7 and vol.mgmt.channel.ping_timeout == 7
    assert set(cluster.connect_timeouts) == {4}
    async with gfclient.aio.connect(URI) as vol:  # the volfile's 42, the default 1800 and 30
        c = vol.brick.config
        assert (c.ping_timeout, c.frame_timeout, c.connect_timeout) == (42, 1800, 30)


async def test_the_next_volfile_server_is_tried_when_one_cannot_be_reached(cluster):
    cluster.refuse.add(24099)
    async with gfclient.aio.connect("gluster://127.0.0.1:24099/testvol", servers=["127.0.0.2:24007"]) as vol:
        assert vol.mgmt.current == 1 and vol.mgmt.current_server.host == "127.0.0.2"
        assert (await vol.stat("/")).st_ino == 1
    tried = [(c.host, c.port) for c in cluster.conns if c.port != cluster.brick_port]
    assert tried[0] == ("127.0.0.2", 24007)  # the refused one never got a connection
    cluster.refuse.add(24007)
    with pytest.raises(GlusterConnectionError) as ei:
        async with gfclient.aio.connect("gluster://127.0.0.1:24099/testvol", servers=["unused:24007"]):
            pass
    assert ei.value.errno == errno.ECONNREFUSED
    assert "host 127.0.0.1 and port 24099, host unused and port 24007" in str(ei.value)


async def test_a_volfile_error_is_not_retried_elsewhere(cluster):
    with pytest.raises(GlusterConnectionError) as ei:
        async with gfclient.aio.connect("gluster://127.0.0.1/nosuchvol", servers=["127.0.0.2"]):
            pass
    assert ei.value.errno == errno.ENOENT
    assert [c.host for c in cluster.conns] == ["127.0.0.1"]


def test_volfile_server_specs():
    from gfclient.mgmt import VolfileServer

    assert VolfileServer.parse("h") == VolfileServer("tcp", "h", 24007)
    assert VolfileServer.parse("h:24008") == VolfileServer("tcp", "h", 24008)
    assert VolfileServer.parse("[::1]:5") == VolfileServer("tcp", "::1", 5)
    assert VolfileServer.parse("rdma://h") == VolfileServer("rdma", "h", 24007)
    assert VolfileServer.parse("unix:///run/glusterd.socket") == VolfileServer("unix", socket="/run/glusterd.socket")
    for bad in ("h:x", "unix://rel", "[::1", "h:0"):
        with pytest.raises(ValueError):
            VolfileServer.parse(bad)


async def test_fetchspec_with_a_new_volfile_moves_open_files_to_a_new_graph(cluster, autojump_clock):
    async with gfclient.aio.connect(URI) as vol:
        f = await vol.fopen("f", "w+")
        await f.write(b"before the switch")
        old_graph, old_fd = vol.graph, f.graph_fd
        n = len(cluster.conns)
        cluster.volfile = cluster.volfile.replace("option send-gids true", "option send-gids false")
        await cluster.conns[0].peer.callback(1)  # FETCHSPEC on the volfile connection
        await trio.sleep(1)
        assert vol.graph_switches == 1 and vol.graph is not old_graph and vol.graph.graph_id == 1
        assert f.graph_fd is not old_fd and f.graph_fd.top is vol.graph.top
        sv = next(c for c in cluster.conns[n:] for c in c.calls if (c.prog, c.proc) == (HNDSK, 1))
        assert "-GRAPH_ID:1-" in old_dict_text(sv.args.dict)["process-uuid"]
        assert await f.pread(100, 0) == b"before the switch"
        await f.write(b"!")
        await trio.sleep(1)  # the old graph retires: its fd released, its brick disconnected
        assert all(not b.up for b in old_graph.bricks)
        old_calls = [c for conn in cluster.conns[:n] for c in conn.calls]
        assert any((c.prog, c.proc) == (FOP, 41) and c.args.gfid == f.gfid for c in old_calls)  # RELEASE
        await f.close()
        async with await vol.fopen("f") as g:
            assert await g.read() == b"before the switch!"


async def test_fetchspec_with_only_new_timeouts_keeps_the_graph(cluster, autojump_clock):
    async with gfclient.aio.connect(URI) as vol:
        graph = vol.graph
        cluster.volfile = cluster.volfile.replace("option ping-timeout 42", "option ping-timeout 13")
        await cluster.conns[0].peer.callback(1)
        await trio.sleep(1)
        assert vol.graph is graph and vol.graph_switches == 0
        assert vol.brick.config.ping_timeout == 13 and vol.brick.channel.ping_timeout == 13
        getspecs = [c for c in cluster.conns[0].calls if (c.prog, c.proc) == (HNDSK, 2)]
        assert len(getspecs) == 2
        assert not any((c.prog, c.proc) == (DUMP, 1) for conn in cluster.conns[3:] for c in conn.calls)
