"""Small helpers the scenario modules share."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from ...proto.gfdict import old_dict_text
from ...server import FakeGluster
from ...server.calllog import CallRecord
from ...xl import ec
from ..context import Ctx, pattern
from ..drivers.base import File, Session, Target

__all__ = [
    "mount_open",
    "setvolume_params",
    "getspec_params",
    "seeded",
    "seed_file",
    "brick_calls",
    "volume_model",
    "brick_data",
    "reconnected",
]


def mount_open(ctx: Ctx, where: FakeGluster | Target, path: str, *, timeout: float = 30.0) -> tuple[Session, File]:
    """Mount and open ``path`` read-write, then read its first byte: for every client, the
    point where a mount that cannot work has said so (QEMU mounts when it opens)."""
    session = ctx.mount(where, timeout=timeout)
    f = session.open(path, os.O_RDWR)
    f.pread(0, 1)
    return session, f


def seeded(ctx: Ctx, server: FakeGluster, path: str = "f", size: int = 65536, seed: int = 1) -> bytes:
    """Put a file on the first volume (one brick) before any client looks; returns its data."""
    data = pattern(size, seed)
    server.write_file(path, data)
    return data


def setvolume_params(record: CallRecord) -> dict[str, str]:
    return old_dict_text(getattr(record.args, "dict", None))


def getspec_params(record: CallRecord) -> dict[str, str]:
    return old_dict_text(getattr(record.args, "xdata", None))


def brick_calls(
    ctx: Ctx, server: FakeGluster, proc: str, index: int = 0, volume: str | None = None
) -> list[CallRecord]:
    """Calls of ``proc`` brick ``index`` of ``volume`` received."""
    name = server.bricks(volume)[index].name
    return [r for r in ctx.find(server, proc) if r.server == name]


def volume_model(server: FakeGluster, volume: str | None = None) -> Any:
    return server.volume_model(volume)


def seed_file(ctx: Ctx, server: FakeGluster, path: str, data: bytes, volume: str | None = None) -> None:
    """Put ``path`` (at the volume root) with ``data`` straight into the bricks' stores, as a
    client of that volume type would have left it: one copy per brick of a replicate volume
    (one gfid, clean changelogs), fragments with ``trusted.ec.*`` on a disperse volume
    (:mod:`fakegluster.xl.ec`).  Distributed volumes: OMIT (placement needs the layout a
    client heals on first lookup)."""
    if getattr(server, "is_real", False):
        server.write_file(path, data)  # through a client: real bricks get what a client writes
        return
    model = server.volume_model(volume)
    bricks = server.bricks(volume)
    if len(bricks) == 1:
        server.write_file(path, data, volume=volume)
        return
    if model.subvol_count != 1:
        ctx.omit("seeding a distributed volume's files needs a client that can create them")
    name = path.strip("/")
    if "/" in name:
        raise ValueError("seed_file puts files at the volume root only")
    gfid = uuid.uuid4().bytes
    contents: list[tuple[bytes, dict[str, bytes]]] = []
    if model.disperse_count:
        codec = ec.Codec(model.disperse_count, model.redundancy_count)
        padded = data + bytes(-len(data) % codec.stripe)
        xattrs = {
            ec.CONFIG_XATTR: ec.Config(model.disperse_count, model.redundancy_count).encode(),
            ec.SIZE_XATTR: ec.encode_u64(len(data)),
            ec.VERSION_XATTR: ec.encode_pair(1, 1),
            ec.DIRTY_XATTR: ec.encode_pair(0, 0),
        }
        contents = [(frag, xattrs) for frag in codec.encode(padded)]
    else:
        arbiter = model.replica_count - 1 if model.arbiter_count else -1
        contents = [(b"" if i == arbiter else data, {}) for i in range(len(bricks))]
    for brick, (content, xattrs) in zip(bricks, contents):
        server.run_sync(_put, brick.store, name, content, gfid, xattrs)


def brick_data(server: FakeGluster, index: int, path: str, offset: int = 0, size: int = 1 << 30) -> bytes | None:
    """What brick ``index`` holds of ``path`` (a replica's copy, a DHT subvolume's file;
    None: the brick has no such file), on a fake or a real volume."""
    if getattr(server, "is_real", False):
        return server.brick_read(index, path, offset, size)  # type: ignore[attr-defined, no-any-return]
    store = server.bricks()[index].store

    def read() -> bytes | None:
        try:
            gfid = store.resolve_path(path).gfid
        except FileNotFoundError:
            return None
        return bytes(store.read(gfid, offset, size))

    got: bytes | None = server.run_sync(read)
    return got


def reconnected(ctx: Ctx, server: FakeGluster, mark: float, index: int = 0, timeout: float = 20) -> bool:
    """Whether the client did SETVOLUME on brick ``index`` again since ``mark`` (call-log
    clock) within ``timeout`` s.  A real brick keeps no call log: there, a TCP connection
    established to the restarted brick's port (``/proc/net/tcp``) shows the client is back,
    and one more second lets its handshake and fd reopens finish."""
    if not ctx.wire:
        brick = server.bricks()[index]
        if not ctx.wait_for(lambda: brick.connections() > 0, timeout):  # type: ignore[attr-defined]
            return False
        time.sleep(1)
        return True
    name = server.bricks()[index].name
    return bool(
        ctx.wait_for(
            lambda: [r for r in ctx.find(server, "SETVOLUME") if r.server == name and r.time >= mark and r.op_ret == 0],
            timeout,
        )
    )


def _put(store: Any, name: str, data: bytes, gfid: bytes, xattrs: dict[str, bytes]) -> None:
    attr, _ = store.create(store.root_gfid, name, 0o644, uid=0, gid=0, gfid=gfid)
    if data:
        store.write(attr.gfid, 0, data)
    for key, value in xattrs.items():
        store.setxattr(attr.gfid, key, value)
