"""Soak ``fakegluster serve`` on a directory volume: many clients of mixed IO while the server
is killed with SIGKILL and started again, over and over; every fsync'd byte is checked
(``make soak``; issue #14).

* The server serves one directory volume (inside a sandbox whose sibling ``outside/`` must
  never change) on a fixed port; as root it runs in a mount namespace where everything but
  the sandbox is read-only.  Every ``--interval`` seconds it is killed (SIGKILL) and started
  again on the same folder: the same volume-id, credentials and brick port
  (``server/identity.py``), so clients reconnect and reopen their fds by themselves.
* ``--clients`` gfclient clients (trio tasks, spread over a few processes), each on a file of
  its own: writes (4 KiB-1 MiB, a pattern that names the client and the write), fsyncs,
  reads checked against what it wrote, truncates, and small files created, renamed and
  removed.  A call that fails while the server is away is retried once it is back.
* A client's model of its file changes with every acknowledged write; the *durable* model
  is taken at each successful fsync.  At the end every client's file is read from the
  folder itself (plain files) and compared with its durable model, and while running every
  read is compared with the model: a byte that differs is a lost byte.

Reported: kill cycles, client operations, retries, lost bytes, escapes, crashes (the server
exiting on its own), unhandled exceptions (tracebacks in the server's logs), client latency
(p50/p99/max, the restarts included), the server's RSS at the start of its last life and at
the end.  Writes bench/results/soak.json; exit status 1 on lost bytes, escapes, crashes or
unhandled exceptions.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.resources import rss_mib  # noqa: E402
from fakegluster.testing.escape import tree_digest  # noqa: E402
from fakegluster.testing.serve import ServeError, serve_process  # noqa: E402

_CONFINE = 'mount -o remount,bind,ro / && mount --bind "$0" "$0" && mount -o remount,bind,rw "$0" && exec "$@"'
FILE_SIZE = 8 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``fakegluster serve`` on ``sandbox/vol``, restartable on the same port."""

    def __init__(self, sandbox: Path, port: int, replica: int = 1, options: tuple[str, ...] = ()) -> None:
        self.sandbox, self.port, self.replica, self.options = sandbox, port, replica, options
        self.proc: subprocess.Popen | None = None
        self.lives = 0
        self.crashes = 0

    def start_and_wait(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            self.proc = None
            self._spawn()
            if self.proc is not None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the server does not start again")
            time.sleep(0.2)

    def _spawn(self) -> None:
        cmd: dict[str, Any] = dict(
            args=["--log-level", "warning"],
            volumes=[
                f"soak={self.sandbox / 'vol'}"
                + (f";replica={self.replica}" if self.replica > 1 else "")
                + "".join(f";{o}" for o in self.options)
            ],
            listen=[f"tcp://127.0.0.1:{self.port}"],
        )
        prefix: list[str] = []
        if os.geteuid() == 0 and shutil.which("unshare"):
            prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _CONFINE, str(self.sandbox)]
        self.lives += 1
        try:
            served = serve_process(
                prefix=prefix, stderr_path=self.sandbox / f"server-{self.lives}.log", cwd=ROOT, **cmd
            )
        except ServeError:
            return  # it could not bind (the old sockets linger): try again
        self.proc = served.proc

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is not None:
                self.crashes += 1  # it died on its own
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        elif self.proc is not None:
            self.crashes += 1

    def rss_mib(self) -> float:
        try:  # under unshare, the python process is a child of sh -> exec'd into python: same pid
            return round(rss_mib(self.proc.pid if self.proc else 0), 1)
        except OSError:
            return 0.0


