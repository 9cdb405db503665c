"""fakegluster.xl.dht against a real GlusterFS 10.3 (fixtures/xl/dht_placement.json, recorded
by tools/record_xl_vectors.py: where the real FUSE client put each file, and the layouts it
wrote for each directory), plus properties of layouts."""

from __future__ import annotations

import errno
import json
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.xl import dht

FIXTURE = pathlib.Path(__file__).parents[2] / "fixtures" / "xl" / "dht_placement.json"
REAL = json.loads(FIXTURE.read_text())
SUBVOLS = REAL["subvolumes"]


def real_layout(path: str) -> dht.Layout:
    entry = next(d for d in REAL["dirs"] if d["path"] == path)
    return dht.Layout.from_xattrs(dict(zip(SUBVOLS, [bytes.fromhex(h) for h in entry["layouts"]])))


@pytest.mark.parametrize("entry", REAL["files"], ids=lambda e: e["name_hex"][:24])
def test_name_lands_on_the_brick_the_real_client_chose(entry):
    name = bytes.fromhex(entry["name_hex"])
    assert real_layout("/").subvolume_for(name) == SUBVOLS[entry["brick"]]


def test_the_recorded_names_cover_the_hash_quirks():
    names = [bytes.fromhex(e["name_hex"]) for e in REAL["files"]]
    assert any(len(n) % 16 == 0 for n in names) and any(len(n) > 32 for n in names)
    assert any(b >= 0x80 for n in names for b in n[-(len(n) % 4) :] if len(n) % 4)  # signed chars in the tail
    assert any(dht.NameHasher().munge(n) != n for n in names)  # rsync temp names


@pytest.mark.parametrize("entry", REAL["dirs"], ids=lambda e: e["path"])
def test_new_directory_layout_equals_the_real_one(entry):
    chunks = {s: dht.du_chunks(x["f_blocks"], x["f_bsize"]) for s, x in zip(SUBVOLS, REAL["statfs"])}
    # the root's layout was fixed by the first mount's lookup heal, with the "invalid" commit hash
    commit = dht.LAYOUT_HASH_INVALID if entry["path"] == "/" else 0
    got = dht.new_directory_ranges(SUBVOLS, entry["path"], chunks=chunks, commit_hash=commit)
    assert got == dict(real_layout(entry["path"]).ranges)
    assert [got[s].encode().hex() for s in SUBVOLS] == entry["layouts"]


def test_rsync_temp_names_hash_like_their_final_name():
    h = dht.NameHasher()
    assert h.munge(".vm.img.Ab12Cd") == b"vm.img"
    assert h.hash(".vm.img.Ab12Cd") == h.hash("vm.img")
    assert h.munge(".nodot") == b".nodot"
    assert dht.NameHasher(rsync_regex="none").munge(".vm.img.Ab12Cd") == b".vm.img.Ab12Cd"
    assert dht.NameHasher(extra_regex=r"^(.+)\.tmp$").munge("a.b.tmp") == b"a.b"


def test_range_encoding_and_refusals():
    r = dht.Range(0x55555555, 0xAAAAAAA9, 7)
    assert r.encode().hex() == "000000070000000055555555aaaaaaa9"
    assert dht.Range.decode(r.encode()) == r
    with pytest.raises(ValueError):
        dht.Range.decode(b"\0" * 12)
    with pytest.raises(ValueError):
        dht.Range.decode(bytes.fromhex("00000000000000020000000000000001"))


def test_down_subvolumes_get_the_zero_range():
    subs = ["v-client-0", "v-client-1", "v-client-2"]
    got = dht.new_directory_ranges(subs, "/x", errors={"v-client-1": errno.ENOTCONN})
    assert got["v-client-1"].empty
    assert dht.Layout(tuple(got.items())).complete


def test_linkfile_mode():
    assert dht.is_linkfile_mode(0o101000)
    assert not dht.is_linkfile_mode(0o100644) and not dht.is_linkfile_mode(0o101644)


subvol_names = st.lists(
    st.from_regex(r"[a-z]{1,6}-client-[0-9]{1,2}", fullmatch=True), min_size=1, max_size=12, unique=True
)


@settings(deadline=None)
@given(subvol_names, st.text(min_size=1, max_size=40), st.data())
def test_every_new_layout_covers_the_hash_space_once(subs, path, data):
    down = data.draw(st.sets(st.sampled_from(subs), max_size=len(subs) - 1))
    weights = data.draw(st.none() | st.dictionaries(st.sampled_from(subs), st.integers(1, 1 << 31)))
    spread = data.draw(st.none() | st.integers(1, len(subs)))
    ranges = dht.new_directory_ranges(
        subs, "/" + path, errors=dict.fromkeys(down, errno.ENOTCONN), chunks=weights, spread=spread
    )
    layout = dht.Layout(tuple(ranges.items()))
    assert all(ranges[s].empty for s in down)
    if weights is not None and spread is not None and spread < len(subs) - len(down):
        return  # DHT's own layout can have holes or overlaps then: see the test below
    assert layout.complete
    used = [s for s in subs if not ranges[s].empty]
    assert len(used) == min(spread or len(subs), len(subs) - len(down)) or len(used) == 1
    h = data.draw(st.integers(0, 0xFFFFFFFF))
    assert layout.search(h) in used


def test_weights_with_a_spread_are_summed_from_the_first_subvolume_as_dht_does():
    """dht_selfheal_layout_new_directory sums the weights of the first ``spread`` usable
    subvolumes in name order but hands out ranges from the one the path hashes to: with
    unequal weights the pieces do not add up to the hash space (DHT writes such a layout;
    its next lookup finds the anomaly and heals it).  Kept as DHT has it."""
    subs = ["a-client-0", "aa-client-0", "b-client-0", "a-client-1"]
    chunks = {"a-client-0": 1, "aa-client-0": 1, "b-client-0": 3, "a-client-1": 1}
    ranges = dht.new_directory_ranges(subs, "/0", chunks=chunks, spread=3)
    assert not dht.Layout(tuple(ranges.items())).complete
    assert dht.Layout(tuple(dht.new_directory_ranges(subs, "/0", chunks=chunks).items())).complete
    assert dht.Layout(tuple(dht.new_directory_ranges(subs, "/0", spread=3).items())).complete


@settings(deadline=None)
@given(st.binary(max_size=300))
def test_hash_is_32_bits_and_munging_keeps_a_substring(name):
    assert 0 <= dht.dm_hash(name) <= 0xFFFFFFFF
    assert dht.NameHasher().munge(name) in name
