"""A live re-check against the real glusterd 10.3 (the offline tests replay recordings): a
replica 3 volume made by the RealGluster harness and the same volume in the model give the same
``system:: getspec``, brick and self-heal volfiles, before and after live ``volume set``s, and the
same verdict for a refused value.  Adds ~10 s (one started replica 3 volume)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from fakegluster.mgmt import options, volgen, volgen_brick
from fakegluster.mgmt.create import create_volume
from fakegluster.mgmt.model import VolumeError, VolumeStatus

pytestmark = pytest.mark.real


def _model_of(real) -> object:
    info = Path(f"/var/lib/glusterd/vols/{real.name}/info").read_text()
    ids = {k: re.search(rf"^{k}=(.*)$", info, re.M).group(1) for k in ("volume-id", "username", "password")}
    host = socket.gethostname()
    vol = create_volume(real.name, [f"{host}:{p}" for p in real.brick_paths], replica=3, force=True,
                        volume_id=ids["volume-id"])  # fmt: skip
    vol.username, vol.password = ids["username"], ids["password"]
    options.set_options(vol, [("server.allow-insecure", "on")])  # what the harness sets on every volume
    vol.status = VolumeStatus.STARTED
    return vol


def _same_files(real, vol) -> None:
    spec = real.gluster("system::", "getspec", real.name).stdout
    assert spec == volgen.client_volfile(vol) + "\n"
    vdir = Path(f"/var/lib/glusterd/vols/{real.name}")
    assert (vdir / f"{real.name}-shd.vol").read_text() == volgen.shd_volfile(vol)
    for i in range(len(vol.bricks)):
        assert (vdir / volgen_brick.brick_volfile_name(vol, i)).read_text() == volgen_brick.brick_volfile(vol, i)


def test_live_replica3_volfiles_and_sets(real_gluster):
    real = real_gluster.create_volume(bricks=3, replica=3)
    try:
        vol = _model_of(real)
        _same_files(real, vol)
        for key, value in [
            ("performance.write-behind", "off"),
            ("md-cache-timeout", "10"),
            ("cluster.quorum-count", "2"),
        ]:
            real.gluster("volume", "set", real.name, key, value)
            options.set_options(vol, [(key, value)])
        _same_files(real, vol)
        cp = real.gluster("volume", "set", real.name, "cluster.quorum-count", "4", check=False)
        with pytest.raises(VolumeError) as e:
            options.set_options(vol, [("cluster.quorum-count", "4")])
        assert cp.returncode == 1 and cp.stderr == f"volume set: failed: {e.value}\n"
    finally:
        real.delete()


def test_live_old_client_blocks_a_newer_client_option(real_gluster):
    """A client that said max-op-version 30800 in its GETSPEC keeps volume set from loading
    nl-cache (op-version 31100) while it stays connected: same refusal on both."""
    from fakegluster.proto import handshake
    from fakegluster.proto.gfdict import old_dict
    from tests.rawclient import Raw

    real = real_gluster.create_volume()
    raw = Raw("127.0.0.1", 24007)
    try:
        spec = raw.call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            handshake.GfHndskProc.GF_HNDSK_GETSPEC,
            handshake.GfGetspecReq(1, real.name, old_dict({"max-op-version": "30800", "min-op-version": "1"})),
        )
        assert spec.result.op_ret > 0
        ident = f"127.0.0.1:{raw.sock.getsockname()[1]}"
        cp = real.gluster("volume", "set", real.name, "performance.nl-cache", "on", check=False)
        vol = create_volume("fgvol", ["vm:/b"], force=True)
        with pytest.raises(VolumeError) as e:
            options.set_options(vol, [("performance.nl-cache", "on")], clients=[(ident, 1, 30800)])
        assert cp.returncode == 1 and cp.stderr == f"volume set: failed: {e.value}\n"
    finally:
        raw.close()
        real.delete()
