"""What a volume change means for its processes (fakegluster.mgmt.changes).

The real reference is graph_switch.pcap (/work/shared/fixtures/cluster/README.md §6): after
``volume set capgs performance.write-behind off`` both clients fetched ``capgs.vol`` and built a
new graph with new brick connections; the two volfiles (copied to fixtures/mgmt/) differ in
topology."""

from __future__ import annotations

import copy
from pathlib import Path

from fakegluster.mgmt import options
from fakegluster.mgmt.changes import Change, volfile_change, volume_changes
from fakegluster.mgmt.create import create_volume

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/mgmt"


def test_write_behind_off_is_a_graph_switch_as_captured():
    before = (FIXTURES / "capgs.before-set.vol").read_text()
    after = (FIXTURES / "capgs.vol").read_text()
    assert volfile_change(before, after) == Change.NEW_GRAPH
    assert volfile_change(before, before) == Change.NONE


def _vol():
    return create_volume(
        "v", [f"h{i}:/b" for i in range(3)], replica=3, volume_id="11111111-1111-1111-1111-111111111111"
    )


def test_the_model_gives_the_captured_kind_of_change():
    vol = _vol()
    before = copy.deepcopy(vol)
    options.set_options(vol, [("performance.write-behind", "off")])
    ch = volume_changes(before, vol)
    assert ch.client == Change.NEW_GRAPH and ch.shd == Change.NONE
    assert ch.bricks == (Change.NONE,) * 3


def test_option_values_reconfigure_in_place():
    vol = _vol()
    before = copy.deepcopy(vol)
    options.set_options(vol, [("performance.md-cache-timeout", "10"), ("features.cache-invalidation", "on")])
    ch = volume_changes(before, vol)
    assert ch.client == Change.RECONFIGURE and ch.bricks == (Change.RECONFIGURE,) * 3 and ch.any


def test_brick_side_translators_rebuild_the_brick():
    vol = _vol()
    before = copy.deepcopy(vol)
    options.set_options(vol, [("debug.trace", "posix")])
    ch = volume_changes(before, vol)
    assert ch.bricks == (Change.NEW_GRAPH,) * 3 and ch.client == Change.NONE


def test_user_keys_change_nothing():
    vol = _vol()
    before = copy.deepcopy(vol)
    options.set_options(vol, [("user.cifs", "off")])
    assert not volume_changes(before, vol).any
