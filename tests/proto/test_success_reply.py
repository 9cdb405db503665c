"""``encode_success_reply`` (the one SUCCESS-reply encoder: ``encode_reply`` and a brick's READ
fast path both use it) frames exactly what RFC 5531 says an accepted SUCCESS reply with an
AUTH_NULL verifier is: the record mark, the reply header ``build_reply_header`` builds, the
result, the payload; and a peer's RpcConnection reads the reply back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import Call, Reply, Role, RpcConnection, fops
from fakegluster.proto.common import GfxIattx
from fakegluster.proto.connection import encode_reply, encode_success_reply
from fakegluster.proto.record import Pieces, frame
from fakegluster.proto.rpc import build_reply_header
from fakegluster.proto.xdr import Encoded, encode

RESULTS = st.one_of(
    st.builds(
        fops.GfxReadRsp,
        st.integers(-1, 1 << 20),
        st.integers(0, 200),
        st.just(GfxIattx()),
        st.integers(0, 9),
        st.none(),
    ),
    st.builds(fops.GfxCommonRsp, st.integers(-(1 << 31), (1 << 31) - 1), st.integers(0, 200), st.none()),
)
PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(memoryview),
    st.lists(st.binary(max_size=100), max_size=4),
    st.lists(st.binary(min_size=1, max_size=100), min_size=1, max_size=4).map(Pieces),
)


def _flat(payload: object) -> bytes:
    parts = payload.parts if isinstance(payload, Pieces) else payload if isinstance(payload, list) else [payload]
    return b"".join(bytes(p) for p in parts)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, (1 << 32) - 1), RESULTS, PAYLOADS)
def test_a_success_reply_is_mark_header_result_payload(xid, result, payload):
    buffers = encode_success_reply(xid, result, payload)
    expected = frame(build_reply_header(xid) + encode(type(result), result) + _flat(payload))
    assert b"".join(bytes(b) for b in buffers) == expected
    assert all(len(b) for b in buffers)  # no empty buffer for sendmsg
    assert b"".join(bytes(b) for b in encode_reply(Reply(xid, result, payload=payload))) == expected


def test_a_success_reply_reads_back_and_an_encoded_result_is_sent_as_it_is():
    client = RpcConnection(Role.CLIENT)
    call = Call(7, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, fops.GfxReadReq(bytes(16), 0, 0, 5, 0, None))
    client.send(call)
    result = fops.GfxReadRsp(5, 0, GfxIattx(), 5, None)
    client.receive_data(b"".join(bytes(b) for b in encode_success_reply(7, result, b"hello")))
    reply = client.next_event()
    assert reply.xid == 7 and reply.result == result and bytes(reply.payload) == b"hello"
    kept = Encoded(fops.GfxCommonRsp, b"\0\0\0\1")
    assert encode_success_reply(3, kept) == [frame(build_reply_header(3) + b"\0\0\0\1")]


def test_a_result_that_is_no_xdr_struct_or_too_big_a_record_is_refused():
    with pytest.raises(TypeError):
        encode_success_reply(1, object())
    with pytest.raises(ValueError):
        encode_success_reply(1, fops.GfxCommonRsp(0, 0, None), [_Huge()])


class _Huge:
    def __len__(self) -> int:
        return 1 << 31
