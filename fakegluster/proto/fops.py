"""GlusterFS FOP program 1298437 version 400 ("GlusterFS 4.x v1"), ``rpc/xdr/src/glusterfs4-xdr.x``.

Procedure numbers are ``enum gf_fop_procnum`` (``GFS3_OP_*``, ``protocol-common.h``), not
the internal ``GF_FOP_*`` numbers (they part ways at 41: RELEASE).  Argument and result
types per procedure are those of ``server-rpc-fops_v2.c`` (``server4_0_*`` decoders and
``server4_*_cbk`` encoders) in v10.3.

Bulk data is not in the schemas: a WRITE (and PUT) call carries ``size`` raw bytes after
``gfx_write_req``; a READ reply carries ``op_ret`` raw bytes after ``gfx_read_rsp``.  The
connection hands them over as ``payload``.

COMPOUND (49) has no 4.x type; the v10.3 brick answers it with GARBAGE_ARGS.  PUT (55) has
a type but no actor in the brick's table (PROC_UNAVAIL there); it is decoded anyway.
"""

from __future__ import annotations

import enum

from .common import GfProtoFlock, GfProtoLease, Gfs3Locklist, GfStatfs, GfxIattx
from .gfdict import GfxDict
from .programs import UNDECODABLE, Procedure, Program, procedures, register
from .xdr import Gfid, Hyper, Int, LinkedList, Opaque, String, UHyper, UInt, xdr_struct

GLUSTER_FOP_PROGRAM = 1298437
GLUSTER_FOP_VERSION_v2 = 400
GLUSTER_FOP_VERSION = 330  # the 3.3 program, not implemented here
GF_ANON_FD_NO = -2


class GfFop(enum.IntEnum):
    """``enum gf_fop_procnum``: the RPC procedure numbers of the FOP program."""

    NULL = 0
    STAT = 1
    READLINK = 2
    MKNOD = 3
    MKDIR = 4
    UNLINK = 5
    RMDIR = 6
    SYMLINK = 7
    RENAME = 8
    LINK = 9
    TRUNCATE = 10
    OPEN = 11
    READ = 12
    WRITE = 13
    STATFS = 14
    FLUSH = 15
    FSYNC = 16
    SETXATTR = 17
    GETXATTR = 18
    REMOVEXATTR = 19
    OPENDIR = 20
    FSYNCDIR = 21
    ACCESS = 22
    CREATE = 23
    FTRUNCATE = 24
    FSTAT = 25
    LK = 26
    LOOKUP = 27
    READDIR = 28
    INODELK = 29
    FINODELK = 30
    ENTRYLK = 31
    FENTRYLK = 32
    XATTROP = 33
    FXATTROP = 34
    FGETXATTR = 35
    FSETXATTR = 36
    RCHECKSUM = 37
    SETATTR = 38
    FSETATTR = 39
    READDIRP = 40
    RELEASE = 41
    RELEASEDIR = 42
    FREMOVEXATTR = 43
    FALLOCATE = 44
    DISCARD = 45
    ZEROFILL = 46
    IPC = 47
    SEEK = 48
    COMPOUND = 49
    LEASE = 50
    GETACTIVELK = 51
    SETACTIVELK = 52
    ICREATE = 53
    NAMELINK = 54
    PUT = 55
    COPY_FILE_RANGE = 56


S = xdr_struct
X = "xdata" / GfxDict  # every 4.x structure ends (or nearly ends) with its xdata

