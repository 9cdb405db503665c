"""``trusted.glusterfs.mdata`` only for objects a client's FOP stamped (fakegluster/server/mdata.py),
on a real 10.3 brick and a fake directory volume alike: a file or directory made by hand in the
brick's folder has none (a LOOKUP asking for it, a glob or list-xattr get nothing; GETXATTR by
name is ENODATA anyway) until a FOP whose AUTH v3 flags ask for times touches it (the inode's
MDATA_CTIME/MTIME/ATIME, the parent's MDATA_PAR_*) or the utime xlator's ``set-ctime-mdata``
SETXATTR stamps it; a raw CREATE without flags leaves its file without.  Only the presence is
compared: a real brick keeps the client's times there, the fake its own clock (README)."""

from __future__ import annotations

import errno
import os
import uuid

import pytest

from fakegluster.proto.common import NULL_GFID, GfxMdataIatt
from fakegluster.proto.gfdict import GfDataType, GfxValue
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, lk_owner_for_pid
from fakegluster.server import FakeGluster
from fakegluster.store.base import ROOT_GFID
from fakegluster.store.directory import DirectoryStore
from fakegluster.store.memory import MemoryStore
from tests.rawclient import ROOT, Mount

MDATA = "trusted.glusterfs.mdata"
ASK = {MDATA: GfxValue.int(1)}
INODE, PARENT = 1 | 2 | 4, 8 | 16


def flagged(flags: int) -> AuthGlusterfsParamsV3:
    """A utime-xlator-like credential: ``flags`` and a client time."""
    pid = os.getpid()
    return AuthGlusterfsParamsV3(
        pid=pid, flags=flags, ctime_sec=1_700_000_000, ctime_nsec=5, lk_owner=lk_owner_for_pid(pid)
    )


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.real)])
def volume(request, tmp_path):
    """(host, port, volume name, the brick's folder) of a one-brick volume."""
    if request.param == "real":
        vol = request.getfixturevalue("real_volume")
        yield "127.0.0.1", vol.port, vol.name, vol.brick_paths[0]
        return
    folder = tmp_path / "brick"
    folder.mkdir()
    with FakeGluster([f"mdv={folder}"], ["tcp://127.0.0.1:0"]) as server:
        yield "127.0.0.1", server.info.port, "mdv", str(folder)


