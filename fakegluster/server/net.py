"""The thin trio shell: move bytes between a connection and an RpcConnection + session.

:class:`Dispatcher` is everything between bytes received and buffers to send (decoding,
error replies, the call log, faults); it does no IO.  Two loops drive it:

* :func:`serve_socket` — TCP and unix connections.  The hot path: it calls the socket's
  non-blocking ``recv_into``/``sendmsg`` directly and only waits (``trio.lowlevel
  .wait_readable``/``wait_writable``) when the kernel says it would block, so a request
  costs one pass of trio's scheduler instead of three (the high-level stream API adds a
  checkpoint to every call), and a READ payload goes out with its header in one
  ``sendmsg`` without being copied.  It yields every :data:`FAIRNESS` requests so a busy
  client cannot starve the others.
* :func:`serve_stream` — any ``trio.abc.Stream`` (emulated rdma, memory streams in tests).

A misbehaving peer costs nothing to the others: its task ends, its fds are released.
"""

from __future__ import annotations

import errno
import itertools
import logging
import socket
from collections.abc import Callable, Sequence
from time import time as now
from typing import Any, Protocol

import trio

from ..proto import AcceptStat, Call, ConnectionClosed, ProtocolError, Reply, Role, RpcConnection, error_reply
from ..proto.events import NEED_DATA
from ..proto.programs import Program, lookup
from .calllog import CallLog, CallRecord, Faults
from .glusterd import NO_REPLY

__all__ = ["Session", "Dispatcher", "serve_stream", "serve_socket", "serve_listener", "RECEIVE_SIZE"]

log = logging.getLogger("fakegluster.server")
RECEIVE_SIZE = 256 * 1024
#: serve_socket yields to the scheduler at least once per this many requests.
FAIRNESS = 32
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

    def feed(self, data: bytes | memoryview) -> list[Any]:
        conn = self.conn
        conn.receive_data(data)
        out: list[Any] = []
        while True:
            try:
                event = conn.next_event()
            except ProtocolError as exc:
                log.info("%s: connection %d from %s: %s", self.name, self.cid, self.peer, exc)
                self._record_error(exc)
                reply = self._error_reply(exc)
                if reply is not None:
                    out.append(reply)
                if exc.fatal:
                    self.closing = True
                    return out
                continue
            if event is NEED_DATA:
                return out
            if isinstance(event, ConnectionClosed):
                self.closing = True
                return out
            if not isinstance(event, Call):
                continue
            fault = self.faults.match(self.name, _proc_name(event)) if self.faults and self.faults.active else None
            if fault is not None:
                if fault.action == "drop":
                    self._record(event, None, "fault: drop")
                    self.closing = True
                    return out
                if fault.delay or fault.action == "hang":
                    self.delayed.append((event, fault))
                    continue
            out.extend(self.answer(event, fault))

    def answer(self, call: Call, fault: Any = None) -> list[Any]:
        if fault is not None and fault.errno is not None:
            return self._fail(call, fault)
        try:
            result, payload = self.session.handle(call)
        except Exception:  # a bug must not take the server down: answer SYSTEM_ERR
            log.exception("%s: %s failed", self.name, _proc_name(call))
            self._record(call, None, "SYSTEM_ERR")
            return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
        self._record(call, result, None)
        return self.conn.send_buffers(Reply(call.xid, result, payload=payload))

    def _fail(self, call: Call, fault: Any) -> list[Any]:
        proc = lookup(call.prog, call.vers).procs[call.proc]
        if proc.reply is None or "op_ret" not in proc.reply.field_names:
            self._record(call, None, "fault: SYSTEM_ERR")
            return self.conn.send_buffers(Reply(call.xid, stat=AcceptStat.SYSTEM_ERR))
        result = proc.reply.cls(op_ret=-1, op_errno=fault.errno)
        self._record(call, result, f"fault: errno {fault.errno}")
        return self.conn.send_buffers(Reply(call.xid, result))

    def _error_reply(self, exc: ProtocolError) -> bytes | None:
        """rpcsvc's error reply, with the body some actors still attach to GARBAGE_ARGS."""
        garbage = getattr(self.session, "garbage", None)
        if exc.reply == "GARBAGE_ARGS" and exc.xid and exc.prog is not None and garbage is not None:
            body = garbage(exc.prog, exc.proc)
            if body is NO_REPLY:
                return None
            if body is not None:
                return b"".join(
                    bytes(b) for b in self.conn.send_buffers(Reply(exc.xid, body, stat=AcceptStat.GARBAGE_ARGS))
                )
        return error_reply(exc)

    def _record(self, call: Call, result: Any, error: str | None) -> None:
        if self.calls is not None:
            self.calls.append(
                (
                    now(),
                    self.name,
                    self.cid,
                    self.peer,
                    call.prog,
                    call.vers,
                    call.proc,
                    call.xid,
                    call.args,
                    result,
                    error,
                )
            )

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


