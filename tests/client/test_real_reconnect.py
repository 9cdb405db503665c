"""Ping-timeout and reconnect against a real GlusterFS 10.3 brick: freeze the brick process
(SIGSTOP) under a volume with ``network.ping-timeout 2``; pending IO fails with ENOTCONN,
new FOPs fail at once, and once the brick runs again gfclient reconnects by itself (via
glusterd's portmap), re-does SETVOLUME and reopens the open fd."""

from __future__ import annotations

import errno
import os
import time

import pytest

import gfclient
from gfclient.errors import GlusterConnectionError
from tests.helpers import brick_process, frozen

pytestmark = pytest.mark.real


def test_reconnect_to_a_real_brick_after_ping_timeout(real_gluster):
    vol = real_gluster.create_volume(options={"network.ping-timeout": "2"})
    try:
        (brick,) = vol.status()
        with gfclient.connect(f"gluster://127.0.0.1/{vol.name}") as v:
            assert v._avol.brick.config.ping_timeout == 2
            f = v.fopen("f", "w+")
            f.write(b"before")
            handshakes = v._avol.brick.handshakes
            with frozen(brick_process(v, brick["path"])):  # every thread in state T before the READ
                t0 = time.monotonic()
                with pytest.raises(GlusterConnectionError) as ei:
                    f.pread(6, 0)
                assert ei.value.errno == errno.ENOTCONN
                assert "has not responded in the last 2 seconds" in str(ei.value)
                assert 1.5 < time.monotonic() - t0 < 8
                with pytest.raises(GlusterConnectionError):
                    v.stat("f")
            deadline = time.monotonic() + 20
            while True:
                try:
                    v.stat("f")
                    break
                except GlusterConnectionError:
                    assert time.monotonic() < deadline, "no reconnect within 20 s"
                    time.sleep(0.2)
            assert v._avol.brick.handshakes > handshakes
            assert f.pread(6, 0) == b"before"  # the fd was reopened
            f.seek(0, os.SEEK_END)
            f.write(b" after")
            f.close()
            with v.fopen("f") as g:
                assert g.read() == b"before after"
    finally:
        vol.delete()
