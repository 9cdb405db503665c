"""The glusterfs FUSE client: ``glusterfs --volfile-server ... MOUNTPOINT`` and plain syscalls.

The mount is what a user runs (``mount -t glusterfs`` calls the same ``glusterfs``); it comes
back before the graph is up, so :meth:`FuseDriver.connect` also stats the mount point (the
first lookup waits for the graph, or fails).  Every syscall runs in a worker thread with a
time limit: a call stuck on a frozen brick is a ClientHang, and killing the glusterfs process
(cleanup) makes the kernel answer it ENOTCONN.  A failed mount reports no errno (glusterfs
only exits non-zero): the error carries the log's error lines.

glusterfs gives backup volfile servers (``--volfile-server`` again) glusterd's default port
24007, whatever ``--volfile-server-port`` says (``gf_remember_backup_volfile_server``): a
backup on another port is Unsupported.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import TypeVar

from .base import ClientError, ClientHang, Driver, File, Session, Stat, Target, Unsupported, call_with_timeout

__all__ = ["FuseDriver"]

T = TypeVar("T")
_LOCK_TYPES = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK, "u": fcntl.F_UNLCK}
DEFAULT_PORT = 24007


def _sys(fn: Callable[[], T], timeout: float, what: str) -> T:
    try:
        return call_with_timeout(fn, timeout, what)
    except OSError as exc:
        raise ClientError(exc.errno or 0, f"{what}: {exc.strerror}") from None


class FuseFile(File):
    def __init__(self, fd: int, path: str, timeout: float) -> None:
        self.fd, self.path, self._timeout = fd, path, timeout

    def pread(self, offset: int, size: int) -> bytes:
        return _sys(lambda: os.pread(self.fd, size, offset), self._timeout, "pread")

    def pwrite(self, offset: int, data: bytes) -> int:
        return _sys(lambda: os.pwrite(self.fd, data, offset), self._timeout, "pwrite")

    def fstat(self) -> Stat:
        st = _sys(lambda: os.fstat(self.fd), self._timeout, "fstat")
        return Stat(st.st_size, st.st_mode, st.st_ino)

    def fsync(self) -> None:
        _sys(lambda: os.fsync(self.fd), self._timeout, "fsync")

    def lock(self, kind: str, start: int = 0, length: int = 0, *, wait: bool = False) -> None:
        flock = struct.pack("hh4xqqi4x", _LOCK_TYPES[kind], os.SEEK_SET, start, length, 0)
        cmd = fcntl.F_SETLKW if wait else fcntl.F_SETLK
        try:
            _sys(lambda: fcntl.fcntl(self.fd, cmd, flock), self._timeout, "fcntl lock")
        except ClientError as exc:
            if exc.errno == errno.EACCES:  # POSIX allows either for a conflict; Linux says EAGAIN
                raise ClientError(errno.EAGAIN, str(exc)) from None
            raise

    def close(self) -> None:
        _sys(lambda: os.close(self.fd), self._timeout, "close")


class FuseSession(Session):
    def __init__(self, mnt: str, pid: int | None, log: str, timeout: float) -> None:
        self.mnt, self.pid, self.log, self._timeout = mnt, pid, log, timeout

    def _p(self, path: str) -> str:
        return os.path.join(self.mnt, path.lstrip("/"))

    def open(self, path: str, flags: int = os.O_RDWR, mode: int = 0o644) -> File:
        fd = _sys(lambda: os.open(self._p(path), flags, mode), self._timeout, f"open {path}")
        return FuseFile(fd, path, self._timeout)

    def stat(self, path: str) -> Stat:
        st = _sys(lambda: os.stat(self._p(path)), self._timeout, f"stat {path}")
        return Stat(st.st_size, st.st_mode, st.st_ino)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        _sys(lambda: os.mkdir(self._p(path), mode), self._timeout, f"mkdir {path}")

    def rename(self, src: str, dst: str) -> None:
        _sys(lambda: os.rename(self._p(src), self._p(dst)), self._timeout, f"rename {src}")

    def unlink(self, path: str) -> None:
        _sys(lambda: os.unlink(self._p(path)), self._timeout, f"unlink {path}")

    def listdir(self, path: str) -> list[str]:
        return _sys(lambda: os.listdir(self._p(path)), self._timeout, f"listdir {path}")

    def errors(self) -> str:
        return _log_errors(self.log)

    def umount(self, timeout: float = 60.0) -> None:
        rc = subprocess.run(["umount", self.mnt], capture_output=True, text=True, timeout=timeout)
        if rc.returncode != 0:
            raise ClientError(errno.EBUSY, f"umount: {rc.stderr.strip()}")
        deadline = time.monotonic() + timeout
        while self.pid is not None and _alive(self.pid):
            if time.monotonic() > deadline:
                raise ClientError(0, f"glusterfs (pid {self.pid}) still runs {timeout:g} s after umount")
            time.sleep(0.05)

    def abort(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)
        subprocess.run(["umount", "-l", self.mnt], capture_output=True, timeout=60)
        with contextlib.suppress(OSError):
            os.rmdir(self.mnt)
        shutil.rmtree(os.path.dirname(self.log), ignore_errors=True)


class FuseDriver(Driver):
    name = "fuse"
    caps = frozenset(
        {"tcp6", "unix", "rdma", "servers", "create", "stat", "mkdir", "rename", "unlink", "listdir", "lock", "fsync"}
        | {"umount"}
    )

    def __init__(self) -> None:
        self.description = f"glusterfs FUSE client {_version()}"

    def unavailable(self) -> str | None:
        if shutil.which("glusterfs") is None:
            return "glusterfs (the FUSE client) is not installed"
        if os.geteuid() != 0:
            return "the FUSE client needs root"
        if not os.path.exists("/dev/fuse"):
            return "no /dev/fuse"
        return None

    def connect(self, target: Target, *, timeout: float = 30.0) -> Session:
        work = tempfile.mkdtemp(prefix="fgc-fuse-")
        mnt = os.path.join(work, "mnt")
        os.mkdir(mnt)
        log, pidfile = os.path.join(work, "glusterfs.log"), os.path.join(work, "pid")
        first = target.server
        args = ["glusterfs", f"--volfile-id={target.volume}", f"--log-file={log}", "--log-level=WARNING"]
        args.append(f"--pid-file={pidfile}")
        if first.transport == "unix":
            args += [f"--volfile-server={first.socket}", "--volfile-server-transport=unix"]
        else:
            args += [f"--volfile-server={first.host}", f"--volfile-server-port={first.port}"]
            if first.transport != "tcp":
                args.append(f"--volfile-server-transport={first.transport}")
        for backup in target.servers[1:]:
            if backup.transport != "tcp" or backup.port != DEFAULT_PORT:
                shutil.rmtree(work, ignore_errors=True)
                raise Unsupported(
                    f"glusterfs takes backup volfile servers on port {DEFAULT_PORT} over tcp only, not {backup}"
                )
            args.append(f"--volfile-server={backup.host}")
        args.append(mnt)
        try:
            rc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=60)
            shutil.rmtree(work, ignore_errors=True)
            raise ClientHang(f"glusterfs did not return within {timeout:g} s") from None
        pid = _read_pid(pidfile)
        session = FuseSession(mnt, pid, log, self.op_timeout)
        if rc.returncode != 0 or not os.path.ismount(mnt):
            text = _log_errors(log) or rc.stderr.strip()
            session.abort()
            # glusterfs exits with the errno of what failed (glusterfsd.c: cleanup_and_exit)
            err = rc.returncode if rc.returncode in errno.errorcode and rc.returncode > 1 else 0
            raise ClientError(err, f"mount failed (exit {rc.returncode}): {text}")
        try:
            _sys(lambda: os.stat(mnt), timeout, "stat of the mount point")
        except BaseException as exc:
            text = _log_errors(log)
            session.abort()
            if isinstance(exc, ClientError):
                raise ClientError(exc.errno or 0, f"{exc.strerror} ({text})") from None
            raise
        return session


def _read_pid(path: str) -> int | None:
    for _ in range(50):
        with contextlib.suppress(OSError, ValueError):
            with open(path) as f:
                return int(f.read().strip())
        time.sleep(0.02)
    return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _log_errors(log: str) -> str:
    """The error lines of a glusterfs log (their messages), last ones last."""
    out = []
    with contextlib.suppress(OSError):
        with open(log, errors="replace") as f:
            for line in f:
                if "] E [" in line or "] C [" in line:
                    out.append(line.split("] ", 2)[-1].strip())
    return " | ".join(out[-4:])


def _version() -> str:
    try:
        out = subprocess.run(["glusterfs", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    first = out.splitlines()[0] if out else "?"
    return first.replace("glusterfs ", "")
