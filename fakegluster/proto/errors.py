"""The protocol core's one error type, and the ONC RPC status enums it names.

Contract (h11 style): the receiving side of :class:`~fakegluster.proto.connection.RpcConnection`
either produces an event or raises :class:`ProtocolError`; nothing else ever escapes
``receive_data``/``next_event``.  The error says which RPC reply to send (``reply``) and
whether the connection can go on (``fatal``), so the IO shell never needs to know the rules:

* ``GARBAGE_ARGS`` / ``PROC_UNAVAIL`` / ``PROG_UNAVAIL`` / ``PROG_MISMATCH`` / ``SYSTEM_ERR``:
  an accepted reply with that ``accept_stat`` (rpcsvc.c: ``rpcsvc_request_seterr``);
* ``RPC_MISMATCH`` / ``AUTH_ERROR``: a denied reply (``reject_stat``);
* ``CLOSE``: nothing can be answered (framing is broken, the record is too large, or a
  reply arrived for a call we never made); close the connection;
* ``IGNORE``: a reply whose result could not be decoded; there is nothing to answer, the
  connection goes on, and the call with that ``xid`` has failed.
"""

from __future__ import annotations

import enum

__all__ = ["AcceptStat", "RejectStat", "AuthStat", "MsgType", "ReplyStat", "ProtocolError"]


class MsgType(enum.IntEnum):
    CALL = 0
    REPLY = 1


class ReplyStat(enum.IntEnum):
    MSG_ACCEPTED = 0
    MSG_DENIED = 1


class AcceptStat(enum.IntEnum):
    SUCCESS = 0
    PROG_UNAVAIL = 1
    PROG_MISMATCH = 2
    PROC_UNAVAIL = 3
    GARBAGE_ARGS = 4
    SYSTEM_ERR = 5


class RejectStat(enum.IntEnum):
    RPC_MISMATCH = 0
    AUTH_ERROR = 1


class AuthStat(enum.IntEnum):
    AUTH_OK = 0
    AUTH_BADCRED = 1
    AUTH_REJECTEDCRED = 2
    AUTH_BADVERF = 3
    AUTH_REJECTEDVERF = 4
    AUTH_TOOWEAK = 5
    AUTH_INVALIDRESP = 6
    AUTH_FAILED = 7


class ProtocolError(Exception):
    """The peer broke the protocol; the attributes say how to answer.

    Attributes:
        reply: the name of the RPC reply to send: an :class:`AcceptStat` name
            (``"GARBAGE_ARGS"``, ``"PROC_UNAVAIL"``, ...), a :class:`RejectStat` name
            (``"RPC_MISMATCH"``, ``"AUTH_ERROR"``) or ``"CLOSE"``.
        xid: the xid to answer, or ``None`` when none could be read.
        fatal: the byte stream cannot be resynchronised; close the connection.
        low, high: the version range for ``PROG_MISMATCH`` / ``RPC_MISMATCH``.
        auth_stat: the :class:`AuthStat` for ``AUTH_ERROR``.
    """

    def __init__(
        self,
        message: str,
        *,
        reply: str = "CLOSE",
        xid: int | None = None,
        fatal: bool = False,
        low: int = 0,
        high: int = 0,
        auth_stat: AuthStat = AuthStat.AUTH_BADCRED,
        prog: int | None = None,
        vers: int | None = None,
        proc: int | None = None,
    ) -> None:
        super().__init__(message)
        if (
            reply not in ("CLOSE", "IGNORE")
            and reply not in AcceptStat.__members__
            and reply not in RejectStat.__members__
        ):
            raise ValueError(f"unknown RPC reply hint {reply!r}")
        self.reply = reply
        self.xid = xid
        self.fatal = fatal or reply == "CLOSE"
        self.low = low
        self.high = high
        self.auth_stat = auth_stat
        self.prog, self.vers, self.proc = prog, vers, proc

    @property
    def answerable(self) -> bool:
        """True when an RPC reply can (and should) be sent for this error."""
        return self.reply not in ("CLOSE", "IGNORE") and self.xid is not None

    def __repr__(self) -> str:
        return f"ProtocolError({str(self)!r}, reply={self.reply}, xid={self.xid}, fatal={self.fatal})"
