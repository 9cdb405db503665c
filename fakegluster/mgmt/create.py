"""``volume create``: the CLI's checks, glusterd's checks, and the new :class:`~.model.Volume`.

Creating a volume goes through the same three steps as in glusterfs 10.3, each raising
:class:`~.model.VolumeError` with the exact text the real one prints (checked against a real
glusterd 10.3 by ``tests/mgmt/test_model.py`` on ``fixtures/mgmt/create_cases.json``):

1. :func:`cli_create_request` -- what the ``gluster`` CLI checks and computes before it sends
   CREATE_VOLUME (``cli/src/cli-cmd-parser.c``: ``cli_cmd_volume_create_parse``,
   ``cli_cmd_bricks_parse``, ``cli_validate_volname``, ``cli_cmd_create_disperse_check``).
   Errors here carry ``stage="cli"`` (the CLI prints them followed by its usage line).
2. :func:`stage_create` -- glusterd's checks of the request (``glusterd-volume-ops.c``:
   ``__glusterd_handle_create_volume``, ``glusterd_op_stage_create_volume``;
   ``glusterd-utils.c``: ``glusterd_check_brick_order``, ``glusterd_new_brick_validate``,
   ``glusterd_is_brickpath_available``, ``glusterd_validate_and_create_brickpath``).  Errors carry
   ``stage="glusterd"`` (the CLI prints ``volume create: NAME: failed: TEXT``).
3. :func:`commit_create` -- the new volume (``glusterd_op_create_volume``), with the options
   glusterd sets itself (:func:`~.model.default_options`).

:func:`create_volume` runs all three.  Plain data: no sockets, no files.  Checks that need the
brick's file system (root partition, mount point, a ``volume-id`` xattr left by an old volume)
are the caller's, through ``path_check`` (:func:`root_partition_error` gives the usual text).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable, Sequence

from .model import (
    GLUSTERD_WORKDIR,
    OP_VERSION_MAX,
    Brick,
    ClusterType,
    Transport,
    Volume,
    VolumeError,
    default_options,
)

__all__ = [
    "CreateRequest",
    "validate_volname",
    "parse_brick",
    "canonicalize_path",
    "cli_create_request",
    "stage_create",
    "commit_create",
    "create_volume",
    "root_partition_error",
    "plain_volume",
    "CREATE_USAGE",
    "REPLICA2_QUESTION",
]

#: GD_VOLUME_NAME_MAX - 1 (``rpc/rpc-lib/src/protocol-common.h``: NAME_MAX + 1).
VOLNAME_MAX = 256
_RESERVED_VOLNAMES = (
    "volume",
    "type",
    "help",
    "subvolumes",
    "option",
    "end-volume",
    "all",
    "volume_not_in_ring",
    "description",
    "force",
    "snap-max-hard-limit",
    "snap-max-soft-limit",
    "auto-delete",
    "activate-on-create",
)
#: The usage line the CLI prints after its own parse errors (``cli-cmd-volume.c``).
CREATE_USAGE = (
    "volume create <NEW-VOLNAME> [[replica <COUNT> [arbiter <COUNT>]]|[replica 2 thin-arbiter 1]] "
    "[disperse [<COUNT>]] [disperse-data <COUNT>] [redundancy <COUNT>] [transport <tcp|rdma|tcp,rdma>] "
    "<NEW-BRICK> <TA-BRICK>... [force]"
)
#: ``cli_cmd_volume_create_parse``'s confirmation question for replica 2 (script mode answers yes).
REPLICA2_QUESTION = (
    "Replica 2 volumes are prone to split-brain. Use Arbiter or Replica 3 to avoid this. See: "
    "http://docs.gluster.org/en/latest/Administrator-Guide/Split-brain-and-ways-to-deal-with-it/."
    "\nDo you still want to continue?\n"
)


# --------------------------------------------------------------------------------------
# the CLI's side
# --------------------------------------------------------------------------------------


def validate_volname(name: str) -> None:
    """``cli_validate_volname``: the checks the CLI makes on a new volume's name."""
    if name.startswith("-") or "/" in name:
        raise VolumeError("", "cli")  # the CLI prints only its usage
    if name in _RESERVED_VOLNAMES:
        raise VolumeError(f'"{name}" cannot be the name of a volume.', "cli")
    if len(name) > VOLNAME_MAX:
        raise VolumeError(f"Volume name exceeds {VOLNAME_MAX} characters.", "cli")
    for c in name:
        if not (c.isascii() and c.isalnum()) and c not in "_-":
            raise VolumeError(
                f'Volume name should not contain "{c}" character.\n'
                "Volume names can onlycontain alphanumeric, '-' and '_' characters.",
                "cli",
            )


