"""Brick connections read by a thread of their own (fakegluster/server/brickthread.py): the
thread answers plain READs, everything else goes to the connection's trio task in order; one
FIFO lock per server keeps the two threads' work apart; a stopped, killed or frozen brick
behaves as without the thread.  Deterministic: each test waits for the state it asserts
(bounded), none depends on timing."""

from __future__ import annotations

import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import trio
import trio.testing

from fakegluster.proto import Call, fops
from fakegluster.server import FakeGluster, brickthread
from fakegluster.server.brickthread import ServerLock, server_lock
from tests.helpers import wait_until
from tests.rawclient import ROOT, Mount, v3

DATA = bytes(range(256)) * 1024  # 256 KiB


VOLUME = "qd1threads"  # (other tests' servers may have reader threads of their own)
BRICK = f"brick:{VOLUME}:0"


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(BRICK + "#")]


def _stat(what: str) -> int:
    return brickthread.stats[BRICK, what]


def _until(predicate, what: str, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    wait_until(predicate, what, timeout, every=0.005)


@pytest.fixture(autouse=True)
def _threads_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reader threads on, whatever the environment says (``FAKEGLUSTER_BRICK_THREADS=0``)."""
    monkeypatch.setattr(brickthread, "ENABLED", True)


@pytest.fixture
def server() -> Iterator[FakeGluster]:
    s = FakeGluster([VOLUME], ["tcp://127.0.0.1:0"])
    s.start()
    try:
        yield s
    finally:
        s.stop()
    _until(lambda: not _reader_threads(), "the reader threads ended")


def _mount(server: FakeGluster) -> Mount:
    u = urlsplit(server.uri(VOLUME))
    return Mount(u.hostname or "127.0.0.1", u.port or 24007, VOLUME)


def _file(m: Mount, name: str = "f") -> tuple[bytes, bytes]:
    """A file holding DATA: (gfid, an O_RDWR fd)."""
    created = m.create(ROOT, name, flags=0o102)
    gfid, fd = created.stat.ia_gfid, created.fd
    assert m.fop("WRITE", gfid=gfid, fd=fd, offset=0, size=len(DATA), payload=DATA).result.op_ret == len(DATA)
    return gfid, fd


def _encode(m: Mount, name: str, payload: bytes = b"", **fields: object) -> tuple[int, bytes]:
    """A FOP's xid and bytes, not sent (several go out in one send)."""
    proc = fops.PROGRAM[name]
    m.raw.xid += 1
    call = Call(m.raw.xid, fops.GLUSTER_FOP_PROGRAM, 400, proc.num, proc.args(**fields), cred=v3(), payload=payload)
    return m.raw.xid, m.raw.conn.send(call)


def _prime(m: Mount, gfid: bytes, fd: int, threads: int | None = None) -> None:
    """HANDOVER READs in a row: the connection's trio task gives its thread the turn (right
    after the last reply, before it reads anything more); ``threads``: wait until that many
    reader threads run (the turn's thread is started after that reply was sent)."""
    for i in range(brickthread.HANDOVER):
        r = m.fop("READ", gfid=gfid, fd=fd, offset=i, size=1)
        assert bytes(r.payload) == DATA[i : i + 1]
    if threads is not None:
        _until(lambda: len(_reader_threads()) == threads, f"{threads} reader threads")


def _read_call(m: Mount, gfid: bytes, fd: int, offset: int, size: int) -> tuple[int, bytes]:
    return _encode(m, "READ", gfid=gfid, fd=fd, offset=offset, size=size)


def test_reads_are_answered_by_the_thread_and_other_calls_in_order(server):
    m = _mount(server)
    gfid, fd = _file(m)
    assert not _reader_threads()  # started at the first turn
    _prime(m, gfid, fd, threads=1)
    before = {k: _stat(k) for k in ("answered", "handed")}
    # one send: READ, WRITE (trio's), READ, STAT: answered in this order, the second READ
    # sees the WRITE
    x1, read1 = _read_call(m, gfid, fd, 0, 4096)
    x2, write_b = _encode(m, "WRITE", b"ABCD", gfid=gfid, fd=fd, offset=0, size=4)
    x3, read3 = _read_call(m, gfid, fd, 0, 8)
    x4, stat = _encode(m, "STAT", gfid=gfid)
    arrived = len(m.raw.arrivals)
    m.raw.send_bytes(read1 + write_b + read3 + stat)
    r1, r2, r3, r4 = (m.raw.wait(x) for x in (x1, x2, x3, x4))
    assert m.raw.arrivals[arrived:] == [x1, x2, x3, x4]
    assert (r1.result.op_ret, bytes(r1.payload)) == (4096, DATA[:4096])
    assert r2.result.op_ret == 4
    assert (r3.result.op_ret, bytes(r3.payload)) == (8, b"ABCD" + DATA[4:8])
    assert r4.result.op_ret == 0 and r4.result.stat.ia_size == len(DATA)
    # the first READ by the thread; the WRITE handed over, the rest answered by trio
    assert _stat("answered") - before["answered"] == 1
    assert _stat("handed") - before["handed"] == 1
    calls = [c for c in server.calls if c.server.startswith("brick") and c.procnum in (12, 13)][-3:]
    assert [(c.procnum, c.xid) for c in calls] == [(fops.GfFop.READ, x1), (fops.GfFop.WRITE, x2), (fops.GfFop.READ, x3)]
    m.close()


def test_replies_the_socket_does_not_take_wait_in_order_and_nothing_more_is_read(server):
    m = _mount(server)
    gfid, fd = _file(m)
    _prime(m, gfid, fd)
    m.raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    before = _stat("flushed")
    size = 128 * 1024
    sent = [_read_call(m, gfid, fd, (i * 4096) % (len(DATA) - size), size) for i in range(96)]  # 12 MiB of replies
    m.raw.send_bytes(b"".join(b for _, b in sent))
    _until(lambda: _stat("flushed") > before, "a reply left for trio's writer")
    # back-pressure: while replies wait, the connection is not read (the STAT waits too)
    xs, stat = _encode(m, "STAT", gfid=gfid)
    m.raw.send_bytes(stat)
    arrived = len(m.raw.arrivals)
    for i, (xid, _) in enumerate(sent):
        r = m.raw.wait(xid)
        offset = (i * 4096) % (len(DATA) - size)
        assert (r.result.op_ret, bytes(r.payload)) == (size, DATA[offset : offset + size])
    assert m.raw.wait(xs).result.op_ret == 0
    assert m.raw.arrivals[arrived:] == [x for x, _ in sent] + [xs]
    m.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_stopped_brick_ends_the_thread_and_the_connection(server, how):
    m = _mount(server)
    gfid, fd = _file(m)
    _prime(m, gfid, fd, threads=1)
    slots = brickthread._threads  # (other servers of the process may hold some)
    brick = server.bricks()[0]
    getattr(brick, how)()
    _until(lambda: not _reader_threads() and brickthread._threads < slots, "the reader thread ended, its slot freed")
    m.raw.sock.settimeout(10)
    x, read = _read_call(m, gfid, fd, 0, 4096)
    try:
        m.raw.send_bytes(read)
    except OSError:
        pass  # (reset: closed either way)
    with pytest.raises((ConnectionResetError, OSError)):
        m.raw.wait(x)
    m.close()
    brick.start()
    again = _mount(server)  # a new connection, a new thread
    _prime(again, gfid, again.fop("OPEN", gfid=gfid, flags=0).fd, threads=1)
    again.close()


def test_a_frozen_brick_holds_reads_until_it_thaws(server):
    m = _mount(server)
    gfid, fd = _file(m)
    _prime(m, gfid, fd)
    before = _stat("answered")
    brick = server.bricks()[0]
    brick.freeze()
    x, read = _read_call(m, gfid, fd, 4096, 4096)
    m.raw.send_bytes(read)
    assert not m.raw.answered(x, within=0.3)
    brick.thaw()
    r = m.raw.wait(x)
    assert (r.result.op_ret, bytes(r.payload)) == (4096, DATA[4096:8192])
    assert _stat("answered") == before  # held, so answered by trio
    _prime(m, gfid, fd)  # and the thread goes on after
    x, read = _read_call(m, gfid, fd, 0, 4096)
    m.raw.send_bytes(read)
    assert bytes(m.raw.wait(x).payload) == DATA[:4096]
    assert _stat("answered") == before + 1
    m.close()


def test_switched_off_or_over_the_limit_trio_serves(server, monkeypatch):
    reserve, reserved = brickthread._reserve, []

    def one_slot() -> bool:  # (the process-wide count may hold other servers' threads)
        if reserved:
            return False
        reserved.append(1)
        return reserve()

    monkeypatch.setattr(brickthread, "_reserve", one_slot)
    a = _mount(server)
    gfid, fd = _file(a)
    _prime(a, gfid, fd, threads=1)
    b = _mount(server)  # over the limit: served by trio
    monkeypatch.setattr(brickthread, "ENABLED", False)
    c = _mount(server)
    assert len(_reader_threads()) == 1
    before = _stat("answered")
    for m in (b, c):
        fd = m.fop("OPEN", gfid=gfid, flags=0).fd
        _prime(m, gfid, fd)
        x, read = _read_call(m, gfid, fd, 8, 8)
        m.raw.send_bytes(read)
        assert bytes(m.raw.wait(x).payload) == DATA[8:16]
    assert _stat("answered") == before
    for m in (a, b, c):
        m.close()


def test_a_connection_that_does_not_stream_reads_never_wakes_its_thread(server):
    m = _mount(server)
    gfid, fd = _file(m)
    before = {k: _stat(k) for k in ("answered", "handed")}
    for i in range(3 * brickthread.HANDOVER):  # READs, but never HANDOVER in a row
        if i % brickthread.HANDOVER == brickthread.HANDOVER - 1:
            assert m.fop("STAT", gfid=gfid).op_ret == 0
        else:
            assert bytes(m.fop("READ", gfid=gfid, fd=fd, offset=i, size=1).payload) == DATA[i : i + 1]
    assert _stat("handed") == before["handed"]
    assert _stat("answered") == before["answered"]
    assert not _reader_threads()
    _prime(m, gfid, fd)  # now HANDOVER in a row: the next one is the thread's
    assert bytes(m.fop("READ", gfid=gfid, fd=fd, offset=5, size=3).payload) == DATA[5:8]
    assert _stat("answered") == before["answered"] + 1
    m.close()


def test_clients_streaming_reads_and_writes_at_once_see_their_own_data(server):
    """Four clients, each in bursts of READs (their threads' turns) and WRITEs (trio's), one
    more reading a file the others never write: every READ returns what that client wrote
    last, nothing fails, and every turn ended (the threads, the slots)."""
    import random

    import gfclient

    server.write_file("shared", DATA)
    errors: list[BaseException] = []

    def client(n: int) -> None:
        rng = random.Random(n)
        try:
            with gfclient.connect(server.uri(VOLUME)) as vol, vol.fopen(f"own{n}", "w+") as f:
                mine = bytearray(rng.randbytes(64 * 1024))
                f.pwrite(bytes(mine), 0)
                for _ in range(12):
                    for _ in range(brickthread.HANDOVER + 4):
                        at = rng.randrange(0, len(mine) - 4096)
                        assert f.pread(4096, at) == bytes(mine[at : at + 4096])
                    at = rng.randrange(0, len(mine) - 512)
                    new = rng.randbytes(512)
                    f.pwrite(new, at)
                    mine[at : at + 512] = new
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    def reader() -> None:
        try:
            with gfclient.connect(server.uri(VOLUME)) as vol, vol.fopen("shared", "r") as f:
                for i in range(300):
                    at = (i * 4096) % (len(DATA) - 4096)
                    assert f.pread(4096, at) == DATA[at : at + 4096]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)] + [threading.Thread(target=reader)]
    answered = _stat("answered")
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert _stat("answered") > answered
    _until(lambda: not _reader_threads(), "the reader threads ended")


