"""Fast XDR codecs generated from the construct schemas (the schemas stay the source of truth).

construct's plain parser costs ~1 µs per field; a FOP reply with two ``gfx_iattx`` has 50
fields.  :func:`codec_for` generates, once per ``.x`` struct, a pair of plain Python
functions that do the same work with a few ``struct.unpack_from``/``pack`` calls, merging
runs of fixed-size fields into one format.

They are as strict as the plain parser, so they may see untrusted bytes: every read is
bounds-checked (``unpack_from`` raises on a short buffer, opaques check their length and
padding room), opaque maxima are enforced, and gfx_dicts are validated exactly like
``gfdict.GFX_DICT``.  A differential test (tests/proto/test_fastxdr.py) runs both codecs on
every schema, on valid values and on random bytes, and requires identical results.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from . import common, gfdict, xdr

__all__ = ["codec_for", "FastDecodeError"]


class FastDecodeError(ValueError):
    """Not a valid encoding (the caller reports it as ``xdr.DecodeError``)."""


_U32 = struct.Struct(">I")
_HDR = struct.Struct(">IiI")
_NULL_DICT = b"\0\0\0\0\xff\xff\xff\xff\0\0\0\0"
_PRIM = {id(xdr.INT): "i", id(xdr.UINT): "I", id(xdr.HYPER): "q", id(xdr.UHYPER): "Q", id(xdr.DOUBLE): "d"}


def _opaque(buf: Any, off: int, maximum: int | None) -> tuple[bytes, int]:
    (n,) = _U32.unpack_from(buf, off)
    if maximum is not None and n > maximum:
        raise FastDecodeError(f"opaque of {n} bytes exceeds its maximum {maximum}")
    start = off + 4
    end = start + n + (-n % 4)
    if end > len(buf):
        raise FastDecodeError("opaque runs past the end")
    return bytes(buf[start : start + n]), end


def _pack_opaque(data: bytes) -> bytes:
    n = len(data)
    return _U32.pack(n) + data + b"\0" * (-n % 4)


_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_F64 = struct.Struct(">d")


def _gfx_dict(buf: Any, off: int) -> tuple[Any, int]:
    """``gfx_dict`` as ``gfdict.GFX_DICT`` decodes it, in one loop (a 1M-entry xdata dict in
    about a second instead of several); a refusal raises FastDecodeError, and the plain
    decoder then words it."""
    if bytes(buf[off : off + 12]) == _NULL_DICT:
        return None, off + 12
    xdr_size, count, npairs = _HDR.unpack_from(buf, off)
    if count == -1 or count != npairs:
        raise FastDecodeError("gfx_dict header")
    start = pos = off + 12
    n = len(buf)
    pairs: dict[str, Any] = {}
    make, types = gfdict.GfxValue, gfdict.GfDataType
    t_int, t_uint, t_dbl, t_uuid = types.INT, types.UINT, types.DOUBLE, types.GFUUID
    i_int, i_uint, i_dbl, i_uuid = int(t_int), int(t_uint), int(t_dbl), int(t_uuid)
    i_strs = {int(types.STR): types.STR, int(types.PTR): types.PTR, int(types.STR_OLD): types.STR_OLD}
    i_iatt, i_mdata = int(types.IATT), int(types.MDATA)
    u32, i32, i64, u64, f64 = _U32.unpack_from, _I32.unpack_from, _I64.unpack_from, _U64.unpack_from, _F64.unpack_from
    for _ in range(npairs):
        (klen,) = u32(buf, pos)
        kend = pos + 4 + klen
        if kend + (-klen % 4) > n or not klen or buf[kend - 1] != 0:
            raise FastDecodeError("gfx_dict key")
        raw = buf[pos + 4 : kend - 1]
        if b"\0" in raw:
            raise FastDecodeError("gfx_dict key")
        key = bytes(raw).decode("utf-8", "surrogateescape")
        if key in pairs:
            raise FastDecodeError("gfx_dict key repeated")
        pos = kend + (-klen % 4)
        (t,) = i32(buf, pos)
        pos += 4
        if t == i_int:
            pairs[key] = make(t_int, i64(buf, pos)[0])
            pos += 8
        elif t == i_uint:
            pairs[key] = make(t_uint, u64(buf, pos)[0])
            pos += 8
        elif t == i_dbl:
            pairs[key] = make(t_dbl, f64(buf, pos)[0])
            pos += 8
        elif t in i_strs:
            value, pos = _opaque(buf, pos, None)
            pairs[key] = make(i_strs[t], value)
        elif t == i_uuid:
            if pos + 16 > n:
                raise FastDecodeError("gfx_dict uuid")
            pairs[key] = make(t_uuid, bytes(buf[pos : pos + 16]))
            pos += 16
        elif t == i_iatt or t == i_mdata:
            sub = common.GfxIattx if t == i_iatt else common.GfxMdataIatt
            v, pos = codec_for(sub.schema)[0](buf, pos)
            pairs[key] = make(types(t), v)
        else:
            raise FastDecodeError("gfx_dict value type")
    size = pos - start
    if xdr_size != (size if size > 0 else 0):
        raise FastDecodeError("gfx_dict xdr_size")
    return pairs, pos


def _encode_gfx_dict(value: Any) -> bytes:
    if value is None:
        return _NULL_DICT
    if not value:
        return b"\0" * 12
    try:
        return _encode_pairs(value)
    except (KeyError, TypeError, ValueError, AttributeError, struct.error, OverflowError):
        return xdr.plain_encode(gfdict.GFX_DICT, value)  # the plain builder words the refusal


def _encode_pairs(value: Any) -> bytes:
    """``gfdict.GFX_DICT``'s encoding of a non-empty dict of INT/UINT/DOUBLE/STR/PTR/GFUUID
    values, in one loop (other types raise, for the plain builder)."""
    types = gfdict.GfDataType
    fixed = {int(types.INT): _I64.pack, int(types.UINT): _U64.pack, int(types.DOUBLE): _F64.pack}
    strs = (types.STR, types.PTR, types.STR_OLD)
    out = []
    for key, v in value.items():
        if v.__class__ is not gfdict.GfxValue:
            raise TypeError("not a GfxValue")
        out.append(_pack_opaque(key.encode("utf-8", "surrogateescape") + b"\0"))
        t = v.type
        pack = fixed.get(t)
        if pack is not None:
            out.append(_I32.pack(t) + pack(v.value))
        elif t in strs:
            if not isinstance(v.value, (bytes, bytearray, memoryview)):
                raise TypeError("not bytes")
            out.append(_I32.pack(t) + _pack_opaque(bytes(v.value)))
        elif t == types.GFUUID:
            if len(v.value) != 16:
                raise ValueError("uuid")
            out.append(_I32.pack(t) + bytes(v.value))
        else:
            raise ValueError("for the plain builder")
    body = b"".join(out)
    return _HDR.pack(len(body), len(value), len(value)) + body


class _Gen:
    """Generates the source of one struct's decode/encode functions."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {
            "_opaque": _opaque,
            "_pack_opaque": _pack_opaque,
            "_gfx_dict": _gfx_dict,
            "_encode_gfx_dict": _encode_gfx_dict,
            "FastDecodeError": FastDecodeError,
        }
        self.n = 0

    def name(self, prefix: str, obj: Any) -> str:
        self.n += 1
        key = f"{prefix}{self.n}"
        self.env[key] = obj
        return key