# ---- replies ---------------------------------------------------------------------------
GfxCommonRsp = S("gfx_common_rsp", "op_ret" / Int, "op_errno" / Int, X)
GfxCommonIattRsp = S("gfx_common_iatt_rsp", "op_ret" / Int, "op_errno" / Int, X, "stat" / GfxIattx)
GfxCommon2iattRsp = S(
    "gfx_common_2iatt_rsp", "op_ret" / Int, "op_errno" / Int, X, "prestat" / GfxIattx, "poststat" / GfxIattx
)
GfxCommon3iattRsp = S(
    "gfx_common_3iatt_rsp",
    "op_ret" / Int,
    "op_errno" / Int,
    X,
    "stat" / GfxIattx,
    "preparent" / GfxIattx,
    "postparent" / GfxIattx,
)
GfxCommonDictRsp = S(
    "gfx_common_dict_rsp",
    "op_ret" / Int,
    "op_errno" / Int,
    X,
    "dict" / GfxDict,
    "prestat" / GfxIattx,
    "poststat" / GfxIattx,
)
GfxReadlinkRsp = S("gfx_readlink_rsp", "op_ret" / Int, "op_errno" / Int, X, "buf" / GfxIattx, "path" / String())
GfxRenameRsp = S(
    "gfx_rename_rsp",
    "op_ret" / Int,
    "op_errno" / Int,
    X,
    "stat" / GfxIattx,
    "preoldparent" / GfxIattx,
    "postoldparent" / GfxIattx,
    "prenewparent" / GfxIattx,
    "postnewparent" / GfxIattx,
)
GfxOpenRsp = S("gfx_open_rsp", "op_ret" / Int, "op_errno" / Int, X, "fd" / Hyper)
GfxReadRsp = S("gfx_read_rsp", "op_ret" / Int, "op_errno" / Int, "stat" / GfxIattx, "size" / UInt, X)
GfxStatfsRsp = S("gfx_statfs_rsp", "op_ret" / Int, "op_errno" / Int, X, "statfs" / GfStatfs)
GfxLkRsp = S("gfx_lk_rsp", "op_ret" / Int, "op_errno" / Int, X, "flock" / GfProtoFlock)
GfxLeaseRsp = S("gfx_lease_rsp", "op_ret" / Int, "op_errno" / Int, X, "lease" / GfProtoLease)
GfxCreateRsp = S(
    "gfx_create_rsp",
    "op_ret" / Int,
    "op_errno" / Int,
    X,
    "stat" / GfxIattx,
    "fd" / UHyper,
    "preparent" / GfxIattx,
    "postparent" / GfxIattx,
)
GfxRchecksumRsp = S(
    "gfx_rchecksum_rsp",
    "op_ret" / Int,
    "op_errno" / Int,
    X,
    "flags" / UInt,
    "weak_checksum" / UInt,
    "strong_checksum" / Opaque(),
)
GfxSeekRsp = S("gfx_seek_rsp", "op_ret" / Int, "op_errno" / Int, X, "offset" / UHyper)
GfxDirlist = S(
    "gfx_dirlist",
    "d_ino" / UHyper,
    "d_off" / UHyper,
    "d_len" / UInt,
    "d_type" / UInt,
    "name" / String(),
    doc="One ``gfx_dirlist`` entry (its ``nextentry`` pointer is the list structure).",
)
GfxReaddirRsp = S("gfx_readdir_rsp", "op_ret" / Int, "op_errno" / Int, X, "reply" / LinkedList(GfxDirlist))
GfxDirplist = S(
    "gfx_dirplist",
    "d_ino" / UHyper,
    "d_off" / UHyper,
    "d_len" / UInt,
    "d_type" / UInt,
    "name" / String(),
    "stat" / GfxIattx,
    "dict" / GfxDict,
    doc="One ``gfx_dirplist`` entry (its ``nextentry`` pointer is the list structure).",
)
GfxReaddirpRsp = S("gfx_readdirp_rsp", "op_ret" / Int, "op_errno" / Int, X, "reply" / LinkedList(GfxDirplist))
GfxGetactivelkRsp = S("gfx_getactivelk_rsp", "op_ret" / Int, "op_errno" / Int, X, "reply" / Gfs3Locklist)

