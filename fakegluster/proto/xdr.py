"""XDR (RFC 4506) on construct, and :class:`Struct`, the base class of every ``.x`` struct.

A ``.x`` struct is declared once, as a class whose annotations are its XDR types, in wire
order, with the ``.x`` field names::

    class GfxReadReq(Struct, xname="gfx_read_req"):   # glusterfs4-xdr.x
        gfid: Gfid = NULL_GFID
        fd: Hyper = 0
        offset: UHyper = 0
        size: UInt = 0
        flag: UInt = 0
        xdata: GfxDict = None

The class is a frozen, slotted dataclass (``dataclasses.fields``/``replace``/``asdict`` work,
and type checkers see it as one through ``dataclass_transform``), built without the cost of
``dataclasses.dataclass`` (~1 ms a class, ~150 classes at import).  ``GfxReadReq.schema`` is
the construct built from the annotations; it parses with construct's plain (uncompiled)
parser, which checks lengths: a short buffer raises ``construct.StreamError``, an over-long
opaque ``construct.ValidationError``; :func:`decode` turns both into :class:`DecodeError`,
which the connection answers with GARBAGE_ARGS.  :func:`decode`/:func:`encode` run the fast
codec generated from that schema (:mod:`.fastxdr`).  The fast codec never falls back to the
plain one silently: a struct it cannot generate, or bytes/values it refuses that the plain
one accepts, is recorded in :data:`FALLBACKS`, logged, and raises :class:`FallbackError` when
``FAKEGLUSTER_STRICT_XDR=1`` (the test suite sets it).

Field types (``typing.Annotated`` aliases carrying their construct; the constructs are in
:mod:`.xdrcon`, re-exported here):

=====================  ===============================  =========================================
XDR                    annotation                       Python
=====================  ===============================  =========================================
int / unsigned int     ``Int`` / ``UInt``               ``int``
hyper / unsigned hyper ``Hyper`` / ``UHyper``           ``int``
double                 ``Double``                       ``float``
opaque[16] (a gfid)    ``Gfid``                         ``bytes`` (16 raw bytes)
opaque[n]              ``Annotated[bytes, FixedOpaqueCon(n)]``  ``bytes``
opaque<> / string<>    ``Opaque`` / ``String``          ``bytes`` / ``str`` (UTF-8,
                                                        ``surrogateescape``: any bytes round-trip)
opaque<n> / string<n>  ``Annotated[bytes, OpaqueCon(n)]``, ``Annotated[str, StringCon(n)]``
T x<n>                 ``Annotated[tuple[T, ...], Array(T, n)]``          ``tuple``
T x[n]                 ``Annotated[tuple[T, ...], FixedArray(T, n)]``     ``tuple``
T *x (optional)        ``Annotated[T | None, Optional(T)]``               ``None`` or the value
linked list (T *next)  ``Annotated[tuple[T, ...], LinkedList(T)]``        ``tuple`` of entries
                                                        (decoded iteratively, not recursively)
struct                 the struct's class               an instance of it
gfx_dict / old dict    ``gfdict.GfxDict`` / ``gfdict.OldDict``
=====================  ===============================  =========================================
"""

from __future__ import annotations

import dataclasses
import io
import logging
import operator
import os
import struct as _struct
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, dataclass_transform, overload

import construct as c

from .frozen import MISSING, slot_init
from .xdrcon import (
    _PRIMITIVES,
    DOUBLE,
    GFID,
    HYPER,
    INT,
    UHYPER,
    UINT,
    Array,
    Double,
    FixedArray,
    FixedOpaqueCon,
    Gfid,
    Hyper,
    Int,
    LinkedList,
    Opaque,
    OpaqueCon,
    Optional,
    String,
    StringCon,
    UHyper,
    UInt,
)

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
    "Struct",
    "StructSchema",
    "con_of",
    "schema_of",
    "struct_classes",
    "decode",
    "encode",
    "plain_decode",
    "plain_encode",
    "DecodeError",
    "FallbackError",
    "FALLBACKS",
    "default_of",
    "Encoded",
    "NULL_GFID",
]

log = logging.getLogger(__name__)

NULL_GFID = bytes(16)


class DecodeError(ValueError):
    """Raised by :func:`decode` for bytes that are not a valid encoding of the schema."""


class FallbackError(AssertionError):
    """The fast codec refused (or could not be generated for) what the plain one accepts: a
    bug in :mod:`.fastxdr`.  Raised only in strict mode (``FAKEGLUSTER_STRICT_XDR=1``)."""


