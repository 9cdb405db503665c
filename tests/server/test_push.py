"""The shell's connection handle: deferred replies, server-to-client CALLs, closing, and
output that the kernel does not take at once (more buffers than IOV_MAX, a slow reader).

Sessions here are small fakes on the GF-DUMP program; the last test drives a real brick.
"""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from fakegluster.proto import NEED_DATA, Call, ConnectionClosed, Reply, Role, RpcConnection, callback, dump, fops
from fakegluster.server import FakeGluster
from fakegluster.server.calllog import CallLog
from fakegluster.server.handle import DEFERRED
from fakegluster.server.net import serve_socket, serve_stream
from tests.rawclient import ROOT, Mount, v3

PROGRAMS = (dump.PROGRAM.only(["DUMP", "PING"]),)
DUMP, PING = dump.GfDumpProc.GF_DUMP_DUMP, dump.GfDumpProc.GF_DUMP_PING
FETCHSPEC = callback.GfCbkProcnum.GF_CBK_FETCHSPEC


class LateSession:
    """PING waits; the next DUMP first answers the waiting PING, then sends a FETCHSPEC
    callback, then answers itself."""

    def __init__(self) -> None:
        self.conn = None
        self.waiting: list[Call] = []
        self.closed = []

    def attach(self, conn) -> None:
        self.conn = conn
        conn.on_close(lambda: self.closed.append(True))

    def handle(self, call: Call):
        if call.proc == PING:
            self.waiting.append(call)
            return DEFERRED, b""
        for late in self.waiting:
            self.conn.reply(late, dump.GfCommonRsp(0, 0, None))
        self.waiting.clear()
        self.conn.send_call(callback.GLUSTER_CBK_PROGRAM, 1, FETCHSPEC)
        return dump.GfDumpRsp(0, 0, 0, ()), b""


def _events(client: RpcConnection, data: bytes) -> list:
    client.receive_data(data)
    out = []
    while (ev := client.next_event()) is not NEED_DATA:
        out.append(ev)
    return out


def _summary(events: list) -> list[tuple]:
    return [
        ("reply", ev.xid, ev.proc) if isinstance(ev, Reply) else ("call", ev.xid, ev.prog, ev.proc) for ev in events
    ]


EXPECTED = [("reply", 1, PING), ("call", 1, callback.GLUSTER_CBK_PROGRAM, FETCHSPEC), ("reply", 2, DUMP)]


async def _exchange(send, receive) -> list:
    client = RpcConnection(Role.CLIENT)
    await send(client.send(Call(1, dump.GF_DUMP_PROGRAM, 1, PING)))
    await send(client.send(Call(2, dump.GF_DUMP_PROGRAM, 1, DUMP, dump.GfDumpReq(dump.GFS_ID))))
    events: list = []
    with trio.fail_after(5):
        while len(events) < 3:
            events += _events(client, await receive())
    return events


async def test_deferred_reply_and_callback_over_a_stream():
    server_stream, client_stream = trio.testing.memory_stream_pair()
    session, calls = LateSession(), CallLog()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: serve_stream(server_stream, session, PROGRAMS, name="t", peer="mem", connection_id=7, calls=calls)
        )
        events = await _exchange(client_stream.send_all, lambda: client_stream.receive_some(65536))
        assert _summary(events) == EXPECTED
        await client_stream.aclose()
    assert session.closed == [True]
    records = list(calls)
    assert [(r.proc, r.direction) for r in records] == [("PING", "in"), ("FETCHSPEC", "out"), ("DUMP", "in")]


async def test_deferred_reply_and_callback_over_a_socket():
    a, b = socket.socketpair()
    a.setblocking(False)
    session = LateSession()
    peer = trio.socket.from_stdlib_socket(b)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: serve_socket(a, session, PROGRAMS, name="t", peer="pair", connection_id=8))
        events = await _exchange(peer.send, lambda: peer.recv(65536))
        assert _summary(events) == EXPECTED
        peer.close()
    assert session.closed == [True]


class ClosingSession:
    def attach(self, conn) -> None:
        self.conn = conn

    def handle(self, call: Call):
        self.conn.close()
        return DEFERRED, b""


async def test_the_server_closes_a_connection():
    server_stream, client_stream = trio.testing.memory_stream_pair()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: serve_stream(server_stream, ClosingSession(), PROGRAMS, name="t", peer="mem", connection_id=9)
        )
        client = RpcConnection(Role.CLIENT)
        await client_stream.send_all(client.send(Call(1, dump.GF_DUMP_PROGRAM, 1, PING)))
        with trio.fail_after(5):
            assert await client_stream.receive_some(100) == b""


@pytest.mark.parametrize("count", [2 * 1024 + 17])
def test_more_pipelined_reads_than_iov_max_are_all_answered(count):
    """Each READ reply is a header and a payload buffer: thousands of them pipelined in one
    write make more buffers than one sendmsg takes (a real 10.3 brick answered 4,000)."""
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        f = m.create(ROOT, "pipelined")
        m.fop("WRITE", gfid=f.stat.ia_gfid, fd=f.fd, offset=0, size=8, payload=b"abcdefgh")
        raw = m.raw
        read = fops.PROGRAM["READ"]
        first = raw.xid + 1
        blob = b"".join(
            raw.conn.send(
                Call(
                    first + i,
                    fops.GLUSTER_FOP_PROGRAM,
                    400,
                    read.num,
                    read.args(gfid=f.stat.ia_gfid, fd=f.fd, offset=i % 8, size=1),
                    cred=v3(),
                )
            )  # fmt: skip
            for i in range(count)
        )
        raw.xid += count
        raw.sock.sendall(blob)
        got = {}
        while len(got) < count:
            ev = raw.event()
            assert not isinstance(ev, ConnectionClosed), f"closed after {len(got)} replies"
            got[ev.xid] = bytes(ev.payload)
        assert got == {first + i: b"abcdefgh"[i % 8 : i % 8 + 1] for i in range(count)}
        m.close()
