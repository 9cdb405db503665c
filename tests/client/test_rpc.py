"""RpcChannel against a scripted server over trio memory streams: xids, pipelining, pings,
ping-timeout, RPC-level refusals, callbacks, lost connections, frame-timeout."""

from __future__ import annotations

import errno

import pytest
import trio

from fakegluster.proto import fops as F
from fakegluster.proto.dump import GfCommonRsp, GfDumpReq
from fakegluster.proto.errors import AcceptStat, AuthStat
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, AuthGlusterfsParmsV2
from gfclient.errors import GlusterConnectionError, RpcError
from gfclient.rpc import Identity, RpcChannel, XidCounter

from .scripted import DUMP, FOP, Peer, dump_rsp, pair

PING = 2


async def start(
    nursery: trio.Nursery, *, ping_timeout: float = 0.0, xids: XidCounter | None = None, on_callback=None
) -> tuple[RpcChannel, Peer]:
    stream, peer = pair()
    chan = RpcChannel(stream, peer="host h and port 1", xids=xids, ping_timeout=ping_timeout, on_callback=on_callback)
    await nursery.start(chan.run)
    return chan, peer


async def dump(chan: RpcChannel):
    return await chan.call(DUMP, 1, 1, GfDumpReq(0xCAED))


def spawn_dump(nursery: trio.Nursery, chan: RpcChannel) -> trio.Event:
    """Start a DUMP call in the background; the event is set when its reply arrived."""
    done = trio.Event()

    async def task():
        await dump(chan)
        done.set()

    nursery.start_soon(task)
    return done


async def test_first_xid_is_2_and_the_counter_survives_a_reconnect():
    xids = XidCounter()
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, xids=xids)
        seen = []

        async def server():
            for _ in range(2):
                call = await peer.call()
                seen.append(call.xid)
                await peer.reply(call, dump_rsp(()))

        nursery.start_soon(server)
        await dump(chan)
        await dump(chan)
        await chan.aclose()
        chan2, peer2 = await start(nursery, xids=xids)  # the same rpc client reconnects

        async def server2():
            call = await peer2.call()
            seen.append(call.xid)
            await peer2.reply(call, dump_rsp(()))

        nursery.start_soon(server2)
        await dump(chan2)
        assert seen == [2, 3, 4]
        await chan2.aclose()


async def test_pipelined_calls_are_matched_out_of_order():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        results = {}

        async def caller(i):
            reply = await chan.call(DUMP, 1, 1, GfDumpReq(i))
            results[i] = reply.result.op_errno

        for i in range(5):
            nursery.start_soon(caller, i)
        calls = [await peer.call() for _ in range(5)]
        assert len({c.xid for c in calls}) == 5
        for call in reversed(calls):  # answer newest first; op_errno tells whose answer it is
            await peer.reply(call, dump_rsp(()).__class__(0, 0, call.args.gfs_id, ()))
        with trio.fail_after(1):
            while len(results) < 5:
                await trio.sleep(0.01)
        assert results == {i: i for i in range(5)}
        await chan.aclose()


async def test_ping_is_sent_while_calls_are_outstanding_only(autojump_clock):
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, ping_timeout=42)
        done = spawn_dump(nursery, chan)
        first, second = await peer.call(), await peer.call()
        assert (first.proc, second.proc) == (1, PING)  # DUMP, then PING right away
        assert isinstance(second.cred, AuthGlusterfsParmsV2) and second.cred.pid == 0
        await peer.reply(second, GfCommonRsp(0, 0, None))
        await peer.reply(first, dump_rsp(()))
        await done.wait()
        await trio.sleep(200)  # nothing outstanding: no more pings
        assert chan.pings_sent == 1
        chan.use_v3 = True
        done = spawn_dump(nursery, chan)
        call, ping = await peer.call(), await peer.call()
        assert ping.proc == PING and isinstance(ping.cred, AuthGlusterfsParamsV3)  # the rpc's flavour now
        await peer.reply(ping, GfCommonRsp(0, 0, None))
        t0 = trio.current_time()
        again = await peer.call()  # the call is still outstanding: the next ping 42 s later
        assert again.proc == PING and trio.current_time() - t0 == pytest.approx(42)
        await peer.reply(again, GfCommonRsp(0, 0, None))
        await peer.reply(call, dump_rsp(()))
        await done.wait()
        assert chan.pings_sent == 3
        await chan.aclose()


