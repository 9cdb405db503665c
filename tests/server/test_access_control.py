"""Permissions and ACLs at the wire level, on the fake and on a real 10.3 brick alike: the
access-control translator's checks for the caller's uid/gid/groups (AUTH_GLUSTERFS), new
objects' owners (set-group-id directories), POSIX ACLs in both forms (Linux's binary
``system.posix_acl_*`` and libacl's text ``glusterfs.posix.acl`` that gfapi's
``glfs_h_acl_set/get`` send), default ACL inheritance, and root squashing.  Every
expectation was read off the real brick first.
"""

from __future__ import annotations

import dataclasses
import errno
import struct
import time
import uuid

import pytest

from fakegluster.proto.gfdict import GfDataType, GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount, v3

EACCES, EPERM, EINVAL, EBADF, ENODATA = errno.EACCES, errno.EPERM, errno.EINVAL, errno.EBADF, errno.ENODATA


def user(uid=1000, gid=1000, groups=()):
    return v3(4242, uid=uid, gid=gid, groups=groups)


@pytest.fixture(scope="module")
def m(target):
    mount = Mount(target.host, target.port, target.volume)
    yield mount
    mount.close()


@pytest.fixture
def d(m):
    return m.mkdir(ROOT, f"p-{uuid.uuid4().hex[:8]}").stat.ia_gfid


def res(r):
    r = getattr(r, "result", r)
    return (r.op_ret, r.op_errno)


def chmod(m, g, mode, cred=None):
    st = m.fop("STAT", gfid=g).stat
    return m.fop("SETATTR", gfid=g, stbuf=dataclasses.replace(st, mode=mode), valid=1, cred=cred)


def new(m, d, name, mode=0o644, cred=None, flags=0o102):
    return m.fop("CREATE", cred=cred, pargfid=d, bname=name, mode=mode, flags=flags,
                 xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip


def test_who_may_create_open_and_read(m, d):
    u = user()
    assert res(new(m, d, "u1", cred=u)) == (-1, EACCES)  # a root-owned 0755 directory
    assert res(m.fop("MKDIR", cred=u, pargfid=d, bname="ud", mode=0o755, umask=0,
                     xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})) == (-1, EACCES)  # fmt: skip
    chmod(m, d, 0o40777)
    mine = new(m, d, "u2", cred=user(1000, 2000, (3000,)))
    assert res(mine) == (0, 0) and (mine.stat.mode, mine.stat.ia_uid, mine.stat.ia_gid) == (0o100644, 1000, 2000)
    root = new(m, d, "rootf", mode=0o600)
    g = root.stat.ia_gfid
    assert res(m.fop("OPEN", cred=u, gfid=g, flags=0)) == (-1, EACCES)
    assert res(m.fop("LOOKUP", cred=u, pargfid=d, bname="rootf")) == (0, 0)  # lookups and stats pass
    assert res(m.fop("STAT", cred=u, gfid=g)) == (0, 0)
    assert res(m.fop("GETXATTR", cred=u, gfid=g, namelen=1, name="user.x")) == (-1, EACCES)
    assert res(m.fop("SETXATTR", cred=u, gfid=g, dict={"user.x": GfxValue.ptr(b"1")})) == (-1, EACCES)
    chmod(m, g, 0o100644)
    assert res(m.fop("OPEN", cred=u, gfid=g, flags=0)) == (0, 0)
    assert res(m.fop("OPEN", cred=u, gfid=g, flags=2)) == (-1, EACCES)
    assert res(m.fop("OPEN", cred=u, gfid=g, flags=0o1000)) == (-1, EACCES)  # O_TRUNC wants write
    # READ, WRITE and FTRUNCATE are not checked (a "FUSE call" for the translator)
    assert res(m.fop("WRITE", cred=u, gfid=g, fd=root.fd, offset=0, size=1, payload=b"x")) == (1, 0)
    assert res(m.fop("WRITE", cred=u, gfid=g, fd=-2, offset=0, size=1, payload=b"x")) == (1, 0)
    assert res(m.fop("READ", cred=u, gfid=g, fd=-2, offset=0, size=1)) == (1, errno.ENOENT)
    assert res(m.fop("TRUNCATE", cred=u, gfid=g, offset=0)) == (-1, EACCES)
    # a create with O_RDONLY and mode 0444 gives a read-only fd, whatever the mode
    ro = new(m, d, "ro", mode=0o444, cred=u, flags=0o100)
    assert res(ro) == (0, 0) and ro.stat.mode == 0o100444
    assert res(m.fop("WRITE", cred=u, gfid=ro.stat.ia_gfid, fd=ro.fd, offset=0, size=1, payload=b"x")) == (-1, EBADF)
    assert res(m.fop("OPEN", cred=u, gfid=ro.stat.ia_gfid, flags=2)) == (-1, EACCES)
    grp = new(m, d, "grp", mode=0o640, cred=user(7, 6000))
    member = user(2000, 5000, (6000,))  # in the file's group through its supplementary groups
    assert res(m.fop("OPEN", cred=member, gfid=grp.stat.ia_gfid, flags=0)) == (0, 0)
    assert res(m.fop("OPEN", cred=member, gfid=grp.stat.ia_gfid, flags=2)) == (-1, EACCES)


