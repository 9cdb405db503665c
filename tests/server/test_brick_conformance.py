"""The brick and glusterd at the wire level: the same assertions on the fake and on a real
GlusterFS 10.3 (the expectations were read off the real one; where the fake differed, the
fake was fixed).  Sources: ``xlators/protocol/server/src/server-resolve.c`` (entry names),
``server-rpc-fops_v2.c``, ``xlators/storage/posix/src`` (errnos), ``rpc/rpc-lib/src/rpcsvc.c``.
"""

from __future__ import annotations

import errno
import socket
import struct
import uuid

import pytest

from fakegluster.proto import dump, fops, handshake
from fakegluster.proto.gfdict import GfDataType, GfxValue, old_dict
from fakegluster.proto.record import RecordReader, frame
from tests.rawclient import ROOT, Mount, Raw

V2 = struct.pack(">II", 390039, 24) + struct.pack(">iIII", 0, 0, 0, 0) + struct.pack(">I", 4) + b"\0\0\0\0"


@pytest.fixture
def d(mount):
    """A fresh directory (gfid) per test."""
    return mount.mkdir(ROOT, f"t-{uuid.uuid4().hex[:8]}").stat.ia_gfid


def gr():
    return {"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}


def err(r) -> int:
    """op_errno of a failed reply (on success it is not compared: SUCCESS_OP_ERRNO)."""
    assert r.op_ret == -1, r
    return r.op_errno


# ---- raw RPC (rpcsvc) ------------------------------------------------------------------


def _exchange(target, raw: bytes, port: int | None = None, wait: float = 60) -> list:
    """Send `raw`, return the first reply record (or "EOF"/"gone").

    `wait` bounds how long an answer may take. Where one is expected it is long: a real glusterd shared with
    other sessions may be busy creating or deleting their volumes (seen: > 5 s under load) and the call returns
    at the reply anyway. The "never answered" cases pass a short window: that is what they observe.
    """
    s = socket.create_connection((target.host, port or target.port), timeout=wait)
    s.sendall(raw)
    rr, out = RecordReader(), []
    try:
        while not out:
            data = s.recv(65536)
            if not data:
                out.append("EOF")
                break
            rr.feed(data)
            while (r := rr.next_record()) is not None:
                if r[4:8] != b"\0\0\0\0":  # not a GF-CBK CALL: a shared real glusterd sends
                    out.append(r)  # FETCHSPEC to every peer when anyone's volume changes
    except (TimeoutError, ConnectionResetError):
        out.append("gone")
    s.close()
    return out


def _call(xid, prog, vers, proc, args=b"", cred=V2, rpcvers=2):
    return frame(struct.pack(">IIIIII", xid, 0, rpcvers, prog, vers, proc) + cred + struct.pack(">II", 0, 0) + args)


@pytest.mark.parametrize(
    "label,record,expect",
    [
        ("unknown program", _call(2, 999, 1, 1), (2, 0, 1)),
        ("unknown version", _call(2, dump.GF_DUMP_PROGRAM, 7, 1), (2, 0, 2, 0, 0)),
        ("unknown procedure", _call(2, dump.GF_DUMP_PROGRAM, 1, 9), (2, 0, 3)),
        ("GF-DUMP NULL has no actor", _call(2, dump.GF_DUMP_PROGRAM, 1, 0), (2, 0, 3)),
        ("rpcvers 3", _call(2, dump.GF_DUMP_PROGRAM, 1, 1, rpcvers=3), (0, 0, 4)),
        ("a call header cut short", frame(struct.pack(">IIII", 5, 0, 2, dump.GF_DUMP_PROGRAM)), (0, 0, 4)),
        ("a REPLY sent to a server", frame(struct.pack(">IIIIII", 9, 1, 0, 0, 0, 0)), (0, 0, 4)),
        # glusterd's actors still send their reply structure with GARBAGE_ARGS:
        (
            "garbage GETSPEC arguments",
            _call(2, handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, b"\0\0"),
            (2, 0, 4, 0xFFFFFFFF, errno.ENOENT, 0, 0),
        ),
        (
            "garbage GET_VOLUME_INFO arguments",
            _call(2, handshake.GLUSTER_HNDSK_PROGRAM, 2, 6, b"\0\0"),
            (2, 0, 4, 0xFFFFFFFF, errno.ENOENT, 0, 0),
        ),
        ("garbage PORTBYBRICK arguments", _call(2, 34123456, 1, 1, b"\0\0"), (2, 0, 4, 0, 0, 0, 0)),
    ],
)
def test_glusterd_rpc_errors(target, label, record, expect):
    """accepted reply: (xid, reply_stat MSG_ACCEPTED=0, accept_stat[, low, high])."""
    [reply] = _exchange(target, record)
    words = struct.unpack(f">{len(reply) // 4}I", reply)
    xid, mtype, rstat, _vflavor, _vlen, stat = words[:6]
    assert (xid, rstat, stat) + tuple(words[6:]) == expect, label
    assert mtype == 1


def test_garbage_brickbyport_is_never_answered(target):
    assert _exchange(target, _call(2, 34123456, 1, 2, b"\0\0"), wait=5) == ["gone"]


def test_brick_garbage_replies(mount):
    def garbage(prog, vers, proc):
        return _exchange(mount_target(mount), _call(2, prog, vers, proc, b"\0\0"), port=mount.brick_port)[0][20:]

    assert garbage(handshake.GLUSTER_HNDSK_PROGRAM, 2, 1) == bytes.fromhex("00000004ffffffff000000160000000400000000")
    assert garbage(handshake.GLUSTER_HNDSK_PROGRAM, 2, 4) == bytes.fromhex("00000004000000000000000000000000")
    for proc in (1, 12, 13, 27, 41, 49):
        assert garbage(fops.GLUSTER_FOP_PROGRAM, 400, proc) == bytes.fromhex("00000004"), proc


def mount_target(mount):
    return type("T", (), {"host": "127.0.0.1", "port": mount.brick_port})


def test_dump_arguments_are_never_decoded(target):
    [reply] = _exchange(target, _call(2, dump.GF_DUMP_PROGRAM, 1, 1, b"\0\0"))
    assert struct.unpack(">6I", reply[:24])[5] == 0  # SUCCESS: rpcsvc_dump ignores its arguments


def test_unknown_message_type_closes_the_connection(target):
    assert _exchange(target, frame(struct.pack(">II", 5, 7) + bytes(40)), wait=5) in (["EOF"], ["gone"])


def test_credentials_are_not_checked(target):
    for cred in (struct.pack(">II", 390039, 4) + b"\0\0\0\0", struct.pack(">II", 7, 0), struct.pack(">II", 0, 0)):
        [reply] = _exchange(target, _call(2, dump.GF_DUMP_PROGRAM, 1, 2, cred=cred))
        assert struct.unpack(">6I", reply[:24])[5] == 0


def test_getspec_of_an_unknown_volume(target):
    r = Raw(target.host, target.port).call(
        handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, "no-such-volume", None)
    )
    assert (r.result.op_ret, r.result.op_errno, r.result.spec) == (-1, errno.ENOENT, "")