def canonicalize_path(path: str) -> str:
    """``gf_canonicalize_path``: ``//a//b/`` -> ``/a/b``; the path must be absolute."""
    if not path.startswith("/"):
        raise VolumeError(f"{path}: path is not absolute", "cli")
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts)


def parse_brick(word: str) -> tuple[str, str]:
    """``host:/path`` -> (host, canonical path), with ``cli_cmd_bricks_parse``'s errors."""
    colon = word.rfind(":")
    if colon <= 0 or word[colon + 1 : colon + 2] != "/":
        raise VolumeError(f"Wrong brick type: {word}, use <HOSTNAME>:<export-dir-abs-path>", "cli")
    host, path = word[:colon], canonicalize_path(word[colon + 1 :])
    if host in ("localhost", "127.0.0.1") or host.startswith("0."):
        raise VolumeError(
            "Please provide a valid hostname/ip other than localhost, 127.0.0.1 or loopback "
            "address (0.0.0.0 to 0.255.255.255).",
            "cli",
        )
    return host, path


@dataclasses.dataclass(frozen=True)
class CreateRequest:
    """What the CLI sends glusterd in CREATE_VOLUME (its dict's keys, typed)."""

    volname: str
    type: ClusterType
    bricks: tuple[str, ...]  # "host:/canonical/path", in order
    transport: str = "tcp"
    force: bool = False
    replica_count: int | None = None
    arbiter_count: int | None = None
    disperse_count: int | None = None
    redundancy_count: int | None = None
    #: the confirmation questions the CLI asked (``--mode=script`` answers them yes)
    questions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str | int]:
        """The CREATE_VOLUME request dict as ``cli_cmd_volume_create_parse`` fills it."""
        d: dict[str, str | int] = {}
        if self.arbiter_count is not None:
            d["arbiter-count"] = self.arbiter_count
        if self.replica_count is not None:
            d["replica-count"] = self.replica_count
        if self.disperse_count is not None:
            d["disperse-count"] = self.disperse_count
            d["redundancy-count"] = self.redundancy_count or 0
        d.update(
            volname=self.volname,
            type=int(self.type),
            transport=self.transport,
            bricks=" " + " ".join(self.bricks) + " ",
            count=len(self.bricks),
            force=int(self.force),
        )
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CreateRequest:
        """From a decoded CREATE_VOLUME dict (what the real CLI sent the fake glusterd)."""

        def opt(key: str) -> int | None:
            return int(d[key]) if key in d else None

        return cls(
            volname=str(d["volname"]),
            type=ClusterType(int(d["type"])),
            bricks=tuple(str(d["bricks"]).split()),
            transport=str(d.get("transport", "tcp")),
            force=bool(int(d.get("force", 0))),
            replica_count=opt("replica-count"),
            arbiter_count=opt("arbiter-count"),
            disperse_count=opt("disperse-count"),
            redundancy_count=opt("redundancy-count"),
        )


