"""``locks.mandatory-locking`` at the wire level, on the fake and on a real 10.3 volume alike:
in "forced" mode every granted posix lock of another (client, owner) holds back the READs,
WRITEs and (F)TRUNCATEs over its range (a read only by a write lock); a FOP through an fd
waits until the locks change, one without an fd (TRUNCATE) or through an O_NONBLOCK fd gets
EAGAIN, and so does an OPEN with O_TRUNC while any lock is held.  In "optimal" mode only the
locks taken with ``glusterfs.lk.lkmode`` = GF_LK_MANDATORY count; "file" mode enforces nothing
on 10.3 (not even on a setgid file).  Internal clients (negative pid) pass.  Read off the
real brick first.
"""

from __future__ import annotations

import dataclasses
import errno
import uuid

import pytest

from fakegluster.proto.common import GfProtoFlock
from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount, v3

O1, O2, O3 = b"owner-01", b"owner-02", b"owner-03"
SETLK, RDLCK, WRLCK, UNLCK = 1, 0, 1, 2
O_RDWR, O_TRUNC, O_NONBLOCK = 2, 0o1000, 0o4000
BIG = 5 << 20
MANDATORY = {"glusterfs.lk.lkmode": GfxValue.int(1)}


@dataclasses.dataclass
class Vol:
    host: str
    port: int
    volume: str
    mode: str


@pytest.fixture(scope="module", params=["fake", "real"])
def backend(request):
    """A volume whose ``locks.mandatory-locking`` a test sets with ``use(mode)``."""
    if request.param == "fake":
        holder: dict[str, FakeGluster] = {}

        def use(mode: str) -> Vol:
            if mode not in holder:
                server = FakeGluster(["mv"], ["tcp://127.0.0.1:0"], options={"locks.mandatory-locking": mode})
                holder[mode] = server.__enter__()
            return Vol("127.0.0.1", holder[mode].info.port, "mv", mode)

        yield use
        for server in holder.values():
            server.__exit__(None, None, None)
        return
    vol = request.getfixturevalue("real_gluster").create_volume(options={"locks.mandatory-locking": "forced"})
    current = ["forced"]

    def use_real(mode: str) -> Vol:
        if current[0] != mode:
            vol.gluster("volume", "set", vol.name, "locks.mandatory-locking", mode)
            current[0] = mode
        return Vol("127.0.0.1", 24007, vol.name, mode)

    try:
        yield use_real
    finally:
        vol.delete()


class Pair:
    """Two clients on one file of 300 bytes: ``a`` has it open (fd ``fa``), ``b`` too (``fb``,
    and ``fbn`` with O_NONBLOCK)."""

    def __init__(self, vol: Vol, mode: int = 0o644) -> None:
        self.a, self.b = (Mount(vol.host, vol.port, vol.volume) for _ in range(2))
        d = self.a.mkdir(ROOT, f"m-{uuid.uuid4().hex[:8]}").stat.ia_gfid
        cr = self.a.create(d, "f", mode)
        self.g, self.fa = cr.stat.ia_gfid, cr.fd
        assert self.a.fop("WRITE", gfid=self.g, fd=self.fa, offset=0, size=300, payload=b"z" * 300).result.op_ret == 300
        self.fb = self.b.fop("OPEN", gfid=self.g, flags=O_RDWR).fd
        self.fbn = self.b.fop("OPEN", gfid=self.g, flags=O_RDWR | O_NONBLOCK).fd

    def lk(self, m, fd, type_, owner, start=0, length=0, xdata=None):
        flock = GfProtoFlock(type=type_, whence=0, start=start, len=length, pid=100, lk_owner=owner)
        r = m.fop("LK", cred=v3(100, owner=owner), gfid=self.g, fd=fd, cmd=SETLK, type=type_, flock=flock, xdata=xdata)
        return r.op_ret, r.op_errno

    def io(self, m, name, fd, offset, size, owner=O2, pid=100, wait=0.5):
        """READ or WRITE: (op_ret, op_errno), or ("held", xid) when unanswered after ``wait``."""
        extra = {"payload": b"w" * size} if name == "WRITE" else {}
        x = m.send(name, cred=v3(pid, owner=owner), gfid=self.g, fd=fd, offset=offset, size=size, flag=0, **extra)
        if not m.raw.answered(x, wait):
            return "held", x
        return self.answer(m, name, x)

    def answer(self, m, name, xid, timeout=5):
        r = m.reply(name, xid, timeout)
        r = r.result if hasattr(r, "result") else r
        return r.op_ret, r.op_errno

    def fop(self, m, name, owner=O2, **fields):
        r = m.fop(name, cred=v3(100, owner=owner), gfid=self.g, **fields)
        return r.op_ret, r.op_errno

    def close(self):
        self.a.close()
        self.b.close()


@pytest.fixture
def forced(backend):
    p = Pair(backend("forced"))
    yield p
    p.close()


