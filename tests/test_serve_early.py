"""`fakegluster serve` binds its glusterd listeners before the heavy imports (trio, the server),
so a client started alongside waits in the kernel's accept queue instead of failing: libgfapi
10.3's glfs_init does not retry a refused connection ("failed to connect")."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

import gfclient
from tests.helpers import require_tool, wait_until

_LISTEN, _ESTABLISHED = "0A", "01"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tcp_states(port: int, *, remote: bool) -> list[str]:
    """States of the IPv4 TCP sockets whose local (or remote) port is ``port`` (/proc/net/tcp:
    no connection made to look)."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr = fields[2 if remote else 1]
            if int(addr.split(":")[1], 16) == port:
                out.append(fields[3])
    return out


def test_listeners_are_bound_before_trio_is_imported():
    """What makes the early bind early: _prebind's sockets listen and trio is not imported yet
    (a fresh interpreter, as `fakegluster serve` runs)."""
    port = _free_port()
    code = (
        "import sys\n"
        "from fakegluster.cli import build_parser, _prebind, _close_all\n"
        f"args = build_parser().parse_args(['serve', '--listen', 'tcp://127.0.0.1:{port}'])\n"
        "bound = _prebind(args)\n"
        "print(sorted(bound), [s.getsockname()[1] for v in bound.values() for s in v], 'trio' in sys.modules)\n"
        "_close_all(bound)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == f"['tcp://127.0.0.1:{port}'] [{port}] False"


def test_listeners_are_bound_before_the_arguments_are_parsed():
    """The listeners of a plain command line are bound before argparse is even imported
    (a fresh interpreter, as `fakegluster serve` runs), and _prebind then adopts those very
    sockets."""
    port = _free_port()
    code = (
        "import sys\n"
        "from fakegluster.cli import _early_bind, _prebind, _close_all\n"
        f"argv = ['serve', '--volume', 'v', '--listen=tcp://127.0.0.1:{port}']\n"
        "early = _early_bind(argv)\n"
        "fds = [s.fileno() for _, socks in early.values() for s in socks]\n"
        "print([s.getsockname()[1] for _, socks in early.values() for s in socks], 'argparse' in sys.modules)\n"
        "from fakegluster.cli import build_parser\n"
        "bound = _prebind(build_parser().parse_args(argv), early)\n"
        "print([s.fileno() for v in bound.values() for s in v] == fds, early)\n"
        "_close_all(bound)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == [f"[{port}] False", "True {}"]


@pytest.mark.parametrize(
    "argv",
    [
        ["serve"],
        ["serve", "--listen", "tcp://127.0.0.1:0"],
        ["serve", "--listen", "tcp://LOCALHOST:0", "--listen=tcp://[::1]:0/"],
        ["serve", "--volume", "a;replica=3", "--listen", "tcp://127.0.0.1:0", "--set", "k=v"],
        ["serve", "--listen", "unix:///tmp/x.sock"],
        ["serve", "--listen", "tcp://127.0.0.1:99999"],
        ["serve", "--listen", "tcp://u@127.0.0.1:0"],
        ["serve", "--listen", "tcp://::1:0"],
        ["serve", "--lis", "tcp://127.0.0.1:0"],
        ["serve", "--cluster", "c.toml"],
        ["serve", "--clu", "c.toml", "--listen", "tcp://127.0.0.1:0"],
        ["decode", "--listen", "tcp://127.0.0.1:0"],
    ],
)
def test_the_early_reading_of_listen_agrees_with_argparse(argv):
    """What _early_listen reads before argparse is what argparse and parse_listen read, or it
    declines (None) and the usual path binds."""
    from fakegluster.cli import _early_listen, build_parser
    from fakegluster.server.listen import DEFAULT_LISTEN, parse_listen

    found = _early_listen(argv)
    if found is None:
        return
    args = build_parser().parse_args(argv)
    assert args.cluster is None
    lis = [parse_listen(u) for u in args.listen or [DEFAULT_LISTEN]]
    assert [(li.host, li.port) for li in lis] == [(host, port) for _, host, port in found]
    assert [url for url, _, _ in found] == (args.listen or [DEFAULT_LISTEN])


def test_an_early_listener_argparse_reads_otherwise_is_bound_again():
    """A socket bound early for an address argparse reads differently is closed and the right
    one bound (the check that makes the early reading safe)."""
    from fakegluster.cli import _close_all, _prebind, build_parser
    from fakegluster.server.bind import tcp_listeners

    port = _free_port()
    wrong = tcp_listeners("127.0.0.1", 0)
    early = {f"tcp://127.0.0.1:{port}": (("127.0.0.1", wrong[0].getsockname()[1]), wrong)}
    bound = _prebind(build_parser().parse_args(["serve", "--listen", f"tcp://127.0.0.1:{port}"]), early)
    try:
        assert [s.getsockname()[1] for v in bound.values() for s in v] == [port]
        assert wrong[0].fileno() == -1 and early == {}
    finally:
        _close_all(bound)


def test_a_listener_that_cannot_be_bound_early_is_reported_as_before():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "fakegluster", "serve", "--listen", f"tcp://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2
    assert r.stderr == f"fakegluster serve: cannot listen on tcp://127.0.0.1:{port}: Address already in use\n"


@pytest.mark.real
def test_qemu_img_queued_before_the_server_is_ready_is_served(tmp_path):
    """A real qemu-img (libgfapi 10.3) connecting while `serve` is still importing: the server
    is stopped (SIGSTOP) as soon as its port listens, qemu-img connects (the kernel completes
    the handshake: ESTABLISHED in /proc/net/tcp), then the server goes on and serves it."""
    require_tool("qemu-img")
    port = _free_port()
    argv = [sys.executable, "-m", "fakegluster", "serve", "--listen", f"tcp://127.0.0.1:{port}"]
    with open(tmp_path / "out", "w") as out:
        server = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _LISTEN in _tcp_states(port, remote=False) or server.poll() is not None, "the listener")
        os.kill(server.pid, signal.SIGSTOP)
        assert server.poll() is None, (tmp_path / "out").read_text()
        uri = f"gluster://127.0.0.1:{port}/testvol/early.img"
        client = subprocess.Popen(
            ["qemu-img", "create", "-q", "-f", "raw", uri, "1M"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_until(lambda: _ESTABLISHED in _tcp_states(port, remote=True), "qemu-img's connection")
        os.kill(server.pid, signal.SIGCONT)
        output = client.communicate(timeout=120)[0]
        assert client.returncode == 0, output
        with gfclient.connect(f"gluster://127.0.0.1:{port}/testvol") as vol:  # the adopted listener, ready
            assert vol.stat("early.img").st_size == 1 << 20
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.terminate()
        server.wait(30)
