"""The READ fast path (``BrickSession.fast`` -> ``FopHandlers.fast_read`` -> ``Dispatcher._fast_reply``)
answers byte for byte what the generic path (``handle`` -> ``handle_now`` -> ``op_read`` ->
``reply_buffers``) answers, logs the same call, and steps aside whenever a translator above
posix would have a say.  Two identical bricks, one with the fast path switched off, get the
same calls; the generic one is the reference (held to real 10.3 bricks by the conformance and
interop suites)."""

from __future__ import annotations

import dataclasses
import functools
import logging
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto import AcceptStat, Call, Role, RpcConnection, common, fops, rpc
from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import dispatch
from fakegluster.server.brick import Brick, BrickSession
from fakegluster.server.calllog import CallLog
from fakegluster.server.fops import ANON_FD, SLICE_IO
from fakegluster.server.net import Dispatcher
from fakegluster.store.memory import BLOCK, MemoryStore

GFID = bytes(range(1, 17))
MISSING = bytes(range(2, 18))
SIZE = 3 * BLOCK + 1000
CRED = rpc.AuthGlusterfsParamsV3(pid=1, lk_owner=rpc.lk_owner_for_pid(1))


class Side:
    """A brick with one file (data, a hole, data) and a connection bound to it, fds open
    read-only, write-only and read-write."""

    def __init__(self, fast: bool, touched: bool = False) -> None:
        self.store = MemoryStore(clock=lambda: 1_700_000_000_123_456_789)
        self.store.create(common.ROOT_GFID, "f", 0o644, uid=0, gid=0, gfid=GFID)
        self.store.write(GFID, 0, bytes(range(256)) * 16)
        self.store.write(GFID, 2 * BLOCK + 7, b"\xa5" * (SIZE - 2 * BLOCK - 7))
        self.brick = Brick("v", "/b", self.store)
        if touched:
            self.brick.touched = {}
        self.session = BrickSession(self.brick)
        self.session.bound = True
        self.calls = CallLog()
        self.d = Dispatcher(
            self.session, [fops.BRICK_PROGRAM], name="b", peer="p", connection_id=1, calls=self.calls, faults=None,
            max_record=None,
        )  # fmt: skip
        if not fast:
            self.d.fast = None
        self.client = RpcConnection(Role.CLIENT)
        self.xid = 0
        self.fds = {flags: self.call(fops.GfFop.OPEN, fops.GfxOpenReq(GFID, flags)).fd for flags in (0, 1, 2)}

    def send(self, proc: int, args: object) -> bytes:
        self.xid += 1
        out = self.d.feed(self.client.send(Call(self.xid, fops.GLUSTER_FOP_PROGRAM, 400, proc, args, CRED)))
        while self.d.more:  # a READ over SLICE_IO runs a piece per slice: resume as the loop does
            out += self.d.resume()
        return b"".join(bytes(b) for b in out)

    def call(self, proc: int, args: object) -> object:
        self.client.receive_data(self.send(proc, args))
        return self.client.next_event().result


def _log(side: Side) -> list[object]:
    return [dataclasses.replace(r, time=0.0) for r in side.calls]


FDS = st.sampled_from(["ro", "wo", "rw", "anon", "anon-missing", "anon-dir", "bogus"])
OFFSETS = st.one_of(st.integers(0, SIZE + BLOCK), st.sampled_from([2 * BLOCK, 2 * BLOCK + 7, 1 << 62, (1 << 64) - 1]))
SIZES = st.one_of(st.integers(0, 3 * BLOCK), st.sampled_from([BLOCK, SLICE_IO, SLICE_IO + 1]))
XDATA = st.sampled_from([None, {}, {"glusterfs.open-fd-count": GfxValue.int(1)}])


def _read_args(side: Side, fd: str, offset: int, size: int, xdata: object) -> fops.GfxReadReq:
    gfid = {"anon-missing": MISSING, "anon-dir": common.ROOT_GFID}.get(fd, GFID)
    number = {"ro": side.fds[0], "wo": side.fds[1], "rw": side.fds[2], "bogus": 4242}.get(fd, ANON_FD)
    return fops.GfxReadReq(gfid, number, offset, size, 0, xdata)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(FDS, OFFSETS, SIZES, XDATA), min_size=1, max_size=8), st.booleans())
