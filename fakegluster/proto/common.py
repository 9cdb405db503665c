"""Structures shared by several programs (glusterfs3-xdr.x, glusterfs4-xdr.x, rpc-common-xdr.x).

Field names and order follow the ``.x`` files of glusterfs v10.3 (``rpc/xdr/src``).
"""

from __future__ import annotations

from typing import Annotated

from .xdr import NULL_GFID, Gfid, Hyper, LinkedList, Opaque, String, Struct, UHyper, UInt

__all__ = [
    "GfxIattx",
    "GfxMdataIatt",
    "GfStatfs",
    "GfProtoFlock",
    "GfProtoLease",
    "GfIatt",
    "Gfs3Locklist",
    "Gfs3LocklistEntry",
    "IA_FLAGS_ALL",
    "ROOT_GFID",
    "NULL_GFID",
]

ROOT_GFID = bytes(15) + b"\x01"
#: ``ia_flags`` a real posix brick sends: every IATT_* validity bit except BTIME.
IA_FLAGS_ALL = 0x17FF

# glusterfs4-xdr.x: struct gfx_iattx (148 bytes).  All four second-fields come first,
# then the four nanosecond fields.


class GfxIattx(Struct, xname="gfx_iattx"):
    """``gfx_iattx``: a stat; ``mode`` carries the S_IFMT type bits."""

    ia_gfid: Gfid = NULL_GFID
    ia_flags: UHyper = 0
    ia_ino: UHyper = 0
    ia_dev: UHyper = 0
    ia_rdev: UHyper = 0
    ia_size: UHyper = 0
    ia_blocks: UHyper = 0
    ia_attributes: UHyper = 0
    ia_attributes_mask: UHyper = 0
    ia_atime: Hyper = 0
    ia_mtime: Hyper = 0
    ia_ctime: Hyper = 0
    ia_btime: Hyper = 0
    ia_atime_nsec: UInt = 0
    ia_mtime_nsec: UInt = 0
    ia_ctime_nsec: UInt = 0
    ia_btime_nsec: UInt = 0
    ia_nlink: UInt = 0
    ia_uid: UInt = 0
    ia_gid: UInt = 0
    ia_blksize: UInt = 0
    mode: UInt = 0


# glusterfs4-xdr.x: struct gfx_mdata_iatt


class GfxMdataIatt(Struct, xname="gfx_mdata_iatt"):
    ia_atime: Hyper = 0
    ia_mtime: Hyper = 0
    ia_ctime: Hyper = 0
    ia_atime_nsec: UInt = 0
    ia_mtime_nsec: UInt = 0
    ia_ctime_nsec: UInt = 0


# glusterfs3-xdr.x: struct gf_statfs


class GfStatfs(Struct, xname="gf_statfs"):
    bsize: UHyper = 0
    frsize: UHyper = 0
    blocks: UHyper = 0
    bfree: UHyper = 0
    bavail: UHyper = 0
    files: UHyper = 0
    ffree: UHyper = 0
    favail: UHyper = 0
    fsid: UHyper = 0
    flag: UHyper = 0
    namemax: UHyper = 0


# glusterfs3-xdr.x: struct gf_proto_flock


class GfProtoFlock(Struct, xname="gf_proto_flock"):
    type: UInt = 0
    whence: UInt = 0
    start: UHyper = 0
    len: UHyper = 0
    pid: UInt = 0
    lk_owner: Opaque = b""


# glusterfs3-xdr.x: struct gf_proto_lease


class GfProtoLease(Struct, xname="gf_proto_lease"):
    cmd: UInt = 0
    lease_type: UInt = 0
    lease_id: Gfid = NULL_GFID
    lease_flags: UInt = 0


# glusterfs3-xdr.x: struct gf_iatt (the 3.x stat; still used by the CACHE_INVALIDATION callback)


class GfIatt(Struct, xname="gf_iatt"):
    ia_gfid: Gfid = NULL_GFID
    ia_ino: UHyper = 0
    ia_dev: UHyper = 0
    mode: UInt = 0
    ia_nlink: UInt = 0
    ia_uid: UInt = 0
    ia_gid: UInt = 0
    ia_rdev: UHyper = 0
    ia_size: UHyper = 0
    ia_blksize: UInt = 0
    ia_blocks: UHyper = 0
    ia_atime: UInt = 0
    ia_atime_nsec: UInt = 0
    ia_mtime: UInt = 0
    ia_mtime_nsec: UInt = 0
    ia_ctime: UInt = 0
    ia_ctime_nsec: UInt = 0


# glusterfs3-xdr.x: struct gfs3_locklist (a linked list; entry without its next pointer)


class Gfs3LocklistEntry(Struct, xname="gfs3_locklist"):
    flock: GfProtoFlock = GfProtoFlock()
    client_uid: String = ""
    lk_flags: UInt = 0


#: ``gfs3_locklist *``: the entries of a lock list, as a tuple.
Gfs3Locklist = Annotated[tuple[Gfs3LocklistEntry, ...], LinkedList(Gfs3LocklistEntry)]
