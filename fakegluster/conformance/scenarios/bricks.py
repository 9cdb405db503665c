"""Bricks that go away, come back elsewhere, die in the middle of a call, or stop answering.

The client's side is protocol/client (``client.c``: ``client_rpc_notify``, reconnects every
3 s; ``client-handshake.c``: ``client_query_portmap`` before each SETVOLUME, ``client_reopen``
of the fds it had) and rpc-clnt's ping timer (``rpc-clnt-ping.c``: a connection whose peer
does not answer a ping within ``network.ping-timeout`` is dropped, its calls fail ENOTCONN).
"""

from __future__ import annotations

import errno
import time
from typing import Any

from ...server import FakeGluster
from ..context import Ctx, pattern
from ..core import scenario
from ..drivers.base import ClientError, File
from .common import brick_calls, mount_open, reconnected, seeded

#: QEMU's answer to an IO error on a gluster image (seen with qemu-io 7.2)
QEMU_DROPS_IMAGE = (
    "after a failed write QEMU 7.2 tears its libgfapi instance down (its log: the graph is unloaded) and "
    "answers ENOMEDIUM until the image is opened again, on purpose (QEMU d85fa9eb87, 'block/gluster: prevent "
    "data loss after i/o error')"
)

#: what a client may say when its brick is gone
GONE = (errno.ENOTCONN, errno.EIO, errno.EBADF, errno.EBADFD)


def write_through(ctx: Ctx, f: File, offset: int, data: bytes) -> None:
    """pwrite then fsync (when the client can): a client that caches writes (write-behind)
    must report a failure at one or the other."""
    f.pwrite(offset, data)
    if "fsync" in ctx.driver.caps:
        f.fsync()


def _since(ctx: Ctx, records: list[Any], mark: float) -> list[Any]:
    return [r for r in records if r.time >= mark]


@scenario("PMAP-BRICK-DOWN", flags="portmap bricks", depends="MGMT-MOUNT", timeout=90, real=True)
def brick_down_at_mount(ctx: Ctx) -> None:
    """The only brick is down at mount: the mount or the first IO fails (ENOTCONN), no hang"""
    srv = ctx.serve()
    seeded(ctx, srv)
    srv.bricks()[0].stop()
    ctx.expect_error(lambda: mount_open(ctx, srv, "f"), [errno.ENOTCONN], "IO with the brick down", timeout=60)
    if not ctx.wire:
        return
    pm = ctx.find(srv, "PORTBYBRICK")
    ctx.check(pm, "the client never asked glusterd for the brick's port")
    ctx.check(all(r.op_ret == -1 for r in pm), "glusterd gave a port for a stopped brick?")


@scenario("PMAP-BRICK-LATE", flags="portmap bricks", depends="MGMT-MOUNT", timeout=90, real=True)
def brick_starts_late(ctx: Ctx) -> None:
    """The brick starts after the client first tried: the client gets through within 20 s"""
    srv = ctx.serve()
    data = seeded(ctx, srv)
    brick = srv.bricks()[0]
    brick.stop()
    session = None
    try:
        session = ctx.mount(srv)
    except ClientError as exc:
        ctx.note(f"mount with the brick down: {exc}")
    started = time.monotonic()
    brick.start()

    def through() -> bytes:
        nonlocal session
        if session is None:
            session = ctx.mount(srv)
        return session.open("f").pread(0, 4096)

    got = ctx.retry(through, 20, "IO once the brick is up")
    ctx.check(got == data[:4096], "read the wrong data")
    ctx.note(f"through {time.monotonic() - started:.1f} s after the brick started")
    if ctx.wire:
        ctx.check(any(r.op_ret == 0 for r in ctx.find(srv, "PORTBYBRICK")), "no PORTBYBRICK found the started brick")


def _used(ctx: Ctx, srv: FakeGluster) -> File:
    """Mount, open ``f`` and write through it (so the brick really opened it: open-behind
    defers an OPEN until the fd is used for something its caches cannot answer)."""
    _, f = mount_open(ctx, srv, "f")
    write_through(ctx, f, 0, pattern(4096, seed=11))
    return f


