"""The server as a library and as a process: readiness through ``nursery.start``, isolation
of misbehaving clients, the call log, fault injection, clean shutdown, durability."""

from __future__ import annotations

import errno
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest
import trio

from fakegluster.proto import NEED_DATA, Call, Role, RpcConnection, dump, handshake
from fakegluster.proto.record import frame
from fakegluster.server import FakeGluster
from fakegluster.store.memory import MemoryStore
from fakegluster.testing.serve import serve_process
from tests.rawclient import ROOT, V2, Mount, Raw


async def _trio_call(host: str, port: int, call: Call):
    stream = await trio.open_tcp_stream(host, port)
    conn = RpcConnection(Role.CLIENT)
    await stream.send_all(conn.send(call))
    while True:
        ev = conn.next_event()
        if ev is not NEED_DATA:
            await stream.aclose()
            return ev
        conn.receive_data(await stream.receive_some(65536))


async def test_serve_reports_readiness_through_nursery_start(tmp_path):
    sock = tmp_path / "g.sock"
    store = MemoryStore()
    server = FakeGluster([("vol1", store)], ["tcp://127.0.0.1:0", f"unix://{sock}"])
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            info = await nursery.start(server.serve)
            assert info.port > 0 and sock.exists() and info.volumes == ["vol1"]
            assert info.uri("vol1", "a.img") == f"gluster://127.0.0.1:{info.port}/vol1/a.img"
            assert info.uri("vol1", "a.img", transport="unix") == f"gluster+unix:///vol1/a.img?socket={sock}"
            reply = await _trio_call(
                "127.0.0.1",
                info.port,
                Call(2, handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, "vol1", None), cred=V2),
            )
            assert reply.result.op_ret == -1 and reply.result.op_errno == errno.ENOTSUP  # no op-version range
            nursery.cancel_scope.cancel()
    assert not sock.exists()  # the unix socket file is removed on the way out


def test_sync_context_manager_and_store_access():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        f = m.create(ROOT, "made-remotely")
        assert f.op_ret == 0
        attr = server.run_sync(server.store("v").lookup, ROOT, "made-remotely")
        assert attr.gfid == f.stat.ia_gfid
        m.close()


def test_misbehaving_clients_cost_nothing_to_others():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"], max_record=1 << 20) as server:
        port = server.info.port
        m = Mount("127.0.0.1", port, "v")
        d = m.mkdir(ROOT, "iso").stat.ia_gfid
        bad = []
        for junk in (
            b"\x00\x00\x00\x05hello",
            struct.pack(">I", 0x80000000 | (1 << 30)) + b"x" * 100,
            frame(b"\xff" * 64),
            struct.pack(">I", 0x80000000 | 4096) + b"half a message",
        ):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(junk)
            bad.append(s)
        # a client that sends half a message and vanishes
        bad.pop().close()
        for i in range(20):  # the good client goes on undisturbed
            assert m.create(d, f"f{i}").op_ret == 0
        # the oversized record got the connection closed, the others at most an error reply
        oversized = bad[1]
        oversized.settimeout(5)
        assert oversized.recv(100) == b""
        for s in bad:
            s.close()
        assert m.fop("STAT", gfid=d).op_ret == 0
        m.close()


def test_call_log_records_every_call_decoded():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        c = m.create(ROOT, "logged.img")
        m.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=3, payload=b"abc")
        server.calls.assert_called("GETSPEC", count=1, server="glusterd")
        server.calls.assert_called("PORTBYBRICK", count=1)
        server.calls.assert_called("SETVOLUME", server="brick:v:0")
        [create] = server.calls.assert_called("CREATE", bname="logged.img")
        assert create.op_ret == 0 and create.result.stat.ia_gfid == c.stat.ia_gfid
        server.calls.assert_called("WRITE", count=1, size=3)
        with pytest.raises(AssertionError, match="1 call\\(s\\) of WRITE"):
            server.calls.assert_called("WRITE", count=2)
        server.calls.assert_not_called("UNLINK")
        assert server.calls.procs(server="brick")[-2:] == ["CREATE", "WRITE"]
        m.close()