def test_forced_locks_hold_back_io_over_their_range(forced):
    p = forced
    a, b = p.a, p.b
    assert p.lk(a, p.fa, WRLCK, O1, 0, 100) == (0, 0)
    read = p.io(b, "READ", p.fb, 0, 10)
    assert read[0] == "held"
    assert p.io(b, "READ", p.fb, 200, 10) == (10, 0)  # outside the range
    assert p.io(b, "WRITE", p.fb, 150, 10) == (10, 0)
    assert p.io(b, "WRITE", p.fbn, 50, 10) == (-1, errno.EAGAIN)  # O_NONBLOCK: no waiting
    anon = p.io(b, "WRITE", -2, 50, 10)  # the anonymous fd is O_RDWR: it waits
    assert anon[0] == "held"
    assert p.io(a, "READ", p.fa, 0, 10, owner=O1) == (10, 0)  # the lock's own owner
    other = p.io(a, "READ", p.fa, 0, 10, owner=O3)  # another owner on the same client
    assert other[0] == "held"
    same = p.io(b, "READ", p.fb, 0, 10, owner=O1)  # the same owner on another client
    assert same[0] == "held"
    assert p.io(b, "READ", p.fbn, 0, 10, pid=-6) == (10, 0)  # internal clients pass
    # no fd: no waiting either
    assert p.fop(b, "TRUNCATE", offset=50) == (-1, errno.EAGAIN)
    assert p.fop(b, "TRUNCATE", offset=400) == (0, 0)
    assert p.fop(b, "FTRUNCATE", fd=p.fbn, offset=50) == (-1, errno.EAGAIN)
    # an OPEN that truncates: refused while any lock is held, even to the lock's owner
    assert p.fop(b, "OPEN", flags=O_RDWR | O_TRUNC) == (-1, errno.EAGAIN)
    assert p.fop(a, "OPEN", owner=O1, flags=O_RDWR | O_TRUNC) == (-1, errno.EAGAIN)
    assert p.fop(b, "OPEN", flags=O_RDWR)[0] == 0
    # the unlock lets every held FOP through
    assert p.lk(a, p.fa, UNLCK, O1) == (0, 0)
    assert p.answer(b, "READ", read[1]) == (10, 0)
    assert p.answer(b, "WRITE", anon[1]) == (10, 0)
    assert p.answer(a, "READ", other[1]) == (10, 0)
    assert p.answer(b, "READ", same[1]) == (10, 0)


def test_forced_read_locks_hold_back_writes_only(forced):
    p = forced
    a, b = p.a, p.b
    assert p.lk(a, p.fa, RDLCK, O1, 0, 100) == (0, 0)
    assert p.io(b, "READ", p.fb, 0, 10) == (10, 0)
    write = p.io(b, "WRITE", p.fb, 0, 10)
    assert write[0] == "held"
    a.fop("FLUSH", cred=v3(100, owner=O1), gfid=p.g, fd=p.fa)  # FLUSH drops the owner's locks
    assert p.answer(b, "WRITE", write[1]) == (10, 0)


def test_forced_locks_of_a_gone_client_stop_holding_io(forced):
    p = forced
    a, b = p.a, p.b
    assert p.lk(b, p.fb, WRLCK, O2, 0, 10) == (0, 0)
    write = p.io(a, "WRITE", p.fa, 0, 5, owner=O1)
    big = p.io(a, "WRITE", p.fa, 0, BIG, owner=O1)  # (the fake writes this in slices)
    assert write[0] == big[0] == "held"
    b.close()
    assert p.answer(a, "WRITE", write[1]) == (5, 0)
    assert p.answer(a, "WRITE", big[1]) == (BIG, 0)


def test_optimal_counts_only_mandatory_locks(backend):
    p = Pair(backend("optimal"))
    try:
        a, b = p.a, p.b
        assert p.lk(a, p.fa, WRLCK, O1, 0, 100) == (0, 0)  # advisory
        assert p.io(b, "WRITE", p.fb, 0, 10) == (10, 0)
        assert p.fop(b, "OPEN", flags=O_RDWR | O_TRUNC)[0] == 0
        assert p.lk(a, p.fa, WRLCK, O1, 200, 10, xdata=MANDATORY) == (0, 0)
        write = p.io(b, "WRITE", p.fb, 200, 10)
        assert write[0] == "held"
        assert p.fop(b, "OPEN", flags=O_RDWR | O_TRUNC) == (-1, errno.EAGAIN)
        # lock against lock: the mode makes no difference
        assert p.lk(b, p.fb, WRLCK, O2, 50, 10, xdata=MANDATORY) == (-1, errno.EAGAIN)
        assert p.lk(a, p.fa, UNLCK, O1, 200, 10) == (0, 0)
        assert p.answer(b, "WRITE", write[1]) == (10, 0)
    finally:
        p.close()


def test_file_mode_enforces_nothing(backend):
    p = Pair(backend("file"), mode=0o2644)  # not even on a setgid file without group x
    try:
        a, b = p.a, p.b
        assert p.lk(a, p.fa, WRLCK, O1, 0, 100, xdata=MANDATORY) == (0, 0)
        assert p.io(b, "WRITE", p.fb, 0, 10) == (10, 0)
        assert p.fop(b, "OPEN", flags=O_RDWR | O_TRUNC)[0] == 0
    finally:
        p.close()
