"""The command line as a user meets it: expected failures are one line naming the address or
path (exit status 2, no traceback), SIGHUP stops like SIGTERM, --version, and ``decode``'s
truncation warning and port filter."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import pytest

import fakegluster
import gfclient
from fakegluster.server import FakeGluster
from fakegluster.testing.serve import serve_process
from tests.helpers import require_root

SERVE = [sys.executable, "-m", "fakegluster", "serve"]
NOBODY = "65534"


def _serve(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [*SERVE, *args]
    if user is not None:  # an unprivileged user: root writes anywhere
        argv = [shutil.which("setpriv") or "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def _one_line_error(cp: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert cp.returncode == 2, (cp.returncode, cp.stdout, cp.stderr)
    lines = cp.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in cp.stderr, cp.stderr
    assert lines[0].startswith("fakegluster serve: "), lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cp = _serve("--listen", f"tcp://127.0.0.1:{port}")
    _one_line_error(cp, f"tcp://127.0.0.1:{port}", "Address already in use")


def test_address_not_available():
    cp = _serve("--listen", "tcp://192.0.2.1:0")  # TEST-NET-1: not an address of this machine
    _one_line_error(cp, "tcp://192.0.2.1:0", "Cannot assign requested address")


def test_socket_directory_missing(tmp_path):
    path = tmp_path / "missing" / "gd.sock"
    cp = _serve("--listen", "tcp://127.0.0.1:0", "--listen", f"unix://{path}")
    _one_line_error(cp, f"unix://{path}", "No such file or directory")


@pytest.fixture
def root_owned_dir():
    """A directory of root's (mode 755) that an unprivileged user can reach, not write."""
    require_root("running the server as another user")
    top = tempfile.mkdtemp(prefix="fg-ro-")  # pytest's tmp_path is under a 0700 directory
    os.chmod(top, 0o755)
    os.mkdir(os.path.join(top, "ro"), 0o755)
    yield os.path.join(top, "ro")
    shutil.rmtree(top, ignore_errors=True)


def test_socket_directory_not_writable(root_owned_dir):
    sock = f"{root_owned_dir}/gd.sock"
    cp = _serve("--listen", "tcp://127.0.0.1:0", "--listen", f"unix://{sock}", user=NOBODY)
    _one_line_error(cp, f"unix://{sock}", "Permission denied")


def test_volume_directory_not_writable(root_owned_dir):
    cp = _serve("--listen", "tcp://127.0.0.1:0", "--volume", f"v={root_owned_dir}", user=NOBODY)
    _one_line_error(cp, root_owned_dir, "Permission denied")


def test_call_log_not_writable(tmp_path):
    cp = _serve("--listen", "tcp://127.0.0.1:0", "--call-log", str(tmp_path / "missing" / "calls.jsonl"))
    _one_line_error(cp, "--call-log", "calls.jsonl", "No such file or directory")


def test_pcap_not_writable(tmp_path):
    cp = _serve("--listen", "tcp://127.0.0.1:0", "--pcap", str(tmp_path / "missing" / "out.pcap"))
    _one_line_error(cp, "out.pcap", "No such file or directory")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly(tmp_path, sig):
    sock = tmp_path / "gd.sock"
    with serve_process(volumes=["testvol"], listen=["tcp://127.0.0.1:0", f"unix://{sock}"]) as served:
        assert sock.exists()
        code = served.stop(sig)
    assert code == 0 and f"stopping on {sig.name}" in served.stderr()
    assert not sock.exists()  # cleaned up, as on SIGTERM


def test_version():
    cp = subprocess.run([sys.executable, "-m", "fakegluster", "--version"], capture_output=True, text=True)
    assert cp.returncode == 0 and cp.stdout.strip() == f"fakegluster {fakegluster.__version__}"
    from importlib.metadata import version

    assert version("fakegluster") == fakegluster.__version__


def _capture(tmp_path) -> tuple[str, int]:
    pcap = str(tmp_path / "c.pcap")
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"], pcap=pcap) as server:
        with gfclient.connect(server.uri("testvol")) as vol:
            vol.fopen("a", "w").write(b"x" * 100_000)
        brick_port = server.bricks()[0].port
    return pcap, brick_port


def _decode(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakegluster", "decode", *args], capture_output=True, text=True)


def test_decode_filters_by_port(tmp_path):
    pcap, brick_port = _capture(tmp_path)
    everything = _decode(pcap).stdout.splitlines()
    brick = _decode("--port", str(brick_port), pcap).stdout.splitlines()
    assert 0 < len(brick) < len(everything)
    assert all(f":{brick_port}" in line for line in brick)
    assert any('"GETSPEC"' in line for line in everything) and not any('"GETSPEC"' in line for line in brick)


def test_decode_warns_on_a_truncated_capture(tmp_path):
    pcap, _ = _capture(tmp_path)
    whole = _decode(pcap)
    assert whole.returncode == 0 and "warning" not in whole.stderr
    data = open(pcap, "rb").read()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    got = _decode(str(cut))
    assert f"fakegluster decode: warning: {cut} is truncated: the file ends inside a packet" in got.stderr
    assert len(got.stdout.splitlines()) < len(whole.stdout.splitlines())
