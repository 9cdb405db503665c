"""GLUSTER-CLI, program 1238463 version 2 (``rpc/xdr/src/cli1-xdr.x``): the ``gluster`` CLI
talking to glusterd.

Almost every procedure carries ``gf_cli_req`` (one serialized old-style dict: the parsed
command line) and answers ``gf_cli_rsp`` (op_ret, op_errno, op_errstr, and a serialized dict
the CLI formats, e.g. ``volume0.name``); the exceptions are LIST_FRIENDS (``peer status``,
``pool list``), FSM_LOG, GETWD, MOUNT and UMOUNT (``cli-rpc-ops.c``, ``gluster_cli_actors``).

glusterd 10.3 (``glusterd-handler.c``) serves the full program only on its unix socket
(``gd_svc_cli_actors``) and a read-only subset on TCP (``gd_svc_cli_trusted_actors``:
LIST_FRIENDS, UUID_GET, GET_VOLUME, GETWD, STATUS_VOLUME, LIST_VOLUME, MOUNT, UMOUNT); any
other procedure is PROC_UNAVAIL (capture ``cli_mgmt_remote_host.pcap``).  NULL,
GET_NEXT_VOLUME, RENAME_VOLUME, GETSPEC, PMAP_PORTBYBRICK, TOP_VOLUME and STATUS_ALL have no
glusterd actor at all: the CLI sends ``system:: getspec`` and ``system:: portmap brick2port``
as the handshake's GETSPEC and the portmap's PORTBYBRICK instead.
"""

from __future__ import annotations

import enum

from .gfdict import OldDict
from .programs import Procedure, Program, procedures, register
from .xdr import Int, String, Struct

__all__ = [
    "GLUSTER_CLI_PROGRAM",
    "GLUSTER_CLI_VERSION",
    "GlusterCliProcnum",
    "Gf1ClusterType",
    "Gf1CliGetVolume",
    "Gf1CliFriendsList",
    "Gf1CliOpFlags",
    "GfCliStatusType",
    "GfCliReq",
    "GfCliRsp",
    "Gf1CliPeerListReq",
    "Gf1CliPeerListRsp",
    "Gf1CliFsmLogReq",
    "Gf1CliFsmLogRsp",
    "Gf1CliGetwdReq",
    "Gf1CliGetwdRsp",
    "Gf1CliMountReq",
    "Gf1CliMountRsp",
    "Gf1CliUmountReq",
    "Gf1CliUmountRsp",
    "PROGRAM",
    "TCP_PROCEDURES",
    "UNIX_PROCEDURES",
]

GLUSTER_CLI_PROGRAM = 1238463
GLUSTER_CLI_VERSION = 2