#: Every fast-codec fallback seen in this process (see the module docstring).
FALLBACKS: list[str] = []


def _strict() -> bool:
    return os.environ.get("FAKEGLUSTER_STRICT_XDR") == "1"


def _fallback(what: str) -> None:
    FALLBACKS.append(what)
    if _strict():
        raise FallbackError(what)
    log.warning("fast XDR codec fell back to construct: %s", what)


def con_of(t: Any) -> Any:
    """The construct of a field type: an ``Annotated`` alias's, a struct class's schema, or
    the construct itself."""
    meta = getattr(t, "__metadata__", None)
    if meta is not None:
        return meta[0]
    if isinstance(t, type) and issubclass(t, Struct):
        return t.schema
    if isinstance(t, c.Construct):
        return t
    raise TypeError(f"{t!r} is not an XDR type (an xdr annotation alias, a Struct class or a construct)")


def schema_of(t: Any) -> Any:
    """:func:`con_of` for what :func:`decode`/:func:`encode` accept (a struct class or a construct)."""
    return t.schema if isinstance(t, type) and issubclass(t, Struct) else t


def default_of(con: Any) -> Any:
    """The zero value of a construct (what a field of that type defaults to)."""
    if id(con) in _PRIMITIVES:
        return _PRIMITIVES[id(con)]
    if isinstance(con, StructSchema):
        return con.cls()
    if hasattr(con, "default"):
        return con.default
    raise TypeError(f"no default for {con!r}")


class Encoded:
    """A struct value already in its wire form: encoders write ``data`` as it is.

    The hot path uses it to skip building a struct only to encode it at once (the server's
    stats).  Reading an attribute decodes it (once), so it can stand where a value of that
    struct is expected.
    """

    __slots__ = ("schema", "data", "_value")

    def __init__(self, schema: Any, data: bytes) -> None:
        self.schema: Any = schema_of(schema)
        self.data = data
        self._value: Any = None

    def decoded(self) -> Any:
        if self._value is None:
            self._value = decode(self.schema, self.data)[0]
        return self._value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.decoded(), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Encoded):
            return self.data == other.data
        return bool(self.decoded() == other)

    def __hash__(self) -> int:
        return hash(self.data)

    def __repr__(self) -> str:
        return f"Encoded({self.decoded()!r})"


class StructSchema(c.Adapter):  # type: ignore[misc]
    """The construct of a :class:`Struct` class (``cls.schema``): a construct ``Struct`` of its
    fields whose parsed value is an instance of the class.  Building accepts an instance or
    an :class:`Encoded`."""

    def __init__(self, cls: type[Struct], fields: tuple[tuple[str, Any], ...]) -> None:
        super().__init__(c.Struct(*[name / con for name, con in fields]))
        self.cls = cls
        self.xname = cls.xname
        self.fields = fields
        self.field_names = tuple(name for name, _ in fields)
        self._fast: tuple[Any, Any] | None = None

    @property
    def fast_decode(self) -> Callable[[Any, int], tuple[Any, int]] | None:
        """The generated decoder (see :mod:`.fastxdr`), built on first use."""
        fast = self._fast or self._build_fast()
        return fast[0]  # type: ignore[no-any-return]

    @property
    def fast_encode(self) -> Callable[[Any], bytes] | None:
        """The generated encoder, built on first use."""
        fast = self._fast or self._build_fast()
        return fast[1]  # type: ignore[no-any-return]

    def _build_fast(self) -> tuple[Any, Any]:
        from .fastxdr import codec_for

        with _MAKE_LOCK:  # once, whatever the threads (issue #14 defect 6)
            if self._fast is not None:
                return self._fast
            try:
                self._fast = codec_for(self)
            except TypeError as exc:  # a field type the generator does not know: plain only
                self._fast = (None, None)
                _fallback(f"no fast codec for {self.xname}: {exc}")
            return self._fast

    def _build(self, obj: Any, stream: io.BytesIO, context: Any, path: str) -> Any:
        if isinstance(obj, Encoded):
            stream.write(obj.data)
            return obj
        return super()._build(obj, stream, context, path)

    def _decode(self, obj: Any, context: Any, path: str) -> Any:
        return self.cls(*[obj[name] for name in self.field_names])

    def _encode(self, obj: Any, context: Any, path: str) -> Any:
        if isinstance(obj, self.cls):
            return {name: getattr(obj, name) for name in self.field_names}
        raise c.ValidationError(f"expected {self.cls.__name__}, got {type(obj).__name__}", path=path)

    def __repr__(self) -> str:
        return f"<StructSchema {self.xname}>"


