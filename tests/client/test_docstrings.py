"""gfclient as a library (issue #15): every public class, function, method and property of
its public modules has a docstring (``help(gfclient.Volume.stat)`` says something)."""

from __future__ import annotations

import importlib
import inspect

PUBLIC_MODULES = ["gfclient", "gfclient.aio", "gfclient.sync", "gfclient.gfapi", "gfclient.gfapi.exceptions"]


def _public(module):
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__.startswith("gfclient"):
            yield f"{module.__name__}.{name}", obj


def _members(cls):
    for klass in cls.__mro__:
        if not klass.__module__.startswith("gfclient"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") and name != "__next__":
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if inspect.isfunction(member) or isinstance(member, property):
                yield name, member


def test_every_public_method_of_gfclient_has_a_docstring():
    missing = []
    seen = 0
    for modname in PUBLIC_MODULES:
        for qualname, obj in _public(importlib.import_module(modname)):
            seen += 1
            if not inspect.getdoc(obj):
                missing.append(qualname)
            if inspect.isclass(obj):
                for name, member in _members(obj):
                    seen += 1
                    if not (member.__doc__ or "").strip():
                        missing.append(f"{qualname}.{name}")
    assert seen > 300, seen  # the walk found the API (Volume, File, aio, gfapi, ...)
    assert not missing, f"{len(missing)} without a docstring: {', '.join(sorted(set(missing)))}"
