"""Internal lock requests the cluster xlators send to bricks (features/locks).

INODELK/FINODELK lock a byte range of an inode in a *domain* (a string: each xlator uses
its own, e.g. AFR its xlator name, DHT ``dht.layout.heal``); ENTRYLK locks a name in a
directory.  Numbers: ``GF_LK_GETLK``/``SETLK``/``SETLKW`` 0/1/2 for ``cmd``, ``F_RDLCK``/
``F_WRLCK``/``F_UNLCK`` 0/1/2 for ``type``; ``ENTRYLK_LOCK``/``UNLOCK``/``LOCK_NB`` 0/1/2
and ``ENTRYLK_RDLCK``/``WRLCK`` 0/1 (``glusterfs.h``, ``locking.h``).  A lock belongs to the
frame's lk-owner: the xlator makes one per transaction (:func:`new_owner`) and unlocks with
the same one.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fakegluster.proto import fops as F
from fakegluster.proto.common import GfProtoFlock
from fakegluster.proto.fops import GfFop

from ..errors import fop_error
from ..identity import Identity

if TYPE_CHECKING:
    from .base import Fd, Subvolume

__all__ = [
    "GETLK",
    "SETLK",
    "SETLKW",
    "RDLCK",
    "WRLCK",
    "UNLCK",
    "ENTRYLK_LOCK",
    "ENTRYLK_UNLOCK",
    "ENTRYLK_LOCK_NB",
    "ENTRYLK_RDLCK",
    "ENTRYLK_WRLCK",
    "METADATA_LOCK_START",
    "new_owner",
    "owned",
    "inodelk",
    "finodelk",
    "entrylk",
    "lock_all",
    "unlock_all",
    "is_unlock",
    "is_blocking",
    "unlocking",
]

GETLK, SETLK, SETLKW = 0, 1, 2
RDLCK, WRLCK, UNLCK = 0, 1, 2
ENTRYLK_LOCK, ENTRYLK_UNLOCK, ENTRYLK_LOCK_NB = 0, 1, 2
ENTRYLK_RDLCK, ENTRYLK_WRLCK = 0, 1
#: AFR's metadata-transaction range: ``LLONG_MAX - 1``, length 0 (``afr_set_transaction_flock``).
METADATA_LOCK_START = (1 << 63) - 2


def new_owner() -> bytes:
    """A fresh 8-byte lk-owner (AFR/DHT use the frame's address; any unique value will do)."""
    return os.urandom(8)


def owned(ident: Identity, owner: bytes, *, pid: int | None = None) -> Identity:
    """``ident`` with lk-owner ``owner`` (and ``pid``, for internal frames)."""
    if pid is None:
        return dataclasses.replace(ident, lk_owner=owner)
    return dataclasses.replace(ident, lk_owner=owner, pid=pid)


def _flock(kind: int, start: int, length: int) -> Any:
    return GfProtoFlock(kind, 0, start, length, 0, b"")


def inodelk(gfid: bytes, domain: str, cmd: int, kind: int, start: int = 0, length: int = 0) -> Any:
    return F.GfxInodelkReq(gfid, cmd, kind, _flock(kind, start, length), domain, None)


def finodelk(gfid: bytes, domain: str, cmd: int, kind: int, start: int = 0, length: int = 0) -> Any:
    return F.GfxFinodelkReq(gfid, -1, cmd, kind, _flock(kind, start, length), domain, None)


def entrylk(pargfid: bytes, domain: str, name: str, cmd: int, kind: int = ENTRYLK_WRLCK) -> Any:
    """ENTRYLK on ``name`` in directory ``pargfid`` (``name`` "": the whole directory)."""
    return F.GfxEntrylkReq(pargfid, cmd, kind, 1 if name else 0, name, domain, None)


def is_unlock(proc: GfFop, req: Any) -> bool:
    if proc in (GfFop.INODELK, GfFop.FINODELK):
        return bool(req.type == UNLCK)
    return bool(req.cmd == ENTRYLK_UNLOCK)


def is_blocking(proc: GfFop, req: Any) -> bool:
    if proc in (GfFop.INODELK, GfFop.FINODELK):
        return bool(req.cmd == SETLKW)
    return bool(req.cmd == ENTRYLK_LOCK)


def _nonblocking(proc: GfFop, req: Any) -> Any:
    if proc in (GfFop.INODELK, GfFop.FINODELK):
        return dataclasses.replace(req, cmd=SETLK) if req.cmd == SETLKW else req
    return dataclasses.replace(req, cmd=ENTRYLK_LOCK_NB) if req.cmd == ENTRYLK_LOCK else req


def _blocking(proc: GfFop, req: Any) -> Any:
    if proc in (GfFop.INODELK, GfFop.FINODELK):
        return dataclasses.replace(req, cmd=SETLKW)
    return dataclasses.replace(req, cmd=ENTRYLK_LOCK)


def unlocking(proc: GfFop, req: Any) -> Any:
    """The unlock request matching lock request ``req``."""
    if proc in (GfFop.INODELK, GfFop.FINODELK):
        flock = dataclasses.replace(req.flock, type=UNLCK)
        return dataclasses.replace(req, cmd=SETLK, type=UNLCK, flock=flock)
    return dataclasses.replace(req, cmd=ENTRYLK_UNLOCK)


async def lock_all(
    children: Sequence[Subvolume],
    proc: GfFop,
    req: Any,
    ident: Identity,
    fd: Fd | None,
    targets: Sequence[int],
    *,
    fallback: bool,
) -> list[bool]:
    """Take lock ``req`` on ``children[i]`` for i in ``targets``, the way the cluster xlators
    do (``afr_lock_nonblocking``/``afr_lock_blocking``, ``ec_lock``): non-blocking on all at
    once; on a conflict (EAGAIN) undo and -- with ``fallback`` -- take them one after the
    other in child order, blocking (so two clients cannot deadlock), else fail with EAGAIN.
    A child that is down (ENOTCONN, EBADF) is simply not locked; with ``fallback`` (a
    transaction's own lock) so is one that fails otherwise -- e.g. ESTALE: the inode is not
    there yet, its MKDIR still on the way (``afr_lock_cbk`` goes on with the next child, only
    ENOSYS stops it; ``is_blocking_locks_count_sufficient``: one child is enough, the caller
    checks its quorum).  Returns who is locked."""
    from .base import gather

    n = len(children)
    nb = _nonblocking(proc, req)

    def bind(i: int, r: Any) -> Any:
        async def run() -> Any:
            return await children[i].call(proc, r, ident, fd=fd)

        return run

    outs = await gather((i, bind(i, nb)) for i in targets)
    locked = [False] * n
    for o in outs:
        if o.ok:
            locked[o.index] = True
    conflict = any(o.errno == errno.EAGAIN for o in outs if not o.ok)
    if not conflict:
        bad = [o for o in outs if not o.ok and o.errno not in (errno.ENOTCONN, errno.EBADF)]
        if bad and (not fallback or not any(locked) or any(o.errno == errno.ENOSYS for o in bad)):
            await unlock_all(children, proc, req, ident, fd, locked)
            raise bad[0].error  # type: ignore[misc]
        return locked  # a transaction's lock goes on without a child that failed it
    await unlock_all(children, proc, req, ident, fd, locked)
    if not fallback:
        raise fop_error(errno.EAGAIN)
    locked = [False] * n
    blocking = _blocking(proc, req)
    failure: OSError | None = None
    for i in targets:
        try:
            await children[i].call(proc, blocking, ident, fd=fd)
        except OSError as exc:
            if exc.errno == errno.ENOSYS:
                await unlock_all(children, proc, req, ident, fd, locked)
                raise
            if exc.errno not in (errno.ENOTCONN, errno.EBADF):
                failure = exc
            continue
        locked[i] = True
    if failure is not None and not any(locked):
        raise failure
    return locked


async def unlock_all(
    children: Sequence[Subvolume], proc: GfFop, req: Any, ident: Identity, fd: Fd | None, locked: Sequence[bool]
) -> None:
    """Release lock ``req`` where ``locked`` says it is held (errors are ignored: a child
    that went away dropped its locks with the connection)."""
    from .base import gather

    un = unlocking(proc, req)

    def bind(i: int) -> Any:
        async def run() -> Any:
            return await children[i].call(proc, un, ident, fd=fd)

        return run

    await gather((i, bind(i)) for i in range(len(children)) if locked[i])