# ---- the Struct base class ----------------------------------------------------------------
#: Guards what is made on first use (a class's __init__, a schema's fast codec, which makes its
#: fields' codecs too): made once whatever the threads.  Two threads each making a codec of
#: their own broke 16 gfclients connecting at once (issue #14 defect 6, with the lazily made
#: dataclasses of before).
_MAKE_LOCK = threading.RLock()
_HINTS: dict[tuple[str, str], Any] = {}
_CLASSES: list[type[Struct]] = []
_RESERVED = {"schema", "xname", "cls", "field_names"}


def _hint(module: str, annotation: Any) -> Any:
    """A field annotation, evaluated in its module (annotations are strings under
    ``from __future__ import annotations``); cached, as most are a handful of aliases."""
    if not isinstance(annotation, str):
        return annotation
    key = (module, annotation)
    hit = _HINTS.get(key)
    if hit is None:
        hit = _HINTS[key] = eval(annotation, vars(sys.modules[module]))  # noqa: S307 (our own source)
    return hit


@dataclass_transform(frozen_default=True, eq_default=True)
class _StructMeta(type):
    """Makes each :class:`Struct` subclass a frozen, slotted dataclass with a schema."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], xname: str | None = None) -> Any:
        if not any(isinstance(b, _StructMeta) for b in bases):  # Struct itself
            return super().__new__(mcls, name, bases, ns)
        if xname is None:
            raise TypeError(f"{name}: a Struct needs its .x name: class {name}(Struct, xname='...')")
        if bases != (Struct,):
            raise TypeError(f"{name}: a Struct derives from Struct alone")
        annotations: dict[str, Any] = ns.get("__annotations__", {})
        module = ns["__module__"]
        fields: list[tuple[str, Any]] = []
        defaults: list[tuple[str, Any]] = []
        for fname, annotation in annotations.items():
            if fname in _RESERVED or fname.startswith("_"):
                raise TypeError(f"{name}: field name {fname!r} is reserved")
            default = ns.pop(fname, MISSING)
            if default is not MISSING and type(default).__hash__ is None:
                raise ValueError(f"{name}.{fname}: mutable default {default!r}")
            if defaults and defaults[-1][1] is not MISSING and default is MISSING:
                raise TypeError(f"{name}: required field {fname!r} follows a defaulted one")
            fields.append((fname, con_of(_hint(module, annotation))))
            defaults.append((fname, default))
        names = tuple(fname for fname, _ in fields)
        ns["__slots__"] = names
        ns["__match_args__"] = names
        ns.setdefault("__doc__", None)
        cls = super().__new__(mcls, name, bases, ns)
        if cls.__doc__ is None:
            cls.__doc__ = f"``{xname}`` (GlusterFS .x type)."
        cls.xname = xname  # type: ignore[attr-defined]
        cls.field_names = names  # type: ignore[attr-defined]
        cls._defaults = tuple(defaults)  # type: ignore[attr-defined]
        key = operator.attrgetter(*names) if len(names) > 1 else (lambda v: tuple(getattr(v, n) for n in names))
        cls._key = staticmethod(key)  # type: ignore[attr-defined]
        dc_fields = {}
        for fname, default in defaults:
            f = dataclasses.field(default=default)
            f.name, f.type = fname, annotations[fname]
            f._field_type = dataclasses._FIELD  # type: ignore[attr-defined]
            dc_fields[fname] = f
        cls.__dataclass_fields__ = dc_fields  # type: ignore[attr-defined]
        cls.schema = StructSchema(cls, tuple(fields))  # type: ignore[attr-defined, arg-type]
        _CLASSES.append(cls)  # type: ignore[arg-type]
        return cls

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any], xname: str | None = None) -> None:
        super().__init__(name, bases, ns)


class Struct(metaclass=_StructMeta):
    """Base class of the ``.x`` structs (see the module docstring).

    ``cls.schema`` is the construct, ``cls.xname`` the ``.x`` type name, ``cls.field_names``
    the fields in wire order.
    """

    __slots__ = ()
    schema: ClassVar[StructSchema]
    xname: ClassVar[str]
    field_names: ClassVar[tuple[str, ...]]
    if TYPE_CHECKING:
        cls: ClassVar[Any]
        _defaults: ClassVar[tuple[tuple[str, Any], ...]]

        @staticmethod
        def _key(value: Any) -> Any: ...  # the field values (operator.attrgetter)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Each class's own __init__ (fills the slots through their descriptors, see
        # frozen.slot_init) is generated on its first instantiation: ~100 µs a class saved at import.
        cls = type(self)
        if cls is Struct:
            raise TypeError("Struct is abstract: declare a subclass")
        with _MAKE_LOCK:
            init = cls.__dict__.get("__init__")
            if init is None:
                init = slot_init(cls, cls._defaults)
                init.__doc__ = f"A ``{cls.xname}``."
                cls.__init__ = init  # type: ignore[method-assign]
        init(self, *args, **kwargs)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.field_names)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            key = self._key
            return bool(key(self) == key(other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), tuple(getattr(self, n) for n in self.field_names))


def struct_classes() -> list[type[Struct]]:
    """Every :class:`Struct` class declared so far (the program modules declare theirs)."""
    return list(_CLASSES)


# ---- decode / encode ---------------------------------------------------------------------
_DECODE_ERRORS = (c.ConstructError, _struct.error, OverflowError, ValueError, TypeError)
_FAST_ERRORS = (_struct.error, OverflowError, ValueError, TypeError, IndexError, AttributeError)

S = TypeVar("S", bound=Struct)


@overload
def decode(schema: type[S], data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[S, int]: ...
@overload
def decode(schema: Any, data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Any, int]: ...


def decode(schema: Any, data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Any, int]:
    """Decode one value of ``schema`` (a struct class or a construct) from ``data[offset:]``;
    return (value, end offset).

    Structs go through the generated fast codec (:mod:`.fastxdr`); when it refuses the
    bytes, the plain construct parser words the error (and if it accepts them, that is a
    fast-codec bug: see :data:`FALLBACKS`).

    Raises :class:`DecodeError` for anything that is not a valid encoding.
    """
    if isinstance(schema, type):
        schema = schema.schema  # type: ignore[attr-defined]  # a Struct class
    elif not isinstance(schema, StructSchema):
        return plain_decode(schema, data, offset)
    fast = (schema._fast or schema._build_fast())[0]
    if fast is not None:
        try:
            return fast(data, offset)  # type: ignore[no-any-return]
        except _FAST_ERRORS as exc:
            value = plain_decode(schema, data, offset)  # raises the worded DecodeError
            _fallback(f"fast decoder of {schema.xname} refused what construct decodes: {exc!r}")
            return value
    return plain_decode(schema, data, offset)


def plain_decode(schema: Any, data: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Any, int]:
    """:func:`decode` with construct's plain parser only."""
    stream = io.BytesIO(data)
    if offset:
        stream.seek(offset)
    try:
        value = schema_of(schema).parse_stream(stream)
    except _DECODE_ERRORS as exc:
        raise DecodeError(str(exc)) from exc
    return value, stream.tell()


