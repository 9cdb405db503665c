"""Speed at scale (issue #16): multi-brick volumes, many clients, time to ready, memory.

Selections of ``make bench``, each runnable alone (root; the real side is a real GlusterFS 10.3
through :class:`~fakegluster.testing.realgluster.RealGluster`, the fake one ``fakegluster
serve`` in a network namespace of its own, the same client binaries on both)::

    make bench BENCH_ARGS="--select layouts"          # replica 3, 2 x 3, disperse 4+2
    make bench BENCH_ARGS="--select clients,memory --quick"

* ``qd1``: fio gfapi 4k randread QD1 alone (IOPS, mean latency) on one brick, replica 3 and
  2 x 3, alternating real / fake for each layout (the quickest look at the QD1 gap);
* ``layouts``: fio gfapi 128k sequential write and read, 4k randread QD1, ``qemu-img bench``
  64k QD64 (write, read) on replica 3, 2 x 3 and disperse 4 + 2 (no qemu-img there);
* ``clients``: N fio gfapi jobs (threads, each its own libgfapi instance and connections) doing
  4k randread QD1 on one file of a one-brick volume: aggregate IOPS for N = 1, 4, 16, 64;
* ``ready``: time to ready of a 2 x 3 volume and of the one-brick CLI start (fake: exec of the
  ``fakegluster`` command of a ``pip install`` to the first GETSPEC answered, and the same from
  this editable checkout as rows of their own; real: glusterd start + volume create + start, in
  private mount/net/pid namespaces so the shared glusterd of other sessions is not touched);
* ``memory``: RSS per idle brick (fake: a 1-, 6- and 24-brick volume; real: the mean
  glusterfsd RSS) and per idle connection (N connections to one brick, a DUMP each);
* ``bricks``: time to ready, RSS and 16 clients' aggregate 4k randread IOPS (a file each,
  written first, spread by DHT) for 1, 6 and 24-brick distribute volumes.

Runs alternate real / fake (``--reps``, medians; ``--quick``: one repetition, smaller files).
Results merge into bench/results/scale.{json,md} (a selection replaces its own rows) and
bench/results/scale.png.  The machine is shared: compare the fake/real ratios of one run,
not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402
from bench.resources import idle_connections, rss_mib  # noqa: E402
from bench.scale_report import SELECTIONS, Results, add, chart, render, rows_of, save  # noqa: E402
from fakegluster.testing.realgluster import RealGluster, RealGlusterError, RealVolume  # noqa: E402
from fakegluster.testing.serve import ServeProcess, serve_process  # noqa: E402

NS = f"fgscale-{os.getpid()}"

#: name -> (fake --volume spec, RealGluster.create_volume kwargs, qemu-img bench too)
LAYOUTS: dict[str, tuple[str, dict[str, int], bool]] = {
    "replica 3": ("r3;replica=3;bricks=3", {"bricks": 3, "replica": 3}, True),
    "2 x 3": ("d2r3;replica=3;bricks=6", {"bricks": 6, "replica": 3}, True),
    "disperse 4+2": ("ec42;disperse=6;redundancy=2;bricks=6", {"bricks": 6, "disperse": 6, "redundancy": 2}, False),
}


class BrickSide(run.Side):
    """A :class:`bench.run.Side` whose volume has several bricks: ``files`` lists each
    brick's folder, and :meth:`warm` reads every copy a brick holds."""

    def __init__(self, name: str, volume: str, netns: str | None, bricks: list[Path], mb: int) -> None:
        super().__init__(name, volume, netns, None)
        self.bricks, self.mb = bricks, mb

    def warm(self, path: str) -> None:
        for b in self.bricks:
            if (b / path).exists():
                with open(b / path, "rb", buffering=0) as f:
                    while f.read(1 << 20):
                        pass

    def fio(self, *args: str, filename: str = "bench.dat") -> dict[str, Any]:
        return fio(self.volume, self.netns, f"--filename={filename}", f"--size={self.mb}m", *args)["jobs"][0]

    def qbench(self, write: bool, image: str) -> float:
        count = 2 * self.mb * 1024 // 64  # 2 passes over the image
        out = run.sh(
            ["qemu-img", "bench", *(["-w"] if write else []), "-c", str(count), "-d", "64", "-s", "64k"]
            + ["-f", "raw", self.uri(image)],
            self.netns,
        )
        m = re.search(r"Run completed in ([\d.]+) seconds", out)
        assert m, out
        return count * 64 / 1024 / float(m.group(1))


