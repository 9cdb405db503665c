"""A restarted brick knows no names (an empty inode table: ``glusterfs.gfid2path``, what glfsheal
prints in ``heal info``, is ``<gfid:...>``) until it sees them again: a named LOOKUP, and also a
READDIRP of their directory (server4_readdirp_cbk links every entry it lists:
gf_link_inodes_from_dirent), not a READDIR.  Asserted identically on a real 10.3 brick and the fake."""

from __future__ import annotations

import uuid

import pytest

from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.real)])
def restartable(request):
    """(host, port, volume, restart the brick) of a one-brick volume."""
    if request.param == "fake":
        with FakeGluster(["rdp"], ["tcp://127.0.0.1:0"]) as server:
            [brick] = server.bricks("rdp")
            yield "127.0.0.1", server.info.port, "rdp", lambda: (brick.stop(), brick.start())
        return
    vol = request.getfixturevalue("real_gluster").create_volume()
    try:
        yield "127.0.0.1", 24007, vol.name, lambda: (vol.kill_brick(0), vol.start_force())
    finally:
        vol.delete()


def test_a_restarted_brick_learns_names_from_readdirp(restartable):
    host, port, volume, restart = restartable
    a = Mount(host, port, volume)
    top = f"rdp-{uuid.uuid4().hex[:8]}"
    d = a.fop(
        "MKDIR", pargfid=ROOT, bname=top, mode=0o755, umask=0, xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}
    )
    file_ = a.create(d.stat.ia_gfid, "file").stat.ia_gfid
    sub = a.fop(
        "MKDIR", pargfid=d.stat.ia_gfid, bname="sub", mode=0o755, umask=0,
        xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)},
    ).stat.ia_gfid  # fmt: skip
    inner = a.create(sub, "inner").stat.ia_gfid
    a.close()
    restart()
    b = Mount(host, port, volume)

    def path(gfid: bytes) -> str:
        r = b.fop("GETXATTR", gfid=gfid, namelen=1, name="glusterfs.gfid2path")
        assert r.op_ret >= 0, r
        return bytes(r.dict["glusterfs.gfid2path"].value).rstrip(b"\0").decode()

    def listed(gfid: bytes, proc: str) -> list[str]:
        fd = b.fop("OPENDIR", gfid=gfid).fd
        r = b.fop(proc, gfid=gfid, fd=fd, offset=0, size=65536)
        b.fop("RELEASEDIR", gfid=gfid, fd=fd)
        return sorted(e.name for e in r.reply)

    def unknown(gfid: bytes) -> str:
        return f"<gfid:{uuid.UUID(bytes=bytes(gfid))}>"

    b.fop("LOOKUP", pargfid=ROOT, bname=top)  # the directory's name, by a named LOOKUP
    assert [path(file_), path(inner)] == [unknown(file_), unknown(inner)]
    assert listed(sub, "READDIR") == [".", "..", "inner"]
    assert path(inner) == unknown(inner)  # READDIR teaches nothing
    assert listed(d.stat.ia_gfid, "READDIRP") == [".", "..", "file", "sub"]
    assert path(file_) == f"/{top}/file"
    assert path(inner) == unknown(inner)  # (its own name is not listed there)
    assert listed(sub, "READDIRP") == [".", "..", "inner"]
    assert path(inner) == f"/{top}/sub/inner"
    b.close()
