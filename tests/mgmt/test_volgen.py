"""Volfiles byte for byte against a real glusterd 10.3.

``fixtures/volgen/<case>/`` (``tools/record_volgen.py``) holds what a real glusterd wrote for 66
volumes: 11 volume types and 55 option settings.  Each case is replayed through the model: the
volume made by :func:`fakegluster.mgmt.create.create_volume`, the options set with
:func:`fakegluster.mgmt.options.set_options` (so the real verdict of each ``volume set`` is
checked too), then every file regenerated and compared: the client volfile (plain, trusted, rdma),
``gluster system:: getspec``'s output, each brick's volfile, the self-heal daemon's, and the
store's op-versions and option order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fakegluster.mgmt import optable, options, volgen, volgen_brick
from fakegluster.mgmt.create import create_volume
from fakegluster.mgmt.model import VolumeError

ROOT = Path(__file__).resolve().parents[2] / "fixtures/volgen"
CASES = sorted(p.name for p in ROOT.iterdir() if (p / "case.json").exists())
NAME, BRICKS = "fgvol", "/fg-bricks"  # stand for the recording's {V} and {B}


def build(case: str):
    meta = json.loads((ROOT / case / "case.json").read_text())
    c = meta["create"]
    bricks = [f"{meta['hostname']}:{p.replace('{B}', BRICKS)}" for p in meta["bricks"]]
    vol = create_volume(NAME, bricks, force=True, volume_id="{VOLUME_ID}", **c)
    vol.username, vol.password = "{USERNAME}", "{PASSWORD}"
    verdicts = []
    for s in meta["sets"]:
        pairs = optable.group(s["key"]) if s["value"] is None else [(s["key"], s["value"])]
        try:
            options.set_options(vol, pairs)
            verdicts.append((0, ""))
        except VolumeError as e:
            verdicts.append((1, f"volume set: failed: {e}"))
    return meta, vol, verdicts


def placeholders(text: str) -> str:
    return text.replace(BRICKS, "{B}").replace(NAME, "{V}")


@pytest.mark.parametrize("case", CASES)
def test_volume_set_verdicts(case):
    meta, _vol, verdicts = build(case)
    real = [(s["rc"], s["out"] if s["rc"] else "") for s in meta["sets"]]
    assert verdicts == real


@pytest.mark.parametrize("case", CASES)
def test_volfiles(case):
    meta, vol, _ = build(case)
    files = {
        "trusted-client.vol": lambda: volgen.client_volfile(vol, trusted=True, transport="tcp"),
        "client.vol": lambda: volgen.client_volfile(vol, trusted=False, transport="tcp"),
        "trusted-client-rdma.vol": lambda: volgen.client_volfile(vol, trusted=True, transport="rdma"),
        "client-rdma.vol": lambda: volgen.client_volfile(vol, trusted=False, transport="rdma"),
        "getspec.vol": lambda: volgen.client_volfile(vol) + "\n",
        "shd.vol": lambda: volgen.shd_volfile(vol),
    }
    for i in range(len(vol.bricks)):
        files[f"brick-{i}.vol"] = lambda i=i: volgen_brick.brick_volfile(vol, i)
    present = set(meta["files"])
    assert ("shd.vol" in present) == (volgen.shd_volfile(vol) is not None)
    compared = 0
    for name, make in files.items():
        if name in present:
            assert placeholders(make()) == (ROOT / case / name).read_text(), name
            compared += 1
    assert compared >= 3


@pytest.mark.parametrize("case", CASES)
def test_store_op_versions_and_option_order(case):
    _meta, vol, _ = build(case)
    info = (ROOT / case / "info").read_text()
    assert vol.op_version == int(re.search(r"^op-version=(\d+)$", info, re.M).group(1))
    assert vol.client_op_version == int(re.search(r"^client-op-version=(\d+)$", info, re.M).group(1))
    stored = info.split("snap-max-hard-limit=256\n", 1)[1]
    stored_opts = [tuple(ln.split("=", 1)) for ln in stored.splitlines() if not ln.startswith("brick-")]
    assert vol.options_glusterd_order() == stored_opts


def test_brick_volfile_names():
    meta, vol, _ = build("rep3")
    assert volgen_brick.brick_volfile_name(vol, 1) == f"{NAME}.{meta['hostname']}.fg-bricks-b2.vol"
    assert volgen.volfile_id(vol, 1) == f"{NAME}.{meta['hostname']}.fg-bricks-b2"


def test_getspec_keys_find_the_files_glusterd_would():
    meta, vol, _ = build("rep3")
    vols = {vol.name: vol}
    trusted = volgen.client_volfile(vol, trusted=True)
    assert volgen.volfile_for(NAME, vols, trusted=True) == trusted
    assert volgen.volfile_for(f"/{NAME}", vols, trusted=True) == trusted
    assert volgen.volfile_for(f"{NAME}.tcp", vols, trusted=False) == volgen.client_volfile(vol, trusted=False)
    assert volgen.volfile_for(f"{NAME}.rdma", vols, trusted=True) is None
    assert volgen.volfile_for(f"shd/{NAME}", vols, trusted=True) == volgen.shd_volfile(vol)
    brick_key = volgen.volfile_id(vol, 2)
    assert volgen.volfile_for(brick_key, vols, trusted=True) == volgen_brick.brick_volfile(vol, 2)
    assert volgen.volfile_for("nosuchvol", vols, trusted=True) is None
    assert volgen.volfile_for(f"rebalance/{NAME}", vols, trusted=True) is None


def test_brick_option_reads_the_volfile_then_the_default():
    _meta, vol, _ = build("cache-inval")
    g = volgen_brick.brick_graph(vol, 0)
    assert volgen_brick.brick_option(g, "features/upcall", "cache-invalidation") == "on"
    assert volgen_brick.brick_option(g, "features/upcall", "cache-invalidation-timeout") == "600"
    assert volgen_brick.brick_option(g, "features/locks", "mandatory-locking") == "off"  # locks' default
    _meta, vol, _ = build("owner")
    g = volgen_brick.brick_graph(vol, 0)
    assert volgen_brick.brick_option(g, "storage/posix", "brick-uid") == "36"
    assert volgen_brick.brick_option(g, "features/sdfs", "pass-through") is None  # not in the stack
