"""serve_process: `fakegluster serve` as a child, ready when it says so."""

from __future__ import annotations

import pathlib
import re
import signal

import pytest

import gfclient
from fakegluster.testing.serve import ServeError, serve_process


def test_started_parsed_used_and_stopped(tmp_path):
    sock = tmp_path / "g.sock"
    with serve_process(
        ["--log-level", "info"], volumes=["a", f"b={tmp_path}"], listen=["tcp://127.0.0.1:0", f"unix://{sock}"]
    ) as served:
        port = served.port()
        assert served.listening == [f"tcp://127.0.0.1:{port}", f"unix://{sock}"]
        assert served.volumes == {
            "a": [f"gluster://127.0.0.1:{port}/a/", f"gluster+unix:///a/?socket={sock}"],
            "b": [f"gluster://127.0.0.1:{port}/b/", f"gluster+unix:///b/?socket={sock}"],
        }
        with gfclient.connect(served.volumes["b"][0]) as vol:
            vol.makedirs("x/y")
        assert (tmp_path / "x" / "y").is_dir()
        with pytest.raises(KeyError, match="::1"):
            served.port("::1")
    assert served.returncode == 0 and "stopping on SIGTERM" in served.stderr()
    assert served.stop(signal.SIGKILL) == 0  # already stopped: nothing sent


def test_a_server_that_cannot_start_is_reported_with_its_stderr():
    with pytest.raises(ServeError, match="exited with 2(.|\n)*scheme must be tcp:// or unix://"):
        serve_process(listen=["http://x:1"])


def test_nobody_waits_for_ready_by_hand():
    """One helper starts `fakegluster serve` and waits for it (it was written six times, then
    five more): whatever reads "ready" off its stdout outside serve.py is another copy."""
    root = pathlib.Path(__file__).resolve().parent.parent
    here = pathlib.Path(__file__).resolve()
    copies = [
        str(p.relative_to(root))
        for d in ("tests", "bench", "tools", "fakegluster", "client")
        for p in (root / d).rglob("*.py")
        if p.resolve() != here
        and p.name != "serve.py"
        and "fakegluster" in (text := p.read_text())
        and re.search(r"""(!=|==|in) \(?["']ready["']""", text)
        and '"serve"' in text
    ]
    assert copies == [], "use fakegluster.testing.serve.serve_process"
