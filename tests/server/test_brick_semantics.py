"""Brick semantics the client translators rely on, at the wire level, on the fake and on a
real GlusterFS 10.3 brick alike: locks (features/locks), XATTROP (posix), the xdata a
reply carries for the keys a request names, the virtual xattrs a brick answers itself.
Every expectation was read off the real brick first (see docs/notes in the modules).

Two raw connections (``a``, ``b``) play two clients; lock owners are the AUTH_GLUSTERFS
``lk_owner`` of each call.
"""

from __future__ import annotations

import errno
import re
import struct
import time
import uuid

import pytest

from fakegluster.proto.common import GfProtoFlock
from fakegluster.proto.gfdict import GfDataType, GfxValue
from tests.rawclient import ROOT, Mount, v3

O1, O2, O3 = b"owner-01", b"owner-02", b"owner-03"
RD, WR, UN = 0, 1, 2
GETLK, SETLK, SETLKW = 0, 1, 2
LOCK, UNLOCK, LOCK_NB = 0, 1, 2  # entrylk commands
LLONG_MAX = (1 << 63) - 1
U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


@pytest.fixture
def d(a):
    return a.mkdir(ROOT, f"s-{uuid.uuid4().hex[:8]}").stat.ia_gfid


def cred(owner: bytes, pid: int = 100):
    return v3(pid, owner=owner)


def flock(type_, start=0, length=0, pid=100, owner=b""):
    return GfProtoFlock(type=type_, whence=0, start=start & U64, len=length & U64, pid=pid, lk_owner=owner)


def fl(r):
    f = r.flock
    return (f.type, f.start, f.len, f.pid, bytes(f.lk_owner))


class File:
    """A file open on two connections, with helpers for the lock calls."""

    def __init__(self, a, b, d, name="f"):
        c = a.create(d, name)
        self.a, self.b, self.d, self.name = a, b, d, name
        self.gfid, self.fa = c.stat.ia_gfid, c.fd
        self.fb = b.fop("OPEN", gfid=self.gfid, flags=2).fd

    def lk(self, m, cmd, type_, owner, start=0, length=0, pid=100, fd=None, flock_owner=None):
        fd = (self.fa if m is self.a else self.fb) if fd is None else fd
        f = flock(type_, start, length, pid, owner if flock_owner is None else flock_owner)
        return m.fop("LK", cred=cred(owner, pid), gfid=self.gfid, fd=fd, cmd=cmd, type=type_, flock=f)

    def inodelk(self, m, cmd, type_, owner, start=0, length=0, domain="dom", fd=None):
        kw = dict(gfid=self.gfid, cmd=cmd, type=type_, flock=flock(type_, start, length, 100, owner), volume=domain)
        if fd is not None:
            return m.fop("FINODELK", cred=cred(owner), fd=fd, **kw)
        return m.fop("INODELK", cred=cred(owner), **kw)

    def counts(self, m, **keys):
        xdata = {k: (GfxValue.str(v) if isinstance(v, str) else GfxValue.int(v)) for k, v in keys.items()}
        return m.fop("LOOKUP", pargfid=self.d, bname=self.name, xdata=xdata).xdata


def entrylk(m, gfid, cmd, type_, owner, name="x", domain="dom", fd=None):
    kw = dict(gfid=gfid, cmd=cmd, type=type_, namelen=0 if name is None else len(name), name=name or "", volume=domain)
    if fd is not None:
        return m.fop("FENTRYLK", cred=cred(owner), fd=fd, **kw)
    return m.fop("ENTRYLK", cred=cred(owner), **kw)


def res(r):
    return (r.op_ret, r.op_errno)


# ---- LK: fcntl locks ---------------------------------------------------------------------


def test_lk_owners_ranges_and_getlk(a, b, d):
    f = File(a, b, d)
    r = f.lk(a, SETLK, WR, O1, 0, 100)
    assert res(r) == (0, 0) and fl(r) == (WR, 0, 100, 100, O1)
    assert fl(f.lk(a, SETLK, RD, O1, 50, 10)) == (RD, 50, 10, 100, O1)  # splits O1's lock
    # another owner on the same connection conflicts; GETLK reports the first conflict
    assert fl(f.lk(a, GETLK, WR, O2, pid=7)) == (WR, 0, 50, 100, O1)
    assert fl(f.lk(a, GETLK, RD, O2, 50, 5, pid=7)) == (UN, 50, 5, 7, O2)  # no conflict: F_UNLCK
    assert fl(f.lk(a, GETLK, RD, O2, 60, 5, pid=7)) == (WR, 60, 40, 100, O1)
    # the same lk-owner on another client is another owner
    assert fl(f.lk(b, GETLK, WR, O1)) == (WR, 0, 50, 100, O1)
    assert res(f.lk(b, SETLK, RD, O3, 50, 5)) == (0, 0)
    r = f.lk(b, SETLK, WR, O3, 50, 5)
    assert res(r) == (-1, errno.EAGAIN) and fl(r) == (0, 0, 0, 0, b"")
    # an unlock that leaves locks on the fd answers F_RDLCK; the last one F_UNLCK
    assert fl(f.lk(a, SETLK, UN, O1, 0, 50)) == (RD, 0, 50, 100, O1)
    assert fl(f.lk(a, GETLK, WR, O2)) == (RD, 50, 10, 100, O1)
    assert fl(f.lk(a, SETLK, UN, O1)) == (UN, 0, 0, 100, O1)
    assert fl(f.lk(a, SETLK, UN, O1)) == (UN, 0, 0, 100, O1)  # nothing left to unlock: fine
    assert fl(f.lk(b, GETLK, WR, O1)) == (RD, 50, 5, 100, O3)


def test_lk_owner_comes_from_the_credentials(a, b, d):
    f = File(a, b, d)
    r = f.lk(a, SETLK, WR, O1, 300, 10, pid=55, flock_owner=b"zzz")
    assert fl(r) == (WR, 300, 10, 55, b"zzz")  # the request's flock, echoed
    assert fl(f.lk(b, GETLK, WR, O3, 300, 1)) == (WR, 300, 10, 55, O1)  # owned by the caller's lk_owner


def test_lk_invalid_requests(a, b, d):
    f = File(a, b, d)
    assert res(f.lk(a, SETLK, WR, O1, -5, 0)) == (-1, errno.EINVAL)
    assert fl(f.lk(a, SETLK, WR, O1, 100, -10)) == (WR, 90, 10, 100, O1)  # a negative length counts back
    assert res(f.lk(a, SETLK, WR, b"", 0, 10)) == (-1, errno.EINVAL)  # a null lk-owner
    assert res(f.lk(a, GETLK, WR, b"", 0, 10)) == (-1, errno.EINVAL)
    assert res(f.lk(a, 9, WR, O1, 0, 10)) == (0, 0)  # an unknown cmd: echoed, nothing done
    assert res(f.lk(a, SETLK, WR, O1, 0, 10, fd=77)) == (-1, errno.EBADF)
    assert res(f.lk(a, SETLK, WR, O1, 500, 10, fd=-2)) == (0, 0)  # the anonymous fd locks too
    assert fl(f.lk(b, GETLK, WR, O3, 500, 1)) == (WR, 500, 10, 100, O1)


RESLK_LCK, RESLK_LCKW, RESLK_UNLCK, GETLK_FD = 3, 4, 5, 6  # features/locks reservelk.c


def send_lk(m, f, cmd, type_, owner, start=0, length=0, flock_owner=None):
    fd = f.fa if m is f.a else f.fb
    fo = owner if flock_owner is None else flock_owner
    return m.send(
        "LK", cred=cred(owner), gfid=f.gfid, fd=fd, cmd=cmd, type=type_, flock=flock(type_, start, length, 100, fo)
    )


