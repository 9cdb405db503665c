"""A volume being served: glusterd's model of it (:class:`fakegluster.mgmt.model.Volume`) and
its running bricks, and the client volfile for a connection.

The volfile is written from the model; ``remote-host``/``remote-port`` of each brick come from
the connection asking (:class:`BrickAddress`), since a client reaches the bricks of a node
through that node's glusterd (PORTBYBRICK) on the address it can dial.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..mgmt import model, volgen
from .brick import Brick

__all__ = ["Volume", "BrickAddress", "BrickRef", "brick_ref"]

#: (brick) -> where the volfile tells the client to find it
BrickAddress = Callable[[Brick], "BrickRef"]


@dataclasses.dataclass(eq=False)
class Volume:
    """A served volume: ``model`` (name, type, counts, options, status) and ``bricks`` (the
    running side of ``model.bricks``, in the same order)."""

    model: model.Volume
    bricks: list[Brick]
    #: volume-id, credentials and brick ports kept across restarts (directory volumes)
    identity: Any = dataclasses.field(default=None, repr=False)
    #: the self-heal daemon's task (cancelled when the volume stops) and its wake-up
    shd_scope: Any = dataclasses.field(default=None, repr=False)
    heal_wanted: Any = dataclasses.field(default=None, repr=False)

    @property
    def healable(self) -> bool:
        """Replicate or disperse: what glustershd serves."""
        return self.model.type in (model.ClusterType.REPLICATE, model.ClusterType.DISPERSE)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def volume_id(self) -> str:
        return self.model.volume_id

    @property
    def started(self) -> bool:
        return self.model.status == model.VolumeStatus.STARTED

    def subvolumes(self) -> list[list[Brick]]:
        """Bricks grouped by replica / disperse set."""
        n = self.model.dist_leaf_count
        return [self.bricks[i : i + n] for i in range(0, len(self.bricks), n)]

    def volfile(self, address: BrickAddress, trusted: bool, family: str = "inet") -> str:
        """The client volfile glusterd writes for the model (:func:`fakegluster.mgmt.volgen.
        client_volfile`; ``trusted``: with the auth.login credentials), each brick's
        ``remote-host``/``remote-port`` as ``address`` says for this client, and
        ``transport.address-family`` the one it reached us with."""
        m = self.model
        refs = [address(b) for b in self.bricks]
        view = dataclasses.replace(
            m,
            bricks=[dataclasses.replace(b, host=r.host) for b, r in zip(m.bricks, refs, strict=True)],
            options={**m.options, "transport.address-family": family} if "transport.address-family" in m.options
            else dict(m.options),
        )  # fmt: skip
        ports = [r.port for r in refs]
        return volgen.client_volfile(view, trusted=trusted, remote_ports=ports if any(ports) else None)


@dataclasses.dataclass(frozen=True)
class BrickRef:
    """Where a protocol/client xlator connects: ``remote-host``, ``remote-subvolume`` (the
    brick path) and optionally ``remote-port`` (skips 24007 for the port map query)."""

    host: str
    path: str
    port: int | None = None


def brick_ref(host: str, brick: Brick, glusterd_port: int | None) -> BrickRef:
    """``remote-host`` and, when the client cannot find the brick through glusterd's port
    24007, ``remote-port``: this glusterd's port (PORTBYBRICK then gives the brick's), or the
    brick's own port when there is no TCP glusterd to ask."""
    if glusterd_port is None:
        return BrickRef(host, brick.path, brick.port or None)
    return BrickRef(host, brick.path, None if glusterd_port == 24007 else glusterd_port)