def _restart(ctx: Ctx, srv: FakeGluster) -> float:
    """Stop the brick, start it on a new port; wait until the client did SETVOLUME on it
    again (FAIL after 20 s).  Returns the time of the restart (call-log clock)."""
    brick = srv.bricks()[0]
    old = brick.port
    brick.stop()
    mark = time.time()
    started = time.monotonic()
    ctx.check(brick.start() != old, "the server restarted the brick on the same port")
    if not reconnected(ctx, srv, mark):
        pm = _since(ctx, ctx.find(srv, "PORTBYBRICK"), mark)
        ctx.fail(f"no SETVOLUME on the restarted brick within 20 s ({len(pm)} PORTBYBRICK since the restart)")
    ctx.note(f"reconnected {time.monotonic() - started:.1f} s after the restart")
    return mark


@scenario("BRICK-RECONNECT-NEWPORT", flags="bricks portmap", depends="MGMT-MOUNT", timeout=90, real=True)
def reconnect_new_port(ctx: Ctx) -> None:
    """The brick restarts on another port: the client asks glusterd again, reconnects, IO resumes"""
    srv = ctx.serve()
    seeded(ctx, srv)
    f = _used(ctx, srv)
    mark = _restart(ctx, srv)
    if ctx.wire:
        ctx.check(_since(ctx, ctx.find(srv, "PORTBYBRICK"), mark), "reconnected without asking glusterd for the port?")
    new = pattern(4096, seed=10)  # a write: a read could come from the client's caches
    ctx.retry(lambda: write_through(ctx, f, 8192, new), 10, "writing after the reconnect")
    ctx.check(srv.read_file("f")[8192:12288] == new, "the write after the reconnect is not on the brick")


@scenario("BRICK-FD-REOPEN", flags="bricks", depends="BRICK-RECONNECT-NEWPORT", timeout=90, real=True)
def fd_reopen(ctx: Ctx) -> None:
    """An fd open across a brick restart is opened again on the new connection (OPEN)"""
    srv = ctx.serve()
    seeded(ctx, srv)
    f = _used(ctx, srv)
    mark = _restart(ctx, srv)
    new = pattern(4096, seed=9)
    ctx.retry(lambda: write_through(ctx, f, 4096, new), 10, "writing through the old fd after the reconnect")
    ctx.check(srv.read_file("f")[4096:8192] == new, "the write through the reopened fd is not on the brick")
    if ctx.wire and not _since(ctx, brick_calls(ctx, srv, "OPEN"), mark):
        ctx.warn("no OPEN after the reconnect: the write went through an fd the brick never opened again")


@scenario(
    "BRICK-OUTAGE-FIRST-USE",
    flags="bricks",
    depends="BRICK-RECONNECT-NEWPORT",
    timeout=90,
    real=True,
    known={
        "libgfapi": "open-behind (on by default) defers OPEN to the fd's first use; when that OPEN fails, "
        "ob_open_completed stores its errno in the fd and every later call on it fails (open-behind.c); "
        "no upstream issue found",
        "fuse": "open-behind (on by default) defers OPEN to the fd's first use; when that OPEN fails, "
        "ob_open_completed stores its errno in the fd and every later call on it fails (open-behind.c); "
        "no upstream issue found",
        "qemu": QEMU_DROPS_IMAGE,
    },
)
def outage_first_use(ctx: Ctx) -> None:
    """An fd opened before a brick outage and first used during it works once the brick is back"""
    srv = ctx.serve()
    seeded(ctx, srv)
    _, f = mount_open(ctx, srv, "f")
    brick = srv.bricks()[0]
    brick.stop()
    ctx.expect_error(lambda: write_through(ctx, f, 0, pattern(4096, seed=12)), GONE, "a write during the outage", 45)
    mark = time.time()
    brick.start()
    ctx.check(reconnected(ctx, srv, mark), "the client did not reconnect within 20 s of the brick's start")
    new = pattern(4096, seed=13)
    ctx.retry(lambda: write_through(ctx, f, 0, new), 10, "writing through the fd once the brick is back")
    ctx.check(srv.read_file("f")[:4096] == new, "the write is not on the brick")