def test_unix_socket_serves_only_getspec(target):
    raw = Raw("", unix=target.unix)
    assert raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 6, handshake.GfGetVolumeInfoReq(None)).stat == 3
    names = [p.progname for p in raw.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID)).result.prog]
    assert "Gluster Handshake (CLI Getspec)" in names and "Gluster Portmap" not in names
    versions = old_dict({"min-op-version": "1", "max-op-version": "100000"})
    spec = raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, target.volume, versions)).result
    assert spec.op_ret == len(spec.spec.encode()) > 0 and "type protocol/client" in spec.spec


@pytest.mark.parametrize(
    "xdata,ret,code",
    [
        (None, -1, errno.ENOTSUP),  # no op-versions: taken as 1..1, below the volume's client-op-version
        ({"max-op-version": "100000"}, -errno.ENOENT, errno.ENOENT),  # half a range: op_ret is dict_get's -2
        ({"min-op-version": "1", "max-op-version": "1"}, -1, errno.ENOTSUP),
    ],
)
def test_getspec_op_version_checks(target, xdata, ret, code):
    raw = Raw(target.host, target.port)
    r = raw.call(
        handshake.GLUSTER_HNDSK_PROGRAM,
        2,
        2,
        handshake.GfGetspecReq(1, target.volume, old_dict(xdata) if xdata else None),
    ).result
    assert (r.op_ret, r.op_errno) == (ret, code)


