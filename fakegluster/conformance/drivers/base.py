"""The one small interface every client is driven through.

A :class:`Driver` mounts a volume (:meth:`Driver.connect` with a :class:`Target`, or
:meth:`Driver.connect_uri` for clients that take gluster URIs) and gives a :class:`Session`:
``open`` (a :class:`File`: ``pread``, ``pwrite``, ``fstat``, ``fsync``, ``lock``, ``close``),
``stat``, ``mkdir``, ``rename``, ``unlink``, ``listdir``, ``wait_event`` (upcalls the client
hands to its application) and ``umount``.

What the client reports comes back as values or as :class:`ClientError` (an errno and the
client's own words); an operation that does not return in time raises :class:`ClientHang`.
A driver declares what it can do in :attr:`Driver.caps` (:data:`CAPABILITIES`); asked for
anything else it raises :class:`Unsupported`, which makes the scenario OMIT.
"""

from __future__ import annotations

import dataclasses
import errno as _errno
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ...proto.uri import GlusterURI
from ..core import Omit

__all__ = [
    "CAPABILITIES",
    "ClientError",
    "ClientHang",
    "Unsupported",
    "Server",
    "Target",
    "Stat",
    "Event",
    "File",
    "Session",
    "Driver",
    "call_with_timeout",
    "errno_from_text",
]

#: What a driver may be able to do (``Driver.caps``); scenarios needing one OMIT without it.
CAPABILITIES = {
    "tcp6": "mount over IPv6",
    "unix": "fetch the volfile over glusterd's unix socket",
    "rdma": "ask for the rdma transport",
    "servers": "take several volfile servers (backups)",
    "uri": "take a gluster URI (gluster[+tcp|+unix|+rdma]://...)",
    "create": "create files (O_CREAT)",
    "stat": "stat a path",
    "mkdir": "make directories",
    "rename": "rename",
    "unlink": "unlink files",
    "listdir": "list a directory",
    "lock": "take POSIX byte-range locks",
    "events": "hand upcalls (cache invalidation) to the application",
    "fsync": "fsync an open file",
    "umount": "unmount cleanly, waiting for the client to finish",
}

T = TypeVar("T")


class ClientError(OSError):
    """The client reported a failure: ``errno`` (0 when it named none) and its own text."""

    def __init__(self, err: int, text: str) -> None:
        super().__init__(err, text)

    @property
    def name(self) -> str:
        return _errno.errorcode.get(self.errno or 0, f"errno {self.errno}") if self.errno else "no errno"

    def __str__(self) -> str:
        return f"{self.name}: {self.strerror}"


class ClientHang(Exception):
    """An operation did not return within its time limit."""


class Unsupported(Omit):
    """The driver cannot do this (OMIT)."""


@dataclasses.dataclass(frozen=True)
class Server:
    """A volfile server: ``tcp``/``rdma`` (host, port) or ``unix`` (socket path)."""

    transport: str
    host: str = ""
    port: int = 0
    socket: str = ""

    def __str__(self) -> str:
        if self.transport == "unix":
            return f"unix:{self.socket}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


@dataclasses.dataclass(frozen=True)
class Target:
    """What to mount: a volume and its volfile servers (the first is the primary)."""

    volume: str
    servers: tuple[Server, ...]

    @property
    def server(self) -> Server:
        return self.servers[0]

    def uri(self, path: str | None = None) -> str:
        """The gluster URI of ``path`` on the first server (QEMU's syntax)."""
        s = self.server
        if s.transport == "unix":
            return GlusterURI("unix", None, None, s.socket, self.volume, path).to_uri()
        return GlusterURI(s.transport, s.host, s.port, None, self.volume, path).to_uri()


@dataclasses.dataclass(frozen=True)
class Stat:
    size: int
    mode: int = 0
    ino: int = 0


@dataclasses.dataclass(frozen=True)
class Event:
    """An upcall the client handed to its application (``kind`` e.g. ``invalidate``)."""

    kind: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


