"""The gfapi management connection: GETSPEC the volfile from glusterd and keep the link open.

Like ``api/src/glfs-mgmt.c``: one rpc client with its own xid counter (GETSPEC is xid 2),
AUTH_GLUSTERFS_v2 with pid/uid/gid 0, no pings.  GETSPEC carries ``flags`` 1
(GF_GETSPEC_FLAG_SERVERS_LIST), the volfile id as ``key`` and the old-style dict
``{max-op-version: "100000", min-op-version: "1"}``; the reply's ``op_ret`` is the volfile
length (-1 with ``op_errno`` on failure).  The connection stays open for the life of the
volume; if glusterd drops it, :meth:`MgmtClient.run` reconnects every 3 s and fetches the
volfile again (a changed volfile is only logged: gfclient does not switch graphs).
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

import trio

from fakegluster.proto.gfdict import old_dict
from fakegluster.proto.handshake import (
    GF_GETSPEC_FLAG_SERVERS_LIST,
    GLUSTER_HNDSK_PROGRAM,
    GLUSTER_HNDSK_VERSION,
    GfGetspecReq,
    GfHndskProc,
)

from ._util import unwrap_groups
from .errors import GlusterConnectionError, RpcError, where
from .rpc import INTERNAL, RpcChannel, XidCounter
from .tls import ClientTLS
from .transport import open_stream
from .uri import GlusterURI

__all__ = ["MgmtClient", "GD_OP_VERSION_MAX", "GD_OP_VERSION_MIN", "RECONNECT_INTERVAL"]

log = logging.getLogger("gfclient.mgmt")

GD_OP_VERSION_MAX = 100000  # GlusterFS 10.x
GD_OP_VERSION_MIN = 1
RECONNECT_INTERVAL = 3.0  # rpc_clnt_reconnect


class MgmtClient:
    """The volfile-server connection of one mounted volume.

    ``server`` is the QEMU-style hint for errors (``host H and port N`` / ``socket S``).
    """

    def __init__(self, uri: GlusterURI, tls: ClientTLS | None = None) -> None:
        self.uri = uri
        self.tls = tls if tls is not None else ClientTLS.from_machine()
        self.server = where(uri.host, uri.port, uri.socket)
        self.channel: RpcChannel | None = None
        self.volfile: str | None = None
        self.xids = XidCounter()  # one rpc client: xids go on across reconnects
        self._closing = False

    async def _open(self) -> RpcChannel:
        u = self.uri
        settings = self.tls.settings(u.port) if u.transport != "unix" else None
        ctx = settings.context(server=False) if settings is not None else None
        stream = await open_stream(u.transport, u.host, u.port, u.socket, tls=ctx)
        return RpcChannel(stream, peer=self.server, xids=self.xids, ping_timeout=0)

    async def _getspec(self, channel: RpcChannel) -> str:
        xdata = old_dict({"max-op-version": GD_OP_VERSION_MAX, "min-op-version": GD_OP_VERSION_MIN})
        req = GfGetspecReq.cls(GF_GETSPEC_FLAG_SERVERS_LIST, self.uri.volume, xdata)
        reply = await channel.call(
            GLUSTER_HNDSK_PROGRAM, GLUSTER_HNDSK_VERSION, GfHndskProc.GF_HNDSK_GETSPEC, req, ident=INTERNAL
        )
        rsp: Any = reply.result
        if rsp.op_ret < 0:
            err = rsp.op_errno or errno.EINVAL
            raise GlusterConnectionError(
                err,
                f"glusterd on {self.server} has no volfile for volume {self.uri.volume!r} "
                f"(GETSPEC: {os.strerror(err)})",
            )
        spec = rsp.spec.encode("utf-8", "surrogateescape")
        if rsp.op_ret != len(spec):
            log.warning("GETSPEC op_ret %d != volfile length %d; using op_ret bytes", rsp.op_ret, len(spec))
            spec = spec[: rsp.op_ret]
        return spec.decode("utf-8", "surrogateescape")

    async def fetch(self, nursery: trio.Nursery) -> str:
        """Connect, start the channel in ``nursery`` and GETSPEC; returns the volfile text."""
        channel = await self._open()
        await nursery.start(channel.run)
        self.channel = channel
        try:
            self.volfile = await self._getspec(channel)
        except BaseException:
            await channel.aclose()
            raise
        return self.volfile

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the connection: when it drops, reconnect every 3 s and fetch the volfile again."""
        task_status.started()
        while not self._closing:
            channel = self.channel
            if channel is not None:
                await channel.closed.wait()
                if self._closing:
                    return
                log.info("volfile server %s disconnected: %s", self.server, channel.close_reason)
            self.channel = None
            await trio.sleep(RECONNECT_INTERVAL)
            try:
                with unwrap_groups():
                    async with trio.open_nursery() as nursery:
                        channel = await self._open()
                        await nursery.start(channel.run)
                        self.channel = channel
                        spec = await self._getspec(channel)
                        if spec != self.volfile:
                            log.warning(
                                "the volfile of %s changed on %s; gfclient keeps the graph it has",
                                self.uri.volume,
                                self.server,
                            )
                        await channel.closed.wait()
            except (GlusterConnectionError, RpcError) as exc:
                log.debug("volfile server %s: reconnect failed: %s", self.server, exc)
                self.channel = None

    async def aclose(self) -> None:
        self._closing = True
        if self.channel is not None:
            await self.channel.aclose()
