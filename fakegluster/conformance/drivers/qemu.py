"""QEMU's gluster block driver (libgfapi underneath), through an interactive ``qemu-io``.

An open file is one ``qemu-io`` process on that image (raw format), fed commands on stdin:
QEMU mounts the volume when it opens the image, so a mount that cannot work fails at
``open``.  ``read -v`` dumps what it read, ``write -P``/``write -s`` write, ``flush``
syncs; a command's failure (``read failed: Input/output error``) becomes a ClientError with
the errno its text names.  The image is reached by URI (``gluster://``, ``gluster+unix://``,
``gluster+rdma://``) or, for IPv6 and several servers, by QEMU's ``json:`` options
(``server.N``), as users write them.

What QEMU cannot do: create, stat, mkdir, rename, unlink, list, lock, upcalls.  Its block
layer rounds an image's size up to 512 bytes and zero-fills reads past the end of the file
(``pads_reads``), and refuses IO beyond that rounded size itself (EIO) without asking the
client.  Closing an image ends its volume's libgfapi instance (``glfs_fini``: ~10 s,
gluster/glusterfs#4329).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from .base import ClientError, ClientHang, Driver, File, Session, Target, Unsupported, errno_from_text

__all__ = ["QemuDriver"]

PROMPT = b"qemu-io> "
_HEX_LINE = re.compile(r"^[0-9a-f]{8}:((?:\s+[0-9a-f]{2})+)\s\s", re.M)


def image_spec(target: Target, path: str) -> list[str]:
    """qemu-io's arguments naming ``path`` on ``target``."""
    s = target.server
    if len(target.servers) == 1 and not (s.transport != "unix" and ":" in s.host):
        return ["-f", "raw", target.uri(path)]
    servers = []
    for srv in target.servers:
        if srv.transport == "unix":
            servers.append({"type": "unix", "path": srv.socket})
        else:
            servers.append({"type": "inet", "host": srv.host, "port": str(srv.port)})
    spec = {"driver": "raw", "file": {"driver": "gluster", "volume": target.volume, "path": path, "server": servers}}
    return ["json:" + json.dumps(spec, separators=(",", ":"))]


class QemuIo:
    """One interactive qemu-io process."""

    def __init__(self, args: list[str], timeout: float) -> None:
        self.argv = ["qemu-io", *args]
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C"},
            bufsize=0,
            start_new_session=True,
        )
        self._out = bytearray()
        self._err: list[str] = []
        self._log: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._lock = threading.Lock()
        threading.Thread(target=self._read_out, daemon=True).start()
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()
        self._wait_prompt(0, timeout, "open")

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        while True:
            chunk = self.proc.stdout.read(65536)
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._out += chunk
                self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._log.append(line)
            if not line.startswith("["):  # libgfapi's log lines
                self._err.append(line)

    @property
    def errors(self) -> str:
        return " ".join(self._err[-5:])

    @property
    def log(self) -> list[str]:
        """Every stderr line (libgfapi's log included)."""
        return list(self._log)

    def _wait_prompt(self, start: int, timeout: float, what: str) -> str:
        with self._cond:
            found = self._cond.wait_for(lambda: self._out.find(PROMPT, start) >= 0 or self._eof, timeout)
            if not found:
                raise ClientHang(f"qemu-io {what} did not return within {timeout:g} s")
            end = self._out.find(PROMPT, start)
            if end < 0:
                self.proc.wait()
                self._err_reader.join(5)
                text = self.errors or self._out[start:].decode(errors="replace")
                raise ClientError(errno_from_text(text), text.strip() or f"qemu-io exited {self.proc.returncode}")
            return self._out[start:end].decode(errors="replace")

    def command(self, cmd: str, timeout: float) -> str:
        """Run one command; its output (ClientError if it says ``... failed: ...``)."""
        with self._lock:
            with self._cond:
                start = self._out.rfind(PROMPT) + len(PROMPT)
                self._out = self._out[start:]
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.write(cmd.encode() + b"\n")
            except OSError:
                raise ClientError(0, f"qemu-io is gone: {self.errors}") from None
            out = self._wait_prompt(0, timeout, cmd.split()[0])
        for line in out.splitlines():
            if " failed: " in line:
                raise ClientError(errno_from_text(line), line.strip())
        return out

    def quit(self, timeout: float) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ClientHang(f"qemu-io did not exit within {timeout:g} s") from None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


