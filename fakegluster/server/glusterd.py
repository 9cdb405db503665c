"""glusterd: the volfile server and the brick port map (``glusterd-handshake.c``, ``glusterd-pmap.c``).

:class:`GlusterdSession` answers one connection, synchronously (the trio shell feeds it).
On TCP it serves GF-DUMP, the handshake's GETSPEC / EVENT_NOTIFY / GET_VOLUME_INFO /
GET_SNAPSHOT_INFO and the portmap; on the unix socket, like glusterd 10.3, only GF-DUMP and
GETSPEC.  GETSPEC hands out the *trusted* client volfile (with the bricks' auth.login
credentials) to local peers and the plain one to others, with ``remote-host`` set to an
address the client can reach.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from ..mgmt.create import plain_volume
from ..mgmt.volgen import client_volfile
from ..proto import dump, handshake, portmap
from ..proto.events import Call
from ..proto.gfdict import old_dict, old_dict_text
from ..proto.xdr import Encoded, encode
from .brick import Brick
from .handle import ConnectionHandle

__all__ = ["Volume", "GlusterdSession", "GLUSTERD_TCP_PROGRAMS", "GLUSTERD_UNIX_PROGRAMS", "is_local"]

# NULL procedures have no actor in glusterd: PROC_UNAVAIL (seen on 10.3).
GLUSTERD_TCP_PROGRAMS = (
    dump.PROGRAM.only(["DUMP", "PING"]),
    handshake.PROGRAM.only(
        ["GETSPEC", "EVENT_NOTIFY", "GET_VOLUME_INFO", "GET_SNAPSHOT_INFO"], name="Gluster Handshake"
    ),
    portmap.PROGRAM.only(["PORTBYBRICK", "BRICKBYPORT", "SIGNIN", "SIGNOUT"]),
)
GLUSTERD_UNIX_PROGRAMS = (
    dump.PROGRAM.only(["DUMP", "PING"]),
    handshake.PROGRAM.only(["GETSPEC"], name="Gluster Handshake (CLI Getspec)"),
)
_DUMP = {
    "tcp": (
        dump.GfProgDetail.cls("GF-DUMP", dump.GF_DUMP_PROGRAM, 1),
        dump.GfProgDetail.cls("Gluster Portmap", portmap.GLUSTER_PMAP_PROGRAM, 1),
        dump.GfProgDetail.cls("Gluster Handshake", handshake.GLUSTER_HNDSK_PROGRAM, 2),
    ),
    "unix": (
        dump.GfProgDetail.cls("GF-DUMP", dump.GF_DUMP_PROGRAM, 1),
        dump.GfProgDetail.cls("Gluster Handshake (CLI Getspec)", handshake.GLUSTER_HNDSK_PROGRAM, 2),
    ),
}


#: The DUMP replies, encoded once (every connection starts with a DUMP).
_DUMP_RSP = {t: Encoded(dump.GfDumpRsp, encode(dump.GfDumpRsp, dump.GfDumpRsp(0, 0, 0, p))) for t, p in _DUMP.items()}


@dataclasses.dataclass
class Volume:
    name: str
    bricks: list[Brick]
    volume_id: str
    ping_timeout: int = 42

    def volfile(self, host: str, trusted: bool, port: int | None = None) -> str:
        """The client volfile; ``port`` is where the client asks for brick ports.

        The protocol/client xlator dials ``remote-host:remote-port`` (default 24007), DUMPs,
        and follows PORTBYBRICK when the peer lists the portmap program
        (``client_dump_version_cbk``).  So a glusterd on another port puts its own port in
        ``remote-port``; with no TCP glusterd at all, the brick's port goes there directly.
        """
        options = {"transport.address-family": "inet6" if ":" in host else "inet"}
        if self.ping_timeout != 42:
            options["network.ping-timeout"] = str(self.ping_timeout)
        b0 = self.bricks[0]
        vol = plain_volume(
            self.name,
            [(host, b.path) for b in self.bricks],
            volume_id=self.volume_id,
            username=b0.username,
            password=b0.password,
            options=options,
        )
        ports = None if port == 24007 else [port or b.port for b in self.bricks]
        return client_volfile(vol, trusted=trusted, remote_ports=ports)


@functools.lru_cache(maxsize=4096)  # once per address, not once per connection
def is_local(peer_host: str | None) -> bool:
    """glusterd gives the trusted volfile to clients on this machine (loopback or unix)."""
    if not peer_host:
        return True
    try:
        return ipaddress.ip_address(peer_host.split("%")[0]).is_loopback
    except ValueError:
        return False


#: The ``client-op-version`` glusterd 10.3 records for a plain new volume: a client whose
#: [min-op-version, max-op-version] misses it gets ENOTSUP from GETSPEC.
CLIENT_OP_VERSION = 2

#: Marker: the real actor never answers (glusterd's BRICKBYPORT with undecodable arguments).
NO_REPLY = object()

#: What glusterd's actors send with GARBAGE_ARGS when they cannot decode their arguments:
#: they still submit their reply structure (seen on 10.3; GF-DUMP and FOPs send none).
GLUSTERD_GARBAGE = {
    (handshake.GLUSTER_HNDSK_PROGRAM, 2): handshake.GfGetspecRsp.cls(-1, errno.ENOENT, "", None),
    (handshake.GLUSTER_HNDSK_PROGRAM, 5): handshake.GfEventNotifyRsp.cls(-1, 0, None),
    (handshake.GLUSTER_HNDSK_PROGRAM, 6): handshake.GfGetVolumeInfoRsp.cls(-1, errno.ENOENT, "", None),
    (handshake.GLUSTER_HNDSK_PROGRAM, 7): handshake.GfGetsnapNameUuidRsp.cls(-1, errno.ENOENT, "", None),
    (portmap.GLUSTER_PMAP_PROGRAM, 1): portmap.PmapPortByBrickRsp.cls(0, 0, 0, 0),
    (portmap.GLUSTER_PMAP_PROGRAM, 2): NO_REPLY,
    (portmap.GLUSTER_PMAP_PROGRAM, 4): portmap.PmapSigninRsp.cls(0, 0),
    (portmap.GLUSTER_PMAP_PROGRAM, 5): portmap.PmapSignoutRsp.cls(0, 0),
}


class GlusterdSession:
    """One connection to glusterd.

    Args:
        volumes: name -> Volume (looked up on every call, so volumes can come and go).
        transport: ``"tcp"`` or ``"unix"``.
        brick_host: what to put in ``remote-host`` (an address of this server the client
            reached, or can reach).
        peer_host: the client's address (None for unix), to choose the trusted volfile.
        ports: brick path -> port (``path.rdma`` -> the emulated rdma port).
        portmap_port: the TCP port of a glusterd (this one) that clients can ask for brick
            ports, or None if there is none (the volfile then names each brick's port).
    """

    def __init__(
        self,
        volumes: Mapping[str, Volume],
        transport: str,
        brick_host: str,
        peer_host: str | None,
        ports: Callable[[], Mapping[str, int]],
        portmap_port: int | None = 24007,
    ) -> None:
        self.volumes = volumes
        self.portmap_port = portmap_port
        self.transport = transport
        self.brick_host = brick_host
        self.trusted = is_local(peer_host)
        self.ports = ports
        self.conn: ConnectionHandle | None = None

    def attach(self, conn: ConnectionHandle) -> None:
        """The shell hands over the connection (GF-CBK FETCHSPEC goes out through it)."""
        self.conn = conn

    def garbage(self, prog: int, proc: int) -> Any:
        """The body sent with GARBAGE_ARGS for this procedure (None: a bare reply)."""
        return GLUSTERD_GARBAGE.get((prog, proc))

    def handle(self, call: Call) -> tuple[Any, Any]:
        a = call.args
        if call.prog == dump.GF_DUMP_PROGRAM:
            if call.proc == dump.GfDumpProc.GF_DUMP_DUMP:
                return _DUMP_RSP[self.transport], b""
            if call.proc == dump.GfDumpProc.GF_DUMP_PING:
                return dump.GfCommonRsp.cls(0, 0, None), b""
            return None, b""
        if call.prog == portmap.GLUSTER_PMAP_PROGRAM:
            return self._portmap(call.proc, a), b""
        proc = handshake.GfHndskProc(call.proc)
        if proc == handshake.GfHndskProc.GF_HNDSK_GETSPEC:
            return self.getspec(a.key, a.xdata, args=a), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_GET_VOLUME_INFO:
            return self.get_volume_info(a.dict), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_EVENT_NOTIFY:
            return handshake.GfEventNotifyRsp.cls(0, 0, None), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_GET_SNAPSHOT_INFO:
            return handshake.GfGetsnapNameUuidRsp.cls(-1, errno.EINVAL, "snapshots are not supported", None), b""
        return None, b""

    def getspec(self, key: str, xdata: Any = None, *, args: Any = None) -> Any:
        """``__server_getspec``: the name as a C string (up to its first NUL; any other bytes
        are just a name glusterd does not know: ENOENT), op-version range from xdata, then
        the volfile.  A name of NAME_MAX bytes or more is EINVAL with op_ret left at what
        ``xdr_to_generic`` returned: the length of the decoded arguments (seen on 10.3)."""
        rsp = handshake.GfGetspecRsp.cls
        key = key.split("\0", 1)[0]
        if len(key.encode("utf-8", "surrogateescape")) >= 255:
            decoded = len(encode(handshake.GfGetspecReq, args)) if args is not None else -1
            return rsp(decoded, errno.EINVAL, "", None)
        name = key[1:] if key.startswith("/") else key
        if xdata is None:
            low = high = 1  # no dict: the client is taken to speak op-version 1
        else:
            text = old_dict_text(xdata)
            try:
                low, high = int(text["min-op-version"]), int(text["max-op-version"])
            except (KeyError, ValueError):  # op_ret is dict_get's -ENOENT, as on a real 10.3
                return rsp(-errno.ENOENT, errno.ENOENT, "", None)
        volume = self.volumes.get(name)
        if volume is None:
            return rsp(-1, errno.ENOENT, "", None)
        if low > CLIENT_OP_VERSION or high < CLIENT_OP_VERSION:
            return rsp(-1, errno.ENOTSUP, "", None)
        spec = volume.volfile(self.brick_host, self.trusted, self.portmap_port)
        return handshake.GfGetspecRsp.cls(len(spec.encode("utf-8", "surrogateescape")), 0, spec, None)

    def get_volume_info(self, params: Any) -> Any:
        text = old_dict_text(params)
        rsp = handshake.GfGetVolumeInfoRsp.cls
        try:
            flags = int(text.get("flags", ""))
        except ValueError:
            return rsp(-1, errno.EINVAL, "", None)
        if not flags:
            return rsp(0, 0, "", None)
        volume = self.volumes.get(text.get("volname", ""))
        if volume is None:
            return rsp(-1, errno.EINVAL, "", None)
        return rsp(0, 0, "", old_dict(volume_id=volume.volume_id))

    def _portmap(self, proc: int, a: Any) -> Any:
        if proc == portmap.GfPmapProc.GF_PMAP_PORTBYBRICK:
            port = self.ports().get(a.brick)
            if port is None:
                return portmap.PmapPortByBrickRsp.cls(-1, 0, 0, 0)
            return portmap.PmapPortByBrickRsp.cls(0, 0, 0, port)
        if proc == portmap.GfPmapProc.GF_PMAP_BRICKBYPORT:
            for path, port in self.ports().items():
                if port == a.port:
                    return portmap.PmapBrickByPortRsp.cls(0, 0, 0, path)
            return portmap.PmapBrickByPortRsp.cls(-1, 0, 0, "")
        if proc == portmap.GfPmapProc.GF_PMAP_SIGNIN:
            return portmap.PmapSigninRsp.cls(0, 0)
        if proc == portmap.GfPmapProc.GF_PMAP_SIGNOUT:
            return portmap.PmapSignoutRsp.cls(0, 0)
        return None
