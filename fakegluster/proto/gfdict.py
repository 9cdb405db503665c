"""The two GlusterFS dictionary encodings.

1. ``gfx_dict`` (glusterfs4-xdr.x), the typed XDR dict of every FOP v400 ``xdata``:
   ``u32 xdr_size, i32 count, gfx_dict_pair pairs<>``.  ``count == -1`` is the NULL dict
   (Python ``None``); otherwise a ``dict[str, GfxValue]`` in wire order.  Keys travel with
   their trailing NUL.  ``xdr_size`` is the encoded size minus the 12 header bytes (0 when
   that is not positive), as ``dict_to_xdr`` in ``rpc/xdr/src/glusterfs3.h`` computes it;
   the socket layers of both peers use it to find READ/WRITE payloads, so the decoder
   insists that it is exact, and that ``count`` matches the pairs.

2. The old serialized dict (``dict_serialize`` in ``libglusterfs/src/dict.c``) carried in
   ``opaque dict<>``/``opaque xdata<>`` of the handshake structures: ``u32 count``, then per
   pair ``u32 keylen, u32 vallen, key, NUL, value`` with no alignment.  Python: ``None`` for
   a zero-length opaque, a ``dict[str, bytes]`` (values as sent, C strings keep their NUL)
   when the blob is a well-formed dict, and the raw ``bytes`` otherwise — a malformed dict is
   the application's business (the real server answers op_ret -1/EINVAL, not GARBAGE_ARGS).
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import io
import struct
from collections.abc import Mapping
from typing import Annotated, Any

import construct as c

from .common import GfxIattx, GfxMdataIatt
from .frozen import fast_init
from .xdrcon import OpaqueCon, _read

__all__ = [
    "GfDataType",
    "GfxValue",
    "GfxDict",
    "OldDict",
    "GFX_DICT",
    "OLD_DICT",
    "Xdata",
    "serialize_old_dict",
    "unserialize_old_dict",
    "old_dict",
    "old_dict_text",
]


class GfDataType(enum.IntEnum):
    """``gf_dict_data_type_t`` (libglusterfs/src/glusterfs/dict.h)."""

    UNKNOWN = 0
    STR_OLD = 1
    INT = 2
    UINT = 3
    DOUBLE = 4
    STR = 5
    PTR = 6
    GFUUID = 7
    IATT = 8
    MDATA = 9


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class GfxValue:
    """One typed value of a ``gfx_dict`` (``union gfx_value``).

    ``value`` is ``int`` (INT, UINT), ``float`` (DOUBLE), ``bytes`` (STR, PTR, STR_OLD: as
    on the wire, so a C string keeps its NUL; GFUUID: 16 bytes), a ``GfxIattx`` (IATT) or a
    ``GfxMdataIatt`` (MDATA).
    """

    type: GfDataType
    value: Any

    @classmethod
    def int(cls, v: int) -> GfxValue:
        return cls(GfDataType.INT, v)

    @classmethod
    def uint(cls, v: builtins.int) -> GfxValue:
        return cls(GfDataType.UINT, v)

    @classmethod
    def double(cls, v: float) -> GfxValue:
        return cls(GfDataType.DOUBLE, float(v))

    @classmethod
    def str(cls, v: str | bytes) -> GfxValue:
        """A C string: the value goes on the wire with its terminating NUL."""
        b = v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)
        return cls(GfDataType.STR, b + b"\0")

    @classmethod
    def ptr(cls, v: bytes) -> GfxValue:
        return cls(GfDataType.PTR, bytes(v))

    @classmethod
    def uuid(cls, v: bytes) -> GfxValue:
        if len(v) != 16:
            raise ValueError("a GFUUID value is 16 bytes")
        return cls(GfDataType.GFUUID, bytes(v))

    def as_bytes(self) -> bytes:
        """The value's bytes with one terminating NUL removed for C strings."""
        value = self.value
        if isinstance(value, bytes):
            return value[:-1] if self.type == GfDataType.STR and value.endswith(b"\0") else value
        raise ValueError(f"{self.type.name} value has no bytes")


#: Python type of a decoded ``gfx_dict``: ``None`` is the NULL dict.
Xdata = Mapping[str, GfxValue] | None