def _fixed_fmt(con: Any) -> str | None:
    if id(con) in _PRIM:
        return _PRIM[id(con)]
    if isinstance(con, xdr.FixedOpaqueCon):
        return f"{con.n}s" + (f"{-con.n % 4}x" if con.n % 4 else "")
    return None


Decoder = Callable[[Any, int], tuple[Any, int]]
Encoder = Callable[[Any], bytes]


def _dec_opaque(conv: Callable[[bytes], Any], maximum: int | None) -> Decoder:
    def dec(buf: Any, off: int) -> tuple[Any, int]:
        raw, end = _opaque(buf, off, maximum)
        return conv(raw), end

    return dec


def _dec_optional(item: Decoder) -> Decoder:
    def dec(buf: Any, off: int) -> tuple[Any, int]:
        (flag,) = _U32.unpack_from(buf, off)
        return item(buf, off + 4) if flag else (None, off + 4)

    return dec


def _dec_array(item: Decoder, maximum: int | None) -> Decoder:
    def dec(buf: Any, off: int) -> tuple[Any, int]:
        (n,) = _U32.unpack_from(buf, off)
        if maximum is not None and n > maximum:
            raise FastDecodeError("array over its maximum")
        return _dec_items(item, n, buf, off + 4)

    return dec


def _dec_fixed_array(item: Decoder, n: int) -> Decoder:
    def dec(buf: Any, off: int) -> tuple[Any, int]:
        return _dec_items(item, n, buf, off)

    return dec