def test_lk_reservations(a, b, d):
    """LK cmd 3 (GF_LK_RESLK_LCK) reserves a range: answered like F_GETLK (the posix lock in the
    way, else F_UNLCK); only a reservation with *equal* boundaries conflicts, whoever holds it;
    cmd 5 drops the reservation of equal boundaries, whoever made it."""
    f = File(a, b, d)
    assert fl(f.lk(a, RESLK_LCK, WR, O1, 0, 10)) == (UN, 0, 10, 100, O1)
    assert res(f.lk(a, RESLK_LCK, WR, O1, 0, 10)) == (-1, errno.EAGAIN)  # its own, again
    assert res(f.lk(b, RESLK_LCK, WR, O2, 0, 10)) == (-1, errno.EAGAIN)
    assert fl(f.lk(b, RESLK_LCK, WR, O2, 5, 10)) == (UN, 5, 10, 100, O2)  # overlapping is fine
    assert fl(f.lk(b, RESLK_UNLCK, UN, O2, 0, 10, flock_owner=b"zz")) == (UN, 0, 10, 100, b"zz")  # O1's
    assert res(f.lk(b, RESLK_UNLCK, UN, O2, 0, 10)) == (-1, errno.EINVAL)
    assert fl(f.lk(a, RESLK_UNLCK, WR, O1, 15, -10)) == (WR, 5, 10, 100, O1)  # O2's, length counted back
    assert res(f.lk(a, RESLK_LCK, WR, b"", 0, 10)) == (-1, errno.EINVAL)
    assert res(f.lk(a, RESLK_LCK, WR, O1, -5, 10)) == (-1, errno.EINVAL)
    # a posix lock in the way is reported, and the range reserved all the same
    assert res(f.lk(b, SETLK, WR, O3, 100, 10)) == (0, 0)
    assert fl(f.lk(a, RESLK_LCK, RD, O1, 95, 10)) == (WR, 100, 10, 100, O3)
    assert res(f.lk(b, RESLK_LCK, RD, O2, 95, 10)) == (-1, errno.EAGAIN)
    # the owner's F_SETLK on exactly its range consumes the reservation (then meets O3's lock)
    assert res(f.lk(a, SETLK, RD, O1, 95, 10)) == (-1, errno.EAGAIN)
    assert fl(f.lk(b, RESLK_LCK, RD, O2, 95, 10)) == (WR, 100, 10, 100, O3)
    assert res(f.lk(a, RESLK_UNLCK, RD, O1, 95, 10)) == (0, 0)


def test_lk_calls_queued_behind_a_reservation_never_return(a, b, d):
    """pl_verify_reservelk queues any F_SETLK on an inode with a reservation unless it is the
    holder's on exactly that range (even a non-blocking one, even the holder's on another range);
    nothing ever retries those calls (grant_blocked_lock_calls splices the wrong list)."""
    f = File(a, b, d)
    f.lk(a, RESLK_LCK, WR, O1, 0, 10)
    other = send_lk(b, f, SETLK, WR, O2, 0, 10)
    elsewhere = send_lk(a, f, SETLK, WR, O1, 300, 10)
    assert fl(f.lk(b, GETLK, WR, O3, 0, 0)) == (UN, 0, 0, 100, O3)  # F_GETLK does not look
    assert not b.raw.answered(other, 0.5) and not a.raw.answered(elsewhere, 0.1)
    assert res(f.lk(a, RESLK_UNLCK, UN, O1, 0, 10)) == (0, 0)
    assert not b.raw.answered(other, 0.5) and not a.raw.answered(elsewhere, 0.1)
    assert fl(f.lk(b, GETLK, WR, O3, 0, 0)) == (UN, 0, 0, 100, O3)  # nor granted
    assert res(f.lk(b, SETLK, WR, O2, 0, 10)) == (0, 0)  # no reservation left: locks go on


def test_lk_reservation_waiter(a, b, d):
    """LK cmd 4 (GF_LK_RESLK_LCKW) waits for the reservation of equal boundaries to go and is
    answered with its own flock.  (No more reservations on that inode: a 10.3 brick leaves the
    granted waiter linked into a stack list, its reservation list is corrupt from then on.)"""
    f = File(a, b, d)
    f.lk(a, RESLK_LCK, WR, O1, 0, 10)
    waiting = send_lk(b, f, RESLK_LCKW, WR, O2, 0, 10, flock_owner=b"yy")
    assert not b.raw.answered(waiting, 0.5)
    assert res(f.lk(a, RESLK_UNLCK, UN, O1, 0, 10)) == (0, 0)
    r = b.reply("LK", waiting)
    assert res(r) == (0, 0) and fl(r) == (WR, 0, 10, 100, b"yy")


def test_lk_reservations_outlive_their_client_and_getlk_fd(target, a, b, d):
    """Nothing drops a reservation but RESLK_UNLCK (or its owner's F_SETLK); LK cmd 6
    (GF_LK_GETLK_FD) hands out the locks held through the fd, one per call, round and round."""
    f = File(a, b, d)
    c = Mount(target.host, target.port, target.volume)
    fc = c.fop("OPEN", gfid=f.gfid, flags=2).fd
    r = c.fop("LK", cred=cred(O3), gfid=f.gfid, fd=fc, cmd=RESLK_LCK, type=WR, flock=flock(WR, 0, 10, 100, O3))
    assert fl(r) == (UN, 0, 10, 100, O3)
    c.close()
    time.sleep(0.3)
    assert res(f.lk(a, RESLK_LCK, WR, O1, 0, 10)) == (-1, errno.EAGAIN)
    assert res(f.lk(a, RESLK_UNLCK, UN, O1, 0, 10)) == (0, 0)
    assert fl(f.lk(b, GETLK_FD, RD, O2, 7, 3)) == (RD, 7, 3, 100, O2)  # no lock on the fd: echoed
    assert res(f.lk(a, SETLK, WR, O1, 100, 10)) == (0, 0)
    assert res(f.lk(a, SETLK, RD, O2, 200, 0, pid=9)) == (0, 0)
    expect = [(WR, 100, 10, 100, O1), (RD, 200, 0, 9, O2)]
    assert [fl(f.lk(a, GETLK_FD, WR, O3, 0, 0)) for _ in range(3)] == expect + expect[:1]
    # GETLK_FD by the holder of a reservation of equal boundaries consumes it
    assert fl(f.lk(b, RESLK_LCK, RD, O2, 0, 0)) == (WR, 100, 10, 100, O1)
    assert fl(f.lk(b, GETLK_FD, RD, O2, 0, 0)) == (RD, 0, 0, 100, O2)
    assert res(f.lk(a, RESLK_LCK, RD, O1, 0, 0)) == (0, 0)
    assert res(f.lk(a, RESLK_UNLCK, RD, O1, 0, 0)) == (0, 0)


