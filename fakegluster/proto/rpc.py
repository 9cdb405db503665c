"""ONC RPC v2 messages (RFC 5531) and the auth flavours GlusterFS uses.

Schemas are named after the RFC/``.x`` types: ``opaque_auth``, ``call_body``,
``mismatch_info``; credentials after ``rpc/xdr/src/rpc-common-xdr.x`` and
``glusterfs4-xdr.x`` (``auth_glusterfs_parms_v2``, ``auth_glusterfs_params_v3``,
``auth_glusterfs_parms``) and RFC 5531 (``authsys_parms``).

A credential or verifier is kept decoded when its flavour is known (a dataclass from the
table below), as an ``OpaqueAuth`` otherwise.  AUTH_NULL is ``AUTH_NULL`` (an empty
``OpaqueAuth`` of flavour 0).
"""

from __future__ import annotations

import enum
import struct
from typing import Annotated, Any

from .errors import AcceptStat, AuthStat, MsgType, ProtocolError, RejectStat, ReplyStat
from .xdr import (
    Array,
    DecodeError,
    FixedArray,
    Int,
    Opaque,
    OpaqueCon,
    StringCon,
    Struct,
    UHyper,
    UInt,
    decode,
    encode,
)

__all__ = [
    "AuthFlavor",
    "OpaqueAuth",
    "AuthGlusterfsParmsV2",
    "AuthGlusterfsParamsV3",
    "AuthGlusterfsParms",
    "AuthsysParms",
    "CallBody",
    "MismatchInfo",
    "AUTH_NULL",
    "decode_auth",
    "encode_auth",
    "CallHeader",
    "ReplyHeader",
    "parse_header",
    "parse_call",
    "build_call_header",
    "build_reply_header",
    "build_denied",
    "lk_owner_for_pid",
]


class AuthFlavor(enum.IntEnum):
    """``auth_flavor`` numbers (``rpc/rpc-lib/src/xdr-rpc.h``)."""

    AUTH_NULL = 0
    AUTH_UNIX = 1  # AUTH_SYS
    AUTH_SHORT = 2
    AUTH_GLUSTERFS = 5
    AUTH_GLUSTERFS_v2 = 390039
    AUTH_GLUSTERFS_v3 = 390040


MAX_AUTH_BYTES = 400


class OpaqueAuth(Struct, xname="opaque_auth"):
    flavor: UInt = 0
    body: Annotated[bytes, OpaqueCon(MAX_AUTH_BYTES)] = b""


class AuthGlusterfsParmsV2(Struct, xname="auth_glusterfs_parms_v2"):
    pid: Int = 0
    uid: UInt = 0
    gid: UInt = 0
    groups: Annotated[tuple[int, ...], Array(UInt)] = ()
    lk_owner: Opaque = b""


class AuthGlusterfsParamsV3(Struct, xname="auth_glusterfs_params_v3"):
    pid: Int = 0
    uid: UInt = 0
    gid: UInt = 0
    flags: UInt = 0
    ctime_nsec: UInt = 0
    ctime_sec: UHyper = 0
    groups: Annotated[tuple[int, ...], Array(UInt)] = ()
    lk_owner: Opaque = b""


class AuthGlusterfsParms(Struct, xname="auth_glusterfs_parms"):
    lk_owner: UHyper = 0
    pid: UInt = 0
    uid: UInt = 0
    gid: UInt = 0
    ngrps: UInt = 0
    groups: Annotated[tuple[int, ...], FixedArray(UInt, 16)] = (0,) * 16


class AuthsysParms(Struct, xname="authsys_parms"):
    stamp: UInt = 0
    machinename: Annotated[str, StringCon(255)] = ""
    uid: UInt = 0
    gid: UInt = 0
    gids: Annotated[tuple[int, ...], Array(UInt, 16)] = ()


class CallBody(Struct, xname="call_body"):
    rpcvers: UInt = 0
    prog: UInt = 0
    vers: UInt = 0
    proc: UInt = 0
    cred: OpaqueAuth = OpaqueAuth()
    verf: OpaqueAuth = OpaqueAuth()


class MismatchInfo(Struct, xname="mismatch_info"):
    low: UInt = 0
    high: UInt = 0


AUTH_NULL = OpaqueAuth(0, b"")

