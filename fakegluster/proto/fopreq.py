"""The request structures of the FOP program v400 (``rpc/xdr/src/glusterfs4-xdr.x``: ``gfx_*_req``).

Which procedure takes which is :mod:`.fops`'s table (``server4_0_*`` decoders of
``server-rpc-fops_v2.c`` in v10.3).  A WRITE (and PUT) call carries ``size`` raw bytes after
its ``gfx_write_req`` (the connection hands them over as the Call's ``payload``).
"""

from __future__ import annotations

from .common import GfProtoFlock, GfProtoLease, Gfs3Locklist, GfxIattx
from .gfdict import GfxDict
from .xdr import NULL_GFID, Gfid, Hyper, Int, String, Struct, UHyper, UInt

__all__ = [
    "GfxStatReq",
    "GfxReadlinkReq",
    "GfxMknodReq",
    "GfxMkdirReq",
    "GfxUnlinkReq",
    "GfxRmdirReq",
    "GfxSymlinkReq",
    "GfxRenameReq",
    "GfxLinkReq",
    "GfxTruncateReq",
    "GfxOpenReq",
    "GfxReadReq",
    "GfxWriteReq",
    "GfxStatfsReq",
    "GfxFlushReq",
    "GfxFsyncReq",
    "GfxSetxattrReq",
    "GfxGetxattrReq",
    "GfxRemovexattrReq",
    "GfxOpendirReq",
    "GfxFsyncdirReq",
    "GfxAccessReq",
    "GfxCreateReq",
    "GfxFtruncateReq",
    "GfxFstatReq",
    "GfxLkReq",
    "GfxLookupReq",
    "GfxReaddirReq",
    "GfxInodelkReq",
    "GfxFinodelkReq",
    "GfxEntrylkReq",
    "GfxFentrylkReq",
    "GfxXattropReq",
    "GfxFxattropReq",
    "GfxFgetxattrReq",
    "GfxFsetxattrReq",
    "GfxRchecksumReq",
    "GfxSetattrReq",
    "GfxFsetattrReq",
    "GfxReaddirpReq",
    "GfxReleaseReq",
    "GfxReleasedirReq",
    "GfxFremovexattrReq",
    "GfxFallocateReq",
    "GfxDiscardReq",
    "GfxZerofillReq",
    "GfxIpcReq",
    "GfxSeekReq",
    "GfxLeaseReq",
    "GfxGetactivelkReq",
    "GfxSetactivelkReq",
    "GfxIcreateReq",
    "GfxNamelinkReq",
    "GfxPutReq",
    "GfxCopyFileRangeReq",
]

# ---- requests --------------------------------------------------------------------------


class GfxStatReq(Struct, xname="gfx_stat_req"):
    gfid: Gfid = NULL_GFID
    xdata: GfxDict = None


class GfxReadlinkReq(Struct, xname="gfx_readlink_req"):
    gfid: Gfid = NULL_GFID
    size: UInt = 0
    xdata: GfxDict = None


class GfxMknodReq(Struct, xname="gfx_mknod_req"):
    pargfid: Gfid = NULL_GFID
    dev: UHyper = 0
    mode: UInt = 0
    umask: UInt = 0
    bname: String = ""
    xdata: GfxDict = None


class GfxMkdirReq(Struct, xname="gfx_mkdir_req"):
    pargfid: Gfid = NULL_GFID
    mode: UInt = 0
    umask: UInt = 0
    bname: String = ""
    xdata: GfxDict = None


class GfxUnlinkReq(Struct, xname="gfx_unlink_req"):
    pargfid: Gfid = NULL_GFID
    bname: String = ""
    xflags: UInt = 0
    xdata: GfxDict = None


class GfxRmdirReq(Struct, xname="gfx_rmdir_req"):
    pargfid: Gfid = NULL_GFID
    xflags: Int = 0
    bname: String = ""
    xdata: GfxDict = None


class GfxSymlinkReq(Struct, xname="gfx_symlink_req"):
    pargfid: Gfid = NULL_GFID
    bname: String = ""
    umask: UInt = 0
    linkname: String = ""
    xdata: GfxDict = None


class GfxRenameReq(Struct, xname="gfx_rename_req"):
    oldgfid: Gfid = NULL_GFID
    newgfid: Gfid = NULL_GFID
    oldbname: String = ""
    newbname: String = ""
    xdata: GfxDict = None


