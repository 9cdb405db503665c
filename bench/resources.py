"""What one client costs the others (issue #14 "Resources"): ``make bench-resources``.

Against ``fakegluster serve`` (memory store, no call log, as a user runs it):

* **idle connections**: N connections each send one DUMP and stay open; the time until all
  are answered and the server's RSS growth per connection (targets: 10,000 in < 5 s,
  < 32 KiB each);
* **stalls**: a well-behaved client (its own process) does STATs at QD1 on the brick while one
  misbehaving peer (another process) does one thing for a while; the well-behaved client's
  p50/p99/max latency per scenario (target: p99 < 50 ms under any single peer);
* the server's RSS before and after all of it.

Writes bench/results/resources.{json,md}; ``--quick`` runs each scenario briefly.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import selectors
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from fakegluster.proto import Call, Role, RpcConnection, dump, fops  # noqa: E402
from fakegluster.proto.gfdict import GfxValue  # noqa: E402
from fakegluster.proto.record import RecordReader, frame_header  # noqa: E402
from fakegluster.testing.serve import ServeProcess, serve_process  # noqa: E402
from tests.rawclient import ROOT as ROOT_GFID  # noqa: E402
from tests.rawclient import Mount, v3  # noqa: E402

STALL_TARGET_MS = 50.0


# ---- the server ------------------------------------------------------------------------------
def start_serve(nofile: int) -> ServeProcess:
    def limits() -> None:
        _nofile(nofile)

    return serve_process(listen=["tcp://127.0.0.1:0"], cwd=ROOT, preexec_fn=limits)


def _nofile(n: int) -> None:
    """Raise the open-files limit to ``n`` (at most the hard limit)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n = n if hard == resource.RLIM_INFINITY else min(n, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


DUMP = RpcConnection(Role.CLIENT).send(Call(1, dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID)))


def idle_connections(pid: int, port: int, n: int) -> dict[str, Any]:
    """Open ``n`` connections, DUMP on each, keep them open; time until all are answered."""
    before = rss_mib(pid)
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.monotonic()
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    answered = 0
    while answered < n and time.monotonic() - t0 < 60:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                try:
                    s.send(DUMP)
                    sel.modify(s, selectors.EVENT_READ)
                except OSError:
                    sel.unregister(s)
            else:
                try:
                    answered += bool(s.recv(65536))
                except OSError:
                    pass
                sel.unregister(s)
    elapsed = time.monotonic() - t0
    time.sleep(0.5)
    after = rss_mib(pid)
    for s in socks:
        s.close()
    return {
        "connections": n,
        "answered": answered,
        "seconds": round(elapsed, 2),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "kib_per_connection": round((after - before) * 1024 / n, 1),
    }


# ---- misbehaving peers (each runs in a process of its own until killed) ---------------------------
def _mount(port: int) -> Mount:
    return Mount("127.0.0.1", port, "testvol")


def _loop_replies(m: Mount, wire: bytes) -> None:
    """Send ``wire`` (one call), read its reply, again and again."""
    reader = RecordReader()
    while True:
        m.raw.sock.sendall(wire)
        while reader.next_record() is None:
            data = m.raw.sock.recv(1 << 20)
            if not data:
                return
            reader.feed(data)


def _fop(proc: str, xid: int, args: Any, payload: bytes = b"") -> bytes:
    p = fops.PROGRAM[proc]
    c = RpcConnection(Role.CLIENT)
    return c.send(Call(xid, fops.GLUSTER_FOP_PROGRAM, 400, p.num, args, cred=v3(), payload=payload))


def peer_big_dict(port: int) -> None:
    m = _mount(port)
    xdata = {f"k{i}": GfxValue.int(i) for i in range(1_000_000)}
    _loop_replies(m, _fop("LOOKUP", 5, fops.GfxLookupReq(bytes(16), ROOT_GFID, 0, "x", xdata)))


