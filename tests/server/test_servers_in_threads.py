"""Several servers in one process, each in its own trio thread (FakeGluster.start), serving at
the same time: no server may see another's bytes.  (The receive buffer was once one per
process: concurrent receives overwrote each other -- clients saw replies to calls they never
made, 'reply xid N matches no outstanding call', or volfiles that did not parse.)"""

from __future__ import annotations

import os
import threading

import gfclient
from fakegluster.server import FakeGluster


def test_servers_in_threads_do_not_share_received_bytes():
    servers = [FakeGluster(["vol"], ["tcp://127.0.0.1:0"]) for _ in range(6)]
    errors: list[BaseException] = []
    datas = [os.urandom(1 << 20) for _ in servers]

    def client(server: FakeGluster, data: bytes) -> None:
        try:
            for _ in range(3):
                with gfclient.connect(server.uri("vol")) as vol, vol.fopen("f", "w") as f:
                    f.write(data)
                with gfclient.connect(server.uri("vol")) as vol, vol.fopen("f", "r") as f:
                    assert f.read() == data
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    for s in servers:
        s.start()
    try:
        threads = [threading.Thread(target=client, args=(s, d)) for s, d in zip(servers, datas)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors[:3]
        for s, d in zip(servers, datas):
            assert s.read_file("f") == d
    finally:
        for s in servers:
            s.stop()
