"""A fake GlusterFS cluster: nodes with a glusterd each, volumes of every type, one listener
and port per brick, and the controls to change it all while clients run.

Async use (readiness through ``nursery.start``)::

    server = FakeGluster(volumes=["testvol"], listen=["tcp://127.0.0.1:0"])
    info = await nursery.start(server.serve)
    info.uri("testvol", "a.img")      # gluster://127.0.0.1:PORT/testvol/a.img

Sync use (trio runs in a thread)::

    with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:0"], nodes=3) as server:
        subprocess.run(["qemu-img", "info", server.uri("vm", "a.img")])
        server.bricks("vm")[2].stop()          # brick 2's process dies
        server.set_option("vm", "performance.write-behind", "off")   # clients get FETCHSPEC
        server.nodes[1].stop()                 # a whole node goes away

Volumes are written as one-line specs (:mod:`.volspec`: ``"vm=/srv/vm;replica=3"``),
:class:`VolumeSpec` values, dicts of the same keys, or ``(name, Store)`` for a one-brick volume
on a ready store.  The running state lives in a :class:`~.runtime.Cluster` (the server's trio
thread only); this class is its thread-safe face.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from ..mgmt import model
from ..store import Store, open_store
from ..tls import TLSSettings
from ..trio_thread import TrioThread
from . import seed
from .calllog import CallLog, Faults
from .controls import BrickControl, NodeControl, ServerInfo
from .heal import BrickHealInfo, HealReport
from .listen import DEFAULT_LISTEN, Listen, parse_listen, reachable
from .net import ConnectionLimit
from .node import Node, node0_name
from .pcap import PcapWriter
from .runtime import Cluster, ClusterError
from .volspec import VolumeSpec, parse_volume_spec, volume_spec

if TYPE_CHECKING:
    from .early import EarlyServer

R = TypeVar("R")

__all__ = [
    "FakeGluster",
    "ServerInfo",
    "BrickControl",
    "NodeControl",
    "Listen",
    "parse_listen",
    "parse_volume",
    "DEFAULT_LISTEN",
    "ClusterError",
]


def parse_volume(text: str) -> tuple[str, str | None]:
    """``NAME`` (in memory) or ``NAME=DIR`` (serve DIR); see :func:`.volspec.parse_volume_spec`
    for the full one-line spec."""
    spec = parse_volume_spec(text)
    return spec.name, spec.directory


VolumeLike = str | VolumeSpec | Mapping[str, Any] | tuple[str, Store]


def to_spec(item: VolumeLike) -> VolumeSpec:
    if isinstance(item, VolumeSpec):
        return item
    if isinstance(item, str):
        return parse_volume_spec(item)
    if isinstance(item, tuple):
        name, store = item
        return VolumeSpec(str(name), store=store)
    if isinstance(item, Mapping):
        kw = dict(item)
        return volume_spec(str(kw.pop("name")), **kw)
    raise TypeError(f"a volume is a spec string, VolumeSpec, dict or (name, Store), not {item!r}")


def _extra_nodes(nodes: int | Sequence[str] | None, listen: list[Listen]) -> list[str]:
    if nodes is None:
        return []
    if not isinstance(nodes, int):
        return [str(n) for n in nodes]
    if nodes < 1:
        raise ValueError(f"nodes={nodes}: at least one")
    tcp = [li for li in listen if li.transport == "tcp"]
    base = reachable(tcp[0].host) if tcp else "127.0.0.1"
    try:
        addr = ipaddress.ip_address(base)
    except ValueError:
        addr = None
    if addr is None or addr.version != 4 or not addr.is_loopback:
        raise ValueError(f"nodes={nodes}: give the other nodes' addresses (the first listens on {base})")
    return [str(addr + i) for i in range(1, nodes)]


class FakeGluster:
    """glusterd + bricks serving ``volumes``, on one node or several.

    Args:
        volumes: what to serve (see the module docstring); default one in-memory volume
            ``testvol``.
        listen: the first node's glusterd listeners (``tcp://HOST:PORT``, ``unix:///PATH``);
            its bricks listen on every TCP listener's host, on one port each.
        nodes: more nodes: a total count (``3``: the others on 127.0.0.2, 127.0.0.3, with the
            first node's glusterd port when it is free), or the other nodes' addresses.
            Bricks without a host go round the nodes.
        max_record: the RPC record size limit (default 1 GiB).
        options: ``volume set`` options for every volume (``{"auth.allow": "127.0.0.1",
            "server.allow-insecure": "off"}``; a volume spec's own options win); change them
            live with :meth:`set_option`.
        max_connections: connections served at once, glusterd and bricks together (default:
            no limit of its own); one more is accepted and closed at once.
        call_log: keep the decoded record of every call in ``calls`` (True, the default: a
            :class:`CallLog` bounded to 64 MiB), not at all (False: ``calls`` is None), or
            in the :class:`CallLog` given.
        management_tls: management encryption (what ``/var/lib/glusterd/secure-access``
            does to a real glusterd): every TCP connection to glusterd is TLS with these
            files (:class:`~fakegluster.tls.TLSSettings`; its defaults are the real ones,
            ``OPENSSLDIR/glusterfs.{pem,key,ca}``, /usr/lib/ssl on Debian).  libgfapi uses it
            only on port 24007.  ``server.ssl``/``client.ssl``, ``ssl.*`` and
            ``auth.ssl-allow`` in ``options`` put the bricks and their clients on TLS.
        glusterd_options: glusterd.vol options; ``{"rpc-auth-allow-insecure": "off"}`` denies
            every call to glusterd from a source port >= 1024.
        pcap: write every connection's traffic to this pcap file (a path, truncated when the
            server starts, or a :class:`~fakegluster.server.pcap.PcapWriter`): Wireshark's
            GlusterFS dissectors and ``fakegluster decode`` read it (:mod:`.pcap`).
        netns: serve inside this network namespace (``ip netns add NAME``; sync use only:
            the server's thread enters it), e.g. to own 127.0.0.1:24007 next to a real
            glusterd; clients then run there too (:func:`fakegluster.testing.netns.in_netns`).
        prebound: listening sockets already bound for some of ``listen`` (its URL ->
            :func:`.listen.tcp_listeners`' sockets), served instead of binding anew the first
            time the first node starts (``fakegluster serve`` binds before its imports, so
            a client started alongside waits in the kernel); closed when the server ends.
        early: what answered the first DUMP/GETSPEC calls on those sockets (``fakegluster
            serve``: :class:`~.early.EarlyServer`): the first node takes its node's uuid, the
            volumes are its planned models (the volume-ids and credentials its volfiles
            named), and :meth:`serve` takes over its connections.
    """

    def __init__(
        self,
        volumes: Iterable[VolumeLike] = ("testvol",),
        listen: Iterable[str] = (DEFAULT_LISTEN,),
        *,
        nodes: int | Sequence[str] | None = None,
        max_record: int | None = None,
        options: Mapping[str, str] | None = None,
        max_connections: int | None = None,
        call_log: bool | CallLog = True,
        management_tls: TLSSettings | None = None,
        glusterd_options: Mapping[str, str] | None = None,
        pcap: str | os.PathLike[str] | PcapWriter | None = None,
        netns: str | None = None,
        prebound: Mapping[str, list[socket.socket]] | None = None,
        early: EarlyServer | None = None,
    ) -> None:
        self.listen = [parse_listen(x) for x in listen]
        if not self.listen:
            raise ValueError("at least one --listen is needed")
        self.volume_specs = [to_spec(v) for v in volumes]
        for spec in self.volume_specs:
            spec.options = {**(options or {}), **spec.options}
        node_list = [Node(node0_name(), self.listen, dynamic_host=True)]
        for address in _extra_nodes(nodes, self.listen):
            if ":" in address and not address.startswith("["):
                raise ValueError(f"node {address!r}: give IPv6 nodes as addresses without a port")
            node_list.append(Node(address, [Listen("tcp", address, 0)]))
        self.max_record = max_record
        self.netns = netns
        self.connections = ConnectionLimit(max_connections)
        self.calls: CallLog | None = call_log if isinstance(call_log, CallLog) else CallLog() if call_log else None
        self.faults = Faults()
        self.cluster = Cluster(
            node_list,
            calls=self.calls,
            faults=self.faults,
            max_record=max_record,
            connections=self.connections,
            management_tls=management_tls,
            glusterd_options=dict(glusterd_options or {}),
        )
        for url, socks in (prebound or {}).items():
            li = parse_listen(url)
            if li not in self.listen:
                raise ValueError(f"prebound {url!r}: not one of the listeners {[x.url() for x in self.listen]}")
            self.cluster.prebound[li] = list(socks)
        self.pcap = pcap
        planned: list[model.Volume] = []
        if early is not None:
            if [m.name for m in early.models] != [s.name for s in self.volume_specs]:
                raise ValueError("early: planned for other volumes")
            node_list[0].uuid = early.node.uuid
            planned = list(early.models)
        for spec in self.volume_specs if early is None else ():  # refuse an impossible spec now
            planned.append(self.cluster.plan(spec, planned))
        self._early = early
        #: the models the first serve creates (those the early server answered with)
        self._planned: list[model.Volume] | None = planned if early is not None else None
        self.info: ServerInfo | None = None
        self._thread: TrioThread[ServerInfo] | None = None
        self._same_port = False

    @property
    def volumes(self) -> dict[str, Any]:
        """name -> the served :class:`~.volume.Volume` (model and bricks)."""
        return self.cluster.volumes

    # ---- async ----------------------------------------------------------------------
    async def serve(self, *, task_status: trio.TaskStatus[ServerInfo] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind everything, report a :class:`ServerInfo` through ``task_status``, serve until cancelled."""
        cluster = self.cluster
        given = self.pcap
        pcap = PcapWriter(os.fspath(given)) if isinstance(given, (str, os.PathLike)) else given
        cluster.pcap = pcap
        try:
            async with trio.open_nursery() as nursery:
                cluster.nursery = nursery
                first = cluster.nodes[0]
                restarting = bool(cluster.volumes)  # started before: its volumes come back
                if restarting and not self._same_port:
                    for node in cluster.nodes:
                        node.bound = []  # the listeners as configured (port 0: a new one)
                early, self._early = self._early, None
                if early is not None:  # its connections, served with the listener they came in on
                    for h in early.handover():
                        cluster.preaccepted.setdefault(parse_listen(h.url), []).append(h)
                cluster.start_node(first, bricks=False)
                for node in cluster.nodes[1:]:
                    _start_extra_node(cluster, node, first.glusterd_port)
                if restarting:
                    _restart_volumes(cluster, self._same_port)
                else:
                    planned, self._planned = self._planned, None
                    for i, spec in enumerate(self.volume_specs):
                        cluster.create_volume(spec, planned[i] if planned is not None else None)
                self.info = ServerInfo(self)
                task_status.started(self.info)
        finally:
            cluster.nursery = None
            cluster.close()
            if pcap is not None and pcap is not self.pcap:
                pcap.close()  # a file of our own
            elif pcap is not None:
                pcap.flush()
            cluster.pcap = None

    # ---- the cluster, from any thread ------------------------------------------------
    @property
    def nodes(self) -> list[NodeControl]:
        return [NodeControl(self, n) for n in self.cluster.nodes]

    def bricks(self, volume: str | None = None) -> list[BrickControl]:
        """The bricks of ``volume`` (default: the first), in volume order."""
        return [BrickControl(self, b) for b in self.cluster.volume(self._name(volume)).bricks]

    def create_volume(self, spec: VolumeLike, **kw: Any) -> str:
        """Create (and start, unless ``start=no``) a volume while serving; returns its name.
        ``create_volume("vm;replica=3")`` or ``create_volume("vm", replica=3, dir=...)``."""
        s = volume_spec(spec, **kw) if kw and isinstance(spec, str) else to_spec(spec)
        return self.run_sync(lambda: self.cluster.create_volume(s).name)

    def start_volume(self, volume: str, force: bool = False) -> None:
        self.run_sync(self.cluster.start_volume, volume, force)

    def stop_volume(self, volume: str) -> None:
        self.run_sync(self.cluster.stop_volume, volume)

    def delete_volume(self, volume: str) -> None:
        self.run_sync(self.cluster.delete_volume, volume)

    def set_option(self, key: str, value: str | None, volume: str | None = None) -> None:
        """``gluster volume set VOLUME KEY VALUE`` (``None``: ``volume reset VOLUME KEY``;
        default volume: the first), on a running or stopped server: bricks apply access
        options at once (connected clients that no longer pass are disconnected), and every
        client is told to fetch the new volfile (FETCHSPEC) and switches graphs."""
        name = self._name(volume)
        self.run_sync(self.cluster.set_option, name, key, None if value is None else str(value))

    def reset_option(self, key: str, volume: str | None = None) -> None:
        self.set_option(key, None, volume)

    def reset(self) -> None:
        """Back to how it started, for the next test on a shared server (the pytest plugin's
        ``fakegluster_shared``): nodes up again, every volume deleted and created again from
        the specs it was started with (in-memory volumes empty, their options, bricks and
        data faults as new; a directory volume keeps its files; volumes created since are
        gone), the call log and the fault rules cleared.  Clients still connected are told
        their volfile changed (FETCHSPEC), and their brick connections are closed."""

        def reset_cluster() -> None:
            cluster = self.cluster
            for node in cluster.nodes:
                cluster.start_node(node, bricks=False)
            for name in list(cluster.volumes):
                cluster.stop_volume(name)
                cluster.delete_volume(name)
            for spec in self.volume_specs:
                cluster.create_volume(spec)

        if self._thread is not None or self.cluster.nursery is not None:
            self.run_sync(reset_cluster)
        if self.calls is not None:
            self.calls.clear()
        self.faults.clear()

    #: the plugin's fixtures give this or a real target (:mod:`fakegluster.testing.target`)
    is_real = False

    def heal(self, volume: str | None = None, *, wait: bool = True, timeout: float = 60.0) -> HealReport:
        """``volume heal V``: heal what the bricks' changelogs mark (see :mod:`.heal`).

        With ``wait``, passes repeat (every 0.2 s) until one leaves nothing to do, so objects a
        client was still changing get healed once it stops; ``TimeoutError`` after ``timeout``
        seconds.  Returns the reports of all passes merged."""
        name = self._name(volume)
        total = HealReport()
        deadline = time.monotonic() + timeout
        while True:
            report = self.run_sync(self.cluster.heal, name)
            total.healed += report.healed
            total.split_brain, total.busy, total.unhealable = report.split_brain, report.busy, report.unhealable
            if not wait or (report.done and not report.healed):
                return total
            if time.monotonic() > deadline:
                raise TimeoutError(f"heal of {name}: still busy after {timeout} s: {report}")
            time.sleep(0.2)

    def heal_info(self, volume: str | None = None) -> list[BrickHealInfo]:
        """``volume heal V info``, per brick (``format_heal_info`` prints it as glfsheal does)."""
        return self.run_sync(self.cluster.heal_info, self._name(volume))

    def volume_model(self, volume: str | None = None) -> model.Volume:
        """glusterd's model of ``volume`` (type, counts, options, bricks with ports)."""
        return self.cluster.volume(self._name(volume)).model

    def _name(self, volume: str | None) -> str:
        if volume is not None:
            return volume
        if not self.cluster.volumes:
            raise ClusterError("no volume is served")
        return next(iter(self.cluster.volumes))

    # ---- conveniences ---------------------------------------------------------------
    def uri(self, volume: str | None = None, path: str | None = None, *, transport: str = "tcp") -> str:
        if self.info is None:
            raise RuntimeError("the server is not started")
        return self.info.uri(volume, path, transport=transport)

    # ---- seeding and inspecting files (thread-safe; paths from the volume root) ----------
    def write_file(self, path: str, data: bytes = b"", *, volume: str | None = None, mode: int = 0o644) -> None:
        """Create (or replace the content of) ``path``, making parent directories, on the
        bricks as a client would leave it (every copy of a replica set, every fragment of a
        disperse set; see :mod:`.seed`)."""
        self.run_sync(seed.write_file, self._vol(volume), path, bytes(data), mode)

    def read_file(self, path: str, *, volume: str | None = None) -> bytes:
        """The whole content of ``path`` (``FileNotFoundError`` if absent)."""
        return self.run_sync(seed.read_file, self._vol(volume), path)

    def makedirs(self, path: str, *, volume: str | None = None, mode: int = 0o755) -> None:
        self.run_sync(seed.makedirs, self._vol(volume), path, mode)

    def exists(self, path: str, *, volume: str | None = None) -> bool:
        return self.run_sync(seed.exists, self._vol(volume), path)

    def _vol(self, volume: str | None) -> Any:
        return self.cluster.volume(self._name(volume))

    def store(self, volume: str | None = None, brick: int | None = None) -> Store:
        """The store behind ``volume``'s brick ``brick`` (a one-brick volume's if None).  From
        another thread, go through :meth:`run_sync` to touch it while the server runs."""
        vol = self.cluster.volume(self._name(volume))
        if brick is None:
            if len(vol.bricks) != 1:
                raise ClusterError(
                    f"volume {vol.name} has {len(vol.bricks)} bricks: name one (store(volume, brick=N)); "
                    "files of a multi-brick volume are written through a client"
                )
            brick = 0
        return vol.bricks[brick].store

    # ---- sync (a thread running trio) -----------------------------------------------
    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[ServerInfo]:
        if self.netns:
            enter_netns(self.netns)  # the server's own thread: every socket it makes lives there
        async with trio.open_nursery() as nursery:
            yield await nursery.start(self.serve)
            nursery.cancel_scope.cancel()

    def start(self, *, same_port: bool = False) -> ServerInfo:
        """Start serving in a background thread; returns when ready.

        After :meth:`stop`, the server comes back with its volumes as they were (in-memory
        ones keep their files, volume ids and options; volumes created or deleted while it
        ran stay so); ``same_port``: glusterd and every brick listen on the ports they had
        (an OSError if one is taken), so clients that held fds reconnect and carry on."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._same_port = same_port
        self._thread = TrioThread("fakegluster")
        try:
            return self._thread.start(self._serving)
        except BaseException as exc:
            self._thread = None
            leaf = _only_error(exc)
            if leaf is not None and leaf is not exc:
                raise leaf from None  # what went wrong, not trio's nursery groups around it
            raise

    def restart(self, *, same_port: bool = True) -> ServerInfo:
        """:meth:`stop`, then :meth:`start` (on the same ports unless ``same_port=False``)."""
        self.stop()
        return self.start(same_port=same_port)

    def stop(self) -> None:
        """Stop serving (closes every connection and store; the volumes are kept for a
        later :meth:`start`); raises what the server raised while serving, if anything."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()

    def run_sync(self, fn: Callable[..., R], *args: Any) -> R:
        """Run ``fn(*args)`` in the server's thread (safe access to stores and the cluster
        while serving); called from that thread (async use), it runs at once."""
        if self._thread is None:
            return fn(*args)
        return self._thread.run_sync(fn, *args)

    def __enter__(self) -> FakeGluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _only_error(exc: BaseException) -> BaseException | None:
    """The one exception inside (nested) exception groups, or None if there are several."""
    while isinstance(exc, BaseExceptionGroup):
        if len(exc.exceptions) != 1:
            return None
        exc = exc.exceptions[0]
    return exc


def _restart_volumes(cluster: Cluster, same_port: bool) -> None:
    """The volumes of a server that stopped, served again: stores closed by the stop
    (directory ones) opened again, the bricks of started volumes started (on their last
    ports with ``same_port``)."""
    for vol in cluster.volumes.values():
        for brick in vol.bricks:
            root = getattr(brick.store, "root", None)
            if getattr(brick.store, "_closed", False) and root is not None:
                brick.store = open_store(root)
        if vol.started:
            for brick in vol.bricks:
                if brick.node is not None and brick.node.up:
                    port = brick.ports_seen[-1] if same_port and brick.ports_seen else 0
                    cluster.start_brick(brick, port)
            vol.shd_scope = None  # its self-heal daemon ended with the old nursery
            cluster.start_shd(vol)


def _start_extra_node(cluster: Cluster, node: Node, port: int | None) -> None:
    """Another node's glusterd: on the first node's port if that is free on its address
    (as every glusterd of a real pool is on 24007), else on any port."""
    if port and all(li.port == 0 for li in node.listen):
        wanted = [Listen(li.transport, li.host, port, li.path) for li in node.listen]
        original, node.listen = node.listen, wanted
        try:
            cluster.start_node(node, bricks=False)
            return
        except OSError:
            node.listen = original
    cluster.start_node(node, bricks=False)


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace ``name`` (``setns(2)``: sockets it
    creates from now on live there)."""
    import ctypes
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            err = ctypes.get_errno()
            raise OSError(err, f"setns into network namespace {name}: {os.strerror(err)}")
    finally:
        os.close(fd)
