"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest

from tests.helpers import unavailable
from tests.targets import TARGETS, Target, parametrize_targets

# The generated fast XDR codec must never fall back to construct silently: under the tests a
# fallback raises (here and in every `fakegluster serve` the tests start, which inherit this).
os.environ["FAKEGLUSTER_STRICT_XDR"] = "1"


@pytest.fixture(autouse=True)
def _no_fast_codec_fallback():
    """Fail a test during which the fast XDR codec fell back to construct (even if the
    FallbackError it raised was swallowed, e.g. by a server task)."""
    from fakegluster.proto import xdr

    before = len(xdr.FALLBACKS)
    yield
    assert xdr.FALLBACKS[before:] == [], "the fast XDR codec fell back to construct"


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


# ---------------------------------------------------------------------------
# The conformance target (tests/targets.py): real, fake, fake-subprocess
# ---------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_targets(metafunc)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """A served volume of kind ``request.param`` (see tests/targets.py)."""
    return TARGETS[request.param](request)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``known_difference(code)`` (tests/helpers.py) becomes a strict xfail where the fake runs."""
    from fakegluster import differences

    for item in items:
        kind = getattr(item, "callspec", None) and item.callspec.params.get("target")
        for mark in item.iter_markers("known_difference"):
            if kind == "real":
                continue
            diff = differences.get(mark.args[0])
            item.add_marker(
                pytest.mark.xfail(strict=True, reason=f"known difference {diff.code}: the fake {diff.fake}")
            )
