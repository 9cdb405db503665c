"""``gluster+rdma``: emulated through an in-process message pipe when a fakegluster in this
process offers it, otherwise tcp with QEMU 7.2's warning."""

from __future__ import annotations

import contextlib
import socket
import warnings

import trio
from trio.testing import check_half_closeable_stream

import gfclient
from fakegluster.inproc import MESSAGE, MessageStream, rdma_connect
from fakegluster.server import FakeGluster
from fakegluster.testing.serve import serve_process
from gfclient.transport import RDMA_FALLBACK_WARNING


def test_rdma_in_process_uses_the_emulated_transport():
    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        uri = server.uri("v", transport="rdma")
        assert uri.startswith("gluster+rdma://127.0.0.1:")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no fallback warning may be raised
            with gfclient.connect(uri) as vol:
                with vol.fopen("over-rdma.bin", "w") as f:
                    f.write(b"x" * (3 * MESSAGE + 17))  # records larger than one message
                assert vol.getsize("over-rdma.bin") == 3 * MESSAGE + 17
        assert {r.peer for r in server.calls if r.proc == "GETSPEC"} == {"rdma"}


def test_rdma_without_an_in_process_server_falls_back_to_tcp_with_a_warning(tmp_path):
    with serve_process(listen=["tcp://127.0.0.1:0"]) as served:
        port = served.port()
        assert rdma_connect("127.0.0.1", port) is None  # nobody offers it in this process
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with gfclient.connect(f"gluster+rdma://127.0.0.1:{port}/testvol") as vol:
                assert vol.listdir("/") == []
        assert RDMA_FALLBACK_WARNING in [str(w.message) for w in caught]


async def test_message_stream_keeps_boundaries_and_loses_nothing():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    left, right = MessageStream(a), MessageStream(b)
    payload = bytes(range(256)) * ((2 * MESSAGE) // 256 + 3)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(left.send_all, payload)
        got = b""
        first = await right.receive_some(10)  # shorter than a message: the rest is kept
        assert first == payload[:10]
        got += first
        while len(got) < len(payload):
            chunk = await right.receive_some()
            assert 0 < len(chunk) <= MESSAGE
            got += chunk
    assert got == payload
    await left.send_eof()
    assert await right.receive_some() == b""
    await left.aclose()
    await right.aclose()


def _seqpacket_pair(clogged: bool = False) -> tuple[MessageStream, MessageStream]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    if clogged:  # both directions full: send_all blocks until the peer receives
        for s in (a, b):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
            s.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while True:
                    s.send(b"x" * 1000)
    return MessageStream(a), MessageStream(b)


async def test_message_stream_passes_trios_stream_conformance_checks():
    async def make():
        return _seqpacket_pair()

    async def make_clogged():
        return _seqpacket_pair(clogged=True)

    with trio.fail_after(30):
        await check_half_closeable_stream(make, make_clogged)
