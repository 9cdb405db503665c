"""fakegluster vs a real GlusterFS 10.3, side by side, with the same real client binaries.

Run as root (``make bench``).  One invocation:

* starts a real glusterd + a one-brick volume (fakegluster.testing.realgluster);
* starts ``fakegluster serve`` with an in-memory volume and a directory volume (same disk as
  the real brick) inside a network namespace of its own, on 127.0.0.1:24007 — fio's gfapi
  engine always asks 127.0.0.1:24007, and the real glusterd holds that port outside;
* runs every workload against real, fake-memory and fake-directory in turn (A B C A B C ...),
  ``--reps`` times, and reports medians and fake/real ratios from the same run;
* writes bench/results/latest.json and bench/results/latest.png, prints a table.

Workloads: fio gfapi 4k randread QD1 (IOPS, mean latency), 128k sequential write and read
QD1 (MiB/s) on a 256 MiB file; ``qemu-img bench`` 64k write and read, 64 in flight (the
run's own time, not the process's: libgfapi's exit takes ~10 s); time to ready (exec of the
``fakegluster`` command a ``pip install`` gives, see :func:`user_fakegluster`, to the first
GETSPEC answered; the real one is glusterd start + volume create + start);
gfclient vs libgfapi (fio) on the real brick; the fake server's peak RSS.  Before each randread
the file's backing copy (real brick, directory store) is read once, so it is as warm in the page
cache as the memory store's data is in RAM.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from fakegluster.testing.realgluster import RealGluster  # noqa: E402
from fakegluster.testing.serve import serve_process  # noqa: E402

FILE_MB = 256
NS = f"fgbench-{os.getpid()}"
TARGETS = {
    "4k randread QD1 IOPS": 1.0,
    "128k seq write MiB/s": 0.5,
    "128k seq read MiB/s": 0.5,
    "qemu-img bench 64k QD64 write MiB/s": 0.5,
    "qemu-img bench 64k QD64 read MiB/s": 0.5,
    "time to ready s": 0.05,
    "gfclient vs libgfapi 128k seq read MiB/s": 0.5,
    "gfclient vs libgfapi 128k seq write MiB/s": 0.5,
    "gfclient vs libgfapi 4k randread QD1 IOPS": 0.5,
}
LOWER_IS_BETTER = {"time to ready s", "4k randread QD1 mean latency us"}


def sh(argv: list[str], netns: str | None = None, timeout: float = 600, check: bool = True) -> str:
    full = (["ip", "netns", "exec", netns] if netns else []) + argv
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"})
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p.stdout


class Side:
    """Where a workload runs: a volume reachable at 127.0.0.1:24007, in a netns or not;
    ``files``: the folder holding the volume's files as plain files (brick, directory store)."""

    def __init__(self, name: str, volume: str, netns: str | None, files: Path | None = None) -> None:
        self.name, self.volume, self.netns, self.files = name, volume, netns, files

    def warm(self, path: str) -> None:
        """Read ``path``'s backing file once, so it is in the page cache as the memory store's data
        is in RAM.  This machine's page cache holds only ~2 GB and the run writes more, so
        without it a side's randread can hit the disk, depending on what ran before it."""
        if self.files is None:
            return
        with open(self.files / path, "rb", buffering=0) as f:
            while f.read(1 << 20):
                pass

    def uri(self, path: str) -> str:
        return f"gluster://127.0.0.1/{self.volume}/{path}"

    def fio(self, *args: str, filename: str = "bench.dat") -> dict[str, Any]:
        out = sh(
            [
                "fio",
                "--name=b",
                "--ioengine=gfapi",
                f"--volume={self.volume}",
                "--brick=127.0.0.1",
                f"--filename={filename}",
                f"--size={FILE_MB}m",
                "--output-format=json",
                *args,
            ],
            self.netns,
        )
        return json.loads(out[out.index("{") :])["jobs"][0]

    def qemu_bench(self, write: bool, image: str) -> float:
        count = 4 * FILE_MB * 1024 // 64  # 4 passes over the image, 64 KiB each
        out = sh(
            [
                "qemu-img",
                "bench",
                *(["-w"] if write else []),
                "-c",
                str(count),
                "-d",
                "64",
                "-s",
                "64k",
                "-f",
                "raw",
                self.uri(image),
            ],
            self.netns,
        )
        secs = float(re.search(r"Run completed in ([\d.]+) seconds", out).group(1))
        return count * 64 / 1024 / secs  # MiB/s


