"""gfclient's AFR must not take a copy for stale because a LOOKUP caught a write between the
copies.  ``afr_readables_fill`` (GlusterFS 10.3, afr-common.c) accuses the smaller copies of a
file "only when we know for sure that there is no IO happening. Otherwise, the ia_sizes
obtained in post-refresh replies may mismatch due to a race between inode-refresh and ongoing
writes": the LOOKUP asks for ``glusterfs.inodelk-count`` (``afr_lookup_xattr_req_prepare``) and
``afr_is_possibly_under_txn`` skips ``afr_accuse_smallfiles`` when some copy reports a lock.

Before, a STAT taken while the same (or another) client extended the file could mark the copy the
WRITE had not reached yet unreadable for good (until a reconnect): its READs went elsewhere, and a
later failure on the remaining copies made the file "no good copy" (EIO)."""

from __future__ import annotations

import errno
from typing import Any

import pytest
import trio

from fakegluster.proto import fops as F
from fakegluster.proto.common import GfxIattx
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.volfile import Xlator
from fakegluster.xl import afr as algo
from gfclient.errors import fop_error
from gfclient.identity import Identity
from gfclient.xl.afr import Replicate
from gfclient.xl.base import Subvolume

GFID = bytes(range(1, 17))


class Brick(Subvolume):
    """A copy that answers LOOKUP with its size (and the inodelk count the request asked for) and
    records the READs it serves."""

    type = "protocol/client"

    def __init__(self, name: str, size: int, inodelks: int) -> None:
        self.name = name
        self.children = ()
        self.size = size
        self.inodelks = inodelks
        self.reads = 0

    @property
    def up(self) -> bool:
        return True

    def leaves(self) -> list[Subvolume]:
        return [self]

    async def call(
        self, proc: GfFop, req: Any, ident: Identity, *, fd: Any = None, payload: Any = b"", path: Any = None
    ) -> Any:
        if proc == GfFop.LOOKUP:
            xd: dict[str, GfxValue] = {}
            if "glusterfs.inodelk-count" in (req.xdata or {}):
                xd["glusterfs.inodelk-count"] = GfxValue.int(self.inodelks)
            st = GfxIattx(ia_gfid=GFID, ia_size=self.size, ia_nlink=1, mode=0o100644)
            return F.GfxCommon2iattRsp(0, 0, xd, st, GfxIattx())
        if proc == GfFop.READ:
            self.reads += 1
            return F.GfxReadRsp(0, 0, GfxIattx(), 0, None), b""
        raise AssertionError(proc)


def _read_after_lookup(sizes: list[int], inodelks: int) -> list[int]:
    """LOOKUP the file on copies of ``sizes``, then READ it 3 times with 3 pids: which copies served."""
    bricks = [Brick(f"vol-client-{i}", s, inodelks) for i, s in enumerate(sizes)]
    xl = Xlator("vol-replicate-0", "cluster/replicate", {"read-hash-mode": "2"}, tuple(b.name for b in bricks))
    afr = Replicate(xl, bricks)

    async def main() -> None:
        await afr.call(GfFop.LOOKUP, F.GfxLookupReq(GFID, bytes(16), 0, "", None), Identity())
        for pid in range(30):
            await afr.call(GfFop.READ, F.GfxReadReq(GFID, -2, 0, 4096, 0, None), Identity(pid=pid))

    trio.run(main)
    return [b.reads for b in bricks]


def test_a_lookup_during_a_write_keeps_every_copy_readable():
    # copy 0 got the WRITE, 1 and 2 not yet; the writer's inodelk is on every copy
    reads = _read_after_lookup([8192, 4096, 4096], inodelks=1)
    assert all(reads), reads  # read-hash-mode 2 spreads the 30 pids over every readable copy


def test_without_io_a_smaller_copy_is_accused():
    reads = _read_after_lookup([8192, 4096, 4096], inodelks=0)
    assert reads[0] == 30 and reads[1:] == [0, 0], reads


def test_the_lookup_asks_for_the_inodelk_count():
    seen: list[Any] = []

    class Recording(Brick):
        async def call(self, proc: GfFop, req: Any, ident: Identity, **kw: Any) -> Any:
            seen.append(dict(req.xdata or {}))
            return await super().call(proc, req, ident, **kw)

    bricks = [Recording(f"vol-client-{i}", 0, 0) for i in range(3)]
    afr = Replicate(Xlator("vol-replicate-0", "cluster/replicate", {}, tuple(b.name for b in bricks)), bricks)
    trio.run(afr.call, GfFop.LOOKUP, F.GfxLookupReq(GFID, bytes(16), 0, "", None), Identity())
    assert all("glusterfs.inodelk-count" in xd and algo.DIRTY_XATTR in xd for xd in seen) and len(seen) == 3


class Named(Subvolume):
    """A copy answering a named LOOKUP: found (with ``glusterfs.parent-entrylk`` = ``locked``) or ENOENT."""

    type = "protocol/client"

    def __init__(self, name: str, found: bool, locked: int) -> None:
        self.name, self.children, self.found, self.locked = name, (), found, locked

    @property
    def up(self) -> bool:
        return True

    def leaves(self) -> list[Subvolume]:
        return [self]

    async def call(self, proc: GfFop, req: Any, ident: Identity, **kw: Any) -> Any:
        assert proc == GfFop.LOOKUP and "glusterfs.parent-entrylk" in req.xdata
        if not self.found:
            raise fop_error(errno.ENOENT)
        xd = {"glusterfs.parent-entrylk": GfxValue.int(self.locked)}
        return F.GfxCommon2iattRsp(0, 0, xd, GfxIattx(ia_gfid=GFID, ia_nlink=1, mode=0o100644), GfxIattx())


def _named_lookup(found: list[bool], locked: int) -> Any:
    kids = [Named(f"vol-client-{i}", f, locked) for i, f in enumerate(found)]
    afr = Replicate(Xlator("vol-replicate-0", "cluster/replicate", {}, tuple(k.name for k in kids)), kids)
    return trio.run(afr.call, GfFop.LOOKUP, F.GfxLookupReq(bytes(16), bytes(15) + b"\1", 0, "new", None), Identity())


def test_a_name_being_created_on_less_than_a_quorum_is_not_there_yet():
    """``afr_lookup_done``: ``in_flight_create`` (the name is locked, some copies lack it, the
    others are no quorum) is ENOENT; unlocked, the copy that has it answers (a name heal's case)."""
    with pytest.raises(FileNotFoundError):
        _named_lookup([True, False, False], locked=1)
    assert _named_lookup([True, False, False], locked=0).prestat.ia_gfid == GFID
    assert _named_lookup([True, True, False], locked=1).prestat.ia_gfid == GFID
