"""``fakegluster serve`` as a child process, started and waited for in one call.

::

    with serve_process(volumes=["testvol", f"dirvol={tmp}"], listen=["tcp://127.0.0.1:0"]) as served:
        uri = f"gluster://127.0.0.1:{served.port()}/testvol/a.img"
        ...
    # SIGTERM on exit; served.returncode, served.stderr() afterwards

:func:`serve_process` returns once the process printed ``ready`` (after its ``listening URL``
and ``volume NAME URI...`` lines, which :class:`ServeProcess` parses), and raises
:class:`ServeError` with what it printed if it exits or stays silent first.  Its stdout is
drained by a thread and its stderr goes to a temporary file, so a chatty server never blocks
on a full pipe, however long it runs.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Sequence
from typing import IO, Any

__all__ = ["serve_process", "ServeProcess", "ServeError"]


class ServeError(RuntimeError):
    """``fakegluster serve`` exited, or did not print ``ready`` in time."""


class ServeProcess:
    """A started ``fakegluster serve``: ``proc`` (the Popen), ``lines`` (what it printed up to
    ``ready``), :attr:`listening`, :attr:`volumes`, :meth:`port`, :meth:`stop`."""

    def __init__(self, proc: subprocess.Popen[str], stderr: IO[str], argv: list[str]) -> None:
        self.proc, self.argv, self._stderr = proc, argv, stderr
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name=f"serve-{proc.pid}-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _wait_ready(self, timeout: float) -> None:
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.stop(signal.SIGKILL)
                raise ServeError(f"fakegluster serve printed no 'ready' in {timeout} s: {self._report()}") from None
            if line is None:
                self.proc.wait()
                raise ServeError(f"fakegluster serve exited with {self.proc.returncode}: {self._report()}")
            if line == "ready":
                return
            self.lines.append(line)

    def _report(self) -> str:
        return f"{' '.join(self.argv)}\nstdout: {self.lines}\nstderr: {self.stderr()[-3000:]}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def listening(self) -> list[str]:
        """The listener URLs, as printed (``tcp://127.0.0.1:40123``, ``unix:///path``)."""
        return [line.split(" ", 1)[1] for line in self.lines if line.startswith("listening ")]

    @property
    def volumes(self) -> dict[str, list[str]]:
        """Volume name -> its URI prefixes, as printed."""
        out = {}
        for line in self.lines:
            if line.startswith("volume "):
                _, name, *prefixes = line.split(" ")
                out[name] = prefixes
        return out

    def port(self, host: str = "127.0.0.1") -> int:
        """glusterd's TCP port on ``host`` (``::1`` for ``tcp://[::1]:PORT``)."""
        for url in self.listening:
            m = re.fullmatch(r"tcp://(\[[^]]*\]|[^:]*):(\d+)", url)
            if m and m.group(1).strip("[]") == host:
                return int(m.group(2))
        raise KeyError(f"fakegluster serve does not listen on tcp host {host}: {self.listening}")

    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Send ``sig`` (if still running), wait (SIGKILL after ``timeout`` s); the return code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode

    def __enter__(self) -> ServeProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_process(
    args: Sequence[str] = (),
    *,
    volumes: Iterable[str] = (),
    listen: Iterable[str] = (),
    netns: str | None = None,
    prefix: Sequence[str] = (),
    stderr_path: str | os.PathLike[str] | None = None,
    timeout: float = 20,
    **popen: Any,
) -> ServeProcess:
    """Start ``python -m fakegluster serve --volume V... --listen L... ARGS...`` and wait until
    it is ready: inside the network namespace ``netns`` if given, after the command ``prefix``
    if given (e.g. ``nsenter -t PID -n -m``); its stderr into ``stderr_path`` if given (else a
    temporary file).  ``popen`` goes to :class:`subprocess.Popen` (``env``, ``cwd``,
    ``preexec_fn``...)."""
    argv = [sys.executable, "-m", "fakegluster", "serve"]
    argv += [a for v in volumes for a in ("--volume", v)] + [a for li in listen for a in ("--listen", li)]
    argv += list(args)
    if netns is not None:
        argv = ["ip", "netns", "exec", netns, *argv]
    argv = [*prefix, *argv]
    if stderr_path is None:
        stderr: IO[str] = tempfile.TemporaryFile("w+", prefix="fakegluster-serve-", suffix=".stderr")
    else:
        stderr = open(stderr_path, "w+")  # noqa: SIM115 (the ServeProcess owns it)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, **popen)
    served = ServeProcess(proc, stderr, argv)
    served._wait_ready(timeout)
    return served
