"""Volfile changes and upcalls: glusterd's FETCHSPEC (``glusterd_fetchspec_notify``) makes
clients GETSPEC again and, when the graph changed, switch to a new one under IO
(``glusterfs_volfile_reconfigure``; libgfapi ``glfs_graph_setup``/``glfs_migrate_fd``);
the brick's upcall translator (``features.cache-invalidation``) tells clients that cached an
inode's attributes that another client changed it (CACHE_INVALIDATION, ``upcall.c``), and
md-cache drops what it cached (``mdc_invalidate``) -- libgfapi also hands it to the
application (``glfs_upcall_register``).
"""

from __future__ import annotations

import os
import threading
import time

from ..context import Ctx, pattern
from ..core import scenario
from .bricks import write_through
from .common import brick_calls, mount_open, seeded


@scenario("GRAPH-FETCHSPEC", flags="graph mgmt", depends="MGMT-HANDSHAKE")
def fetchspec(ctx: Ctx) -> None:
    """After a volume set, glusterd's FETCHSPEC makes the client fetch the volfile again"""
    srv = ctx.serve()
    seeded(ctx, srv)
    mount_open(ctx, srv, "f")
    before = len(ctx.find(srv, "GETSPEC", "glusterd"))
    mark = time.time()
    srv.set_option("performance.stat-prefetch", "off")
    sent = [r for r in ctx.calls(srv) if r.direction == "out" and r.proc == "FETCHSPEC" and r.time >= mark]
    ctx.check(sent, "the fake sent no FETCHSPEC (harness)")
    again = ctx.wait_for(lambda: len(ctx.find(srv, "GETSPEC", "glusterd")) > before, 10)
    ctx.check(again, "no GETSPEC within 10 s of FETCHSPEC: the client keeps the old volfile")


@scenario("GRAPH-SWITCH-IO", flags="graph", depends="MGMT-MOUNT", timeout=90, real=True)
def switch_under_io(ctx: Ctx) -> None:
    """A volfile change that needs a new graph, while a writer runs: no write fails, all land"""
    srv = ctx.serve()
    seeded(ctx, srv, "f", 1 << 20)
    _, f = mount_open(ctx, srv, "f")
    stop = threading.Event()
    done: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 256:
            try:
                write_through(ctx, f, i * 4096, pattern(4096, seed=100 + i))
                done.append(i)
            except BaseException as exc:  # reported below
                errors.append(exc)
                return
            i += 1
            time.sleep(0.02)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(0.5)
    setvols = len(brick_calls(ctx, srv, "SETVOLUME")) if ctx.wire else 0
    before = set() if ctx.wire else srv.bricks()[0].client_ports()  # type: ignore[attr-defined]
    srv.set_option("performance.write-behind", "off")  # write-behind leaves the graph: a new graph
    if ctx.wire:
        switched = ctx.wait_for(lambda: len(brick_calls(ctx, srv, "SETVOLUME")) > setvols, 15)
    else:  # (a real client's new graph connects to the brick again: a new connection)
        switched = ctx.wait_for(lambda: srv.bricks()[0].client_ports() - before, 15)  # type: ignore[attr-defined]
    time.sleep(1.5)
    stop.set()
    t.join(60)
    if errors:
        ctx.fail(f"a write failed across the graph switch after {len(done)} writes: {errors[0]}")
    ctx.check(done, "no write finished")
    data = srv.read_file("f")
    bad = [i for i in done if data[i * 4096 : (i + 1) * 4096] != pattern(4096, seed=100 + i)]
    ctx.check(not bad, f"{len(bad)} acknowledged writes are not on the brick (first: block {bad[:1]})")
    if not switched:
        ctx.warn("no new graph (no second SETVOLUME) after a change of the client graph's translators")
    ctx.note(f"{len(done)} writes, graph switched: {bool(switched)}")


def _cache_options() -> dict[str, str]:
    return {
        "features.cache-invalidation": "on",
        "performance.cache-invalidation": "on",
        "performance.md-cache-timeout": "600",
        "performance.stat-prefetch": "on",
    }


@scenario("UPCALL-INVALIDATE", flags="upcall", depends="MGMT-MOUNT", timeout=60, real=True)
def invalidate(ctx: Ctx) -> None:
    """With md-cache-timeout 600 and cache invalidation on, another client's change is seen at once"""
    ctx.need("stat")
    srv = ctx.serve(options=_cache_options())
    seeded(ctx, srv, "f", 4096)
    session = ctx.mount(srv)
    ctx.check(session.stat("f").size == 4096, "wrong size before the change")
    other = ctx.other_client(srv)
    mark = time.time()
    with other.open("f", os.O_RDWR) as g:
        g.pwrite(pattern(4096, seed=20), 8192)
    if ctx.wire:
        sent = ctx.wait_for(
            lambda: [
                r for r in ctx.calls(srv) if r.direction == "out" and r.proc == "CACHE_INVALIDATION" and r.time >= mark
            ],
            5,
        )
        ctx.check(sent, "the brick sent no CACHE_INVALIDATION (the client never looked the file up?)")
    seen = ctx.wait_for(lambda: session.stat("f").size == 12288, 5, interval=0.2)
    ctx.check(seen, f"5 s after the change the client still says size {session.stat('f').size}, not 12288")


@scenario("UPCALL-EVENT", flags="upcall", depends="UPCALL-INVALIDATE", timeout=60, real=True)
def event(ctx: Ctx) -> None:
    """An application that asked for upcalls gets one when another client changes a file"""
    ctx.need("events", "stat")
    srv = ctx.serve(options=_cache_options())
    seeded(ctx, srv, "f", 4096)
    session = ctx.mount(srv)
    session.subscribe()
    session.stat("f")
    other = ctx.other_client(srv)
    with other.open("f", os.O_RDWR) as g:
        g.pwrite(b"z" * 100, 0)
    ev = session.wait_event(10)
    ctx.check(ev is not None, "no upcall reached the application within 10 s")
    assert ev is not None
    ctx.check(ev.kind == "invalidate", f"the upcall is {ev.kind}, not an inode invalidation")
    ctx.note(f"upcall {ev.kind} {ev.detail}")