# ---- the brick's handshake --------------------------------------------------------------


def test_setvolume_success_reply(mount):
    r = mount.setvolume_reply
    assert (r.op_ret, r.op_errno) == (0, errno.EINVAL)  # op_errno stays EINVAL on success
    assert list(r.dict) == ["transport-ptr", "clnt-lk-version", "process-uuid", "ERROR", "volume-id", "child_up"]
    assert r.dict["ERROR"] == b"Success\0" and r.dict["child_up"] == b"1\0" and r.dict["clnt-lk-version"] == b"0\0"


@pytest.mark.parametrize(
    "overrides,code,keys,error",
    [
        ({"password": "wrong"}, errno.EACCES, ["ERROR", "volume-id", "child_up"], "Authentication failed"),
        ({"process-uuid": None}, errno.EINVAL, ["ERROR", "child_up"], "UUID not specified"),
        ({"remote-subvolume": "/no/such/brick"}, errno.ENOENT, ["ERROR", "volume-id"], "Brick not found"),
        (
            {"fops-version": "5"},
            errno.EINVAL,
            ["ERROR", "volume-id", "child_up"],
            "version mismatch: client(5) - client-mgmt(0)",
        ),
        ({"remote-subvolume": None}, errno.EINVAL, ["ERROR"], "No remote-subvolume option specified"),
    ],
)
def test_setvolume_refusals(target, overrides, code, keys, error):
    m = Mount(target.host, target.port, target.volume)
    r = m.setvolume(**overrides)
    m.close()
    assert (r.op_ret, r.op_errno) == (-1, code)
    assert list(r.dict) == keys and r.dict["ERROR"] == error.encode() + b"\0"


def test_setvolume_without_credentials_is_accepted_from_a_local_client(target):
    m = Mount(target.host, target.port, target.volume)
    assert m.setvolume(username=None, password=None).op_ret == 0
    m.close()


def test_brick_getspec_and_null_procedures(mount):
    r = mount.raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, "x", None)).result
    assert (r.op_ret, r.op_errno, r.spec) == (-1, errno.ENOSYS, "<this method is not in use, use glusterd for getspec>")
    assert mount.raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 0).stat == 0  # server_null
    assert mount.raw.call(dump.GF_DUMP_PROGRAM, 1, 0).stat == 3  # no actor


# ---- entry names: server-resolve.c -------------------------------------------------------


@pytest.mark.parametrize("name", [".", "..", ""])
def test_special_names(mount, d, name):
    f = mount.create(d, "f").stat.ia_gfid
    assert err(mount.fop("MKDIR", pargfid=d, bname=name, mode=0o755, xdata=gr())) == errno.EEXIST
    assert err(mount.fop("MKNOD", pargfid=d, bname=name, mode=0o10644, xdata=gr())) == errno.EEXIST
    assert err(mount.fop("SYMLINK", pargfid=d, bname=name, linkname="t", xdata=gr())) == errno.EEXIST
    assert err(mount.fop("LINK", oldgfid=f, newgfid=d, newbname=name)) == errno.EEXIST
    assert err(mount.fop("UNLINK", pargfid=d, bname=name)) == errno.ENOENT
    assert err(mount.fop("RMDIR", pargfid=d, bname=name)) == errno.ENOENT
    assert err(mount.fop("RENAME", oldgfid=d, newgfid=d, oldbname=name, newbname="zz")) == errno.ENOENT
    r = mount.create(d, name)
    assert err(r) == errno.EISDIR and set(r.xdata) == {"gfid-req"}
    lookup = mount.fop("LOOKUP", pargfid=d, bname=name)
    if name:
        assert lookup.op_ret == 0 and lookup.prestat.mode & 0o170000 == 0o040000
    else:
        assert err(lookup) == errno.EINVAL


