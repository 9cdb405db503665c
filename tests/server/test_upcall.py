"""features/upcall at the wire level, on the fake and on a real 10.3 brick alike: with
``features.cache-invalidation on`` a change to an inode is told to the other clients that
touched it (GF-CBK CACHE_INVALIDATION, the flags and stats of upcall.c's callbacks, as
upcall.pcap shows them), within ``features.cache-invalidation-timeout``; an inode the brick
forgets is told to everyone (UP_FORGET).  Every expectation was read off the real brick.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest

from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount

TIMEOUT = 3
OPTIONS = {"features.cache-invalidation": "on", "features.cache-invalidation-timeout": str(TIMEOUT)}
NLINK, MODE, OWN, SIZE, TIMES, PERM, RENAME, FORGET, PARENT_TIMES, XATTR, XATTR_RM = (
    0x1, 0x2, 0x4, 0x8, 0x10, 0x40, 0x80, 0x100, 0x200, 0x400, 0x800
)  # fmt: skip
ATTR = SIZE | TIMES | OWN | MODE | PERM


@dataclasses.dataclass
class Upvol:
    host: str
    port: int
    volume: str


@pytest.fixture(scope="module", params=["fake", "real"])
def upvol(request):
    if request.param == "fake":
        with FakeGluster(["upvol"], ["tcp://127.0.0.1:0"], options=OPTIONS) as server:
            yield Upvol("127.0.0.1", server.info.port, "upvol")
        return
    vol = request.getfixturevalue("real_gluster").create_volume(options=OPTIONS)
    try:
        yield Upvol("127.0.0.1", 24007, vol.name)
    finally:
        vol.delete()


@pytest.fixture
def a(upvol):
    m = Mount(upvol.host, upvol.port, upvol.volume)
    yield m
    m.close()


@pytest.fixture
def b(upvol):
    m = Mount(upvol.host, upvol.port, upvol.volume)
    yield m
    m.close()


def told(m, within=0.6):
    """The CACHE_INVALIDATIONs received: (gfid, flags, stat mode, parent mode, oldparent mode, xdata)."""
    out = []
    for c in m.raw.poll_callbacks(within):
        assert (c.prog, c.vers, c.proc) == (52743234, 1, 5)
        x = c.args
        assert x.event_type == 1 and x.expire_time_attr == TIMEOUT
        out.append((uuid.UUID(x.gfid).bytes, x.flags, x.stat.mode, x.parent_stat.mode, x.oldparent_stat.mode, x.xdata))
    return out


def test_changes_are_told_to_the_other_clients(a, b):
    d = a.mkdir(ROOT, f"u-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    assert told(b, 0.2) == [] and told(a, 0.1) == []  # nobody else knew the root... recently? no
    b.fop("LOOKUP", gfid=d)  # B touches the directory
    c = a.create(d, "f")
    g = c.stat.ia_gfid
    assert told(b) == [(d, TIMES, 0o40755, 0, 0, b"")]  # the parent's times, its stat
    assert told(a, 0.1) == []  # never the client that made the change
    b.fop("LOOKUP", pargfid=d, bname="f")
    a.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=3, payload=b"abc")
    [(gfid, flags, mode, *_)] = told(b)
    assert (gfid, flags, mode) == (g, SIZE | TIMES, 0o100644)
    a.fop("READ", gfid=g, fd=c.fd, offset=0, size=3)
    assert told(b, 0.3) == []  # reading changes nothing
    st = a.fop("STAT", gfid=g).stat
    a.fop("SETATTR", gfid=g, stbuf=dataclasses.replace(st, mode=0o100600), valid=1)
    assert told(b) == [(g, ATTR | XATTR, 0o100600, 0, 0, b"")]  # a new mode: permission xattrs too
    a.fop("SETATTR", gfid=g, stbuf=dataclasses.replace(st, mode=0o100600), valid=1)
    assert told(b) == [(g, ATTR, 0o100600, 0, 0, b"")]
    b.fop("STAT", gfid=g)  # (B stays within the timeout: only its own calls renew it)
    a.fop("TRUNCATE", gfid=g, offset=1)
    assert [t[:3] for t in told(b)] == [(g, SIZE | TIMES, 0o100600)]
    a.fop("RENAME", oldgfid=d, oldbname="f", newgfid=d, newbname="g")
    assert told(b) == [(g, RENAME | PARENT_TIMES, 0o100600, 0o40755, 0o40755, b"")]
    b.fop("STAT", gfid=g)
    a.fop("LINK", oldgfid=g, newgfid=d, newbname="h")
    assert told(b) == [(g, NLINK | TIMES | PARENT_TIMES, 0o100600, 0o40755, 0, b"")]
    a.fop("UNLINK", pargfid=d, bname="h")
    assert told(b) == [(g, NLINK | TIMES | PARENT_TIMES, 0, 0o40755, 0, b"")] and told(a, 0.1) == []
    b.fop("STAT", gfid=g)
    a.fop("RELEASE", gfid=g, fd=c.fd)
    a.fop("UNLINK", pargfid=d, bname="g")
    # the inode's last name gone: the brick forgets it and tells everyone, the remover too
    assert told(b) == [(g, NLINK | TIMES | PARENT_TIMES, 0, 0o40755, 0, b""), (g, FORGET, 0, 0, 0, b"")]
    assert told(a, 0.2) == [(g, FORGET, 0, 0, 0, b"")]


def test_xattr_changes_are_told_only_for_registered_names(a, b):
    d = a.mkdir(ROOT, f"u-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    g = a.create(d, "x").stat.ia_gfid
    b.fop("LOOKUP", pargfid=d, bname="x")
    a.fop("SETXATTR", gfid=g, dict={"user.unwatched": GfxValue.ptr(b"v")})
    assert told(b, 0.3) == []
    # md-cache registers the names it caches with IPC GF_IPC_TARGET_UPCALL (op 2)
    assert a.fop("IPC", op=2, xdata={"user.k": GfxValue.int(1)}).op_ret == 0
    a.fop("SETXATTR", gfid=g, dict={"user.k": GfxValue.ptr(b"w")})
    serial = b"\0\0\0\1\0\0\0\6\0\0\0\1user.k\0"  # the changed keys, as an old-style dict
    assert told(b) == [(g, XATTR | TIMES, 0o100644, 0, 0, serial + b"w")]
    a.fop("REMOVEXATTR", gfid=g, name="user.k")
    assert told(b) == [(g, XATTR_RM | TIMES, 0o100644, 0, 0, serial + b"\0")]


def test_an_open_inode_is_forgotten_with_its_last_fd(a, b):
    d = a.mkdir(ROOT, f"u-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    c = a.create(d, "o")
    g = c.stat.ia_gfid
    fb = b.fop("OPEN", gfid=g, flags=2).fd
    a.fop("UNLINK", pargfid=d, bname="o")
    assert told(b) == [(g, NLINK | TIMES | PARENT_TIMES, 0, 0o40755, 0, b"")]
    b.fop("RELEASE", gfid=g, fd=fb)
    assert told(b, 0.3) == [] and told(a, 0.1) == []
    a.fop("RELEASE", gfid=g, fd=c.fd)
    assert told(b) == [(g, FORGET, 0, 0, 0, b"")] and told(a, 0.2) == [(g, FORGET, 0, 0, 0, b"")]


def test_a_client_silent_for_the_timeout_is_not_told(a, b):
    d = a.mkdir(ROOT, f"u-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    c = a.create(d, "t")
    g = c.stat.ia_gfid
    b.fop("LOOKUP", pargfid=d, bname="t")
    time.sleep(TIMEOUT + 0.3)
    a.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=1, payload=b"x")
    assert told(b, 0.4) == []
    b.fop("STAT", gfid=g)  # touching it again renews the registration
    a.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=1, payload=b"y")
    assert [t[:2] for t in told(b)] == [(g, SIZE | TIMES)]


def test_without_cache_invalidation_nothing_is_told(target):
    a, b = (Mount(target.host, target.port, target.volume) for _ in range(2))
    try:
        d = a.mkdir(ROOT, f"u-{uuid.uuid4().hex[:8]}").stat.ia_gfid
        c = a.create(d, "n")
        b.fop("LOOKUP", pargfid=d, bname="n")
        a.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=1, payload=b"x")
        assert b.raw.poll_callbacks(0.4) == []
    finally:
        a.close()
        b.close()


def test_the_registry_alone():
    """fakegluster.server.upcall.Upcalls without a brick: timeout and expiry arithmetic."""
    from fakegluster.server.upcall import UP_WRITE_FLAGS, Upcalls

    up = Upcalls(enabled=True, timeout=10)
    assert up.touch(b"g", "A", 0) == [] and up.touch(b"g", "B", 1) == []
    [n] = up.touch(b"g", "A", 5, UP_WRITE_FLAGS)
    assert (n.client, n.flags, n.expire) == ("B", UP_WRITE_FLAGS, 10)
    assert up.touch(b"g", "A", 11.5, UP_WRITE_FLAGS) == []  # B idle 10.5 s: not told, kept
    assert "B" in up.inodes[b"g"]
    assert up.touch(b"g", "A", 21.5, UP_WRITE_FLAGS) == [] and "B" not in up.inodes[b"g"]  # > 2x: dropped
    assert [n.client for n in up.forget(b"g", 30)] == ["A"] and b"g" not in up.inodes
    off = Upcalls(enabled=False)
    assert off.touch(b"g", "A", 0) == [] and off.inodes == {}


def test_a_write_of_many_mebibytes_is_told_too(a, b):
    """(The fake does such a WRITE a slice at a time: the upcall comes when it is done.)"""
    d = a.mkdir(ROOT, f"u-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    c = a.create(d, "big")
    b.fop("LOOKUP", pargfid=d, bname="big")
    size = 3 << 20
    w = a.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=size, payload=b"z" * size)
    assert w.result.op_ret == size
    assert [t[:2] for t in told(b)] == [(c.stat.ia_gfid, SIZE | TIMES)]
