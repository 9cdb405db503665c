"""Acceptance: the unmodified ``gluster`` CLI prints the same against the fake glusterd as against a
real glusterd 10.3.

The command list is :data:`fakegluster.testing.cliscenario.STEPS` (every volume type created,
started, set/reset/get, info and status with and without ``--xml``, heal, getspec, the read-only
TCP program over ``--remote-host``, stop, delete, and the error cases).  The fake's transcript is
compared with the real one recorded in fixtures/cli/transcript.json (tools/record_cli.py) and,
in ``test_live_real_and_fake_agree``, with a real glusterd run in the same session on a shorter
list.  Outputs are compared after normalising names, paths, UUIDs, ports and pids
(:class:`fakegluster.testing.clirun.Normaliser`) and table padding (:func:`~.clirun.comparable`).

Unix steps run where ``/var/run/glusterd.socket`` is the fake's socket (a mount namespace), so
``volume heal V info``'s glfsheal reaches the fake; TCP steps run in a network namespace whose
``127.0.0.1:24007`` leads to the fake's TCP listener.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from fakegluster.testing import clirun, cliscenario
from tests.conftest import unavailable
from tests.helpers import require_tool

pytestmark = pytest.mark.real

ROOT = Path(__file__).parents[2]
RECORDED = {s["id"]: s for s in json.loads((ROOT / "fixtures" / "cli" / "transcript.json").read_text())["steps"]}

#: steps whose output the fake does not reproduce: the known difference (fakegluster.differences)
KNOWN: dict[str, str] = {
    "getspec": "VOLFILE_BRICK_ADDRESS",
    "tcp-getspec": "VOLFILE_BRICK_ADDRESS",
    "heal-info": "VOLFILE_BRICK_ADDRESS",  # glfsheal prints the volfile's remote-host:remote-subvolume
    "heal-info-ec": "VOLFILE_BRICK_ADDRESS",
}


def _values(host: str, root: str, prefix: str, first: int = 1) -> dict[str, str]:
    """Volume names that sort like the real run's (``fgreal-PID-TOKEN-N``, N in VOLUMES order)."""
    values = {"host": host, "root": root}
    for n, key in enumerate([*cliscenario.VOLUMES, "new"], first):
        values[f"vol:{key}"] = f"{prefix}-{n}"
    return values


def _need_root():
    require_tool("gluster")
    if os.geteuid() != 0:
        unavailable("the CLI transcript runs the CLI in mount and network namespaces (root)")


def run_fake(steps, tmp: str) -> list[clirun.Outcome]:
    from fakegluster.server import FakeGluster

    # as long as the real run's /tmp/fg-real-XXXXXXXX: the CLI wraps a brick name that does
    # not fit its status column
    root = tempfile.mkdtemp(prefix="fg-fake-", dir="/tmp")
    try:
        cliscenario.prepare_root(root)
        sock = os.path.join(tmp, "gd.sock")
        with FakeGluster((), [f"unix://{sock}", "tcp://127.0.0.1:0"]) as fake:
            values = _values(fake.cluster.nodes[0].host, root, f"fgcli-{os.getpid()}")
            with clirun.Relay(sock) as relay, clirun.NetnsBridge(("127.0.0.1", fake.info.port)) as bridge:
                out = clirun.run_steps(steps, values, unix=relay, tcp=bridge, default_socket=sock)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return clirun.normalise_all(out, values)


@pytest.fixture(scope="module")
def fake_transcript(tmp_path_factory):
    _need_root()
    return run_fake(cliscenario.STEPS, str(tmp_path_factory.mktemp("clifake")))


def _same(a: clirun.Outcome, b: dict | clirun.Outcome) -> list[str]:
    b = b if isinstance(b, dict) else b.as_json()
    diffs = []
    if a.status != b["status"]:
        diffs.append(f"exit status {a.status} != {b['status']}")
    for field in ("stdout", "stderr"):
        if clirun.comparable(getattr(a, field)) != clirun.comparable(b[field]):
            diffs.append(f"{field}:\n--- fake\n{getattr(a, field)}\n--- real\n{b[field]}")
    return diffs


def test_fake_prints_what_the_real_glusterd_printed(fake_transcript):
    bad = {}
    for o in fake_transcript:
        diffs = _same(o, RECORDED[o.id])
        if diffs and o.id not in KNOWN:
            bad[o.id] = diffs
        elif not diffs and o.id in KNOWN:
            bad[o.id] = [f"listed as known difference {KNOWN[o.id]} but now equal: drop it from KNOWN"]
    assert not bad, "\n\n".join(f"[{k}] " + "\n".join(v) for k, v in bad.items())


