"""gfclient's AFR learns an inode's readable copies again (a brick went down and came back: the
generation changed) by FSTAT on the fd when the FOP has one, as GlusterFS 10.3
``afr_inode_refresh_do`` (afr-common.c) does with ``local->fd``: to every up child the fd is open
on, asking the changelog xattrs (``afr_xattr_req_prepare``), ``list-xattr``, the index's
``link-count`` and this xlator's inodelk count.  Before, it looked the gfid up by name-less
LOOKUP -- which finds nothing for a file another client unlinked while it is open
(tests/interop/test_afr_refresh_fstat_real.py: a real replica 3, judged by the real FUSE client;
the last test here is that scenario on the fake, which serves such fds as a real brick does)."""

from __future__ import annotations

import os

import trio

import gfclient
from fakegluster.server import FakeGluster

DATA = b"refreshed through the fd\n" * 4


async def _brick_restarted(v, brick) -> None:
    await trio.to_thread.run_sync(brick.kill)
    with trio.fail_after(20):
        while v.graph.bricks[2].up:
            await trio.sleep(0.02)
    await trio.to_thread.run_sync(brick.start)
    with trio.fail_after(20):
        while not all(b.up for b in v.graph.bricks):
            await trio.sleep(0.02)


def test_a_read_after_a_brick_came_back_refreshes_the_inode_by_fstat_on_its_fd():
    with FakeGluster(["rep;replica=3;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as server:
        uri = f"gluster://127.0.0.1:{server.info.port}/rep"
        bricks = server.bricks("rep")

        async def main() -> tuple[bytes, bytes]:
            async with gfclient.aio.connect(uri) as v:
                f = await v.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
                await f.pwrite(DATA, 0)
                assert await f.pread(len(DATA), 0) == DATA
                await _brick_restarted(v, bricks[2])
                server.calls.clear()
                got = await f.pread(len(DATA), 0)
                await f.close()
                return got, f.gfid

        got, gfid = trio.run(main)
        assert got == DATA
        refresh = [c for c in server.calls.find("FSTAT") if c.args.xdata]
        assert sorted(c.server for c in refresh) == [f"brick:rep:{i}" for i in range(3)]
        for c in refresh:
            keys = set(c.args.xdata)
            assert {"trusted.afr.dirty", "list-xattr", "link-count", "glusterfs.inodelk-dom-count"} <= keys
            assert {f"trusted.afr.rep-client-{i}" for i in range(3)} <= keys
            assert c.args.gfid == gfid
        assert not server.calls.find("LOOKUP", gfid=gfid), "refreshed by LOOKUP, not by FSTAT on the fd"


def test_a_file_another_client_unlinked_while_open_reads_after_a_brick_came_back():
    """The scenario of tests/interop/test_afr_refresh_fstat_real.py (the real FUSE client and
    gfclient read, on a real replica 3) on the fake: a LOOKUP of the gfid finds nothing now."""
    with FakeGluster(["rep;replica=3;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as server:
        uri = f"gluster://127.0.0.1:{server.info.port}/rep"

        async def main() -> None:
            async with gfclient.aio.connect(uri) as v, gfclient.aio.connect(uri) as w:
                f = await v.open("/f", os.O_CREAT | os.O_RDWR, 0o644)
                await f.pwrite(DATA, 0)
                assert await f.pread(len(DATA), 0) == DATA
                await w.unlink("/f")
                await _brick_restarted(v, server.bricks("rep")[2])
                assert await f.pread(len(DATA), 0) == DATA
                assert (await f.fstat()).st_nlink == 0
                await f.close()

        trio.run(main)