def test_fast_reads_answer_and_log_what_the_generic_path_does(reads, touched):
    fast, generic = Side(True, touched), Side(False, touched)
    for fd, offset, size, xdata in reads:
        a, b = (s.send(fops.GfFop.READ, _read_args(s, fd, offset, size, xdata)) for s in (fast, generic))
        assert a and a == b  # every READ is answered (a sliced one too), the same on both
    assert _log(fast) == _log(generic)
    assert fast.store.getattr(GFID) == generic.store.getattr(GFID)
    if touched:
        assert fast.brick.touched.keys() == generic.brick.touched.keys()


def test_a_plain_read_takes_the_fast_path():
    side = Side(True)
    call = Call(9, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, _read_args(side, "ro", 100, 4096, None), CRED)
    result, data = side.session.fast(call)
    assert result.op_ret == 4096 and bytes(data) == (bytes(range(256)) * 16)[100:] + bytes(100)


def _toggle(side: Side, what: str) -> None:
    state = side.brick.state
    if what == "upcalls":
        state.configure({"features.cache-invalidation": "on"})
    elif what == "leases":
        state.configure({"features.leases": "on"})
    elif what == "mandatory":
        state.configure({"locks.mandatory-locking": "forced"})
    elif what == "slow brick":
        state.faults.slow(0.5, ["READ"])
    elif what == "arbiter":
        side.brick.arbiter = True
    elif what == "frozen":
        side.brick.status = "frozen"
    elif what == "unbound":
        side.session.bound = False


def test_the_fast_path_steps_aside_when_a_translator_above_posix_has_a_say():
    for what in ("upcalls", "leases", "mandatory", "slow brick", "arbiter", "frozen", "unbound"):
        side = Side(True)
        _toggle(side, what)
        call = Call(9, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, _read_args(side, "ro", 0, 4096, None), CRED)
        assert side.session.fast(call) is None, what
    side = Side(True)
    stat = Call(9, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.FSTAT, fops.GfxFstatReq(GFID, side.fds[0], None), CRED)
    assert side.session.fast(stat) is None


def test_a_fast_path_failure_answers_system_err_to_that_call_and_the_connection_goes_on(monkeypatch):
    """A bug under the fast path is caught by the dispatcher's SYSTEM_ERR net, as one in
    ``handle`` is (``rpcsvc_error_reply``): that call gets SYSTEM_ERR, the next is answered."""
    side = Side(True)
    read = functools.partial(side.send, fops.GfFop.READ)

    def broken(*args: object) -> object:
        raise RuntimeError("a bug in the fast path")

    monkeypatch.setattr(side.session.fops, "fast_read", broken)
    side.client.receive_data(read(_read_args(side, "ro", 0, 4096, None)))
    reply = side.client.next_event()
    assert reply.stat == AcceptStat.SYSTEM_ERR and reply.result is None
    assert side.d.errors == 1 and not side.d.closing
    last = list(side.calls)[-1]
    assert last.error == "SYSTEM_ERR" and last.procnum == fops.GfFop.READ
    monkeypatch.undo()
    side.client.receive_data(read(_read_args(side, "ro", 0, 4096, None)))
    assert side.client.next_event().result.op_ret == 4096


def test_a_slow_fast_path_read_is_named_as_a_slow_handle_is(monkeypatch, caplog):
    side = Side(True)
    taken = []
    fast = side.session.fops.fast_read

    def slow(call: Call) -> object:
        taken.append(call.xid)
        time.sleep(dispatch.SLOW_CALL * 1.5)
        return fast(call)

    monkeypatch.setattr(side.session.fops, "fast_read", slow)
    with caplog.at_level(logging.WARNING, logger="fakegluster.server"):
        side.call(fops.GfFop.READ, _read_args(side, "ro", 0, 4096, None))
    assert taken == [side.xid]
    assert [r.getMessage().split(" took ")[0] for r in caplog.records] == ["b: READ"]
