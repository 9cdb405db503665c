"""gfclient.aio under asyncio: the same coroutine API (a trio thread of its own behind it),
while trio stays first-class (the rest of tests/client)."""

from __future__ import annotations

import asyncio

import pytest

import gfclient
from fakegluster.server import FakeGluster


@pytest.fixture(scope="module")
def server():
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as s:
        yield s


def test_asyncio_program(server):
    async def main() -> dict:
        out: dict = {}
        async with gfclient.aio.connect(server.uri("testvol")) as vol:
            await vol.makedirs("a/b", exist_ok=True)
            async with await vol.fopen("a/b/f.txt", "w") as f:
                out["written"] = await f.write(b"from asyncio")
            async with await vol.fopen("a/b/f.txt", "r") as f:
                out["read"] = await f.read()
                out["tell"] = f.tell()  # a plain method stays plain
            out["walk"] = [(p, d, f) async for p, d, f in vol.walk("/")]
            with pytest.raises(FileNotFoundError):
                await vol.stat("missing")
            sizes = await asyncio.gather(*(vol.getsize("a/b/f.txt") for _ in range(20)))
            out["gather"] = set(sizes)
            out["listdir"] = await vol.listdir("a")
        return out

    got = asyncio.run(main())
    assert got == {
        "written": 12,
        "read": b"from asyncio",
        "tell": 12,
        "walk": [("/", ["a"], []), ("/a", ["b"], []), ("/a/b", [], ["f.txt"])],
        "gather": {12},
        "listdir": ["b"],
    }
    assert server.read_file("a/b/f.txt") == b"from asyncio"


def test_asyncio_connect_failure_is_the_same_error(tmp_path):
    async def main() -> None:
        async with gfclient.aio.connect(f"gluster+unix:///v?socket={tmp_path}/none.sock"):
            pass

    with pytest.raises(gfclient.GlusterConnectionError, match="none.sock"):
        asyncio.run(main())


async def test_trio_still_first_class(server):
    async with gfclient.aio.connect(server.uri("testvol")) as vol:  # pytest-trio: a trio loop
        assert type(vol).__name__ == "Volume" and await vol.exists("/")
