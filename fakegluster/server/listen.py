"""Addresses and listening sockets: ``--listen`` URLs, TCP listeners on every address of a
host, one port for a brick on several hosts, unix sockets (a stale one is replaced).

Importing this module does not import trio (only :func:`run_listeners` and :func:`close_now`
use it): ``fakegluster serve`` parses its ``--listen`` URLs with it before the heavy imports
(:func:`fakegluster.cli._prebind`); the TCP sockets themselves come from :mod:`.bind`.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import ipaddress
import os
import socket
import stat
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .bind import DEFAULT_LISTEN, LISTEN_BACKLOG, _cannot, bracket, tcp_listeners

if TYPE_CHECKING:
    import trio

    from .net import ConnectionLimit

__all__ = [
    "Listen",
    "parse_listen",
    "bracket",
    "reachable",
    "unmapped",
    "tcp_listeners",
    "unix_listener",
    "bind_same_port",
    "run_listeners",
    "close_now",
    "LISTEN_BACKLOG",
    "DEFAULT_LISTEN",
]


@dataclasses.dataclass(frozen=True)
class Listen:
    transport: str  # "tcp" or "unix"
    host: str | None = None
    port: int | None = None
    path: str | None = None

    def url(self) -> str:
        if self.transport == "unix":
            return f"unix://{self.path}"
        return f"tcp://{bracket(self.host)}:{self.port}"


def parse_listen(text: str) -> Listen:
    """``tcp://HOST:PORT`` (IPv6 as ``[::1]``; port 0 picks one) or ``unix:///PATH``."""
    u = urllib.parse.urlsplit(text)
    if u.scheme == "unix":
        path = urllib.parse.unquote(u.path)
        if u.netloc or not path.startswith("/"):
            raise ValueError(f"--listen {text!r}: a unix listener is unix:///ABSOLUTE/PATH")
        if len(os.fsencode(path)) > 107:
            raise ValueError(f"--listen {text!r}: a unix socket path is at most 107 bytes (AF_UNIX)")
        return Listen("unix", path=path)
    if u.scheme != "tcp":
        raise ValueError(f"--listen {text!r}: the scheme must be tcp:// or unix://")
    try:
        port = u.port
    except ValueError as exc:
        raise ValueError(f"--listen {text!r}: {exc}") from None
    if not u.hostname or port is None or u.path not in ("", "/"):
        raise ValueError(f"--listen {text!r}: a tcp listener is tcp://HOST:PORT")
    return Listen("tcp", host=u.hostname, port=port)


def reachable(host: str | None) -> str:
    """An address a client can dial for a listener bound to ``host`` (wildcards: loopback)."""
    if host in ("0.0.0.0", "", None):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return str(host)


@functools.lru_cache(maxsize=4096)  # once per address, not once per connection
def unmapped(host: str) -> str:
    """``::ffff:1.2.3.4`` -> ``1.2.3.4``; anything else unchanged."""
    try:
        addr = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return host


def unix_listener(path: str) -> socket.socket:
    """A listening unix socket at ``path``; a stale socket file (nobody listening) is replaced."""
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # a stale socket from a dead server
        else:
            raise OSError(errno.EADDRINUSE, f"{path}: another server is listening there")
        finally:
            probe.close()
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        raw.bind(path)
    except OSError as exc:
        raw.close()
        raise _cannot(f"unix://{path}", exc) from None
    raw.listen(LISTEN_BACKLOG)
    return raw


def bind_same_port(hosts: Sequence[str], port: int = 0, attempts: int = 20) -> list[socket.socket]:
    """Listening sockets on every host with one port number (a brick has one port).

    ``port`` 0 picks a free one (retried when the first host's pick is taken on another).
    """
    last: OSError | None = None
    for _ in range(attempts if port == 0 else 1):
        socks: list[socket.socket] = []
        chosen = port
        try:
            for host in hosts:
                info = socket.getaddrinfo(host, chosen, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
                s = socket.socket(info[0], socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if info[0] == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, chosen) if info[0] == socket.AF_INET else info[4][:2] + (0, 0))
                s.listen(LISTEN_BACKLOG)
                chosen = s.getsockname()[1]
            return socks
        except OSError as exc:
            last = exc
            for s in socks:
                s.close()
    raise OSError(errno.EADDRINUSE, f"no common free port for a brick on {list(hosts)}: {last}")


async def run_listeners(
    scope: trio.CancelScope,
    listeners: list[tuple[socket.socket, Any]],
    limit: ConnectionLimit,
    accepted: Sequence[tuple[socket.socket, Any, Any]] = (),
) -> None:
    """Accept on each (socket, handler) (connections served in a nursery of their own) until
    ``scope`` is cancelled, which closes the listeners and every connection.  ``accepted``:
    (socket, address, handler) of connections accepted before (:mod:`.early`), served first."""
    import trio

    from .net import _counted

    try:
        with scope:
            async with trio.open_nursery() as nursery:
                for conn, addr, handler in accepted:  # as serve_listener takes a new one
                    limit.current += 1
                    limit.accepted += 1
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    nursery.start_soon(_counted, handler, conn, addr, limit)
                for s, handler in listeners:
                    nursery.start_soon(_accept, s, handler, nursery, limit)
    finally:
        for s, _ in listeners:
            s.close()


async def _accept(sock: socket.socket, handler: Any, nursery: trio.Nursery, limit: ConnectionLimit) -> None:
    import trio

    from .net import serve_listener

    try:
        await serve_listener(sock, handler, nursery, limit)
    except (trio.ClosedResourceError, OSError):
        if sock.fileno() != -1:
            raise  # not closed by a stop: a real error


def close_now(socks: list[socket.socket]) -> None:
    """Close listening sockets at once (their accept loops see ClosedResourceError)."""
    import trio

    for s in socks:
        if s.fileno() != -1:
            trio.lowlevel.notify_closing(s)
            s.close()
