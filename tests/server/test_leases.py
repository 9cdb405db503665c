"""features/leases at the wire level, on the fake and on a real 10.3 volume alike
(``features.leases on``, ``features.lease-lock-recall-timeout 3``): LEASE get/set/unlock by
lease id, conflicts with other ids and open fds, RECALL_LEASE to the holders, FOPs of other
ids held until the leases go (unlocked or revoked after the timeout).  Read off the real
brick first.
"""

from __future__ import annotations

import dataclasses
import errno
import time
import uuid

import pytest

from fakegluster.proto.common import GfProtoLease
from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount

OPTIONS = {"features.leases": "on", "features.lease-lock-recall-timeout": "3"}
GET, SET, UNLK = 1, 2, 3
RD, RW = 1, 2
#: lease ids end with a NUL: the brick compares them with memcmp over strlen (``__is_same_lease_id``)
ID1, ID2 = b"A" * 8 + bytes(8), b"B" * 8 + bytes(8)


@dataclasses.dataclass
class Vol:
    host: str
    port: int
    volume: str


@pytest.fixture(scope="module", params=["fake", "real"])
def leasevol(request):
    if request.param == "fake":
        with FakeGluster(["lv"], ["tcp://127.0.0.1:0"], options=OPTIONS) as server:
            yield Vol("127.0.0.1", server.info.port, "lv")
        return
    vol = request.getfixturevalue("real_gluster").create_volume(options=OPTIONS)
    try:
        yield Vol("127.0.0.1", 24007, vol.name)
    finally:
        vol.delete()


@pytest.fixture
def pair(leasevol):
    a, b = (Mount(leasevol.host, leasevol.port, leasevol.volume) for _ in range(2))
    d = a.mkdir(ROOT, f"l-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    c = a.create(d, "f")
    a.fop("RELEASE", gfid=c.stat.ia_gfid, fd=c.fd)
    yield a, b, d, c.stat.ia_gfid
    a.close()
    b.close()


def lease(m, g, cmd, type_, lid):
    r = m.fop("LEASE", gfid=g, lease=GfProtoLease(cmd, type_, lid, 0))
    return r.op_ret, r.op_errno, r.lease.cmd, r.lease.lease_type, bytes(r.lease.lease_id)


def recalls(m, within=0.5):
    out = []
    for c in m.raw.poll_callbacks(within):
        assert (c.prog, c.proc) == (52743234, 8)
        out.append((c.args.gfid, c.args.lease_type, c.args.tid, c.args.xdata))
    return out


def test_leases_by_id(pair):
    a, b, _, g = pair
    assert lease(a, g, GET, 0, ID1) == (0, 0, GET, 0, ID1)
    assert lease(a, g, SET, RD, ID1) == (0, 0, SET, RD, ID1)
    assert lease(b, g, GET, 0, ID2) == (0, 0, GET, RD, ID2)  # the inode's lease type
    assert lease(b, g, SET, RD, ID2) == (0, 0, SET, RD, ID2)  # read leases share
    assert lease(b, g, SET, RW, ID2) == (-1, errno.EPERM, SET, RW, ID2)  # refused ...
    assert recalls(a) == [(g, 0, bytes(16), b"")]  # ... and every holder is asked to give up
    assert recalls(b) == [(g, 0, bytes(16), b"")]
    assert lease(a, g, SET, RD, bytes(16))[:2] == (-1, errno.EINVAL)  # a null lease id
    assert lease(b, g, UNLK, RW, ID2)[:2] == (-1, errno.EINVAL)  # not held in that type
    assert lease(b, g, UNLK, RD, ID2) == (0, 0, UNLK, RD, ID2)
    assert lease(b, g, SET, RD, ID2)[:2] == (-1, errno.EPERM)  # no new lease while recalling
    assert lease(a, g, UNLK, RD, ID1)[:2] == (0, 0)
    assert lease(b, g, UNLK, RD, ID2)[:2] == (0, 0)  # gone already: a no-op


def test_a_conflicting_write_waits_for_the_unlock(pair):
    a, b, _, g = pair
    assert lease(a, g, SET, RD, ID1)[:2] == (0, 0)
    w = b.send("WRITE", gfid=g, fd=-2, offset=0, size=1, payload=b"x")  # no lease id: conflicts
    assert not b.raw.answered(w, 0.5)
    assert recalls(a) == [(g, 0, bytes(16), b"")]
    assert lease(a, g, UNLK, RD, ID1)[:2] == (0, 0)
    assert b.reply("WRITE", w, 5).op_ret == 1
    # a write carrying the holder's lease id goes through at once
    assert lease(a, g, SET, RW, ID1)[:2] == (0, 0)
    mine = a.fop("WRITE", gfid=g, fd=-2, offset=0, size=1, payload=b"y", xdata={"lease-id": GfxValue.ptr(ID1)})
    assert mine.result.op_ret == 1
    assert lease(a, g, UNLK, RW, ID1)[:2] == (0, 0)


def test_unreturned_leases_are_revoked_after_the_timeout(pair):
    a, b, _, g = pair
    assert lease(a, g, SET, RW, ID1)[:2] == (0, 0)
    t0 = time.monotonic()
    o = b.send("OPEN", gfid=g, flags=2)
    assert not b.raw.answered(o, 0.5)
    r = b.reply("OPEN", o, 10)  # held until the lease is revoked
    assert r.op_ret == 0 and time.monotonic() - t0 >= 2
    assert lease(a, g, GET, 0, ID1)[3] == 0
    # an fd opened without a lease id matches every id (memcmp over strlen 0): leases go on
    assert lease(a, g, SET, RW, ID1)[:2] == (0, 0)
    assert lease(a, g, UNLK, RW, ID1)[:2] == (0, 0)


def test_open_fds_of_other_lease_ids(pair):
    a, b, d, g = pair
    fd = b.fop("OPEN", gfid=g, flags=2, xdata={"lease-id": GfxValue.ptr(ID2)}).fd
    assert lease(a, g, SET, RD, ID1)[:2] == (-1, errno.EPERM)  # open for writing elsewhere
    assert lease(b, g, SET, RW, ID2)[:2] == (0, 0)  # its own fd does not count
    assert lease(b, g, UNLK, RW, ID2)[:2] == (0, 0)
    b.fop("RELEASE", gfid=g, fd=fd)
    ro = b.fop("OPEN", gfid=g, flags=0, xdata={"lease-id": GfxValue.ptr(ID2)}).fd
    assert lease(a, g, SET, RD, ID1)[:2] == (0, 0)  # a read-only fd allows read leases
    assert lease(a, g, UNLK, RD, ID1)[:2] == (0, 0)
    b.fop("RELEASE", gfid=g, fd=ro)


def test_leases_off_is_enosys(target):
    m = Mount(target.host, target.port, target.volume)
    try:
        g = m.create(ROOT, f"nl-{uuid.uuid4().hex[:8]}").stat.ia_gfid
        assert lease(m, g, SET, RD, ID1) == (-1, errno.ENOSYS, 0, 0, bytes(16))  # a zeroed lease
    finally:
        m.close()
