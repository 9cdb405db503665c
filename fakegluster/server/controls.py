"""The handles a :class:`~.cluster.FakeGluster` gives out, usable from any thread:
:class:`ServerInfo` (what a started server listens on, URIs for its volumes),
:class:`BrickControl` (one brick's place, state and process life) and :class:`NodeControl`
(one node: glusterd and its bricks).  Each reads the running :class:`~.runtime.Cluster`
live and changes it through ``FakeGluster.run_sync`` (the server's trio thread).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proto.uri import GlusterURI
from .brick import Brick
from .listen import Listen, bracket, reachable
from .node import Node

if TYPE_CHECKING:
    from .cluster import FakeGluster

__all__ = ["ServerInfo", "BrickControl", "NodeControl"]


class ServerInfo:
    """What a started server listens on, and how to reach its volumes (read live)."""

    def __init__(self, server: FakeGluster) -> None:
        self._server = server

    @property
    def listeners(self) -> list[Listen]:
        """The first node's glusterd listeners, as bound."""
        return list(self._server.cluster.nodes[0].bound)

    @property
    def volumes(self) -> list[str]:
        return list(self._server.cluster.volumes)

    @property
    def brick_ports(self) -> dict[str, int]:
        """brick path -> port, for the bricks running now."""
        return {b.path: b.port for n in self._server.cluster.nodes for b in n.bricks if b.running}

    @property
    def tcp(self) -> list[Listen]:
        return [li for li in self.listeners if li.transport == "tcp"]

    @property
    def unix(self) -> list[Listen]:
        return [li for li in self.listeners if li.transport == "unix"]

    @property
    def port(self) -> int:
        """The first TCP listener's port (what ``gluster://HOST:PORT/...`` needs)."""
        return self.tcp[0].port or 0 if self.tcp else 0

    def uri(
        self, volume: str | None = None, path: str | None = None, *, transport: str = "tcp", listener: int = 0
    ) -> str:
        """A URI for ``volume`` (default: the first) and image ``path`` (None: the volume)."""
        volume = volume or self.volumes[0]
        if transport == "unix":
            return GlusterURI("unix", None, None, self.unix[listener].path, volume, path).to_uri()
        li = self.tcp[listener]
        host = reachable(li.host)
        return GlusterURI("rdma" if transport == "rdma" else "tcp", host, li.port, None, volume, path).to_uri()

    def uri_prefixes(self, volume: str) -> list[str]:
        """One URI prefix per listener: append the image path (before ``?socket=`` for unix)."""
        out = []
        for li in self.listeners:
            if li.transport == "tcp":
                out.append(f"gluster://{bracket(reachable(li.host))}:{li.port}/{volume}/")
            else:
                out.append(f"gluster+unix:///{volume}/?socket={li.path}")
        return out

    def volfile_servers(self) -> list[tuple[str, int]]:
        """(address, glusterd port) of every node, first node first: the server list to give
        a client that must fail over (QEMU's ``server.N``, FUSE's ``backup-volfile-servers``)."""
        out = []
        for node in self._server.cluster.nodes:
            if node.glusterd_port:
                out.append((node.address, node.glusterd_port))
        return out


class BrickControl:
    """One brick of a served volume, from any thread: its place and state, and its process's
    life (``stop``, ``start``, ``kill``, ``freeze``, ``thaw``)."""

    def __init__(self, server: FakeGluster, brick: Brick) -> None:
        self._server, self.brick = server, brick

    def __repr__(self) -> str:
        b = self.brick
        return f"<brick {b.index} of {b.volume}: {b.host}:{b.path} {b.status} port {b.port}>"

    index = property(lambda self: self.brick.index)
    path = property(lambda self: self.brick.path)
    host = property(lambda self: self.brick.host)
    name = property(lambda self: self.brick.name, doc="``brick:VOLUME:INDEX`` (call log, fault rules)")
    port = property(lambda self: self.brick.port, doc="0 while stopped")
    status = property(lambda self: self.brick.status, doc="running, frozen or stopped")
    store = property(lambda self: self.brick.store, doc="touch it through ``server.run_sync`` while serving")
    faults = property(
        lambda self: self.brick.state.faults, doc="data faults: disk full, slow, partition, stale (datafaults.py)"
    )

    @property
    def running(self) -> bool:
        return self.brick.running

    def start(self, port: int = 0) -> int:
        """Start the brick's process again (``volume start V force``); a new port unless
        ``port`` is given, found by clients through glusterd's port map.  Returns the port."""
        return self._server.run_sync(self._server.cluster.start_brick, self.brick, port)

    def stop(self) -> None:
        """The process exits: connections closed, no port (PORTBYBRICK: op_ret -1)."""
        self._server.run_sync(self._server.cluster.stop_brick, self.brick)

    def kill(self) -> None:
        """SIGKILL (for clients, the same as :meth:`stop`)."""
        self._server.run_sync(self._server.cluster.kill_brick, self.brick)

    def freeze(self) -> None:
        """SIGSTOP: connections accepted, nothing answered until :meth:`thaw`."""
        self._server.run_sync(self._server.cluster.freeze_brick, self.brick)

    def thaw(self) -> None:
        """SIGCONT: what was held is answered, in order."""
        self._server.run_sync(self._server.cluster.thaw_brick, self.brick)


class NodeControl:
    """One fake node, from any thread: its address and glusterd port, ``stop()`` (the whole
    machine goes away: glusterd and its bricks) and ``start()``."""

    def __init__(self, server: FakeGluster, node: Node) -> None:
        self._server, self.node = server, node

    def __repr__(self) -> str:
        n = self.node
        return f"<node {n.host} {n.address}:{n.glusterd_port} {'up' if n.up else 'down'}>"

    host = property(lambda self: self.node.host, doc="the name bricks carry (``host:/path``)")
    address = property(lambda self: self.node.address, doc="where clients reach it")
    port = property(lambda self: self.node.glusterd_port, doc="its glusterd's TCP port")
    uuid = property(lambda self: self.node.uuid)

    @property
    def running(self) -> bool:
        return self.node.up

    @property
    def bricks(self) -> list[BrickControl]:
        return [BrickControl(self._server, b) for b in self.node.bricks]

    def stop(self) -> None:
        self._server.run_sync(self._server.cluster.stop_node, self.node)

    def start(self) -> None:
        self._server.run_sync(self._server.cluster.start_node, self.node)
