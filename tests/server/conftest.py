"""Targets for raw-protocol conformance: the fake (in-process, a thread) and a real 10.3."""

from __future__ import annotations

import dataclasses

import pytest

from fakegluster.server import FakeGluster


@dataclasses.dataclass
class Target:
    kind: str
    host: str
    port: int
    volume: str
    unix: str | None


@pytest.fixture(scope="session")
def fake_server(tmp_path_factory):
    sock = tmp_path_factory.mktemp("fake") / "glusterd.sock"
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0", f"unix://{sock}"]) as server:
        yield server


@pytest.fixture(scope="session", params=["fake", "real"])
def target(request, fake_server):
    if request.param == "fake":
        info = fake_server.info
        return Target("fake", "127.0.0.1", info.port, "testvol", info.unix[0].path)
    vol = request.getfixturevalue("real_volume")
    return Target("real", "127.0.0.1", 24007, vol.name, "/var/run/glusterd.socket")