class GfxLinkReq(Struct, xname="gfx_link_req"):
    oldgfid: Gfid = NULL_GFID
    newgfid: Gfid = NULL_GFID
    newbname: String = ""
    xdata: GfxDict = None


class GfxTruncateReq(Struct, xname="gfx_truncate_req"):
    gfid: Gfid = NULL_GFID
    offset: UHyper = 0
    xdata: GfxDict = None


class GfxOpenReq(Struct, xname="gfx_open_req"):
    gfid: Gfid = NULL_GFID
    flags: UInt = 0
    xdata: GfxDict = None


class GfxReadReq(Struct, xname="gfx_read_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    size: UInt = 0
    flag: UInt = 0
    xdata: GfxDict = None


class GfxWriteReq(Struct, xname="gfx_write_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    size: UInt = 0
    flag: UInt = 0
    xdata: GfxDict = None


class GfxStatfsReq(Struct, xname="gfx_statfs_req"):
    gfid: Gfid = NULL_GFID
    xdata: GfxDict = None


class GfxFlushReq(Struct, xname="gfx_flush_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    xdata: GfxDict = None


class GfxFsyncReq(Struct, xname="gfx_fsync_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    data: UInt = 0
    xdata: GfxDict = None


class GfxSetxattrReq(Struct, xname="gfx_setxattr_req"):
    gfid: Gfid = NULL_GFID
    flags: UInt = 0
    dict: GfxDict = None
    xdata: GfxDict = None


class GfxGetxattrReq(Struct, xname="gfx_getxattr_req"):
    gfid: Gfid = NULL_GFID
    namelen: UInt = 0
    name: String = ""
    xdata: GfxDict = None


class GfxRemovexattrReq(Struct, xname="gfx_removexattr_req"):
    gfid: Gfid = NULL_GFID
    name: String = ""
    xdata: GfxDict = None


class GfxOpendirReq(Struct, xname="gfx_opendir_req"):
    gfid: Gfid = NULL_GFID
    xdata: GfxDict = None


class GfxFsyncdirReq(Struct, xname="gfx_fsyncdir_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    data: Int = 0
    xdata: GfxDict = None


class GfxAccessReq(Struct, xname="gfx_access_req"):
    gfid: Gfid = NULL_GFID
    mask: UInt = 0
    xdata: GfxDict = None


class GfxCreateReq(Struct, xname="gfx_create_req"):
    pargfid: Gfid = NULL_GFID
    flags: UInt = 0
    mode: UInt = 0
    umask: UInt = 0
    bname: String = ""
    xdata: GfxDict = None


class GfxFtruncateReq(Struct, xname="gfx_ftruncate_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    xdata: GfxDict = None


class GfxFstatReq(Struct, xname="gfx_fstat_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    xdata: GfxDict = None


class GfxLkReq(Struct, xname="gfx_lk_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    cmd: UInt = 0
    type: UInt = 0
    flock: GfProtoFlock = GfProtoFlock()
    xdata: GfxDict = None


class GfxLookupReq(Struct, xname="gfx_lookup_req"):
    gfid: Gfid = NULL_GFID
    pargfid: Gfid = NULL_GFID
    flags: UInt = 0
    bname: String = ""
    xdata: GfxDict = None


class GfxReaddirReq(Struct, xname="gfx_readdir_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    size: UInt = 0
    xdata: GfxDict = None


class GfxInodelkReq(Struct, xname="gfx_inodelk_req"):
    gfid: Gfid = NULL_GFID
    cmd: UInt = 0
    type: UInt = 0
    flock: GfProtoFlock = GfProtoFlock()
    volume: String = ""
    xdata: GfxDict = None


class GfxFinodelkReq(Struct, xname="gfx_finodelk_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    cmd: UInt = 0
    type: UInt = 0
    flock: GfProtoFlock = GfProtoFlock()
    volume: String = ""
    xdata: GfxDict = None


class GfxEntrylkReq(Struct, xname="gfx_entrylk_req"):
    gfid: Gfid = NULL_GFID
    cmd: UInt = 0
    type: UInt = 0
    namelen: UHyper = 0
    name: String = ""
    volume: String = ""
    xdata: GfxDict = None


class GfxFentrylkReq(Struct, xname="gfx_fentrylk_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    cmd: UInt = 0
    type: UInt = 0
    namelen: UHyper = 0
    name: String = ""
    volume: String = ""
    xdata: GfxDict = None


class GfxXattropReq(Struct, xname="gfx_xattrop_req"):
    gfid: Gfid = NULL_GFID
    flags: UInt = 0
    dict: GfxDict = None
    xdata: GfxDict = None


class GfxFxattropReq(Struct, xname="gfx_fxattrop_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    flags: UInt = 0
    dict: GfxDict = None
    xdata: GfxDict = None


class GfxFgetxattrReq(Struct, xname="gfx_fgetxattr_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    namelen: UInt = 0
    name: String = ""
    xdata: GfxDict = None


class GfxFsetxattrReq(Struct, xname="gfx_fsetxattr_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    flags: UInt = 0
    dict: GfxDict = None
    xdata: GfxDict = None


class GfxRchecksumReq(Struct, xname="gfx_rchecksum_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    len: UInt = 0
    flags: UInt = 0
    xdata: GfxDict = None


class GfxSetattrReq(Struct, xname="gfx_setattr_req"):
    gfid: Gfid = NULL_GFID
    stbuf: GfxIattx = GfxIattx()
    valid: Int = 0
    xdata: GfxDict = None


class GfxFsetattrReq(Struct, xname="gfx_fsetattr_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    stbuf: GfxIattx = GfxIattx()
    valid: Int = 0
    xdata: GfxDict = None


class GfxReaddirpReq(Struct, xname="gfx_readdirp_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    size: UInt = 0
    xdata: GfxDict = None


class GfxReleaseReq(Struct, xname="gfx_release_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    xdata: GfxDict = None


class GfxReleasedirReq(Struct, xname="gfx_releasedir_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    xdata: GfxDict = None


class GfxFremovexattrReq(Struct, xname="gfx_fremovexattr_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    name: String = ""
    xdata: GfxDict = None


class GfxFallocateReq(Struct, xname="gfx_fallocate_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    flags: UInt = 0
    offset: UHyper = 0
    size: UHyper = 0
    xdata: GfxDict = None


class GfxDiscardReq(Struct, xname="gfx_discard_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    size: UHyper = 0
    xdata: GfxDict = None


class GfxZerofillReq(Struct, xname="gfx_zerofill_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    size: UHyper = 0
    xdata: GfxDict = None


class GfxIpcReq(Struct, xname="gfx_ipc_req"):
    op: Int = 0
    xdata: GfxDict = None


class GfxSeekReq(Struct, xname="gfx_seek_req"):
    gfid: Gfid = NULL_GFID
    fd: Hyper = 0
    offset: UHyper = 0
    what: Int = 0
    xdata: GfxDict = None


class GfxLeaseReq(Struct, xname="gfx_lease_req"):
    gfid: Gfid = NULL_GFID
    lease: GfProtoLease = GfProtoLease()
    xdata: GfxDict = None


class GfxGetactivelkReq(Struct, xname="gfx_getactivelk_req"):
    gfid: Gfid = NULL_GFID
    xdata: GfxDict = None


class GfxSetactivelkReq(Struct, xname="gfx_setactivelk_req"):
    gfid: Gfid = NULL_GFID
    request: Gfs3Locklist = ()
    xdata: GfxDict = None


class GfxIcreateReq(Struct, xname="gfx_icreate_req"):
    gfid: Gfid = NULL_GFID
    mode: UInt = 0
    xdata: GfxDict = None


class GfxNamelinkReq(Struct, xname="gfx_namelink_req"):
    pargfid: Gfid = NULL_GFID
    bname: String = ""
    xdata: GfxDict = None


class GfxPutReq(Struct, xname="gfx_put_req"):
    pargfid: Gfid = NULL_GFID
    bname: String = ""
    mode: UInt = 0
    umask: UInt = 0
    flag: UInt = 0
    offset: UHyper = 0
    size: UInt = 0
    xattr: GfxDict = None
    xdata: GfxDict = None


class GfxCopyFileRangeReq(Struct, xname="gfx_copy_file_range_req"):
    gfid1: Gfid = NULL_GFID
    gfid2: Gfid = NULL_GFID
    fd_in: Hyper = 0
    fd_out: Hyper = 0
    off_in: UHyper = 0
    off_out: UHyper = 0
    size: UInt = 0
    flag: UInt = 0
    xdata: GfxDict = None
