"""The protocol/client xlator: find the brick, handshake, keep the connection, reopen fds.

The sequence is ``client-handshake.c`` of GlusterFS 10.3, on one rpc client whose xid
counter survives reconnects:

1. connect to ``remote-host`` at ``remote-port`` (default 24007, glusterd; *not* the volfile
   server's port: ``af_inet_client_get_remote_sockaddr`` defaults to 24007);
2. DUMP (gfs_id 0xcaed; the first call also starts the PING keep-alive);
3. if the list holds the portmap program 34123456/1 the peer is glusterd: PORTBYBRICK
   (``remote-subvolume``, plus ``.rdma`` for rdma), disconnect, connect to the port it gave
   and go to 2;
4. otherwise pick FOP program 1298437/400 (switching the credentials to AUTH_GLUSTERFS_v3)
   and SETVOLUME with the xlator's options plus the keys a 10.3 client adds, in the order
   its dict serialises them;
5. reopen saved fds (OPEN / OPENDIR on their gfid, without O_CREAT|O_EXCL|O_TRUNC), then
   (with cluster/distribute above) the DHT STATFS on the root gfid with pid 0.

When the connection drops (or the server stays silent past ``ping-timeout``), pending calls
fail with ENOTCONN, fds are marked bad, and every 3 s a new attempt starts again at 1 -- so
a brick whose port came from glusterd is looked up again, as ``client_rpc_notify`` does by
resetting the port.  FOPs issued while disconnected fail at once with ENOTCONN.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import socket as _socket
import uuid
from typing import Any

import trio

from fakegluster.proto.common import ROOT_GFID
from fakegluster.proto.dump import GF_DUMP_PROGRAM, GF_DUMP_VERSION, GFS_ID, GfDumpProc, GfDumpReq
from fakegluster.proto.events import Reply
from fakegluster.proto.fops import (
    GLUSTER_FOP_PROGRAM,
    GfFop,
    GfxOpendirReq,
    GfxOpenReq,
    GfxStatfsReq,
    GLUSTER_FOP_VERSION_v2,
)
from fakegluster.proto.gfdict import old_dict_text
from fakegluster.proto.handshake import GLUSTER_HNDSK_PROGRAM, GLUSTER_HNDSK_VERSION, GfHndskProc, GfSetvolumeReq
from fakegluster.proto.portmap import GLUSTER_PMAP_PROGRAM, GLUSTER_PMAP_VERSION, GfPmapProc, PmapPortByBrickReq
from fakegluster.proto.volfile import Xlator

from .errors import GlusterConnectionError, RpcError, UnsupportedVolumeError, where
from .mgmt import GD_OP_VERSION_MAX
from .rpc import INTERNAL, Identity, RpcChannel, XidCounter
from .tls import ClientTLS
from .transport import open_stream

__all__ = [
    "BrickConfig",
    "BrickClient",
    "RemoteFd",
    "GF_DEFAULT_BASE_PORT",
    "CLIENT_VERSION",
]

log = logging.getLogger("gfclient.brick")

GF_DEFAULT_BASE_PORT = 24007
CLIENT_VERSION = "10.3"
RECONNECT_INTERVAL = 3.0
DEFAULT_PING_TIMEOUT = 42.0
DEFAULT_FRAME_TIMEOUT = 1800.0
_NO_REOPEN = 0o100 | 0o200 | 0o1000  # GF_O_CREAT | GF_O_EXCL | GF_O_TRUNC


@dataclasses.dataclass(frozen=True)
class BrickConfig:
    """What a protocol/client xlator's options say about its brick."""

    name: str
    host: str
    port: int | None
    subvolume: str
    transport: str
    ping_timeout: float
    frame_timeout: float
    options: tuple[tuple[str, str], ...]
    connect_timeout: float = 30.0

    @classmethod
    def from_xlator(cls, xl: Xlator, volfile_server: str | None = None) -> BrickConfig:
        opts = dict(xl.options)
        host = opts.get("remote-host") or volfile_server
        if not host:
            raise UnsupportedVolumeError(f"{xl.name}: the volfile gives no remote-host")
        subvol = opts.get("remote-subvolume")
        if not subvol:
            raise UnsupportedVolumeError(f"{xl.name}: the volfile gives no remote-subvolume")
        port = int(opts["remote-port"]) if opts.get("remote-port") else None
        transport = opts.get("transport-type", "tcp")
        if transport == "socket":
            transport = "tcp"
        options = list(xl.options.items())
        if "remote-host" not in opts:
            options.append(("remote-host", host))
        return cls(
            xl.name,
            host,
            port,
            subvol,
            transport,
            float(opts.get("ping-timeout", DEFAULT_PING_TIMEOUT)),
            float(opts.get("frame-timeout", DEFAULT_FRAME_TIMEOUT)),
            tuple(options),
        )


