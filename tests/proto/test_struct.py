"""Struct, the declared XDR struct classes: they behave like frozen slotted dataclasses (the
stdlib's reference is built from the same fields), their schema comes from the annotations,
and the fast codec never falls back to construct silently."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Annotated

import construct as c
import pytest

from fakegluster.proto import fops, programs, xdr
from fakegluster.proto.common import GfxIattx
from fakegluster.proto.gfdict import GfxDict, GfxValue
from fakegluster.proto.xdr import NULL_GFID, Gfid, Hyper, Int, String, Struct, UInt

programs.all_programs()
STRUCTS = xdr.struct_classes()


def _reference(cls):
    specs = [(f.name, f.type, dataclasses.field(default=f.default)) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)


@pytest.mark.parametrize("cls", STRUCTS, ids=lambda c: c.xname)
def test_behaves_like_the_frozen_slotted_dataclass_of_its_fields(cls):
    ref = _reference(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == list(cls.field_names) == [n for n, _ in cls.schema.fields]
    assert dataclasses.is_dataclass(cls) and cls.__match_args__ == tuple(names)
    zero, ref_zero = cls(), ref()
    assert dataclasses.astuple(zero) == dataclasses.astuple(ref_zero)
    assert dataclasses.asdict(zero) == dataclasses.asdict(ref_zero)
    assert repr(zero).replace("fakegluster.proto.", "") == repr(ref_zero).replace(ref.__qualname__, cls.__qualname__)
    assert xdr.decode(cls, xdr.encode(cls, zero)) == (zero, len(xdr.encode(cls, zero)))
    marker = object()
    other = dataclasses.replace(zero, **{names[0]: marker})
    assert getattr(other, names[0]) is marker and other != zero and other == copy.copy(other)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(zero, names[0], 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(zero, names[0])
    with pytest.raises(AttributeError):
        zero.__dict__  # noqa: B018 (slotted: no instance dict)
    assert cls.__doc__ and cls.schema.cls is cls and not hasattr(cls, "cls")


def test_equality_hash_and_pickle_follow_the_fields():
    a = fops.GfxReadReq(gfid=bytes(range(16)), fd=3, offset=4096, size=512)
    b = fops.GfxReadReq(bytes(range(16)), 3, 4096, 512)
    assert a == b and hash(a) == hash(b) and a != fops.GfxWriteReq(bytes(range(16)), 3, 4096, 512)
    assert pickle.loads(pickle.dumps(a)) == a and copy.deepcopy(a) == a
    assert a.xdata is None and a.flag == 0 and a.gfid == bytes(range(16))
    with_dict = fops.GfxStatReq(xdata={"k": GfxValue.uint(1)})
    with pytest.raises(TypeError):
        hash(with_dict)  # a dict field makes it unhashable, as with a dataclass


def test_a_nested_default_is_the_zero_struct():
    rsp = fops.GfxCommonIattRsp()
    assert rsp.stat == GfxIattx() and rsp.stat.ia_gfid == NULL_GFID


def test_schema_is_built_from_the_annotations():
    class Probe(Struct, xname="probe_t"):
        """A probe."""

        a: Int = -1
        b: Annotated[tuple[int, ...], xdr.Array(UInt, 2)] = ()
        c: Annotated[GfxIattx | None, xdr.Optional(GfxIattx)] = None
        d: String = "x"
        e: GfxDict = None

    assert Probe.xname == "probe_t" and Probe.__doc__ == "A probe."
    assert [type(con).__name__ for _, con in Probe.schema.fields] == [
        "FormatField",
        "Array",
        "Optional",
        "StringCon",
        "_GfxDictCon",
    ]
    value = Probe(b=(1, 2), c=GfxIattx(ia_size=5))
    data = xdr.encode(Probe, value)
    assert data[:4] == b"\xff\xff\xff\xff" and xdr.decode(Probe, data) == (value, len(data))
    assert xdr.plain_decode(Probe, data) == (value, len(data))
    with pytest.raises(ValueError, match="maximum"):
        xdr.encode(Probe, Probe(b=(1, 2, 3)))


@pytest.mark.parametrize(
    "body, error",
    [
        ("class Bad(Struct):\n    a: Int = 0", "needs its .x name"),
        ("class Bad(Struct, xname='bad'):\n    schema: Int = 0", "reserved"),
        ("class Bad(Struct, xname='bad'):\n    a: Int = 0\n    b: Int", "follows a defaulted"),
        ("class Bad(Struct, xname='bad'):\n    a: Hyper = 0\n    b: list = []", "mutable default"),
        ("class Bad(Struct, xname='bad'):\n    a: int = 0", "not an XDR type"),
        ("class Bad(fops.GfxStatReq, xname='bad'):\n    a: Int = 0", "derives from Struct alone"),
    ],
)
def test_malformed_declarations_are_refused(body, error):
    with pytest.raises((TypeError, ValueError), match=error):
        exec(body, {"Struct": Struct, "Int": Int, "Hyper": Hyper, "fops": fops, "__name__": __name__})


def test_only_instances_of_the_struct_encode():
    with pytest.raises(ValueError, match="gfx_stat_req"):
        xdr.encode(fops.GfxStatReq, {"gfid": bytes(16), "xdata": None})
    with pytest.raises(ValueError, match="gfx_stat_req"):
        xdr.encode(fops.GfxStatReq, fops.GfxFstatReq())


# ---- no silent fallback to construct --------------------------------------------------------
@pytest.fixture
def fallbacks():
    """The fallbacks a test provokes on purpose (taken back out, so the autouse check passes)."""
    before = len(xdr.FALLBACKS)
    seen: list[str] = []
    yield seen
    seen.extend(xdr.FALLBACKS[before:])
    del xdr.FALLBACKS[before:]


def _unknown_field_struct():
    class Odd(Struct, xname="odd_t"):
        a: Gfid = NULL_GFID
        b: Annotated[int, c.Int16ub] = 0  # no XDR type: the generator does not know it

    return Odd


def test_a_struct_without_a_fast_codec_is_an_error_under_the_tests(fallbacks):
    odd = _unknown_field_struct()
    with pytest.raises(xdr.FallbackError, match="odd_t"):
        xdr.encode(odd, odd())


def test_outside_the_tests_a_fallback_is_logged_and_counted(fallbacks, monkeypatch, caplog):
    monkeypatch.setenv("FAKEGLUSTER_STRICT_XDR", "0")
    odd = _unknown_field_struct()
    data = xdr.encode(odd, odd(b=7))
    assert data == bytes(16) + b"\0\7" and xdr.decode(odd, data)[0].b == 7
    assert "fell back to construct" in caplog.text and "odd_t" in xdr.FALLBACKS[-1]


def test_a_fast_decoder_refusing_valid_bytes_is_an_error(fallbacks, monkeypatch):
    def refuses(buf, off):
        raise ValueError("fast decoder bug")

    data = xdr.encode(fops.GfxStatReq, fops.GfxStatReq())
    monkeypatch.setattr(fops.GfxStatReq.schema, "_fast", (refuses, fops.GfxStatReq.schema.fast_encode))
    with pytest.raises(xdr.FallbackError, match="gfx_stat_req"):
        xdr.decode(fops.GfxStatReq, data)
    with pytest.raises(xdr.DecodeError):  # bytes both refuse: an ordinary decode error
        xdr.decode(fops.GfxStatReq, data[:-1])


def test_a_fast_encoder_refusing_a_valid_value_is_an_error(fallbacks, monkeypatch):
    def refuses(value):
        raise ValueError("fast encoder bug")

    monkeypatch.setattr(fops.GfxStatReq.schema, "_fast", (fops.GfxStatReq.schema.fast_decode, refuses))
    with pytest.raises(xdr.FallbackError, match="gfx_stat_req"):
        xdr.encode(fops.GfxStatReq, fops.GfxStatReq())
    with pytest.raises(ValueError, match="cannot encode"):  # a value both refuse
        xdr.encode(fops.GfxStatReq, fops.GfxStatReq(gfid=b"short"))
