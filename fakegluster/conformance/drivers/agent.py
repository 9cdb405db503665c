"""The agent protocol: drive any client through a program that speaks JSON lines.

``fakegluster conformance --client agent:COMMAND`` starts ``COMMAND`` once per mount and
talks to it over stdin/stdout, one JSON object a line.  Requests carry an ``id`` and an
``op``; the agent answers each with the same ``id``, in any order (a slow call must not hold
up the others: answer from a thread per request)::

    -> {"id": 1, "op": "hello"}
    <- {"id": 1, "ok": true, "value": {"name": "myclient", "description": "myclient 1.2",
                                       "caps": ["create", "stat", "lock", ...]}}
    -> {"id": 2, "op": "mount", "volume": "vol", "servers": [{"transport": "tcp",
        "host": "127.0.0.1", "port": 41234}, {"transport": "unix", "socket": "/tmp/x.sock"}]}
       (or, with the "uri" capability, {"op": "mount", "uri": "gluster://..."})
    <- {"id": 2, "ok": true}
    <- {"id": 7, "ok": false, "errno": 2, "error": "No such file or directory"}
    <- {"id": 8, "ok": false, "unsupported": "no directory listing"}    (OMIT)

Ops and their values: ``open {path, flags, mode}`` -> an fd number (flags are Linux
``O_*`` values); ``pread {fd, offset, size}`` -> base64 data; ``pwrite {fd, offset, data
(base64)}`` -> bytes written; ``fstat {fd}`` / ``stat {path}`` -> ``{size, mode, ino}``;
``fsync {fd}``; ``lock {fd, kind (r|w|u), start, length, wait}``; ``close {fd}``; ``mkdir
{path, mode}``; ``rename {src, dst}``; ``unlink {path}``; ``listdir {path}`` -> names;
``subscribe`` (hand upcalls to the application from now on); ``wait_event {timeout}`` ->
null or ``{kind, ...}``; ``umount`` (clean unmount; the agent may exit after answering).
Capabilities are :data:`~.base.CAPABILITIES`' names.  The agent is killed when the scenario
ends; stderr is kept for the report (the last lines).

:class:`GfapiDriver` is this driver running ``gfapi_agent.py`` (libgfapi through ctypes).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .base import ClientError, ClientHang, Driver, Event, File, Session, Stat, Target, Unsupported

__all__ = ["AgentDriver", "GfapiDriver", "AgentProcess"]

_NO_REPLY = object()


class AgentProcess:
    """One running agent: requests out, replies matched by id, stderr kept (last lines)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,
            start_new_session=True,
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._replies: dict[int, Any] = {}
        self._arrived = threading.Condition()
        self.stderr: collections.deque[str] = collections.deque(maxlen=60)
        self._eof = False
        threading.Thread(target=self._read_stdout, name="agent stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, name="agent stderr", daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                msg = json.loads(raw)
                rid = int(msg["id"])
            except (ValueError, KeyError, TypeError):
                self.stderr.append(f"(agent stdout) {raw[:200]!r}")
                continue
            with self._arrived:
                self._replies[rid] = msg
                self._arrived.notify_all()
        with self._arrived:
            self._eof = True
            self._arrived.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode(errors="replace").rstrip())

    def tail(self, n: int = 5) -> str:
        return " | ".join(list(self.stderr)[-n:])

    def call(self, op: str, timeout: float, **args: Any) -> Any:
        """Send a request and wait for its reply: the value, ClientError, Unsupported or ClientHang."""
        rid = next(self._ids)
        line = json.dumps({"id": rid, "op": op, **args}) + "\n"
        try:
            with self._lock:
                assert self.proc.stdin is not None
                self.proc.stdin.write(line.encode())
        except (BrokenPipeError, OSError):
            raise ClientError(0, f"the agent is gone (exit {self.proc.poll()}): {self.tail()}") from None
        with self._arrived:
            if not self._arrived.wait_for(lambda: rid in self._replies or self._eof, timeout):
                raise ClientHang(f"{op} did not return within {timeout:g} s")
            msg = self._replies.pop(rid, None)
        if msg is None:
            raise ClientError(0, f"the agent died during {op} (exit {self.proc.wait()}): {self.tail()}")
        if msg.get("ok"):
            return msg.get("value")
        if "unsupported" in msg:
            raise Unsupported(str(msg["unsupported"]))
        raise ClientError(int(msg.get("errno") or 0), str(msg.get("error", "")))

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


