"""gfclient against a real GlusterFS 10.3 that changes under it: glusterd's FETCHSPEC after
``volume set`` / ``add-brick`` moves gfclient to a new graph while a thread keeps writing (no
error, open files carried over, a new brick used); the user's ping-timeout beats the
volume's when a brick freezes; a list of volfile servers falls back to the next one."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

import gfclient
from fakegluster.testing.realgluster import gluster_cli
from gfclient.errors import GlusterConnectionError
from tests.helpers import brick_process, frozen

pytestmark = pytest.mark.real

GLUSTERD_SOCKET = "/var/run/glusterd.socket"


def _wait(pred, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_volume_changes_move_gfclient_to_new_graphs_without_errors(real_gluster):
    vol = real_gluster.create_volume(bricks=2)
    try:
        with gfclient.connect(f"gluster://127.0.0.1/{vol.name}") as v:
            f = v.fopen("busy", "w+")
            errors: list[BaseException] = []
            stop = threading.Event()
            written = [0]

            def writer() -> None:
                try:
                    while not stop.is_set():
                        f.pwrite(b"%08d" % written[0], written[0] * 8)
                        written[0] += 1
                except BaseException as exc:
                    errors.append(exc)

            t = threading.Thread(target=writer)
            t.start()
            try:
                time.sleep(0.3)
                gluster_cli("volume", "set", vol.name, "cluster.lookup-optimize", "off")
                _wait(lambda: v._avol.graph_switches >= 1)
                time.sleep(0.3)
                new = os.path.join(vol.root, "brick3")
                os.mkdir(new)
                gluster_cli("volume", "add-brick", vol.name, f"{real_gluster.hostname}:{new}", "force")
                _wait(lambda: v._avol.graph_switches >= 2 and len(v._avol.graph.bricks) == 3)
                time.sleep(0.3)
            finally:
                stop.set()
                t.join()
            assert not errors, errors
            assert v._avol.graph.graph_id == 2
            n = written[0]
            assert n > 10 and f.pread(n * 8, 0) == b"".join(b"%08d" % i for i in range(n))
            f.close()
            v.mkdir("after")  # a new directory's layout spans the new brick too
            for i in range(24):
                with v.fopen(f"after/f{i}", "w") as g:
                    g.write(b"x")
            assert sorted(v.listdir("after")) == sorted(f"f{i}" for i in range(24))
            assert os.listdir(os.path.join(new, "after")), "no file landed on the added brick"
    finally:
        vol.delete()


def test_the_users_ping_timeout_beats_the_volumes(real_gluster):
    vol = real_gluster.create_volume()  # network.ping-timeout stays 42
    try:
        (brick,) = vol.status()
        with gfclient.connect(f"gluster://127.0.0.1/{vol.name}", ping_timeout=2) as v:
            f = v.fopen("f", "w+")
            f.write(b"data")
            with frozen(brick_process(v, brick["path"])):
                t0 = time.monotonic()
                with pytest.raises(GlusterConnectionError) as ei:
                    f.pread(4, 0)
                assert ei.value.errno == errno.ENOTCONN and "last 2 seconds" in str(ei.value)
                assert time.monotonic() - t0 < 8
            _wait(lambda: v._avol.brick.up, 30)
            assert f.pread(4, 0) == b"data"
            f.close()
    finally:
        vol.delete()


def test_volfile_servers_fall_back_in_order(real_volume):
    uri = f"gluster://127.0.0.1:1/{real_volume.name}"  # nobody listens on port 1
    with gfclient.connect(uri, servers=["127.0.0.1:2", f"unix://{GLUSTERD_SOCKET}"]) as v:
        assert v._avol.mgmt.current == 2
        assert v.isdir("/")
    with pytest.raises(GlusterConnectionError) as ei:
        gfclient.connect(uri, servers=["127.0.0.1:2"])
    assert ei.value.errno == errno.ECONNREFUSED
    assert "host 127.0.0.1 and port 1, host 127.0.0.1 and port 2" in str(ei.value)