def _dec_items(item: Decoder, n: int, buf: Any, off: int) -> tuple[tuple[Any, ...], int]:
    out: list[Any] = []
    for _ in range(n):
        v, off = item(buf, off)
        out.append(v)
    return tuple(out), off


def _dec_linked_list(item: Decoder) -> Decoder:
    def dec(buf: Any, off: int) -> tuple[Any, int]:
        out: list[Any] = []
        while True:
            (flag,) = _U32.unpack_from(buf, off)
            off += 4
            if not flag:
                return tuple(out), off
            v, off = item(buf, off)
            out.append(v)

    return dec


def _value_decoder(con: Any, g: _Gen) -> str:
    """The name (in ``g.env``) of a function ``f(buf, off) -> (value, off)`` for a non-fixed construct."""
    if con is gfdict.GFX_DICT:
        return "_gfx_dict"
    if isinstance(con, xdr.StructSchema):
        return g.name("dec", codec_for(con)[0])
    if isinstance(con, xdr.OpaqueCon):
        return g.name("op", _dec_opaque(con._decode_bytes, con.maximum))
    if isinstance(con, xdr.Optional):
        return g.name("dec", _dec_optional(_item_decoder(con.subcon, g)))
    if isinstance(con, xdr.Array):
        return g.name("dec", _dec_array(_item_decoder(con.subcon, g), con.maximum))
    if isinstance(con, xdr.FixedArray):
        return g.name("dec", _dec_fixed_array(_item_decoder(con.subcon, g), con.n))
    if isinstance(con, xdr.LinkedList):
        return g.name("dec", _dec_linked_list(_item_decoder(con.subcon, g)))
    raise TypeError(f"no fast decoder for {con!r}")


def _item_decoder(con: Any, g: _Gen) -> Decoder:
    fmt = _fixed_fmt(con)
    if fmt is not None:
        st = struct.Struct(">" + fmt)

        def dec(buf: Any, off: int) -> tuple[Any, int]:
            return st.unpack_from(buf, off)[0], off + st.size

        return dec
    found: Decoder = g.env[_value_decoder(con, g)]
    return found


def _enc_struct(inner: Encoder) -> Encoder:
    encoded = xdr.Encoded

    def enc(v: Any) -> bytes:
        return v.data if v.__class__ is encoded else inner(v)

    return enc


def _enc_opaque(con: xdr.OpaqueCon) -> Encoder:
    def enc(v: Any) -> bytes:
        data = con._encode_value(v, "(fast)")
        if con.maximum is not None and len(data) > con.maximum:
            raise ValueError(f"opaque of {len(data)} bytes exceeds its maximum {con.maximum}")
        return _pack_opaque(data)

    return enc


def _enc_optional(item: Encoder) -> Encoder:
    def enc(v: Any) -> bytes:
        return b"\0\0\0\0" if v is None else b"\0\0\0\1" + item(v)

    return enc


def _enc_array(item: Encoder, maximum: int | None) -> Encoder:
    def enc(v: Any) -> bytes:
        items = tuple(v)
        if maximum is not None and len(items) > maximum:
            raise ValueError("array over its maximum")
        return _U32.pack(len(items)) + b"".join(item(x) for x in items)

    return enc