async def _run_delayed(dispatcher: Dispatcher, send: Callable[[list[Any]], Any], call: Call, fault: Any) -> None:
    if fault.action == "hang":
        dispatcher._record(call, None, "fault: hang")
        await trio.sleep_forever()
    await trio.sleep(fault.delay)
    buffers = dispatcher.answer(call, fault if fault.errno is not None else None)
    try:
        await send(buffers)
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass


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
) -> None:
    """Serve one connection over any trio stream until the peer closes it."""
    d = Dispatcher(
        session,
        programs,
        name=name,
        peer=peer,
        connection_id=connection_id,
        calls=calls,
        faults=faults,
        max_record=max_record,
    )
    send_lock = trio.Lock()  # delayed answers (faults) write from their own tasks

    async def send(buffers: list[Any]) -> None:
        async with send_lock:
            await stream.send_all(b"".join(bytes(b) if isinstance(b, memoryview) else b for b in buffers))

    log.debug("%s: connection %d from %s", name, connection_id, peer)
    try:
        async with trio.open_nursery() as nursery:
            while not d.closing:
                try:
                    data = await stream.receive_some(RECEIVE_SIZE)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    data = b""
                out = d.feed(data)
                for call, fault in d.delayed:
                    nursery.start_soon(_run_delayed, d, send, call, fault)
                d.delayed.clear()
                if out:
                    try:
                        await send(out)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        break
            nursery.cancel_scope.cancel()
    finally:
        d.close()
        await trio.aclose_forcefully(stream)
        log.debug("%s: connection %d from %s closed", name, connection_id, peer)


async def _sendmsg(sock: socket.socket, buffers: list[Any]) -> None:
    """Write all ``buffers`` (vectored, no joining copies), waiting only when it would block."""
    pending = [memoryview(b).cast("B") if not isinstance(b, bytes) else b for b in buffers]
    while pending:
        try:
            sent = sock.sendmsg(pending)
        except BlockingIOError:
            await trio.lowlevel.wait_writable(sock)
            continue
        while sent:
            head = pending[0]
            if sent >= len(head):
                sent -= len(head)
                pending.pop(0)
            else:
                pending[0] = memoryview(head)[sent:]
                sent = 0


async def serve_socket(
    sock: socket.socket,
    session: Session,
    programs: Sequence[Program],
    *,
    name: str,
    peer: str,
    connection_id: int,
    calls: CallLog | None = None,
    faults: Faults | None = None,
    max_record: int | None = None,
) -> None:
    """Serve one connected non-blocking socket until the peer closes it (the hot path)."""
    d = Dispatcher(
        session,
        programs,
        name=name,
        peer=peer,
        connection_id=connection_id,
        calls=calls,
        faults=faults,
        max_record=max_record,
    )
    send_lock = trio.Lock()
    buf = bytearray(RECEIVE_SIZE)
    view = memoryview(buf)

    async def send(buffers: list[Any]) -> None:
        async with send_lock:
            await _sendmsg(sock, buffers)

    log.debug("%s: connection %d from %s", name, connection_id, peer)
    try:
        async with trio.open_nursery() as nursery:
            busy = 0
            while not d.closing:
                try:
                    n = sock.recv_into(buf)
                except BlockingIOError:
                    busy = 0
                    await trio.lowlevel.wait_readable(sock)
                    continue
                except OSError:
                    n = 0
                out = d.feed(view[:n] if n else b"")
                for call, fault in d.delayed:
                    nursery.start_soon(_run_delayed, d, send, call, fault)
                d.delayed.clear()
                if out:
                    try:
                        if send_lock.locked():
                            await send(out)
                        else:
                            await _sendmsg(sock, out)
                    except OSError:
                        break
                busy += 1
                if busy >= FAIRNESS:
                    busy = 0
                    await trio.lowlevel.checkpoint()
            nursery.cancel_scope.cancel()
    finally:
        d.close()
        sock.close()
        log.debug("%s: connection %d from %s closed", name, connection_id, peer)


async def serve_listener(
    lsock: socket.socket, handler: Callable[[socket.socket, Any], Any], nursery: trio.Nursery
) -> None:
    """Accept connections on a listening socket forever; ``handler(sock, addr)`` serves each
    (in ``nursery``).  Accept errors that mean "too many files" are logged and retried later,
    like trio's serve_listeners."""
    lsock.setblocking(False)
    try:
        while True:
            try:
                conn, addr = lsock.accept()
            except BlockingIOError:
                await trio.lowlevel.wait_readable(lsock)
                continue
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS):
                    log.error("accept: %s; sleeping 100 ms", exc)
                    await trio.sleep(0.1)
                    continue
                raise
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            nursery.start_soon(handler, conn, addr)
            await trio.lowlevel.checkpoint()
    finally:
        lsock.close()