def workloads(side: Side) -> dict[str, Callable[[], dict[str, float]]]:
    def randread() -> dict[str, float]:
        side.warm("bench.dat")
        j = side.fio("--rw=randread", "--bs=4k", "--iodepth=1", "--runtime=8", "--time_based")
        return {
            "4k randread QD1 IOPS": j["read"]["iops"],
            "4k randread QD1 mean latency us": j["read"]["lat_ns"]["mean"] / 1e3,
        }

    def seqwrite() -> dict[str, float]:
        j = side.fio("--rw=write", "--bs=128k", "--iodepth=1", "--end_fsync=1", filename="seq.dat")
        return {"128k seq write MiB/s": j["write"]["bw"] / 1024}

    def seqread() -> dict[str, float]:
        j = side.fio("--rw=read", "--bs=128k", "--iodepth=1", filename="seq.dat")
        return {"128k seq read MiB/s": j["read"]["bw"] / 1024}

    def qbench() -> dict[str, float]:
        return {
            "qemu-img bench 64k QD64 write MiB/s": side.qemu_bench(True, "qb.raw"),
            "qemu-img bench 64k QD64 read MiB/s": side.qemu_bench(False, "qb.raw"),
        }

    return {"randread": randread, "seqwrite": seqwrite, "seqread": seqread, "qemu-img bench": qbench}


def prepare(side: Side) -> None:
    side.fio("--rw=write", "--bs=1m", "--end_fsync=1")  # the 256 MiB randread file, fully written
    sh(["qemu-img", "create", "-f", "raw", side.uri("qb.raw"), f"{FILE_MB}M"], side.netns)
    sh(["qemu-io", "-f", "raw", "-c", f"write -P 0x5a 0 {FILE_MB}M", side.uri("qb.raw")], side.netns)


# ---- gfclient vs libgfapi ---------------------------------------------------------------


def gfclient_runs(uri_base: str, rep: int) -> dict[str, float]:
    """The sync API (what libgfapi-python users call), on a fresh file per repetition like
    fio's, with a pause between writing and reading like fio's process exits give it."""
    import random

    import gfclient

    out: dict[str, float] = {}
    block = os.urandom(128 << 10)
    n = FILE_MB * 1024 // 128
    name = f"gfc-seq-{rep}.dat"
    with gfclient.connect(uri_base) as vol:
        with vol.fopen(name, "w") as f:
            t0 = time.perf_counter()
            for i in range(n):
                f.pwrite(block, i * len(block))
            f.fsync()
            out["gfclient vs libgfapi 128k seq write MiB/s"] = FILE_MB / (time.perf_counter() - t0)
        time.sleep(5)
        with vol.fopen(name, "r") as f:
            t0 = time.perf_counter()
            for i in range(n):
                f.pread(len(block), i * len(block))
            out["gfclient vs libgfapi 128k seq read MiB/s"] = FILE_MB / (time.perf_counter() - t0)
            rnd = random.Random(1)
            t0, ops = time.perf_counter(), 0
            while time.perf_counter() - t0 < 8:
                f.pread(4096, rnd.randrange(FILE_MB * 256) * 4096)
                ops += 1
            out["gfclient vs libgfapi 4k randread QD1 IOPS"] = ops / (time.perf_counter() - t0)
    return out


def libgfapi_runs(side: Side, rep: int) -> dict[str, float]:
    name = f"gfa-seq-{rep}.dat"
    w = side.fio("--rw=write", "--bs=128k", "--iodepth=1", "--end_fsync=1", filename=name)
    r = side.fio("--rw=read", "--bs=128k", "--iodepth=1", filename=name)
    rr = side.fio("--rw=randread", "--bs=4k", "--iodepth=1", "--runtime=8", "--time_based", filename=name)
    return {
        "gfclient vs libgfapi 128k seq write MiB/s": w["write"]["bw"] / 1024,
        "gfclient vs libgfapi 128k seq read MiB/s": r["read"]["bw"] / 1024,
        "gfclient vs libgfapi 4k randread QD1 IOPS": rr["read"]["iops"],
    }


# ---- time to ready ------------------------------------------------------------------------


def _getspec_ok(port: int, volume: str) -> bool:
    from fakegluster.proto import handshake
    from fakegluster.proto.gfdict import old_dict
    from tests.rawclient import Raw

    try:
        r = Raw("127.0.0.1", port, timeout=2).call(
            handshake.GLUSTER_HNDSK_PROGRAM,
            2,
            2,
            handshake.GfGetspecReq(1, volume, old_dict({"min-op-version": "1", "max-op-version": "100000"})),
        )
        return r.result.op_ret > 0
    except OSError:
        return False


_USER_INSTALL: list[Path] = []


