"""Requests that look ordinary and used to break the server (issue #14, defects 1-5): each
runs on the fake and on a real GlusterFS 10.3 brick/glusterd, with the same assertions; the
expected values were read off the real one (``tools``-free: the probes are these tests).

* a READ of 2 GiB or more: capped at 2147479552 bytes (Linux's MAX_RW_COUNT in
  ``posix_readv``'s pread), never a dead server;
* SETATTR times utimensat refuses (tv_nsec >= 1e9: EINVAL, after chown/chmod already
  happened) or clamps (ext4's range, nanoseconds dropped at the bounds);
* pre-1970 times in ``trusted.glusterfs.mdata`` (two's complement seconds);
* GETSPEC for a volume name that is not UTF-8 (op_ret -1, ENOENT);
* 4,000 READs pipelined in one send, all answered.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import uuid

import pytest

from fakegluster.proto import Call, Role, RpcConnection, cli, fops, handshake
from fakegluster.proto.common import GfxIattx, GfxMdataIatt
from fakegluster.proto.events import NEED_DATA
from fakegluster.proto.gfdict import GfDataType, GfxValue, old_dict
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, lk_owner_for_pid
from fakegluster.proto.xdr import encode
from tests.rawclient import ROOT, Mount, Raw, v3

MDATA = "trusted.glusterfs.mdata"
#: Linux's MAX_RW_COUNT: INT_MAX rounded down to a 4 KiB page
MAX_RW_COUNT = (2**31 - 1) & ~4095


@pytest.fixture
def d(mount):
    return mount.mkdir(ROOT, f"h-{uuid.uuid4().hex[:8]}").stat.ia_gfid


@pytest.fixture(autouse=True)
def _no_server_tracebacks(caplog):
    """The fake logs a traceback for every request it could not answer: none may appear."""
    caplog.set_level(logging.ERROR, logger="fakegluster")
    yield
    errors = [r for r in caplog.records if r.name.startswith("fakegluster") and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data = sock.recv(min(n - len(buf), 1 << 20))
        if not data:
            raise ConnectionResetError(f"closed after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def _streamed_read(m: Mount, gfid: bytes, fd: int, size: int) -> tuple[int, int, int]:
    """One READ whose reply is counted, not kept: (record length, op_ret, op_errno)."""
    conn = RpcConnection(Role.CLIENT)
    req = fops.GfxReadReq(gfid, fd, 0, size, 0, None)
    m.raw.sock.sendall(conn.send(Call(7777, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, req, cred=v3())))
    m.raw.sock.settimeout(120)
    (mark,) = struct.unpack(">I", _recv_exact(m.raw.sock, 4))
    length = mark & 0x7FFFFFFF
    xid, _, _, _, _, stat, op_ret, op_errno = struct.unpack(">IIIIIIii", _recv_exact(m.raw.sock, 32))
    assert (xid, stat) == (7777, 0)
    left = length - 32
    while left:
        chunk = m.raw.sock.recv(min(left, 4 << 20))
        assert chunk, "the server closed the connection in the middle of the reply"
        left -= len(chunk)
    return length, op_ret, op_errno


def test_a_read_of_2_gib_or_more_is_capped(target, d):
    """Defect 1: op_ret is an int32; the real brick answers 2147479552 bytes (and goes on)."""
    m = Mount(target.host, target.port, target.volume)
    try:
        c = m.create(d, "big.raw")
        assert m.fop("TRUNCATE", gfid=c.stat.ia_gfid, offset=3 << 30).op_ret == 0
        record, op_ret, op_errno = _streamed_read(m, c.stat.ia_gfid, c.fd, 2**31)
        assert (op_ret, op_errno) == (MAX_RW_COUNT, 0)
        assert record == 24 + 172 + op_ret  # RPC reply header, gfx_read_rsp (empty xdata), the data
        assert m.fop("STAT", gfid=c.stat.ia_gfid).stat.ia_size == 3 << 30  # the connection goes on
    finally:
        m.close()


# (seconds, nanoseconds, valid) -> what a 10.3 brick on ext4 answers and then reports
TIME_MAX, TIME_MIN = 2**31 - 1 + (3 << 32), -(2**31)  # ext4 s_time_max / s_time_min


@pytest.mark.parametrize(
    "sec,nsec,valid,expect",
    [
        (2**63 - 1, 10**9, 0x20, errno.EINVAL),  # the defect: stored, then nothing encoded
        (1000, 10**9, 0x20, errno.EINVAL),
        (1000, 2**32 - 1, 0x20, errno.EINVAL),
        (2**63 - 1, 0, 0x20, (TIME_MAX, 0)),
        (20_000_000_000, 5, 0x20, (TIME_MAX, 0)),  # nanoseconds dropped at the bound
        (-(2**63), 7, 0x20, (TIME_MIN, 0)),
        (-315619201, 500_000_000, 0x20, (-315619201, 500_000_000)),
        (-1, 0, 0x20, (-1, 0)),
    ],
)
def test_setattr_times_as_utimensat_takes_them(mount, d, sec, nsec, valid, expect):
    f = mount.create(d, "t").stat.ia_gfid
    before = mount.fop("STAT", gfid=f).stat
    r = mount.fop("SETATTR", gfid=f, stbuf=GfxIattx(ia_mtime=sec, ia_mtime_nsec=nsec), valid=valid)
    after = mount.fop("STAT", gfid=f).stat
    if expect == errno.EINVAL:
        assert (r.op_ret, r.op_errno) == (-1, errno.EINVAL)
        assert (after.ia_mtime, after.ia_mtime_nsec) == (before.ia_mtime, before.ia_mtime_nsec)
    else:
        assert r.op_ret == 0 and (r.poststat.ia_mtime, r.poststat.ia_mtime_nsec) == expect
        assert (after.ia_mtime, after.ia_mtime_nsec) == expect
    assert (after.ia_atime, after.ia_atime_nsec) == (before.ia_atime, before.ia_atime_nsec)


def test_an_invalid_time_fails_after_the_mode_changed(mount, d):
    """posix_setattr: chown, chmod, then utimes -- each applied as it goes."""
    f = mount.create(d, "m").stat.ia_gfid
    r = mount.fop("SETATTR", gfid=f, stbuf=GfxIattx(mode=0o600, ia_mtime=1, ia_mtime_nsec=10**9), valid=0x21)
    assert (r.op_ret, r.op_errno) == (-1, errno.EINVAL)
    assert mount.fop("STAT", gfid=f).stat.mode & 0o7777 == 0o600


def test_an_invalid_time_on_the_root_changes_nothing_and_breaks_nothing(target, mount):
    """Defect 2: afterwards every reply carrying the root's attributes still encodes, and a
    new client still mounts."""
    before = mount.fop("STAT", gfid=ROOT).stat
    bad = GfxIattx(ia_mtime=2**63 - 1, ia_mtime_nsec=10**9)
    r = mount.fop("SETATTR", gfid=ROOT, stbuf=bad, valid=0x20)
    assert (r.op_ret, r.op_errno) == (-1, errno.EINVAL)
    assert mount.fop("STAT", gfid=ROOT).stat.ia_mtime == before.ia_mtime
    assert mount.fop("LOOKUP", gfid=ROOT, pargfid=bytes(16), bname="").op_ret == 0
    again = Mount(target.host, target.port, target.volume)
    assert again.setvolume_reply.op_ret == 0 and again.fop("STAT", gfid=ROOT).op_ret == 0
    again.close()


def _utime_cred():
    """The credential of a client with the utime xlator (flags 31 and a ctime): the brick then
    keeps trusted.glusterfs.mdata for the new file."""
    return AuthGlusterfsParamsV3(pid=1, lk_owner=lk_owner_for_pid(1), flags=31, ctime_sec=1700000000, ctime_nsec=5)


def test_pre_1970_times_in_mdata(mount, d):
    """Defect 3: the mdata blob's seconds are htobe64 of a signed tv_sec."""
    proc = fops.PROGRAM["CREATE"]
    args = proc.args(
        pargfid=d, bname="old.img", mode=0o644, flags=0o102, xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}
    )
    f = mount.raw.call(fops.GLUSTER_FOP_PROGRAM, 400, proc.num, args, cred=_utime_cred()).result.stat.ia_gfid
    st = GfxIattx(ia_mtime=-315619201, ia_mtime_nsec=500_000_000, ia_atime=-315619200)
    assert mount.fop("SETATTR", gfid=f, stbuf=st, valid=0x30).op_ret == 0
    lk = mount.fop("LOOKUP", gfid=bytes(16), pargfid=d, bname="old.img", xdata={MDATA: GfxValue.int(1)})
    assert lk.op_ret == 0 and (lk.prestat.ia_mtime, lk.prestat.ia_mtime_nsec) == (-315619201, 500_000_000)
    blob = lk.xdata[MDATA].value
    assert len(blob) == 57 and blob[0] == 1
    # version, flags, then (sec, nsec) of ctime, mtime, atime, each an 8-byte big-endian word
    assert struct.unpack(">qQ", blob[25:41]) == (-315619201, 500_000_000)
    assert struct.unpack(">qQ", blob[41:57]) == (-315619200, 0)
    assert blob[25:33] == (2**64 - 315619201).to_bytes(8, "big")


