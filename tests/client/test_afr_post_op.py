"""gfclient's AFR must not acknowledge a write whose post-op did not reach a quorum
(``afr_changelog_post_op_done`` in GlusterFS 10.3's afr-transaction.c: "Fail the FOP if
post-op did not succeed on quorum no. of bricks").

Found by ``bench/soak.py --replica 3``: the serve process was killed after two bricks had
answered a WRITE and before the third did; the post-op (which would have accused the third
copy) failed everywhere, yet the write was acknowledged; after the restart the three copies
differed with only ``trusted.afr.dirty`` set, and the self-heal could take the copy that missed
the write as its source: an acknowledged (and later fsync'd) write was gone from every copy."""

from __future__ import annotations

import errno
from typing import Any

import pytest
import trio

from fakegluster.proto import fops as F
from fakegluster.proto.fops import GfFop
from fakegluster.proto.volfile import Xlator
from gfclient.errors import fop_error
from gfclient.identity import Identity
from gfclient.xl.afr import Replicate
from gfclient.xl.base import Fd, Subvolume

POST_OP = "post-op"


class Brick(Subvolume):
    """A child that answers locks, xattrops and writes; fails (ENOTCONN) the FOPs in ``fail``,
    and ``POST_OP`` stands for its second FXATTROP of a transaction (the post-op)."""

    type = "protocol/client"

    def __init__(self, name: str, fail: frozenset[Any] = frozenset()) -> None:
        self.name = name
        self.children = ()
        self.fail = fail
        self.calls: list[tuple[GfFop, Any]] = []

    @property
    def up(self) -> bool:
        return True

    def leaves(self) -> list[Subvolume]:
        return [self]

    async def call(
        self, proc: GfFop, req: Any, ident: Identity, *, fd: Any = None, payload: Any = b"", path: Any = None
    ) -> Any:
        self.calls.append((proc, req))
        post_op = proc == GfFop.FXATTROP and [p for p, _ in self.calls].count(GfFop.FXATTROP) == 2
        if proc in self.fail or (post_op and POST_OP in self.fail):
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: connection lost")
        if proc in (GfFop.FXATTROP, GfFop.XATTROP):
            return type("X", (), {"dict": {}})()
        if proc == GfFop.WRITE:
            return type("W", (), {"op_ret": req.size})()
        return None


def _afr(fails: list[frozenset[Any]]) -> tuple[Replicate, list[Brick], Fd]:
    bricks = [Brick(f"vol-client-{i}", f) for i, f in enumerate(fails)]
    xl = Xlator("vol-replicate-0", "cluster/replicate", {}, tuple(b.name for b in bricks))
    afr = Replicate(xl, bricks)
    fd = Fd(b"\x01" * 16, 2)
    for b in bricks:
        fd.ctx[b] = object()  # open on every child
    return afr, bricks, fd


def _write(afr: Replicate, fd: Fd) -> Any:
    req = F.GfxWriteReq(fd.gfid, -1, 0, 4, 0, None)

    async def main() -> Any:
        return await afr.call(GfFop.WRITE, req, Identity(), fd=fd, payload=b"data")

    return trio.run(main)


def test_a_write_whose_post_op_failed_everywhere_is_not_acknowledged():
    # brick 2 lost the WRITE, then the post-op failed on every brick (the server died)
    afr, bricks, fd = _afr([frozenset({POST_OP}), frozenset({POST_OP}), frozenset({GfFop.WRITE})])
    with pytest.raises(OSError) as exc:
        _write(afr, fd)
    assert exc.value.errno == errno.ENOTCONN
    # it did go through the whole transaction: the two WRITEs, then the post-ops that failed
    assert [p for p, _ in bricks[0].calls].count(GfFop.WRITE) == 1
    assert [p for p, _ in bricks[0].calls].count(GfFop.FXATTROP) == 2  # pre-op + post-op


def test_a_post_op_on_a_quorum_acknowledges_and_accuses_the_missing_copy():
    # brick 2 lost the WRITE and its own post-op; bricks 0 and 1 record the accusation
    afr, bricks, fd = _afr([frozenset(), frozenset(), frozenset({GfFop.WRITE})])
    rsp = _write(afr, fd)
    assert rsp.op_ret == 4
    post = [r for p, r in bricks[0].calls if p == GfFop.FXATTROP][-1]
    assert bytes(post.dict["trusted.afr.vol-client-2"].value)[:4] == (1).to_bytes(4, "big")


def test_a_post_op_lost_on_one_child_of_three_still_acknowledges():
    # quorum (2 of 3) holds the changelog: the FOP stands, as in afr_changelog_post_op_done
    afr, bricks, fd = _afr([frozenset(), frozenset(), frozenset({POST_OP})])
    assert _write(afr, fd).op_ret == 4
    assert all([p for p, _ in b.calls].count(GfFop.WRITE) == 1 for b in bricks)
