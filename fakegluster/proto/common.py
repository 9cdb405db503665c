"""Structures shared by several programs (glusterfs3-xdr.x, glusterfs4-xdr.x, rpc-common-xdr.x).

Field names and order follow the ``.x`` files of glusterfs v10.3 (``rpc/xdr/src``).
"""

from __future__ import annotations

from .xdr import Gfid, Hyper, LinkedList, Opaque, String, UHyper, UInt, xdr_struct

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
NULL_GFID = bytes(16)
#: ``ia_flags`` a real posix brick sends: every IATT_* validity bit except BTIME.
IA_FLAGS_ALL = 0x17FF

# glusterfs4-xdr.x: struct gfx_iattx (148 bytes).  All four second-fields come first,
# then the four nanosecond fields.
GfxIattx = xdr_struct(
    "gfx_iattx",
    "ia_gfid" / Gfid,
    "ia_flags" / UHyper,
    "ia_ino" / UHyper,
    "ia_dev" / UHyper,
    "ia_rdev" / UHyper,
    "ia_size" / UHyper,
    "ia_blocks" / UHyper,
    "ia_attributes" / UHyper,
    "ia_attributes_mask" / UHyper,
    "ia_atime" / Hyper,
    "ia_mtime" / Hyper,
    "ia_ctime" / Hyper,
    "ia_btime" / Hyper,
    "ia_atime_nsec" / UInt,
    "ia_mtime_nsec" / UInt,
    "ia_ctime_nsec" / UInt,
    "ia_btime_nsec" / UInt,
    "ia_nlink" / UInt,
    "ia_uid" / UInt,
    "ia_gid" / UInt,
    "ia_blksize" / UInt,
    "mode" / UInt,
    doc="``gfx_iattx``: a stat; ``mode`` carries the S_IFMT type bits.",
)

# glusterfs4-xdr.x: struct gfx_mdata_iatt
GfxMdataIatt = xdr_struct(
    "gfx_mdata_iatt",
    "ia_atime" / Hyper,
    "ia_mtime" / Hyper,
    "ia_ctime" / Hyper,
    "ia_atime_nsec" / UInt,
    "ia_mtime_nsec" / UInt,
    "ia_ctime_nsec" / UInt,
)

# glusterfs3-xdr.x: struct gf_statfs
GfStatfs = xdr_struct(
    "gf_statfs",
    "bsize" / UHyper,
    "frsize" / UHyper,
    "blocks" / UHyper,
    "bfree" / UHyper,
    "bavail" / UHyper,
    "files" / UHyper,
    "ffree" / UHyper,
    "favail" / UHyper,
    "fsid" / UHyper,
    "flag" / UHyper,
    "namemax" / UHyper,
)

# glusterfs3-xdr.x: struct gf_proto_flock
GfProtoFlock = xdr_struct(
    "gf_proto_flock",
    "type" / UInt,
    "whence" / UInt,
    "start" / UHyper,
    "len" / UHyper,
    "pid" / UInt,
    "lk_owner" / Opaque(),
)

# glusterfs3-xdr.x: struct gf_proto_lease
GfProtoLease = xdr_struct(
    "gf_proto_lease",
    "cmd" / UInt,
    "lease_type" / UInt,
    "lease_id" / Gfid,
    "lease_flags" / UInt,
)

# glusterfs3-xdr.x: struct gf_iatt (the 3.x stat; still used by the CACHE_INVALIDATION callback)
GfIatt = xdr_struct(
    "gf_iatt",
    "ia_gfid" / Gfid,
    "ia_ino" / UHyper,
    "ia_dev" / UHyper,
    "mode" / UInt,
    "ia_nlink" / UInt,
    "ia_uid" / UInt,
    "ia_gid" / UInt,
    "ia_rdev" / UHyper,
    "ia_size" / UHyper,
    "ia_blksize" / UInt,
    "ia_blocks" / UHyper,
    "ia_atime" / UInt,
    "ia_atime_nsec" / UInt,
    "ia_mtime" / UInt,
    "ia_mtime_nsec" / UInt,
    "ia_ctime" / UInt,
    "ia_ctime_nsec" / UInt,
)

# glusterfs3-xdr.x: struct gfs3_locklist (a linked list; entry without its next pointer)
Gfs3LocklistEntry = xdr_struct(
    "gfs3_locklist",
    "flock" / GfProtoFlock,
    "client_uid" / String(),
    "lk_flags" / UInt,
)
Gfs3Locklist = LinkedList(Gfs3LocklistEntry)
