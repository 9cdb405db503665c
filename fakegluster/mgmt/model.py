"""glusterd's volume model: volumes and bricks as users see them.

A :class:`Volume` is what glusterd keeps in ``glusterd_volinfo_t`` (``glusterd.h``) and shows in
``volume info`` (``glusterd-handler.c``: ``glusterd_add_volume_detail_to_dict``; the CLI's
``gf_cli_get_volume_cbk`` prints it); a :class:`Brick` is a ``glusterd_brickinfo_t``.  Plain data:
no sockets, no files.  :mod:`.create` makes volumes the way ``volume create`` does, with the real
texts for what it refuses (:class:`VolumeError`).
"""

from __future__ import annotations

import dataclasses
import enum

__all__ = [
    "VolumeError",
    "ClusterType",
    "VolumeStatus",
    "Transport",
    "Brick",
    "Volume",
    "default_options",
    "GLUSTERD_WORKDIR",
    "OP_VERSION_MAX",
]

#: GD_OP_VERSION_MAX of glusterfs 10.3 (``libglusterfs/src/glusterfs/globals.h``).
OP_VERSION_MAX = 100000
#: GLUSTERD_DEFAULT_WORKDIR; no brick may live under it.
GLUSTERD_WORKDIR = "/var/lib/glusterd"


class VolumeError(ValueError):
    """A refused management operation; ``str()`` is the real text, ``stage`` who says it:
    ``"cli"`` (the gluster CLI, before any RPC) or ``"glusterd"`` (the op_errstr of the reply)."""

    def __init__(self, message: str, stage: str = "glusterd"):
        super().__init__(message)
        self.message = message
        self.stage = stage


class ClusterType(enum.IntEnum):
    """``gf1_cluster_type`` (``rpc/xdr/src/cli1-xdr.x``); a distributed-replicate volume is
    REPLICATE with more bricks than one replica set, as in glusterd."""

    NONE = 0
    STRIPE = 1
    REPLICATE = 2
    STRIPE_REPLICATE = 3
    DISPERSE = 4
    TIER = 5


class VolumeStatus(enum.IntEnum):
    """``glusterd_volume_status``; the CLI prints ``cli_vol_status_str[status]``."""

    CREATED = 0  # GLUSTERD_STATUS_NONE
    STARTED = 1
    STOPPED = 2

    @property
    def text(self) -> str:
        return ("Created", "Started", "Stopped")[self]


class Transport(enum.IntEnum):
    """``gf_transport_type``; the CLI prints tcp / rdma / tcp,rdma."""

    TCP = 0
    RDMA = 1
    BOTH_TCP_RDMA = 2

    @property
    def text(self) -> str:
        return ("tcp", "rdma", "tcp,rdma")[self]

    @classmethod
    def parse(cls, word: str) -> Transport:
        """``glusterd_op_create_volume``: rdma, tcp (any case), anything else is both."""
        w = word.lower()
        return cls.RDMA if w == "rdma" else cls.TCP if w == "tcp" else cls.BOTH_TCP_RDMA


# vol_type_str (libglusterfs/src/common-utils.c), indexed by the CLI's get_vol_type()
_VOL_TYPE_STR = (
    "Distribute",
    "Stripe [NOT SUPPORTED from v6.0]",
    "Replicate",
    "Striped-Replicate [NOT SUPPORTED from v6.0]",
    "Disperse",
    "Tier [NOT SUPPORTED from v6.0]",
    "Distributed-Stripe [NOT SUPPORTED from v6.0]",
    "Distributed-Replicate",
    "Distributed-Striped-Replicate [NOT SUPPORTED from v6.0]",
    "Distributed-Disperse",
)


@dataclasses.dataclass
class Brick:
    """One brick (``glusterd_brickinfo_t``).  ``port``/``online``/``pid`` are runtime state
    the serving side fills in (0 / False / -1 while the brick is not running)."""

    host: str
    path: str
    node_uuid: str = ""
    brick_id: str = ""  # "VOL-client-N", the protocol/client xlator that reaches it
    is_arbiter: bool = False
    fsid: int = 0  # statfs f_fsid of the brick directory: bricks sharing one count each other
    port: int = 0
    rdma_port: int = 0
    online: bool = False
    pid: int = -1

    @property
    def name(self) -> str:
        """``host:path`` as ``volume info`` prints it."""
        return f"{self.host}:{self.path}"

    @property
    def volfile_id_path(self) -> str:
        """The brick path as glusterd mangles it into names (``GLUSTERD_REMOVE_SLASH_FROM_PATH``:
        ``/var/tmp/b1`` -> ``var-tmp-b1``): brick volfiles ``VOL.HOST.var-tmp-b1.vol``."""
        return self.path.strip("/").replace("/", "-") if self.path != "/" else "-"


