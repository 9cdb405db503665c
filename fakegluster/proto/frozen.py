"""A faster ``__init__`` for the frozen, slotted dataclasses made on every request.

A frozen dataclass's generated ``__init__`` stores each field through
``object.__setattr__(self, name, value)``, which is ~0.1 µs a field; a READ makes a handful
of them (the Call, its arguments, the store's Attr, the reply, the Reply event).  For a class
with ``__slots__``, each slot's descriptor can store the value directly, at a third of the
cost.  :func:`fast_init` swaps the ``__init__`` for one doing that, with the same parameters
and defaults; everything else (frozen ``__setattr__``, ``__eq__``, ``__hash__``, ``__repr__``,
``dataclasses.replace``) is the dataclass's own.  Classes it cannot handle (default
factories, ``__post_init__``, init=False or kw_only fields, no slots) are left alone.
"""

from __future__ import annotations

import dataclasses
import keyword

__all__ = ["fast_init"]


def fast_init(cls: type) -> type:
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
    ns: dict[str, object] = {}
    params = []
    body = []
    for i, f in enumerate(fields):
        ns[f"_s{i}"] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            ns[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
        body.append(f"    _s{i}(self, {f.name})\n")
    src = f"def __init__(self, {', '.join(params)}):\n" + ("".join(body) or "    pass\n")
    exec(compile(src, f"<fast_init {cls.__qualname__}>", "exec"), ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
