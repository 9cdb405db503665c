"""features/index at the wire level, on the fake and on a real 10.3 volume alike: which
XATTROPs put a gfid in ``indices/xattrop`` / ``indices/dirty`` and take it out, the
granular entry-heal records (``indices/entry-changes``), and the virtual directories
glustershd and glfsheal read them through (GETXATTR ``glusterfs.xattrop_*_gfid``, LOOKUP,
OPENDIR, READDIR, UNLINK, RMDIR), the ``link-count`` answer and the index counts.  Read
off the real brick first.
"""

from __future__ import annotations

import dataclasses
import errno
import struct
import uuid

import pytest

from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from fakegluster.server.index import DIRTY, XATTROP, BrickIndex
from tests.rawclient import ROOT, Mount

NULL = bytes(16)
ADD_ARRAY, ADD_ARRAY64 = 0, 1
LINK_COUNT = {"link-count": GfxValue.str("glusterfs.xattrop_index_count")}
NO_INO = (1 << 64) - 1


@dataclasses.dataclass
class Vol:
    host: str
    port: int
    volume: str


@pytest.fixture(scope="module", params=["fake", "real"])
def vol(request):
    if request.param == "fake":
        with FakeGluster(["iv"], ["tcp://127.0.0.1:0"]) as server:
            yield Vol("127.0.0.1", server.info.port, "iv")
        return
    real = request.getfixturevalue("real_gluster").create_volume()
    try:
        yield Vol("127.0.0.1", 24007, real.name)
    finally:
        real.delete()


def hexid(gfid: bytes) -> str:
    return str(uuid.UUID(bytes=gfid))


def i32(*xs):
    return struct.pack(f">{len(xs)}i", *xs)


def i64(*xs):
    return struct.pack(f">{len(xs)}q", *xs)


class Brick:
    """One client of the volume, with the index's virtual gfids."""

    def __init__(self, vol: Vol) -> None:
        self.m = Mount(vol.host, vol.port, vol.volume)
        self.pending = f"trusted.afr.{vol.volume}-client-1"
        names = ("glusterfs.xattrop_index_gfid", "glusterfs.xattrop_dirty_gfid", "glusterfs.xattrop_entry_changes_gfid")
        self.xi, self.xd, self.xe = (self.getxattr(ROOT, n)[2][n].value for n in names)

    def getxattr(self, gfid, name):
        r = self.m.fop("GETXATTR", gfid=gfid, namelen=1, name=name)
        return r.op_ret, r.op_errno, r.dict

    def xattrop(self, gfid, pairs, flags=ADD_ARRAY, xdata=None):
        dict_ = {k: GfxValue.ptr(v) for k, v in pairs.items()}
        r = self.m.fop("XATTROP", gfid=gfid, flags=flags, dict=dict_, xdata=xdata)
        return r.op_ret, r.op_errno

    def lookup(self, gfid=NULL, parent=NULL, name="", xdata=None):
        return self.m.fop("LOOKUP", gfid=gfid, pargfid=parent, bname=name, flags=0, xdata=xdata)

    def ls(self, gfid, xdata=None):
        """The names of a directory (not . and ..), with their d_type."""
        o = self.m.fop("OPENDIR", gfid=gfid)
        assert (o.op_ret, o.op_errno) == (0, 0)
        out, offset = {}, 0
        while True:
            r = self.m.fop("READDIR", gfid=gfid, fd=o.fd, offset=offset, size=131072, xdata=xdata)
            assert r.op_ret >= 0
            if r.op_ret == 0:
                break
            for e in r.reply:
                offset = e.d_off
                if e.name not in (".", ".."):
                    out[e.name] = e.d_type
            if r.op_errno == errno.ENOENT:
                break
        self.m.fop("RELEASEDIR", gfid=gfid, fd=o.fd)
        return out

    def count(self, name="glusterfs.xattrop_index_count"):
        return self.getxattr(ROOT, name)[2][name].value

    def close(self):
        self.m.close()


@pytest.fixture
def c(vol):
    b = Brick(vol)
    yield b
    b.close()


@pytest.fixture
def d(c):
    return c.m.mkdir(ROOT, f"i-{uuid.uuid4().hex[:8]}").stat.ia_gfid


def mine(listing, *gfids):
    """The part of an index listing about these gfids (other tests leave theirs behind)."""
    names = {hexid(g) for g in gfids}
    return {n: t for n, t in listing.items() if n in names}


