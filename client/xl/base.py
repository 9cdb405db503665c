"""The subvolume interface of gfclient's client graph, and the open-file object it passes.

A client graph is built from the volfile (:mod:`gfclient.graph`): protocol/client xlators at
the leaves (one brick connection each), cluster xlators (distribute, replicate, disperse)
above them.  Every node is a :class:`Subvolume` with one entry point,
:meth:`Subvolume.call`: a FOP of program 1298437/400 given as its procedure and its request
structure (the ``gfx_*_req`` of :mod:`fakegluster.proto.fops`), with the caller's identity
(the frame's root: pid, uid, gid, lk-owner, utime flags) and, for fd-based FOPs, the
:class:`Fd`.  It returns the reply structure (``gfx_*_rsp``; READ returns
``(rsp, data)``) or raises ``OSError`` with the brick's errno, so that a cluster xlator can
gather its children's outcomes as values and exceptions.

The ``fd`` field inside a request is ignored on the way down: protocol/client puts in the
brick's own fd number, from the :class:`Fd`'s context (like ``fd_ctx_get`` in
``client-helpers.c``).  An xlator keeps what it knows about an open file in
``fd.ctx[self]`` and about an inode in a table of its own keyed by gfid (``inode_ctx``).
"""

from __future__ import annotations

import abc
import dataclasses
import errno
import itertools
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import trio

from fakegluster.proto.fops import GfFop

from .._util import unwrap_groups
from ..errors import fop_error
from ..identity import Identity

__all__ = [
    "Fd",
    "Subvolume",
    "Outcome",
    "gather",
    "bind",
    "first_error",
    "with_fd",
    "FD_FOPS",
    "OPENING_FOPS",
    "RELEASING_FOPS",
]

T = TypeVar("T")

#: FOPs whose request carries an fd.
FD_FOPS = frozenset(
    {
        GfFop.READ,
        GfFop.WRITE,
        GfFop.FLUSH,
        GfFop.FSYNC,
        GfFop.FSYNCDIR,
        GfFop.FTRUNCATE,
        GfFop.FSTAT,
        GfFop.LK,
        GfFop.READDIR,
        GfFop.READDIRP,
        GfFop.FINODELK,
        GfFop.FENTRYLK,
        GfFop.FXATTROP,
        GfFop.FGETXATTR,
        GfFop.FSETXATTR,
        GfFop.FSETATTR,
        GfFop.RELEASE,
        GfFop.RELEASEDIR,
        GfFop.FREMOVEXATTR,
        GfFop.FALLOCATE,
        GfFop.DISCARD,
        GfFop.ZEROFILL,
        GfFop.SEEK,
        GfFop.RCHECKSUM,
    }
)
#: FOPs that give an fd (the :class:`Fd` passed in gets each xlator's context).
OPENING_FOPS = frozenset({GfFop.OPEN, GfFop.OPENDIR, GfFop.CREATE})
#: FOPs that end an fd.
RELEASING_FOPS = frozenset({GfFop.RELEASE, GfFop.RELEASEDIR})

_fd_numbers = itertools.count(1)


class Fd:
    """An open file or directory of the graph (``fd_t``).

    ``gfid``/``flags``/``is_dir`` say what was opened; ``ctx`` holds each xlator's state
    for it (keyed by the xlator); ``top`` is the graph it was opened in.  ``lk_owner`` is
    the owner FLUSH carries (libgfapi gives each glfd its own).
    """

    __slots__ = ("gfid", "flags", "is_dir", "ctx", "lk_owner", "number", "anonymous", "top")

    def __init__(self, gfid: bytes, flags: int, is_dir: bool = False, *, anonymous: bool = False) -> None:
        self.gfid = gfid
        self.flags = flags
        self.is_dir = is_dir
        self.ctx: dict[Any, Any] = {}
        self.lk_owner = os.urandom(8)
        self.number = next(_fd_numbers)
        self.anonymous = anonymous
        #: the graph's top node the fd was opened through (its FOPs go there after a graph switch)
        self.top: Subvolume | None = None

    @classmethod
    def anon(cls, gfid: bytes) -> Fd:
        """An anonymous fd (``fd_anonymous``): the bricks get ``GF_ANON_FD_NO`` (-2) and open
        the inode themselves, read-write; EC reads and writes whole stripes through one."""
        return cls(gfid, 0o2, anonymous=True)

    def __repr__(self) -> str:
        kind = " dir" if self.is_dir else " anon" if self.anonymous else ""
        return f"<Fd {self.number} {self.gfid.hex()}{kind}>"


