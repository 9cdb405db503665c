"""The lock FOPs of a brick (LK, INODELK, FINODELK, ENTRYLK, FENTRYLK) and the lock-count
xdata keys, as a mixin of :class:`~fakegluster.server.fops.FopHandlers`, over the tables of
:mod:`fakegluster.server.locks` kept in the brick's :class:`~.brickstate.BrickState`.

What the protocol layer adds to features/locks, read off a 10.3 brick (the conformance
module asserts it on fake and real): the lock owner is the caller's AUTH_GLUSTERFS
``lk_owner`` (not the flock's), a null owner is EINVAL; LK takes its type from the request's
``type`` word (a 10.3 brick *crashes* on any other value than 0, 1, 2 — we answer EINVAL)
and maps ``cmd`` like ``server4_0_lk``; an unlock that leaves locks on the fd answers
F_RDLCK (``pl_lk``'s "last unlock on fd" hint for NLM); INODELK F_GETLK is ENOTSUP; the
range (LLONG_MAX-1, 0) locks the domain's ``:metadata`` twin; ENTRYLK's cmd is raw
(LOCK 0, UNLOCK 1, LOCK_NB 2; anything else fails with errno 0).  A request that must wait
is answered later (``DEFERRED``), when an unlock, a release or a disconnect lets it in.
LK cmds 3-6 are features/locks' reservations (:mod:`.reservelk`); an F_SETLK(W) queued behind
one is never answered, as on 10.3.
"""

from __future__ import annotations

import errno
from collections.abc import Hashable
from typing import Any

from ..proto import callback
from ..proto import fops as F
from ..proto.common import GfProtoFlock
from ..proto.events import Call
from ..proto.gfdict import GfxValue
from ..proto.rpc import OpaqueAuth, decode_auth
from ..store.base import fs_error
from .handle import DEFERRED, Deferred, Sliced
from .locks import (
    BLOCKED,
    EAGAIN,
    LLONG_MAX,
    RDLCK,
    UNLCK,
    WRLCK,
    Answer,
    EntryLock,
    InodeLock,
    PosixLock,
    lock_end,
    s64,
)

__all__ = ["LockFops", "DEFERRED", "lock_counts"]


GF_LK_GETLK, GF_LK_SETLK, GF_LK_SETLKW = 0, 1, 2
GF_LK_RESLK_LCK, GF_LK_RESLK_LCKW, GF_LK_RESLK_UNLCK, GF_LK_GETLK_FD = 3, 4, 5, 6  # reservelk.py
LK_CMDS = (GF_LK_GETLK, GF_LK_SETLK, GF_LK_SETLKW, GF_LK_RESLK_LCK, GF_LK_RESLK_LCKW, GF_LK_RESLK_UNLCK, GF_LK_GETLK_FD)
LINUX_F_SETLKW = 7  # a raw cmd server4_0_lk does not map reaches pl_lk as Linux's own value
ENTRYLK_LOCK, ENTRYLK_UNLOCK, ENTRYLK_LOCK_NB = 0, 1, 2
ANON_FD = F.GF_ANON_FD_NO

INODELK_COUNT = "glusterfs.inodelk-count"
INODELK_DOM_COUNT = "glusterfs.inodelk-dom-count"
ENTRYLK_COUNT = "glusterfs.entrylk-count"
POSIXLK_COUNT = "glusterfs.posixlk-count"
PARENT_ENTRYLK = "glusterfs.parent-entrylk"
#: with it, every ``glusterfs.inodelk-dom-prefix:DOMAIN`` key asks for DOMAIN's inodelk
#: count (how glfsheal and the self-heal daemon see a heal in progress)
MULTI_DOM = "glusterfs.multi-dom-lk-cnt-req"
DOM_PREFIX = "glusterfs.inodelk-dom-prefix"
#: the request keys features/locks consumes (``pl_has_xdata_requests``)
LOCK_KEYS = frozenset({INODELK_COUNT, INODELK_DOM_COUNT, ENTRYLK_COUNT, POSIXLK_COUNT, PARENT_ENTRYLK, MULTI_DOM})


