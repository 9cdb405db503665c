"""The volume model against a real glusterd 10.3: ``fixtures/mgmt/create_cases.json``
(``tools/record_create.py``) holds what the real CLI + glusterd answered to 45 ``volume create``
commands run in order, and ``volume info`` of the volumes created.  The same cases replayed
through :mod:`fakegluster.mgmt.model` must give the same verdicts, texts and volumes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fakegluster.mgmt import create as model
from fakegluster.mgmt.create import cli_create_request, commit_create, root_partition_error, stage_create
from fakegluster.mgmt.model import Brick, ClusterType, Volume, VolumeError, VolumeStatus

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures/mgmt/create_cases.json"
RECORDED = json.loads(FIXTURE.read_text())
NODE = "d7011a1d-95f4-4232-ac83-dda0961887d6"
HOST = "{H}"  # the recording host; it is the only peer of the recording's cluster


ROOT = "/fg-brick-root"  # stands for the recording's brick root, "{B}" in the fixture


def unroot(text: str) -> str:
    return text.replace(ROOT, "{B}")


def resolve(host: str) -> str | None:
    return NODE if host == HOST else None


def on_root_fs(brick: Brick, force: bool) -> str | None:
    """The recording's bricks were directories on the root file system."""
    return None if force else root_partition_error(brick)


def info_text(v: Volume) -> str:
    """``volume info V`` as the CLI prints glusterd's reply (``gf_cli_get_volume_cbk``)."""
    lines = [
        " ",
        f"Volume Name: {v.name}",
        f"Type: {v.type_str}",
        f"Volume ID: {v.volume_id}",
        f"Status: {v.status.text}",
        f"Snapshot Count: {v.snap_count}",
        f"Number of Bricks: {v.bricks_summary}",
        f"Transport-type: {v.transport.text}",
        "Bricks:",
    ]
    lines += [f"Brick{i}: {b.name}{' (arbiter)' if b.is_arbiter else ''}" for i, b in enumerate(v.bricks, 1)]
    opts = v.options_glusterd_order()
    if opts:
        lines.append("Options Reconfigured:")
        lines += [f"{k}: {val}" for k, val in opts]
    return "\n".join(lines) + "\n"


def replay() -> list[tuple[dict, str | None, Volume | None]]:
    """Each recorded case through the model: (case, error text or None, volume or None)."""
    volumes: list[Volume] = []
    out = []
    for case in RECORDED["cases"]:
        args = {k: case[k] for k in ("replica", "arbiter", "disperse", "disperse_data", "redundancy") if k in case}
        try:
            bricks = [w.replace("{B}", ROOT) for w in case["bricks"]]
            req = cli_create_request(case["vol"], bricks, force=case.get("force", False), **args)
            new = stage_create(req, volumes, resolve, on_root_fs)
            vol = commit_create(req, new)
        except VolumeError as e:
            out.append((case, e, None))
            continue
        volumes.append(vol)
        out.append((case, None, vol))
    return out


REPLAYED = replay()


@pytest.mark.parametrize("case,error,vol", REPLAYED, ids=[c["id"] for c, _, _ in REPLAYED])
def test_create_verdict_and_text(case, error, vol):
    if case["rc"] == 0:
        assert error is None, f"the real glusterd created it; the model said {error}"
        assert case["stdout"] == f"volume create: {case['vol']}: success: please start the volume to access data\n"
        return
    assert error is not None, "the real glusterd refused it; the model created it"
    if error.stage == "cli":  # the CLI's own text, then its usage
        expected = case["stderr"].split("\n\nUsage:\n")[0]
        assert unroot(f"{error}") == expected
        assert case["stderr"].endswith(f"\n\nUsage:\n{model.CREATE_USAGE}\n\n")
    else:
        assert unroot(f"volume create: {case['vol']}: failed: {error}\n") == case["stderr"]


def test_volume_info_of_created_volumes():
    created = {c["vol"]: v for c, _, v in REPLAYED if v is not None}
    assert sorted(created) == sorted(RECORDED["info"])
    for name, text in RECORDED["info"].items():
        real_id = re.search(r"Volume ID: (\S+)", text).group(1)
        vol = created[name]
        vol.volume_id = real_id
        assert unroot(info_text(vol)) == text, name


def test_replica2_question_unless_force():
    req = cli_create_request("v", ["h:/a", "h:/b"], replica=2)
    assert req.questions == (model.REPLICA2_QUESTION,)
    assert cli_create_request("v", ["h:/a", "h:/b"], replica=2, force=True).questions == ()


def test_disperse_optimal_redundancy():
    # cli_cmd_create_disperse_check: the optimal redundancy of 6 bricks is 2 (4 + 2), of 12 is 4
    assert cli_create_request("v", [f"h:/b{i}" for i in range(6)], disperse=0).redundancy_count == 2
    req = cli_create_request("v", [f"h:/b{i}" for i in range(12)], disperse=0)
    assert (req.disperse_count, req.redundancy_count) == (12, 4)
    # 4 bricks: no power-of-two data count below 3 + 1; redundancy 1, after a question
    req = cli_create_request("v", [f"h:/b{i}" for i in range(4)], disperse=4)
    assert req.redundancy_count == 1 and "There isn't an optimal redundancy" in req.questions[0]
    # 5 bricks: 4 + 1 is optimal, no question
    assert cli_create_request("v", [f"h:/b{i}" for i in range(5)], disperse=5).questions == ()


def test_request_dict_round_trip():
    req = cli_create_request("v", ["h:/a//", "g:/b", "f:/c"], replica=2, arbiter=1, force=True)
    d = req.as_dict()
    assert d["bricks"] == " h:/a g:/b f:/c " and d["count"] == 3 and d["replica-count"] == 3
    assert d["type"] == ClusterType.REPLICATE and d["arbiter-count"] == 1
    back = model.CreateRequest.from_dict({k: str(v) for k, v in d.items()})
    assert back == req.__class__(**{**req.__dict__, "questions": ()})


def test_subvolumes_and_bricks():
    vol = model.create_volume("v", [f"h:/b{i}" for i in range(12)], disperse=6, redundancy=2, force=True)
    assert vol.type_str == "Distributed-Disperse" and vol.bricks_summary == "2 x (4 + 2) = 12"
    assert [len(s) for s in vol.subvolumes()] == [6, 6]
    assert vol.brick(7).brick_id == "v-client-7" and vol.brick("h:/b3") is vol.bricks[3]
    assert vol.status == VolumeStatus.CREATED  # op-versions: tests/mgmt/test_volgen.py, against the store