def encode(schema: Any, value: Any) -> bytes:
    """Encode ``value`` with ``schema`` (a struct class or a construct); ``ValueError`` if it
    does not fit the schema."""
    if value.__class__ is schema:  # the usual case: a struct class and an instance of it
        schema = schema.schema
    elif isinstance(value, Encoded):
        return value.data
    else:
        schema = schema_of(schema)
        if not isinstance(schema, StructSchema):
            return plain_encode(schema, value)
        if not isinstance(value, schema.cls):
            raise ValueError(f"cannot encode {type(value).__name__} as {schema.xname}")
    fast = (schema._fast or schema._build_fast())[1]
    if fast is not None:
        try:
            return fast(value)  # type: ignore[no-any-return]
        except _FAST_ERRORS as exc:
            data = plain_encode(schema, value)  # raises the worded ValueError
            _fallback(f"fast encoder of {schema.xname} refused what construct encodes: {exc!r}")
            return data
    return plain_encode(schema, value)


def plain_encode(schema: Any, value: Any) -> bytes:
    """:func:`encode` with construct's builder only."""
    stream = io.BytesIO()
    try:
        schema_of(schema).build_stream(value, stream)
    except (c.ConstructError, _struct.error) as exc:
        raise ValueError(f"cannot encode {type(value).__name__} as {schema!r}: {exc}") from exc
    return stream.getvalue()