async def test_ping_timeout_fails_pending_calls_with_enotconn(autojump_clock):
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, ping_timeout=42)

        async def silent_server():  # reads everything, answers nothing
            while True:
                await peer.call()

        nursery.start_soon(silent_server)
        t0 = trio.current_time()
        with pytest.raises(GlusterConnectionError) as ei:
            await dump(chan)
        assert ei.value.errno == errno.ENOTCONN
        assert "has not responded in the last 42 seconds" in str(ei.value)
        assert "host h and port 1" in str(ei.value)
        assert trio.current_time() - t0 == pytest.approx(42)
        assert chan.closed.is_set()
        with pytest.raises(GlusterConnectionError):  # and later calls fail at once
            await dump(chan)
        nursery.cancel_scope.cancel()


async def test_ping_answers_keep_a_slow_call_alive(autojump_clock):
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, ping_timeout=42)
        slow = []

        async def server():
            while True:
                call = await peer.call()
                if call.proc == PING:
                    await peer.reply(call, GfCommonRsp(0, 0, None))
                else:
                    slow.append(call)

        nursery.start_soon(server)
        done = spawn_dump(nursery, chan)
        await trio.sleep(500)
        assert not chan.closed.is_set() and chan.pings_sent >= 10
        await peer.reply(slow[0], dump_rsp(()))
        await done.wait()
        nursery.cancel_scope.cancel()


async def test_rpc_refusals_are_errors():
    stat_req = F.GfxStatReq(bytes(15) + b"\x01", None)
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)

        async def server():
            call = await peer.call()
            await peer.reply(call, stat=AcceptStat.PROC_UNAVAIL)
            call = await peer.call()
            await peer.reply(call, stat=AcceptStat.GARBAGE_ARGS)
            call = await peer.call()
            await peer.deny(call, AuthStat.AUTH_REJECTEDCRED)
            with pytest.raises(EOFError):
                await peer.call()  # the unknown procedure is refused by the Peer itself

        nursery.start_soon(server)
        for stat, err in [
            ("PROC_UNAVAIL", errno.EOPNOTSUPP),
            ("GARBAGE_ARGS", errno.EPROTO),
            ("AUTH_ERROR", errno.EACCES),
        ]:
            with pytest.raises(RpcError) as ei:
                await chan.call(FOP, 400, 1, stat_req, ident=Identity(pid=1))
            assert (ei.value.stat, ei.value.errno) == (stat, err)
            assert "refused by host h and port 1" in str(ei.value)
        with pytest.raises(RpcError) as ei:  # procedure 57 does not exist: PROC_UNAVAIL
            await chan.call(FOP, 400, 57, None, ident=Identity(pid=1))
        assert (ei.value.stat, ei.value.errno) == ("PROC_UNAVAIL", errno.EOPNOTSUPP)
        assert not chan.closed.is_set()  # an RPC-level refusal does not break the connection
        await chan.aclose()


async def test_callback_calls_are_logged_not_answered():
    got = []
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery, on_callback=got.append)

        async def server():
            call = await peer.call()
            await peer.callback(7)  # CHILD_DOWN, server to client
            await peer.callback(99)  # a procedure the callback program does not have
            await peer.reply(call, dump_rsp(()))
            nxt = await peer.call()  # the client's next message is a call, not a reply
            assert nxt.proc == 1
            await peer.reply(nxt, dump_rsp(()))

        nursery.start_soon(server)
        await dump(chan)
        await dump(chan)
        assert [c.proc for c in got] == [7]
        await chan.aclose()


async def test_lost_connection_fails_pending_calls():
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)

        async def server():
            await peer.call()
            await peer.aclose()

        nursery.start_soon(server)
        with pytest.raises(GlusterConnectionError) as ei:
            await dump(chan)
        assert ei.value.errno == errno.ENOTCONN and "host h and port 1" in str(ei.value)


async def test_frame_timeout_bails_out_a_call(autojump_clock):
    async with trio.open_nursery() as nursery:
        chan, peer = await start(nursery)
        nursery.start_soon(peer.call)
        with pytest.raises(GlusterConnectionError) as ei:
            await chan.call(DUMP, 1, 1, GfDumpReq(1), timeout=1800)
        assert ei.value.errno == errno.ENOTCONN and "frame-timeout" in str(ei.value)
        await chan.aclose()


@pytest.mark.parametrize("v3", [True, False])
def test_opaque_auth_is_the_encoded_credential(v3):
    from fakegluster.proto.rpc import encode_auth

    for ident in [
        Identity(),
        Identity(pid=123, uid=5, gid=6, groups=(1, 2, 3), flags=4, ctime_ns=1_700_000_000_123_456_789),
        Identity(pid=2**31 - 1, lk_owner=b"\x01\x02\x03\x04\x05\x06\x07\x08\x09", ctime_ns=999_999_999),
        Identity(pid=7, flags=31, ctime_ns=2**63),
    ]:
        assert ident.opaque_auth(v3) == encode_auth(ident.credential(v3))
        assert ident.opaque_auth(v3) == encode_auth(ident.credential(v3))  # from the cache
