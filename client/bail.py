"""rpc-clnt.c's frame-timeout (``call_bail``) for one :class:`~gfclient.rpc.RpcChannel`, as an
object the channel owns (like its :class:`~gfclient.ping.Pinger`).

One timer task for the channel, not a cancel scope per call: :meth:`FrameTimeout.arm` gives a
trio task's waiter its deadline and moves the timer earlier if need be; when the timer fires,
every waiter of the trio thread past its deadline is dropped and resumed with ENOTCONN
("... bailed out after N s (frame-timeout)"), and the timer is set to the next deadline.
A blocked thread watches its own deadline (:mod:`gfclient.rpc_threads`) and raises
:meth:`FrameTimeout.error` itself.
"""

from __future__ import annotations

import errno
import math
from typing import TYPE_CHECKING

import trio

from .errors import GlusterConnectionError, describe_call

if TYPE_CHECKING:
    from .rpc import RpcChannel
    from .rpc_threads import _Waiter

__all__ = ["FrameTimeout"]


class FrameTimeout:
    """The frame-timeout timer of one channel (its trio thread only, but :meth:`error`)."""

    def __init__(self, channel: RpcChannel) -> None:
        self.channel = channel
        #: The earliest deadline of a trio task's call (``math.inf``: none).
        self.at = math.inf
        self._scope: trio.CancelScope | None = None

    def arm(self, w: _Waiter, timeout: float) -> None:
        """``w`` (a trio task's call, just submitted) bails out ``timeout`` seconds from now."""
        w.timeout = timeout
        w.deadline = deadline = trio.current_time() + timeout
        if deadline < self.at:
            self.at = deadline
            if self._scope is not None:
                self._scope.deadline = deadline

    def error(self, w: _Waiter, xid: int) -> GlusterConnectionError:
        """What a call that waited past its deadline fails with."""
        return GlusterConnectionError(
            errno.ENOTCONN,
            f"{describe_call(w.prog, w.vers, w.proc)} (xid {xid}) to {self.channel.peer} bailed out after "
            f"{w.timeout:g} s (frame-timeout)",
        )

    async def run(self) -> None:
        """The timer task (in the channel's nursery): fail the trio thread's calls that waited
        past their deadline."""
        ch = self.channel
        while True:
            with trio.CancelScope(deadline=self.at) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
            now = trio.current_time()
            expired: list[tuple[int, _Waiter]] = []
            nxt = math.inf
            with ch.lock:
                for xid, w in list(ch.waiters.items()):
                    if w.deadline <= now:
                        expired.append((xid, w))
                        del ch.waiters[xid]
                    elif w.deadline < nxt:
                        nxt = w.deadline
            self.at = nxt
            for xid, w in expired:
                ch.resume(w, None, self.error(w, xid))
