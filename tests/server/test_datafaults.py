"""Per-brick data faults (fakegluster/server/datafaults.py): a full disk, a slow disk, a
partition from one client, a replica silently left behind — on one brick of a fake volume,
the others untouched.  (Faults of the fake only: there is no real peer to compare with; the
replica 3 cases check what the real AFR client translator makes of them.)
"""

from __future__ import annotations

import errno
import time
import uuid

import pytest

from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount


@pytest.fixture
def server():
    with FakeGluster(["vol"], ["tcp://127.0.0.1:0"]) as s:
        yield s


def mount(server, name="c"):
    return Mount("127.0.0.1", server.info.port, "vol", process_uuid=f"CTX_ID:{name}-{uuid.uuid4()}")


def test_disk_full(server):
    m = mount(server)
    c = m.create(ROOT, "f")
    g = c.stat.ia_gfid
    faults = server.bricks("vol")[0].faults
    faults.disk_full(after=4)
    w = m.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=10, payload=b"0123456789").result
    assert (w.op_ret, w.poststat.ia_size) == (4, 4)  # what fitted: a short write
    w = m.fop("WRITE", gfid=g, fd=c.fd, offset=4, size=1, payload=b"x").result
    assert (w.op_ret, w.op_errno) == (-1, errno.ENOSPC)
    assert (m.fop("FALLOCATE", gfid=g, fd=c.fd, flags=0, offset=0, size=1 << 20).op_errno) == errno.ENOSPC
    st = m.fop("STATFS", gfid=ROOT).statfs
    assert st.bavail == st.bfree == 0
    assert m.create(ROOT, "still-ok").op_ret == 0  # new files (inodes) still come
    faults.clear()
    assert m.fop("WRITE", gfid=g, fd=c.fd, offset=4, size=1, payload=b"x").result.op_ret == 1
    m.close()


def test_slow_disk(server):
    m = mount(server)
    faults = server.bricks("vol")[0].faults
    faults.slow(0.3, procs=["STAT"])
    t0 = time.monotonic()
    assert m.fop("STAT", gfid=ROOT).op_ret == 0
    assert time.monotonic() - t0 >= 0.3
    faults.slow(0.2)  # every FOP
    t0 = time.monotonic()
    assert m.fop("LOOKUP", pargfid=ROOT, bname="nope").op_errno == errno.ENOENT
    assert time.monotonic() - t0 >= 0.2
    faults.clear()
    m.close()


def test_partition_from_one_client(server):
    a, b = mount(server, "alpha"), mount(server, "beta")
    faults = server.bricks("vol")[0].faults
    faults.partition("alpha")
    with pytest.raises((ConnectionResetError, OSError)):
        a.fop("STAT", gfid=ROOT)
    assert b.fop("STAT", gfid=ROOT).op_ret == 0  # the others carry on
    again = mount(server, "alpha")  # it may reconnect, but no call gets through
    with pytest.raises((ConnectionResetError, OSError)):
        again.fop("STAT", gfid=ROOT)
    faults.reconnect("alpha")
    healed = mount(server, "alpha")
    assert healed.fop("STAT", gfid=ROOT).op_ret == 0
    for m in (a, b, again, healed):
        m.close()


def test_stale_replica(server):
    m = mount(server)
    c = m.create(ROOT, "s")
    g = c.stat.ia_gfid
    m.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=3, payload=b"old")
    faults = server.bricks("vol")[0].faults
    faults.stale()
    w = m.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=3, payload=b"new").result
    assert w.op_ret == 3  # acknowledged...
    assert bytes(m.fop("READ", gfid=g, fd=c.fd, offset=0, size=3).payload) == b"old"  # ...not stored
    assert m.fop("TRUNCATE", gfid=g, offset=0).op_ret == 0
    assert m.fop("STAT", gfid=g).stat.ia_size == 3
    x = m.fop("XATTROP", gfid=g, flags=0, dict={"trusted.afr.dirty": GfxValue.ptr(b"\0\0\0\1" + bytes(8))})
    assert x.op_ret == 0 and x.dict["trusted.afr.dirty"].value == b"\0\0\0\1" + bytes(8)  # changelogs still go
    faults.clear()
    m.close()


def test_brick_faults_from_the_command_line(tmp_path):
    """``fakegluster serve --brick-fault VOLUME:BRICK:FAULT``: the fault holds from the start."""
    from fakegluster.testing.serve import ServeError, serve_process

    with serve_process(["--brick-fault", "vol:0:disk-full=4"], volumes=["vol"], listen=["tcp://127.0.0.1:0"]) as sp:
        m = Mount("127.0.0.1", sp.port(), "vol")
        c = m.create(ROOT, "f")
        w = m.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=10, payload=b"0123456789").result
        assert (w.op_ret, w.poststat.ia_size) == (4, 4)
        m.close()
    for bad, says in (("vol:0:full=1", "bad brick fault"), ("vol:x:stale", "expected VOLUME:BRICK:FAULT"),
                      ("vol:3:stale", "has no brick 3"), ("other:0:stale", "has no brick 0")):  # fmt: skip
        with pytest.raises(ServeError, match=says):
            serve_process(["--brick-fault", bad], volumes=["vol"], listen=["tcp://127.0.0.1:0"])