@dataclasses.dataclass(eq=False)
class RemoteFd:
    """A brick fd: ``fd`` is the server's number, -1 while bad (after a disconnect, until
    the reopen after the next SETVOLUME succeeds)."""

    gfid: bytes
    flags: int
    is_dir: bool
    fd: int = -1


class _OptionsDict:
    """The order libglusterfs serialises a dict in: a new key goes to the front, a replaced
    key keeps its place (that is why SETVOLUME lists the volfile options backwards)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def set(self, key: str, value: str) -> None:
        for i, (k, _) in enumerate(self.items):
            if k == key:
                self.items[i] = (key, value)
                return
        self.items.insert(0, (key, value))

    def as_old_dict(self) -> dict[str, bytes]:
        return {k: v.encode("utf-8", "surrogateescape") + b"\0" for k, v in self.items}


class BrickClient:
    """The connection to one brick (see the module docstring).  ``dht``: the graph has
    cluster/distribute, whose CHILD_UP handling sends a STATFS (step 5)."""

    def __init__(
        self,
        config: BrickConfig,
        *,
        dht: bool,
        volfile_key: str,
        process_name: str,
        pid: int,
        ctx_uuid: str | None = None,
        graph_id: int = 0,
        tls: ClientTLS | None = None,
    ) -> None:
        self.config = config
        self.dht = dht
        self.tls = tls if tls is not None else ClientTLS.from_machine()
        self.volfile_key = volfile_key
        self.process_name = process_name
        self.pid = pid
        self.xids = XidCounter()
        self.channel: RpcChannel | None = None
        self.volume_id: str | None = None
        self.setvolume_reply: dict[str, str] = {}
        self.connected_to: tuple[str, int] | None = None
        self.handshakes = 0
        self._ctx_uuid = ctx_uuid or str(uuid.uuid4())  # one per mount (glusterfs_ctx_t), shared by its bricks
        self.graph_id = graph_id
        self._setvol_count = 0
        self._options = _OptionsDict()
        for key, value in self.config.options:
            self._options.set(key, "socket" if key == "transport-type" and value == "tcp" else value)
        self._fds: set[RemoteFd] = set()
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self.up = False

    # ---- public ------------------------------------------------------------------------
    async def start(self, nursery: trio.Nursery) -> None:
        """Connect now (errors propagate) and keep reconnecting in ``nursery`` afterwards."""
        self._nursery = nursery
        self.channel = await self._connect()
        self.up = True
        nursery.start_soon(self._keep_connected)

    def start_retrying(self, nursery: trio.Nursery) -> None:
        """The first connect failed: try again every 3 s in ``nursery`` (a brick of a cluster
        volume that is down at mount time), like rpc-clnt's reconnect timer."""
        self._nursery = nursery
        self.channel = None
        self.up = False
        nursery.start_soon(self._keep_connected)

    async def aclose(self) -> None:
        self._closing = True
        self.up = False
        if self.channel is not None:
            await self.channel.aclose()

    def not_connected(self) -> GlusterConnectionError:
        c = self.config
        return GlusterConnectionError(
            errno.ENOTCONN,
            f"{c.name}: not connected to brick {c.subvolume} on "
            f"{where(*(self.connected_to or (c.host, c.port or GF_DEFAULT_BASE_PORT)))}",
        )

    async def fop(self, proc: GfFop, args: Any, *, ident: Identity, payload: bytes | memoryview = b"") -> Reply:
        """Send one FOP (program 1298437/400) and return its reply (op_ret unchecked)."""
        chan = self.channel
        if chan is None or not self.up or chan.closed.is_set():
            raise self.not_connected()
        return await chan.call(
            GLUSTER_FOP_PROGRAM,
            GLUSTER_FOP_VERSION_v2,
            proc,
            args,
            ident=ident,
            payload=payload,
            timeout=self.config.frame_timeout,
        )

    def register_fd(self, rfd: RemoteFd) -> None:
        self._fds.add(rfd)

    def forget_fd(self, rfd: RemoteFd) -> None:
        self._fds.discard(rfd)

    # ---- connecting --------------------------------------------------------------------
    async def _open(self, host: str, port: int) -> RpcChannel:
        assert self._nursery is not None
        transport = "rdma" if self.config.transport == "rdma" else "tcp"
        # socket_fix_ssl_opts: port 24007 follows secure-access, a brick port client.ssl
        settings = self.tls.settings(port, dict(self.config.options)) if transport == "tcp" else None
        ctx = settings.context(server=False) if settings is not None else None
        stream = await open_stream(transport, host, port, timeout=self.config.connect_timeout, tls=ctx)
        chan = RpcChannel(
            stream,
            peer=where(host, port),
            xids=self.xids,
            ping_timeout=self.config.ping_timeout,
            on_close=lambda reason: self._lost(chan),
        )
        await self._nursery.start(chan.run)
        return chan

    def _lost(self, chan: RpcChannel) -> None:
        """The connection in use went down: FOPs fail at once, fds are bad until reopened."""
        if chan is not self.channel:
            return
        self.up = False
        for rfd in self._fds:
            rfd.fd = -1

    async def _connect(self) -> RpcChannel:
        c = self.config
        host, port = c.host, c.port or GF_DEFAULT_BASE_PORT
        for _hop in range(4):
            chan = await self._open(host, port)
            try:
                dump = (
                    await chan.call(GF_DUMP_PROGRAM, GF_DUMP_VERSION, GfDumpProc.GF_DUMP_DUMP, GfDumpReq(GFS_ID))
                ).result
                if dump.op_ret < 0:
                    raise GlusterConnectionError(
                        dump.op_errno or errno.ENOTCONN, f"{c.name}: DUMP failed on {where(host, port)}"
                    )
                progs = {(p.prognum, p.progver) for p in dump.prog}
                if (GLUSTER_PMAP_PROGRAM, GLUSTER_PMAP_VERSION) in progs:
                    port = await self._portmap(chan, host, port)
                    await chan.aclose()
                    continue
                if (GLUSTER_FOP_PROGRAM, GLUSTER_FOP_VERSION_v2) not in progs:
                    raise GlusterConnectionError(
                        errno.EPROTONOSUPPORT,
                        f"{c.name}: the server on {where(host, port)} offers no GlusterFS 4.x v1 FOP program "
                        f"({GLUSTER_FOP_PROGRAM}/{GLUSTER_FOP_VERSION_v2}); it lists {sorted(progs)}",
                    )
                chan.use_v3 = True
                await self._setvolume(chan, host, port)
                self.connected_to = (host, port)
                await self._reopen(chan)
                if self.dht:
                    await self._dht_statfs(chan)
                self.handshakes += 1
                return chan
            except BaseException:
                await chan.aclose()
                raise
        raise GlusterConnectionError(errno.ELOOP, f"{c.name}: glusterd keeps redirecting (last {where(host, port)})")

    async def _portmap(self, chan: RpcChannel, host: str, port: int) -> int:
        brick = self.config.subvolume + (".rdma" if self.config.transport == "rdma" else "")
        rsp = (
            await chan.call(
                GLUSTER_PMAP_PROGRAM,
                GLUSTER_PMAP_VERSION,
                GfPmapProc.GF_PMAP_PORTBYBRICK,
                PmapPortByBrickReq(brick),
            )
        ).result
        if rsp.op_ret < 0 or not 0 < rsp.port < 65536:
            raise GlusterConnectionError(
                errno.ENOTCONN,
                f"{self.config.name}: glusterd on {where(host, port)} has no port for brick {brick} "
                f"(PORTBYBRICK op_ret {rsp.op_ret}): is the brick process running?",
            )
        return int(rsp.port)

    def setvolume_dict(self) -> dict[str, bytes]:
        """The SETVOLUME dict for the next handshake, in the 10.3 client's order."""
        opts = self._options
        opts.set("fops-version", str(GLUSTER_FOP_PROGRAM))
        host = _socket.gethostname()
        opts.set(
            "process-uuid",
            f"CTX_ID:{self._ctx_uuid}-GRAPH_ID:{self.graph_id}-PID:{self.pid}-HOST:{host}"
            f"-PC_NAME:{self.config.name}-RECON_NO:-{self._setvol_count}",
        )
        self._setvol_count += 1
        opts.set("process-name", self.process_name)
        opts.set("client-version", CLIENT_VERSION)
        if self.volume_id:
            opts.set("volume-id", self.volume_id)
        opts.set("volfile-key", self.volfile_key)
        opts.set("volfile-checksum", "0")
        opts.set("clnt-lk-version", "1")
        opts.set("opversion", str(GD_OP_VERSION_MAX))
        return opts.as_old_dict()

    async def _setvolume(self, chan: RpcChannel, host: str, port: int) -> None:
        c = self.config
        rsp = (
            await chan.call(
                GLUSTER_HNDSK_PROGRAM,
                GLUSTER_HNDSK_VERSION,
                GfHndskProc.GF_HNDSK_SETVOLUME,
                GfSetvolumeReq(self.setvolume_dict()),
            )
        ).result
        reply = old_dict_text(rsp.dict)
        self.setvolume_reply = reply
        if rsp.op_ret < 0:
            err = rsp.op_errno or errno.EINVAL
            remote = reply.get("ERROR", "no ERROR text")
            raise GlusterConnectionError(
                err, f"{c.name}: SETVOLUME of {c.subvolume} failed on {where(host, port)}: {remote}"
            )
        vid = reply.get("volume-id")
        if vid:
            if self.volume_id and vid != self.volume_id:
                raise GlusterConnectionError(
                    errno.EINVAL, f"{c.name}: volume-id changed from {self.volume_id} to {vid} on {where(host, port)}"
                )
            self.volume_id = vid
        if reply.get("child_up", "1").strip() in ("0", ""):
            raise GlusterConnectionError(
                errno.ENOTCONN, f"{c.name}: brick {c.subvolume} on {where(host, port)} says child_up 0 (not ready)"
            )

    async def _reopen(self, chan: RpcChannel) -> None:
        bad = [r for r in self._fds if r.fd == -1]
        if not bad:
            return

        async def one(rfd: RemoteFd) -> None:
            try:
                if rfd.is_dir:
                    req: Any = GfxOpendirReq(rfd.gfid, None)
                    proc = GfFop.OPENDIR
                else:
                    req = GfxOpenReq(rfd.gfid, rfd.flags & ~_NO_REOPEN, None)
                    proc = GfFop.OPEN
                rsp = (await chan.call(GLUSTER_FOP_PROGRAM, GLUSTER_FOP_VERSION_v2, proc, req, ident=INTERNAL)).result
            except (GlusterConnectionError, RpcError) as exc:
                log.warning("reopen of fd on %s failed: %s", uuid.UUID(bytes=rfd.gfid), exc)
                return
            if rsp.op_ret < 0:
                log.warning("reopen of fd on %s failed: errno %d", uuid.UUID(bytes=rfd.gfid), rsp.op_errno)
                return
            rfd.fd = rsp.fd

        async with trio.open_nursery() as nursery:
            for rfd in bad:
                nursery.start_soon(one, rfd)

    async def _dht_statfs(self, chan: RpcChannel) -> None:
        try:
            await chan.call(
                GLUSTER_FOP_PROGRAM,
                GLUSTER_FOP_VERSION_v2,
                GfFop.STATFS,
                GfxStatfsReq(ROOT_GFID, None),
                ident=INTERNAL,
            )
        except (GlusterConnectionError, RpcError) as exc:  # harmless, like DHT's
            log.debug("DHT STATFS failed: %s", exc)

    async def _keep_connected(self) -> None:
        while not self._closing:
            chan = self.channel
            if chan is not None:
                await chan.closed.wait()
                if self._closing:
                    return
                self._lost(chan)
                log.warning("%s: disconnected from %s: %s", self.config.name, chan.peer, chan.close_reason)
            while not self._closing:
                await trio.sleep(RECONNECT_INTERVAL)
                if self._closing:
                    return
                try:
                    new = await self._connect()
                except (GlusterConnectionError, RpcError, OSError) as exc:
                    log.info("%s: reconnect failed: %s", self.config.name, exc)
                    continue
                if self._closing:
                    await new.aclose()
                    return
                self.channel = new
                self.up = True
                log.info("%s: reconnected to %s", self.config.name, new.peer)
                break
