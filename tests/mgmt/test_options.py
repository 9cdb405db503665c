"""volume set / reset / get against a real glusterd 10.3.

``fixtures/mgmt/options_cases.json`` (``tools/record_options_cases.py``) holds five command
sequences run on real volumes (distribute, replica 3, disperse 4+2, one started): every
``volume set``, ``reset``, ``get`` and ``info`` with its exit status and output.  Each sequence is
replayed through :mod:`fakegluster.mgmt.options` on a model volume of the same type: same verdict,
same text, same ``volume get`` rows (``get all``: all 342 of them, in order), same option list in
``volume info``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakegluster.mgmt import options
from fakegluster.mgmt.create import create_volume
from fakegluster.mgmt.model import VolumeError, VolumeStatus

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures/mgmt/options_cases.json"
SEQUENCES = json.loads(FIXTURE.read_text())["sequences"]
CREATE = {"dist1": ({}, 1), "rep3": ({"replica": 3}, 3), "ec4p2": ({"disperse": 6, "redundancy": 2}, 6)}


def new_volume(type_id: str):
    args, n = CREATE[type_id]
    return create_volume("{V}".replace("{V}", "fgvol"), [f"vm:/fg-bricks/b{i}" for i in range(1, n + 1)], force=True,
                         **args)  # fmt: skip


def rows(stdout: str) -> list[tuple[str, str]]:
    lines = [ln for ln in stdout.splitlines() if ln and not ln.startswith(("Warning", "Option ", "------"))]
    lines = [ln for ln in lines if not ln.startswith(" " * 8)]
    out = []
    for ln in lines:  # "%-40s %-40s"
        key = ln.split(" ", 1)[0]
        out.append((key, ln[max(40, len(key)) + 1 :].rstrip()))
    return out


def info_options(stdout: str) -> list[tuple[str, str]]:
    if "Options Reconfigured:\n" not in stdout:
        return []
    part = stdout.split("Options Reconfigured:\n", 1)[1]
    return [tuple(ln.split(": ", 1)) for ln in part.splitlines() if ln]


def run(vol, cmd: list[str]) -> tuple[int, str]:
    """One CLI command through the model: (exit status, what the CLI prints)."""
    verb, args = cmd[0], [w.replace("{V}", vol.name) for w in cmd[2:]]
    try:
        if verb == "set":
            options.set_options(vol, [(args[0], " ".join(args[1:]))])
            return 0, "volume set: success\n"
        if verb == "reset":
            force = "force" in args
            key = next((a for a in args if a != "force"), "all")
            note = options.reset_option(vol, key, force=force)
            return 0, f"volume reset: success: {note or 'reset volume successful'}\n"
        if verb == "get":
            return 0, json.dumps([(r.key, r.value) for r in options.get_option(vol, args[0])])
        if verb == "info":
            return 0, json.dumps(vol.options_glusterd_order())
        if verb in ("start", "stop"):
            vol.status = VolumeStatus.STARTED if verb == "start" else VolumeStatus.STOPPED
            return 0, ""
    except VolumeError as e:
        what = {"set": "volume set", "reset": "volume reset", "get": "volume get option"}[verb]
        if verb == "get" and not e.message:
            return 2, f"{what}: failed\n"
        return 1, f"{what}: failed: {e.message}\n".replace(vol.name, "{V}").replace("/fg-bricks", "{B}")
    raise AssertionError(cmd)


CASES = [(s["id"], s["type"], i, r) for s in SEQUENCES for i, r in enumerate(s["results"])]


@pytest.mark.parametrize("seq", SEQUENCES, ids=[s["id"] for s in SEQUENCES])
def test_sequence(seq):
    vol = new_volume(seq["type"])
    for r in seq["results"]:
        rc, out = run(vol, r["cmd"])
        label = " ".join(r["cmd"])
        assert rc == r["rc"], label
        verb = r["cmd"][0]
        if verb == "get" and rc == 0:
            assert json.loads(out) == [list(x) for x in rows(r["stdout"])], label
        elif verb == "info":
            assert json.loads(out) == [list(x) for x in info_options(r["stdout"])], label
        elif verb in ("set", "reset", "get"):
            assert out == (r["stdout"] if rc == 0 else r["stderr"]), label


def test_get_all_has_every_row_of_the_real_one():
    seq = next(s for s in SEQUENCES if s["id"] == "replicate")
    real = next(r for r in seq["results"] if r["cmd"][0] == "get" and r["cmd"][2] == "all")
    assert len(rows(real["stdout"])) > 300


def test_strict_refuses_what_the_bricks_cannot_honour():
    from fakegluster.mgmt import support
    from fakegluster.mgmt.optable import group

    vol = new_volume("rep3")
    with pytest.raises(VolumeError, match="features.worm is not supported by fakegluster"):
        options.set_options(vol, [("features.worm", "on")], strict=True)
    assert "features.worm" not in vol.options  # refused whole, nothing stored
    options.set_options(vol, [("features.worm", "off")], strict=True)  # the default: harmless
    options.set_options(vol, group("virt"), strict=True)  # what qemu users set: all honoured or inert
    options.set_options(vol, [("nfs.disable", "off"), ("user.smb", "disable")], strict=True)
    for key in support.HONOURED:
        assert support.where(key) == "brick", key
    assert not support.HONOURED.keys() & support.NO_VISIBLE_EFFECT
    assert "`features.worm`" in support.readme_lists()


def test_readme_lists_the_options_the_fake_refuses():
    """Whoever marks a key honoured (support.HONOURED) regenerates the README's lists."""
    from fakegluster.mgmt import support

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert support.readme_lists() in readme


def test_a_client_too_old_for_the_option_blocks_it():
    from fakegluster.mgmt.optable import volopt

    vol = new_volume("dist1")
    need = volopt("performance.nl-cache").op_version  # 31100, a client option
    old = ("127.0.0.1:49151", 1, need - 1)
    with pytest.raises(VolumeError) as e:
        options.set_options(vol, [("performance.nl-cache", "on")], clients=[old])
    assert str(e.value) == (
        f"One of the client 127.0.0.1:49151 is running with op-version {need - 1} and doesn't support the required "
        f"op-version {need}. This client needs to be upgraded or disconnected before running this command again"
    )
    options.set_options(vol, [("performance.nl-cache", "on")], clients=[("127.0.0.1:49151", 1, 100000)])
