"""Mounting: the handshake with glusterd and the bricks, and what GETSPEC can answer.

glusterd's side is ``glusterd-handshake.c`` (``__server_getspec``) and ``glusterd-pmap.c``;
the client's ``glfs-mgmt.c`` (``glfs_mgmt_getspec_cbk``), ``glusterfsd-mgmt.c`` (FUSE) and
``client-handshake.c`` (``client_setvolume``).
"""

from __future__ import annotations

import errno
import os
import socket
import time

from ..context import Ctx, pattern
from ..core import scenario
from ..drivers.base import Server
from .common import getspec_params, mount_open, seeded


@scenario("MGMT-MOUNT", flags="basic", real=True)
def mount(ctx: Ctx) -> None:
    """Mount over TCP, read a file, write into it, close it"""
    srv = ctx.serve()
    data = seeded(ctx, srv, "f", 65536)
    session = ctx.mount(srv)
    f = session.open("f", os.O_RDWR)
    got = f.pread(0, 65536)
    ctx.check(got == data, f"read {len(got)} bytes that differ from the file's 65536")
    new = pattern(4096, seed=2)
    n = f.pwrite(8192, new)
    ctx.check(n == 4096, f"pwrite of 4096 bytes returned {n}")
    f.close()
    on_brick = srv.read_file("f")
    ctx.check(on_brick[8192:12288] == new, "the brick does not hold what the client wrote")
    ctx.check(on_brick[:8192] == data[:8192], "the write changed bytes it should not have")


@scenario("MGMT-HANDSHAKE", flags="basic wire", depends="MGMT-MOUNT")
def handshake(ctx: Ctx) -> None:
    """GETSPEC of the volume, PORTBYBRICK of its brick, then SETVOLUME on that port"""
    srv = ctx.serve()
    seeded(ctx, srv)
    mount_open(ctx, srv, "f")
    brick = srv.bricks()[0]
    getspecs = ctx.find(srv, "GETSPEC", "glusterd")
    ctx.check(getspecs, "no GETSPEC reached glusterd")
    keys = {r.args.key for r in getspecs}
    ctx.check(keys & {"vol", "/vol"}, f"GETSPEC asked for {sorted(keys)}, not the volume 'vol'")
    pmaps = ctx.find(srv, "PORTBYBRICK")
    ctx.check(pmaps, "no PORTBYBRICK: the client did not ask glusterd where the brick is")
    ctx.check(any(r.args.brick == brick.path for r in pmaps), f"PORTBYBRICK asked for {[r.args.brick for r in pmaps]}")
    setvols = ctx.find(srv, "SETVOLUME", brick.name)
    ctx.check(setvols, "no SETVOLUME reached the brick")
    first_gs, first_pm, first_sv = getspecs[0].time, pmaps[0].time, setvols[0].time
    ctx.check(first_gs <= first_pm <= first_sv, "the handshake is out of order (GETSPEC, PORTBYBRICK, SETVOLUME)")
    ctx.check(any(r.op_ret == 0 for r in setvols), "no SETVOLUME succeeded")


@scenario("MGMT-GETSPEC-OPVERSION-ARGS", flags="wire", depends="MGMT-MOUNT")
def getspec_opversion_args(ctx: Ctx) -> None:
    """GETSPEC says which op-versions the client speaks (min-op-version, max-op-version)"""
    srv = ctx.serve()
    seeded(ctx, srv)
    mount_open(ctx, srv, "f")
    params = [getspec_params(r) for r in ctx.find(srv, "GETSPEC", "glusterd")]
    ctx.check(params, "no GETSPEC")
    p = params[0]
    for key in ("min-op-version", "max-op-version"):
        ctx.check(key in p, f"GETSPEC without {key} (a real glusterd 10.3 answers ENOTSUP)")
    low, high = int(p["min-op-version"]), int(p["max-op-version"])
    cop = srv.volume_model().client_op_version
    ctx.check(low <= cop <= high, f"the client speaks op-versions {low}..{high}, the volume needs {cop}")
    ctx.note(f"op-versions {low}..{high}")


@scenario("MGMT-GETSPEC-ENOENT", flags="getspec", depends="MGMT-MOUNT", timeout=90, real=True)
def getspec_unknown_volume(ctx: Ctx) -> None:
    """Mounting a volume glusterd does not know fails at once with ENOENT"""
    srv = ctx.serve()
    target = ctx.target(srv, "nosuchvol")
    started = time.monotonic()
    ctx.expect_error(lambda: mount_open(ctx, target, "f"), [errno.ENOENT], "mounting an unknown volume", timeout=60)
    took = time.monotonic() - started
    if ctx.wire:
        answered = [r for r in ctx.find(srv, "GETSPEC", "glusterd") if r.op_ret is not None and r.op_ret < 0]
        ctx.check(answered, "the client failed without asking glusterd for the volume")
    if took > 10:
        ctx.warn(f"it took {took:.0f} s to give up on an answer that cannot change")