class GlusterCliProcnum(enum.IntEnum):
    """``enum gluster_cli_procnum`` (``rpc/rpc-lib/src/protocol-common.h``)."""

    GLUSTER_CLI_NULL = 0
    GLUSTER_CLI_PROBE = 1
    GLUSTER_CLI_DEPROBE = 2
    GLUSTER_CLI_LIST_FRIENDS = 3
    GLUSTER_CLI_CREATE_VOLUME = 4
    GLUSTER_CLI_GET_VOLUME = 5
    GLUSTER_CLI_GET_NEXT_VOLUME = 6
    GLUSTER_CLI_DELETE_VOLUME = 7
    GLUSTER_CLI_START_VOLUME = 8
    GLUSTER_CLI_STOP_VOLUME = 9
    GLUSTER_CLI_RENAME_VOLUME = 10
    GLUSTER_CLI_DEFRAG_VOLUME = 11
    GLUSTER_CLI_SET_VOLUME = 12
    GLUSTER_CLI_ADD_BRICK = 13
    GLUSTER_CLI_REMOVE_BRICK = 14
    GLUSTER_CLI_REPLACE_BRICK = 15
    GLUSTER_CLI_LOG_ROTATE = 16
    GLUSTER_CLI_GETSPEC = 17
    GLUSTER_CLI_PMAP_PORTBYBRICK = 18
    GLUSTER_CLI_SYNC_VOLUME = 19
    GLUSTER_CLI_RESET_VOLUME = 20
    GLUSTER_CLI_FSM_LOG = 21
    GLUSTER_CLI_GSYNC_SET = 22
    GLUSTER_CLI_PROFILE_VOLUME = 23
    GLUSTER_CLI_QUOTA = 24
    GLUSTER_CLI_TOP_VOLUME = 25
    GLUSTER_CLI_GETWD = 26
    GLUSTER_CLI_STATUS_VOLUME = 27
    GLUSTER_CLI_STATUS_ALL = 28
    GLUSTER_CLI_MOUNT = 29
    GLUSTER_CLI_UMOUNT = 30
    GLUSTER_CLI_HEAL_VOLUME = 31
    GLUSTER_CLI_STATEDUMP_VOLUME = 32
    GLUSTER_CLI_LIST_VOLUME = 33
    GLUSTER_CLI_CLRLOCKS_VOLUME = 34
    GLUSTER_CLI_UUID_RESET = 35
    GLUSTER_CLI_UUID_GET = 36
    GLUSTER_CLI_COPY_FILE = 37
    GLUSTER_CLI_SYS_EXEC = 38
    GLUSTER_CLI_SNAP = 39
    GLUSTER_CLI_BARRIER_VOLUME = 40
    GLUSTER_CLI_GET_VOL_OPT = 41
    GLUSTER_CLI_GANESHA = 42
    GLUSTER_CLI_BITROT = 43
    GLUSTER_CLI_ATTACH_TIER = 44
    GLUSTER_CLI_TIER = 45
    GLUSTER_CLI_GET_STATE = 46
    GLUSTER_CLI_RESET_BRICK = 47
    GLUSTER_CLI_REMOVE_TIER_BRICK = 48
    GLUSTER_CLI_ADD_TIER_BRICK = 49


class Gf1ClusterType(enum.IntEnum):
    """``gf1_cluster_type``: the ``type`` a volume dict carries (``volume0.type`` is
    ``glusterd_volinfo_t.type``, the same numbers)."""

    GF_CLUSTER_TYPE_NONE = 0
    GF_CLUSTER_TYPE_STRIPE = 1
    GF_CLUSTER_TYPE_REPLICATE = 2
    GF_CLUSTER_TYPE_STRIPE_REPLICATE = 3
    GF_CLUSTER_TYPE_DISPERSE = 4
    GF_CLUSTER_TYPE_TIER = 5


class Gf1CliGetVolume(enum.IntEnum):
    """``gf1_cli_get_volume``: GET_VOLUME's ``flags`` (``volume info`` = ALL or VOLUME)."""

    GF_CLI_GET_VOLUME_ALL = 1
    GF_CLI_GET_VOLUME = 2
    GF_CLI_GET_NEXT_VOLUME = 3


class Gf1CliFriendsList(enum.IntEnum):
    """``gf1_cli_friends_list``: LIST_FRIENDS ``flags`` (``peer status`` / ``pool list``)."""

    GF_CLI_LIST_PEERS = 1
    GF_CLI_LIST_POOL_NODES = 2


class Gf1CliOpFlags(enum.IntEnum):
    GF_CLI_FLAG_OP_FORCE = 1


class GfCliStatusType(enum.IntFlag):
    """``gf_cli_status_type``: STATUS_VOLUME's ``cmd`` bits (the low byte is the sub-op)."""

    GF_CLI_STATUS_NONE = 0x000000
    GF_CLI_STATUS_MEM = 0x000001
    GF_CLI_STATUS_CLIENTS = 0x000002
    GF_CLI_STATUS_INODE = 0x000004
    GF_CLI_STATUS_FD = 0x000008
    GF_CLI_STATUS_CALLPOOL = 0x000010
    GF_CLI_STATUS_DETAIL = 0x000020
    GF_CLI_STATUS_TASKS = 0x000040
    GF_CLI_STATUS_CLIENT_LIST = 0x000080
    GF_CLI_STATUS_VOL = 0x000100
    GF_CLI_STATUS_ALL = 0x000200
    GF_CLI_STATUS_BRICK = 0x000400
    GF_CLI_STATUS_NFS = 0x000800
    GF_CLI_STATUS_SHD = 0x001000
    GF_CLI_STATUS_QUOTAD = 0x002000
    GF_CLI_STATUS_SNAPD = 0x004000
    GF_CLI_STATUS_BITD = 0x008000
    GF_CLI_STATUS_SCRUB = 0x010000
    GF_CLI_STATUS_TIERD = 0x020000


