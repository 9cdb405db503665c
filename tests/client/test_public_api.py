"""gfclient's public ``access``, ``mknod``, ``identity``/``set_identity`` and ``volume_id``
(sync and aio), on the fake and on a real 10.3 volume: the same expectations hold on both (the
real brick is the judge of what the permission checks answer)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import uuid

import pytest
import trio

import gfclient
from gfclient import aio
from tests.helpers import require_tool

pytestmark = pytest.mark.targets("fake", "real")

R, W, X = os.R_OK, os.W_OK, os.X_OK


def glusterd_volume_id(target) -> uuid.UUID:
    """``Volume ID`` of ``gluster volume info VOL``, asked of the target's glusterd on its unix
    socket (the unmodified gluster CLI: the real glusterd, or the fake's)."""
    gluster = require_tool("gluster")
    cp = subprocess.run(
        [gluster, "--mode=script", f"--glusterd-sock={target.socket}", "volume", "info", target.volume],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    line = next(li for li in cp.stdout.splitlines() if li.startswith("Volume ID:"))
    return uuid.UUID(line.split(":", 1)[1].strip())


def test_sync_access_mknod_identity_and_volume_id(target):
    top = f"/public-api-{uuid.uuid4().hex[:8]}"
    got: dict = {}
    with gfclient.connect(target.tcp_uri()) as vol:
        vol.mkdir(top)
        vol.chmod(top, 0o777)
        for name, mode in (("owner-group", 0o640), ("others-read", 0o604)):
            with vol.fopen(f"{top}/{name}", "w") as f:
                f.write(b"data")
            vol.chmod(f"{top}/{name}", mode)
        me = vol.identity
        got["identity"] = (me.uid, me.gid, me.groups)
        got["root"] = [vol.access(f"{top}/owner-group", m) for m in (os.F_OK, R | W)]
        got["missing"] = vol.access(f"{top}/missing", os.F_OK)

        vol.mknod(f"{top}/fifo", stat.S_IFIFO | 0o600)
        st = vol.lstat(f"{top}/fifo")
        got["fifo"] = (stat.S_ISFIFO(st.st_mode), stat.S_IMODE(st.st_mode))
        with pytest.raises(FileExistsError):
            vol.mknod(f"{top}/fifo", stat.S_IFIFO | 0o600)

        vol.set_identity(uid=4321, gid=4321)
        got["as_4321"] = (vol.identity.uid, vol.identity.gid, vol.identity.pid == me.pid)
        got["4321_access"] = {
            name: [vol.access(f"{top}/{name}", m) for m in (os.F_OK, R, W, X)]
            for name in ("owner-group", "others-read")
        }
        with pytest.raises(PermissionError):
            vol.fopen(f"{top}/owner-group", "r")
        vol.mkdir(f"{top}/made-by-4321")
        st = vol.stat(f"{top}/made-by-4321")
        got["made_by"] = (st.st_uid, st.st_gid)
        vol.set_identity(groups=[0])  # the file's group (root) among the supplementary groups
        got["4321_in_group_0"] = [vol.access(f"{top}/owner-group", m) for m in (R, W)]
        vol.set_identity(uid=me.uid, gid=me.gid, groups=me.groups)
        got["back"] = vol.access(f"{top}/owner-group", R | W)

        got["volume_id"] = vol.volume_id() == glusterd_volume_id(target)
        vol.rmtree(top)
    assert got == {
        "identity": (os.getuid(), os.getgid(), ()),
        "root": [True, True],
        "missing": False,
        "fifo": (True, 0o600),
        "as_4321": (4321, 4321, True),
        "4321_access": {"owner-group": [True, False, False, False], "others-read": [True, True, False, False]},
        "made_by": (4321, 4321),
        "4321_in_group_0": [True, False],
        "back": True,
        "volume_id": True,
    }


def test_aio_access_mknod_identity_and_volume_id(target):
    want_id = glusterd_volume_id(target)
    top = f"/public-api-aio-{uuid.uuid4().hex[:8]}"

    async def main() -> dict:
        got: dict = {}
        async with aio.connect(target.tcp_uri()) as vol:
            me = vol.identity
            await vol.mkdir(top, 0o755)
            await vol.mknod(f"{top}/sock", stat.S_IFSOCK | 0o644)
            got["sock"] = stat.S_ISSOCK((await vol.lstat(f"{top}/sock")).st_mode)
            got["access"] = [await vol.access(f"{top}/{n}", os.F_OK) for n in ("sock", "nothing")]
            vol.set_identity(uid=4321, gid=4321)
            try:
                await vol.mkdir(f"{top}/denied")
            except OSError as exc:
                got["mkdir_as_4321"] = errno.errorcode[exc.errno or 0]
            vol.set_identity(uid=me.uid, gid=me.gid)
            got["volume_id"] = [await vol.volume_id() == want_id for _ in range(2)]
            await vol.rmtree(top)
        return got

    assert trio.run(main) == {
        "sock": True,
        "access": [True, False],
        "mkdir_as_4321": "EACCES",
        "volume_id": [True, True],
    }
