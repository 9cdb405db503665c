"""The ``gluster`` CLI as the real-cluster harness drives it (:mod:`.realgluster`).

``gluster --mode=script`` with retries on the answers a busy glusterd gives (another
transaction holds the cluster lock, glusterd still starting, a brick not up yet), its
``--xml`` output parsed (``volume info``/``volume status``), and a volume's stop + delete
that also waits for glusterd's post hook scripts (glusterd-hooks.c: post hooks are queued by
``glusterd_hooks_post_stub_enqueue`` and run later by ``hooks_worker``; a volume of the same
name created meanwhile would race them).

Stdlib only.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from .procs import RealGlusterError, _alive, _env, _kill_and_wait, _pids, _proc_cmdline, _volume_procs, _which

__all__ = ["gluster_cli"]

log = logging.getLogger("fakegluster.testing.realgluster")

# gluster CLI answers worth retrying (cluster lock held by a concurrent
# transaction, glusterd still initialising, brick not yet up, ...).
_TRANSIENT_RE = re.compile(
    r"Another transaction is in progress|Locking failed|"
    r"not yet ready|Connection failed|is not connected|"
    r"Please check if gluster daemon is operational|"
    r"Error : Request timed out",
    re.I,
)


def gluster_cli(
    *args: str, timeout: float = 120, check: bool = True, retry_for: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """``gluster --mode=script ARGS`` with retries on transient failures."""
    cmd = [_which("gluster") or "gluster", "--mode=script", *args]
    deadline = time.monotonic() + retry_for
    while True:
        cp = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout, stdin=subprocess.DEVNULL)
        if cp.returncode == 0 or not check:
            return cp
        msg = (cp.stderr + cp.stdout).strip()
        if _TRANSIENT_RE.search(msg) and time.monotonic() < deadline:
            log.debug("gluster %s: transient failure (%s); retrying", " ".join(args), msg)
            time.sleep(0.5)
            continue
        raise RealGlusterError(f"gluster {' '.join(args)} failed (rc={cp.returncode}): {msg}")


def _xml(*args: str, **kw: Any) -> ET.Element:
    cp = gluster_cli(*args, "--xml", **kw)
    try:
        root = ET.fromstring(cp.stdout)
    except ET.ParseError as e:
        raise RealGlusterError(f"gluster {' '.join(args)} --xml: bad XML ({e}): {cp.stdout!r}") from e
    return root


def _list_volumes() -> list[str]:
    cp = gluster_cli("volume", "list")
    out = cp.stdout.strip()
    if not out or out == "No volumes present in cluster":
        return []
    return [v.strip() for v in out.splitlines() if v.strip()]


def _volume_brick_paths(name: str) -> list[str]:
    try:
        root = _xml("volume", "info", name, retry_for=5)
    except RealGlusterError:
        return []
    paths = []
    for b in root.iter("brick"):
        nm = b.findtext("name") or (b.text or "")
        if ":" in nm:
            paths.append(nm.split(":", 1)[1])
    return paths


def _brick_status(name: str) -> list[dict[str, Any]]:
    """[{path, hostname, online, port, pid}] from ``volume status NAME --xml``."""
    cp = gluster_cli("volume", "status", name, "--xml", check=False)
    try:
        root = ET.fromstring(cp.stdout)
    except ET.ParseError:
        return []
    if root.findtext("opRet") not in ("0", None):
        return []
    out = []
    for node in root.iter("node"):
        path = node.findtext("path") or ""
        if not path.startswith("/"):  # Self-heal daemon etc.
            continue
        port = node.findtext("ports/tcp") or node.findtext("port") or ""
        out.append(
            {
                "path": path,
                "hostname": node.findtext("hostname"),
                "online": node.findtext("status") == "1",
                "port": int(port) if port.isdigit() else None,
                "pid": int(node.findtext("pid") or -1),
            }
        )
    return out


def _stop_and_delete_volume(name: str, remove_paths: Iterable[str] = ()) -> None:
    try:
        gluster_cli("volume", "stop", name, retry_for=60)
    except RealGlusterError as e:
        msg = str(e)
        if "does not exist" in msg:
            pass
        elif "is not in the started state" not in msg:
            log.warning("volume stop %s failed (%s); trying force", name, msg)
            gluster_cli("volume", "stop", name, "force", check=False, retry_for=60)
    try:
        gluster_cli("volume", "delete", name, retry_for=60)
    except RealGlusterError as e:
        if "does not exist" not in str(e):
            raise
    # bricks should be gone after stop; make sure (also after a crashed glusterd)
    _kill_and_wait(_volume_procs([name]))
    for p in remove_paths:
        shutil.rmtree(p, ignore_errors=True)
    _wait_hooks(name)


def _wait_hooks(name: str, timeout: float = 30.0) -> None:
    """Wait for glusterd's async post hooks (python scripts) for ``name``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            p
            for p in _pids()
            if _alive(p)
            and any("/hooks/" in a for a in _proc_cmdline(p))
            and any(a == f"--volname={name}" for a in _proc_cmdline(p))
        ]
        if not busy:
            return
        time.sleep(0.1)
    log.warning("glusterd hook scripts for %s still running after %.0fs", name, timeout)
