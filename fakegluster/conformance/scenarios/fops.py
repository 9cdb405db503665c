"""What a client reports when a brick answers a FOP with an error, at EOF, or with a full disk;
and the namespace operations.

A brick's ``op_errno`` is a Linux errno (``gf_errno_to_error`` is the identity on Linux): the
application should see that errno.  Clients that cache writes (write-behind acknowledges a
write before the brick answers) report a write's failure at the next write, fsync or close:
every write here is followed by an fsync.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from ..context import Ctx, errname, pattern
from ..core import scenario
from ..drivers.base import ClientError
from .bricks import write_through
from .common import mount_open, seeded

BIG = 1 << 20  # bigger than quick-read's 64 KiB: reads reach the brick


ROUNDS = 3  # a client may lose an error only now and then: every round must report it


def _write_errno(err: int) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        srv = ctx.serve()
        seeded(ctx, srv, "f", BIG)
        _, f = mount_open(ctx, srv, "f")
        write_through(ctx, f, 0, pattern(4096, seed=2))  # the fd is really open on the brick
        srv.faults.inject("WRITE", errno=err, times=None, server="brick")
        lost = 0
        for i in range(ROUNDS):
            try:
                write_through(ctx, f, 4096 * (i + 1), pattern(4096, seed=3 + i))
            except ClientError as exc:
                ctx.note(f"round {i + 1}: {exc}")
                if i == 0 and exc.errno != err:
                    ctx.warn(f"the write failed with {exc.name}, expected {errname(err)}")
            else:
                lost += 1
        ctx.check(ctx.find(srv, "WRITE"), "no WRITE reached the brick")
        if lost:
            ctx.fail(f"{lost} of {ROUNDS} writes (each with fsync) reported success though the brick failed them")

    run.__doc__ = f"WRITEs the brick fails with {errname(err)}: the application sees {errname(err)}, every time"
    return run


for _err in (errno.EIO, errno.ENOSPC, errno.EDQUOT, errno.ESTALE, errno.ENOTCONN):
    scenario(f"FOP-WRITE-{errname(_err)}", flags="fop errors", depends="MGMT-MOUNT", timeout=90)(_write_errno(_err))


def _read_errno(err: int) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        srv = ctx.serve()
        seeded(ctx, srv, "f", BIG)
        _, f = mount_open(ctx, srv, "f")
        srv.faults.inject("READ", errno=err, times=None, server="brick")
        ctx.expect_error(lambda: f.pread(BIG // 2, 4096), [err], "the read", 45)

    run.__doc__ = f"A READ the brick fails with {errname(err)}: the application sees {errname(err)}"
    return run


for _err in (errno.EIO, errno.ESTALE, errno.ENOTCONN):
    scenario(f"FOP-READ-{errname(_err)}", flags="fop errors", depends="MGMT-MOUNT", timeout=90)(_read_errno(_err))


@scenario("FOP-FSYNC-EIO", flags="fop errors", depends="MGMT-MOUNT", timeout=90)
def fsync_eio(ctx: Ctx) -> None:
    """An FSYNC the brick fails with EIO: the write + fsync reports EIO (the data may not be on disk)"""
    ctx.need("fsync")
    srv = ctx.serve()
    seeded(ctx, srv, "f", BIG)
    _, f = mount_open(ctx, srv, "f")
    write_through(ctx, f, 0, pattern(4096, seed=40))
    srv.faults.inject("FSYNC", errno=errno.EIO, times=None, server="brick")
    # (an image client flushes after each write: the error may surface at the write)
    ctx.expect_error(lambda: write_through(ctx, f, 4096, pattern(4096, seed=41)), [errno.EIO], "write + fsync", 45)
    ctx.check(ctx.find(srv, "FSYNC"), "no FSYNC reached the brick: fsync returned without asking it")


def _create_errno(err: int) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        ctx.need("create")
        srv = ctx.serve()
        session = ctx.mount(srv)
        srv.faults.inject("CREATE", errno=err, times=None, server="brick")
        ctx.expect_error(
            lambda: session.open("new", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), [err], "open(O_CREAT)", 45
        )
        ctx.check(ctx.find(srv, "CREATE"), "no CREATE reached the brick")

    run.__doc__ = f"A CREATE the brick fails with {errname(err)}: open(O_CREAT) fails with {errname(err)}"
    return run


for _err in (errno.ENOSPC, errno.EDQUOT):
    scenario(f"FOP-CREATE-{errname(_err)}", flags="fop errors", depends="MGMT-MOUNT", timeout=90)(_create_errno(_err))


@scenario("FOP-DISK-FULL", flags="fop errors", depends="MGMT-MOUNT", timeout=90)
def disk_full(ctx: Ctx) -> None:
    """The brick's disk fills up during a 256 KiB write: the application sees ENOSPC (or a short write)"""
    srv = ctx.serve()
    seeded(ctx, srv, "f", BIG)
    _, f = mount_open(ctx, srv, "f")
    srv.bricks()[0].faults.disk_full(after=100_000)
    data = pattern(256 << 10, seed=4)
    try:
        n = f.pwrite(0, data)
        if "fsync" in ctx.driver.caps:
            f.fsync()
    except ClientError as exc:
        if exc.errno != errno.ENOSPC:
            ctx.warn(f"the write failed with {exc.name}, not ENOSPC")
        ctx.note(f"the write failed: {exc}")
        return
    if n < len(data):
        ctx.note(f"short write: {n} of {len(data)}")
        return
    ctx.fail(f"wrote {n} bytes with {100_000} bytes of space left, no error")


