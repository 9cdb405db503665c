"""FakeGluster(pcap=...) / serve --pcap: every connection's traffic as a capture that
Wireshark's GlusterFS dissectors (tshark 4.0) and ``fakegluster decode`` read."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gfclient
from fakegluster.server import FakeGluster
from fakegluster.testing.serve import serve_process
from tests.helpers import require_tool

_FOP_CALL = re.compile(r"^V400 [A-Z]+ Call\[Malformed Packet\]$")


def _tshark_program_calls(path: str) -> dict[str, int]:
    out = subprocess.run(
        [require_tool("tshark"), "-r", path, "-q", "-z", "rpc,programs"], capture_output=True, text=True, check=True
    ).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^([^\s(][^\n(]*)\(\d+\)\s+\d+\s+(\d+)", out, re.M)}


def _tshark_malformed(path: str) -> list[str]:
    out = subprocess.run(
        [require_tool("tshark"), "-r", path, "-Y", "_ws.malformed", "-T", "fields", "-e", "_ws.col.Info"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line]


def _some_traffic(server: FakeGluster) -> None:
    with gfclient.connect(server.uri("testvol")) as vol:
        with vol.fopen("a.img", "w") as f:
            f.write(b"x" * 200_000)  # bigger than one segment
        assert vol.fopen("a.img").read() == b"x" * 200_000
    with gfclient.connect(server.uri("testvol", transport="unix")) as vol:
        assert vol.listdir("/") == ["a.img"]


def test_capture_is_read_by_tshark_and_decode(tmp_path):
    pcap = str(tmp_path / "out.pcap")
    sock = tmp_path / "gd.sock"
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0", f"unix://{sock}"], pcap=pcap) as server:
        _some_traffic(server)
    calls = collections.Counter(r.program for r in server.calls if r.direction == "in")

    # our own reader: every record decodes and re-encodes to the same bytes
    check = subprocess.run(
        [sys.executable, "-m", "fakegluster", "decode", "--check", pcap], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    total = sum(calls.values()) * 2  # every call answered
    assert check.stdout.strip().splitlines()[-1] == f"decoded {total} messages, 0 failed"

    # Wireshark: its RPC dissector finds every call and its gluster dissectors name them.
    # tshark 4.0 throws "Malformed Packet" inside some FOP calls (CREATE, OPEN, READ,
    # WRITE...: right after the AUTH_GLUSTERFS v3 credentials), in captures of a real
    # cluster too (fixtures/pcaps/qemu_create_write_read.pcap); it still counts them.
    seen = _tshark_program_calls(pcap)
    malformed = _tshark_malformed(pcap)
    assert all(_FOP_CALL.match(line) for line in malformed), malformed
    assert seen["Gluster Dump"] == calls["GF-DUMP"]
    assert seen["Gluster Portmap"] == calls["Gluster Portmap"]
    assert seen["GlusterFS Handshake"] == calls["GlusterFS Handshake"] + calls["Gluster Handshake"]
    assert seen["GlusterFS"] == calls["GlusterFS 4.x v1"]


@pytest.mark.parametrize("real_capture", ["qemu_create_write_read.pcap"])
def test_tshark_malformed_calls_happen_on_real_captures_too(real_capture):
    """The exception above, read off a capture of a real 10.3 cluster (the reason it is one)."""
    malformed = _tshark_malformed(str(Path(__file__).parent.parent / "fixtures" / "pcaps" / real_capture))
    assert malformed and all(_FOP_CALL.match(line) for line in malformed), malformed


def test_serve_pcap_option(tmp_path):
    pcap = tmp_path / "serve.pcap"
    with serve_process(["--pcap", str(pcap)], volumes=["testvol"], listen=["tcp://127.0.0.1:0"]) as served:
        with gfclient.connect(f"gluster://127.0.0.1:{served.port()}/testvol") as vol:
            vol.fopen("f", "w").write(b"hello")
    assert served.returncode == 0
    seen = _tshark_program_calls(str(pcap))
    assert {"Gluster Dump", "GlusterFS Handshake", "Gluster Portmap"} <= set(seen)
