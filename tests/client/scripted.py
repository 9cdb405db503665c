"""Scripted servers for gfclient's unit tests: the server end of trio memory streams.

:class:`Peer` is one server connection driven by the test (read a call, answer it, or not).
:class:`ScriptedCluster` plays glusterd + one brick well enough for a mount: tests patch
``gfclient.mgmt.open_stream`` / ``gfclient.brick.open_stream`` with :meth:`open_stream`, and
it records every call per connection.  Answers follow what a real 10.3 glusterd/brick sent
in ``fixtures/pcaps``; hooks let a test make the brick go silent or drop the connection.
"""

from __future__ import annotations

import dataclasses
import errno
from collections.abc import Callable
from typing import Any

import trio
import trio.testing

from fakegluster.mgmt.create import plain_volume
from fakegluster.mgmt.volgen import client_volfile
from fakegluster.proto import fops as F
from fakegluster.proto.common import ROOT_GFID, GfStatfs, GfxIattx
from fakegluster.proto.connection import Role, RpcConnection, error_reply
from fakegluster.proto.dump import GfCommonRsp, GfDumpRsp, GfProgDetail
from fakegluster.proto.errors import AcceptStat, AuthStat, ProtocolError, RejectStat
from fakegluster.proto.events import NEED_DATA, Call, ConnectionClosed, Denied, Reply
from fakegluster.proto.handshake import GfGetspecRsp, GfSetvolumeRsp
from fakegluster.proto.portmap import PmapPortByBrickRsp

DUMP, HNDSK, PMAP, FOP, CBK = 123451501, 14398633, 34123456, 1298437, 52743234
GLUSTERD_PROGS = (("GF-DUMP", DUMP, 1), ("Gluster Portmap", PMAP, 1), ("Gluster Handshake", HNDSK, 2))
BRICK_PROGS = (
    ("GlusterFS 4.x v1", FOP, 400),
    ("GlusterFS 3.3", FOP, 330),
    ("GF-DUMP", DUMP, 1),
    ("GlusterFS Handshake", HNDSK, 2),
)


def dump_rsp(progs: tuple[tuple[str, int, int], ...]) -> Any:
    return GfDumpRsp(0, 0, 0, tuple(GfProgDetail(n, p, v) for n, p, v in progs))


def iatt(gfid: bytes, mode: int, size: int = 0) -> Any:
    return GfxIattx(
        ia_gfid=gfid,
        ia_flags=0x17FF,
        ia_ino=int.from_bytes(gfid[8:], "big"),
        ia_size=size,
        ia_nlink=1,
        ia_blksize=4096,
        mode=mode,
    )


