"""glusterd: the volfile server and the brick port map (``glusterd-handshake.c``, ``glusterd-pmap.c``).

:class:`GlusterdSession` answers one connection, synchronously (the trio shell feeds it).
On TCP it serves GF-DUMP, the handshake's GETSPEC / EVENT_NOTIFY / GET_VOLUME_INFO /
GET_SNAPSHOT_INFO, the portmap and the gluster CLI's read-only procedures; on the unix socket,
like glusterd 10.3, GF-DUMP, GETSPEC and the whole CLI program (``clisession.py``).  GETSPEC
hands out the *trusted* client volfile (with the bricks' auth.login credentials) to local peers
and the plain one to others, with ``remote-host`` set to an address the client can reach.  The
port map is the node's: a brick of another node is not known here (op_ret -1), as with a real
pool.

Every connection glusterd holds gets the GF-CBK FETCHSPEC callback when a volume's volfile
changes (``glusterd_fetchspec_notify`` walks all its transports, CLI connections included:
``cli_mgmt.pcap``, ``graph_switch.pcap``); clients answer with a new GETSPEC.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..mgmt import cli_handlers, volgen
from ..proto import callback, cli, dump, handshake, portmap
from ..proto.events import Call
from ..proto.gfdict import old_dict, old_dict_text
from ..proto.programs import Program
from ..proto.xdr import Encoded, encode
from .auth import string2boolean
from .brick import INSECURE_DENIED, Brick
from .handle import ConnectionHandle
from .volume import BrickRef, Volume, brick_ref

if TYPE_CHECKING:
    from .clisession import CliProgram
    from .node import Node

__all__ = ["GlusterdSession", "GLUSTERD_TCP_PROGRAMS", "GLUSTERD_UNIX_PROGRAMS", "is_local"]

# NULL procedures have no actor in glusterd: PROC_UNAVAIL (seen on 10.3).
GLUSTERD_TCP_PROGRAMS: tuple[Program, ...] = (
    dump.PROGRAM.only(["DUMP", "PING"]),
    handshake.PROGRAM.only(
        ["GETSPEC", "EVENT_NOTIFY", "GET_VOLUME_INFO", "GET_SNAPSHOT_INFO"], name="Gluster Handshake"
    ),
    portmap.PROGRAM.only(["PORTBYBRICK", "BRICKBYPORT", "SIGNIN", "SIGNOUT"]),
    cli.PROGRAM.only(cli.TCP_PROCEDURES, name="GlusterD svc cli read-only"),
)
GLUSTERD_UNIX_PROGRAMS: tuple[Program, ...] = (
    dump.PROGRAM.only(["DUMP", "PING"]),
    handshake.PROGRAM.only(["GETSPEC"], name="Gluster Handshake (CLI Getspec)"),
    cli.PROGRAM.only(cli.UNIX_PROCEDURES),
)
_DUMP = {
    "tcp": (
        dump.GfProgDetail("GF-DUMP", dump.GF_DUMP_PROGRAM, 1),
        dump.GfProgDetail("GlusterD svc cli read-only", cli.GLUSTER_CLI_PROGRAM, 2),
        dump.GfProgDetail("Gluster Portmap", portmap.GLUSTER_PMAP_PROGRAM, 1),
        dump.GfProgDetail("Gluster Handshake", handshake.GLUSTER_HNDSK_PROGRAM, 2),
    ),
    "unix": (
        dump.GfProgDetail("GF-DUMP", dump.GF_DUMP_PROGRAM, 1),
        dump.GfProgDetail("GlusterD svc cli", cli.GLUSTER_CLI_PROGRAM, 2),
        dump.GfProgDetail("Gluster Handshake (CLI Getspec)", handshake.GLUSTER_HNDSK_PROGRAM, 2),
    ),
}


#: The DUMP replies, encoded once (every connection starts with a DUMP).
_DUMP_RSP = {t: Encoded(dump.GfDumpRsp, encode(dump.GfDumpRsp, dump.GfDumpRsp(0, 0, 0, p))) for t, p in _DUMP.items()}


@functools.lru_cache(maxsize=4096)  # once per address, not once per connection
def is_local(peer_host: str | None) -> bool:
    """glusterd gives the trusted volfile to clients on this machine (loopback or unix)."""
    if not peer_host:
        return True
    try:
        return ipaddress.ip_address(peer_host.split("%")[0]).is_loopback
    except ValueError:
        return False


#: Marker: the real actor never answers (glusterd's BRICKBYPORT with undecodable arguments).
NO_REPLY = object()

#: What glusterd's actors send with GARBAGE_ARGS when they cannot decode their arguments:
#: they still submit their reply structure (seen on 10.3; GF-DUMP and FOPs send none).
GLUSTERD_GARBAGE = {
    (handshake.GLUSTER_HNDSK_PROGRAM, 2): handshake.GfGetspecRsp(-1, errno.ENOENT, "", None),
    (handshake.GLUSTER_HNDSK_PROGRAM, 5): handshake.GfEventNotifyRsp(-1, 0, None),
    (handshake.GLUSTER_HNDSK_PROGRAM, 6): handshake.GfGetVolumeInfoRsp(-1, errno.ENOENT, "", None),
    (handshake.GLUSTER_HNDSK_PROGRAM, 7): handshake.GfGetsnapNameUuidRsp(-1, errno.ENOENT, "", None),
    (portmap.GLUSTER_PMAP_PROGRAM, 1): portmap.PmapPortByBrickRsp(0, 0, 0, 0),
    (portmap.GLUSTER_PMAP_PROGRAM, 2): NO_REPLY,
    (portmap.GLUSTER_PMAP_PROGRAM, 4): portmap.PmapSigninRsp(0, 0),
    (portmap.GLUSTER_PMAP_PROGRAM, 5): portmap.PmapSignoutRsp(0, 0),
}


class GlusterdSession:
    """One connection to a node's glusterd.

    Args:
        volumes: name -> Volume (looked up on every call, so volumes can come and go).
        transport: ``"tcp"`` or ``"unix"``.
        node: the node whose glusterd this is (its port map, its bricks' address).
        local_host: the address of this server the client reached (``remote-host`` of this
            node's bricks when the node has no fixed address), or one it can reach.
        peer_host: the client's address (None for unix), to choose the trusted volfile.
        portmap_port: the TCP port of this glusterd that clients can ask for brick ports
            (the listener this connection came in on), or None if there is none (the volfile
            then names each brick's port).
        identifier: the peer as glusterd names it (``ip:port``), for ``volume set``'s client
            op-version check.
        cli_program: what answers the gluster CLI's calls (:class:`.clisession.CliProgram`);
            the listener's program table decides which procedures reach it.
    """

    def __init__(
        self,
        volumes: Mapping[str, Volume],
        transport: str,
        node: Node,
        local_host: str,
        peer_host: str | None,
        portmap_port: int | None = 24007,
        identifier: str | None = None,
        cli_program: CliProgram | None = None,
    ) -> None:
        self.volumes = volumes
        self.cli_program = cli_program
        self.node = node
        self.portmap_port = portmap_port
        self.transport = transport
        self.local_host = local_host
        self.trusted = is_local(peer_host)
        self.conn: ConnectionHandle | None = None
        self.fetchspecs = 0
        #: rpcsvc denies every call: an unprivileged port and ``rpc-auth-allow-insecure off``
        #: in glusterd.vol (FakeGluster's ``glusterd_options``)
        self.denied = False
        self.peer = identifier or peer_host or "unix"
        #: (volume, "ip:port", min-op-version, max-op-version) of the volfile this client fetched
        self.client: tuple[str, str, int, int] | None = None

    def attach(self, conn: ConnectionHandle) -> None:
        """The connection handle: glusterd keeps it to send FETCHSPEC."""
        self.conn = conn
        self.node.sessions.add(self)
        conn.on_close(lambda: self.node.sessions.discard(self))

    def fetchspec(self) -> None:
        """GF-CBK FETCHSPEC: "your volfile changed, ask again" (no arguments, never answered)."""
        if self.conn is not None and not self.conn.closed:
            self.fetchspecs += 1
            self.conn.send_call(callback.GLUSTER_CBK_PROGRAM, 1, callback.GfCbkProcnum.GF_CBK_FETCHSPEC, None)

    def close(self) -> None:
        self.node.sessions.discard(self)

    def brick_address(self, brick: Brick) -> BrickRef:
        """Where this client finds ``brick``: through the glusterd it talks to for this node's
        bricks, through the brick's own node's glusterd for the others."""
        node = brick.node
        if node is None or node is self.node:
            host = self.local_host if node is None or node.dynamic_host else node.address
            ref = brick_ref(host, brick, self.portmap_port)
        else:
            ref = brick_ref(node.address, brick, node.glusterd_port)
        # A client.ssl client does TLS on every port but 24007 (socket_fix_ssl_opts), also for
        # PORTBYBRICK, and this glusterd speaks TLS only with management encryption: a volfile
        # that sends it to a glusterd on another port names the brick's port instead.
        vol = self.volumes.get(brick.volume)
        if ref.port is not None and brick.port and vol is not None:
            if string2boolean(vol.model.options.get("client.ssl", "off")):
                ref = dataclasses.replace(ref, port=brick.port)
        return ref

    def garbage(self, prog: int, proc: int) -> Any:
        """The body sent with GARBAGE_ARGS for this procedure (None: a bare reply)."""
        if self.denied:
            return INSECURE_DENIED
        return GLUSTERD_GARBAGE.get((prog, proc))

    def handle(self, call: Call) -> tuple[Any, Any]:
        if self.denied:
            return INSECURE_DENIED, b""
        a = call.args
        if call.prog == dump.GF_DUMP_PROGRAM:
            if call.proc == dump.GfDumpProc.GF_DUMP_DUMP:
                return _DUMP_RSP[self.transport], b""
            if call.proc == dump.GfDumpProc.GF_DUMP_PING:
                return dump.GfCommonRsp(0, 0, None), b""
            return None, b""
        if call.prog == portmap.GLUSTER_PMAP_PROGRAM:
            return self._portmap(call.proc, a), b""
        if call.prog == cli.GLUSTER_CLI_PROGRAM:  # the gluster CLI (server/clisession.py)
            if self.cli_program is None:
                return cli_handlers.not_supported(call.proc), b""
            return self.cli_program.handle(call)
        proc = handshake.GfHndskProc(call.proc)
        if proc == handshake.GfHndskProc.GF_HNDSK_GETSPEC:
            return self.getspec(a.key, a.xdata, args=a), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_GET_VOLUME_INFO:
            return self.get_volume_info(a.dict), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_EVENT_NOTIFY:
            return handshake.GfEventNotifyRsp(0, 0, None), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_GET_SNAPSHOT_INFO:
            return handshake.GfGetsnapNameUuidRsp(-1, errno.EINVAL, "snapshots are not supported", None), b""
        return None, b""

    def getspec(self, key: str, xdata: Any = None, *, args: Any = None) -> Any:
        """``__server_getspec``: the name as a C string (up to its first NUL; any other bytes
        are just a name glusterd does not know: ENOENT), op-version range from xdata, then
        the volfile.  A name of NAME_MAX bytes or more is EINVAL with op_ret left at what
        ``xdr_to_generic`` returned: the length of the decoded arguments (seen on 10.3)."""
        rsp = handshake.GfGetspecRsp
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
        if volume is None and name.endswith((".tcp", ".rdma")):
            volume = self.volumes.get(name.rsplit(".", 1)[0])
        if volume is None:  # a brick's or the self-heal daemon's volfile (build_volfile_path)
            other = volgen.volfile_for(key, {n: v.model for n, v in self.volumes.items()}, trusted=self.trusted)
            if other is None:
                return rsp(-1, errno.ENOENT, "", None)
            return rsp(len(other.encode("utf-8", "surrogateescape")), 0, other, None)
        cop = volume.model.client_op_version
        if low > cop or high < cop:
            return rsp(-1, errno.ENOTSUP, "", None)
        self.client = (volume.name, self.peer, low, high)
        family = "inet6" if ":" in self.brick_address(volume.bricks[0]).host else "inet"
        spec = volume.volfile(self.brick_address, self.trusted, family)
        return handshake.GfGetspecRsp(len(spec.encode("utf-8", "surrogateescape")), 0, spec, None)

    def get_volume_info(self, params: Any) -> Any:
        text = old_dict_text(params)
        rsp = handshake.GfGetVolumeInfoRsp
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
            port = self.node.portmap().get(a.brick)
            if port is None:
                return portmap.PmapPortByBrickRsp(-1, 0, 0, 0)
            return portmap.PmapPortByBrickRsp(0, 0, 0, port)
        if proc == portmap.GfPmapProc.GF_PMAP_BRICKBYPORT:
            for path, port in self.node.portmap().items():
                if port == a.port:
                    return portmap.PmapBrickByPortRsp(0, 0, 0, path)
            return portmap.PmapBrickByPortRsp(-1, 0, 0, "")
        if proc == portmap.GfPmapProc.GF_PMAP_SIGNIN:
            return portmap.PmapSigninRsp(0, 0)
        if proc == portmap.GfPmapProc.GF_PMAP_SIGNOUT:
            return portmap.PmapSignoutRsp(0, 0)
        return None
