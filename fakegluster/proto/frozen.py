"""A faster ``__init__`` for the frozen, slotted classes made on every request.

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__(self, name, value)``, which is ~0.1 µs a field; a READ makes a handful
of them (the Call, its arguments, the store's Attr, the reply, the Reply event).  For a class
with ``__slots__``, each slot's descriptor can store the value directly, at a third of the
cost.  :func:`slot_init` writes such an ``__init__`` for given fields and defaults (the XDR
structs of :mod:`.xdr` use it); :func:`fast_init` swaps a frozen slotted dataclass's
``__init__`` for one, with the same parameters and defaults, leaving everything else (frozen
``__setattr__``, ``__eq__``, ``__hash__``, ``__repr__``, ``dataclasses.replace``) to the
dataclass.  Classes it cannot handle (default factories, ``__post_init__``, init=False or
kw_only fields, no slots) are left alone.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["fast_init", "slot_init", "MISSING"]

T = TypeVar("T", bound=type)
#: No default: the parameter is required (``dataclasses.MISSING``).
MISSING: Any = dataclasses.MISSING


def slot_init(cls: type, fields: Sequence[tuple[str, Any]]) -> Callable[..., None]:
    """An ``__init__(self, <fields>)`` for ``cls`` that fills each field's slot through its
    descriptor; ``fields`` are ``(name, default)`` pairs, ``MISSING`` for a required one."""
    ns: dict[str, Any] = {}
    params = []
    body = []
    for i, (name, default) in enumerate(fields):
        ns[f"_s{i}"] = cls.__dict__[name].__set__
        if default is MISSING:
            params.append(name)
        else:
            ns[f"_d{i}"] = default
            params.append(f"{name}=_d{i}")
        body.append(f"    _s{i}(self, {name})\n")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("".join(body) or "    pass\n")
    exec(compile(src, f"<fast_init {cls.__qualname__}>", "exec"), ns)
    init: Callable[..., None] = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def fast_init(cls: T) -> T:
    """Give the frozen, slotted dataclass ``cls`` the faster ``__init__``; returns ``cls``."""
    fields = dataclasses.fields(cls)
    slots = getattr(cls, "__slots__", None)
    if (
        slots is None
        or hasattr(cls, "__post_init__")
        or any(
            f.default_factory is not dataclasses.MISSING
            or not f.init
            or f.kw_only is True
            or keyword.iskeyword(f.name)
            or f.name == "self"
            or f.name.startswith("_")
            or f.name not in slots
            for f in fields
        )
    ):
        return cls
    init = slot_init(cls, [(f.name, f.default) for f in fields])
    init.__doc__ = cls.__dict__["__init__"].__doc__
    setattr(cls, "__init__", init)  # noqa: B010 (mypy: a class's __init__ is not assignable)
    return cls
