"""TCP listening sockets, with nothing but :mod:`socket` imported: ``fakegluster serve``
binds its glusterd listeners with this module before it even parses its arguments
(:func:`fakegluster.cli.main`), so a client started alongside waits in the kernel's accept
queue.  :mod:`.listen` (``--listen`` URLs, unix sockets, brick ports) builds on it.
"""

from __future__ import annotations

import socket

__all__ = ["tcp_listeners", "bracket", "LISTEN_BACKLOG", "DEFAULT_LISTEN"]

#: listen() backlog: GLUSTERFS_SOCKET_LISTEN_BACKLOG (glusterd and bricks, transport.listen-backlog)
LISTEN_BACKLOG = 1024

#: glusterd's own address (``fakegluster serve`` without ``--listen``)
DEFAULT_LISTEN = "tcp://127.0.0.1:24007"


def bracket(host: str | None) -> str:
    return f"[{host}]" if host and ":" in host else str(host)


def _cannot(url: str, exc: OSError) -> OSError:
    """The OSError of a failed bind, saying which address (a one-line error for the CLI)."""
    return OSError(exc.errno, f"cannot listen on {url}: {exc.strerror or exc}")


def tcp_listeners(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (one port for all when port is 0);
    an OSError names the address it could not listen on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:
        raise _cannot(f"tcp://{bracket(host)}:{port}", exc) from None
    socks: list[socket.socket] = []
    seen = set()
    try:
        for family, _type, proto, _name, addr in infos:
            if (family, addr[0]) in seen:
                continue
            seen.add((family, addr[0]))
            s = socket.socket(family, socket.SOCK_STREAM, proto)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:
                addr = (addr[0], socks[0].getsockname()[1], *addr[2:])
            try:
                s.bind(addr)
            except OSError as exc:
                raise _cannot(f"tcp://{bracket(str(addr[0]))}:{addr[1]!s}", exc) from None
            s.listen(LISTEN_BACKLOG)
    except OSError:
        for s in socks:
            s.close()
        raise
    return socks
