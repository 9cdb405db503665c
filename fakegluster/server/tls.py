"""The server side of TLS: contexts per settings and the handshake after ``accept()``
(``ssl_handle_server_connection_attempt`` in ``rpc/rpc-transport/socket/src/socket.c``);
the settings themselves are :mod:`fakegluster.tls`."""

from __future__ import annotations

import logging
import socket
import ssl
import struct

import trio

from ..tls import TLSSettings, peer_common_name, secure_access, ssl_enabled

__all__ = ["ContextCache", "tls_accept", "TLSSettings", "ssl_enabled", "secure_access"]

log = logging.getLogger("fakegluster.tls")


class ContextCache:
    """SSL contexts by settings (the real transport makes one per connection from the
    xlator's options; reading the files once per settings is enough for a fixture)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[TLSSettings, bool], ssl.SSLContext] = {}

    def get(self, settings: TLSSettings, *, server: bool) -> ssl.SSLContext:
        key = (settings, server)
        ctx = self._cache.get(key)
        if ctx is None:
            ctx = self._cache[key] = settings.context(server=server)
        return ctx


async def tls_accept(sock: socket.socket, ctx: ssl.SSLContext) -> tuple[object, str] | None:
    """The server side of ``ssl_handle_server_connection_attempt``: handshake on an accepted
    socket; returns (the TLS stream, the peer certificate's common name), or None after
    closing the connection (a failed handshake: reset; no peer certificate: closed)."""
    transport = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
    stream = trio.SSLStream(transport, ctx, server_side=True)
    try:
        await stream.do_handshake()
    except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
        log.info("SSL accept from %s failed: %s", _peer(transport), exc.__cause__ or exc)
        try:
            transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        transport.socket.close()
        return None
    name = peer_common_name(stream.getpeercert())
    if name is None:  # ssl_setup_connection_postfix: no certificate, no identity
        log.info("SSL connect error (client: %s): no peer certificate", _peer(transport))
        transport.socket.close()
        return None
    return stream, name


def _peer(transport: object) -> str:
    try:
        return str(transport.socket.getpeername())  # type: ignore[attr-defined]
    except OSError:
        return "?"
