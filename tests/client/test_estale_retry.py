"""A path call starts again once when its FOP meets ESTALE, as libgfapi's do (api/src/glfs-fops.c
v10.3: ``retry:`` ... ``ESTALE_RETRY(ret, errno, reval, &loc, retry)`` after glfs_resolve and after
the syncop; ``DEFAULT_REVAL_COUNT`` 1, api/src/glfs-internal.h).  ESTALE is what a brick answers a
FOP on a gfid that is gone: another client unlinked (or replaced) the file between gfclient's
LOOKUP and its OPEN.  libgfapi then resolves the path again and answers ENOENT, or opens the new
file; gfclient answered ESTALE (session 5's probe: 13 of 125 opens on a real disperse 4+2).

The race is made deterministic by a hook in the client under test's own FOP calls: just before
it sends the FOP, a second client (its own connections) does its work; every call still goes
over the wire to the volume.  Each case asserts the FOP the hook held back was answered ESTALE,
so the window was hit, then what the path call gave back -- identically against real GlusterFS
10.3 volumes and the fake's volumes of the same types."""

from __future__ import annotations

import errno
import os
import stat
import uuid
from collections.abc import Awaitable, Callable

import pytest
import trio

import gfclient
from fakegluster.proto.fops import GfFop
from tests.targets import FAKE_CLUSTERS

KINDS = ("replica3", "disperse", "distribute2")


@pytest.fixture(
    params=[f"fake-{k}" for k in KINDS] + [pytest.param(f"real-{k}", marks=pytest.mark.real) for k in KINDS]
)
def uri(request) -> str:
    """A volume of the session's, real (``real_cluster``) or fake (``fake_cluster``)."""
    side, kind = request.param.split("-", 1)
    if side == "real":
        return f"gluster://127.0.0.1/{request.getfixturevalue('real_cluster')(kind).name}"
    server = request.getfixturevalue("fake_cluster")
    return f"gluster://127.0.0.1:{server.info.port}/{FAKE_CLUSTERS[kind].split(';')[0]}"


class Hook:
    """Before each of the first ``times`` ``proc`` calls volume ``v`` sends, run ``action()``
    (another client's work); ``answers`` gets the errno (0: success) of every ``proc`` call."""

    def __init__(self, v, proc: GfFop, action: Callable[[], Awaitable[None]], times: int = 1) -> None:
        self.proc, self.action, self.left = proc, action, times
        self.answers: list[int] = []
        fops = v.fops
        real = fops.call

        async def call(p, args, **kw):
            if p != self.proc:
                return await real(p, args, **kw)
            if self.left:
                self.left -= 1
                await self.action()
            try:
                result = await real(p, args, **kw)
            except OSError as exc:
                self.answers.append(exc.errno or 0)
                raise
            self.answers.append(0)
            return result

        fops.call = call


async def _put(w, path: str, data: bytes) -> None:
    f = await w.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    await f.write(data)
    await f.close()


async def _get(v, path: str) -> bytes:
    f = await v.open(path, os.O_RDONLY)
    try:
        return await f.pread(100, 0)
    finally:
        await f.close()


def _run(uri: str, case: Callable[..., Awaitable[None]]) -> None:
    """``case(v, w, d)``: ``v`` under test, ``w`` the other client, ``d`` a new directory."""

    async def main() -> None:
        async with gfclient.aio.connect(uri) as v, gfclient.aio.connect(uri) as w:
            d = f"/estale-{uuid.uuid4().hex[:8]}"
            await w.mkdir(d)
            try:
                await case(v, w, d)
            finally:
                await w.rmtree(d, ignore_errors=True)

    trio.run(main)


def test_an_open_of_a_file_unlinked_after_its_lookup_is_enoent(uri):
    async def case(v, w, d):
        await _put(w, f"{d}/f", b"old")
        hook = Hook(v, GfFop.OPEN, lambda: w.unlink(f"{d}/f"))
        with pytest.raises(FileNotFoundError):
            await v.open(f"{d}/f", os.O_RDONLY)
        assert hook.answers == [errno.ESTALE]  # the window was hit; glfs_open resolves again: ENOENT

    _run(uri, case)


def test_an_open_of_a_file_replaced_after_its_lookup_opens_the_new_file(uri):
    async def case(v, w, d):
        await _put(w, f"{d}/f", b"old")

        async def replace() -> None:
            await w.unlink(f"{d}/f")
            await _put(w, f"{d}/f", b"new")

        hook = Hook(v, GfFop.OPEN, replace)
        assert await _get(v, f"{d}/f") == b"new"
        assert hook.answers == [errno.ESTALE, 0]

    _run(uri, case)


def test_a_create_of_a_file_unlinked_after_its_lookup_makes_it_again(uri):
    async def case(v, w, d):
        await _put(w, f"{d}/f", b"old")
        hook = Hook(v, GfFop.OPEN, lambda: w.unlink(f"{d}/f"))
        f = await v.open(f"{d}/f", os.O_CREAT | os.O_WRONLY, 0o600)  # glfs_creat: ENOENT now -> CREATE
        await f.write(b"mine")
        await f.close()
        assert hook.answers == [errno.ESTALE]
        assert await _get(w, f"{d}/f") == b"mine"
        assert stat.S_IMODE((await w.stat(f"{d}/f")).st_mode) == 0o600

    _run(uri, case)


def test_a_second_estale_is_the_callers(uri):
    """DEFAULT_REVAL_COUNT is 1: the file replaced again before the second OPEN gives ESTALE."""

    async def case(v, w, d):
        await _put(w, f"{d}/f", b"old")

        async def replace() -> None:
            await w.unlink(f"{d}/f")
            await _put(w, f"{d}/f", b"new")

        hook = Hook(v, GfFop.OPEN, replace, times=2)
        with pytest.raises(OSError) as raised:
            await v.open(f"{d}/f", os.O_RDONLY)
        assert raised.value.errno == errno.ESTALE
        assert hook.answers == [errno.ESTALE, errno.ESTALE]

    _run(uri, case)


def test_a_setattr_is_retried_a_setxattr_is_not(uri):
    """glfs_setattr (chmod) retries its SETATTR's ESTALE; glfs_setxattr retries only its
    resolution (api/src/glfs-fops.c: one ESTALE_RETRY, before the syncop).  On distribute, DHT
    finds the gfid nowhere and passes the brick's ESTALE up, as 10.3's does for a name that
    now has another gfid (tests/interop/test_estale_retry_gfapi.py: real libgfapi)."""

    async def case(v, w, d):
        async def replace() -> None:
            await w.unlink(f"{d}/f")
            await _put(w, f"{d}/f", b"new")

        await _put(w, f"{d}/f", b"old")
        chmod = Hook(v, GfFop.SETATTR, replace)
        await v.chmod(f"{d}/f", 0o640)
        assert chmod.answers == [errno.ESTALE, 0]
        assert stat.S_IMODE((await w.stat(f"{d}/f")).st_mode) == 0o640

        setxattr = Hook(v, GfFop.SETXATTR, replace)
        with pytest.raises(OSError) as raised:
            await v.setxattr(f"{d}/f", "user.k", b"v")
        assert raised.value.errno == errno.ESTALE
        assert setxattr.answers == [errno.ESTALE]

    _run(uri, case)