class Peer:
    """The server side of one connection."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.conn = RpcConnection(Role.SERVER, None)  # every registered program
        self.xid = 1000
        self.refused: list[ProtocolError] = []

    async def call(self) -> Call:
        """The next CALL from the client (EOFError when it closes).  A call the connection
        refuses (unknown program or procedure...) is answered like rpcsvc does and skipped."""
        while True:
            try:
                ev = self.conn.next_event()
            except ProtocolError as exc:
                self.refused.append(exc)
                data = error_reply(exc)
                if data:
                    await self.stream.send_all(data)
                continue
            if ev is NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(1 << 20))
                continue
            if isinstance(ev, ConnectionClosed):
                raise EOFError("client closed the connection")
            assert isinstance(ev, Call), ev
            return ev

    async def reply(
        self, call: Call, result: Any = None, *, payload: bytes = b"", stat: AcceptStat = AcceptStat.SUCCESS
    ) -> None:
        await self.stream.send_all(self.conn.send(Reply(call.xid, result, stat, payload=payload)))

    async def deny(self, call: Call, auth_stat: AuthStat = AuthStat.AUTH_REJECTEDCRED) -> None:
        await self.stream.send_all(self.conn.send(Denied(call.xid, RejectStat.AUTH_ERROR, auth_stat=auth_stat)))

    async def callback(self, proc: int, args: Any = None) -> None:
        """A server-to-client CALL of the GF callback program."""
        self.xid += 1
        await self.stream.send_all(self.conn.send(Call(self.xid, CBK, 1, proc, args)))

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


def pair() -> tuple[trio.abc.Stream, Peer]:
    """(client stream, server Peer) over an in-memory, lockstep-free stream pair."""
    client, server = trio.testing.memory_stream_pair()
    return client, Peer(server)


@dataclasses.dataclass
class Conn:
    """One accepted connection of the scripted cluster."""

    host: str
    port: int
    peer: Peer
    calls: list[Call] = dataclasses.field(default_factory=list)


class ScriptedCluster:
    """glusterd (``glusterd_port``) + one brick (``brick_port``) on host ``vm``.

    ``volfile``: what GETSPEC returns (default: glusterd 10.3's volfile for one brick).
    ``silent``: when set, the brick reads calls and never answers (the ping-timeout case);
    ``silent_glusterd`` the same for glusterd; ``frozen_calls``: (prog, proc) the brick never
    answers while the rest is answered (the frame-timeout case).
    ``refuse``: ports whose connection attempts fail with ECONNREFUSED.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        volume: str = "testvol",
        volfile: str | None = None,
        brick_path: str = "/bricks/b0",
    ) -> None:
        self.nursery = nursery
        self.volume = volume
        self.brick_path = brick_path
        self.glusterd_port, self.brick_port = 24007, 49152
        self.volfile = volfile or client_volfile(plain_volume(volume, [("vm", brick_path)]), trusted=False)
        self.conns: list[Conn] = []
        self.silent = False
        self.silent_glusterd = False
        self.frozen_calls: set[tuple[int, int]] = set()
        self.refuse: set[int] = set()
        self.connect_timeouts: list[float] = []
        self.files: dict[str, tuple[bytes, bytearray]] = {}
        self.gfids: dict[bytes, str] = {}
        self.next_fd = 0
        self.on_call: Callable[[Conn, Call], None] | None = None

    # the patched transport
    async def open_stream(
        self,
        transport: str,
        host: str | None = None,
        port: int | None = None,
        socket: str | None = None,
        *,
        timeout: float = 30.0,
        tls: object = None,
    ) -> trio.abc.Stream:
        from gfclient.errors import GlusterConnectionError

        self.connect_timeouts.append(timeout)
        if port in self.refuse:
            raise GlusterConnectionError(
                errno.ECONNREFUSED, f"connection failed on host {host} and port {port}: Connection refused"
            )
        client, peer = pair()
        conn = Conn(host or socket or "", port or 0, peer)
        self.conns.append(conn)
        self.nursery.start_soon(self._serve, conn)
        return client

    def calls_on(self, port: int) -> list[list[Call]]:
        return [c.calls for c in self.conns if c.port == port]

    async def _serve(self, conn: Conn) -> None:
        peer = conn.peer
        try:
            while True:
                call = await peer.call()
                conn.calls.append(call)
                if self.on_call is not None:
                    self.on_call(conn, call)
                if conn.port == self.brick_port and (self.silent or (call.prog, call.proc) in self.frozen_calls):
                    continue
                if conn.port == self.glusterd_port and self.silent_glusterd:
                    continue
                await self._answer(conn, call)
        except (EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def _answer(self, conn: Conn, call: Call) -> None:
        peer, brick = conn.peer, conn.port == self.brick_port
        key = (call.prog, call.proc)
        if key == (DUMP, 1):
            await peer.reply(call, dump_rsp(BRICK_PROGS if brick else GLUSTERD_PROGS))
        elif key == (DUMP, 2):
            await peer.reply(call, GfCommonRsp(0, 0, None))
        elif key == (HNDSK, 2):
            spec = self.volfile if call.args.key == self.volume else ""
            await peer.reply(call, GfGetspecRsp(len(spec) if spec else -1, 0 if spec else errno.ENOENT, spec, None))
        elif key == (PMAP, 1):
            ok = call.args.brick == self.brick_path
            await peer.reply(call, PmapPortByBrickRsp(0 if ok else -1, 0, 0, self.brick_port if ok else 0))
        elif key == (HNDSK, 1):
            reply = {
                "ERROR": b"Success\0",
                "process-uuid": b"scripted\0",
                "child_up": b"1\0",
                "volume-id": b"11111111-2222-3333-4444-555555555555\0",
            }
            await peer.reply(call, GfSetvolumeRsp(0, errno.EINVAL, reply))
        elif call.prog == FOP:
            await self._fop(peer, call)
        else:
            await peer.reply(call, stat=AcceptStat.PROC_UNAVAIL)

    async def _fop(self, peer: Peer, call: Call) -> None:
        a, proc = call.args, F.GfFop(call.proc)
        zero = GfxIattx()
        if proc == F.GfFop.STATFS:
            await peer.reply(call, F.GfxStatfsRsp(0, 0, None, GfStatfs(4096, 4096, 100, 50, 40, 10, 5, 5, 1, 0, 255)))
        elif proc == F.GfFop.LOOKUP:
            if a.gfid == ROOT_GFID or a.pargfid == bytes(16):
                await peer.reply(call, F.GfxCommon2iattRsp(0, 0, None, iatt(ROOT_GFID, 0o40755, 4096), zero))
            elif a.bname in self.files:
                gfid, data = self.files[a.bname]
                await peer.reply(call, F.GfxCommon2iattRsp(0, 0, None, iatt(gfid, 0o100644, len(data)), zero))
            else:
                await peer.reply(call, F.GfxCommon2iattRsp(-1, errno.ENOENT, None, zero, zero))
        elif proc == F.GfFop.CREATE:
            gfid = a.xdata["gfid-req"].value
            self.files[a.bname] = (gfid, bytearray())
            self.gfids[gfid] = a.bname
            self.next_fd += 1
            await peer.reply(call, F.GfxCreateRsp(0, 0, None, iatt(gfid, 0o100644), self.next_fd - 1, zero, zero))
        elif proc in (F.GfFop.OPEN, F.GfFop.OPENDIR):
            self.next_fd += 1
            await peer.reply(call, F.GfxOpenRsp(0, 0, None, self.next_fd - 1))
        elif proc == F.GfFop.WRITE:
            data = self.files[self.gfids[a.gfid]][1]
            end = a.offset + len(call.payload)
            data.extend(bytes(max(0, end - len(data))))
            data[a.offset : end] = call.payload
            st = iatt(a.gfid, 0o100644, len(data))
            await peer.reply(call, F.GfxCommon2iattRsp(len(call.payload), 0, None, st, st))
        elif proc == F.GfFop.READ:
            data = bytes(self.files[self.gfids[a.gfid]][1][a.offset : a.offset + a.size])
            await peer.reply(call, F.GfxReadRsp(len(data), 0, zero, len(data), None), payload=data)
        elif proc == F.GfFop.FSTAT:
            size = len(self.files[self.gfids[a.gfid]][1])
            await peer.reply(call, F.GfxCommonIattRsp(0, 0, None, iatt(a.gfid, 0o100644, size)))
        elif proc in (F.GfFop.FLUSH, F.GfFop.RELEASE, F.GfFop.RELEASEDIR):
            await peer.reply(call, F.GfxCommonRsp(0, 0, {} if proc != F.GfFop.FLUSH else None))
        else:
            await peer.reply(call, stat=AcceptStat.PROC_UNAVAIL)
