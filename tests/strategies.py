"""Hypothesis strategies derived from the XDR schemas themselves (one generator for all)."""

from __future__ import annotations

import construct as c
from hypothesis import strategies as st

from fakegluster.proto import gfdict, xdr
from fakegluster.proto.gfdict import GfDataType, GfxValue

_INTS = {
    id(xdr.INT): st.integers(-(2**31), 2**31 - 1),
    id(xdr.UINT): st.integers(0, 2**32 - 1),
    id(xdr.HYPER): st.integers(-(2**63), 2**63 - 1),
    id(xdr.UHYPER): st.integers(0, 2**64 - 1),
    id(xdr.DOUBLE): st.floats(allow_nan=False),
}

#: Text that survives UTF-8 with surrogateescape (no lone surrogates outside DC80-DCFF).
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=24)
c_strings = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1, max_size=24
)

_cache: dict[int, st.SearchStrategy] = {}


def gfx_values(depth: int = 0) -> st.SearchStrategy[GfxValue]:
    from fakegluster.proto.common import GfxIattx, GfxMdataIatt

    return st.one_of(
        st.integers(-(2**63), 2**63 - 1).map(GfxValue.int),
        st.integers(0, 2**64 - 1).map(GfxValue.uint),
        st.floats(allow_nan=False).map(GfxValue.double),
        c_strings.map(GfxValue.str),
        st.binary(max_size=40).map(GfxValue.ptr),
        st.binary(max_size=40).map(lambda b: GfxValue(GfDataType.STR_OLD, b)),
        st.binary(min_size=16, max_size=16).map(GfxValue.uuid),
        for_schema(GfxIattx).map(lambda v: GfxValue(GfDataType.IATT, v)),
        for_schema(GfxMdataIatt).map(lambda v: GfxValue(GfDataType.MDATA, v)),
    )


def for_schema(con) -> st.SearchStrategy:
    """A strategy producing valid Python values of ``con`` (a Struct class or a construct)."""
    con = xdr.schema_of(con)
    key = id(con)
    if key in _INTS:
        return _INTS[key]
    if key in _cache:
        return _cache[key]
    if con is gfdict.GFX_DICT:
        s = st.none() | st.dictionaries(c_strings, st.deferred(gfx_values), max_size=4)
    elif con is gfdict.OLD_DICT:
        s = st.none() | st.dictionaries(c_strings, st.binary(max_size=24), max_size=4)
    elif isinstance(con, xdr.StructSchema):
        fields = {name: for_schema(sub) for name, sub in con.fields}
        s = st.builds(con.cls, **fields)
    elif isinstance(con, xdr.StringCon):
        s = texts
        if con.maximum is not None:
            s = s.filter(lambda t, m=con.maximum: len(t.encode("utf-8", "surrogateescape")) <= m)
    elif isinstance(con, xdr.OpaqueCon):
        s = st.binary(max_size=min(con.maximum or 64, 64))
    elif isinstance(con, xdr.FixedOpaqueCon):
        s = st.binary(min_size=con.n, max_size=con.n)
    elif isinstance(con, xdr.Optional):
        s = st.none() | for_schema(con.subcon)
    elif isinstance(con, xdr.FixedArray):
        s = st.tuples(*[for_schema(con.subcon)] * con.n)
    elif isinstance(con, (xdr.Array, xdr.LinkedList)):
        limit = 3 if getattr(con, "maximum", None) is None else min(3, con.maximum)
        s = st.lists(for_schema(con.subcon), max_size=limit).map(tuple)
    elif isinstance(con, c.Renamed):
        s = for_schema(con.subcon)
    else:
        raise TypeError(f"no strategy for {con!r}")
    _cache[key] = s
    return s
