"""GF callback, program 52743234 version 1: server-to-client CALLs on an existing connection.

The client never replies (``rpcclnt_cb_actor_t`` handlers return nothing).  Argument types
from ``xlators/protocol/server/src/server.c`` (``server_process_event_upcall``),
``glusterd.c`` and the client-side decoders in ``client-callback.c`` / ``glfs-mgmt.c``;
FETCHSPEC, INO_FLUSH, EVENT_NOTIFY, GET_SNAPS, CHILD_UP and CHILD_DOWN carry no arguments.
"""

from __future__ import annotations

import enum

from .common import GfIatt, GfProtoFlock
from .programs import Procedure, Program, procedures, register
from .xdr import NULL_GFID, Gfid, Opaque, String, Struct, UInt

__all__ = [
    "GLUSTER_CBK_PROGRAM",
    "GLUSTER_CBK_VERSION",
    "GfCbkProcnum",
    "Gfs3CbkCacheInvalidationReq",
    "Gfs3RecallLeaseReq",
    "GfStatedump",
    "Gfs4InodelkContentionReq",
    "Gfs4EntrylkContentionReq",
    "PROGRAM",
]

GLUSTER_CBK_PROGRAM = 52743234
GLUSTER_CBK_VERSION = 1


class GfCbkProcnum(enum.IntEnum):
    GF_CBK_NULL = 0
    GF_CBK_FETCHSPEC = 1
    GF_CBK_INO_FLUSH = 2
    GF_CBK_EVENT_NOTIFY = 3
    GF_CBK_GET_SNAPS = 4
    GF_CBK_CACHE_INVALIDATION = 5
    GF_CBK_CHILD_UP = 6
    GF_CBK_CHILD_DOWN = 7
    GF_CBK_RECALL_LEASE = 8
    GF_CBK_STATEDUMP = 9
    GF_CBK_INODELK_CONTENTION = 10
    GF_CBK_ENTRYLK_CONTENTION = 11


class Gfs3CbkCacheInvalidationReq(Struct, xname="gfs3_cbk_cache_invalidation_req"):
    gfid: String = ""
    event_type: UInt = 0
    flags: UInt = 0
    expire_time_attr: UInt = 0
    stat: GfIatt = GfIatt()
    parent_stat: GfIatt = GfIatt()
    oldparent_stat: GfIatt = GfIatt()
    xdata: Opaque = b""


class Gfs3RecallLeaseReq(Struct, xname="gfs3_recall_lease_req"):
    gfid: Gfid = NULL_GFID
    lease_type: UInt = 0
    tid: Gfid = NULL_GFID
    xdata: Opaque = b""


class GfStatedump(Struct, xname="gf_statedump"):
    pid: UInt = 0


class Gfs4InodelkContentionReq(Struct, xname="gfs4_inodelk_contention_req"):
    gfid: Gfid = NULL_GFID
    flock: GfProtoFlock = GfProtoFlock()
    pid: UInt = 0
    domain: String = ""
    xdata: Opaque = b""


class Gfs4EntrylkContentionReq(Struct, xname="gfs4_entrylk_contention_req"):
    gfid: Gfid = NULL_GFID
    type: UInt = 0
    pid: UInt = 0
    name: String = ""
    domain: String = ""
    xdata: Opaque = b""


PROGRAM = register(
    Program(
        "GlusterFS Callback",
        GLUSTER_CBK_PROGRAM,
        GLUSTER_CBK_VERSION,
        procedures(
            Procedure(0, "NULL", one_way=True),
            Procedure(1, "FETCHSPEC", one_way=True),
            Procedure(2, "INO_FLUSH", one_way=True),
            Procedure(3, "EVENT_NOTIFY", one_way=True),
            Procedure(4, "GET_SNAPS", one_way=True),
            Procedure(5, "CACHE_INVALIDATION", Gfs3CbkCacheInvalidationReq, one_way=True),
            Procedure(6, "CHILD_UP", one_way=True),
            Procedure(7, "CHILD_DOWN", one_way=True),
            Procedure(8, "RECALL_LEASE", Gfs3RecallLeaseReq, one_way=True),
            Procedure(9, "STATEDUMP", GfStatedump, one_way=True),
            Procedure(10, "INODELK_CONTENTION", Gfs4InodelkContentionReq, one_way=True),
            Procedure(11, "ENTRYLK_CONTENTION", Gfs4EntrylkContentionReq, one_way=True),
        ),
    )
)
