"""A served connection's :class:`Dispatcher`: bytes in, buffers out, with no IO -- decoding
(big records in a worker thread), the session's answers, error replies, the call log and the
injected faults, in slices of work so one connection cannot hold up the others.  The loops of
:mod:`.net` drive it.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import struct
import time
from collections.abc import Callable, Sequence
from time import time as now
from typing import Any, Protocol

import trio

from ..proto import AcceptStat, Call, ConnectionClosed, ProtocolError, Reply, Role, RpcConnection, error_reply
from ..proto.cli import GLUSTER_CLI_PROGRAM
from ..proto.connection import encode_success_reply
from ..proto.events import NEED_DATA, Denied, Expensive
from ..proto.programs import Program, lookup
from .calllog import CallLog, CallRecord, Faults
from .glusterd import NO_REPLY
from .handle import DEFERRED, Sliced

__all__ = ["Session", "Dispatcher", "next_connection_id"]

log = logging.getLogger("fakegluster.server")

#: One slice of a connection's work: after this many calls, or this many bytes of replies,
#: the connection sends what it has and lets the others run (a receive of 256 KiB can hold
#: thousands of calls; a peer that does not read its replies is not read either).
SLICE_CALLS = 64
SLICE_BYTES = 4 << 20
#: how long sliced work (a handler's :class:`~fakegluster.server.handle.Sliced`) runs at once
SLICE_SECONDS = 0.003
#: a call that keeps the server busy longer than this is logged (WARNING; DEBUG for the
#: gluster CLI's program: a volume create or delete makes or removes directory stores, and a
#: real glusterd takes seconds for those)
SLOW_CALL = 0.05
#: Records that cost more bytes than this to decode are decoded in a worker thread (a 24 MB
#: message holding a 1M-entry dict takes seconds to decode in Python; the trio thread keeps
#: serving the others meanwhile, sharing the GIL in its 5 ms slices).
DECODE_INLINE = 256 * 1024
#: at most this many such decodes at once (they share the GIL anyway)
_DECODE_THREADS = trio.CapacityLimiter(2)
_connection_ids = itertools.count(1)


class Session(Protocol):
    def handle(self, call: Call) -> tuple[Any, Any]: ...


def next_connection_id() -> int:
    return next(_connection_ids)


class Dispatcher:
    """Bytes in, buffers out, for one connection (no IO).

    ``feed(data)`` returns the buffers to send now; ``closing`` says the connection must be
    closed after they are sent; ``delayed`` collects (call, fault) pairs to answer later
    (injected delays), which the loop runs in tasks of its own.
    """

    def __init__(
        self,
        session: Session,
        programs: Sequence[Program],
        *,
        name: str,
        peer: str,
        connection_id: int,
        calls: CallLog | None,
        faults: Faults | None,
        max_record: int | None,
    ) -> None:
        self.conn = RpcConnection(
            Role.SERVER, programs, decode_creds=False, **({"max_record": max_record} if max_record else {})
        )
        self.session, self.name, self.peer, self.cid = session, name, peer, connection_id
        self.calls, self.faults = calls, faults
        self.closing = False
        self.delayed: list[tuple[Call, Any]] = []
        #: handler failures and unencodable replies answered SYSTEM_ERR (fuzz campaigns count them)
        self.errors = 0
        #: calls are left over from the last slice of work (:meth:`resume` again)
        self.more = False
        #: a record to decode in a worker thread (:meth:`decode_expensive`)
        self.expensive: Any = None  # bytes, a memoryview or record.Pieces
        #: sliced work under way: (call, steps, its size for the call log)
        self.work: tuple[Call, Any, int] | None = None
        #: calls answered by the fast path in a row (the last ones; :mod:`.brickthread`)
        self.streak = 0
        #: the session's fast path (``BrickSession.fast``: a plain READ), or None
        self.fast: Callable[[Call], tuple[Any, Any] | None] | None = getattr(session, "fast", None)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Take bytes received (``b""``: the peer closed) and answer what they complete, as
        far as one slice of work goes (see :meth:`resume`)."""
        self.conn.receive_data(data)
        return self.resume()

    def resume(self) -> list[Any]:
        """Answer buffered calls until no complete record is left or one slice of work is
        done: :data:`SLICE_CALLS` calls or :data:`SLICE_BYTES` bytes of replies.  Then
        ``more`` says calls are left (the loop sends, lets other connections run and comes
        back), and ``expensive`` holds a record too costly to decode here (over
        :data:`DECODE_INLINE`): the loop decodes it in a worker thread and calls
        :meth:`answer_event`."""
        conn = self.conn
        self.more = False
        if self.work is not None:
            out = self._step()
            if self.work is not None:
                self.more = True
                return out
        else:
            out = []
        calls = size = 0
        while True:
            if calls >= SLICE_CALLS or size >= SLICE_BYTES or self.work is not None:
                self.more = True
                return out
            try:
                event = conn.next_event(DECODE_INLINE)
            except ProtocolError as exc:
                out.extend(self._protocol_error(exc))
                if self.closing:
                    return out
                continue
            if event is NEED_DATA:
                return out
            if isinstance(event, Expensive):
                self.expensive = event.record
                return out
            calls += 1
            n = len(out)
            out.extend(self.answer_event(event))
            for b in out[n:]:
                size += len(b) if isinstance(b, bytes) else memoryview(b).nbytes
            if self.closing:
                return out

    def answer_event(self, event: Any) -> list[Any]:
        """The buffers for one event of the connection (a Call, mostly)."""
        if isinstance(event, ConnectionClosed):
            self.closing = True
            return []
        if event.__class__ is not Call:
            return []
        faults = self.faults
        if faults is None or not faults.active:
            return self.answer(event, fast=self.fast)
        fault = faults.match(self.name, _proc_name(event))
        if fault is not None:
            if fault.action == "drop":
                self._record(event, None, "fault: drop")
                self.closing = True
                return []
            if fault.delay or fault.action == "hang":
                self.delayed.append((event, fault))
                return []
        return self.answer(event, fault)

    def decode_expensive(self, record: Any) -> Any:
        """Decode ``record`` (in a worker thread: it touches the connection's decoder only);
        the event, or the ProtocolError, goes to :meth:`answer_decoded` in the trio thread."""
        try:
            event: Any = self.conn.decode_record(record)
        except ProtocolError as exc:
            event = exc
        return event

    def answer_decoded(self, event: Any) -> list[Any]:
        """Answer what :meth:`decode_expensive` returned."""
        if isinstance(event, ProtocolError):
            return self._protocol_error(event)
        return self.answer_event(event)

    def _protocol_error(self, exc: ProtocolError) -> list[Any]:
        log.info("%s: connection %d from %s: %s", self.name, self.cid, self.peer, exc)
        self._record_error(exc)
        reply = self._error_reply(exc)
        if exc.fatal:
            self.closing = True
        return [reply] if reply is not None else []

    def answer(
        self, call: Call, fault: Any = None, fast: Callable[[Call], tuple[Any, Any] | None] | None = None
    ) -> list[Any]:
        """The buffers answering ``call``: ``fast(call)`` first if given (the session's fast
        path, ``BrickSession.fast``; None from it: not for it), else the session's
        ``handle``.  Nothing either does, and no reply that cannot be encoded, escapes: either
        becomes a SYSTEM_ERR reply to that call alone (what rpcsvc sends when an actor fails,
        ``rpcsvc_error_reply``)."""
        in_size = self.conn.last_record_size - len(call.payload)  # what the call log may keep
        if fault is not None and fault.errno is not None:
            self.streak = 0
            return self._fail(call, fault)
        t0 = time.perf_counter()
        try:
            done = fast(call) if fast is not None else None
            if done is not None:
                self.streak += 1
                took = time.perf_counter() - t0
                if took > SLOW_CALL:
                    self._slow(call, took)
                return self._fast_reply(call, *done, in_size)
            self.streak = 0
            result, payload = self.session.handle(call)
        except Exception:  # a bug must not take the server down: answer SYSTEM_ERR
            return self._handler_failed(call, in_size)
        took = time.perf_counter() - t0
        if took > SLOW_CALL:
            self._slow(call, took)
        if result is DEFERRED:  # the session answers later, through Connection.reply
            return []
        if result.__class__ is Denied:  # rpcsvc refused the call (MSG_DENIED), e.g. an insecure port
            self._record(call, None, f"{result.reject_stat.name}: {result.auth_stat.name}")
            return self.conn.send_buffers(dataclasses.replace(result, xid=call.xid))
        if isinstance(result, Sliced):  # long work, a step per slice (see resume)
            self.work = (call, result.steps, in_size)
            return []
        return self.reply_buffers(call, result, payload, in_size)

    def answer_fast(self, call: Call) -> list[Any] | None:
        """The buffers answering ``call`` by the session's fast path alone, or None (no
        fast path, faults active, or ``fast`` declined: nothing was done, :meth:`answer_event`
        answers it).  Touches no trio object: a brick connection's reader thread
        (:mod:`.brickthread`) calls it under the server lock."""
        fast = self.fast
        faults = self.faults
        if fast is None or (faults is not None and faults.active):
            return None
        in_size = self.conn.last_record_size - len(call.payload)
        t0 = time.perf_counter()
        try:
            done = fast(call)
        except Exception:  # as in answer(): SYSTEM_ERR to this call alone
            return self._handler_failed(call, in_size)
        if done is None:
            return None
        took = time.perf_counter() - t0
        if took > SLOW_CALL:
            self._slow(call, took)
        return self._fast_reply(call, *done, in_size)

    def _handler_failed(self, call: Call, in_size: int) -> list[Any]:
        """A handler (or the fast path) raised: log it, count it, answer that call SYSTEM_ERR."""
        log.exception("%s: %s failed", self.name, _proc_name(call))
        self.errors += 1
        self._record(call, None, "SYSTEM_ERR", in_size)
        return self._system_err(call)

    def _slow(self, call: Call, took: float) -> None:
        """Every other client waited as long: say which call it was."""
        level = logging.DEBUG if call.prog == GLUSTER_CLI_PROGRAM else logging.WARNING
        log.log(level, "%s: %s took %.0f ms: %.300r", self.name, _proc_name(call), took * 1000, call.args)

    def _step(self) -> list[Any]:
        """Run the sliced work for one slice (:data:`SLICE_SECONDS`); its reply once done."""
        assert self.work is not None
        call, steps, in_size = self.work
        end = time.perf_counter() + SLICE_SECONDS
        try:
            while time.perf_counter() < end:
                next(steps)
            return []
        except StopIteration as done:
            self.work = None
            result, payload = done.value
            return self.reply_buffers(call, result, payload, in_size)
        except Exception:  # as in answer(): a bug answers SYSTEM_ERR
            self.work = None
            return self._handler_failed(call, in_size)

    def reply_buffers(self, call: Call, result: Any, payload: Any = b"", in_size: int = 0) -> list[Any]:
        """Record the reply to ``call`` and encode it (SYSTEM_ERR if it cannot be encoded)."""
        try:
            buffers = self.conn.send_buffers(Reply(call.xid, result, payload=payload))
        except (ValueError, TypeError, OverflowError, struct.error) as exc:
            log.error(
                "%s: the reply to %s cannot be encoded (%s); answering SYSTEM_ERR", self.name, _proc_name(call), exc
            )
            self.errors += 1
            self._record(call, None, f"SYSTEM_ERR: reply not encodable: {exc}", in_size)
            return self._system_err(call)
        self._record(call, result, None, in_size + len(buffers[0]))
        return buffers

    def _fast_reply(self, call: Call, result: Any, payload: Any, in_size: int) -> list[Any]:
        """:meth:`reply_buffers` for the successful reply the session's fast path made (it
        has no MSG_DENIED, DEFERRED or sliced answers), with the proto's SUCCESS encoder."""
        try:
            buffers = encode_success_reply(call.xid, result, payload)
        except (ValueError, TypeError, OverflowError, struct.error):
            return self.reply_buffers(call, result, payload, in_size)  # (which answers SYSTEM_ERR)
        if self.calls is not None:
            self._record(call, result, None, in_size + len(buffers[0]))
        return buffers

    def _system_err(self, call: Call) -> list[Any]:
        return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))

    def call_buffers(self, call: Call) -> list[Any]:
        """Record a one-way CALL this server sends to its peer and encode it."""
        if self.calls is not None:
            self.calls.append(
                CallRecord(now(), self.name, self.cid, self.peer, call.prog, call.vers, call.proc, call.xid,
                           call.args, direction="out")
            )  # fmt: skip
        return self.conn.send_buffers(call)

    def _fail(self, call: Call, fault: Any) -> list[Any]:
        program = lookup(call.prog, call.vers)
        assert program is not None  # the call was decoded, so its program is known
        proc = program.procs[call.proc]
        if proc.reply is None or "op_ret" not in proc.reply.field_names:
            self._record(call, None, "fault: SYSTEM_ERR")
            return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
        result = proc.reply(op_ret=-1, op_errno=fault.errno)
        try:
            buffers = self.conn.send_buffers(Reply(call.xid, result))
        except (ValueError, TypeError, OverflowError, struct.error) as exc:  # an errno no int32 holds
            self._record(call, None, f"fault: SYSTEM_ERR: reply not encodable: {exc}")
            return self._system_err(call)
        self._record(call, result, f"fault: errno {fault.errno}")
        return buffers

    def _error_reply(self, exc: ProtocolError) -> bytes | None:
        """rpcsvc's error reply, with the body some actors still attach to GARBAGE_ARGS."""
        garbage = getattr(self.session, "garbage", None)
        if exc.reply == "GARBAGE_ARGS" and exc.xid and exc.prog is not None and garbage is not None:
            body = garbage(exc.prog, exc.proc)
            if body is NO_REPLY:
                return None
            if body.__class__ is Denied:
                return b"".join(bytes(b) for b in self.conn.send_buffers(dataclasses.replace(body, xid=exc.xid)))
            if body is not None:
                return b"".join(
                    bytes(b) for b in self.conn.send_buffers(Reply(exc.xid, body, stat=AcceptStat.GARBAGE_ARGS))
                )
        return error_reply(exc)

    def _record(self, call: Call, result: Any, error: str | None, size: int = 0) -> None:
        """Log ``call`` (``size``: its bytes on the wire, payloads left out, for the log's
        byte bound)."""
        if self.calls is not None:
            self.calls.append(
                (now(), self.name, self.cid, self.peer, call.prog, call.vers, call.proc, call.xid, call.args, result,
                 error), size,
            )  # fmt: skip

    def _record_error(self, exc: ProtocolError) -> None:
        if self.calls is not None:
            self.calls.append(
                CallRecord(
                    now(),
                    self.name,
                    self.cid,
                    self.peer,
                    exc.prog,
                    exc.vers,
                    exc.proc,
                    exc.xid or 0,
                    None,
                    None,
                    f"{exc.reply}: {exc}",
                )
            )

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if close is not None:
            close()


def _proc_name(call: Call) -> str:
    program = lookup(call.prog, call.vers)
    proc = program.procs.get(call.proc) if program else None
    return proc.name if proc else ""
