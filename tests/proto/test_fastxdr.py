"""The generated fast codecs agree with construct's plain parser and builder, on every schema:
same bytes for valid values, same values for valid bytes, and — on random and truncated
bytes — the fast decoder accepts exactly what the plain one accepts, with the same value."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import xdr
from fakegluster.proto.fastxdr import codec_for
from tests.proto.test_schemas import SCHEMAS
from tests.strategies import for_schema

STRUCTS = SCHEMAS
IDS = [n for n, _ in STRUCTS]


def _plain(schema, data):
    try:
        return xdr.plain_decode(schema, data)
    except xdr.DecodeError:
        return "refused"


def _fast(schema, data):
    dec, _ = codec_for(schema.schema)
    try:
        return dec(data, 0)
    except (struct.error, ValueError, OverflowError):  # anything else would be a bug
        return "refused"


@pytest.mark.parametrize("name,schema", STRUCTS, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_fast_and_plain_agree_on_valid_values(name, schema, data):
    value = data.draw(for_schema(schema))
    dec, enc = codec_for(schema.schema)
    wire = xdr.plain_encode(schema, value)
    assert enc(value) == wire
    assert dec(wire, 0) == (value, len(wire)) or _same_nan(dec(wire, 0)[0], value)
    cut = data.draw(st.integers(0, max(0, len(wire) - 1)))
    if wire:
        assert _fast(schema, wire[:cut]) == "refused" == _plain(schema, wire[:cut])


@pytest.mark.parametrize("name,schema", STRUCTS, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(blob=st.binary(max_size=400))
def test_fast_and_plain_agree_on_random_bytes(name, schema, blob):
    fast, plain = _fast(schema, blob), _plain(schema, blob)
    if fast == "refused" or plain == "refused":
        assert fast == plain
    else:
        assert fast[1] == plain[1]
        assert xdr.plain_encode(schema, fast[0]) == xdr.plain_encode(schema, plain[0])


def _same_nan(a, b) -> bool:
    return repr(a) == repr(b)


def test_every_struct_gets_a_fast_codec():
    assert all(s.schema.fast_decode is not None for _, s in STRUCTS)