def new_file(c, d, name="f"):
    cr = c.m.create(d, name)
    c.m.fop("RELEASE", gfid=cr.stat.ia_gfid, fd=cr.fd)
    return cr.stat.ia_gfid


def test_the_virtual_directories(c, d):
    assert len({c.xi, c.xd, c.xe}) == 3 and all(len(g) == 16 for g in (c.xi, c.xd, c.xe))
    assert c.getxattr(d, "glusterfs.xattrop_dirty_gfid")[2] == {"glusterfs.xattrop_dirty_gfid": GfxValue.ptr(c.xd)}
    dirty = c.getxattr(d, "glusterfs.xattrop_dirty_count")
    assert dirty[:2] == (0, 0) and dirty[2]["glusterfs.xattrop_dirty_count"].type == GfxValue.uint(0).type
    for gfid, kind in ((c.xi, 1), (c.xd, 1), (c.xe, 2)):
        r = c.lookup(gfid, xdata={"glusterfs.index-ia-type-get-req": GfxValue.int(1)})
        assert (r.op_ret, r.op_errno) == (0, errno.EINVAL)  # (index_lookup_wrapper leaves EINVAL)
        assert r.xdata == {"glusterfs.index-ia-type-get-rsp": GfxValue.uint(kind)}
        st = r.prestat
        assert (st.ia_gfid, st.mode, st.ia_size, st.ia_ino, st.ia_flags) == (gfid, 0o40600, 4096, NO_INO, 1791)
        assert st.ia_nlink == 2 + (kind == 2) * sum(1 for n in c.ls(gfid) if not n.startswith("entry-"))
        assert r.poststat.ia_gfid == NULL and r.poststat.mode == 0
        assert c.lookup(gfid).xdata == {}
    assert c.m.fop("STAT", gfid=c.xi).op_errno == errno.ENOENT
    assert c.getxattr(c.xi, "trusted.foo")[:2] == (-1, errno.ENOENT)
    assert c.getxattr(c.xi, "glusterfs.xattrop_index_count")[:2] == (0, 0)
    o = c.m.fop("OPENDIR", gfid=c.xi)
    assert c.m.fop("READDIRP", gfid=c.xi, fd=o.fd, offset=0, size=4096).op_errno == errno.EINVAL
    assert c.m.fop("FSTAT", gfid=c.xi, fd=o.fd).op_errno == errno.EINVAL
    c.m.fop("RELEASEDIR", gfid=c.xi, fd=o.fd)
    r = c.lookup(ROOT, xdata=LINK_COUNT)
    assert r.xdata == {"link-count": GfxValue.int(int(c.count() > 0))}
    assert c.lookup(ROOT, xdata={"link-count": GfxValue.str("other")}).xdata == {}
    assert (c.lookup().op_ret, c.lookup().op_errno) == (-1, errno.EINVAL)  # no gfid at all