def _enc_fixed_array(item: Encoder, n: int) -> Encoder:
    def enc(v: Any) -> bytes:
        items = tuple(v)
        if len(items) != n:
            raise ValueError(f"expected {n} items")
        return b"".join(item(x) for x in items)

    return enc


def _enc_linked_list(item: Encoder) -> Encoder:
    def enc(v: Any) -> bytes:
        return b"".join(b"\0\0\0\1" + item(x) for x in v) + b"\0\0\0\0"

    return enc


def _value_encoder(con: Any, g: _Gen) -> str:
    if con is gfdict.GFX_DICT:
        return "_encode_gfx_dict"
    if isinstance(con, xdr.StructSchema):
        return g.name("enc", _enc_struct(codec_for(con)[1]))
    if isinstance(con, xdr.OpaqueCon):
        return g.name("openc", _enc_opaque(con))
    if isinstance(con, xdr.Optional):
        return g.name("enc", _enc_optional(_item_encoder(con.subcon, g)))
    if isinstance(con, xdr.Array):
        return g.name("enc", _enc_array(_item_encoder(con.subcon, g), con.maximum))
    if isinstance(con, xdr.FixedArray):
        return g.name("enc", _enc_fixed_array(_item_encoder(con.subcon, g), con.n))
    if isinstance(con, xdr.LinkedList):
        return g.name("enc", _enc_linked_list(_item_encoder(con.subcon, g)))
    raise TypeError(f"no fast encoder for {con!r}")


def _item_encoder(con: Any, g: _Gen) -> Encoder:
    fmt = _fixed_fmt(con)
    if fmt is not None:
        st = struct.Struct(">" + fmt)

        def enc(v: Any) -> bytes:
            return st.pack(v)

        return enc
    found: Encoder = g.env[_value_encoder(con, g)]
    return found


_CACHE: dict[int, tuple[Decoder, Encoder]] = {}


def codec_for(schema: xdr.StructSchema) -> tuple[Decoder, Encoder]:
    """(decode(buf, off) -> (value, end), encode(value) -> bytes) for a struct's schema."""
    hit = _CACHE.get(id(schema))
    if hit is not None:
        return hit
    g = _Gen()
    g.env["cls"] = schema.cls
    fields = schema.fields
    dec_lines = ["def decode(buf, off):"]
    enc_lines = ["def encode(v):", "    parts = []"]
    values: list[str] = []
    run: list[tuple[str, str]] = []  # (field, fmt)

    def flush() -> None:
        if not run:
            return
        fmt = ">" + "".join(f for _, f in run)
        st = g.name("st", struct.Struct(fmt))
        names = [f"v_{n}" for n, _ in run]
        target = ", ".join(names) + ("," if len(names) == 1 else "")
        dec_lines.append(f"    {target} = {st}.unpack_from(buf, off)")
        dec_lines.append(f"    off += {struct.calcsize(fmt)}")
        args = ", ".join(f"v.{n}" for n, _ in run)
        enc_lines.append(f"    parts.append({st}.pack({args}))")
        run.clear()

    for fname, con in fields:
        fmt = _fixed_fmt(con)
        if fmt is not None:
            run.append((fname, fmt))
        else:
            flush()
            dec = _value_decoder(con, g)
            enc = _value_encoder(con, g)
            dec_lines.append(f"    v_{fname}, off = {dec}(buf, off)")
            enc_lines.append(f"    parts.append({enc}(v.{fname}))")
        values.append(f"v_{fname}")
    flush()
    dec_lines.append(f"    return cls({', '.join(values)}), off")
    enc_lines.append("    return b''.join(parts)")
    source = "\n".join(dec_lines) + "\n\n" + "\n".join(enc_lines) + "\n"
    exec(compile(source, f"<fastxdr {schema.xname}>", "exec"), g.env)  # noqa: S102 (generated from schemas)
    pair: tuple[Decoder, Encoder] = (g.env["decode"], g.env["encode"])
    _CACHE[id(schema)] = pair
    return pair
