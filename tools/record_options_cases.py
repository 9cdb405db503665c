#!/usr/bin/env python3
"""Record what a REAL glusterd 10.3 answers to ``volume set / reset / get / info`` sequences.

Each sequence of :data:`SEQUENCES` runs on a fresh volume of the real glusterd of this machine
(RealGluster harness; root; bricks ``$(hostname):/tmp/fg-real-*/bN`` with ``force``): one
``gluster --mode=script volume ...`` command after the other, each command's exit status, stdout
and stderr recorded (volume name -> ``{V}``, brick root -> ``{B}``, volume id -> ``{VOLUME_ID}``)
in ``fixtures/mgmt/options_cases.json``.  tests/mgmt/test_options.py replays every sequence
through :mod:`fakegluster.mgmt.options` and compares verdicts, texts, ``volume get`` rows and
``volume info``'s option list.

Usage: ``python tools/record_options_cases.py [--out fixtures/mgmt/options_cases.json]``
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

TYPES = {
    "dist1": ([], 1),
    "rep3": (["replica", "3"], 3),
    "ec4p2": (["disperse", "6", "redundancy", "2"], 6),
}


def S(key: str, value: str) -> list[str]:
    return ["set", "{V}", key, value]


def R(*args: str) -> list[str]:
    return ["reset", "{V}", *args]


def G(key: str) -> list[str]:
    return ["get", "{V}", key]


INFO = ["info", "{V}"]

SEQUENCES: list[tuple[str, str, list[list[str]]]] = [
    (
        "values",
        "dist1",
        [
            S("performance.write-behind", "maybe"),
            S("performance.cache-size", "abc"),
            S("performance.cache-size", "1PB"),
            S("performance.write-behind-window-size", "1KB"),
            S("performance.write-behind-window-size", "2GB"),
            S("network.ping-timeout", "-5"),
            S("network.ping-timeout", "100000"),
            S("network.ping-timeout", "abc"),
            S("network.ping-timeout", "1min"),
            S("performance.md-cache-timeout", "601"),
            S("cluster.min-free-disk", "101%"),
            S("cluster.min-free-disk", "xyz"),
            S("cluster.min-free-disk", "5GB"),
            S("locks.mandatory-locking", "nope"),
            S("auth.allow", "1.2.3.4.5"),
            S("auth.allow", "bad_host!"),
            S("auth.allow", "192.168.*.*,10.0.0.0/8"),
            S("auth.reject", "a..b"),
            S("cluster.quorum-type", "nope"),
            S("diagnostics.brick-log-level", "LOUD"),
            S("diagnostics.client-log-level", "debug"),
            S("performance.io-thread-count", "0"),
            S("performance.io-thread-count", "65"),
            S("performance.io-thread-count", "0x10"),
            S("server.root-squash", "maybe"),
            S("server.anonuid", "-1"),
            S("storage.owner-uid", "abc"),
            S("storage.owner-uid", "36"),
            S("client.event-threads", "0"),
            S("transport.address-family", "inet7"),
            S("features.shard-block-size", "1KB"),
            S("features.shard", "on"),
            S("features.shard-block-size", "1KB"),
            S("features.shard-block-size", "64MB"),
            S("performance.cache-max-file-size", "1MB"),
            S("performance.cache-min-file-size", "2MB"),
            S("cluster.quorum-count", "2"),
            S("features.read-only", "on"),
            S("features.worm", "on"),
            S("features.read-only", "off"),
            S("features.worm", "on"),
            S("network.remote-dio", "enable"),
            INFO,
        ],
    ),  # fmt: skip
    (
        "keys",
        "dist1",
        [
            S("no.such.option", "1"),
            S("performance.write-behnd", "off"),
            S("noexist", "off"),
            S("write-behind", "off"),
            S("cache-size", "64MB"),
            S("quorum-count", "2"),
            S("user.cifs", "off"),
            S("user.some.thing", "x y"),
            S("cluster.op-version", "70000"),
            S("cluster.server-quorum-ratio", "60"),
            S("cluster.max-op-version", "1"),
            S("features.quota", "on"),
            S("features.quota", "off"),
            S("quota", "maybe"),
            S("features.bitrot", "on"),
            S("scrub-freq", "daily"),
            S("config.transport", "foo"),
            S("features.trash-dir", "x"),
            S("features.trash", "on"),
            S("features.trash-dir", "a/b"),
            S("features.trash-dir", "mytrash"),
            S("cluster.subvols-per-directory", "3"),
            S("cluster.rebal-throttle", "fast"),
            S("features.retention-mode", "strict"),
            S("features.snapshot-directory", "x"),
            S("cluster.server-quorum-type", "maybe"),
            S("cluster.server-quorum-type", "server"),
            S("geo-replication.indexing", "on"),
            S("cluster.granular-entry-heal", "off"),
            S("cluster.lock-migration", "maybe"),
            S("cluster.lock-migration", "on"),
            INFO,
            G("performance.write-behind"),
            G("write-behind"),
            G("cache-size"),
            G("no.such.option"),
            G("zzzzzz"),
            G("user.cifs"),
            G("user.missing"),
            G("cluster.op-version"),
            G("config.transport"),
            G("config.memory-accounting"),
            G("cluster.server-quorum-type"),
            G("nfs.disable"),
            G("ganesha.enable"),
            G("all"),
            R("performance.write-behind"),
            R("no.such.thing"),
            R("features.quota"),
            R("cluster.max-op-version"),
            R("cluster.server-quorum-ratio"),
            R("geo-replication.indexing"),
            INFO,
            R("nfs.disable"),
            INFO,
            R(),
            INFO,
            R("force"),
            INFO,
            R("user.cifs"),
            INFO,
        ],
    ),  # fmt: skip
    (
        "replicate",
        "rep3",
        [
            S("cluster.quorum-type", "nope"),
            S("cluster.quorum-count", "4"),
            S("cluster.quorum-count", "two"),
            S("cluster.quorum-count", "2"),
            S("disperse.shd-max-threads", "4"),
            S("cluster.shd-max-threads", "4"),
            S("cluster.lock-migration", "on"),
            S("cluster.self-heal-daemon", "off"),
            S("cluster.data-self-heal", "off"),
            S("cluster.disperse-self-heal-daemon", "on"),
            S("cluster.favorite-child-policy", "best"),
            S("disperse.quorum-count", "4"),
            S("performance.client-io-threads", "on"),
            INFO,
            G("cluster.quorum-type"),
            G("performance.client-io-threads"),
            G("all"),
            R("cluster.granular-entry-heal"),
            INFO,
            R(),
            INFO,
            G("cluster.quorum-type"),
        ],
    ),  # fmt: skip
    (
        "disperse",
        "ec4p2",
        [
            S("disperse.quorum-count", "3"),
            S("disperse.quorum-count", "7"),
            S("disperse.quorum-count", "5"),
            S("cluster.shd-max-threads", "4"),
            S("disperse.shd-max-threads", "4"),
            S("cluster.self-heal-daemon", "off"),
            S("cluster.disperse-self-heal-daemon", "disable"),
            S("disperse.eager-lock", "maybe"),
            INFO,
            G("all"),
        ],
    ),  # fmt: skip
    (
        "started",
        "rep3",
        [
            ["start", "{V}"],
            S("cluster.granular-entry-heal", "off"),
            S("storage.linux-aio", "on"),
            S("performance.write-behind", "off"),
            R(),
            INFO,
            ["stop", "{V}"],
            S("storage.linux-aio", "on"),
            INFO,
        ],
    ),  # fmt: skip
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fixtures/mgmt/options_cases.json"))
    args = ap.parse_args()
    out: dict = {"sequences": []}
    with RealGluster() as rg:
        for n, (seq_id, type_id, commands) in enumerate(SEQUENCES, 1):
            name = f"{VOLUME_PREFIX}-{os.getpid()}-{rg.token}-{n}"
            root = tempfile.mkdtemp(prefix=BRICK_ROOT_PREFIX)
            with open(os.path.join(root, ".owner"), "w") as f:
                f.write(f"{os.getpid()} {rg.token}\n")
            words, count = TYPES[type_id]
            bricks = [f"{rg.hostname}:{root}/b{i}" for i in range(1, count + 1)]
            try:
                cp = subprocess.run(
                    ["gluster", "--mode=script", "volume", "create", name, *words, *bricks, "force"],
                    capture_output=True,
                    text=True,
                    env=_env(),
                )
                if cp.returncode:
                    raise SystemExit(f"{seq_id}: create failed: {cp.stderr}")
                vid = re.search(r"^volume-id=(.*)$", Path(f"/var/lib/glusterd/vols/{name}/info").read_text(), re.M)
                subst = {name: "{V}", root: "{B}", vid.group(1) if vid else "{VOLUME_ID}": "{VOLUME_ID}"}
                results = []
                for cmd in commands:
                    real = ["gluster", "--mode=script", "volume", *(w.replace("{V}", name) for w in cmd)]
                    cp = subprocess.run(real, capture_output=True, text=True, env=_env(), stdin=subprocess.DEVNULL)

                    def norm(s: str, subst: dict[str, str] = subst) -> str:
                        for real_text, placeholder in subst.items():
                            s = s.replace(real_text, placeholder)
                        return s

                    results.append(
                        {"cmd": cmd, "rc": cp.returncode, "stdout": norm(cp.stdout), "stderr": norm(cp.stderr)}
                    )
                out["sequences"].append({"id": seq_id, "type": type_id, "results": results})
                print(f"recorded {seq_id}", file=sys.stderr)
            finally:
                if name in _list_volumes():
                    _stop_and_delete_volume(name, [])
                shutil.rmtree(root, ignore_errors=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
