"""What a session sees of its connection: deferred replies, server-to-client calls, closing.

A session's ``handle(call)`` normally answers at once with ``(result, payload)``.  Some
answers come later (a blocked lock is granted when another client unlocks; a frozen brick
never answers), and some messages go the other way: glusterd sends GF-CBK FETCHSPEC to its
management connections when a volume changes, a brick sends CACHE_INVALIDATION and
RECALL_LEASE to its clients.  For those, the shell gives each session a
:class:`ConnectionHandle` before the first call (``session.attach(handle)`` when the session
has that method):

* ``handle(call)`` returns ``(DEFERRED, b"")`` -> nothing is sent now; later
  ``conn.reply(call, result, payload)`` sends the reply (and records it in the call log).
* ``conn.send_call(prog, vers, proc, args)`` sends a one-way CALL to the peer, with
  AUTH_NULL credentials and xids counting from 1 per connection, as a 10.3 brick and
  glusterd do (``upcall.pcap``, ``graph_switch.pcap``).
* ``handle(call)`` returns ``(Sliced(generator), b"")`` -> a long piece of work (a READ or
  WRITE of many MiB) done a step at a time: the shell runs the generator one ``next()`` per
  slice of the connection's work, lets the other connections run in between, and sends what
  the generator returns, ``(result, payload)``, as the reply.  The connection takes no other
  call meanwhile.
* ``conn.close()`` closes the connection from the server side (a killed brick).
* ``conn.closed`` says whether the peer is gone; a reply or call to a closed connection is
  dropped silently (a lock granted to a client that left).

Everything here is synchronous and runs in the server's trio thread: a handle never blocks.
Bytes are written eagerly when the socket takes them; the rest waits in the connection's
outbox, which its own writer drains in order (:mod:`fakegluster.server.net`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, Protocol

__all__ = ["DEFERRED", "ConnectionHandle", "Deferred", "Sliced"]


class Deferred:
    """The marker a session returns instead of a result when it will answer later."""

    _instance: Deferred | None = None

    def __new__(cls) -> Deferred:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFERRED"


#: ``return DEFERRED, b""`` from ``handle(call)``: the reply comes later through
#: :meth:`ConnectionHandle.reply`.
DEFERRED = Deferred()


class Sliced:
    """``return Sliced(gen), b""`` from ``handle(call)``: ``gen`` does the work a step per
    ``next()`` (each step a few milliseconds at most) and returns ``(result, payload)``."""

    __slots__ = ("steps",)

    def __init__(self, steps: Generator[None, None, tuple[Any, Any]]) -> None:
        self.steps = steps


class ConnectionHandle(Protocol):
    """The interface a session uses to talk to its connection (see the module docstring)."""

    #: the connection's number (the call log's ``connection``)
    id: int
    #: the peer's address ("unix", "rdma" or an IP address)
    peer: str
    #: the server's name in the call log ("glusterd", "brick:VOLUME:INDEX")
    name: str

    @property
    def closed(self) -> bool: ...

    def reply(self, call: Any, result: Any, payload: bytes | memoryview = b"") -> None:
        """Send the reply to a call whose ``handle`` returned :data:`DEFERRED`."""

    def send_call(self, prog: int, vers: int, proc: int, args: Any = None) -> int:
        """Send a one-way CALL (a GF-CBK callback) to the peer; returns its xid."""

    def close(self) -> None:
        """Close the connection from this side (pending output is dropped)."""

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` once when the connection ends (either side)."""