def fio(volume: str, netns: str | None, *args: str) -> dict[str, Any]:
    out = run.sh(
        ["fio", "--name=b", "--ioengine=gfapi", f"--volume={volume}", "--brick=127.0.0.1", "--output-format=json"]
        + list(args),
        netns,
    )
    result: dict[str, Any] = json.loads(out[out.index("{") :])
    return result


# ---- the fake and real sides ----------------------------------------------------------------
class Fake:
    """``fakegluster serve`` with ``volumes`` in the bench's network namespace (or, with
    ``netns=None``, here on a free port)."""

    def __init__(self, volumes: list[str], netns: str | None = NS) -> None:
        listen = [] if netns else ["tcp://127.0.0.1:0"]  # outside it, 24007 is the real glusterd's
        self.proc: ServeProcess = serve_process(volumes=volumes, listen=listen, netns=netns, timeout=120)

    def brick_ports(self, volume: str) -> list[int]:
        return [
            int(m.group(1)) for line in self.proc.lines if (m := re.match(rf"brick {volume} \d+ .* port (\d+)", line))
        ]

    def stop(self) -> None:
        self.proc.stop(timeout=30)


def create(rg: RealGluster, **kw: int) -> RealVolume:
    """``rg.create_volume(**kw)``, tried again once: a shared glusterd under load now and then
    answers ``volume start`` with "Commit failed on localhost"."""
    try:
        return rg.create_volume(**kw)
    except RealGlusterError as exc:
        print(f"volume create/start failed, once more: {exc}", flush=True)
        time.sleep(2)
        return rg.create_volume(**kw)


def real_bricks(vol: RealVolume) -> list[Path]:
    return [Path(p) for p in vol.brick_paths]


def real_brick_pids(vol: RealVolume) -> list[int]:
    return [b["pid"] for b in vol.status() if b["pid"] > 0]


def netns_up() -> None:
    subprocess.run(["ip", "netns", "add", NS], check=True)
    subprocess.run(["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"], check=True)


def netns_down() -> None:
    subprocess.run(["ip", "netns", "del", NS], check=False)


# ---- layouts ----------------------------------------------------------------------------------
def layouts(res: Results, reps: int, mb: int, rg: RealGluster) -> None:
    fake = Fake([spec for spec, _, _ in LAYOUTS.values()])
    try:
        pairs: dict[str, tuple[BrickSide, BrickSide, bool]] = {}
        for lname, (spec, kw, qemu) in LAYOUTS.items():
            rvol = create(rg, **kw)
            real = BrickSide("real", rvol.name, None, real_bricks(rvol), mb)
            pairs[lname] = (real, BrickSide("fake", spec.split(";")[0], NS, [], mb), qemu)
        for lname, (real, fk, qemu) in pairs.items():
            for side in (real, fk):
                print(f"preparing {lname} {side.name}", flush=True)
                side.fio("--rw=write", "--bs=1m", "--end_fsync=1")
                if qemu:
                    run.sh(["qemu-img", "create", "-f", "raw", side.uri("qb.raw"), f"{mb}M"], side.netns)
                    run.sh(["qemu-io", "-f", "raw", "-c", f"write -P 0x5a 0 {mb}M", side.uri("qb.raw")], side.netns)

        def workloads(side: BrickSide, qemu: bool) -> dict[str, Callable[[], dict[str, float]]]:
            def randread() -> dict[str, float]:
                side.warm("bench.dat")
                j = side.fio("--rw=randread", "--bs=4k", "--iodepth=1", "--runtime=6", "--time_based")
                return {"4k randread QD1 IOPS": j["read"]["iops"]}

            wl: dict[str, Callable[[], dict[str, float]]] = {
                "seqwrite": lambda: {
                    "128k seq write MiB/s": side.fio("--rw=write", "--bs=128k", "--end_fsync=1", filename="seq.dat")[
                        "write"
                    ]["bw"]
                    / 1024
                },
                "seqread": lambda: {
                    "128k seq read MiB/s": side.fio("--rw=read", "--bs=128k", filename="seq.dat")["read"]["bw"] / 1024
                },
            }
            if qemu:
                wl["randread"] = randread
                wl["qemu-img"] = lambda: {
                    "qemu-img bench 64k QD64 write MiB/s": side.qbench(True, "qb.raw"),
                    "qemu-img bench 64k QD64 read MiB/s": side.qbench(False, "qb.raw"),
                }
            return wl

        for rep in range(reps):
            for lname, (real, fk, qemu) in pairs.items():
                for wl in workloads(real, qemu):
                    for side in (real, fk):
                        values = workloads(side, qemu)[wl]()
                        for k, v in values.items():
                            add(res, f"{lname} {k}", side.name, v)
                        print(f"rep {rep + 1} {lname} {wl} {side.name}: {values}", flush=True)
    finally:
        fake.stop()


