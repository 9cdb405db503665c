"""The reply structures of the FOP program v400 (``rpc/xdr/src/glusterfs4-xdr.x``: ``gfx_*_rsp``
and the directory entries), and the glusterfs4-xdr.x structures no 10.3 FOP carries.

Which procedure answers with which is :mod:`.fops`'s table (``server4_*_cbk`` encoders of
``server-rpc-fops_v2.c`` in v10.3).  Every 4.x structure ends, or nearly ends, with its
``xdata``.
"""

from __future__ import annotations

from typing import Annotated

from .common import GfProtoFlock, GfProtoLease, Gfs3Locklist, GfStatfs, GfxIattx
from .gfdict import GfxDict
from .xdr import NULL_GFID, Gfid, Hyper, Int, LinkedList, Opaque, String, Struct, UHyper, UInt

__all__ = [
    "GfxCommonRsp",
    "GfxCommonIattRsp",
    "GfxCommon2iattRsp",
    "GfxCommon3iattRsp",
    "GfxCommonDictRsp",
    "GfxReadlinkRsp",
    "GfxRenameRsp",
    "GfxOpenRsp",
    "GfxReadRsp",
    "GfxStatfsRsp",
    "GfxLkRsp",
    "GfxLeaseRsp",
    "GfxCreateRsp",
    "GfxRchecksumRsp",
    "GfxSeekRsp",
    "GfxDirlist",
    "GfxReaddirRsp",
    "GfxDirplist",
    "GfxReaddirpRsp",
    "GfxGetactivelkRsp",
    "GfxRecallLeaseReq",
    "GfxSetLkVerReq",
    "GfxSetLkVerRsp",
    "GfxSetvolumeReq",
    "GfxSetvolumeRsp",
    "GfxGetspecReq",
    "GfxGetspecRsp",
    "GfxNotifyReq",
    "GfxNotifyRsp",
    "GfxEventNotifyReq",
    "GfxGetsnapNameUuidReq",
    "GfxGetsnapNameUuidRsp",
]

# ---- replies ---------------------------------------------------------------------------


class GfxCommonRsp(Struct, xname="gfx_common_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None


class GfxCommonIattRsp(Struct, xname="gfx_common_iatt_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    stat: GfxIattx = GfxIattx()


class GfxCommon2iattRsp(Struct, xname="gfx_common_2iatt_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    prestat: GfxIattx = GfxIattx()
    poststat: GfxIattx = GfxIattx()


class GfxCommon3iattRsp(Struct, xname="gfx_common_3iatt_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    stat: GfxIattx = GfxIattx()
    preparent: GfxIattx = GfxIattx()
    postparent: GfxIattx = GfxIattx()


class GfxCommonDictRsp(Struct, xname="gfx_common_dict_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    dict: GfxDict = None
    prestat: GfxIattx = GfxIattx()
    poststat: GfxIattx = GfxIattx()


class GfxReadlinkRsp(Struct, xname="gfx_readlink_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    buf: GfxIattx = GfxIattx()
    path: String = ""


class GfxRenameRsp(Struct, xname="gfx_rename_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    stat: GfxIattx = GfxIattx()
    preoldparent: GfxIattx = GfxIattx()
    postoldparent: GfxIattx = GfxIattx()
    prenewparent: GfxIattx = GfxIattx()
    postnewparent: GfxIattx = GfxIattx()


class GfxOpenRsp(Struct, xname="gfx_open_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    fd: Hyper = 0


class GfxReadRsp(Struct, xname="gfx_read_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    stat: GfxIattx = GfxIattx()
    size: UInt = 0
    xdata: GfxDict = None


class GfxStatfsRsp(Struct, xname="gfx_statfs_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    statfs: GfStatfs = GfStatfs()


class GfxLkRsp(Struct, xname="gfx_lk_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    flock: GfProtoFlock = GfProtoFlock()


class GfxLeaseRsp(Struct, xname="gfx_lease_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    lease: GfProtoLease = GfProtoLease()


class GfxCreateRsp(Struct, xname="gfx_create_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    stat: GfxIattx = GfxIattx()
    fd: UHyper = 0
    preparent: GfxIattx = GfxIattx()
    postparent: GfxIattx = GfxIattx()


class GfxRchecksumRsp(Struct, xname="gfx_rchecksum_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    flags: UInt = 0
    weak_checksum: UInt = 0
    strong_checksum: Opaque = b""


class GfxSeekRsp(Struct, xname="gfx_seek_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    offset: UHyper = 0


class GfxDirlist(Struct, xname="gfx_dirlist"):
    """One ``gfx_dirlist`` entry (its ``nextentry`` pointer is the list structure)."""

    d_ino: UHyper = 0
    d_off: UHyper = 0
    d_len: UInt = 0
    d_type: UInt = 0
    name: String = ""


class GfxReaddirRsp(Struct, xname="gfx_readdir_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    reply: Annotated[tuple[GfxDirlist, ...], LinkedList(GfxDirlist)] = ()


class GfxDirplist(Struct, xname="gfx_dirplist"):
    """One ``gfx_dirplist`` entry (its ``nextentry`` pointer is the list structure)."""

    d_ino: UHyper = 0
    d_off: UHyper = 0
    d_len: UInt = 0
    d_type: UInt = 0
    name: String = ""
    stat: GfxIattx = GfxIattx()
    dict: GfxDict = None


class GfxReaddirpRsp(Struct, xname="gfx_readdirp_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    reply: Annotated[tuple[GfxDirplist, ...], LinkedList(GfxDirplist)] = ()


class GfxGetactivelkRsp(Struct, xname="gfx_getactivelk_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    reply: Gfs3Locklist = ()


# Structures in glusterfs4-xdr.x that no 10.3 FOP procedure carries, kept for completeness.


class GfxRecallLeaseReq(Struct, xname="gfx_recall_lease_req"):
    gfid: Gfid = NULL_GFID
    lease_type: UInt = 0
    tid: Gfid = NULL_GFID
    xdata: GfxDict = None


class GfxSetLkVerReq(Struct, xname="gfx_set_lk_ver_req"):
    uid: String = ""
    lk_ver: Int = 0


class GfxSetLkVerRsp(Struct, xname="gfx_set_lk_ver_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: GfxDict = None
    lk_ver: Int = 0


class GfxSetvolumeReq(Struct, xname="gfx_setvolume_req"):
    dict: GfxDict = None


class GfxSetvolumeRsp(Struct, xname="gfx_setvolume_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    dict: GfxDict = None


class GfxGetspecReq(Struct, xname="gfx_getspec_req"):
    flags: UInt = 0
    key: String = ""
    xdata: GfxDict = None


class GfxGetspecRsp(Struct, xname="gfx_getspec_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    spec: String = ""
    xdata: GfxDict = None


class GfxNotifyReq(Struct, xname="gfx_notify_req"):
    flags: UInt = 0
    buf: String = ""
    xdata: GfxDict = None


class GfxNotifyRsp(Struct, xname="gfx_notify_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    flags: UInt = 0
    buf: String = ""
    xdata: GfxDict = None


class GfxEventNotifyReq(Struct, xname="gfx_event_notify_req"):
    op: Int = 0
    dict: GfxDict = None


class GfxGetsnapNameUuidReq(Struct, xname="gfx_getsnap_name_uuid_req"):
    dict: GfxDict = None


class GfxGetsnapNameUuidRsp(Struct, xname="gfx_getsnap_name_uuid_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    dict: GfxDict = None
    op_errstr: String = ""
