"""The first answers of ``fakegluster serve``, before trio and the server are imported.

A client's first calls to glusterd are GF-DUMP DUMP and the handshake's GETSPEC (the
volfile: ``glusterfs_volfile_fetch`` in ``glusterfsd-mgmt.c``, what ``glfs_init`` waits for).
While the main thread imports trio and the server (~150 ms of CPU), a thread of this module
plans the volumes (:func:`.planning.plan_volume`: no trio, no construct), accepts on the
glusterd listeners bound before (:func:`fakegluster.cli._prebind`) and answers those two
calls with hand-written XDR, byte for byte what :class:`~.glusterd.GlusterdSession` answers
(tests/test_serve_early_answer.py sends the same calls to both).  Anything else, and anything
it is not sure of, it leaves unread in the kernel (it peeks at a whole record first) for the
trio server, which then takes the listeners and every connection (:meth:`EarlyServer.handover`),
each with the op-version range of its last GETSPEC (``volume set``'s client check reads it).

Only the simple case takes this path (:func:`fakegluster.cli._early_server` decides):
in-memory volumes on one node, no call log, pcap, TLS or connection limit, clients on
loopback (the trusted volfile).  The volfile comes from the same planned models the server
then serves (volume-id, ``auth.login`` credentials), made by the same
:func:`fakegluster.mgmt.volgen.client_volfile` as :meth:`.volume.Volume.volfile`.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import select
import socket
import struct
import termios
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..mgmt import model, volgen
from .auth import string2boolean
from .listen import unmapped
from .node import Node
from .planning import plan_volume

if TYPE_CHECKING:
    from .volspec import VolumeSpec

__all__ = ["EarlyServer", "Handed", "DUMP_PROGRAMS"]

# rpc/xdr/src/glusterfs-fops / glusterd1-xdr / portmap-xdr / glusterfs-handshake numbers
_RPC_VERSION = 2
GF_DUMP_PROGRAM, GF_DUMP_VERSION, GF_DUMP_DUMP = 123451501, 1, 1
GLUSTER_HNDSK_PROGRAM, GLUSTER_HNDSK_VERSION, GF_HNDSK_GETSPEC = 14398633, 2, 2
#: what glusterd's GF-DUMP lists on TCP (glusterd.py's ``_DUMP["tcp"]``; a test compares them)
DUMP_PROGRAMS = (
    ("GF-DUMP", GF_DUMP_PROGRAM, 1),
    ("GlusterD svc cli read-only", 1238463, 2),
    ("Gluster Portmap", 34123456, 1),
    ("Gluster Handshake", GLUSTER_HNDSK_PROGRAM, 2),
)
_MAX_AUTH = 400  # rpc/rpc-lib/src/xdr-rpc.h
_MAX_RECORD = 64 * 1024  # bigger calls are not DUMP or GETSPEC: left to the server
_U32 = struct.Struct(">I")


def _string(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data + b"\0" * (-len(data) % 4)


def _reply(xid: int, body: bytes) -> bytes:
    """record mark, xid, REPLY, MSG_ACCEPTED, AUTH_NULL verifier, SUCCESS, the body (one fragment)."""
    return struct.pack(">7I", 0x80000000 | (24 + len(body)), xid, 1, 0, 0, 0, 0) + body


_DUMP_BODY = struct.pack(">QiiI", 0, 0, 0, 1) + b"".join(
    _string(name.encode()) + struct.pack(">QQ", num, ver) + _U32.pack(1 if i < len(DUMP_PROGRAMS) - 1 else 0)
    for i, (name, num, ver) in enumerate(DUMP_PROGRAMS)
)  # gf_dump_rsp: gfs_id, op_ret, op_errno, then the gf_prog_detail list (a pointer before each)


class _Reader:
    """XDR fields of a call, strictly: any oddity (short, non-zero padding) is a ValueError."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise ValueError("short")
        (v,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(v)

    def opaque(self, maximum: int | None = None) -> bytes:
        n = self.u32()
        end = self.pos + n
        pad = -n % 4
        if (maximum is not None and n > maximum) or end + pad > len(self.data):
            raise ValueError("short")
        if self.data[end : end + pad] != b"\0" * pad:
            raise ValueError("padding")
        value, self.pos = self.data[self.pos : end], end + pad
        return value

    @property
    def done(self) -> bool:
        return self.pos == len(self.data)


def _old_dict_text(blob: bytes) -> dict[str, str]:
    """An old-style dict's values as text (``dict_unserialize``, strict; ValueError otherwise),
    as :func:`fakegluster.proto.gfdict.unserialize_old_dict` + ``old_dict_text`` read it."""
    r = _Reader(blob)
    count = r.u32()
    out: dict[str, str] = {}
    for _ in range(count):
        keylen, vallen = r.u32(), r.u32()
        end = r.pos + keylen + 1 + vallen
        if keylen >= 1 << 31 or vallen >= 1 << 31 or end > len(blob):
            raise ValueError("pair")
        key = blob[r.pos : r.pos + keylen]
        if b"\0" in key or blob[r.pos + keylen] != 0:
            raise ValueError("key")
        value = blob[r.pos + keylen + 1 : end]
        k = key.decode("utf-8", "surrogateescape")
        if k in out:
            raise ValueError("repeated")
        out[k] = (value[:-1] if value.endswith(b"\0") else value).decode("utf-8", "surrogateescape")
        r.pos = end
    if not r.done:
        raise ValueError("trailing")
    return out


@dataclasses.dataclass
class Handed:
    """A connection the early server accepted, for the trio server: the listener URL it came
    in on, the socket (blocking; its unanswered bytes still in the kernel), the peer's address,
    and (volume, min op-version, max op-version) of its last GETSPEC answered, if any."""

    url: str
    sock: socket.socket
    addr: Any
    client: tuple[str, int, int] | None = None
    parked: bool = False  # something the early server does not answer comes next


class EarlyServer:
    """Plans ``specs`` on a node of its own and answers DUMP/GETSPEC on ``listeners``
    (url -> listening sockets) in a thread until :meth:`handover`.

    Attributes:
        node: the node the volumes were planned on (the server takes its uuid).
        models: the planned volumes, in ``specs`` order (the server serves these).
        answered: how many calls it answered; volfiles: how many of them were GETSPECs.
    """

    def __init__(self, node: Node, specs: Sequence[VolumeSpec], listeners: dict[str, list[socket.socket]]) -> None:
        self.node = node
        self.models: list[model.Volume] = []
        for spec in specs:
            self.models.append(plan_volume([node], spec, self.models))
        self.volumes = {m.name: m for m in self.models}
        self.answered = self.volfiles = 0
        self._listening = {s: url for url, socks in listeners.items() for s in socks}
        for s in self._listening:
            s.setblocking(False)  # (as the server's accept loop has them)
        self._conns: list[Handed] = []
        self._stop = False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="fakegluster-early", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def handover(self) -> list[Handed]:
        """Stop (after the call being answered, if any) and give every connection accepted
        to the caller; the listening sockets are the caller's again."""
        if self._wake_w >= 0:
            self._stop = True
            os.write(self._wake_w, b"x")
            if self._thread.is_alive() or self._thread.ident is not None:
                self._thread.join()
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        conns, self._conns = self._conns, []
        return conns

    def close(self) -> None:
        """Stop and close every connection accepted (the server did not start)."""
        for h in self.handover():
            h.sock.close()

    # ---- the thread -------------------------------------------------------------------
    def _run(self) -> None:
        listening = list(self._listening)
        while not self._stop:
            watched = [h for h in self._conns if not h.parked]
            fds: list[Any] = [self._wake_r, *listening, *(h.sock for h in watched)]
            try:
                ready, _, _ = select.select(fds, [], [])
            except (OSError, ValueError):
                return
            if self._stop:
                return
            for s in ready:
                if s in self._listening:
                    self._accept(s)
            for h in watched:
                if h.sock in ready:
                    self._serve_one(h)

    def _accept(self, lsock: socket.socket) -> None:
        try:
            sock, addr = lsock.accept()
        except OSError:
            return  # (BlockingIOError: another accept took it) the server accepts again
        sock.setblocking(True)
        self._conns.append(Handed(self._listening[lsock], sock, addr))

    def _serve_one(self, h: Handed) -> None:
        """Answer the whole record waiting on ``h`` if it is a DUMP or GETSPEC this server is
        sure of; otherwise leave it unread for the trio server (``h.parked``)."""
        try:
            head = h.sock.recv(4, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if not head:  # the peer went away with nothing unanswered
                self._conns.remove(h)
                h.sock.close()
                return
            (mark,) = _U32.unpack(head) if len(head) == 4 else (0,)
            size = mark & 0x7FFFFFFF
            if len(head) < 4 or not mark & 0x80000000 or size > _MAX_RECORD:
                h.parked = True
                return
            data = h.sock.recv(4 + size, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if len(data) < 4 + size:
                h.parked = True  # the rest is on its way: the server reads it
                return
            answer = self._answer(h, data[4:])
            if (
                answer is None
                or _unsent(h.sock) + len(answer[0]) > h.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2
            ):  # (a client that does not read its replies: the server's to wait for)
                h.parked = True
                return
            reply, client = answer
            h.sock.recv(4 + size, socket.MSG_WAITALL)  # what was peeked: now it is answered
            self.answered += 1  # (before the client can see the reply)
            if client is not None:
                h.client = client
                self.volfiles += 1
            h.sock.settimeout(5.0)
            h.sock.sendall(reply)
            h.sock.settimeout(None)
        except OSError:
            self._conns.remove(h)
            h.sock.close()

    def _answer(self, h: Handed, record: bytes) -> tuple[bytes, tuple[str, int, int] | None] | None:
        """The reply to ``record`` and, for a GETSPEC, what the session records of the client
        (volume, min and max op-version); None to leave it to the server (rpcsvc's checks in
        ``rpcsvc_request_create``: a CALL of RPC version 2 to a served program and version)."""
        try:
            r = _Reader(record)
            xid, mtype, rpcvers, prog, vers, proc = (r.u32() for _ in range(6))
            for _ in ("credential", "verifier"):  # flavour, body: rpcsvc accepts any
                r.u32()
                r.opaque(_MAX_AUTH)
            if mtype != 0 or rpcvers != _RPC_VERSION:
                return None
            if (prog, vers, proc) == (GF_DUMP_PROGRAM, GF_DUMP_VERSION, GF_DUMP_DUMP):
                r.u32()
                r.u32()  # gf_dump_req: gfs_id (never decoded by glusterd's actor)
                return (_reply(xid, _DUMP_BODY), None) if r.done else None
            if (prog, vers, proc) == (GLUSTER_HNDSK_PROGRAM, GLUSTER_HNDSK_VERSION, GF_HNDSK_GETSPEC):
                r.u32()  # flags
                key, xdata = r.opaque(), r.opaque()
                if not r.done:
                    return None
                return self._getspec(h, xid, key, xdata)
        except ValueError:
            return None
        return None

    def _getspec(self, h: Handed, xid: int, key: bytes, xdata: bytes) -> tuple[bytes, tuple[str, int, int]] | None:
        """``__server_getspec`` for a volume's client volfile, when it succeeds (anything else:
        None): :meth:`.glusterd.GlusterdSession.getspec` and :meth:`.volume.Volume.volfile`."""
        if not key or len(key) >= 255 or not key.isascii() or not key.decode().isprintable() or not xdata:
            return None
        name = key.decode()
        name = name[1:] if name.startswith("/") else name
        vol = self.volumes.get(name)
        if vol is None and name.endswith((".tcp", ".rdma")):
            vol = self.volumes.get(name.rsplit(".", 1)[0])
        if vol is None:
            return None
        try:
            text = _old_dict_text(xdata)
            low, high = int(text["min-op-version"]), int(text["max-op-version"])
        except (ValueError, KeyError):
            return None
        if low > vol.client_op_version or high < vol.client_op_version:
            return None
        if not _loopback(h.addr[0]) or string2boolean(vol.options.get("client.ssl", "off")):
            return None  # the plain volfile / brick ports named for TLS: the server's business
        local, port = h.sock.getsockname()[:2]
        host = unmapped(local)
        family = "inet6" if ":" in host else "inet"
        view = dataclasses.replace(
            vol,
            bricks=[dataclasses.replace(b, host=host) for b in vol.bricks],
            options={**vol.options, "transport.address-family": family} if "transport.address-family" in vol.options
            else dict(vol.options),
        )  # fmt: skip
        ports = None if port == 24007 else [port] * len(vol.bricks)
        spec = volgen.client_volfile(view, trusted=True, remote_ports=ports).encode("utf-8", "surrogateescape")
        return _reply(xid, struct.pack(">ii", len(spec), 0) + _string(spec) + _U32.pack(0)), (vol.name, low, high)


def _unsent(sock: socket.socket) -> int:
    """Bytes written to ``sock`` and not yet sent (SIOCOUTQ)."""
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0])


def _loopback(host: str) -> bool:
    """127.0.0.0/8 or ::1 (``is_local``'s trusted peers, the ones this server answers)."""
    return host == "::1" or (host.startswith("127.") and host.count(".") == 3)
