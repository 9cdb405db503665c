"""The XDR (RFC 4506) constructs the ``.x`` types are made of, on construct: integers,
``opaque``/``string`` (variable and fixed), optional data (``T *x``), arrays (variable and
fixed) and the ``.x`` linked lists; and the annotation aliases struct fields are declared with
(``Int``, ``Gfid``, ``String``...).  :mod:`.xdr` builds the :class:`~.xdr.Struct` classes on
them (and re-exports everything here).  Plain construct parsers: each checks its lengths, a
short buffer raises ``construct.StreamError``.
"""

from __future__ import annotations

import io
import struct as _struct
from typing import Annotated, Any

import construct as c

__all__ = [
    "Int",
    "UInt",
    "Hyper",
    "UHyper",
    "Double",
    "Gfid",
    "String",
    "Opaque",
    "INT",
    "UINT",
    "HYPER",
    "UHYPER",
    "DOUBLE",
    "GFID",
    "OpaqueCon",
    "StringCon",
    "FixedOpaqueCon",
    "Optional",
    "Array",
    "FixedArray",
    "LinkedList",
]

# Primitive integers: construct's own singletons.
INT = c.Int32sb
UINT = c.Int32ub
HYPER = c.Int64sb
UHYPER = c.Int64ub
DOUBLE = c.Float64b

_PRIMITIVES: dict[int, Any] = {id(INT): 0, id(UINT): 0, id(HYPER): 0, id(UHYPER): 0, id(DOUBLE): 0.0}

_u32 = _struct.Struct(">I")


