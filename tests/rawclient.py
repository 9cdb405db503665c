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

V2 = AuthGlusterfsParmsV2.cls(pid=0, lk_owner=lk_owner_for_pid(0))


def v3(pid: int = os.getpid()) -> Any:
    return AuthGlusterfsParamsV3.cls(pid=pid, lk_owner=lk_owner_for_pid(pid))


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

    def call(self, prog: int, vers: int, proc: int, args: Any = None, *, cred: Any = V2, payload: bytes = b"") -> Any:
        self.xid += 1
        self.sock.sendall(self.conn.send(Call(self.xid, prog, vers, proc, args, cred=cred, payload=payload)))
        event = self.event()
        if isinstance(event, ConnectionClosed):
            raise ConnectionResetError(f"the server closed the connection instead of answering xid {self.xid}")
        return event

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
    """A brick connection after SETVOLUME, with ``fop(name, **fields)``."""

    def __init__(self, host: str, port: int, volume: str, *, unix: str | None = None) -> None:
        mgmt = Raw(host, port, unix=unix)
        spec = mgmt.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_GETSPEC,
            handshake.GfGetspecReq.cls(1, volume, old_dict({"max-op-version": "100000", "min-op-version": "1"})),
        )
        mgmt.close()
        if spec.result.op_ret < 0:
            raise OSError(spec.result.op_errno, f"GETSPEC {volume}")
        self.volfile = spec.result.spec
        [client] = parse_volfile(self.volfile).of_type("protocol/client")
        self.options = client.options
        rhost = client.options["remote-host"]
        raw = Raw(rhost, int(client.options.get("remote-port", 24007)))
        progs = raw.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq.cls(dump.GFS_ID)).result.prog
        if any(p.prognum == portmap.GLUSTER_PMAP_PROGRAM for p in progs):
            r = raw.call(
                portmap.GLUSTER_PMAP_PROGRAM, 1, 1, portmap.PmapPortByBrickReq.cls(client.options["remote-subvolume"])
            )
            raw.close()
            self.brick_port = r.result.port
            raw = Raw(rhost, r.result.port)
            raw.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq.cls(dump.GFS_ID))
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
            "process-uuid": f"CTX_ID:{uuid.uuid4()}-GRAPH_ID:0-PID:{os.getpid()}-HOST:test-PC_NAME:x-RECON_NO:-0",
            "fops-version": str(fops.GLUSTER_FOP_PROGRAM),
        }
        keys.update({k: v for k, v in self.options.items() if k in ("remote-subvolume", "username", "password")})
        keys.update(overrides)
        keys = {k: v for k, v in keys.items() if v is not None}
        return self.raw.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_SETVOLUME,
            handshake.GfSetvolumeReq.cls(old_dict(keys)),
            cred=v3(0),
        ).result

    def fop(self, proc_name: str, /, *, payload: bytes = b"", **fields: Any) -> Any:
        proc = fops.PROGRAM[proc_name]
        reply = self.raw.call(
            fops.GLUSTER_FOP_PROGRAM, 400, proc.num, proc.args.cls(**fields), cred=v3(), payload=payload
        )
        return reply if reply.stat != 0 else (reply.result if not payload and proc.name != "READ" else reply)

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
