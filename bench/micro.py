"""Micro-benchmarks of the server's per-request CPU work (no sockets): the hot path of a READ.

    .venv/bin/python bench/micro.py       # µs per operation: the best of 100 runs, and their median

``MemoryStore.read/write 128k``: the memory store alone.  ``write 128k x16``: sixteen
128 KiB WRITE records fed to a brick connection's Dispatcher as a 256 KiB receive buffer cuts
them (record splitting, decoding, the store, the replies).  ``read 4k``: one framed READ call
record through a brick connection's Dispatcher (decode the call, the brick's READ on a
MemoryStore, encode the reply header and stat) to the buffers it would send (the READ fast
path: ``BrickSession.fast``); ``no fast path``: the same through the generic
``handle``/``reply_buffers`` path.
``decode/encode``: the codecs alone on that call and its reply.  The numbers are
for comparing two trees on the same machine (run both back to back), not absolute targets:
the end-to-end benchmarks against a real brick are ``make bench``.  The best run is the figure
to compare: this machine is shared, and other processes only ever make a run slower.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fakegluster.proto import Call, Role, RpcConnection, common, fops, rpc, xdr  # noqa: E402
from fakegluster.server.brick import Brick, BrickSession  # noqa: E402
from fakegluster.server.net import Dispatcher  # noqa: E402
from fakegluster.store.memory import MemoryStore  # noqa: E402


def _setup_writes() -> tuple[Dispatcher, list[bytes]]:
    """A brick Dispatcher and a stream of 128 KiB WRITE records cut as a 256 KiB receive
    buffer cuts them (fio's 128k writes through write-behind arrive back to back)."""
    store = MemoryStore()
    attr, _ = store.create(common.ROOT_GFID, "w", 0o644, uid=0, gid=0, gfid=os.urandom(16))
    session = BrickSession(Brick("v", "/b", store))
    session.bound = True
    dispatcher = Dispatcher(
        session, [fops.BRICK_PROGRAM], name="b", peer="p", connection_id=1, calls=None, faults=None, max_record=None
    )
    cred = rpc.AuthGlusterfsParamsV3(pid=1, lk_owner=rpc.lk_owner_for_pid(1))
    client = RpcConnection(Role.CLIENT)
    opened = dispatcher.feed(
        client.send(Call(1, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.OPEN, fops.GfxOpenReq(attr.gfid, 2), cred))
    )
    client.receive_data(b"".join(bytes(b) for b in opened))
    fd = client.next_event().result.fd
    block = os.urandom(128 << 10)
    wire = b"".join(
        client.send(
            Call(2 + i, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.WRITE,
                 fops.GfxWriteReq(attr.gfid, fd, i * len(block), len(block), 0, None), cred, payload=block)
        )
        for i in range(16)
    )  # fmt: skip
    return dispatcher, [wire[i : i + 256 * 1024] for i in range(0, len(wire), 256 * 1024)]


def _setup() -> tuple[Dispatcher, bytes, bytes, object]:
    store = MemoryStore()
    attr, _ = store.create(common.ROOT_GFID, "f", 0o644, uid=0, gid=0, gfid=os.urandom(16))
    store.write(attr.gfid, 0, os.urandom(1 << 20))
    session = BrickSession(Brick("v", "/b", store))
    session.bound = True
    dispatcher = Dispatcher(
        session, [fops.BRICK_PROGRAM], name="b", peer="p", connection_id=1, calls=None, faults=None, max_record=None
    )
    cred = rpc.AuthGlusterfsParamsV3(pid=1, lk_owner=rpc.lk_owner_for_pid(1))
    client = RpcConnection(Role.CLIENT)
    opened = dispatcher.feed(
        client.send(Call(1, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.OPEN, fops.GfxOpenReq(attr.gfid, 2), cred))
    )
    client.receive_data(b"".join(bytes(b) for b in opened))
    fd = client.next_event().result.fd
    read = fops.GfxReadReq(attr.gfid, fd, 8192, 4096, 0, None)
    record = client.send(Call(2, fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.READ, read, cred))
    reply = fops.GfxReadRsp(4096, 0, common.GfxIattx(ia_gfid=attr.gfid, ia_size=1 << 20), 4096, None)
    return dispatcher, record, xdr.encode(fops.GfxReadRsp, reply), reply


def main() -> None:
    dispatcher, record, reply_bytes, reply = _setup()
    args = xdr.encode(fops.GfxReadReq, fops.GfxReadReq(bytes(16), 1, 8192, 4096, 0, None))
    writer, chunks = _setup_writes()
    generic, generic_record, _, _ = _setup()
    generic.fast = None  # the READ through handle() and reply_buffers, as before the fast path

    def writes() -> None:
        for c in chunks:
            writer.feed(c)
            while writer.more:
                writer.resume()

    logging.disable(logging.WARNING)  # "WRITE took N ms" under load
    store = MemoryStore()
    f, _ = store.create(common.ROOT_GFID, "m", 0o644, uid=0, gid=0, gfid=os.urandom(16))
    store.write(f.gfid, 0, os.urandom(1 << 20))
    block = os.urandom(128 << 10)
    cases = {
        "MemoryStore.read 128k": lambda: store.read(f.gfid, 128 << 10, 128 << 10),
        "MemoryStore.write 128k": lambda: store.write(f.gfid, 128 << 10, block),
        "write 128k x16 (feed)": writes,
        "read 4k (Dispatcher.feed)": lambda: dispatcher.feed(record),
        "read 4k (no fast path)": lambda: generic.feed(generic_record),
        "decode gfx_read_req": lambda: xdr.decode(fops.GfxReadReq, args),
        "decode gfx_read_rsp": lambda: xdr.decode(fops.GfxReadRsp, reply_bytes),
        "encode gfx_read_rsp": lambda: xdr.encode(fops.GfxReadRsp, reply),
    }
    for name, fn in cases.items():
        n = (
            5 if name.startswith("write") else 2000
        )  # short runs, many of them: the best one is the least disturbed by other processes
        runs = timeit.repeat(fn, number=n, repeat=100)
        print(f"{name:28s} {min(runs) / n * 1e6:7.2f} µs  (median {statistics.median(runs) / n * 1e6:.2f})")


if __name__ == "__main__":
    main()
