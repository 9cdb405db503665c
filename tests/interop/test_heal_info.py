"""``heal info`` by the real glfsheal (what ``gluster volume heal V info`` runs) on a replica
3 volume of the fake and of a real 10.3, side by side: a brick down, a file written through
unmodified libgfapi (AFR marks what the dead brick missed, features/index records it), and
glfsheal, reading the bricks' index through its virtual directories, lists the same
entries on both; its summary mode counts them as pending heals (not "possibly healing":
the inodelk counts of the self-heal domains come back zero).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fakegluster.server import FakeGluster
from fakegluster.server.heal import format_heal_info
from tests.helpers import unavailable

pytestmark = pytest.mark.real
GLFSHEAL = "/usr/lib/x86_64-linux-gnu/glusterfs/glfsheal"
PROGRAM = str(Path(__file__).with_name("gfapi_semantics.py"))


@pytest.fixture(scope="module")
def tools():
    import ctypes.util

    if not os.access(GLFSHEAL, os.X_OK):
        unavailable(f"{GLFSHEAL} is not installed")
    if not ctypes.util.find_library("gfapi"):
        unavailable("libgfapi.so is not installed")


def write(port: int, volume: str) -> str:
    cp = subprocess.run([sys.executable, PROGRAM, "write", "127.0.0.1", str(port), volume],
                        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert cp.returncode == 0, (cp.stdout, cp.stderr[-2000:])
    out = json.loads(cp.stdout.strip().splitlines()[-1])
    assert out["written"] == 16384
    return out["base"]


def glfsheal(volume: str, *args: str) -> str:
    cp = subprocess.run([GLFSHEAL, volume, *args], capture_output=True, text=True, timeout=180)
    assert cp.returncode == 0, (cp.stdout, cp.stderr[-2000:])
    return cp.stdout


def normal(text: str, base: str) -> list[list[str]]:
    """Per brick: its status lines and sorted entries (brick names and the test's
    directory name left out)."""
    bricks: list[list[str]] = []
    for block in text.strip().split("\n\n"):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        assert lines and lines[0].startswith("Brick ")
        entries = sorted(ln.replace(base, "/BASE") for ln in lines[1:] if ln.startswith("/"))
        rest = [re.sub(r"\d+\.\d+", "T", ln) for ln in lines[1:] if not ln.startswith("/")]
        bricks.append(entries + rest)
    return bricks


def test_heal_info_lists_what_a_dead_brick_missed(tools, tmp_path, real_gluster):
    """Then the brick comes back and is healed: glfsheal lists nothing on either (the fake's
    self-heal, server/heal.py, refreshes the index it changed the changelogs behind), and
    the fake's own ``heal_info()`` says what glfsheal says at each step."""
    sock = str(tmp_path / "glusterd.socket")
    modes: tuple[tuple[str, ...], ...] = ((), ("info-summary",))
    with FakeGluster([], ["tcp://127.0.0.1:0", f"unix://{sock}"]) as server:
        server.create_volume("healr3", replica=3)
        server.bricks("healr3")[2].stop()
        base = write(server.info.port, "healr3")
        fake = [normal(glfsheal("healr3", *mode, "glusterd-sock", sock), base) for mode in modes]
        own = normal(format_heal_info(server.heal_info("healr3")), base)
        server.bricks("healr3")[2].start()
        server.heal("healr3")
        fake.append(normal(glfsheal("healr3", "glusterd-sock", sock), base))
        own_after = normal(format_heal_info(server.heal_info("healr3")), base)
    vol = real_gluster.create_volume(bricks=3, replica=3)
    try:
        vol.kill_brick(2)
        base = write(24007, vol.name)
        real = [normal(glfsheal(vol.name, *mode), base) for mode in modes]
        vol.start_force()
        vol.wait_healed()
        real.append(normal(glfsheal(vol.name), base))
    finally:
        vol.delete()
    print(json.dumps({"fake": fake, "real": real}))
    assert fake == real
    info, summary, healed = fake
    assert info[0][:3] == ["/", "/BASE", "/BASE/written"] and info[0] == info[1]
    assert "Status: Transport endpoint is not connected" in info[2]
    assert "Number of entries in heal pending: 3" in summary[0]
    assert healed == [["Status: Connected", "Number of entries: 0"]] * 3
    assert (own, own_after) == (info, healed)
