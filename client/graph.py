"""The client graph: the volfile's translators as :class:`~gfclient.xl.base.Subvolume` nodes.

Like ``glusterfs_graph_construct`` for a libgfapi client, but only the translators that change
what goes on the wire become nodes:

* ``protocol/client`` -- a brick connection (:class:`~gfclient.xl.protocol.ProtocolClient`);
* ``cluster/distribute``, ``cluster/replicate``, ``cluster/disperse`` -- :mod:`gfclient.xl.dht`,
  :mod:`gfclient.xl.afr`, :mod:`gfclient.xl.ec`;
* translators that only cache, batch, or account (:data:`PASSTHROUGH`: ``performance/*``,
  ``debug/io-stats``...) are skipped -- their one child takes their place; ``features/utime``
  is skipped too, but its presence (and ``noatime``) is noted: the credentials carry its
  flags (:mod:`gfclient.fops`);
* anything else changes what the volume means (``features/shard`` splits files into
  pieces, ``features/read-only`` refuses writes...) and is refused by name with
  :class:`~gfclient.errors.UnsupportedVolumeError`, rather than mis-read.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable

from fakegluster.proto.volfile import Graph, Xlator

from .brick import BrickClient, BrickConfig
from .errors import UnsupportedVolumeError
from .tls import ClientTLS
from .xl.base import Subvolume, truthy
from .xl.protocol import ProtocolClient

__all__ = ["ClientGraph", "Timeouts", "build_graph", "PASSTHROUGH"]

#: Translators gfclient passes through: they do not change the FOPs' meaning or the bytes.
PASSTHROUGH = frozenset(
    {
        "performance/write-behind",
        "performance/read-ahead",
        "performance/readdir-ahead",
        "performance/io-cache",
        "performance/quick-read",
        "performance/open-behind",
        "performance/md-cache",
        "performance/io-threads",
        "performance/nl-cache",
        "debug/io-stats",
        "debug/trace",
        "debug/delay-gen",
        "features/utime",
        "features/quiesce",
        "features/snapview-client",
        "features/gfid-access",
    }
)


@dataclasses.dataclass(frozen=True)
class Timeouts:
    """What the user sets over the volfile (None: the volfile's value, else the default):
    ``ping-timeout`` and ``frame-timeout`` of every protocol/client, and how long one
    connection attempt may take."""

    ping: float | None = None
    frame: float | None = None
    connect: float | None = None

    def apply(self, config: BrickConfig) -> BrickConfig:
        return dataclasses.replace(
            config,
            ping_timeout=config.ping_timeout if self.ping is None else self.ping,
            frame_timeout=config.frame_timeout if self.frame is None else self.frame,
            connect_timeout=config.connect_timeout if self.connect is None else self.connect,
        )


@dataclasses.dataclass
class ClientGraph:
    """A built graph: its ``top`` node, every brick connection, and what the skipped
    translators told us (``utime``/``noatime``: features/utime is there and its option)."""

    top: Subvolume
    bricks: list[BrickClient]
    utime: bool
    noatime: bool
    volfile: Graph
    graph_id: int = 0

    @property
    def dht(self) -> bool:
        return any(x.type == "cluster/distribute" for x in self.volfile.reachable())


def _cluster_factories() -> dict[str, Callable[..., Subvolume]]:
    from .xl.afr import Replicate
    from .xl.dht import Distribute
    from .xl.ec import Disperse

    return {"cluster/distribute": Distribute, "cluster/replicate": Replicate, "cluster/disperse": Disperse}


def build_graph(
    graph: Graph,
    volume: str,
    *,
    volfile_server: str | None = None,
    process_name: str,
    pid: int,
    volfile_key: str | None = None,
    ctx_uuid: str | None = None,
    graph_id: int = 0,
    timeouts: Timeouts | None = None,
    tls: ClientTLS | None = None,
) -> ClientGraph:
    """Build the nodes of ``graph`` (not connected yet: start each of ``bricks``).

    ``ctx_uuid``/``graph_id`` go into every brick's SETVOLUME ``process-uuid`` (one context
    per mount; the graph number goes up with each graph switch)."""
    ctx_uuid = ctx_uuid or str(uuid.uuid4())
    used = graph.reachable()
    if not any(x.type == "protocol/client" for x in used):
        raise UnsupportedVolumeError(f"the volfile of volume {volume!r} has no protocol/client xlator")
    dht = any(x.type == "cluster/distribute" for x in used)
    factories = _cluster_factories()
    bricks: list[BrickClient] = []
    built: dict[str, Subvolume] = {}

    def node(xl: Xlator) -> Subvolume:
        if xl.name in built:
            return built[xl.name]
        if xl.type == "protocol/client":
            config = (timeouts or Timeouts()).apply(BrickConfig.from_xlator(xl, volfile_server))
            brick = BrickClient(
                config,
                dht=dht,
                volfile_key=volfile_key or volume,
                process_name=process_name,
                pid=pid,
                ctx_uuid=ctx_uuid,
                graph_id=graph_id,
                tls=tls,
            )
            bricks.append(brick)
            sub: Subvolume = ProtocolClient(brick)
        elif xl.type in PASSTHROUGH:
            if len(xl.subvolumes) != 1:
                raise UnsupportedVolumeError(
                    f"volume {volume!r}: translator {xl.name!r} ({xl.type}) has {len(xl.subvolumes)} subvolumes"
                )
            sub = node(graph[xl.subvolumes[0]])
        elif xl.type in factories:
            children = [node(graph[c]) for c in xl.subvolumes]
            if not children:
                raise UnsupportedVolumeError(f"volume {volume!r}: {xl.type} {xl.name!r} has no subvolumes")
            sub = factories[xl.type](xl, children)
        else:
            raise UnsupportedVolumeError(
                f"volume {volume!r} uses translator {xl.name!r} of type {xl.type}, which gfclient does not "
                "support: it changes how the volume's files are stored or what FOPs mean"
            )
        built[xl.name] = sub
        return sub

    top = node(graph.top)
    utime = [x for x in used if x.type == "features/utime"]
    noatime = bool(utime) and truthy(utime[0].options.get("noatime"), True)
    return ClientGraph(top, bricks, bool(utime), noatime, graph, graph_id)
