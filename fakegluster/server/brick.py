"""A brick: what glusterfsd's protocol/server answers on one brick port.

:class:`Brick` is the volume-side state (store, path, volume id, auth.login credentials) and
the state of its "process": running, frozen (SIGSTOP: connections are accepted and calls
queued, never answered until it thaws) or stopped (no port; clients asking glusterd's port
map get op_ret -1, as for a dead glusterfsd).  The runtime (:mod:`.runtime`) starts and stops
its listeners; :class:`BrickSession` is one client connection: GF-DUMP, the handshake
(SETVOLUME checks as in ``server_setvolume``, ``xlators/protocol/server/src/server-handshake.c``)
and the FOP v400 program (``fops.FopHandlers``).  Synchronous and IO-free: the trio shell
feeds it Calls.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import uuid
from time import monotonic
from typing import TYPE_CHECKING, Any

from ..proto import dump, fops, handshake
from ..proto.errors import AuthStat, RejectStat
from ..proto.events import Call, Denied
from ..proto.gfdict import GfxValue, old_dict, old_dict_text
from ..proto.xdr import Encoded, encode
from ..store.base import Store
from .auth import LOCAL_PEER, AuthResult, Peer, allows_insecure, authenticate, server_options, string2boolean
from .brickstate import BrickState
from .fops import FdTable, FopHandlers
from .handle import DEFERRED, ConnectionHandle
from .iatt import to_iatt

if TYPE_CHECKING:
    import trio

    from .node import Node

log = logging.getLogger("fakegluster.server")

__all__ = ["Brick", "BrickSession", "BRICK_PROGRAMS", "BRICK_DUMP"]

#: What a brick serves (a v10.3 brick also serves the 3.3 FOP program; we do not, so we do
#: not list it: a client then always picks 4.x, as a 10.3 client does anyway).
BRICK_PROGRAMS = (
    dump.PROGRAM.only(["DUMP", "PING"]),  # GF-DUMP NULL has no actor: PROC_UNAVAIL (seen on 10.3)
    handshake.PROGRAM.only(["NULL", "SETVOLUME", "GETSPEC", "PING", "SET_LK_VER"]),
    fops.BRICK_PROGRAM,
)
#: rpcsvc's answer to a call from an unprivileged port when ``rpc-auth-allow-insecure`` is off
#: (``rpcsvc_handle_rpc_call``; seen on 10.3: even DUMP and undecodable calls get it).
INSECURE_DENIED = Denied(0, RejectStat.AUTH_ERROR, auth_stat=AuthStat.AUTH_REJECTEDCRED)
_GFID_FIELDS = ("gfid", "pargfid", "oldgfid", "newgfid")
_ARBITER_PROCS = frozenset(
    (
        fops.GfFop.WRITE,
        fops.GfFop.TRUNCATE,
        fops.GfFop.FTRUNCATE,
        fops.GfFop.FALLOCATE,
        fops.GfFop.DISCARD,
        fops.GfFop.ZEROFILL,
        fops.GfFop.READ,
        fops.GfFop.SEEK,
    )
)
#: arbiter_fill_writev_xdata: what a WRITE reply carries when the request asked for it
_ARBITER_WRITE_XDATA = {"glusterfs.open-fd-count": 1, "glusterfs.write-is-append": 1}
#: server_getspec of a brick (server-handshake.c), byte for byte.
GETSPEC_NOT_HERE = "<this method is not in use, use glusterd for getspec>"
BRICK_DUMP = (
    dump.GfProgDetail("GlusterFS 4.x v1", fops.GLUSTER_FOP_PROGRAM, fops.GLUSTER_FOP_VERSION_v2),
    dump.GfProgDetail("GF-DUMP", dump.GF_DUMP_PROGRAM, dump.GF_DUMP_VERSION),
    dump.GfProgDetail("GlusterFS Handshake", handshake.GLUSTER_HNDSK_PROGRAM, handshake.GLUSTER_HNDSK_VERSION),
)

#: The DUMP reply, encoded once (every connection starts with a DUMP).
_BRICK_DUMP_RSP = Encoded(dump.GfDumpRsp, encode(dump.GfDumpRsp, dump.GfDumpRsp(0, 0, 0, BRICK_DUMP)))


@dataclasses.dataclass
class Brick:
    """One brick of a volume.

    Attributes:
        volume: the volume name.
        path: the brick path clients name as ``remote-subvolume`` (and in PORTBYBRICK).
        store: where the files live.
        volume_id: the volume's uuid (text), as SETVOLUME reports it.
        username, password: the ``auth.login`` credentials the trusted volfile carries.
        options: the access options of its protocol/server xlator as the brick volfile has
            them (``auth.addr.PATH.allow``, ``rpc-auth-allow-insecure``, ...; see
            :mod:`.auth`); by default what glusterd writes for a volume with no options set.
            Change them with :meth:`reconfigure`.
        state: what the brick keeps across connections (locks, upcalls; ``brickstate.py``).
        index: the brick's place in the volume (``VOL-client-INDEX``; ``brick:VOL:INDEX`` in
            the call log).
        host: the node name of ``host:path``; ``node`` the node serving it.
        status: ``"running"``, ``"frozen"`` or ``"stopped"``; ``port`` 0 while stopped.
    """

    volume: str
    path: str
    store: Store
    volume_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    username: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    password: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    process_uuid: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    port: int = 0
    state: BrickState = dataclasses.field(default_factory=BrickState)
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    sessions: set[BrickSession] = dataclasses.field(default_factory=set, repr=False, compare=False)
    index: int = 0
    host: str = ""
    node: Node | None = dataclasses.field(default=None, repr=False)
    status: str = "stopped"
    #: the brick's listeners and connections (cancelled to stop it)
    scope: trio.CancelScope | None = dataclasses.field(default=None, repr=False)
    #: calls that reached a frozen brick: answered in order when it thaws
    held: list[tuple[BrickSession, Any]] = dataclasses.field(default_factory=list, repr=False)
    #: the arbiter brick of a replica set (no data: features/arbiter)
    arbiter: bool = False
    #: gfid -> time.monotonic() of the last FOP on it (replicate/disperse volumes: heal)
    touched: dict[bytes, float] | None = dataclasses.field(default=None, repr=False)
    #: what glusterd's port map last said (a restarted brick gets a new port)
    ports_seen: list[int] = dataclasses.field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        """``brick:VOLUME:INDEX``, the brick's name in the call log and in fault rules."""
        return f"brick:{self.volume}:{self.index}"

    @property
    def running(self) -> bool:
        """Running or frozen: a process holds the port (a frozen one just does not answer)."""
        return self.status != "stopped"

    def thaw(self) -> None:
        """Answer, in order, what reached the brick while it was frozen."""
        held, self.held = self.held, []
        self.status = "running" if self.status == "frozen" else self.status
        for session, call in held:
            session.answer_held(call)

    def __post_init__(self) -> None:
        self.state.brick_path = self.path
        if not self.options:
            self.options = server_options(self.path, self.username, self.password)

    def reconfigure(self, options: dict[str, str]) -> None:
        """New protocol/server options (``volume set``), as ``server_reconfigure`` applies
        them: rpcsvc's port check changes for every connection, and with ``dynamic-auth``
        (the default) every client that did SETVOLUME is authenticated again and
        disconnected if it no longer passes."""
        self.options = dict(options)
        dynamic = string2boolean(self.options.get("dynamic-auth", "on")) is not False
        for session in list(self.sessions):
            session.update_access()
            if dynamic and session.bound_params is not None and session.conn is not None:
                if session.authenticate(session.bound_params) != AuthResult.ACCEPT:
                    session.conn.close()