# ---- 4k randread QD1 alone ---------------------------------------------------------------------
QD1_LAYOUTS: dict[str, tuple[str, dict[str, int]]] = {
    "one brick": ("q1", {}),
    "replica 3": ("q1r3;replica=3;bricks=3", {"bricks": 3, "replica": 3}),
    "2 x 3": ("q1d2r3;replica=3;bricks=6", {"bricks": 6, "replica": 3}),
}


def qd1(res: Results, reps: int, mb: int, rg: RealGluster) -> None:
    """4k randread QD1 on one brick, replica 3 and 2 x 3: the workload of ``make bench``'s and
    ``layouts``' QD1 rows (page cache warm on the real side), alternating real / fake."""
    fake = Fake([spec for spec, _ in QD1_LAYOUTS.values()])
    try:
        pairs: dict[str, tuple[BrickSide, BrickSide]] = {}
        for lname, (spec, kw) in QD1_LAYOUTS.items():
            rvol = create(rg, **kw)
            real = BrickSide("real", rvol.name, None, real_bricks(rvol), mb)
            pairs[lname] = (real, BrickSide("fake", spec.split(";")[0], NS, [], mb))
            for side in pairs[lname]:
                print(f"preparing {lname} {side.name}", flush=True)
                side.fio("--rw=write", "--bs=1m", "--end_fsync=1")
        for rep in range(reps):
            for lname, sides in pairs.items():
                for side in sides:
                    side.warm("bench.dat")
                    j = side.fio("--rw=randread", "--bs=4k", "--iodepth=1", "--runtime=6", "--time_based")["read"]
                    add(res, f"{lname} 4k randread QD1 IOPS", side.name, j["iops"])
                    add(res, f"{lname} 4k randread QD1 mean latency us", side.name, j["lat_ns"]["mean"] / 1e3)
                    print(f"rep {rep + 1} {lname} {side.name}: {j['iops']:.0f} IOPS, load {os.getloadavg()[0]:.1f}",
                          flush=True)  # fmt: skip
    finally:
        fake.stop()


# ---- many clients -------------------------------------------------------------------------------
def clients_iops(volume: str, netns: str | None, n: int, mb: int, per_job_files: bool = False) -> float:
    files = [] if per_job_files else ["--filename=clients.dat"]
    j = fio(
        volume,
        netns,
        *files,
        f"--size={mb}m",
        "--rw=randread",
        "--bs=4k",
        "--iodepth=1",
        "--runtime=6",
        "--time_based",
        "--thread",
        f"--numjobs={n}",
        "--group_reporting",
    )
    return float(j["jobs"][0]["read"]["iops"])


