"""The command list the CLI transcripts run (fixtures/cli/, tools/record_cli.py, the transcript tests).

Templates of :mod:`.clirun`: ``{vol:KEY}`` names one of :data:`VOLUMES`, ``{host}`` is the brick
host (``$(hostname)``: glusterd refuses loopback names), ``{root}`` a fresh brick root directory
on the root file system (so ``force`` is needed, as glusterd 10.3 requires there).
``via="tcp"`` steps run with ``--remote-host`` (glusterd's read-only TCP program).
"""

from __future__ import annotations

import os

from .clirun import Step

__all__ = ["VOLUMES", "STEPS", "create_args", "steps", "prepare_root"]

#: key -> (layout words, number of bricks): one volume of each type ``volume create`` makes.
VOLUMES: dict[str, tuple[str, int]] = {
    "dist": ("", 2),
    "rep3": ("replica 3", 3),
    "arb": ("replica 3 arbiter 1", 3),
    "d2x3": ("replica 3", 6),
    "ec": ("disperse 6 redundancy 2", 6),
}


def prepare_root(root: str) -> None:
    """The brick parents the steps expect: glusterd makes a brick's own directory (one
    ``mkdir``), not its parents."""
    for key in [*VOLUMES, "new", "other"]:
        os.makedirs(os.path.join(root, key), exist_ok=True)


def create_args(key: str, *, force: bool = True, name: str | None = None, bricks: str | None = None) -> str:
    layout, n = VOLUMES[key]
    paths = bricks or " ".join(f"{{host}}:{{root}}/{key}/b{i}" for i in range(1, n + 1))
    words = ["volume create", name or f"{{vol:{key}}}", layout, paths, "force" if force else ""]
    return " ".join(w for w in words if w)


def _s(id: str, args: str, via: str = "unix", note: str = "") -> Step:
    return Step(id, args, via, note)