class Waiter:
    """A request answered later: who asked (session, call) and how to word the reply."""

    __slots__ = ("session", "call", "reply")

    def __init__(self, session: Any, call: Call, reply: Any) -> None:
        self.session, self.call, self.reply = session, call, reply

    def deliver(self, answer: Answer) -> None:
        conn = getattr(self.session, "conn", None) if self.session is not None else None
        if conn is None or conn.closed:
            return
        result: F.GfxLkRsp | F.GfxCommonRsp
        if self.reply is F.GfxLkRsp:
            lk = answer.lock
            flock = _flock(lk.type, 0, lk.start, lk.length, lk.pid, lk.owner) if answer.op_ret == 0 else _flock()
            result = F.GfxLkRsp(answer.op_ret, answer.op_errno, None, flock)
        else:
            result = F.GfxCommonRsp(answer.op_ret, answer.op_errno, None)
        conn.reply(self.call, result)


class FlockWaiter(Waiter):
    """A RESLK_LCKW request answered later, with its own flock (``lock->user_flock``)."""

    __slots__ = ("flock",)

    def __init__(self, session: Any, call: Call, flock: Any) -> None:
        super().__init__(session, call, F.GfxLkRsp)
        self.flock = flock

    def deliver(self, answer: Answer) -> None:
        conn = getattr(self.session, "conn", None) if self.session is not None else None
        if conn is not None and not conn.closed:
            flock = self.flock if answer.op_ret == 0 else _flock()
            conn.reply(self.call, F.GfxLkRsp(answer.op_ret, answer.op_errno, None, flock))


def _flock(type_: int = 0, whence: int = 0, start: int = 0, length: int = 0, pid: int = 0, owner: bytes = b"") -> Any:
    return GfProtoFlock(type_, whence, start & (1 << 64) - 1, length & (1 << 64) - 1, pid & 0xFFFFFFFF, owner)


def _getlk_flock(lock: PosixLock, fl: Any) -> Any:
    """``posix_lock_to_flock`` into the request's flock (its whence stays)."""
    return _flock(lock.type, fl.whence, lock.start, lock.length, lock.pid, lock.owner)


def credentials(call: Call) -> Any:
    """The call's AUTH_GLUSTERFS credentials, decoded on first need (the server keeps them raw
    until then); None when they do not decode."""
    cred = call.cred
    if isinstance(cred, OpaqueAuth):
        try:
            cred = decode_auth(cred)
        except ValueError:
            return None
    return cred


def lk_owner(call: Call) -> bytes:
    """The caller's lock owner (``frame->root->lk_owner``, from AUTH_GLUSTERFS)."""
    cred = credentials(call)
    owner = getattr(cred, "lk_owner", b"")
    if isinstance(owner, int):  # AUTH_GLUSTERFS v1 carries a 64-bit number
        owner = owner.to_bytes(8, "little") if owner else b""
    return bytes(owner)


def caller_pid(call: Call) -> int:
    return getattr(credentials(call), "pid", 0)


