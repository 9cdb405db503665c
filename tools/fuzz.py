"""Fuzz ``fakegluster serve``: malformed and hostile messages to glusterd and the bricks,
with a well-behaved client checking its data alongside (``make fuzz``; issue #14).

What is sent (every case comes from ``random.Random(f"{seed}:{case}")``; the sessions after
which the server logged a traceback or died are saved, bytes and all, to ``OUT.cases.json``,
and ``--replay OUT.cases.json`` plays them again against a fresh server):

* the **real captures** (fixtures/pcaps/*.pcap: qemu-img, qemu-io, FUSE, the gluster CLI):
  their calls, mutated -- bytes flipped or replaced, 32-bit words set to edge values,
  records cut short or extended, spliced with other records, split into odd fragments;
* the **schemas**: the calls of every program and procedure the servers serve (GF-DUMP,
  the handshake, portmap, FOP v400, GLUSTER-CLI, plus unknown programs), with fields set to
  hostile values -- edge integers, long and odd names (``..``, ``/``, NULs, invalid UTF-8,
  ``../../outside``), gfids of the root, of nothing, and ones seen in replies, dicts with
  odd keys and types -- encoded correctly, so they reach the handlers;
* on brick connections, most sessions first handshake properly (SETVOLUME with the trusted
  volfile's credentials), so FOPs are answered, not refused; some of them first stream plain
  READs of a file they create, so the fuzzed records end a brick reader thread's turn
  (fakegluster/server/brickthread.py; ``fuzzcases.read_streak``).

The server runs as a separate process with five volumes: an in-memory one, a directory one
(inside a sandbox whose sibling folder ``outside/`` must never change: an escape), a replica 3
directory volume and a disperse 4+2 in-memory volume (every brick of them fuzzed: each session
picks a volume, then one of its bricks), and one the fuzzer never names (as root, in a mount
namespace where all but the sandbox is read-only, and the directory volumes on 1 GiB tmpfs:
a fuzzed FALLOCATE asks for up to 16 EiB).  A gfclient process
per volume (the unnamed one, and through the whole replica 3 and 4+2 volumes, so AFR/EC
client-side, in a folder ``wb/`` the fuzzer never names) writes, fsyncs and reads back its
data the whole time (lost bytes) and times every call (stalls).

Reported (JSON, ``--json``; a table otherwise): cases, malformed messages, crashes (the
server died), unhandled exceptions (tracebacks in its log), lost bytes, escapes, the
well-behaved client's max stall and p99, and the server's RSS at the start and at the end
(after the fuzzing connections are gone).  Exit status 1 if any of crashes, unhandled
exceptions, lost bytes or escapes is not zero.
"""

from __future__ import annotations

import argparse
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
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fuzzcases import Gen, frame, fuzz_cred, generated_call, load_corpus, mutate, read_streak  # noqa: E402

from fakegluster.proto import Call, Role, RpcConnection, fops, handshake, portmap  # noqa: E402
from fakegluster.proto.gfdict import old_dict  # noqa: E402
from fakegluster.proto.record import RecordReader  # noqa: E402
from fakegluster.proto.volfile import parse_volfile  # noqa: E402
from fakegluster.testing.escape import tree_digest  # noqa: E402
from fakegluster.testing.serve import serve_process  # noqa: E402

# ---- sessions --------------------------------------------------------------------------------
#: the fuzzed volumes (``start_server``): name -> the ``serve --volume`` spec (DIR: the sandbox)
FUZZED = {
    "testvol": "testvol",
    "dirvol": "dirvol={sandbox}/vol",
    "rep": "rep={sandbox}/rep;replica=3",
    "ec": "ec;disperse=6;redundancy=2",
}
#: the volumes a well-behaved client checks its data through (besides the unnamed probe)
CHECKED = ("rep", "ec")


class Target:
    """glusterd's port and, per volume, every brick: (port, its protocol/client options)."""

    def __init__(self, port: int, volumes: list[str]) -> None:
        self.port = port
        self.bricks: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for v in volumes:
            spec = _getspec(port, v)
            self.bricks[v] = []
            for client in parse_volfile(spec).of_type("protocol/client"):
                opts = dict(client.options)
                self.bricks[v].append((_portbybrick(port, opts["remote-subvolume"]), opts))