@dataclasses.dataclass
class Volume:
    """One volume (``glusterd_volinfo_t``).

    ``options`` holds what ``volume set`` (and glusterd itself) put in ``volinfo->dict``, in
    insertion order; glusterd's dict lists the newest first (:meth:`options_glusterd_order`,
    the order of ``volume info``'s "Options Reconfigured"), and replacing a value keeps its place.
    """

    name: str
    volume_id: str
    type: ClusterType
    bricks: list[Brick]
    replica_count: int = 1
    arbiter_count: int = 0
    disperse_count: int = 0
    redundancy_count: int = 0
    transport: Transport = Transport.TCP
    status: VolumeStatus = VolumeStatus.CREATED
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    username: str = ""
    password: str = ""
    op_version: int = 1
    client_op_version: int = 1
    snap_count: int = 0
    version: int = 1  # volinfo->version, bumped by every stored change

    # -- counts glusterd derives ------------------------------------------------
    @property
    def brick_count(self) -> int:
        return len(self.bricks)

    @property
    def dist_leaf_count(self) -> int:
        """Bricks per distribute subvolume (``glusterd_get_dist_leaf_count``)."""
        if self.type == ClusterType.DISPERSE:
            return self.disperse_count
        if self.type == ClusterType.REPLICATE:
            return self.replica_count
        return 1

    @property
    def subvol_count(self) -> int:
        """Distribute subvolumes (replica or disperse sets, or single bricks)."""
        return self.brick_count // self.dist_leaf_count

    @property
    def is_distributed(self) -> bool:
        return self.brick_count > self.dist_leaf_count

    def subvolumes(self) -> list[list[Brick]]:
        """The bricks grouped by replica/disperse set, in order."""
        n = self.dist_leaf_count
        return [self.bricks[i : i + n] for i in range(0, self.brick_count, n)]

    # -- what the CLI shows ------------------------------------------------------
    @property
    def type_code(self) -> int:
        """The CLI's ``get_vol_type()``: the type, or its "Distributed-" variant (+5)."""
        if self.type != ClusterType.NONE and self.dist_leaf_count < self.brick_count:
            return int(self.type) + 5
        return int(self.type)

    @property
    def type_str(self) -> str:
        """``Type:`` of ``volume info`` (Distribute, Replicate, Distributed-Disperse, ...)."""
        return _VOL_TYPE_STR[self.type_code]

    @property
    def bricks_summary(self) -> str:
        """The value of ``Number of Bricks:`` (``gf_cli_print_number_of_bricks``)."""
        n, leaf = self.brick_count, self.dist_leaf_count
        if self.type == ClusterType.NONE:
            return str(n)
        if self.type == ClusterType.DISPERSE:
            return f"{n // leaf} x ({self.disperse_count - self.redundancy_count} + {self.redundancy_count}) = {n}"
        if self.arbiter_count:
            return f"{n // leaf} x ({leaf - self.arbiter_count} + {self.arbiter_count}) = {n}"
        return f"{n // leaf} x {leaf} = {n}"

    def options_glusterd_order(self) -> list[tuple[str, str]]:
        """``volinfo->dict`` as ``dict_foreach`` walks it: the newest key first."""
        return list(reversed(self.options.items()))

    def brick(self, spec: str | int) -> Brick:
        """A brick by index, ``host:path`` or brick id (``VOL-client-N``)."""
        if isinstance(spec, int):
            return self.bricks[spec]
        for b in self.bricks:
            if spec in (b.name, b.brick_id):
                return b
        raise KeyError(spec)


def default_options(ctype: ClusterType, transport: Transport, op_version: int = OP_VERSION_MAX) -> dict[str, str]:
    """The options glusterd puts in a new volume's dict, in the order it sets them
    (``glusterd_op_create_volume`` then ``glusterd_enable_default_options``)."""
    opts: dict[str, str] = {}
    if ctype == ClusterType.REPLICATE and op_version >= 31202:
        opts["performance.client-io-threads"] = "off"
    if op_version >= 30800:
        opts["nfs.disable"] = "on"
    if op_version >= 30900 and transport == Transport.TCP:
        opts["transport.address-family"] = "inet"
    if op_version >= 70000:
        opts["storage.fips-mode-rchecksum"] = "on"
    if op_version >= 90000 and ctype == ClusterType.REPLICATE:
        opts["cluster.granular-entry-heal"] = "on"
    return opts
