"""A mounted volume's connections: the volfile server and the current client graph, with
graph switches (``glfs_init``, ``glfs_graph_setup``, ``glfs_migrate_openfds`` of libgfapi).

:class:`Mount` fetches the volfile (:class:`~gfclient.mgmt.MgmtClient`, trying each volfile
server in turn), builds the graph (:func:`~gfclient.graph.build_graph`) and connects every
brick at once.  When glusterd says the volfile changed (FETCHSPEC) and the new one differs
where gfclient cares -- its protocol/client and cluster translators, their names, types,
subvolumes and options -- a new graph is built (``GRAPH_ID`` one higher in SETVOLUME's
``process-uuid``), its bricks connected, every open file reopened on it by gfid and
switched over, and the old graph retired once its calls in flight are done (its fds
released, its bricks disconnected).  A change of ``ping-timeout``/``frame-timeout`` only is
applied to the running bricks, as ``glusterfs_volfile_reconfigure`` reconfigures a graph of
the same topology.  The caller sees no error: FOPs go to the graph of the fd they use, or
to the current one.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import trio

from fakegluster.proto.volfile import Graph, VolfileError, parse_volfile

from ._util import unwrap_groups
from .brick import BrickClient
from .errors import GlusterConnectionError, RpcError
from .fops import Fops
from .graph import PASSTHROUGH, ClientGraph, Timeouts, build_graph
from .mgmt import MgmtClient, VolfileServer
from .tls import ClientTLS
from .xl.base import Fd

if TYPE_CHECKING:
    from .file import File

__all__ = ["Mount", "topology"]

log = logging.getLogger("gfclient.mount")

_TIMEOUT_KEYS = ("ping-timeout", "frame-timeout")
_NO_REOPEN = 0o100 | 0o200 | 0o1000  # O_CREAT | O_EXCL | O_TRUNC
#: How long a retired graph may take to finish the calls it still carries.
RETIRE_AFTER = 30.0


def topology(graph: Graph, *, with_timeouts: bool = True) -> Any:
    """What gfclient's graph is made of: every protocol/client and cluster translator under
    the top (name, type, options, subvolumes, passthrough translators skipped), and
    features/utime's presence and ``noatime``."""
    out = []
    for xl in graph.reachable():
        if xl.type in PASSTHROUGH and xl.type != "features/utime":
            continue
        opts = tuple(sorted((k, v) for k, v in xl.options.items() if with_timeouts or k not in _TIMEOUT_KEYS))
        out.append((xl.name, xl.type, opts, xl.subvolumes if xl.type != "features/utime" else ()))
    return tuple(sorted(out))