class AgentFile(File):
    def __init__(self, session: AgentSession, fd: int, path: str) -> None:
        self._s, self.fd, self.path = session, fd, path

    def pread(self, offset: int, size: int) -> bytes:
        return base64.b64decode(self._s.call("pread", fd=self.fd, offset=offset, size=size))

    def pwrite(self, offset: int, data: bytes) -> int:
        return int(self._s.call("pwrite", fd=self.fd, offset=offset, data=base64.b64encode(data).decode()))

    def fstat(self) -> Stat:
        return _stat(self._s.call("fstat", fd=self.fd))

    def fsync(self) -> None:
        self._s.call("fsync", fd=self.fd)

    def lock(self, kind: str, start: int = 0, length: int = 0, *, wait: bool = False) -> None:
        self._s.call("lock", fd=self.fd, kind=kind, start=start, length=length, wait=wait)

    def close(self) -> None:
        self._s.call("close", fd=self.fd)


def _stat(v: dict[str, Any]) -> Stat:
    return Stat(int(v["size"]), int(v.get("mode", 0)), int(v.get("ino", 0)))


class AgentSession(Session):
    def __init__(self, agent: AgentProcess, timeout: float) -> None:
        self.agent, self.timeout = agent, timeout

    def call(self, op: str, *, timeout: float | None = None, **args: Any) -> Any:
        return self.agent.call(op, self.timeout if timeout is None else timeout, **args)

    def open(self, path: str, flags: int = os.O_RDWR, mode: int = 0o644) -> File:
        return AgentFile(self, int(self.call("open", path=path, flags=flags, mode=mode)), path)

    def stat(self, path: str) -> Stat:
        return _stat(self.call("stat", path=path))

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self.call("mkdir", path=path, mode=mode)

    def rename(self, src: str, dst: str) -> None:
        self.call("rename", src=src, dst=dst)

    def unlink(self, path: str) -> None:
        self.call("unlink", path=path)

    def listdir(self, path: str) -> list[str]:
        return [str(n) for n in self.call("listdir", path=path)]

    def subscribe(self) -> None:
        self.call("subscribe")

    def wait_event(self, timeout: float) -> Event | None:
        v = self.call("wait_event", timeout=timeout + 10, wait=timeout)
        if v is None:
            return None
        kind = str(v.pop("kind", "?"))
        return Event(kind, v)

    def umount(self, timeout: float = 60.0) -> None:
        self.call("umount", timeout=timeout)

    def abort(self) -> None:
        self.agent.kill()


class AgentDriver(Driver):
    """Any client behind an agent program (see the module docstring)."""

    name = "agent"

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv, self.env = argv, env
        self._hello: dict[str, Any] | None = None

    def _start(self) -> AgentProcess:
        try:
            return AgentProcess(self.argv, self.env)
        except OSError as exc:
            raise RuntimeError(f"cannot start the agent {self.argv[0]}: {exc}") from None

    def hello(self) -> dict[str, Any]:
        """Ask a first agent what it is and can do (once)."""
        if self._hello is None:
            agent = self._start()
            try:
                self._hello = dict(agent.call("hello", 30.0))
            finally:
                agent.kill()
            self.name = str(self._hello.get("name", self.name))
            self.description = str(self._hello.get("description", self.name))
            self.caps = frozenset(str(c) for c in self._hello.get("caps", ()))
        return self._hello

    def unavailable(self) -> str | None:
        try:
            self.hello()
        except (RuntimeError, ClientError, ClientHang) as exc:
            return str(exc)
        return None

    def _mount(self, timeout: float, **args: Any) -> Session:
        self.hello()
        agent = self._start()
        session = AgentSession(agent, self.op_timeout)
        try:
            agent.call("mount", timeout, **args)
        except BaseException:
            agent.kill()
            raise
        return session

    def connect(self, target: Target, *, timeout: float = 30.0) -> Session:
        servers = [
            {"transport": s.transport, "host": s.host, "port": s.port, "socket": s.socket} for s in target.servers
        ]
        return self._mount(timeout, volume=target.volume, servers=servers)

    def connect_uri(self, uri: str, *, timeout: float = 30.0) -> Session:
        self.need("uri")
        return self._mount(timeout, uri=uri)


class GfapiDriver(AgentDriver):
    """libgfapi (the system's libgfapi.so.0) through ``gfapi_agent.py``."""

    def __init__(self) -> None:
        agent = Path(__file__).with_name("gfapi_agent.py")
        super().__init__([sys.executable, "-I", str(agent)])
        self.name = "libgfapi"

    def hello(self) -> dict[str, Any]:
        hello = super().hello()
        self.name = "libgfapi"
        return hello