def test_at_most_max_threads(monkeypatch):
    monkeypatch.setattr(brickthread, "_threads", brickthread.MAX_THREADS - 1)
    assert brickthread._reserve()
    assert brickthread._threads == brickthread.MAX_THREADS
    assert not brickthread._reserve()
    brickthread._unreserve()
    assert brickthread._threads == brickthread.MAX_THREADS - 1


def test_a_thread_that_waits_for_a_busy_server_gives_the_turn_back_for_a_while(server):
    """The server lock held elsewhere (as trio holds it while it serves other connections):
    the thread answers once it gets the lock, then hands the turn back, and trio serves the
    next BACKOFF READs itself."""
    m = _mount(server)
    gfid, fd = _file(m)
    _prime(m, gfid, fd, threads=1)
    lock = server.run_sync(brickthread.server_lock)
    before = {k: _stat(k) for k in ("answered", "handed", "contended")}
    lock.acquire()
    try:
        x, read = _read_call(m, gfid, fd, 0, 4096)
        m.raw.send_bytes(read)
        _until(lambda: _stat("contended") == before["contended"] + 1, "the thread found the lock taken")
    finally:
        lock.release()
    assert bytes(m.raw.wait(x).payload) == DATA[:4096]
    _until(lambda: _stat("handed") == before["handed"] + 1, "the turn handed back")
    assert _stat("answered") == before["answered"] + 1
    # no thread has the turn: trio runs without the lock (nothing to keep apart)
    _until(lambda: lock.try_acquire() and (lock.release() or True), "trio let the lock go")
    for i in range(2 * brickthread.HANDOVER):
        assert bytes(m.fop("READ", gfid=gfid, fd=fd, offset=i, size=2).payload) == DATA[i : i + 2]
    assert _stat("answered") == before["answered"] + 1  # trio's
    m.close()


