"""A brick keeps serving an fd whose file was unlinked (or replaced by a rename) while open, on a
real 10.3 brick and the fake alike (memory and directory stores), at the wire level.

posix_unlink (posix-entry-ops.c, posix_unlink_gfid_handle_and_entry): the file's last name
going while the brick holds an fd on its inode (``fd_count``), the gfid handle moves to
``.glusterfs/unlink/GFID``; the fds go on (READ, WRITE, FSTAT with nlink 0, FTRUNCATE, the
fd xattr FOPs, FSYNC, LK...), and so does an anonymous fd (posix_fd_ctx_get opens the unlink
path); what reaches the inode through its gfid handle is ENOENT (nameless LOOKUP, STAT,
OPEN...), while ACCESS and the lock FOPs, which server-resolve finds in the inode table, go
on.  posix_release of the last fd (posix_unlink_renamed_file) removes it for good.  A rename
over an open file drops its handle instead (posix_rename): its fds go on, an anonymous fd is
ENOENT.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import uuid

import pytest

from fakegluster.proto.common import NULL_GFID
from fakegluster.proto.gfdict import GfxValue
from tests.helpers import wait_until
from tests.rawclient import ROOT, Mount
from tests.server.test_brick_semantics import SETLK, WR, cred, flock

pytestmark = pytest.mark.targets("fake", "fake-subprocess", "real")
ANON = -2


def ret(r) -> tuple[int, int] | int:
    """op_ret of a success (its op_errno is whatever posix saw last: not compared), else
    (op_ret, op_errno)."""
    r = getattr(r, "result", r)
    return r.op_ret if r.op_ret >= 0 else (r.op_ret, r.op_errno)


def read(m, gfid, fd, size=100) -> bytes | tuple[int, int]:
    r = m.fop("READ", gfid=gfid, fd=fd, offset=0, size=size)
    return bytes(r.payload) if r.result.op_ret >= 0 else (r.result.op_ret, r.result.op_errno)


def nameless(m, gfid):
    return ret(m.fop("LOOKUP", gfid=gfid, pargfid=NULL_GFID, bname=""))


def new_file(a, data: bytes) -> tuple[str, bytes, int]:
    """(name, gfid, fd) of a new file in the root holding ``data``."""
    name = f"ou-{uuid.uuid4().hex[:8]}"
    c = a.create(ROOT, name)
    assert ret(a.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=len(data), payload=data)) == len(data)
    return name, c.stat.ia_gfid, c.fd


def test_fds_of_an_unlinked_file_go_on(a, b):
    name, g, created = new_file(a, b"hello")
    fb = b.fop("OPEN", gfid=g, flags=os.O_RDWR).fd  # another client's fd
    fa = a.fop("OPEN", gfid=g, flags=os.O_RDWR).fd  # and one of the client that unlinks
    a.fop("RELEASE", gfid=g, fd=created)
    assert ret(a.fop("UNLINK", pargfid=ROOT, bname=name, xflags=0)) == 0
    assert ret(b.fop("LOOKUP", pargfid=ROOT, bname=name)) == (-1, errno.ENOENT)
    data = b"hello"  # what the file holds, as the test changes it
    for i, (m, fd, who) in enumerate(((b, fb, "b"), (a, fa, "a"))):
        st = m.fop("FSTAT", gfid=g, fd=fd)
        assert (ret(st), st.stat.ia_nlink, st.stat.ia_size, st.stat.ia_gfid) == (0, 0, len(data), g)
        w = m.fop("WRITE", gfid=g, fd=fd, offset=len(data), size=2, payload=b"XY").result
        data += b"XY"
        assert (ret(w), w.poststat.ia_nlink, w.poststat.ia_size) == (2, 0, len(data))
        t = m.fop("FTRUNCATE", gfid=g, fd=fd, offset=len(data) - 1)
        data = data[:-1]
        assert (ret(t), t.prestat.ia_size, t.poststat.ia_size) == (0, len(data) + 1, len(data))
        assert read(m, g, fd) == data
        assert ret(m.fop("FSETXATTR", gfid=g, fd=fd, flags=0, dict={f"user.{who}": GfxValue.str("v")})) == 0
        x = m.fop("FGETXATTR", gfid=g, fd=fd, namelen=1, name=f"user.{who}")
        assert (ret(x), bytes(x.dict[f"user.{who}"].value).rstrip(b"\0")) == (2, b"v")
        assert ret(m.fop("FSYNC", gfid=g, fd=fd, data=0)) == 0
        s = m.fop("FSETATTR", gfid=g, fd=fd, stbuf=dataclasses.replace(st.stat, mode=0o100600), valid=1)
        assert (ret(s), s.poststat.mode & 0o7777) == (0, 0o600)
        assert ret(m.fop("FXATTROP", gfid=g, fd=fd, flags=1, dict={"trusted.afr.x": GfxValue.ptr(bytes(12))})) == 0
        lk = m.fop("LK", cred=cred(who.encode()), gfid=g, fd=fd, cmd=SETLK, type=WR, flock=flock(WR, i, 1))
        assert ret(lk) == 0
    assert read(b, g, fb) == read(a, g, fa) == data == b"helloXX"
    # the anonymous fd reaches it too (posix opens the unlink path)
    assert read(b, g, ANON) == data
    # by gfid: what posix reaches through the gfid handle is gone; ACCESS and locks go on
    assert nameless(b, g) == (-1, errno.ENOENT)
    assert ret(b.fop("STAT", gfid=g)) == (-1, errno.ENOENT)
    assert ret(b.fop("GETXATTR", gfid=g, namelen=1, name="user.b")) == (-1, errno.ENOENT)
    assert ret(b.fop("SETXATTR", gfid=g, flags=0, dict={"user.l": GfxValue.str("v")})) == (-1, errno.ENOENT)
    assert ret(b.fop("TRUNCATE", gfid=g, offset=0)) == (-1, errno.ENOENT)
    assert ret(b.fop("OPEN", gfid=g, flags=os.O_RDONLY)) == (-1, errno.ENOENT)
    assert ret(b.fop("LINK", oldgfid=g, newgfid=ROOT, newbname=name)) == (-1, errno.ENOENT)
    assert ret(b.fop("ACCESS", gfid=g, mask=4)) == 0
    lk = b.fop("INODELK", cred=cred(b"i"), gfid=g, cmd=SETLK, type=WR, flock=flock(WR, owner=b"i"), volume="dom")
    assert ret(lk) == 0
    # the name is free for a new file, another inode
    _, g2, f2 = new_file(a, b"new")
    assert g2 != g and read(a, g2, f2) == b"new" and read(b, g, fb) == data
    a.fop("RELEASE", gfid=g2, fd=f2)
    # one fd less: still there; the last RELEASE: gone
    assert ret(a.fop("RELEASE", gfid=g, fd=fa)) == 0
    assert read(b, g, fb) == data
    assert ret(b.fop("RELEASE", gfid=g, fd=fb)) == 0
    assert read(b, g, ANON) == (-1, errno.ENOENT)
    assert nameless(b, g) == (-1, errno.ENOENT)
    assert read(b, g, fb) == (-1, errno.EBADF)


def test_a_file_replaced_by_a_rename_keeps_its_fds(a, b):
    old_name, old, fo = new_file(a, b"old")
    new_name, new, fn = new_file(a, b"new")
    held = b.fop("OPEN", gfid=old, flags=os.O_RDWR).fd
    a.fop("RELEASE", gfid=old, fd=fo)
    a.fop("RELEASE", gfid=new, fd=fn)
    assert ret(a.fop("RENAME", oldgfid=ROOT, newgfid=ROOT, oldbname=new_name, newbname=old_name)) == 0
    found = b.fop("LOOKUP", pargfid=ROOT, bname=old_name)
    assert (ret(found), found.prestat.ia_gfid) == (0, new)
    assert read(b, old, held) == b"old"
    assert ret(b.fop("WRITE", gfid=old, fd=held, offset=0, size=3, payload=b"OLD")) == 3
    st = b.fop("FSTAT", gfid=old, fd=held)
    assert (ret(st), st.stat.ia_nlink, st.stat.ia_size) == (0, 0, 3)
    assert read(b, old, held) == b"OLD"
    # no handle to open by: the anonymous fd and the gfid FOPs find nothing
    assert read(b, old, ANON) == (-1, errno.ENOENT)
    assert ret(b.fop("STAT", gfid=old)) == (-1, errno.ENOENT)
    assert nameless(b, old) == (-1, errno.ENOENT)
    assert read(b, new, ANON) == b"new"
    b.fop("RELEASE", gfid=old, fd=held)
    assert nameless(b, old) == (-1, errno.ENOENT)
    assert read(b, new, ANON) == b"new"


def test_the_holders_disconnect_is_its_last_release(target, a, b):
    name, g, created = new_file(a, b"bye")
    c = Mount(target.host, target.port, target.volume)
    c.fop("OPEN", gfid=g, flags=os.O_RDONLY)
    a.fop("RELEASE", gfid=g, fd=created)
    assert ret(a.fop("UNLINK", pargfid=ROOT, bname=name, xflags=0)) == 0
    assert read(b, g, ANON) == b"bye"
    c.close()  # (a real brick cleans the connection up a moment later)
    wait_until(lambda: read(b, g, ANON) == (-1, errno.ENOENT), "the unlinked file gone with its holder", 20)
    assert nameless(b, g) == (-1, errno.ENOENT)


@pytest.mark.parametrize("ask", [None, "get-link-count", "gf_request_link_count"])
def test_unlink_answers_link_counts(a, ask):
    """posix_unlink's reply xdata: ``get-link-count`` always, 0 unless asked for, then the
    lstat's nlink just before the unlink less the gfid handle (its names when more than one;
    one name: 0, or 1 while open, its handle moved to .glusterfs/unlink); asked with
    ``gf_request_link_count``: ``gf_response_link_count`` = the names it had, first."""
    xdata = {ask: GfxValue.int(1)} if ask else None
    got = []
    for links, held in ((1, False), (2, False), (3, False), (1, True)):
        name, g, fd = new_file(a, b"x")
        if not held:
            a.fop("RELEASE", gfid=g, fd=fd)
        for i in range(1, links):
            assert ret(a.fop("LINK", oldgfid=g, newgfid=ROOT, newbname=f"{name}.{i}")) == 0
        u = a.fop("UNLINK", pargfid=ROOT, bname=name, xflags=0, xdata=xdata)
        got.append((ret(u), [(k, v.value) for k, v in u.xdata.items()]))
        if held:
            a.fop("RELEASE", gfid=g, fd=fd)
    counts = {
        None: [0, 0, 0, 0],
        "get-link-count": [0, 2, 3, 1],
        "gf_request_link_count": [0, 0, 0, 0],
    }[ask]
    names = [1, 2, 3, 1]
    if ask == "gf_request_link_count":
        want = [(0, [("gf_response_link_count", n), ("get-link-count", c)]) for n, c in zip(names, counts)]
    else:
        want = [(0, [("get-link-count", c)]) for c in counts]
    assert got == want


def test_a_restart_with_an_unlinked_file_open_loses_and_invents_nothing(tmp_path):
    """The directory store: the open file leaves no trace in the folder, and a server stopped
    while a client holds it starts again with exactly the named files (posix_init empties
    .glusterfs/unlink)."""
    from fakegluster.server import FakeGluster
    from fakegluster.store.directory import HIDDEN

    folder = tmp_path / "vol"
    folder.mkdir()
    with FakeGluster([f"ounl={folder}"], ["tcp://127.0.0.1:0"]) as server:
        a = Mount("127.0.0.1", server.info.port, "ounl")
        b = Mount("127.0.0.1", server.info.port, "ounl")
        kept, gk, fk = new_file(a, b"kept")
        gone, gg, fg = new_file(a, b"gone")
        held = b.fop("OPEN", gfid=gg, flags=os.O_RDWR).fd
        a.fop("RELEASE", gfid=gk, fd=fk)
        a.fop("RELEASE", gfid=gg, fd=fg)
        assert ret(a.fop("UNLINK", pargfid=ROOT, bname=gone, xflags=0)) == 0
        assert ret(b.fop("WRITE", gfid=gg, fd=held, offset=0, size=4, payload=b"more")) == 4
        assert sorted(os.listdir(folder)) == sorted([HIDDEN, kept])
        a.close()  # (b still holds the file when the server stops)
    b.close()
    assert sorted(os.listdir(folder)) == sorted([HIDDEN, kept])
    assert (folder / kept).read_bytes() == b"kept"
    with FakeGluster([f"ounl={folder}"], ["tcp://127.0.0.1:0"]) as server:
        c = Mount("127.0.0.1", server.info.port, "ounl")
        found = c.fop("LOOKUP", pargfid=ROOT, bname=kept)
        assert (ret(found), found.prestat.ia_gfid) == (0, gk)
        assert nameless(c, gg) == (-1, errno.ENOENT)
        assert read(c, gk, ANON) == b"kept"
        c.close()
    assert sorted(os.listdir(folder)) == sorted([HIDDEN, kept])