_FLAVORS: dict[int, Any] = {
    AuthFlavor.AUTH_UNIX: AuthsysParms,
    AuthFlavor.AUTH_GLUSTERFS: AuthGlusterfsParms,
    AuthFlavor.AUTH_GLUSTERFS_v2: AuthGlusterfsParmsV2,
    AuthFlavor.AUTH_GLUSTERFS_v3: AuthGlusterfsParamsV3,
}
_FLAVOR_OF_CLASS = {schema: int(flavor) for flavor, schema in _FLAVORS.items()}


def decode_auth(raw: Any) -> Any:
    """An ``OpaqueAuth`` as the credential dataclass of its flavour (or itself if unknown).

    Raises ``ValueError`` if the body is not a valid, exactly-sized credential.
    """
    schema = _FLAVORS.get(raw.flavor)
    if schema is None:
        if raw.flavor == AuthFlavor.AUTH_NULL and raw.body:
            raise ValueError("AUTH_NULL with a body")
        return raw
    value, end = decode(schema, raw.body)
    if end != len(raw.body):
        raise ValueError(f"{len(raw.body) - end} stray bytes after the {schema.xname} credential")
    return value


def encode_auth(auth: Any) -> Any:
    """The ``OpaqueAuth`` carrying ``auth`` (a credential dataclass or an ``OpaqueAuth``)."""
    if isinstance(auth, OpaqueAuth):
        return auth
    flavor = _FLAVOR_OF_CLASS.get(type(auth))
    if flavor is None:
        raise TypeError(f"{type(auth).__name__} is not a credential")
    return OpaqueAuth(flavor, encode(_FLAVORS[flavor], auth))


def lk_owner_for_pid(pid: int) -> bytes:
    """The lk_owner a gluster client puts in a frame without one: the pid, little-endian."""
    return struct.pack("<i", pid)


class CallHeader:
    """A decoded CALL header (internal to the core; the connection turns it into a Call):
    the xid, the ``call_body`` fields, and where the arguments start (``end``)."""

    __slots__ = ("xid", "rpcvers", "prog", "vers", "proc", "cred", "verf", "end")

    def __init__(self, xid: int, rpcvers: int, prog: int, vers: int, proc: int, cred: Any, verf: Any, end: int) -> None:
        self.xid, self.rpcvers, self.prog, self.vers, self.proc = xid, rpcvers, prog, vers, proc
        self.cred, self.verf, self.end = cred, verf, end


class ReplyHeader:
    """A decoded REPLY header: accepted (``stat`` set) or denied (``reject_stat`` set)."""

    __slots__ = ("xid", "verf", "stat", "low", "high", "reject_stat", "auth_stat", "end")

    def __init__(self, xid: int) -> None:
        self.xid = xid
        self.verf: Any = AUTH_NULL
        self.stat: AcceptStat | None = None
        self.low = self.high = 0
        self.reject_stat: RejectStat | None = None
        self.auth_stat: AuthStat | None = None
        self.end = 0


_u32 = struct.Struct(">I")
_2u32 = struct.Struct(">II")


def parse_header(record: bytes | memoryview) -> CallHeader | ReplyHeader:
    """Decode the RPC header of one record.

    Raises ``ProtocolError``: ``GARBAGE_ARGS`` if a CALL header cannot be read (rpcsvc
    answers "RPC call decoding failed" that way, with xid 0: the request was never
    initialised — seen on glusterd and bricks 10.3), ``CLOSE`` if not even an xid and a
    known message type are there.
    """
    if len(record) < 8:
        raise ProtocolError(f"RPC message of {len(record)} bytes has no header", reply="CLOSE")
    xid, mtype = _2u32.unpack_from(record, 0)
    if mtype == MsgType.CALL:
        try:
            return parse_call(record)
        except (struct.error, ValueError) as exc:
            raise ProtocolError(f"undecodable call header (xid {xid}): {exc}", reply="GARBAGE_ARGS", xid=0) from exc
    if mtype != MsgType.REPLY:
        raise ProtocolError(f"message type {mtype} is neither CALL nor REPLY", reply="CLOSE", xid=xid)
    hdr = ReplyHeader(xid)
    try:
        (rstat,) = _u32.unpack_from(record, 8)
        if rstat == ReplyStat.MSG_ACCEPTED:
            hdr.verf, end = decode(OpaqueAuth, record, 12)
            (stat,) = _u32.unpack_from(record, end)
            hdr.stat = AcceptStat(stat)
            end += 4
            if hdr.stat == AcceptStat.PROG_MISMATCH:
                hdr.low, hdr.high = _2u32.unpack_from(record, end)
                end += 8
        elif rstat == ReplyStat.MSG_DENIED:
            (rj,) = _u32.unpack_from(record, 12)
            hdr.reject_stat = RejectStat(rj)
            end = 16
            if hdr.reject_stat == RejectStat.RPC_MISMATCH:
                hdr.low, hdr.high = _2u32.unpack_from(record, end)
                end += 8
            else:
                (a,) = _u32.unpack_from(record, end)
                hdr.auth_stat = AuthStat(a)
                end += 4
        else:
            raise ValueError(f"reply_stat {rstat}")
    except (DecodeError, struct.error, ValueError) as exc:
        raise ProtocolError(f"undecodable reply header: {exc}", reply="CLOSE", xid=xid) from exc
    hdr.end = end
    return hdr