_hdr = struct.Struct(">IiI")
_i32 = struct.Struct(">i")
_u32 = struct.Struct(">I")
_i64 = struct.Struct(">q")
_u64 = struct.Struct(">Q")
_f64 = struct.Struct(">d")
_opaque = OpaqueCon()


class _GfxDictCon(c.Construct):  # type: ignore[misc]
    default = None

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> dict[str, GfxValue] | None:
        start = stream.tell()
        xdr_size, count, npairs = _hdr.unpack(_read(stream, 12, path))
        if count == -1:
            if npairs or xdr_size:
                raise c.ValidationError("NULL gfx_dict (count -1) with pairs or a size", path=path)
            return None
        if count != npairs:
            raise c.ValidationError(f"gfx_dict count {count} != {npairs} pairs", path=path)
        pairs: dict[str, GfxValue] = {}
        for _ in range(npairs):
            raw = _opaque._parse(stream, context, path)
            if not raw.endswith(b"\0") or b"\0" in raw[:-1]:
                raise c.ValidationError("gfx_dict key is not one NUL-terminated C string", path=path)
            key = raw[:-1].decode("utf-8", "surrogateescape")
            if key in pairs:
                raise c.ValidationError(f"duplicate gfx_dict key {key!r}", path=path)
            pairs[key] = self._parse_value(stream, context, path)
        size = stream.tell() - start - 12
        if xdr_size != (size if size > 0 else 0):
            raise c.ValidationError(f"gfx_dict xdr_size {xdr_size} != encoded size {size}", path=path)
        return pairs

    @staticmethod
    def _parse_value(stream: io.BytesIO, context: Any, path: str) -> GfxValue:
        (t,) = _i32.unpack(_read(stream, 4, path))
        if t == GfDataType.INT:
            return GfxValue(GfDataType.INT, _i64.unpack(_read(stream, 8, path))[0])
        if t == GfDataType.UINT:
            return GfxValue(GfDataType.UINT, _u64.unpack(_read(stream, 8, path))[0])
        if t == GfDataType.DOUBLE:
            return GfxValue(GfDataType.DOUBLE, _f64.unpack(_read(stream, 8, path))[0])
        if t in (GfDataType.STR, GfDataType.PTR, GfDataType.STR_OLD):
            return GfxValue(GfDataType(t), _opaque._parse(stream, context, path))
        if t == GfDataType.GFUUID:
            return GfxValue(GfDataType.GFUUID, _read(stream, 16, path))
        if t == GfDataType.IATT:
            return GfxValue(GfDataType.IATT, GfxIattx.schema._parsereport(stream, context, path))
        if t == GfDataType.MDATA:
            return GfxValue(GfDataType.MDATA, GfxMdataIatt.schema._parsereport(stream, context, path))
        raise c.ValidationError(f"gfx_value type {t} has no arm", path=path)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if obj is None:
            stream.write(_hdr.pack(0, -1, 0))
            return obj
        body = io.BytesIO()
        n = 0
        for key, value in obj.items():
            if not isinstance(value, GfxValue):
                raise c.ValidationError(f"gfx_dict value for {key!r} is not a GfxValue", path=path)
            kb = key.encode("utf-8", "surrogateescape") + b"\0"
            _opaque._build(kb, body, context, path)
            self._build_value(value, body, context, path)
            n += 1
        data = body.getvalue()
        stream.write(_hdr.pack(len(data), n, n) + data)
        return obj

    @staticmethod
    def _build_value(v: GfxValue, stream: io.BytesIO, context: Any, path: str) -> None:
        t = v.type
        stream.write(_i32.pack(t))
        if t == GfDataType.INT:
            stream.write(_i64.pack(v.value))
        elif t == GfDataType.UINT:
            stream.write(_u64.pack(v.value))
        elif t == GfDataType.DOUBLE:
            stream.write(_f64.pack(v.value))
        elif t in (GfDataType.STR, GfDataType.PTR, GfDataType.STR_OLD):
            _opaque._build(v.value, stream, context, path)
        elif t == GfDataType.GFUUID:
            if len(v.value) != 16:
                raise c.ValidationError("GFUUID value is not 16 bytes", path=path)
            stream.write(bytes(v.value))
        elif t == GfDataType.IATT:
            GfxIattx.schema._build(v.value, stream, context, path)
        elif t == GfDataType.MDATA:
            GfxMdataIatt.schema._build(v.value, stream, context, path)
        else:
            raise c.ValidationError(f"gfx_value type {t} cannot be sent", path=path)

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("gfx_dict", path=path)


