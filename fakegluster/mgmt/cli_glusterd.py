"""The cluster as glusterd's CLI handlers (:mod:`.cli_handlers`) see it: the :class:`Glusterd`
protocol (the volume model plus the few runtime operations the CLI starts), the pool's
:class:`Peer` and a volume's :class:`DaemonStatus`, and :class:`ModelGlusterd`, a Glusterd on the
model alone (tests, replaying a real glusterd's transcript).  The served cluster's is
:class:`fakegluster.server.clisession.ClusterGlusterd`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from .model import Brick, ClusterType, Volume, VolumeError, VolumeStatus

__all__ = ["Glusterd", "Peer", "DaemonStatus", "ModelGlusterd"]


@dataclasses.dataclass(frozen=True)
class Peer:
    """Another glusterd of the trusted pool (``glusterd_peerinfo_t``)."""

    uuid: str
    hostname: str
    connected: bool = True


@dataclasses.dataclass(frozen=True)
class DaemonStatus:
    """A volume's self-heal daemon as ``volume status`` shows it (``brickN`` after the bricks)."""

    online: bool
    pid: int = -1


class Glusterd(Protocol):
    """The cluster as the CLI handlers see it (the serving side implements it)."""

    @property
    def node_uuid(self) -> str:
        """This glusterd's node uuid (``MY_UUID``)."""
        ...

    def volumes(self) -> Iterable[Volume]:
        """Every volume of the cluster (any order)."""
        ...

    def peers(self) -> Sequence[Peer]:
        """The other nodes of the pool."""
        ...

    def is_local_host(self, host: str) -> bool:
        """``host`` names this node (``glusterd_gf_is_local_addr``)."""
        ...

    def resolve_host(self, host: str) -> str | None:
        """The uuid of the node ``host`` names, None if no node of the pool."""
        ...

    def path_check(self, brick: Brick, force: bool, volume_id: str) -> str | None:
        """``glusterd_validate_and_create_brickpath`` on a local brick: makes the directory,
        returns glusterd's op_errstr when it refuses."""
        ...

    def create(self, vol: Volume) -> Volume:
        """Serve the new volume; returns the model now served (its volume id may be the one a
        directory volume kept)."""
        ...

    def start(self, vol: Volume, force: bool) -> None: ...

    def stop(self, vol: Volume, force: bool) -> None: ...

    def delete(self, vol: Volume) -> None: ...

    def shd(self, vol: Volume) -> DaemonStatus | None:
        """The volume's self-heal daemon, None when glusterd runs none for it."""
        ...

    def heal(self, vol: Volume) -> None:
        """Start an index heal (``volume heal V``)."""
        ...

    #: refuse a key the serving side cannot honour (``options.set_options(strict=)``)
    strict: bool

    def clients(self, vol: Volume) -> Sequence[tuple[str, int, int]]:
        """The clients running ``vol``'s volfile: (``ip:port``, min, max op-version), for
        ``glusterd_check_client_op_version_support``."""
        ...

    def change_options(self, vol: Volume, change: Callable[[], str | None]) -> str | None:
        """Run ``change`` (a ``volume set``/``reset`` on ``vol``'s model, raising
        :class:`VolumeError`) and apply the result: bricks reconfigured, new volfiles announced
        (FETCHSPEC).  All or nothing: on an error the options are as before."""
        ...


class ModelGlusterd:
    """A :class:`Glusterd` on the model alone (no bricks are served): what ``volume create`` /
    ``start`` / ``stop`` change is the model's state; started bricks get ``ports`` in turn and
    ``pid``.  For tests and for a management-plane-only fake.

    ``path_check`` is glusterd's brick directory check (the serving side passes
    :func:`fakegluster.server.clisession.brick_path_check`); ``hosts`` name this node.
    """

    strict = False  # a real glusterd stores any key its option table knows

    def __init__(
        self,
        node_uuid: str,
        hosts: Iterable[str],
        *,
        path_check: Callable[[Brick, bool, str], str | None] | None = None,
        peers: Sequence[Peer] = (),
        first_port: int = 49152,
        pid: int = 1,
    ) -> None:
        self.node_uuid = node_uuid
        self.hosts = set(hosts)
        self._path_check = path_check
        self._peers = list(peers)
        self._port = first_port
        self.pid = pid
        self.vols: dict[str, Volume] = {}
        self.healed: list[str] = []
        self.changed: list[str] = []

    def volumes(self) -> Iterable[Volume]:
        return list(self.vols.values())

    def peers(self) -> Sequence[Peer]:
        return self._peers

    def is_local_host(self, host: str) -> bool:
        return host in self.hosts or host in ("localhost", "127.0.0.1", "::1")

    def resolve_host(self, host: str) -> str | None:
        if self.is_local_host(host):
            return self.node_uuid
        for p in self._peers:
            if p.hostname == host:
                return p.uuid
        return None

    def path_check(self, brick: Brick, force: bool, volume_id: str) -> str | None:
        return self._path_check(brick, force, volume_id) if self._path_check else None

    def create(self, vol: Volume) -> Volume:
        self.vols[vol.name] = vol
        return vol

    def start(self, vol: Volume, force: bool) -> None:
        for b in vol.bricks:
            if not b.online and b.node_uuid == self.node_uuid:
                b.online, b.port, b.pid = True, self._port, self.pid
                self._port += 1
        vol.status = VolumeStatus.STARTED

    def stop(self, vol: Volume, force: bool) -> None:
        for b in vol.bricks:
            b.online, b.port, b.pid = False, 0, -1
        vol.status = VolumeStatus.STOPPED

    def delete(self, vol: Volume) -> None:
        del self.vols[vol.name]

    def shd(self, vol: Volume) -> DaemonStatus | None:
        if vol.status != VolumeStatus.STARTED or vol.type not in (ClusterType.REPLICATE, ClusterType.DISPERSE):
            return None
        return DaemonStatus(True, self.pid)

    def heal(self, vol: Volume) -> None:
        self.healed.append(vol.name)

    def clients(self, vol: Volume) -> Sequence[tuple[str, int, int]]:
        return ()

    def change_options(self, vol: Volume, change: Callable[[], str | None]) -> str | None:
        before = dict(vol.options)
        try:
            note = change()
        except VolumeError:
            vol.options.clear()
            vol.options.update(before)
            raise
        self.changed.append(vol.name)
        return note