# ---- the server lock ---------------------------------------------------------------------
def test_the_lock_keeps_threads_out_while_trio_runs_and_lets_them_in_while_it_is_busy():
    """A trio task flips ``busy`` on and off with a 3 ms spin between (six of the GIL's switch
    intervals, made 0.5 ms here: the thread gets the GIL in the middle of it), never idle (a
    checkpoint between flips); a thread sleeping 1 ms between takes of the lock must never see
    ``busy`` (without the lock it does), and must get it although trio never waits for IO with
    a timeout (FIFO)."""
    interval = sys.getswitchinterval()
    seen: list[bool] = []
    done = threading.Event()
    state = {"busy": False}

    def worker(lock: ServerLock) -> None:
        for _ in range(50):
            time.sleep(0.001)
            with lock:
                seen.append(state["busy"])
        done.set()

    async def main() -> None:
        lock = server_lock()
        brickthread._holder().turn_given()  # (as a connection's turn does)
        t = threading.Thread(target=worker, args=(lock,))
        t.start()
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:
            state["busy"] = True
            end = time.perf_counter() + 0.003
            while time.perf_counter() < end:
                pass
            state["busy"] = False
            await trio.lowlevel.checkpoint()
        await trio.to_thread.run_sync(t.join)

    sys.setswitchinterval(0.0005)
    try:
        trio.run(main)
    finally:
        sys.setswitchinterval(interval)
    assert len(seen) == 50 and not any(seen)