def test_fault_injection_errno_nth_delay_drop():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        c = m.create(ROOT, "faulty")
        g, fd = c.stat.ia_gfid, c.fd

        def write():
            return m.fop("WRITE", gfid=g, fd=fd, offset=0, size=1, payload=b"x").result

        with server.faults.inject("WRITE", errno=errno.EIO, nth=3):
            assert [write().op_errno for _ in range(4)] == [0, 0, errno.EIO, 0]
        assert write().op_ret == 1  # the rule is gone with its context
        server.faults.inject("STAT", delay=0.3)
        t0 = time.monotonic()
        assert m.fop("STAT", gfid=g).op_ret == 0 and time.monotonic() - t0 >= 0.3
        server.faults.inject("FSTAT", action="drop")
        with pytest.raises(OSError):
            m.fop("FSTAT", gfid=g, fd=fd)
        faults = [r for r in server.calls if r.error and r.error.startswith("fault")]
        assert [r.proc for r in faults] == ["WRITE", "FSTAT"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_uris_then_ready_and_stops_cleanly(tmp_path, sig):
    sock = tmp_path / "gd.sock"
    served = serve_process(volumes=["a", f"b={tmp_path}"], listen=["tcp://127.0.0.1:0", f"unix://{sock}"])
    port = served.port()
    assert served.lines == [
        f"listening tcp://127.0.0.1:{port}",
        f"listening unix://{sock}",
        f"volume a gluster://127.0.0.1:{port}/a/ gluster+unix:///a/?socket={sock}",
        f"volume b gluster://127.0.0.1:{port}/b/ gluster+unix:///b/?socket={sock}",
    ]
    assert served.stop(sig) == 0
    assert not sock.exists()
    assert sorted(os.listdir(tmp_path)) == [".fakegluster"]  # at most one hidden entry added


@pytest.mark.parametrize(
    "args,message",
    [
        (["--listen", "http://x:1"], "the scheme must be tcp:// or unix://"),
        (["--listen", "tcp://127.0.0.1"], "a tcp listener is tcp://HOST:PORT"),
        (["--volume", "bad.name"], "libgfapi refuses '.'"),
        (["--volume", "v=/no/such/dir"], "is not a directory"),
        (["--listen", "unix:///" + "x" * 120], "at most 107 bytes"),
    ],
)
def test_cli_refuses_bad_arguments_clearly(args, message):
    p = subprocess.run(
        [sys.executable, "-m", "fakegluster", "serve", *args], capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 2 and message in p.stderr


def test_a_write_acknowledged_by_fsync_survives_kill_9(tmp_path):
    served = serve_process(volumes=[f"d={tmp_path}"], listen=["tcp://127.0.0.1:0"])
    m = Mount("127.0.0.1", served.port(), "d")
    c = m.create(ROOT, "durable.img")
    data = os.urandom(256 << 10)
    assert m.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=4096, size=len(data), payload=data).result.op_ret == len(
        data
    )
    assert m.fop("FSYNC", gfid=c.stat.ia_gfid, fd=c.fd, data=0).op_ret == 0
    served.stop(signal.SIGKILL)
    m.close()
    on_disk = (tmp_path / "durable.img").read_bytes()
    assert on_disk[4096:] == data and on_disk[:4096] == bytes(4096)
    with serve_process(volumes=[f"d={tmp_path}"], listen=["tcp://127.0.0.1:0"]) as served:
        m = Mount("127.0.0.1", served.port(), "d")
        assert m.fop("LOOKUP", pargfid=ROOT, bname="durable.img").prestat.ia_gfid == c.stat.ia_gfid
        m.close()


def test_raw_client_probe_types():
    # keep the raw helpers honest: a DUMP through Raw decodes
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        r = Raw("127.0.0.1", server.info.port).call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID))
        # a real 10.3 lists GF-DUMP, GlusterD svc peer, GlusterD svc cli read-only, GlusterD svc mgmt
        # (v2, v3), Gluster Portmap, Gluster Handshake, Gluster MGMT Handshake: the fake, what it serves
        assert [p.progname for p in r.result.prog] == [
            "GF-DUMP",
            "GlusterD svc cli read-only",
            "Gluster Portmap",
            "Gluster Handshake",
        ]
