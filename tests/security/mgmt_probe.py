"""Run inside a private namespace (tests/security/privns.py): what a client sees of glusterd
on 127.0.0.1:24007 there.  Prints one JSON object.

    python -m tests.security.mgmt_probe VOLUME [--fake] [--fake-glusterd-option K=V]...

``--fake`` first starts a fakegluster on 24007 in this process, with management encryption
when ``/var/lib/glusterd/secure-access`` exists (what ``serve --secure-access`` does).
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import uuid

from fakegluster.proto import Denied, Role, RpcConnection, handshake
from fakegluster.proto.gfdict import old_dict
from fakegluster.tls import SSL_CERT_PATH, secure_access
from tests.rawclient import Raw
from tests.security.conftest import connect_raw


def getspec(raw: Raw, volume: str) -> str:
    try:
        reply = raw.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_GETSPEC,
            handshake.GfGetspecReq(1, volume, old_dict({"max-op-version": "100000", "min-op-version": "1"})),
        )
    except ConnectionResetError as exc:
        return "reset" if "closed the connection" not in str(exc) else "eof"
    except (ssl.SSLError, OSError) as exc:
        return f"error {type(exc).__name__}"
    if isinstance(reply, Denied):
        return f"denied {reply.reject_stat.name} {reply.auth_stat.name}"
    return f"op_ret>0 {reply.result.op_ret > 0}"


def plain(volume: str, sport: int | str = 0) -> str:
    try:
        raw = connect_raw("127.0.0.1", 24007, "127.0.0.1", sport)
    except OSError as exc:
        return f"connect {exc.errno}"
    try:
        return getspec(raw, volume)
    finally:
        raw.close()


def over_tls(volume: str) -> str:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{SSL_CERT_PATH}/glusterfs.ca")
    ctx.load_cert_chain(f"{SSL_CERT_PATH}/glusterfs.pem", f"{SSL_CERT_PATH}/glusterfs.key")
    sock = socket.create_connection(("127.0.0.1", 24007), timeout=10)
    raw = Raw.__new__(Raw)
    raw.sock, raw.conn, raw.xid = ctx.wrap_socket(sock), RpcConnection(Role.CLIENT), 1
    try:
        return f"{raw.sock.version()} {getspec(raw, volume)}"
    finally:
        raw.close()


def with_gfclient(volume: str) -> str:
    import gfclient

    data = uuid.uuid4().bytes * 100
    try:
        with gfclient.connect(f"gluster://127.0.0.1/{volume}") as vol:  # ClientTLS.from_machine()
            name = f"mgmt-{uuid.uuid4().hex[:6]}"
            with vol.fopen(name, "w") as f:
                f.write(data)
            with vol.fopen(name, "r") as f:
                return "ok" if f.read() == data else "data differs"
    except OSError as exc:
        return f"error {exc.errno}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("volume")
    ap.add_argument("--fake", action="store_true")
    ap.add_argument("--fake-glusterd-option", action="append", default=[])
    ap.add_argument("--fake-volume", help="the volume the fake serves (default: VOLUME)")
    args = ap.parse_args()
    server = None
    if args.fake:
        from fakegluster.server import FakeGluster
        from fakegluster.tls import TLSSettings

        on, depth = secure_access()
        server = FakeGluster(
            [args.fake_volume or args.volume],
            ["tcp://127.0.0.1:24007"],
            management_tls=TLSSettings(cert_depth=depth) if on else None,
            glusterd_options=dict(o.split("=", 1) for o in args.fake_glusterd_option),
        )
        server.start()
    try:
        out = {
            "secure_access": secure_access()[0],
            "plain": plain(args.volume),
            "plain_privileged": plain(args.volume, "priv"),
        }
        if out["secure_access"]:
            out["tls"] = over_tls(args.volume)
        out["gfclient"] = with_gfclient(args.volume)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