def user_fakegluster() -> Path:
    """The ``fakegluster`` command a user of ``pip install fakegluster`` runs: the console script
    of a fresh venv holding the wheel ``python -m build`` makes from an sdist of this tree (no
    editable-install finder imported by every start-up, as this checkout's .venv has; its
    modules byte-compiled by pip).  Made once per bench run (~30 s), in /var/tmp, removed at exit."""
    if not _USER_INSTALL:
        import atexit
        import venv

        tmp = Path(tempfile.mkdtemp(prefix="fgbench-user-", dir="/var/tmp"))
        atexit.register(shutil.rmtree, tmp, True)

        def step(*argv: str) -> None:
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}\n{p.stdout[-2000:]}{p.stderr[-2000:]}")

        step(sys.executable, "-m", "build", "--outdir", str(tmp / "dist"), str(ROOT))
        venv.create(tmp / "venv", with_pip=True)
        step(str(tmp / "venv" / "bin" / "pip"), "install", "-q", str(next((tmp / "dist").glob("*.whl"))))
        _USER_INSTALL.append(tmp / "venv" / "bin" / "fakegluster")
    return _USER_INSTALL[0]


def fake_serve_argv(editable: bool = False) -> list[str]:
    """``fakegluster serve`` as a user runs it (:func:`user_fakegluster`), or from this checkout
    (``editable``: this venv's python, the package found through its editable install)."""
    if editable:
        return [sys.executable, "-m", "fakegluster", "serve"]
    return [str(user_fakegluster()), "serve"]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) process ``pid``'s threads have used, in ns precision
    (/proc/PID/task/TID/schedstat, first field; /proc/PID/stat counts in 10 ms ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
    return total / 1e9


def fake_time_to_ready(volumes: Sequence[str] = (), attempts: int = 3, *, editable: bool = False) -> float:
    """``fakegluster serve`` from exec to the first GETSPEC of its first volume answered (a
    server that exits first, e.g. because another process took the free port we picked, is
    started again on another).  The ``fakegluster`` command of a ``pip install`` (see
    :func:`user_fakegluster`), or with ``editable`` this checkout's; ``volumes``: its
    ``--volume`` arguments (none: the default ``testvol``)."""

    for _ in range(attempts - 1):
        with contextlib.suppress(RuntimeError):
            return _fake_time_to_ready(volumes, editable)
    return _fake_time_to_ready(volumes, editable)


#: the CPU time (s) the last fake_time_to_ready's server had used when its GETSPEC was answered:
#: unlike the wall time, it does not grow with the machine's load
LAST_CPU = [0.0]


def _fake_time_to_ready(volumes: Sequence[str], editable: bool) -> float:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [*fake_serve_argv(editable), "--listen", f"tcp://127.0.0.1:{port}"]
    argv += [a for v in volumes for a in ("--volume", v)]
    name = volumes[0].split(";")[0].split("=")[0] if volumes else "testvol"
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT if editable else "/")
    try:
        while not _getspec_ok(port, name):
            if proc.poll() is not None:
                raise RuntimeError(f"fakegluster serve exited with {proc.returncode}")
            time.sleep(0.002)
        elapsed = time.perf_counter() - t0
        LAST_CPU[0] = cpu_seconds(proc.pid)
        return elapsed
    finally:
        proc.terminate()
        proc.wait()


def real_time_to_ready() -> float:
    rg = RealGluster()
    t0 = time.perf_counter()
    rg.start()
    vol = rg.create_volume()
    while not _getspec_ok(24007, vol.name):
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    vol.delete()
    rg.stop()
    return elapsed


