"""DHT's directory side (:class:`~gfclient.xl.dht.Distribute` keeps the rest): opening a
directory on every subvolume, reading it subvolume after subvolume without duplicates or linkto
files (``dht_readdirp``), removing it everywhere (``dht_rmdir``), and STATFS added up over the
subvolumes (``dht_statfs``).  Functions of the :class:`Distribute` they serve."""

from __future__ import annotations

import dataclasses
import errno
import stat as _stat
from typing import TYPE_CHECKING, Any

from fakegluster.proto import fops as F
from fakegluster.proto.common import GfStatfs
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.xl import dht as algo

from ..errors import fop_error
from ..identity import Identity
from .base import Fd, Subvolume, bind, first_error, gather, merged
from .dht_layout import raw_value

if TYPE_CHECKING:
    from .dht import Distribute

__all__ = ["DirCursor", "opendir", "readdirp", "rmdir", "listing", "statfs"]


@dataclasses.dataclass
class DirCursor:
    """A directory fd's DHT state: the subvolumes it is open on, and readdir offsets."""

    subvols: list[Subvolume]
    tokens: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    next_token: int = 1


async def rmdir(dht: Distribute, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
    """``dht_rmdir``: every copy must be empty (linkto files aside, which go); then RMDIR
    everywhere, the hashed subvolume last."""
    ent = await dht.entry(req.pargfid, req.bname, ident, None, path)
    if ent.cached is not dht:
        raise fop_error(errno.ENOTDIR)
    gfid = ent.rsp.prestat.ia_gfid
    stale: list[tuple[Subvolume, str]] = []
    for c in dht.up_children():
        for e in await listing(dht, c, gfid, ident):
            if e.name in (".", ".."):
                continue
            if algo.is_linkfile_mode(e.stat.mode) and raw_value(e.dict, dht.linkto_xattr) is not None:
                stale.append((c, e.name))
                continue
            raise fop_error(errno.ENOTEMPTY)
    for c, name in stale:
        await gather([(0, bind(c, GfFop.UNLINK, F.GfxUnlinkReq(gfid, name, 0, None), ident))])
    last = ent.hashed or dht.first_up()
    outs = await gather((i, bind(c, GfFop.RMDIR, req, ident)) for i, c in enumerate(dht.children) if c is not last)
    (final,) = await gather([(0, bind(last, GfFop.RMDIR, req, ident))])
    dht.layouts.forget(gfid)
    if final.ok:
        return final.value
    for o in outs:
        if o.ok:
            return o.value
    raise first_error([*outs, final])


async def listing(dht: Distribute, sub: Subvolume, gfid: bytes, ident: Identity) -> list[Any]:
    fd = Fd(gfid, 0, is_dir=True)
    await sub.call(GfFop.OPENDIR, F.GfxOpendirReq(gfid, None), ident, fd=fd)
    out: list[Any] = []
    try:
        offset = 0
        xd = {dht.linkto_xattr: GfxValue.uint(256)}
        while True:
            rsp = await sub.call(GfFop.READDIRP, F.GfxReaddirpReq(gfid, -1, offset, 131072, xd), ident, fd=fd)
            if not rsp.reply:
                return out
            out.extend(rsp.reply)
            offset = rsp.reply[-1].d_off
    finally:
        await gather([(0, bind(sub, GfFop.RELEASEDIR, F.GfxReleasedirReq(gfid, -1, {}), ident, fd))])


async def opendir(dht: Distribute, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
    subs = dht.up_children()
    outs = await gather((i, bind(c, GfFop.OPENDIR, req, ident, fd)) for i, c in enumerate(subs))
    opened = [subs[o.index] for o in outs if o.ok]
    if not opened:
        raise first_error(outs)
    if fd is not None:
        fd.ctx[dht] = DirCursor(opened)
    return next(o.value for o in outs if o.ok)


async def readdirp(dht: Distribute, proc: GfFop, req: Any, ident: Identity, fd: Fd, cur: DirCursor) -> Any:
    """Subvolume after subvolume; directories from the first only, no linkto files."""
    if req.offset == 0:
        index, offset = 0, 0
    elif req.offset in cur.tokens:
        index, offset = cur.tokens[req.offset]
    else:
        raise fop_error(errno.EINVAL, None, "unknown readdir offset")
    xd = merged(req.xdata, {dht.linkto_xattr: GfxValue.uint(256)})
    while index < len(cur.subvols):
        sub = cur.subvols[index]
        rsp = await sub.call(proc, dataclasses.replace(req, offset=offset, xdata=xd), ident, fd=fd)
        if not rsp.reply:
            index, offset = index + 1, 0
            continue
        out = []
        for e in rsp.reply:
            offset = e.d_off
            if index and (e.name in (".", "..") or (proc == GfFop.READDIRP and _stat.S_ISDIR(e.stat.mode))):
                continue
            if proc == GfFop.READDIR and index and e.d_type == 4:
                continue
            if proc == GfFop.READDIRP and algo.is_linkfile_mode(e.stat.mode) and raw_value(e.dict, dht.linkto_xattr):
                continue
            token = cur.next_token
            cur.next_token += 1
            cur.tokens[token] = (index, offset)
            out.append(dataclasses.replace(e, d_off=token))
        if out:
            return dataclasses.replace(rsp, op_ret=len(out), reply=tuple(out))
    return F.GfxReaddirpRsp(0, 0, None, ()) if proc == GfFop.READDIRP else F.GfxReaddirRsp(0, 0, None, ())


async def statfs(dht: Distribute, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
    """``dht_statfs``: the subvolumes' space added up (in the first one's fragment size)."""
    outs = await gather((i, bind(c, GfFop.STATFS, req, ident)) for i, c in enumerate(dht.children))
    good = [o.value for o in outs if o.ok]
    if not good:
        raise first_error(outs)
    base = good[0].statfs
    total = {"blocks": 0, "bfree": 0, "bavail": 0, "files": 0, "ffree": 0, "favail": 0}
    for rsp in good:
        s = rsp.statfs
        scale = s.frsize / base.frsize if base.frsize else 1
        for k in ("blocks", "bfree", "bavail"):
            total[k] += int(getattr(s, k) * scale)
        for k in ("files", "ffree", "favail"):
            total[k] += getattr(s, k)
    merged: Any = dataclasses.replace(base, **total)
    assert isinstance(merged, GfStatfs)
    return dataclasses.replace(good[0], statfs=merged)
