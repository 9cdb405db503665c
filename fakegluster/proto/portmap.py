"""Gluster Portmap, program 34123456 version 1 (``rpc/xdr/src/portmap-xdr.x``), glusterd only.

PORTBYBRICK maps a brick path (``remote-subvolume``) to its TCP port; bricks SIGNIN and
SIGNOUT.  SIGNUP (3) is obsolete: glusterd 10.x has no actor for it (PROC_UNAVAIL).
"""

from __future__ import annotations

import enum

from .programs import Procedure, Program, procedures, register
from .xdr import Int, String, xdr_struct

__all__ = [
    "GLUSTER_PMAP_PROGRAM",
    "GLUSTER_PMAP_VERSION",
    "GfPmapProc",
    "PmapPortByBrickReq",
    "PmapPortByBrickRsp",
    "PmapBrickByPortReq",
    "PmapBrickByPortRsp",
    "PmapSigninReq",
    "PmapSigninRsp",
    "PmapSignoutReq",
    "PmapSignoutRsp",
    "PROGRAM",
]

GLUSTER_PMAP_PROGRAM = 34123456
GLUSTER_PMAP_VERSION = 1


class GfPmapProc(enum.IntEnum):
    GF_PMAP_NULL = 0
    GF_PMAP_PORTBYBRICK = 1
    GF_PMAP_BRICKBYPORT = 2
    GF_PMAP_SIGNUP = 3
    GF_PMAP_SIGNIN = 4
    GF_PMAP_SIGNOUT = 5


PmapPortByBrickReq = xdr_struct("pmap_port_by_brick_req", "brick" / String())
PmapPortByBrickRsp = xdr_struct(
    "pmap_port_by_brick_rsp", "op_ret" / Int, "op_errno" / Int, "status" / Int, "port" / Int
)
PmapBrickByPortReq = xdr_struct("pmap_brick_by_port_req", "port" / Int)
PmapBrickByPortRsp = xdr_struct(
    "pmap_brick_by_port_rsp", "op_ret" / Int, "op_errno" / Int, "status" / Int, "brick" / String()
)
PmapSigninReq = xdr_struct("pmap_signin_req", "brick" / String(), "port" / Int, "pid" / Int)
PmapSigninRsp = xdr_struct("pmap_signin_rsp", "op_ret" / Int, "op_errno" / Int)
PmapSignoutReq = xdr_struct("pmap_signout_req", "brick" / String(), "port" / Int, "rdma_port" / Int)
PmapSignoutRsp = xdr_struct("pmap_signout_rsp", "op_ret" / Int, "op_errno" / Int)

PROGRAM = register(
    Program(
        "Gluster Portmap",
        GLUSTER_PMAP_PROGRAM,
        GLUSTER_PMAP_VERSION,
        procedures(
            Procedure(0, "NULL"),
            Procedure(1, "PORTBYBRICK", PmapPortByBrickReq, PmapPortByBrickRsp),
            Procedure(2, "BRICKBYPORT", PmapBrickByPortReq, PmapBrickByPortRsp),
            Procedure(4, "SIGNIN", PmapSigninReq, PmapSigninRsp),
            Procedure(5, "SIGNOUT", PmapSignoutReq, PmapSignoutRsp),
        ),
    )
)
