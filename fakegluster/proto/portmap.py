"""Gluster Portmap, program 34123456 version 1 (``rpc/xdr/src/portmap-xdr.x``), glusterd only.

PORTBYBRICK maps a brick path (``remote-subvolume``) to its TCP port; bricks SIGNIN and
SIGNOUT.  SIGNUP (3) is obsolete: glusterd 10.x has no actor for it (PROC_UNAVAIL).
"""

from __future__ import annotations

import enum

from .programs import Procedure, Program, procedures, register
from .xdr import Int, String, Struct

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


class PmapPortByBrickReq(Struct, xname="pmap_port_by_brick_req"):
    brick: String = ""


class PmapPortByBrickRsp(Struct, xname="pmap_port_by_brick_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    status: Int = 0
    port: Int = 0


class PmapBrickByPortReq(Struct, xname="pmap_brick_by_port_req"):
    port: Int = 0


class PmapBrickByPortRsp(Struct, xname="pmap_brick_by_port_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    status: Int = 0
    brick: String = ""


class PmapSigninReq(Struct, xname="pmap_signin_req"):
    brick: String = ""
    port: Int = 0
    pid: Int = 0


class PmapSigninRsp(Struct, xname="pmap_signin_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0


class PmapSignoutReq(Struct, xname="pmap_signout_req"):
    brick: String = ""
    port: Int = 0
    rdma_port: Int = 0


class PmapSignoutRsp(Struct, xname="pmap_signout_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0


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