def clients(res: Results, reps: int, mb: int, rg: RealGluster, counts: list[int]) -> None:
    fake = Fake(["c1"])
    try:
        rvol = create(rg)
        sides = [("real", rvol.name, None), ("fake", "c1", NS)]
        for _, vol, ns in sides:
            fio(vol, ns, "--filename=clients.dat", f"--size={mb}m", "--rw=write", "--bs=1m", "--end_fsync=1")
        for rep in range(reps):
            for n in counts:
                for name, vol, ns in sides:
                    iops = clients_iops(vol, ns, n, mb)
                    add(res, f"{n} clients 4k randread IOPS", name, iops)
                    print(f"rep {rep + 1} {n} clients {name}: {iops:.0f} IOPS", flush=True)
    finally:
        fake.stop()


# ---- time to ready ----------------------------------------------------------------------------------
REAL_READY_CHILD = r"""
import json, os, sys, time
sys.path.insert(0, {root!r})
from fakegluster.testing.realgluster import RealGluster
from bench.run import _getspec_ok
rg = RealGluster()
t0 = time.perf_counter()
rg.start()
vol = rg.create_volume(**{kw!r})
while not _getspec_ok(24007, vol.name):
    time.sleep(0.01)
elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "glusterd": rg.timings["glusterd_ready"], "volume": vol.timings}}))
rg.stop()
"""


