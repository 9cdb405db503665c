#!/usr/bin/env python3
"""Record the volfiles a REAL glusterd 10.3 writes, over a matrix of volume types x options.

For every case of :data:`CASES` this creates a volume on the real glusterd of this machine
(RealGluster harness; root; bricks ``$(hostname):/tmp/fg-real-*/bN`` with ``force``), applies
the case's ``volume set`` commands, and saves into ``fixtures/volgen/<case>/``:

* ``client.vol`` and ``trusted-client.vol`` -- ``/var/lib/glusterd/vols/V/V.tcp-fuse.vol`` and
  ``trusted-V.tcp-fuse.vol`` (what GETSPEC hands out to remote and to local clients);
* ``getspec.vol`` -- ``gluster system:: getspec V`` (the CLI adds a final newline);
* ``brick-N.vol`` -- each brick's ``V.HOST.PATH.vol`` (the server-side stack);
* ``shd.vol`` -- ``V-shd.vol`` for replicate/disperse volumes;
* ``info`` -- glusterd's store file (op-versions, options in store order);
* ``case.json`` -- the case, the host name and the brick paths.

Names that differ per run are replaced: the volume name by ``{V}``, the brick root by ``{B}``,
the volume id, internal username and password by ``{VOLUME_ID}``, ``{USERNAME}``,
``{PASSWORD}``.  tests/mgmt/test_volgen.py regenerates every file with
:mod:`fakegluster.mgmt.volgen` from the case and compares byte for byte.

Usage: ``python tools/record_volgen.py [--only CASE,...] [--out fixtures/volgen]``
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

TYPES: dict[str, dict] = {
    "dist1": {"bricks": 1},
    "dist2": {"bricks": 2},
    "dist4": {"bricks": 4},
    "rep2": {"bricks": 2, "replica": 2},
    "rep3": {"bricks": 3, "replica": 3},
    "arb": {"bricks": 3, "replica": 3, "arbiter": 1},
    "rep2x3": {"bricks": 6, "replica": 3},
    "ec4p2": {"bricks": 6, "disperse": 6, "redundancy": 2},
    "ec2x4p2": {"bricks": 12, "disperse": 6, "redundancy": 2},
    "rdma": {"bricks": 1, "transport": "rdma"},
    "tcprdma": {"bricks": 2, "transport": "tcp,rdma"},
}

# (case id, type, [(key, value), ...]); a value None means "volume set V group KEY"
CASES: list[tuple[str, str, list]] = [(t, t, []) for t in TYPES] + [
    # client graph: performance translators on/off and their settings
    ("wb-off", "dist1", [("performance.write-behind", "off")]),
    ("ra-on", "dist1", [("performance.read-ahead", "on")]),
    ("ioc-on", "dist1", [("performance.io-cache", "on")]),
    ("qr-off", "dist1", [("performance.quick-read", "off")]),
    ("ob-off", "dist1", [("performance.open-behind", "off")]),
    ("mdc-off", "dist1", [("performance.stat-prefetch", "off")]),
    ("rda-on", "dist1", [("performance.readdir-ahead", "on")]),
    ("nlc-on", "dist1", [("performance.nl-cache", "on")]),
    ("ciot-off", "dist1", [("performance.client-io-threads", "off")]),
    ("ciot-on-rep3", "rep3", [("performance.client-io-threads", "on")]),
    (
        "all-perf-off",
        "dist1",
        [
            (k, "off")
            for k in (
                "performance.write-behind",
                "performance.read-ahead",
                "performance.io-cache",
                "performance.quick-read",
                "performance.open-behind",
                "performance.stat-prefetch",
                "performance.readdir-ahead",
                "performance.client-io-threads",
                "performance.nl-cache",
            )
        ],
    ),  # fmt: skip
    ("mdc-timeout", "dist1", [("performance.md-cache-timeout", "10")]),
    ("cache-inval-client", "dist1", [("performance.cache-invalidation", "on")]),
    (
        "wb-settings",
        "dist1",
        [
            ("performance.write-behind-window-size", "4MB"),
            ("performance.flush-behind", "off"),
            ("performance.strict-o-direct", "on"),
            ("performance.strict-write-ordering", "on"),
            ("performance.write-behind-trickling-writes", "off"),
        ],
    ),  # fmt: skip
    ("cache-size", "dist1", [("performance.cache-size", "64MB")]),
    ("ioc-cache-size", "dist1", [("performance.io-cache", "on"), ("performance.cache-size", "64MB")]),
    ("shard", "dist1", [("features.shard", "on")]),
    ("shard-64mb", "rep3", [("features.shard", "on"), ("features.shard-block-size", "64MB")]),
    ("quorum-auto", "rep3", [("cluster.quorum-type", "auto")]),
    ("quorum-fixed", "rep3", [("cluster.quorum-type", "fixed"), ("cluster.quorum-count", "2")]),
    (
        "afr-tuning",
        "rep3",
        [
            ("cluster.eager-lock", "off"),
            ("cluster.data-self-heal", "off"),
            ("cluster.choose-local", "off"),
            ("cluster.favorite-child-policy", "mtime"),
        ],
    ),  # fmt: skip
    ("shd-off", "rep3", [("cluster.self-heal-daemon", "off")]),
    (
        "ec-tuning",
        "ec4p2",
        [("disperse.eager-lock", "off"), ("disperse.other-eager-lock", "off"), ("disperse.shd-max-threads", "4")],
    ),  # fmt: skip
    ("ping-timeout", "dist1", [("network.ping-timeout", "10")]),
    ("inet6", "dist1", [("transport.address-family", "inet6")]),
    (
        "client-log",
        "dist1",
        [
            ("diagnostics.client-log-level", "DEBUG"),
            ("diagnostics.latency-measurement", "on"),
            ("diagnostics.count-fop-hits", "on"),
        ],
    ),  # fmt: skip
    ("event-threads", "dist1", [("client.event-threads", "4"), ("server.event-threads", "4")]),
    ("remote-dio", "dist1", [("network.remote-dio", "enable")]),
    ("lookup-optimize-off", "dist2", [("cluster.lookup-optimize", "off")]),
    ("parallel-readdir", "dist4", [("performance.parallel-readdir", "on")]),
    ("nufa", "dist2", [("cluster.nufa", "on")]),
    ("ctime-off", "dist1", [("features.ctime", "off")]),
    ("manage-gids", "dist1", [("server.manage-gids", "on")]),
    ("trace-client", "dist1", [("debug.trace", "client")]),
    # brick graph
    ("allow-insecure", "dist1", [("server.allow-insecure", "on")]),
    ("cache-inval", "dist1", [("features.cache-invalidation", "on"), ("features.cache-invalidation-timeout", "600")]),
    ("mandatory-locking", "dist1", [("locks.mandatory-locking", "file")]),
    ("auth", "dist1", [("auth.allow", "127.0.0.1,192.168.*"), ("auth.reject", "10.0.0.1")]),
    ("root-squash", "dist1", [("server.root-squash", "on"), ("server.anonuid", "1000"), ("server.anongid", "1000")]),
    ("owner", "dist1", [("storage.owner-uid", "36"), ("storage.owner-gid", "36")]),
    ("leases", "dist1", [("features.leases", "on")]),
    ("read-only", "dist1", [("features.read-only", "on")]),
    ("worm", "dist1", [("features.worm", "on")]),
    ("brick-log", "dist1", [("diagnostics.brick-log-level", "WARNING")]),
    ("io-threads", "dist1", [("performance.io-thread-count", "32")]),
    ("acl-off", "dist1", [("features.acl", "off")]),
    ("lock-tuning", "dist1", [("features.locks-revocation-secs", "30"), ("locks.trace", "on")]),
    (
        "posix-tuning",
        "dist1",
        [("storage.linux-aio", "on"), ("storage.reserve", "5"), ("storage.health-check-interval", "0")],
    ),  # fmt: skip
    ("sdfs", "dist1", [("features.sdfs", "on")]),
    ("trace-posix", "dist1", [("debug.trace", "posix")]),
    ("group-virt", "rep3", [("virt", None)]),
    ("group-virt-dist", "dist1", [("virt", None)]),
]


def brick_paths(root: str, n: int) -> list[str]:
    return [os.path.join(root, f"b{i}") for i in range(1, n + 1)]


def create_words(name: str, spec: dict, host: str, paths: list[str]) -> list[str]:
    w = ["volume", "create", name]
    if "replica" in spec:
        w += ["replica", str(spec["replica"])]
    if "arbiter" in spec:
        w += ["arbiter", str(spec["arbiter"])]
    if "disperse" in spec:
        w += ["disperse", str(spec["disperse"]), "redundancy", str(spec["redundancy"])]
    if "transport" in spec:
        w += ["transport", spec["transport"]]
    return w + [f"{host}:{p}" for p in paths] + ["force"]


def gluster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["gluster", "--mode=script", *args], capture_output=True, text=True, env=_env(), stdin=subprocess.DEVNULL
    )


def mangle(path: str) -> str:
    """GLUSTERD_REMOVE_SLASH_FROM_PATH: drop the leading '/', the others become '-'."""
    return path[1:].replace("/", "-")


def record_case(case_id: str, type_id: str, sets: list, name: str, root: str, host: str, out: Path) -> None:
    spec = TYPES[type_id]
    paths = brick_paths(root, spec["bricks"])
    cp = gluster(*create_words(name, spec, host, paths))
    if cp.returncode:
        raise SystemExit(f"{case_id}: create failed: {cp.stderr}{cp.stdout}")
    results = []
    for key, value in sets:
        cp = (
            gluster("volume", "set", name, "group", key)
            if value is None
            else gluster("volume", "set", name, key, value)
        )
        results.append({"key": key, "value": value, "rc": cp.returncode, "out": (cp.stdout + cp.stderr).strip()})
        if cp.returncode:
            print(f"  {case_id}: volume set {key} {value}: {cp.stdout}{cp.stderr}", file=sys.stderr)
    vdir = Path("/var/lib/glusterd/vols") / name
    info = (vdir / "info").read_text()
    ids = {k: re.search(rf"^{k}=(.*)$", info, re.M).group(1) for k in ("volume-id", "username", "password")}

    def norm(text: str) -> str:
        text = text.replace(root, "{B}").replace(mangle(root), "{MB}")
        text = text.replace(ids["volume-id"], "{VOLUME_ID}").replace(ids["username"], "{USERNAME}")
        text = text.replace(ids["password"], "{PASSWORD}")
        return text.replace(name, "{V}")

    cdir = out / case_id
    shutil.rmtree(cdir, ignore_errors=True)
    cdir.mkdir(parents=True)
    files = {
        "client.vol": vdir / f"{name}.tcp-fuse.vol",
        "trusted-client.vol": vdir / f"trusted-{name}.tcp-fuse.vol",
        "client-rdma.vol": vdir / f"{name}.rdma-fuse.vol",
        "trusted-client-rdma.vol": vdir / f"trusted-{name}.rdma-fuse.vol",
        "shd.vol": vdir / f"{name}-shd.vol",
        "info": vdir / "info",
    }
    for i, p in enumerate(paths):
        files[f"brick-{i}.vol"] = vdir / f"{name}.{host}.{mangle(p)}.vol"
    for fname, src in files.items():
        if src.exists():
            (cdir / fname).write_text(norm(src.read_text()))
    cp = gluster("system::", "getspec", name)
    (cdir / "getspec.vol").write_text(norm(cp.stdout))
    meta = {
        "case": case_id,
        "type": type_id,
        "create": {k: v for k, v in spec.items() if k != "bricks"},
        "bricks": [norm(p) for p in paths],
        "hostname": host,
        "sets": results,
        "files": sorted(p.name for p in cdir.iterdir()),
    }
    (cdir / "case.json").write_text(json.dumps(meta, indent=1) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fixtures/volgen"))
    ap.add_argument("--only", default="", help="comma-separated case ids")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    out = Path(args.out)
    with RealGluster() as rg:
        for n, (case_id, type_id, sets) in enumerate(CASES, 1):
            if only and case_id not in only:
                continue
            name = f"{VOLUME_PREFIX}-{os.getpid()}-{rg.token}-{n}"
            root = tempfile.mkdtemp(prefix=BRICK_ROOT_PREFIX)
            with open(os.path.join(root, ".owner"), "w") as f:
                f.write(f"{os.getpid()} {rg.token}\n")
            try:
                record_case(case_id, type_id, sets, name, root, rg.hostname, out)
                print(f"recorded {case_id}", file=sys.stderr)
            finally:
                if name in _list_volumes():
                    _stop_and_delete_volume(name, [])
                shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