@scenario(
    "FOP-READ-EOF",
    flags="fop",
    depends="MGMT-MOUNT",
    real=True,
    known={
        "qemu": "QEMU 7.2's gluster driver fails any short read with EIO (gluster_finish_aiocb: 'Partial "
        "read/write - fail it'), so the last sector of an image whose size is not a multiple of 512 cannot be "
        "read (file-posix zero-fills it instead)"
    },
)
def read_eof(ctx: Ctx) -> None:
    """Reads across the end of a 1000-byte file are short, reads past it are empty"""
    srv = ctx.serve()
    data = seeded(ctx, srv, "f", 1000)
    _, f = mount_open(ctx, srv, "f")
    padded = ctx.driver.pads_reads  # (an image is 1024 bytes long: QEMU itself refuses reads past it)
    got = f.pread(0, 1024 if padded else 4096)
    ctx.check(got[:1000] == data, f"the first 1000 bytes differ (got {len(got)} bytes)")
    if len(got) != 1000:
        ctx.check(padded, f"a read of 4096 bytes across the end returned {len(got)} bytes, not 1000")
        ctx.check(len(got) <= 4096 and not got[1000:].strip(b"\0"), "bytes past the end are not zeros")
        ctx.note(f"read across the end: {len(got)} bytes (1000 + zeros)")
    tail = f.pread(1000, 24)
    ctx.check(tail == b"" or (padded and tail == bytes(len(tail))), f"a read at the end returned {tail!r}")
    if not padded:
        ctx.check(f.pread(5000, 100) == b"", "a read past the end returned data")


@scenario("FOP-OPEN-ENOENT", flags="fop", depends="MGMT-MOUNT", real=True)
def open_enoent(ctx: Ctx) -> None:
    """Opening a file that does not exist fails with ENOENT"""
    srv = ctx.serve()
    seeded(ctx, srv)
    session = ctx.mount(srv)
    ctx.expect_error(lambda: session.open("missing", os.O_RDWR).pread(0, 1), [errno.ENOENT], "open", 45)


@scenario("FOP-NAMESPACE", flags="fop", depends="MGMT-MOUNT", real=True)
def namespace(ctx: Ctx) -> None:
    """mkdir, create, write, rename, list, stat: the namespace behaves like POSIX"""
    ctx.need("create", "mkdir", "rename", "stat", "listdir")
    srv = ctx.serve()
    session = ctx.mount(srv)
    session.mkdir("d")
    f = session.open("d/a", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    data = pattern(10000, seed=5)
    f.pwrite(0, data)
    f.close()
    session.rename("d/a", "d/b")
    ctx.check(session.listdir("d") == ["b"], f"the directory lists {session.listdir('d')}, not ['b']")
    ctx.check(session.stat("d/b").size == len(data), "the renamed file has the wrong size")
    ctx.expect_error(lambda: session.stat("d/a"), [errno.ENOENT], "stat of the old name")
    ctx.expect_error(lambda: session.mkdir("d"), [errno.EEXIST], "mkdir of an existing directory")
    ctx.check(srv.read_file("d/b") == data, "the brick does not hold the file under its new name")
