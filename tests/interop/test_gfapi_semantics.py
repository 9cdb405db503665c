"""Unmodified libgfapi (ctypes over libgfapi.so.0, see gfapi_semantics.py) against the fake and
a real 10.3 volume, side by side: posix locks across two lock owners (a blocked F_SETLKW
granted by the other owner's unlock), an upcall registration that hears another client's
write (features.cache-invalidation on), and glfs_h_acl_set/get with default ACL inheritance.
The two runs must print the same thing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fakegluster.server import FakeGluster
from fakegluster.testing.procs import run_gfapi_parallel
from tests.helpers import unavailable

pytestmark = pytest.mark.real
PROGRAM = str(Path(__file__).with_name("gfapi_semantics.py"))
UPCALL = {"features.cache-invalidation": "on"}


@pytest.fixture(scope="module")
def libgfapi():
    import ctypes.util

    for lib in ("gfapi", "acl"):
        if not ctypes.util.find_library(lib):
            unavailable(f"lib{lib}.so is not installed")


@pytest.fixture(scope="module")
def fake():
    with FakeGluster(["plain", "upv"], ["tcp://127.0.0.1:0"]) as server:
        server.set_option("features.cache-invalidation", "on", volume="upv")
        yield server


@pytest.fixture(scope="module")
def real_upcall_volume(real_gluster):
    vol = real_gluster.create_volume(options=UPCALL)
    yield vol
    vol.delete()


def _run(args: list[list[str]]) -> list[dict]:
    results = run_gfapi_parallel([[sys.executable, PROGRAM, *a] for a in args], timeout=90)
    out = []
    for cp in results:
        assert cp.returncode == 0, (cp.stdout, cp.stderr[-2000:])
        out.append(json.loads(cp.stdout.strip().splitlines()[-1]))
    return out


def test_libgfapi_programs_see_the_same_brick(libgfapi, fake, real_volume, real_upcall_volume):
    port = str(fake.info.port)
    scenarios = [("locks", "plain", real_volume.name), ("acl", "plain", real_volume.name),
                 ("upcall", "upv", real_upcall_volume.name)]  # fmt: skip
    args = [[s, "127.0.0.1", port, fv] for s, fv, _ in scenarios]
    args += [[s, "127.0.0.1", "24007", rv] for s, _, rv in scenarios]
    outs = _run(args)
    fake_out, real_out = outs[: len(scenarios)], outs[len(scenarios) :]
    for (name, *_), f, r in zip(scenarios, fake_out, real_out, strict=True):
        assert f == r, name
    locks, acl, upcall = real_out
    assert locks["B setlk wr 50-59"] == [-1, 11, [0, 0, 0]]  # EAGAIN: the other owner holds it
    assert locks["B waiting after 1 s"] and locks["B granted after A's unlock"]
    assert acl["get after"] == "u::rw-,u:1000:rw-,g::r--,m::rw-,o::---" and acl["mode after"] == "0o100660"
    assert acl["child inherits"] == "u::rw-,u:1000:rwx,g::r-x,m::r--,o::---"
    assert upcall["upcalls"] == [[1, 0x18]]  # GLFS_UPCALL_INODE_INVALIDATE, SIZE|TIMES
