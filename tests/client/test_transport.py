"""Opening streams: failures name host and port (or socket) like QEMU's hints; rdma falls
back to tcp with QEMU's warning unless the hook supplies a stream."""

from __future__ import annotations

import errno
import socket
import warnings

import pytest
import trio
import trio.testing

import gfclient
from gfclient import transport
from gfclient.errors import GlusterConnectionError


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_connection_refused_names_host_and_port():
    port = closed_port()
    with pytest.raises(GlusterConnectionError) as ei:
        await transport.open_stream("tcp", "127.0.0.1", port)
    assert ei.value.errno == errno.ECONNREFUSED
    assert str(ei.value) == f"[Errno 111] connection failed on host 127.0.0.1 and port {port}: Connection refused"


def test_mount_refused_names_host_and_port():
    port = closed_port()
    with pytest.raises(GlusterConnectionError) as ei:
        gfclient.connect(f"gluster://127.0.0.1:{port}/vol/img")
    assert ei.value.errno == errno.ECONNREFUSED
    msg = str(ei.value)
    assert msg.startswith("[Errno 111] Gluster connection for volume vol, path img failed to connect")
    assert msg.endswith(f"hint: failed on host 127.0.0.1 and port {port}")


async def test_missing_unix_socket_names_the_socket(tmp_path):
    path = str(tmp_path / "nope.sock")
    with pytest.raises(GlusterConnectionError) as ei:
        await transport.open_stream("unix", socket=path)
    assert ei.value.errno == errno.ENOENT and f"failed on socket {path}" in str(ei.value)


async def test_rdma_falls_back_to_tcp_with_a_warning(monkeypatch):
    opened = []

    async def fake_tcp(host, port, **kw):
        opened.append((host, port))
        return trio.testing.memory_stream_pair()[0]

    monkeypatch.setattr(transport, "open_tcp_stream", fake_tcp)
    with pytest.warns(RuntimeWarning, match="^rdma feature is not supported, falling back to tcp$"):
        await transport.open_stream("rdma", "h", 24007)
    assert opened == [("h", 24007)]

    async def rdma(host, port):  # once the hook gives a stream, no warning and no tcp
        return trio.testing.memory_stream_pair()[0]

    monkeypatch.setattr(transport, "open_rdma_stream", rdma)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await transport.open_stream("rdma", "h", 24007)
    assert opened == [("h", 24007)]


async def test_the_rdma_hook_returns_none_for_now():
    assert await transport.open_rdma_stream("h", 24007) is None