@scenario("BRICK-KILL-MID-WRITE", flags="bricks", depends="BRICK-RECONNECT-NEWPORT", timeout=120)
def kill_mid_write(ctx: Ctx) -> None:
    """The brick dies while a WRITE waits for its answer: the write fails (no hang, no silent success)"""
    srv = ctx.serve()
    seeded(ctx, srv)
    f = _used(ctx, srv)
    brick = srv.bricks()[0]
    srv.faults.inject("WRITE", action="hang", server=brick.name)
    data = pattern(65536, seed=4)
    pending = ctx.spawn(lambda: write_through(ctx, f, 0, data))
    held = ctx.wait_for(lambda: [r for r in ctx.find(srv, "WRITE") if r.error == "fault: hang"], 20)
    if not held:
        ctx.fail("no WRITE reached the brick within 20 s of pwrite (+fsync)")
    brick.kill()
    killed = time.monotonic()
    try:
        pending.result(45)
    except ClientError as exc:
        ctx.note(f"the write failed {time.monotonic() - killed:.1f} s after the kill: {exc}")
        if exc.errno not in GONE:
            ctx.warn(f"the write failed with {exc.name}, not ENOTCONN")
    except TimeoutError:
        ctx.fail("the write still waits 45 s after its brick died")
    else:
        ctx.fail("the write reported success although its brick died before answering")


@scenario(
    "BRICK-RECOVER-AFTER-ERROR",
    flags="bricks",
    depends="BRICK-RECONNECT-NEWPORT",
    timeout=120,
    real=True,
    known={
        "qemu": QEMU_DROPS_IMAGE,
    },
)
def recover_after_error(ctx: Ctx) -> None:
    """A write failed because the brick died; once the brick is back the same fd works again"""
    srv = ctx.serve()
    seeded(ctx, srv)
    f = _used(ctx, srv)
    brick = srv.bricks()[0]
    brick.kill()
    ctx.expect_error(lambda: write_through(ctx, f, 0, pattern(4096, seed=14)), GONE, "a write with the brick dead", 45)
    mark = time.time()
    brick.start()
    ctx.check(reconnected(ctx, srv, mark), "the client did not reconnect within 20 s of the brick's start")
    again = pattern(4096, seed=6)
    ctx.retry(lambda: write_through(ctx, f, 0, again), 10, "writing through the fd once the brick is back")
    ctx.check(srv.read_file("f")[:4096] == again, "the write is not on the brick")


@scenario("BRICK-FROZEN", flags="bricks ping", depends="BRICK-RECONNECT-NEWPORT", timeout=120, real=True)
def frozen_brick(ctx: Ctx) -> None:
    """A brick that stops answering (SIGSTOP), network.ping-timeout 5: IO fails ENOTCONN in bounded time"""
    srv = ctx.serve(options={"network.ping-timeout": "5"})
    seeded(ctx, srv)
    f = _used(ctx, srv)
    brick = srv.bricks()[0]
    brick.freeze()
    frozen = time.monotonic()
    data = pattern(4096, seed=7)
    pending = ctx.spawn(lambda: write_through(ctx, f, 0, data))
    try:
        pending.result(45)
    except ClientError as exc:
        took = time.monotonic() - frozen
        ctx.note(f"failed after {took:.1f} s: {exc}")
        if exc.errno != errno.ENOTCONN:
            ctx.warn(f"the write failed with {exc.name}, not ENOTCONN")
        if took > 20:
            ctx.warn(f"it took {took:.0f} s to give up on a brick silent for ping-timeout 5 s")
    except TimeoutError:
        ctx.fail("the write still waits 45 s into a freeze with ping-timeout 5 s")
    else:
        ctx.fail("the write succeeded against a frozen brick")
    finally:
        brick.thaw()
