"""auth.allow / auth.reject, the trusted login, server.allow-insecure and dynamic auth: the same
assertions on the fake and on a real 10.3 brick (read off the real one first).  Sources:
``xlators/protocol/auth/addr/src/addr.c``, ``auth/login/src/login.c``,
``xlators/protocol/server/src/server-handshake.c`` (server_setvolume), ``server.c``
(server_reconfigure's dynamic auth) and ``rpc/rpc-lib/src/rpcsvc.c`` (privileged ports)."""

from __future__ import annotations

import errno
import struct
import time

import pytest

from fakegluster.proto import AuthStat, Denied, RejectStat, handshake
from fakegluster.proto.record import frame
from tests.security.conftest import dump_call, reply_keys

KINDS = ["fake", pytest.param("real", marks=pytest.mark.real)]

#: SETVOLUME's refusal: op_ret -1, EACCES, and the reply keys newest first
REFUSED = (
    -1,
    errno.EACCES,
    [("ERROR", "Authentication failed"), ("volume-id", "*"), ("child_up", "1")],
)


def accepted(result) -> bool:
    op_ret, op_errno, keys = result
    return op_ret == 0 and ("ERROR", "Success") in keys


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


def test_default_admits_any_address(access_volumes, kind):
    vol = access_volumes(kind, {})
    for src in ("127.0.0.1", "127.0.0.2"):
        for creds in (False, True):
            assert accepted(vol.mounts(src, creds=creds)), (src, creds)


def test_allow_refuses_other_addresses_but_not_the_trusted_login(access_volumes, kind):
    vol = access_volumes(kind, {"auth.allow": "localhost"})
    assert accepted(vol.mounts("127.0.0.1"))
    assert vol.mounts("127.0.0.2") == REFUSED
    # the trusted volfile's username/password (auth.login) still gets in: glusterd's own way
    assert accepted(vol.mounts("127.0.0.2", creds=True))


def test_reject_wins_over_the_trusted_login(access_volumes, kind):
    vol = access_volumes(kind, {"auth.reject": "127.0.0.2"})
    assert accepted(vol.mounts("127.0.0.1"))
    assert vol.mounts("127.0.0.2") == REFUSED
    assert vol.mounts("127.0.0.2", creds=True) == REFUSED


def test_wrong_password_is_refused(access_volumes, kind):
    vol = access_volumes(kind, {})
    conn = vol.connect()
    try:
        r = vol.setvolume(conn, username=vol.client_options["username"], password="not-it")
    finally:
        conn.close()
    assert (r.op_ret, r.op_errno, reply_keys(r.dict)) == REFUSED


@pytest.mark.parametrize(
    "allow,admitted",
    [
        # fnmatch patterns and a network (gf_is_ip_in_net) in one list
        ("127.0.*.2,10.0.0.0/8", {"127.0.0.2"}),
        # gf_is_ip_in_net's mask is (1 << 32) - 1 in an int: 0 on x86, so /32 admits everyone
        ("10.1.1.1/32", {"127.0.0.1", "127.0.0.2", "127.0.0.3"}),
    ],
)
def test_address_patterns(access_volumes, kind, allow, admitted):
    vol = access_volumes(kind, {"auth.allow": allow})
    for src in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        result = vol.mounts(src)
        if src in admitted:
            assert accepted(result), src
        else:
            assert result == REFUSED, src


def test_insecure_ports_are_denied_by_rpcsvc(access_volumes, kind):
    vol = access_volumes(kind, {"server.allow-insecure": "off"})
    denied = Denied(0, RejectStat.AUTH_ERROR, auth_stat=AuthStat.AUTH_REJECTEDCRED)
    conn = vol.connect()  # an ephemeral (unprivileged) source port
    try:
        reply = dump_call(conn)
        assert isinstance(reply, Denied)
        assert (reply.reject_stat, reply.auth_stat) == (denied.reject_stat, denied.auth_stat)
        reply = conn.call(999, 1, 1)  # an unknown program is still PROG_UNAVAIL: checked first
        assert reply.stat == 1
        # undecodable SETVOLUME arguments: the port is checked before the actor decodes them
        conn.send_bytes(
            frame(struct.pack(">IIIIII", 77, 0, 2, handshake.GLUSTER_HNDSK_PROGRAM, 2, 1) + b"\0" * 16 + b"\xff" * 4)
        )
        conn.conn.expect_reply(77, handshake.GLUSTER_HNDSK_PROGRAM, 2, 1)
        reply = conn.event()
        assert isinstance(reply, Denied) and reply.xid == 77 and reply.auth_stat == AuthStat.AUTH_REJECTEDCRED
    finally:
        conn.close()
    conn = vol.connect(sport="priv")
    try:
        assert not isinstance(dump_call(conn), Denied)
        assert accepted(_setvolume(vol, conn))
    finally:
        conn.close()


def _setvolume(vol, conn, **kw):
    r = vol.setvolume(conn, **kw)
    return r.op_ret, r.op_errno, reply_keys(r.dict)


def _alive(conn) -> bool:
    try:
        reply = dump_call(conn)
    except (ConnectionError, OSError):
        return False
    return not isinstance(reply, Denied)


def _wait_closed(conn, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(conn):
            return True
        time.sleep(0.2)
    return False


def test_dynamic_auth_disconnects_clients_that_no_longer_pass(access_volumes, kind):
    vol = access_volumes(kind, {"server.dynamic-auth": "on"})  # its own volume: changed live
    plain, trusted, privileged = vol.connect(), vol.connect(), vol.connect(sport="priv")
    try:
        assert accepted(_setvolume(vol, plain))
        assert accepted(_setvolume(vol, trusted, creds=True))
        assert accepted(_setvolume(vol, privileged, creds=True))
        vol.set_option("auth.allow", "127.0.0.2")
        assert _wait_closed(plain)  # 127.0.0.1 without the login no longer passes
        assert _alive(trusted)
        vol.set_option("auth.allow", None)
        vol.set_option("server.allow-insecure", "off")
        # the addr module refuses an unprivileged port even to the trusted login
        assert _wait_closed(trusted)
        assert _alive(privileged)
    finally:
        for c in (plain, trusted, privileged):
            c.close()


def test_volume_set_refuses_what_is_no_address_list(access_volumes, kind):
    """``xlator_option_validate_addr_list``: a '!' entry cannot be set (glusterd's text)."""
    vol = access_volumes(kind, {})
    with pytest.raises(Exception) as ei:  # the fake: ValueError; the real CLI: RealGlusterError
        vol.set_option("auth.reject", "!127.0.0.2")
    message = str(ei.value).split("volume set: failed: ")[-1].strip()
    path = vol.client_options["remote-subvolume"]
    assert message == f"option auth.addr.{path}.reject !127.0.0.2: '!127.0.0.2' is not a valid internet-address-list"
