"""rpc-clnt-ping.c's keep-alive for :class:`~gfclient.rpc.RpcChannel` (the rules are in
:mod:`gfclient.rpc`'s docstring).  A mixin: it works on the channel's state in the channel's
trio thread."""

from __future__ import annotations

import errno
import logging

import trio

from fakegluster.proto.dump import GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc

from .errors import GlusterConnectionError, RpcError
from .identity import INTERNAL

__all__ = ["Pinger"]

log = logging.getLogger("gfclient.rpc")


class Pinger:
    """Ping methods of :class:`~gfclient.rpc.RpcChannel`."""

    def _start_ping(self, submitted: bool = False) -> None:
        """rpc_clnt_start_ping; ``submitted``: a call was outstanding when this was asked for."""
        self._disarm()
        self._ping_started = False
        if self.ping_timeout <= 0 or self.close_reason is not None or self._nursery is None:
            return
        if not (submitted or self._waiters):
            return
        self._arm("expired")
        self._nursery.start_soon(self._send_ping)

    async def _send_ping(self) -> None:
        self.pings_sent += 1
        try:
            await self.call(GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc.GF_DUMP_PING, ident=INTERNAL)
        except (GlusterConnectionError, RpcError) as exc:
            log.debug("ping to %s failed: %s", self.peer, exc)
            self._disarm()
            self._ping_started = False
            return
        self._arm("start")

    def _ping_expired(self) -> None:
        now = trio.current_time()
        if now - self.last_received < self.ping_timeout or now - self.last_sent < self.ping_timeout:
            self._arm("expired")
            return
        self._ping_started = False
        self.disconnect(
            GlusterConnectionError(
                errno.ENOTCONN,
                f"server {self.peer} has not responded in the last {self.ping_timeout:g} seconds, disconnecting",
            )
        )

    def _arm(self, kind: str) -> None:
        self._disarm()
        if self._nursery is None or self.close_reason is not None:
            return
        scope = trio.CancelScope()
        self._timer = scope
        self._ping_started = True
        self._nursery.start_soon(self._timer_task, scope, trio.current_time() + self.ping_timeout, kind)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _timer_task(self, scope: trio.CancelScope, deadline: float, kind: str) -> None:
        with scope:
            await trio.sleep_until(deadline)
            if self._timer is not scope:
                return
            self._timer = None
            if kind == "start":
                self._start_ping()
            else:
                self._ping_expired()
