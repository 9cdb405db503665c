"""EC's operations on byte ranges other than READ/WRITE/TRUNCATE (those are in
:mod:`gfclient.xl.ec`): DISCARD, ZEROFILL, FALLOCATE (``ec_discard``, ``ec_zerofill``,
``ec_fallocate``: the bricks' operation on the fragments of whole stripes -- zeros encode to
zeros -- and read-modify-write of zeros for partial stripes) and SEEK (``ec_seek``: a good
brick's SEEK_DATA/SEEK_HOLE on its fragment, mapped back to the stripe).  Functions of the
:class:`~gfclient.xl.ec.Disperse` they serve."""

from __future__ import annotations

import dataclasses
import errno
from typing import TYPE_CHECKING, Any

from fakegluster.proto import fops as F
from fakegluster.proto.fops import GfFop
from fakegluster.xl import ec as algo

from ..errors import fop_error
from ..identity import Identity
from . import locks
from .base import Fd, bind, gather, opened

if TYPE_CHECKING:
    from .ec import Disperse, TxnState

__all__ = ["zero_range", "seek"]

_FALLOC_KEEP_SIZE = 1


async def zero_range(ec: Disperse, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
    """DISCARD, ZEROFILL, FALLOCATE on the fragments of the whole stripes in the range
    (zeros encode to zeros); DISCARD and ZEROFILL write zeros over partial stripes at the
    ends (read-modify-write).  FALLOCATE allocates the fragments of every stripe touched."""
    if fd is None:
        raise fop_error(errno.EBADF)
    offset, length = req.offset, req.size

    async def body(state: TxnState, lk: Identity) -> Any:
        end = offset + length
        keep = proc == GfFop.DISCARD or (proc == GfFop.FALLOCATE and req.flags & _FALLOC_KEEP_SIZE)
        stop = min(end, state.size) if proc == GfFop.DISCARD else end
        done = list(state.good)
        if proc == GfFop.FALLOCATE:
            first, last = ec.align(offset, end)
        else:
            first = -(-offset // ec.stripe) * ec.stripe
            last = stop - stop % ec.stripe
            if first >= last:  # no whole stripe inside: all of it by hand
                first = last = stop
            if offset < first and stop > offset:
                head = bytes(min(first, stop) - offset)
                done = await ec.write_range(state, fd, req.gfid, offset, head, lk, ident)
            tail_at = max(first, last)
            if tail_at < stop:
                tail = await ec.write_range(state, fd, req.gfid, tail_at, bytes(stop - tail_at), lk, ident)
                done = [x and y for x, y in zip(done, tail)]
        if last > first:
            sent = dataclasses.replace(req, offset=first // ec.k, size=(last - first) // ec.k)
            outs = await gather((i, bind(ec.children[i], proc, sent, ident, fd)) for i in range(ec.n) if done[i])
            done = [any(o.ok and o.index == i for o in outs) for i in range(ec.n)]
        if sum(done) < ec.k:
            raise fop_error(errno.EIO, None, f"{ec.name}: fewer than {ec.k} bricks")
        new = state.size if keep else max(state.size, end)
        st = await ec.stat_with_size(req.gfid, ident, new)
        return F.GfxCommon2iattRsp(0, 0, None, st, st), done, new - state.size

    return await ec.transaction(req.gfid, ident, fd, True, body)


async def seek(ec: Disperse, req: Any, ident: Identity, fd: Fd | None) -> Any:
    """SEEK_DATA/SEEK_HOLE on a good brick's fragment, mapped back to the file."""
    lk = locks.owned(ident, locks.new_owner())
    proc, lreq, locked = await ec.lock_inode(req.gfid, lk)
    try:
        state = await ec.query(req.gfid, lk, fd, locked, regular=True)
        if req.offset >= state.size:
            raise fop_error(errno.ENXIO)
        frag = (req.offset // ec.stripe) * algo.CHUNK_SIZE
        i = next(i for i in range(ec.n) if state.good[i] and ec.children[i].up and opened(ec.children[i], fd))
        try:
            rsp = await ec.children[i].call(GfFop.SEEK, dataclasses.replace(req, offset=frag), ident, fd=fd)
            pos = (rsp.offset // algo.CHUNK_SIZE) * ec.stripe  # fragment chunk -> its stripe
        except OSError as exc:
            if exc.errno != errno.ENXIO or req.what == 0:
                raise
            pos = state.size
        pos = max(pos, req.offset)
        if pos >= state.size:
            if req.what == 0:
                raise fop_error(errno.ENXIO)
            pos = state.size
        return F.GfxSeekRsp(0, 0, None, pos)
    finally:
        await locks.unlock_all(ec.children, proc, lreq, lk, None, locked)
