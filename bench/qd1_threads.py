"""Prototype, for measuring only: brick connections served by a thread each instead of trio.

``python bench/qd1_threads.py [--reps N] [--volume SPEC]`` (root; fio with the gfapi engine)
starts two ``fakegluster serve`` processes, each in a network namespace of its own (fio asks
127.0.0.1:24007): the present server, and the same server in which every plain brick
connection is served by a thread of its own doing blocking ``recv_into`` ->
``Dispatcher.feed`` -> ``sendmsg`` (no epoll, no trio scheduler: the kernel wakes the thread
that reads).  It runs fio 4k randread QD1 (the ``qd1`` workload of ``bench/scale.py``) on
each, alternating, and prints IOPS, mean latency and the server's CPU per READ
(``/proc/PID/task/*/stat``).

This is not a server mode: the thread touches brick state that the trio thread also touches
(other connections, heal, glusterd), deferred replies and upcalls are posted from the trio
thread, delayed faults and TLS are not handled, and a stopped brick does not end the thread.
A real design (README, Benchmarks) needs those; the prototype shows what such a loop saves.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _thread_server(argv: list[str]) -> int:
    """``fakegluster serve ARGV`` with brick connections served by :func:`_blocking_loop`."""
    import trio

    from fakegluster.cli import main
    from fakegluster.server import runtime
    from fakegluster.server.brick import BrickSession

    trio_loop = runtime.serve_socket

    async def serve_socket(sock: socket.socket, session: Any, programs: Any, **kw: Any) -> None:
        if isinstance(session, BrickSession):
            await trio.to_thread.run_sync(_blocking_loop, sock, session, programs, kw, abandon_on_cancel=True)
        else:
            await trio_loop(sock, session, programs, **kw)

    runtime.serve_socket = serve_socket  # type: ignore[assignment]
    return main(argv)


def _blocking_loop(sock: socket.socket, session: Any, programs: Any, kw: dict[str, Any]) -> None:
    from fakegluster.server import net
    from fakegluster.server.dispatch import Dispatcher

    kw.pop("tap", None)
    d = Dispatcher(session, programs, **kw)
    conn = net.Connection(d, sock=sock)
    net._attach(session, conn)
    sock.setblocking(True)
    buffer = bytearray(net.RECEIVE_SIZE)
    view = memoryview(buffer)
    try:
        while not d.closing and not conn.closed:
            if d.more:
                out = d.resume()
            else:
                try:
                    n = sock.recv_into(buffer)
                except OSError:
                    n = 0
                out = d.feed(view[:n] if n else b"")
            if d.expensive is not None:
                record, d.expensive = d.expensive, None
                out += d.answer_decoded(d.decode_expensive(record))
                d.more = True
            while out:
                out = net._advance(out, sock.sendmsg(out[: net.IOV_MAX]))
    except OSError:
        pass
    finally:
        conn.finish()
        d.close()
        sock.close()


def _fio(ns: str, volume: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "fio", "--name=b", "--ioengine=gfapi", f"--volume={volume}", "--brick=127.0.0.1",
         "--output-format=json", "--filename=bench.dat", "--size=64m", *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    job: dict[str, Any] = json.loads(out[out.index("{") :])["jobs"][0]
    return job


def _cpu_ticks(pid: int) -> int:
    ticks = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks


def compare(reps: int, spec: str) -> dict[str, list[float]]:
    from fakegluster.testing.serve import ServeProcess

    volume = spec.split(";")[0]
    servers = {
        "trio": [sys.executable, "-m", "fakegluster", "serve"],
        "thread": [sys.executable, os.path.abspath(__file__), "--serve", "serve"],
    }
    procs: dict[str, ServeProcess] = {}
    iops: dict[str, list[float]] = {name: [] for name in servers}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        for name, argv in servers.items():
            ns = f"fgqd1{name}"
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL, check=False)
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
            full = ["ip", "netns", "exec", ns, *argv, "--volume", spec]
            err = tempfile.TemporaryFile("w+")
            proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
            procs[name] = ServeProcess(proc, err, full)
            procs[name]._wait_ready(120)
            _fio(ns, volume, "--rw=write", "--bs=1m", "--end_fsync=1")
        for rep in range(reps):
            for name in list(servers) if rep % 2 == 0 else list(servers)[::-1]:
                before = _cpu_ticks(procs[name].pid)
                job = _fio(f"fgqd1{name}", volume, "--rw=randread", "--bs=4k", "--iodepth=1", "--runtime=6",
                           "--time_based")["read"]  # fmt: skip
                cpu = (_cpu_ticks(procs[name].pid) - before) / tick / job["total_ios"] * 1e6
                iops[name].append(job["iops"])
                print(f"rep {rep + 1} {name:6s} {job['iops']:6.0f} IOPS, {job['lat_ns']['mean'] / 1e3:4.0f} µs, "
                      f"server CPU {cpu:4.0f} µs per READ, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    finally:
        for proc in procs.values():
            proc.stop(timeout=30)
        for name in servers:
            subprocess.run(["ip", "netns", "del", f"fgqd1{name}"], check=False)
    for name, values in iops.items():
        print(f"{name}: median {statistics.median(values):.0f} IOPS of {len(values)} runs")
    return iops


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(_thread_server(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--volume", default="q1", help="a one-line volume spec (default: one in-memory brick)")
    args = parser.parse_args()
    compare(args.reps, args.volume)
