"""The LEASE FOP and the leases translator's check before other FOPs (``leases.c``), as a mixin
of :class:`~fakegluster.server.fops.FopHandlers`, over :mod:`fakegluster.server.leases`.

With ``features.leases`` off a LEASE is ENOSYS (with a zeroed lease), as on a real brick.  On,
the reply echoes the request's lease (its type: the inode's, for GET_LEASE).  A conflicting
FOP is held (``DEFERRED``) until the last lease is unlocked or revoked, then run and answered.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

import trio

from ..proto import callback
from ..proto import fops as F
from ..proto.common import GfProtoLease
from ..proto.events import Call
from ..store.base import Store, fs_error
from .handle import DEFERRED, Deferred
from .leases import NULL_ID, LeaseState, lease_flags
from .lockfops import rerun

if TYPE_CHECKING:
    from .brickstate import BrickState

__all__ = ["LeaseFops", "LEASE_FOPS"]

#: the FOPs features/leases looks at (and which inode: "fd", "gfid" or "old")
LEASE_FOPS = {
    "SETATTR": "gfid",
    "FSETATTR": "fd",
    "OPEN": "gfid",
    "READ": "fd",
    "TRUNCATE": "gfid",
    "FTRUNCATE": "fd",
    "WRITE": "fd",
    "ZEROFILL": "fd",
    "FALLOCATE": "fd",
    "DISCARD": "fd",
    "LK": "fd",
    "FSYNC": "fd",
    "FLUSH": "fd",
    "LINK": "old",
    "UNLINK": "entry",
    "RENAME": "oldentry",
}


def lease_id_of(xdata: Any) -> bytes | None:
    """``GET_LEASE_ID``: the request's ``lease-id`` (16 bytes), None when absent."""
    if not xdata or "lease-id" not in xdata:
        return None
    value = xdata["lease-id"].value
    return bytes(value)[:16] if isinstance(value, (bytes, bytearray, memoryview)) else None


class LeaseFops:
    """Lease handlers; the host class provides ``store``, ``state``, ``session``, ``_fd``,
    ``handle_now`` and ``client``."""

    store: Store
    state: BrickState
    session: Any

    if TYPE_CHECKING:

        def _fd(self, gfid: bytes, fd: int) -> Any: ...

        def handle_now(self, call: Call) -> tuple[Any, Any]: ...

        @property
        def client(self) -> Any: ...

    def op_lease(self, a: F.GfxLeaseReq, call: Call) -> F.GfxLeaseRsp:
        lease = a.lease
        if not self.state.options.leases:  # leases_lease's "not enabled": ENOSYS, a zeroed lease
            return F.GfxLeaseRsp(-1, errno.ENOSYS, None, GfProtoLease())
        self.store.getattr(a.gfid)
        st = self.state.inode(a.gfid)
        fds = [(ofd.lease_id, ofd.flags) for ofd in st.open_fds]
        op_ret, op_errno, type_, recall = st.leases.request(
            lease.cmd, lease.lease_type, bytes(lease.lease_id), self.client, fds
        )
        if recall:
            self.recall_leases(a.gfid, st.leases)
        if op_ret == 0 and lease.cmd == 3:
            self.resume_blocked(st.leases)
        return F.GfxLeaseRsp(op_ret, op_errno, None, GfProtoLease(lease.cmd, type_, lease.lease_id, lease.lease_flags))

    def lease_check(self, name: str, a: Any, call: Call, pid: int) -> tuple[Deferred, bytes] | None:
        """``check_lease_conflict`` before a FOP: None to go on; (DEFERRED, b"") when held."""
        where = LEASE_FOPS.get(name)
        if where is None or pid < 0:
            return None
        fd_flags = 0
        try:
            if where == "fd":
                ofd = self._fd(a.gfid, a.fd)
                gfid, fd_flags = ofd.gfid, ofd.flags
            elif where == "gfid":
                gfid = a.gfid
                fd_flags = a.flags if name == "OPEN" else 0
            elif where == "old":
                gfid = a.oldgfid
            elif where == "entry":
                gfid = self.store.lookup(a.pargfid, a.bname).gfid
            else:
                gfid = self.store.lookup(a.oldgfid, a.oldbname).gfid
        except OSError:
            return None  # resolution fails below, as the FOP itself reports it
        st = self.state.peek(gfid)
        if st is None or not st.leases.type:
            return None
        lk = (a.cmd, a.type) if name == "LK" else None
        flags = lease_flags(name, fd_flags, lk)
        if not st.leases.conflicts(name, lease_id_of(a.xdata), flags, pid < 0):
            return None
        self.recall_leases(gfid, st.leases)
        if not flags & 0x2:  # BLOCKING
            raise fs_error(errno.EAGAIN, "a lease conflicts")
        st.leases.blocked.append((self.session, call))
        return DEFERRED, b""

    def recall_leases(self, gfid: bytes, leases: LeaseState) -> None:
        """``__recall_lease``: RECALL_LEASE to each holder, revocation after the timeout."""
        if not leases.start_recall():
            return
        for client in leases.holders():
            for s in self.state.sessions_of(client)[:1]:
                if s.conn is not None and not s.conn.closed:
                    args = callback.Gfs3RecallLeaseReq(gfid, 0, bytes(16), b"")
                    s.conn.send_call(
                        callback.GLUSTER_CBK_PROGRAM,
                        callback.GLUSTER_CBK_VERSION,
                        callback.GfCbkProcnum.GF_CBK_RECALL_LEASE,
                        args,
                    )
        try:
            trio.lowlevel.spawn_system_task(self._revoke_later, leases, leases.generation)
        except RuntimeError:
            pass  # (no trio loop: handlers driven directly by a test; nothing is revoked)

    async def _revoke_later(self, leases: LeaseState, generation: int) -> None:
        await trio.sleep(self.state.options.lease_recall_timeout)
        if leases.revoke(generation):
            self.resume_blocked(leases)

    def resume_blocked(self, leases: LeaseState) -> None:
        """``do_blocked_fops``: the FOPs held by leases run now, in order, and are answered."""
        for session, call in leases.take_blocked():
            rerun(session, call)


__all__ += ["lease_id_of", "NULL_ID"]
