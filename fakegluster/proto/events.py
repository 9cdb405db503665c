"""Events: what :class:`~fakegluster.proto.connection.RpcConnection` turns bytes into, and back.

Small frozen value objects (h11 style).  ``args`` / ``result`` are the frozen dataclasses
generated from the ``.x`` schemas (``GfxLookupReq``, ``GfDumpRsp`` ...), never construct
Containers; ``None`` for void.  ``payload`` is the raw data riding after the XDR body
(WRITE/PUT calls, READ replies; empty otherwise), as bytes or a memoryview slice of the
received record; a server's big call (``record.PIECES_RECORD``) has it as
:class:`~fakegluster.proto.record.Pieces`, the buffers it arrived in.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .errors import AcceptStat, AuthStat, RejectStat
from .frozen import fast_init
from .record import Pieces
from .rpc import AUTH_NULL

__all__ = ["Event", "Call", "Reply", "Denied", "ConnectionClosed", "Expensive", "NEED_DATA", "NeedData"]


class NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"


#: Returned by ``next_event()`` when no complete message is buffered.
NEED_DATA = NeedData.NEED_DATA


class Event:
    """Base class of all events."""

    __slots__ = ()


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Call(Event):
    """An RPC CALL.  ``cred``/``verf`` are credential dataclasses (``AuthGlusterfsParamsV3``...)
    or an ``OpaqueAuth``."""

    xid: int
    prog: int
    vers: int
    proc: int
    args: Any = None
    cred: Any = AUTH_NULL
    verf: Any = AUTH_NULL
    payload: bytes | memoryview | Pieces = b""
    rpcvers: int = 2


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Reply(Event):
    """An accepted RPC REPLY (MSG_ACCEPTED) with any ``accept_stat``.

    ``low``/``high`` are set for PROG_MISMATCH.  ``prog``/``vers``/``proc`` name the call it
    answers when the receiving connection knew it (they are not on the wire).
    """

    xid: int
    result: Any = None
    stat: AcceptStat = AcceptStat.SUCCESS
    payload: bytes | memoryview = b""
    verf: Any = AUTH_NULL
    low: int = 0
    high: int = 0
    prog: int | None = None
    vers: int | None = None
    proc: int | None = None


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Denied(Event):
    """A denied RPC REPLY (MSG_DENIED): RPC_MISMATCH (with ``low``/``high``) or AUTH_ERROR."""

    xid: int
    reject_stat: RejectStat
    low: int = 2
    high: int = 2
    auth_stat: AuthStat = AuthStat.AUTH_BADCRED  # AUTH_OK (0) for RPC_MISMATCH: not on the wire
    prog: int | None = None
    vers: int | None = None
    proc: int | None = None


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed its side.  ``partial`` counts bytes of an unfinished record dropped."""

    partial: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Expensive(Event):
    """A complete record left undecoded because decoding it costs more than the caller's
    ``max_cost`` (``RpcConnection.next_event``): decode it with ``decode_record`` elsewhere."""

    record: bytes | memoryview | Pieces
