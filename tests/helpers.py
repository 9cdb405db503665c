"""Small helpers shared by tests (not fixtures).

Whatever a test needs from the machine (a real peer, a tool, root, /dev/fuse) goes through
:func:`unavailable`: missing, it is a FAILURE under ``CI=true`` (CI has everything, so a
skip there would hide a broken setup) and a skip elsewhere.  No test skips on its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn, TypeVar

import pytest

K = TypeVar("K")
V = TypeVar("V")


def unavailable(reason: str) -> NoReturn:
    """A missing real peer (tool, privilege, device): a FAILURE under CI=true, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires the real peer: {reason}", pytrace=False)
    pytest.skip(reason)


def wait_until(cond: Callable[[], object], what: str, timeout: float = 30.0, every: float = 0.002) -> None:
    """Poll ``cond`` until it is true; an AssertionError naming ``what`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(every)


def require_tool(name: str) -> str:
    """The path of a real peer's binary (:func:`unavailable` if missing)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make test installs it as root)")
    return path


def require_root(what: str) -> None:
    """``what`` needs root (:func:`unavailable` otherwise)."""
    if os.geteuid() != 0:
        unavailable(f"{what} needs root")


def known_difference(code: str) -> pytest.MarkDecorator:
    """Mark a test that asserts what a real GlusterFS does where the fake is known to differ
    (``code`` in fakegluster/differences.py; an unknown code fails at import).  On the fake
    targets (every kind but ``real``, or always for a test without ``target``) it is a strict
    xfail: when the fake gets it right, the test fails until the registry entry goes."""
    from fakegluster import differences

    differences.get(code)
    return pytest.mark.known_difference(code)


def _tcp_inode(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """The socket inode of the TCP connection ``local`` -> ``remote`` (IPv4, this network
    namespace), from /proc/net/tcp (addresses little-endian hex, as the kernel prints them)."""

    def hexaddr(addr: tuple[str, int]) -> str:
        (ip,) = struct.unpack("<I", socket.inet_aton(addr[0]))
        return f"{ip:08X}:{addr[1]:04X}"

    want = (hexaddr(local), hexaddr(remote))
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if (fields[1], fields[2]) == want:
                return int(fields[9])
    return None


def peer_pid(sock: socket.socket) -> int:
    """The pid of the process holding the far end of the connected TCP socket ``sock`` (a peer
    on this machine): the process that answers what is sent on ``sock``, found through the
    kernel (/proc/net/tcp, /proc/PID/fd) rather than through what a daemon reports about it."""
    here, there = sock.getsockname()[:2], sock.getpeername()[:2]
    inode = _tcp_inode(there, here)
    assert inode, f"no TCP socket {there} -> {here} in /proc/net/tcp"
    target = f"socket:[{inode}]"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:  # gone, or a kernel thread
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return int(pid)
            except OSError:
                continue
    raise AssertionError(f"no process holds {target} ({there} -> {here})")


def brick_process(volume: Any, brick_path: str) -> int:
    """The pid of the process at the far end of gfclient ``volume``'s (single) brick connection,
    checked to be the glusterfsd of ``brick_path``: the process that must stop answering when a
    test freezes "the brick".  Found through the kernel, not through ``volume status``' pid (a READ
    sent after SIGSTOP of that pid was once answered on a loaded machine)."""
    pid = peer_pid(volume._avol.brick.channel.sock)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    assert brick_path.encode() in argv, f"pid {pid} serving the brick is not {brick_path}'s glusterfsd: {argv}"
    return pid


def wait_stopped(pid: int, timeout: float = 10.0) -> None:
    """Until the kernel says every thread of ``pid`` is stopped (state T): SIGSTOP's group stop
    is asynchronous, and on a busy machine a thread can still answer a call meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        if all(st in ("T", "t") for st in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop within {timeout} s")


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    """``pid`` stopped (SIGSTOP, every thread in state T) for the ``with`` block; SIGCONT after."""
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_stopped(pid)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def parallel(fn: Callable[[K], V], keys: Iterable[K]) -> dict[K, V]:
    """``{key: fn(key)}`` (keys hashable), each call in a thread of its own: for what mostly waits on another
    process (a real glusterd's volume create/stop, a FUSE mount), done for several at once.
    Every call runs to its end; the first error (in ``keys`` order) is raised then."""
    keys = list(keys)
    if not keys:
        return {}
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        futures = {k: pool.submit(fn, k) for k in keys}
    return {k: f.result() for k, f in futures.items()}


#: libgfapi's log line when cluster/disperse's version/size update failed (ec-common.c
#: ec_update_size_version_done; the inode's bad_version is then raised, so ec_validate_fd answers
#: the next FSYNC/FLUSH with EBADF: qemu-io says "write failed: Bad file descriptor").
EC_UPDATE_RACE = "Failed to update version and size"


def ec_update_race(run: Any) -> bool:
    """A libgfapi tool's run (a :class:`fakegluster.testing.procs.GfapiRun`) failed by the real
    10.3 disperse client's own race: now and then, under load, it runs its version/size update with
    an empty lock mask ("Have : 0 ... Mask: 000000") and the update fails (commit baf6f31: 3 in 25
    on files gfclient made, 3 in 14 on files the FUSE client made; on a fake or a real volume
    alike).  Recognised by the EC client's own log line, never by the failure alone."""
    return run.returncode != 0 and EC_UPDATE_RACE in run.stderr


def gfapi_failure(run: Any) -> str:
    """What a failed libgfapi tool's run said: its own output, then libgfapi's last warnings and
    errors (they name the translator that failed and why, e.g. :data:`EC_UPDATE_RACE`)."""
    log = [ln for ln in run.stderr.splitlines() if "] E [" in ln or "] W [" in ln][-20:]
    return f"{run.args}: rc {run.returncode}\n{run.qemu_stderr}{run.stdout}\n" + "\n".join(log)


def again_after_ec_update_race(cmd: Any, run: Any, timeout: float = 120, attempts: int = 2) -> Any:
    """``run`` (of the idempotent command ``cmd``), or when :func:`ec_update_race` failed it, a
    new run of ``cmd`` (at most ``attempts`` more).  Any other failure is returned as it is."""
    from fakegluster.testing.procs import run_gfapi

    while attempts > 0 and ec_update_race(run):
        run = run_gfapi(cmd, timeout)
        attempts -= 1
    return run
