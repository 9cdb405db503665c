"""POSIX locks (LK, ``features/locks`` on the brick) between clients, and across a brick restart.

A restarted brick has lost every lock it held.  A client that held one must not go on as if it
still did: it takes it again when it reconnects (lock healing, gone from protocol/client since
GlusterFS 7), or fails the fd (``client.strict-locks``; gluster/glusterfs#3183: fds with locks
are not reopened, IO on them fails EBADFD).  Silently writing on without the lock lets another
client take it: two writers both think they hold the lock.
"""

from __future__ import annotations

import errno
import os
import time

from ..context import Ctx
from ..core import scenario
from ..drivers.base import ClientError
from .bricks import write_through
from .common import brick_calls, reconnected, seeded


@scenario("LOCK-CONFLICT", flags="locks", depends="MGMT-MOUNT", real=True)
def conflict(ctx: Ctx) -> None:
    """Two clients, one range: the second gets EAGAIN until the first unlocks"""
    ctx.need("lock")
    srv = ctx.serve()
    seeded(ctx, srv)
    a = ctx.mount(srv).open("f", os.O_RDWR)
    b = ctx.mount(srv).open("f", os.O_RDWR)
    a.lock("w", 0, 100)
    ctx.expect_error(lambda: b.lock("w", 50, 100), [errno.EAGAIN], "a conflicting lock", timeout=30)
    b.lock("w", 200, 100)  # no overlap: granted
    a.lock("u", 0, 100)
    b.lock("w", 50, 100)
    if ctx.wire:
        ctx.check(brick_calls(ctx, srv, "LK"), "no LK reached the brick: the locks were only local")


_NO_LOCK_HEAL = (
    "with client.strict-locks off (its default) protocol/client reopens an fd that held locks without "
    "taking them again (client_reopen_fd skips such fds only with strict-locks; lock healing left in "
    "GlusterFS 7); see gluster/glusterfs#3183 and #2581"
)


@scenario(
    "LOCK-AFTER-RESTART",
    flags="locks bricks",
    depends="LOCK-CONFLICT BRICK-RECONNECT-NEWPORT",
    timeout=120,
    known={"libgfapi": _NO_LOCK_HEAL, "fuse": _NO_LOCK_HEAL},
    real=True,
)
def after_restart(ctx: Ctx) -> None:
    """A lock held across a brick restart is taken again, or its fd fails: never silently lost"""
    _lock_across_restart(ctx, {})


@scenario(
    "LOCK-STRICT-AFTER-RESTART",
    flags="locks bricks",
    depends="LOCK-CONFLICT BRICK-RECONNECT-NEWPORT",
    timeout=120,
    real=True,
)
def strict_after_restart(ctx: Ctx) -> None:
    """With client.strict-locks on, a lock lost in a brick restart fails its fd (EBADFD)"""
    _lock_across_restart(ctx, {"client.strict-locks": "on"})


def _lock_across_restart(ctx: Ctx, options: dict[str, str]) -> None:
    ctx.need("lock")
    srv = ctx.serve(options=options)
    seeded(ctx, srv)
    a = ctx.mount(srv).open("f", os.O_RDWR)
    write_through(ctx, a, 0, b"a" * 4096)
    a.lock("w", 0, 0)
    brick = srv.bricks()[0]
    brick.stop()
    mark = time.time()
    brick.start()
    ctx.check(reconnected(ctx, srv, mark), "the client did not reconnect within 20 s")
    time.sleep(1)  # let it finish what it does after the handshake (reopen, relock)
    relocked = [r for r in brick_calls(ctx, srv, "LK") if r.time >= mark] if ctx.wire else []
    b = ctx.mount(srv).open("f", os.O_RDWR)
    try:
        b.lock("w", 0, 100)
    except ClientError as exc:
        if exc.errno == errno.EAGAIN:
            ctx.note(f"the lock was taken again ({len(relocked)} LK after the restart)")
            return
        raise
    # the other client got the lock: the holder must not be able to go on -- not now, and not
    # once its client finished reopening the fd (an fd still being reopened fails EBADFD for a
    # moment: client_get_remote_fd; only a failure that lasts says the lock loss was noticed)
    failed: ClientError | None = None
    for _attempt in range(2):
        try:
            write_through(ctx, a, 0, b"b" * 4096)
        except ClientError as exc:
            failed = exc
            time.sleep(3)
            continue
        if failed is not None:
            ctx.fail(f"the lock was lost in the restart; the holder's fd failed ({failed}), then wrote on without it")
        ctx.fail("the lock was lost in the restart, another client took it, and the holder still writes")
    assert failed is not None
    ctx.note(f"the lock was lost and the holder's fd fails: {failed}")
    if failed.errno not in (errno.EBADF, errno.EBADFD):
        ctx.warn(f"the holder's fd failed with {failed.name}, not EBADFD")


@scenario("LOCK-WAIT", flags="locks", depends="LOCK-CONFLICT", timeout=90, real=True)
def wait(ctx: Ctx) -> None:
    """A blocking lock (F_SETLKW) on a held range waits, and is granted once the holder unlocks"""
    ctx.need("lock")
    srv = ctx.serve()
    seeded(ctx, srv)
    a = ctx.mount(srv).open("f", os.O_RDWR)
    b = ctx.mount(srv).open("f", os.O_RDWR)
    a.lock("w", 0, 100)
    pending = ctx.spawn(lambda: b.lock("w", 0, 100, wait=True))
    time.sleep(2)
    ctx.check(not pending.done(), "F_SETLKW returned while another client held the range")
    a.lock("u", 0, 100)
    started = time.monotonic()
    try:
        pending.result(30)
    except TimeoutError:
        ctx.fail("the waiting lock was not granted within 30 s of the unlock")
    ctx.note(f"granted {time.monotonic() - started:.2f} s after the unlock")
    ctx.expect_error(lambda: a.lock("w", 0, 100), [errno.EAGAIN], "the first client's lock now", timeout=30)


@scenario("LOCK-CLOSE-RELEASES", flags="locks", depends="LOCK-CONFLICT", timeout=90, real=True)
def close_releases(ctx: Ctx) -> None:
    """Closing the fd that holds a lock releases it: another client gets the range"""
    ctx.need("lock")
    srv = ctx.serve()
    seeded(ctx, srv)
    a = ctx.mount(srv).open("f", os.O_RDWR)
    b = ctx.mount(srv).open("f", os.O_RDWR)
    a.lock("w", 0, 0)
    ctx.expect_error(lambda: b.lock("w", 0, 100), [errno.EAGAIN], "a conflicting lock", timeout=30)
    a.close()
    ctx.retry(lambda: b.lock("w", 0, 100), 10, "locking after the holder closed its fd")


@scenario("LOCK-HOLDER-DIES", flags="locks", depends="LOCK-CONFLICT", timeout=90, real=True)
def holder_dies(ctx: Ctx) -> None:
    """The lock holder dies (killed, no unlock, no close): the brick frees its locks, another client gets them"""
    ctx.need("lock")
    srv = ctx.serve()
    seeded(ctx, srv)
    holder = ctx.mount(srv)
    a = holder.open("f", os.O_RDWR)
    b = ctx.mount(srv).open("f", os.O_RDWR)
    a.lock("w", 0, 0)
    ctx.expect_error(lambda: b.lock("w", 0, 100), [errno.EAGAIN], "a conflicting lock", timeout=30)
    holder.abort()
    started = time.monotonic()
    ctx.retry(lambda: b.lock("w", 0, 100), 20, "locking after the holder died")
    ctx.note(f"granted {time.monotonic() - started:.1f} s after the holder was killed")
