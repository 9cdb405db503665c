"""A restarted server keeps its volume's identity, and clients holding fds carry on (issue #14
defect 7).  The judge: a real 10.3 brick killed and brought back with ``volume start force``
lets the same gfclient go on with all its held fds; a fake ``serve`` killed with SIGKILL and
started again on the same directory must do the same (same volume-id, credentials and, when
free, brick port; gfclient reconnects and reopens its fds)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

import gfclient
from fakegluster.server.identity import IDENTITY_FILE, VolumeIdentity
from fakegluster.testing.procs import filter_gfapi_log
from fakegluster.testing.serve import ServeProcess, serve_process
from gfclient.errors import GlusterConnectionError
from tests.helpers import require_tool


def _carry_on(uri: str, restart: Callable[[], None]) -> list[bytes]:
    """Hold 3 fds, restart the server, use the same fds again; returns what they read."""
    with gfclient.connect(uri) as vol:
        held = []
        for i in range(3):
            f = vol.fopen(f"held-{i}", "w+")
            f.pwrite(b"before-%d;" % i, 0)
            f.fsync()
            held.append(f)
        restart()
        deadline = time.monotonic() + 30
        while True:  # gfclient reconnects every 3 s (rpc_clnt_reconnect), then reopens the fds
            try:
                vol.stat("held-0")
                if all(f.fd != -1 for f in held):
                    break
            except GlusterConnectionError:
                pass
            assert time.monotonic() < deadline, "gfclient did not reconnect and reopen within 30 s"
            time.sleep(0.2)
        out = []
        for i, f in enumerate(held):
            f.pwrite(b"after-%d" % i, 9)
            out.append(f.pread(100, 0))
            f.close()
        return out


@pytest.mark.real
def test_a_real_brick_restarted_with_start_force_lets_held_fds_carry_on(real_gluster):
    vol = real_gluster.create_volume()
    try:

        def restart() -> None:
            vol.kill_brick(0)
            vol.start_force()

        assert _carry_on(f"gluster://127.0.0.1/{vol.name}", restart) == [
            b"before-%d;after-%d" % (i, i) for i in range(3)
        ]
    finally:
        vol.delete()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(directory: str, port: int) -> ServeProcess:
    return serve_process(volumes=[f"v={directory}"], listen=[f"tcp://127.0.0.1:{port}"])


class _QemuIo:
    """An interactive qemu-io (commands on its stdin, one at a time): the test says when each
    IO happens, instead of a ``sleep`` in a ``-c`` script racing the restart under load."""

    def __init__(self, qemu_io: str, image: str) -> None:
        self.proc = subprocess.Popen(
            [qemu_io, "-f", "raw", image], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        self.transcript: list[str] = []
        self.watchdog = threading.Timer(120, self.proc.kill)  # a hung call ends the test, not CI
        self.watchdog.start()

    def command(self, line: str) -> str:
        """Run one command; its first output line ('wrote/read N/N ...' or the error)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        while True:
            out = self.proc.stdout.readline()
            assert out, f"qemu-io exited: {self.transcript} {filter_gfapi_log(self.proc.stderr.read())}"
            self.transcript.append(out)
            out = out.removeprefix("qemu-io> ")
            if out.startswith(("wrote ", "read ", "Pattern verification")) or "failed" in out:
                return out.strip()


def test_a_restarted_serve_lets_held_fds_carry_on(tmp_path):
    """gfclient holds 3 fds and qemu-io (libgfapi) one; serve is killed and started again."""
    qemu_img, qemu_io = require_tool("qemu-img"), require_tool("qemu-io")
    port = _free_port()
    procs = [_serve(str(tmp_path), port)]
    first = VolumeIdentity.load_or_create(str(tmp_path / ".fakegluster"), "v")
    image = f"gluster://127.0.0.1:{port}/v/q.raw"
    subprocess.run([qemu_img, "create", "-f", "raw", image, "1M"], check=True, capture_output=True, timeout=60)
    qio = _QemuIo(qemu_io, image)

    def restart() -> None:
        procs[-1].stop(signal.SIGKILL)
        procs.append(_serve(str(tmp_path), port))

    try:
        assert qio.command("write -P 0x11 0 64k") == "wrote 65536/65536 bytes at offset 0"
        assert _carry_on(f"gluster://127.0.0.1:{port}/v", restart) == [b"before-%d;after-%d" % (i, i) for i in range(3)]
        # libgfapi's fd: a call fails ENOTCONN until its client reconnects (every 3 s,
        # rpc_clnt_reconnect) and reopens the fd (client_post_handshake); then it works again
        deadline = time.monotonic() + 30
        while (out := qio.command("read -P 0x11 0 64k")) != "read 65536/65536 bytes at offset 0":
            assert out == "read failed: Transport endpoint is not connected", qio.transcript
            assert time.monotonic() < deadline, "qemu-io's fd did not carry on within 30 s"
            time.sleep(0.5)
        assert qio.command("write -P 0x22 64k 64k") == "wrote 65536/65536 bytes at offset 65536"
        assert qio.command("read -P 0x22 64k 64k") == "read 65536/65536 bytes at offset 65536"
    finally:
        qio.watchdog.cancel()
        qio.proc.kill()  # no need to wait for glfs_fini (~10 s)
        qio.proc.communicate()
        for p in procs:
            p.stop(signal.SIGKILL)
    assert (tmp_path / "q.raw").read_bytes()[:131072] == b"\x11" * 65536 + b"\x22" * 65536
    again = VolumeIdentity.load_or_create(str(tmp_path / ".fakegluster"), "v")
    assert again == first  # the same volume-id, credentials and brick port
    assert (tmp_path / "held-2").read_bytes() == b"before-2;after-2"


def test_identity_is_kept_in_the_hidden_folder_and_the_brick_port_reused(tmp_path):
    port = _free_port()
    _serve(str(tmp_path), port).stop()
    kept = json.loads((tmp_path / ".fakegluster" / IDENTITY_FILE).read_text())
    assert set(kept) == {"version", "name", "volume-id", "username", "password", "brick-ports"}
    assert kept["brick-ports"] == {str(tmp_path): kept["brick-ports"][str(tmp_path)]}
    with _serve(str(tmp_path), port):
        from tests.rawclient import Mount

        m = Mount("127.0.0.1", port, "v")
        assert m.brick_port == kept["brick-ports"][str(tmp_path)]
        assert m.setvolume_reply.dict["volume-id"] == kept["volume-id"].encode() + b"\0"
        assert (m.options["username"], m.options["password"]) == (kept["username"], kept["password"])
        m.close()
    # a port another process holds is only a preference: the brick takes another one
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", kept["brick-ports"][str(tmp_path)]))
        squatter.listen()
        _serve(str(tmp_path), port).stop()
    moved = json.loads((tmp_path / ".fakegluster" / IDENTITY_FILE).read_text())
    assert moved["volume-id"] == kept["volume-id"] and moved["brick-ports"] != kept["brick-ports"]


def test_an_unreadable_identity_is_replaced(tmp_path):
    folder = tmp_path / ".fakegluster"
    os.mkdir(folder)
    (folder / IDENTITY_FILE).write_text("{not json")
    ident = VolumeIdentity.load_or_create(str(folder), "v")
    assert VolumeIdentity.load_or_create(str(folder), "v") == ident
    assert re.fullmatch(r"[0-9a-f-]{36}", ident.volume_id)
