"""`fakegluster serve`'s first answers before trio (fakegluster.server.early): DUMP and GETSPEC
answered by hand-written XDR are byte for byte what the trio server answers; the server then
takes the listeners and the connections (with what their GETSPEC recorded) and serves the
volumes the early answers described (volume-id and credentials the bricks check)."""

from __future__ import annotations

import errno
import socket
import struct
import subprocess
import sys

import pytest

import gfclient
from fakegluster.proto import Call, Role, RpcConnection, dump, handshake, portmap
from fakegluster.proto.gfdict import old_dict
from fakegluster.proto.rpc import AUTH_NULL
from fakegluster.server import FakeGluster
from fakegluster.server.bind import tcp_listeners
from fakegluster.server.early import DUMP_PROGRAMS, EarlyServer
from fakegluster.server.glusterd import _DUMP
from fakegluster.server.listen import parse_listen
from fakegluster.server.node import Node, node0_name
from fakegluster.server.volspec import parse_volume_spec
from tests.helpers import require_tool, wait_until
from tests.rawclient import V2, v3

_OPS = old_dict({"min-op-version": "1", "max-op-version": "100000"})


def _early(volumes: list[str], options: dict[str, str] | None = None):
    socks = tcp_listeners("127.0.0.1", 0)
    url = f"tcp://127.0.0.1:{socks[0].getsockname()[1]}"
    specs = [parse_volume_spec(v) for v in volumes]
    for spec in specs:
        spec.options = {**(options or {}), **spec.options}
    early = EarlyServer(Node(node0_name(), [parse_listen(url)], dynamic_host=True), specs, {url: socks})
    return early, specs, url, socks


def _call(xid: int, prog: int, vers: int, proc: int, args, cred) -> bytes:
    return RpcConnection(Role.CLIENT).send(Call(xid, prog, vers, proc, args, cred=cred))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError("closed")
        buf += chunk
    return buf


def _record(sock: socket.socket) -> bytes:
    """One reply record, record mark included."""
    head = _recv_exact(sock, 4)
    return head + _recv_exact(sock, struct.unpack(">I", head)[0] & 0x7FFFFFFF)


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    return _record(sock)


def test_the_dump_programs_are_glusterds():
    assert DUMP_PROGRAMS == tuple((p.progname, p.prognum, p.progver) for p in _DUMP["tcp"])


@pytest.mark.parametrize(
    ("volumes", "options"),
    [
        (["testvol"], None),
        (["vm;replica=3;bricks=6", "ec;disperse=6;redundancy=2"], {"performance.write-behind": "off"}),
        (["a;replica=3;arbiter=1;transport.address-family=inet"], None),
    ],
)
def test_early_answers_are_the_servers_byte_for_byte(volumes, options):
    """The same calls (DUMP, GETSPEC by every name form, three kinds of credentials) answered
    by the early server and then, after the hand-over, by the trio server on the connection the
    early server accepted and on a new one: the same bytes."""
    early, specs, url, socks = _early(volumes, options)
    early.start()
    names = [s.name for s in specs]
    calls = [_call(2, dump.GF_DUMP_PROGRAM, 1, dump.GfDumpProc.GF_DUMP_DUMP, dump.GfDumpReq(0), AUTH_NULL)]
    for i, key in enumerate([*names, f"/{names[0]}", f"{names[0]}.tcp"]):
        for j, cred in enumerate((AUTH_NULL, V2, v3())):
            req = handshake.GfGetspecReq(0, key, _OPS)
            calls.append(_call(10 + 3 * i + j, handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, req, cred))
    host, port = url[len("tcp://") :].rsplit(":", 1)
    first = socket.create_connection((host, int(port)), timeout=30)
    try:
        before = [_exchange(first, c) for c in calls]
        assert early.answered == len(calls)  # all answered by the early server, none left
        server = FakeGluster(specs, [url], call_log=False, prebound={url: socks}, early=early)
        with server, socket.create_connection((host, int(port)), timeout=30) as second:
            assert [_exchange(first, c) for c in calls] == before
            assert [_exchange(second, c) for c in calls] == before
            vol = server.volumes[names[0]].model
            assert before[1].count(vol.username.encode()) == len(vol.bricks)  # the served credentials
    finally:
        first.close()