def test_dot_and_dotdot_lookups(mount, d):
    assert mount.fop("LOOKUP", pargfid=d, bname=".").prestat.ia_gfid == d
    assert mount.fop("LOOKUP", pargfid=d, bname="..").prestat.ia_gfid == ROOT


def test_a_slash_in_a_name_is_eperm(mount, d):
    assert err(mount.create(d, "a/b")) == errno.EPERM
    for proc, fields in [
        ("MKDIR", dict(pargfid=d, bname="a/b", mode=0o755)),
        ("LOOKUP", dict(pargfid=d, bname="a/b")),
        ("UNLINK", dict(pargfid=d, bname="../x")),
        ("RMDIR", dict(pargfid=d, bname="/etc")),
    ]:
        assert err(mount.fop(proc, **fields)) == errno.EPERM, proc


def test_a_non_directory_parent_is_eperm(mount, d):
    f = mount.create(d, "f").stat.ia_gfid
    link = mount.fop("SYMLINK", pargfid=d, bname="out", linkname="/etc", xdata=gr()).stat.ia_gfid
    for parent in (f, link):
        assert err(mount.fop("LOOKUP", pargfid=parent, bname="passwd")) == errno.EPERM
        assert err(mount.create(parent, "evil")) == errno.EPERM
        assert err(mount.fop("MKDIR", pargfid=parent, bname="x", mode=0o755, xdata=gr())) == errno.EPERM


def test_unknown_gfids(mount, d):
    ghost = uuid.uuid4().bytes
    assert err(mount.fop("LOOKUP", gfid=ghost)) == errno.ENOENT  # nameless
    assert err(mount.fop("LOOKUP", pargfid=ghost, bname="x")) == errno.ESTALE
    assert err(mount.fop("STAT", gfid=ghost)) == errno.ESTALE
    assert err(mount.fop("SETATTR", gfid=ghost, valid=1)) == errno.ESTALE
    assert err(mount.fop("ICREATE", gfid=ghost, mode=0o100644)) == errno.ESTALE


def test_long_names(mount, d):
    r = mount.create(d, "x" * 256)
    assert err(r) == errno.ENAMETOOLONG and set(r.xdata) == {"gfid-req"}
    assert mount.create(d, "y" * 255).op_ret == 0


# ---- files, fds, data -----------------------------------------------------------------


def test_create_open_read_write_fds(mount, d):
    c = mount.create(d, "f")
    assert c.op_ret == 0 and set(c.xdata) == {"gfid-req"}
    g = c.stat.ia_gfid
    assert err(mount.create(d, "f", flags=0o302)) == errno.EEXIST  # O_EXCL
    again = mount.create(d, "f", flags=0o102)
    assert again.op_ret == 0 and again.fd != c.fd
    w = mount.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=5, payload=b"hello").result
    assert (w.op_ret, w.prestat.ia_size, w.poststat.ia_size) == (5, 0, 5)
    r = mount.fop("READ", gfid=g, fd=-2, offset=0, size=10)  # anonymous fd
    assert (r.result.op_ret, bytes(r.payload)) == (5, b"hello")
    eof = mount.fop("READ", gfid=g, fd=c.fd, offset=100, size=5)
    assert (eof.result.op_ret, eof.result.op_errno, len(eof.payload)) == (0, errno.ENOENT, 0)
    assert err(mount.fop("READ", gfid=g, fd=99, offset=0, size=5).result) == errno.EBADF
    assert err(mount.fop("FLUSH", gfid=g, fd=77)) == errno.EBADF
    assert mount.fop("RELEASE", gfid=g, fd=c.fd).op_ret == 0
    assert mount.fop("RELEASE", gfid=g, fd=c.fd).op_ret == 0  # an unknown fd: still success