# ---- clients ------------------------------------------------------------------------------------
def _pattern(client: int, seq: int, n: int) -> bytes:
    seed = hashlib.sha256(f"{client}:{seq}".encode()).digest()
    return (seed * (n // 32 + 1))[:n]


async def _client(uri: str, index: int, deadline: float, stats: dict[str, Any], models: dict[int, Any]) -> None:
    import trio

    import gfclient.aio as aio
    from gfclient.errors import GlusterConnectionError

    rng = random.Random(index)
    name = f"c{index:03d}.dat"
    model = bytearray()
    durable = bytearray()
    lat: list[float] = stats.setdefault("lat", [])

    async def retry(fn: Any, *args: Any) -> Any:
        while True:
            t0 = time.perf_counter()
            try:
                out = await fn(*args)
                lat.append((time.perf_counter() - t0) * 1000)
                stats["ops"] = stats.get("ops", 0) + 1
                return out
            except (GlusterConnectionError, ConnectionError, trio.BrokenResourceError) as exc:
                stats["retries"] = stats.get("retries", 0) + 1
                stats.setdefault("retry_errors", set()).add(getattr(exc, "errno", None) or type(exc).__name__)
                await trio.sleep(0.5)
            except OSError as exc:
                if exc.errno in (errno.ENOTCONN, errno.EBADF, errno.ESTALE, errno.ENOENT):
                    stats["retries"] = stats.get("retries", 0) + 1
                    await trio.sleep(0.5)
                    raise _Reopen() from exc
                raise

    def applied(op: tuple[Any, ...]) -> bytearray:
        out = bytearray(model)
        if op[0] == "write":
            _, off, data = op
            out.extend(bytes(max(0, off + len(data) - len(out))))
            out[off : off + len(data)] = data
        else:
            del out[op[1] :]
            out.extend(bytes(op[1] - len(out)))
        return out

    async def reconcile(f: Any, op: tuple[Any, ...]) -> None:
        """A write or truncate failed with the server gone: it may have happened, or not, or
        -- a write -- in part (a SIGKILL stops a pwrite between pages, on a real brick too).
        Each byte must be what it was or what the op wrote; adopt what the file holds."""
        size = (await retry(f.fstat)).st_size
        back = await retry(f.pread, size, 0) if size else b""
        bad = _unexplained(bytes(model), back, op)
        if bad:
            stats["lost_bytes_read"] = stats.get("lost_bytes_read", 0) + bad
            stats.setdefault("lost_examples", []).append((index, op[0], op[1], len(back), len(model)))
        model[:] = back

    async with aio.connect(uri) as vol:

        async def reopen(pending: tuple[Any, ...] | None) -> Any:
            """The file opened again by its name (the fd was lost), the op whose outcome is
            unknown (``pending``) reconciled with what it holds."""
            f = await retry(vol.open, name, os.O_RDWR | os.O_CREAT, 0o644)
            if pending is not None:
                await reconcile(f, pending)
            return f

        f = None
        seq = 0
        pending: tuple[Any, ...] | None = None  # a write/truncate whose outcome is unknown
        while time.monotonic() < deadline:
            try:
                if f is None:
                    f, pending = await reopen(pending), None
                op = rng.random()
                if op < 0.45:  # write
                    n = rng.choice([4096, 65536, 1 << 20])
                    off = rng.randrange(0, FILE_SIZE - n)
                    seq += 1
                    data = _pattern(index, seq, n)
                    pending = ("write", off, data)
                    await retry(f.pwrite, data, off)
                    pending = None
                    if len(model) < off + n:
                        model.extend(bytes(off + n - len(model)))
                    model[off : off + n] = data
                elif op < 0.6:  # fsync: what the model holds now is durable
                    await retry(f.fsync)
                    durable[:] = model
                elif op < 0.85:  # read and check
                    if model:
                        off = rng.randrange(0, len(model))
                        n = min(rng.choice([4096, 65536, 1 << 20]), len(model) - off)
                        back = await retry(f.pread, n, off)
                        want = bytes(model[off : off + n])
                        if back != want:
                            bad = sum(a != b for a, b in zip(back, want, strict=False)) + abs(len(back) - len(want))
                            stats["lost_bytes_read"] = stats.get("lost_bytes_read", 0) + bad
                            stats.setdefault("lost_examples", []).append((index, off, n, len(back)))
                            model[off : off + len(back)] = back  # do not count it twice
                elif op < 0.9:  # truncate
                    size = rng.randrange(0, FILE_SIZE)
                    pending = ("truncate", size)
                    await retry(f.truncate, size)
                    pending = None
                    del model[size:]
                    if len(model) < size:
                        model.extend(bytes(size - len(model)))
                else:  # small files: create, rename, remove
                    tmp = f"t{index:03d}-{seq}"
                    g = await retry(vol.fopen, tmp, "w")
                    await retry(g.write, b"x" * 100)
                    await retry(g.close)
                    await retry(vol.rename, tmp, tmp + ".r")
                    await retry(vol.unlink, tmp + ".r")
            except _Reopen:
                f = None  # the fd was lost: open the file again by its name (and reconcile)
            except OSError as exc:
                stats.setdefault("errors", []).append(f"{index}: {exc!r}")
                f = None
        # the deadline may fall while the fd is lost: reopen (and reconcile) and fsync, or what
        # was acknowledged after the last fsync (a truncate, overwrites) would count as lost
        last = time.monotonic() + 120
        while time.monotonic() < last:
            try:
                if f is None:
                    f, pending = await reopen(pending), None
                await retry(f.fsync)
                durable[:] = model
                await f.close()
                break
            except _Reopen:
                f = None
            except OSError as exc:
                stats.setdefault("errors", []).append(f"{index}: final fsync: {exc!r}")
                break
    models[index] = bytes(durable)


def _unexplained(before: bytes, back: bytes, op: tuple[Any, ...]) -> int:
    """How many bytes of ``back`` neither ``before`` nor (part of) ``op`` explains."""
    if op[0] == "truncate":
        size = op[1]
        after = before[:size] + bytes(max(0, size - len(before)))
        if back in (before, after):
            return 0
        return sum(a != b for a, b in zip(back, after, strict=False)) + abs(len(back) - len(after))
    _, off, data = op
    end = off + len(data)
    if not len(before) <= len(back) <= max(len(before), end):
        return abs(len(back) - max(len(before), end))
    old = before + bytes(len(back) - len(before))
    bad = sum(a != b for a, b in zip(back[:off], old[:off], strict=False))
    bad += sum(a != b for a, b in zip(back[end:], old[end:], strict=False))
    mid_back, mid_old, mid_new = back[off:end], old[off:end], data[: max(0, len(back) - off)]
    if mid_back not in (mid_old, mid_new):
        bad += sum(x != o and x != n for x, o, n in zip(mid_back, mid_old, mid_new, strict=False))
    return bad


class _Reopen(Exception):
    pass


def _worker(uri: str, indices: list[int], seconds: float, out: Any) -> None:
    import logging

    import trio

    logging.getLogger("gfclient").setLevel(logging.ERROR)  # disconnects are the point here

    stats: dict[str, Any] = {}
    models: dict[int, bytes] = {}

    async def main() -> None:
        deadline = time.monotonic() + seconds
        async with trio.open_nursery() as nursery:
            for i in indices:
                nursery.start_soon(_client, uri, i, deadline, stats, models)

    try:
        trio.run(main)
    except BaseException as exc:  # noqa: BLE001 (reported)
        stats.setdefault("errors", []).append(repr(exc)[:500])
    stats["retry_errors"] = sorted(map(str, stats.get("retry_errors", ())))
    out.put((stats, {i: hashlib.sha256(m).hexdigest() + f":{len(m)}" for i, m in models.items()}, models))


def run(args: argparse.Namespace) -> dict[str, Any]:
    sandbox = Path(tempfile.mkdtemp(prefix="fg-soak-"))
    (sandbox / "vol").mkdir()
    (sandbox / "outside").mkdir()
    (sandbox / "outside" / "x").write_text("must not change\n")
    before = tree_digest(sandbox / "outside")
    server = Server(sandbox, _free_port(), args.replica, tuple(args.option))
    server.start_and_wait()
    uri = f"gluster://127.0.0.1:{server.port}/soak"
    mp = multiprocessing.get_context("fork")
    queue = mp.Queue()
    per = -(-args.clients // args.processes)
    groups = [list(range(i, min(i + per, args.clients))) for i in range(0, args.clients, per)]
    workers = [mp.Process(target=_worker, args=(uri, g, args.seconds, queue)) for g in groups]
    report: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "interval": args.interval,
        "replica": args.replica,
        "options": args.option,
    }
    for w in workers:
        w.start()
    t0 = time.monotonic()
    cycles = 0
    while time.monotonic() - t0 < args.seconds - args.interval:
        time.sleep(args.interval * random.Random(cycles).uniform(0.5, 1.5))
        server.kill()
        server.start_and_wait()
        cycles += 1
    report["kill_cycles"] = cycles
    report["rss_start_mib"] = server.rss_mib()
    results = [queue.get(timeout=args.seconds + 300) for _ in workers]
    for w in workers:
        w.join(60)
    time.sleep(2)
    report["rss_end_mib"] = server.rss_mib()
    server.stop()
    lat = sorted(x for s, _, _ in results for x in s.get("lat", []))
    lost_on_disk = diverged = 0
    models: dict[int, bytes] = {}
    for _, _, m in results:
        models.update(m)
    folders = [sandbox / "vol"] if args.replica == 1 else [sandbox / "vol" / f"brick{b}" for b in range(args.replica)]
    for i, want in models.items():
        # a byte is lost when no replica holds it (one that some replica holds is self-heal's job)
        copies = [
            (f / f"c{i:03d}.dat").read_bytes()[: len(want)] if (f / f"c{i:03d}.dat").exists() else b"" for f in folders
        ]
        for at in range(0, len(want), 1 << 16):
            chunk = want[at : at + (1 << 16)]
            held = [c[at : at + len(chunk)] for c in copies]
            if all(h == chunk for h in held):
                continue
            for k, byte in enumerate(chunk):
                kept = [h[k] == byte for h in held if k < len(h)]
                lost_on_disk += not any(kept)
                diverged += not all(kept) or len(kept) < len(held)
    text = "".join(p.read_text(errors="replace") for p in sandbox.glob("server-*.log"))
    report.update(
        server_lives=server.lives,
        client_ops=sum(s.get("ops", 0) for s, _, _ in results),
        retries=sum(s.get("retries", 0) for s, _, _ in results),
        retry_errors=sorted({e for s, _, _ in results for e in s.get("retry_errors", [])}),
        client_errors=[e for s, _, _ in results for e in s.get("errors", [])][:10],
        lost_bytes=lost_on_disk + sum(s.get("lost_bytes_read", 0) for s, _, _ in results),
        lost_bytes_on_disk=lost_on_disk,
        bytes_differing_between_replicas=diverged,
        lost_examples=[x for s, _, _ in results for x in s.get("lost_examples", [])][:10],
        escapes=int(tree_digest(sandbox / "outside") != before)
        + sum(1 for p in sandbox.iterdir() if p.name not in ("vol", "outside") and not p.name.startswith("server-")),
        crashes=server.crashes,
        unhandled_exceptions=text.count("Traceback"),
        p50_ms=round(statistics.median(lat), 2) if lat else None,
        p99_ms=round(lat[int(len(lat) * 0.99)], 1) if lat else None,
        max_ms=round(lat[-1], 1) if lat else None,
    )
    if report["unhandled_exceptions"]:
        report["log_tail"] = text[-3000:]
    if args.keep:
        report["sandbox"] = str(sandbox)
    else:
        shutil.rmtree(sandbox, ignore_errors=True)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--interval", type=float, default=10, help="seconds between kills, on average")
    ap.add_argument("--replica", type=int, default=1, help="serve a replica N directory volume (N bricks)")
    ap.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a volume option (cluster.self-heal-daemon=off)",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the sandbox (volume, server logs)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "soak.json", help="where the report goes")
    args = ap.parse_args()
    report = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
    bad = report["lost_bytes"] or report["escapes"] or report["crashes"] or report["unhandled_exceptions"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
