"""Small helpers shared by the client modules."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["unwrap_groups", "unsent_part"]


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            yield from _leaves(sub)
    else:
        yield exc


@contextlib.contextmanager
def unwrap_groups() -> Iterator[None]:
    """Re-raise what a trio nursery wrapped in an ExceptionGroup as a plain exception.

    trio >= 0.25 always groups a nursery's errors; gfclient's callers expect ``OSError``
    subclasses.  One leaf is raised as itself; several leaves raise the first ``OSError``
    among them (e.g. two chunks of a pread failing the same way); anything else (several
    unrelated errors, KeyboardInterrupt...) stays a group.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        if len(leaves) == 1:
            raise leaves[0] from None
        errors = [e for e in leaves if isinstance(e, OSError)]
        if errors and all(isinstance(e, Exception) for e in leaves):
            raise errors[0] from group
        raise


def unsent_part(buffers: list[Any], sent: int) -> list[Any]:
    """What is left of ``buffers`` after ``sent`` bytes went out."""
    for i, buf in enumerate(buffers):
        n = len(buf)
        if sent < n:
            rest = buffers[i:]
            if sent:
                rest[0] = memoryview(buf)[sent:]
            return rest
        sent -= n
    return []
