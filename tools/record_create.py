#!/usr/bin/env python3
"""Record what a REAL glusterd 10.3 + gluster CLI answer to ``volume create`` (and ``info``).

Runs :data:`CASES` in order, as ``gluster --mode=script volume create ...``, on the real glusterd
of this machine through the RealGluster harness (root; volumes ``fgreal-<session>-N``, bricks in
a fresh directory on the root file system, host ``$(hostname)``), then ``volume info`` of every
volume that got created, and writes ``fixtures/mgmt/create_cases.json``: per case its arguments,
the command's exit status, stdout and stderr, with the brick root, the host name and the volume
names replaced by ``{B}``, ``{H}`` and ``V1``..``V9``.  Cases run in order and volumes stay
until the end, so later cases see earlier volumes (a brick in use, a name taken).

tests/mgmt/test_model.py replays the same cases through :mod:`fakegluster.mgmt.model`.

Usage: ``python tools/record_create.py [--out fixtures/mgmt/create_cases.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakegluster.testing.procs import _env  # noqa: E402
from fakegluster.testing.realgluster import (  # noqa: E402
    BRICK_ROOT_PREFIX,
    VOLUME_PREFIX,
    RealGluster,
    _list_volumes,
    _stop_and_delete_volume,
)


def b(*names: str) -> list[str]:
    return [f"{{H}}:{{B}}/{n}" for n in names]


# Each case: volume create arguments as model.cli_create_request takes them.
CASES: list[dict] = [
    {"id": "replica2-force", "vol": "V1", "bricks": b("r2a", "r2b"), "replica": 2, "force": True},
    {"id": "replica2-same-server", "vol": "V2", "bricks": b("x1", "x2"), "replica": 2},
    {"id": "replica3-two-bricks", "vol": "V2", "bricks": b("x1", "x2"), "replica": 3, "force": True},
    {"id": "replica2-three-bricks", "vol": "V2", "bricks": b("x1", "x2", "x3"), "replica": 2, "force": True},
    {"id": "replica3-four-bricks", "vol": "V2", "bricks": b("x1", "x2", "x3", "x4"), "replica": 3, "force": True},
    {"id": "duplicate", "vol": "V2", "bricks": b("x1", "x1"), "force": True},
    {"id": "duplicate-slash", "vol": "V2", "bricks": ["{H}:{B}/x1", "{H}:{B}//x1/"], "force": True},
    {"id": "inside-existing", "vol": "V2", "bricks": b("r2a/sub"), "force": True},
    {"id": "same-as-existing", "vol": "V2", "bricks": b("r2a"), "force": True},
    {"id": "contains-existing", "vol": "V2", "bricks": ["{H}:{B}"], "force": True},
    {"id": "exists", "vol": "V1", "bricks": b("y1"), "force": True},
    {"id": "root-partition", "vol": "V2", "bricks": b("n2", "n2/sub")},
    {"id": "nested-force", "vol": "V2", "bricks": b("n3", "n3/sub"), "force": True},
    {"id": "inside-nested", "vol": "V3", "bricks": b("n3/sub/x"), "force": True},
    {
        "id": "disperse-3-red-2",
        "vol": "V3",
        "bricks": b("d1", "d2", "d3"),
        "disperse": 3,
        "redundancy": 2,
        "force": True,
    },
    {
        "id": "disperse-4-red-2",
        "vol": "V3",
        "bricks": b("d1", "d2", "d3", "d4"),
        "disperse": 4,
        "redundancy": 2,
        "force": True,
    },  # fmt: skip
    {"id": "disperse-2", "vol": "V3", "bricks": b("d1", "d2"), "disperse": 2, "force": True},
    {"id": "disperse-3-four-bricks", "vol": "V3", "bricks": b("d1", "d2", "d3", "d4"), "disperse": 3, "force": True},
    {
        "id": "disperse-data-3-six",
        "vol": "V3",
        "bricks": b(*[f"d{i}" for i in range(1, 7)]),
        "disperse_data": 3,
        "force": True,
    },  # fmt: skip
    {
        "id": "disperse-data-mismatch",
        "vol": "V3",
        "bricks": b(*[f"d{i}" for i in range(1, 7)]),
        "disperse_data": 4,
        "redundancy": 2,
        "disperse": 5,
        "force": True,
    },  # fmt: skip
    {"id": "disperse-redundancy-0", "vol": "V3", "bricks": b("d1", "d2", "d3"), "redundancy": 0, "force": True},
    {"id": "disperse-data-1", "vol": "V3", "bricks": b("d1", "d2", "d3"), "disperse_data": 1, "force": True},
    {"id": "disperse-6", "vol": "V3", "bricks": b(*[f"d{i}" for i in range(1, 7)]), "disperse": 6, "force": True},
    {"id": "disperse-4", "vol": "V4", "bricks": b("e1", "e2", "e3", "e4"), "disperse": 4, "force": True},
    {
        "id": "disperse-bare-12",
        "vol": "V5",
        "bricks": b(*[f"k{i}" for i in range(1, 13)]),
        "disperse": 0,
        "force": True,
    },  # fmt: skip
    {
        "id": "disperse-data-4-six",
        "vol": "V6",
        "bricks": b(*[f"h{i}" for i in range(1, 7)]),
        "disperse_data": 4,
        "force": True,
    },  # fmt: skip
    {
        "id": "disperse-same-server",
        "vol": "V7",
        "bricks": b(*[f"s{i}" for i in range(1, 7)]),
        "disperse": 6,
        "redundancy": 2,
    },  # fmt: skip
    {"id": "arbiter-2", "vol": "V7", "bricks": b("a1", "a2", "a3"), "replica": 3, "arbiter": 2, "force": True},
    {
        "id": "arbiter-replica4",
        "vol": "V7",
        "bricks": b("a1", "a2", "a3", "a4"),
        "replica": 4,
        "arbiter": 1,
        "force": True,
    },  # fmt: skip
    {"id": "arbiter-alone", "vol": "V7", "bricks": b("a1", "a2", "a3"), "arbiter": 1, "force": True},
    {"id": "replica-disperse", "vol": "V7", "bricks": b("a1", "a2", "a3"), "replica": 3, "disperse": 3, "force": True},
    {"id": "replica-1", "vol": "V7", "bricks": b("a1"), "replica": 1, "force": True},
    {"id": "localhost", "vol": "V7", "bricks": ["localhost:{B}/a1"], "force": True},
    {"id": "loopback-ip", "vol": "V7", "bricks": ["127.0.0.1:{B}/a1"], "force": True},
    {"id": "zero-net", "vol": "V7", "bricks": ["0.1.2.3:{B}/a1"], "force": True},
    {"id": "unknown-host", "vol": "V7", "bricks": ["nosuchhost.invalid:{B}/a1"], "force": True},
    {"id": "foreign-ip", "vol": "V7", "bricks": ["10.1.2.3:{B}/a1"], "force": True},
    {"id": "relative", "vol": "V7", "bricks": ["{H}:relative"], "force": True},
    {"id": "no-colon", "vol": "V7", "bricks": ["{B}/a1"], "force": True},
    {"id": "workdir", "vol": "V7", "bricks": ["{H}:/var/lib/glusterd/fgxx"], "force": True},
    {"id": "name-all", "vol": "all", "bricks": b("a1"), "force": True},
    {"id": "name-dot", "vol": "bad.name", "bricks": b("a1"), "force": True},
    {"id": "arbiter", "vol": "V7", "bricks": b("a1", "a2", "a3"), "replica": 3, "arbiter": 1, "force": True},
    {"id": "arbiter-replica2", "vol": "V8", "bricks": b("f1", "f2", "f3"), "replica": 2, "arbiter": 1, "force": True},
    {"id": "dist-replica", "vol": "V9", "bricks": b(*[f"p{i}" for i in range(1, 7)]), "replica": 3, "force": True},
]
# the created volumes' `volume info` (V1..V9) is recorded after the cases


def words(case: dict) -> list[str]:
    out = ["volume", "create", case["vol"]]
    if "replica" in case:
        out += ["replica", str(case["replica"])]
    if "arbiter" in case:
        out += ["arbiter", str(case["arbiter"])]
    if "disperse" in case:
        out += ["disperse"] + ([str(case["disperse"])] if case["disperse"] else [])
    if "disperse_data" in case:
        out += ["disperse-data", str(case["disperse_data"])]
    if "redundancy" in case:
        out += ["redundancy", str(case["redundancy"])]
    if "transport" in case:
        out += ["transport", case["transport"]]
    out += case["bricks"]
    if case.get("force"):
        out.append("force")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fixtures/mgmt/create_cases.json"))
    args = ap.parse_args()
    with RealGluster() as rg:
        root = tempfile.mkdtemp(prefix=BRICK_ROOT_PREFIX)
        with open(os.path.join(root, ".owner"), "w") as f:
            f.write(f"{os.getpid()} {rg.token}\n")
        names = {f"V{i}": f"{VOLUME_PREFIX}-{os.getpid()}-{rg.token}-{i}" for i in range(1, 10)}

        def run(cmd: list[str]) -> dict:
            real = [names.get(w, w).replace("{B}", root).replace("{H}", rg.hostname) for w in cmd]
            cp = subprocess.run(
                ["gluster", "--mode=script", *real],
                capture_output=True,
                text=True,
                env=_env(),
                stdin=subprocess.DEVNULL,
            )
            out = {"rc": cp.returncode, "stdout": cp.stdout, "stderr": cp.stderr}
            for k in ("stdout", "stderr"):
                s = out[k].replace(root, "{B}")
                for short, long in names.items():
                    s = s.replace(long, short)
                out[k] = re.sub(rf"\b{re.escape(rg.hostname)}:", "{H}:", s)
            return out

        results: dict = {"hostname_placeholder": "{H}", "cases": [], "info": {}}
        try:
            for case in CASES:
                results["cases"].append({**case, **run(words(case))})
                print(case["id"], results["cases"][-1]["rc"], file=sys.stderr)
            for short in names:
                r = run(["volume", "info", short])
                if r["rc"] == 0:
                    results["info"][short] = r["stdout"]
        finally:
            for v in names.values():
                if v in _list_volumes():
                    _stop_and_delete_volume(v, [])
            shutil.rmtree(root, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}: {len(results['cases'])} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
