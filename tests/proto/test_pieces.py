"""Big records kept in pieces (issue #14, a 64 MiB WRITE next to a well-behaved client): the
record reader gathers a single-fragment record of ``pieces_from`` bytes or more as the buffers
it arrived in, and a SERVER connection hands a WRITE's payload out as those pieces, never
joined.  What comes out must be what went in, whatever the fragments and receive sizes, and a
record in pieces must decode to the same event (or the same error) as the same bytes in one
buffer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import NEED_DATA, Call, ProtocolError, Role, RpcConnection, fops
from fakegluster.proto.common import ROOT_GFID
from fakegluster.proto.events import Expensive
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.record import LAST_FRAGMENT, PIECE_MIN, Pieces, RecordReader
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount

PIECES_FROM = 256


def _framed(record: bytes, fragments: list[int]) -> bytes:
    """``record`` as fragments cut at ``fragments`` (offsets), the last one marked last."""
    cuts = sorted({c % (len(record) + 1) for c in fragments} | {0, len(record)})
    spans = list(zip(cuts, cuts[1:], strict=False)) or [(0, 0)]
    out = b""
    for i, (a, b) in enumerate(spans):
        last = LAST_FRAGMENT if i == len(spans) - 1 else 0
        out += (last | (b - a)).to_bytes(4, "big") + record[a:b]
    return out


records = st.lists(
    st.tuples(
        st.one_of(
            st.binary(max_size=40),
            st.integers(PIECES_FROM - 2, 3 * PIECES_FROM).map(
                lambda n: bytes(range(256)) * (n // 256) + bytes(n % 256)
            ),
        ),
        st.lists(st.integers(0, 1000), max_size=2),  # fragment cuts (none: one fragment)
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(records=records, receives=st.lists(st.integers(1, 700), min_size=1, max_size=20))
def test_every_record_comes_out_whole_whatever_the_receives(records, receives):
    wire = b"".join(_framed(r, cuts) for r, cuts in records)
    reader = RecordReader(pieces_from=PIECES_FROM)
    got: list = []
    at, i = 0, 0
    view = bytearray(1000)
    while at < len(wire):
        n = receives[i % len(receives)]
        i += 1
        chunk = wire[at : at + n]
        view[: len(chunk)] = chunk  # a reused receive buffer, as the server's
        reader.feed(memoryview(view)[: len(chunk)])
        view[: len(chunk)] = bytes(len(chunk))  # the reader must have copied what it keeps
        at += len(chunk)
        while (rec := reader.next_record()) is not None:
            got.append(rec if isinstance(rec, Pieces) else bytes(rec))
    assert [bytes(g) for g in got] == [r for r, _ in records]
    for g, (r, cuts) in zip(got, records, strict=True):
        one_fragment = len(_framed(r, cuts)) == len(r) + 4
        assert isinstance(g, Pieces) == (one_fragment and len(r) >= PIECES_FROM)
    assert reader.buffered == 0


def test_a_record_dribbled_a_byte_at_a_time_costs_its_size_not_an_object_a_byte():
    record = bytes(range(256)) * 1000
    wire = _framed(record, [])
    reader = RecordReader(pieces_from=PIECES_FROM)
    got = []
    for i in range(len(wire)):
        reader.feed(wire[i : i + 1])
        if (rec := reader.next_record()) is not None:
            got.append(rec)
    [whole] = got
    assert isinstance(whole, Pieces) and bytes(whole) == record
    assert len(whole.parts) <= 1 + len(record) // PIECE_MIN


def test_pieces_slice_without_copying():
    parts = [b"abc", bytearray(b"defg"), memoryview(b"hij")]
    p = Pieces(parts)
    assert len(p) == 10 and bytes(p) == b"abcdefghij" and p.head(5) == b"abcde" and p.head(99) == b"abcdefghij"
    assert bytes(p[2:8]) == b"cdefgh" and bytes(p.after(7)) == b"hij" and len(p[10:]) == 0
    assert p[0:3].parts[0] is parts[0]  # a whole part is kept as it is
    assert p == b"abcdefghij" and p[1:4] == Pieces([b"bcd"])
    with pytest.raises(TypeError):
        p[::2]


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 40), max_size=12),
    cuts=st.lists(st.tuples(st.integers(-500, 500), st.integers(-500, 500) | st.none()), max_size=8),
    step=st.integers(1, 60),
)
def test_pieces_slice_as_bytes_do(sizes, cuts, step):
    """Any slice (bisection over the parts' ends) is the same bytes slice, and stepping through
    a payload as fdfops._write_sliced does gives it back whole."""
    joined = bytes(range(256)) * 2
    parts, at = [], 0
    for i, n in enumerate(sizes):
        chunk = joined[at : at + n]
        parts.append((bytes, bytearray, memoryview)[i % 3](chunk))
        at += n
    p, whole = Pieces(parts), joined[:at]
    assert len(p) == len(whole) and bytes(p) == whole
    for a, b in cuts:
        assert bytes(p[a:b]) == whole[a:b] and len(p[a:b]) == len(whole[a:b])
        assert all(len(q) for q in p[a:b].parts)
        if a >= 0:
            assert bytes(p.after(a)) == whole[a:]
    steps = [p[n : n + step] for n in range(0, len(p), step)]
    assert b"".join(bytes(s) for s in steps) == whole and all(len(s) <= step for s in steps)


def _write_call(xid: int, payload: bytes, xdata=None) -> bytes:
    args = fops.GfxWriteReq(ROOT_GFID, 7, 4093, len(payload), 0, xdata)
    return RpcConnection(Role.CLIENT).send(
        Call(xid, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.WRITE, args, payload=payload)
    )


def _outcome(conn: RpcConnection, max_cost=None) -> list:
    out = []
    while True:
        try:
            ev = conn.next_event(max_cost)
            if isinstance(ev, Expensive):
                ev = conn.decode_record(ev.record)
        except ProtocolError as exc:
            out.append(("error", exc.reply, exc.xid))
            if exc.fatal:
                return out
            continue
        if ev is NEED_DATA:
            return out
        if isinstance(ev, Call):
            out.append((ev.xid, ev.proc, ev.args, bytes(ev.payload), type(ev.payload) is Pieces))
        else:
            out.append(ev)


def test_a_big_write_gets_its_payload_in_the_pieces_it_arrived_in():
    payload = bytes(range(256)) * 4096  # 1 MiB
    wire = _write_call(5, payload)
    server = RpcConnection(Role.SERVER, [fops.BRICK_PROGRAM], pieces_from=64 * 1024)
    for i in range(0, len(wire), 100_000):
        assert server.next_event() is NEED_DATA  # as the server does: an event after each receive
        server.receive_data(wire[i : i + 100_000])
    ev = server.next_event(max_cost=256 * 1024)  # the payload costs nothing to decode
    assert isinstance(ev, Call) and isinstance(ev.payload, Pieces)
    assert ev.args.size == len(payload) and bytes(ev.payload) == payload
    assert len(ev.payload.parts) == 11  # one per receive, the first one less the header
    assert server.next_event() is NEED_DATA


def test_a_big_write_has_its_head_joined_once(monkeypatch):
    """next_event joins the first 64 KiB of a record in pieces once, for its cost (the record is
    bigger than max_cost) and its decode alike."""
    joins = []
    head = Pieces.head
    monkeypatch.setattr(Pieces, "head", lambda self, n: joins.append(n) or head(self, n))
    payload = bytes(range(256)) * 4096  # 1 MiB
    wire = _write_call(5, payload)
    server = RpcConnection(Role.SERVER, [fops.BRICK_PROGRAM], pieces_from=64 * 1024)
    server.receive_data(wire)
    ev = server.next_event(max_cost=256 * 1024)
    assert isinstance(ev, Call) and isinstance(ev.payload, Pieces) and bytes(ev.payload) == payload
    assert len(joins) == 1


@pytest.mark.parametrize(
    "case",
    [
        "plain",
        "big xdata",  # the arguments go past the joined head: decoded joined, same event
        "size lies",
        "mutated header",
        "not a write",
    ],
)
def test_a_record_in_pieces_decodes_as_the_same_bytes_in_one_buffer(case):
    payload = bytes(range(256)) * 1024
    xdata = {f"k{i}": GfxValue.int(i) for i in range(10_000)} if case == "big xdata" else None
    wire = bytearray(_write_call(9, payload, xdata))
    if case == "size lies":
        wire[4 + 40 + 28 + 16 + 8 + 8 : 4 + 40 + 28 + 16 + 8 + 8 + 4] = b"\xff\xff\xff\xf0"
    if case == "mutated header":
        wire[4 + 12] ^= 0xFF  # the program number
    if case == "not a write":
        wire[4 + 20 : 4 + 24] = fops.GfFop.LOOKUP.to_bytes(4, "big")
    joined = RpcConnection(Role.SERVER, [fops.BRICK_PROGRAM], pieces_from=None)
    pieces = RpcConnection(Role.SERVER, [fops.BRICK_PROGRAM], pieces_from=1024)
    want, got = [], []
    for i in range(0, len(wire), 70_000):
        for conn, out in ((joined, want), (pieces, got)):
            conn.receive_data(bytes(wire[i : i + 70_000]))
            out += _outcome(conn, 256 * 1024)
    assert [w[:4] if isinstance(w, tuple) and len(w) == 5 else w for w in want] == [
        g[:4] if isinstance(g, tuple) and len(g) == 5 else g for g in got
    ]
    assert want, case
    if case == "plain":
        assert got[0][4] is True  # and it came in pieces


def test_a_64_mib_write_in_pieces_lands_whole_and_others_are_served(tmp_path):
    """Through a served volume (memory and directory stores): the payload is written piece by
    piece, in sliced steps, and reads back byte for byte."""
    payload = (bytes(range(251)) * ((64 << 20) // 251 + 1))[: 64 << 20]
    with FakeGluster(["mem", f"dir={tmp_path}"], ["tcp://127.0.0.1:0"]) as server:
        for vol in ("mem", "dir"):
            m = Mount("127.0.0.1", server.info.port, vol)
            c = m.create(ROOT, "big")
            xid = m.send(
                "WRITE",
                payload=payload,
                gfid=c.stat.ia_gfid,
                fd=c.fd,
                offset=4093,
                size=len(payload),
                flag=0,
                xdata=None,
            )
            other = Mount("127.0.0.1", server.info.port, vol)
            assert other.fop("STAT", gfid=ROOT).op_ret == 0  # answered while the WRITE runs or after
            r = m.reply("WRITE", xid, timeout=120)
            assert (r.op_ret, r.op_errno) == (len(payload), 0)
            back = b""
            while len(back) < 4093 + len(payload):
                rd = m.fop("READ", gfid=c.stat.ia_gfid, fd=c.fd, offset=len(back), size=4 << 20, flag=0, xdata=None)
                assert rd.result.op_ret > 0
                back += bytes(rd.payload)
            assert back == bytes(4093) + payload
            other.close()
            m.close()