def test_the_lock_is_first_come_first_served():
    lock = ServerLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for i in range(4):
        t = threading.Thread(target=lambda i=i: (lock.acquire(), order.append(i), lock.release()))
        t.start()
        _until(lambda i=i: len(lock._waiters) == i + 1, "the thread is waiting")  # queued
        threads.append(t)
    lock.release()
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3]


async def test_a_cancelled_connection_takes_the_turn_back_at_once():
    """A brick stop cancels the connection's task while the thread has the turn: the turn is
    revoked within ``cancel()`` itself (the abort callback), before trio runs anything else,
    so the thread answers nothing on a stopped brick."""
    a, b = socket.socketpair()
    lock = server_lock()
    d = types.SimpleNamespace(name="brick:v:0", cid=1)
    reader = brickthread.Reader(d, None, a, lock)  # type: ignore[arg-type]  # (its thread is not started)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader.take)
        await trio.testing.wait_all_tasks_blocked()
        assert reader.turn == brickthread._THREAD and reader.go.is_set()
        nursery.cancel_scope.cancel()
        assert reader.turn == brickthread._ENDED and reader.task is None
    a.close()
    b.close()


# ---- Dispatcher.answer_fast (what the thread calls) ------------------------------------------
def test_answer_fast_answers_what_answer_does_and_declines_the_rest(monkeypatch):
    from fakegluster.proto import AcceptStat
    from fakegluster.proto.gfdict import GfxValue
    from tests.server.test_fast_read import CRED, GFID, Side, _read_args

    fast, generic = Side(True), Side(True)
    for args in (_read_args(fast, "ro", 100, 4096, None), _read_args(fast, "rw", 0, 10, None)):
        call = Call(7, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, args, CRED)
        by_thread = b"".join(bytes(b) for b in fast.d.answer_fast(call))
        assert by_thread == b"".join(bytes(b) for b in generic.d.answer(call, fast=generic.d.fast))
    assert [(c.procnum, c.xid, c.error) for c in fast.calls][-2:] == [(12, 7, None), (12, 7, None)]
    # not for it: nothing done, nothing logged
    logged = len(fast.calls)
    stat = Call(8, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.STAT, fops.GfxStatReq(gfid=GFID), CRED)
    assert fast.d.answer_fast(stat) is None
    with_xdata = Call(
        9,
        fops.GLUSTER_FOP_PROGRAM,
        400,
        fops.GfFop.READ,
        _read_args(fast, "ro", 0, 8, {"glusterfs.open-fd-count": GfxValue.int(1)}),
        CRED,
    )
    assert fast.d.answer_fast(with_xdata) is None
    assert len(fast.calls) == logged

    def broken(*args: object) -> object:
        raise RuntimeError("a bug in the fast path")

    monkeypatch.setattr(fast.session.fops, "fast_read", broken)
    call = Call(10, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, _read_args(fast, "ro", 0, 8, None), CRED)
    fast.client.send(call)  # (so the client knows the xid)
    fast.client.receive_data(b"".join(bytes(b) for b in fast.d.answer_fast(call)))
    assert fast.client.next_event().stat == AcceptStat.SYSTEM_ERR
    assert fast.d.errors == 1 and list(fast.calls)[-1].error == "SYSTEM_ERR"
