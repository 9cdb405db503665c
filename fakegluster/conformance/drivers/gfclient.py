"""gfclient, in this process (its blocking API, ``gfclient.connect``).

Every call runs in a worker thread bounded by a time limit (a hung call is a
:class:`~.base.ClientHang`, the thread is left behind).  Capabilities are read off the
installed gfclient: several volfile servers only if ``connect`` takes ``servers=``.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

from .base import ClientError, Driver, File, Server, Session, Stat, Target, Unsupported, call_with_timeout

__all__ = ["GfclientDriver"]

T = TypeVar("T")


def _server_spec(s: Server) -> str:
    if s.transport == "unix":
        return f"unix://{s.socket}"
    host = f"[{s.host}]" if ":" in s.host else s.host
    return f"{s.transport}://{host}:{s.port}"


def _call(fn: Callable[[], T], timeout: float, what: str) -> T:
    try:
        return call_with_timeout(fn, timeout, what)
    except OSError as exc:
        raise ClientError(exc.errno or 0, str(exc)) from None
    except ValueError as exc:  # a URI gfclient refuses
        raise ClientError(errno.EINVAL, str(exc)) from None


class GfclientFile(File):
    def __init__(self, f: Any, path: str, timeout: float) -> None:
        self._f, self.path, self._timeout = f, path, timeout

    def pread(self, offset: int, size: int) -> bytes:
        return _call(lambda: bytes(self._f.pread(size, offset)), self._timeout, "pread")

    def pwrite(self, offset: int, data: bytes) -> int:
        return int(_call(lambda: self._f.pwrite(data, offset), self._timeout, "pwrite"))

    def fstat(self) -> Stat:
        st = _call(self._f.fstat, self._timeout, "fstat")
        return Stat(st.st_size, st.st_mode, st.st_ino)

    def fsync(self) -> None:
        _call(self._f.fsync, self._timeout, "fsync")

    def close(self) -> None:
        _call(self._f.close, self._timeout, "close")


class GfclientSession(Session):
    def __init__(self, vol: Any, timeout: float) -> None:
        self._vol, self._timeout = vol, timeout

    def open(self, path: str, flags: int = os.O_RDWR, mode: int = 0o644) -> File:
        f = _call(lambda: self._vol.open(path, flags, mode), self._timeout, f"open {path}")
        return GfclientFile(f, path, self._timeout)

    def stat(self, path: str) -> Stat:
        st = _call(lambda: self._vol.stat(path), self._timeout, f"stat {path}")
        return Stat(st.st_size, st.st_mode, st.st_ino)

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        _call(lambda: self._vol.mkdir(path, mode), self._timeout, f"mkdir {path}")

    def rename(self, src: str, dst: str) -> None:
        _call(lambda: self._vol.rename(src, dst), self._timeout, f"rename {src}")

    def unlink(self, path: str) -> None:
        _call(lambda: self._vol.unlink(path), self._timeout, f"unlink {path}")

    def listdir(self, path: str) -> list[str]:
        return list(_call(lambda: self._vol.listdir(path), self._timeout, f"listdir {path}"))

    def umount(self, timeout: float = 60.0) -> None:
        _call(self._vol.close, timeout, "umount")

    def abort(self) -> None:
        try:
            call_with_timeout(self._vol.close, 10.0, "close")
        except Exception:  # cleanup: a client that cannot close is left to the process exit
            pass


class GfclientDriver(Driver):
    name = "gfclient"
    description = "gfclient (pure Python, in-process)"
    caps = frozenset(
        {"tcp6", "unix", "rdma", "uri", "create", "stat", "mkdir", "rename", "unlink", "listdir", "fsync", "umount"}
    )

    def __init__(self) -> None:
        gfclient = importlib.import_module("gfclient")  # (mypy sees the client as client.*)
        self._connect: Callable[..., Any] = gfclient.connect
        params = inspect.signature(gfclient.connect).parameters
        self._has_servers = "servers" in params
        if self._has_servers:
            self.caps = self.caps | {"servers"}

    def connect(self, target: Target, *, timeout: float = 30.0) -> Session:
        kw: dict[str, Any] = {"process_name": "conformance"}
        if len(target.servers) > 1:
            if not self._has_servers:
                raise Unsupported("this gfclient takes one volfile server (connect has no servers=)")
            kw["servers"] = [_server_spec(s) for s in target.servers[1:]]
        return self._mount(target.uri(), kw, timeout)

    def connect_uri(self, uri: str, *, timeout: float = 30.0) -> Session:
        return self._mount(uri, {"process_name": "conformance"}, timeout)

    def _mount(self, uri: str, kw: dict[str, Any], timeout: float) -> Session:
        vol = _call(lambda: self._connect(uri, **kw), timeout, f"mount {uri}")
        return GfclientSession(vol, self.op_timeout)