class Mount:
    """The connections of one mounted volume (see the module docstring)."""

    def __init__(
        self,
        volume: str,
        servers: list[VolfileServer],
        nursery: trio.Nursery,
        *,
        process_name: str,
        pid: int,
        uid: int,
        gid: int,
        timeouts: Timeouts,
        open_files: Callable[[], Iterable[File]],
        tls: ClientTLS | None = None,
    ) -> None:
        self.volume = volume
        self.nursery = nursery
        self.process_name = process_name
        self.pid, self.uid, self.gid = pid, uid, gid
        self.timeouts = timeouts
        self.tls = tls if tls is not None else ClientTLS.from_machine()
        self.ctx_uuid = str(uuid.uuid4())
        self.mgmt = MgmtClient(
            volume,
            servers,
            ping_timeout=timeouts.ping if timeouts.ping is not None else 42.0,
            frame_timeout=timeouts.frame,
            connect_timeout=timeouts.connect if timeouts.connect is not None else 30.0,
            tls=self.tls,
        )
        self.mgmt.on_volfile = self.volfile_changed
        self.graph: ClientGraph | None = None
        self.fops: Fops | None = None
        self.switches = 0
        self._open_files = open_files
        self._volfile: Graph | None = None
        self._switch_lock = trio.Lock()

    # ---- mounting -------------------------------------------------------------------------
    def _parse(self, text: str) -> Graph:
        try:
            return parse_volfile(text)
        except VolfileError as exc:
            raise GlusterConnectionError(errno.EINVAL, f"the volfile of {self.volume!r} does not parse: {exc}") from exc

    def _build(self, volfile: Graph, graph_id: int) -> ClientGraph:
        return build_graph(
            volfile,
            self.volume,
            volfile_server=self.mgmt.current_server.host,
            process_name=self.process_name,
            pid=self.pid,
            ctx_uuid=self.ctx_uuid,
            graph_id=graph_id,
            timeouts=self.timeouts,
            tls=self.tls,
        )

    async def mount(self) -> Fops:
        """Fetch the volfile, build the graph, connect its bricks; the FOP layer over it."""
        text = await self.mgmt.fetch(self.nursery)
        self.nursery.start_soon(self.mgmt.run)
        self._volfile = self._parse(text)
        self.graph = self._build(self._volfile, 0)
        self.fops = Fops(self.graph, pid=self.pid, uid=self.uid, gid=self.gid)
        await self.start_bricks(self.graph.bricks)
        return self.fops

    async def start_bricks(self, bricks: list[BrickClient]) -> None:
        """Connect every brick at once (like the graph's CHILD_UP wait in ``glfs_init``): a
        volume with one brick needs it; a cluster volume goes on when each brick answered,
        up or not, and fails only when none came up (the translators decide what a down
        brick means).  A brick that failed keeps being retried every 3 s."""
        errors: list[BaseException] = []

        async def one(brick: BrickClient) -> None:
            try:
                await brick.start(self.nursery)
            except (GlusterConnectionError, RpcError, OSError) as exc:
                errors.append(exc)
                brick.start_retrying(self.nursery)

        with unwrap_groups():
            async with trio.open_nursery() as nursery:
                for b in bricks:
                    nursery.start_soon(one, b)
        if errors and (len(bricks) == 1 or not any(b.up for b in bricks)):
            raise errors[0]

    async def close(self) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            if self.graph is not None:
                for b in self.graph.bricks:
                    await b.aclose()
            await self.mgmt.aclose()

    # ---- graph switches -------------------------------------------------------------------
    async def volfile_changed(self, text: str) -> None:
        """A new volfile from glusterd: reconfigure or switch graphs (never raises)."""
        async with self._switch_lock:
            try:
                new = self._parse(text)
            except GlusterConnectionError as exc:
                log.warning("%s", exc)
                return
            old = self._volfile
            assert old is not None and self.graph is not None
            if topology(new) == topology(old):
                self._volfile = new
                return
            if topology(new, with_timeouts=False) == topology(old, with_timeouts=False):
                self._volfile = new
                self._retime(new)
                return
            try:
                await self._switch(new)
            except (GlusterConnectionError, RpcError, OSError) as exc:
                log.warning("%s: could not switch to the new graph, keeping the old one: %s", self.volume, exc)

    def _retime(self, new: Graph) -> None:
        """Only ping-timeout/frame-timeout changed: apply them to the running bricks."""
        assert self.graph is not None
        by_name = {b.config.name: b for b in self.graph.bricks}
        for xl in new.of_type("protocol/client"):
            brick = by_name.get(xl.name)
            if brick is None:
                continue
            opts = xl.options
            fresh = self.timeouts.apply(
                dataclasses.replace(
                    brick.config,
                    ping_timeout=float(opts.get("ping-timeout", brick.config.ping_timeout)),
                    frame_timeout=float(opts.get("frame-timeout", brick.config.frame_timeout)),
                )
            )
            brick.config = fresh
            if brick.channel is not None:
                brick.channel.ping_timeout = fresh.ping_timeout
        log.info("%s: new ping/frame timeouts applied", self.volume)

    async def _switch(self, new: Graph) -> None:
        assert self.graph is not None and self.fops is not None
        old_graph = self.graph
        graph = self._build(new, old_graph.graph_id + 1)
        await self.start_bricks(graph.bricks)
        fops = Fops(graph, pid=self.pid, uid=self.uid, gid=self.gid)
        moved: list[tuple[File, Fd]] = []
        for f in list(self._open_files()):
            if f.closed:
                continue
            old_fd = f.graph_fd
            fd = Fd(old_fd.gfid, old_fd.flags & ~_NO_REOPEN, old_fd.is_dir)
            try:
                await fops.open(fd, f.path)
            except OSError as exc:
                log.warning("%s: %s could not be reopened on the new graph: %s", self.volume, f.path, exc)
                continue
            moved.append((f, old_fd))
            f.graph_fd = fd
        self.graph, self._volfile, self.switches = graph, new, self.switches + 1
        self.fops.use(graph)
        log.info("%s: switched to graph %d (%d open files moved)", self.volume, graph.graph_id, len(moved))
        self.nursery.start_soon(self._retire, old_graph, [fd for _, fd in moved])

    async def _retire(self, graph: ClientGraph, fds: list[Fd]) -> None:
        """When the old graph's calls are done (or after a while): release its fds, close it."""
        with trio.move_on_after(RETIRE_AFTER):
            while any(b.channel is not None and b.channel.outstanding for b in graph.bricks):
                await trio.sleep(0.05)
        old = Fops(graph, pid=self.pid, uid=self.uid, gid=self.gid)
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            for fd in fds:
                try:
                    await old.release(fd)
                except OSError:
                    pass
            for b in graph.bricks:
                await b.aclose()
