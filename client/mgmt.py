"""The gfapi management connection: GETSPEC the volfile from glusterd, keep the link open,
follow volfile changes, fall back to other volfile servers.

Like ``api/src/glfs-mgmt.c``: one rpc client with its own xid counter (GETSPEC is xid 2),
AUTH_GLUSTERFS_v2 with pid/uid/gid 0.  GETSPEC carries ``flags`` 1
(GF_GETSPEC_FLAG_SERVERS_LIST), the volfile id as ``key`` and the old-style dict
``{max-op-version: "100000", min-op-version: "1"}``; the reply's ``op_ret`` is the volfile
length (-1 with ``op_errno`` on failure).

* **Several volfile servers** (``glfs_set_volfile_server`` called more than once, QEMU's
  ``server.N``): until a volfile was fetched, a server that cannot be reached is followed
  by the next one (``mgmt_rpc_notify`` on DISCONNECT); once all failed, the mount fails
  naming them all.  A server that answers GETSPEC with an error ends the mount at once (the
  volume does not exist: asking elsewhere would not help).
* **Staying connected**: the connection stays open for the life of the volume, pinged like
  a brick's (``ping-timeout``), so a frozen glusterd is noticed; when it drops, every 3 s
  the next server in the list is tried (starting with the one that was lost) and the volfile
  fetched again.
* **Volfile changes**: glusterd sends a GF-CBK FETCHSPEC call when a volume changes
  (``mgmt_cbk_spec``); the volfile is fetched again and, when it differs, handed to the
  volume's ``on_volfile`` (the graph switch).  A volfile that changed across a reconnect is
  handed over the same way.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from fakegluster.proto.callback import GLUSTER_CBK_PROGRAM, GfCbkProcnum
from fakegluster.proto.events import Call
from fakegluster.proto.gfdict import old_dict, old_dict_text
from fakegluster.proto.handshake import (
    GF_GET_VOLUME_UUID,
    GF_GETSPEC_FLAG_SERVERS_LIST,
    GLUSTER_HNDSK_PROGRAM,
    GLUSTER_HNDSK_VERSION,
    GfGetspecReq,
    GfGetVolumeInfoReq,
    GfHndskProc,
)

from .errors import GlusterConnectionError, RpcError, where
from .rpc import INTERNAL, RpcChannel, XidCounter
from .tls import ClientTLS
from .transport import CONNECT_TIMEOUT, open_stream

__all__ = ["MgmtClient", "VolfileServer", "GD_OP_VERSION_MAX", "GD_OP_VERSION_MIN", "RECONNECT_INTERVAL"]

log = logging.getLogger("gfclient.mgmt")

GD_OP_VERSION_MAX = 100000  # GlusterFS 10.x
GD_OP_VERSION_MIN = 1
RECONNECT_INTERVAL = 3.0  # rpc_clnt_reconnect
DEFAULT_PORT = 24007


@dataclasses.dataclass(frozen=True)
class VolfileServer:
    """One volfile server: ``transport`` tcp/rdma with ``host``/``port``, or unix with ``socket``."""

    transport: str
    host: str | None = None
    port: int | None = None
    socket: str | None = None

    @classmethod
    def parse(cls, spec: str) -> VolfileServer:
        """``host``, ``host:port``, ``[v6]:port``, ``tcp://host[:port]``, ``rdma://host[:port]``
        or ``unix:///path/to/socket`` (QEMU's server.N fields in one string)."""
        text = spec.strip()
        transport = "tcp"
        for scheme in ("tcp", "rdma", "unix"):
            if text.startswith(scheme + "://"):
                transport, text = scheme, text[len(scheme) + 3 :]
                break
        if transport == "unix" or text.startswith("/"):
            if not text.startswith("/"):
                raise ValueError(f"a unix volfile server needs an absolute socket path: {spec!r}")
            return cls("unix", socket=text)
        host, port = text, DEFAULT_PORT
        if text.startswith("["):
            end = text.find("]")
            if end < 0:
                raise ValueError(f"bad IPv6 volfile server {spec!r}")
            host, rest = text[1:end], text[end + 1 :]
            if rest:
                if not rest.startswith(":") or not rest[1:].isdigit():
                    raise ValueError(f"bad volfile server {spec!r}")
                port = int(rest[1:])
        elif text.count(":") == 1:
            host, _, p = text.partition(":")
            if not p.isdigit():
                raise ValueError(f"bad volfile server port in {spec!r}")
            port = int(p)
        if not host or not 0 < port < 65536:
            raise ValueError(f"bad volfile server {spec!r}")
        return cls(transport, host, port)

    @property
    def hint(self) -> str:
        """How QEMU's hints name it (``host H and port N`` / ``socket S``)."""
        return where(self.host, self.port, self.socket)


