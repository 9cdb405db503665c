"""Targets for access-control and TLS conformance: a fake and a real 10.3 volume per set of
volume options (the options are set before the volume starts, so nothing is asynchronous)."""

from __future__ import annotations

import dataclasses
import socket
import uuid
from typing import Any

import pytest

from fakegluster.proto import Role, RpcConnection, dump, fops, handshake
from fakegluster.proto.gfdict import old_dict, old_dict_text
from fakegluster.proto.volfile import parse_volfile
from fakegluster.server import FakeGluster
from tests.rawclient import Raw, v3


@dataclasses.dataclass
class Access:
    """One volume with some options, on the fake or the real glusterd."""

    kind: str
    volume: str
    brick_port: int
    client_options: dict[str, str]  # the trusted volfile's protocol/client options
    set_option: Any  # (key, value) -> None, live
    glusterd_port: int = 24007

    def connect(self, src: str = "127.0.0.1", sport: int = 0) -> Raw:
        """A raw connection to the brick from ``src`` (and source port ``sport``; 0: any
        unprivileged one, "priv": a free port below 1024)."""
        return connect_raw("127.0.0.1", self.brick_port, src, sport)

    def setvolume(self, conn: Raw, *, creds: bool = False, **extra: str) -> Any:
        keys = {
            "opversion": "100000",
            "process-name": "gfapi.sectest",
            "process-uuid": f"CTX_ID:{uuid.uuid4()}-GRAPH_ID:0-PID:1-HOST:test-PC_NAME:x-RECON_NO:-0",
            "fops-version": str(fops.GLUSTER_FOP_PROGRAM),
            "remote-subvolume": self.client_options["remote-subvolume"],
        }
        if creds:
            keys["username"] = self.client_options["username"]
            keys["password"] = self.client_options["password"]
        keys.update(extra)
        return conn.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_SETVOLUME,
            handshake.GfSetvolumeReq(old_dict(keys)),
            cred=v3(0),
        ).result

    def mounts(self, src: str = "127.0.0.1", *, creds: bool = False, sport: int | str = 0) -> tuple[int, int, list]:
        """SETVOLUME from ``src``: (op_ret, op_errno, reply keys without the run-specific ones)."""
        conn = self.connect(src, sport)
        try:
            r = self.setvolume(conn, creds=creds)
        finally:
            conn.close()
        return r.op_ret, r.op_errno, reply_keys(r.dict)


def reply_keys(d: Any) -> list:
    """The reply dict's keys in wire order, with the values that do not vary per run."""
    text = old_dict_text(d)
    return [(k, text[k] if k in ("ERROR", "child_up", "clnt-lk-version") else "*") for k in text]


def connect_raw(host: str, port: int, src: str = "127.0.0.1", sport: int | str = 0) -> Raw:
    raw = Raw.__new__(Raw)
    for candidate in _ports(sport):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((src, candidate))
            s.connect((host, port))
        except OSError:
            s.close()
            if sport != "priv":
                raise
            continue
        break
    else:
        raise OSError("no free privileged port")
    s.settimeout(10)
    raw.sock, raw.conn, raw.xid = s, RpcConnection(Role.CLIENT), 1
    return raw


def _ports(sport: int | str) -> list[int]:
    if sport != "priv":
        return [int(sport)]
    import random

    return random.sample(range(600, 1000), 50)


def dump_call(conn: Raw) -> Any:
    return conn.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID))


def trusted_client_options(host: str, port: int, volume: str) -> dict[str, str]:
    mgmt = Raw(host, port)
    spec = mgmt.call(
        handshake.GLUSTER_HNDSK_PROGRAM,
        2,
        handshake.GfHndskProc.GF_HNDSK_GETSPEC,
        handshake.GfGetspecReq(1, volume, old_dict({"max-op-version": "100000", "min-op-version": "1"})),
    )
    mgmt.close()
    [client] = parse_volfile(spec.result.spec).of_type("protocol/client")
    return dict(client.options)


@pytest.fixture(scope="session")
def access_volumes(request):
    """``get(kind, options)`` -> an :class:`Access`; one volume per (kind, options), shared."""
    made: dict[tuple, Access] = {}
    servers: list[FakeGluster] = []

    def get(kind: str, options: dict[str, str]) -> Access:
        key = (kind, tuple(sorted(options.items())))
        if key in made:
            return made[key]
        if kind == "fake":
            server = FakeGluster(["secvol"], ["tcp://127.0.0.1:0"], options=dict(options))
            server.start()
            servers.append(server)
            info = server.info
            acc = Access(
                "fake",
                "secvol",
                info.brick_ports[next(iter(info.brick_ports))],
                trusted_client_options("127.0.0.1", info.port, "secvol"),
                lambda k, v, s=server: s.set_option(k, v),
                info.port,
            )
        else:
            rg = request.getfixturevalue("real_gluster")
            vol = rg.create_volume(options=dict(options))
            acc = Access(
                "real",
                vol.name,
                vol.brick_ports[0],
                trusted_client_options("127.0.0.1", 24007, vol.name),
                lambda k, v, vol=vol: (
                    vol.gluster("volume", "set", vol.name, k, v)
                    if v is not None
                    else vol.gluster("volume", "reset", vol.name, k)
                ),
            )
        made[key] = acc
        return acc

    yield get
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A CA and the brick/volfile identity CN=server1 (trustme), shared by the session."""
    from fakegluster.testing.tls import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"), "server1")


def connect_tls(port: int, ca_list: str, identity=None, *, src: str = "127.0.0.1") -> Raw:
    """A raw RPC connection over TLS (``identity``: the client certificate, None for none)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(ca_list)
    if identity is not None:
        ctx.load_cert_chain(identity.cert, identity.key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((src, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    raw = Raw.__new__(Raw)
    raw.sock, raw.conn, raw.xid = ctx.wrap_socket(sock), RpcConnection(Role.CLIENT), 1
    return raw