_CALL = struct.Struct(">8I")  # xid, CALL, rpcvers, prog, vers, proc, cred flavor, cred length


def parse_call(record: bytes | memoryview) -> CallHeader:
    """A CALL's header, by hand (the hot path): the same checks as decoding ``call_body``
    (each opaque_auth at most 400 bytes, every byte present); tests/proto/test_rpc_fast.py
    holds it to the schema.  Raises ``struct.error``/``ValueError`` on bad bytes."""
    xid, _, rpcvers, prog, vers, proc, cflavor, clen = _CALL.unpack_from(record, 0)
    if clen > MAX_AUTH_BYTES:
        raise ValueError(f"credential of {clen} bytes exceeds its maximum {MAX_AUTH_BYTES}")
    vpos = 32 + clen + (-clen % 4)
    vflavor, vlen = _2u32.unpack_from(record, vpos)
    if vlen > MAX_AUTH_BYTES:
        raise ValueError(f"verifier of {vlen} bytes exceeds its maximum {MAX_AUTH_BYTES}")
    end = vpos + 8 + vlen + (-vlen % 4)
    if end > len(record):
        raise ValueError("the verifier runs past the end")
    cred = OpaqueAuth(cflavor, bytes(record[32 : 32 + clen]))
    verf = AUTH_NULL if vflavor == 0 and vlen == 0 else OpaqueAuth(vflavor, bytes(record[vpos + 8 : vpos + 8 + vlen]))
    return CallHeader(xid, rpcvers, prog, vers, proc, cred, verf, end)


def build_call_header(
    xid: int, prog: int, vers: int, proc: int, cred: Any = AUTH_NULL, verf: Any = AUTH_NULL, rpcvers: int = 2
) -> bytes:
    body = CallBody(rpcvers, prog, vers, proc, encode_auth(cred), encode_auth(verf))
    return _2u32.pack(xid, MsgType.CALL) + encode(CallBody, body)


_NULL_REPLY = struct.Struct(">IIIIII")  # xid, REPLY, MSG_ACCEPTED, AUTH_NULL, 0, accept_stat


def build_reply_header(
    xid: int, stat: AcceptStat = AcceptStat.SUCCESS, verf: Any = AUTH_NULL, low: int = 0, high: int = 0
) -> bytes:
    if verf is AUTH_NULL and stat != AcceptStat.PROG_MISMATCH:  # what every gluster server sends
        return _NULL_REPLY.pack(xid, MsgType.REPLY, ReplyStat.MSG_ACCEPTED, 0, 0, stat)
    v = encode_auth(verf)
    head = struct.pack(">III", xid, MsgType.REPLY, ReplyStat.MSG_ACCEPTED) + encode(OpaqueAuth, v)
    head += _u32.pack(stat)
    if stat == AcceptStat.PROG_MISMATCH:
        head += _2u32.pack(low, high)
    return head


def build_denied(
    xid: int, reject_stat: RejectStat, low: int = 2, high: int = 2, auth_stat: AuthStat = AuthStat.AUTH_BADCRED
) -> bytes:
    head = struct.pack(">IIII", xid, MsgType.REPLY, ReplyStat.MSG_DENIED, reject_stat)
    if reject_stat == RejectStat.RPC_MISMATCH:
        return head + _2u32.pack(low, high)
    return head + _u32.pack(auth_stat)
