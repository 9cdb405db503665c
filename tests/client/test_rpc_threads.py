"""RpcChannel called from other threads (the blocking API's fast path), over a real socket
pair: one xid sequence and one table of pending calls for threads and trio tasks, the
reader role (a thread reading its own reply, passing the role to the next thread or back to
the trio task), pings, frame-timeout, a lost or closed connection, partial sends."""

from __future__ import annotations

import errno
import math
import socket
import threading
import time

import pytest
import trio

from fakegluster.proto import fops as F
from fakegluster.proto.dump import GfCommonRsp, GfDumpReq
from gfclient.errors import GlusterConnectionError
from gfclient.rpc import Identity, RpcChannel
from gfclient.sync import run_inline

from .scripted import DUMP, FOP, Peer, dump_rsp, pair

PING = 2


def socket_pair() -> tuple[trio.SocketStream, Peer]:
    a, b = trio.socket.socketpair()
    return trio.SocketStream(a), Peer(trio.SocketStream(b))


async def start(
    nursery: trio.Nursery, *, ping_timeout: float = 0.0, memory: bool = False, standby: float = math.inf
) -> tuple[RpcChannel, Peer]:
    """A channel over a socket pair (or memory streams) and the scripted server's end.

    The receive task stands by for ever unless a test says otherwise: which thread reads is then
    decided by the calls alone, never by how late a loaded machine starts a thread."""
    stream, peer = pair() if memory else socket_pair()
    chan = RpcChannel(stream, peer="host h and port 1", ping_timeout=ping_timeout, standby=standby)
    await nursery.start(chan.run)
    return chan, peer


def answer(call) -> object:
    """A DUMP reply that says whose it is (op_errno = the call's gfs_id)."""
    return dump_rsp(()).__class__(0, 0, call.args.gfs_id, ())


def blocking_dump(chan: RpcChannel, tag: int, **kw):
    """A DUMP from this (non-trio) thread; returns the tag the reply carries."""
    return run_inline(chan.call(DUMP, 1, 1, GfDumpReq(tag), **kw)).result.op_errno


async def in_thread(fn, *args, **kw):
    return await trio.to_thread.run_sync(lambda: fn(*args, **kw))


async def echo_server(peer: Peer) -> None:
    """Answer every DUMP with its tag until the client closes."""
    try:
        while True:
            call = await peer.call()
            await peer.reply(call, answer(call))
    except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass


class Spy:
    """Which threads read the socket themselves (RpcChannel._read_for)."""

    def __init__(self, chan: RpcChannel) -> None:
        self.readers: list[int] = []
        inner = chan.threads._read_for

        def read_for(w, deadline):
            self.readers.append(threading.get_ident())
            return inner(w, deadline)

        chan.threads._read_for = read_for  # type: ignore[method-assign]


async def trio_stands_by(nursery: trio.Nursery, chan: RpcChannel, peer: Peer) -> None:
    """One thread call answered: the trio task hands the reader role over and stands by."""
    nursery.start_soon(in_thread, blocking_dump, chan, 0)
    call = await peer.call()
    await peer.reply(call, answer(call))
    await wait_until(lambda: chan.reader is None)


async def wait_until(predicate, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.005)


async def test_threads_and_tasks_share_one_xid_sequence_and_get_their_own_replies():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        results = {}

        async def task(i, threaded):
            if threaded:
                results[i] = await in_thread(blocking_dump, chan, i)
            else:
                results[i] = (await chan.call(DUMP, 1, 1, GfDumpReq(i))).result.op_errno

        for i in range(6):
            nursery.start_soon(task, i, i % 2 == 0)
        calls = [await peer.call() for _ in range(6)]
        assert sorted(c.xid for c in calls) == list(range(2, 8))
        for call in reversed(calls):
            await peer.reply(call, answer(call))
        await wait_until(lambda: len(results) == 6)
        assert results == {i: i for i in range(6)}
        assert chan.outstanding == 0
        await chan.aclose()


async def test_a_thread_reads_its_own_reply_once_the_trio_task_stands_by():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        spy = Spy(chan)
        nursery.start_soon(echo_server, peer)
        tags = await in_thread(lambda: [blocking_dump(chan, i) for i in range(20)])
        assert tags == list(range(20))
        # the first reply came through the trio task, which then stood by: every later call
        # was read by the calling thread itself
        assert len(spy.readers) == 19
        # a trio call takes the reading back
        assert (await chan.call(DUMP, 1, 1, GfDumpReq(99))).result.op_errno == 99
        await chan.aclose()


