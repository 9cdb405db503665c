"""Path resolution of a mounted volume (libgfapi's ``glfs_resolve_at``/``glfs_resolve_component``,
api/src/glfs-resolve.c).

Paths are resolved from the root by a named LOOKUP per component, symlinks followed like
``glfs_resolve``: always in the middle, at the end unless it is an ``l*`` call (at most 40, then
ELOOP).  Directory gfids are cached; the last component is always looked up again, and a lookup
that fails with ESTALE/ENOENT through a cached directory is retried once without the cache.
A path call that meets ESTALE (resolving, or in the FOP on what it resolved) starts again once,
every component looked up again (:meth:`Resolver.again_if_stale`, libgfapi's ``ESTALE_RETRY``).
"""

from __future__ import annotations

import errno
import functools
import os
import posixpath
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from fakegluster.proto.common import ROOT_GFID

from .errors import fop_error
from .fops import Fops
from .stat import is_dir, is_symlink

__all__ = ["Resolver", "again_if_stale", "text_path"]

_MAXSYMLINKS = 40
_RETRY_ERRNOS = (errno.ESTALE, errno.ENOENT)
REVAL_COUNT = 1
"""How many times a path call starts again after ESTALE (libgfapi's ``DEFAULT_REVAL_COUNT``,
api/src/glfs-internal.h)."""
T = TypeVar("T")
P = ParamSpec("P")


def text_path(path: Any) -> str:
    """A path-like (str, bytes, ``os.PathLike``) as text (bytes decoded as :func:`os.fsdecode`)."""
    p = os.fspath(path)
    return os.fsdecode(p) if isinstance(p, bytes) else p


class Resolver:
    """Resolves the paths of one mounted volume through ``fops()`` (the volume's current FOPs)."""

    def __init__(self, fops: Callable[[], Fops]) -> None:
        self._fops = fops
        self.root: Any = None  # the root's iatt, set at mount
        self._dcache: dict[tuple[bytes, str], tuple[bytes, Any]] = {}

    async def resolve(self, path: Any, follow: bool = True) -> tuple[bytes, Any]:
        """(gfid, iatt) of ``path``; ESTALE/ENOENT through the cache is retried uncached."""
        p = text_path(path)
        try:
            return await self._walk(p, follow, True)
        except OSError as exc:
            if exc.errno not in _RETRY_ERRNOS or not self._dcache:
                raise
            self._dcache.clear()
            return await self._walk(p, follow, False)

    async def again_if_stale(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` -- resolve a path, then the FOP on what it found -- and, when it fails
        with ESTALE, once more (:data:`REVAL_COUNT`) with every component looked up again: another
        client removed or replaced what the path named between the LOOKUP and the FOP, and the
        path now names something else, or nothing (ENOENT).  libgfapi's ``ESTALE_RETRY``
        (api/src/glfs-internal.h) in glfs_open, glfs_creat, glfs_stat, glfs_unlink, glfs_rename...
        (api/src/glfs-fops.c), whose second pass resolves with ``reval`` set (glfs_resolve_at:
        ``force_lookup``).  The ESTALE of the second attempt is the caller's."""
        for reval in range(REVAL_COUNT + 1):
            try:
                return await attempt()
            except OSError as exc:
                if exc.errno != errno.ESTALE or reval == REVAL_COUNT:
                    raise
            self._dcache.clear()
        raise AssertionError("unreachable")

    async def _walk(self, path: str, follow: bool, cached: bool) -> tuple[bytes, Any]:
        fops = self._fops()
        stack: list[tuple[bytes, Any]] = [(ROOT_GFID, self.root)]
        todo = list(path.split("/"))
        todo.reverse()
        links = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if len(stack) > 1:
                    stack.pop()
                continue
            pgfid, piatt = stack[-1]
            if not is_dir(piatt):
                raise fop_error(errno.ENOTDIR, path)
            last = not any(c not in ("", ".") for c in todo)
            hit = self._dcache.get((pgfid, name)) if cached and not last else None
            if hit is None:
                iatt = (await fops.lookup(pgfid, name, path)).prestat
                gfid = iatt.ia_gfid
            else:
                gfid, iatt = hit
            if is_symlink(iatt) and (follow or not last):
                links += 1
                if links > _MAXSYMLINKS:
                    raise fop_error(errno.ELOOP, path)
                target = await fops.readlink(gfid, path)
                if target.startswith("/"):
                    del stack[1:]
                todo.extend(reversed(target.split("/")))
                continue
            if is_dir(iatt) and not last:
                self._dcache[(pgfid, name)] = (gfid, iatt)
            stack.append((gfid, iatt))
        if path.endswith("/") and not is_dir(stack[-1][1]):
            raise fop_error(errno.ENOTDIR, path)
        return stack[-1]

    async def parent(self, path: Any) -> tuple[bytes, str, str]:
        """(parent gfid, basename, path) for namespace operations."""
        p = text_path(path)
        head, name = posixpath.split(p.rstrip("/") or "/")
        if name in ("", ".", ".."):
            raise fop_error(errno.EEXIST if not name else errno.EINVAL, p)
        gfid, iatt = await self.resolve(head or "/", True)
        if not is_dir(iatt):
            raise fop_error(errno.ENOTDIR, p)
        return gfid, name, p

    def forget(self, pgfid: bytes, name: str) -> None:
        """Drop the cached entry ``name`` of directory ``pgfid`` (it is removed or renamed)."""
        self._dcache.pop((pgfid, name), None)


class _Named(Protocol):
    _names: Resolver


V = TypeVar("V", bound=_Named)


def again_if_stale(method: Callable[Concatenate[V, P], Awaitable[T]]) -> Callable[Concatenate[V, P], Awaitable[T]]:
    """A path call of a volume (``self._names`` its :class:`Resolver`) whose whole work -- its
    resolution and its FOP -- starts again once on ESTALE (:meth:`Resolver.again_if_stale`), like
    the libgfapi call it mirrors (api/src/glfs-fops.c: ``retry:`` ... ``ESTALE_RETRY`` after
    glfs_resolve and after the syncop).  Where 10.3 does not retry the FOP's ESTALE (glfs_setxattr,
    glfs_link), only the resolution is decorated."""

    @functools.wraps(method)
    async def call(self: V, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._names.again_if_stale(lambda: method(self, *args, **kwargs))

    return call
