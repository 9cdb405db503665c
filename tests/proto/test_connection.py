"""RpcConnection: the pair harness, the rpcsvc error order, record marking, and the invariant
"any input either decodes or raises ProtocolError" on whole and byte-at-a-time feeds."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import (
    NEED_DATA,
    AcceptStat,
    AuthStat,
    Call,
    ConnectionClosed,
    Denied,
    ProtocolError,
    RejectStat,
    Reply,
    Role,
    RpcConnection,
    dump,
    error_reply,
    fops,
    handshake,
)
from fakegluster.proto.common import ROOT_GFID, GfxIattx
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.record import RecordReader, frame
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, AuthGlusterfsParmsV2, lk_owner_for_pid

BRICK = [
    dump.PROGRAM,
    handshake.PROGRAM.only(["NULL", "SETVOLUME", "GETSPEC", "PING", "SET_LK_VER"]),
    fops.BRICK_PROGRAM,
]
V2 = AuthGlusterfsParmsV2(pid=0, lk_owner=lk_owner_for_pid(0))
V3 = AuthGlusterfsParamsV3(
    pid=3574, flags=31, ctime_nsec=957451958, ctime_sec=1795627276, lk_owner=lk_owner_for_pid(3574)
)


def events(conn: RpcConnection) -> list:
    out = []
    while True:
        try:
            ev = conn.next_event()
        except ProtocolError as exc:
            out.append(("error", exc.reply, exc.xid, exc.fatal))
            if exc.fatal:
                return out
            continue
        if ev is NEED_DATA:
            return out
        out.append(ev)
        if isinstance(ev, ConnectionClosed):
            return out


def pair():
    return RpcConnection(Role.CLIENT), RpcConnection(Role.SERVER, BRICK)


def test_call_and_reply_round_trip_through_a_pair():
    client, server = pair()
    lookup = fops.GfxLookupReq(pargfid=ROOT_GFID, bname="b.raw", xdata={"gfid-req": GfxValue.uuid(bytes(range(16)))})
    call = Call(9, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.LOOKUP, lookup, cred=V3)
    server.receive_data(client.send(call))
    [got] = events(server)
    assert got.args == lookup and got.cred == V3 and got.xid == 9 and bytes(got.payload) == b""
    rsp = fops.GfxCommon2iattRsp(op_ret=-1, op_errno=2)
    client.receive_data(server.send(Reply(9, rsp)))
    [reply] = events(client)
    assert reply.result == rsp and reply.proc == fops.GfFop.LOOKUP and reply.stat == AcceptStat.SUCCESS
    assert client.outstanding == {}


def test_write_payload_rides_raw_after_the_header_and_read_payload_after_the_reply():
    client, server = pair()
    data = bytes(range(256)) * 4
    req = fops.GfxWriteReq(gfid=bytes(16), fd=0, offset=0, size=len(data))
    wire = client.send(Call(5, 1298437, 400, fops.GfFop.WRITE, req, cred=V3, payload=data))
    assert wire.endswith(data) and len(wire) == 4 + 132 + len(data)  # PROTOCOL.md §3.7: a 132-byte header
    server.receive_data(wire)
    [got] = events(server)
    assert bytes(got.payload) == data and got.args == req
    client2, server2 = pair()
    server2.receive_data(client2.send(Call(7, 1298437, 400, fops.GfFop.READ, fops.GfxReadReq(size=5), cred=V3)))
    events(server2)
    rsp = fops.GfxReadRsp(op_ret=5, stat=GfxIattx(ia_size=5), size=5)
    wire = server2.send(Reply(7, rsp, payload=b"hello"))
    assert len(wire) == 4 + 196 + 5  # the data starts at record offset 196 with NULL xdata
    client2.receive_data(wire)
    [reply] = events(client2)
    assert reply.result == rsp and bytes(reply.payload) == b"hello"


def call_bytes(xid=2, prog=123451501, vers=1, proc=1, cred=None, args=b"\0\0\0\0\0\0\xca\xed", rpcvers=2):
    cred = cred if cred is not None else struct.pack(">II", 0, 0)
    return frame(struct.pack(">IIIIII", xid, 0, rpcvers, prog, vers, proc) + cred + struct.pack(">II", 0, 0) + args)


# What a real glusterd / brick 10.3 answers (probed with raw sockets; see the README notes):
# PROG_MISMATCH carries 0..0, and an undecodable header, rpcvers != 2 or a REPLY sent to a
# server get GARBAGE_ARGS with xid 0.
@pytest.mark.parametrize(
    "record,reply,xid,extra",
    [
        (call_bytes(prog=999), "PROG_UNAVAIL", 2, {}),
        (call_bytes(vers=7), "PROG_MISMATCH", 2, {"low": 0, "high": 0}),
        (call_bytes(proc=9), "PROC_UNAVAIL", 2, {}),
        (call_bytes(prog=14398633, vers=2, proc=2, args=b"\0\0"), "GARBAGE_ARGS", 2, {}),
        (call_bytes(rpcvers=3), "GARBAGE_ARGS", 0, {}),
        (call_bytes(prog=1298437, vers=400, proc=fops.GfFop.PUT), "PROC_UNAVAIL", 2, {}),
        (call_bytes(prog=1298437, vers=400, proc=fops.GfFop.COMPOUND), "GARBAGE_ARGS", 2, {}),
        (call_bytes(prog=1298437, vers=330, proc=1), "PROG_MISMATCH", 2, {"low": 0, "high": 0}),
        (frame(struct.pack(">II", 2, 0) + b"\0\0\0\x02"), "GARBAGE_ARGS", 0, {}),
        (frame(struct.pack(">IIIIII", 9, 1, 0, 0, 0, 0)), "GARBAGE_ARGS", 0, {}),
        (frame(b"\0\0\0\1"), "GARBAGE_ARGS", 0, {}),
    ],
)
def test_rpcsvc_error_replies_and_the_connection_goes_on(record, reply, xid, extra):
    server = RpcConnection(Role.SERVER, BRICK)
    server.receive_data(record + call_bytes(xid=3))
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    exc = info.value
    assert exc.reply == reply and exc.xid == xid and not exc.fatal
    for key, value in extra.items():
        assert getattr(exc, key) == value
    follow = server.next_event()
    assert isinstance(follow, Call) and follow.xid == 3 and follow.args.gfs_id == 0xCAED
    # The reply bytes decode as that reply on a client that made the call.
    client = RpcConnection(Role.CLIENT)
    client.expect_reply(xid, exc.prog or 0, exc.vers or 0, exc.proc or 0)
    client.receive_data(error_reply(exc))
    [answer] = events(client)
    if reply in RejectStat.__members__:
        assert isinstance(answer, Denied) and answer.reject_stat == RejectStat[reply]
        if reply == "AUTH_ERROR":
            assert answer.auth_stat == AuthStat.AUTH_BADCRED
    else:
        assert isinstance(answer, Reply) and answer.stat == AcceptStat[reply]
        assert (answer.low, answer.high) == (extra.get("low", 0), extra.get("high", 0))


def test_credentials_are_never_refused():
    """rpcsvc 10.3 accepts malformed and unknown credentials (no AUTH_ERROR)."""
    server = RpcConnection(Role.SERVER, BRICK)
    bad_v2 = struct.pack(">II", 390039, 4) + b"\0\0\0\0"
    server.receive_data(call_bytes(cred=bad_v2) + call_bytes(xid=3, cred=struct.pack(">II", 7, 0)))
    first, second = events(server)
    assert first.cred.flavor == 390039 and first.cred.body == b"\0\0\0\0"
    assert second.cred.flavor == 7 and second.xid == 3


def test_dump_arguments_are_not_decoded_by_the_server():
    """rpcsvc_dump never decodes gf_dump_req: short arguments still get the program list."""
    server = RpcConnection(Role.SERVER, BRICK)
    server.receive_data(call_bytes(args=b"\0\0"))
    [call] = events(server)
    assert call.args is None and bytes(call.payload) == b"\0\0"


def test_record_cap_is_enforced_from_the_fragment_header():
    server = RpcConnection(Role.SERVER, BRICK, max_record=1000)
    server.receive_data(struct.pack(">I", 0x80000000 | 1001))  # no body buffered at all
    with pytest.raises(ProtocolError) as info:
        server.next_event()
    assert info.value.fatal and info.value.reply == "CLOSE"
    with pytest.raises(ProtocolError):
        server.next_event()  # stays broken


def test_record_cap_counts_earlier_fragments():
    reader = RecordReader(max_record=100)
    reader.feed(struct.pack(">I", 60) + bytes(60) + struct.pack(">I", 0x80000000 | 41))
    with pytest.raises(ProtocolError):
        reader.next_record()


def _records(reader: RecordReader, wire: bytes, chop: int) -> list:
    """What ``reader`` hands out for ``wire`` received ``chop`` bytes at a time."""
    got = []
    for i in range(0, len(wire), chop):
        reader.feed(wire[i : i + chop])
        while (rec := reader.next_record()) is not None:
            got.append(rec)
    return got


@pytest.mark.parametrize("chop", [1 << 20, 4096, 1000])
def test_large_records_are_handed_out_without_a_copy_and_nothing_is_lost(chop):
    from fakegluster.proto.record import ZERO_COPY_RECORD

    big, small = bytes(range(256)) * (ZERO_COPY_RECORD // 128), b"tail-record"
    wire = frame(big) + frame(small) + frame(big[:ZERO_COPY_RECORD])
    reader = RecordReader()
    got = _records(reader, wire, chop)
    assert [bytes(r) for r in got] == [big, small, big[:ZERO_COPY_RECORD]]
    assert isinstance(got[0], memoryview) and got[0].readonly and isinstance(got[1], bytes)
    assert reader.buffered == 0


@pytest.mark.parametrize("chop", [1 << 20, 300_000, 65_536, 777])
def test_big_records_received_together_are_views_of_one_buffer_that_later_bytes_leave_alone(chop):
    from fakegluster.proto.record import ZERO_COPY_RECORD

    records = [bytes([i]) * (ZERO_COPY_RECORD + i * 1000) for i in range(1, 5)]
    records.insert(2, b"small")
    wire = b"".join(frame(r) for r in records) * 2
    reader = RecordReader()
    got = _records(reader, wire, chop)
    # every view still holds its own record after everything that was fed after it
    assert [bytes(r) for r in got] == records * 2
    assert reader.buffered == 0


def test_multi_fragment_records_are_accepted():
    record = call_bytes()[4:]
    pieces = [record[:5], record[5:6], b"", record[6:]]
    wire = b"".join(struct.pack(">I", len(p)) + p for p in pieces[:-1])
    wire += struct.pack(">I", 0x80000000 | len(pieces[-1])) + pieces[-1]
    server = RpcConnection(Role.SERVER, BRICK)
    server.receive_data(wire)
    [call] = events(server)
    assert call.prog == dump.GF_DUMP_PROGRAM and call.args.gfs_id == 0xCAED


def test_reply_for_no_outstanding_call_closes():
    client = RpcConnection(Role.CLIENT)
    client.receive_data(error_reply(ProtocolError("x", reply="PROC_UNAVAIL", xid=77)))
    with pytest.raises(ProtocolError) as info:
        client.next_event()
    assert info.value.reply == "CLOSE" and info.value.fatal


def test_eof_mid_record_reports_the_partial_bytes():
    server = RpcConnection(Role.SERVER, BRICK)
    server.receive_data(call_bytes()[:10])
    server.receive_data(b"")
    assert events(server) == [ConnectionClosed(partial=10)]


def test_undecodable_reply_result_fails_only_that_call():
    client = RpcConnection(Role.CLIENT)
    client.send(Call(2, dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(0xCAED), cred=V2))
    client.send(Call(3, dump.GF_DUMP_PROGRAM, 1, 2, cred=V2))
    bad = struct.pack(">IIIIII", 2, 1, 0, 0, 0, 0) + b"\0\0"  # gf_dump_rsp cut short
    client.receive_data(frame(bad))
    client.receive_data(RpcConnection(Role.SERVER, BRICK).send(Reply(3, dump.GfCommonRsp(0, 0, None))))
    out = events(client)
    assert out[0] == ("error", "IGNORE", 2, False)
    assert isinstance(out[1], Reply) and out[1].result.op_ret == 0


@settings(max_examples=400, deadline=None)
@given(blob=st.binary(max_size=400))
def test_arbitrary_bytes_only_ever_raise_protocol_error(blob):
    whole = RpcConnection(Role.SERVER, BRICK)
    whole.receive_data(blob)
    whole.receive_data(b"")
    a = events(whole)
    trickle = RpcConnection(Role.SERVER, BRICK)
    for i in range(len(blob)):
        trickle.receive_data(blob[i : i + 1])
    trickle.receive_data(b"")
    b = []
    while True:  # drain exactly like events(), the feed already happened
        chunk = events(trickle)
        b.extend(chunk)
        if not chunk or isinstance(chunk[-1], ConnectionClosed) or (isinstance(chunk[-1], tuple) and chunk[-1][3]):
            break
    assert _normal(a) == _normal(b)


def _normal(evs):
    return [e if isinstance(e, tuple) else repr(e) for e in evs]


@st.composite
def framed_calls(draw):
    """Structurally plausible calls: right framing, random program/proc, random tails."""
    prog = draw(st.sampled_from([123451501, 14398633, 1298437, 34123456, 52743234, draw(st.integers(0, 2**32 - 1))]))
    vers = draw(st.sampled_from([1, 2, 400, 330, draw(st.integers(0, 2**32 - 1))]))
    proc = draw(st.integers(0, 60))
    flavor = draw(st.sampled_from([0, 1, 5, 390039, 390040, draw(st.integers(0, 2**32 - 1))]))
    cred = draw(st.binary(max_size=48))
    args = draw(st.binary(max_size=200))
    head = struct.pack(
        ">IIIIII", draw(st.integers(0, 2**32 - 1)), 0, draw(st.sampled_from([2, 2, 2, 1])), prog, vers, proc
    )
    body = head + struct.pack(">II", flavor, len(cred)) + cred + bytes(-len(cred) % 4) + struct.pack(">II", 0, 0) + args
    return frame(body)


@settings(max_examples=1500, deadline=None)
@given(records=st.lists(framed_calls(), min_size=1, max_size=4), chop=st.integers(1, 64))
def test_plausible_calls_decode_or_name_their_reply(records, chop):
    wire = b"".join(records)
    conn = RpcConnection(Role.SERVER, BRICK)
    for i in range(0, len(wire), chop):
        conn.receive_data(wire[i : i + chop])
    out = events(conn)
    assert len(out) == len(records)  # every record gives exactly one outcome
    for item in out:
        if isinstance(item, tuple):
            assert item[1] in AcceptStat.__members__ or item[1] in RejectStat.__members__
        else:
            assert isinstance(item, Call)
    # An accepted call re-encodes to bytes that decode to the same call.  (Not always the
    # same bytes: like glibc, the decoder reads any non-zero bool as TRUE and skips padding.)
    for call in (e for e in out if isinstance(e, Call)):
        again = RpcConnection(Role.SERVER, BRICK)
        again.receive_data(RpcConnection(Role.CLIENT).send(call))
        [same] = events(again)
        assert same.args == call.args and same.cred == call.cred and bytes(same.payload) == bytes(call.payload)
