"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest


def unavailable(reason: str) -> None:
    """A missing real peer is a FAILURE under CI=true, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires the real peer: {reason}", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------------
# Real GlusterFS 10.3 peer (fakegluster.testing.realgluster), marker `real`
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def real_gluster():
    """A started RealGluster (glusterd), stopped at the end of the session."""
    from fakegluster.testing.realgluster import RealGluster, available

    ok, reason = available()
    if not ok:
        unavailable(reason)
    rg = RealGluster()
    try:
        rg.start()
        yield rg
    finally:
        rg.stop()


@pytest.fixture(scope="session")
def real_volume(real_gluster):
    """One started real volume shared by the whole session."""
    vol = real_gluster.create_volume()
    yield vol
    vol.delete()