def test_lk_released_by_flush_release_and_disconnect(target, a, b, d):
    f = File(a, b, d)
    fa2 = a.fop("OPEN", gfid=f.gfid, flags=2).fd
    f.lk(a, SETLK, WR, O1, 0, 10, fd=-2)
    f.lk(a, SETLK, WR, O1, 300, 10, fd=fa2)
    assert res(f.lk(a, SETLK, WR, O2, 300, 10, fd=fa2)) == (-1, errno.EAGAIN)
    assert f.counts(a, **{"glusterfs.posixlk-count": 1}) == {"glusterfs.posixlk-count": GfxValue.int(2)}
    # FLUSH drops the caller's owner's locks on the inode, whatever fd they came through
    assert res(a.fop("FLUSH", gfid=f.gfid, fd=fa2, cred=cred(O1))) == (0, 0)
    assert fl(f.lk(b, GETLK, WR, O3, 0, 0)) == (UN, 0, 0, 100, O3)
    # RELEASE drops the fd's locks, whatever their owner
    f.lk(a, SETLK, WR, O2, 400, 10)
    assert res(a.fop("RELEASE", gfid=f.gfid, fd=f.fa, cred=cred(O1))) == (0, 0)
    assert fl(f.lk(b, GETLK, WR, O3, 400, 1))[0] == UN
    # a connection that goes away leaves no lock behind
    c = Mount(target.host, target.port, target.volume)
    fc = c.fop("OPEN", gfid=f.gfid, flags=2).fd
    f.lk(c, SETLK, WR, O2, 500, 10, fd=fc)
    assert fl(f.lk(b, GETLK, WR, O3, 500, 1))[0] == WR
    c.close()
    time.sleep(0.3)
    assert fl(f.lk(b, GETLK, WR, O3, 500, 1))[0] == UN


def test_lk_read_locks_are_not_merged_past_another_owners(a, b, d):
    """A features/locks quirk: a read lock that first meets another owner's read lock is
    inserted without merging with its own owner's locks."""
    f = File(a, b, d)
    for owner in (O1, O2, O2):
        f.lk(a, SETLK, RD, owner)
    count = {"glusterfs.posixlk-count": 1}
    assert f.counts(a, **count) == {"glusterfs.posixlk-count": GfxValue.int(3)}
    f.lk(a, SETLK, UN, O2)
    assert f.counts(a, **count) == {"glusterfs.posixlk-count": GfxValue.int(1)}
    f.lk(a, SETLK, RD, O2, 1, 0)
    f.lk(a, SETLK, WR, O1, 0, 1)
    f.lk(a, SETLK, RD, O1, 0, 0)  # meets O2's read lock first: O1's write lock on byte 0 stays
    assert fl(f.lk(a, GETLK, RD, O3, 0, 1)) == (WR, 0, 1, 100, O1)


# ---- INODELK / ENTRYLK -------------------------------------------------------------------------


def test_inodelk_owners_domains_and_unlocks(a, b, d):
    f = File(a, b, d)
    assert res(f.inodelk(a, SETLK, WR, O1)) == (0, 0)
    assert res(f.inodelk(a, SETLK, WR, O1)) == (0, 0)  # the same owner may lock again
    assert res(f.inodelk(a, SETLK, WR, O2)) == (-1, errno.EAGAIN)
    assert res(f.inodelk(b, SETLK, WR, O1)) == (-1, errno.EAGAIN)  # same lk-owner, other client
    assert res(f.inodelk(b, SETLK, WR, O3, domain="dom2")) == (0, 0)
    assert res(f.inodelk(b, SETLK, RD, O3)) == (-1, errno.EAGAIN)
    assert res(f.inodelk(a, GETLK, WR, O1)) == (-1, errno.ENOTSUP)
    assert res(f.inodelk(a, 7, WR, O1)) == (-1, errno.ENOTSUP)
    assert res(f.inodelk(a, SETLK, WR, b"")) == (-1, errno.EINVAL)
    assert res(f.inodelk(a, SETLK, WR, O1, 0, -1)) == (-1, errno.EINVAL)
    assert res(f.inodelk(a, SETLK, UN, O1, 0, 10)) == (-1, errno.EINVAL)  # not a granted range
    assert res(f.inodelk(a, SETLK, UN, O2)) == (-1, errno.EINVAL)
    counts = f.counts(a, **{"glusterfs.inodelk-count": 1, "glusterfs.inodelk-dom-count": "dom"})
    assert counts == {"glusterfs.inodelk-count": GfxValue.int(3)}  # all domains win over one
    assert f.counts(a, **{"glusterfs.inodelk-dom-count": "dom2"}) == {"glusterfs.inodelk-count": GfxValue.int(1)}
    assert [res(f.inodelk(a, SETLK, UN, O1)) for _ in range(3)] == [(0, 0), (0, 0), (-1, errno.EINVAL)]
    assert res(f.inodelk(a, SETLK, WR, O1, 5, 1, fd=77)) == (-1, errno.EBADF)
    assert res(f.inodelk(a, SETLK, WR, O1, 5, 1, fd=-2)) == (0, 0)
    assert res(a.fop("INODELK", cred=cred(O1), gfid=uuid.uuid4().bytes, cmd=SETLK, type=WR, flock=flock(WR),
                     volume="d")) == (-1, errno.ESTALE)  # fmt: skip


def test_inodelk_metadata_range_is_its_own_domain(a, b, d):
    f = File(a, b, d)
    assert res(f.inodelk(a, SETLK, WR, O1, LLONG_MAX - 1, 0)) == (0, 0)
    assert res(f.inodelk(b, SETLK, WR, O3)) == (0, 0)  # the whole range of "dom" is free
    assert res(f.inodelk(b, SETLK, UN, O3)) == (0, 0)
    assert res(f.inodelk(b, SETLK, WR, O3, LLONG_MAX - 1, 0)) == (-1, errno.EAGAIN)
    assert res(f.inodelk(b, SETLK, WR, O3, domain="dom:metadata")) == (-1, errno.EAGAIN)
    assert res(f.inodelk(a, SETLK, UN, O1, LLONG_MAX - 1, 0)) == (0, 0)


def test_inodelk_a_waiter_stands_in_front(a, b, d):
    """(Non-blocking view.)  The lock count includes waiters; the brick refuses a lock that
    would overtake a conflicting waiter."""
    f = File(a, b, d)
    f.inodelk(a, SETLK, WR, O1, 0, 100)
    assert res(f.inodelk(b, SETLK, WR, O3, 50, 10)) == (-1, errno.EAGAIN)
    assert res(f.inodelk(b, SETLK, RD, O3, 150, 10)) == (0, 0)


def test_entrylk_names_types_and_unlocks(a, b, d):
    def e(m, cmd, type_, owner, name="x", **kw):
        return res(entrylk(m, d, cmd, type_, owner, name, **kw))

    assert e(a, LOCK_NB, WR, O1) == (0, 0)
    assert e(a, LOCK_NB, WR, O1) == (0, 0)
    assert e(a, LOCK_NB, RD, O2) == (-1, errno.EAGAIN)
    assert e(b, LOCK_NB, RD, O3, "y") == (0, 0)
    assert e(b, LOCK_NB, RD, b"O4", "y") == (-1, errno.EAGAIN)  # two read locks on a name conflict
    assert e(b, LOCK_NB, WR, b"O4", None) == (-1, errno.EAGAIN)  # all names
    assert e(a, LOCK_NB, RD, O1) == (0, 0)
    xdata = a.fop("LOOKUP", gfid=d, xdata={"glusterfs.entrylk-count": GfxValue.int(1)}).xdata
    assert xdata == {"glusterfs.entrylk-count": GfxValue.int(4)}
    assert e(a, UNLOCK, RD, O1) == (0, 0)
    assert e(a, UNLOCK, WR, O1, "zz") == (-1, errno.EINVAL)
    assert [e(a, UNLOCK, WR, O1) for _ in range(3)] == [(0, 0), (0, 0), (-1, errno.EINVAL)]
    assert e(a, LOCK_NB, WR, b"", "n") == (-1, errno.EINVAL)
    assert e(a, 5, WR, O1, "n") == (-1, 0)  # an unknown command fails with errno 0
    assert e(a, LOCK_NB, 7, O1, "n2") == (0, 0)
    assert e(a, LOCK_NB, WR, O1, "a/b") == (0, 0)  # names are opaque
    assert e(a, LOCK_NB, WR, O1, "n3", fd=55) == (-1, errno.EBADF)
    assert e(a, LOCK_NB, WR, O1, "n3", fd=-2) == (0, 0)
    f = a.create(d, "ff").stat.ia_gfid
    assert res(entrylk(a, f, LOCK_NB, WR, O1, "n4")) == (0, 0)  # on a file, too
    assert res(entrylk(a, uuid.uuid4().bytes, LOCK_NB, WR, O1)) == (-1, errno.ESTALE)


