"""cluster/replicate (AFR): every child holds a full copy; writes are transactions.

After ``xlators/cluster/afr/src/afr-transaction.c``, ``afr-common.c``, ``afr-read-txn.c``
of GlusterFS 10.3 (the pure parts -- changelog values, readable bricks, read child, quorum
-- are :mod:`fakegluster.xl.afr`):

* **LOOKUP** goes to every up child asking for the changelog xattrs (``trusted.afr.dirty``
  and ``trusted.afr.<KEY>`` per child); the replies say which children are readable for
  data and metadata (:func:`fakegluster.xl.afr.readable`); different gfids on two children
  are a gfid split brain (EIO).  The answer comes from a metadata-readable child.
* **Reads** (STAT, READ, READDIRP, GETXATTR...) go to one readable, up child -- the gfid's
  hash picks it (``read-hash-mode`` 1) -- and move to the next one if it fails; with no
  readable child the inode is in split brain (or every copy is down): EIO.  A directory
  fd reads all its READDIRPs from one child.  The arbiter is never read from.  What is
  readable is learnt again once a child went down or came back: by FSTAT on the read's fd
  when it has one (:mod:`gfclient.xl.afr_fd`), else by LOOKUP.
* **Writes** are transactions (``afr_transaction``): lock (INODELK/FINODELK in the domain
  named after this xlator: the whole file for data, ``LLONG_MAX - 1`` for metadata;
  ENTRYLK on the parent and name for entry operations; non-blocking on all children at
  once, else blocking one child after the other), pre-op (XATTROP ``GF_XATTROP_ADD_ARRAY``:
  ``trusted.afr.dirty`` +1 and zero pending counters; skipped for metadata and entry
  operations while every child is locked), the FOP on every locked child, post-op
  (dirty -1, and +1 in ``trusted.afr.<KEY>`` of each child that failed or was down, on the
  children that succeeded; skipped when nothing failed and no pre-op was done), unlock.
  New files, directories and nodes made while a child was down get pending marks of
  their own (``afr_mark_new_entry_changelog``).  With ``granular-entry-heal`` the entry
  pre-op/post-op name the entry (``glusterfs.xattrop-entry-create``/``-delete``) for the
  heal index.  Heals are glustershd's.
* **Quorum** (``cluster.quorum-type``: ``auto`` -- the default from 3 children -- needs a
  majority, or exactly half including the first child; ``fixed`` a count): a transaction
  that cannot lock, or did not succeed on, a quorum fails with ENOTCONN.
* **Arbiter** (``arbiter-count 1``: the last child keeps metadata only): it takes every FOP
  (its brick drops the data), is never read from, and a transaction whose only good copy
  would be the arbiter's fails with ENOTCONN.
"""

from __future__ import annotations

import dataclasses
import errno
import stat as _stat
from collections.abc import Callable, Sequence
from typing import Any

import trio

from fakegluster.proto import fops as F
from fakegluster.proto.common import NULL_GFID
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.volfile import Xlator
from fakegluster.xl import afr as algo

from ..errors import fop_error
from ..identity import Identity
from . import afr_fd, locks
from .base import FD_FOPS, Fd, Outcome, Subvolume, bind, first_error, gather, opened, truthy
from .dht_layout import Lru

__all__ = ["Replicate"]

XATTROP_ADD_ARRAY = 0
ENTRY_IN_KEY = "glusterfs.xattrop-entry-create"
ENTRY_OUT_KEY = "glusterfs.xattrop-entry-delete"
INODELK_COUNT = "glusterfs.inodelk-count"
PARENT_ENTRYLK = "glusterfs.parent-entrylk"
_LOOKUP_TRIES = 5
"""LOOKUPs of a name whose copies differ while an entry operation holds it (then the first
child's answer is taken)."""
_LOOKUP_PAUSE = 0.001
"""The first pause between them, in seconds; doubled each time (0.015 s in all)."""
_O_TRUNC = 0o1000