_FIELDS: dict[type, tuple[str, ...]] = {}


def with_fd(req: Any, fd: int) -> Any:
    """``req`` with its ``fd`` field set to ``fd`` (a cheap ``dataclasses.replace``)."""
    cls = type(req)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(req))
    return cls(*[fd if n == "fd" else getattr(req, n) for n in names])


class Subvolume(abc.ABC):
    """A node of the client graph (see the module docstring).

    ``name`` is the volfile's xlator name, ``type`` its type (``protocol/client``...),
    ``children`` its subvolumes.  ``inline_io`` says whether an fd's READ/WRITE/FSTAT... through
    this node awaits nothing but one RPC at a time -- then the blocking API may drive it from
    its own thread (:func:`gfclient.sync.run_inline`); a node that fans out to several
    children concurrently says False.
    """

    name: str
    type: str
    children: tuple[Subvolume, ...] = ()
    inline_io: bool = False

    @abc.abstractmethod
    async def call(
        self,
        proc: GfFop,
        req: Any,
        ident: Identity,
        *,
        fd: Fd | None = None,
        payload: bytes | memoryview = b"",
        path: str | None = None,
    ) -> Any:
        """Run one FOP; returns the reply structure (READ: ``(rsp, data)``) or raises OSError.

        ``path``: the entry's absolute path in the volume when known (``loc->path``; DHT
        hashes a new directory's path to place its layout)."""

    @property
    def up(self) -> bool:
        """Can this subvolume serve FOPs now?"""
        return any(c.up for c in self.children)

    def leaves(self) -> list[Subvolume]:
        """The protocol/client subvolumes under this one, left to right."""
        if not self.children:
            return [self]
        out: list[Subvolume] = []
        for c in self.children:
            out.extend(c.leaves())
        return out

    def forget(self, gfid: bytes) -> None:
        """Drop what is cached about ``gfid`` (its name went away); children too."""
        for c in self.children:
            c.forget(gfid)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


@dataclasses.dataclass
class Outcome:
    """One child's answer: ``value`` or ``error`` (an OSError)."""

    index: int
    value: Any = None
    error: OSError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def errno(self) -> int:
        return self.error.errno or errno.EIO if self.error is not None else 0


async def gather(calls: Iterable[tuple[int, Callable[[], Awaitable[Any]]]]) -> list[Outcome]:
    """Run the calls concurrently; one :class:`Outcome` per call (OSErrors are caught),
    in the order given.  A single call runs without a nursery."""
    todo = list(calls)
    out = [Outcome(i) for i, _ in todo]
    if len(todo) == 1:
        try:
            out[0].value = await todo[0][1]()
        except OSError as exc:
            out[0].error = exc
        return out

    async def one(slot: Outcome, fn: Callable[[], Awaitable[Any]]) -> None:
        try:
            slot.value = await fn()
        except OSError as exc:
            slot.error = exc

    with unwrap_groups():
        async with trio.open_nursery() as nursery:
            for slot, (_, fn) in zip(out, todo):
                nursery.start_soon(one, slot, fn)
    return out


def opened(child: Subvolume, fd: Fd | None) -> bool:
    """Is ``fd`` open on ``child`` (or on a brick under it)?  An anonymous fd is open
    everywhere; no fd counts as open."""
    if fd is None or fd.anonymous or child in fd.ctx:
        return True
    return any(leaf in fd.ctx for leaf in child.leaves())


def merged(xdata: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """A request's xdata with ``extra`` keys added (the request's own dict is not touched)."""
    out = dict(xdata or {})
    out.update(extra)
    return out


def truthy(value: str | None, default: bool = False) -> bool:
    """A volfile boolean (``gf_string2boolean``): on/yes/true/1/enable."""
    if value is None:
        return default
    return value.strip().lower() in ("on", "yes", "true", "1", "enable")


def bind(sub: Subvolume, proc: GfFop, req: Any, ident: Identity, fd: Fd | None = None) -> Callable[[], Awaitable[Any]]:
    """``sub.call(proc, req, ident, fd=fd)`` as a no-argument coroutine function (for :func:`gather`)."""

    async def run() -> Any:
        return await sub.call(proc, req, ident, fd=fd)

    return run


def first_error(outcomes: Sequence[Outcome], default: int = errno.EIO) -> OSError:
    """The error to report when every child failed: the first that is not ENOTCONN, else the first."""
    errors = [o.error for o in outcomes if o.error is not None]
    for e in errors:
        if e.errno != errno.ENOTCONN:
            return e
    return errors[0] if errors else fop_error(default)