def test_xattrops_put_gfids_in_and_take_them_out(c, d):
    f, g = new_file(c, d), new_file(c, d, "g")
    before = c.count()
    assert c.xattrop(f, {c.pending: i32(0, 1, 0)}) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {hexid(f): 0}
    assert c.count() == before + 1
    assert c.lookup(ROOT, xdata=LINK_COUNT).xdata == {"link-count": GfxValue.int(1)}
    gone = c.lookup(parent=d, name="nothing", xdata=LINK_COUNT)  # a failed LOOKUP answers it too
    assert (gone.op_ret, gone.xdata) == (-1, {"link-count": GfxValue.int(1)})
    assert mine(c.ls(c.xi, {"get-gfid-type": GfxValue.int(1)}), f, g, d) == {hexid(f): 8}
    entry = c.lookup(parent=c.xi, name=hexid(f))
    st = entry.prestat
    # (every record is a hard link to one base file)
    assert (entry.op_ret, st.mode, st.ia_nlink, st.ia_size, st.ia_ino) == (0, 0o100000, before + 2, 0, NO_INO)
    assert st.ia_gfid not in (f, NULL)  # a gfid of its own, the same while the brick remembers it
    assert c.lookup(parent=c.xi, name=hexid(f)).prestat.ia_gfid == st.ia_gfid
    assert c.xattrop(f, {c.pending: i32(0, 0, 0)}) == (0, 0)  # a read: nothing changes
    assert mine(c.ls(c.xi), f, g, d) == {hexid(f): 0}
    assert c.xattrop(f, {c.pending: i32(0, -1, 0)}) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {} and c.count() == before
    assert c.lookup(ROOT, xdata=LINK_COUNT).xdata == {"link-count": GfxValue.int(int(before > 0))}
    assert c.xattrop(g, {c.pending: i64(0, 1, 0)}, ADD_ARRAY64) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {hexid(g): 0}
    assert c.xattrop(g, {c.pending: i64(0, -1, 0)}, ADD_ARRAY64) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {}
    assert c.xattrop(g, {"trusted.ec.dirty": i64(1, 0)}, ADD_ARRAY64) == (0, 0)  # xattrop64-watchlist
    assert mine(c.ls(c.xi), f, g, d) == {hexid(g): 0}
    assert c.xattrop(g, {"trusted.ec.dirty": i64(-1, 0)}, ADD_ARRAY64) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {}
    assert c.xattrop(g, {"trusted.foo": i64(1, 0)}, ADD_ARRAY64) == (0, 0)
    assert c.xattrop(g, {"trusted.bar": i32(1, 0, 0)}) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {} and mine(c.ls(c.xd), f, g, d) == {}
    assert c.xattrop(d, {"trusted.afr.dirty": i32(0, 0, 1)}) == (0, 0)
    assert mine(c.ls(c.xd), f, g, d) == {hexid(d): 0} and mine(c.ls(c.xi), f, g, d) == {}
    assert c.count("glusterfs.xattrop_dirty_count") >= 1
    assert mine(c.ls(c.xd, {"get-gfid-type": GfxValue.int(1)}), f, g, d) == {hexid(d): 4}
    # the AFR post-op: dirty back to zero, a pending count for a brick that missed it
    assert c.xattrop(d, {"trusted.afr.dirty": i32(0, 0, -1), c.pending: i32(0, 0, 1)}) == (0, 0)
    assert mine(c.ls(c.xd), f, g, d) == {} and mine(c.ls(c.xi), f, g, d) == {hexid(d): 0}
    assert c.xattrop(d, {c.pending: i32(0, 0, -1)}) == (0, 0)
    assert mine(c.ls(c.xi), f, g, d) == {}


def test_entry_changes(c, d):
    create = {"glusterfs.xattrop-entry-create": GfxValue.str("new")}
    assert c.xattrop(d, {"trusted.afr.dirty": i32(0, 0, 1)}, xdata=create) == (0, 0)
    listed = c.ls(c.xe)
    assert listed[hexid(d)] == 0
    base = [n for n in listed if n.startswith("entry-changes-")]
    assert len(base) == 1  # the base file every record links to is listed here
    assert c.lookup(parent=c.xe, name=base[0]).op_errno == errno.EINVAL  # not a gfid
    sub = c.lookup(parent=c.xe, name=hexid(d))
    assert (sub.op_ret, sub.prestat.mode, sub.prestat.ia_nlink) == (0, 0o40600, 2)
    assert c.lookup(parent=c.xe, name=hexid(d)).prestat.ia_gfid == sub.prestat.ia_gfid
    assert c.ls(sub.prestat.ia_gfid) == {"new": 0}
    rec = c.lookup(parent=sub.prestat.ia_gfid, name="new")
    assert (rec.op_ret, rec.prestat.mode) == (0, 0o100000)
    assert c.lookup(parent=sub.prestat.ia_gfid, name="old").op_errno == errno.ENOENT
    # post-op: the record stays until a purge (entry-delete takes one name out)
    assert c.xattrop(d, {"trusted.afr.dirty": i32(0, 0, -1), c.pending: i32(0, 0, 1)}) == (0, 0)
    two = {"glusterfs.xattrop-entry-create": GfxValue.str("two")}
    assert c.xattrop(d, {c.pending: i32(0, 0, 0)}, xdata=two) == (0, 0)
    assert c.ls(sub.prestat.ia_gfid) == {"new": 0, "two": 0}
    drop = {"glusterfs.xattrop-entry-delete": GfxValue.str("two")}
    assert c.xattrop(d, {c.pending: i32(0, 0, 0)}, xdata=drop) == (0, 0)
    assert c.ls(sub.prestat.ia_gfid) == {"new": 0}
    purge = {"glusterfs.xattrop-purge-index": GfxValue.int(1)}
    assert c.xattrop(d, {c.pending: i32(0, 0, 0)}, xdata=purge) == (0, 0)  # pending not zeros yet
    assert hexid(d) in c.ls(c.xe)
    assert c.xattrop(d, {c.pending: i32(0, 0, -1)}, xdata=purge) == (0, 0)
    left = c.ls(c.xe)
    assert hexid(d) not in left and mine(c.ls(c.xi), d) == {}
    # still holding a name: renamed to a random gfid instead of removed
    renamed = [n for n in left if n not in listed]
    assert len(renamed) == 1 and c.ls(c.lookup(parent=c.xe, name=renamed[0]).prestat.ia_gfid) == {"new": 0}


