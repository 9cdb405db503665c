"""gfclient's DHT renames a file over another one whose data is on the same subvolume while the
new name hashes elsewhere (``dht_rename_create_links``: ``src_cached == dst_cached``: the new
name's linkto on its hashed subvolume is unlinked and the RENAME goes where the data is).  Before,
gfclient made a hard link of the new name on the data's subvolume, where that name existed:
EEXIST -- on a distribute 4 volume the 7th of these renames failed, every time (the names' hashes
are fixed).  Found by tests/client/test_lookup_rename_race.py's probes on distributed volumes."""

from __future__ import annotations

import os
import uuid

import pytest
import trio

import gfclient
from fakegluster.server import FakeGluster

RENAMES = 30


async def _rename_over(v, d: str) -> None:
    await v.mkdir(d)
    for i in range(RENAMES):
        f = await v.open(f"{d}/t{i}", os.O_CREAT | os.O_WRONLY, 0o644)
        await f.write(f"t{i}".encode())
        await f.close()
        await v.rename(f"{d}/t{i}", f"{d}/x")
        f = await v.open(f"{d}/x")
        assert await f.read() == f"t{i}".encode()
        await f.close()
    assert await v.listdir(d) == ["x"]


@pytest.mark.parametrize("spec", ["dist;bricks=4", "d23;replica=3;bricks=6"])
def test_files_renamed_over_one_name_one_after_the_other(spec):
    with FakeGluster([spec], ["tcp://127.0.0.1:0"]) as server:
        uri = f"gluster://127.0.0.1:{server.info.port}/{spec.split(';')[0]}"

        async def main() -> None:
            async with gfclient.aio.connect(uri) as v, gfclient.aio.connect(uri) as w:
                await _rename_over(v, "/d")
                assert await w.listdir("/d") == ["x"]  # a second client finds it too
                f = await w.open("/d/x")
                assert await f.read() == f"t{RENAMES - 1}".encode()
                await f.close()

        trio.run(main)


@pytest.mark.real
def test_the_same_on_a_real_distribute_volume(real_cluster):
    vol = real_cluster("distribute2")

    async def main() -> None:
        async with gfclient.aio.connect(f"gluster://127.0.0.1/{vol.name}") as v:
            await _rename_over(v, f"/rename-over-{uuid.uuid4().hex[:8]}")

    trio.run(main)
