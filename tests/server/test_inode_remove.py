"""features/locks' PL_INODE_REMOVE (posix.c, common.c ``pl_inode_remove_prepare``), on the fake
and a real 10.3 brick alike: an UNLINK, RMDIR or RENAME over an existing name waits while
*other* clients hold inodelks on the inode it removes (in any domain; locks of internal
clients, pid < 0, do not count), and those holders get INODELK_CONTENTION; meanwhile new
inodelks from clients holding none on the inode wait too; the remove runs once the last such
lock is unlocked, then the waiting inodelks are granted.
"""

from __future__ import annotations

import errno
import uuid

import pytest

from tests.rawclient import ROOT, Mount
from tests.server.test_brick_semantics import (
    LOCK_NB,
    O1,
    O2,
    O3,
    SETLK,
    SETLKW,
    UN,
    WR,
    File,
    cred,
    entrylk,
    flock,
    res,
)

U32 = 0xFFFFFFFF
pytestmark = pytest.mark.targets("fake", "real")


@pytest.fixture
def d(a):
    return a.mkdir(ROOT, f"r-{uuid.uuid4().hex[:8]}").stat.ia_gfid


def inodelk_send(m, gfid, owner, cmd=SETLKW, type_=WR, domain="dom", pid=100):
    return m.send("INODELK", cred=cred(owner, pid), gfid=gfid, cmd=cmd, type=type_, flock=flock(type_, pid=pid),
                  volume=domain)  # fmt: skip


def test_unlink_waits_for_other_clients_inodelks(a, b, c, d):
    f = File(a, b, d)
    assert res(f.inodelk(a, SETLK, WR, O1, 0, 100)) == (0, 0)
    assert res(f.inodelk(a, SETLK, WR, O2, 0, 0, domain="other")) == (0, 0)
    waiting = b.send("UNLINK", pargfid=d, bname="f", xflags=0)
    assert not b.raw.answered(waiting)
    cbks = a.raw.poll_callbacks(1.0)  # the holder is told (one upcall per lock)
    assert sorted((cb.proc, cb.args.domain) for cb in cbks) == [(10, "dom"), (10, "other")]
    # meanwhile: a client holding no lock on the inode waits (or gets EAGAIN) ...
    assert res(f.inodelk(c, SETLK, WR, O3, 500, 10)) == (-1, errno.EAGAIN)
    later = inodelk_send(c, f.gfid, O3, domain="third")
    assert not c.raw.answered(later)
    # ... one holding a lock does not
    assert res(f.inodelk(a, SETLK, WR, O1, 200, 10)) == (0, 0)
    for start, length in ((0, 100), (200, 10)):
        assert res(f.inodelk(a, SETLK, UN, O1, start, length)) == (0, 0)
    assert not b.raw.answered(waiting, 0.3)  # the lock of the other domain still holds it
    assert res(f.inodelk(a, SETLK, UN, O2, 0, 0, domain="other")) == (0, 0)
    assert res(b.reply("UNLINK", waiting, 5)) == (0, 0)
    assert res(c.reply("INODELK", later, 5)) == (0, 0)  # granted after the remove
    assert a.fop("LOOKUP", pargfid=d, bname="f").op_errno == errno.ENOENT


def test_what_does_not_hold_a_remove(a, b, d):
    # the remover's own locks; locks of internal clients (pid < 0); entrylks
    f = File(a, b, d)
    assert res(f.inodelk(b, SETLK, WR, O1)) == (0, 0)
    assert res(b.fop("UNLINK", pargfid=d, bname="f", xflags=0)) == (0, 0)
    g = File(a, b, d, "g")
    shd = -6  # (glustershd's pid, GF_CLIENT_PID_SELF_HEALD)
    assert res(a.fop("INODELK", cred=cred(O1, shd), gfid=g.gfid, cmd=SETLK, type=WR, flock=flock(WR, pid=shd & U32),
                     volume="dom")) == (0, 0)  # fmt: skip
    assert res(entrylk(a, d, LOCK_NB, WR, O1, "g")) == (0, 0)
    assert res(b.fop("UNLINK", pargfid=d, bname="g", xflags=0)) == (0, 0)
    assert b.raw.poll_callbacks(0.3) == [] and a.raw.poll_callbacks(0.1) == []


def test_rmdir_and_rename_over_a_locked_inode_wait(a, b, d):
    sub = a.mkdir(d, "sub").stat.ia_gfid
    assert res(a.fop("INODELK", cred=cred(O1), gfid=sub, cmd=SETLK, type=WR, flock=flock(WR), volume="dom")) == (0, 0)
    waiting = b.send("RMDIR", pargfid=d, bname="sub", xflags=0)
    assert not b.raw.answered(waiting)
    assert res(a.fop("INODELK", cred=cred(O1), gfid=sub, cmd=SETLK, type=UN, flock=flock(UN), volume="dom")) == (0, 0)
    assert b.reply("RMDIR", waiting, 5).op_ret == 0  # (op_errno: see SUCCESS_OP_ERRNO)
    src, dst = File(a, b, d, "src"), File(a, b, d, "dst")
    assert res(src.inodelk(a, SETLK, WR, O1)) == (0, 0)
    # the source's locks do not hold a rename (only the name it replaces counts)
    assert res(b.fop("RENAME", oldgfid=d, oldbname="src", newgfid=d, newbname="moved")) == (0, 0)
    assert res(dst.inodelk(a, SETLK, WR, O1)) == (0, 0)
    waiting = b.send("RENAME", oldgfid=d, oldbname="moved", newgfid=d, newbname="dst")
    assert not b.raw.answered(waiting)
    assert res(dst.inodelk(a, SETLK, UN, O1)) == (0, 0)
    assert res(b.reply("RENAME", waiting, 5)) == (0, 0)
    assert b.fop("LOOKUP", pargfid=d, bname="dst").prestat.ia_gfid == src.gfid


def test_a_holder_that_leaves(target, a, b, d):
    """The holder's disconnect drops its locks (``pl_inodelk_client_cleanup``) but does not
    look at the held removes: the remove waits for the next unlock on the inode, and user
    clients holding no lock there cannot lock it meanwhile (an internal one can)."""
    f = File(a, b, d)
    c = Mount(target.host, target.port, target.volume)
    assert res(f.inodelk(c, SETLK, WR, O1)) == (0, 0)
    waiting = b.send("UNLINK", pargfid=d, bname="f", xflags=0)
    assert not b.raw.answered(waiting)
    c.close()
    assert not b.raw.answered(waiting, 1.0)
    assert res(f.inodelk(a, SETLK, WR, O2, 7, 1)) == (-1, errno.EAGAIN)
    shd = -6
    kw = dict(gfid=f.gfid, cmd=SETLK, volume="dom", cred=cred(O2, shd))
    assert res(a.fop("INODELK", type=WR, flock=flock(WR, 7, 1, pid=shd & U32, owner=O2), **kw)) == (0, 0)
    assert not b.raw.answered(waiting, 0.3)
    assert res(a.fop("INODELK", type=UN, flock=flock(UN, 7, 1, pid=shd & U32, owner=O2), **kw)) == (0, 0)
    assert res(b.reply("UNLINK", waiting, 5)) == (0, 0)