@scenario("MGMT-GETSPEC-ENOTSUP", flags="getspec", depends="MGMT-MOUNT", timeout=90)
def getspec_op_version_refused(ctx: Ctx) -> None:
    """A volume needing a newer op-version than the client speaks: the mount fails (ENOTSUP)"""
    srv = ctx.serve()
    seeded(ctx, srv)

    def raise_op_version() -> None:
        srv.volume_model().client_op_version = 999999  # newer than any client's max-op-version

    srv.run_sync(raise_op_version)
    started = time.monotonic()
    ctx.expect_error(lambda: mount_open(ctx, srv, "f"), [errno.ENOTSUP], "mounting a too-new volume", timeout=60)
    refused = [r for r in ctx.find(srv, "GETSPEC", "glusterd") if r.op_errno == errno.ENOTSUP]
    ctx.check(refused, "glusterd never refused a GETSPEC: the client failed for another reason")
    if time.monotonic() - started > 10:
        ctx.warn(f"it took {time.monotonic() - started:.0f} s to give up on an answer that cannot change")


@scenario("MGMT-GETSPEC-SLOW", flags="getspec", depends="MGMT-MOUNT", timeout=90)
def getspec_slow(ctx: Ctx) -> None:
    """A glusterd that takes 5 s to answer GETSPEC: the client waits and mounts"""
    srv = ctx.serve()
    data = seeded(ctx, srv)
    srv.faults.inject("GETSPEC", delay=5.0, server="glusterd")
    started = time.monotonic()
    _, f = mount_open(ctx, srv, "f", timeout=60)
    ctx.check(f.pread(0, 4096) == data[:4096], "read the wrong data")
    ctx.note(f"mounted after {time.monotonic() - started:.1f} s")


@scenario("MGMT-GLUSTERD-DOWN", flags="getspec", depends="MGMT-MOUNT", timeout=90, real=True)
def glusterd_down(ctx: Ctx) -> None:
    """Nothing listens where glusterd should be: the mount fails, it does not hang"""
    with socket.socket() as s:  # a port nothing listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        srv = ctx.serve()
        target = ctx.target(srv)
        target = type(target)(target.volume, (Server("tcp", "127.0.0.1", port),))
        started = time.monotonic()
        ctx.expect_error(
            lambda: mount_open(ctx, target, "f"),
            [errno.ECONNREFUSED, errno.ENOTCONN],
            "mounting from a glusterd that is down",
            timeout=60,
        )
    if time.monotonic() - started > 15:
        ctx.warn(f"it took {time.monotonic() - started:.0f} s to give up")


_NO_MGMT_PING = (
    "the volfile-server connection runs without ping-timeout and with rpc-clnt's 30-minute frame-timeout "
    "(its log: 'disable ping-timeout', 'defaulting frame-timeout to 30mins', as in gluster/glusterfs#1963), "
    "so a glusterd that accepts and never answers holds the mount for 30 minutes"
)


@scenario(
    "MGMT-GLUSTERD-SILENT",
    flags="getspec",
    depends="MGMT-MOUNT",
    timeout=90,
    known={"libgfapi": _NO_MGMT_PING, "qemu": _NO_MGMT_PING, "fuse": _NO_MGMT_PING},
)
def glusterd_silent(ctx: Ctx) -> None:
    """A glusterd that accepts but never answers GETSPEC: the mount gives up in bounded time"""
    srv = ctx.serve()
    seeded(ctx, srv)
    srv.faults.inject("GETSPEC", action="hang", times=None, server="glusterd")
    ctx.expect_error(lambda: mount_open(ctx, srv, "f", timeout=45), (), "mounting from a silent glusterd", timeout=50)


@scenario("MGMT-BACKUP-SERVER", flags="getspec servers", depends="MGMT-MOUNT", timeout=90, real=True)
def backup_volfile_server(ctx: Ctx) -> None:
    """The first volfile server is down: the client fetches the volfile from the next one"""
    ctx.need("servers")
    srv = ctx.serve()
    data = seeded(ctx, srv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = Server("tcp", "127.0.0.1", s.getsockname()[1])
        live = ctx.target(srv)
        target = type(live)(live.volume, (dead, live.server))
        _, f = mount_open(ctx, target, "f", timeout=60)
    ctx.check(f.pread(0, 4096) == data[:4096], "read the wrong data")
    if ctx.wire:
        ctx.check(ctx.find(srv, "GETSPEC", "glusterd"), "the live glusterd got no GETSPEC")


@scenario("MGMT-VOLUME-STOPPED", flags="getspec portmap", depends="MGMT-MOUNT", timeout=90, real=True)
def volume_stopped(ctx: Ctx) -> None:
    """A volume that exists but is stopped: the mount or its first IO fails (ENOTCONN), no hang"""
    srv = ctx.serve()
    seeded(ctx, srv)
    assert srv.info is not None
    srv.stop_volume(srv.info.volumes[0])
    started = time.monotonic()
    ctx.expect_error(lambda: mount_open(ctx, srv, "f"), [errno.ENOTCONN], "IO on a stopped volume", timeout=60)
    if time.monotonic() - started > 15:
        ctx.warn(f"it took {time.monotonic() - started:.0f} s to give up")