#: The ``gfx_dict`` construct: ``None`` (the NULL dict) or ``dict[str, GfxValue]``.
GFX_DICT = _GfxDictCon()
#: A ``gfx_dict`` field (decoded as a ``dict``; any mapping encodes).
GfxDict = Annotated[Mapping[str, GfxValue] | None, GFX_DICT]


def serialize_old_dict(d: Mapping[str, bytes]) -> bytes:
    """``dict_serialize``: count, then keylen, vallen, key, NUL, value per pair."""
    out = [_u32.pack(len(d))]
    for key, value in d.items():
        kb = key.encode("utf-8", "surrogateescape")
        vb = bytes(value)
        out.append(_u32.pack(len(kb)) + _u32.pack(len(vb)) + kb + b"\0" + vb)
    return b"".join(out)


def unserialize_old_dict(blob: bytes) -> dict[str, bytes]:
    """``dict_unserialize``, strict: the blob must be exactly one well-formed dict.

    Raises ``ValueError`` otherwise.
    """
    n = len(blob)
    if n < 4:
        raise ValueError("old dict shorter than its count")
    (count,) = _i32.unpack_from(blob, 0)
    if count < 0:
        raise ValueError("old dict with a negative count")
    pos, out = 4, {}
    for _ in range(count):
        if pos + 8 > n:
            raise ValueError("old dict truncated in a pair header")
        keylen, vallen = struct.unpack_from(">ii", blob, pos)
        pos += 8
        if keylen < 0 or vallen < 0 or pos + keylen + 1 + vallen > n:
            raise ValueError("old dict pair runs past the end")
        key = blob[pos : pos + keylen]
        if b"\0" in key or blob[pos + keylen] != 0:
            raise ValueError("old dict key is not a C string")
        pos += keylen + 1
        k = key.decode("utf-8", "surrogateescape")
        if k in out:
            raise ValueError(f"old dict repeats key {k!r}")
        out[k] = blob[pos : pos + vallen]
        pos += vallen
    if pos != n:
        raise ValueError("old dict followed by trailing bytes")
    return out


class _OldDictCon(OpaqueCon):
    """``opaque dict<>`` holding a serialized old-style dict (see module docstring)."""

    default = None

    def _decode_bytes(self, data: bytes) -> Any:
        if not data:
            return None
        try:
            return unserialize_old_dict(data)
        except ValueError:
            return data

    def _encode_value(self, obj: Any, path: str) -> bytes:
        if obj is None:
            return b""
        if isinstance(obj, Mapping):
            return serialize_old_dict(obj)
        return super()._encode_value(obj, path)


#: The construct of ``opaque dict<>`` / ``opaque xdata<>`` in the 3.x and handshake structures.
OLD_DICT = _OldDictCon()
#: Such a field: ``None`` (empty), a ``dict[str, bytes]``, or the raw bytes of a malformed dict.
OldDict = Annotated[Mapping[str, bytes] | bytes | None, OLD_DICT]


def old_dict(items: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, bytes]:
    """Build an old-style dict the way C senders do: text values as C strings (with NUL),
    ints in decimal with NUL, bytes as given."""
    out: dict[str, bytes] = {}
    for key, value in {**(items or {}), **kw}.items():
        if isinstance(value, bytes):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = (b"1" if value else b"0") + b"\0"
        else:
            out[key] = str(value).encode("utf-8", "surrogateescape") + b"\0"
    return out


def old_dict_text(d: Mapping[str, bytes] | bytes | None) -> dict[str, str]:
    """Read an old-style dict's values as text (one trailing NUL dropped)."""
    if not isinstance(d, Mapping):
        return {}
    return {k: (v[:-1] if v.endswith(b"\0") else v).decode("utf-8", "surrogateescape") for k, v in d.items()}
