"""A/B of brick connections with and without reader threads (fakegluster/server/brickthread.py).

``python bench/qd1_threads.py [--reps N] [--volume SPEC]`` (root; fio with the gfapi engine)
starts two ``fakegluster serve`` processes, each in a network namespace of its own (fio asks
127.0.0.1:24007): one with ``FAKEGLUSTER_BRICK_THREADS=0`` (every connection served by trio),
one with ``FAKEGLUSTER_BRICK_THREADS=1`` (a plain brick connection read by a thread of its own, which answers
READs without trio's scheduler).  It runs fio 4k randread QD1 (the ``qd1`` workload of
``bench/scale.py``) on each, alternating, and prints IOPS, mean latency and the server's CPU
per READ (``/proc/PID/task/*/stat``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def _fio(ns: str, volume: str, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "fio", "--name=b", "--ioengine=gfapi", f"--volume={volume}", "--brick=127.0.0.1",
         "--output-format=json", "--filename=bench.dat", "--size=64m", *args],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    job: dict[str, Any] = json.loads(out[out.index("{") :])["jobs"][0]
    return job


def _cpu_ticks(pid: int) -> int:
    """User + system ticks of the whole process, threads that ended included (a reader thread
    ends with its connection, before the figure is read)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def compare(reps: int, spec: str, jobs: int = 1) -> dict[str, list[float]]:
    from fakegluster.testing.serve import ServeProcess

    volume = spec.split(";")[0]
    serve = [sys.executable, "-m", "fakegluster", "serve"]
    servers = {"trio": serve, "thread": serve}
    env = {
        "trio": {**os.environ, "FAKEGLUSTER_BRICK_THREADS": "0"},
        "thread": {**os.environ, "FAKEGLUSTER_BRICK_THREADS": "1"},
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
            proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT, env=env[name])
            procs[name] = ServeProcess(proc, err, full)
            procs[name]._wait_ready(120)
            _fio(ns, volume, "--rw=write", "--bs=1m", "--end_fsync=1")
        for rep in range(reps):
            for name in list(servers) if rep % 2 == 0 else list(servers)[::-1]:
                before = _cpu_ticks(procs[name].pid)
                many = [f"--numjobs={jobs}", "--thread", "--group_reporting"] if jobs > 1 else []
                job = _fio(f"fgqd1{name}", volume, *many, "--rw=randread", "--bs=4k", "--iodepth=1", "--runtime=6",
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=6)
    parser.add_argument("--volume", default="q1", help="a one-line volume spec (default: one in-memory brick)")
    parser.add_argument("--jobs", type=int, default=1, help="fio jobs at once (threads, a connection each)")
    args = parser.parse_args()
    compare(args.reps, args.volume, args.jobs)