def test_access_answers_as_for_a_fuse_call(m, d):
    u = user()
    g = new(m, d, "a", mode=0o600).stat.ia_gfid
    assert res(m.fop("ACCESS", cred=u, gfid=g, mask=4)) == (-1, EACCES)
    assert res(m.fop("ACCESS", cred=u, gfid=g, mask=0)) == (0, 0)
    assert res(m.fop("ACCESS", cred=u, gfid=g, mask=8)) == (-1, EINVAL)
    assert res(m.fop("ACCESS", gfid=g, mask=7)) == (0, 0)  # root
    assert res(m.fop("ACCESS", cred=u, gfid=d, mask=5)) == (0, 0)


def test_attributes_and_xattrs_of_others(m, d):
    chmod(m, d, 0o40777)
    u = user(1000, 2000, (3000,))
    root = new(m, d, "rootf")
    g = root.stat.ia_gfid
    mine = new(m, d, "mine", cred=u).stat.ia_gfid
    st = root.stat

    def setattr_(gfid, valid, cred=u, **changes):
        return res(m.fop("SETATTR", cred=cred, gfid=gfid, stbuf=dataclasses.replace(st, **changes), valid=valid))

    assert setattr_(g, 1, mode=0o100666) == (-1, EPERM)  # chmod: owner only
    assert setattr_(mine, 2, ia_uid=0) == (-1, EPERM)  # chown: root only
    assert setattr_(mine, 4, ia_gid=3000) == (0, 0)  # chgrp to one of the caller's groups
    assert setattr_(mine, 4, ia_gid=4000) == (-1, EPERM)
    assert setattr_(g, 0x30) == (-1, EACCES)  # times: owner or write permission
    assert setattr_(mine, 0x30) == (0, 0)
    assert res(m.fop("SETXATTR", cred=u, gfid=mine, dict={"trusted.x": GfxValue.ptr(b"1")})) == (0, 0)
    assert res(m.fop("GETXATTR", cred=u, gfid=mine, namelen=1, name="trusted.x")) == (1, 0)


