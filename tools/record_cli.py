#!/usr/bin/env python3
"""Record what the unmodified ``gluster`` CLI prints against a REAL glusterd 10.3, and what went
over the wire: ``fixtures/cli/transcript.json`` (+ ``transcript.txt`` to read).

Runs :data:`fakegluster.testing.cliscenario.STEPS` through the RealGluster harness (a session
of its own: volumes ``fgreal-<pid>-<token>-<n>``, bricks in a ``/tmp/fg-real-*`` root, both
removed at the end, also after a crash by the next session).  Unix steps go through a
:class:`~fakegluster.testing.clirun.Relay` in front of ``/var/run/glusterd.socket``
(``--glusterd-sock``); ``tcp`` steps run the CLI with ``--remote-host=127.0.0.1`` in a network
namespace bridged to the real glusterd's TCP port 24007.  Per step: stdout, stderr, exit
status and the decoded CLI calls and replies, normalised (volume names, brick root, host,
UUIDs, ports, pids become placeholders; see :class:`~fakegluster.testing.clirun.Normaliser`).

Usage: ``python tools/record_cli.py [--out fixtures/cli] [--only STEP_ID ...]`` (root; ~1 min).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakegluster.testing import clirun, cliscenario  # noqa: E402
from fakegluster.testing.realgluster import VOLUME_PREFIX, RealGluster, RealVolume, _brick_status  # noqa: E402

GLUSTERD_SOCKET = "/var/run/glusterd.socket"


def _wait_online(name: str, timeout: float = 60.0) -> None:
    """Until every brick of ``name`` (and its self-heal daemon) reports a port or pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = _brick_status(name)
        if st and all(b["online"] and b["port"] for b in st):
            return
        time.sleep(0.2)
    raise RuntimeError(f"bricks of {name} not online after {timeout}s")


def record(out: Path, only: set[str] | None) -> list[clirun.Outcome]:
    with RealGluster() as rg:
        root = tempfile.mkdtemp(prefix="fg-real-")
        with open(os.path.join(root, ".owner"), "w") as f:
            f.write(f"{os.getpid()} {rg.token}\n")
        cliscenario.prepare_root(root)
        values = {"host": rg.hostname, "root": root}
        for n, key in enumerate([*cliscenario.VOLUMES, "new"], 1):
            name = f"{VOLUME_PREFIX}-{os.getpid()}-{rg.token}-{n}"
            values[f"vol:{key}"] = name
            rg.volumes.append(RealVolume(name=name, brick_paths=[], brick_ports=[], root=root, _owner=rg))
        started: set[str] = set()

        def before(step: clirun.Step) -> None:
            # a started volume's bricks sign in a little after "volume start" answers
            for key, name in values.items():
                if key.startswith("vol:") and name in started and ("status" in step.id or "heal" in step.id):
                    _wait_online(name)

        outcomes = []
        with clirun.Relay(GLUSTERD_SOCKET) as relay, clirun.NetnsBridge(("127.0.0.1", 24007)) as bridge:
            for step in cliscenario.steps(only):
                before(step)
                o = clirun.run_step(step, values, unix=relay, tcp=bridge)
                outcomes.append(o)
                print(f"{o.status:3d} {step.via:4s} {step.id}", flush=True)
                args = clirun.expand(step.args, values)
                if o.status == 0 and args[:2] == ["volume", "start"]:
                    started.add(args[2])
                elif o.status == 0 and args[:2] == ["volume", "stop"]:
                    started.discard(args[2])
        version = subprocess.run(["gluster", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    norm = clirun.normalise_all(outcomes, values)
    out.mkdir(parents=True, exist_ok=True)
    doc = {
        "recorded_with": version,
        "tool": "tools/record_cli.py",
        "placeholders": sorted(values),
        "steps": [o.as_json() for o in norm],
    }
    (out / "transcript.json").write_text(json.dumps(doc, indent=1) + "\n")
    with open(out / "transcript.txt", "w") as f:
        for o in norm:
            where = "--remote-host=127.0.0.1" if o.via == "tcp" else "--glusterd-sock=SOCK"
            f.write(f"$ gluster --mode=script {where} {o.args}\n")
            f.write(f"--- stdout ---\n{o.stdout}--- stderr ---\n{o.stderr}--- exit status: {o.status} ---\n\n")
    return norm


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "fixtures" / "cli")
    ap.add_argument("--only", nargs="*", help="step ids to run (default: all)")
    a = ap.parse_args()
    record(a.out, set(a.only) if a.only else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