def _disperse_counts(disperse: int, redundancy: int, data: int, count: int, questions: list[str]) -> tuple[int, int]:
    """``cli_cmd_create_disperse_check`` (questions answered yes); -1 means "not given"."""
    if data > 0:
        if disperse > 0 and redundancy > 0:
            if disperse != data + redundancy:
                raise VolumeError(
                    f"Disperse count({disperse}) should be equal to sum of disperse-data count({data}) "
                    f"and redundancy count({redundancy})",
                    "cli",
                )
        elif redundancy > 0:
            disperse = data + redundancy
        elif disperse > 0:
            redundancy = disperse - data
        elif count - data >= data:
            raise VolumeError("Please provide redundancy count along with disperse-data count", "cli")
        else:
            questions.append(f"Redundancy for this configuration is {count - data}. Do you want to create "
                             "the volume with this value ?")  # fmt: skip
            redundancy, disperse = count - data, count
    if disperse <= 0:
        if count < 3:
            raise VolumeError("number of bricks must be greater than 2", "cli")
        disperse = count
    if redundancy == -1:
        tmp = disperse - 1
        i = tmp // 2
        while i > 0 and (tmp & -tmp) != tmp:
            i, tmp = i - 1, tmp - 1
        if i == 0:
            questions.append(
                "There isn't an optimal redundancy value for this configuration. "
                "Do you want to create the volume with redundancy 1 ?"
            )
            redundancy = 1
        else:
            redundancy = disperse - tmp
            if redundancy > 1:
                questions.append(
                    f"The optimal redundancy for this configuration is {redundancy}. "
                    "Do you want to create the volume with this value ?"
                )
        tmp = 0
    else:
        tmp = disperse - redundancy
    if redundancy < 1 or redundancy > (disperse - 1) // 2:
        raise VolumeError(
            f"redundancy must be greater than or equal to 1 and less than {(disperse + 1) // 2} "
            f"for a disperse {disperse} volume",
            "cli",
        )
    if (tmp & -tmp) != tmp:
        questions.append("This configuration is not optimal on most workloads. Do you want to use it ?")
    return disperse, redundancy


def cli_create_request(
    volname: str,
    bricks: Sequence[str],
    *,
    replica: int | None = None,
    arbiter: int | None = None,
    disperse: int | None = None,
    disperse_data: int | None = None,
    redundancy: int | None = None,
    transport: str = "tcp",
    force: bool = False,
) -> CreateRequest:
    """``gluster volume create VOLNAME [replica N [arbiter 1]] [disperse [N]] [disperse-data N]
    [redundancy N] [transport T] BRICK... [force]`` as the CLI checks it.

    A bad disperse, disperse-data or redundancy count reads "... option given twice" on a second
    line, as the real CLI prints it (its parser runs over the words again after the error).

    ``disperse=0`` is the bare ``disperse`` keyword (all bricks in one set).  Confirmation
    questions are answered yes, as ``--mode=script`` does, and kept in ``questions``.
    """
    validate_volname(volname)
    questions: list[str] = []
    if arbiter is not None and replica is None:
        raise VolumeError("arbiter option must be preceded by replica option.", "cli")
    is_disperse = disperse is not None or disperse_data is not None or redundancy is not None
    if replica is not None and is_disperse:
        raise VolumeError("replicated-dispersed volume is not supported", "cli")
    ctype = ClusterType.DISPERSE if is_disperse else ClusterType.REPLICATE if replica is not None else ClusterType.NONE
    replica_count = arbiter_count = None
    if replica is not None:
        if replica < 2:
            raise VolumeError("replica count should be greater than 1", "cli")
        if arbiter is not None:
            if arbiter != 1 or replica > 3:
                raise VolumeError(
                    "For arbiter configuration, replica count must be 2 and arbiter count must be 1. "
                    "The 3rd brick of the replica will be the arbiter",
                    "cli",
                )
            arbiter_count = 1
            if replica == 2:
                replica += 1
        if replica == 2 and not force:
            questions.append(REPLICA2_QUESTION)
        replica_count = replica
    if disperse is not None and disperse != 0 and disperse < 3:
        raise VolumeError("disperse count must be greater than 2\ndisperse option given twice", "cli")
    if disperse_data is not None and disperse_data < 2:
        raise VolumeError("disperse-data must be greater than 1\ndisperse-data option given twice", "cli")
    if redundancy is not None and redundancy < 1:
        raise VolumeError("redundancy must be greater than 0\nredundancy option given twice", "cli")
    tword = transport.lower()
    if tword not in ("tcp", "rdma", "tcp,rdma", "rdma,tcp"):
        raise VolumeError("", "cli")  # "incorrect transport protocol specified" goes to the log only
    trans = "tcp,rdma" if "," in tword else tword
    parsed: list[str] = []
    for word in bricks:
        host, path = parse_brick(word)
        name = f"{host}:{path}"
        if name in parsed:
            raise VolumeError(f"Found duplicate exports {name}", "cli")
        parsed.append(name)
    if not parsed:
        raise VolumeError("No bricks specified", "cli")
    sub_count = 1
    disperse_count = redundancy_count = None
    if ctype == ClusterType.DISPERSE:
        disperse_count, redundancy_count = _disperse_counts(
            -1 if disperse is None else disperse,
            -1 if redundancy is None else redundancy,
            -1 if disperse_data is None else disperse_data,
            len(parsed),
            questions,
        )
        sub_count = disperse_count
    if len(parsed) % sub_count:
        raise VolumeError("number of bricks is not a multiple of disperse count", "cli")
    return CreateRequest(
        volname=volname,
        type=ctype,
        bricks=tuple(parsed),
        transport=trans,
        force=force,
        replica_count=replica_count,
        arbiter_count=arbiter_count,
        disperse_count=disperse_count,
        redundancy_count=redundancy_count,
        questions=tuple(questions),
    )


