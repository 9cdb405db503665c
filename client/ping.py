"""rpc-clnt-ping.c's keep-alive for one :class:`~gfclient.rpc.RpcChannel` (the rules are in
:mod:`gfclient.rpc`'s docstring), as an object the channel owns.

It uses a small part of the channel: ``call`` (to send the PING), ``outstanding``,
``last_sent``/``last_received``, ``closed``, ``disconnect``, ``peer``, ``nursery`` and
``ping_timeout``.  The channel tells it when a call was submitted (:meth:`Pinger.submitted`,
from the trio thread; :meth:`Pinger.submitted_elsewhere` from another thread) and when the
connection ends (:meth:`Pinger.stop`).  Everything else runs in the channel's trio thread.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING, Any

import trio

from fakegluster.proto.dump import GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc

from .errors import GlusterConnectionError, RpcError
from .identity import INTERNAL

if TYPE_CHECKING:
    from .rpc import RpcChannel

__all__ = ["Pinger"]

log = logging.getLogger("gfclient.rpc")


class Pinger:
    """The ping timers of one channel (``rpc_clnt_start_ping`` and its callbacks)."""

    def __init__(self, channel: RpcChannel) -> None:
        self.channel = channel
        #: PINGs sent so far.
        self.sent = 0
        #: A ping timer runs (``conn->ping_started``).
        self.started = False
        self._timer: trio.CancelScope | None = None

    @property
    def timeout(self) -> float:
        return self.channel.ping_timeout

    # ---- what the channel tells --------------------------------------------------------
    def submitted(self, is_ping: bool) -> None:
        """A call went out (trio thread): start pinging unless a timer runs or it is a PING."""
        if not self.started and not is_ping:
            self._start(False)

    def submitted_elsewhere(self) -> bool:
        """A call went out from another thread: returns True when the caller must have
        :meth:`start_soon` run in the trio thread (``rpc_clnt_check_and_start_ping``: the
        call was outstanding at submit time, so the PING goes out even if its reply is
        already in when the trio thread gets to it)."""
        if self.started or self.timeout <= 0:
            return False
        self.started = True
        return True

    def start_soon(self) -> None:
        """In the trio thread, after :meth:`submitted_elsewhere` said so."""
        self._start(True)

    def stop(self) -> None:
        """The connection ended: no more timers."""
        self._disarm()
        self.started = False

    # ---- the timers ---------------------------------------------------------------------
    def _start(self, submitted: bool) -> None:
        """rpc_clnt_start_ping; ``submitted``: a call was outstanding when this was asked for."""
        self._disarm()
        self.started = False
        chan = self.channel
        if self.timeout <= 0 or chan.close_reason is not None or chan.nursery is None:
            return
        if not (submitted or chan.outstanding):
            return
        self._arm("expired")
        chan.nursery.start_soon(self._send)

    async def _send(self) -> None:
        self.sent += 1
        try:
            await self.channel.call(GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc.GF_DUMP_PING, ident=INTERNAL)
        except (GlusterConnectionError, RpcError) as exc:
            log.debug("ping to %s failed: %s", self.channel.peer, exc)
            self._disarm()
            self.started = False
            return
        self._arm("start")

    def _expired(self) -> None:
        chan = self.channel
        now = trio.current_time()
        if now - chan.last_received < self.timeout or now - chan.last_sent < self.timeout:
            self._arm("expired")
            return
        self.started = False
        chan.disconnect(
            GlusterConnectionError(
                errno.ENOTCONN,
                f"server {chan.peer} has not responded in the last {self.timeout:g} seconds, disconnecting",
            )
        )

    def _arm(self, kind: str) -> None:
        self._disarm()
        chan = self.channel
        if chan.nursery is None or chan.close_reason is not None:
            return
        scope = trio.CancelScope()
        self._timer = scope
        self.started = True
        chan.nursery.start_soon(self._timer_task, scope, trio.current_time() + self.timeout, kind)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _timer_task(self, scope: trio.CancelScope, deadline: float, kind: Any) -> None:
        with scope:
            await trio.sleep_until(deadline)
            if self._timer is not scope:
                return
            self._timer = None
            if kind == "start":
                self._start(False)
            else:
                self._expired()