# ---- requests --------------------------------------------------------------------------
GfxStatReq = S("gfx_stat_req", "gfid" / Gfid, X)
GfxReadlinkReq = S("gfx_readlink_req", "gfid" / Gfid, "size" / UInt, X)
GfxMknodReq = S("gfx_mknod_req", "pargfid" / Gfid, "dev" / UHyper, "mode" / UInt, "umask" / UInt, "bname" / String(), X)
GfxMkdirReq = S("gfx_mkdir_req", "pargfid" / Gfid, "mode" / UInt, "umask" / UInt, "bname" / String(), X)
GfxUnlinkReq = S("gfx_unlink_req", "pargfid" / Gfid, "bname" / String(), "xflags" / UInt, X)
GfxRmdirReq = S("gfx_rmdir_req", "pargfid" / Gfid, "xflags" / Int, "bname" / String(), X)
GfxSymlinkReq = S("gfx_symlink_req", "pargfid" / Gfid, "bname" / String(), "umask" / UInt, "linkname" / String(), X)
GfxRenameReq = S("gfx_rename_req", "oldgfid" / Gfid, "newgfid" / Gfid, "oldbname" / String(), "newbname" / String(), X)
GfxLinkReq = S("gfx_link_req", "oldgfid" / Gfid, "newgfid" / Gfid, "newbname" / String(), X)
GfxTruncateReq = S("gfx_truncate_req", "gfid" / Gfid, "offset" / UHyper, X)
GfxOpenReq = S("gfx_open_req", "gfid" / Gfid, "flags" / UInt, X)
GfxReadReq = S("gfx_read_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "size" / UInt, "flag" / UInt, X)
GfxWriteReq = S("gfx_write_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "size" / UInt, "flag" / UInt, X)
GfxStatfsReq = S("gfx_statfs_req", "gfid" / Gfid, X)
GfxFlushReq = S("gfx_flush_req", "gfid" / Gfid, "fd" / Hyper, X)
GfxFsyncReq = S("gfx_fsync_req", "gfid" / Gfid, "fd" / Hyper, "data" / UInt, X)
GfxSetxattrReq = S("gfx_setxattr_req", "gfid" / Gfid, "flags" / UInt, "dict" / GfxDict, X)
GfxGetxattrReq = S("gfx_getxattr_req", "gfid" / Gfid, "namelen" / UInt, "name" / String(), X)
GfxRemovexattrReq = S("gfx_removexattr_req", "gfid" / Gfid, "name" / String(), X)
GfxOpendirReq = S("gfx_opendir_req", "gfid" / Gfid, X)
GfxFsyncdirReq = S("gfx_fsyncdir_req", "gfid" / Gfid, "fd" / Hyper, "data" / Int, X)
GfxAccessReq = S("gfx_access_req", "gfid" / Gfid, "mask" / UInt, X)
GfxCreateReq = S(
    "gfx_create_req", "pargfid" / Gfid, "flags" / UInt, "mode" / UInt, "umask" / UInt, "bname" / String(), X
)
GfxFtruncateReq = S("gfx_ftruncate_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, X)
GfxFstatReq = S("gfx_fstat_req", "gfid" / Gfid, "fd" / Hyper, X)
GfxLkReq = S("gfx_lk_req", "gfid" / Gfid, "fd" / Hyper, "cmd" / UInt, "type" / UInt, "flock" / GfProtoFlock, X)
GfxLookupReq = S("gfx_lookup_req", "gfid" / Gfid, "pargfid" / Gfid, "flags" / UInt, "bname" / String(), X)
GfxReaddirReq = S("gfx_readdir_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "size" / UInt, X)
GfxInodelkReq = S(
    "gfx_inodelk_req",
    "gfid" / Gfid,
    "cmd" / UInt,
    "type" / UInt,
    "flock" / GfProtoFlock,
    "volume" / String(),
    X,
)
GfxFinodelkReq = S(
    "gfx_finodelk_req",
    "gfid" / Gfid,
    "fd" / Hyper,
    "cmd" / UInt,
    "type" / UInt,
    "flock" / GfProtoFlock,
    "volume" / String(),
    X,
)
GfxEntrylkReq = S(
    "gfx_entrylk_req",
    "gfid" / Gfid,
    "cmd" / UInt,
    "type" / UInt,
    "namelen" / UHyper,
    "name" / String(),
    "volume" / String(),
    X,
)
GfxFentrylkReq = S(
    "gfx_fentrylk_req",
    "gfid" / Gfid,
    "fd" / Hyper,
    "cmd" / UInt,
    "type" / UInt,
    "namelen" / UHyper,
    "name" / String(),
    "volume" / String(),
    X,
)
GfxXattropReq = S("gfx_xattrop_req", "gfid" / Gfid, "flags" / UInt, "dict" / GfxDict, X)
GfxFxattropReq = S("gfx_fxattrop_req", "gfid" / Gfid, "fd" / Hyper, "flags" / UInt, "dict" / GfxDict, X)
GfxFgetxattrReq = S("gfx_fgetxattr_req", "gfid" / Gfid, "fd" / Hyper, "namelen" / UInt, "name" / String(), X)
GfxFsetxattrReq = S("gfx_fsetxattr_req", "gfid" / Gfid, "fd" / Hyper, "flags" / UInt, "dict" / GfxDict, X)
GfxRchecksumReq = S(
    "gfx_rchecksum_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "len" / UInt, "flags" / UInt, X
)
GfxSetattrReq = S("gfx_setattr_req", "gfid" / Gfid, "stbuf" / GfxIattx, "valid" / Int, X)
GfxFsetattrReq = S("gfx_fsetattr_req", "gfid" / Gfid, "fd" / Hyper, "stbuf" / GfxIattx, "valid" / Int, X)
GfxReaddirpReq = S("gfx_readdirp_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "size" / UInt, X)
GfxReleaseReq = S("gfx_release_req", "gfid" / Gfid, "fd" / Hyper, X)
GfxReleasedirReq = S("gfx_releasedir_req", "gfid" / Gfid, "fd" / Hyper, X)
GfxFremovexattrReq = S("gfx_fremovexattr_req", "gfid" / Gfid, "fd" / Hyper, "name" / String(), X)
GfxFallocateReq = S(
    "gfx_fallocate_req", "gfid" / Gfid, "fd" / Hyper, "flags" / UInt, "offset" / UHyper, "size" / UHyper, X
)
GfxDiscardReq = S("gfx_discard_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "size" / UHyper, X)
GfxZerofillReq = S("gfx_zerofill_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "size" / UHyper, X)
GfxIpcReq = S("gfx_ipc_req", "op" / Int, X)
GfxSeekReq = S("gfx_seek_req", "gfid" / Gfid, "fd" / Hyper, "offset" / UHyper, "what" / Int, X)
GfxLeaseReq = S("gfx_lease_req", "gfid" / Gfid, "lease" / GfProtoLease, X)
GfxGetactivelkReq = S("gfx_getactivelk_req", "gfid" / Gfid, X)
GfxSetactivelkReq = S("gfx_setactivelk_req", "gfid" / Gfid, "request" / Gfs3Locklist, X)
GfxIcreateReq = S("gfx_icreate_req", "gfid" / Gfid, "mode" / UInt, X)
GfxNamelinkReq = S("gfx_namelink_req", "pargfid" / Gfid, "bname" / String(), X)
GfxPutReq = S(
    "gfx_put_req",
    "pargfid" / Gfid,
    "bname" / String(),
    "mode" / UInt,
    "umask" / UInt,
    "flag" / UInt,
    "offset" / UHyper,
    "size" / UInt,
    "xattr" / GfxDict,
    X,
)
GfxCopyFileRangeReq = S(
    "gfx_copy_file_range_req",
    "gfid1" / Gfid,
    "gfid2" / Gfid,
    "fd_in" / Hyper,
    "fd_out" / Hyper,
    "off_in" / UHyper,
    "off_out" / UHyper,
    "size" / UInt,
    "flag" / UInt,
    X,
)

# Structures in glusterfs4-xdr.x that no 10.3 FOP procedure carries, kept for completeness.
GfxRecallLeaseReq = S("gfx_recall_lease_req", "gfid" / Gfid, "lease_type" / UInt, "tid" / Gfid, X)
GfxSetLkVerReq = S("gfx_set_lk_ver_req", "uid" / String(), "lk_ver" / Int)
GfxSetLkVerRsp = S("gfx_set_lk_ver_rsp", "op_ret" / Int, "op_errno" / Int, X, "lk_ver" / Int)
GfxSetvolumeReq = S("gfx_setvolume_req", "dict" / GfxDict)
GfxSetvolumeRsp = S("gfx_setvolume_rsp", "op_ret" / Int, "op_errno" / Int, "dict" / GfxDict)
GfxGetspecReq = S("gfx_getspec_req", "flags" / UInt, "key" / String(), X)
GfxGetspecRsp = S("gfx_getspec_rsp", "op_ret" / Int, "op_errno" / Int, "spec" / String(), X)
GfxNotifyReq = S("gfx_notify_req", "flags" / UInt, "buf" / String(), X)
GfxNotifyRsp = S("gfx_notify_rsp", "op_ret" / Int, "op_errno" / Int, "flags" / UInt, "buf" / String(), X)
GfxEventNotifyReq = S("gfx_event_notify_req", "op" / Int, "dict" / GfxDict)
GfxGetsnapNameUuidReq = S("gfx_getsnap_name_uuid_req", "dict" / GfxDict)
GfxGetsnapNameUuidRsp = S(
    "gfx_getsnap_name_uuid_rsp", "op_ret" / Int, "op_errno" / Int, "dict" / GfxDict, "op_errstr" / String()
)

P = Procedure
PROGRAM = register(
    Program(
        "GlusterFS 4.x v1",
        GLUSTER_FOP_PROGRAM,
        GLUSTER_FOP_VERSION_v2,
        procedures(
            P(0, "NULL"),
            P(1, "STAT", GfxStatReq, GfxCommonIattRsp),
            P(2, "READLINK", GfxReadlinkReq, GfxReadlinkRsp),
            P(3, "MKNOD", GfxMknodReq, GfxCommon3iattRsp),
            P(4, "MKDIR", GfxMkdirReq, GfxCommon3iattRsp),
            P(5, "UNLINK", GfxUnlinkReq, GfxCommon2iattRsp),
            P(6, "RMDIR", GfxRmdirReq, GfxCommon2iattRsp),
            P(7, "SYMLINK", GfxSymlinkReq, GfxCommon3iattRsp),
            P(8, "RENAME", GfxRenameReq, GfxRenameRsp),
            P(9, "LINK", GfxLinkReq, GfxCommon3iattRsp),
            P(10, "TRUNCATE", GfxTruncateReq, GfxCommon2iattRsp),
            P(11, "OPEN", GfxOpenReq, GfxOpenRsp),
            P(12, "READ", GfxReadReq, GfxReadRsp, reply_payload=True),
            P(13, "WRITE", GfxWriteReq, GfxCommon2iattRsp, args_payload=True),
            P(14, "STATFS", GfxStatfsReq, GfxStatfsRsp),
            P(15, "FLUSH", GfxFlushReq, GfxCommonRsp),
            P(16, "FSYNC", GfxFsyncReq, GfxCommon2iattRsp),
            P(17, "SETXATTR", GfxSetxattrReq, GfxCommonRsp),
            P(18, "GETXATTR", GfxGetxattrReq, GfxCommonDictRsp),
            P(19, "REMOVEXATTR", GfxRemovexattrReq, GfxCommonRsp),
            P(20, "OPENDIR", GfxOpendirReq, GfxOpenRsp),
            P(21, "FSYNCDIR", GfxFsyncdirReq, GfxCommonRsp),
            P(22, "ACCESS", GfxAccessReq, GfxCommonRsp),
            P(23, "CREATE", GfxCreateReq, GfxCreateRsp),
            P(24, "FTRUNCATE", GfxFtruncateReq, GfxCommon2iattRsp),
            P(25, "FSTAT", GfxFstatReq, GfxCommonIattRsp),
            P(26, "LK", GfxLkReq, GfxLkRsp),
            P(27, "LOOKUP", GfxLookupReq, GfxCommon2iattRsp),
            P(28, "READDIR", GfxReaddirReq, GfxReaddirRsp),
            P(29, "INODELK", GfxInodelkReq, GfxCommonRsp),
            P(30, "FINODELK", GfxFinodelkReq, GfxCommonRsp),
            P(31, "ENTRYLK", GfxEntrylkReq, GfxCommonRsp),
            P(32, "FENTRYLK", GfxFentrylkReq, GfxCommonRsp),
            P(33, "XATTROP", GfxXattropReq, GfxCommonDictRsp),
            P(34, "FXATTROP", GfxFxattropReq, GfxCommonDictRsp),
            P(35, "FGETXATTR", GfxFgetxattrReq, GfxCommonDictRsp),
            P(36, "FSETXATTR", GfxFsetxattrReq, GfxCommonRsp),
            P(37, "RCHECKSUM", GfxRchecksumReq, GfxRchecksumRsp),
            P(38, "SETATTR", GfxSetattrReq, GfxCommon2iattRsp),
            P(39, "FSETATTR", GfxFsetattrReq, GfxCommon2iattRsp),
            P(40, "READDIRP", GfxReaddirpReq, GfxReaddirpRsp),
            P(41, "RELEASE", GfxReleaseReq, GfxCommonRsp),
            P(42, "RELEASEDIR", GfxReleasedirReq, GfxCommonRsp),
            P(43, "FREMOVEXATTR", GfxFremovexattrReq, GfxCommonRsp),
            P(44, "FALLOCATE", GfxFallocateReq, GfxCommon2iattRsp),
            P(45, "DISCARD", GfxDiscardReq, GfxCommon2iattRsp),
            P(46, "ZEROFILL", GfxZerofillReq, GfxCommon2iattRsp),
            P(47, "IPC", GfxIpcReq, GfxCommonRsp),
            P(48, "SEEK", GfxSeekReq, GfxSeekRsp),
            P(49, "COMPOUND", UNDECODABLE, GfxCommonRsp),
            P(50, "LEASE", GfxLeaseReq, GfxLeaseRsp),
            P(51, "GETACTIVELK", GfxGetactivelkReq, GfxGetactivelkRsp),
            P(52, "SETACTIVELK", GfxSetactivelkReq, GfxCommonRsp),
            P(53, "ICREATE", GfxIcreateReq, GfxCommonIattRsp),
            P(54, "NAMELINK", GfxNamelinkReq, GfxCommon2iattRsp),
            P(55, "PUT", GfxPutReq, GfxCommon3iattRsp, args_payload=True),
            P(56, "COPY_FILE_RANGE", GfxCopyFileRangeReq, GfxCommon3iattRsp),
        ),
    )
)

#: What a v10.3 brick serves: every procedure but PUT (no actor in glusterfs4_0_fop_actors).
BRICK_PROGRAM = PROGRAM.only([p.name for p in PROGRAM.procs.values() if p.name != "PUT"])

__all__ = [name for name in list(globals()) if name.startswith(("Gfx", "GfFop", "GLUSTER_", "GF_"))] + [
    "PROGRAM",
    "BRICK_PROGRAM",
]