def test_every_known_difference_is_registered():
    from fakegluster import differences

    assert set(KNOWN) <= set(RECORDED)
    for code in KNOWN.values():
        differences.get(code)


#: the live comparison: one volume of two types through their whole life, and the error cases
LIVE = [
    "pool-list",
    "peer-status",
    "create-dist",
    "create-rep3",
    "create-exists",
    "create-brick-in-use",
    "create-no-force",
    "create-no-parent",
    "info-dist",
    "info-xml-rep3",
    "status-created",
    "start-dist",
    "start-rep3",
    "start-again",
    "status-rep3",
    "status-xml-dist",
    "tcp-info",
    "tcp-status-xml",
    "tcp-create",
    "unknown-info",
    "unknown-start",
    "delete-started",
    "stop-dist",
    "stop-rep3",
    "stop-again",
    "delete-dist",
    "delete-rep3",
    "info-deleted",
]

#: glusterd's cluster-wide options (``volume get/set all``): read, and every refusal a real
#: glusterd gives (nothing here changes a real glusterd: each set is refused); the option docs
GLOBAL = [
    clirun.Step("get-all-all", "volume get all all"),
    clirun.Step("get-all-all-xml", "volume get all all --xml"),
    clirun.Step("get-all-op-version", "volume get ALL cluster.op-version"),
    clirun.Step("get-all-unknown", "volume get all no.such"),
    clirun.Step("get-all-volume-key", "volume get all performance.write-behind"),
    clirun.Step("set-all-op-version-equal", "volume set all cluster.op-version 100000"),
    clirun.Step("set-all-op-version-hex", "volume set all cluster.op-version 0x10"),
    clirun.Step("set-all-op-version-high", "volume set all cluster.op-version 200000"),
    clirun.Step("set-all-op-version-word", "volume set all cluster.op-version max"),
    clirun.Step("set-all-max-op-version", "volume set all cluster.max-op-version 5"),
    clirun.Step("set-all-volume-key", "volume set all performance.write-behind off"),
    clirun.Step("set-all-unknown", "volume set all no.such 1"),
    clirun.Step("set-all-bad-bool", "volume set all cluster.brick-multiplex maybe"),
    clirun.Step("set-help", "volume set help"),
    clirun.Step("set-help-xml", "volume set help-xml"),
]


def test_live_real_and_fake_agree(real_gluster, tmp_path):
    """The same commands against the session's real glusterd and a fake, side by side."""
    _need_root()
    from fakegluster.testing.realgluster import VOLUME_PREFIX, RealVolume

    steps = [s for s in cliscenario.STEPS if s.id in LIVE]
    assert len(steps) == len(LIVE)
    steps += GLOBAL
    rg = real_gluster
    root = tempfile.mkdtemp(prefix="fg-real-")
    with open(os.path.join(root, ".owner"), "w") as f:
        f.write(f"{os.getpid()} {rg.token}\n")
    cliscenario.prepare_root(root)
    # the harness's own names (fgreal-PID-TOKEN-N: another session would take anything else for
    # a crashed run's left-over), numbered clear of RealGluster.create_volume's counter
    values = _values(rg.hostname, root, f"{VOLUME_PREFIX}-{os.getpid()}-{rg.token}", first=1001)
    for key, name in values.items():
        if key.startswith("vol:"):
            rg.volumes.append(RealVolume(name=name, brick_paths=[], brick_ports=[], root=root, _owner=rg))
    mine = [v for v in rg.volumes if v.name in values.values()]
    try:
        with clirun.Relay("/var/run/glusterd.socket") as relay, clirun.NetnsBridge(("127.0.0.1", 24007)) as bridge:
            real = clirun.normalise_all(clirun.run_steps(steps, values, unix=relay, tcp=bridge), values)
    finally:
        for vol in mine:  # gone already unless a step failed; out of the session's list either way
            vol.delete()
    fake = run_fake(steps, str(tmp_path))
    bad = {f.id: d for f, r in zip(fake, real) if (d := _same(f, r)) and f.id not in KNOWN}
    assert not bad, "\n\n".join(f"[{k}] " + "\n".join(v) for k, v in bad.items())
