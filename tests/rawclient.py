"""A minimal blocking GlusterFS client for tests: exact calls, including ones no polite
client sends.  Mounts like libgfapi (GETSPEC, DUMP, PORTBYBRICK, DUMP, SETVOLUME), then
sends any FOP with any fields and returns the decoded reply."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from fakegluster.proto import NEED_DATA, Call, ConnectionClosed, Role, RpcConnection, dump, fops, handshake, portmap
from fakegluster.proto.common import ROOT_GFID
from fakegluster.proto.gfdict import GfxValue, old_dict
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, AuthGlusterfsParmsV2, lk_owner_for_pid
from fakegluster.proto.volfile import parse_volfile

V2 = AuthGlusterfsParmsV2(pid=0, lk_owner=lk_owner_for_pid(0))


def v3(
    pid: int = os.getpid(), *, owner: bytes | None = None, uid: int = 0, gid: int = 0, groups: tuple[int, ...] = ()
) -> Any:
    """AUTH_GLUSTERFS v3 credentials: ``owner`` is the lock owner (default: from the pid)."""
    return AuthGlusterfsParamsV3(
        pid=pid,
        uid=uid,
        gid=gid,
        groups=tuple(groups),
        lk_owner=lk_owner_for_pid(pid) if owner is None else owner,
    )


class Raw:
    """One RPC connection (blocking)."""

    def __init__(self, host: str, port: int | None = None, *, unix: str | None = None, timeout: float = 10) -> None:
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((host, port))
        self.sock.settimeout(timeout)
        self.conn = RpcConnection(Role.CLIENT)
        self.xid = 1
        self._queues()

    def _queues(self) -> None:
        """(Also for a Raw made without ``__init__`` around a socket of the caller's.)"""
        if not hasattr(self, "replies"):
            self.replies: dict[int, Any] = {}  # answers that came while waiting for another xid
            self.callbacks: list[Call] = []  # server-to-client CALLs (GF-CBK), in arrival order
            self.arrivals: list[int] = []  # the xids of the replies, in the order they came

    def call(self, prog: int, vers: int, proc: int, args: Any = None, *, cred: Any = V2, payload: bytes = b"") -> Any:
        return self.wait(self.send(prog, vers, proc, args, cred=cred, payload=payload))

    def send(self, prog: int, vers: int, proc: int, args: Any = None, *, cred: Any = V2, payload: bytes = b"") -> int:
        """Send a CALL without waiting; returns its xid (see :meth:`wait`)."""
        self.xid += 1
        self.sock.sendall(self.conn.send(Call(self.xid, prog, vers, proc, args, cred=cred, payload=payload)))
        return self.xid

    def wait(self, xid: int, timeout: float | None = None) -> Any:
        """The reply to ``xid``; replies to other xids and callbacks are kept meanwhile.
        ``timeout`` (seconds) raises TimeoutError when the reply does not come."""
        self._queues()
        old = self.sock.gettimeout()
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            while xid not in self.replies:
                event = self.event()
                if isinstance(event, ConnectionClosed):
                    raise ConnectionResetError(f"the server closed the connection instead of answering xid {xid}")
                if isinstance(event, Call):
                    self.callbacks.append(event)
                else:
                    self.replies[event.xid] = event
                    self.arrivals.append(event.xid)
        finally:
            self.sock.settimeout(old)
        return self.replies.pop(xid)

    def answered(self, xid: int, within: float = 0.2) -> bool:
        """Whether the reply to ``xid`` arrives within ``within`` seconds (it is kept)."""
        try:
            self.replies[xid] = self.wait(xid, timeout=within)
        except TimeoutError:
            return False
        return True

    def poll_callbacks(self, within: float) -> list[Call]:
        """Read for ``within`` seconds; returns (and clears) the callbacks received."""
        self._queues()
        import time

        deadline = time.monotonic() + within
        old = self.sock.gettimeout()
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    event = self.event()
                except TimeoutError:
                    break
                if isinstance(event, Call):
                    self.callbacks.append(event)
                elif not isinstance(event, ConnectionClosed):
                    self.replies[event.xid] = event
                    self.arrivals.append(event.xid)
                else:
                    break
        finally:
            self.sock.settimeout(old)
        out, self.callbacks = self.callbacks, []
        return out

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def event(self) -> Any:
        while True:
            ev = self.conn.next_event()
            if ev is not NEED_DATA:
                return ev
            data = self.sock.recv(1 << 20)
            self.conn.receive_data(data)
            if not data:
                return self.conn.next_event()

    def close(self) -> None:
        self.sock.close()


class Mount:
    """A brick connection after SETVOLUME, with ``fop(name, **fields)``; ``brick``: which
    protocol/client of the volfile (a multi-brick volume's)."""

    def __init__(
        self,
        host: str,
        port: int,
        volume: str,
        *,
        unix: str | None = None,
        process_uuid: str | None = None,
        brick: int | None = None,
    ) -> None:
        #: the client identity (SETVOLUME's process-uuid): connections sharing it are one client_t
        self.process_uuid = process_uuid or (
            f"CTX_ID:{uuid.uuid4()}-GRAPH_ID:0-PID:{os.getpid()}-HOST:test-PC_NAME:x-RECON_NO:-0"
        )
        mgmt = Raw(host, port, unix=unix)
        spec = mgmt.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_GETSPEC,
            handshake.GfGetspecReq(1, volume, old_dict({"max-op-version": "100000", "min-op-version": "1"})),
        )
        mgmt.close()
        if spec.result.op_ret < 0:
            raise OSError(spec.result.op_errno, f"GETSPEC {volume}")
        self.volfile = spec.result.spec
        clients = parse_volfile(self.volfile).of_type("protocol/client")
        if brick is None:
            [client] = clients
        else:
            client = clients[brick]
        self.options = client.options
        rhost = client.options["remote-host"]
        raw = Raw(rhost, int(client.options.get("remote-port", 24007)))
        progs = raw.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID)).result.prog
        if any(p.prognum == portmap.GLUSTER_PMAP_PROGRAM for p in progs):
            r = raw.call(
                portmap.GLUSTER_PMAP_PROGRAM, 1, 1, portmap.PmapPortByBrickReq(client.options["remote-subvolume"])
            )
            raw.close()
            self.brick_port = r.result.port
            raw = Raw(rhost, r.result.port)
            raw.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID))
        else:
            self.brick_port = int(client.options["remote-port"])
        self.raw = raw
        self.setvolume_reply = self.setvolume()

    def setvolume(self, **overrides: Any) -> Any:
        keys = {
            "opversion": "100000",
            "clnt-lk-version": "1",
            "volfile-checksum": "0",
            "volfile-key": "x",
            "client-version": "10.3",
            "process-name": "gfapi.rawtest",
            "process-uuid": self.process_uuid,
            "fops-version": str(fops.GLUSTER_FOP_PROGRAM),
        }
        keys.update({k: v for k, v in self.options.items() if k in ("remote-subvolume", "username", "password")})
        keys.update(overrides)
        keys = {k: v for k, v in keys.items() if v is not None}
        return self.raw.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_SETVOLUME,
            handshake.GfSetvolumeReq(old_dict(keys)),
            cred=v3(0),
        ).result

    def fop(self, proc_name: str, /, *, payload: bytes = b"", cred: Any = None, **fields: Any) -> Any:
        """Call a FOP and wait: the decoded result (the whole Reply for READ, payloads and
        RPC errors).  ``cred``: AUTH_GLUSTERFS v3 credentials (default ``v3()``)."""
        return self.result(proc_name, self.send(proc_name, payload=payload, cred=cred, **fields), payload)

    def send(self, proc_name: str, /, *, payload: bytes = b"", cred: Any = None, **fields: Any) -> int:
        """Send a FOP without waiting for its answer; returns the xid for :meth:`reply`."""
        proc = fops.PROGRAM[proc_name]
        return self.raw.send(
            fops.GLUSTER_FOP_PROGRAM,
            400,
            proc.num,
            proc.args(**fields),
            cred=v3() if cred is None else cred,
            payload=payload,
        )

    def reply(self, proc_name: str, xid: int, timeout: float | None = None) -> Any:
        """The answer to a FOP sent with :meth:`send`."""
        return self.result(proc_name, xid, b"", timeout)

    def result(self, proc_name: str, xid: int, payload: bytes = b"", timeout: float | None = None) -> Any:
        reply = self.raw.wait(xid, timeout)
        return reply if reply.stat != 0 else (reply.result if not payload and proc_name != "READ" else reply)

    def create(self, pargfid: bytes, name: str, mode: int = 0o644, flags: int = 0o102) -> Any:
        return self.fop(
            "CREATE",
            pargfid=pargfid,
            bname=name,
            mode=mode,
            flags=flags,
            xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)},
        )

    def mkdir(self, pargfid: bytes, name: str, mode: int = 0o755) -> Any:
        return self.fop(
            "MKDIR", pargfid=pargfid, bname=name, mode=mode, xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}
        )

    def close(self) -> None:
        self.raw.close()


ROOT = ROOT_GFID