def test_sticky_and_set_group_id_directories(m, d):
    u = user()
    chmod(m, d, 0o40777)
    new(m, d, "rootf")
    assert res(m.fop("UNLINK", cred=u, pargfid=d, bname="rootf")) == (0, 0)
    chmod(m, d, 0o41777)
    new(m, d, "rootf2", mode=0o666)
    assert res(m.fop("UNLINK", cred=u, pargfid=d, bname="rootf2")) == (-1, EACCES)
    r = m.fop("RENAME", cred=u, oldgfid=d, oldbname="rootf2", newgfid=d, newbname="zz")
    assert res(r) == (-1, EACCES)
    new(m, d, "mine", cred=u)
    assert res(m.fop("UNLINK", cred=u, pargfid=d, bname="mine")) == (0, 0)
    chmod(m, d, 0o42777)
    st = m.fop("STAT", gfid=d).stat
    m.fop("SETATTR", gfid=d, stbuf=dataclasses.replace(st, ia_gid=777), valid=4)
    f = new(m, d, "sg", cred=u)
    assert (f.stat.mode, f.stat.ia_uid, f.stat.ia_gid) == (0o100644, 1000, 777)
    sub = m.fop("MKDIR", cred=u, pargfid=d, bname="sgd", mode=0o755, umask=0,
                xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert (sub.stat.mode, sub.stat.ia_gid) == (0o42755, 777)


# ---- POSIX ACLs ------------------------------------------------------------------------------


def acl_xattr(*entries):
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


NONE = 0xFFFFFFFF


def get(m, g, name):
    r = m.fop("GETXATTR", gfid=g, namelen=1, name=name)
    return r.op_ret, r.op_errno, {k: (v.type, bytes(v.value)) for k, v in r.dict.items()}


def setx(m, g, name, value, cred=None):
    value = GfxValue.str(value) if isinstance(value, str) else GfxValue.ptr(value)
    return res(m.fop("SETXATTR", gfid=g, dict={name: value}, cred=cred))


def mode_of(m, g):
    return m.fop("STAT", gfid=g).stat.mode


def text(value):
    return GfDataType.STR, value.encode() + b"\0"


def test_acl_text_and_binary_forms(m, d):
    g = new(m, d, "f", mode=0o640).stat.ia_gfid
    acl, dflt = "glusterfs.posix.acl", "glusterfs.posix.default_acl"
    assert get(m, g, acl) == (0, 0, {acl: text("u::rw-,g::r--,o::---")})  # from the mode
    assert get(m, g, dflt)[:2] == (-1, EACCES)  # files have no default ACL
    assert get(m, d, dflt) == (0, 0, {dflt: text("")})
    assert get(m, g, "system.posix_acl_access")[:2] == (-1, ENODATA)
    assert setx(m, g, acl, "u::rw-,u:1000:r--,g::r--,m::r-x,o::---") == (0, 0)
    assert mode_of(m, g) == 0o100650  # the group bits are the mask's
    assert get(m, g, acl) == (0, 0, {acl: text("u::rw-,u:1000:r--,g::r--,m::r-x,o::---")})
    binary = acl_xattr((1, 6, NONE), (2, 4, 1000), (4, 4, NONE), (0x10, 5, NONE), (0x20, 0, NONE))
    assert get(m, g, "system.posix_acl_access") == (44, 0, {"system.posix_acl_access": (GfDataType.PTR, binary)})
    assert sorted(m.fop("GETXATTR", gfid=g, namelen=0, name="").dict) == ["system.posix_acl_access"]
    assert setx(m, g, acl, "u::rwx,g::r-x,o::r--") == (0, 0)  # what the mode says: no ACL kept
    assert mode_of(m, g) == 0o100754 and get(m, g, "system.posix_acl_access")[:2] == (-1, ENODATA)
    assert setx(m, g, acl, "user::rw-,group::r--,other::---") == (0, 0) and mode_of(m, g) == 0o100640
    assert setx(m, g, acl, "u::rw-,u:1000:r--,g::r--,o::---") == (-1, EINVAL)  # no mask
    assert setx(m, g, acl, "nonsense") == (-1, EPERM)  # libacl cannot parse it
    assert setx(m, g, acl, "u::rw-,u:root:r--,g::r--,m::r--,o::---") == (0, 0)
    assert get(m, g, acl)[2] == {acl: text("u::rw-,u:0:r--,g::r--,m::r--,o::---")}
    assert setx(m, g, dflt, "u::rwx,g::r-x,o::r-x") == (-1, EACCES)
    raw = acl_xattr((1, 6, NONE), (2, 4, 1234), (4, 4, NONE), (0x10, 6, NONE), (0x20, 0, NONE))
    assert setx(m, g, "system.posix_acl_access", raw) == (0, 0) and mode_of(m, g) == 0o100660
    assert get(m, g, acl)[2] == {acl: text("u::rw-,u:1234:r--,g::r--,m::rw-,o::---")}
    assert m.fop("REMOVEXATTR", gfid=g, name="system.posix_acl_access").op_ret == 0  # (op_errno varies)
    assert mode_of(m, g) == 0o100660  # the mode stays
    assert res(m.fop("REMOVEXATTR", gfid=g, name=acl)) == (-1, errno.EOPNOTSUPP)
    assert setx(m, g, acl, "u::rwx,g::r-x,o::r--", cred=user()) == (-1, EPERM)  # owners only


def test_default_acl_inheritance_and_enforcement(m, d):
    acl, dflt = "glusterfs.posix.acl", "glusterfs.posix.default_acl"
    assert setx(m, d, dflt, "u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x") == (0, 0)
    assert get(m, d, dflt)[2] == {dflt: text("u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x")}
    f = m.fop("CREATE", pargfid=d, bname="inh", mode=0o640, flags=0o102, umask=0o022,
              xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert f.stat.mode == 0o100640  # the mode asked for limits the ACL; no umask
    assert get(m, f.stat.ia_gfid, acl)[2] == {acl: text("u::rw-,u:1000:rwx,g::r-x,m::r--,o::---")}
    sub = m.fop("MKDIR", pargfid=d, bname="sub", mode=0o777, umask=0o077,
                xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert sub.stat.mode == 0o40775
    assert get(m, sub.stat.ia_gfid, dflt)[2] == {dflt: text("u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x")}
    # the named user's rwx is masked to r--
    assert res(m.fop("OPEN", gfid=f.stat.ia_gfid, flags=0, cred=user())) == (0, 0)
    assert res(m.fop("OPEN", gfid=f.stat.ia_gfid, flags=2, cred=user())) == (-1, EACCES)
    assert res(m.fop("OPEN", gfid=f.stat.ia_gfid, flags=0, cred=user(1001, 1001))) == (-1, EACCES)
    assert setx(m, d, dflt, "") == (0, 0) and get(m, d, "system.posix_acl_default")[:2] == (-1, ENODATA)


# ---- root squashing -------------------------------------------------------------------------------

SQUASH = {"server.root-squash": "on", "server.anonuid": "4444", "server.anongid": "5555"}
#: posix's brick-uid/gid: the brick root's owner (on the same volume: it changes nothing above)
OWNER = {"storage.owner-uid": "3333", "storage.owner-gid": "3334"}


@pytest.fixture(scope="module", params=["fake", "real"])
def squashed_volume(request):
    """(a client, ``set(key, value)``: ``volume set``, or reset with None)."""
    if request.param == "fake":
        with FakeGluster(["sqvol"], ["tcp://127.0.0.1:0"], options={**SQUASH, **OWNER}) as server:
            mount = Mount("127.0.0.1", server.info.port, "sqvol")
            yield mount, lambda key, value: server.set_option(key, value, volume="sqvol")
            mount.close()
        return
    vol = request.getfixturevalue("real_gluster").create_volume(options={**SQUASH, **OWNER})
    mount = Mount("127.0.0.1", 24007, vol.name)

    def set_(key, value):
        if value is None:
            vol.gluster("volume", "reset", vol.name, key)
        else:
            vol.gluster("volume", "set", vol.name, key, value)
        time.sleep(1)  # (the bricks reconfigure after glusterd answered)

    try:
        yield mount, set_
    finally:
        mount.close()
        vol.delete()


@pytest.fixture
def squashed(squashed_volume):
    return squashed_volume[0]


def test_brick_owner(squashed_volume):
    """storage.owner-uid/gid chown the brick root at start and on volume set; a reset leaves it."""
    m, set_ = squashed_volume
    owner = lambda: (lambda st: (st.ia_uid, st.ia_gid))(m.fop("LOOKUP", gfid=ROOT).prestat)  # noqa: E731
    assert owner() == (3333, 3334)
    set_("storage.owner-uid", "3335")
    assert owner() == (3335, 3334)
    set_("storage.owner-uid", None)
    assert owner() == (3335, 3334)
    set_("storage.owner-uid", "3333")
    assert owner() == (3333, 3334)


def test_root_squash(squashed):
    m = squashed
    top = m.fop("LOOKUP", gfid=ROOT).prestat
    assert res(new(m, ROOT, f"r-{uuid.uuid4().hex[:6]}")) == (-1, EACCES)  # root is nobody now
    m.fop("SETATTR", gfid=ROOT, stbuf=dataclasses.replace(top, mode=0o40777), valid=1)
    assert m.fop("STAT", gfid=ROOT).stat.mode == top.mode  # and may not chmod
    d = m.fop("MKDIR", cred=user(), pargfid=ROOT, bname=f"d-{uuid.uuid4().hex[:6]}", mode=0o777, umask=0,
              xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)})  # fmt: skip
    assert res(d) == (-1, EACCES)
