"""gfclient must not fail a CREATE in a directory another client is still making.  The MKDIR
reaches the bricks one by one; a second client that already found the directory (on a quorum of
copies) and creates in it finds no such inode on a brick the MKDIR has not reached yet: that
brick fails the transaction's ENTRYLK with ESTALE.  GlusterFS 10.3 goes on without it
(``afr_lock_cbk`` winds the next child whatever the error but ENOSYS;
``is_blocking_locks_count_sufficient``), the copy that missed it is accused for the heal.
Before, gfclient's lock failed the CREATE with ESTALE (here about 1 in 3)."""

from __future__ import annotations

import os

import trio

import gfclient
from fakegluster.server import FakeGluster

DIRS = 15


def test_a_file_is_created_in_a_directory_whose_mkdir_is_on_the_way():
    with FakeGluster(["rep;replica=3;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as server:
        server.bricks("rep")[2].faults.slow(0.02, procs=["MKDIR"])  # the MKDIR's window
        uri = f"gluster://127.0.0.1:{server.info.port}/rep"
        errors: list[OSError] = []
        made = 0

        async def main() -> None:
            nonlocal made
            async with gfclient.aio.connect(uri) as v, gfclient.aio.connect(uri) as w:
                await v.mkdir("/d")
                done = trio.Event()
                current = 0

                async def mkdirs() -> None:
                    nonlocal current
                    for i in range(DIRS):
                        current = i
                        await v.mkdir(f"/d/m{i}")
                    done.set()

                async def create(k: int) -> None:
                    nonlocal made
                    n = 0
                    while not done.is_set():
                        n += 1
                        try:
                            f = await w.open(f"/d/m{current}/f{k}-{n}", os.O_CREAT | os.O_WRONLY, 0o644)
                            await f.close()
                            made += 1
                        except FileNotFoundError:
                            pass  # not made anywhere yet
                        except OSError as exc:
                            errors.append(exc)
                        await trio.sleep(0)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(mkdirs)
                    nursery.start_soon(create, 0)
                    nursery.start_soon(create, 1)

        trio.run(main)
        assert made > 0
        assert errors == []