class QemuFile(File):
    def __init__(self, io: QemuIo, path: str, timeout: float, tmp: str) -> None:
        self.io, self.path, self._timeout, self._tmp = io, path, timeout, tmp

    def pread(self, offset: int, size: int) -> bytes:
        out = self.io.command(f"read -v {offset} {size}", self._timeout)
        data = bytearray()
        for m in _HEX_LINE.finditer(out):
            data += bytes(int(x, 16) for x in m.group(1).split())
        return bytes(data)

    def pwrite(self, offset: int, data: bytes) -> int:
        if data and data.count(data[:1]) == len(data):
            self.io.command(f"write -P {data[0]:#x} {offset} {len(data)}", self._timeout)
        else:
            src = os.path.join(self._tmp, f"w{time.monotonic_ns()}")
            with open(src, "wb") as f:
                f.write(data)
            try:
                self.io.command(f"write -s {src} {offset} {len(data)}", self._timeout)
            finally:
                os.unlink(src)
        return len(data)

    def fsync(self) -> None:
        self.io.command("flush", self._timeout)

    def close(self) -> None:
        self.io.quit(60.0)


class QemuSession(Session):
    def __init__(self, target: Target, timeout: float, op_timeout: float) -> None:
        self.target, self._timeout, self._op_timeout = target, timeout, op_timeout
        self._ios: list[QemuIo] = []
        self._tmp = tempfile.mkdtemp(prefix="fgc-qemu-")

    def open(self, path: str, flags: int = os.O_RDWR, mode: int = 0o644) -> File:
        if flags & os.O_CREAT:
            raise Unsupported("qemu-io cannot create files")
        args = image_spec(self.target, path)
        if flags & os.O_ACCMODE == os.O_RDONLY:
            args = ["-r", *args]
        io = QemuIo(args, self._timeout)
        self._ios.append(io)
        return QemuFile(io, path, self._op_timeout, self._tmp)

    def umount(self, timeout: float = 60.0) -> None:
        for io in self._ios:
            io.quit(timeout)

    def abort(self) -> None:
        for io in self._ios:
            io.kill()
        shutil.rmtree(self._tmp, ignore_errors=True)


class QemuDriver(Driver):
    name = "qemu"
    caps = frozenset({"tcp6", "unix", "rdma", "servers", "uri", "fsync", "umount"})
    #: reads past the end of the file come back zero-filled up to a 512-byte boundary
    pads_reads = True

    def __init__(self) -> None:
        self.description = f"QEMU {_qemu_version()} gluster block driver (qemu-io)"

    def unavailable(self) -> str | None:
        return None if shutil.which("qemu-io") else "qemu-io is not installed"

    def connect(self, target: Target, *, timeout: float = 30.0) -> Session:
        return QemuSession(target, timeout, self.op_timeout)

    def connect_uri(self, uri: str, *, timeout: float = 30.0) -> Session:
        return QemuUriSession(uri, timeout, self.op_timeout)


class QemuUriSession(QemuSession):
    """A session on one image URI (``open`` takes the path the URI already names, or "")."""

    def __init__(self, uri: str, timeout: float, op_timeout: float) -> None:
        super().__init__(Target("", ()), timeout, op_timeout)
        self.uri = uri

    def open(self, path: str, flags: int = os.O_RDWR, mode: int = 0o644) -> File:
        io = QemuIo(["-f", "raw", self.uri], self._timeout)
        self._ios.append(io)
        return QemuFile(io, path, self._op_timeout, self._tmp)


def _qemu_version() -> str:
    try:
        out = subprocess.run(["qemu-io", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "?"