def test_seek_data_and_hole(mount, d):
    c = mount.create(d, "s")
    g = c.stat.ia_gfid
    mount.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=5, payload=b"hello")
    assert err(mount.fop("SEEK", gfid=g, fd=c.fd, offset=5, what=0)) == errno.ENXIO  # SEEK_DATA at EOF
    assert mount.fop("SEEK", gfid=g, fd=c.fd, offset=0, what=1).offset == 5  # SEEK_HOLE -> EOF
    assert err(mount.fop("SEEK", gfid=g, fd=c.fd, offset=50, what=1)) == errno.ENXIO
    mount.fop("TRUNCATE", gfid=g, offset=1 << 20)
    mount.fop("WRITE", gfid=g, fd=c.fd, offset=512 << 10, size=4096, payload=b"x" * 4096)
    assert mount.fop("SEEK", gfid=g, fd=c.fd, offset=8192, what=0).offset == 512 << 10
    assert mount.fop("SEEK", gfid=g, fd=c.fd, offset=512 << 10, what=1).offset == (512 << 10) + 4096


def test_directories(mount, d):
    mount.create(d, "f")
    o = mount.fop("OPENDIR", gfid=d)
    assert (o.op_ret, o.op_errno) == (0, errno.EINVAL)  # posix_opendir leaves EINVAL behind
    r = mount.fop("READDIR", gfid=d, fd=o.fd, offset=0, size=4096)
    assert (r.op_ret, r.op_errno) == (3, errno.ENOENT) and sorted(e.name for e in r.reply) == [".", "..", "f"]
    assert r.reply[-1].d_off == (1 << 63) - 1
    nxt = mount.fop("READDIR", gfid=d, fd=o.fd, offset=r.reply[-1].d_off, size=4096)
    assert (nxt.op_ret, nxt.op_errno, nxt.reply) == (0, errno.ENOENT, ())
    p = mount.fop("READDIRP", gfid=d, fd=o.fd, offset=0, size=4096)
    by = {e.name: e for e in p.reply}
    assert by["."].stat.ia_gfid == d and by["f"].dict == {} and by["f"].stat.mode == 0o100644
    assert err(mount.fop("OPEN", gfid=d, flags=2)) == errno.EISDIR
    assert mount.fop("OPEN", gfid=d, flags=0).op_ret == 0
    assert err(mount.fop("TRUNCATE", gfid=d, offset=0)) == errno.EISDIR


def test_namespace_errors(mount, d):
    sub = mount.mkdir(d, "sub").stat.ia_gfid
    f = mount.create(d, "f").stat.ia_gfid
    mount.mkdir(d, "d2")
    mount.create(sub, "inner")
    assert err(mount.fop("LINK", oldgfid=sub, newgfid=d, newbname="sublink")) == errno.EPERM
    assert err(mount.fop("RMDIR", pargfid=d, bname="sub")) == errno.ENOTEMPTY
    assert err(mount.fop("RMDIR", pargfid=d, bname="f")) == errno.ENOTDIR
    unl = mount.fop("UNLINK", pargfid=d, bname="sub")
    assert err(unl) == errno.EISDIR and unl.xdata == {}
    for old, new, code in [
        ("sub", ("sub", "x"), errno.EINVAL),
        ("f", ("d", "d2"), errno.EISDIR),
        ("d2", ("d", "f"), errno.ENOTDIR),
        ("d2", ("d", "sub"), errno.ENOTEMPTY),
    ]:
        newgfid = sub if new[0] == "sub" else d
        r = mount.fop("RENAME", oldgfid=d, newgfid=newgfid, oldbname=old, newbname=new[1])
        assert err(r) == code and r.xdata == {}, (old, new)
    r = mount.fop("RENAME", oldgfid=d, newgfid=d, oldbname="f", newbname="g")
    assert r.op_ret == 0 and r.stat.ia_gfid == f and r.xdata == {}
    u = mount.fop("UNLINK", pargfid=d, bname="g")
    assert u.op_ret == 0 and u.xdata == {"get-link-count": GfxValue.uint(0)}
    # ENOENT or ESTALE: a real brick answers either, depending on whether its inode table
    # still holds the unlinked inode
    assert err(mount.fop("LINK", oldgfid=f, newgfid=d, newbname="g2")) in (errno.ENOENT, errno.ESTALE)
    assert err(mount.fop("UNLINK", pargfid=d, bname="g")) == errno.ENOENT


def test_symlinks(mount, d):
    s = mount.fop("SYMLINK", pargfid=d, bname="out", linkname="/etc", xdata=gr())
    assert s.op_ret == 0 and s.xdata is None
    r = mount.fop("READLINK", gfid=s.stat.ia_gfid, size=4096)
    assert (r.op_ret, r.op_errno, r.path) == (4, errno.EINVAL, "/etc")
    assert err(mount.fop("OPEN", gfid=s.stat.ia_gfid, flags=0)) == errno.ELOOP


