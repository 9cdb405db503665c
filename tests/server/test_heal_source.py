"""Which copy the self-heal takes when no copy accuses another: every copy carries only
``trusted.afr.dirty`` (a transaction that never finished, e.g. a brick killed between its
pre-op and post-op).  GlusterFS 10.3's ``__afr_selfheal_data_finalize_source``
(afr-self-heal-data.c) narrows the sources in this order: the largest file
(``afr_mark_largest_file_as_source``), then the most witnesses -- dirty counts
(``afr_mark_biggest_witness_as_source``), then the newest ctime, whole seconds, a tie going to
the last brick (``afr_mark_newest_file_as_source``); with an arbiter, a file empty everywhere
heals from the first brick (``afr_mark_source_sinks_if_file_empty``).  One test per rule (the
fake used to take the largest copy, then the lowest brick index: the rules after the first
failed).  The same states on a real replica 3: tests/interop/test_heal_source_real.py."""

from __future__ import annotations

import struct
import uuid

import pytest

from fakegluster.server import FakeGluster
from fakegluster.store.base import ROOT_GFID

T0 = 1_790_000_000 * 10**9


def _mark(*counts: int) -> bytes:
    return struct.pack(">iii", *counts)


@pytest.fixture(scope="module")
def server():
    with FakeGluster(["vm;replica=3;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as s:
        yield s


def _dirty_copies(server, contents: list[bytes], dirty: list[int], ctimes: list[int]) -> tuple[bytes, str]:
    """One file whose copy i holds ``contents[i]``, ``dirty[i]`` data-dirty, ctime ``ctimes[i]`` s after T0."""
    stores = [b.store for b in server.bricks("vm")]
    gfid, name = uuid.uuid4().bytes, f"f{uuid.uuid4().hex[:8]}"

    def setup() -> None:
        for s, data, d, t in zip(stores, contents, dirty, ctimes, strict=True):
            clock = s.clock
            s.clock = lambda t=t: T0 + t * 10**9
            try:
                s.create(ROOT_GFID, name, 0o644, uid=0, gid=0, gfid=gfid)
                s.write(gfid, 0, data)
                s.setxattr(gfid, "trusted.afr.dirty", _mark(d, 0, 0))
            finally:
                s.clock = clock

    server.run_sync(setup)
    return gfid, name


def _healed(server, gfid: bytes) -> list[bytes]:
    server.heal("vm")
    stores = [b.store for b in server.bricks("vm")]

    def read() -> list[bytes]:
        for s in stores:
            assert s.getxattr(gfid, "trusted.afr.dirty") == bytes(12)
        return [s.read(gfid, 0, 1 << 16) for s in stores]

    return server.run_sync(read)


def test_the_largest_copy_wins(server):
    gfid, _ = _dirty_copies(server, [b"a" * 100, b"b" * 300, b"c" * 200], [1, 1, 1], [5, 1, 9])
    assert _healed(server, gfid) == [b"b" * 300] * 3


def test_among_the_largest_the_most_dirty_wins(server):
    gfid, _ = _dirty_copies(server, [b"a" * 300, b"b" * 300, b"c" * 300], [1, 1, 2], [9, 9, 1])
    assert _healed(server, gfid) == [b"c" * 300] * 3


def test_then_the_newest_ctime_wins(server):
    gfid, _ = _dirty_copies(server, [b"a" * 300, b"b" * 300, b"c" * 300], [1, 1, 1], [1, 7, 3])
    assert _healed(server, gfid) == [b"b" * 300] * 3


def test_a_ctime_tie_goes_to_the_last_brick(server):
    gfid, _ = _dirty_copies(server, [b"a" * 300, b"b" * 300, b"c" * 300], [1, 1, 1], [4, 4, 4])
    assert _healed(server, gfid) == [b"c" * 300] * 3


def test_a_smaller_copy_loses_to_a_larger_one_with_less_dirt(server):
    gfid, _ = _dirty_copies(server, [b"a" * 300, b"b" * 299, b"c" * 299], [1, 5, 5], [1, 9, 9])
    assert _healed(server, gfid) == [b"a" * 300] * 3


def test_an_arbiter_volume_heals_a_file_empty_everywhere_from_the_first_brick():
    with FakeGluster(["vm;replica=3;arbiter=1;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as srv:
        _, name = _dirty_copies(srv, [b"", b"", b""], [1, 2, 3], [1, 9, 5])
        healed = sorted(h for h in srv.heal("vm").healed if h.endswith("(data)"))
        assert healed == [f"brick:vm:{i}: /{name} (data)" for i in (1, 2)]
