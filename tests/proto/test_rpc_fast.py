"""The hand-written call-header parser agrees with the ``call_body`` schema decoded by
construct: same acceptance, same fields, on valid headers and on random bytes."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import xdr
from fakegluster.proto.rpc import CallBody, parse_call
from tests.strategies import for_schema


def _plain(record: bytes):
    try:
        body, end = xdr.plain_decode(CallBody, record, 8)
    except xdr.DecodeError:
        return "refused"
    return (body.rpcvers, body.prog, body.vers, body.proc, body.cred, body.verf, end)


def _fast(record: bytes):
    try:
        h = parse_call(record)
    except (struct.error, ValueError):
        return "refused"
    return (h.rpcvers, h.prog, h.vers, h.proc, h.cred, h.verf, h.end)


@settings(max_examples=300, deadline=None)
@given(body=for_schema(CallBody), xid=st.integers(0, 2**32 - 1), tail=st.binary(max_size=20))
def test_agrees_on_valid_headers(body, xid, tail):
    record = struct.pack(">II", xid, 0) + xdr.plain_encode(CallBody, body) + tail
    assert _fast(record) == _plain(record) != "refused"


@settings(max_examples=1000, deadline=None)
@given(blob=st.binary(max_size=120), head=st.sampled_from([b"", b"\0\0\0\1\0\0\0\0\0\0\0\2"]))
def test_agrees_on_random_bytes(blob, head):
    record = (head + blob) if head else blob
    if len(record) < 8:
        return
    assert _fast(record) == _plain(record)