class MgmtClient:
    """The volfile-server connection of one mounted volume (see the module docstring).

    ``on_volfile`` (async, set by the volume) gets each changed volfile after the first.
    """

    def __init__(
        self,
        volume: str,
        servers: Sequence[VolfileServer],
        *,
        ping_timeout: float = 42.0,
        frame_timeout: float | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        tls: ClientTLS | None = None,
    ) -> None:
        if not servers:
            raise ValueError("at least one volfile server is needed")
        self.volume = volume
        self.servers = list(servers)
        self.current = 0
        self.ping_timeout = ping_timeout
        self.frame_timeout = frame_timeout
        self.connect_timeout = connect_timeout
        self.tls = tls if tls is not None else ClientTLS.from_machine()
        self.channel: RpcChannel | None = None
        self.volfile: str | None = None
        self.fetches = 0
        self.on_volfile: Callable[[str], Awaitable[None]] | None = None
        self.xids = XidCounter()  # one rpc client: xids go on across reconnects
        self._closing = False
        self._nursery: trio.Nursery | None = None
        self._refetch = trio.Event()

    @property
    def server(self) -> str:
        """Every volfile server, as errors name them."""
        return ", ".join(s.hint for s in self.servers)

    @property
    def current_server(self) -> VolfileServer:
        return self.servers[self.current]

    async def _open(self, server: VolfileServer, nursery: trio.Nursery) -> RpcChannel:
        # management encryption: port 24007 over tcp follows secure-access (never a unix socket)
        settings = self.tls.settings(server.port) if server.transport != "unix" else None
        ctx = settings.context(server=False) if settings is not None else None
        stream = await open_stream(
            server.transport, server.host, server.port, server.socket, timeout=self.connect_timeout, tls=ctx
        )
        channel = RpcChannel(
            stream,
            peer=server.hint,
            xids=self.xids,
            ping_timeout=self.ping_timeout,
            on_callback=self._callback,
        )
        await nursery.start(channel.run)
        return channel

    def _callback(self, call: Call) -> None:
        """glusterd's FETCHSPEC (``mgmt_cbk_spec``): fetch the volfile again."""
        if call.prog == GLUSTER_CBK_PROGRAM and call.proc == GfCbkProcnum.GF_CBK_FETCHSPEC:
            log.info("%s: glusterd says the volfile of %s changed", self.current_server.hint, self.volume)
            self._refetch.set()

    async def _handshake(self, channel: RpcChannel, proc: GfHndskProc, req: Any) -> Any:
        """A GF-HANDSHAKE call on ``channel`` (pid/uid/gid 0, as glfs-mgmt.c sends them); its result."""
        reply = await channel.call(
            GLUSTER_HNDSK_PROGRAM, GLUSTER_HNDSK_VERSION, proc, req, ident=INTERNAL, timeout=self.frame_timeout
        )
        return reply.result

    async def _getspec(self, channel: RpcChannel, server: VolfileServer) -> str:
        xdata = old_dict({"max-op-version": GD_OP_VERSION_MAX, "min-op-version": GD_OP_VERSION_MIN})
        req = GfGetspecReq(GF_GETSPEC_FLAG_SERVERS_LIST, self.volume, xdata)
        rsp = await self._handshake(channel, GfHndskProc.GF_HNDSK_GETSPEC, req)
        if rsp.op_ret < 0:
            err = rsp.op_errno or errno.EINVAL
            raise GlusterConnectionError(
                err,
                f"glusterd on {server.hint} has no volfile for volume {self.volume!r} (GETSPEC: {os.strerror(err)})",
            )
        self.fetches += 1
        spec = rsp.spec.encode("utf-8", "surrogateescape")
        if rsp.op_ret != len(spec):
            log.warning("GETSPEC op_ret %d != volfile length %d; using op_ret bytes", rsp.op_ret, len(spec))
            spec = spec[: rsp.op_ret]
        return str(spec.decode("utf-8", "surrogateescape"))

    async def volume_id(self) -> uuid.UUID:
        """The volume's UUID, asked on this connection as ``glfs_get_volume_info_rpc`` does
        (api/src/glfs-mgmt.c): GET_VOLUME_INFO with the old-style dict ``{volname, flags:
        GF_GET_VOLUME_UUID}``; the reply's dict holds ``volume_id`` (``mgmt_get_volinfo_cbk``)."""
        channel = self.channel
        if channel is None:
            raise GlusterConnectionError(errno.ENOTCONN, f"no volfile server connection for {self.volume!r}")
        req = GfGetVolumeInfoReq(old_dict(volname=self.volume, flags=GF_GET_VOLUME_UUID))
        rsp = await self._handshake(channel, GfHndskProc.GF_HNDSK_GET_VOLUME_INFO, req)
        if rsp.op_ret < 0 or not rsp.dict:
            err = (rsp.op_errno if rsp.op_ret < 0 else 0) or errno.EINVAL
            raise OSError(err, os.strerror(err), self.volume)
        return uuid.UUID(old_dict_text(rsp.dict)["volume_id"])

    async def fetch(self, nursery: trio.Nursery) -> str:
        """Connect (to the first server that answers), start the channel in ``nursery`` and
        GETSPEC; returns the volfile text.  Connection failures move on to the next server."""
        self._nursery = nursery
        failures: list[GlusterConnectionError] = []
        for i, server in enumerate(self.servers):
            try:
                channel = await self._open(server, nursery)
            except GlusterConnectionError as exc:
                failures.append(exc)
                log.info("volfile server %s: %s", server.hint, exc)
                continue
            self.channel, self.current = channel, i
            try:
                self.volfile = await self._getspec(channel, server)
            except GlusterConnectionError as exc:
                await channel.aclose()
                if exc.errno == errno.ENOTCONN:  # the server went away under us: next one
                    failures.append(exc)
                    continue
                raise
            except BaseException:
                await channel.aclose()
                raise
            return self.volfile
        last = failures[-1]
        raise GlusterConnectionError(last.errno or errno.ENOTCONN, f"no volfile server answered: {last.strerror}")

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the connection (see the module docstring) until :meth:`aclose`."""
        task_status.started()
        while not self._closing:
            channel = self.channel
            if channel is not None:
                await self._serve(channel)
                if self._closing:
                    return
                log.info("volfile server %s disconnected: %s", channel.peer, channel.close_reason)
            self.channel = None
            await trio.sleep(RECONNECT_INTERVAL)
            await self._reconnect()

    async def _serve(self, channel: RpcChannel) -> None:
        """While ``channel`` is up: fetch the volfile again whenever glusterd says so."""
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                await channel.closed.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            while True:
                await self._refetch.wait()
                self._refetch = trio.Event()
                try:
                    spec = await self._getspec(channel, self.current_server)
                except (GlusterConnectionError, RpcError) as exc:
                    log.warning("re-fetching the volfile of %s failed: %s", self.volume, exc)
                    continue
                await self._changed(spec)

    async def _changed(self, spec: str) -> None:
        if spec == self.volfile:
            return
        self.volfile = spec
        if self.on_volfile is not None:
            with trio.CancelScope(shield=True):  # a graph switch is not undone by a lost link
                await self.on_volfile(spec)

    async def _reconnect(self) -> None:
        """One round over the servers, from the one that was lost."""
        assert self._nursery is not None
        n = len(self.servers)
        for k in range(n):
            i = (self.current + k) % n
            server = self.servers[i]
            try:
                channel = await self._open(server, self._nursery)
            except GlusterConnectionError as exc:
                log.debug("volfile server %s: reconnect failed: %s", server.hint, exc)
                continue
            try:
                spec = await self._getspec(channel, server)
            except (GlusterConnectionError, RpcError) as exc:
                log.debug("volfile server %s: GETSPEC failed: %s", server.hint, exc)
                await channel.aclose()
                continue
            self.channel, self.current = channel, i
            await self._changed(spec)
            return

    async def aclose(self) -> None:
        self._closing = True
        if self.channel is not None:
            await self.channel.aclose()
