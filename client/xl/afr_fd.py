"""What cluster/replicate (:mod:`gfclient.xl.afr`) does with an fd before a FOP on it: open it on
the children that came back (``afr_fix_open``, afr-open.c) and learn which copies are readable
through it (``afr_inode_refresh_do`` with ``local->fd``, afr-common.c).
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

import trio

from fakegluster.proto import fops as F
from fakegluster.proto.common import NULL_GFID
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.xl import afr as algo

from ..errors import fop_error
from ..identity import Identity
from .base import Fd, bind, first_error, gather, opened

if TYPE_CHECKING:
    from .afr import Replicate

__all__ = ["fix_open", "refresh"]

_O_TRUNC = 0o1000
_NO_REOPEN = 0o100 | 0o200 | _O_TRUNC  # O_CREAT | O_EXCL | O_TRUNC (afr_do_fix_open)
INDEX_COUNT = "glusterfs.xattrop_index_count"  # GF_XATTROP_INDEX_COUNT
INODELK_DOM_COUNT = "glusterfs.inodelk-dom-count"


async def fix_open(afr: Replicate, fd: Fd, ident: Identity) -> None:
    """``afr_fix_open`` (afr-open.c): open ``fd`` on the up children it is not open on -- a
    child that was down when it was opened and has come back -- so that its FOPs reach
    every copy again.  Not for an anonymous fd, nor one open on no child
    (``afr_is_reopen_allowed``: no child answers its F_GETLK with an ``fd-reopen-status``;
    a conflicting lock forbids the reopen only with ``strict-locks``, off by default and not
    in gfclient).  10.3 winds these OPENs and goes on without them; here the FOP waits for
    them, and includes the children they opened on."""
    children = afr.children
    if fd.anonymous or fd.gfid == NULL_GFID:
        return
    if all(opened(c, fd) or not c.up for c in children):
        return
    if not any(opened(c, fd) for c in children):
        return
    async with fd.ctx.setdefault((afr, "opening"), trio.Lock()):  # one OPEN per child at a time
        need = [i for i, c in enumerate(children) if c.up and not opened(c, fd)]
        req: Any
        if fd.is_dir:
            proc, req = GfFop.OPENDIR, F.GfxOpendirReq(fd.gfid, None)
        else:
            proc, req = GfFop.OPEN, F.GfxOpenReq(fd.gfid, fd.flags & ~_NO_REOPEN, None)
        await gather((i, bind(children[i], proc, req, ident, fd)) for i in need)


def refreshes_by_fd(afr: Replicate, fd: Fd | None) -> bool:
    """Whether an inode refresh for a FOP on ``fd`` goes by FSTAT (``local->fd`` set: not an
    anonymous fd, nor a FOP without one)."""
    return fd is not None and not fd.anonymous and any(opened(c, fd) for c in afr.children)


async def refresh(afr: Replicate, fd: Fd, ident: Identity) -> None:
    """``afr_inode_refresh_do`` for a FOP on ``fd``: FSTAT on every up child ``fd`` is open on
    (not a LOOKUP of the gfid: a file unlinked while open has no gfid to look up any more),
    asking what ``afr_xattr_req_prepare`` asks (the changelog xattrs, ``list-xattr``), the
    index's ``link-count`` and this xlator's inodelk count; the replies say which copies are
    readable as a LOOKUP's do (``afr_replies_interpret``), learnt by ``afr``.  No such child:
    EBADFD (ENOTCONN with every child down); successes short of quorum: their error
    (``afr_inode_refresh_done``)."""
    targets = [i for i, c in enumerate(afr.children) if c.up and opened(c, fd)]
    if not targets:
        err = errno.EBADFD if any(c.up for c in afr.children) else errno.ENOTCONN
        raise fop_error(err, None, f"{afr.name}: the fd is open on no up child")
    gen = afr.generation()
    xd = {k: GfxValue.uint(12) for k in afr.keys}
    xd[algo.DIRTY_XATTR] = GfxValue.uint(12)
    xd["list-xattr"] = GfxValue.int(1)
    xd["link-count"] = GfxValue.str(INDEX_COUNT)
    xd[INODELK_DOM_COUNT] = GfxValue.str(afr.name)
    req = F.GfxFstatReq(fd.gfid, -1, xd)
    outs = await gather((i, bind(afr.children[i], GfFop.FSTAT, req, ident, fd)) for i in targets)
    ok = [o for o in outs if o.ok]
    if not ok:
        raise first_error(outs)
    hits = [False] * afr.n
    for o in ok:
        hits[o.index] = True
    if afr.quorum and not algo.has_quorum(hits, afr.quorum):
        failed = [o for o in outs if not o.ok]
        raise first_error(failed) if failed else fop_error(errno.ENOTCONN, None, f"{afr.name}: quorum not met")
    afr.learn(ok, gen, lambda rsp: rsp.stat)