#: The low byte of a STATUS_VOLUME ``cmd``: which detail was asked for.
GF_CLI_STATUS_MASK = 0x0000FF


class GfCliReq(Struct, xname="gf_cli_req"):
    dict: OldDict = None


class GfCliRsp(Struct, xname="gf_cli_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    op_errstr: String = ""
    dict: OldDict = None


class Gf1CliPeerListReq(Struct, xname="gf1_cli_peer_list_req"):
    flags: Int = 0
    dict: OldDict = None


class Gf1CliPeerListRsp(Struct, xname="gf1_cli_peer_list_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    friends: OldDict = None


class Gf1CliFsmLogReq(Struct, xname="gf1_cli_fsm_log_req"):
    name: String = ""


class Gf1CliFsmLogRsp(Struct, xname="gf1_cli_fsm_log_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    op_errstr: String = ""
    fsm_log: OldDict = None


class Gf1CliGetwdReq(Struct, xname="gf1_cli_getwd_req"):
    unused: Int = 0


class Gf1CliGetwdRsp(Struct, xname="gf1_cli_getwd_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    wd: String = ""


class Gf1CliMountReq(Struct, xname="gf1_cli_mount_req"):
    label: String = ""
    dict: OldDict = None


class Gf1CliMountRsp(Struct, xname="gf1_cli_mount_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    path: String = ""


class Gf1CliUmountReq(Struct, xname="gf1_cli_umount_req"):
    lazy: Int = 0
    path: String = ""


class Gf1CliUmountRsp(Struct, xname="gf1_cli_umount_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0


_SPECIAL: dict[GlusterCliProcnum, tuple[type[Struct], type[Struct]]] = {
    GlusterCliProcnum.GLUSTER_CLI_LIST_FRIENDS: (Gf1CliPeerListReq, Gf1CliPeerListRsp),
    GlusterCliProcnum.GLUSTER_CLI_FSM_LOG: (Gf1CliFsmLogReq, Gf1CliFsmLogRsp),
    GlusterCliProcnum.GLUSTER_CLI_GETWD: (Gf1CliGetwdReq, Gf1CliGetwdRsp),
    GlusterCliProcnum.GLUSTER_CLI_MOUNT: (Gf1CliMountReq, Gf1CliMountRsp),
    GlusterCliProcnum.GLUSTER_CLI_UMOUNT: (Gf1CliUmountReq, Gf1CliUmountRsp),
}


def _procedure(num: GlusterCliProcnum) -> Procedure:
    name = num.name.removeprefix("GLUSTER_CLI_")
    if num == GlusterCliProcnum.GLUSTER_CLI_NULL:
        return Procedure(0, name)
    args, reply = _SPECIAL.get(num, (GfCliReq, GfCliRsp))
    return Procedure(int(num), name, args, reply)


PROGRAM = register(
    Program(
        "GlusterD svc cli", GLUSTER_CLI_PROGRAM, GLUSTER_CLI_VERSION, procedures(*map(_procedure, GlusterCliProcnum))
    )
)

#: What glusterd 10.3 serves on TCP (``gd_svc_cli_trusted_actors``, "GlusterD svc cli read-only").
TCP_PROCEDURES = ("LIST_FRIENDS", "UUID_GET", "GET_VOLUME", "GETWD", "STATUS_VOLUME", "LIST_VOLUME", "MOUNT", "UMOUNT")

#: What glusterd 10.3 serves on its unix socket (``gd_svc_cli_actors``): every procedure with an actor.
UNIX_PROCEDURES = tuple(
    p.name
    for p in PROGRAM.procs.values()
    if p.name
    not in ("NULL", "GET_NEXT_VOLUME", "RENAME_VOLUME", "GETSPEC", "PMAP_PORTBYBRICK", "TOP_VOLUME", "STATUS_ALL")
)