def test_parent_entrylk_and_counts_on_other_fops(a, b, d):
    f = File(a, b, d)
    entrylk(a, d, LOCK_NB, WR, O1, "f")
    r = a.fop("LOOKUP", pargfid=d, bname="f", xdata={"glusterfs.parent-entrylk": GfxValue.int(1)})
    assert r.xdata == {"glusterfs.parent-entrylk": GfxValue.int(1)}
    f.inodelk(a, SETLK, WR, O1)
    keys = {"glusterfs.inodelk-count": GfxValue.int(1)}
    zeros = {"trusted.x": GfxValue.ptr(bytes(4))}
    fx = a.fop("FXATTROP", gfid=f.gfid, fd=f.fa, flags=0, dict=zeros, xdata=keys)
    assert fx.xdata == {"glusterfs.inodelk-count": GfxValue.int(1)}
    x = a.fop("XATTROP", gfid=f.gfid, flags=0, dict=zeros, xdata=keys)
    assert x.xdata == {}  # by gfid, features/locks finds no inode to count on
    assert a.fop("XATTROP", gfid=f.gfid, flags=0, dict=zeros).xdata is None
    assert a.fop("STAT", gfid=f.gfid, xdata=keys).xdata == {}


# ---- XATTROP (posix do_xattrop) ------------------------------------------------------------------


def i32(*xs):
    return b"".join((x & 0xFFFFFFFF).to_bytes(4, "big") for x in xs)


def i64(*xs):
    return b"".join((x & U64).to_bytes(8, "big") for x in xs)


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param([(0, i32(1, 2, 3), i32(1, 2, 3)), (0, i32(-1, 0, 5), i32(0, 2, 8))], id="add-array"),
        pytest.param([(0, i32(0, 0), i32(0, 0)), ("get", None, errno.ENODATA)], id="zeros-only-read"),
        pytest.param([(0, i32(1, 2, 3), i32(1, 2, 3)), (0, i32(1, 1), errno.ERANGE)], id="shorter-delta"),
        pytest.param([(0, i32(1, 2), i32(1, 2)), (0, i32(1, 1, 1), i32(2, 3, 1))], id="longer-delta"),
        pytest.param([(0, b"\0\0\0\1\7\7", b"\0\0\0\1\0\0")], id="odd-length"),
        pytest.param([(1, i64(5, -1), i64(5, -1)), (1, i64(1, 1), i64(6, 0))], id="add-array64"),
        pytest.param([(4, b"abcd", None), (4, b"wxyz", b"abcd"), (4, b"xy", errno.ERANGE)], id="get-and-set"),
        pytest.param(
            [
                (5, i32(1, 2, 10, 20), i32(11, 22)),
                (5, i32(1, 2, 10, 20), i32(12, 24)),
                (5, i32(-12, 0, 9, 9), i32(0, 24)),
                (5, i32(1, 1, 9, 9), i32(10, 25)),
            ],
            id="add-array-with-default",
        ),
        pytest.param([(6, i64(1, 7), i64(8))], id="add-array64-with-default"),
        pytest.param([(2, i32(1), errno.EINVAL), (2, i32(0), i32(0)), (9, i32(0, 1), errno.EINVAL)], id="other-ops"),
    ],
)
def test_xattrop(a, b, d, steps):
    f = File(a, b, d)
    for i, (flags, delta, expect) in enumerate(steps):
        if flags == "get":
            r = a.fop("GETXATTR", gfid=f.gfid, namelen=1, name="trusted.t")
            assert res(r) == (-1, expect)
            continue
        fd = {} if i % 2 else {"fd": f.fa}
        r = a.fop(
            "FXATTROP" if fd else "XATTROP", gfid=f.gfid, flags=flags, dict={"trusted.t": GfxValue.ptr(delta)}, **fd
        )
        if isinstance(expect, int):
            assert res(r) == (-1, expect), i
        else:
            assert res(r) == (0, 0) and r.xdata is None, i
            assert r.dict == ({} if expect is None else {"trusted.t": GfxValue.ptr(expect)}), i


def test_xattrop_keys_and_failures(a, b, d):
    f = File(a, b, d)
    P = GfxValue.ptr
    r = a.fop("XATTROP", gfid=f.gfid, flags=0, dict={"trusted.k1": P(i32(1)), "trusted.k2": P(i32(2))})
    assert list(r.dict) == ["trusted.k1", "trusted.k2"]
    # the last key on the wire goes first; the first failure ends the call
    r = a.fop("XATTROP", gfid=f.gfid, flags=0, dict={"trusted.q": P(i32(1)), "nonamespace": P(i32(1))})
    assert res(r) == (-1, errno.EOPNOTSUPP)
    assert res(a.fop("GETXATTR", gfid=f.gfid, namelen=1, name="trusted.q")) == (-1, errno.ENODATA)
    r = a.fop("XATTROP", gfid=f.gfid, flags=0, dict={"nonamespace": P(i32(1)), "trusted.h": P(i32(1))})
    assert res(r) == (-1, errno.EOPNOTSUPP)
    assert a.fop("GETXATTR", gfid=f.gfid, namelen=1, name="trusted.h").dict == {"trusted.h": P(i32(1))}
    assert a.fop("XATTROP", gfid=f.gfid, flags=0, dict={"user.u": P(i32(1))}).dict == {"user.u": P(i32(1))}
    assert res(a.fop("XATTROP", gfid=f.gfid, flags=0, dict={})) == (0, 0)
    assert res(a.fop("XATTROP", gfid=f.gfid, flags=0, dict=None)) == (-1, errno.ENOMEM)
    assert res(a.fop("XATTROP", gfid=uuid.uuid4().bytes, flags=0, dict={"trusted.a": P(i32(1))})) == (-1, errno.ESTALE)
    assert res(a.fop("FXATTROP", gfid=f.gfid, fd=55, flags=0, dict={"trusted.a": P(i32(1))})) == (-1, errno.EBADF)
    # a C string delta is its bytes and the NUL; an int is its decimal text and the NUL
    assert a.fop("XATTROP", gfid=f.gfid, flags=0, dict={"trusted.s": GfxValue.str("ab")}).dict == {
        "trusted.s": P(b"\0\0\0")
    }
    assert a.fop("SETXATTR", gfid=f.gfid, dict={"user.int": GfxValue.int(5)}).op_ret == 0
    assert a.fop("GETXATTR", gfid=f.gfid, namelen=1, name="user.int").dict == {"user.int": P(b"5\0")}


# ---- xdata a reply carries for the keys a request names (posix_xattr_fill) ---------------------