def _rpc(port: int, call: Call) -> Any:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = RpcConnection(Role.CLIENT)
    s.sendall(conn.send(call))
    while True:
        ev = conn.next_event()
        if ev.__class__.__name__ != "NeedData":
            s.close()
            return ev
        conn.receive_data(s.recv(1 << 20))


def _getspec(port: int, volume: str) -> str:
    xdata = old_dict({"max-op-version": "100000", "min-op-version": "1"})
    return _rpc(
        port, Call(2, handshake.GLUSTER_HNDSK_PROGRAM, 2, 2, handshake.GfGetspecReq(1, volume, xdata))
    ).result.spec


def _portbybrick(port: int, brick: str) -> int:
    return _rpc(port, Call(2, portmap.GLUSTER_PMAP_PROGRAM, 1, 1, portmap.PmapPortByBrickReq(brick))).result.port


def _setvolume(opts: dict[str, str], xid: int) -> bytes:
    keys = {
        "process-uuid": f"CTX_ID:{uuid.uuid4()}-GRAPH_ID:0-PID:1-HOST:fuzz-PC_NAME:x-RECON_NO:-0",
        "fops-version": str(fops.GLUSTER_FOP_PROGRAM),
        **{k: v for k, v in opts.items() if k in ("remote-subvolume", "username", "password")},
    }
    req = handshake.GfSetvolumeReq(old_dict(keys))
    return RpcConnection(Role.CLIENT).send(Call(xid, handshake.GLUSTER_HNDSK_PROGRAM, 2, 1, req, cred=fuzz_cred()))


class Session:
    """One fuzzing connection: to a brick (after a proper handshake, mostly) or to glusterd."""

    def __init__(self, brick: bool, volume: str, handshake: bool, cases: bytes, index: int = 0, split: int = 0) -> None:
        self.brick, self.volume, self.handshake, self.cases = brick, volume, handshake, cases
        self.index = index  # which brick of the volume
        self.split = split  # the bytes before it are sent and answered first (a READ streak)

    def as_json(self, seed: str, case0: int, n: int) -> dict[str, Any]:
        return {"id": f"{seed}:{case0}:{n}", "brick": self.brick, "volume": self.volume, "index": self.index,
                "handshake": self.handshake, "bytes": self.cases.hex(), "split": self.split}  # fmt: skip

    def play(self, target: Target, gfids: list[bytes]) -> None:
        port, opts = target.bricks[self.volume][self.index] if self.brick else (target.port, {})
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return
        s.setblocking(False)
        try:
            reader = RecordReader()
            first = (_setvolume(opts, 1) if self.handshake else b"") + self.cases[: self.split]
            if self.split:
                _exchange(s, first, reader, gfids)
                first = b""
            _exchange(s, first + self.cases[self.split :], reader, gfids)
        finally:
            s.close()


def make_session(target: Target, seed: str, case0: int, ncases: int, corpus: list[tuple[bytes, Call]],
                 gfids: list[bytes]) -> Session:  # fmt: skip
    """The cases ``case0 .. case0 + ncases - 1``, on one connection."""
    rng = random.Random(f"{seed}:session:{case0}")
    brick = rng.random() < 0.7
    volume = rng.choice(sorted(target.bricks))
    index = rng.randrange(len(target.bricks[volume]))
    handshake = brick and rng.random() < 0.8
    cases = b"".join(build_case(seed, case, brick, corpus, gfids) for case in range(case0, case0 + ncases))
    split = 0
    if handshake and rng.random() < 0.3:  # first a stream of plain READs (a reader thread's turn)
        first, more = read_streak(rng, case0 << 8)
        cases, split = first + more + cases, len(first)
    return Session(brick, volume, handshake, cases, index, split)