async def test_the_trio_task_takes_the_reading_back_after_standing_by_a_while():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, standby=0.05)
        await trio_stands_by(nursery, chan, peer)
        await wait_until(lambda: chan.reader == "trio")  # nobody read for 0.05 s
        await peer.aclose()  # so the end of the idle connection is noticed
        await wait_until(chan.closed.is_set)
        assert "closed by host h and port 1" in str(chan.close_reason)
        nursery.cancel_scope.cancel()


async def test_a_thread_waits_for_the_trio_task_to_hand_its_reply_over():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        got = {}

        async def trio_call():
            got["trio"] = (await chan.call(DUMP, 1, 1, GfDumpReq(1))).result.op_errno

        nursery.start_soon(trio_call)
        first = await peer.call()  # outstanding: the trio task keeps reading

        async def thread_call():
            got["thread"] = await in_thread(blocking_dump, chan, 2)

        nursery.start_soon(thread_call)
        second = await peer.call()
        await peer.reply(second, answer(second))
        await wait_until(lambda: "thread" in got)
        assert got == {"thread": 2}
        await peer.reply(first, answer(first))
        await wait_until(lambda: "trio" in got)
        await chan.aclose()


async def test_the_reading_thread_passes_the_role_to_the_next_waiting_thread():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        spy = Spy(chan)
        await trio_stands_by(nursery, chan, peer)
        got = {}

        async def thread_call(i):
            got[i] = await in_thread(blocking_dump, chan, i)

        nursery.start_soon(thread_call, 1)
        c1 = await peer.call()
        await wait_until(lambda: len(spy.readers) == 1)  # thread 1 reads
        nursery.start_soon(thread_call, 2)
        c2 = await peer.call()
        await peer.reply(c1, answer(c1))
        await wait_until(lambda: 1 in got)
        await wait_until(lambda: len(spy.readers) == 2)  # thread 2 took over
        assert spy.readers[0] != spy.readers[1]
        await peer.reply(c2, answer(c2))
        await wait_until(lambda: 2 in got)
        assert got == {1: 1, 2: 2}
        await chan.aclose()


async def test_a_reading_thread_hands_trio_replies_to_the_trio_thread():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        spy = Spy(chan)
        await trio_stands_by(nursery, chan, peer)
        got = {}

        async def thread_call():
            got["thread"] = await in_thread(blocking_dump, chan, 1)

        async def trio_call():
            got["trio"] = (await chan.call(DUMP, 1, 1, GfDumpReq(2))).result.op_errno

        nursery.start_soon(thread_call)
        c1 = await peer.call()
        await wait_until(lambda: len(spy.readers) == 1)
        nursery.start_soon(trio_call)
        c2 = await peer.call()
        await peer.reply(c2, answer(c2))  # read by the thread, handed to the trio task
        await wait_until(lambda: "trio" in got)
        assert "thread" not in got
        await peer.reply(c1, answer(c1))
        await wait_until(lambda: "thread" in got)
        assert got == {"thread": 1, "trio": 2}
        await chan.aclose()


async def test_a_thread_call_starts_the_ping():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, ping_timeout=42)
        done = trio.Event()

        async def thread_call():
            await in_thread(blocking_dump, chan, 1)
            done.set()

        nursery.start_soon(thread_call)
        call = await peer.call()
        await peer.reply(call, answer(call))  # answered at once...
        await done.wait()
        ping = await peer.call()  # ...the ping goes out all the same, as rpc-clnt's
        assert ping.proc == PING and chan.pings_sent == 1
        await peer.reply(ping, GfCommonRsp(0, 0, None))
        await chan.aclose()


async def test_ping_timeout_fails_a_blocked_thread_call():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, ping_timeout=0.3)

        async def silent_server():
            try:
                while True:
                    await peer.call()
            except EOFError:
                pass

        nursery.start_soon(silent_server)
        t0 = time.monotonic()
        with pytest.raises(GlusterConnectionError) as ei:
            await in_thread(blocking_dump, chan, 1)
        assert ei.value.errno == errno.ENOTCONN
        assert "has not responded in the last 0.3 seconds" in str(ei.value)
        assert time.monotonic() - t0 < 5
        with pytest.raises(GlusterConnectionError):  # later calls fail at once
            await in_thread(blocking_dump, chan, 2)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("reading", [True, False])