def test_reply_xdata_fill(a, b, d):
    f = File(a, b, d)
    a.fop("WRITE", gfid=f.gfid, fd=f.fa, offset=0, size=5, payload=b"hello")
    a.fop("SETXATTR", gfid=f.gfid, dict={"trusted.afr.v-client-0": GfxValue.ptr(i32(0, 0, 0))})
    a.fop("SETXATTR", gfid=f.gfid, dict={"trusted.afr.v-client-1": GfxValue.ptr(i32(1, 0, 0))})
    asked = {
        "get-size": GfxValue.int(1),
        "glusterfs.open-fd-count": GfxValue.int(1),
        "trusted.afr.*": GfxValue.int(0),
        "trusted.none": GfxValue.int(0),
        "gfid-req": GfxValue.uuid(uuid.uuid4().bytes),
    }
    r = a.fop("LOOKUP", pargfid=d, bname="f", xdata=asked)
    assert r.xdata == {
        "get-size": GfxValue.uint(5),
        "glusterfs.open-fd-count": GfxValue.uint(2),
        "trusted.afr.v-client-0": GfxValue.ptr(i32(0, 0, 0)),
        "trusted.afr.v-client-1": GfxValue.ptr(i32(1, 0, 0)),
    }
    small = a.fop("STAT", gfid=f.gfid, xdata={"glusterfs.content": GfxValue.int(100)}).xdata
    assert small == {"glusterfs.content": GfxValue.ptr(b"hello")}
    assert a.fop("STAT", gfid=f.gfid, xdata={"glusterfs.content": GfxValue.int(3)}).xdata == {}
    fx = a.fop("FXATTROP", gfid=f.gfid, fd=f.fa, flags=1, dict={"trusted.ec.size": GfxValue.ptr(i64(0))},
               xdata={"get-size": GfxValue.int(1)})  # fmt: skip
    assert fx.xdata == {"get-size": GfxValue.uint(5)}
    assert a.fop("LOOKUP", gfid=d, xdata={"get-size": GfxValue.int(1)}).xdata == {}  # not a regular file


def test_lookup_list_xattr(a, b, d):
    """``list-xattr`` (AFR's lookups): every xattr on disk the reply does not carry yet, less
    gfid, gfid2path and the marker/geo-replication keys (posix-helpers.c ``_handle_list_xattr``);
    an ACL by its system.* name."""
    f = File(a, b, d)
    extended_acl = struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", tag, perm, qid)
        for tag, perm, qid in ((1, 6, U32), (2, 4, 1000), (4, 4, U32), (0x10, 4, U32), (0x20, 4, U32))
    )  # user::rw- user:1000:r-- group::r-- mask::r-- other::r-- (a minimal one would be the mode)
    listed = {"user.a": b"1", "trusted.afr.v-client-0": i32(0, 0, 1), "trusted.glusterfs.foo": b"y",
              "system.posix_acl_access": extended_acl}  # fmt: skip
    left_out = {"trusted.glusterfs.quota.size": b"x", "trusted.glusterfs.v.xtime": b"z", "trusted.pgfid.p": b"w"}
    for k, v in {**listed, **left_out}.items():
        assert a.fop("SETXATTR", gfid=f.gfid, dict={k: GfxValue.ptr(v)}, flags=0).op_ret == 0
    # a glob finds the geo-replication keys list-xattr leaves out; quota and pgfid keys neither
    # finds (features/marker takes them out of the reply)
    for glob, more in (("trusted.afr.*", {}), ("trusted.glusterfs.*", {"trusted.glusterfs.v.xtime": b"z"})):
        asked = {"list-xattr": GfxValue.int(1), glob: GfxValue.int(0)}
        got = a.fop("LOOKUP", pargfid=d, bname="f", xdata=asked).xdata
        got.pop("trusted.glusterfs.mdata", None)  # (listed by a brick with the ctime feature: not the fake's)
        assert {k: bytes(v.value) for k, v in got.items()} == {**listed, **more}, glob


def test_write_reply_xdata(a, b, d):
    """``_fill_writev_xdata``: a WRITE that carries xdata gets a dict back, with the inode's
    open fds (an anonymous fd counts while it is in use) and whether it appended."""
    f = File(a, b, d)
    asked = {
        "glusterfs.write-is-append": GfxValue.uint(4),
        "glusterfs.open-fd-count": GfxValue.uint(4),
        "glusterfs.open-active-fd-count": GfxValue.uint(4),
        "glusterfs.inodelk-dom-count": GfxValue.str("dom"),
    }

    def write(m, fd, offset, xdata):
        return m.fop("WRITE", gfid=f.gfid, fd=fd, offset=offset, size=4, payload=b"data", xdata=xdata).result.xdata

    def expect(append, fds):
        return {
            "glusterfs.inodelk-count": GfxValue.int(0),
            "glusterfs.write-is-append": GfxValue.uint(append),
            "glusterfs.open-active-fd-count": GfxValue.uint(fds),
            "glusterfs.open-fd-count": GfxValue.uint(fds),
        }

    assert write(a, f.fa, 0, asked) == expect(1, 2)
    assert write(a, f.fa, 0, asked) == expect(0, 2)
    assert write(a, f.fa, 4, asked) == expect(1, 2)
    assert write(a, -2, 100, asked) == expect(0, 3)
    appending = b.fop("OPEN", gfid=f.gfid, flags=2 | 0o2000).fd
    only = {"glusterfs.write-is-append": GfxValue.uint(4)}
    assert write(b, appending, 0, only) == {"glusterfs.write-is-append": GfxValue.uint(1)}
    assert write(a, f.fa, 0, {}) == {}
    assert write(a, f.fa, 0, None) is None
    fx = a.fop("FSTAT", gfid=f.gfid, fd=-2, xdata={"glusterfs.open-fd-count": GfxValue.uint(4)}).xdata
    assert fx == {"glusterfs.open-fd-count": GfxValue.uint(4)}


def test_rchecksum(a, b, d):
    """RCHECKSUM as AFR's data self-heal uses it: adler32 from 0 (gf_rsync_weak_checksum),
    SHA-256 (flags 1), and with ``check-zero-filled`` whether the block is all zeros."""
    import hashlib
    import zlib

    f = File(a, b, d)
    a.fop("WRITE", gfid=f.gfid, fd=f.fa, offset=0, size=16384, payload=b"D" * 16384)
    a.fop("FTRUNCATE", gfid=f.gfid, fd=f.fa, offset=65536)
    zero = {"check-zero-filled": GfxValue.int(1)}
    for offset, length, xdata, data in [
        (0, 1 << 20, zero, b"D" * 16384 + bytes(65536 - 16384)),
        (16384, 4096, zero, bytes(4096)),
        (1 << 20, 4096, zero, b""),
        (0, 20, None, b"D" * 20),
    ]:
        r = a.fop("RCHECKSUM", gfid=f.gfid, fd=f.fa, offset=offset, len=length, flags=0, xdata=xdata)
        assert (r.op_ret, r.flags, r.weak_checksum) == (0, 1, zlib.adler32(data, 0))
        assert bytes(r.strong_checksum) == hashlib.sha256(data).digest()
        want = {"fips-mode-rchecksum": GfxValue.int(1)}
        if xdata:
            want["buf-has-zeroes"] = GfxValue.uint(int(not any(data)))
        assert r.xdata == want


def test_inodelk_counts_of_several_domains(a, b, d):
    """``glusterfs.multi-dom-lk-cnt-req``: each ``glusterfs.inodelk-dom-prefix:DOMAIN`` key
    comes back with DOMAIN's inodelk count (granted and waiting), as glfsheal asks."""
    f = File(a, b, d)
    assert res(f.inodelk(a, SETLK, WR, O1, domain="v-replicate-0:self-heal")) == (0, 0)
    assert res(f.inodelk(a, SETLK, WR, O1, domain="v-replicate-0")) == (0, 0)
    assert res(f.inodelk(a, SETLK, RD, O2, domain="v-replicate-0")) == (-1, errno.EAGAIN)
    keys = {
        "glusterfs.inodelk-dom-prefix:v-replicate-0:self-heal": 1,
        "glusterfs.inodelk-dom-prefix:v-replicate-0": 1,
        "glusterfs.inodelk-dom-prefix:other": 1,
        "glusterfs.multi-dom-lk-cnt-req": 1,
    }
    assert f.counts(a, **keys) == {
        "glusterfs.inodelk-dom-prefix:v-replicate-0:self-heal": GfxValue.int(1),
        "glusterfs.inodelk-dom-prefix:v-replicate-0": GfxValue.int(1),
        "glusterfs.inodelk-dom-prefix:other": GfxValue.int(0),
    }
    keys.pop("glusterfs.multi-dom-lk-cnt-req")
    assert f.counts(a, **keys) == {}  # only with the request key


