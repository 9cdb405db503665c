"""Transports (TCP over IPv4 and IPv6, glusterd's unix socket, rdma) and URI forms.

The fake serves glusterd on 127.0.0.1, ::1 and a unix socket; bricks listen on both TCP
families and glusterd names, in the volfile, the address each client reached it by.  rdma
is emulated in-process only (``fakegluster.inproc``): a client in another process that asks
for rdma can only fall back to TCP.
"""

from __future__ import annotations

import errno

from ..context import Ctx, pattern
from ..core import scenario
from ..drivers.base import ClientError
from .bricks import write_through
from .common import mount_open, seeded


def _round_trip(ctx: Ctx, transport: str) -> list[str]:
    """Mount over ``transport``, read the seeded file, write and read back; the peers
    glusterd saw (call log)."""
    srv = ctx.serve()
    data = seeded(ctx, srv)
    _, f = mount_open(ctx, ctx.target(srv, transport=transport), "f")
    ctx.check(f.pread(0, 4096) == data[:4096], "read the wrong data")
    new = pattern(4096, seed=5)
    write_through(ctx, f, 0, new)
    ctx.check(f.pread(0, 4096) == new, "did not read back what it wrote")
    ctx.check(srv.read_file("f")[:4096] == new, "the brick does not hold what the client wrote")
    return [r.peer for r in ctx.find(srv, "GETSPEC", "glusterd")] if ctx.wire else []


@scenario("TRANS-TCP6", flags="transport", depends="MGMT-MOUNT")
def tcp6(ctx: Ctx) -> None:
    """Mount over IPv6 (glusterd and the brick on ::1)"""
    ctx.need("tcp6")
    peers = _round_trip(ctx, "tcp6")
    ctx.check(any(":" in p for p in peers), f"GETSPEC did not come over IPv6 (peers {peers})")


@scenario("TRANS-UNIX", flags="transport", depends="MGMT-MOUNT", real=True)
def unix_socket(ctx: Ctx) -> None:
    """Fetch the volfile over glusterd's unix socket (bricks over TCP)"""
    ctx.need("unix")
    peers = _round_trip(ctx, "unix")
    ctx.check(not ctx.wire or "unix" in peers, f"GETSPEC did not come over the unix socket (peers {peers})")


@scenario("TRANS-RDMA", flags="transport", depends="MGMT-MOUNT")
def rdma(ctx: Ctx) -> None:
    """Asked for rdma: use it, or fall back to TCP (WARN), or refuse clearly (WARN)"""
    ctx.need("rdma")
    srv = ctx.serve()
    data = seeded(ctx, srv)
    try:
        _, f = mount_open(ctx, ctx.target(srv, transport="rdma"), "f")
    except ClientError as exc:
        if not exc.errno:
            raise
        ctx.warn(f"refused the rdma transport: {exc}")
        return
    ctx.check(f.pread(0, 4096) == data[:4096], "read the wrong data")
    peers = {r.peer for r in ctx.find(srv, "GETSPEC", "glusterd")}
    if peers != {"rdma"}:  # (the volume's bricks are tcp: only the volfile server is asked rdma)
        ctx.warn(f"asked for rdma, fetched the volfile over tcp (from {', '.join(sorted(peers))})")


def _uri_round_trip(ctx: Ctx, uri: str, srv_path: str, data: bytes) -> None:
    session = ctx.mount_uri(uri)
    f = session.open(srv_path)
    got = f.pread(0, 4096)
    ctx.check(got == data[:4096], f"read {len(got)} bytes that are not the file's")


@scenario("URI-TCP", flags="uri", depends="MGMT-MOUNT")
def uri_tcp(ctx: Ctx) -> None:
    """gluster+tcp://HOST:PORT/VOLUME/PATH"""
    ctx.need("uri")
    srv = ctx.serve()
    data = seeded(ctx, srv, "f")
    assert srv.info is not None
    _uri_round_trip(ctx, f"gluster+tcp://127.0.0.1:{srv.info.port}/vol/f", "f", data)


@scenario("URI-UNIX", flags="uri", depends="MGMT-MOUNT")
def uri_unix(ctx: Ctx) -> None:
    """gluster+unix:///VOLUME/PATH?socket=SOCKET"""
    ctx.need("uri")
    srv = ctx.serve()
    data = seeded(ctx, srv, "f")
    assert srv.info is not None
    _uri_round_trip(ctx, f"gluster+unix:///vol/f?socket={srv.info.unix[0].path}", "f", data)


@scenario(
    "URI-IPV6",
    flags="uri",
    depends="MGMT-MOUNT",
    known={
        "qemu": "QEMU 7.2's URI parser (util/uri.c) keeps the brackets in the host, so libgfapi is asked to resolve "
        "'[::1]' (its log: DNS resolution failed on host [::1]); QEMU dropped its IPv6 claim in 0552ff2465 (2016)"
    },
)
def uri_ipv6(ctx: Ctx) -> None:
    """gluster://[::1]:PORT/VOLUME/PATH (a bracketed IPv6 literal)"""
    ctx.need("uri", "tcp6")
    srv = ctx.serve()
    data = seeded(ctx, srv, "f")
    port = ctx.target(srv, transport="tcp6").server.port
    _uri_round_trip(ctx, f"gluster://[::1]:{port}/vol/f", "f", data)


@scenario("URI-SUBDIR", flags="uri", depends="MGMT-MOUNT")
def uri_subdir(ctx: Ctx) -> None:
    """An image path with directories: gluster://HOST:PORT/VOLUME/a/b/f"""
    ctx.need("uri")
    srv = ctx.serve()
    data = pattern(65536, seed=3)
    srv.write_file("a/b/f", data)
    assert srv.info is not None
    _uri_round_trip(ctx, f"gluster://127.0.0.1:{srv.info.port}/vol/a/b/f", "a/b/f", data)


@scenario("URI-NO-VOLUME", flags="uri", depends="MGMT-MOUNT")
def uri_no_volume(ctx: Ctx) -> None:
    """A URI without a volume (gluster://HOST:PORT/) is refused before any connection"""
    ctx.need("uri")
    srv = ctx.serve()
    assert srv.info is not None
    uri = f"gluster://127.0.0.1:{srv.info.port}/"
    ctx.expect_error(lambda: ctx.mount_uri(uri).open("f").pread(0, 1), [errno.EINVAL], "mounting " + uri, timeout=30)
    ctx.check(not ctx.find(srv, "GETSPEC"), "the client asked glusterd for a volume although the URI names none")
