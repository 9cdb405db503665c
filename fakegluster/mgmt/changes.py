"""What a changed volume means for the processes that run it.

After every ``volume set`` / ``volume reset`` glusterd rewrites all the volume's volfiles
(``glusterd_create_volfiles_and_notify_services``) and sends the FETCHSPEC callback to every
connection it holds (``glusterd_fetchspec_notify``), whatever changed: clients, bricks and the
self-heal daemon then GETSPEC again and each decides by itself (``glusterfsd-mgmt.c``
``mgmt_getspec_cbk``, ``api/src/glfs-mgmt.c`` ``glfs_mgmt_getspec_cbk``, ``graph.c``
``glusterfs_volfile_reconfigure``):

* the same volfile (checksum): nothing;
* the same topology (every translator's name, type and children, from the top; for a brick
  from the translator under protocol/server): the options are reconfigured in place;
* otherwise a new graph: a client switches graphs (new connections to the bricks); a brick
  builds and inits its whole stack again.

:func:`volume_changes` compares the volfiles of a volume before and after a change and says
that for the client, each brick and the self-heal daemon, so the serving side knows whether to
reconfigure a brick, rebuild it, and what its clients will do after FETCHSPEC.
"""

from __future__ import annotations

import dataclasses
import enum

from ..proto.volfile import Graph, Xlator, parse_volfile
from .model import Volume
from .volgen import client_volfile, shd_volfile
from .volgen_brick import brick_volfile

__all__ = ["Change", "VolumeChanges", "volfile_change", "volume_changes"]


class Change(enum.Enum):
    NONE = "none"  # identical volfile
    RECONFIGURE = "reconfigure"  # options changed in place (xlator reconfigure())
    NEW_GRAPH = "new-graph"  # topology changed: a client switches graphs, a brick re-inits


def _equal_rec(g1: Graph, x1: Xlator, g2: Graph, x2: Xlator) -> bool:
    """``xlator_equal_rec``: children pairwise, then name and type."""
    c1, c2 = g1.children(x1), g2.children(x2)
    if len(c1) != len(c2) or not all(_equal_rec(g1, a, g2, b) for a, b in zip(c1, c2, strict=True)):
        return False
    return x1.name == x2.name and x1.type == x2.type


def _topology_equal(old: Graph, new: Graph) -> bool:
    """``is_graph_topology_equal``: a brick compares what is under protocol/server."""
    t1, t2 = old.top, new.top
    if t2.type == "protocol/server":
        under = new.children(t2)[0]
        match = [c for c in old.children(t1) if c.name == under.name]
        if not match:
            return False
        t1, t2 = match[0], under
    return _equal_rec(old, t1, new, t2)


def volfile_change(old: str | None, new: str | None) -> Change:
    """What a process running volfile ``old`` does when handed ``new``."""
    if old == new:
        return Change.NONE
    if old is None or new is None:
        return Change.NEW_GRAPH
    return Change.RECONFIGURE if _topology_equal(parse_volfile(old), parse_volfile(new)) else Change.NEW_GRAPH


@dataclasses.dataclass(frozen=True)
class VolumeChanges:
    client: Change  # a FUSE/libgfapi client (trusted volfile)
    bricks: tuple[Change, ...]  # per brick, in brick order
    shd: Change

    @property
    def any(self) -> bool:
        return any(c != Change.NONE for c in (self.client, self.shd, *self.bricks))


def _volfiles(vol: Volume) -> tuple[str, list[str], str | None]:
    return client_volfile(vol), [brick_volfile(vol, i) for i in range(len(vol.bricks))], shd_volfile(vol)


def volume_changes(before: Volume, after: Volume) -> VolumeChanges:
    """Compare the volume's volfiles before and after a change (same bricks).  Take
    ``before`` as a copy (``copy.deepcopy(vol)``) ahead of ``set_options``/``reset_option``."""
    c1, b1, s1 = _volfiles(before)
    c2, b2, s2 = _volfiles(after)
    if len(b1) != len(b2):
        raise ValueError("volume_changes compares a volume with itself: the bricks differ")
    return VolumeChanges(
        client=volfile_change(c1, c2),
        bricks=tuple(volfile_change(x, y) for x, y in zip(b1, b2, strict=True)),
        shd=volfile_change(s1, s2),
    )