class BrickSession:
    """One client connection to a brick.  ``handle(call)`` -> (result, payload)."""

    def __init__(
        self, brick: Brick, connection_id: int = 0, peer: Peer = LOCAL_PEER, ssl_name: str | None = None
    ) -> None:
        self.brick = brick
        self.connection_id = connection_id
        self.peer = peer
        #: the common name of the client's TLS certificate (``trans->ssl_name``)
        self.ssl_name = ssl_name
        self.fds = FdTable()
        self.fops = FopHandlers(brick.store, self.fds, state=brick.state, session=self)
        self.bound = False
        self.bound_params: dict[str, str] | None = None  # SETVOLUME's dict (clnt_options)
        self.client_uid: str | None = None
        self.client_name: str | None = None
        self.conn: ConnectionHandle | None = None
        self.denied = False
        self.update_access()

    def update_access(self) -> None:
        """rpcsvc's privileged-port rule for this connection under the brick's options."""
        self.denied = not self.peer.privileged and not allows_insecure(self.brick.options)

    def authenticate(self, params: dict[str, str]) -> AuthResult:
        return authenticate(params, self.brick.options, self.peer, self.ssl_name)

    def attach(self, conn: ConnectionHandle) -> None:
        """The connection handle (:mod:`.handle`): deferred replies, callbacks, close."""
        self.conn = conn
        self.brick.sessions.add(self)

    def answer_held(self, call: Any) -> None:
        """Answer a call that waited while the brick was frozen."""
        if self.conn is None or self.conn.closed:
            return
        try:
            result, payload = self.handle(call)
        except Exception:  # as the dispatcher does: a bug must not take the brick down
            log.exception("%s: a held %s failed", self.brick.name, call.proc)
            return
        if result is not DEFERRED:
            self.conn.reply(call, result, payload)

    def garbage(self, prog: int, proc: int) -> Any:
        """The body sent with GARBAGE_ARGS (handshake actors still submit their reply;
        FOPs send a bare GARBAGE_ARGS) — seen on a 10.3 brick.  A denied peer gets the
        denial instead: rpcsvc checks the port before the actor decodes anything."""
        if self.denied:
            return INSECURE_DENIED
        if prog != handshake.GLUSTER_HNDSK_PROGRAM:
            return None
        replies: dict[int, Any] = {
            handshake.GfHndskProc.GF_HNDSK_SETVOLUME: handshake.GfSetvolumeRsp(-1, errno.EINVAL, {}),
            handshake.GfHndskProc.GF_HNDSK_GETSPEC: handshake.GfGetspecRsp(-1, errno.EINVAL, GETSPEC_NOT_HERE, None),
            handshake.GfHndskProc.GF_HNDSK_SET_LK_VER: handshake.GfSetLkVerRsp(0, 0, 0),
        }
        return replies.get(proc)

    def handle(self, call: Call) -> tuple[Any, Any]:
        if self.brick.status == "frozen" and self.conn is not None:
            self.brick.held.append((self, call))  # SIGSTOPped: the kernel queues, nobody answers
            return DEFERRED, b""
        if self.denied:
            return INSECURE_DENIED, b""
        faults = self.brick.state.faults  # (bricksem's data faults: a partition cuts every call)
        if self.bound and faults.partitioned and faults.cuts(self) and self.conn is not None:
            self.conn.close()
            return DEFERRED, b""
        if call.prog == fops.GLUSTER_FOP_PROGRAM:
            if call.proc == fops.GfFop.NULL:
                return None, b""
            if not self.bound:
                reply = fops.PROGRAM.procs[call.proc].reply
                assert reply is not None  # every FOP has a reply structure
                return reply(op_ret=-1, op_errno=errno.ENOTCONN), b""
            if self.brick.arbiter and call.proc in _ARBITER_PROCS:
                return self.arbiter(call)
            touched = self.brick.touched
            if touched is not None:  # the heal daemon leaves objects under a client's hands alone
                a, t = call.args, monotonic()
                for field in _GFID_FIELDS:
                    g = getattr(a, field, None)
                    if g:
                        touched[g] = t
            return self.fops.handle(call)
        if call.prog == dump.GF_DUMP_PROGRAM:
            if call.proc == dump.GfDumpProc.GF_DUMP_DUMP:
                return _BRICK_DUMP_RSP, b""
            if call.proc == dump.GfDumpProc.GF_DUMP_PING:
                return dump.GfCommonRsp(0, 0, None), b""
            return None, b""
        proc = handshake.GfHndskProc(call.proc)
        if proc == handshake.GfHndskProc.GF_HNDSK_SETVOLUME:
            return self.setvolume(call.args.dict), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_GETSPEC:
            return handshake.GfGetspecRsp(-1, errno.ENOSYS, GETSPEC_NOT_HERE, None), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_PING:
            return dump.GfCommonRsp(0, 0, None), b""
        if proc == handshake.GfHndskProc.GF_HNDSK_SET_LK_VER:
            return handshake.GfSetLkVerRsp(0, 0, call.args.lk_ver), b""
        return None, b""

    def fast(self, call: Call) -> tuple[Any, Any] | None:
        """:meth:`handle` of a bound client's READ on a plain brick (not frozen, not an
        arbiter): the FOP handlers' ``fast_read``; None: take :meth:`handle` (the connection's
        fast path, ``net.Dispatcher``)."""
        if call.args.__class__ is not fops.GfxReadReq or not self.bound or self.denied:
            return None
        brick = self.brick
        if brick.status == "frozen" or brick.arbiter or call.prog != fops.GLUSTER_FOP_PROGRAM:
            return None
        if brick.touched is not None:  # (as in handle)
            brick.touched[call.args.gfid] = monotonic()
        return self.fops.fast_read(call)

    def setvolume(self, params: Any) -> Any:
        """``server_setvolume``: the checks, in its order, and its reply dicts."""
        fail = handshake.GfSetvolumeRsp
        if not isinstance(params, dict):
            return fail(-1, errno.EINVAL, old_dict(ERROR="Internal error: failed to unserialize request dictionary"))
        text = old_dict_text(params)
        name = text.get("remote-subvolume")
        if name is None:
            return fail(-1, errno.EINVAL, old_dict(ERROR="No remote-subvolume option specified"))
        reply: dict[str, Any] = {}
        known = name == self.brick.path
        if known:
            reply["child_up"] = 1
        client_uid = text.get("process-uuid")
        if client_uid is None:
            return fail(-1, errno.EINVAL, _rev({**reply, "ERROR": "UUID not specified"}))
        sent_id = text.get("volume-id")
        if sent_id is not None and sent_id != self.brick.volume_id:
            return fail(-1, errno.EINVAL, _rev({**reply, "ERROR": "volume-id mismatch"}))
        reply["volume-id"] = self.brick.volume_id
        if text.get("fops-version") != str(fops.GLUSTER_FOP_PROGRAM):
            msg = f"version mismatch: client({_int(text.get('fops-version'))}) - client-mgmt(0)"
            return fail(-1, errno.EINVAL, _rev({**reply, "ERROR": msg}))
        if not known:
            return fail(-1, errno.ENOENT, _rev({**reply, "ERROR": "Brick not found"}))
        if self.authenticate(text) != AuthResult.ACCEPT:
            return fail(-1, errno.EACCES, _rev({**reply, "ERROR": "Authentication failed"}))
        self.bound = True
        self.bound_params = text
        self.client_uid = client_uid
        self.brick.state.bound(self)
        self.client_name = text.get("process-name")
        reply.update(
            {
                "ERROR": "Success",
                "process-uuid": self.brick.process_uuid,
                "clnt-lk-version": 0,
                "transport-ptr": 140224306923768 + self.connection_id,
            }
        )
        # op_errno stays EINVAL on success: the server initialises it so and never clears it.
        return fail(0, errno.EINVAL, _rev(reply))

    def arbiter(self, call: Call) -> tuple[Any, Any]:
        """features/arbiter (``xlators/features/arbiter/src/arbiter.c``) on the arbiter brick
        of a replica set: data never reaches the disk.  WRITE, TRUNCATE, FTRUNCATE, FALLOCATE,
        DISCARD and ZEROFILL succeed (WRITE's op_ret is its length) with the file's unchanged
        stat as pre and post; READ and SEEK are ENOSYS."""
        reply = fops.PROGRAM.procs[call.proc].reply
        assert reply is not None  # every FOP has a reply structure
        if call.proc in (fops.GfFop.READ, fops.GfFop.SEEK):
            return reply(op_ret=-1, op_errno=errno.ENOSYS), b""
        try:
            ia = to_iatt(self.brick.store.getattr(call.args.gfid))
        except OSError:
            return self.fops.handle(call)  # an unknown gfid: the usual error
        xdata = None
        if call.proc == fops.GfFop.WRITE:
            asked = call.args.xdata or {}
            xdata = {k: GfxValue.uint(v) for k, v in _ARBITER_WRITE_XDATA.items() if k in asked} or None
        op_ret = call.args.size if call.proc == fops.GfFop.WRITE else 0
        return reply(op_ret, 0, xdata, ia, ia), b""

    def close(self) -> None:
        """The connection is gone: its fds are released (like the server's fd cleanup),
        then the client's locks when this was its last connection."""
        self.fops.close()
        self.brick.state.gone(self)
        self.brick.sessions.discard(self)
        if self.brick.held:
            self.brick.held = [(s, c) for s, c in self.brick.held if s is not self]


def _rev(items: dict[str, Any]) -> dict[str, bytes]:
    # glusterfs dicts serialize newest key first.
    return old_dict({k: items[k] for k in reversed(list(items))})


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