@pytest.mark.parametrize("name", ["\udcff\udcfe", "vol\udce9", "\udc80" * 300, "\udc80" * 254, "{volume}\0\udcff"])
@pytest.mark.parametrize("via", ["tcp", "unix"])
def test_getspec_of_a_name_that_is_not_utf8(target, name, via):
    """Defect 5: any bytes are a name glusterd does not know; the name ends at a NUL (a C
    string); NAME_MAX bytes or more: EINVAL, op_ret the decoded length of the arguments."""
    raw = Raw(target.host, target.port) if via == "tcp" else Raw("", unix=target.unix)
    versions = old_dict({"max-op-version": "100000", "min-op-version": "1"})
    args = handshake.GfGetspecReq(1, name.format(volume=target.volume), versions)
    r = raw.call(handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, args)
    raw.close()
    assert r.stat == 0
    if "{volume}" in name:
        assert r.result.op_ret == len(r.result.spec.encode()) > 0 and "protocol/client" in r.result.spec
    elif len(name.encode("utf-8", "surrogateescape")) >= 255:
        assert (r.result.op_ret, r.result.op_errno) == (len(encode(handshake.GfGetspecReq, args)), errno.EINVAL)
    else:
        assert (r.result.op_ret, r.result.op_errno) == (-1, errno.ENOENT)