# --------------------------------------------------------------------------------------
# glusterd's side
# --------------------------------------------------------------------------------------

#: host name -> node uuid of a peer in the cluster, or None (``glusterd_hostname_to_uuid``)
HostResolver = Callable[[str], "str | None"]
#: (brick, force) -> an error text for a brick directory glusterd would refuse, or None
PathCheck = Callable[[Brick, bool], "str | None"]


def _is_prefix(a: str, b: str) -> bool:
    """``_is_prefix``: one path is the other or one of its ancestors."""
    if not a or not b:
        return a == b
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return long_.startswith(short) and (len(long_) == len(short) or long_[len(short)] == "/")


def stage_create(
    req: CreateRequest,
    volumes: Iterable[Volume],
    resolve_host: HostResolver,
    path_check: PathCheck | None = None,
) -> list[Brick]:
    """glusterd's checks of a CREATE_VOLUME request against the cluster's ``volumes``.

    Returns the new bricks (host, path, node uuid).  ``path_check`` stands for the checks on the
    brick directory itself (``glusterd_validate_and_create_brickpath``: not a directory, a mount
    point, the root partition without ``force``, a ``volume-id`` xattr already there).
    """
    volumes = list(volumes)
    if any(v.name == req.volname for v in volumes):
        raise VolumeError(f"Volume {req.volname} already exists")
    resolved = [(w, *w.rsplit(":", 1), resolve_host(w.rsplit(":", 1)[0])) for w in req.bricks]
    if not req.force and req.type in (ClusterType.REPLICATE, ClusterType.DISPERSE):
        sub = (req.replica_count if req.type == ClusterType.REPLICATE else req.disperse_count) or 1
        sub = min(sub, len(resolved))
        for start in range(0, len(resolved), sub):
            nodes = [r[3] if r[3] is not None else r[1] for r in resolved[start : start + sub]]
            if len(set(nodes)) != len(nodes):
                kind = "disperse" if req.type == ClusterType.DISPERSE else "replicate"
                raise VolumeError(
                    f"Multiple bricks of a {kind} volume are present on the same server. This setup is not "
                    "optimal. Bricks should be on different nodes to have best fault tolerant configuration. "
                    "Use 'force' at the end of the command if you want to override this behavior. "
                )
    new: list[Brick] = []
    for word, host, path, node in resolved:
        if node is None:
            raise VolumeError(f"Host {host} is not in 'Peer in Cluster' state")
        for v in volumes:
            for b in v.bricks:
                if b.node_uuid == node and _is_prefix(b.path, path):
                    raise VolumeError(
                        f"Brick: {word} not available. Brick may be containing or be contained by an existing brick."
                    )
        if path.startswith(GLUSTERD_WORKDIR) and not req.volname.startswith("gluster_shared_storage"):
            raise VolumeError("Brick isn't allowed to be created inside glusterd's working directory.")
        brick = Brick(host=host, path=path, node_uuid=node)
        if path_check is not None:
            problem = path_check(brick, req.force)
            if problem:
                raise VolumeError(problem)
        if not req.force:
            # glusterd_is_path_in_use: an earlier brick of this request already carries the
            # volume-id xattr, and a later brick below it finds it walking up.
            for earlier in new:
                if earlier.node_uuid == node and path.startswith(earlier.path.rstrip("/") + "/"):
                    raise VolumeError(f"parent directory {earlier.path} is already part of a volume")
        new.append(brick)
    return new


