"""SETVOLUME: the brick's handshake (``server-handshake.c``: ``server_setvolume``) and its
refusals -- auth.allow/auth.reject (the addr module), the volfile's credentials (the login
module: ``auth.login.<brick>.allow`` / ``auth.login.<user>.password``), a refused handshake.
A refused client must say so and must not loop on the brick.
"""

from __future__ import annotations

import errno
import functools
import time

from ..context import Ctx
from ..core import scenario
from ..drivers.base import ClientError
from .bricks import write_through
from .common import brick_calls, mount_open, seeded, setvolume_params

#: what a client refused by the brick may report
REFUSED = (errno.EACCES, errno.EPERM)

_AUTH_HANG = (
    "protocol/client turns a SETVOLUME refused with EACCES into GF_EVENT_AUTH_FAILED (client_setvolume_cbk), "
    "which libgfapi's notify() ignores (api/src/glfs-primary.c: only CHILD_UP/CHILD_DOWN end glfs_init's wait), "
    "so glfs_init waits for ever"
)
_AUTH_FUSE = (
    "glusterfs exits 0 without a mount and says why only in its log: handshake failures are not propagated "
    "to the mount (gluster/glusterfs#198, closed wontfix)"
)
_AUTH_KNOWN = {"libgfapi": _AUTH_HANG, "qemu": _AUTH_HANG, "fuse": _AUTH_FUSE}


@scenario("SETVOL-CREDENTIALS", flags="setvolume wire", depends="MGMT-HANDSHAKE")
def credentials(ctx: Ctx) -> None:
    """SETVOLUME carries the volfile's username and password, the brick path and the client's identity"""
    srv = ctx.serve()
    seeded(ctx, srv)
    mount_open(ctx, srv, "f")
    model = srv.volume_model()
    brick = srv.bricks()[0]
    sv = [r for r in brick_calls(ctx, srv, "SETVOLUME") if r.op_ret == 0]
    ctx.check(sv, "no successful SETVOLUME")
    p = setvolume_params(sv[0])
    ctx.check(p.get("username") == model.username, "SETVOLUME's username is not the volfile's")
    ctx.check(p.get("password") == model.password, "SETVOLUME's password is not the volfile's")
    ctx.check(p.get("remote-subvolume") == brick.path, f"remote-subvolume is {p.get('remote-subvolume')!r}")
    for key in ("process-uuid", "fops-version", "volfile-key"):
        ctx.check(key in p, f"SETVOLUME without {key}")
    ctx.note(f"process-name {p.get('process-name')!r}, client-version {p.get('client-version')!r}")


def _refused(ctx: Ctx, what: str, setup: str) -> None:
    """Mount with the brick refusing SETVOLUME (``setup`` already done): fail with EACCES,
    and do not hammer the brick."""
    srv = ctx.serve()
    seeded(ctx, srv)
    if setup == "reject":
        srv.set_option("auth.reject", "127.0.0.1")
    elif setup == "creds":

        def new_password() -> None:
            srv.volume_model().password = "not-the-bricks-password"  # the volfile now disagrees with the brick

        srv.run_sync(new_password)
    elif setup == "refuse":
        srv.faults.inject("SETVOLUME", errno=errno.EINVAL, times=None, server="brick")
    started = time.monotonic()
    wanted = [errno.EINVAL] if setup == "refuse" else REFUSED
    ctx.expect_error(lambda: mount_open(ctx, srv, "f"), wanted, what, timeout=60)
    took = time.monotonic() - started
    if took > 15:
        ctx.warn(f"it took {took:.0f} s to report a refusal")
    if not ctx.wire:
        return
    attempts = brick_calls(ctx, srv, "SETVOLUME")
    ctx.check(attempts, "no SETVOLUME reached the brick: the client failed before the handshake")
    ctx.check(all(r.op_ret != 0 for r in attempts), "a SETVOLUME succeeded")
    time.sleep(3)
    per_s = len(brick_calls(ctx, srv, "SETVOLUME")) / max(1.0, time.monotonic() - started)
    if per_s > 2:
        ctx.warn(f"{per_s:.1f} SETVOLUME a second at a brick that refuses it")


@scenario("SETVOL-AUTH-REJECT", flags="setvolume auth", depends="MGMT-MOUNT", timeout=90, known=_AUTH_KNOWN, real=True)
def auth_reject(ctx: Ctx) -> None:
    """auth.reject names the client's address: the mount fails with EACCES"""
    _refused(ctx, "mounting with auth.reject", "reject")


@scenario("SETVOL-BAD-CREDENTIALS", flags="setvolume auth", depends="MGMT-HANDSHAKE", timeout=90, known=_AUTH_KNOWN)
def bad_credentials(ctx: Ctx) -> None:
    """The volfile's password is not the brick's: the mount fails with EACCES"""
    _refused(ctx, "mounting with the wrong password", "creds")


@scenario("SETVOL-REFUSED", flags="setvolume", depends="MGMT-HANDSHAKE", timeout=90)
def refused(ctx: Ctx) -> None:
    """The brick refuses SETVOLUME (EINVAL, as for a version mismatch): the mount fails, it does not hang"""
    _refused(ctx, "mounting with SETVOLUME refused", "refuse")


@scenario("SETVOL-AUTH-LIVE", flags="setvolume auth", depends="MGMT-MOUNT", timeout=90, real=True)
def auth_live(ctx: Ctx) -> None:
    """auth.reject set while the client is connected: the brick drops it, IO fails, no hang"""
    srv = ctx.serve()
    seeded(ctx, srv)
    _, f = mount_open(ctx, srv, "f")
    write_through(ctx, f, 0, b"x" * 4096)
    srv.set_option("auth.reject", "127.0.0.1")
    # a real brick applies it a moment after the CLI returns (glusterd has it fetch its new
    # volfile, server_reconfigure then drops clients no longer allowed): IO must fail within 15 s
    started = time.monotonic()
    i = 0
    while True:
        i += 1
        try:
            ctx.spawn(functools.partial(write_through, ctx, f, 4096 * i, b"y" * 4096)).result(45)
        except ClientError as exc:
            ctx.note(f"IO failed {time.monotonic() - started:.1f} s after auth.reject (write {i}): {exc}")
            break
        except TimeoutError:
            ctx.fail("IO after the client was rejected hung")
        if time.monotonic() - started > 15:
            ctx.fail(f"{i} writes (each with fsync) succeeded in the 15 s after auth.reject named the client")
        time.sleep(0.25)
    # (the failed write itself may be on the brick: the brick can drop the client between its
    # WRITE and the FSYNC, as a real 10.3 brick did; what counts is that the client said so)