STEPS: list[Step] = [
    _s("pool-list", "pool list"),
    _s("peer-status", "peer status"),
    _s("pool-list-xml", "pool list --xml"),
    _s("peer-probe-self", "peer probe localhost"),
    _s("peer-probe-host", "peer probe {host}"),
    # create each type, and what volume create refuses
    *(_s(f"create-{k}", create_args(k)) for k in VOLUMES),
    _s("create-exists", create_args("dist", bricks="{host}:{root}/other/b1"), note="a volume of that name exists"),
    _s("create-brick-in-use", create_args("dist", name="{vol:new}", bricks="{host}:{root}/dist/b1"), note="in use"),
    _s("create-no-force", create_args("dist", name="{vol:new}", bricks="{host}:{root}/new/b1", force=False)),
    _s("create-no-parent", create_args("dist", name="{vol:new}", bricks="{host}:{root}/missing/deeper/b1")),
    _s("create-rep-no-force", create_args("rep3", name="{vol:new}", force=False).replace("rep3/", "new/")),
    _s("volume-list", "volume list"),
    *(_s(f"info-{k}", f"volume info {{vol:{k}}}") for k in VOLUMES),
    *(_s(f"info-xml-{k}", f"volume info {{vol:{k}}} --xml") for k in VOLUMES),
    _s("status-created", "volume status {vol:dist}", note="not started"),
    # start
    *(_s(f"start-{k}", f"volume start {{vol:{k}}}") for k in VOLUMES),
    _s("start-again", "volume start {vol:dist}"),
    _s("start-force", "volume start {vol:dist} force"),
    _s("info-started", "volume info {vol:rep3}"),
    *(_s(f"status-{k}", f"volume status {{vol:{k}}}") for k in VOLUMES),
    *(_s(f"status-xml-{k}", f"volume status {{vol:{k}}} --xml") for k in VOLUMES),
    # options
    _s("set", "volume set {vol:rep3} performance.write-behind off"),
    _s("set-unknown", "volume set {vol:rep3} no.such.option 1"),
    _s("set-bad-bool", "volume set {vol:rep3} performance.write-behind maybe"),
    _s("set-bad-int", "volume set {vol:rep3} network.ping-timeout abc"),
    _s("set-xml", "volume set {vol:rep3} performance.quick-read off --xml"),
    _s("get", "volume get {vol:rep3} performance.write-behind"),
    _s("get-default", "volume get {vol:rep3} network.ping-timeout"),
    _s("get-unknown", "volume get {vol:rep3} no.such.option"),
    _s("get-xml", "volume get {vol:rep3} performance.write-behind --xml"),
    _s("get-all", "volume get {vol:rep3} all"),
    _s("info-reconfigured", "volume info {vol:rep3}"),
    _s("reset", "volume reset {vol:rep3} performance.write-behind"),
    _s("reset-unknown", "volume reset {vol:rep3} no.such.option"),
    _s("reset-all", "volume reset {vol:rep3}"),
    _s("info-reset", "volume info {vol:rep3} --xml"),
    # heal and volfiles
    _s("heal", "volume heal {vol:rep3}"),
    _s("heal-info", "volume heal {vol:rep3} info"),
    _s("heal-full", "volume heal {vol:rep3} full"),
    _s("heal-dist", "volume heal {vol:dist}", note="not a replicate/disperse volume"),
    _s("heal-info-ec", "volume heal {vol:ec} info"),
    _s("getspec", "system:: getspec {vol:dist}"),
    _s("getspec-unknown", "system:: getspec nosuchvol"),
    # the read-only TCP program (--remote-host)
    _s("tcp-info", "volume info {vol:rep3}", "tcp"),
    _s("tcp-info-xml", "volume info {vol:rep3} --xml", "tcp"),
    _s("tcp-status", "volume status {vol:rep3}", "tcp"),
    _s("tcp-status-xml", "volume status {vol:rep3} --xml", "tcp"),
    _s("tcp-pool-list", "pool list", "tcp"),
    _s("tcp-peer-status", "peer status", "tcp"),
    _s("tcp-set", "volume set {vol:rep3} performance.write-behind off", "tcp"),
    _s("tcp-get", "volume get {vol:rep3} performance.write-behind", "tcp"),
    _s("tcp-create", create_args("dist", name="{vol:new}", bricks="{host}:{root}/new/b1"), "tcp"),
    _s("tcp-stop", "volume stop {vol:rep3}", "tcp"),
    _s("tcp-getspec", "system:: getspec {vol:rep3}", "tcp"),
    _s("uuid-get", "system:: uuid get"),
    # --xml for the lifecycle (what oVirt/vdsm parse)
    _s("create-xml", create_args("dist", name="{vol:new}", bricks="{host}:{root}/new/b1") + " --xml"),
    _s("start-xml", "volume start {vol:new} --xml"),
    _s("status-xml-new", "volume status {vol:new} --xml"),
    _s("stop-xml", "volume stop {vol:new} --xml"),
    _s("delete-xml", "volume delete {vol:new} --xml"),
    _s("start-unknown-xml", "volume start nosuchvol --xml"),
    # unknown volume
    _s("unknown-info", "volume info nosuchvol"),
    _s("unknown-info-xml", "volume info nosuchvol --xml"),
    _s("unknown-status", "volume status nosuchvol"),
    _s("unknown-start", "volume start nosuchvol"),
    _s("unknown-stop", "volume stop nosuchvol"),
    _s("unknown-delete", "volume delete nosuchvol"),
    _s("unknown-set", "volume set nosuchvol performance.write-behind off"),
    _s("unknown-get", "volume get nosuchvol performance.write-behind"),
    _s("unknown-reset", "volume reset nosuchvol"),
    _s("unknown-heal", "volume heal nosuchvol info"),
    # stop and delete
    _s("delete-started", "volume delete {vol:rep3}"),
    *(_s(f"stop-{k}", f"volume stop {{vol:{k}}}") for k in VOLUMES),
    _s("stop-again", "volume stop {vol:dist}"),
    _s("status-stopped", "volume status {vol:dist}"),
    _s("info-stopped", "volume info {vol:dist}"),
    *(_s(f"delete-{k}", f"volume delete {{vol:{k}}}") for k in VOLUMES),
    _s("info-deleted", "volume info {vol:dist}"),
]


def steps(only: set[str] | None = None) -> list[Step]:
    return [s for s in STEPS if only is None or s.id in only]