# ---- the run ----------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repetition, for a smoke run")
    ap.add_argument(
        "--select", help="run selections of bench/scale.py instead (layouts, clients, ready, memory, bricks; --mb N)"
    )
    args, rest = ap.parse_known_args()
    if rest and not args.select:
        ap.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.select:
        from bench import scale

        return scale.main(sys.argv[1:])
    reps = 1 if args.quick else max(3, args.reps)
    if os.geteuid() != 0:
        print("make bench needs root (glusterd, network namespaces)", file=sys.stderr)
        return 2
    if subprocess.run(["pgrep", "-x", "glusterd"], capture_output=True).returncode == 0:
        print(
            "a glusterd is already running: stop it first (the bench times glusterd's start, and owns "
            "127.0.0.1:24007 for the real side)",
            file=sys.stderr,
        )
        return 2
    results: dict[str, dict[str, list[float]]] = {}

    def add(target: str, values: dict[str, float]) -> None:
        for k, v in values.items():
            results.setdefault(k, {}).setdefault(target, []).append(v)

    # time to ready first: the real one needs glusterd stopped.  A B A B ...
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"], check=True)
    dirvol = Path(tempfile.mkdtemp(prefix="fgbench-dir-", dir="/var/tmp"))
    fake = None
    rg = None
    try:
        for _ in range(reps):
            add("real", {"time to ready s": real_time_to_ready()})
            add("fake-memory", {"time to ready s": fake_time_to_ready()})
            print(
                f"time to ready: real {results['time to ready s']['real'][-1]:.3f} s, "
                f"fake {results['time to ready s']['fake-memory'][-1]:.3f} s",
                flush=True,
            )

        rg = RealGluster()
        rg.start()
        rvol = rg.create_volume()
        fake = serve_process(volumes=["memvol", f"dirvol={dirvol}"], netns=NS)
        sides = {
            "real": Side("real", rvol.name, None, Path(rvol.brick_file(""))),
            "fake-memory": Side("fake-memory", "memvol", NS),
            "fake-directory": Side("fake-directory", "dirvol", NS, dirvol),
        }
        for side in sides.values():
            print(f"preparing {side.name}", flush=True)
            prepare(side)
        order = list(workloads(sides["real"]))
        for rep in range(reps):
            for wl in order:
                for side in sides.values():
                    values = workloads(side)[wl]()
                    add(side.name, values)
                    print(
                        f"rep {rep + 1} {wl:15s} {side.name:15s} "
                        + ", ".join(f"{k}: {v:.1f}" for k, v in values.items()),
                        flush=True,
                    )
            add("real", libgfapi_runs(sides["real"], rep))
            add("fake-memory", gfclient_runs(f"gluster://127.0.0.1/{rvol.name}", rep))  # gfclient, real brick
            print(f"rep {rep + 1} gfclient vs libgfapi done", flush=True)
        rss_kb = int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{fake.pid}/status").read_text()).group(1))
    finally:
        if fake is not None:
            fake.stop(timeout=30)
        if rg is not None:
            rg.stop()
        subprocess.run(["ip", "netns", "del", NS])
        shutil.rmtree(dirvol, ignore_errors=True)
    report(results, rss_kb, reps)
    return 0


def report(results: dict[str, dict[str, list[float]]], rss_kb: int, reps: int) -> None:
    rows = []
    for metric, by in results.items():
        real = statistics.median(by["real"]) if "real" in by else None
        for target in ("fake-memory", "fake-directory"):
            if target not in by or real is None:
                continue
            fake = statistics.median(by[target])
            ratio = fake / real
            goal = TARGETS.get(metric)
            if metric == "time to ready s":
                met = ratio <= goal
            elif goal is not None:
                met = ratio >= goal
            else:
                met = None
            who = "gfclient" if metric.startswith("gfclient") else target
            rows.append(
                {
                    "metric": metric,
                    "target": who,
                    "real": real,
                    "fake": fake,
                    "ratio": ratio,
                    "goal": goal,
                    "met": met,
                    "samples": {"real": by["real"], "fake": by[target]},
                }
            )
    out = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "reps": reps,
        "fake_peak_rss_mib": rss_kb / 1024,
        "machine": os.uname().nodename,
        "rows": rows,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "| workload | fake | real | fake value | real value | fake/real | goal | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        goal = (
            "" if r["goal"] is None else (f"<= {r['goal']}" if r["metric"] == "time to ready s" else f">= {r['goal']}")
        )
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        lines.append(
            f"| {r['metric']} | {r['target']} | libgfapi/real | {r['fake']:.3f} | {r['real']:.3f} | "
            f"{r['ratio']:.2f} | {goal} | {met} |"
        )
    lines.append(f"\nfake server peak RSS: {rss_kb / 1024:.0f} MiB; medians of {reps} alternating runs.")
    table = "\n".join(lines)
    (HERE / "results" / "latest.md").write_text(table + "\n")
    print(table)
    chart(rows, HERE / "results" / "latest.png")


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['metric']}\n({r['target']})" for r in rows]
    ratios = [r["ratio"] for r in rows]
    colors = ["tab:green" if r["met"] else ("tab:red" if r["met"] is False else "tab:gray") for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    ax.barh(range(len(rows)), ratios, color=colors)
    for i, r in enumerate(rows):
        if r["goal"] is not None:
            ax.plot([r["goal"], r["goal"]], [i - 0.4, i + 0.4], color="black", linewidth=2)
        ax.text(r["ratio"], i, f" {r['ratio']:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("fake / real (same run; black mark = goal; time to ready: lower is better)")
    ax.set_title("fakegluster vs GlusterFS 10.3")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
