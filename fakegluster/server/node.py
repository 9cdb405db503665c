"""A fake node: one glusterd (its listeners, its management connections, its port map) and
the bricks placed on it.

A real trusted storage pool is several machines, each running glusterd on port 24007 and
its bricks on ports glusterd hands out (``glusterd-pmap.c``).  Here a node is an address of
this machine (``127.0.0.2``, ``127.0.0.3``, ... are all loopback on Linux) and its glusterd a
set of listeners in this process.  A node can be taken down (its glusterd stops listening and
drops its connections, its bricks stop) and brought back on the same glusterd port.
"""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .listen import Listen, reachable

if TYPE_CHECKING:
    import trio

    from .brick import Brick

__all__ = ["Node", "node0_name"]


def node0_name() -> str:
    """The first node's name in ``host:/path``: this machine's host name, as a real pool
    names it (glusterd refuses ``localhost``/``127.0.0.1`` brick hosts)."""
    name = socket.gethostname()
    return name if name and name not in ("localhost",) and not name.startswith("127.") else "fakegluster-node0"


@dataclasses.dataclass(eq=False)
class Node:
    """One fake node.

    Attributes:
        host: the name bricks on this node carry (``host:/path``) and the address the
            volfile gives clients for them (``remote-host``).
        listen: glusterd's listeners as asked for (port 0: any).
        bound: the listeners as bound (real ports); kept across down/up.
        dynamic_host: the volfile's ``remote-host`` is the address the client reached this
            glusterd on (a single-node server listening on several addresses, IPv6...).
        uuid: the node's uuid (``glusterd.info``'s UUID).
    """

    host: str
    listen: list[Listen]
    dynamic_host: bool = False
    uuid: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    bound: list[Listen] = dataclasses.field(default_factory=list)
    up: bool = False
    bricks: list[Brick] = dataclasses.field(default_factory=list)
    #: live glusterd sessions (every connection glusterd holds gets FETCHSPEC)
    sessions: set[Any] = dataclasses.field(default_factory=set)
    scope: trio.CancelScope | None = None
    unix_paths: list[str] = dataclasses.field(default_factory=list)

    @property
    def tcp(self) -> list[Listen]:
        return [li for li in (self.bound or self.listen) if li.transport == "tcp"]

    @property
    def glusterd_port(self) -> int | None:
        """The TCP port of this node's glusterd (what ``remote-port`` names), None without TCP."""
        tcp = self.tcp
        return tcp[0].port if tcp and tcp[0].port else None

    @property
    def brick_hosts(self) -> list[str]:
        """The addresses a brick of this node listens on: every TCP listener's host."""
        hosts = list(dict.fromkeys(li.host for li in self.listen if li.transport == "tcp" and li.host))
        return hosts or [self.address]

    @property
    def address(self) -> str:
        """An address clients can dial for this node's glusterd and bricks."""
        tcp = self.tcp
        return reachable(tcp[0].host) if tcp else self.host

    def names(self) -> set[str]:
        """Every name a brick spec may use for this node (``host:/path``)."""
        out = {self.host, self.address}
        out.update(reachable(li.host) for li in self.listen if li.transport == "tcp")
        out.update(li.host for li in self.listen if li.transport == "tcp" and li.host)
        return out

    def portmap(self) -> dict[str, int]:
        """``pmap_registry``: brick path -> port of the bricks of this node that are running."""
        return {b.path: b.port for b in self.bricks if b.running and b.port}

    def matches(self, host: str) -> bool:
        return host in self.names()


def find_node(nodes: Iterable[Node], host: str) -> Node | None:
    for node in nodes:
        if node.matches(host):
            return node
    return None
