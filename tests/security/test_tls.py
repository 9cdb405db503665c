"""TLS on the I/O path (server.ssl / client.ssl with ssl.* files): the same assertions on the
fake and on a real 10.3 brick.  Sources: ``rpc/rpc-transport/socket/src/socket.c``
(ssl_setup_connection_params, ssl_complete_connection, ssl_setup_connection_postfix,
socket_fix_ssl_opts), ``xlators/protocol/auth/login/src/login.c`` (ssl-allow) and
``xlators/mgmt/glusterd/src/glusterd-volgen.c`` (the ssl options in the volfiles).
Certificates come from trustme (:mod:`fakegluster.testing.tls`)."""

from __future__ import annotations

import socket
import ssl
import struct
import uuid

import pytest

import gfclient
from fakegluster.proto import dump
from fakegluster.proto.record import frame
from tests.security.conftest import connect_tls, dump_call, reply_keys, trusted_client_options
from tests.security.test_access import KINDS, REFUSED, accepted

DUMP = frame(struct.pack(">IIIIII", 5, 0, 2, dump.GF_DUMP_PROGRAM, 1, 1) + b"\0" * 16 + struct.pack(">Q", 0))


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def tls_volume(access_volumes, kind, tls_files, **more):
    return access_volumes(kind, tls_files.volume_options(**more))


def _mount_tls(vol, conn, *, creds: bool = False):
    r = vol.setvolume(conn, creds=creds)
    return r.op_ret, r.op_errno, reply_keys(r.dict)


def test_the_client_volfile_names_the_tls_files(access_volumes, kind, tls_files):
    vol = tls_volume(access_volumes, kind, tls_files, ssl_certificate_depth="2", ssl_cipher_list="HIGH:!aNULL")
    opts = list(vol.client_options.items())
    # volgen's order (newest first): the ssl files after the keep-alive options, then
    # ssl-enabled with client.ssl's own text, then the credentials
    names = [k for k, _ in opts]
    i = names.index("transport.tcp-user-timeout")
    assert opts[i + 1 : i + 7] == [
        ("transport.socket.ssl-cipher-list", "HIGH:!aNULL"),
        ("transport.socket.ssl-cert-depth", "2"),
        ("transport.socket.ssl-ca-list", tls_files.ca_list),
        ("transport.socket.ssl-private-key", tls_files.private_key),
        ("transport.socket.ssl-own-cert", tls_files.own_cert),
        ("transport.socket.ssl-enabled", "on"),
    ]
    assert names[i + 7 : i + 9] == ["password", "username"]


def test_a_plain_text_client_is_reset(access_volumes, kind, tls_files):
    vol = tls_volume(access_volumes, kind, tls_files)
    s = socket.create_connection(("127.0.0.1", vol.brick_port), timeout=10)
    got = b""
    try:
        s.sendall(DUMP)
        with pytest.raises(ConnectionResetError):  # "wrong version number": closed unread
            while chunk := s.recv(4096):
                got += chunk
    finally:
        s.close()
    assert got == b""


def test_a_client_certificate_from_the_ca_gets_in(access_volumes, kind, tls_files):
    vol = tls_volume(access_volumes, kind, tls_files)
    conn = connect_tls(vol.brick_port, tls_files.ca_list, tls_files.issue("client1"))
    try:
        assert conn.sock.version() == "TLSv1.3"
        assert dump_call(conn).result.op_ret == 0
        assert accepted(_mount_tls(vol, conn))
    finally:
        conn.close()


def test_no_client_certificate_no_connection(access_volumes, kind, tls_files):
    vol = tls_volume(access_volumes, kind, tls_files)
    conn = connect_tls(vol.brick_port, tls_files.ca_list, None)  # the handshake itself passes
    try:
        with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
            dump_call(conn)  # ssl_setup_connection_postfix: no peer certificate, closed
    finally:
        conn.close()


def test_ssl_allow_checks_the_common_name_and_ignores_the_login(access_volumes, kind, tls_files):
    vol = tls_volume(access_volumes, kind, tls_files, auth_ssl_allow="client1,tester-*")
    for cn, creds, ok in [
        ("client1", False, True),
        ("tester-9", False, True),  # fnmatch
        ("intruder", False, False),
        ("intruder", True, False),  # over TLS the trusted volfile's login does not count
    ]:
        conn = connect_tls(vol.brick_port, tls_files.ca_list, tls_files.issue(cn))
        try:
            result = _mount_tls(vol, conn, creds=creds)
        finally:
            conn.close()
        if ok:
            assert accepted(result), cn
        else:
            assert result == REFUSED, (cn, creds)


@pytest.mark.parametrize("intermediates,depth,ok", [(1, None, True), (2, None, False), (2, "2", True)])
def test_certificate_depth(access_volumes, kind, tls_files, intermediates, depth, ok):
    """OpenSSL's verify depth counts the CAs above the peer's certificate below the trust
    anchor: the default depth 1 takes one intermediate CA, not two; depth 2 takes two."""
    more = {"ssl_certificate_depth": depth} if depth else {}
    vol = tls_volume(access_volumes, kind, tls_files, **more)
    ident = tls_files.issue(f"deep-{uuid.uuid4().hex[:6]}", intermediates=intermediates)
    try:
        conn = connect_tls(vol.brick_port, tls_files.ca_list, ident)
    except (ssl.SSLError, ConnectionError):
        assert not ok
        return
    try:
        if ok:
            assert dump_call(conn).result.op_ret == 0
        else:
            with pytest.raises((ConnectionError, ssl.SSLError, OSError)):
                dump_call(conn)
    finally:
        conn.close()


def test_gfclient_reads_and_writes_over_tls(access_volumes, kind, tls_files):
    vol = tls_volume(access_volumes, kind, tls_files)
    port = 24007 if kind == "real" else _glusterd_port(access_volumes, vol)
    data = uuid.uuid4().bytes * 1000
    with gfclient.connect(f"gluster://127.0.0.1:{port}/{vol.volume}", tls=gfclient.ClientTLS(False)) as v:
        name = f"tls-{uuid.uuid4().hex[:8]}"
        with v.fopen(name, "w") as f:
            f.write(data)
        with v.fopen(name, "r") as f:
            assert f.read() == data
        assert v.stat(name).st_size == len(data)


def _glusterd_port(access_volumes, vol) -> int:
    return vol.glusterd_port


def test_trusted_volfile_of_a_tls_volume_is_fetched_in_plain_text(access_volumes, kind, tls_files):
    """Without management encryption glusterd stays plain text (GETSPEC works over tcp)."""
    vol = tls_volume(access_volumes, kind, tls_files)
    port = 24007 if kind == "real" else vol.glusterd_port
    assert trusted_client_options("127.0.0.1", port, vol.volume)["transport.socket.ssl-enabled"] == "on"