def build_case(seed: str, case: int, brick: bool, corpus: list[tuple[bytes, Call]], gfids: list[bytes]) -> bytes:
    rng = random.Random(f"{seed}:{case}")
    gen = Gen(rng, gfids)
    xid = case & 0x7FFFFFFF
    if rng.random() < 0.5:
        record = generated_call(rng, gen, brick, xid)
    else:
        record = mutate(rng, rng.choice(corpus)[0], corpus)
    return frame(rng, record)


def _exchange(s: socket.socket, out: bytes, reader: RecordReader, gfids: list[bytes]) -> None:
    """Send everything while reading what comes back; give up when the server stops."""
    view = memoryview(out)
    deadline = time.monotonic() + 10
    quiet = None
    while time.monotonic() < deadline:
        progress = False
        if view:
            try:
                n = s.send(view[: 1 << 16])
                view = view[n:]
                progress = True
            except BlockingIOError:
                pass
            except OSError:
                return
        try:
            data = s.recv(1 << 20)
            if not data:
                return
            reader.feed(data)
            progress = True
            _harvest(reader, gfids)
        except BlockingIOError:
            pass
        except OSError:
            return
        except Exception:  # noqa: BLE001 (a reply we cannot frame: the next session)
            return
        if not view:
            quiet = quiet or time.monotonic()
            if time.monotonic() - quiet > 0.05:
                return
        if not progress:
            time.sleep(0.0005)


def _harvest(reader: RecordReader, gfids: list[bytes]) -> None:
    """Keep gfids seen in replies (16 bytes after a zero op_ret...) to reuse them: cheaply,
    any 16 bytes at iatt positions of successful FOP replies."""
    while (rec := reader.next_record()) is not None:
        if len(rec) >= 60 and rec[24:28] == b"\0\0\0\0" and len(gfids) < 10_000:
            gfids.append(bytes(rec[44:60]))


# ---- the server and the well-behaved client ---------------------------------------------------
#: As root, the server runs in a mount namespace of its own where everything but the
#: sandbox is read-only: a path escape the fuzzer finds cannot damage this machine.
_CONFINE = (
    'mount -o remount,bind,ro / && mount --bind "$0" "$0" && mount -o remount,bind,rw "$0"'
    ' && for d in vol rep; do mount -t tmpfs -o size=1g fgfuzz "$0/$d" || exit 1; done && exec "$@"'
)  # (tmpfs: a fuzzed 1 TiB FALLOCATE on a directory volume filled the machine's disk once)


def start_server(sandbox: Path, log: Path) -> tuple[subprocess.Popen, int, str]:
    for d in ("vol", "rep"):
        (sandbox / d).mkdir(exist_ok=True)
    probe = f"probe{uuid.uuid4().hex[:12]}"
    prefix: list[str] = []
    if os.geteuid() == 0 and shutil.which("unshare"):
        prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _CONFINE, str(sandbox)]
    served = serve_process(
        ["--log-level", "warning"],
        volumes=[*(spec.format(sandbox=sandbox) for spec in FUZZED.values()), probe],
        listen=["tcp://127.0.0.1:0"],
        prefix=prefix,
        stderr_path=log,
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return served.proc, served.port(), probe


def well_behaved(uri: str, stop: Any, result: Any, folder: str = "") -> None:
    """Write, fsync and read back files (in ``folder``) in a loop; count lost bytes; time every
    call (open, write, fsync, close, read: one or two RPCs each, per brick)."""
    import gfclient

    lat: list[float] = []
    lost = errors = 0
    kept: dict[str, bytes] = {}
    rng = random.Random(7)

    def timed(fn: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            lat.append((time.perf_counter() - t0) * 1000)

    try:
        with gfclient.connect(uri) as vol:
            if folder:
                vol.makedirs(folder)
            i = 0
            while not stop.is_set():
                name = f"{folder}/f{i % 20}" if folder else f"f{i % 20}"
                data = rng.randbytes(rng.choice([1, 512, 4096, 65536]))
                try:
                    f = timed(vol.fopen, name, "w")
                    timed(f.write, data)
                    timed(f.fsync)
                    timed(f.close)
                    kept[name] = data
                    check = rng.choice(sorted(kept))
                    f = timed(vol.fopen, check, "r")
                    back = timed(f.read)
                    timed(f.close)
                    if back != kept[check]:
                        lost += sum(a != b for a, b in zip(back, kept[check], strict=False)) + abs(
                            len(back) - len(kept[check])
                        )
                except OSError:
                    errors += 1
                    kept.pop(name, None)  # (what a failed write left there is unknown)
                i += 1
    except Exception as exc:  # noqa: BLE001 (reported)
        errors += 1
        result["error"] = repr(exc)
    lat.sort()
    result.update(
        latencies=lat,
        client_calls=len(lat),
        lost_bytes=lost,
        client_errors=errors,
        max_stall_ms=round(lat[-1], 1) if lat else None,
        p99_ms=round(lat[int(len(lat) * 0.99)], 1) if lat else None,
        p50_ms=round(statistics.median(lat), 2) if lat else None,
    )


def _merge(per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The well-behaved clients' results together (top-level keys, over all their calls) and
    each one's (``well_behaved``: probe = the unnamed volume, rep / ec = through AFR / EC)."""
    lat = sorted(x for r in per.values() for x in r.get("latencies", ()))
    out: dict[str, Any] = {
        "client_calls": len(lat),
        "lost_bytes": sum(r.get("lost_bytes", 0) for r in per.values()),
        "client_errors": sum(r.get("client_errors", 1) for r in per.values()),
        "max_stall_ms": round(lat[-1], 1) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99)], 1) if lat else None,
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
    }
    out["well_behaved"] = {k: {n: v for n, v in r.items() if n != "latencies"} for k, r in per.items()}
    return out


