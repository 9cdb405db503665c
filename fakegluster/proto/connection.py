"""The sans-IO RPC connection: bytes in, events out; events in, bytes out.

Rule 1: no sockets, clocks, threads or logging configuration here.  The trio shells
(``fakegluster.server``, ``gfclient``) move bytes; this object knows the rules.

Rule 2: one object serves every role.  A CLIENT sends calls and gets their replies
(matched by xid to the call it sent, which says how to decode the result) plus
server-initiated callback calls.  A SERVER gets calls for the programs it serves and sends
replies.  An OBSERVER (the capture decoder) accepts every registered program and decodes
replies to calls recorded with ``expect_reply``.

Receiving (``receive_data`` + ``next_event``) yields an :class:`Event`, ``NEED_DATA``, or
raises :class:`ProtocolError` — never anything else.  A SERVER answers like rpcsvc.c of
glusterfs 10.3 (``rpcsvc_request_create``, ``rpcsvc_program_actor``), checked against a
real glusterd and brick:

1. a CALL header that cannot be decoded, ``rpcvers != 2``, or a REPLY
   -> GARBAGE_ARGS with **xid 0** (xdr_to_rpc_call fails before the request has an xid)
2. program number not served               -> PROG_UNAVAIL
3. program served, not in that version     -> PROG_MISMATCH, with low = high = 0
4. procedure not in the served table       -> PROC_UNAVAIL
5. arguments cannot be decoded             -> GARBAGE_ARGS (except where the real actor
   never decodes them: GF-DUMP DUMP)
6. a message type other than CALL/REPLY    -> the connection is closed, nothing sent

Credentials are decoded when their flavour is known and kept raw otherwise: rpcsvc
accepts a malformed or unknown credential (no AUTH_ERROR is ever sent by 10.3).
After an answerable error the connection goes on with the next record.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from typing import Any

from .callback import PROGRAM as CALLBACK_PROGRAM
from .errors import AcceptStat, AuthStat, MsgType, ProtocolError, RejectStat, ReplyStat
from .events import NEED_DATA, Call, ConnectionClosed, Denied, Event, Expensive, NeedData, Reply
from .programs import UNDECODABLE, Procedure, Program, all_programs, lookup
from .record import _MAX_FRAGMENT, DEFAULT_MAX_RECORD, LAST_FRAGMENT, PIECES_RECORD, Pieces, RecordReader, frame_header
from .rpc import AUTH_NULL, CallHeader, build_call_header, build_denied, build_reply_header, decode_auth, parse_header
from .xdr import DecodeError, Encoded, Struct, decode, encode

__all__ = [
    "Role",
    "RpcConnection",
    "encode_call",
    "encode_reply",
    "encode_success_reply",
    "error_reply",
    "decode_call_body",
]


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"
    OBSERVER = "observer"


def _procedure(prog: int, vers: int, proc: int) -> Procedure | None:
    program = lookup(prog, vers)
    return program.procs.get(proc) if program else None


def encode_call(call: Call) -> list[Any]:
    """The record of ``call`` as buffers: [mark + header + args, payload] (payload may be absent)."""
    proc = _procedure(call.prog, call.vers, call.proc)
    body = build_call_header(call.xid, call.prog, call.vers, call.proc, call.cred, call.verf, call.rpcvers)
    if call.args is not None:
        cls = type(call.args)
        if not issubclass(cls, Struct):
            raise TypeError(f"call arguments of type {cls.__name__} are not an XDR struct")
        if proc is not None and isinstance(proc.args, type) and cls is not proc.args:
            raise TypeError(f"{proc.name} takes {proc.args.__name__}, not {cls.__name__}")
        body += encode(cls, call.args)
    return _framed(body, call.payload)


def encode_reply(reply: Reply | Denied) -> list[Any]:
    """The record of ``reply`` as buffers: [mark + header + result, payload]."""
    if isinstance(reply, Denied):
        return _framed(build_denied(reply.xid, reply.reject_stat, reply.low, reply.high, reply.auth_stat), b"")
    if reply.stat == AcceptStat.SUCCESS and reply.verf is AUTH_NULL and reply.result is not None:
        return encode_success_reply(reply.xid, reply.result, reply.payload)
    body = build_reply_header(reply.xid, reply.stat, reply.verf, reply.low, reply.high)
    if reply.result is not None:
        cls = type(reply.result)
        if cls is Encoded:  # a reply the server keeps encoded (DUMP's)
            body += reply.result.data
        elif not issubclass(cls, Struct):
            raise TypeError(f"result of type {cls.__name__} is not an XDR struct")
        else:
            body += encode(cls, reply.result)
    return _framed(body, reply.payload)


#: record mark, xid, REPLY, MSG_ACCEPTED, AUTH_NULL verifier (flavour, length), SUCCESS
_SUCCESS_HEAD = struct.Struct(">7I")
_SUCCESS_HEAD_SIZE = _SUCCESS_HEAD.size - 4  # the record mark does not count
_REPLY, _ACCEPTED, _SUCCESS = int(MsgType.REPLY), int(ReplyStat.MSG_ACCEPTED), int(AcceptStat.SUCCESS)


def encode_success_reply(xid: int, result: Any, payload: Any = b"") -> list[Any]:
    """The record of an accepted SUCCESS reply carrying ``result`` (an XDR struct, or
    :class:`Encoded`) with the AUTH_NULL verifier every gluster server sends
    (``rpcsvc_fill_reply``), as buffers: [mark + header + result, payload pieces...].  The
    mark and header are one ``pack``: every answered FOP takes this path (:func:`encode_reply`
    for such replies, and a brick's READ fast path directly)."""
    cls = result.__class__
    if cls is Encoded:  # a reply the server keeps encoded (DUMP's)
        body = result.data
    elif not issubclass(cls, Struct):
        raise TypeError(f"result of type {cls.__name__} is not an XDR struct")
    else:
        body = encode(cls, result)
    if isinstance(payload, Pieces):
        payload = payload.parts
    if isinstance(payload, list):
        n = sum(len(p) for p in payload)
        parts = [p for p in payload if len(p)]
    else:
        n = len(payload)
        parts = [payload] if n else []
    length = _SUCCESS_HEAD_SIZE + len(body) + n
    if length > _MAX_FRAGMENT:
        raise ValueError(f"record of {length} bytes does not fit one fragment")
    head = _SUCCESS_HEAD.pack(LAST_FRAGMENT | length, xid, _REPLY, _ACCEPTED, 0, 0, _SUCCESS)
    return [head + body, *parts]


def _framed(body: bytes, payload: Any) -> list[Any]:
    """``payload``: bytes, a memoryview, :class:`Pieces` or a list of buffers (a READ answered
    in pieces)."""
    if isinstance(payload, Pieces):
        payload = payload.parts
    if isinstance(payload, list):
        head = frame_header(len(body) + sum(len(p) for p in payload)) + body
        return [head, *(p for p in payload if len(p))]
    n = len(payload)
    head = frame_header(len(body) + n) + body
    return [head, payload] if n else [head]


def error_reply(exc: ProtocolError) -> bytes | None:
    """The framed reply rpcsvc would send for ``exc``, or ``None`` if nothing can be sent."""
    if not exc.answerable or exc.xid is None:
        return None
    if exc.reply in RejectStat.__members__:
        event: Reply | Denied = Denied(exc.xid, RejectStat[exc.reply], exc.low or 2, exc.high or 2, exc.auth_stat)
    else:
        event = Reply(exc.xid, stat=AcceptStat[exc.reply], low=exc.low, high=exc.high)
    return b"".join(bytes(b) for b in encode_reply(event))


def decode_call_body(
    hdr: CallHeader, record: bytes | memoryview, served: dict[int, dict[int, Program]], decode_creds: bool = True
) -> Call:
    """Checks 1 (the RPC version) to 5 of the module docstring for one call header; returns the Call."""
    xid = hdr.xid
    if hdr.rpcvers != 2:
        raise ProtocolError(
            f"RPC version {hdr.rpcvers} is not 2 (xid {xid})",
            reply="GARBAGE_ARGS",
            xid=0,
            prog=hdr.prog,
            vers=hdr.vers,
            proc=hdr.proc,
        )
    cred, verf = (_auth(hdr.cred), _auth(hdr.verf)) if decode_creds else (hdr.cred, hdr.verf)
    versions = served.get(hdr.prog)
    if not versions:
        raise ProtocolError(f"program {hdr.prog} is not served", reply="PROG_UNAVAIL", **_where(hdr))
    program = versions.get(hdr.vers)
    if program is None:
        raise ProtocolError(
            f"program {hdr.prog} is served in versions {sorted(versions)}, not {hdr.vers}",
            reply="PROG_MISMATCH",
            low=0,
            high=0,
            **_where(hdr),
        )
    proc = program.procs.get(hdr.proc)
    if proc is None:
        raise ProtocolError(f"{program.name} has no procedure {hdr.proc} here", reply="PROC_UNAVAIL", **_where(hdr))
    args, end = None, hdr.end
    if proc.args is UNDECODABLE:
        raise ProtocolError(f"{program.name} {proc.name} arguments are refused", reply="GARBAGE_ARGS", **_where(hdr))
    if proc.args is not None:
        try:
            args, end = decode(proc.args, record, hdr.end)
        except DecodeError as exc:
            if proc.args_ignored:
                args, end = None, hdr.end
            else:
                raise ProtocolError(
                    f"{program.name} {proc.name}: undecodable {proc.args.xname}: {exc}",
                    reply="GARBAGE_ARGS",
                    **_where(hdr),
                ) from exc
    payload = memoryview(record)[end:] if end < len(record) else b""
    return Call(xid, hdr.prog, hdr.vers, hdr.proc, args, cred, verf, payload, hdr.rpcvers)


def _payload_size_offset(proc: Procedure) -> int | None:
    """Where the ``size`` field sits in ``proc``'s arguments when every field before it has a
    fixed size (gfx_write_req: gfid, fd, offset, size -> 32); None otherwise."""
    if id(proc) not in _SIZE_OFFSETS:
        offset: int | None = 0
        schema = getattr(proc.args, "schema", None)
        for name, con in getattr(schema, "fields", ()):
            if name == "size":
                break
            try:
                offset = (offset or 0) + int(con.sizeof())
            except Exception:  # a variable-size field (construct's SizeofError and kin)
                offset = None
                break
        else:
            offset = None
        _SIZE_OFFSETS[id(proc)] = offset
    return _SIZE_OFFSETS[id(proc)]


_SIZE_OFFSETS: dict[int, int | None] = {}
#: how much of a record kept in pieces is joined to decode its header and arguments
_HEAD = 64 * 1024


def _cost(record: bytes | memoryview, n: int) -> int:
    """:meth:`RpcConnection.record_cost` of a record of ``n`` bytes beginning with ``record``."""
    if len(record) < 28 or record[4:8] != b"\0\0\0\0":
        return n
    try:
        hdr = parse_header(record)
    except ProtocolError:
        return n
    proc = _procedure(hdr.prog, hdr.vers, hdr.proc) if isinstance(hdr, CallHeader) else None
    at = _payload_size_offset(proc) if proc is not None and proc.args_payload else None
    if at is None or hdr.end + at + 4 > len(record):
        return n
    size: int = struct.unpack_from(">I", record, hdr.end + at)[0]
    return n - min(size, n - hdr.end)


def _where(hdr: CallHeader) -> dict[str, Any]:
    """The call an error reply is about (built only when there is an error)."""
    return dict(xid=hdr.xid, prog=hdr.prog, vers=hdr.vers, proc=hdr.proc)


def _auth(raw: Any) -> Any:
    try:
        return decode_auth(raw)
    except (DecodeError, ValueError):
        return raw


class RpcConnection:
    """One end of a GlusterFS RPC connection (see the module docstring).

    Args:
        role: ``Role.CLIENT``, ``Role.SERVER`` or ``Role.OBSERVER``.
        programs: the programs whose CALLs this end accepts.  A server passes what it serves
            (e.g. ``fops.BRICK_PROGRAM``); a client usually leaves the default, the callback
            program.  ``None`` accepts every registered program (the capture decoder).
        max_record: the record size cap (default 1 GiB, like glusterfsd).
        decode_creds: decode credentials into their dataclasses (``AuthGlusterfsParamsV3``
            ...); with False a Call keeps the raw ``OpaqueAuth`` (a server that rarely needs
            them saves the work; ``rpc.decode_auth`` decodes one later).
        pieces_from: a SERVER gets calls of at least this many bytes (a 64 MiB WRITE) with
            their payload as :class:`~fakegluster.proto.record.Pieces`, the buffers they
            arrived in, never joined (default :data:`~fakegluster.proto.record.PIECES_RECORD`;
            ``None``: never).  Other roles always get one buffer.
    """

    def __init__(
        self,
        role: Role,
        programs: Iterable[Program] | None = (),
        *,
        max_record: int = DEFAULT_MAX_RECORD,
        decode_creds: bool = True,
        pieces_from: int | None = PIECES_RECORD,
    ) -> None:
        self.role = role
        self.decode_creds = decode_creds
        if programs == () and role is Role.CLIENT:
            programs = [CALLBACK_PROGRAM]
        self.served: dict[int, dict[int, Program]] = {}
        for program in all_programs() if programs is None else programs:
            self.served.setdefault(program.prog, {})[program.vers] = program
        self._reader = RecordReader(max_record, pieces_from if role is Role.SERVER else None)
        self._pending: dict[int, tuple[int, int, int]] = {}
        self._eof = False
        self._closed_reported = False
        self._poisoned: ProtocolError | None = None
        #: the length of the last record taken (the call log bounds itself by it)
        self.last_record_size = 0

    # ---- receiving ----------------------------------------------------------------------
    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed its side."""
        if not data:
            self._eof = True
        else:
            self._reader.feed(data)

    def next_event(self, max_cost: int | None = None) -> Event | NeedData | Expensive:
        """The next event, or ``NEED_DATA``.

        With ``max_cost``, a record whose :meth:`record_cost` exceeds it is not decoded here:
        it comes back as :class:`Expensive`, for the caller to :meth:`decode_record` where a
        long decode stalls nobody (a worker thread).

        Raises:
            ProtocolError: the message broke the protocol; ``exc.reply`` says what to answer
                and ``exc.fatal`` whether the connection can go on.
        """
        if self._poisoned is not None:
            raise self._poisoned
        try:
            record = self._reader.next_record()
        except ProtocolError as exc:
            self._poisoned = exc
            raise
        if record is None:
            if self._eof and not self._closed_reported:
                self._closed_reported = True
                return ConnectionClosed(self._reader.buffered)
            return NEED_DATA
        self.last_record_size = len(record)
        # a record in pieces has its head joined once, for the cost and the decode
        head = record.head(_HEAD) if isinstance(record, Pieces) else record
        if max_cost is not None and len(record) > max_cost and _cost(head, len(record)) > max_cost:
            return Expensive(record)
        if isinstance(record, Pieces):
            return self._decode_pieces(record, head)
        return self._decode_one(record)

    def decode_record(self, record: bytes | memoryview | Pieces) -> Event:
        """Decode a record :meth:`next_event` handed out as :class:`Expensive` (same errors);
        touches nothing else of the connection, so it may run in another thread."""
        return self._decode_record(record)

    def record_cost(self, record: bytes | memoryview | Pieces) -> int:
        """How many bytes of ``record`` a decoder would walk: all of it, less the raw payload
        of a WRITE-like call (``args_payload`` procedures whose arguments start with fixed
        fields up to ``size``, the payload's length)."""
        if isinstance(record, Pieces):
            return _cost(record.head(_HEAD), len(record))
        return _cost(record, len(record))

    def _decode_record(self, record: bytes | memoryview | Pieces) -> Event:
        if isinstance(record, Pieces):
            return self._decode_pieces(record)
        return self._decode_one(record)

    def _decode_pieces(self, record: Pieces, head: bytes | memoryview | None = None) -> Event:
        """A big record kept in pieces (SERVER): a WRITE-like call whose header and arguments
        lie in its first :data:`_HEAD` bytes (``head``, joined by the caller if it has them)
        gets the rest as a Pieces payload; anything else is joined and decoded as one buffer
        (the same event or error either way)."""
        if head is None:
            head = record.head(_HEAD)
        try:
            event = self._decode_one(head)
        except ProtocolError:
            event = None
        if isinstance(event, Call) and len(head) < len(record):
            proc = _procedure(event.prog, event.vers, event.proc)
            if proc is not None and proc.args_payload:
                end = len(head) - len(event.payload)
                return Call(
                    event.xid,
                    event.prog,
                    event.vers,
                    event.proc,
                    event.args,
                    event.cred,
                    event.verf,
                    record.after(end),
                    event.rpcvers,
                )
        return self._decode_one(bytes(record))

    def _decode_one(self, record: bytes | memoryview) -> Event:
        if self.role is Role.SERVER and (len(record) < 8 or record[4:8] == b"\0\0\0\1"):
            raise ProtocolError(
                f"a server got a {'REPLY' if len(record) >= 8 else 'runt'} message", reply="GARBAGE_ARGS", xid=0
            )
        hdr = parse_header(record)
        if isinstance(hdr, CallHeader):
            return decode_call_body(hdr, record, self.served, self.decode_creds)
        call = self._pending.pop(hdr.xid, None)
        if call is None:
            raise ProtocolError(f"reply xid {hdr.xid} matches no outstanding call", reply="CLOSE", xid=hdr.xid)
        prog, vers, proc_num = call
        if hdr.reject_stat is not None:
            auth_stat = hdr.auth_stat if hdr.auth_stat is not None else AuthStat.AUTH_OK  # (RPC_MISMATCH)
            return Denied(hdr.xid, hdr.reject_stat, hdr.low, hdr.high, auth_stat, prog, vers, proc_num)
        assert hdr.stat is not None  # accepted, as it was not denied
        result, end = None, hdr.end
        proc = _procedure(prog, vers, proc_num)
        if hdr.stat == AcceptStat.SUCCESS and proc is not None and proc.reply is not None:
            try:
                result, end = decode(proc.reply, record, hdr.end)
            except DecodeError as exc:
                raise ProtocolError(
                    f"reply to {proc.name} (xid {hdr.xid}): undecodable {proc.reply.xname}: {exc}",
                    reply="IGNORE",
                    xid=hdr.xid,
                    prog=prog,
                    vers=vers,
                    proc=proc_num,
                ) from exc
        payload = memoryview(record)[end:] if end < len(record) else b""
        return Reply(hdr.xid, result, hdr.stat, payload, hdr.verf, hdr.low, hdr.high, prog, vers, proc_num)

    # ---- sending ------------------------------------------------------------------------
    def send(self, event: Event) -> bytes:
        """The bytes to write for ``event`` (one single-fragment record)."""
        return b"".join(bytes(b) if isinstance(b, memoryview) else b for b in self.send_buffers(event))

    def send_buffers(self, event: Event) -> list[Any]:
        """Like :meth:`send`, as a list of buffers so a payload is never copied."""
        if isinstance(event, Call):
            buffers = encode_call(event)
            proc = _procedure(event.prog, event.vers, event.proc)
            if proc is None or not proc.one_way:
                if event.xid in self._pending:
                    raise ValueError(f"xid {event.xid} is already outstanding")
                self._pending[event.xid] = (event.prog, event.vers, event.proc)
            return buffers
        if isinstance(event, (Reply, Denied)):
            return encode_reply(event)
        if isinstance(event, ConnectionClosed):
            return []
        raise TypeError(f"cannot send {type(event).__name__}")

    def expect_reply(self, xid: int, prog: int, vers: int, proc: int) -> None:
        """Record a call made elsewhere, so its reply decodes here (used by observers)."""
        self._pending[xid] = (prog, vers, proc)

    @property
    def outstanding(self) -> dict[int, tuple[int, int, int]]:
        """xid -> (prog, vers, proc) of the calls sent and not yet answered."""
        return dict(self._pending)