# ---- xattrs a brick answers itself -------------------------------------------------------------------


def test_virtual_xattrs(a, b, d):
    c = a.create(d, "File")
    g = c.stat.ia_gfid
    a.fop("LINK", oldgfid=g, newgfid=d, newbname="hard")
    dname = a.fop("LOOKUP", gfid=d, xdata=None)  # (the directory's own name is below)

    def get(name, gfid=g):
        r = a.fop("GETXATTR", gfid=gfid, namelen=1, name=name)
        return r.op_ret, r.op_errno, {k: (v.type, bytes(v.value) if v.type != GfDataType.UINT else v.value)
                                      for k, v in r.dict.items()}  # fmt: skip

    assert dname.op_ret == 0
    ret, _, got = get("glusterfs.gfid2path")
    assert got["glusterfs.gfid2path"][0] == GfDataType.STR
    path = got["glusterfs.gfid2path"][1]
    assert re.fullmatch(rb"/s-[0-9a-f]{8}/hard\0", path) and ret == len(path) - 1  # the newest name
    top = path[: path.index(b"/", 1)]
    assert get("glusterfs.gfidtopath") == (
        0,
        0,
        {"glusterfs.gfidtopath": (GfDataType.PTR, top + b"/File:" + top + b"/hard")},
    )
    ret, _, got = get("trusted.glusterfs.pathinfo")
    info = got["trusted.glusterfs.pathinfo"][1]
    m = re.fullmatch(rb"<POSIX\((/[^)]+)\):([^:]+):(/.*)>\0", info)
    assert m and m.group(3) == m.group(1) + top + b"/hard" and ret == len(info) - 1
    assert get("glusterfs.p")[2] == {"glusterfs.p": got["trusted.glusterfs.pathinfo"]}  # any prefix of the key
    assert get("trusted.glusterfs.pathinfo.x")[:2] == (-1, errno.ENODATA)
    ret, _, got = get("trusted.glusterfs.node-uuid", ROOT)
    assert ret == 36 and re.fullmatch(rb"[0-9a-f-]{36}\0", got["trusted.glusterfs.node-uuid"][1])
    root_info = get("trusted.glusterfs.pathinfo", ROOT)[2]["trusted.glusterfs.pathinfo"][1]
    assert root_info.endswith(m.group(1) + b"/>\0")
    assert get("glusterfs.gfid2path", d)[2]["glusterfs.gfid2path"][1] == top + b"\0"
    assert get("glusterfs.open-fd-count") == (0, 0, {"glusterfs.open-fd-count": (GfDataType.UINT, 1)})
    assert get("glusterfs.get_real_filename:file", d) == (
        5, 0, {"glusterfs.get_real_filename:file": (GfDataType.STR, b"File\0")}
    )  # fmt: skip
    assert get("glusterfs.get_real_filename:nope", d)[:2] == (-1, errno.ENODATA)
    # FGETXATTR answers none of them
    r = a.fop("FGETXATTR", gfid=g, fd=c.fd, namelen=1, name="trusted.glusterfs.pathinfo")
    assert res(r) == (-1, errno.ENODATA)
    r = a.fop("FGETXATTR", gfid=g, fd=c.fd, namelen=1, name="glusterfs.gfid2path")
    assert res(r) == (-1, errno.EOPNOTSUPP)


# ---- waiting: blocked requests answered later ------------------------------------------------


def test_lk_setlkw_waits_and_is_granted_before_the_unlock_answer(a, b, d):
    """As locks_two_clients.pcap shows: the blocked SETLKW is answered before the unlock
    that released it (here both on one connection, where the order is observable)."""
    f = File(a, b, d)
    f.lk(a, SETLK, WR, O1, 0, 100)
    blocked = a.send("LK", cred=cred(O2), gfid=f.gfid, fd=f.fa, cmd=SETLKW, type=WR, flock=flock(WR, 50, 10, 100, O2))
    other = b.send("LK", cred=cred(O3), gfid=f.gfid, fd=f.fb, cmd=SETLKW, type=RD, flock=flock(RD, 0, 10, 100, O3))
    assert not a.raw.answered(blocked) and not b.raw.answered(other)
    assert fl(f.lk(b, GETLK, WR, b"O4", 0, 10)) == (WR, 0, 100, 100, O1)  # waiters are not locks
    assert fl(f.lk(a, SETLKW, UN, O1, 0, 50)) == (RD, 0, 50, 100, O1)
    assert fl(b.reply("LK", other, 5)) == (RD, 0, 10, 100, O3)
    assert not a.raw.answered(blocked)
    unlock = a.send("LK", cred=cred(O1), gfid=f.gfid, fd=f.fa, cmd=SETLKW, type=UN, flock=flock(UN, 0, 0, 100, O1))
    assert fl(a.reply("LK", unlock, 5)) == (RD, 0, 0, 100, O1)  # O2's new lock is on the fd
    assert fl(a.reply("LK", blocked, 5)) == (WR, 50, 10, 100, O2)
    assert a.raw.arrivals.index(blocked) < a.raw.arrivals.index(unlock)


def test_lk_waiters_and_disconnects(target, a, b, d):
    f = File(a, b, d)
    f.lk(a, SETLK, WR, O2, 50, 10)
    waiting = b.send("LK", cred=cred(O3), gfid=f.gfid, fd=f.fb, cmd=SETLKW, type=WR, flock=flock(WR, 50, 1, 100, O3))
    assert not b.raw.answered(waiting)
    a.close()  # the holder goes away: its locks go, the waiter gets in
    assert fl(b.reply("LK", waiting, 5)) == (WR, 50, 1, 100, O3)
    c = Mount(target.host, target.port, target.volume)
    fc = c.fop("OPEN", gfid=f.gfid, flags=2).fd
    c.send("LK", cred=cred(O1), gfid=f.gfid, fd=fc, cmd=SETLKW, type=WR, flock=flock(WR, 50, 1, 100, O1))
    assert not c.raw.answered(c.raw.xid)
    c.close()  # a waiter that goes away leaves nothing behind
    time.sleep(0.3)
    assert res(f.lk(b, SETLK, UN, O3)) == (0, 0)
    assert fl(f.lk(b, GETLK, WR, b"O9")) == (UN, 0, 0, 100, b"O9")
    assert f.counts(b, **{"glusterfs.posixlk-count": 1}) == {"glusterfs.posixlk-count": GfxValue.int(0)}


def test_inodelk_waiters_and_contention_upcall(a, b, d):
    f = File(a, b, d)
    f.inodelk(a, SETLK, WR, O1, 0, 100)
    waiting = b.send("INODELK", cred=cred(O3), gfid=f.gfid, cmd=SETLKW, type=WR, flock=flock(WR, 50, 10, 100, O3),
                     volume="dom")  # fmt: skip
    assert not b.raw.answered(waiting)
    # the holder is told someone waits (notify-contention, on by default): INODELK_CONTENTION
    [cbk] = a.raw.poll_callbacks(1.0)
    assert (cbk.prog, cbk.vers, cbk.proc, cbk.xid) == (52743234, 1, 10, 1)
    args = cbk.args
    assert (args.gfid, args.pid, args.domain, args.xdata) == (f.gfid, 100, "dom", b"")
    assert fl(args) == (WR, 0, 100, 100, O1)
    # at most one upcall per lock every notify-contention-delay (5 s)
    assert res(f.inodelk(b, SETLK, WR, b"O4", 50, 10)) == (-1, errno.EAGAIN)
    assert a.raw.poll_callbacks(0.3) == []
    assert f.counts(a, **{"glusterfs.inodelk-count": 1}) == {"glusterfs.inodelk-count": GfxValue.int(2)}
    assert res(f.inodelk(a, SETLK, UN, O1, 0, 100)) == (0, 0)
    assert res(b.reply("INODELK", waiting, 5)) == (0, 0)
    assert res(f.inodelk(b, SETLK, UN, O3, 50, 10)) == (0, 0)


