"""A stopped FakeGluster started again serves its volumes as they were (an in-memory store
survives stop/start), and, when asked, on the same ports: a client holding an fd carries on."""

from __future__ import annotations

import socket

import pytest

import gfclient
from fakegluster.server import FakeGluster


def test_memory_volumes_survive_stop_and_start(tmp_path):
    server = FakeGluster(["testvol", "vm;replica=3"], ["tcp://127.0.0.1:0"])
    server.start()
    try:
        server.write_file("dir/a.img", b"kept")
        server.create_volume("later")
        server.write_file("b", b"also kept", volume="later")
        server.set_option("performance.write-behind", "off", "vm")
        volume_id = server.volume_model("testvol").volume_id
        server.stop()
        info = server.start()
        assert info.volumes == ["testvol", "vm", "later"]
        assert server.read_file("dir/a.img") == b"kept"
        assert server.read_file("b", volume="later") == b"also kept"
        assert server.volume_model("testvol").volume_id == volume_id
        assert server.volume_model("vm").options["performance.write-behind"] == "off"
        with gfclient.connect(server.uri("testvol")) as vol:
            assert vol.fopen("dir/a.img").read() == b"kept"
    finally:
        server.stop()


def test_directory_volume_reopened(tmp_path):
    with FakeGluster([f"d={tmp_path}"], ["tcp://127.0.0.1:0"]) as server:
        server.write_file("x", b"on disk")
        server.restart(same_port=False)
        assert server.read_file("x") == b"on disk"


def test_same_port_keeps_clients_going():
    server = FakeGluster(["testvol"], ["tcp://127.0.0.1:0"])
    info = server.start()
    try:
        port, brick_port = info.port, server.bricks()[0].port
        with gfclient.connect(server.uri("testvol")) as vol:
            f = vol.fopen("a.img", "w")
            f.write(b"before ")
            server.restart()  # same ports
            assert (server.info.port, server.bricks()[0].port) == (port, brick_port)
            for _ in range(50):  # the client reconnects and reopens its fd
                try:
                    f.write(b"after")
                    break
                except OSError:
                    import time

                    time.sleep(0.1)
            f.close()
            assert vol.fopen("a.img").read() == b"before after"
    finally:
        server.stop()


def test_same_port_taken_is_an_error():
    server = FakeGluster(["testvol"], ["tcp://127.0.0.1:0"])
    port = server.start().port
    server.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(OSError, match=f"tcp://127.0.0.1:{port}"):
            server.start(same_port=True)
        assert server.start().port != port  # not asked: any free port
        server.stop()
