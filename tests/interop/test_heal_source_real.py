"""A real GlusterFS 10.3 replica 3 heals files whose copies carry only ``trusted.afr.dirty``
(nobody accused) from the copy tests/server/test_heal_source.py expects of the fake: the
largest, then the most dirty, then the newest ctime (a tie: the last brick).

The copies are made through gfclient (one gfid), then changed on the bricks' backends (content,
``trusted.afr.dirty`` as setfattr would) and healed by ``gluster volume heal V full`` (an xattr
set on the backend is in no index).  ``features.ctime`` is off so that a brick reports its
backend ctime, which the test orders with one pause of a second."""

from __future__ import annotations

import os
import struct
import time

import pytest

import gfclient

pytestmark = pytest.mark.real

#: file -> (content per brick, dirty per brick, the brick whose copy must win)
CASES = {
    "largest": ([b"a" * 100, b"b" * 300, b"c" * 200], [1, 1, 1], 1),
    "dirtiest": ([b"a" * 300, b"b" * 300, b"c" * 300], [1, 1, 2], 2),
    "newest": ([b"a" * 300, b"b" * 300, b"c" * 300], [1, 1, 1], 1),
    "tie": ([b"a" * 300, b"b" * 300, b"c" * 300], [1, 1, 1], 2),
}
#: copies changed after the pause (newer ctime)
LATE = {("dirtiest", 0), ("dirtiest", 1), ("newest", 1), ("largest", 0)}


def _set_copy(vol, name: str, brick: int) -> None:
    contents, dirty, _ = CASES[name]
    path = vol.brick_file(name, brick)
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(contents[brick])
    os.setxattr(path, "trusted.afr.dirty", struct.pack(">iii", dirty[brick], 0, 0))


def test_a_real_replica_3_heals_dirty_only_copies_from_the_same_copy(real_gluster):
    vol = real_gluster.create_volume(
        bricks=3, replica=3, options={"features.ctime": "off", "cluster.self-heal-daemon": "on"}
    )
    try:
        with gfclient.connect(f"gluster://127.0.0.1/{vol.name}") as v:
            for name in CASES:
                with v.fopen(name, "w") as f:
                    f.write(b"0" * 50)
        for _ in range(5):  # the tie's three copies within one second
            early = [(n, b) for n in CASES for b in range(3) if (n, b) not in LATE]
            for n, b in early:
                _set_copy(vol, n, b)
            if len({int(os.stat(vol.brick_file("tie", b)).st_ctime) for b in range(3)}) == 1:
                break
        else:
            pytest.fail("could not change three files within one second")
        time.sleep(1.1)
        for n, b in sorted(LATE):
            _set_copy(vol, n, b)
        vol.gluster("volume", "heal", vol.name, "full")
        deadline = time.monotonic() + 90
        while True:
            copies = {n: [open(vol.brick_file(n, b), "rb").read() for b in range(3)] for n in CASES}
            dirty = {n: [os.getxattr(vol.brick_file(n, b), "trusted.afr.dirty") for b in range(3)] for n in CASES}
            if all(len(set(c)) == 1 for c in copies.values()) and all(d == [bytes(12)] * 3 for d in dirty.values()):
                break
            assert time.monotonic() < deadline, (copies, dirty)
            time.sleep(0.5)
        for name, (contents, _, winner) in CASES.items():
            assert copies[name] == [contents[winner]] * 3, name
    finally:
        vol.delete()