def test_4000_pipelined_reads_are_all_answered(mount, d):
    """Defect 4: replies to more than IOV_MAX calls of one receive go out in several sendmsg."""
    c = mount.create(d, "p.raw")
    mount.fop("WRITE", gfid=c.stat.ia_gfid, fd=c.fd, offset=0, size=4096, payload=b"\x5a" * 4096)
    conn = RpcConnection(Role.CLIENT)
    req = fops.GfxReadReq(c.stat.ia_gfid, c.fd, 0, 4096, 0, None)
    n = 4000
    data = b"".join(
        conn.send(Call(100_000 + i, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, req, cred=v3())) for i in range(n)
    )
    sock = mount.raw.sock
    sock.settimeout(30)
    sock.sendall(data)
    xids = []
    while len(xids) < n:
        chunk = sock.recv(1 << 20)
        assert chunk, f"connection closed after {len(xids)} replies"
        conn.receive_data(chunk)
        while (ev := conn.next_event()) is not NEED_DATA:
            assert ev.result.op_ret == 4096 and bytes(ev.payload) == b"\x5a" * 4096
            xids.append(ev.xid)
    assert sorted(xids) == list(range(100_000, 100_000 + n))


# ---- the fake only: no reply that cannot be encoded escapes; both stores serve old files --


class _Unencodable:
    """A session whose READ handler returns a reply no XDR encoder takes (op_ret > 2^31-1)."""

    def handle(self, call):
        if call.proc == fops.GfFop.READ:
            return fops.GfxReadRsp(2**31, 0, GfxIattx(), 0, None), b""
        return fops.GfxCommonRsp(0, 0, None), b""


def test_a_reply_that_cannot_be_encoded_is_answered_system_err_and_the_connection_goes_on(caplog):
    from fakegluster.server.net import Dispatcher

    caplog.set_level(logging.CRITICAL, logger="fakegluster")  # the error is logged, and expected
    d = Dispatcher(
        _Unencodable(),
        [fops.BRICK_PROGRAM],
        name="brick",
        peer="test",
        connection_id=1,
        calls=None,
        faults=None,
        max_record=None,
    )
    client = RpcConnection(Role.CLIENT)
    read = Call(1, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, fops.GfxReadReq(ROOT, 0, 0, 1, 0, None))
    flush = Call(2, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.FLUSH, fops.GfxFlushReq(ROOT, 0, None))
    out = d.feed(client.send(read) + client.send(flush))
    assert not d.closing and d.errors == 1
    client.receive_data(b"".join(bytes(b) for b in out))
    first, second = client.next_event(), client.next_event()
    assert (first.xid, first.stat) == (1, 5)  # SYSTEM_ERR for that call alone
    assert (second.xid, second.stat, second.result.op_ret) == (2, 0, 0)