class LockFops:
    """Lock handlers; the host class provides ``state``, ``session``, ``store`` and ``_fd``."""

    state: Any
    session: Any

    @property
    def client(self) -> Hashable:
        """The caller's identity for lock ownership: its SETVOLUME process-uuid (client_t)."""
        return getattr(self.session, "client_uid", None) or id(self)

    def _fd_key(self, gfid: bytes, fd: int) -> tuple[Any, Hashable]:
        ofd = self._fd(gfid, fd)  # type: ignore[attr-defined]
        return ofd, (("anon", ofd.gfid) if fd == ANON_FD else ofd)

    def _defer(self, call: Call, reply: Any) -> Waiter:
        return Waiter(self.session, call, reply)

    # ---- LK ---------------------------------------------------------------------------
    def op_lk(self, a: F.GfxLkReq, call: Call) -> F.GfxLkRsp | tuple[Deferred, bytes]:
        ofd, fdkey = self._fd_key(a.gfid, a.fd)
        if a.type not in (0, 1, 2):
            raise fs_error(errno.EINVAL, "lock type")  # a 10.3 brick dereferences NULL here
        fl = a.flock
        start, length = s64(fl.start), s64(fl.len)
        if start < 0 or s64(start + length) < 0:
            raise fs_error(errno.EINVAL)
        if length < 0:
            start, length = start + length, -length
        owner = lk_owner(call)
        if not owner:
            raise fs_error(errno.EINVAL, "null lk-owner")
        cmd = a.cmd
        if cmd not in LK_CMDS and cmd != LINUX_F_SETLKW:
            return F.GfxLkRsp(0, 0, None, fl)  # pl_lk's switch has no case for it
        lk_flags = _uint(a.xdata, "glusterfs.lk.lkmode")  # GF_LOCK_MODE: GF_LK_MANDATORY 1
        req = PosixLock(a.type, start, lock_end(start, length), self.client, owner, fl.pid, fdkey, lk_flags)
        st = self.state.inode(ofd.gfid)
        table = st.posix
        if cmd == GF_LK_GETLK:
            return F.GfxLkRsp(0, 0, None, _getlk_flock(table.getlk(req), fl))
        user_flock = _flock(a.type, fl.whence, start, length, fl.pid, fl.lk_owner)
        if cmd >= GF_LK_RESLK_LCK and cmd != LINUX_F_SETLKW:
            return self._reservation(cmd, req, st, user_flock, call)
        if st.reservelk is not None and not st.reservelk.verify(req):
            return DEFERRED, b""  # queued behind a reservation, for good (reservelk.py)
        can_block = cmd in (GF_LK_SETLKW, LINUX_F_SETLKW)
        if can_block and a.type != UNLCK:
            req.waiter = self._defer(call, F.GfxLkRsp)
        status, answers = table.setlk(req, can_block)
        self.state.answer(answers)
        self.retry_rw(ofd.gfid)
        if status == BLOCKED:
            return DEFERRED, b""
        if status == EAGAIN:
            raise fs_error(errno.EAGAIN)
        type_ = a.type
        if type_ == UNLCK:
            type_ = RDLCK if table.holds_fd(fdkey) else UNLCK
            self.state.tidy(ofd.gfid)
        return F.GfxLkRsp(0, 0, None, _flock(type_, fl.whence, start, length, fl.pid, fl.lk_owner))

    def _reservation(
        self, cmd: int, req: PosixLock, st: Any, user_flock: Any, call: Call
    ) -> F.GfxLkRsp | tuple[Deferred, bytes]:
        """``pl_lk``'s F_RESLK_LCK(W), F_RESLK_UNLCK and F_GETLK_FD (see reservelk.py)."""
        res = st.reservations()
        if cmd == GF_LK_RESLK_UNLCK:
            found, answers = res.unreserve(req, st.posix)
            self.state.answer(answers)
            if not found:
                raise fs_error(errno.EINVAL, "no such reservation")
            return F.GfxLkRsp(0, 0, None, user_flock)
        if cmd == GF_LK_GETLK_FD:
            res.verify(req)  # a conflict queues the request, then frees it: the reply goes out all the same
            lock = res.getlk_fd(req.fd, st.posix)
            return F.GfxLkRsp(0, 0, None, _getlk_flock(req if lock is None else lock, user_flock))
        can_block = cmd == GF_LK_RESLK_LCKW
        if can_block:
            req.waiter = FlockWaiter(self.session, call, user_flock)
        status = res.reserve(req, can_block)
        if status == BLOCKED:
            return DEFERRED, b""
        if status == EAGAIN:
            raise fs_error(errno.EAGAIN)
        return F.GfxLkRsp(0, 0, None, _getlk_flock(st.posix.getlk(req), user_flock))

    def release_locks_of_fd(self, gfid: bytes, fdkey: Hashable) -> None:
        """RELEASE (and FLUSH without an owner): ``delete_locks_of_fd``."""
        st = self.state.peek(gfid)
        if st is not None:
            if st.reservelk is not None:
                st.reservelk.forget_fd(fdkey)
            self.state.answer(st.posix.release_fd(fdkey))
            self.retry_rw(gfid)
            self.state.tidy(gfid)

    # ---- mandatory locking (locks.mandatory-locking forced/optimal) ---------------------
    def mandatory_check(self, name: str, a: Any, call: Call) -> tuple[Deferred, bytes] | None:
        """``pl_is_fop_allowed`` before READ, WRITE, (F)TRUNCATE and an OPEN with O_TRUNC:
        None to go on; (DEFERRED, b"") when the FOP waits for the locks in its way (it runs
        when they change); EAGAIN when it may not wait (no fd, or O_NONBLOCK)."""
        mode = self.state.options.mandatory_locking
        if mode not in ("forced", "optimal") or caller_pid(call) < 0:
            return None  # ("file" needs pl_inode->mandatory, which a 10.3 brick never sets)
        optimal = mode == "optimal"
        if name == "OPEN":
            st = self.state.peek(a.gfid)
            if a.flags & 0o1000 and st is not None:  # O_TRUNC
                if any(not optimal or lk.lk_flags & 1 for lk in st.posix.locks):
                    raise fs_error(errno.EAGAIN, "mandatory lock")
            return None
        if name == "TRUNCATE":
            gfid, start, end, fd_flags, fdkey = a.gfid, a.offset, LLONG_MAX, None, None
        else:
            try:
                ofd, fdkey = self._fd_key(a.gfid, a.fd)
            except OSError:
                return None
            gfid, fd_flags = ofd.gfid, ofd.flags
            if name == "FTRUNCATE":
                start, end = a.offset, LLONG_MAX
            else:
                start, end = a.offset, a.offset + a.size - 1
        st = self.state.peek(gfid)
        if st is None or not len(st.posix):
            return None
        region = PosixLock(WRLCK, start, end, self.client, lk_owner(call), 0, fdkey)
        if st.posix.rw_allowed(region, name == "READ", optimal):
            return None
        if fd_flags is None or fd_flags & 0o4000:  # no fd, or O_NONBLOCK
            raise fs_error(errno.EAGAIN, "mandatory lock")
        st.rw_waiters.append((self.session, call))
        return DEFERRED, b""

    def retry_rw(self, gfid: bytes) -> None:
        """``do_blocked_rw``: the reads and writes waiting for locks try again, in order."""
        st = self.state.peek(gfid)
        if st is None or not st.rw_waiters:
            return
        waiting, st.rw_waiters = st.rw_waiters, []
        for session, call in waiting:
            rerun(session, call)

    def flush_locks(self, gfid: bytes, fdkey: Hashable, call: Call) -> None:
        """FLUSH: ``pl_flush`` drops the caller's (client, owner) locks on the inode."""
        st = self.state.peek(gfid)
        if st is None:
            return
        owner = lk_owner(call)
        self.state.answer(st.posix.flush_owner(self.client, owner) if owner else st.posix.release_fd(fdkey))
        self.retry_rw(gfid)
        self.state.tidy(gfid)

    # ---- INODELK ----------------------------------------------------------------------
    def op_inodelk(self, a: F.GfxInodelkReq, call: Call) -> F.GfxCommonRsp | tuple[Deferred, bytes]:
        self.store.getattr(a.gfid)  # type: ignore[attr-defined]
        return self._inodelk(a.gfid, a, call)

    def op_finodelk(self, a: F.GfxFinodelkReq, call: Call) -> F.GfxCommonRsp | tuple[Deferred, bytes]:
        return self._inodelk(self._fd(a.gfid, a.fd).gfid, a, call)  # type: ignore[attr-defined]

    def _inodelk(self, gfid: bytes, a: Any, call: Call) -> F.GfxCommonRsp | tuple[Deferred, bytes]:
        fl = a.flock
        start, length = s64(fl.start), s64(fl.len)
        if start < 0 or length < 0:
            raise fs_error(errno.EINVAL)
        domain = a.volume
        if start == LLONG_MAX - 1 and length == 0 and not domain.endswith(":metadata"):
            domain += ":metadata"  # _pl_convert_volume_for_special_range
        owner = lk_owner(call)
        if not owner:
            raise fs_error(errno.EINVAL, "null lk-owner")
        if a.cmd not in (GF_LK_SETLK, GF_LK_SETLKW):
            raise fs_error(errno.ENOTSUP)  # F_GETLK and the rest: "not supported for inodelk"
        type_ = a.type if a.type in (0, 1, 2) else fl.type
        req = InodeLock(
            type_,
            start,
            lock_end(start, length),
            self.client,
            owner,
            domain,
            caller_pid(call),
            (start, length),
            flock_pid=fl.pid,
            flock_owner=bytes(fl.lk_owner),
        )
        st = self.state.inode(gfid)
        now = self.state.clock()
        if type_ == UNLCK:
            ok, answers, contention = st.inodelk.unlock(req, now)
            self.state.answer(answers)
            self.state.contend(gfid, contention)
            if ok:
                self.wake_removes(gfid)
            self.state.tidy(gfid)
            if not ok:
                raise fs_error(errno.EINVAL, "no such inodelk")
            return F.GfxCommonRsp(0, 0, None)
        revoke = self.state.options.revocation
        if revoke.secs:  # (pl_inode_setlk: __inodelk_prune_stale first)
            answers, contention = st.inodelk.prune_stale(req, now, revoke)
            self.state.answer(answers)
            self.state.contend(gfid, contention)
        can_block = a.cmd == GF_LK_SETLKW
        if can_block:
            req.waiter = self._defer(call, F.GfxCommonRsp)
        status, contention = st.inodelk.lock(req, can_block, now)
        self.state.contend(gfid, contention)
        if status == BLOCKED:
            return DEFERRED, b""
        if status == EAGAIN:
            raise fs_error(errno.EAGAIN)
        return F.GfxCommonRsp(0, 0, None)

    # ---- PL_INODE_REMOVE ----------------------------------------------------------------
    def remove_prepare(self, name: str, a: Any, call: Call) -> bytes | Deferred | None:
        """UNLINK, RMDIR and RENAME (the name it replaces) wait while other clients hold
        inodelks on the inode they remove (``pl_inode_remove_prepare``): DEFERRED (answered
        when the last such lock is unlocked), else the gfid to pass to :meth:`remove_done`
        after the FOP ran (None: no lock state, nothing to do)."""
        parent, bname = (a.newgfid, a.newbname) if name == "RENAME" else (a.pargfid, a.bname)
        try:
            gfid = self.store.lookup(parent, bname).gfid  # type: ignore[attr-defined]
        except OSError:
            return None  # (no such name: nothing to hold)
        st = self.state.peek(gfid)
        if st is None:
            return None
        ok, contention = st.inodelk.prepare_remove(self.client, (self.session, call), self.state.clock())
        self.state.contend(gfid, contention)
        return gfid if ok else DEFERRED

    def remove_done(self, gfid: bytes) -> None:
        """``pl_inode_remove_cbk``: inodelks that waited for the remove are granted."""
        st = self.state.peek(gfid)
        if st is None:
            return
        answers, contention = st.inodelk.removed(self.state.clock())
        self.state.answer(answers)
        self.state.contend(gfid, contention)
        self.state.tidy(gfid)

    def wake_removes(self, gfid: bytes) -> None:
        """``pl_inode_remove_wake``: removes no other client's lock holds any more run (and
        are answered, if their client is still there)."""
        st = self.state.peek(gfid)
        if st is None:
            return
        for session, call in st.inodelk.ready_removes():
            result, payload = session.fops.handle_now(call)
            conn = getattr(session, "conn", None)
            if result is not DEFERRED and conn is not None and not conn.closed:
                conn.reply(call, result, payload)

    def send_contention(self, gfid: bytes, lock: InodeLock) -> None:
        """GF_CBK_INODELK_CONTENTION to this connection, about ``lock`` it holds."""
        conn = getattr(self.session, "conn", None)
        if conn is None or conn.closed:
            return
        start, length = lock.flock
        flock = _flock(lock.type, 0, start, length, lock.flock_pid, lock.flock_owner)
        args = callback.Gfs4InodelkContentionReq(gfid, flock, lock.pid & 0xFFFFFFFF, lock.domain, b"")
        conn.send_call(
            callback.GLUSTER_CBK_PROGRAM,
            callback.GLUSTER_CBK_VERSION,
            callback.GfCbkProcnum.GF_CBK_INODELK_CONTENTION,
            args,
        )

    # ---- ENTRYLK ----------------------------------------------------------------------
    def op_entrylk(self, a: F.GfxEntrylkReq, call: Call) -> F.GfxCommonRsp | tuple[Deferred, bytes]:
        self.store.getattr(a.gfid)  # type: ignore[attr-defined]
        return self._entrylk(a.gfid, a, call)

    def op_fentrylk(self, a: F.GfxFentrylkReq, call: Call) -> F.GfxCommonRsp | tuple[Deferred, bytes]:
        return self._entrylk(self._fd(a.gfid, a.fd).gfid, a, call)  # type: ignore[attr-defined]

    def _entrylk(self, gfid: bytes, a: Any, call: Call) -> F.GfxCommonRsp | tuple[Deferred, bytes]:
        owner = lk_owner(call)
        if not owner:
            raise fs_error(errno.EINVAL, "null lk-owner")
        name = a.name if a.namelen else None
        req = EntryLock(a.type, name, self.client, owner, a.volume, caller_pid(call))
        st = self.state.inode(gfid)
        now = self.state.clock()
        if a.cmd == ENTRYLK_UNLOCK:
            ok, answers = st.entrylk.unlock(req, now)
            self.state.answer(answers)
            self.state.tidy(gfid)
            if not ok:
                raise fs_error(errno.EINVAL, "no such entrylk")
            return F.GfxCommonRsp(0, 0, None)
        if a.cmd not in (ENTRYLK_LOCK, ENTRYLK_LOCK_NB):
            return F.GfxCommonRsp(-1, 0, None)  # pl_common_entrylk's default case
        revoke = self.state.options.revocation
        if revoke.secs:  # (pl_common_entrylk: __entrylk_prune_stale first)
            self.state.answer(st.entrylk.prune_stale(req, now, revoke))
        can_block = a.cmd == ENTRYLK_LOCK
        if can_block:
            req.waiter = self._defer(call, F.GfxCommonRsp)
        status = st.entrylk.lock(req, can_block, now)
        if status == BLOCKED:
            return DEFERRED, b""
        if status == EAGAIN:
            raise fs_error(errno.EAGAIN)
        return F.GfxCommonRsp(0, 0, None)