async def test_frame_timeout_bails_out_a_thread_call_and_the_channel_goes_on(reading):
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        first = 2
        if reading:  # the trio task stands by: the thread times out while reading itself
            await trio_stands_by(nursery, chan, peer)
            first = 3
        calls = []

        async def read_one():
            calls.append(await peer.call())

        nursery.start_soon(read_one)
        with pytest.raises(GlusterConnectionError) as ei:
            await in_thread(blocking_dump, chan, 1, timeout=0.2)
        assert ei.value.errno == errno.ENOTCONN and "frame-timeout" in str(ei.value)
        assert f"GF-DUMP DUMP (xid {first})" in str(ei.value)
        assert chan.outstanding == 0 and chan.reader in (None, "trio")  # nobody dead holds the role

        async def server():  # answers the next call, after a late reply to the bailed one
            call = await peer.call()
            await peer.reply(call.__class__(first, DUMP, 1, 1, GfDumpReq(1)), dump_rsp(()))
            await peer.reply(call, answer(call))

        nursery.start_soon(server)
        assert await in_thread(blocking_dump, chan, 7) == 7
        assert not chan.closed.is_set()
        await chan.aclose()


@pytest.mark.parametrize("reading", [True, False])
async def test_a_lost_connection_fails_thread_calls(reading):
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        if reading:  # the trio task stands by: the thread itself sees the end
            await trio_stands_by(nursery, chan, peer)
        else:  # a trio call keeps the trio task reading

            async def trio_call():
                with pytest.raises(GlusterConnectionError):
                    await chan.call(DUMP, 1, 1, GfDumpReq(0))

            nursery.start_soon(trio_call)
            await peer.call()

        async def server():
            await peer.call()
            await peer.aclose()

        nursery.start_soon(server)
        with pytest.raises(GlusterConnectionError) as ei:
            await in_thread(blocking_dump, chan, 1)
        assert ei.value.errno == errno.ENOTCONN and "host h and port 1" in str(ei.value)
        await wait_until(chan.closed.is_set)
        nursery.cancel_scope.cancel()


async def test_closing_wakes_a_thread_reading_the_socket():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        spy = Spy(chan)
        await trio_stands_by(nursery, chan, peer)
        failed = []

        async def thread_call():
            try:
                await in_thread(blocking_dump, chan, 1)
            except GlusterConnectionError as exc:
                failed.append(exc)

        nursery.start_soon(thread_call)
        await peer.call()
        await wait_until(lambda: len(spy.readers) == 1)
        await chan.aclose()
        await wait_until(lambda: failed)
        assert "closed by the client" in str(failed[0])
        await wait_until(lambda: chan.sock.fileno() == -1)  # the reading thread closed it
        nursery.cancel_scope.cancel()


async def test_big_writes_from_a_thread_go_out_whole_and_in_order():
    async with trio.open_nursery() as nursery:
        stream, peer = socket_pair()
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        chan = RpcChannel(stream, peer="p")
        await nursery.start(chan.run)
        data = bytes(range(256)) * 16384  # 4 MiB: far more than the socket takes at once
        req = F.GfxWriteReq(bytes(16), 3, 0, len(data), 0, None)
        got = []

        async def write_in_thread():
            got.append(
                await in_thread(lambda: run_inline(chan.call(FOP, 400, 13, req, ident=Identity(pid=1), payload=data)))
            )

        nursery.start_soon(write_in_thread)
        await trio.sleep(0.05)
        nursery.start_soon(chan.call, DUMP, 1, 1, GfDumpReq(5))  # queued behind the write
        write = await peer.call()
        assert write.proc == 13 and bytes(write.payload) == data
        dump = await peer.call()
        assert dump.args.gfs_id == 5
        await peer.reply(write, F.GfxCommon2iattRsp(op_ret=len(data)))
        await peer.reply(dump, answer(dump))
        await wait_until(lambda: got)
        assert got[0].result.op_ret == len(data)
        await chan.aclose()