def gfid_req() -> dict[str, GfxValue]:
    return {"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}


def has_mdata(m: Mount, pargfid: bytes, name: str) -> bool:
    r = m.fop("LOOKUP", pargfid=pargfid, bname=name, xdata=ASK)
    assert r.op_ret == 0, (name, r)
    if MDATA in (r.xdata or {}):
        blob = r.xdata[MDATA].value
        assert len(blob) == 57 and blob[0] == 1
        return True
    return False


def test_mdata_is_there_once_a_client_stamped_it(volume):
    host, port, name, folder = volume
    top = f"md-{uuid.uuid4().hex[:8]}"
    os.mkdir(os.path.join(folder, top))
    for f in ("hand", "stamped", "written"):
        with open(os.path.join(folder, top, f), "wb") as out:
            out.write(b"by hand")
    os.mkdir(os.path.join(folder, top, "sub"))
    m = Mount(host, port, name)
    d = m.fop("LOOKUP", pargfid=ROOT, bname=top, xdata={**ASK, **gfid_req()})  # (posix gives it a gfid)
    assert d.op_ret == 0 and MDATA not in (d.xdata or {})
    d = d.prestat.ia_gfid
    gfids = {}
    for f in ("hand", "stamped", "written", "sub"):
        r = m.fop("LOOKUP", pargfid=d, bname=f, xdata={**ASK, **gfid_req()})
        assert r.op_ret == 0 and MDATA not in (r.xdata or {}), f
        gfids[f] = r.prestat.ia_gfid
    hand = gfids["hand"]
    # nothing by a glob or list-xattr either; by name it is never given to a client
    r = m.fop(
        "LOOKUP", pargfid=d, bname="hand", xdata={"trusted.glusterfs.*": GfxValue.int(1), "list-xattr": GfxValue.int(1)}
    )
    assert MDATA not in (r.xdata or {})
    r = m.fop("GETXATTR", gfid=hand, namelen=1, name=MDATA)
    assert (r.op_ret, r.op_errno) == (-1, errno.ENODATA)
    # FOPs without flags stamp nothing
    fd = m.fop("OPEN", gfid=hand, flags=os.O_RDWR).fd
    assert m.fop("READ", gfid=hand, fd=fd, offset=0, size=10).result.op_ret == 7
    assert m.fop("WRITE", gfid=hand, fd=fd, offset=0, size=1, payload=b"B").result.op_ret == 1
    m.fop("RELEASE", gfid=hand, fd=fd)
    assert not has_mdata(m, d, "hand")
    # the utime xlator's set-ctime-mdata stamps one; a flagged WRITE another
    stamp = GfxValue(GfDataType.MDATA, GfxMdataIatt(1_500_000_000, 1_500_000_000, 1_500_000_000))
    assert m.fop("SETXATTR", gfid=gfids["stamped"], flags=0, dict={"set-ctime-mdata": stamp}).op_ret == 0
    w = m.fop("WRITE", cred=flagged(INODE), gfid=gfids["written"], fd=-2, offset=0, size=1, payload=b"W")
    assert w.result.op_ret == 1
    assert [has_mdata(m, d, f) for f in ("hand", "stamped", "written")] == [False, True, True]
    # a CREATE without flags leaves its file without; the parent's flags stamp the parent
    sub = gfids["sub"]
    assert m.create(sub, "plain").op_ret == 0
    assert [has_mdata(m, sub, "plain"), has_mdata(m, d, "sub")] == [False, False]
    r = m.fop("CREATE", cred=flagged(INODE), pargfid=sub, bname="times", mode=0o644, flags=0o102, xdata=gfid_req())
    assert r.op_ret == 0
    assert [has_mdata(m, sub, "times"), has_mdata(m, d, "sub")] == [True, False]
    r = m.fop("MKDIR", cred=flagged(PARENT), pargfid=sub, bname="dir", mode=0o755, umask=0, xdata=gfid_req())
    assert r.op_ret == 0
    assert [has_mdata(m, sub, "dir"), has_mdata(m, d, "sub")] == [False, True]
    # READDIRP's entries answer as the LOOKUPs do
    fd = m.fop("OPENDIR", gfid=d).fd
    listed = m.fop("READDIRP", gfid=d, fd=fd, offset=0, size=65536, xdata=ASK).reply
    m.fop("RELEASEDIR", gfid=d, fd=fd)
    got = {e.name: MDATA in (e.dict or {}) for e in listed if e.name not in (".", "..")}
    assert got == {"hand": False, "stamped": True, "written": True, "sub": True}
    assert has_mdata(m, ROOT, top) is False and m.fop("LOOKUP", gfid=NULL_GFID, pargfid=ROOT, bname=top).op_ret == 0
    m.close()


def test_the_directory_store_keeps_what_it_found_across_restarts(tmp_path):
    root = tmp_path / "vol"
    root.mkdir()
    (root / "hand").write_bytes(b"x")
    (root / "other").write_bytes(b"y")
    with DirectoryStore(root) as s:
        assert s.foreign_gfids == {ROOT_GFID}  # a new folder: its root was not made through gluster
        hand, other = s.lookup(ROOT_GFID, "hand").gfid, s.lookup(ROOT_GFID, "other").gfid
        made, _ = s.create(ROOT_GFID, "made", 0o644, uid=0, gid=0, gfid=uuid.uuid4().bytes)
        plain, _ = s.create(ROOT_GFID, "plain", 0o644, uid=0, gid=0, gfid=uuid.uuid4().bytes)
        assert s.foreign_gfids == {ROOT_GFID, hand, other}
        s.adopt(other)
        s.adopt(ROOT_GFID)
        s.disown(plain.gfid)
    with DirectoryStore(root) as s:
        assert s.foreign_gfids == {hand, plain.gfid}
        s.unlink(ROOT_GFID, "hand")
        assert s.foreign_gfids == {plain.gfid}
    with DirectoryStore(root) as s:
        assert s.foreign_gfids == {plain.gfid}
        assert s.lookup(ROOT_GFID, "made").gfid == made.gfid


def test_a_memory_store_made_its_objects_but_not_its_root():
    s = MemoryStore()
    a, _ = s.create(ROOT_GFID, "f", 0o644, uid=0, gid=0, gfid=uuid.uuid4().bytes)
    assert s.foreign_gfids == {ROOT_GFID}
    s.disown(a.gfid)
    s.adopt(ROOT_GFID)
    assert s.foreign_gfids == {a.gfid}
    s.unlink(ROOT_GFID, "f")
    assert s.foreign_gfids == set()