def rerun(session: Any, call: Call) -> None:
    """Run a held FOP again now (to its end, if it is done in slices) and answer it, unless
    it is held again or its client has gone."""
    conn = getattr(session, "conn", None)
    if conn is None or conn.closed:
        return
    result, payload = session.fops.handle_now(call)
    if isinstance(result, Sliced):
        try:
            while True:
                next(result.steps)
        except StopIteration as done:
            result, payload = done.value
    if result is not DEFERRED:
        conn.reply(call, result, payload)


def _uint(xdata: Any, key: str) -> int:
    if not xdata or key not in xdata:
        return 0
    value = xdata[key].value
    return value if isinstance(value, int) else 0


def lock_counts(
    state: Any, xdata: Any, gfid: bytes | None, parent: bytes | None = None, name: str | None = None
) -> dict[str, GfxValue]:
    """``pl_set_xdata_response``: the counts the request's xdata asks for, as int32 values
    (``gfid``: the inode the answer is about, None when features/locks has none, e.g. a
    gfid-based XATTROP; ``parent``/``name``: a LOOKUP's entry, for ``parent-entrylk``)."""
    if not xdata or not any(k in LOCK_KEYS for k in xdata):
        return {}
    out: dict[str, GfxValue] = {}
    if PARENT_ENTRYLK in xdata and parent is not None and name:
        pst = state.peek(parent)
        out[PARENT_ENTRYLK] = GfxValue.int(int(bool(pst and pst.entrylk.has_name_lock(name))))
    if gfid is None:
        return out
    st = state.peek(gfid)
    if ENTRYLK_COUNT in xdata:
        out[ENTRYLK_COUNT] = GfxValue.int(st.entrylk.count() if st else 0)
    if INODELK_DOM_COUNT in xdata:
        dom = xdata[INODELK_DOM_COUNT].value
        dom = (
            bytes(dom).rstrip(b"\0").decode("utf-8", "surrogateescape") if isinstance(dom, (bytes, bytearray)) else dom
        )
        out[INODELK_COUNT] = GfxValue.int(st.inodelk.count(str(dom)) if st else 0)
    if INODELK_COUNT in xdata:
        out[INODELK_COUNT] = GfxValue.int(st.inodelk.count() if st else 0)
    if POSIXLK_COUNT in xdata:
        out[POSIXLK_COUNT] = GfxValue.int(len(st.posix) if st else 0)
    if MULTI_DOM in xdata:  # (pl_fill_multiple_dom_lk_requests: the domain follows the first ':')
        for key in xdata:
            if key.startswith(DOM_PREFIX) and ":" in key:
                out[key] = GfxValue.int(st.inodelk.count(key.split(":", 1)[1]) if st else 0)
    return out