def _read(stream: io.BytesIO, n: int, path: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise c.StreamError(f"expected {n} bytes, found {len(data)}", path=path)
    return data


def _pad(n: int) -> int:
    return (-n) % 4


class OpaqueCon(c.Construct):  # type: ignore[misc]
    """``opaque x<max>``: u32 length, the bytes, zero padding to a multiple of 4.

    Padding bytes are skipped unchecked on parse (like glibc's ``xdr_opaque``) and written
    as zeros.
    """

    default: Any = b""

    def __init__(self, maximum: int | None = None) -> None:
        super().__init__()
        self.maximum = maximum

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        (n,) = _u32.unpack(_read(stream, 4, path))
        if self.maximum is not None and n > self.maximum:
            raise c.ValidationError(f"opaque of {n} bytes exceeds its maximum {self.maximum}", path=path)
        data = _read(stream, n, path)
        if n % 4:
            _read(stream, 4 - n % 4, path)
        return self._decode_bytes(data)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        data = self._encode_value(obj, path)
        n = len(data)
        if self.maximum is not None and n > self.maximum:
            raise c.ValidationError(f"opaque of {n} bytes exceeds its maximum {self.maximum}", path=path)
        stream.write(_u32.pack(n) + data + b"\0" * _pad(n))
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("variable-length opaque", path=path)

    def _decode_bytes(self, data: bytes) -> Any:
        return data

    def _encode_value(self, obj: Any, path: str) -> bytes:
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        raise c.ValidationError(f"expected bytes, got {type(obj).__name__}", path=path)


class StringCon(OpaqueCon):
    """``string x<max>``: like opaque; decoded as UTF-8 with ``surrogateescape``."""

    default = ""

    def _decode_bytes(self, data: bytes) -> str:
        return data.decode("utf-8", "surrogateescape")

    def _encode_value(self, obj: Any, path: str) -> bytes:
        if isinstance(obj, str):
            return obj.encode("utf-8", "surrogateescape")
        return super()._encode_value(obj, path)


class FixedOpaqueCon(c.Construct):  # type: ignore[misc]
    """``opaque x[n]``: exactly n raw bytes, padded to a multiple of 4."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.default = bytes(n)

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        data = _read(stream, self.n, path)
        if self.n % 4:
            _read(stream, 4 - self.n % 4, path)
        return data

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if not isinstance(obj, (bytes, bytearray, memoryview)) or len(obj) != self.n:
            raise c.ValidationError(f"expected {self.n} bytes", path=path)
        stream.write(bytes(obj) + b"\0" * _pad(self.n))
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        return self.n + _pad(self.n)


GFID = FixedOpaqueCon(16)

# The annotations of struct fields.
Int = Annotated[int, INT]
UInt = Annotated[int, UINT]
Hyper = Annotated[int, HYPER]
UHyper = Annotated[int, UHYPER]
Double = Annotated[float, DOUBLE]
Gfid = Annotated[bytes, GFID]
String = Annotated[str, StringCon()]
Opaque = Annotated[bytes, OpaqueCon()]


class _Sub(c.Subconstruct):  # type: ignore[misc]
    """A combinator over one item type (a construct, an annotation alias or a struct class)."""

    def __init__(self, item: Any) -> None:
        from .xdr import con_of  # a struct class's schema: xdr.py, which imports this module

        super().__init__(con_of(item))


class Optional(_Sub):
    """``T *x``: a u32 boolean (any non-zero is TRUE, as in glibc), then T if present."""

    default = None

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        (flag,) = _u32.unpack(_read(stream, 4, path))
        return self.subcon._parsereport(stream, context, path) if flag else None

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if obj is None:
            stream.write(_u32.pack(0))
        else:
            stream.write(_u32.pack(1))
            self.subcon._build(obj, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("optional", path=path)


class Array(_Sub):
    """``T x<max>``: u32 count then the items, as a tuple."""

    default = ()

    def __init__(self, item: Any, maximum: int | None = None) -> None:
        super().__init__(item)
        self.maximum = maximum

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        (n,) = _u32.unpack(_read(stream, 4, path))
        if self.maximum is not None and n > self.maximum:
            raise c.ValidationError(f"array of {n} items exceeds its maximum {self.maximum}", path=path)
        # Each item reads at least one byte, so a lying count fails at the end of the data.
        parse = self.subcon._parsereport
        return tuple(parse(stream, context, path) for _ in range(n))

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        items = tuple(obj)
        if self.maximum is not None and len(items) > self.maximum:
            raise c.ValidationError(f"array of {len(items)} items exceeds its maximum", path=path)
        stream.write(_u32.pack(len(items)))
        for item in items:
            self.subcon._build(item, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("variable array", path=path)


class FixedArray(_Sub):
    """``T x[n]``: exactly n items (no count on the wire), as a tuple."""

    def __init__(self, item: Any, n: int) -> None:
        super().__init__(item)
        self.n = n
        from .xdr import default_of

        self.default = (default_of(self.subcon),) * n

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        parse = self.subcon._parsereport
        return tuple(parse(stream, context, path) for _ in range(self.n))

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        items = tuple(obj)
        if len(items) != self.n:
            raise c.ValidationError(f"expected {self.n} items, got {len(items)}", path=path)
        for item in items:
            self.subcon._build(item, stream, context, path)
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        return int(self.n * self.subcon._sizeof(context, path))


class LinkedList(_Sub):
    """A ``.x`` linked list (``struct T { ...; T *next; }`` reached through ``T *head``).

    On the wire: ``1, entry, 1, entry, ..., 0``.  The item is the entry *without* its next
    pointer.  Decoded iteratively into a tuple, so long lists cannot exhaust the stack.
    """

    default = ()

    def _parse(self, stream: io.BytesIO, context: Any, path: str) -> Any:
        items = []
        parse = self.subcon._parsereport
        while _u32.unpack(_read(stream, 4, path))[0]:
            items.append(parse(stream, context, path))
        return tuple(items)

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        for item in obj:
            stream.write(_u32.pack(1))
            self.subcon._build(item, stream, context, path)
        stream.write(_u32.pack(0))
        return obj

    def _sizeof(self, context: Any, path: str) -> int:
        raise c.SizeofError("linked list", path=path)
