"""GF-DUMP, program 123451501 version 1 (``rpc/xdr/src/rpc-common-xdr.x``).

DUMP lists the programs a peer serves; PING (proc 2, no arguments) is the keep-alive the
client's rpc-clnt-ping.c sends.  Both glusterd and bricks serve it.
"""

from __future__ import annotations

import enum
from typing import Annotated

from .gfdict import OldDict
from .programs import Procedure, Program, procedures, register
from .xdr import Int, LinkedList, String, Struct, UHyper

__all__ = [
    "GF_DUMP_PROGRAM",
    "GF_DUMP_VERSION",
    "GfDumpProc",
    "GfDumpReq",
    "GfDumpRsp",
    "GfProgDetail",
    "GfCommonRsp",
    "PROGRAM",
    "GFS_ID",
]

GF_DUMP_PROGRAM = 123451501
GF_DUMP_VERSION = 1
#: The gfs_id clients put in a DUMP request (0xcaed).
GFS_ID = 0xCAED


class GfDumpProc(enum.IntEnum):
    GF_DUMP_NULL = 0
    GF_DUMP_DUMP = 1
    GF_DUMP_PING = 2


class GfDumpReq(Struct, xname="gf_dump_req"):
    gfs_id: UHyper = 0


class GfProgDetail(Struct, xname="gf_prog_detail"):
    progname: String = ""
    prognum: UHyper = 0
    progver: UHyper = 0


class GfDumpRsp(Struct, xname="gf_dump_rsp"):
    gfs_id: UHyper = 0
    op_ret: Int = 0
    op_errno: Int = 0
    prog: Annotated[tuple[GfProgDetail, ...], LinkedList(GfProgDetail)] = ()


class GfCommonRsp(Struct, xname="gf_common_rsp"):
    op_ret: Int = 0
    op_errno: Int = 0
    xdata: OldDict = None


PROGRAM = register(
    Program(
        "GF-DUMP",
        GF_DUMP_PROGRAM,
        GF_DUMP_VERSION,
        procedures(
            Procedure(0, "NULL"),
            Procedure(1, "DUMP", GfDumpReq, GfDumpRsp, args_ignored=True),
            Procedure(2, "PING", None, GfCommonRsp),
        ),
    )
)
