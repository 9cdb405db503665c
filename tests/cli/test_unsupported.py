"""What the fake glusterd does not implement, the unmodified CLI reports clearly: every other
command of the gluster CLI ends within seconds, with a failing exit status and "... is not
supported by fakegluster" in its output, never a hang or a silent success.  (A few callbacks
print their own text only, from a reply type without op_errstr: ``system:: getwd``, ``system::
mount``; and ``snapshot status`` prints "Snapshot command failed" before looking at op_errstr.)
"""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from fakegluster.testing import clirun
from tests.helpers import require_tool

pytestmark = pytest.mark.real  # the gluster CLI binary

#: commands (HOST: the first fake node, HOST2: another) and the words their output must hold
UNSUPPORTED = [
    ("volume quota v enable", "volume quota is not supported by fakegluster"),
    ("volume quota v list", "volume quota is not supported by fakegluster"),
    ("volume profile v start", "volume profile/top is not supported by fakegluster"),
    ("volume top v read", "volume profile/top is not supported by fakegluster"),
    ("volume rebalance v start", "volume rebalance is not supported by fakegluster"),
    ("volume add-brick v replica 3 HOST:/tmp/fg-x1 HOST:/tmp/fg-x2 HOST:/tmp/fg-x3 force", "volume add-brick is not"),
    ("volume remove-brick v HOST:/tmp/fg-a start", "volume remove-brick is not supported"),
    ("volume replace-brick v HOST:/tmp/fg-a HOST:/tmp/fg-b commit force", "volume replace-brick is not supported"),
    ("volume reset-brick v HOST:/tmp/fg-a start", "volume reset-brick is not supported"),
    ("volume statedump v", "volume statedump is not supported by fakegluster"),
    ("volume log v rotate", "volume log rotate is not supported by fakegluster"),
    ("volume barrier v enable", "volume barrier is not supported by fakegluster"),
    ("volume clear-locks v / kind all posix", "volume clear-locks is not supported by fakegluster"),
    ("volume bitrot v enable", "volume bitrot is not supported by fakegluster"),
    ("volume sync HOST", "volume sync is not supported by fakegluster"),
    ("volume geo-replication status", "geo-replication is not supported by fakegluster"),
    ("volume status v detail", "is not supported by fakegluster"),
    ("volume heal v statistics", "volume heal command is not supported by fakegluster"),
    ("volume set all cluster.brick-multiplex on", "volume set all cluster.brick-multiplex is not supported"),
    ("snapshot list", "snapshot is not supported by fakegluster"),
    ("snapshot create s1 v", "snapshot is not supported by fakegluster"),
    ("peer detach HOST2", "peer detach is not supported by fakegluster"),
    ("system:: uuid reset", "system:: uuid reset is not supported by fakegluster"),
    ("system:: fsm log", "fsm log is not supported by fakegluster"),
    ("system:: execute x", "system:: execute is not supported by fakegluster"),
    ("get-state", "get-state is not supported by fakegluster"),
    ("nfs-ganesha enable", "nfs-ganesha is not supported by fakegluster"),
    ("system:: getwd", "getwd failed"),
]


@pytest.fixture(scope="module")
def fake3(tmp_path_factory):
    require_tool("gluster")
    from fakegluster.server import FakeGluster

    sock = str(tmp_path_factory.mktemp("cliunsup") / "gd.sock")
    with FakeGluster(["v;replica=3"], [f"unix://{sock}"], nodes=3) as server:
        yield server, sock


def test_other_commands_fail_clearly_and_quickly(fake3):
    server, sock = fake3
    host, host2 = server.cluster.nodes[0].host, server.cluster.nodes[1].host
    before = dict(server.volume_model("v").options)

    def run(item: tuple[str, str]) -> tuple[str, str, int, str, float]:
        args, want = item
        words = [w.replace("HOST2", host2).replace("HOST", host) for w in args.split()]
        t0 = time.monotonic()
        cp = clirun.run_gluster(words, sock=sock, timeout=60)
        return args, want, cp.returncode, cp.stdout + cp.stderr, time.monotonic() - t0

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(run, UNSUPPORTED))
    bad = [
        f"gluster {args}: exit {rc}, {dt:.1f} s: {out!r}"
        for args, want, rc, out, dt in results
        if rc == 0 or want not in out or dt > 30
    ]
    assert not bad, "\n".join(bad)
    # nothing changed on the way: the volume's options and the pool are as they were
    assert dict(server.volume_model("v").options) == before
    assert len(server.cluster.nodes) == 3 and all(n.up for n in server.cluster.nodes)
