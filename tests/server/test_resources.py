"""One client must not hurt the others (issue #14 "Resources"): a connection limit, a call
log bounded by bytes, slices of work with back-pressure, and costly decodes off the trio
thread.  These tests check the behaviour; the numbers (memory per idle connection, accept
rate, stalls) are measured by ``make bench-resources`` (bench/resources.py)."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest

from fakegluster.proto import NEED_DATA, Call, Role, RpcConnection, dump, fops
from fakegluster.proto.events import Expensive
from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from fakegluster.server.calllog import CallLog, Dropped
from fakegluster.server.net import SLICE_CALLS, Dispatcher
from fakegluster.testing.serve import serve_process
from tests.rawclient import ROOT, Mount, v3

DUMP = RpcConnection(Role.CLIENT).send(Call(1, dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID)))


def _answered(sock: socket.socket) -> bool:
    sock.settimeout(10)
    sock.sendall(DUMP)
    try:
        return len(sock.recv(4096)) > 0
    except ConnectionResetError:
        return False


def test_a_connection_over_the_limit_is_closed_at_once():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"], max_connections=3) as server:
        held = [socket.create_connection(("127.0.0.1", server.info.port)) for _ in range(3)]
        assert all(_answered(s) for s in held)
        extra = socket.create_connection(("127.0.0.1", server.info.port))
        extra.settimeout(10)
        assert extra.recv(10) == b""  # closed without a word
        held.pop().close()
        deadline = time.monotonic() + 10
        while server.connections.current >= 3:  # the server saw the close
            assert time.monotonic() < deadline
            time.sleep(0.01)
        again = socket.create_connection(("127.0.0.1", server.info.port))
        assert _answered(again)
        assert server.connections.refused == 1
        for s in (*held, extra, again):
            s.close()


def test_the_call_log_is_bounded_by_bytes_and_drops_oversized_fields():
    log = CallLog(max_bytes=1 << 20)
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"], call_log=log) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        for _ in range(20):  # 20 x 4 MiB names on the wire; ENAMETOOLONG
            assert m.fop("LOOKUP", gfid=bytes(16), pargfid=ROOT, bname="n" * (4 << 20)).op_errno == 36
        m.close()
    [first, *_] = log.find("LOOKUP", bname=Dropped("str", 4 << 20))
    assert first.op_errno == 36
    assert log.bytes <= 1 << 20 and len(log.find("LOOKUP")) == 20
    small = CallLog(max_bytes=50_000)
    for i in range(1000):
        small.append((0.0, "b", 1, "p", 1, 1, 1, i, None, None, None), 100)
    assert small.bytes <= 50_000 and small.dropped > 0
    assert [r.xid for r in small][-1] == 999  # the oldest go first


def test_serve_keeps_no_call_log_unless_asked(tmp_path):
    assert FakeGluster(["v"], ["tcp://127.0.0.1:0"], call_log=False).calls is None
    path = tmp_path / "calls.jsonl"
    with serve_process(["--call-log", str(path)], listen=["tcp://127.0.0.1:0"]) as served:
        m = Mount("127.0.0.1", served.port(), "testvol")
        m.fop("STAT", gfid=ROOT)
        m.close()
    procs = [json.loads(line)["proc"] for line in path.read_text().splitlines()]
    assert procs[:3] == ["GETSPEC", "DUMP", "PORTBYBRICK"] and procs[-1] == "STAT"


class _Echo:
    def handle(self, call):
        return fops.GfxCommonRsp(0, 0, None), b""


def test_a_receive_full_of_calls_is_answered_one_slice_at_a_time():
    d = Dispatcher(
        _Echo(), [fops.BRICK_PROGRAM], name="b", peer="t", connection_id=1, calls=None, faults=None, max_record=None
    )
    client = RpcConnection(Role.CLIENT)
    n = 3 * SLICE_CALLS + 5
    data = b"".join(
        client.send(Call(i, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.FLUSH, fops.GfxFlushReq(ROOT, 0, None)))
        for i in range(n)
    )
    slices = [d.feed(data)]
    while d.more:
        slices.append(d.resume())
    assert [len(s) for s in slices] == [SLICE_CALLS] * 3 + [5]
    client.receive_data(b"".join(bytes(b) for s in slices for b in s))
    xids = []
    while (ev := client.next_event()) is not NEED_DATA:
        xids.append(ev.xid)
    assert xids == list(range(n))


def test_a_record_costly_to_decode_is_handed_out_undecoded():
    client, server = RpcConnection(Role.CLIENT), RpcConnection(Role.SERVER, [fops.BRICK_PROGRAM])
    big = {f"k{i}": GfxValue.int(i) for i in range(20_000)}
    lookup = fops.GfxLookupReq(bytes(16), ROOT, 0, "x", big)
    write = fops.GfxWriteReq(ROOT, 0, 0, 1 << 20, 0, None)
    server.receive_data(client.send(Call(1, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.LOOKUP, lookup)))
    server.receive_data(client.send(Call(2, fops.GLUSTER_FOP_PROGRAM, 400, 13, write, payload=bytes(1 << 20))))
    ev = server.next_event(max_cost=64 * 1024)
    assert isinstance(ev, Expensive)
    assert server.decode_record(ev.record).args == lookup
    w = server.next_event(max_cost=64 * 1024)  # 1 MiB, but its payload costs nothing to decode
    assert isinstance(w, Call) and len(w.payload) == 1 << 20


def test_a_client_that_never_reads_its_replies_is_not_read_either():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"], call_log=False) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        c = m.create(ROOT, "big")
        m.fop("TRUNCATE", gfid=c.stat.ia_gfid, offset=1 << 20)
        greedy = RpcConnection(Role.CLIENT)
        req = fops.GfxReadReq(c.stat.ia_gfid, c.fd, 0, 1 << 20, 0, None)
        calls = b"".join(greedy.send(Call(i, fops.GLUSTER_FOP_PROGRAM, 400, 12, req, cred=v3())) for i in range(50_000))
        m.raw.sock.settimeout(2)
        sent = 0
        with pytest.raises(TimeoutError):  # 50,000 x 1 MiB of replies are never read: the server stops reading
            while sent < len(calls):
                sent += m.raw.sock.send(calls[sent : sent + 65536])
        assert sent < len(calls) // 2
        other = Mount("127.0.0.1", server.info.port, "v")  # meanwhile the others are served
        for _ in range(20):
            assert other.fop("STAT", gfid=ROOT).op_ret == 0
        other.close()
        m.close()


def test_a_costly_decode_does_not_hold_up_the_other_clients():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"], call_log=False) as server:
        port = server.info.port
        big = Mount("127.0.0.1", port, "v")
        other = Mount("127.0.0.1", port, "v")
        conn = RpcConnection(Role.CLIENT)
        xdata = {f"k{i}": GfxValue.int(i) for i in range(1_000_000)}
        wire = conn.send(
            Call(9, fops.GLUSTER_FOP_PROGRAM, 400, 27, fops.GfxLookupReq(bytes(16), ROOT, 0, "x", xdata), cred=v3())
        )
        order = []

        def send_big() -> None:
            big.raw.sock.sendall(wire)
            big.raw.sock.settimeout(60)
            rec = big.raw.sock.recv(4)
            order.append(("big", struct.unpack(">I", rec)[0] > 0))

        t = threading.Thread(target=send_big)
        t.start()
        time.sleep(0.5)  # the big record (24 MB) is being received and decoded now
        for _ in range(20):
            assert other.fop("STAT", gfid=ROOT).op_ret == 0
        order.append(("other", True))
        t.join()
        assert order == [("other", True), ("big", True)]
        big.close()
        other.close()


def test_a_fault_errno_no_int32_holds_is_answered_system_err():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"], call_log=False) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        with pytest.raises(ValueError, match="not an errno"):
            server.faults.inject("STAT", errno=2**40)  # refused at once (Faults.inject checks)
        with server.faults.inject("STAT") as rule:
            rule.errno = 2**40  # a rule holding one anyway: the reply cannot be encoded
            assert m.fop("STAT", gfid=ROOT).stat == 5  # SYSTEM_ERR, and the connection goes on
        assert m.fop("STAT", gfid=ROOT).op_ret == 0
        m.close()


async def test_a_failing_connection_task_ends_that_connection_only(caplog):
    """Whatever escapes a connection's task is logged and ends that connection, never the
    listener (nor the server)."""
    import logging

    import trio

    from fakegluster.server.net import serve_listener

    caplog.set_level(logging.CRITICAL, logger="fakegluster")
    served = []

    async def handler(sock, addr):
        served.append(addr)
        if len(served) == 1:
            raise RuntimeError("a bug in one connection")
        sock.close()

    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    port = lsock.getsockname()[1]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_listener, lsock, handler, nursery)
        for _ in range(2):
            s = await trio.open_tcp_stream("127.0.0.1", port)
            with trio.fail_after(10):
                while len(served) < _ + 1:
                    await trio.sleep(0.01)
            await s.aclose()
        nursery.cancel_scope.cancel()
    assert len(served) == 2