class File:
    """An open file of a :class:`Session`."""

    path: str = ""

    def pread(self, offset: int, size: int) -> bytes:
        raise Unsupported("read")

    def pwrite(self, offset: int, data: bytes) -> int:
        raise Unsupported("write")

    def fstat(self) -> Stat:
        raise Unsupported("fstat")

    def fsync(self) -> None:
        raise Unsupported("fsync")

    def lock(self, kind: str, start: int = 0, length: int = 0, *, wait: bool = False) -> None:
        """A POSIX lock (``kind`` r, w or u = unlock) on [start, start+length) (0 = to EOF);
        a conflict is ClientError(EAGAIN) (or it waits, with ``wait``)."""
        raise Unsupported("lock")

    def close(self) -> None:
        raise Unsupported("close")


class Session:
    """A mounted volume."""

    def open(self, path: str, flags: int = os.O_RDWR, mode: int = 0o644) -> File:
        raise Unsupported("open")

    def stat(self, path: str) -> Stat:
        raise Unsupported("stat")

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        raise Unsupported("mkdir")

    def rename(self, src: str, dst: str) -> None:
        raise Unsupported("rename")

    def unlink(self, path: str) -> None:
        raise Unsupported("unlink")

    def listdir(self, path: str) -> list[str]:
        raise Unsupported("listdir")

    def subscribe(self) -> None:
        """Ask the client to hand upcalls to the application from now on (``events``)."""
        raise Unsupported("events")

    def wait_event(self, timeout: float) -> Event | None:
        """The next upcall the client delivered to its application, or None after ``timeout``."""
        raise Unsupported("events")

    def umount(self, timeout: float = 60.0) -> None:
        """Unmount cleanly (the client closes what it holds) and wait for it."""
        raise Unsupported("umount")

    def abort(self) -> None:
        """Tear down at once, whatever state the client is in (cleanup; never raises)."""


class Driver:
    """A client under test.  Subclasses set ``name``, ``caps`` and ``description`` and
    implement :meth:`connect` (and :meth:`connect_uri` with the ``uri`` capability)."""

    name = "abstract"
    description = ""
    caps: frozenset[str] = frozenset()
    #: seconds a client operation may take by default before it counts as hung
    op_timeout = 30.0
    #: an image client (QEMU): sizes round up to 512 bytes, reads past the end come back
    #: zero-filled instead of short
    pads_reads = False

    def unavailable(self) -> str | None:
        """Why this client cannot run here (missing binary, not root...), or None."""
        return None

    def connect(self, target: Target, *, timeout: float = 30.0) -> Session:
        raise NotImplementedError

    def connect_uri(self, uri: str, *, timeout: float = 30.0) -> Session:
        raise Unsupported(f"{self.name} takes no gluster URI")

    def need(self, cap: str) -> None:
        """Raise :class:`Unsupported` unless the driver has ``cap``."""
        if cap not in self.caps:
            raise Unsupported(f"{self.name} cannot {CAPABILITIES.get(cap, cap)}")

    def close(self) -> None:
        """Release what the driver holds across scenarios (nothing by default)."""


def call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """``fn()`` in a daemon thread; :class:`ClientHang` if it has not returned after
    ``timeout`` s (the thread is left to finish or die with the process)."""
    box: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller
            box.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=run, name=f"conformance {what}", daemon=True).start()
    if not done.wait(timeout):
        raise ClientHang(f"{what} did not return within {timeout:g} s")
    ok, value = box[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


_STRERRORS = {os.strerror(e).lower(): e for e in sorted(_errno.errorcode, reverse=True)}


def errno_from_text(text: str) -> int:
    """The errno whose strerror appears last in ``text`` (a tool's message), else 0."""
    low = text.lower()
    best, where = 0, -1
    for message, err in _STRERRORS.items():
        pos = low.rfind(message)
        if pos > where or (pos == where and pos >= 0 and len(message) > len(os.strerror(best))):
            best, where = err, pos
    return best if where >= 0 else 0
