"""The thin trio shell: move bytes between a stream and an RpcConnection + session.

One task per connection.  Everything the peer sends either decodes into a Call that the
session answers, or raises ProtocolError, which becomes rpcsvc's error reply (or closes the
connection when the framing is broken).  A misbehaving peer costs nothing to the others:
its task ends, its fds are released, nothing else is touched.  Replies produced from one
receive are written with one ``send_all``.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, Protocol, Sequence

import trio

from ..proto import AcceptStat, Call, ConnectionClosed, ProtocolError, Reply, Role, RpcConnection, error_reply
from ..proto.events import NEED_DATA
from ..proto.programs import Program
from ..proto.render import proc_name, program_name
from .calllog import CallLog, CallRecord, Faults, now
from .glusterd import NO_REPLY

__all__ = ["Session", "serve_stream", "RECEIVE_SIZE"]

log = logging.getLogger("fakegluster.server")
RECEIVE_SIZE = 256 * 1024
_connection_ids = itertools.count(1)


class Session(Protocol):
    def handle(self, call: Call) -> tuple[Any, Any]: ...


def next_connection_id() -> int:
    return next(_connection_ids)


async def serve_stream(
    stream: trio.abc.Stream,
    session: Session,
    programs: Sequence[Program],
    *,
    name: str,
    peer: str,
    connection_id: int,
    calls: CallLog | None = None,
    faults: Faults | None = None,
    max_record: int | None = None,
    on_close: Callable[[], None] | None = None,
) -> None:
    """Serve one connection until the peer closes it (or breaks the protocol)."""
    conn = RpcConnection(Role.SERVER, programs, **({"max_record": max_record} if max_record else {}))
    send_lock = trio.Lock()  # delayed answers (faults) write from their own tasks
    log.debug("%s: connection %d from %s", name, connection_id, peer)
    try:
        async with trio.open_nursery() as nursery:
            while True:
                try:
                    data = await stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                conn.receive_data(data)
                out: list[Any] = []
                closing = False
                while True:
                    try:
                        event = conn.next_event()
                    except ProtocolError as exc:
                        log.info("%s: connection %d from %s: %s", name, connection_id, peer, exc)
                        _record_error(calls, name, connection_id, peer, exc)
                        reply = _error_reply(conn, session, exc)
                        if reply is not None:
                            out.append(reply)
                        if exc.fatal:
                            closing = True
                            break
                        continue
                    if event is NEED_DATA:
                        break
                    if isinstance(event, ConnectionClosed):
                        closing = True
                        break
                    if not isinstance(event, Call):
                        continue  # a reply to a callback we never sent would have raised
                    fault = faults.match(name, proc_name(event.prog, event.vers, event.proc) or "") if faults else None
                    if fault is not None and (fault.delay or fault.action == "hang"):
                        nursery.start_soon(_delayed, stream, send_lock, conn, session, event, fault, name,
                                           connection_id, peer, calls)
                        continue
                    if fault is not None and fault.action == "drop":
                        _record(calls, name, connection_id, peer, event, None, "fault: drop")
                        closing = True
                        break
                    out.extend(_answer(conn, session, event, fault, name, connection_id, peer, calls))
                if out:
                    try:
                        async with send_lock:
                            await stream.send_all(b"".join(out) if len(out) > 1 else out[0])
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        closing = True
                if closing:
                    nursery.cancel_scope.cancel()
                    break
    finally:
        close = getattr(session, "close", None)
        if close is not None:
            close()
        if on_close is not None:
            on_close()
        await trio.aclose_forcefully(stream)
        log.debug("%s: connection %d from %s closed", name, connection_id, peer)


def _error_reply(conn: RpcConnection, session: Session, exc: ProtocolError) -> bytes | None:
    """rpcsvc's error reply, with the body some actors still attach to GARBAGE_ARGS."""
    garbage = getattr(session, "garbage", None)
    if exc.reply == "GARBAGE_ARGS" and exc.xid and exc.prog is not None and garbage is not None:
        body = garbage(exc.prog, exc.proc)
        if body is NO_REPLY:
            return None
        if body is not None:
            return b"".join(bytes(b) for b in conn.send_buffers(Reply(exc.xid, body, stat=AcceptStat.GARBAGE_ARGS)))
    return error_reply(exc)


def _answer(conn: RpcConnection, session: Session, call: Call, fault: Any, name: str, cid: int, peer: str,
            calls: CallLog | None) -> list[Any]:
    if fault is not None and fault.errno is not None and fault.delay == 0:
        return _fail(conn, call, fault, name, cid, peer, calls)
    try:
        result, payload = session.handle(call)
    except Exception:  # a bug must not take the server down: answer SYSTEM_ERR
        log.exception("%s: %s failed", name, proc_name(call.prog, call.vers, call.proc))
        _record(calls, name, cid, peer, call, None, "SYSTEM_ERR")
        return conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
    _record(calls, name, cid, peer, call, result, None)
    return conn.send_buffers(Reply(call.xid, result, payload=payload))


def _fail(conn: RpcConnection, call: Call, fault: Any, name: str, cid: int, peer: str,
          calls: CallLog | None) -> list[Any]:
    from ..proto.programs import lookup

    proc = lookup(call.prog, call.vers).procs[call.proc]
    if proc.reply is None or "op_ret" not in proc.reply.field_names:
        _record(calls, name, cid, peer, call, None, "fault: SYSTEM_ERR")
        return conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
    result = proc.reply.cls(op_ret=-1, op_errno=fault.errno)
    _record(calls, name, cid, peer, call, result, f"fault: errno {fault.errno}")
    return conn.send_buffers(Reply(call.xid, result))


async def _delayed(stream: trio.abc.Stream, send_lock: trio.Lock, conn: RpcConnection, session: Session, call: Call, fault: Any,
                   name: str, cid: int, peer: str, calls: CallLog | None) -> None:
    if fault.action == "hang":
        _record(calls, name, cid, peer, call, None, "fault: hang")
        await trio.sleep_forever()
    await trio.sleep(fault.delay)
    buffers = (_fail if fault.errno is not None else _answer)(conn, session, call, fault if fault.errno else None,
                                                              name, cid, peer, calls)
    try:
        async with send_lock:
            await stream.send_all(b"".join(bytes(b) for b in buffers))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


def _record(calls: CallLog | None, name: str, cid: int, peer: str, call: Call, result: Any, error: str | None) -> None:
    if calls is not None:
        calls.append(CallRecord(now(), name, cid, peer, program_name(call.prog, call.vers) or "",
                                proc_name(call.prog, call.vers, call.proc) or "", call.xid, call.args, result, error))


def _record_error(calls: CallLog | None, name: str, cid: int, peer: str, exc: ProtocolError) -> None:
    if calls is not None:
        calls.append(CallRecord(now(), name, cid, peer, program_name(exc.prog, exc.vers) or "",
                                proc_name(exc.prog, exc.vers, exc.proc) or "", exc.xid or 0, None, None,
                                f"{exc.reply}: {exc}"))
