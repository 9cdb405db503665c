"""gfclient logs like a library: mount and every FOP at DEBUG, nothing on stderr when the
application configured no logging (a brick going away used to print a WARNING there)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import gfclient
from fakegluster.server import FakeGluster


def test_mount_and_fops_at_debug(caplog):
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as server:
        caplog.set_level(logging.DEBUG, logger="gfclient")
        with gfclient.connect(server.uri("testvol")) as vol:
            vol.fopen("a", "w").write(b"x")
            try:
                vol.stat("missing")
            except FileNotFoundError:
                pass
    messages = [(r.name, r.levelno, r.getMessage()) for r in caplog.records if r.name.startswith("gfclient")]
    uri = server.uri("testvol")
    assert ("gfclient.mount", logging.DEBUG, f"mounted {uri}") in messages
    assert ("gfclient.fops", logging.DEBUG, "CREATE a: 0") in messages
    assert ("gfclient.fops", logging.DEBUG, "WRITE a: 1") in messages
    assert ("gfclient.fops", logging.DEBUG, "LOOKUP missing: ENOENT") in messages


def test_nothing_on_stderr_without_logging_config():
    script = textwrap.dedent("""
        import gfclient
        from fakegluster.server import FakeGluster

        server = FakeGluster(["testvol"], ["tcp://127.0.0.1:0"])
        server.start()
        vol = gfclient.connect(server.uri("testvol"))
        vol.listdir("/")
        server.reset()  # the brick connection is closed under the client: a WARNING record
        try:
            vol.listdir("/")
        except OSError:
            pass
        vol.close()
        server.stop()
        print("done")
    """)
    cp = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert cp.stdout.strip() == "done" and cp.stderr == "", cp.stderr
