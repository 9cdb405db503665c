"""gfclient's disperse LOOKUP must not fail while the same client changes the directory it looks
up.  An entry operation bumps its parent's ``trusted.ec.version`` brick by brick; a LOOKUP (or
STAT) of the parent taken without the lock can find the bricks split between the old and the new
version.  GlusterFS 10.3 never shows this to its own client: eager locking defers the parent's
version update until the lock is released, so the bricks agree whenever they are looked up.
Found in CI as ``test_many_entries[fake-disperse]``: "EIO (no 4 bricks agree on many)"."""

from __future__ import annotations

import os

import trio

import gfclient
from fakegluster.server import FakeGluster


def test_a_directory_is_looked_up_while_entries_are_made_in_it():
    with FakeGluster(["ec;disperse=6;redundancy=2"], ["tcp://127.0.0.1:0"]) as server:
        uri = f"gluster://127.0.0.1:{server.info.port}/ec"
        looked = 0

        async def main() -> None:
            nonlocal looked
            async with gfclient.aio.connect(uri) as v:
                await v.mkdir("/d")
                done = trio.Event()

                async def make(i: int) -> None:
                    if i % 5 == 0:
                        await v.mkdir(f"/d/e{i}")
                    else:
                        f = await v.open(f"/d/e{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                        await f.close()

                async def look() -> None:
                    nonlocal looked
                    while not done.is_set():
                        st = await v.stat("/d")
                        assert st.st_mode & 0o170000 == 0o040000
                        looked += 1
                        await trio.sleep(0.002)

                async with trio.open_nursery() as outer:
                    for _ in range(2):
                        outer.start_soon(look)
                    async with trio.open_nursery() as nursery:
                        for i in range(200):
                            nursery.start_soon(make, i)
                    done.set()
                assert len(await v.listdir("/d")) == 200

        trio.run(main)
        assert looked > 0
