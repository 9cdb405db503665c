"""Self-heal on the bricks' stores: the changelog states real clients leave behind (as in
/work/shared/fixtures/cluster/replica3_brickdown: a file created and written while one brick
of a replica 3 was down) are set up directly, healed, and checked copy by copy.  Real clients
doing the same are in tests/interop/test_cluster_interop.py."""

from __future__ import annotations

import os
import struct
import time
import uuid

import pytest

from fakegluster.server import ClusterError, FakeGluster
from fakegluster.server.heal import QUIET, format_heal_info
from fakegluster.store.base import ROOT_GFID
from fakegluster.xl import ec


def _mark(*counts: int) -> bytes:
    return struct.pack(">iii", *counts)


def _afr(store, gfid):
    return {k: store.getxattr(gfid, k) for k in store.listxattr(gfid) if k.startswith("trusted.afr.")}


@pytest.fixture
def r3():
    with FakeGluster(["vm;replica=3;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as server:
        yield server


def _brickdown_state(stores, gfid, data):
    """What a replica 3 client leaves when brick 2 was down while it created and wrote
    ``bd_file``: the file on bricks 0 and 1 only, accusing client-2 (data 2, metadata 1), the
    root accusing client-2 for one entry operation."""
    for s in stores[:2]:
        a, _ = s.create(ROOT_GFID, "bd_file", 0o640, uid=0, gid=0, gfid=gfid)
        s.write(gfid, 0, data)
        s.setxattr(gfid, "user.k", b"v")
        s.setxattr(gfid, "trusted.afr.vm-client-2", _mark(2, 1, 0))
        s.setxattr(gfid, "trusted.afr.dirty", _mark(0, 0, 0))
        s.setxattr(ROOT_GFID, "trusted.afr.vm-client-2", _mark(0, 0, 1))


def test_replicate_heal_creates_copies_and_clears_the_marks(r3):
    stores = [b.store for b in r3.bricks("vm")]
    gfid = uuid.uuid4().bytes
    data = os.urandom(100_000) + bytes(300_000) + b"tail"  # a hole in the middle stays a hole
    r3.run_sync(_brickdown_state, stores, gfid, data)
    info = r3.heal_info("vm")
    assert [[p for p, _ in i.entries] for i in info] == [["/", "/bd_file"], ["/", "/bd_file"], []]
    report = r3.heal("vm")
    assert sorted(report.healed) == [
        "brick:vm:2: / (entry)",
        "brick:vm:2: /bd_file (data)",
        "brick:vm:2: /bd_file (metadata)",
    ]

    def check():
        a = stores[2].lookup(ROOT_GFID, "bd_file")
        assert a.gfid == gfid and a.mode & 0o7777 == 0o640 and a.size == len(data)
        assert stores[2].read(gfid, 0, len(data)) == data
        assert stores[2].getxattr(gfid, "user.k") == b"v"
        assert stores[2].seek(gfid, 100_000, 4) >= 0  # SEEK_HOLE: a hole was kept
        for s in stores[:2]:
            assert set(_afr(s, gfid).values()) == {bytes(12)}
            assert _afr(s, ROOT_GFID)["trusted.afr.vm-client-2"] == bytes(12)
        assert _afr(stores[2], gfid) == {}  # as on a real sink: no changelog keys at all

    r3.run_sync(check)
    assert not any(i.entries for i in r3.heal_info("vm"))
    assert r3.heal("vm").healed == []


def test_replicate_split_brain_is_left_alone(r3):
    stores = [b.store for b in r3.bricks("vm")]
    gfid = uuid.uuid4().bytes

    def split():
        for i, s in enumerate(stores):
            s.create(ROOT_GFID, "sb", 0o644, uid=0, gid=0, gfid=gfid)
            s.write(gfid, 0, f"copy {i}".encode())
            others = [j for j in range(3) if j != i]
            for j in others:
                s.setxattr(gfid, f"trusted.afr.vm-client-{j}", _mark(1, 0, 0))

    r3.run_sync(split)
    assert [i.entries for i in r3.heal_info("vm")] == [[("/sb", "split-brain")]] * 3
    assert "/sb - Is in split-brain\n" in format_heal_info(r3.heal_info("vm"))
    report = r3.heal("vm", wait=False)
    assert report.split_brain == ["/sb (vm)"] and report.healed == []
    assert r3.run_sync(lambda: [s.read(gfid, 0, 10) for s in stores]) == [b"copy 0", b"copy 1", b"copy 2"]


def test_an_object_a_client_is_changing_waits_for_the_next_pass(r3):
    stores = [b.store for b in r3.bricks("vm")]
    gfid = uuid.uuid4().bytes
    r3.run_sync(_brickdown_state, stores, gfid, b"abc")
    r3.bricks("vm")[0].brick.touched[gfid] = time.monotonic()
    report = r3.heal("vm", wait=False)
    assert report.busy == ["/bd_file (vm)"] and not report.done
    t0 = time.monotonic()
    report = r3.heal("vm")  # waits for the client to leave it alone
    assert time.monotonic() - t0 >= QUIET - 0.5
    assert "brick:vm:2: /bd_file (data)" in report.healed


def test_an_object_a_client_holds_a_lock_on_waits_until_it_unlocks(r3):
    """glustershd's non-blocking inodelk fails while a client holds one: no heal until then."""
    from fakegluster.server.locks import InodeLock

    bricks = [b.brick for b in r3.bricks("vm")]
    gfid = uuid.uuid4().bytes
    r3.run_sync(_brickdown_state, [b.store for b in bricks], gfid, b"abc")
    lock = InodeLock(type=1, start=0, end=2**63 - 1, client="qemu", owner=b"o", domain="vm-replicate-0")

    def take():
        assert bricks[1].state.inode(gfid).inodelk.lock(lock, False, time.monotonic())[0] == "granted"

    r3.run_sync(take)
    report = r3.heal("vm", wait=False)
    assert report.busy == ["/bd_file (vm)"] and "brick:vm:2: /bd_file (data)" not in report.healed
    r3.run_sync(lambda: bricks[1].state.inode(gfid).inodelk.unlock(lock, time.monotonic()))
    assert "brick:vm:2: /bd_file (data)" in r3.heal("vm").healed


def test_an_arbiter_gets_names_and_metadata_never_data():
    with FakeGluster(["vm;replica=3;arbiter=1;cluster.self-heal-daemon=off"], ["tcp://127.0.0.1:0"]) as server:
        stores = [b.store for b in server.bricks("vm")]
        gfid = uuid.uuid4().bytes
        server.run_sync(_brickdown_state, stores, gfid, b"x" * 5000)
        server.heal("vm")
        a = server.run_sync(stores[2].getattr, gfid)
        assert a.size == 0 and a.mode & 0o7777 == 0o640
        assert server.run_sync(stores[2].getxattr, gfid, "user.k") == b"v"


def _ec_file(stores, codec, name, gfid, data, version, skip=()):
    frags = codec.encode(data + bytes(-len(data) % codec.stripe))
    for i, s in enumerate(stores):
        if i in skip:
            continue
        s.create(ROOT_GFID, name, 0o644, uid=0, gid=0, gfid=gfid)
        s.write(gfid, 0, frags[i])
        s.setxattr(gfid, ec.CONFIG_XATTR, ec.Config(len(stores), codec.redundancy).encode())
        s.setxattr(gfid, ec.SIZE_XATTR, ec.encode_u64(len(data)))
        s.setxattr(gfid, ec.VERSION_XATTR, ec.encode_pair(*version))
        s.setxattr(gfid, ec.DIRTY_XATTR, ec.encode_pair(1, 0))
    return frags


def test_disperse_rebuilds_a_stale_fragment_and_a_missing_one():
    with FakeGluster(
        ["ec;disperse=6;redundancy=2;cluster.disperse-self-heal-daemon=off"], ["tcp://127.0.0.1:0"]
    ) as server:
        stores = [b.store for b in server.bricks("ec")]
        codec = ec.Codec(6, 2)
        data = os.urandom(10_000)
        g1, g2 = uuid.uuid4().bytes, uuid.uuid4().bytes

        def setup():
            frags = _ec_file(stores, codec, "f1", g1, data, (3, 1))
            stores[5].write(g1, 0, bytes(len(frags[5])))  # brick 5 missed the writes
            stores[5].setxattr(g1, ec.VERSION_XATTR, ec.encode_pair(1, 1))
            # a second file created while brick 4 was down: the root's version moved on elsewhere
            for i, s in enumerate(stores):
                s.setxattr(ROOT_GFID, ec.VERSION_XATTR, ec.encode_pair(2 if i == 4 else 3, 0))
            return frags, _ec_file(stores, codec, "f2", g2, data[:700], (1, 0), skip=(4,))

        (frags1, frags2) = server.run_sync(setup)
        assert [len(i.entries) for i in server.heal_info("ec")] == [2, 2, 2, 2, 1, 2]
        server.heal("ec")

        def check():
            for i, s in enumerate(stores):
                assert s.read(g1, 0, 1 << 20) == frags1[i]
                assert ec.decode_pair(s.getxattr(g1, ec.VERSION_XATTR)) == (3, 1)
                assert ec.decode_pair(s.getxattr(g1, ec.DIRTY_XATTR)) == (0, 0)
                assert s.lookup(ROOT_GFID, "f2").gfid == g2
            assert stores[4].read(g2, 0, 1 << 20) == frags2[4]
            assert ec.decode_u64(stores[4].getxattr(g2, ec.SIZE_XATTR)) == 700
            assert ec.decode_pair(stores[4].getxattr(ROOT_GFID, ec.VERSION_XATTR)) == (3, 0)
            # and any k fragments give the data back
            assert codec.decode({i: stores[i].read(g1, 0, 1 << 20) for i in (1, 3, 4, 5)})[: len(data)] == data

        server.run_sync(check)
        assert not any(i.entries for i in server.heal_info("ec"))


def test_heal_info_text_and_a_down_brick(r3):
    stores = [b.store for b in r3.bricks("vm")]
    r3.run_sync(_brickdown_state, stores, uuid.uuid4().bytes, b"abc")
    r3.bricks("vm")[2].stop()
    host = r3.bricks("vm")[0].host
    assert format_heal_info(r3.heal_info("vm")) == (
        f"Brick {host}:/fakegluster/vm/brick0\n/ \n/bd_file \nStatus: Connected\nNumber of entries: 2\n\n"
        f"Brick {host}:/fakegluster/vm/brick1\n/ \n/bd_file \nStatus: Connected\nNumber of entries: 2\n\n"
        f"Brick {host}:/fakegluster/vm/brick2\nStatus: Transport endpoint is not connected\n"
        "Number of entries: -\n\n"
    )
    assert r3.heal("vm").healed == []  # nothing to heal with the sink down


def test_the_self_heal_daemon_heals_when_a_brick_comes_back():
    with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:0"]) as server:
        stores = [b.store for b in server.bricks("vm")]
        b2 = server.bricks("vm")[2]
        b2.stop()
        server.run_sync(_brickdown_state, stores, uuid.uuid4().bytes, b"abc")
        time.sleep(0.3)
        names = lambda: sorted(n for n, _ in server.run_sync(stores[2].readdir, ROOT_GFID))  # noqa: E731
        anon = f".glusterfs-anonymous-inode-{server.volume_model('vm').volume_id}"
        assert names() == [anon]  # glustershd's private directory, made when the volume started
        b2.start()
        deadline = time.monotonic() + 10
        while names() == [anon] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert names() == [anon, "bd_file"]
        a = server.run_sync(stores[0].lookup, ROOT_GFID, anon)
        assert a.gfid[0] == uuid.UUID(server.volume_model("vm").volume_id).bytes[0] ^ 1 and a.mode & 0o7777 == 0o755


def test_heal_needs_replicate_or_disperse():
    with FakeGluster(["d;bricks=2"], ["tcp://127.0.0.1:0"]) as server:
        with pytest.raises(ClusterError, match="Volume d is not of type replicate/disperse"):
            server.heal("d")


@pytest.mark.parametrize(
    "spec",
    [
        "r;replica=3;arbiter=1;cluster.self-heal-daemon=off",
        "e;disperse=6;redundancy=2;cluster.disperse-self-heal-daemon=off",
        "one",
    ],
)
def test_seeded_files_are_laid_out_as_a_client_leaves_them(spec):
    name = spec.split(";")[0]
    data = os.urandom(70_000)
    with FakeGluster([spec], ["tcp://127.0.0.1:0"]) as server:
        server.write_file("d/e/f.img", data, volume=name)
        assert server.read_file("d/e/f.img", volume=name) == data
        assert server.exists("d/e", volume=name) and not server.exists("nope", volume=name)
        if name != "one":  # nothing for self-heal: the copies are clean
            assert not any(i.entries for i in server.heal_info(name))
            assert server.heal(name, wait=False).healed == []
        sizes = [server.run_sync(lambda b=b: b.store.resolve_path("d/e/f.img").size) for b in server.bricks(name)]
        if name == "r":
            assert sizes == [70_000, 70_000, 0]  # the arbiter holds no data
        elif name == "e":
            assert sizes == [ec.Codec(6, 2).fragment_size(70_000)] * 6
    with FakeGluster(["d;bricks=2"], ["tcp://127.0.0.1:0"]) as server:
        with pytest.raises(ValueError, match="seed it through a client"):
            server.write_file("x", b"y")
