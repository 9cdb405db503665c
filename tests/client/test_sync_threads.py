"""The blocking API from several threads at once, against fakegluster in this process: the
data path runs in the calling threads (gfclient.sync.run_inline), everything else in the
trio thread, over one connection.  Threads keep their data apart, share a File's offset
like an OS file, and see the volume close under them; the same works over a stream that is
not a socket (like emulated rdma's)."""

from __future__ import annotations

import errno
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import trio

import gfclient
from gfclient.errors import GlusterConnectionError


@pytest.fixture(scope="module")
def fake():
    from fakegluster.server import FakeGluster

    server = FakeGluster(["thrvol"], ["tcp://127.0.0.1:0"])
    info = server.start()
    yield server, info.tcp[0].port
    server.stop()


@pytest.fixture
def vol(fake):
    _, port = fake
    with gfclient.connect(f"gluster://127.0.0.1:{port}/thrvol") as v:
        yield v


def block(tag: int, i: int, size: int) -> bytes:
    return (f"{tag:04d}:{i:06d}|".encode() * size)[:size]


def test_threads_keep_their_data_apart(vol):
    size, count, nthreads = 65536, 20, 6
    name = f"apart-{os.getpid()}"
    with vol.fopen(name, "w+") as f:
        stop = threading.Event()

        def writer_reader(tag: int) -> None:
            base = tag * size * count
            for i in range(count):
                assert f.pwrite(block(tag, i, size), base + i * size) == size
            for i in reversed(range(count)):
                assert f.pread(size, base + i * size) == block(tag, i, size)

        def metadata() -> int:  # trio-thread calls interleaved with the threads' IO
            n = 0
            while not stop.is_set():
                assert vol.stat(name).st_size >= 0
                n += 1
            return n

        with ThreadPoolExecutor(nthreads + 1) as pool:
            meta = pool.submit(metadata)
            for fut in [pool.submit(writer_reader, t) for t in range(nthreads)]:
                fut.result()
            stop.set()
            assert meta.result() > 0
        assert f.fstat().st_size == nthreads * count * size


def test_threads_share_the_file_offset(vol):
    size, nblocks, nthreads = 4096, 120, 4
    name = f"offset-{os.getpid()}"
    with vol.fopen(name, "w") as f:

        def write_some(tag: int) -> None:
            for i in range(nblocks // nthreads):
                assert f.write(block(tag, i, size)) == size

        with ThreadPoolExecutor(nthreads) as pool:
            list(pool.map(write_some, range(nthreads)))
        assert f.tell() == nblocks * size
    with vol.fopen(name) as f:
        seen: list[bytes] = []
        lock = threading.Lock()

        def read_some(_: int) -> None:
            while data := f.read(size):
                with lock:
                    seen.append(data)

        with ThreadPoolExecutor(nthreads) as pool:
            list(pool.map(read_some, range(nthreads)))
    # every block was written once, whole, and read once
    expected = {block(t, i, size) for t in range(nthreads) for i in range(nblocks // nthreads)}
    assert len(seen) == nblocks and set(seen) == expected


def test_closing_the_volume_fails_a_blocked_read(fake):
    server, port = fake
    v = gfclient.connect(f"gluster://127.0.0.1:{port}/thrvol")
    f = v.fopen(f"blocked-{os.getpid()}", "w+")
    f.write(b"x" * 100)
    for _ in range(5):  # the calling thread reads its replies itself by now
        assert f.pread(10, 0) == b"x" * 10
    hang = server.faults.inject("READ", action="hang")
    try:
        with ThreadPoolExecutor(1) as pool:
            fut = pool.submit(f.pread, 10, 0)
            time.sleep(0.2)
            assert not fut.done()
            t0 = time.monotonic()
            v.close()
            with pytest.raises(GlusterConnectionError) as ei:
                fut.result(timeout=10)
            assert ei.value.errno == errno.ENOTCONN
            assert time.monotonic() - t0 < 8
    finally:
        hang.remove()
    with pytest.raises(ValueError, match="closed"):
        f.pread(10, 0)


def test_single_fop_file_methods_run_in_the_calling_thread(vol, monkeypatch):
    name = f"methods-{os.getpid()}"
    with vol.fopen(name, "w+") as f:

        def not_in_trio(*args, **kwargs):
            raise AssertionError(f"went through the trio thread: {args}")

        monkeypatch.setattr(vol._loop, "run", not_in_trio)
        assert f.write(b"hello world") == 11
        assert f.seek(0) == 0 and f.read(5) == b"hello"
        assert f.seek(-5, os.SEEK_END) == 6 and f.read(100) == b"world"
        assert f.fstat().st_size == 11 and f.fgetsize() == 11
        assert f.truncate(5) == 5 and f.fgetsize() == 5
        f.fsync()
        f.fdatasync()
        f.fsetxattr("user.k", b"v")
        assert f.fgetxattr("user.k") == b"v" and "user.k" in f.flistxattr()
        f.fremovexattr("user.k")
        f.fchmod(0o600)
        assert f.fstat().st_mode & 0o777 == 0o600
        buf = bytearray(8)
        f.seek(0)
        assert f.readinto(buf) == 5 and bytes(buf[:5]) == b"hello"
        assert f.pwrite(b"x" * 1000, 5) == 1000 and f.pread(1005, 0) == b"hello" + b"x" * 1000
        monkeypatch.undo()


class _NotASocket(trio.abc.Stream):
    """A stream the channel cannot take apart (like the emulated rdma's message stream)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner

    async def send_all(self, data) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes=None) -> bytes:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_blocking_api_over_a_stream_that_is_not_a_socket(fake, monkeypatch):
    from gfclient import brick

    real_open = brick.open_stream

    async def open_stream(*args, **kwargs):
        return _NotASocket(await real_open(*args, **kwargs))

    monkeypatch.setattr(brick, "open_stream", open_stream)
    _, port = fake
    with gfclient.connect(f"gluster://127.0.0.1:{port}/thrvol") as v:
        assert v._avol.brick.channel.sock is None
        name = f"stream-{os.getpid()}"
        with v.fopen(name, "w+") as f:
            for i in range(5):
                assert f.pwrite(block(9, i, 1000), i * 1000) == 1000
            assert f.pread(5000, 0) == b"".join(block(9, i, 1000) for i in range(5))
            with ThreadPoolExecutor(3) as pool:
                assert list(pool.map(lambda i: f.pread(1000, i * 1000), range(5))) == [
                    block(9, i, 1000) for i in range(5)
                ]