_DATA_TXN = frozenset({GfFop.WRITE, GfFop.TRUNCATE, GfFop.FTRUNCATE, GfFop.DISCARD, GfFop.ZEROFILL, GfFop.FALLOCATE})
_META_TXN = frozenset(
    {GfFop.SETATTR, GfFop.FSETATTR, GfFop.SETXATTR, GfFop.FSETXATTR, GfFop.REMOVEXATTR, GfFop.FREMOVEXATTR}
)
_ENTRY_TXN = frozenset(
    {GfFop.CREATE, GfFop.MKNOD, GfFop.MKDIR, GfFop.SYMLINK, GfFop.LINK, GfFop.UNLINK, GfFop.RMDIR, GfFop.RENAME}
)
_META_READS = frozenset({GfFop.STAT, GfFop.FSTAT, GfFop.READLINK, GfFop.GETXATTR, GfFop.FGETXATTR, GfFop.ACCESS})
_DATA_READS = frozenset({GfFop.READ, GfFop.SEEK, GfFop.READDIR, GfFop.READDIRP, GfFop.RCHECKSUM})
_LOCKS = frozenset({GfFop.INODELK, GfFop.FINODELK, GfFop.ENTRYLK, GfFop.FENTRYLK})
#: FOPs that first open their fd on the children that came up since (``afr_fix_open`` callers)
_FIX_OPEN = frozenset(
    {
        GfFop.FSTAT,
        GfFop.FGETXATTR,
        GfFop.READ,
        GfFop.SEEK,
        GfFop.WRITE,
        GfFop.FTRUNCATE,
        GfFop.FSETATTR,
        GfFop.FALLOCATE,
        GfFop.DISCARD,
        GfFop.ZEROFILL,
    }
)


@dataclasses.dataclass
class _Inode:
    """AFR's inode context: readable children for data (entries, for a directory) and
    metadata, and the children's connection state when they were learnt."""

    is_dir: bool
    data: list[bool]
    meta: list[bool]
    generation: tuple[int, ...]


@dataclasses.dataclass
class _Txn:
    kind: algo.Txn
    locked: list[bool]
    failed: list[bool]
    dirtied: bool = False
    pre_op: list[Any] = dataclasses.field(default_factory=list)


