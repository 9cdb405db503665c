"""Split-brain resolution by the unmodified ``gluster`` CLI (``volume heal V split-brain
bigger-file FILE | latest-mtime FILE | source-brick HOST:BRICK [FILE]`` and ``volume heal V info
split-brain``; ``cli-cmd-volume.c`` runs glfsheal for them, whose replicate translator heals
through the bricks: ``afr_heal_splitbrain_file``) on a replica 2 volume of the fake and of a real
10.3, side by side.

Files are put into split-brain as ``tests/basic/afr/split-brain-resolution.t`` does: written
through a FUSE mount while brick 0 is down, then while brick 1 is down (self-heal off).  Both
sides must print the same (brick names normalised), heal the same files from the same copies, and
end with identical bricks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fakegluster.server import FakeGluster
from fakegluster.store.base import ROOT_GFID
from fakegluster.testing import clirun
from tests.interop.clusterwork import Target, fuse_mount, fuse_umount, require_cluster_tools

pytestmark = pytest.mark.real

OPTIONS = {
    "cluster.self-heal-daemon": "off",
    "cluster.data-self-heal": "off",
    "cluster.metadata-self-heal": "off",
    "cluster.entry-self-heal": "off",
    "cluster.quorum-type": "none",
}
#: The fake has no ctime feature (its bricks stamp their own clock; ``volume set features.ctime``
#: is refused).  With it, a 10.3 brick lists the client's times (trusted.glusterfs.mdata) to AFR,
#: whose lookup then makes the copies' times alike (a metadata heal) and ``latest-mtime`` finds
#: "No difference in mtime"; without it both answer from each copy's own mtime.
REAL_ONLY = {"features.ctime": "off"}
#: file -> (content written while brick 0 is down, content written while brick 1 is down)
FILES = {
    "sb-bigger": (b"brick1 bigger " * 8, b"brick0\n"),
    "sb-mtime": (b"brick1, written first\n", b"brick0\n"),
    "sb-source": (b"brick1_alive\n", b"brick0_alive\n"),
    "sb-same": (b"1" * 16, b"0" * 16),
    "sb-rest": (b"brick1 rest\n", b"brick0 rest, longer\n"),
}
META = "sb-meta"  # metadata split-brain: user.test differs
NAMES = [*FILES, META]


class Side:
    def __init__(self, name: str, target: Target, mnt: Path, kill: Callable[[int], None],
                 start: Callable[[int], None], cli: Callable[..., str],
                 contents: Callable[[int], dict[str, bytes]]) -> None:  # fmt: skip
        self.name, self.target, self.mnt = name, target, mnt
        self.kill, self.start, self.cli, self.contents = kill, start, cli, contents


def fake_contents(server: FakeGluster, brick) -> dict[str, bytes]:
    def read() -> dict[str, bytes]:
        st = brick.store
        out = {}
        for n in NAMES:
            a = st.lookup(ROOT_GFID, n)
            out[n] = st.read(a.gfid, 0, a.size)
        return out

    return server.run_sync(read)


def child_up(side: Side) -> list[int]:
    text = (side.mnt / ".meta" / "graphs" / "active" / f"{side.target.volume}-replicate-0" / "private").read_text()
    return [int(v) for _, v in sorted(re.findall(r"^\s*child_up\[(\d+)\]\s*=\s*(\d+)", text, re.M))]


def wait_children(side: Side, want: list[int]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child_up(side) == want:
            return
        time.sleep(0.2)
    private = side.mnt / ".meta" / "graphs" / "active" / f"{side.target.volume}-replicate-0" / "private"
    raise AssertionError(f"{side.name}: children {child_up(side)}, want {want}: {private.read_text()}")


def split(side: Side) -> None:
    """The files of FILES and META in split-brain between the two bricks."""
    m = side.mnt
    for name in FILES:
        (m / name).write_bytes(b"some-data\n")
    (m / META).write_bytes(b"some-data\n")
    os.setxattr(m / META, "user.test", b"both")
    for down, phase in ((0, 0), (1, 1)):
        side.kill(down)
        wait_children(side, [int(i != down) for i in range(2)])
        for name, contents in FILES.items():
            (m / name).write_bytes(contents[phase])
        os.setxattr(m / META, "user.test", f"brick{1 - down}".encode())
        side.start(down)
        wait_children(side, [1, 1])
        time.sleep(1.1)  # later mtimes in the second phase


def normal(text: str, bricks: list[str]) -> str:
    """Brick names as BRICKn, gfids as GFID; the entries of each ``Brick`` block sorted (glfsheal
    lists a brick's index in its directory order: known difference READDIR_ORDER)."""
    for i, b in enumerate(bricks):
        text = text.replace(b, f"BRICK{i}")
    text = re.sub(r"gfid:[0-9a-f-]{36}", "gfid:GFID", text)
    blocks = []
    for block in text.split("\n\n"):
        lines = block.split("\n")
        if lines[0].startswith("Brick "):
            entries = sorted(ln for ln in lines[1:] if ln.startswith(("/", "<gfid:")))
            lines = [lines[0], *entries, *(ln for ln in lines[1:] if not ln.startswith(("/", "<gfid:")))]
        elif all(ln.startswith("Healed ") for ln in lines if ln):
            lines = sorted(lines)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def names_looked_up(side: Side) -> None:
    """Every name looked up on both bricks, by a fresh FUSE client (nothing cached: each ``stat``
    is a named LOOKUP that AFR sends to both).

    Whether ``heal info`` lists a brick's index entry by path or as ``<gfid:...>`` is what that
    brick's inode table knows (posix ``glusterfs.gfid2path``: ``inode_path``); a restarted brick
    knows a name again once a client looks it up or lists its directory (server4_readdirp_cbk links
    the entries).  The restarted real brick 1 lists what no step looked up (``/sb-rest``) as
    ``<gfid:...>`` in 13 runs of 14, by path in one (a full suite): something outside the test
    taught it the name.  So the test's FUSE client is unmounted while the CLI runs (nothing can
    list or look up through it), and from here on both sides' bricks know every name."""
    fuse_mount(side.target, side.mnt)
    try:
        for name in NAMES:
            with contextlib.suppress(OSError):  # a split brain may answer EIO: the lookups were made
                os.stat(side.mnt / name)
    finally:
        fuse_umount(side.mnt)


def resolve(side: Side, bricks: list[str]) -> list[str]:
    """The CLI's output for each resolution step (brick names normalised); after the first (brick 1
    restarted last, lists every entry as ``<gfid:...>``), every name is looked up."""
    v = side.target.volume
    steps = [
        ("volume", "heal", v, "info", "split-brain"),
        ("volume", "heal", v, "split-brain", "bigger-file", "/sb-bigger"),
        ("volume", "heal", v, "split-brain", "bigger-file", "/sb-same"),
        ("volume", "heal", v, "split-brain", "bigger-file", f"/{META}"),
        ("volume", "heal", v, "split-brain", "latest-mtime", "/sb-mtime"),
        ("volume", "heal", v, "split-brain", "source-brick", bricks[1], "/sb-source"),
        ("volume", "heal", v, "split-brain", "source-brick", bricks[1], "/nothing-here"),
        ("volume", "heal", v, "split-brain", "source-brick", "nohost:/nobrick", "/sb-rest"),
        ("volume", "heal", v, "info", "split-brain"),
        ("volume", "heal", v, "split-brain", "source-brick", bricks[0]),
        ("volume", "heal", v, "info", "split-brain"),
    ]
    out = []
    for i, step in enumerate(steps):
        out.append(normal(side.cli(*step), bricks))
        if i == 0:
            names_looked_up(side)
    return out


def bricks_of(info: str) -> list[str]:
    return [ln[len("Brick ") :].strip() for ln in info.splitlines() if ln.startswith("Brick ")]


def outcome(side: Side) -> dict:
    """What the split brains became: per file its content and user.test through a fresh mount."""
    fuse_umount(side.mnt)
    fuse_mount(side.target, side.mnt)
    got = {}
    for name in [*FILES, META, "xattr"]:
        try:
            if name == "xattr":
                got[name] = os.getxattr(side.mnt / META, "user.test").decode()
            else:
                got[name] = (side.mnt / name).read_bytes().decode()
        except OSError as exc:
            got[name] = f"errno {exc.errno}"
    return got


def run_side(side: Side) -> dict:
    fuse_mount(side.target, side.mnt)
    try:
        split(side)
    finally:
        fuse_umount(side.mnt)  # no FUSE client while the CLI runs: nothing else looks (names_looked_up)
    try:
        first = side.cli("volume", "heal", side.target.volume, "info", "split-brain")
        bricks = bricks_of(first)
        assert len(bricks) == 2, first
        steps = resolve(side, bricks)
        return {"steps": steps, "after": outcome(side), "bricks": [side.contents(i) for i in range(2)]}
    finally:
        fuse_umount(side.mnt)


@pytest.fixture(scope="module")
def sides(real_gluster, tmp_path_factory):
    require_cluster_tools()
    tmp = tmp_path_factory.mktemp("splitbrain")
    sock = str(tmp / "glusterd.socket")
    out = {}
    with FakeGluster([], ["tcp://127.0.0.2:0", f"unix://{sock}"]) as server:
        name = server.create_volume("sbfake", replica=2)
        for k, v in OPTIONS.items():
            server.set_option(k, v, name)
        prefix = clirun.glusterd_socket_prefix(sock)

        def fake_cli(*args: str) -> str:
            cp = clirun.run_gluster(args, sock=sock, prefix=prefix)
            return cp.stdout + cp.stderr

        bricks = server.bricks(name)
        out["fake"] = run_side(
            Side(
                "fake",
                Target(name, host="127.0.0.2", port=server.info.port),
                tmp / "fake",
                lambda i: bricks[i].stop(),
                lambda i: bricks[i].start(),
                fake_cli,
                lambda i: fake_contents(server, bricks[i]),
            )  # fmt: skip
        )
    vol = real_gluster.create_volume(bricks=2, replica=2, options={**OPTIONS, **REAL_ONLY})
    try:

        def real_cli(*args: str) -> str:
            cp = clirun.run_gluster(args)
            return cp.stdout + cp.stderr

        out["real"] = run_side(
            Side(
                "real",
                Target(vol.name),
                tmp / "real",
                vol.kill_brick,
                lambda i: vol.start_force(),
                real_cli,
                lambda i: {n: Path(vol.brick_file(n, i)).read_bytes() for n in NAMES},
            )  # fmt: skip
        )
    finally:
        vol.delete()
    print(json.dumps({k: {"steps": v["steps"], "after": v["after"]} for k, v in out.items()}, indent=1))
    return out


def test_the_cli_prints_the_same(sides):
    assert sides["fake"]["steps"] == sides["real"]["steps"]


def test_the_same_copies_win(sides):
    assert sides["fake"]["after"] == sides["real"]["after"]
    for side in ("fake", "real"):
        first, second = sides[side]["bricks"]
        assert first == second, side  # healed: both copies alike
    after = sides["real"]["after"]
    assert after["sb-bigger"] == FILES["sb-bigger"][0].decode()  # brick 1's, the bigger
    assert after["sb-mtime"] == FILES["sb-mtime"][1].decode()  # brick 0's, the later
    assert after["sb-source"] == FILES["sb-source"][0].decode()  # from brick 1
    assert after["sb-rest"] == FILES["sb-rest"][1].decode()  # the rest from brick 0
    assert after["xattr"] == "brick0"
