"""fakegluster.xl.afr against a real GlusterFS 10.3 (fixtures/xl/afr_changelog.json, recorded by
tools/record_xl_vectors.py: a replica 3 volume's changelogs after changes made with brick 2
killed, and after the real self-heal daemon healed them), plus properties."""

from __future__ import annotations

import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.xl import afr

FIXTURE = pathlib.Path(__file__).parents[2] / "fixtures" / "xl" / "afr_changelog.json"
REAL = json.loads(FIXTURE.read_text())
KEYS = afr.pending_keys(REAL["children"])


def replies(state: str, path: str) -> list[dict[str, bytes] | None]:
    return [None if r is None else {k: bytes.fromhex(v) for k, v in r.items()} for r in REAL[state][path]]


@pytest.mark.parametrize(
    "path,txn",
    [("/f", afr.Txn.DATA), ("/f", afr.Txn.METADATA), ("/d", afr.Txn.ENTRY), ("/d/new", afr.Txn.DATA)],
)
def test_marks_left_while_a_brick_was_down_make_it_the_sink(path, txn):
    reps = replies("brick_down", path)
    matrix = afr.pending_matrix(reps, KEYS, txn)
    assert [row[2] > 0 for row in matrix] == [True, True, False]
    d = afr.find_direction(matrix, afr.dirty_counts(reps, txn), [True, True, True], txn)
    assert d.sources == (True, True, False) and d.sinks == (False, False, True) and not d.split_brain


def test_readable_bricks_while_one_is_accused():
    data_ok, meta_ok = afr.readable(replies("brick_down", "/f"), KEYS)
    assert data_ok == [True, True, False] and meta_ok == [True, True, False]
    data_ok, _ = afr.readable(replies("brick_down", "/f"), KEYS, arbiter=1)
    assert data_ok == [True, False, False]


@pytest.mark.parametrize("path", ["/f", "/d", "/d/new"])
def test_after_the_real_heal_nothing_is_pending(path):
    reps = replies("healed", path)
    for txn in afr.Txn:
        d = afr.find_direction(afr.pending_matrix(reps, KEYS, txn), afr.dirty_counts(reps, txn), [True] * 3, txn)
        assert not d.needs_heal
    assert afr.readable(reps, KEYS) == ([True] * 3, [True] * 3)


def test_pending_keys_follow_afr_pending_xattr():
    assert afr.pending_keys(["a", "b"], {"afr-pending-xattr": "x-client-0,x-client-1"}) == [
        "trusted.afr.x-client-0",
        "trusted.afr.x-client-1",
    ]
    assert afr.pending_keys(["a", "b"]) == ["trusted.afr.a", "trusted.afr.b"]


def test_changelog_values():
    assert afr.Changelog.one(afr.Txn.DATA, -1).encode().hex() == "ffffffff0000000000000000"
    assert afr.Changelog.decode(bytes.fromhex("000000020000000100000000")) == afr.Changelog(2, 1, 0)
    assert afr.Changelog.decode(bytes(8)) == afr.Changelog()
    with pytest.raises(ValueError):
        afr.Changelog.decode(b"123")


def test_mutual_accusation_is_split_brain_unless_quorum_rescues_data():
    m = [[0, 1], [1, 0]]
    assert afr.find_direction(m, [0, 0], [True, True], afr.Txn.ENTRY).split_brain
    # data/metadata: a brick accused by fewer than quorum (2 of 2) bricks is still a source
    assert not afr.find_direction(m, [0, 0], [True, True], afr.Txn.DATA).split_brain
    m3 = [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    assert afr.find_direction(m3, [0, 0, 0], [True] * 3, afr.Txn.DATA).split_brain


@settings(deadline=None)
@given(st.integers(2, 5), st.data())
def test_a_brick_nobody_accuses_is_a_source(n, data):
    matrix = data.draw(st.lists(st.lists(st.integers(0, 3), min_size=n, max_size=n), min_size=n, max_size=n))
    d = afr.find_direction(matrix, [0] * n, [True] * n, afr.Txn.ENTRY)
    for j in range(n):
        accusers = [i for i in range(n) if matrix[i][j] and not matrix[i][i]]
        assert d.sources[j] == (not accusers)
    assert d.split_brain == (not any(d.sources))
