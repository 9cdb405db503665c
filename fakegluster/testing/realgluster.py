"""Run a REAL GlusterFS 10.3 (glusterd + bricks) for tests and benchmarks.

Stdlib only.  Needs root and the Debian ``glusterfs-server`` package.

    from fakegluster.testing.realgluster import RealGluster, run_gfapi

    with RealGluster() as rg:
        vol = rg.create_volume()             # fgreal-<pid>-<token>-<n>
        r = run_gfapi(["qemu-img", "info", vol.uri("missing.img")])
        assert "No such file or directory" in r.qemu_stderr

What the harness does, and why
------------------------------
* ``start()`` starts glusterd only if none runs (remembering that it did so),
  removes a stale ``/var/run/glusterd.pid`` first, and waits until
  ``gluster volume list`` answers.  It makes sure ``$(hostname)`` resolves
  (glusterd refuses loopback brick hosts such as ``127.0.0.1``/``localhost``,
  so bricks are created as ``$(hostname):/path``, and the client volfile then
  names that host as ``remote-host`` -- clients must resolve it too).
* Several test sessions may share one glusterd.  Each live session is recorded
  in ``/run/fakegluster-realgluster/session-<pid>-<token>`` (content: the
  process start time, so a recycled pid is not mistaken for a live session),
  and all bookkeeping happens under an ``flock``.  Volumes are named
  ``fgreal-<pid>-<token>-<n>``; volumes (and ``/tmp/fg-real-*`` brick roots)
  whose owning session is gone are left-overs of a crashed run: they are
  stopped and deleted by the next ``start()``.
* ``stop()`` deletes this session's volumes.  glusterd is stopped only if a
  harness started it (marker file holding glusterd's pid) and no other
  harness session is still alive; the last session out turns the light off.
* Unprivileged client ports: GlusterFS 10.3 accepts them by default (glusterd's
  ``rpc-auth-allow-insecure`` and the volume option ``server.allow-insecure``
  both default to on).  We still set ``server.allow-insecure on`` on every
  volume so that a changed default cannot silently break the pure-Python
  client; with it off a brick answers MSG_DENIED/AUTH_ERROR(AUTH_REJECTEDCRED)
  to any call from a source port >= 1024.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .glustercli import (
    _brick_status,
    _list_volumes,
    _stop_and_delete_volume,
    _volume_brick_paths,
    gluster_cli,
)
from .procs import (
    VOLUME_PREFIX,
    RealGlusterError,
    _env,
    _glusterd_pids,
    _kill_and_wait,
    _proc_cmdline,
    _proc_state_and_start,
    _volume_procs,
    _which,
    available,
    filter_gfapi_log,
    run_gfapi,
    run_gfapi_parallel,
)

__all__ = [
    "RealGluster",
    "RealVolume",
    "RealGlusterError",
    "available",
    "run_gfapi",
    "run_gfapi_parallel",
    "filter_gfapi_log",
    "VOLUME_PREFIX",
    "gluster_cli",
]

log = logging.getLogger(__name__)

BRICK_ROOT_PREFIX = "fg-real-"
GLUSTERD_PORT = 24007

STATE_DIR = "/run/fakegluster-realgluster"
PID_FILE = "/var/run/glusterd.pid"

# Volume options applied to every volume we create (see module docstring).
DEFAULT_VOLUME_OPTIONS: dict[str, str] = {
    "server.allow-insecure": "on",
}

_VOLNAME_RE = re.compile(rf"^{VOLUME_PREFIX}-(?P<pid>\d+)-(?P<token>[0-9a-f]+)-(?P<n>\d+)$")


# --------------------------------------------------------------------------
# sessions (several pytest runs may share one glusterd)
# --------------------------------------------------------------------------


def _start_ticks(pid: int) -> str | None:
    st = _proc_state_and_start(pid)
    return st[1] if st and st[0] not in ("Z", "X") else None


def _live_sessions() -> set[tuple[int, str]]:
    """(pid, token) of sessions whose process is still the one that registered."""
    live = set()
    with contextlib.suppress(FileNotFoundError):
        for fn in os.listdir(STATE_DIR):
            m = re.fullmatch(r"session-(\d+)-([0-9a-f]+)", fn)
            if not m:
                continue
            pid, token = int(m.group(1)), m.group(2)
            try:
                with open(os.path.join(STATE_DIR, fn)) as f:
                    ticks = f.read().strip()
            except OSError:
                continue
            if _start_ticks(pid) == ticks:
                live.add((pid, token))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(STATE_DIR, fn))
    return live


@contextlib.contextmanager
def _state_lock() -> Iterator[None]:
    os.makedirs(STATE_DIR, exist_ok=True)
    with open(os.path.join(STATE_DIR, "lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


_MARKER = os.path.join(STATE_DIR, "glusterd.started")


def _read_marker() -> int | None:
    try:
        with open(_MARKER) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------
# public classes
# --------------------------------------------------------------------------


@dataclass
class RealVolume:
    name: str
    brick_paths: list[str]
    brick_ports: list[int]
    root: str  # temp dir holding the brick dirs
    host: str = "127.0.0.1"
    port: int = GLUSTERD_PORT
    timings: dict[str, float] = field(default_factory=dict)
    _owner: RealGluster | None = field(default=None, repr=False)
    _deleted: bool = field(default=False, repr=False)

    def uri(self, path: str = "") -> str:
        """``gluster://127.0.0.1/NAME/path`` (the qemu/fio gluster URI)."""
        return f"gluster://{self.host}/{self.name}/{path.lstrip('/')}"

    def brick_file(self, path: str, brick: int = 0) -> str:
        """Where ``path`` lives on brick ``brick`` (a plain file for a posix brick)."""
        return os.path.join(self.brick_paths[brick], path.lstrip("/"))

    def status(self) -> list[dict[str, Any]]:
        return _brick_status(self.name)

    def kill_brick(self, brick: int) -> None:
        """SIGKILL brick ``brick``'s glusterfsd (a crash: it does not sign out)."""
        path = self.brick_paths[brick]
        pids = [b["pid"] for b in self.status() if b["path"] == path and b["online"] and b["pid"] > 0]
        if not pids:
            raise RealGlusterError(f"brick {path} of {self.name} is not running")
        _kill_and_wait(pids)

    def start_force(self, timeout: float = 60.0) -> None:
        """``volume start NAME force``: restart dead bricks; wait until all are online.

        Asked again every 3 s: right after a kill, glusterd may not have noticed the brick is
        gone yet and then does nothing."""
        deadline = time.monotonic() + timeout
        again = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= again:
                gluster_cli("volume", "start", self.name, "force", retry_for=60)
                again = time.monotonic() + 3
            st = {b["path"]: b for b in self.status()}
            if all(p in st and st[p]["online"] and st[p]["port"] for p in self.brick_paths):
                self.brick_ports = [st[p]["port"] for p in self.brick_paths]
                if all(RealGluster._port_open(port) for port in self.brick_ports):
                    return
            time.sleep(0.1)
        raise RealGlusterError(f"bricks of {self.name} not online after {timeout}s")

    def heal(self) -> None:
        """``gluster volume heal NAME``: ask the self-heal daemon to heal what is pending now."""
        gluster_cli("volume", "heal", self.name, retry_for=30)

    def heal_info(self) -> dict[str, list[str]]:
        """``gluster volume heal NAME info``: brick -> the entries it lists as pending (a
        brick that is down lists its status line: nothing is known to be healed there)."""
        cp = gluster_cli("volume", "heal", self.name, "info", retry_for=30)
        out: dict[str, list[str]] = {}
        brick = None
        for line in cp.stdout.splitlines():
            line = line.strip()
            if line.startswith("Brick "):
                brick = line[len("Brick ") :]
                out[brick] = []
            elif brick and line.startswith("Status:") and line != "Status: Connected":
                out[brick].append(line)
            elif brick and line and not line.startswith(("Status:", "Number of entries:")):
                out[brick].append(line)
        return out

    def wait_healed(self, timeout: float = 120.0, kick_every: float = 10.0) -> None:
        """Until ``heal info`` lists nothing (``gluster volume heal`` every ``kick_every`` s;
        right after a brick came back the self-heal daemon may refuse: that is retried)."""
        deadline = time.monotonic() + timeout
        kick = 0.0
        pending: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            if time.monotonic() >= kick:
                with contextlib.suppress(RealGlusterError):
                    self.heal()
                kick = time.monotonic() + kick_every
            pending = self.heal_info()
            if not any(pending.values()):
                return
            time.sleep(0.5)
        raise RealGlusterError(f"{self.name} still has entries to heal after {timeout}s: {pending}")

    def gluster(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``gluster --mode=script ARGS`` (e.g. ``vol.gluster("volume", "heal", vol.name, "info")``)."""
        return gluster_cli(*args, check=check)

    def delete(self) -> None:
        if self._deleted:
            return
        self._deleted = True
        t0 = time.monotonic()
        _stop_and_delete_volume(self.name, [self.root])
        self.timings["delete"] = time.monotonic() - t0
        log.info("deleted real volume %s in %.2fs", self.name, self.timings["delete"])
        if self._owner is not None:
            with contextlib.suppress(ValueError):
                self._owner.volumes.remove(self)


class RealGluster:
    """A real glusterd on this host, with throw-away volumes.

    Use as a context manager or call start()/stop().  ``timings`` records
    ``glusterd_ready`` (glusterd launch -> CLI answers; 0 if it already ran).
    """

    def __init__(
        self, ready_timeout: float = 60.0, brick_timeout: float = 60.0, volume_options: dict[str, str] | None = None
    ):
        self.ready_timeout = ready_timeout
        self.brick_timeout = brick_timeout
        self.volume_options = dict(DEFAULT_VOLUME_OPTIONS if volume_options is None else volume_options)
        self.started_glusterd = False
        self.glusterd_pid: int | None = None
        self.hostname = socket.gethostname()
        self.volumes: list[RealVolume] = []
        self.timings: dict[str, float] = {}
        self.token = secrets.token_hex(3)
        self._pid = os.getpid()
        self._counter = 0
        self._running = False
        self._lock = threading.Lock()

    # -- context manager ----------------------------------------------------
    def __enter__(self) -> RealGluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def session_file(self) -> str:
        return os.path.join(STATE_DIR, f"session-{self._pid}-{self.token}")

    # -- start --------------------------------------------------------------
    def start(self) -> RealGluster:
        if self._running:
            return self
        ok, reason = available()
        if not ok:
            raise RealGlusterError(reason)
        with _state_lock():
            self._ensure_hostname()
            with open(self.session_file, "w") as f:
                f.write(_start_ticks(self._pid) or "")
            self._running = True
            try:
                live = _live_sessions()
                self._ensure_glusterd(live)
                self._cleanup_stale(live)
            except BaseException:
                self._running = False
                with contextlib.suppress(OSError):
                    os.unlink(self.session_file)
                raise
        return self

    def _ensure_hostname(self) -> None:
        try:
            socket.getaddrinfo(self.hostname, None)
            return
        except socket.gaierror:
            pass
        with open("/etc/hosts", "a") as f:
            f.write(f"\n127.0.0.1 {self.hostname}  # added by fakegluster realgluster harness\n")
        log.warning(
            "hostname %r did not resolve: added '127.0.0.1 %s' to /etc/hosts "
            "(glusterd refuses loopback brick hosts, clients must resolve the "
            "brick host named in the volfile)",
            self.hostname,
            self.hostname,
        )
        socket.getaddrinfo(self.hostname, None)

    def _ensure_glusterd(self, live: set[tuple[int, str]]) -> None:
        running = _glusterd_pids()
        if running:
            self.glusterd_pid = running[0]
            self._wait_ready(launched_at=None)
            log.info("using already running glusterd (pid %d)", self.glusterd_pid)
            self.timings["glusterd_ready"] = 0.0
            return
        # Stale pid file (glusterd crashed / was SIGKILLed / host rebooted).
        if os.path.exists(PID_FILE):
            try:
                with open(PID_FILE) as f:
                    old = f.read().strip()
            except OSError:
                old = ""
            # glusterd is not running (checked above), so whatever it says is stale
            with contextlib.suppress(OSError):
                os.unlink(PID_FILE)
            log.info("removed stale %s (pid %r)", PID_FILE, old)
        # A glusterd we started earlier is gone: forget it.
        with contextlib.suppress(OSError):
            os.unlink(_MARKER)
        # Bricks of dead sessions that outlived their glusterd would confuse
        # the brick restart glusterd does on boot: kill them first.
        live_names = {f"{VOLUME_PREFIX}-{p}-{t}-" for p, t in live}
        stray = [p for p in _volume_procs() if not any(n in " ".join(_proc_cmdline(p)) for n in live_names)]
        if stray:
            log.info("killing stray brick processes of crashed runs: %s", stray)
            _kill_and_wait(stray)

        t0 = time.monotonic()
        subprocess.run(
            [_which("glusterd") or "glusterd", "-p", PID_FILE],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
            check=True,
            timeout=60,
        )
        self._wait_ready(launched_at=t0)
        self.timings["glusterd_ready"] = time.monotonic() - t0
        running = _glusterd_pids()
        self.glusterd_pid = running[0] if running else None
        self.started_glusterd = True
        with open(_MARKER, "w") as f:
            f.write(f"{self.glusterd_pid}\n")
        log.info("started glusterd (pid %s); ready after %.2fs", self.glusterd_pid, self.timings["glusterd_ready"])

    def _wait_ready(self, launched_at: float | None) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = ""
        while time.monotonic() < deadline:
            try:  # a glusterd busy with other sessions' volumes may take a while: ask again
                pool = gluster_cli("pool", "list", check=False, timeout=10)
                vols = gluster_cli("volume", "list", check=False, timeout=10)
            except subprocess.TimeoutExpired as exc:
                last = f"{' '.join(map(str, exc.cmd[1:]))} did not answer in {exc.timeout:g} s"
            else:
                if pool.returncode == 0 and vols.returncode == 0:
                    return
                last = (vols.stderr + vols.stdout + pool.stderr).strip()
            if launched_at is not None and not _glusterd_pids():
                raise RealGlusterError("glusterd exited right after start; see /var/log/glusterfs/glusterd.log")
            time.sleep(0.1)
        raise RealGlusterError(f"glusterd not ready after {self.ready_timeout}s: {last}")

    def _cleanup_stale(self, live: set[tuple[int, str]]) -> None:
        """Remove volumes / brick roots of harness sessions that are gone."""
        for vol in _list_volumes():
            if not vol.startswith(VOLUME_PREFIX):
                continue
            m = _VOLNAME_RE.match(vol)
            if m and (int(m.group("pid")), m.group("token")) in live:
                continue  # belongs to a concurrently running session
            paths = _volume_brick_paths(vol)
            roots = {
                os.path.dirname(p) for p in paths if os.path.basename(os.path.dirname(p)).startswith(BRICK_ROOT_PREFIX)
            }
            log.warning("removing left-over volume %s of a crashed run", vol)
            _stop_and_delete_volume(vol, sorted(roots))
        tmp = tempfile.gettempdir()
        for d in os.listdir(tmp):
            if not d.startswith(BRICK_ROOT_PREFIX):
                continue
            root = os.path.join(tmp, d)
            try:
                with open(os.path.join(root, ".owner")) as f:
                    pid_s, token = f.read().split()
                owner = (int(pid_s), token)
            except (OSError, ValueError):
                continue
            if owner not in live:
                log.info("removing left-over brick root %s", root)
                shutil.rmtree(root, ignore_errors=True)

    # -- volumes ------------------------------------------------------------
    def create_volume(
        self,
        name: str | None = None,
        bricks: int = 1,
        options: dict[str, str] | None = None,
        *,
        replica: int | None = None,
        arbiter: int | None = None,
        disperse: int | None = None,
        redundancy: int | None = None,
    ) -> RealVolume:
        """Create + start a volume on ``bricks`` fresh temp bricks; wait for them.

        Plain distribute by default; ``replica=3`` (``arbiter=1``), ``disperse=6``
        (``redundancy=2``) as ``gluster volume create`` takes them (``bricks`` a multiple of
        the replica or disperse count gives the distributed variants)."""
        if not self._running:
            raise RealGlusterError("RealGluster not started")
        with self._lock:
            self._counter += 1
            n = self._counter
        if name is None:
            name = f"{VOLUME_PREFIX}-{self._pid}-{self.token}-{n}"
        elif not name.startswith(VOLUME_PREFIX):
            raise ValueError(f"volume name must start with {VOLUME_PREFIX!r}: {name!r}")
        root = tempfile.mkdtemp(prefix=BRICK_ROOT_PREFIX)
        with open(os.path.join(root, ".owner"), "w") as f:
            f.write(f"{self._pid} {self.token}\n")
        paths = []
        for i in range(1, bricks + 1):
            p = os.path.join(root, f"brick{i}")
            os.mkdir(p)
            paths.append(p)
        vol = RealVolume(name=name, brick_paths=paths, brick_ports=[], root=root, _owner=self)
        self.volumes.append(vol)
        try:
            t0 = time.monotonic()
            layout: list[str] = []
            for key, value in (
                ("replica", replica),
                ("arbiter", arbiter),
                ("disperse", disperse),
                ("redundancy", redundancy),
            ):
                if value is not None:
                    layout += [key, str(value)]
            bricks_arg = [f"{self.hostname}:{p}" for p in paths]
            gluster_cli("volume", "create", name, *layout, *bricks_arg, "force", retry_for=60)
            t1 = time.monotonic()
            opts = dict(self.volume_options)
            opts.update(options or {})
            for k, v in opts.items():
                gluster_cli("volume", "set", name, k, v, retry_for=60)
            t2 = time.monotonic()
            gluster_cli("volume", "start", name, retry_for=60)
            t3 = time.monotonic()
            vol.brick_ports = self._wait_bricks(name, paths)
            t4 = time.monotonic()
        except BaseException:
            with contextlib.suppress(Exception):
                vol.delete()
            raise
        vol.timings.update(create=t1 - t0, set_options=t2 - t1, start=t3 - t2, bricks_online=t4 - t3, total=t4 - t0)
        log.info(
            "created real volume %s (bricks %s, ports %s) in %.2fs "
            "(create %.2f, options %.2f, start %.2f, online %.2f)",
            name,
            paths,
            vol.brick_ports,
            t4 - t0,
            t1 - t0,
            t2 - t1,
            t3 - t2,
            t4 - t3,
        )
        return vol

    def _wait_bricks(self, name: str, paths: list[str]) -> list[int]:
        deadline = time.monotonic() + self.brick_timeout
        st: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            st = _brick_status(name)
            by_path = {b["path"]: b for b in st}
            if all(p in by_path and by_path[p]["online"] and by_path[p]["port"] for p in paths):
                ports = [by_path[p]["port"] for p in paths]
                if all(self._port_open(port) for port in ports):
                    return ports
            time.sleep(0.1)
        raise RealGlusterError(f"bricks of {name} not online after {self.brick_timeout}s: {st}")

    @staticmethod
    def _port_open(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return True
        except OSError:
            return False

    # -- stop ---------------------------------------------------------------
    def stop(self) -> None:
        if not self._running:
            return
        errors: list[BaseException] = []

        def delete(vol: RealVolume) -> None:
            try:
                vol.delete()
            except Exception as e:  # keep going: leave as little as possible behind
                log.error("could not delete volume %s: %s", vol.name, e)
                errors.append(e)

        # all at once: glusterd's 'volume stop' of a replicate/disperse volume takes ~6 s (its
        # self-heal daemon's graph); 6 of them in a row ~31-34 s, at once ~24 s
        vols = list(self.volumes)
        with ThreadPoolExecutor(max_workers=max(1, len(vols))) as pool:
            list(pool.map(delete, vols))
        with _state_lock():
            with contextlib.suppress(OSError):
                os.unlink(self.session_file)
            self._running = False
            others = _live_sessions()
            marker = _read_marker()
            gd = _glusterd_pids()
            if marker is None or marker not in gd:
                log.info("leaving glusterd running: this harness did not start it")
            elif others:
                log.info(
                    "leaving glusterd (pid %d) running for %d other live harness session(s); the last one stops it",
                    marker,
                    len(others),
                )
            else:
                self._stop_glusterd(marker)
        if errors:
            raise RealGlusterError(f"stop(): {len(errors)} volume(s) not deleted: {errors}")

    def _stop_glusterd(self, pid: int) -> None:
        # Remaining fgreal volumes here belong to dead sessions: clean them too.
        with contextlib.suppress(Exception):
            self._cleanup_stale(set())
        t0 = time.monotonic()
        _kill_and_wait([pid])
        # bricks / self-heal daemons (--volfile-id shd/VOL) of fgreal volumes
        _kill_and_wait(_volume_procs())
        with contextlib.suppress(OSError):
            os.unlink(_MARKER)
        with contextlib.suppress(OSError):
            os.unlink(PID_FILE)
        self.timings["glusterd_stop"] = time.monotonic() - t0
        log.info("stopped glusterd (pid %d) in %.2fs", pid, self.timings["glusterd_stop"])
