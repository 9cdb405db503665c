"""The transcript machinery (fakegluster.testing.clirun) and the recorded real transcript
(fixtures/cli/, tools/record_cli.py): placeholders, normalising, decoding relayed bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakegluster.decode import decode_capture
from fakegluster.proto import cli
from fakegluster.testing import clirun, cliscenario
from tests.helpers import require_tool

ROOT = Path(__file__).parents[2]
TRANSCRIPT = json.loads((ROOT / "fixtures" / "cli" / "transcript.json").read_text())


def test_expand_fills_placeholders_and_splits_like_a_shell():
    values = {"vol:a": "fgreal-1-ab-1", "host": "vm", "root": "/tmp/fg-real-x"}
    assert clirun.expand("volume create {vol:a} {host}:{root}/a/b1 force", values) == [
        "volume",
        "create",
        "fgreal-1-ab-1",
        "vm:/tmp/fg-real-x/a/b1",
        "force",
    ]
    with pytest.raises(KeyError):
        clirun.expand("volume info {vol:b}", values)


def test_normaliser_replaces_values_where_they_stand():
    n = clirun.Normaliser({"vol:a": "fgreal-1-ab-1", "host": "vm", "root": "/tmp/fg-real-x"})
    u1, u2 = "ae423e5e-3060-407f-bcd2-ac6ff3582fb4", "546cca46-a24c-4548-a5bd-ba293af6097b"
    text = (
        f"Volume Name: fgreal-1-ab-1\nVolume ID: {u2}\nBrick1: vm:/tmp/fg-real-x/a/b1\n"
        f"node {u1} again {u2}\nvmware stays\n"
        "Brick vm:/tmp/fg-real-x/a/b1      58744     0          Y       4761\n"
        "Self-heal Daemon on localhost               N/A       N/A        Y       4810\n"
        "<hostname>vm</hostname><port>58744</port><tcp>58744</tcp><rdma>N/A</rdma><pid>4761</pid>\n"
        "fgreal-99-cd-3\n    option remote-host vm\n"
    )
    assert n.text(text) == (
        "Volume Name: {vol:a}\nVolume ID: {uuid-1}\nBrick1: {host}:{root}/a/b1\n"
        "node {uuid-2} again {uuid-1}\nvmware stays\n"
        "Brick {host}:{root}/a/b1      {port}     0          Y       {pid}\n"
        "Self-heal Daemon on localhost               N/A       N/A        Y       {pid}\n"
        "<hostname>{host}</hostname><port>{port}</port><tcp>{port}</tcp><rdma>N/A</rdma><pid>{pid}</pid>\n"
        "    option remote-host {host}\n"
    )
    # dict values reuse the numbering of the outputs; unseen uuids and transaction ids are generic
    assert n.value("", {"volume0.volume_id": u2, "brick0.port": "58744", "brick0.rdma_port": "0"}) == {
        "volume0.volume_id": "{uuid-1}",
        "brick0.port": "{port}",
        "brick0.rdma_port": "0",
    }
    assert n.value("x", "0e5c3a1c-0000-4000-8000-000000000000") == "{uuid}"
    assert n.value("transaction_id", "hex:00") == "{txid}"
    assert n.value("brick0.hostname", "vm") == "{host}"


def test_comparable_ignores_table_padding():
    assert clirun.comparable("a        b   \nc  d") == clirun.comparable("a b\nc d") == "a b\nc d"


def test_decode_exchange_reads_the_captured_cli_connection():
    """The bytes of one CLI connection of cli_mgmt.pcap, as a relay sees them."""
    msgs = [m for m in decode_capture(str(ROOT / "fixtures" / "pcaps" / "cli_mgmt.pcap")) if m.stream == 0]
    c2s = b"".join((0x80000000 | len(m.record)).to_bytes(4, "big") + m.record for m in msgs if m.direction == 0)
    s2c = b"".join((0x80000000 | len(m.record)).to_bytes(4, "big") + m.record for m in msgs if m.direction == 1)
    decoded = clirun.decode_exchange(c2s, s2c)
    kinds = [(d["type"], d["proc"]) for d in decoded]
    assert kinds == [("call", "CREATE_VOLUME"), ("call", "FETCHSPEC"), ("reply", "CREATE_VOLUME")]
    assert decoded[2]["result"]["dict"]["volname"] == "capcli"
    assert "cred" not in decoded[0]


def test_the_recorded_transcript_follows_the_scenario():
    """fixtures/cli/transcript.json was recorded from cliscenario.STEPS (tools/record_cli.py)."""
    assert TRANSCRIPT["recorded_with"].startswith("glusterfs 10.3")
    assert [s["id"] for s in TRANSCRIPT["steps"]] == [s.id for s in cliscenario.STEPS]
    assert [s["args"] for s in TRANSCRIPT["steps"]] == [s.args for s in cliscenario.STEPS]
    by_id = {s["id"]: s for s in TRANSCRIPT["steps"]}
    # every unix step that reached glusterd made exactly one CLI (or handshake GETSPEC) call
    for step in TRANSCRIPT["steps"]:
        calls = [m for m in step["rpc"] if m["type"] == "call" and m["program"] != "GlusterFS Callback"]
        assert len(calls) <= 1, step["id"]
    # over TCP, what is not in the read-only program is PROC_UNAVAIL (capture 8b)
    for sid in ("tcp-set", "tcp-get", "tcp-create", "tcp-stop"):
        (reply,) = [m for m in by_id[sid]["rpc"] if m["type"] == "reply"]
        assert reply["stat"] == "PROC_UNAVAIL" and reply["proc"] not in cli.TCP_PROCEDURES
    for sid in ("tcp-info", "tcp-status", "tcp-pool-list"):
        (reply,) = [m for m in by_id[sid]["rpc"] if m["type"] == "reply"]
        assert reply["stat"] == "SUCCESS" and reply["proc"] in cli.TCP_PROCEDURES
    assert by_id["heal-info"]["rpc"] == []  # glfsheal, not a CLI call
    assert (
        by_id["create-dist"]["stdout"] == "volume create: {vol:dist}: success: please start the volume to access data\n"
    )


@pytest.mark.real
def test_relay_carries_the_real_cli_to_the_fake_glusterd(tmp_path):
    """The unmodified CLI through a Relay in front of the fake's unix socket: ``system::
    getspec`` (the handshake's GETSPEC, which the fake serves there) prints the volfile."""
    require_tool("gluster")
    from fakegluster.server import FakeGluster

    sock = str(tmp_path / "gd.sock")
    with FakeGluster(["testvol"], [f"unix://{sock}"]), clirun.Relay(sock) as relay:
        cp = clirun.run_gluster(["system::", "getspec", "testvol"], sock=relay.path, timeout=30)
        (exchange,) = relay.take()
    assert cp.returncode == 0, cp.stderr
    call, reply = clirun.decode_exchange(*exchange)
    spec = reply["result"]["spec"]
    assert (call["proc"], call["args"]["key"], reply["result"]["op_ret"]) == ("GETSPEC", "testvol", len(spec))
    assert "type protocol/client" in spec and cp.stdout == spec + "\n"  # the CLI adds a newline
