"""features/locks lock revocation (``features.locks-revocation-secs``, ``-max-blocked``,
``-clear-all``; inodelk.c ``__inodelk_prune_stale``, entrylk.c ``__entrylk_prune_stale``) on
a fake and a real 10.3 volume alike: a lock request meeting a granted lock of its domain that
conflicts with it and is older than the limit (whole seconds), or a domain with max-blocked
requests waiting, clears every granted lock of the domain (and with clear-all its waiters,
EAGAIN), then the waiters are retried.
"""

from __future__ import annotations

import errno
import time
import uuid

import pytest

from fakegluster.proto.gfdict import GfxValue
from fakegluster.server import FakeGluster
from tests.rawclient import ROOT, Mount
from tests.server.test_brick_semantics import (
    LOCK_NB,
    O1,
    O2,
    O3,
    SETLK,
    SETLKW,
    UN,
    UNLOCK,
    WR,
    File,
    cred,
    entrylk,
    res,
)
from tests.server.test_brick_semantics import flock as _flock

pytestmark = pytest.mark.real
REVOKE = {"features.locks-revocation-secs": "1", "features.locks-revocation-max-blocked": "3"}
AGE = 2.2  # more than 1 s in whole seconds, whatever the phase


@pytest.fixture(scope="module", params=["fake", "real"])
def vol(request):
    """(host, port, volume, ``set(key, value)``)."""
    if request.param == "fake":
        with FakeGluster(["rvk"], ["tcp://127.0.0.1:0"], options=REVOKE) as server:
            yield "127.0.0.1", server.info.port, "rvk", lambda k, v: server.set_option(k, v, volume="rvk")
        return
    real = request.getfixturevalue("real_gluster").create_volume(options=REVOKE)

    def set_(key, value):
        real.gluster("volume", "set", real.name, key, value)
        time.sleep(1)  # (the bricks reconfigure after glusterd answered)

    try:
        yield "127.0.0.1", 24007, real.name, set_
    finally:
        real.delete()


@pytest.fixture
def mounts(vol):
    ms = [Mount(*vol[:3]) for _ in range(3)]
    yield ms
    for m in ms:
        m.close()


def send_lock(m, f, owner, start=0, length=0):
    fl = _flock(WR, start, length, 100, owner)
    return m.send("INODELK", cred=cred(owner), gfid=f.gfid, cmd=SETLKW, type=WR, flock=fl,
                  volume="dom")  # fmt: skip


def count(m, f):
    return f.counts(m, **{"glusterfs.inodelk-count": 1})["glusterfs.inodelk-count"]


def test_an_old_conflicting_lock_is_revoked(vol, mounts):
    a, b, c = mounts
    d = a.mkdir(ROOT, f"rv-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    f = File(a, b, d)
    assert res(f.inodelk(a, SETLK, WR, O1, 0, 100)) == (0, 0)
    assert res(entrylk(a, d, LOCK_NB, WR, O1, "x")) == (0, 0)
    assert res(f.inodelk(b, SETLK, WR, O2, 50, 10)) == (-1, errno.EAGAIN)  # young: no revocation
    waiting = send_lock(b, f, O2, 50, 10)
    assert not b.raw.answered(waiting)
    time.sleep(AGE)
    assert res(f.inodelk(c, SETLK, WR, O3, 500, 10)) == (0, 0)  # no conflict with the old lock
    assert res(f.inodelk(c, SETLK, WR, O3, 0, 1)) == (0, 0)  # revokes, the waiter gets in, then this one
    assert res(b.reply("INODELK", waiting, 5)) == (0, 0)
    assert count(a, f) == GfxValue.int(2)
    assert res(f.inodelk(a, SETLK, UN, O1, 0, 100)) == (-1, errno.EINVAL)  # gone
    assert res(f.inodelk(c, SETLK, UN, O3, 500, 10)) == (-1, errno.EINVAL)  # every granted lock of the domain
    assert res(entrylk(b, d, LOCK_NB, WR, O2, "x")) == (0, 0)  # an entry lock the same way
    assert res(entrylk(a, d, UNLOCK, WR, O1, "x")) == (-1, errno.EINVAL)


def test_max_blocked_revokes(vol, mounts):
    a, b, c = mounts
    d = a.mkdir(ROOT, f"rv-{uuid.uuid4().hex[:8]}").stat.ia_gfid
    f = File(a, b, d)
    assert res(f.inodelk(a, SETLK, WR, O1)) == (0, 0)
    waiters = []
    for n, (m, owner) in enumerate(((b, O2), (b, O3), (c, O3)), 2):
        waiters.append(send_lock(m, f, owner))
        assert not m.raw.answered(waiters[-1], 0.05)
        assert count(a, f) == GfxValue.int(n)  # (queued in this order)
    w1, w2, w3 = waiters
    assert res(f.inodelk(c, SETLK, WR, O1)) == (-1, errno.EAGAIN)  # 3 waiting: the holder's lock goes
    assert res(b.reply("INODELK", w1, 5)) == (0, 0)
    assert not b.raw.answered(w2, 0.2) and not c.raw.answered(w3, 0.05)
    assert res(f.inodelk(a, SETLK, UN, O1)) == (-1, errno.EINVAL)
    assert res(f.inodelk(b, SETLK, UN, O2)) == (0, 0)
    assert res(b.reply("INODELK", w2, 5)) == (0, 0)
    assert res(f.inodelk(b, SETLK, UN, O3)) == (0, 0)
    assert res(c.reply("INODELK", w3, 5)) == (0, 0)


def test_clear_all_fails_the_waiters_too(vol, mounts):
    a, b, c = mounts
    vol[3]("features.locks-revocation-clear-all", "on")
    try:
        d = a.mkdir(ROOT, f"rv-{uuid.uuid4().hex[:8]}").stat.ia_gfid
        f = File(a, b, d)
        assert res(f.inodelk(a, SETLK, WR, O1)) == (0, 0)
        waiting = send_lock(b, f, O2)
        assert not b.raw.answered(waiting)
        time.sleep(AGE)
        assert res(f.inodelk(c, SETLK, WR, O3)) == (0, 0)
        assert res(b.reply("INODELK", waiting, 5)) == (-1, errno.EAGAIN)
        assert count(a, f) == GfxValue.int(1)
    finally:
        vol[3]("features.locks-revocation-clear-all", "off")
