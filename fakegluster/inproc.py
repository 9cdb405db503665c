"""Emulated RDMA: an in-process transport with message boundaries.

A fakegluster running in this process *offers* rdma on the (host, port) of each of its
glusterd TCP listeners and bricks; gfclient, asked for ``gluster+rdma://``, looks the
address up here and, when it is offered, connects through an ``AF_UNIX``/``SOCK_SEQPACKET``
socketpair: no address, no file, nothing another process can reach, and every send is
one message, as RDMA delivers them.  (A socketpair also works across the trio loops of
different threads, which a sync server and a sync client each have.)  Messages are at
most :data:`MESSAGE` bytes; the RPC records inside are split and joined by record marking.
"""

from __future__ import annotations

import operator
import socket
import threading
from collections.abc import Callable

import trio

__all__ = ["offer_rdma", "rdma_connect", "MessageStream", "MESSAGE"]

MESSAGE = 64 * 1024
_lock = threading.Lock()
_offers: dict[tuple[str, int], Callable[[socket.socket], None]] = {}


def offer_rdma(host: str, port: int, accept: Callable[[socket.socket], None]) -> Callable[[], None]:
    """Offer emulated rdma at (host, port); ``accept`` gets the server end of each new
    connection (from any thread).  Returns the function that withdraws the offer."""
    key = (host, port)
    with _lock:
        _offers[key] = accept

    def withdraw() -> None:
        with _lock:
            if _offers.get(key) is accept:
                del _offers[key]

    return withdraw


def rdma_connect(host: str, port: int) -> socket.socket | None:
    """The client end of a new emulated-rdma connection, or None if nobody offers it."""
    with _lock:
        accept = _offers.get((host, port))
    if accept is None:
        return None
    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (client, server):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MESSAGE)
    try:
        accept(server)
    except BaseException:
        client.close()
        server.close()
        raise
    return client


class MessageStream(trio.abc.HalfCloseableStream):
    """A trio stream over a SOCK_SEQPACKET socket: sends are cut into messages of at most
    :data:`MESSAGE` bytes, each receive returns (part of) one message.

    It passes trio's own stream conformance checks (``trio.testing.check_half_closeable_stream``,
    tests/server/test_rdma.py): one sender and one receiver at a time (``BusyResourceError``),
    ``ClosedResourceError`` after :meth:`aclose` (also for a task blocked in it), every call a
    checkpoint, ``send_eof`` idempotent.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = trio.socket.from_stdlib_socket(sock)
        self._sending = False
        self._receiving = False
        self._eof_sent = False
        self._closed = False
        self._pending = b""  # the rest of a message a short receive_some did not take

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the stream is closed")

    def _broken(self, exc: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
        if self._closed:
            return trio.ClosedResourceError("the stream is closed")
        return trio.BrokenResourceError(str(exc))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending")
        self._sending = True
        try:
            self._check_open()
            if self._eof_sent:
                raise trio.ClosedResourceError("cannot send after send_eof")
            view = memoryview(data).cast("B")
            if not view:
                await trio.lowlevel.checkpoint()
            for start in range(0, len(view), MESSAGE):
                try:
                    await self._sock.send(view[start : start + MESSAGE])
                except OSError as exc:
                    raise self._broken(exc) from exc
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending")
        self._sending = True
        try:
            self._check_open()
            await self._sock.wait_writable()
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        if self._sending:
            raise trio.BusyResourceError("another task is sending")
        self._sending = True
        try:
            self._check_open()
            await trio.lowlevel.checkpoint()
            if self._eof_sent:
                return
            self._eof_sent = True
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                raise self._broken(exc) from exc
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)  # TypeError for 1.5, as trio's streams
            if max_bytes < 1:
                raise ValueError("max_bytes must be at least 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving")
        self._receiving = True
        try:
            self._check_open()
            if self._pending:
                await trio.lowlevel.checkpoint()
            else:
                try:
                    # always take a whole message: a shorter recv would drop its tail
                    self._pending = await self._sock.recv(MESSAGE)
                except OSError as exc:
                    raise self._broken(exc) from exc
                if not self._pending:
                    return b""
            n = max_bytes or len(self._pending)
            out, self._pending = self._pending[:n], self._pending[n:]
            return out
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        self._closed = True
        self._sock.close()
        await trio.lowlevel.checkpoint()

    @property
    def socket(self) -> trio.socket.SocketType:
        return self._sock
