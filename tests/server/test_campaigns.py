"""Seeded smoke runs of the two campaigns of issue #14 (the full ones are ``make fuzz`` and
``make soak``): the fuzzer's malformed and hostile messages against ``fakegluster serve``
with a well-behaved client alongside, and the soak's clients on a directory volume while the
server is killed -9 and started again.  Each must end with no crash, no unhandled exception,
no lost byte and no escape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], timeout: float) -> dict:
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert r.returncode in (0, 1), r.stderr[-3000:]
    return json.loads(r.stdout[r.stdout.index("{") :])


def test_fuzz_smoke():
    report = _run(["tools/fuzz.py", "--seed", "smoke", "--messages", "4000", "--seconds", "60", "--json"], 300)
    assert report["malformed_messages"] >= 4000 or report["seconds"] >= 60
    assert report["client_calls"] > 0 and report["client_errors"] == 0
    assert (report["crashes"], report["unhandled_exceptions"], report["lost_bytes"], report["escapes"]) == (
        0,
        0,
        0,
        0,
    ), report.get("log_tail")


def test_soak_smoke(tmp_path):
    out = tmp_path / "soak.json"
    report = _run(
        ["bench/soak.py", "--clients", "4", "--processes", "1", "--seconds", "16", "--interval", "5", "--json",
         "--out", str(out)],
        300,
    )  # fmt: skip
    assert report["kill_cycles"] >= 1 and report["client_ops"] > 0
    assert (report["crashes"], report["unhandled_exceptions"], report["lost_bytes"], report["escapes"]) == (
        0,
        0,
        0,
        0,
    ), report.get("log_tail")
    assert json.loads(out.read_text()) == report