def _empty(uri: str) -> None:
    """Remove what the fuzzing left in a volume (so the RSS at the end says what the server
    itself kept)."""
    import gfclient

    try:
        with gfclient.connect(uri) as vol:
            for name in vol.listdir("/"):
                try:
                    vol.rmtree(name) if vol.isdir(name) else vol.unlink(name)
                except OSError:
                    pass
    except OSError:
        pass


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = load_corpus(sorted((ROOT / "fixtures" / "pcaps").glob("*.pcap")))
    sandbox = Path(tempfile.mkdtemp(prefix="fg-fuzz-"))
    (sandbox / "outside").mkdir()
    (sandbox / "outside" / "x").write_text("must not change\n")
    before_outside = tree_digest(sandbox / "outside")
    log = sandbox / "server.log"
    proc, port, probe = start_server(sandbox, log)
    report: dict[str, Any] = {"seed": args.seed, "volumes": args.volumes, "corpus_records": len(corpus)}
    mp = multiprocessing.get_context("fork")
    stop, manager = mp.Event(), mp.Manager()
    checked = {"probe": (probe, ""), **{v: (v, "wb") for v in CHECKED}}  # the unnamed volume, and through AFR/EC
    results = {k: manager.dict() for k in checked}
    clients = {
        k: mp.Process(target=well_behaved, args=(f"gluster://127.0.0.1:{port}/{v}", stop, results[k], folder))
        for k, (v, folder) in checked.items()
    }
    try:
        target = Target(port, args.volumes)
        time.sleep(0.5)
        report["rss_start_mib"] = rss_mib(proc.pid)
        for client in clients.values():
            client.start()
        gfids: list[bytes] = []
        failing: list[dict[str, Any]] = []
        t0 = time.monotonic()
        case = sessions = 0
        seen = 0
        hits: dict[str, int] = {}  # sessions per brick ("rep/2") and to glusterd
        while case < args.messages and time.monotonic() - t0 < args.seconds and proc.poll() is None:
            n = random.Random(f"{args.seed}:n:{case}").choice([1, 5, 50, 200])
            session = make_session(target, args.seed, case, n, corpus, gfids)
            session.play(target, gfids)
            where = f"{session.volume}/{session.index}" if session.brick else "glusterd"
            hits[where] = hits.get(where, 0) + 1
            if log.stat().st_size != seen or proc.poll() is not None:  # what did that session do?
                with open(log, "rb") as f:
                    f.seek(seen)
                    new = f.read()
                if b"Traceback" in new or proc.poll() is not None:
                    failing.append(session.as_json(args.seed, case, n))
                seen += len(new)
            case += n
            sessions += 1
        report.update(cases=case, malformed_messages=case, sessions=sessions, seconds=round(time.monotonic() - t0, 1))
        report["sessions_per_brick"] = dict(sorted(hits.items()))
        report["failing_sessions"] = [f["id"] for f in failing]
        if failing and args.out:
            args.out.with_suffix(".cases.json").write_text(json.dumps(failing[:20], indent=1) + "\n")
        stop.set()
        for client in clients.values():
            client.join(60)
        report.update(_merge({k: dict(r) for k, r in results.items()}))
        report["rss_before_cleanup_mib"] = rss_mib(proc.pid)
        for v in ("testvol", "ec"):  # the in-memory volumes' files held memory
            _empty(f"gluster://127.0.0.1:{port}/{v}")
        time.sleep(2)  # idle: the server collects what the fuzzing left
        report["rss_end_mib"] = rss_mib(proc.pid)
        report["crashes"] = 0 if proc.poll() is None else 1
    finally:
        stop.set()
        for client in clients.values():
            if client.is_alive():
                client.kill()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
    text = log.read_text(errors="replace")
    report["unhandled_exceptions"] = text.count("Traceback")
    report["escapes"] = int(tree_digest(sandbox / "outside") != before_outside) + sum(
        1 for p in sandbox.iterdir() if p.name not in ("vol", "rep", "outside", "server.log")
    )
    if report["unhandled_exceptions"] or report["crashes"]:
        report["log_tail"] = text[-4000:]
    if not args.keep:
        shutil.rmtree(sandbox, ignore_errors=True)
    else:
        report["sandbox"] = str(sandbox)
    return report


