"""Stores behind one interface (:class:`~fakegluster.store.base.Store`): in-memory (default)
and a directory on disk."""

from __future__ import annotations

from typing import Any

from .base import Attr, StatVfs, Store

__all__ = ["Attr", "StatVfs", "Store", "open_store"]


def open_store(directory: str | None = None, **kw: Any) -> Store:
    """A :class:`MemoryStore` (``directory`` None) or a :class:`DirectoryStore` on ``directory``."""
    if directory is None:
        from .memory import MemoryStore

        return MemoryStore(**kw)
    from .directory import DirectoryStore

    return DirectoryStore(directory, **kw)