def test_what_the_early_server_does_not_answer_is_left_to_the_server():
    """A GETSPEC the early server leaves alone (op-version out of range: ENOTSUP) and a
    PORTBYBRICK stay unread in the kernel; the trio server answers them after the hand-over, on
    the same connection, and keeps the op-version range of the GETSPEC answered early."""
    early, specs, url, socks = _early(["testvol"])
    early.start()
    host, port = url[len("tcp://") :].rsplit(":", 1)
    conn = RpcConnection(Role.CLIENT)
    getspec = handshake.GLUSTER_HNDSK_PROGRAM, 2, handshake.GfHndskProc.GF_HNDSK_GETSPEC
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        spec = _exchange(sock, conn.send(Call(5, *getspec, handshake.GfGetspecReq(0, "testvol", _OPS), cred=V2)))
        assert early.answered == 1 and b"option password " in spec
        too_new = old_dict({"min-op-version": "999999", "max-op-version": "1000000"})
        sock.sendall(conn.send(Call(6, *getspec, handshake.GfGetspecReq(0, "testvol", too_new), cred=V2)))
        brick_path = early.models[0].bricks[0].path
        portbybrick = portmap.GLUSTER_PMAP_PROGRAM, 1, portmap.GfPmapProc.GF_PMAP_PORTBYBRICK
        sock.sendall(conn.send(Call(7, *portbybrick, portmap.PmapPortByBrickReq(brick_path), cred=V2)))
        with FakeGluster(specs, [url], call_log=False, prebound={url: socks}, early=early) as server:
            assert early.answered == 1  # (final: its thread has ended) the two calls were left alone
            conn.receive_data(_record(sock) + _record(sock))
            refused, found = conn.next_event(), conn.next_event()
            assert (refused.xid, refused.result.op_ret, refused.result.op_errno) == (6, -1, errno.ENOTSUP)
            assert (found.xid, found.result.status, found.result.port) == (
                7,
                0,
                server.volumes["testvol"].bricks[0].port,
            )
            me = "{}:{}".format(*sock.getsockname()[:2])
            assert server.run_sync(server.cluster.clients, "testvol") == [(me, 1, 100000)]


def test_the_early_server_answers_without_trio():
    """In a fresh interpreter, as `fakegluster serve` runs it: a GETSPEC is answered while
    neither trio nor construct has been imported."""
    code = (
        "import socket, struct, sys\n"
        "from fakegluster.server.bind import tcp_listeners\n"
        "from fakegluster.server.early import EarlyServer\n"
        "from fakegluster.server.listen import parse_listen\n"
        "from fakegluster.server.node import Node\n"
        "from fakegluster.server.volspec import parse_volume_spec\n"
        "socks = tcp_listeners('127.0.0.1', 0)\n"
        "url = 'tcp://127.0.0.1:%d' % socks[0].getsockname()[1]\n"
        "e = EarlyServer(Node('n', [parse_listen(url)], dynamic_host=True), [parse_volume_spec('v')], {url: socks})\n"
        "e.start()\n"
        "sys.stdout.buffer.write(socks[0].getsockname()[1].to_bytes(2, 'big')); sys.stdout.flush()\n"
        "sys.stdin.readline()\n"
        "print(e.answered, 'trio' in sys.modules, 'construct' in sys.modules)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        port = int.from_bytes(proc.stdout.read(2), "big")
        request = RpcConnection(Role.CLIENT).send(
            Call(3, handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(0, "v", _OPS), cred=V2)
        )
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            reply = _exchange(sock, request)
        out = proc.communicate(b"\n", timeout=60)[0].decode()
    finally:
        proc.kill()
        proc.wait()
    assert b"volume v-client-0" in reply
    assert out == "1 False False\n"


@pytest.mark.real
def test_qemu_img_through_the_early_volfile(tmp_path):
    """A real qemu-img (libgfapi 10.3) gets its volfile from the early server (the trusted one,
    with the auth.login credentials), then the trio server takes over: the bricks accept those
    credentials (SETVOLUME) and the image is made."""
    require_tool("qemu-img")
    early, specs, url, socks = _early(["testvol"])
    early.start()
    uri = f"gluster://{url[len('tcp://') :]}/testvol/early.img"
    client = subprocess.Popen(["qemu-img", "create", "-q", "-f", "raw", uri, "1M"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_until(lambda: early.volfiles >= 1 or client.poll() is not None, "qemu-img's GETSPEC")
        with FakeGluster(specs, [url], call_log=False, prebound={url: socks}, early=early) as server:
            output = client.communicate(timeout=120)[0]
            assert client.returncode == 0, output
            with gfclient.connect(server.uri("testvol")) as vol:
                assert vol.stat("early.img").st_size == 1 << 20
    finally:
        client.kill()
        client.wait()
        early.close()