def test_entry_create_failures(c, d):
    slash = {"glusterfs.xattrop-entry-create": GfxValue.str("a/b")}
    assert c.xattrop(d, {c.pending: i32(0, 0, 1)}, xdata=slash) == (-1, errno.EINVAL)
    assert mine(c.ls(c.xi), d) == {hexid(d): 0}  # put in before the name was checked
    sub = c.lookup(parent=c.xe, name=hexid(d))
    assert sub.op_ret == 0 and c.ls(sub.prestat.ia_gfid) == {}
    assert c.m.fop("GETXATTR", gfid=d, namelen=1, name=c.pending).op_errno == errno.ENODATA  # never made


def test_records_removed_through_the_virtual_directories(c, d):
    f = new_file(c, d)
    assert c.xattrop(f, {c.pending: i32(1, 0, 0)}) == (0, 0)
    r = c.m.fop("UNLINK", pargfid=c.xi, bname=hexid(f), xflags=0)
    assert (r.op_ret, r.op_errno, r.xdata) == (0, 0, None)
    assert (r.prestat.ia_gfid, r.prestat.mode, r.prestat.ia_ino) == (c.xi, 0o40600, NO_INO)
    assert mine(c.ls(c.xi), f) == {}
    r = c.m.fop("UNLINK", pargfid=c.xi, bname=hexid(f), xflags=0)
    assert (r.op_ret, r.op_errno) == (-1, errno.ENOENT)
    # the inode is still "in" for the translator: another change does not put it back ...
    assert c.xattrop(f, {c.pending: i32(1, 0, 0)}) == (0, 0)
    assert mine(c.ls(c.xi), f) == {}
    # ... until its counters were zeros once
    assert c.xattrop(f, {c.pending: i32(-2, 0, 0)}) == (0, 0)
    assert c.xattrop(f, {c.pending: i32(1, 0, 0)}) == (0, 0)
    assert mine(c.ls(c.xi), f) == {hexid(f): 0}
    assert c.xattrop(f, {c.pending: i32(-1, 0, 0)}) == (0, 0)
    create = {"glusterfs.xattrop-entry-create": GfxValue.str("x")}
    assert c.xattrop(d, {c.pending: i32(0, 0, 0)}, xdata=create) == (0, 0)
    r = c.m.fop("UNLINK", pargfid=c.xe, bname=hexid(d), xflags=0)
    assert (r.op_ret, r.op_errno) == (-1, errno.EPERM)  # a directory
    r = c.m.fop("RMDIR", pargfid=c.xe, bname=hexid(d), xflags=1)  # flags: with what it holds
    assert (r.op_ret, r.op_errno) == (0, 0)
    assert hexid(d) not in c.ls(c.xe)
    # the translator still thinks the directory is there: the next record fails
    assert c.xattrop(d, {c.pending: i32(0, 0, 0)}, xdata=create) == (-1, errno.ENOENT)
    r = c.m.fop("RMDIR", pargfid=c.xe, bname=hexid(d), xflags=0)
    assert (r.op_ret, r.op_errno) == (-1, errno.ENOENT)


def test_watchlists_follow_the_volume_type():
    """The watchlists come from the brick volfile mgmt writes for the volume type."""
    from fakegluster.mgmt import create as model
    from fakegluster.server.index import watchlists

    ec = model.create_volume("ec", [f"h:/b{i}" for i in range(3)], disperse=3, redundancy=1, force=True)
    r3 = model.create_volume("r3", [f"h:/b{i}" for i in range(3)], replica=3, force=True)
    index = BrickIndex()
    index.watch(*watchlists(ec, 0))
    assert index.kind("trusted.ec.dirty") == XATTROP and index.kind("trusted.afr.dirty") == DIRTY
    assert index.kind("trusted.afr.ec-client-0") is None
    assert index.tracked(ADD_ARRAY64, ["trusted.ec.dirty"]) and not index.tracked(ADD_ARRAY64, ["trusted.ec.size"])
    index.watch(*watchlists(r3, 2))
    assert index.kind("trusted.afr.r3-client-2") == XATTROP and index.kind("trusted.ec.dirty") == XATTROP
    assert index.tracked(ADD_ARRAY, ["anything"])
