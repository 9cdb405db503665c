"""glusterd's answers to the ``gluster`` CLI (GLUSTER-CLI program 1238463/2): a request in, a reply out.

Each handler takes the decoded request (``gf_cli_req``'s dict, ...) and a :class:`Glusterd` (the
cluster as glusterd sees it: the volume model plus the few runtime operations) and returns the
reply structure (``gf_cli_rsp`` and friends).  Everything on the wire is what a real glusterd
10.3 sends (``xlators/mgmt/glusterd/src``, recorded in ``fixtures/cli/transcript.json``), cut to the
keys the CLI reads for its text and ``--xml`` output (``cli/src/cli-rpc-ops.c``,
``cli-xml-output.c``): glusterd's bookkeeping keys (``transaction_id``, ``originator_uuid``,
``sync-mgmt-operation``...) are left out.

Dict order matters where the CLI walks a dict with ``dict_foreach`` (``volume info``'s options):
glusterd's ``dict_serialize`` writes the newest key first and ``dict_unserialize`` reverses it
again, so :func:`gd_dict` takes pairs in the order glusterd adds them and serializes them reversed,
as glusterd does.

Procedures fakegluster does not implement answer ``op_ret -1`` with op_errstr
``"<what> is not supported by fakegluster"`` (:data:`NOT_SUPPORTED`), never silence.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..proto import cli
from ..proto.gfdict import old_dict, old_dict_text
from . import cli_global
from . import create as mgmt_create
from .cli_glusterd import DaemonStatus, Glusterd, ModelGlusterd, Peer
from .model import Brick, ClusterType, Volume, VolumeError, VolumeStatus

__all__ = [
    "Glusterd",
    "ModelGlusterd",
    "Peer",
    "DaemonStatus",
    "handle",
    "gd_dict",
    "NOT_SUPPORTED",
    "EG_INTRNL",
    "EG_NOVOL",
]

# glusterd-errno.h
EG_INTRNL = 30800
EG_OPNOTSUP = 30801
EG_NOVOL = 30806

#: ``op_errstr`` of a procedure fakegluster does not implement.
NOT_SUPPORTED = "{} is not supported by fakegluster"

#: glusterd_probe_errno (glusterd-handler.h ... cli-rpc-ops.c prints its text).
GF_PROBE_LOCALHOST = 1


# ---------------------------------------------------------------------------------------------
# reply helpers
# ---------------------------------------------------------------------------------------------


def gd_dict(pairs: Iterable[tuple[str, Any]]) -> dict[str, bytes]:
    """An old-style dict as glusterd serializes it: ``pairs`` in the order glusterd adds them,
    on the wire newest first; values as C strings (ints in decimal)."""
    return old_dict(dict(reversed(list(pairs))))


def _rsp(
    op_ret: int = 0,
    op_errno: int = 0,
    op_errstr: str = "",
    pairs: Iterable[tuple[str, Any]] = (),
    *,
    dict_: bool = True,
) -> Any:
    """A ``gf_cli_rsp``.  glusterd sends its op dict back in nearly every reply, and some CLI
    callbacks (``volume set``'s) give up silently when it cannot be unserialized, so an empty
    dict still goes out as one (count 0); ``dict_=False`` sends none, where glusterd sends none."""
    return cli.GfCliRsp(op_ret, op_errno, op_errstr, gd_dict(pairs) if dict_ else None)


def _fail(text: str, op_errno: int = EG_INTRNL, pairs: Iterable[tuple[str, Any]] = (), *, dict_: bool = True) -> Any:
    return _rsp(-1, op_errno, text, pairs, dict_=dict_)


def _find(gd: Glusterd, name: str) -> Volume | None:
    for v in gd.volumes():
        if v.name == name:
            return v
    return None


def _sorted(gd: Glusterd) -> list[Volume]:
    """glusterd keeps ``priv->volumes`` ordered by name (``glusterd_compare_volume_name``: strcmp)."""
    return sorted(gd.volumes(), key=lambda v: v.name.encode())


# ---------------------------------------------------------------------------------------------
# read-only procedures (also served on TCP)
# ---------------------------------------------------------------------------------------------


def volume_detail(v: Volume, i: int = 0) -> list[tuple[str, Any]]:
    """``glusterd_add_volume_detail_to_dict``, cut to what ``gf_cli_get_volume_cbk`` and
    ``cli_xml_output_vol_info`` read."""
    p = f"volume{i}"
    pairs: list[tuple[str, Any]] = [
        (f"{p}.name", v.name),
        (f"{p}.type", int(v.type)),
        (f"{p}.status", int(v.status)),
        (f"{p}.brick_count", v.brick_count),
        (f"{p}.dist_count", v.dist_leaf_count),
        (f"{p}.replica_count", v.replica_count),
        (f"{p}.disperse_count", v.disperse_count),
        (f"{p}.redundancy_count", v.redundancy_count),
        (f"{p}.arbiter_count", v.arbiter_count),
        (f"{p}.transport", int(v.transport)),
        (f"{p}.thin_arbiter_count", 0),
        (f"{p}.volume_id", v.volume_id),
        (f"{p}.snap_count", v.snap_count),
    ]
    for n, b in enumerate(v.bricks, 1):
        pairs += [(f"{p}.brick{n}", b.name), (f"{p}.brick{n}.uuid", b.node_uuid)]
        if b.is_arbiter:
            pairs.append((f"{p}.brick{n}.isArbiter", 1))
    opts = v.options_glusterd_order()
    pairs += [(f"{p}.option.{k}", val) for k, val in opts]
    pairs.append((f"{p}.opt_count", len(opts)))
    return pairs


def get_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """GET_VOLUME (``glusterd_get_volumes``): ``volume info V`` asks for one volume
    (GF_CLI_GET_VOLUME); ``volume info`` walks them by name, asking for the one after the last
    it got (GF_CLI_GET_NEXT_VOLUME, no name for the first; ``count`` 0 ends it).  Any other
    flag gets ``count`` 0, as glusterd answers it."""
    try:
        flags = int(req.get("flags", "0"))
    except ValueError:
        flags = 0
    name = req.get("volname")
    if flags == cli.Gf1CliGetVolume.GF_CLI_GET_VOLUME:
        v = _find(gd, name or "")
        if v is None:
            return _fail("Volume does not exist", EG_NOVOL, [("count", 0)])
        return _rsp(pairs=[*volume_detail(v), ("count", 1)])
    if flags == cli.Gf1CliGetVolume.GF_CLI_GET_NEXT_VOLUME:
        vols = _sorted(gd)
        names = [v.name for v in vols]
        if name is None:
            nxt = 0
        elif name in names:
            nxt = names.index(name) + 1
        else:
            nxt = len(vols)
        if nxt < len(vols):
            return _rsp(pairs=[*volume_detail(vols[nxt]), ("count", 1)])
    return _rsp(pairs=[("count", 0)])


def list_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """LIST_VOLUME (``volume list``; ``glusterd_handle_cli_list_volume``)."""
    vols = _sorted(gd)
    return _rsp(pairs=[*((f"volume{i}", v.name) for i, v in enumerate(vols)), ("count", len(vols))])


def list_friends(gd: Glusterd, flags: int) -> Any:
    """LIST_FRIENDS (``peer status`` flags 1, ``pool list`` flags 2; ``glusterd_list_friends``):
    the pool list adds this node as ``localhost``."""
    pairs: list[tuple[str, Any]] = []
    n = 0
    for peer in gd.peers():
        n += 1
        pairs += [
            (f"friend{n}.uuid", peer.uuid),
            (f"friend{n}.hostname", peer.hostname),
            (f"friend{n}.port", 24007),
            (f"friend{n}.state", "Peer in Cluster"),
            (f"friend{n}.connected", int(peer.connected)),
            (f"friend{n}.hostname_count", 0),
        ]
    if flags == cli.Gf1CliFriendsList.GF_CLI_LIST_POOL_NODES:
        n += 1
        pairs += [(f"friend{n}.uuid", gd.node_uuid), (f"friend{n}.hostname", "localhost"), (f"friend{n}.connected", 1)]
    pairs.append(("count", n))
    return cli.Gf1CliPeerListRsp(0, 0, gd_dict(pairs))


def uuid_get(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """UUID_GET (``system:: uuid get``; ``__glusterd_handle_cli_uuid_get``)."""
    return _rsp(pairs=[("uuid", gd.node_uuid)])


def status_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """STATUS_VOLUME (``volume status [V]``; ``glusterd_op_status_volume``): the volume names for
    ``volume status`` (``cmd`` has GF_CLI_STATUS_ALL), else one volume's bricks and self-heal
    daemon with the keys ``gf_cli_status_cbk`` and ``cli_xml_output_vol_status`` read."""
    try:
        cmd = int(req.get("cmd", "0"))
    except ValueError:
        cmd = 0
    name = req.get("volname", "")
    if cmd & cli.GfCliStatusType.GF_CLI_STATUS_ALL:
        # glusterd_get_all_volnames: the CLI then asks for each volume in turn
        vols = _sorted(gd)
        return _rsp(pairs=[("cmd", cmd), *((f"vol{i}", v.name) for i, v in enumerate(vols)), ("vol_count", len(vols))])
    if not cmd & cli.GfCliStatusType.GF_CLI_STATUS_VOL:
        return _fail(NOT_SUPPORTED.format("this volume status"), EG_OPNOTSUP)
    if cmd & (cli.GF_CLI_STATUS_MASK | 0x3F800) & ~cli.GfCliStatusType.GF_CLI_STATUS_SHD:
        return _fail(NOT_SUPPORTED.format("this volume status detail"), EG_OPNOTSUP)
    v = _find(gd, name)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    if v.status != VolumeStatus.STARTED:
        return _fail(f"Volume {name} is not started")
    pairs: list[tuple[str, Any]] = [("cmd", cmd), ("volname", name)]
    i = 0
    only_shd = bool(cmd & cli.GfCliStatusType.GF_CLI_STATUS_SHD)
    if not only_shd:
        for b in v.bricks:
            pairs += [
                (f"brick{i}.hostname", b.host),
                (f"brick{i}.path", b.path),
                (f"brick{i}.peerid", b.node_uuid),
                (f"brick{i}.port", b.port if b.online else 0),
                (f"brick{i}.rdma_port", b.rdma_port if b.online else 0),
                (f"brick{i}.pid", b.pid if b.online else -1),
                (f"brick{i}.status", int(b.online)),
            ]
            i += 1
    index_max = i - 1
    other = 0
    shd = gd.shd(v)
    if shd is not None:
        pairs += [
            (f"brick{i}.hostname", "Self-heal Daemon"),
            (f"brick{i}.path", "localhost"),
            (f"brick{i}.peerid", gd.node_uuid),
            (f"brick{i}.port", 0),
            (f"brick{i}.pid", shd.pid if shd.online else -1),
            (f"brick{i}.status", int(shd.online)),
        ]
        i += 1
        other = 1
    pairs += [
        ("brick-index-max", index_max),
        ("other-count", other),
        ("count", i),
        ("type", -1),
        ("hot_brick_count", -1),
        ("tasks", 0),
    ]
    return _rsp(pairs=pairs)


# ---------------------------------------------------------------------------------------------
# volume lifecycle (unix socket only)
# ---------------------------------------------------------------------------------------------


def create_volume(gd: Glusterd, req: Mapping[str, str], new_uuid: Callable[[], str]) -> Any:
    """CREATE_VOLUME (``volume create``; ``__glusterd_handle_create_volume``,
    ``glusterd_op_stage_create_volume``, ``glusterd_op_create_volume``): the model's checks
    (:mod:`.create`, the real texts), then the brick directories (``path_check``)."""
    name = req.get("volname", "")
    try:
        request = mgmt_create.CreateRequest.from_dict(dict(req))
    except (KeyError, ValueError) as exc:
        return _fail(f"Unable to get volume create arguments: {exc}")
    if _find(gd, name) is not None:
        return _fail(f"Volume {name} already exists", 0, dict_=False)
    volume_id = new_uuid()
    done: list[Brick] = []

    def check(brick: Brick, force: bool) -> str | None:
        if not gd.is_local_host(brick.host):
            return None
        problem = gd.path_check(brick, force, volume_id)
        if problem is None:
            done.append(brick)
        return problem

    try:
        bricks = mgmt_create.stage_create(request, list(gd.volumes()), gd.resolve_host, check)
        vol = mgmt_create.commit_create(request, bricks, volume_id=volume_id, username=new_uuid(), password=new_uuid())
    except VolumeError as exc:
        return _fail(exc.message)
    vol = gd.create(vol)
    return _rsp(pairs=[("volname", name), ("volume-id", vol.volume_id)])


def _vol_op(gd: Glusterd, req: Mapping[str, str]) -> tuple[str, Volume | None, bool]:
    name = req.get("volname", "")
    try:
        force = bool(int(req.get("flags", "0")) & cli.Gf1CliOpFlags.GF_CLI_FLAG_OP_FORCE)
    except ValueError:
        force = False
    return name, _find(gd, name), force


def start_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """START_VOLUME (``glusterd_op_stage_start_volume``, ``glusterd_op_start_volume``)."""
    name, v, force = _vol_op(gd, req)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    if v.status == VolumeStatus.STARTED and not force:
        return _fail(f"Volume {name} already started")
    try:
        gd.start(v, force)
    except VolumeError as exc:
        return _fail(exc.message)
    return _rsp(pairs=[("volname", name), ("vol-id", v.volume_id)])


def stop_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """STOP_VOLUME (``glusterd_op_stage_stop_volume``, ``glusterd_op_stop_volume``)."""
    name, v, force = _vol_op(gd, req)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    if v.status != VolumeStatus.STARTED:
        return _fail(f"Volume {name} is not in the started state")
    try:
        gd.stop(v, force)
    except VolumeError as exc:
        return _fail(exc.message)
    return _rsp(pairs=[("volname", name), ("vol-id", v.volume_id)])


def delete_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """DELETE_VOLUME (``glusterd_op_stage_delete_volume``, ``glusterd_op_delete_volume``)."""
    name, v, _ = _vol_op(gd, req)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    if v.status == VolumeStatus.STARTED:
        return _fail(f"Volume {name} has been started.Volume needs to be stopped before deletion.")
    gd.delete(v)
    return _rsp(pairs=[("volname", name), ("vol-id", v.volume_id)])


def heal_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """HEAL_VOLUME for an index or full heal (``volume heal V [full]``;
    ``glusterd_op_stage_heal_volume``, ``glusterd_handle_heal_cmd``).  ``gf_cli_heal_volume_cbk``
    prints its own text from the request's ``heal-op`` and reads no reply key for these two."""
    name = req.get("volname", "")
    op = req.get("heal-op", "")
    v = _find(gd, name)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    if op not in ("1", "2"):  # GF_SHD_OP_HEAL_INDEX, GF_SHD_OP_HEAL_FULL
        return _fail(NOT_SUPPORTED.format("this volume heal command"), EG_OPNOTSUP)
    if v.status != VolumeStatus.STARTED:
        return _fail(f"Volume {name} is not started.")
    shd_off = v.options.get("cluster.self-heal-daemon", "on").lower() in ("off", "no", "false", "disable", "0")
    if v.type not in (ClusterType.REPLICATE, ClusterType.DISPERSE) or shd_off:
        # gd_is_self_heal_enabled: a volume glustershd does not serve has it "disabled"
        return _fail(f"Self-heal-daemon is disabled. Heal will not be triggered on volume {name}")
    gd.heal(v)
    return _rsp()


def _options() -> Any:
    """:mod:`.options` (``volume set/reset/get`` as glusterd does them), None until it exists."""
    try:
        from . import options
    except ImportError:  # pragma: no cover - the option table lands with the mgmt stream
        return None
    return options


def set_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """SET_VOLUME (``volume set V K1 V1 [K2 V2...]``; ``glusterd_op_stage_set_volume``,
    ``glusterd_op_set_volume``): all pairs pass glusterd's checks or none is stored.  The CLI
    reads no reply key (``help-str`` only for ``volume set help``)."""
    name = req.get("volname", "")
    if "help" in req or "help-xml" in req:  # glusterd_get_volopt_content: the option docs
        return _rsp(pairs=[("help-str", cli_global.set_help(xml="help-xml" in req))])
    pairs = []
    n = 1
    while f"key{n}" in req:
        pairs.append((req[f"key{n}"], req.get(f"value{n}", "")))
        n += 1
    if name.lower() == "all":  # the cluster-wide options
        try:
            cli_global.stage_set_global(pairs)
        except VolumeError as exc:
            return _fail(exc.message)
    v = _find(gd, name)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    options = _options()
    if options is None:
        return _fail(NOT_SUPPORTED.format("volume set"), EG_OPNOTSUP)

    def change() -> None:
        options.set_options(v, pairs, list(gd.volumes()), strict=gd.strict, clients=gd.clients(v))

    try:
        gd.change_options(v, change)
    except VolumeError as exc:
        return _fail(exc.message)
    return _rsp()


def reset_volume(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """RESET_VOLUME (``volume reset V [KEY|all] [force]``; ``glusterd_op_stage_reset_volume``,
    ``glusterd_options_reset``): the note on protected keys goes back as op_errstr, which the CLI
    prints after "success: "."""
    name = req.get("volname", "")
    v = _find(gd, name)
    if v is None:
        return _fail(f"Volume {name} does not exist")
    options = _options()
    if options is None:
        return _fail(NOT_SUPPORTED.format("volume reset"), EG_OPNOTSUP)
    force = req.get("force", "0") not in ("", "0")
    try:
        note = gd.change_options(v, lambda: options.reset_option(v, req.get("key", "all"), force))
    except VolumeError as exc:
        return _fail(exc.message)
    return _rsp(0, 0, note or "")


def get_vol_opt(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """GET_VOL_OPT (``volume get V KEY|all``; ``glusterd_get_volume_opts``): rows ``keyN`` /
    ``valueN`` and ``count``, what ``gf_cli_get_vol_opt_cbk`` and its XML read."""
    name = req.get("volname", "")
    if name.lower() == "all":  # glusterd_get_global_options_for_all_vols
        try:
            rows = cli_global.get_global(req.get("key", "all"))
        except VolumeError as exc:
            return _fail(exc.message, 0)
    else:
        v = _find(gd, name)
        if v is None:
            return _fail(f"Volume {name} does not exist", 0)
        options = _options()
        if options is None:
            return _fail(NOT_SUPPORTED.format("volume get"), EG_OPNOTSUP)
        try:
            rows = [(row.key, row.value) for row in options.get_option(v, req.get("key", "all"))]
        except VolumeError as exc:
            return _fail(exc.message, 0)
    pairs: list[tuple[str, Any]] = []
    for n, (key, value) in enumerate(rows, 1):
        pairs += [(f"key{n}", key), (f"value{n}", value)]
    return _rsp(pairs=[*pairs, ("count", len(rows))])


def probe(gd: Glusterd, req: Mapping[str, str]) -> Any:
    """PROBE (``peer probe HOST``; ``__glusterd_handle_cli_probe``): this node itself is
    "not needed"; fakegluster's pool is fixed when it starts."""
    host = req.get("hostname", "")
    if gd.is_local_host(host):
        return _rsp(0, GF_PROBE_LOCALHOST, "Probe on localhost not needed", dict_=False)
    for peer in gd.peers():
        if peer.hostname == host:
            return _rsp(0, 2, f"Host {host} port 24007 already in peer list", dict_=False)  # GF_PROBE_FRIEND
    return _fail(NOT_SUPPORTED.format("peer probe of a host outside the fake pool"), EG_OPNOTSUP)


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------

P = cli.GlusterCliProcnum

#: what the CLI prints before ": failed" for procedures we do not implement (for the error text)
_WHAT: dict[int, str] = {
    P.GLUSTER_CLI_DEPROBE: "peer detach",
    P.GLUSTER_CLI_DEFRAG_VOLUME: "volume rebalance",
    P.GLUSTER_CLI_ADD_BRICK: "volume add-brick",
    P.GLUSTER_CLI_REMOVE_BRICK: "volume remove-brick",
    P.GLUSTER_CLI_REPLACE_BRICK: "volume replace-brick",
    P.GLUSTER_CLI_RESET_BRICK: "volume reset-brick",
    P.GLUSTER_CLI_LOG_ROTATE: "volume log rotate",
    P.GLUSTER_CLI_SYNC_VOLUME: "volume sync",
    P.GLUSTER_CLI_GSYNC_SET: "geo-replication",
    P.GLUSTER_CLI_PROFILE_VOLUME: "volume profile/top",
    P.GLUSTER_CLI_QUOTA: "volume quota",
    P.GLUSTER_CLI_STATEDUMP_VOLUME: "volume statedump",
    P.GLUSTER_CLI_CLRLOCKS_VOLUME: "volume clear-locks",
    P.GLUSTER_CLI_UUID_RESET: "system:: uuid reset",
    P.GLUSTER_CLI_COPY_FILE: "system:: copy file",
    P.GLUSTER_CLI_SYS_EXEC: "system:: execute",
    P.GLUSTER_CLI_SNAP: "snapshot",
    P.GLUSTER_CLI_BARRIER_VOLUME: "volume barrier",
    P.GLUSTER_CLI_GANESHA: "nfs-ganesha",
    P.GLUSTER_CLI_BITROT: "volume bitrot",
    P.GLUSTER_CLI_GET_STATE: "get-state",
    P.GLUSTER_CLI_ATTACH_TIER: "volume tier",
    P.GLUSTER_CLI_TIER: "volume tier",
    P.GLUSTER_CLI_REMOVE_TIER_BRICK: "volume tier",
    P.GLUSTER_CLI_ADD_TIER_BRICK: "volume tier",
}


def not_supported(proc: int, echo: Mapping[str, bytes] | None = None) -> Any:
    """The reply to a procedure fakegluster does not implement (its own reply type).  Like
    glusterd, it carries the request's dict back (``echo``): several CLI callbacks (profile,
    snapshot) look up their keys there before they print op_errstr."""
    what = _WHAT.get(proc) or cli.PROGRAM[proc].name.lower().replace("_", " ")
    text = NOT_SUPPORTED.format(what)
    if proc == P.GLUSTER_CLI_FSM_LOG:
        return cli.Gf1CliFsmLogRsp(-1, errno.ENOTSUP, text, None)
    if proc == P.GLUSTER_CLI_GETWD:
        return cli.Gf1CliGetwdRsp(-1, errno.ENOTSUP, "")
    if proc == P.GLUSTER_CLI_MOUNT:
        return cli.Gf1CliMountRsp(-1, errno.ENOTSUP, "")
    if proc == P.GLUSTER_CLI_UMOUNT:
        return cli.Gf1CliUmountRsp(-1, errno.ENOTSUP)
    if proc == P.GLUSTER_CLI_LIST_FRIENDS:
        return cli.Gf1CliPeerListRsp(-1, errno.ENOTSUP, None)
    return cli.GfCliRsp(-1, EG_OPNOTSUP, text, dict(echo) if echo else {})


def handle(gd: Glusterd, proc: int, args: Any, *, new_uuid: Callable[[], str]) -> Any:
    """The reply to CLI procedure ``proc`` with decoded arguments ``args``.

    Which procedures a listener serves at all (unix: all, TCP: the read-only ones, the rest
    PROC_UNAVAIL) is the RPC layer's business (:data:`fakegluster.proto.cli.TCP_PROCEDURES`).
    """
    if proc == P.GLUSTER_CLI_LIST_FRIENDS:
        return list_friends(gd, args.flags)
    if proc in (P.GLUSTER_CLI_FSM_LOG, P.GLUSTER_CLI_GETWD, P.GLUSTER_CLI_MOUNT, P.GLUSTER_CLI_UMOUNT):
        return not_supported(proc)
    req = old_dict_text(args.dict)
    if args.dict is not None and not req:  # an undecodable dict: glusterd's "failed to unserialize"
        return _fail("Failed to decode request received from cli", errno.EINVAL)
    fn = _HANDLERS.get(proc)
    if fn is None:
        return not_supported(proc, args.dict if isinstance(args.dict, Mapping) else None)
    if proc == P.GLUSTER_CLI_CREATE_VOLUME:
        return create_volume(gd, req, new_uuid)
    return fn(gd, req)


_HANDLERS: dict[int, Callable[[Glusterd, Mapping[str, str]], Any]] = {
    P.GLUSTER_CLI_GET_VOLUME: get_volume,
    P.GLUSTER_CLI_LIST_VOLUME: list_volume,
    P.GLUSTER_CLI_UUID_GET: uuid_get,
    P.GLUSTER_CLI_STATUS_VOLUME: status_volume,
    P.GLUSTER_CLI_CREATE_VOLUME: lambda gd, req: None,  # needs new_uuid: see handle()
    P.GLUSTER_CLI_START_VOLUME: start_volume,
    P.GLUSTER_CLI_STOP_VOLUME: stop_volume,
    P.GLUSTER_CLI_DELETE_VOLUME: delete_volume,
    P.GLUSTER_CLI_HEAL_VOLUME: heal_volume,
    P.GLUSTER_CLI_SET_VOLUME: set_volume,
    P.GLUSTER_CLI_RESET_VOLUME: reset_volume,
    P.GLUSTER_CLI_GET_VOL_OPT: get_vol_opt,
    P.GLUSTER_CLI_PROBE: probe,
}
