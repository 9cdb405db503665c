"""The running cluster: nodes, their glusterd listeners, volumes and the bricks that serve
them, and what changes them (create/start/stop/delete a volume, set an option, stop, kill,
freeze a brick, take a node down).

Everything here runs in the server's trio thread and is synchronous: a brick or glusterd
starts by binding its sockets at once (so its port is known when the call returns) and
handing its accept loop to the server's nursery, under a cancel scope of its own that stops
it (listeners and every connection closed, as when a glusterfsd dies).
:class:`~fakegluster.server.FakeGluster` is the thread-safe face of this object.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import trio

from ..inproc import MessageStream, offer_rdma
from ..mgmt import model, options
from ..store import Store, open_store
from . import brickthread
from .auth import LOCAL_PEER, Peer, allows_insecure, server_options
from .brick import BRICK_PROGRAMS, Brick, BrickSession
from .brickopts import changed_bricks
from .brickstate import BrickOptions
from .calllog import CallLog, Faults
from .clisession import CliProgram
from .glusterd import GLUSTERD_TCP_PROGRAMS, GLUSTERD_UNIX_PROGRAMS, GlusterdSession
from .heal import BrickHealInfo, HealReport, anon_inode_dirs, heal, heal_info, self_heal_daemon
from .identity import IDENTITY_FILE, VolumeIdentity, identity_folder
from .listen import Listen, bind_same_port, close_now, reachable, run_listeners, tcp_listeners, unix_listener, unmapped
from .net import ConnectionLimit, next_connection_id, serve_socket, serve_stream
from .node import Node, find_node
from .planning import ClusterError, plan_volume
from .tls import ContextCache, TLSSettings, ssl_enabled, tls_accept
from .volspec import VolumeSpec
from .volume import Volume

__all__ = ["Cluster", "ClusterError"]

log = logging.getLogger("fakegluster.server")


T = TypeVar("T")


class Cluster:
    """glusterd's state for every node, and the bricks it runs.

    Args:
        nodes: the nodes (the first is the one ``--listen`` configures).
        calls, faults: the call log (None: none kept) and fault rules every connection shares.
        max_record: the RPC record size limit (None: the default).
        management_tls: management encryption (every TCP connection to glusterd is TLS).
        glusterd_options: glusterd.vol options (``rpc-auth-allow-insecure``).
    """

    def __init__(
        self,
        nodes: list[Node],
        *,
        calls: CallLog | None,
        faults: Faults,
        max_record: int | None = None,
        connections: ConnectionLimit | None = None,
        management_tls: TLSSettings | None = None,
        glusterd_options: dict[str, str] | None = None,
        pcap: Any = None,
    ) -> None:
        if not nodes:
            raise ClusterError("a cluster needs at least one node")
        self.nodes = nodes
        self.volumes: dict[str, Volume] = {}
        self.calls, self.faults, self.max_record = calls, faults, max_record
        #: every connection of every glusterd and brick counts against one limit
        self.connections = connections if connections is not None else ConnectionLimit()
        self.nursery: trio.Nursery | None = None
        self.management_tls = management_tls
        self.glusterd_options = dict(glusterd_options or {})
        #: a :class:`~fakegluster.server.pcap.PcapWriter` every connection writes to (or None)
        self.pcap = pcap
        self.tls = ContextCache()
        self._rdma: dict[int, list[Callable[[], None]]] = {}
        #: listening sockets of running bricks and nodes, closed at once when they stop
        #: (a restart may bind the same port right away)
        self._listening: dict[int, list[socket.socket]] = {}
        #: listening sockets bound before the server started, by the listener they serve
        #: (``fakegluster serve`` binds before its imports): adopted by :meth:`start_node`
        self.prebound: dict[Listen, list[socket.socket]] = {}
        #: connections :mod:`.early` accepted on those listeners (its :class:`~.early.Handed`),
        #: served by :meth:`start_node` with the listener's other connections
        self.preaccepted: dict[Listen, list[Any]] = {}

    # ---- volumes --------------------------------------------------------------------
    def plan(self, spec: VolumeSpec, others: Iterable[model.Volume] = ()) -> model.Volume:
        """The volume ``spec`` describes, checked as ``volume create ... force`` checks it,
        without touching anything (:func:`.planning.plan_volume`)."""
        return plan_volume(self.nodes, spec, others)

    def resolve_host(self, host: str) -> str | None:
        """The uuid of the node a brick host names (``glusterd_hostname_to_uuid``), None if
        no node of this cluster answers to it (for :func:`fakegluster.mgmt.create.stage_create`)."""
        node = find_node(self.nodes, host)
        return node.uuid if node is not None else None

    def create_volume(self, spec: VolumeSpec, planned: model.Volume | None = None) -> Volume:
        """Create (and, if ``spec.start``, start) the volume ``spec`` describes (``planned``:
        what :meth:`plan` made of it before, e.g. while ``fakegluster serve`` was answering its
        first GETSPECs: an in-memory volume keeps its volume-id and credentials)."""
        m = planned if planned is not None else self.plan(spec, [v.model for v in self.volumes.values()])
        storage = "store" if spec.store is not None else "directory" if spec.on_disk else "memory"
        vol = self.add_volume(m, storage=storage, store=spec.store)
        if spec.start:
            self.start_volume(m.name)
        return vol

    def add_volume(self, m: model.Volume, *, storage: str = "directory", store: Store | None = None) -> Volume:
        """Serve a volume glusterd's model describes (``volume create`` made it: the CLI's
        handler passes what :func:`fakegluster.mgmt.create.commit_create` returned): one
        store per brick, ``storage`` ``"directory"`` (the brick path, made if missing, as
        glusterd does), ``"memory"``, or ``"store"`` (``store``, a one-brick volume).  Not
        started; a directory volume takes back the volume-id, credentials and brick ports it
        had (hardening's :class:`~.identity.VolumeIdentity`, in brick 0's hidden folder)."""
        if m.name in self.volumes:
            raise ClusterError(f"Volume {m.name} already exists")
        stores: list[Store] = []
        try:
            for b in m.bricks:
                if storage == "store":
                    assert store is not None
                    stores.append(store)
                elif storage == "directory":
                    try:
                        os.makedirs(b.path, exist_ok=True)
                        stores.append(open_store(b.path))
                    except OSError as exc:  # one line for the CLI, naming the directory
                        raise OSError(exc.errno, f"cannot serve {b.path}: {exc.strerror or exc}") from None
                else:
                    stores.append(open_store(None))
        except BaseException:
            for s in stores:
                if s is not store:
                    s.close()
            raise
        folder = identity_folder(stores[0])
        if folder is not None and not os.path.exists(os.path.join(folder, IDENTITY_FILE)):
            # a new brick directory: the identity glusterd's create gave the volume is kept
            ident = VolumeIdentity(m.name, m.volume_id, m.username, m.password, folder=folder)
            ident.save()
        elif folder is None and m.volume_id and m.username and m.password:  # the one create gave it
            ident = VolumeIdentity(m.name, m.volume_id, m.username, m.password)
        else:
            ident = VolumeIdentity.load_or_create(folder, m.name)
        m.volume_id, m.username, m.password = ident.volume_id, ident.username, ident.password
        bricks = []
        for i, (b, bstore) in enumerate(zip(m.bricks, stores, strict=True)):
            node = find_node(self.nodes, b.host)
            if node is None:
                raise ClusterError(f"Host {b.host} is not in 'Peer in Cluster' state")
            brick = Brick(
                m.name, b.path, bstore, volume_id=m.volume_id, username=m.username, password=m.password,
                index=i, host=b.host, node=node, arbiter=b.is_arbiter,
            )  # fmt: skip
            brick.reconfigure(server_options(brick.path, m.username, m.password, m.options))
            if ssl_enabled(brick.options):  # a real brick does not start without its TLS files
                self.tls.get(TLSSettings.from_options(brick.options), server=True)
            brick.state.store = brick.store  # (bricksem: options that change the store, brick-uid)
            brick.state.options = BrickOptions.from_volume_options(m.options)
            brick.state.index.watch_volume(m, i)  # features/index watchlists (bricksem)
            brick.state.hostname, brick.state.node_uuid = b.host, node.uuid  # pathinfo, node-uuid
            bricks.append(brick)
        for brick in bricks:
            assert brick.node is not None
            brick.node.bricks.append(brick)
        vol = Volume(m, bricks, identity=ident)
        if vol.healable:
            for brick in bricks:
                brick.touched = {}
        self.volumes[m.name] = vol
        self.notify()
        return vol

    def volume(self, name: str) -> Volume:
        try:
            return self.volumes[name]
        except KeyError:
            raise ClusterError(f"Volume {name} does not exist") from None

    def start_volume(self, name: str, force: bool = False) -> None:
        """Start every brick that is not running (on nodes that are up)."""
        vol = self.volume(name)
        vol.model.status = model.VolumeStatus.STARTED
        if self.nursery is None:
            return  # started with the server
        for brick in vol.bricks:
            if not brick.running and brick.node is not None and brick.node.up:
                self.start_brick(brick)
        anon_inode_dirs(vol)  # glustershd's first crawl, right after it starts
        self.start_shd(vol)
        self.notify()

    def stop_volume(self, name: str) -> None:
        vol = self.volume(name)
        for brick in vol.bricks:
            self.stop_brick(brick)
        if vol.shd_scope is not None:
            vol.shd_scope.cancel()
            vol.shd_scope = None
        vol.model.status = model.VolumeStatus.STOPPED
        self.notify()

    def delete_volume(self, name: str) -> None:
        vol = self.volume(name)
        if vol.started:
            raise ClusterError(f"Volume {name} has been started.Volume needs to be stopped before deletion.")
        for brick in vol.bricks:
            self.stop_brick(brick)
            if brick.node is not None and brick in brick.node.bricks:
                brick.node.bricks.remove(brick)
            brick.store.close()
        del self.volumes[name]
        self.notify()

    def set_option(self, name: str, key: str, value: str | None) -> None:
        """``volume set`` (``None``: ``volume reset``), as glusterd checks it (mgmt's options,
        strict: a brick-side key the fake's bricks cannot honour is refused; a client option
        newer than a connected client runs is refused), then :meth:`change_options`' steps."""
        vol = self.volume(name)
        others = [v.model for v in self.volumes.values()]

        def change() -> None:
            if value is None:
                options.reset_option(vol.model, key)
            else:
                options.set_options(vol.model, [(key, value)], others, strict=True, clients=self.clients(name))

        self.change_options(name, change)

    def change_options(self, name: str, change: Callable[[], T]) -> T:
        """Apply ``change()`` (which edits the volume's model options: the CLI's set/reset
        handlers) as glusterd does: glusterd's refusal (``model.VolumeError``, or an address
        list glusterd refuses) leaves the options as they were and raises ClusterError;
        otherwise the op-versions are updated, the bricks take their new options at once
        (access rules: clients that no longer pass are disconnected) and every client is told
        to fetch its new volfile (FETCHSPEC).  Returns what ``change()`` returned."""
        vol = self.volume(name)
        before = dict(vol.model.options)
        try:
            out, changed = changed_bricks(vol.model, change)
            server_options("/", None, None, vol.model.options)
        except (model.VolumeError, ValueError) as exc:
            vol.model.options.clear()
            vol.model.options.update(before)
            raise ClusterError(getattr(exc, "message", str(exc))) from None
        options.update_op_versions(vol.model)
        vol.model.version += 1
        opts = vol.model.options
        for i in changed:  # a brick whose volfile is the same does nothing (mgmt's changes)
            brick = vol.bricks[i]
            brick.reconfigure(server_options(brick.path, vol.model.username, vol.model.password, opts))
            brick.state.options = BrickOptions.from_volume_options(opts)
        self.notify()
        return out

    def clients(self, name: str) -> list[tuple[str, int, int]]:
        """The clients that fetched ``name``'s volfile and are still connected to a glusterd:
        (``ip:port``, min-op-version, max-op-version), for ``volume set``'s op-version check
        (``glusterd_check_client_op_version_support``)."""
        out = []
        for node in self.nodes:
            for session in node.sessions:
                if session.client is not None and session.client[0] == name:
                    out.append(session.client[1:])
        return out

    def reset_option(self, name: str, key: str) -> None:
        self.set_option(name, key, None)

    def notify(self) -> int:
        """``glusterd_fetchspec_notify``: FETCHSPEC on every connection of every glusterd
        that is up; returns how many were sent."""
        sent = 0
        for node in self.nodes:
            for session in list(node.sessions):
                session.fetchspec()
                sent += 1
        return sent

    # ---- heal -----------------------------------------------------------------------
    def heal(self, name: str) -> HealReport:
        """One pass of self-heal over the volume (``volume heal V``); see :mod:`.heal`."""
        vol = self.volume(name)
        try:
            return heal(vol)
        except ValueError as exc:
            raise ClusterError(str(exc)) from None

    def heal_info(self, name: str) -> list[BrickHealInfo]:
        """What ``volume heal V info`` lists, per brick."""
        vol = self.volume(name)
        try:
            return heal_info(vol)
        except ValueError as exc:
            raise ClusterError(str(exc)) from None

    def wake_shd(self, vol: Volume) -> None:
        """Tell the volume's self-heal daemon to crawl now (a brick came up: child up)."""
        if vol.heal_wanted is not None:
            vol.heal_wanted.set()

    def start_shd(self, vol: Volume) -> None:
        if not vol.healable or vol.shd_scope is not None or self.nursery is None:
            return
        vol.shd_scope = trio.CancelScope()
        vol.heal_wanted = trio.Event()
        vol.heal_wanted.set()  # glustershd crawls when it starts
        self.nursery.start_soon(self_heal_daemon, vol, vol.shd_scope)

    # ---- bricks ---------------------------------------------------------------------
    def brick(self, volume: str, which: int | str) -> Brick:
        """A brick by index, ``host:path`` or path."""
        vol = self.volume(volume)
        if isinstance(which, int):
            try:
                return vol.bricks[which]
            except IndexError:
                raise ClusterError(f"volume {volume} has {len(vol.bricks)} bricks, not {which + 1}") from None
        for b in vol.bricks:
            if which in (b.path, f"{b.host}:{b.path}"):
                return b
        raise ClusterError(f"volume {volume} has no brick {which}")

    def start_brick(self, brick: Brick, port: int = 0) -> int:
        """Start a brick's "process": listen on its node's addresses (``port`` 0: a new port,
        as glusterd's port map hands out) and serve; returns the port."""
        if brick.running:
            return brick.port
        node = brick.node
        if node is None or not node.up:
            raise ClusterError(f"{brick.host}:{brick.path}: its node is down")
        nursery = self._need_nursery()
        vol = self.volumes.get(brick.volume)
        ident = vol.identity if vol is not None else None
        if not port and not brick.ports_seen and ident is not None:
            port = ident.port_of(brick.path)  # a restarted server: the port clients knew
            try:
                socks = bind_same_port(node.brick_hosts, port)
            except OSError:
                socks = bind_same_port(node.brick_hosts, 0)
        else:
            socks = bind_same_port(node.brick_hosts, port)
        brick.port = socks[0].getsockname()[1]
        brick.ports_seen.append(brick.port)
        if ident is not None:
            ident.remember_port(brick.path, brick.port)
        brick.state.forget_names()  # a new process: an empty inode table (bricksem)
        brick.status = "running"
        brick.scope = trio.CancelScope()
        handler = self._brick_handler(brick)
        self._listening[id(brick)] = socks
        nursery.start_soon(run_listeners, brick.scope, [(s, handler) for s in socks], self.connections)
        self._offer(id(brick), [reachable(h) for h in node.brick_hosts], brick.port, handler)
        self._sync_model(brick)
        log.info("%s: %s:%s on port %d", brick.name, brick.host, brick.path, brick.port)
        vol = self.volumes.get(brick.volume)
        if vol is not None:
            self.wake_shd(vol)
        return brick.port

    def stop_brick(self, brick: Brick) -> None:
        """The brick's process ends: listeners and connections closed, port map entry gone
        (clients' PORTBYBRICK gets op_ret -1 until it is started again)."""
        if not brick.running:
            return
        brick.status = "stopped"
        brick.port = 0
        brick.held.clear()
        if brick.scope is not None:
            brick.scope.cancel()
            brick.scope = None
        close_now(self._listening.pop(id(brick), []))
        for withdraw in self._rdma.pop(id(brick), []):
            withdraw()
        self._sync_model(brick)
        log.info("%s: stopped", brick.name)

    def kill_brick(self, brick: Brick) -> None:
        """SIGKILL: as :meth:`stop_brick` for clients (the kernel closes every socket); a
        killed brick does not sign out, which only glusterd's own log would show."""
        self.stop_brick(brick)

    def freeze_brick(self, brick: Brick) -> None:
        """SIGSTOP: connections are accepted, calls are held unanswered (pings too, so clients
        time out after ``network.ping-timeout``) until :meth:`thaw_brick`."""
        if brick.status != "running":
            raise ClusterError(f"{brick.name} is {brick.status}, not running")
        brick.status = "frozen"

    def thaw_brick(self, brick: Brick) -> None:
        """SIGCONT: the held calls are answered, in order."""
        if brick.status == "frozen":
            brick.thaw()

    def _sync_model(self, brick: Brick) -> None:
        vol = self.volumes.get(brick.volume)
        if vol is not None and brick.index < len(vol.model.bricks):
            mb = vol.model.bricks[brick.index]
            mb.port, mb.online = brick.port, brick.running
            mb.pid = os.getpid() if brick.running else -1

    # ---- nodes ----------------------------------------------------------------------
    def node(self, which: int | str) -> Node:
        if isinstance(which, int):
            return self.nodes[which]
        node = find_node(self.nodes, which)
        if node is None:
            raise ClusterError(f"no node {which}")
        return node

    def start_node(self, node: Node, *, bricks: bool = True) -> None:
        """Bring a node up: its glusterd listens again (on the ports it had, else new ones)
        and, like glusterd at boot, starts the bricks of started volumes placed on it."""
        if node.up:
            return
        nursery = self._need_nursery()
        bound: list[tuple[Listen, list[socket.socket]]] = []
        early: list[tuple[socket.socket, Any, Any]] = []
        try:
            for i, li in enumerate(node.listen):
                if li.transport == "unix":
                    assert li.path is not None
                    bound.append((li, [unix_listener(li.path)]))
                    if li.path not in node.unix_paths:
                        node.unix_paths.append(li.path)
                    continue
                assert li.host is not None
                port = node.bound[i].port if node.bound and node.bound[i].port else li.port
                socks = self.prebound.pop(li, None) or tcp_listeners(li.host, port or 0)
                bound.append((Listen("tcp", li.host, socks[0].getsockname()[1]), socks))
                early += [(h.sock, h.addr, self._glusterd_handler(node, bound[-1][0], client=h.client))
                          for h in self.preaccepted.pop(li, [])]  # fmt: skip
        except BaseException:
            for _, socks in bound:
                for s in socks:
                    s.close()
            for conn, _, _ in early:
                conn.close()
            raise
        node.bound = [li for li, _ in bound]
        node.up = True
        node.scope = trio.CancelScope()
        pairs = [(s, self._glusterd_handler(node, li)) for li, socks in bound for s in socks]
        self._listening[id(node)] = [s for s, _ in pairs]
        nursery.start_soon(run_listeners, node.scope, pairs, self.connections, early)
        for li, _ in bound:
            if li.transport == "tcp":
                self._offer(id(node), [reachable(li.host)], li.port or 0, self._glusterd_handler(node, li, rdma=True))
        if bricks:
            for brick in node.bricks:
                vol = self.volumes.get(brick.volume)
                if vol is not None and vol.started:
                    self.start_brick(brick)

    def stop_node(self, node: Node) -> None:
        """The whole node goes away: its bricks die, its glusterd stops listening and drops
        every connection (clients fall back to their other volfile servers)."""
        for brick in node.bricks:
            self.stop_brick(brick)
        if node.scope is not None:
            node.scope.cancel()
            node.scope = None
        close_now(self._listening.pop(id(node), []))
        for withdraw in self._rdma.pop(id(node), []):
            withdraw()
        node.sessions.clear()
        node.up = False

    # ---- serving --------------------------------------------------------------------
    def _need_nursery(self) -> trio.Nursery:
        if self.nursery is None:
            raise ClusterError("the server is not running")
        return self.nursery

    def _offer(self, key: int, hosts: list[str], port: int, handler: Callable[[Any, Any], Any]) -> None:
        """Emulated rdma (:mod:`fakegluster.inproc`) on ``hosts:port`` for clients in this
        process."""
        nursery = self._need_nursery()
        token = trio.lowlevel.current_trio_token()

        def accept(sock: Any) -> None:
            token.run_sync_soon(lambda: nursery.start_soon(handler, MessageStream(sock), None))

        for host in dict.fromkeys(hosts):
            self._rdma.setdefault(key, []).append(offer_rdma(host, port, accept))

    def _glusterd_handler(
        self, node: Node, li: Listen, rdma: bool = False, client: tuple[str, int, int] | None = None
    ) -> Callable[[Any, Any], Any]:
        """What serves a connection to ``node``'s glusterd on ``li``; ``client``: (volume,
        min, max op-version) of the GETSPEC :mod:`.early` answered on it before."""

        async def handler(conn: Any, addr: Any) -> None:
            cid = next_connection_id()
            if rdma:
                peer, local, programs, pmap_port = "rdma", reachable(li.host), GLUSTERD_TCP_PROGRAMS, li.port
            elif li.transport == "unix":
                peer, local, programs, pmap_port = "unix", None, GLUSTERD_UNIX_PROGRAMS, node.glusterd_port
            else:
                local_addr = conn.getsockname()
                peer, local, programs, pmap_port = addr[0], local_addr[0], GLUSTERD_TCP_PROGRAMS, local_addr[1]
                if self.management_tls is not None:  # secure-access: every TCP connection is TLS
                    accepted = await tls_accept(conn, self.tls.get(self.management_tls, server=True))
                    if accepted is None:
                        return
                    conn = accepted[0]
            session = GlusterdSession(
                self.volumes,
                "unix" if li.transport == "unix" and not rdma else "tcp",
                node,
                unmapped(local) if local else node.address,
                None if peer in ("unix", "rdma") else peer,
                pmap_port,
                identifier=f"{unmapped(addr[0])}:{addr[1]}" if peer not in ("unix", "rdma") and addr else peer,
                cli_program=CliProgram(self, node),
            )
            if client is not None:  # what that GETSPEC recorded (GlusterdSession.getspec)
                session.client = (client[0], session.peer, client[1], client[2])
            if li.transport == "tcp" and not rdma:  # rpcsvc: glusterd.vol's rpc-auth-allow-insecure
                session.denied = not Peer.from_sockaddr(addr).privileged and not allows_insecure(self.glusterd_options)
            await self._serve(conn, session, programs, "glusterd", peer, cid)

        return handler

    def _brick_handler(self, brick: Brick) -> Callable[[Any, Any], Any]:
        async def handler(conn: Any, addr: Any) -> None:
            cid = next_connection_id()
            rdma = isinstance(conn, MessageStream)
            peer = "rdma" if rdma else str(addr[0]) if addr else "?"
            ssl_name = None
            if isinstance(conn, socket.socket) and ssl_enabled(brick.options):  # server.ssl
                accepted = await tls_accept(conn, self.tls.get(TLSSettings.from_options(brick.options), server=True))
                if accepted is None:
                    return
                conn, ssl_name = accepted
            session = BrickSession(brick, cid, LOCAL_PEER if rdma or not addr else Peer.from_sockaddr(addr), ssl_name)
            await self._serve(conn, session, BRICK_PROGRAMS, brick.name, peer, cid)

        return handler

    async def _serve(self, conn: Any, session: Any, programs: Any, name: str, peer: str, cid: int) -> None:
        """A plain socket takes the fast loop (a brick's: with a reader thread, :mod:`.brickthread`),
        any other stream (emulated rdma, TLS) the generic one."""
        kw: dict[str, Any] = dict(name=name, peer=peer, connection_id=cid, calls=self.calls, faults=self.faults)
        if self.pcap is not None:
            kw["tap"] = _tap(self.pcap, conn, name, self)
        if isinstance(conn, socket.socket):
            if self.pcap is None and isinstance(session, BrickSession) and brickthread.ENABLED:
                kw["reader"] = brickthread.Reader
            await serve_socket(conn, session, programs, max_record=self.max_record, **kw)
        else:
            await serve_stream(conn, session, programs, max_record=self.max_record, **kw)

    def close(self) -> None:
        """The server ends: rdma offers withdrawn, stores closed, unix socket files removed."""
        for socks in self.prebound.values():  # never adopted (the server failed to start)
            for s in socks:
                s.close()
        self.prebound.clear()
        for handed in self.preaccepted.values():
            for h in handed:
                h.sock.close()
        self.preaccepted.clear()
        for withdraws in self._rdma.values():
            for withdraw in withdraws:
                withdraw()
        self._rdma.clear()
        for vol in self.volumes.values():
            for brick in vol.bricks:
                brick.status, brick.port, brick.scope = "stopped", 0, None
                brick.store.close()
        for node in self.nodes:
            node.up, node.scope = False, None
            node.sessions.clear()
            for path in node.unix_paths:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _tap(pcap: Any, conn: Any, name: str, cluster: Cluster) -> Any:
    """A pcap stream for a new connection: its TCP addresses, or none (unix, rdma)."""
    sock = conn if isinstance(conn, socket.socket) else getattr(getattr(conn, "transport_stream", None), "socket", None)
    try:
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            return pcap.open(sock.getsockname()[:2], sock.getpeername()[:2])
    except OSError:
        pass
    port = 24007
    if name.startswith("brick:"):
        _, volume, index = name.split(":", 2)
        with contextlib.suppress(KeyError, ValueError, IndexError, ClusterError):
            port = cluster.volume(volume).bricks[int(index)].port or port
    return pcap.open(None, None, server_port=port)
