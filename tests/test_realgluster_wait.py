"""The real-cluster harness waits for a busy glusterd: a ``gluster`` CLI call that times out
(glusterd answering other sessions' volume operations first) is asked again until
``ready_timeout``, not raised (seen: 137 real tests erroring at session start with
``subprocess.TimeoutExpired: ... pool list ... timed out after 10 seconds`` under load)."""

from __future__ import annotations

import subprocess

import pytest

from fakegluster.testing import realgluster


def cli_answering(timeouts: int):
    """A stand-in for ``gluster_cli``: ``timeouts`` calls time out, then every call succeeds."""
    calls: list[tuple[str, ...]] = []

    def gluster_cli(*args: str, timeout: float = 120, check: bool = True, retry_for: float = 30.0):
        calls.append(args)
        if len(calls) <= timeouts:
            raise subprocess.TimeoutExpired(["gluster", "--mode=script", *args], timeout)
        return subprocess.CompletedProcess(["gluster", *args], 0, "", "")

    return gluster_cli, calls


def test_a_timed_out_cli_call_is_asked_again(monkeypatch):
    cli, calls = cli_answering(timeouts=2)
    monkeypatch.setattr(realgluster, "gluster_cli", cli)
    realgluster.RealGluster(ready_timeout=30)._wait_ready(launched_at=None)
    assert calls == [("pool", "list"), ("pool", "list"), ("pool", "list"), ("volume", "list")]


def test_a_glusterd_that_never_answers_is_reported_after_ready_timeout(monkeypatch):
    cli, calls = cli_answering(timeouts=10**6)
    monkeypatch.setattr(realgluster, "gluster_cli", cli)
    with pytest.raises(realgluster.RealGlusterError, match=r"not ready after 0.3s: --mode=script pool list did not"):
        realgluster.RealGluster(ready_timeout=0.3)._wait_ready(launched_at=None)
    assert len(calls) >= 2
