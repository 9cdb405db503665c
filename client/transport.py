"""Opening byte streams to glusterd and bricks: tcp, unix sockets, and the rdma hook.

Every failure is a :class:`~gfclient.errors.GlusterConnectionError` whose message names the
server the way QEMU's hints do: ``failed on host H and port N`` / ``failed on socket S``.

``gluster+rdma``: when a fakegluster in this process offers emulated rdma at that address,
:func:`open_rdma_stream` connects through it; otherwise, like QEMU 7.2, the client warns
"rdma feature is not supported, falling back to tcp" and uses tcp.
"""

from __future__ import annotations

import errno
import os
import socket
import ssl
import warnings

import trio

from .errors import GlusterConnectionError, where

__all__ = [
    "open_stream",
    "open_tcp_stream",
    "open_unix_stream",
    "open_rdma_stream",
    "start_tls",
    "RDMA_FALLBACK_WARNING",
    "CONNECT_TIMEOUT",
]

#: QEMU 7.2's warning text for ``gluster+rdma``.
RDMA_FALLBACK_WARNING = "rdma feature is not supported, falling back to tcp"
#: How long one connection attempt may take (the kernel's SYN retries take minutes).
CONNECT_TIMEOUT = 30.0


def _failed(exc: BaseException, server: str) -> GlusterConnectionError:
    err = getattr(exc, "errno", None)
    if isinstance(exc, socket.gaierror):  # name resolution: errno is an EAI_* code
        reason = f"cannot resolve host ({exc.strerror})"
        err = errno.EHOSTUNREACH
    elif isinstance(err, int) and err > 0:
        reason = os.strerror(err)
    else:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        err = errno.ENOTCONN
    return GlusterConnectionError(err, f"connection failed on {server}: {reason}")


async def open_tcp_stream(host: str, port: int, *, timeout: float = CONNECT_TIMEOUT) -> trio.SocketStream:
    """A TCP stream to ``host:port`` (names are resolved; IPv4 and IPv6)."""
    server = where(host, port)
    try:
        with trio.fail_after(timeout):
            return await trio.open_tcp_stream(host, port)
    except trio.TooSlowError as exc:
        raise GlusterConnectionError(errno.ETIMEDOUT, f"connection failed on {server}: timed out") from exc
    except OSError as exc:
        # trio raises OSError("all attempts to connect ... failed") with the causes attached
        cause = exc
        inner = getattr(exc, "__cause__", None)
        if isinstance(inner, BaseExceptionGroup):
            firsts = [e for e in inner.exceptions if isinstance(e, OSError)]
            cause = firsts[0] if firsts else exc
        elif isinstance(inner, OSError):
            cause = inner
        raise _failed(cause, server) from exc


async def start_tls(
    stream: trio.abc.Stream, ctx: ssl.SSLContext, host: str, port: int, *, timeout: float = CONNECT_TIMEOUT
) -> trio.SSLStream[trio.abc.Stream]:
    """TLS over a connected stream (``ssl_handle_client_connection_attempt``: the handshake
    right after connect, before any RPC); a failed handshake is a connection failure."""
    tls = trio.SSLStream(stream, ctx, server_hostname=None)
    try:
        with trio.fail_after(timeout):
            await tls.do_handshake()
    except (trio.BrokenResourceError, trio.TooSlowError) as exc:
        await trio.aclose_forcefully(stream)
        reason = exc.__cause__ or exc
        raise GlusterConnectionError(
            errno.ECONNRESET, f"connection failed on {where(host, port)}: TLS handshake failed ({reason})"
        ) from exc
    return tls


async def open_unix_stream(path: str, *, timeout: float = CONNECT_TIMEOUT) -> trio.SocketStream:
    """A stream over the unix socket at ``path`` (glusterd's is /var/run/glusterd.socket)."""
    server = where(None, None, path)
    try:
        with trio.fail_after(timeout):
            return await trio.open_unix_socket(path)
    except trio.TooSlowError as exc:
        raise GlusterConnectionError(errno.ETIMEDOUT, f"connection failed on {server}: timed out") from exc
    except OSError as exc:
        raise _failed(exc, server) from exc


async def open_rdma_stream(host: str, port: int) -> trio.abc.Stream | None:
    """A stream to ``host:port`` over (emulated) rdma, or ``None`` when nobody offers it.

    There is no real rdma here; a fakegluster running in this process offers an emulated
    one (:mod:`fakegluster.inproc`: a message-bounded in-process pipe).  ``None`` makes
    :func:`open_stream` fall back to tcp with QEMU 7.2's warning.
    """
    from fakegluster.inproc import MessageStream, rdma_connect

    sock = rdma_connect(host, port)
    return MessageStream(sock) if sock is not None else None


async def open_stream(
    transport: str,
    host: str | None = None,
    port: int | None = None,
    socket: str | None = None,
    *,
    timeout: float = CONNECT_TIMEOUT,
    tls: ssl.SSLContext | None = None,
) -> trio.abc.Stream:
    """Open a stream for a URI/volfile transport: ``"tcp"`` (or ``"socket"``), ``"unix"``
    or ``"rdma"`` (falls back to tcp with a warning when :func:`open_rdma_stream` gives None);
    ETIMEDOUT after ``timeout`` seconds.  ``tls``: a client context to do TLS with over tcp
    (unix sockets never use TLS)."""
    if transport == "unix":
        if socket is None:
            raise ValueError("unix transport needs a socket path")
        return await open_unix_stream(socket, timeout=timeout)
    if host is None or port is None:
        raise ValueError(f"{transport} transport needs a host and a port")
    if transport == "rdma":
        stream = await open_rdma_stream(host, port)
        if stream is not None:
            return stream
        warnings.warn(RDMA_FALLBACK_WARNING, RuntimeWarning, stacklevel=2)
        return await open_tcp_stream(host, port, timeout=timeout)
    if transport not in ("tcp", "socket"):
        raise ValueError(f"unknown transport {transport!r}")
    stream = await open_tcp_stream(host, port, timeout=timeout)
    return stream if tls is None else await start_tls(stream, tls, host, port, timeout=timeout)