def test_a_directory_volume_serves_a_file_from_before_1970(tmp_path):
    """Defect 3 on the directory store: ``touch -d 1960-01-01 DIR/old.img``.  Made by hand, it
    has no mdata until a client stamps it (the utime xlator's ``set-ctime-mdata`` after such a
    LOOKUP; tests/server/test_mdata.py)."""
    import os

    from fakegluster.server import FakeGluster

    old = tmp_path / "old.img"
    old.write_bytes(b"x" * 512)
    when = -315619200  # 1960-01-01T00:00:00Z
    os.utime(old, (when, when))
    with FakeGluster([f"dirvol={tmp_path}"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "dirvol")
        lk = m.fop(
            "LOOKUP",
            gfid=bytes(16),
            pargfid=ROOT,
            bname="old.img",
            xdata={MDATA: GfxValue.int(1), "gfid-req": GfxValue.uuid(uuid.uuid4().bytes)},
        )
        assert lk.op_ret == 0 and lk.prestat.ia_mtime == when and MDATA not in (lk.xdata or {})
        stamp = GfxValue(GfDataType.MDATA, GfxMdataIatt(when, when, when))
        assert m.fop("SETXATTR", gfid=lk.prestat.ia_gfid, flags=0, dict={"set-ctime-mdata": stamp}).op_ret == 0
        lk = m.fop("LOOKUP", gfid=bytes(16), pargfid=ROOT, bname="old.img", xdata={MDATA: GfxValue.int(1)})
        assert struct.unpack(">qQ", lk.xdata[MDATA].value[25:41]) == (when, 0)
        m.close()


def test_an_xattr_name_ends_at_its_first_nul(mount, d):
    """Found by tools/fuzz.py (the directory store raised on the NUL): the server copies the
    name with gf_strdup, so ``user.a\\0b`` is ``user.a`` on a real 10.3 brick."""
    g = mount.create(d, "x").stat.ia_gfid
    assert mount.fop("SETXATTR", gfid=g, dict={"user.a": GfxValue.ptr(b"v1")}, flags=0).op_ret == 0
    for name in ("user.a\0b", "user.a\0"):
        r = mount.fop("GETXATTR", gfid=g, namelen=len(name), name=name)
        assert (r.op_ret, {k: bytes(v.value) for k, v in r.dict.items()}) == (2, {"user.a": b"v1"})
    assert mount.fop("REMOVEXATTR", gfid=g, name="user.a\0zz").op_ret == 0
    assert mount.fop("GETXATTR", gfid=g, namelen=6, name="user.a").op_errno == errno.ENODATA


class _Slow:
    """A session whose every call keeps the server busy 60 ms (> net.SLOW_CALL)."""

    def handle(self, call):
        import time

        time.sleep(0.06)
        if call.prog == cli.GLUSTER_CLI_PROGRAM:
            return cli.Gf1CliGetwdRsp(0, 0, "/var/lib/glusterd"), b""
        return fops.GfxCommonRsp(0, 0, None), b""


def test_a_slow_call_is_logged_as_a_warning_but_not_a_cli_command(caplog):
    """Every other client waits while a call runs: a slow FOP is a WARNING naming it; a gluster
    CLI command (a volume create or delete makes or removes stores; seconds on a real glusterd)
    only a DEBUG line."""
    from fakegluster.server.net import Dispatcher

    caplog.set_level(logging.DEBUG, logger="fakegluster")
    d = Dispatcher(_Slow(), [fops.BRICK_PROGRAM, cli.PROGRAM], name="brick", peer="test", connection_id=1,
                   calls=None, faults=None, max_record=None)  # fmt: skip
    client = RpcConnection(Role.CLIENT)
    getwd = Call(1, cli.GLUSTER_CLI_PROGRAM, cli.GLUSTER_CLI_VERSION, cli.GlusterCliProcnum.GLUSTER_CLI_GETWD,
                 cli.Gf1CliGetwdReq(0))  # fmt: skip
    flush = Call(2, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.FLUSH, fops.GfxFlushReq(ROOT, 0, None))
    client.receive_data(b"".join(bytes(b) for b in d.feed(client.send(getwd) + client.send(flush))))
    assert [client.next_event().xid, client.next_event().xid] == [1, 2]
    slow = [(r.levelno, r.getMessage()) for r in caplog.records if " took " in r.getMessage()]
    assert [(level, "GETWD" in text, "FLUSH" in text) for level, text in slow] == [
        (logging.DEBUG, True, False),
        (logging.WARNING, False, True),
    ]