def test_inodelk_waiter_of_a_client_that_leaves(target, a, b, d):
    f = File(a, b, d)
    f.inodelk(a, SETLK, WR, O1)
    c = Mount(target.host, target.port, target.volume)
    c.send("INODELK", cred=cred(O3), gfid=f.gfid, cmd=SETLKW, type=WR, flock=flock(WR), volume="dom")
    waiting = b.send("INODELK", cred=cred(O3), gfid=f.gfid, cmd=SETLKW, type=WR, flock=flock(WR), volume="dom")
    assert not c.raw.answered(c.raw.xid) and not b.raw.answered(waiting)
    c.close()
    time.sleep(0.3)
    assert f.counts(a, **{"glusterfs.inodelk-count": 1}) == {"glusterfs.inodelk-count": GfxValue.int(2)}
    a.close()  # the holder's connection goes: its lock goes and the next waiter gets in
    assert res(b.reply("INODELK", waiting, 5)) == (0, 0)


def test_entrylk_waiters_get_no_contention_upcall(a, b, d):
    """``new_entrylk_lock`` leaves the lock's contend list head unset, so a 10.3 brick never
    sends ENTRYLK_CONTENTION."""
    assert res(entrylk(b, d, LOCK, WR, O3, "q")) == (0, 0)
    waiting = a.send("ENTRYLK", cred=cred(O1), gfid=d, cmd=LOCK, type=WR, namelen=1, name="q", volume="dom")
    assert not a.raw.answered(waiting)
    assert b.raw.poll_callbacks(0.5) == []
    assert res(entrylk(b, d, UNLOCK, WR, O3, "q")) == (0, 0)
    assert res(a.reply("ENTRYLK", waiting, 5)) == (0, 0)


# ---- new objects: xattrs from the request's xdata, DHT's pre-op check, CREATE's echo -----------


