"""gfclient's AFR opens an fd, on a brick that comes back, when the fd was opened while that
brick was down (GlusterFS 10.3 ``afr_fix_open``, afr-open.c: the fd context's ``opened_on``;
each READ/WRITE/FSTAT/FTRUNCATE... first opens the fd where it is not open and the child is up).
Before, such an fd never reached the brick again: its writes went to the other copies only,
each one accusing the brick anew, and once those copies went down the fd had "no good copy"
(EIO) -- bench/soak.py met it.  The same assertion on a real replica 3 is
tests/interop/test_afr_fix_open_real.py."""

from __future__ import annotations

import os

import trio

import gfclient
from fakegluster.server import FakeGluster


async def _until_up(v, timeout: float = 20.0) -> None:
    with trio.fail_after(timeout):
        while not all(b.up for b in v.graph.bricks):
            await trio.sleep(0.05)


def test_an_fd_opened_while_a_brick_was_down_writes_to_it_once_it_is_back():
    with FakeGluster(["rep;replica=3;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as server:
        uri = f"gluster://127.0.0.1:{server.info.port}/rep"
        bricks = server.bricks("rep")

        async def main() -> None:
            async with gfclient.aio.connect(uri) as v:
                f = await v.open("/f", os.O_CREAT | os.O_WRONLY, 0o644)
                await f.close()
                await trio.to_thread.run_sync(bricks[2].kill)
                with trio.fail_after(10):
                    while v.graph.bricks[2].up:
                        await trio.sleep(0.02)
                f = await v.open("/f", os.O_WRONLY)
                await f.pwrite(b"while down", 0)
                await trio.to_thread.run_sync(bricks[2].start)
                await _until_up(v)
                await f.pwrite(b"back", 100)
                st = await f.fstat()
                await f.close()
                assert st.st_size == 104

        trio.run(main)

        def copies() -> list[bytes]:
            out = []
            for b in bricks:
                gfid = b.store.lookup(b"\0" * 15 + b"\1", "f").gfid
                out.append(b.store.read(gfid, 0, 200))
            return out

        c = server.run_sync(copies)
        assert [x[100:104] for x in c] == [b"back"] * 3, c  # the write after the return reached brick 2
        assert c[2][:10] == bytes(10) and c[0][:10] == c[1][:10] == b"while down"  # no heal: shd off