def commit_create(
    req: CreateRequest,
    bricks: Sequence[Brick],
    *,
    volume_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    op_version: int = OP_VERSION_MAX,
) -> Volume:
    """The volume ``glusterd_op_create_volume`` makes of a staged request.

    A replica count that does not divide the brick count gets glusterd's "Failed to create
    volume files" (volgen refuses it; the CLI never checks).
    """
    n = len(bricks)
    replica = req.replica_count or 1 if req.type == ClusterType.REPLICATE else 1
    if req.type == ClusterType.REPLICATE and n % replica:
        raise VolumeError("Failed to create volume files")
    transport = Transport.parse(req.transport)
    vol = Volume(
        name=req.volname,
        volume_id=volume_id or str(uuid.uuid4()),
        type=req.type,
        bricks=[dataclasses.replace(b) for b in bricks],
        replica_count=replica,
        arbiter_count=req.arbiter_count or 0 if req.type == ClusterType.REPLICATE else 0,
        disperse_count=req.disperse_count or 0 if req.type == ClusterType.DISPERSE else 0,
        redundancy_count=req.redundancy_count or 0 if req.type == ClusterType.DISPERSE else 0,
        transport=transport,
        username=str(uuid.uuid4()) if username is None else username,
        password=str(uuid.uuid4()) if password is None else password,
        options=default_options(req.type, transport, op_version),
    )
    for i, b in enumerate(vol.bricks):
        b.brick_id = f"{vol.name}-client-{i}"
        b.is_arbiter = vol.arbiter_count == 1 and (i + 1) % vol.replica_count == 0
    from .options import update_op_versions  # options builds volfiles from the model: import late

    update_op_versions(vol)
    return vol


def create_volume(
    volname: str,
    bricks: Sequence[str],
    *,
    volumes: Iterable[Volume] = (),
    resolve_host: HostResolver | None = None,
    path_check: PathCheck | None = None,
    volume_id: str | None = None,
    **cli_args,
) -> Volume:
    """``gluster volume create`` from end to end: :func:`cli_create_request`,
    :func:`stage_create`, :func:`commit_create`.

    ``resolve_host`` maps a brick host to its node's uuid (default: every host name is a node
    of its own, its uuid derived from the name).  ``cli_args`` are those of
    :func:`cli_create_request` (``replica``, ``arbiter``, ``disperse``, ``disperse_data``,
    ``redundancy``, ``transport``, ``force``).
    """
    req = cli_create_request(volname, bricks, **cli_args)
    resolver: HostResolver = resolve_host or (lambda host: str(uuid.uuid5(uuid.NAMESPACE_DNS, host)))
    new = stage_create(req, volumes, resolver, path_check)
    return commit_create(req, new, volume_id=volume_id)


def root_partition_error(brick: Brick) -> str:
    """glusterd's refusal of a brick directory on the root file system without ``force``."""
    return (
        f"The brick {brick.name} is being created in the root partition. It is recommended that you don't use "
        "the system's root partition for storage backend. Or use 'force' at the end of the command if you want "
        "to override this behavior."
    )


def plain_volume(
    name: str,
    bricks: Sequence[str | tuple[str, str]],
    *,
    volume_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    options: dict[str, str] | None = None,
) -> Volume:
    """A distribute volume over ``bricks`` (``"host:/path"`` or ``(host, path)``) as
    :func:`commit_create` makes it, without the CLI's and glusterd's checks: for the fake's own
    volumes and for tests.  ``username``/``password`` default to none (an untrusted-only volume);
    ``options`` are laid over glusterd's defaults."""
    pairs = [tuple(b.rsplit(":", 1)) if isinstance(b, str) else b for b in bricks]
    req = CreateRequest(volname=name, type=ClusterType.NONE, bricks=tuple(f"{h}:{p}" for h, p in pairs))
    vol = commit_create(
        req,
        [Brick(host=h, path=p) for h, p in pairs],
        volume_id=volume_id,
        username=username or "",
        password=password or "",
    )
    vol.options.update(options or {})
    from .options import update_op_versions

    update_op_versions(vol)
    return vol
