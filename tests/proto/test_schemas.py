"""Every schema round-trips: value -> bytes -> value, and bytes -> value -> the same bytes.

Strategies come from the schemas themselves (tests/strategies.py), so a schema added to a
program is covered without touching this file.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import gfdict, programs, rpc, xdr
from fakegluster.proto.programs import UNDECODABLE
from tests.strategies import for_schema


def _all_schemas():
    programs.all_programs()  # importing the program modules declares their structs
    seen = {cls.xname: cls for cls in xdr.struct_classes()}
    for program in programs.all_programs():
        for proc in program.procs.values():
            for schema in (proc.args, proc.reply):
                if schema is not None and schema is not UNDECODABLE:
                    assert seen[schema.xname] is schema
    return sorted(seen.items())


SCHEMAS = _all_schemas()


def test_every_fop_procedure_has_a_request_and_reply():
    from fakegluster.proto import fops

    assert sorted(fops.PROGRAM.procs) == list(range(57))
    for num, proc in fops.PROGRAM.procs.items():
        assert proc.name == fops.GfFop(num).name
        if num:
            assert proc.args is not None and proc.reply is not None, proc.name


@pytest.mark.parametrize("name,schema", SCHEMAS, ids=[n for n, _ in SCHEMAS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_roundtrip(name, schema, data):
    value = data.draw(for_schema(schema))
    encoded = xdr.encode(schema, value)
    assert len(encoded) % 4 == 0
    decoded, end = xdr.decode(schema, encoded)
    assert end == len(encoded)
    assert decoded == value
    assert xdr.encode(schema, decoded) == encoded


@pytest.mark.parametrize("name,schema", SCHEMAS, ids=[n for n, _ in SCHEMAS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_truncation_is_a_decode_error(name, schema, data):
    encoded = xdr.encode(schema, data.draw(for_schema(schema)))
    if not encoded:
        return
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(xdr.DecodeError):
        xdr.decode(schema, encoded[:cut])


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=300), which=st.sampled_from(SCHEMAS))
def test_garbage_decodes_or_raises_decode_error(blob, which):
    _, schema = which
    try:
        value, end = xdr.decode(schema, blob)
    except xdr.DecodeError:
        return
    assert 0 <= end <= len(blob)
    # What decoded re-encodes to bytes that are stable under another round trip
    # (compared as bytes: a decoded double may be NaN).
    again = xdr.encode(schema, value)
    assert xdr.encode(schema, xdr.decode(schema, again)[0]) == again


def test_generated_dataclasses_are_frozen_and_named_after_x_types():
    from fakegluster.proto import fops

    req = fops.GfxLookupReq(bname="a.img")
    assert type(req).__name__ == "GfxLookupReq" and req.xname == "gfx_lookup_req"
    assert req.gfid == bytes(16) and req.xdata is None and req.flags == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.bname = "b"  # type: ignore[misc]


def test_opaque_maximum_is_enforced():
    body = b"\0\0\x01\x91" + bytes(404)  # 401-byte credential body
    with pytest.raises(xdr.DecodeError, match="maximum"):
        xdr.decode(rpc.OpaqueAuth, b"\0\0\0\0" + body)


def test_old_dict_malformed_blob_stays_bytes():
    # count says 2 pairs, only one follows: the real server answers EINVAL at the
    # application level, so the XDR layer keeps the bytes instead of failing.
    blob = gfdict.serialize_old_dict({"a": b"1\0"})
    blob = b"\0\0\0\x02" + blob[4:]
    value, _ = xdr.decode(gfdict.OLD_DICT, xdr.encode(gfdict.OLD_DICT, blob))
    assert value == blob