def peer_huge_names(port: int) -> None:
    m = _mount(port)
    _loop_replies(m, _fop("LOOKUP", 5, fops.GfxLookupReq(bytes(16), ROOT_GFID, 0, "n" * (4 << 20), None)))


def peer_never_reads(port: int) -> None:
    m = _mount(port)
    c = m.create(ROOT_GFID, f"nr-{os.getpid()}")
    m.fop("TRUNCATE", gfid=c.stat.ia_gfid, offset=1 << 20)
    req = fops.GfxReadReq(c.stat.ia_gfid, c.fd, 0, 1 << 20, 0, None)
    wire = b"".join(_fop("READ", 10 + i, req) for i in range(1000))
    m.raw.sock.settimeout(None)  # (the raw client's 10 s timeout would end this peer mid-scenario)
    while True:
        m.raw.sock.sendall(wire)  # blocks for good once the server stops reading


def peer_big_reads(port: int) -> None:
    m = _mount(port)
    c = m.create(ROOT_GFID, f"br-{os.getpid()}")
    m.fop("TRUNCATE", gfid=c.stat.ia_gfid, offset=3 << 30)
    wire = _fop("READ", 7, fops.GfxReadReq(c.stat.ia_gfid, c.fd, 0, 2**31, 0, None))
    sock = m.raw.sock
    while True:
        sock.sendall(wire)
        need = 4 + (int.from_bytes(_recv_exact(sock, 4), "big") & 0x7FFFFFFF) - 4
        while need:
            need -= len(sock.recv(min(need, 4 << 20)))


def peer_big_writes(port: int) -> None:
    m = _mount(port)
    c = m.create(ROOT_GFID, f"bw-{os.getpid()}")
    size = 64 << 20
    _loop_replies(m, _fop("WRITE", 8, fops.GfxWriteReq(c.stat.ia_gfid, c.fd, 0, size, 0, None), bytes(size)))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise ConnectionResetError
        buf += d
    return buf


def peer_garbage(port: int) -> None:
    """Random records, mutated calls and bare bytes, each on a fresh connection, to glusterd
    and to the brick."""
    m = _mount(port)
    brick = m.brick_port
    rng = random.Random(1)
    seeds = [DUMP, _fop("STAT", 3, fops.GfxStatReq(ROOT_GFID, None))]
    while True:
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = bytearray(frame_header(rng.randrange(1, 4096))) + rng.randbytes(rng.randrange(0, 4096))
        try:
            s = socket.create_connection(("127.0.0.1", rng.choice((port, brick))))
            s.settimeout(0.2)
            s.sendall(bytes(data))
            try:
                s.recv(65536)
            except OSError:
                pass
            s.close()
        except OSError:
            pass


def peer_slowloris(port: int) -> None:
    socks = []
    for _ in range(2000):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(frame_header((1 << 30) - 1))  # a record of almost 1 GiB ...
        socks.append(s)
    while True:  # ... that arrives one byte per connection per second
        for s in socks:
            s.send(b"x")
        time.sleep(1)


def peer_churn(port: int) -> None:
    while True:
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(DUMP)
        s.recv(65536)
        s.close()


def peer_idle_10k(port: int) -> None:
    _nofile(20000)
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(10_000)]
    while socks:
        time.sleep(1)


PEERS: dict[str, Callable[[int], None] | None] = {
    "none (baseline)": None,
    "LOOKUP with a 1M-entry xdata dict (24 MB), in a loop": peer_big_dict,
    "LOOKUP with a 4 MiB name, in a loop": peer_huge_names,
    "READs of 1 MiB, replies never read": peer_never_reads,
    "READs of 2 GiB (sparse), in a loop": peer_big_reads,
    "WRITEs of 64 MiB, in a loop": peer_big_writes,
    "garbage and mutated calls, fresh connections": peer_garbage,
    "2,000 connections dribbling a 1 GiB record": peer_slowloris,
    "connect, DUMP, close, in a loop": peer_churn,
    "10,000 idle connections": peer_idle_10k,
}


