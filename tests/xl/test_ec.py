"""fakegluster.xl.ec against a real GlusterFS 10.3 (fixtures/xl/ec_fragments.json, recorded by
tools/record_xl_vectors.py: the fragments a real FUSE client wrote on each brick of disperse
4+2 and 2+1 volumes for files of known content), plus the codec's algebra."""

from __future__ import annotations

import itertools
import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.xl import ec

FIXTURE = pathlib.Path(__file__).parents[2] / "fixtures" / "xl" / "ec_fragments.json"
REAL = json.loads(FIXTURE.read_text())


def content(size: int, seed: int) -> bytes:
    """What the recorder wrote (the formula is in the fixture's "content")."""
    return bytes(((i * 131 + seed * 7 + (i >> 8)) % 256) for i in range(size))


CASES = [(vol, f) for vol in REAL["volumes"] for f in vol["files"]]


@pytest.mark.parametrize("vol,f", CASES, ids=[f"{v['volume']}-{f['size']}" for v, f in CASES])
def test_fragments_equal_the_real_bricks_and_decode_from_any_k(vol, f):
    frags = [bytes.fromhex(x["data"]) for x in f["fragments"]]
    xattrs = [{k: bytes.fromhex(v) for k, v in x["xattrs"].items()} for x in f["fragments"]]
    cfg = ec.Config.decode(xattrs[0][ec.CONFIG_XATTR])
    codec = ec.Codec(cfg.bricks, cfg.redundancy)
    assert cfg.valid_for(len(frags), cfg.redundancy) and cfg.encode() == xattrs[0][ec.CONFIG_XATTR]
    data = content(f["size"], f["seed"])
    padded = data + bytes(-len(data) % codec.stripe)
    assert codec.fragment_size(len(data)) == len(frags[0])
    assert codec.encode(padded) == frags
    for pick in itertools.combinations(range(cfg.bricks), codec.k):
        assert codec.decode({i: frags[i] for i in pick}) == padded
    for x in xattrs:
        assert ec.decode_u64(x[ec.SIZE_XATTR]) == f["size"]
        assert ec.decode_pair(x[ec.VERSION_XATTR]) == (1, 1)
        assert ec.decode_pair(x[ec.DIRTY_XATTR]) == (0, 0)


def test_gf_arithmetic():
    assert ec.gf_mul(2, 0x80) == 0x1D  # x * x^7 = x^8 = x^4 + x^3 + x^2 + 1
    for a in range(1, 256):
        assert ec.gf_mul(a, ec.gf_div(1, a)) == 1
        assert ec.gf_pow(a, 255) == 1


def test_codec_shape_refusals():
    for bricks, red in [(2, 1), (4, 2), (3, 0), (40, 2)]:
        with pytest.raises(ValueError):
            ec.Codec(bricks, red)
    with pytest.raises(ValueError):
        ec.Codec(6, 2).encode(b"x" * 100)


shapes = st.sampled_from([(3, 1), (4, 1), (6, 2), (5, 2), (12, 4)])


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 5), st.data())
def test_any_k_fragments_give_the_data_back(shape, stripes, data):
    codec = ec.Codec(*shape)
    raw = data.draw(st.binary(min_size=codec.stripe * stripes, max_size=codec.stripe * stripes))
    frags = codec.encode(raw)
    pick = data.draw(st.lists(st.sampled_from(range(codec.bricks)), min_size=codec.k, max_size=codec.k, unique=True))
    assert codec.decode({i: frags[i] for i in pick}) == raw
    assert codec.encode(raw, pick) == [frags[i] for i in pick]


@settings(max_examples=25, deadline=None)
@given(shapes, st.data())
def test_the_code_is_linear(shape, data):
    codec = ec.Codec(*shape)
    a = data.draw(st.binary(min_size=codec.stripe, max_size=codec.stripe))
    b = data.draw(st.binary(min_size=codec.stripe, max_size=codec.stripe))
    xor = bytes(x ^ y for x, y in zip(a, b))
    fa, fb, fx = codec.encode(a), codec.encode(b), codec.encode(xor)
    assert fx == [bytes(x ^ y for x, y in zip(p, q)) for p, q in zip(fa, fb)]


def test_xattr_values():
    assert ec.Config(6, 2).encode().hex() == "0000080602000200"
    assert ec.encode_pair(1, 2).hex() == "00000000000000010000000000000002"
    assert ec.decode_pair(ec.encode_u64(5)) == (5, 0)