def test_new_objects_take_the_xattrs_of_their_xdata(a, b, d):
    P = GfxValue.ptr

    def get(g, name):
        r = a.fop("GETXATTR", gfid=g, namelen=1, name=name)
        return r.dict.get(name) if r.op_ret >= 0 else r.op_errno

    xdata = {
        "trusted.ec.config": P(b"\0\0\x08\x06\x02\0\x02\0"),
        "trusted.ec.size": P(bytes(8)),
        "user.u": GfxValue.str("v"),
        "glusterfs-internal-fop": GfxValue.str("yes"),
        "gfid-req": GfxValue.uuid(uuid.uuid4().bytes),
    }
    c = a.fop("CREATE", pargfid=d, bname="f", mode=0o644, flags=0o102, xdata=xdata)
    assert c.op_ret == 0 and c.xdata == xdata and list(c.xdata) == list(reversed(list(xdata)))  # echoed
    g = c.stat.ia_gfid
    assert get(g, "trusted.ec.config") == P(b"\0\0\x08\x06\x02\0\x02\0") and get(g, "user.u") == P(b"v\0")
    assert get(g, "glusterfs-internal-fop") == errno.EOPNOTSUPP
    again = a.fop("CREATE", pargfid=d, bname="f", mode=0o644, flags=0o102,
                  xdata={"trusted.ec.size": P(b"\1" * 8), "gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert again.op_ret == 0 and get(g, "trusted.ec.size") == P(bytes(8))  # not a new file: untouched
    link = {
        "trusted.glusterfs.dht.linkto": GfxValue.str("v-client-3"),
        "force-replace": GfxValue.str("yes"),
        "glusterfs-internal-fop": GfxValue.str("yes"),
        "gfid-req": GfxValue.uuid(uuid.uuid4().bytes),
    }
    m = a.fop("MKNOD", pargfid=d, bname="lnk", mode=0o101000, dev=0, umask=0, xdata=link)
    assert m.op_ret == 0 and m.stat.mode == 0o101000  # DHT's linkto file: sticky bit, no permissions
    assert get(m.stat.ia_gfid, "trusted.glusterfs.dht.linkto") == P(b"v-client-3\0")
    assert get(m.stat.ia_gfid, "force-replace") == errno.EOPNOTSUPP
    s = a.fop("SYMLINK", pargfid=d, bname="sl", linkname="t", umask=0,
              xdata={"trusted.x": P(b"1"), "gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert get(s.stat.ia_gfid, "trusted.x") == P(b"1")


def test_mkdir_preop_parent_check(a, b, d):
    P = GfxValue.ptr
    a.fop("SETXATTR", gfid=d, dict={"trusted.glusterfs.dht": P(b"L1")})

    def mkdir(name, **xdata):
        xdata["gfid-req"] = GfxValue.uuid(uuid.uuid4().bytes)
        return a.fop("MKDIR", pargfid=d, bname=name, mode=0o755, umask=0, xdata=xdata)

    key = GfxValue.str("trusted.glusterfs.dht")
    ok = mkdir("sub", **{"glusterfs.preop.parent.key": key, "trusted.glusterfs.dht": P(b"L1"),
                         "trusted.glusterfs.dht.mds": P(bytes(4))})  # fmt: skip
    assert res(ok) == (0, 0) and ok.xdata is None
    layout = a.fop("GETXATTR", gfid=ok.stat.ia_gfid, namelen=1, name="trusted.glusterfs.dht")
    assert res(layout) == (-1, errno.ENODATA)  # the checked value is not copied to the new directory
    assert a.fop("GETXATTR", gfid=ok.stat.ia_gfid, namelen=1, name="trusted.glusterfs.dht.mds").op_ret == 4
    bad = mkdir("sub2", **{"glusterfs.preop.parent.key": key, "trusted.glusterfs.dht": P(b"L2")})
    assert res(bad) == (-1, 0) and bad.xdata == {"glusterfs.preop.check.failed": GfxValue.int(1)}
    assert res(a.fop("LOOKUP", pargfid=d, bname="sub2")) == (-1, errno.ENOENT)
    none = GfxValue.str("trusted.none")
    assert res(mkdir("sub3", **{"glusterfs.preop.parent.key": none, "trusted.none": P(b"L2")})) == (-1, errno.ENODATA)
    assert res(mkdir("sub4", **{"glusterfs.preop.parent.key": none})) == (0, 0)


def test_negative_lookup_carries_no_stats(a, d):
    for xdata in (None, {"glusterfs.parent-entrylk": GfxValue.int(1)}, {"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}):
        r = a.fop("LOOKUP", pargfid=d, bname="nope", xdata=xdata)
        assert res(r) == (-1, errno.ENOENT) and r.xdata is None
        assert r.prestat.ia_gfid == r.poststat.ia_gfid == bytes(16) and r.poststat.mode == 0


def test_two_opens_of_a_file_are_two_fds_for_locks(a, b, d):
    """Closing one fd of a file leaves the locks taken through another one alone."""
    f = File(a, b, d)
    second = a.fop("OPEN", gfid=f.gfid, flags=2).fd
    f.lk(a, SETLK, WR, O1, 0, 10)  # through f.fa
    assert res(a.fop("RELEASE", gfid=f.gfid, fd=second)) == (0, 0)
    assert fl(f.lk(b, GETLK, WR, O3, 0, 1)) == (WR, 0, 10, 100, O1)
    f.lk(a, SETLK, WR, O2, 20, 10, fd=a.fop("OPEN", gfid=f.gfid, flags=2).fd)
    assert fl(f.lk(a, SETLK, UN, O1, 0, 10)) == (UN, 0, 0 + 10, 100, O1)  # f.fa holds nothing now


def test_create_layout_staleness_check(a, b, d):
    """``posix_is_layout_stale``: DHT's CREATE carries the parent layout it used."""
    P = GfxValue.ptr
    a.fop("SETXATTR", gfid=d, dict={"trusted.glusterfs.dht": P(b"L1")})

    def create(name, value):
        key = {"glusterfs.preop.parent.key": GfxValue.str("trusted.glusterfs.dht"), "trusted.glusterfs.dht": P(value)}
        return a.fop("CREATE", pargfid=d, bname=name, mode=0o644, flags=0o102,
                     xdata={**key, "gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip

    ok = create("f", b"L1")
    assert res(ok) == (0, 0) and set(ok.xdata) == {"gfid-req"}  # both keys consumed
    assert res(a.fop("GETXATTR", gfid=ok.stat.ia_gfid, namelen=1, name="trusted.glusterfs.dht")) == (-1, errno.ENODATA)
    bad = create("g", b"L2")
    assert res(bad) == (-1, errno.EIO) and set(bad.xdata) == {"glusterfs.preop.check.failed", "gfid-req"}
    assert bad.xdata["glusterfs.preop.check.failed"] == GfxValue.int(1)
    assert res(create("f", b"L2")) == (0, 0)  # an existing name is not checked
    sub = a.mkdir(d, "nolayout").stat.ia_gfid
    key = {"glusterfs.preop.parent.key": GfxValue.str("trusted.glusterfs.dht"), "trusted.glusterfs.dht": P(b"L1")}
    r = a.fop("CREATE", pargfid=sub, bname="h", mode=0o644, flags=0o102,
              xdata={**key, "gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert res(r) == (-1, errno.EIO)  # a parent without the xattr is stale too


def test_readdirp_entries_carry_what_the_xdata_asks(a, b, d):
    """DHT filters its linkto files out of a listing by the xattr each entry carries."""
    f = File(a, b, d)
    a.fop("SETXATTR", gfid=f.gfid, dict={"trusted.afr.v-client-1": GfxValue.ptr(bytes(12))})
    link = {"trusted.glusterfs.dht.linkto": GfxValue.str("v-client-3"), "gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}
    a.fop("MKNOD", pargfid=d, bname="lnk", mode=0o101000, dev=0, umask=0, xdata=link)
    a.mkdir(d, "sub")
    o = a.fop("OPENDIR", gfid=d)
    asked = {
        "trusted.glusterfs.dht.linkto": GfxValue.int(0),
        "trusted.afr.*": GfxValue.int(0),
        "glusterfs.inodelk-count": GfxValue.int(0),
        "get-size": GfxValue.int(1),
    }
    r = a.fop("READDIRP", gfid=d, fd=o.fd, offset=0, size=65536, xdata=asked)
    count = {"glusterfs.inodelk-count": GfxValue.int(0)}
    assert r.op_ret == 5 and r.xdata == count
    by = {e.name: e.dict for e in r.reply}
    assert by["."] == by[".."] == by["sub"] == count  # no posix keys for . and .., none match sub
    assert by["f"] == {**count, "trusted.afr.v-client-1": GfxValue.ptr(bytes(12)), "get-size": GfxValue.uint(0)}
    assert by["lnk"] == {
        **count,
        "trusted.glusterfs.dht.linkto": GfxValue.ptr(b"v-client-3\0"),
        "get-size": GfxValue.uint(0),
    }
    assert list(by["lnk"]) == ["glusterfs.inodelk-count", "trusted.glusterfs.dht.linkto", "get-size"]


# ---- offsets and sizes past off_t --------------------------------------------------------


def test_offsets_and_sizes_past_off_t(a, d):
    _past_off_t(a, d)


def test_offsets_and_sizes_past_off_t_on_a_directory_volume(tmp_path):
    """The same on the fake's directory store (plain files: the kernel's checks, and Python's
    int -> off_t conversions)."""
    from fakegluster.server import FakeGluster

    with FakeGluster([f"dirv={tmp_path}"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "dirv")
        try:
            _past_off_t(m, m.mkdir(ROOT, "d").stat.ia_gfid)
        finally:
            m.close()


def _past_off_t(a, d):
    """XDR carries offsets and sizes unsigned; posix hands them to the kernel as ``off_t``: from
    2**63 on they are negative (EINVAL), at LLONG_MAX past the filesystem's limit (EFBIG), or
    ``pos + count`` overflows (READ, WRITE: EINVAL).  Read off a real 10.3 brick (found by
    ``make fuzz``: the directory store raised OverflowError)."""
    c = a.create(d, "big")
    gfid, fd = c.stat.ia_gfid, c.fd
    assert a.fop("WRITE", gfid=gfid, fd=fd, offset=0, size=4, payload=b"data").result.op_ret == 4
    for off in (1 << 63, U64, LLONG_MAX):
        past = errno.EINVAL if off > LLONG_MAX else errno.EFBIG
        got = {
            "TRUNCATE": a.fop("TRUNCATE", gfid=gfid, offset=off),
            "FTRUNCATE": a.fop("FTRUNCATE", gfid=gfid, fd=fd, offset=off),
            "FALLOCATE offset": a.fop("FALLOCATE", gfid=gfid, fd=fd, flags=0, offset=off, size=4096),
            "FALLOCATE size": a.fop("FALLOCATE", gfid=gfid, fd=fd, flags=0, offset=0, size=off),
            "DISCARD": a.fop("DISCARD", gfid=gfid, fd=fd, offset=off, size=4096),
            "ZEROFILL": a.fop("ZEROFILL", gfid=gfid, fd=fd, offset=off, size=4096),
        }
        assert {k: res(r) for k, r in got.items()} == dict.fromkeys(got, (-1, past)), off
        w = a.fop("WRITE", gfid=gfid, fd=fd, offset=off, size=4, payload=b"data").result
        r = a.fop("READ", gfid=gfid, fd=fd, offset=off, size=4).result
        rck = a.fop("RCHECKSUM", gfid=gfid, fd=fd, offset=off, len=4)
        assert (res(w), res(r), res(rck)) == ((-1, errno.EINVAL),) * 3, off
        seek = [res(a.fop("SEEK", gfid=gfid, fd=fd, offset=off, what=what)) for what in (0, 1)]
        assert seek == [(-1, errno.ENXIO)] * 2, off  # (past the end: lseek SEEK_DATA/SEEK_HOLE)
        cfr = {
            where: res(a.fop("COPY_FILE_RANGE", gfid1=gfid, gfid2=gfid, fd_in=fd, fd_out=fd, size=4, **{where: off}))
            for where in ("off_in", "off_out")
        }
        # generic_copy_file_checks: a position that wraps (EOVERFLOW), a negative one (EINVAL), a
        # source past its end (nothing to copy), a destination past the limit (EFBIG)
        want = (-1, errno.EOVERFLOW) if off == U64 else (-1, errno.EINVAL) if off > LLONG_MAX else None
        assert cfr == {"off_in": want or (0, 0), "off_out": want or (-1, errno.EFBIG)}, off
    assert a.fop("STAT", gfid=gfid).stat.ia_size == 4
    assert res(a.fop("READ", gfid=gfid, fd=fd, offset=0, size=0).result) == (-1, errno.EINVAL)  # (none asked)
    assert res(a.fop("SEEK", gfid=gfid, fd=fd, offset=0, what=2)) == (-1, errno.EOPNOTSUPP)  # posix_seek
