"""What the gluster CLI does to the fake is what Python sees, and the other way round: a volume
made with ``FakeGluster.create_volume`` shows in ``gluster volume info``, one the CLI made in
``FakeGluster.volume_model``; options set on either side show on the other; the nodes of a
multi-node fake are the CLI's pool."""

from __future__ import annotations

import shutil
import tempfile
import xml.etree.ElementTree as ET

import pytest

from fakegluster.mgmt import options
from fakegluster.testing import clirun
from tests.helpers import require_tool

pytestmark = pytest.mark.real  # the gluster CLI binary


@pytest.fixture
def fake(tmp_path):
    require_tool("gluster")
    from fakegluster.server import FakeGluster

    sock = str(tmp_path / "gd.sock")
    root = tempfile.mkdtemp(prefix="fg-fake-", dir="/tmp")
    try:
        with FakeGluster(["py;replica=3"], [f"unix://{sock}", "tcp://127.0.0.1:0"], nodes=3) as server:
            yield server, sock, root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _cli(sock: str, *args: str) -> str:
    cp = clirun.run_gluster(list(args), sock=sock, timeout=60)
    assert cp.returncode == 0, (args, cp.stdout, cp.stderr)
    return cp.stdout


def test_volumes_and_options_agree_both_ways(fake):
    server, sock, root = fake
    # Python -> CLI
    info = ET.fromstring(_cli(sock, "volume", "info", "py", "--xml")).find("volInfo/volumes/volume")
    m = server.volume_model("py")
    assert info.findtext("id") == m.volume_id and info.findtext("typeStr") == "Replicate"
    assert [b.findtext("name") for b in info.iter("brick")] == [b.name for b in m.bricks]
    server.set_option("performance.write-behind", "off", volume="py")
    assert "performance.write-behind                 off" in _cli(
        sock, "volume", "get", "py", "performance.write-behind"
    )
    # CLI -> Python
    host = server.cluster.nodes[0].host
    _cli(sock, "volume", "create", "cli", f"{host}:{root}/b1", f"{host}:{root}/b2", "force")
    _cli(sock, "volume", "set", "cli", "network.ping-timeout", "7")
    cm = server.volume_model("cli")
    assert [b.path for b in cm.bricks] == [f"{root}/b1", f"{root}/b2"] and cm.options["network.ping-timeout"] == "7"
    assert [r.value for r in options.get_option(cm, "network.ping-timeout")] == ["7"]
    _cli(sock, "volume", "start", "cli")
    status = ET.fromstring(_cli(sock, "volume", "status", "cli", "--xml"))
    ports = [int(n.findtext("port")) for n in status.iter("node")]
    assert ports == [b.port for b in server.bricks("cli")] and all(ports)
    _cli(sock, "volume", "stop", "cli")
    _cli(sock, "volume", "delete", "cli")
    assert "cli" not in server.volumes


def test_the_nodes_are_the_clis_pool(fake):
    server, sock, _ = fake
    nodes = server.nodes
    pool = _cli(sock, "pool", "list").splitlines()[1:]
    assert {line.split()[0] for line in pool} == {n.uuid for n in nodes}
    peers = _cli(sock, "peer", "status")
    assert peers.startswith("Number of Peers: 2\n")
    for n in nodes[1:]:
        assert f"Hostname: {n.host}\nUuid: {n.uuid}\nState: Peer in Cluster (Connected)" in peers
    assert _cli(sock, "peer", "probe", nodes[1].host).startswith("peer probe: Host")