def test_xattrs(mount, d):
    g = mount.create(d, "x").stat.ia_gfid
    assert err(mount.fop("GETXATTR", gfid=g, namelen=1, name="user.nope")) == errno.ENODATA
    s = mount.fop("SETXATTR", gfid=g, dict={"user.k": GfxValue.ptr(b"v1")})
    assert s.op_ret == 0 and list(s.xdata) == ["virt-gf-poststat", "virt-gf-prestat", "dht-get-iatt-in-xattr"]
    assert all(v.type == GfDataType.IATT for v in s.xdata.values())
    r = mount.fop("GETXATTR", gfid=g, namelen=1, name="user.k")
    assert r.op_ret == 2 and r.dict == {"user.k": GfxValue.ptr(b"v1")}
    every = mount.fop("GETXATTR", gfid=g, namelen=0, name="")
    assert (every.op_ret, every.dict) == (16, {"user.k": GfxValue.ptr(b"v1")})
    assert err(mount.fop("SETXATTR", gfid=g, flags=1, dict={"user.k": GfxValue.ptr(b"v2")})) == errno.EEXIST
    assert err(mount.fop("SETXATTR", gfid=g, flags=2, dict={"user.z": GfxValue.ptr(b"v2")})) == errno.ENODATA
    assert err(mount.fop("REMOVEXATTR", gfid=g, name="user.nope")) == errno.ENODATA
    gf = mount.fop("GETXATTR", gfid=g, namelen=1, name="trusted.gfid")
    assert (gf.op_ret, gf.dict) == (16, {})  # the size only; the key is filtered out
    assert err(mount.fop("GETXATTR", gfid=g, namelen=1, name="glusterfs.gfid.string")) == errno.EOPNOTSUPP


def test_odd_procedures(mount, d):
    g = mount.create(d, "o").stat.ia_gfid
    assert err(mount.fop("IPC", op=1)) == errno.EOPNOTSUPP
    assert err(mount.fop("LEASE", gfid=g)) == errno.ENOSYS
    assert mount.fop("ACCESS", gfid=g, mask=4).op_ret == 0
    st = mount.fop("STATFS", gfid=ROOT)
    assert st.op_ret == 0 and st.statfs.bsize > 0 and st.statfs.namemax == 255


# ---- more behaviours read off a real brick (many are quirks a client never notices) ----


def test_ipc(mount):
    assert [mount.fop("IPC", op=op).op_errno for op in range(6)] == [0, 95, 0, 95, 95, 95]


def test_fallocate_only_honours_keep_size(mount, d):
    c = mount.create(d, "fa")
    g = c.stat.ia_gfid
    mount.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=8192, payload=b"\x5a" * 8192)
    r = mount.fop("FALLOCATE", gfid=g, fd=c.fd, flags=0x3, offset=0, size=4096)  # PUNCH_HOLE|KEEP_SIZE
    assert r.op_ret == 0 and r.poststat.ia_size == 8192
    assert bytes(mount.fop("READ", gfid=g, fd=c.fd, offset=0, size=4096).payload) == b"\x5a" * 4096
    r = mount.fop("FALLOCATE", gfid=g, fd=c.fd, flags=0, offset=8192, size=4096)
    assert r.op_ret == 0 and r.poststat.ia_size == 12288


def test_setattr_size_bit_is_ignored(mount, d):
    c = mount.create(d, "sz")
    st = mount.fop("FSTAT", gfid=c.stat.ia_gfid, fd=c.fd).stat
    import dataclasses

    r = mount.fop("SETATTR", gfid=c.stat.ia_gfid, stbuf=dataclasses.replace(st, ia_size=4096), valid=0x8)
    assert r.op_ret == 0 and r.poststat.ia_size == 0


def test_statfs_of_the_null_gfid_is_einval(mount):
    assert err(mount.fop("STATFS", gfid=bytes(16))) == errno.EINVAL


