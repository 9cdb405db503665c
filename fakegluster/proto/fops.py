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

from . import fopreq, foprsp
from .fopreq import *  # noqa: F403 (fops re-exports every FOP structure)
from .foprsp import *  # noqa: F403
from .programs import UNDECODABLE, Procedure, Program, procedures, register

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

__all__ = [
    *fopreq.__all__,
    *foprsp.__all__,
    "GfFop",
    "GLUSTER_FOP_PROGRAM",
    "GLUSTER_FOP_VERSION_v2",
    "GLUSTER_FOP_VERSION",
    "GF_ANON_FD_NO",
    "PROGRAM",
    "BRICK_PROGRAM",
]
