"""Shared pytest fixtures."""

from __future__ import annotations

import os

import pytest

from tests.helpers import unavailable
from tests.targets import FAKE_CLUSTERS, TARGETS, Target, parametrize_targets

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
            if kind and kind.startswith("real"):
                continue
            diff = differences.get(mark.args[0])
            item.add_marker(
                pytest.mark.xfail(strict=True, reason=f"known difference {diff.code}: the fake {diff.fake}")
            )


#: The real volume types gfclient drives (issue #12): kind -> ``RealGluster.create_volume`` args.
REAL_CLUSTERS: dict[str, dict[str, int]] = {
    "distribute2": {"bricks": 2},
    "replica3": {"bricks": 3, "replica": 3},
    "arbiter": {"bricks": 3, "replica": 3, "arbiter": 1},
    "2x3": {"bricks": 6, "replica": 3},
    "disperse": {"bricks": 6, "disperse": 6, "redundancy": 2},
}


@pytest.fixture(scope="session")
def real_cluster(real_gluster):
    """``real_cluster(kind)``: the session's real volume of that type (REAL_CLUSTERS), made
    on first use and shared by every test that asks for it."""
    made: dict[str, object] = {}

    def get(kind: str):
        if kind not in made:
            made[kind] = real_gluster.create_volume(**REAL_CLUSTERS[kind])
        return made[kind]

    return get


@pytest.fixture(scope="session")
def fake_cluster(tmp_path_factory):
    """One fakegluster (in this process, memory stores) serving a volume of every
    FAKE_CLUSTERS type (tests/targets.py), each brick on its own port; ``fake_cluster.info`` has glusterd's
    port and unix socket, the volume of a type is ``FAKE_CLUSTERS[kind]``'s name."""
    from fakegluster.server import FakeGluster

    sock = tmp_path_factory.mktemp("fake-cluster") / "glusterd.sock"
    server = FakeGluster(list(FAKE_CLUSTERS.values()), ["tcp://127.0.0.1:0", f"unix://{sock}"])
    server.start()
    yield server
    server.stop()