async def test_thread_calls_over_a_stream_that_is_not_a_socket():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, memory=True)
        nursery.start_soon(echo_server, peer)
        assert await in_thread(lambda: [blocking_dump(chan, i) for i in range(3)]) == [0, 1, 2]
        await chan.aclose()


def test_run_inline_refuses_a_coroutine_that_suspends():
    async def suspends():
        await trio.sleep(0)

    with pytest.raises(RuntimeError):
        run_inline(suspends())

    async def returns():
        return 42

    assert run_inline(returns()) == 42


async def test_a_cancelled_trio_call_whose_reply_a_thread_took_still_gets_it():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        spy = Spy(chan)
        await trio_stands_by(nursery, chan, peer)
        nursery.start_soon(in_thread, blocking_dump, chan, 1)  # reads, its reply held back
        c1 = await peer.call()
        await wait_until(lambda: len(spy.readers) == 1)
        result: dict = {}

        async def trio_call():
            with trio.CancelScope() as scope:
                result["scope"] = scope
                result["reply"] = await chan.call(DUMP, 1, 1, GfDumpReq(2))
            result["cancelled"] = scope.cancelled_caught

        nursery.start_soon(trio_call)
        c2 = await peer.call()
        await peer.reply(c2, answer(c2))
        deadline = time.monotonic() + 5
        while c2.xid in chan.waiters:  # the thread takes the reply; trio has not run since
            time.sleep(0.001)
            assert time.monotonic() < deadline
        result["scope"].cancel()  # too late: the reply is on its way to the task
        await wait_until(lambda: "cancelled" in result)
        assert result["reply"].result.op_errno == 2 and not result["cancelled"]
        await peer.reply(c1, answer(c1))
        await wait_until(lambda: chan.outstanding == 0)
        await chan.aclose()


@pytest.mark.parametrize("tasks", [0, 2])
async def test_many_threads_and_tasks_at_once_all_get_their_replies(tasks):
    import random

    rnd = random.Random(7)
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, ping_timeout=42)

        async def shuffling_server():  # answers in batches, out of order, now and then late
            pending = []
            try:
                while True:
                    with trio.move_on_after(0.002):
                        pending.append(await peer.call())
                        continue
                    rnd.shuffle(pending)
                    for call in pending:
                        if call.proc == PING:
                            await peer.reply(call, GfCommonRsp(0, 0, None))
                        else:
                            await peer.reply(call, answer(call))
                    pending.clear()
            except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
                pass

        spy = Spy(chan)
        if not tasks:
            # the trio task stands by (for ever: start()'s standby) before the threads start, so
            # they read themselves from the first call on, however a loaded machine schedules them:
            # one thread call, which also starts the keep-alive (a PING, a trio call), both answered
            # (the PING first, so the thread's reply leaves no call of the trio task waiting)
            nursery.start_soon(in_thread, blocking_dump, chan, 0)
            first = [await peer.call(), await peer.call()]
            assert sorted(c.proc for c in first) == [1, PING]  # GF_DUMP_DUMP, GF_DUMP_PING
            for call in sorted(first, key=lambda c: c.proc != PING):
                await peer.reply(call, GfCommonRsp(0, 0, None) if call.proc == PING else answer(call))
            await wait_until(lambda: chan.reader is None)
        nursery.start_soon(shuffling_server)
        results: dict[int, int] = {}

        def thread_worker(base: int) -> None:
            for i in range(150):
                results[base + i] = blocking_dump(chan, base + i)

        async def task_worker(base: int) -> None:
            for i in range(150):
                results[base + i] = (await chan.call(DUMP, 1, 1, GfDumpReq(base + i))).result.op_errno

        with trio.fail_after(60):
            async with trio.open_nursery() as workers:
                for k in range(6):
                    workers.start_soon(in_thread, thread_worker, k * 1000)
                for k in range(6, 6 + tasks):
                    workers.start_soon(task_worker, k * 1000)
        assert results == {k * 1000 + i: k * 1000 + i for k in range(6 + tasks) for i in range(150)}
        assert chan.outstanding == 0
        if not tasks:
            # the threads read the socket themselves (only a trio call wakes the trio task).
            # Which threads read depends on the scheduler (under load one thread can read
            # every batch); the hand-over itself: test_the_reading_thread_passes_the_role_to_...
            assert spy.readers
        await chan.aclose()
