"""Handshake, program 14398633 version 2 (``rpc/xdr/src/glusterfs3-xdr.x``, old-style dicts).

glusterd serves GETSPEC, EVENT_NOTIFY, GET_VOLUME_INFO and GET_SNAPSHOT_INFO
(``glusterd-handshake.c``; on its unix socket only GETSPEC); a brick serves SETVOLUME,
GETSPEC (answered -1/ENOSYS), PING and SET_LK_VER (``server-handshake.c``).
"""

from __future__ import annotations

import enum

from .dump import GfCommonRsp
from .gfdict import OldDict
from .programs import Procedure, Program, procedures, register
from .xdr import Int, String, Struct, UInt

__all__ = [
    "GLUSTER_HNDSK_PROGRAM",
    "GLUSTER_HNDSK_VERSION",
    "GfHndskProc",
    "GfSetvolumeReq",
    "GfSetvolumeRsp",
    "GfGetspecReq",
    "GfGetspecRsp",
    "GfSetLkVerReq",
    "GfSetLkVerRsp",
    "GfEventNotifyReq",
    "GfEventNotifyRsp",
    "GfGetVolumeInfoReq",
    "GfGetVolumeInfoRsp",
    "GfGetsnapNameUuidReq",
    "GfGetsnapNameUuidRsp",
    "PROGRAM",
    "GF_GETSPEC_FLAG_SERVERS_LIST",
    "GF_GET_VOLUME_UUID",
]

GLUSTER_HNDSK_PROGRAM = 14398633
GLUSTER_HNDSK_VERSION = 2
GF_GETSPEC_FLAG_SERVERS_LIST = 1
#: gf_get_volume_info_type: the only flag, ask for the volume id.
GF_GET_VOLUME_UUID = 1


class GfHndskProc(enum.IntEnum):
    GF_HNDSK_NULL = 0
    GF_HNDSK_SETVOLUME = 1
    GF_HNDSK_GETSPEC = 2
    GF_HNDSK_PING = 3
    GF_HNDSK_SET_LK_VER = 4
    GF_HNDSK_EVENT_NOTIFY = 5
    GF_HNDSK_GET_VOLUME_INFO = 6
    GF_HNDSK_GET_SNAPSHOT_INFO = 7


class GfSetvolumeReq(Struct, xname="gf_setvolume_req"):
    dict: OldDict = None


class GfSetvolumeRsp(Struct, xname="gf_setvolume_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    dict: OldDict = None


class GfGetspecReq(Struct, xname="gf_getspec_req"):
    flags: UInt = 0
    key: String = ""
    xdata: OldDict = None


class GfGetspecRsp(Struct, xname="gf_getspec_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    spec: String = ""
    xdata: OldDict = None


class GfSetLkVerReq(Struct, xname="gf_set_lk_ver_req"):
    uid: String = ""
    lk_ver: Int = 0


class GfSetLkVerRsp(Struct, xname="gf_set_lk_ver_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    lk_ver: Int = 0


class GfEventNotifyReq(Struct, xname="gf_event_notify_req"):
    op: Int = 0
    dict: OldDict = None


class GfEventNotifyRsp(Struct, xname="gf_event_notify_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    dict: OldDict = None


class GfGetVolumeInfoReq(Struct, xname="gf_get_volume_info_req"):
    dict: OldDict = None


class GfGetVolumeInfoRsp(Struct, xname="gf_get_volume_info_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    op_errstr: String = ""
    dict: OldDict = None


class GfGetsnapNameUuidReq(Struct, xname="gf_getsnap_name_uuid_req"):
    dict: OldDict = None


class GfGetsnapNameUuidRsp(Struct, xname="gf_getsnap_name_uuid_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    op_errstr: String = ""
    dict: OldDict = None


PROGRAM = register(
    Program(
        "GlusterFS Handshake",
        GLUSTER_HNDSK_PROGRAM,
        GLUSTER_HNDSK_VERSION,
        procedures(
            Procedure(0, "NULL"),
            Procedure(1, "SETVOLUME", GfSetvolumeReq, GfSetvolumeRsp),
            Procedure(2, "GETSPEC", GfGetspecReq, GfGetspecRsp),
            Procedure(3, "PING", None, GfCommonRsp),
            Procedure(4, "SET_LK_VER", GfSetLkVerReq, GfSetLkVerRsp),
            Procedure(5, "EVENT_NOTIFY", GfEventNotifyReq, GfEventNotifyRsp),
            Procedure(6, "GET_VOLUME_INFO", GfGetVolumeInfoReq, GfGetVolumeInfoRsp),
            Procedure(7, "GET_SNAPSHOT_INFO", GfGetsnapNameUuidReq, GfGetsnapNameUuidRsp),
        ),
    )
)