def replay(path: Path) -> int:
    """Play saved sessions (after a fresh handshake) against a fresh server; 1 if any fails."""
    sandbox = Path(tempfile.mkdtemp(prefix="fg-fuzz-replay-"))
    (sandbox / "outside").mkdir()
    log = sandbox / "server.log"
    proc, port, _ = start_server(sandbox, log)
    bad = 0
    try:
        target = Target(port, list(FUZZED))
        for item in json.loads(path.read_text()):
            seen = log.stat().st_size
            data = bytes.fromhex(item["bytes"])
            Session(
                item["brick"], item["volume"], item["handshake"], data, item.get("index", 0), item.get("split", 0)
            ).play(target, [])
            time.sleep(0.2)
            new = log.read_bytes()[seen:].decode(errors="replace")
            failed = "Traceback" in new or proc.poll() is not None
            bad += failed
            print(f"{item['id']}: {'FAILS' if failed else 'ok'}\n{new[-3000:] if failed else ''}")
            if proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        shutil.rmtree(sandbox, ignore_errors=True)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", default="1")
    ap.add_argument("--messages", type=int, default=1_000_000, help="stop after this many malformed messages")
    ap.add_argument("--seconds", type=float, default=1800, help="... or after this long")
    ap.add_argument(
        "--volumes",
        type=lambda v: v.split(","),
        default=list(FUZZED),
        help=f"the volumes fuzzed, comma-separated (default: all of {','.join(FUZZED)})",
    )
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the sandbox (volume, server log)")
    ap.add_argument(
        "--replay",
        metavar="CASES.json",
        help="play the failing sessions a run saved (OUT.cases.json) against a fresh server, report what happens",
    )
    ap.add_argument("--out", type=Path, help="also write the report there (make fuzz: bench/results/fuzz.json)")
    args = ap.parse_args()
    if unknown := set(args.volumes) - set(FUZZED):
        ap.error(f"no such volume: {', '.join(sorted(unknown))}")
    if args.replay:
        return replay(Path(args.replay))
    report = run(args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1) if args.json else "\n".join(f"{k}: {v}" for k, v in report.items()))
    bad = report["crashes"] or report["unhandled_exceptions"] or report.get("lost_bytes") or report["escapes"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
