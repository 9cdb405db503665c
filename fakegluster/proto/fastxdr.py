"""Fast XDR codecs generated from the construct schemas (the schemas stay the source of truth).

construct's plain parser costs ~1 µs per field; a FOP reply with two ``gfx_iattx`` has 50
fields.  :func:`codec_for` generates, once per ``.x`` struct, a pair of plain Python
functions that do the same work with a few ``struct.unpack_from``/``pack`` calls, merging
runs of fixed-size fields into one format.

They are as strict as the plain parser, so they may see untrusted bytes: every read is
bounds-checked (``unpack_from`` raises on a short buffer, opaques check their length and
padding room), opaque maxima are enforced, and gfx_dicts are validated exactly like
``gfdict.GfxDict``.  A differential test (tests/proto/test_fastxdr.py) runs both codecs on
every schema, on valid values and on random bytes, and requires identical results.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from . import gfdict, xdr

__all__ = ["codec_for", "FastDecodeError"]


class FastDecodeError(ValueError):
    """Not a valid encoding (the caller reports it as ``xdr.DecodeError``)."""


_U32 = struct.Struct(">I")
_HDR = struct.Struct(">IiI")
_NULL_DICT = b"\0\0\0\0\xff\xff\xff\xff\0\0\0\0"
_PRIM = {id(xdr.Int): "i", id(xdr.UInt): "I", id(xdr.Hyper): "q", id(xdr.UHyper): "Q", id(xdr.Double): "d"}


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


def _gfx_dict(buf: Any, off: int) -> tuple[Any, int]:
    if bytes(buf[off : off + 12]) == _NULL_DICT:
        return None, off + 12
    xdr_size, count, npairs = _HDR.unpack_from(buf, off)
    if count == -1 or count != npairs:
        # the plain decoder words every refusal; let it do so
        raise FastDecodeError("gfx_dict header")
    value, end = xdr.decode(gfdict.GfxDict, buf, off)
    return value, end


def _encode_gfx_dict(value: Any) -> bytes:
    if value is None:
        return _NULL_DICT
    if not value:
        return b"\0" * 12
    return xdr.encode(gfdict.GfxDict, value)


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
    if isinstance(con, xdr.FixedOpaque):
        return f"{con.n}s" + (f"{-con.n % 4}x" if con.n % 4 else "")
    return None


def _value_decoder(con: Any, g: _Gen) -> str:
    """An expression ``f(buf, off) -> (value, off)`` for a non-fixed construct."""
    if con is gfdict.GfxDict:
        return "_gfx_dict"
    if isinstance(con, xdr.XdrStruct):
        return g.name("dec", codec_for(con)[0])
    if isinstance(con, xdr.Opaque):

        def dec(buf: Any, off: int, _conv: Callable[[bytes], Any] = con._decode_bytes, _max: Any = con.maximum) -> Any:
            raw, end = _opaque(buf, off, _max)
            return _conv(raw), end

        return g.name("op", dec)
    if isinstance(con, (xdr.Optional, xdr.Array, xdr.FixedArray, xdr.LinkedList)):
        item = _item_decoder(con.subcon, g)

        if isinstance(con, xdr.Optional):

            def dec(buf: Any, off: int, _item: Any = item) -> Any:
                (flag,) = _U32.unpack_from(buf, off)
                return _item(buf, off + 4) if flag else (None, off + 4)
        elif isinstance(con, xdr.Array):

            def dec(buf: Any, off: int, _item: Any = item, _max: Any = con.maximum) -> Any:
                (n,) = _U32.unpack_from(buf, off)
                if _max is not None and n > _max:
                    raise FastDecodeError("array over its maximum")
                off += 4
                out = []
                for _ in range(n):
                    v, off = _item(buf, off)
                    out.append(v)
                return tuple(out), off
        elif isinstance(con, xdr.FixedArray):

            def dec(buf: Any, off: int, _item: Any = item, _n: int = con.n) -> Any:
                out = []
                for _ in range(_n):
                    v, off = _item(buf, off)
                    out.append(v)
                return tuple(out), off
        else:

            def dec(buf: Any, off: int, _item: Any = item) -> Any:
                out = []
                while True:
                    (flag,) = _U32.unpack_from(buf, off)
                    off += 4
                    if not flag:
                        return tuple(out), off
                    v, off = _item(buf, off)
                    out.append(v)

        return g.name("dec", dec)
    raise TypeError(f"no fast decoder for {con!r}")


def _item_decoder(con: Any, g: _Gen) -> Callable[[Any, int], tuple[Any, int]]:
    fmt = _fixed_fmt(con)
    if fmt is not None:
        st = struct.Struct(">" + fmt)

        def dec(buf: Any, off: int, _st: struct.Struct = st) -> Any:
            return _st.unpack_from(buf, off)[0], off + _st.size

        return dec
    return g.env[_value_decoder(con, g)]


def _value_encoder(con: Any, g: _Gen) -> str:
    if con is gfdict.GfxDict:
        return "_encode_gfx_dict"
    if isinstance(con, xdr.XdrStruct):
        inner = codec_for(con)[1]

        def enc_struct(v: Any, _inner: Any = inner, _enc: type = xdr.Encoded) -> bytes:
            return v.data if v.__class__ is _enc else _inner(v)

        return g.name("enc", enc_struct)
    if isinstance(con, xdr.Opaque):

        def enc(v: Any, _con: Any = con) -> bytes:
            data = _con._encode_value(v, "(fast)")
            if _con.maximum is not None and len(data) > _con.maximum:
                raise ValueError(f"opaque of {len(data)} bytes exceeds its maximum {_con.maximum}")
            return _pack_opaque(data)

        return g.name("openc", enc)
    if isinstance(con, (xdr.Optional, xdr.Array, xdr.FixedArray, xdr.LinkedList)):
        item = _item_encoder(con.subcon, g)
        if isinstance(con, xdr.Optional):

            def enc(v: Any, _item: Any = item) -> bytes:
                return b"\0\0\0\0" if v is None else b"\0\0\0\1" + _item(v)
        elif isinstance(con, xdr.Array):

            def enc(v: Any, _item: Any = item, _max: Any = con.maximum) -> bytes:
                items = tuple(v)
                if _max is not None and len(items) > _max:
                    raise ValueError("array over its maximum")
                return _U32.pack(len(items)) + b"".join(_item(x) for x in items)
        elif isinstance(con, xdr.FixedArray):

            def enc(v: Any, _item: Any = item, _n: int = con.n) -> bytes:
                items = tuple(v)
                if len(items) != _n:
                    raise ValueError(f"expected {_n} items")
                return b"".join(_item(x) for x in items)
        else:

            def enc(v: Any, _item: Any = item) -> bytes:
                return b"".join(b"\0\0\0\1" + _item(x) for x in v) + b"\0\0\0\0"

        return g.name("enc", enc)
    raise TypeError(f"no fast encoder for {con!r}")


def _item_encoder(con: Any, g: _Gen) -> Callable[[Any], bytes]:
    fmt = _fixed_fmt(con)
    if fmt is not None:
        st = struct.Struct(">" + fmt)
        return lambda v, _st=st: _st.pack(v)
    return g.env[_value_encoder(con, g)]


_CACHE: dict[int, tuple[Callable[..., Any], Callable[..., Any]]] = {}


def codec_for(schema: xdr.XdrStruct) -> tuple[Callable[[Any, int], tuple[Any, int]], Callable[[Any], bytes]]:
    """(decode(buf, off) -> (value, end), encode(value) -> bytes) for an XdrStruct."""
    hit = _CACHE.get(id(schema))
    if hit is not None:
        return hit
    g = _Gen()
    g.env["cls"] = schema.cls
    fields = [(f.name, f.subcon) for f in schema.subcon.subcons]
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
    pair = (g.env["decode"], g.env["encode"])
    _CACHE[id(schema)] = pair
    return pair