class Replicate(Subvolume):
    """cluster/replicate over ``children`` (see the module docstring)."""

    type = "cluster/replicate"

    def __init__(self, xl: Xlator, children: Sequence[Subvolume]) -> None:
        opts = xl.options
        self.name = xl.name
        self.children = tuple(children)
        self.n = len(self.children)
        self.keys = algo.pending_keys([c.name for c in self.children], opts)
        self.arbiter = self.n - 1 if opts.get("arbiter-count") == "1" and self.n == 3 else None
        if opts.get("thin-arbiter"):
            from ..errors import UnsupportedVolumeError

            raise UnsupportedVolumeError(f"{xl.name}: thin-arbiter replication is not supported by gfclient")
        qtype = opts.get("quorum-type") or ("auto" if self.n > 2 else "none")
        if qtype == "auto":
            self.quorum: int | None = -1
        elif qtype == "fixed":
            self.quorum = int(opts.get("quorum-count", "0") or 0) or None
        else:
            self.quorum = None
        self.hash_mode = int(opts.get("read-hash-mode", "1"))
        self.granular = truthy(opts.get("granular-entry-heal"), False)
        self.optimistic = truthy(opts.get("optimistic-change-log"), True)
        self._inodes: Lru = Lru()

    # ---- helpers --------------------------------------------------------------------------
    def generation(self) -> tuple[int, ...]:
        return tuple((getattr(getattr(c, "brick", None), "handshakes", 0) << 1) | c.up for c in self.children)

    def _up(self) -> list[bool]:
        return [c.up for c in self.children]

    def _xattrop(self, keys_only: bool, kind: algo.Txn, dirty: int, failed: Sequence[bool]) -> dict[str, GfxValue]:
        d = {k: GfxValue.ptr(algo.Changelog.one(kind, 1 if failed[i] else 0).encode()) for i, k in enumerate(self.keys)}
        if not keys_only:
            d[algo.DIRTY_XATTR] = GfxValue.ptr(algo.Changelog.one(kind, dirty).encode())
        return d

    def forget(self, gfid: bytes) -> None:
        self._inodes.pop(gfid, None)

    # ---- dispatch -------------------------------------------------------------------------
    async def call(
        self,
        proc: GfFop,
        req: Any,
        ident: Identity,
        *,
        fd: Fd | None = None,
        payload: bytes | memoryview = b"",
        path: str | None = None,
    ) -> Any:
        if proc == GfFop.LOOKUP:
            return await self._lookup(req, ident)
        if fd is not None and proc in _FIX_OPEN:
            await afr_fd.fix_open(self, fd, ident)
        if proc in _DATA_TXN:
            return await self._transaction(algo.Txn.DATA, proc, req, ident, fd, payload)
        if proc in _META_TXN:
            return await self._transaction(algo.Txn.METADATA, proc, req, ident, fd, payload)
        if proc in _ENTRY_TXN:
            return await self._transaction(algo.Txn.ENTRY, proc, req, ident, fd, payload)
        if proc in _META_READS or proc in _DATA_READS:
            return await self._read(proc, req, ident, fd)
        if proc in _LOCKS:
            return await self._cluster_lock(proc, req, ident, fd)
        if proc in (GfFop.RELEASE, GfFop.RELEASEDIR):
            outs = await gather((i, bind(c, proc, req, ident, fd)) for i, c in enumerate(self.children))
            if fd is not None:
                fd.ctx.pop(self, None)
            return next((o.value for o in outs if o.ok), None)
        if proc == GfFop.STATFS:
            return await self._statfs(req, ident)
        if proc == GfFop.OPEN and req.flags & _O_TRUNC:
            rsp = await self._wind_up(proc, dataclasses.replace(req, flags=req.flags & ~_O_TRUNC), ident, fd)
            trunc = F.GfxFtruncateReq(req.gfid, -1, 0, None)
            await self._transaction(algo.Txn.DATA, GfFop.FTRUNCATE, trunc, ident, fd, b"")
            return rsp
        return await self._wind_up(proc, req, ident, fd)

    async def _wind_up(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """To every up child (OPEN, FLUSH, FSYNC, XATTROP...): the first success answers."""
        targets = [i for i, c in enumerate(self.children) if c.up]
        if proc in FD_FOPS and fd is not None:
            targets = [i for i in targets if opened(self.children[i], fd)]
        outs = await gather((i, bind(self.children[i], proc, req, ident, fd)) for i in targets)
        if not outs:
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: no child is up")
        ok = [o for o in outs if o.ok]
        if not ok:
            raise first_error(outs)
        return ok[0].value

    # ---- lookup and reads -----------------------------------------------------------------
    def _lookup_keys(self, req: Any) -> Any:
        extra = {k: GfxValue.uint(12) for k in [algo.DIRTY_XATTR, *self.keys]}
        extra[INODELK_COUNT] = GfxValue.uint(0)  # afr_lookup_xattr_req_prepare
        extra[PARENT_ENTRYLK] = GfxValue.uint(0)
        xd = dict(req.xdata or {})
        xd.update(extra)
        return dataclasses.replace(req, xdata=xd)

    async def _lookup(self, req: Any, ident: Identity) -> Any:
        lreq = self._lookup_keys(req)
        for attempt in range(_LOOKUP_TRIES):
            gen = self.generation()
            targets = [i for i, c in enumerate(self.children) if c.up]
            outs = await gather((i, bind(self.children[i], GfFop.LOOKUP, lreq, ident)) for i in targets)
            ok = [o for o in outs if o.ok]
            if not ok:
                if not outs:
                    raise fop_error(errno.ENOTCONN, None, f"{self.name}: no child is up")
                if any(o.errno == errno.ENOENT for o in outs):
                    raise next(o.error for o in outs if o.errno == errno.ENOENT)  # type: ignore[misc]
                raise first_error(outs)
            # afr_lookup_done: a copy holding an entry lock on the name (afr_is_possibly_under_txn
            # with glusterfs.parent-entrylk) is in the middle of an entry operation
            locked = any(_count(o.value.xdata, PARENT_ENTRYLK) for o in ok)
            missing = [o for o in outs if o.errno == errno.ENOENT]
            if locked and missing and self.quorum and not algo.has_quorum(_hits(ok, self.n), self.quorum):
                raise missing[0].error  # type: ignore[misc]  # in_flight_create
            gfids = {o.value.prestat.ia_gfid for o in ok}
            types = {_stat.S_IFMT(o.value.prestat.mode) for o in ok}
            if len(gfids) == 1 and len(types) == 1:
                break
            if not locked:
                raise fop_error(errno.EIO, None, f"{self.name}: gfid or type split brain")
            # 10.3 does not call this a split brain while the name is locked ("can_interpret"
            # false): a RENAME over the name, say, is between copies.  Ask again; if it is still
            # between them, answer from the first child that answered (afr_attempt_readsubvol_set:
            # afr_first_up_child), learning nothing about the inode's copies
            if attempt == _LOOKUP_TRIES - 1:
                return ok[0].value
            await trio.sleep(_LOOKUP_PAUSE * 2**attempt)
        ctx = self.learn(ok, gen, lambda rsp: rsp.prestat)
        gfid = ok[0].value.prestat.ia_gfid
        pick = algo.read_child(gfid, ctx.meta, self.hash_mode, ident.pid, ctx.is_dir)
        if pick < 0:
            if self.arbiter is not None and any(o.index == self.arbiter for o in ok) and not any(ctx.meta):
                pick = self.arbiter
            else:
                raise fop_error(errno.EIO, None, f"{self.name}: metadata split brain")
        chosen = next((o for o in ok if o.index == pick), ok[0])
        return chosen.value

    def learn(self, ok: Sequence[Outcome], gen: tuple[int, ...], iatt: Callable[[Any], Any]) -> _Inode:
        """``afr_replies_interpret``: which copies are readable, from the successful LOOKUP or
        FSTAT replies ``ok`` (``iatt`` picks a reply's iatt); remembered for the inode."""
        replies: list[Any] = [None] * self.n
        stats: list[Any] = [None] * self.n
        for o in ok:
            replies[o.index] = {k: v.value for k, v in (o.value.xdata or {}).items() if isinstance(v.value, bytes)}
            stats[o.index] = iatt(o.value)
        sizes: list[int | None] | None = None
        if not any(_count(o.value.xdata, INODELK_COUNT) for o in ok):
            # afr_readables_fill accuses smaller copies "only when we know for sure that there
            # is no IO happening" (afr_is_possibly_under_txn: an inodelk on some copy); a write
            # between copies would make the copy it has not reached yet look stale
            sizes = [st.ia_size if st is not None else None for st in stats]
        modes = [st.mode if st is not None else None for st in stats]
        data, meta = algo.readable(replies, self.keys, modes=modes, sizes=sizes, arbiter=self.arbiter)
        first = iatt(ok[0].value)
        ctx = _Inode(_stat.S_ISDIR(first.mode), data, meta, gen)
        self._inodes.put(first.ia_gfid, ctx)
        return ctx

    async def _inode(self, gfid: bytes, ident: Identity, fd: Fd | None = None) -> _Inode:
        """The inode's readable copies; learnt again (``afr_inode_refresh``) when unknown or
        learnt before a child went down or came back: by FSTAT on ``fd`` when the FOP has one
        (:func:`gfclient.xl.afr_fd.refresh`), else by a LOOKUP of the gfid."""
        ctx: _Inode | None = self._inodes.get(gfid)
        if ctx is None or ctx.generation != self.generation():
            if afr_fd.refreshes_by_fd(self, fd):
                assert fd is not None
                await afr_fd.refresh(self, fd, ident)
            else:
                await self._lookup(F.GfxLookupReq(gfid, NULL_GFID, 0, "", None), ident)
            ctx = self._inodes.get(gfid)
            assert ctx is not None
        return ctx

    async def _read(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """``afr_read_txn``: one readable child, the next one if it fails."""
        gfid = req.gfid
        if fd is not None and proc in (GfFop.READDIRP, GfFop.READDIR):
            sticky = fd.ctx.get(self)
            if isinstance(sticky, int) and req.offset:
                return await self.children[sticky].call(proc, req, ident, fd=fd)
        ctx = await self._inode(gfid, ident, fd)
        readable = ctx.meta if proc in _META_READS else ctx.data
        order = _order(algo.read_child(gfid, readable, self.hash_mode, ident.pid, ctx.is_dir), readable)
        if not order:
            raise fop_error(errno.EIO, None, f"{self.name}: no readable copy (split brain or all down)")
        errors: list[Outcome] = []
        for i in order:
            c = self.children[i]
            if not c.up or (fd is not None and not opened(c, fd)):
                continue
            try:
                rsp = await c.call(proc, req, ident, fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENODATA, errno.ERANGE, errno.ENOTDIR, errno.EINVAL):
                    raise  # a real answer, not a sick copy
                errors.append(Outcome(i, error=exc))
                continue
            if fd is not None and proc in (GfFop.READDIRP, GfFop.READDIR):
                fd.ctx[self] = i
            return rsp
        if errors:
            raise first_error(errors)
        raise fop_error(errno.ENOTCONN, None, f"{self.name}: no readable copy is up")

    async def _statfs(self, req: Any, ident: Identity) -> Any:
        """``afr_statfs``: the child with the least space available answers."""
        outs = await gather((i, bind(c, GfFop.STATFS, req, ident)) for i, c in enumerate(self.children) if c.up)
        ok = [o.value for o in outs if o.ok]
        if not ok:
            raise first_error(outs) if outs else fop_error(errno.ENOTCONN)
        return min(ok, key=lambda r: r.statfs.bavail)

    # ---- locks ------------------------------------------------------------------------------
    async def _cluster_lock(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """A lock from above (DHT's, an application's): on every up child; a conflict on one
        releases the others (``afr_inodelk`` / ``afr_entrylk``)."""
        unlock = locks.is_unlock(proc, req)
        targets = [i for i, c in enumerate(self.children) if c.up]
        if unlock:
            outs = await gather((i, bind(self.children[i], proc, req, ident, fd)) for i in targets)
            return _first_ok(outs)
        got = await locks.lock_all(self.children, proc, req, ident, fd, targets, fallback=locks.is_blocking(proc, req))
        if not any(got):
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: could not lock on any child")
        return None

    # ---- transactions -------------------------------------------------------------------------
    def _lock_reqs(self, kind: algo.Txn, proc: GfFop, req: Any, fd: Fd | None) -> list[tuple[GfFop, Any]]:
        if kind == algo.Txn.DATA:
            if fd is not None:
                return [(GfFop.FINODELK, locks.finodelk(req.gfid, self.name, locks.SETLK, locks.WRLCK))]
            return [(GfFop.INODELK, locks.inodelk(req.gfid, self.name, locks.SETLK, locks.WRLCK))]
        if kind == algo.Txn.METADATA:
            start = locks.METADATA_LOCK_START
            return [(GfFop.INODELK, locks.inodelk(req.gfid, self.name, locks.SETLK, locks.WRLCK, start))]
        return [
            (GfFop.ENTRYLK, locks.entrylk(p, self.name, n, locks.ENTRYLK_LOCK_NB)) for p, n in _entry_names(proc, req)
        ]

    async def _transaction(
        self, kind: algo.Txn, proc: GfFop, req: Any, ident: Identity, fd: Fd | None, payload: Any
    ) -> Any:
        owner = locks.new_owner()
        lk = locks.owned(ident, owner)
        fd_fop = fd is not None and proc in FD_FOPS
        targets = [i for i, c in enumerate(self.children) if c.up and (not fd_fop or opened(c, fd))]
        lock_fd = fd if fd_fop else None
        lock_reqs = self._lock_reqs(kind, proc, req, lock_fd)
        held: list[tuple[GfFop, Any, list[bool]]] = []
        try:
            locked = [i in targets for i in range(self.n)]
            for lproc, lreq in lock_reqs:
                got = await locks.lock_all(self.children, lproc, lreq, lk, lock_fd, targets, fallback=True)
                held.append((lproc, lreq, got))
                locked = [a and b for a, b in zip(locked, got)]
            if not any(locked):
                raise fop_error(errno.ENOTCONN, None, f"{self.name}: could not lock on any child")
            if self.quorum and not algo.has_quorum(locked, self.quorum):
                raise fop_error(errno.ENOTCONN, None, f"{self.name}: client quorum is not met")
            txn = _Txn(kind, locked, [not x for x in locked])
            if kind == algo.Txn.DATA:
                ctx = self._inodes.get(req.gfid)
                if ctx is not None and not any(ctx.data[i] and not txn.failed[i] for i in range(self.n)):
                    raise fop_error(errno.EIO, None, f"{self.name}: no good copy to write to")
            await self._pre_op(txn, proc, req, lk, lock_fd)
            if self.arbiter is not None:
                self._arbitrate(txn)
            return await self._fop_and_post_op(txn, proc, req, ident, lk, fd, lock_fd, payload)
        finally:
            for lproc, lreq, got in reversed(held):
                await locks.unlock_all(self.children, lproc, lreq, lk, lock_fd, got)

    def _changelog_targets(self, proc: GfFop, req: Any, fd: Fd | None, kind: algo.Txn) -> list[tuple[GfFop, Any]]:
        """Where pre-/post-ops go: the inode (data, metadata), the parent(s) (entry)."""
        if kind != algo.Txn.ENTRY:
            if fd is not None:
                return [(GfFop.FXATTROP, F.GfxFxattropReq(req.gfid, -1, XATTROP_ADD_ARRAY, {}, None))]
            return [(GfFop.XATTROP, F.GfxXattropReq(req.gfid, XATTROP_ADD_ARRAY, {}, None))]
        return [(GfFop.XATTROP, F.GfxXattropReq(p, XATTROP_ADD_ARRAY, {}, None)) for p, _ in _entry_names(proc, req)]

    async def _pre_op(self, txn: _Txn, proc: GfFop, req: Any, lk: Identity, fd: Fd | None) -> None:
        optimistic = self.optimistic and all(txn.locked)
        needs = txn.kind == algo.Txn.DATA or not optimistic
        if not needs:
            return
        txn.dirtied = True
        names = _entry_names(proc, req) if txn.kind == algo.Txn.ENTRY else [(b"", "")]
        for (xproc, xreq), (_, name) in zip(self._changelog_targets(proc, req, fd, txn.kind), names):
            xd = {ENTRY_IN_KEY: GfxValue.str(name)} if self.granular and txn.kind == algo.Txn.ENTRY else None
            sent = dataclasses.replace(xreq, dict=self._xattrop(False, txn.kind, 1, [False] * self.n), xdata=xd)
            todo = [i for i in range(self.n) if not txn.failed[i]]
            outs = await gather((i, bind(self.children[i], xproc, sent, lk, fd)) for i in todo)
            for o in outs:
                if not o.ok:
                    txn.failed[o.index] = True
            txn.pre_op = [o for o in outs if o.ok]

    def _arbitrate(self, txn: _Txn) -> None:
        """``afr_txn_arbitrate_fop``: do not go on when the arbiter would be the only good copy."""
        assert self.arbiter is not None
        sources = [not f for f in txn.failed]
        for o in txn.pre_op:
            got = {k: v.value for k, v in (o.value.dict or {}).items() if isinstance(v.value, bytes)}
            for j, k in enumerate(self.keys):
                if got.get(k) and algo.Changelog.decode(got[k])[txn.kind]:
                    sources[j] = False
        if sum(sources) < 2 and sources[self.arbiter]:
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: only the arbiter has a good copy")

    async def _fop_and_post_op(
        self,
        txn: _Txn,
        proc: GfFop,
        req: Any,
        ident: Identity,
        lk: Identity,
        fd: Fd | None,
        lock_fd: Fd | None,
        payload: Any,
    ) -> Any:
        todo = [i for i in range(self.n) if not txn.failed[i]]
        if not todo or not self._quorum_met(txn):
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: client quorum is not met or no child is up")

        async def one(i: int) -> Any:
            return await self.children[i].call(proc, req, ident, fd=fd, payload=payload)

        outs = await gather((i, _closure(one, i)) for i in todo)
        ok = [o for o in outs if o.ok]
        symmetric = not ok and len({o.errno for o in outs}) == 1 and outs[0].errno != errno.ENOTCONN
        if symmetric:  # failed the same way everywhere: nothing changed anywhere (__mark_all_success)
            txn.failed = [False] * self.n
        else:
            for o in outs:
                if not o.ok:
                    txn.failed[o.index] = True
        quorum_ok = self._quorum_met(txn)
        result_ok = bool(ok) and quorum_ok
        nothing_failed = not any(txn.failed[i] for i in range(self.n) if txn.locked[i])
        post_failed: list[Outcome] = []
        if result_ok or symmetric:
            if not nothing_failed or txn.dirtied:
                # afr_changelog_populate_xdata: which name-index key the entry post-op carries
                key = None if not result_ok else ENTRY_IN_KEY if not nothing_failed else None
                if result_ok and nothing_failed and not any(txn.failed):
                    key = ENTRY_OUT_KEY
                post_failed = await self._post_op(txn, proc, req, lk, lock_fd, key)
        if result_ok and post_failed and not self._quorum_met(txn):
            # afr_changelog_post_op_done: "Fail the FOP if post-op did not succeed on quorum
            # no. of bricks" -- the changelog that would accuse the copies the FOP missed is
            # not on disk, so a success here could be healed away (bench/soak.py, replica 3)
            self._note_failures(txn, req, proc)
            raise first_error(post_failed)
        if result_ok and txn.kind == algo.Txn.ENTRY and proc in (GfFop.CREATE, GfFop.MKNOD, GfFop.MKDIR):
            if any(txn.failed):
                await self._mark_new_entry(txn, ok[0].value, ident)
        self._note_failures(txn, req, proc)
        if not result_ok:
            failed = [o for o in outs if not o.ok]
            if ok and not quorum_ok and not failed:
                raise fop_error(errno.ENOTCONN, None, f"{self.name}: client quorum is not met")
            raise first_error(failed or outs)  # afr_final_errno: what the failing children said
        return _prefer(ok, self._inodes.get(getattr(req, "gfid", NULL_GFID)), txn.kind)

    def _quorum_met(self, txn: _Txn) -> bool:
        """Client quorum over the children the transaction has not failed on (none set: met)."""
        return not self.quorum or algo.has_quorum([not f for f in txn.failed], self.quorum)

    async def _post_op(
        self, txn: _Txn, proc: GfFop, req: Any, lk: Identity, fd: Fd | None, index_key: str | None
    ) -> list[Outcome]:
        """Send the post-op; a child it failed on counts as failed (``afr_changelog_cbk``).
        Returns the failures."""
        dirty = -1 if txn.dirtied else 0
        failures: list[Outcome] = []
        names = _entry_names(proc, req) if txn.kind == algo.Txn.ENTRY else [(b"", "")]
        for (xproc, xreq), (_, name) in zip(self._changelog_targets(proc, req, fd, txn.kind), names):
            xd = None
            if self.granular and txn.kind == algo.Txn.ENTRY and index_key is not None:
                xd = {index_key: GfxValue.str(name)}
            sent = dataclasses.replace(xreq, dict=self._xattrop(False, txn.kind, dirty, txn.failed), xdata=xd)
            todo = [i for i in range(self.n) if txn.locked[i] and not txn.failed[i]]
            for o in await gather((i, bind(self.children[i], xproc, sent, lk, fd)) for i in todo):
                if not o.ok:
                    txn.failed[o.index] = True
                    failures.append(o)
        return failures

    async def _mark_new_entry(self, txn: _Txn, rsp: Any, ident: Identity) -> None:
        """``afr_mark_new_entry_changelog``: the new inode accuses the children that missed it."""
        st = rsp.stat
        marks = []
        for i in range(self.n):
            if not txn.failed[i]:
                marks.append(algo.Changelog())
                continue
            data = 1 if _stat.S_ISREG(st.mode) or (_stat.S_ISDIR(st.mode) and self.granular) else 0
            entry = 1 if _stat.S_ISDIR(st.mode) else 0
            marks.append(algo.Changelog(data, 1, entry))
        d = {k: GfxValue.ptr(m.encode()) for k, m in zip(self.keys, marks)}
        req = F.GfxXattropReq(st.ia_gfid, XATTROP_ADD_ARRAY, d, None)
        todo = [i for i in range(self.n) if not txn.failed[i]]
        await gather((i, bind(self.children[i], GfFop.XATTROP, req, ident)) for i in todo)

    def _note_failures(self, txn: _Txn, req: Any, proc: GfFop) -> None:
        """A child that failed a write is no longer readable for that kind of data."""
        ctx = self._inodes.get(getattr(req, "gfid", NULL_GFID)) if txn.kind != algo.Txn.ENTRY else None
        if ctx is None or not any(txn.failed):
            return
        target = ctx.data if txn.kind == algo.Txn.DATA else ctx.meta
        for i, f in enumerate(txn.failed):
            if f:
                target[i] = False


def _closure(fn: Any, i: int) -> Any:
    async def run() -> Any:
        return await fn(i)

    return run


def _order(first: int, readable: Sequence[bool]) -> list[int]:
    if first < 0:
        return []
    return [first] + [i for i, ok in enumerate(readable) if ok and i != first]


def _hits(ok: Sequence[Outcome], n: int) -> list[bool]:
    hit = [False] * n
    for o in ok:
        hit[o.index] = True
    return hit


def _count(xdata: Any, key: str) -> int:
    """An int32/uint64 count the brick put in a reply's xdata (0 when absent)."""
    v = (xdata or {}).get(key)
    return v.value if v is not None and isinstance(v.value, int) else 0


def _first_ok(outs: Sequence[Outcome]) -> Any:
    for o in outs:
        if o.ok:
            return o.value
    raise first_error(outs)


def _prefer(ok: Sequence[Outcome], ctx: _Inode | None, kind: algo.Txn) -> Any:
    if ctx is not None:
        readable = ctx.meta if kind == algo.Txn.METADATA else ctx.data
        for o in ok:
            if readable[o.index]:
                return o.value
    return ok[0].value


def _entry_names(proc: GfFop, req: Any) -> list[tuple[bytes, str]]:
    """(parent gfid, name) pairs an entry operation changes."""
    if proc == GfFop.RENAME:
        return [(req.oldgfid, req.oldbname), (req.newgfid, req.newbname)]
    if proc == GfFop.LINK:
        return [(req.newgfid, req.newbname)]
    return [(req.pargfid, req.bname)]