def test_read_op_errno_says_whether_the_end_was_reached(mount, d):
    c = mount.create(d, "rd")
    g = c.stat.ia_gfid
    mount.fop("WRITE", gfid=g, fd=c.fd, offset=0, size=10000, payload=b"a" * 10000)
    middle = mount.fop("READ", gfid=g, fd=c.fd, offset=0, size=4096).result
    short = mount.fop("READ", gfid=g, fd=c.fd, offset=8192, size=4096).result
    assert (middle.op_ret, middle.op_errno) == (4096, 0)
    assert (short.op_ret, short.op_errno) == (10000 - 8192, errno.ENOENT)


def test_readdirp_with_no_room_returns_nothing(mount, d):
    o = mount.fop("OPENDIR", gfid=d)
    r = mount.fop("READDIRP", gfid=d, fd=o.fd, offset=0, size=100)
    assert (r.op_ret, r.op_errno, r.reply) == (0, 0, ())


def test_readdirp_of_an_empty_directory(mount, d):
    o = mount.fop("OPENDIR", gfid=d)
    r = mount.fop("READDIRP", gfid=d, fd=o.fd, offset=0, size=4096)
    by = {e.name: e for e in r.reply}
    assert set(by) == {".", ".."} and by["."].stat.ia_gfid == d and by[".."].stat.ia_gfid == ROOT


def test_xattr_list_and_remove(mount, d):
    """(On success a real brick leaves whatever errno posix last saw in op_errno for RMDIR,
    GETXATTR-all and REMOVEXATTR — it varies from call to call, so it is not asserted.)"""
    mount.mkdir(d, "gone")
    assert mount.fop("RMDIR", pargfid=d, bname="gone").op_ret == 0
    g = mount.create(d, "x").stat.ia_gfid
    mount.fop("SETXATTR", gfid=g, dict={"user.a": GfxValue.ptr(b"1"), "trusted.t": GfxValue.ptr(b"2")})
    every = mount.fop("GETXATTR", gfid=g, namelen=0, name="")
    assert every.op_ret == 16 and set(every.dict) == {"user.a", "trusted.t"}
    rm = mount.fop("REMOVEXATTR", gfid=g, name="user.a")
    assert rm.op_ret == 0
    assert list(rm.xdata) == ["virt-gf-poststat", "virt-gf-prestat", "dht-get-iatt-in-xattr"]


def test_xattr_namespaces_and_failures(mount, d):
    g = mount.create(d, "ns").stat.ia_gfid
    missing = mount.fop("GETXATTR", gfid=g, namelen=1, name="user.none")
    assert (missing.op_ret, missing.op_errno, missing.dict) == (-1, errno.ENODATA, {})
    assert err(mount.fop("GETXATTR", gfid=g, namelen=1, name="system.posix_acl_access")) == errno.ENODATA
    assert err(mount.fop("GETXATTR", gfid=g, namelen=1, name="nonamespace")) == errno.EOPNOTSUPP
    assert err(mount.fop("SETXATTR", gfid=g, dict=None)) == errno.EINVAL
    link = mount.fop("SYMLINK", pargfid=d, bname="l", linkname="ns", xdata=gr()).stat.ia_gfid
    assert err(mount.fop("SETXATTR", gfid=link, dict={"user.k": GfxValue.ptr(b"v")})) == errno.EPERM


def test_new_objects_need_a_gfid_req(mount, d):
    assert err(mount.fop("MKDIR", pargfid=d, bname="nogfid", mode=0o755)) == errno.EINVAL
    assert err(mount.fop("CREATE", pargfid=d, bname="nogfid", mode=0o644, flags=0o102)) == errno.EINVAL


def test_readlink_of_size_zero_and_rchecksum(mount, d):
    s = mount.fop("SYMLINK", pargfid=d, bname="l0", linkname="target", xdata=gr()).stat.ia_gfid
    assert err(mount.fop("READLINK", gfid=s, size=0)) == errno.EINVAL
    c = mount.create(d, "ck")
    mount.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=4, payload=b"data")
    r = mount.fop("RCHECKSUM", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, len=4)
    assert r.op_ret == 0 and set(r.xdata) == {"fips-mode-rchecksum"}
