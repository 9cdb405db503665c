"""The sans-IO GlusterFS 10.x wire protocol core: no sockets, clocks or threads.

* :mod:`.record` — ONC RPC record marking
* :mod:`.rpc` — RPC call/reply headers and auth flavours
* :mod:`.xdr`, :mod:`.gfdict`, :mod:`.common` — XDR primitives, the two dict encodings,
  shared structures
* :mod:`.dump`, :mod:`.handshake`, :mod:`.portmap`, :mod:`.fops`, :mod:`.callback`, :mod:`.cli` — one
  module per RPC program, schemas named after their ``.x`` types
* :mod:`.connection` — :class:`RpcConnection`, bytes in / events out
* :mod:`.volfile` — volfile generation and parsing
* :mod:`.uri` — ``gluster[+transport]://`` URIs, QEMU 7.2 rules
"""

from .connection import Role, RpcConnection, error_reply
from .errors import AcceptStat, AuthStat, ProtocolError, RejectStat
from .events import NEED_DATA, Call, ConnectionClosed, Denied, Event, Reply
from .gfdict import GfDataType, GfxValue, old_dict, old_dict_text
from .programs import Procedure, Program, lookup
from .rpc import AUTH_NULL, AuthFlavor, AuthGlusterfsParamsV3, AuthGlusterfsParmsV2

__all__ = [
    "Role",
    "RpcConnection",
    "error_reply",
    "AcceptStat",
    "AuthStat",
    "ProtocolError",
    "RejectStat",
    "NEED_DATA",
    "Call",
    "ConnectionClosed",
    "Denied",
    "Event",
    "Reply",
    "GfDataType",
    "GfxValue",
    "old_dict",
    "old_dict_text",
    "Procedure",
    "Program",
    "lookup",
    "AUTH_NULL",
    "AuthFlavor",
    "AuthGlusterfsParamsV3",
    "AuthGlusterfsParmsV2",
]