# ---- the well-behaved client ----------------------------------------------------------------------
def probe(port: int, seconds: float) -> list[float]:
    """STAT the root at QD1 for ``seconds``; the latencies in ms."""
    m = _mount(port)
    m.raw.sock.settimeout(120)
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        m.fop("STAT", gfid=ROOT_GFID)
        out.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.002)
    m.close()
    return out


def stall(port: int, peer: Callable[[int], None] | None, seconds: float) -> dict[str, Any]:
    proc = None
    if peer is not None:
        proc = multiprocessing.get_context("fork").Process(target=peer, args=(port,), daemon=True)
        proc.start()
        time.sleep(min(3.0, seconds / 3))  # let it get going
    try:
        lat = probe(port, seconds)
    finally:
        if proc is not None:
            proc.kill()
            proc.join()
    lat.sort()
    return {
        "load": round(os.getloadavg()[0], 1),  # the machine's 1-min load average at the end
        "calls": len(lat),
        "p50_ms": round(statistics.median(lat), 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
        "max_ms": round(lat[-1], 2),
    }


def _empty(port: int) -> None:
    import gfclient

    with gfclient.connect(f"gluster://127.0.0.1:{port}/testvol") as vol:
        for name in vol.listdir("/"):
            vol.unlink(name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short scenarios (a smoke run)")
    ap.add_argument("--connections", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0, help="per stall scenario")
    ap.add_argument("--only", metavar="TEXT", help="only the stall scenarios whose name holds TEXT (and the baseline)")
    ap.add_argument("--no-idle", action="store_true", help="skip the idle connections scenario")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "resources.json", help="the report (and .md)")
    args = ap.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    n = min(args.connections, 2000) if args.quick else args.connections
    _nofile(n + 4096)
    server = start_serve(n + 30_000)
    port = server.port()
    results: dict[str, Any] = {"rss_start_mib": round(rss_mib(server.pid), 1), "load_start": os.getloadavg()[0]}
    try:
        if not args.no_idle:
            results["idle"] = idle_connections(server.pid, port, n)
            print(f"idle connections: {results['idle']}", flush=True)
        results["stalls"] = {}
        for name, peer in PEERS.items():
            if args.only and peer is not None and args.only not in name:
                continue
            r = stall(port, peer, seconds)
            r["met"] = r["p99_ms"] < STALL_TARGET_MS
            results["stalls"][name] = r
            print(f"{name}: {r}", flush=True)
            time.sleep(1)
        results["rss_before_cleanup_mib"] = round(rss_mib(server.pid), 1)
        _empty(port)  # the peers' files (a 64 MiB one...) held memory of the in-memory volume
        time.sleep(2)
        results["rss_end_mib"] = round(rss_mib(server.pid), 1)
    finally:
        server.stop()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(render(results))
    print(render(results))
    return 0


def render(r: dict[str, Any]) -> str:
    lines = []
    if "idle" in r:
        idle = r["idle"]
        lines += [
            f"Idle connections: {idle['answered']:,} of {idle['connections']:,} answered in {idle['seconds']} s, "
            f"{idle['kib_per_connection']} KiB each (targets: 10,000 in < 5 s, < 32 KiB).",
            "",
        ]
    lines += [
        "| misbehaving peer | STAT p50 ms | p99 ms | max ms | p99 < 50 ms | load (1 min) |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in r["stalls"].items():
        met = "yes" if s["met"] else "**no**"
        lines.append(f"| {name} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} | {met} | {s.get('load', '')} |")
    lines += [
        "",
        f"Server RSS: {r['rss_start_mib']} MiB at start, {r.get('rss_before_cleanup_mib')} MiB after the scenarios, "
        f"{r.get('rss_end_mib')} MiB once their files were removed.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
