"""Processes around a real GlusterFS: the process table (glusterd, glusterfsd, our volumes'
daemons), killing and waiting, and running libgfapi tools (qemu-img, qemu-io, fio) with their
log lines filtered.  Stdlib only; used by :mod:`fakegluster.testing.realgluster`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "RealGlusterError",
    "available",
    "GfapiRun",
    "run_gfapi",
    "run_gfapi_parallel",
    "filter_gfapi_log",
    "VOLUME_PREFIX",
]

log = logging.getLogger("fakegluster.testing.realgluster")

VOLUME_PREFIX = "fgreal"
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")
# libgfapi log lines: "[2026-11-25 17:50:49.122755 +0000] I [io-stats.c:...] ..."
_GFAPI_LOG_RE = re.compile(r"^\[\d{4}-")


class RealGlusterError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _which(name: str) -> str | None:
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN_DIRS)
    return shutil.which(name, path=path)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["PATH"] = env.get("PATH", "/usr/bin:/bin") + os.pathsep + os.pathsep.join(SBIN_DIRS)
    return env


def available(tools: Iterable[str] = ()) -> tuple[bool, str]:
    """Whether a real GlusterFS can run here: (ok, reason).

    ``tools``: further executables that must be present (e.g. ``qemu-img``).
    """
    problems = []
    if not sys.platform.startswith("linux"):
        problems.append(f"real GlusterFS needs Linux (platform is {sys.platform})")
    elif os.geteuid() != 0:
        problems.append("real GlusterFS needs root (glusterd, trusted.* xattrs on bricks)")
    missing = [t for t in ("glusterd", "gluster", "glusterfsd", *tools) if _which(t) is None]
    if missing:
        problems.append("missing executables: " + ", ".join(missing))
    return (False, "; ".join(problems)) if problems else (True, "ok")


def _proc_cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _proc_comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _proc_state_and_start(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # comm may contain spaces/parens: split after the last ')'
    rest = stat[stat.rfind(")") + 2 :].split()
    return rest[0], rest[19]


def _alive(pid: int) -> bool:
    """Running (not a zombie awaiting reaping)."""
    st = _proc_state_and_start(pid)
    return st is not None and st[0] not in ("Z", "X")


def _pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _find_procs(comm: str) -> list[int]:
    return [p for p in _pids() if _proc_comm(p) == comm and _alive(p)]


def _glusterd_pids() -> list[int]:
    return _find_procs("glusterd")


def _kill_and_wait(pids: Sequence[int], timeout: float = 10.0) -> None:
    pids = [p for p in pids if _alive(p)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            pids = [p for p in pids if _alive(p)]
            if not pids:
                return
            time.sleep(0.05)
    if pids:
        log.warning("processes survived SIGKILL: %s", pids)


def _volume_procs(volnames: Iterable[str] | None = None) -> list[int]:
    """glusterfsd/glusterfs processes serving our volumes (fgreal-* or the given names)."""
    names = set(volnames) if volnames is not None else None
    out = []
    for p in _pids():
        if _proc_comm(p) not in ("glusterfsd", "glusterfs") or not _alive(p):
            continue
        argv = _proc_cmdline(p)
        vid = ""
        for i, a in enumerate(argv):
            if a == "--volfile-id" and i + 1 < len(argv):
                vid = argv[i + 1]
            elif a.startswith("--volfile-id="):
                vid = a.split("=", 1)[1]
        vol = vid.split(".", 1)[0].split("/")[-1]
        if names is None:
            if vol.startswith(VOLUME_PREFIX + "-"):
                out.append(p)
        elif vol in names:
            out.append(p)
    return out


def filter_gfapi_log(text: str) -> str:
    """Drop libgfapi log lines (``[YYYY-...``) from a tool's stderr."""
    return "".join(line for line in text.splitlines(keepends=True) if not _GFAPI_LOG_RE.match(line))


class GfapiRun(subprocess.CompletedProcess[str]):
    """What :func:`run_gfapi` returns: a CompletedProcess (text) plus ``elapsed`` (s),
    ``qemu_stderr`` (stderr without libgfapi's log lines) and ``crashes`` (see there)."""

    def __init__(self, cp: subprocess.CompletedProcess[str], elapsed: float) -> None:
        super().__init__(cp.args, cp.returncode, cp.stdout, cp.stderr)
        self.elapsed = elapsed
        self.qemu_stderr = filter_gfapi_log(cp.stderr)
        self.crashes: list[str] = []


def run_gfapi(
    cmd: Sequence[str], timeout: float = 60, check: bool = False, input: str | None = None, crash_retries: int = 1
) -> GfapiRun:
    """Run a libgfapi tool (qemu-img, qemu-io, fio --ioengine=gfapi, ...).

    Runs with ``LC_ALL=C`` and returns the CompletedProcess (text mode) with
    ``.stderr`` raw and ``.qemu_stderr`` = stderr without libgfapi log lines.
    ``.elapsed`` holds the wall time.  Note that a libgfapi client takes
    ~10 s to exit after its last IO (glfs_fini): run independent ones with
    :func:`run_gfapi_parallel`.

    libgfapi 10.3's glfs_fini is racy and now and then aborts a process after its work is
    done (gluster/glusterfs#4666, #4668): a run killed by SIGABRT/SIGSEGV is repeated up to
    ``crash_retries`` times (pass 0 for commands that are not idempotent), with a warning
    logged; ``.crashes`` lists the stderr of the runs that crashed.
    """
    crashes: list[str] = []
    while True:
        t0 = time.monotonic()
        ran = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            env=_env(),
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        cp = GfapiRun(ran, time.monotonic() - t0)
        if cp.returncode not in (-signal.SIGABRT, -signal.SIGSEGV) or len(crashes) >= crash_retries:
            break
        crashes.append(cp.qemu_stderr)
        log.warning(
            "%s died of signal %d after %.1f s (%s); running it again",
            " ".join(cmd[:2]),
            -cp.returncode,
            cp.elapsed,
            cp.qemu_stderr.strip()[-120:],
        )
    cp.crashes = crashes
    if check and cp.returncode != 0:
        raise RealGlusterError(f"{' '.join(cmd)} failed (rc={cp.returncode}):\n{cp.qemu_stderr}{cp.stdout}")
    return cp


def run_gfapi_parallel(cmds: Sequence[Sequence[str]], timeout: float = 60, check: bool = False) -> list[GfapiRun]:
    """Run independent libgfapi tools concurrently; results in input order."""
    if not cmds:
        return []
    with ThreadPoolExecutor(max_workers=len(cmds)) as pool:
        futs = [pool.submit(run_gfapi, c, timeout, check) for c in cmds]
        return [f.result() for f in futs]