def real_time_to_ready(kw: dict[str, int]) -> float:
    """glusterd start + volume create + start until GETSPEC answers, by the harness, run in
    private mount, network and pid namespaces: /run, /var/lib/glusterd and /var/log/glusterfs
    are empty tmpfs there and TMPDIR a folder of its own, so the shared glusterd, its volumes
    and the other sessions' brick roots are out of sight (the harness would clean them up)."""
    tmp = tempfile.mkdtemp(prefix="fgscale-real-", dir="/var/tmp")
    script = REAL_READY_CHILD.format(root=str(ROOT), kw=kw)
    mounts = " && ".join(f"mount -t tmpfs none {d}" for d in ("/run", "/var/lib/glusterd", "/var/log/glusterfs"))
    try:
        p = subprocess.run(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "sh", "-c",
             f'{mounts} && ip link set lo up && exec "$0" -c "$1"', sys.executable, script],
            capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": tmp},
        )  # fmt: skip
        if p.returncode != 0:
            raise RuntimeError(f"real time to ready: {p.returncode}\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
        out = json.loads(p.stdout.strip().splitlines()[-1])
        return float(out["seconds"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


READY_CASES: dict[str, tuple[list[str], dict[str, int]]] = {
    "1 brick": ([], {}),
    "2 x 3": (["v;replica=3;bricks=6"], {"bricks": 6, "replica": 3}),
}


def ready(res: Results, reps: int, cases: dict[str, tuple[list[str], dict[str, int]]] = READY_CASES) -> None:
    for rep in range(reps):
        for label, (fake_vols, kw) in cases.items():
            r = real_time_to_ready(kw)
            f = run.fake_time_to_ready(fake_vols)
            add(res, f"{label} time to ready s", "real", r)
            add(res, f"{label} time to ready s", "fake", f)
            add(res, f"{label} fake CPU s to ready", "fake", run.LAST_CPU[0])
            e = run.fake_time_to_ready(fake_vols, editable=True)  # what the editable-install finder costs
            add(res, f"{label} time to ready s (editable checkout)", "fake", e)
            add(res, f"{label} fake CPU s to ready (editable checkout)", "fake", run.LAST_CPU[0])
            print(f"rep {rep + 1} {label} time to ready: real {r:.3f} s, fake {f:.3f} s (editable {e:.3f} s)",
                  flush=True)  # fmt: skip


# ---- memory ---------------------------------------------------------------------------------------
def memory(res: Results, rg: RealGluster, brick_counts: list[int], conns: int) -> None:
    base = None
    for n in brick_counts:
        fake = Fake([f"m{n};bricks={n}"], netns=None)  # reached from here
        try:
            time.sleep(1)
            rss = rss_mib(fake.proc.pid)
            if base is None:
                base = (n, rss)
            else:
                add(res, "idle brick RSS MiB", "fake", (rss - base[1]) / (n - base[0]))
            ports = fake.brick_ports(f"m{n}")  # printed for volumes of more than one brick
            if ports and "idle connection RSS KiB" not in res:
                c = idle_connections(fake.proc.pid, ports[0], conns)
                add(res, "idle connection RSS KiB", "fake", c["kib_per_connection"])
        finally:
            fake.stop()
    rvol = create(rg, bricks=max(brick_counts[:2]))
    pids = real_brick_pids(rvol)
    add(res, "idle brick RSS MiB", "real", statistics.mean(rss_mib(p) for p in pids))
    c = idle_connections(pids[0], rvol.brick_ports[0], conns)
    add(res, "idle connection RSS KiB", "real", c["kib_per_connection"])
    rvol.delete()


# ---- bricks ----------------------------------------------------------------------------------------
def bricks(res: Results, reps: int, mb: int, rg: RealGluster, counts: list[int]) -> None:
    for n in counts:
        vols = [f"b{n};bricks={n}"]
        for _ in range(reps):
            r = real_time_to_ready({"bricks": n})
            f = run.fake_time_to_ready(vols)
            add(res, f"{n} bricks time to ready s", "real", r)
            add(res, f"{n} bricks time to ready s", "fake", f)
        fake = Fake(vols)
        rvol = create(rg, bricks=n)
        try:
            add(res, f"{n} bricks idle RSS MiB", "fake", rss_mib(fake.proc.pid))
            add(res, f"{n} bricks idle RSS MiB", "real", sum(rss_mib(p) for p in real_brick_pids(rvol)))
            sides = (("real", rvol.name, None), ("fake", f"b{n}", NS))
            for _, vol, ns in sides:  # a file per job (b.J.0), which DHT spreads over the bricks
                fio(
                    vol, ns, f"--size={mb // 16}m", "--rw=write", "--bs=1m", "--thread", "--numjobs=16", "--end_fsync=1"
                )
            for rep in range(reps):
                for name, vol, ns in sides:
                    iops = clients_iops(vol, ns, 16, mb // 16, per_job_files=True)
                    add(res, f"{n} bricks 16 clients 4k randread IOPS", name, iops)
                    print(f"rep {rep + 1} {n} bricks, 16 clients {name}: {iops:.0f} IOPS", flush=True)
        finally:
            fake.stop()
            rvol.delete()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--select", default="", help=f"comma-separated: {', '.join(SELECTIONS)} (or all)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--mb", type=int, default=0, help="file size in MiB (default 256, --quick 64)")
    ap.add_argument("--quick", action="store_true", help="one repetition, smaller files and fewer points")
    ap.add_argument("--render", action="store_true", help="only redraw scale.md/png from scale.json")
    args = ap.parse_args(argv)
    if args.render:
        render()
        return 0
    selections = list(SELECTIONS) if args.select == "all" else args.select.split(",")
    unknown = set(selections) - set(SELECTIONS)
    if unknown:
        ap.error(f"unknown selection(s) {sorted(unknown)}; choose from {SELECTIONS}")
    if os.geteuid() != 0:
        print("make bench needs root (glusterd, network namespaces)", file=sys.stderr)
        return 2
    reps = 1 if args.quick else max(1, args.reps)
    mb = args.mb or (64 if args.quick else 256)
    rows: list[dict[str, Any]] = []
    netns_up()
    rg = RealGluster().start()
    try:
        runs: dict[str, Callable[[Results], None]] = {
            "qd1": lambda res: qd1(res, reps, mb, rg),
            "layouts": lambda res: layouts(res, reps, mb, rg),
            "clients": lambda res: clients(res, reps, mb, rg, [1, 16, 64] if args.quick else [1, 4, 16, 64]),
            "ready": lambda res: ready(res, reps),
            "memory": lambda res: memory(res, rg, [1, 6, 24], 200 if args.quick else 1000),
            "bricks": lambda res: bricks(res, reps, mb, rg, [1, 6, 24]),
        }
        for sel in selections:
            res: Results = {}
            runs[sel](res)
            rows = save(rows_of(res, sel), [sel], reps)
    finally:
        rg.stop()
        netns_down()
    chart(rows, HERE / "results" / "scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
