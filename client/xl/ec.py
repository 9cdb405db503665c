"""cluster/disperse (EC): a file as ``n`` Reed-Solomon fragments, any ``k = n - r`` of which
give it back.

After ``xlators/cluster/ec/src/ec-common.c``, ``ec-inode-read.c``, ``ec-inode-write.c`` of
GlusterFS 10.3 (the codec and the xattr formats are :mod:`fakegluster.xl.ec`).  Each
operation is one transaction on the inode (no eager lock kept between operations):

1. INODELK WRLCK on the whole inode in the domain named after this xlator, on every up
   brick (non-blocking at once, else blocking one after the other); at least ``k`` needed.
2. For files, a query: FXATTROP/XATTROP ``GF_XATTROP_ADD_ARRAY64`` of zero
   ``trusted.ec.config``/``size``/``version`` with xdata ``get-size``: each brick's answer
   is its current values.  The *good* bricks are those sharing the most common
   (version, size); fewer than ``k`` is EIO.
3. Before changing data (or metadata while some brick is not good): ``trusted.ec.dirty``
   +1 on the good bricks.
4. The operation on the good bricks.  Writes are whole stripes (``k`` x 512 bytes): the
   partial stripes at either end are read, decoded, merged and re-encoded
   (read-modify-write); each brick gets its fragment at ``offset / k``.  Reads decode
   ``k`` fragments.  Truncation rewrites the last partial stripe with zeros past the end.
5. Update: ``trusted.ec.version`` +1 (data, metadata), ``trusted.ec.size`` by the change,
   and ``trusted.ec.dirty`` -1 only when every brick was good and up; a brick that missed
   the operation keeps its old version (and a set dirty flag elsewhere) for the self-heal
   daemon.
6. Unlock.

Entry operations lock the parent directory and bump its version instead; new files carry
``trusted.ec.config`` (and zero size/version) in CREATE's xdata.  Sizes in replies (LOOKUP,
STAT, READDIRP, WRITE...) are the real size from ``trusted.ec.size``; block counts are a
brick's times ``k``.  STATFS is the smallest brick's times ``k``.
"""

from __future__ import annotations

import collections
import dataclasses
import errno
import stat as _stat
from collections.abc import Sequence
from typing import Any

import trio

from fakegluster.proto import fops as F
from fakegluster.proto.common import NULL_GFID
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.volfile import Xlator
from fakegluster.xl import ec as algo

from ..errors import fop_error
from ..identity import Identity
from . import ec_ranges, locks
from .base import FD_FOPS, Fd, Outcome, Subvolume, bind, first_error, gather, opened

__all__ = ["Disperse"]

ADD_ARRAY64 = 1
_O_APPEND = 0o2000
_O_TRUNC = 0o1000
_FALLOC_KEEP_SIZE = 1
_META_FOPS = frozenset(
    {GfFop.SETATTR, GfFop.FSETATTR, GfFop.SETXATTR, GfFop.FSETXATTR, GfFop.REMOVEXATTR, GfFop.FREMOVEXATTR}
)
_ENTRY_FOPS = frozenset(
    {GfFop.CREATE, GfFop.MKNOD, GfFop.MKDIR, GfFop.SYMLINK, GfFop.LINK, GfFop.UNLINK, GfFop.RMDIR, GfFop.RENAME}
)
_ONE_BRICK_READS = frozenset({GfFop.READLINK, GfFop.GETXATTR, GfFop.FGETXATTR, GfFop.ACCESS})
_LOOKUP_TRIES = 8
"""LOOKUPs of an inode or name whose bricks differ before it is EIO."""
_LOOKUP_PAUSE = 0.001
"""The first pause between them, in seconds; doubled each time (0.255 s in all)."""
_ALL_UP = frozenset({GfFop.OPEN, GfFop.OPENDIR, GfFop.FLUSH, GfFop.FSYNC, GfFop.FSYNCDIR, GfFop.XATTROP})


@dataclasses.dataclass
class TxnState:
    """What the query under the lock found: the good bricks, the file's size and version."""

    good: list[bool]
    size: int
    version: tuple[int, int]
    locked: list[bool]


class Disperse(Subvolume):
    """cluster/disperse over ``children`` (see the module docstring)."""

    type = "cluster/disperse"

    def __init__(self, xl: Xlator, children: Sequence[Subvolume]) -> None:
        self.name = xl.name
        self.children = tuple(children)
        self.n = len(self.children)
        self.redundancy = int(xl.options.get("redundancy", "1"))
        self.codec = algo.Codec(self.n, self.redundancy)
        self.k = self.codec.k
        self.stripe = self.codec.stripe
        self.config = algo.Config(self.n, self.redundancy)

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
        if proc == GfFop.OPEN and req.flags & (_O_APPEND | _O_TRUNC):
            # bricks must take writes at EC's offsets; truncation updates trusted.ec.size
            # (ec_manager_open): open without both, then FTRUNCATE under the lock
            rsp = await self._all(proc, dataclasses.replace(req, flags=req.flags & ~(_O_APPEND | _O_TRUNC)), ident, fd)
            if req.flags & _O_TRUNC:
                await self._truncate(GfFop.FTRUNCATE, F.GfxFtruncateReq(req.gfid, -1, 0, None), ident, fd)
            return rsp
        if proc == GfFop.CREATE and req.flags & _O_APPEND:
            req = dataclasses.replace(req, flags=req.flags & ~_O_APPEND)
        if proc in (GfFop.STAT, GfFop.FSTAT):
            rsp = await self._lookup(F.GfxLookupReq(req.gfid, NULL_GFID, 0, "", None), ident)
            return F.GfxCommonIattRsp(0, 0, None, rsp.prestat)
        if proc == GfFop.READ:
            return await self._read(req, ident, fd)
        if proc == GfFop.WRITE:
            return await self._write(req, ident, fd, payload)
        if proc in (GfFop.TRUNCATE, GfFop.FTRUNCATE):
            return await self._truncate(proc, req, ident, fd)
        if proc in (GfFop.DISCARD, GfFop.ZEROFILL, GfFop.FALLOCATE):
            return await ec_ranges.zero_range(self, proc, req, ident, fd)
        if proc == GfFop.SEEK:
            return await ec_ranges.seek(self, req, ident, fd)
        if proc in _META_FOPS:
            return await self._metadata(proc, req, ident, fd)
        if proc in _ENTRY_FOPS:
            return await self._entry(proc, req, ident, fd)
        if proc in (GfFop.READDIR, GfFop.READDIRP):
            return await self._readdir(proc, req, ident, fd)
        if proc in _ONE_BRICK_READS:
            return await self._one(proc, req, ident, fd)
        if proc == GfFop.STATFS:
            return await self._statfs(req, ident)
        if proc in (GfFop.INODELK, GfFop.FINODELK, GfFop.ENTRYLK, GfFop.FENTRYLK):
            return await self._cluster_lock(proc, req, ident, fd)
        return await self._all(proc, req, ident, fd)

    def _targets(self, proc: GfFop, fd: Fd | None) -> list[int]:
        out = [i for i, c in enumerate(self.children) if c.up]
        if fd is not None and proc in FD_FOPS:
            out = [i for i in out if opened(self.children[i], fd)]
        return out

    async def _all(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """OPEN, FLUSH, FSYNC, RELEASE...: every up brick; ``k`` successes make it succeed."""
        outs = await gather((i, bind(self.children[i], proc, req, ident, fd)) for i in self._targets(proc, fd))
        if proc in (GfFop.RELEASE, GfFop.RELEASEDIR):
            return next((o.value for o in outs if o.ok), None)
        ok = [o for o in outs if o.ok]
        if len(ok) < self.k:
            raise self._too_few(outs)
        return ok[0].value

    def _too_few(self, outs: Sequence[Outcome]) -> OSError:
        failed = [o for o in outs if not o.ok]
        if failed and all(o.errno == failed[0].errno for o in failed) and failed[0].errno != errno.ENOTCONN:
            return failed[0].error  # type: ignore[return-value]
        return fop_error(
            errno.ENOTCONN if len(outs) < self.k else errno.EIO, None, f"{self.name}: fewer than {self.k} bricks"
        )

    # ---- lookups ----------------------------------------------------------------------------
    def _fix_iatt(self, st: Any, size: int | None) -> Any:
        if not _stat.S_ISREG(st.mode):
            return st
        return dataclasses.replace(st, ia_size=st.ia_size if size is None else size, ia_blocks=st.ia_blocks * self.k)

    async def _lookup(self, req: Any, ident: Identity) -> Any:
        keys = {
            algo.DIRTY_XATTR: GfxValue.uint(0),
            algo.VERSION_XATTR: GfxValue.uint(0),
            algo.SIZE_XATTR: GfxValue.uint(0),
        }
        xd = dict(req.xdata or {})
        xd.update(keys)
        lreq = dataclasses.replace(req, xdata=xd)
        for attempt in range(_LOOKUP_TRIES):
            outs = await gather(
                (i, bind(self.children[i], GfFop.LOOKUP, lreq, ident)) for i in self._targets(GfFop.LOOKUP, None)
            )
            ok = [o for o in outs if o.ok]
            if len(ok) < self.k:
                missing = [o for o in outs if o.errno == errno.ENOENT]
                if len(missing) > self.n - self.k or (missing and not ok):
                    raise missing[0].error  # type: ignore[misc]
                raise self._too_few(outs)
            groups = collections.Counter(_answer_key(o.value) for o in ok)
            best, count = groups.most_common(1)[0]
            if count >= self.k:
                chosen = next(o.value for o in ok if _answer_key(o.value) == best)
                return dataclasses.replace(chosen, prestat=self._fix_iatt(chosen.prestat, best[2]))
            # No ``k`` bricks agree: an update is between bricks -- a size or version (GlusterFS
            # 10.3's eager lock hides this from its own client: the version is written when the
            # lock is released), or the gfid of a name a RENAME is replacing.  Ask again.
            await trio.sleep(_LOOKUP_PAUSE * 2**attempt)
        raise fop_error(errno.EIO, None, f"{self.name}: no {self.k} bricks agree on {req.bname or 'the inode'}")

    async def _one(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        errors: list[Outcome] = []
        for i in self._targets(proc, fd):
            try:
                return await self.children[i].call(proc, req, ident, fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ENOTCONN, errno.EBADF, errno.EIO):
                    raise
                errors.append(Outcome(i, error=exc))
        raise first_error(errors) if errors else fop_error(errno.ENOTCONN)

    async def _readdir(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """From one brick (the same one for every batch of an fd); file sizes from
        ``trusted.ec.size`` (requested per entry)."""
        sticky = fd.ctx.get(self) if fd is not None else None
        xd = dict(req.xdata or {})
        xd[algo.SIZE_XATTR] = GfxValue.uint(0)
        sent = dataclasses.replace(req, xdata=xd)
        order = self._targets(proc, fd)
        if isinstance(sticky, int) and req.offset:
            order = [sticky]
        for i in order:
            try:
                rsp = await self.children[i].call(proc, sent, ident, fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ENOTCONN, errno.EBADF) or req.offset:
                    raise
                continue
            if fd is not None:
                fd.ctx[self] = i
            if proc == GfFop.READDIRP:
                fixed = tuple(
                    dataclasses.replace(e, stat=self._fix_iatt(e.stat, _u64(e.dict, algo.SIZE_XATTR)))
                    for e in rsp.reply
                )
                rsp = dataclasses.replace(rsp, reply=fixed)
            return rsp
        raise fop_error(errno.ENOTCONN, None, f"{self.name}: no brick to read the directory from")

    async def _statfs(self, req: Any, ident: Identity) -> Any:
        """``ec_statfs``: the fullest brick's numbers, times ``k``."""
        outs = await gather(
            (i, bind(self.children[i], GfFop.STATFS, req, ident)) for i in self._targets(GfFop.STATFS, None)
        )
        ok = [o.value for o in outs if o.ok]
        if len(ok) < self.k:
            raise self._too_few(outs)
        low = min(ok, key=lambda r: r.statfs.bavail * r.statfs.frsize)
        s = low.statfs
        scaled = dataclasses.replace(s, blocks=s.blocks * self.k, bfree=s.bfree * self.k, bavail=s.bavail * self.k)
        return dataclasses.replace(low, statfs=scaled)

    async def _cluster_lock(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        targets = self._targets(proc, fd)
        if locks.is_unlock(proc, req):
            outs = await gather((i, bind(self.children[i], proc, req, ident, fd)) for i in targets)
            return next((o.value for o in outs if o.ok), None)
        got = await locks.lock_all(self.children, proc, req, ident, fd, targets, fallback=locks.is_blocking(proc, req))
        if sum(got) < self.k:
            await locks.unlock_all(self.children, proc, req, ident, fd, got)
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: could not lock {self.k} bricks")
        return None

    # ---- the transaction ---------------------------------------------------------------------
    async def lock_inode(self, gfid: bytes, lk: Identity) -> tuple[Any, Any, list[bool]]:
        """INODELK WRLCK on the whole inode on every up brick (by gfid, like ``ec_lock``)."""
        req = locks.inodelk(gfid, self.name, locks.SETLK, locks.WRLCK)
        targets = self._targets(GfFop.INODELK, None)
        got = await locks.lock_all(self.children, GfFop.INODELK, req, lk, None, targets, fallback=True)
        if sum(got) < self.k:
            await locks.unlock_all(self.children, GfFop.INODELK, req, lk, None, got)
            raise fop_error(errno.ENOTCONN, None, f"{self.name}: could not lock {self.k} of {self.n} bricks")
        return GfFop.INODELK, req, got

    def _xattrop(self, gfid: bytes, fd: Fd | None, d: dict[str, GfxValue], xdata: Any = None) -> tuple[GfFop, Any]:
        if fd is not None:
            return GfFop.FXATTROP, F.GfxFxattropReq(gfid, -1, ADD_ARRAY64, d, xdata)
        return GfFop.XATTROP, F.GfxXattropReq(gfid, ADD_ARRAY64, d, xdata)

    async def query(self, gfid: bytes, lk: Identity, fd: Fd | None, locked: list[bool], regular: bool) -> TxnState:
        """``ec_get_size_version``: every locked brick's version (and size, for a file)."""
        d = {algo.VERSION_XATTR: GfxValue.ptr(algo.encode_pair(0, 0))}
        if regular:
            d[algo.CONFIG_XATTR] = GfxValue.ptr(algo.encode_u64(0))
            d[algo.SIZE_XATTR] = GfxValue.ptr(algo.encode_u64(0))
        proc, req = self._xattrop(gfid, fd, d, {"get-size": GfxValue.int(1)} if regular else None)
        outs = await gather((i, bind(self.children[i], proc, req, lk, fd)) for i in range(self.n) if locked[i])
        answers: dict[int, tuple[int, int, int]] = {}
        for o in outs:
            if not o.ok:
                continue
            got = {k: v.value for k, v in (o.value.dict or {}).items() if isinstance(v.value, bytes)}
            try:
                version = algo.decode_pair(got.get(algo.VERSION_XATTR, bytes(16)))
                size = algo.decode_u64(got[algo.SIZE_XATTR]) if regular else 0
                if regular and not algo.Config.decode(got[algo.CONFIG_XATTR]).valid_for(self.n, self.redundancy):
                    continue
            except (KeyError, ValueError):
                continue
            answers[o.index] = (version[0], version[1], size)
        if not answers:
            raise first_error(outs) if outs else fop_error(errno.ENOTCONN)
        best, count = collections.Counter(answers.values()).most_common(1)[0]
        if count < self.k:
            raise fop_error(errno.EIO, None, f"{self.name}: fewer than {self.k} bricks agree on the version")
        good = [answers.get(i) == best for i in range(self.n)]
        return TxnState(good, best[2], (best[0], best[1]), locked)

    async def _update(
        self,
        gfid: bytes,
        lk: Identity,
        fd: Fd | None,
        on: Sequence[bool],
        *,
        data: int,
        meta: int,
        size: int = 0,
        dirty: tuple[int, int] = (0, 0),
    ) -> None:
        d = {algo.VERSION_XATTR: GfxValue.ptr(algo.encode_pair(data, meta))}
        if size:
            d[algo.SIZE_XATTR] = GfxValue.ptr(algo.encode_u64(size))
        if any(dirty):
            d[algo.DIRTY_XATTR] = GfxValue.ptr(algo.encode_pair(*dirty))
        proc, req = self._xattrop(gfid, fd, d)
        await gather((i, bind(self.children[i], proc, req, lk, fd)) for i in range(self.n) if on[i])

    def _everyone_good(self, done: Sequence[bool]) -> bool:
        return all(done) and all(c.up for c in self.children)

    async def transaction(self, gfid: bytes, ident: Identity, fd: Fd | None, data: bool, body: Any) -> Any:
        """Lock, query, dirty, ``await body(state, lk)`` -> (result, done bricks, size change),
        update, unlock."""
        lk = locks.owned(ident, locks.new_owner())
        lfd = fd
        proc, lreq, locked = await self.lock_inode(gfid, lk)
        try:
            state = await self.query(gfid, lk, lfd, locked, regular=True)
            dirty = (1 if data else 0, 1) if data or not all(state.good) else (0, 0)
            if any(dirty):
                await self._update(gfid, lk, lfd, state.good, data=0, meta=0, dirty=dirty)
            result, done, delta = await body(state, lk)
            clear = (-dirty[0], -dirty[1]) if self._everyone_good(done) else (0, 0)
            await self._update(gfid, lk, lfd, done, data=1 if data else 0, meta=1, size=delta, dirty=clear)
            return result
        finally:
            await locks.unlock_all(self.children, proc, lreq, lk, None, locked)

    # ---- data -------------------------------------------------------------------------------
    async def _read_stripes(
        self, state: TxnState, fd: Fd | None, gfid: bytes, start: int, end: int, lk: Identity
    ) -> bytes:
        """Decoded data of whole stripes [start, end) (zeros past the fragments' end), read
        through an anonymous fd: the file may be open write-only (``ec_writev_start``)."""
        if end <= start:
            return b""
        fd = Fd.anon(gfid)
        fsize = (end - start) // self.k
        want = F.GfxReadReq(gfid, -1, start // self.k, fsize, 0, None)
        frags: dict[int, bytes] = {}
        for i in range(self.n):
            if len(frags) == self.k:
                break
            if not state.good[i] or not self.children[i].up or not opened(self.children[i], fd):
                continue
            try:
                _, raw = await self.children[i].call(GfFop.READ, want, lk, fd=fd)
            except OSError:
                continue
            raw = bytes(raw)
            frags[i] = raw + bytes(fsize - len(raw)) if len(raw) < fsize else raw[:fsize]
        if len(frags) < self.k:
            raise fop_error(errno.EIO, None, f"{self.name}: could not read {self.k} fragments")
        return self.codec.decode(frags)

    def align(self, offset: int, end: int) -> tuple[int, int]:
        return offset - offset % self.stripe, -(-end // self.stripe) * self.stripe

    async def _read(self, req: Any, ident: Identity, fd: Fd | None) -> Any:
        lk = locks.owned(ident, locks.new_owner())
        proc, lreq, locked = await self.lock_inode(req.gfid, lk)
        try:
            state = await self.query(req.gfid, lk, fd, locked, regular=True)
            end = min(req.offset + req.size, state.size)
            data = b""
            if end > req.offset:
                a, b = self.align(req.offset, end)
                data = (await self._read_stripes(state, fd, req.gfid, a, b, lk))[req.offset - a : end - a]
            st = await self.stat_with_size(req.gfid, ident, state.size)
            return F.GfxReadRsp(len(data), 0, st, len(data), None), data
        finally:
            await locks.unlock_all(self.children, proc, lreq, lk, None, locked)

    async def stat_with_size(self, gfid: bytes, ident: Identity, size: int) -> Any:
        rsp = await self._lookup(F.GfxLookupReq(gfid, NULL_GFID, 0, "", None), ident)
        return dataclasses.replace(rsp.prestat, ia_size=size)

    async def write_range(
        self,
        state: TxnState,
        fd: Fd | None,
        gfid: bytes,
        offset: int,
        data: bytes | memoryview,
        lk: Identity,
        ident: Identity,
    ) -> list[bool]:
        """Read-modify-write of the stripes under [offset, offset + len(data)); returns
        which bricks took their fragment."""
        end = offset + len(data)
        a, b = self.align(offset, end)
        buf = bytearray(b - a)
        head = offset > a and a < state.size
        if head:  # the first stripe's old bytes
            buf[: self.stripe] = await self._read_stripes(state, fd, gfid, a, a + self.stripe, lk)
        last = b - self.stripe
        if end < b and last < state.size and not (last == a and head):  # the last stripe's
            buf[-self.stripe :] = await self._read_stripes(state, fd, gfid, last, b, lk)
        if state.size < b:  # nothing past the end of file survives
            keep = max(state.size - a, 0)
            buf[keep:] = bytes(len(buf) - keep)
        buf[offset - a : end - a] = data
        frags = self.codec.encode(buf)
        done = [False] * self.n

        async def put(i: int) -> None:
            req = F.GfxWriteReq(gfid, -1, a // self.k, len(frags[i]), 0, None)
            rsp = await self.children[i].call(GfFop.WRITE, req, ident, fd=fd, payload=frags[i])
            if rsp.op_ret == len(frags[i]):
                done[i] = True

        targets = [i for i in range(self.n) if state.good[i] and opened(self.children[i], fd)]
        outs = await gather((i, _call(put, i)) for i in targets)
        if sum(done) < self.k:
            raise self._too_few(outs)
        return done

    async def _write(self, req: Any, ident: Identity, fd: Fd | None, payload: Any) -> Any:
        data = memoryview(payload).cast("B")
        if fd is None:
            raise fop_error(errno.EBADF)

        async def body(state: TxnState, lk: Identity) -> Any:
            offset = state.size if fd.flags & _O_APPEND else req.offset
            done = await self.write_range(state, fd, req.gfid, offset, data, lk, ident)
            new = max(state.size, offset + len(data))
            st = await self.stat_with_size(req.gfid, ident, new)
            pre = dataclasses.replace(st, ia_size=state.size)
            return F.GfxCommon2iattRsp(len(data), 0, None, pre, st), done, new - state.size

        return await self.transaction(req.gfid, ident, fd, True, body)

    async def _truncate(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """(F)TRUNCATE: zero the last partial stripe past the new end, cut the fragments."""
        if fd is None:  # by path: as FTRUNCATE of an anonymous fd
            ftrunc = F.GfxFtruncateReq(req.gfid, -1, req.offset, req.xdata)
            return await self._truncate(GfFop.FTRUNCATE, ftrunc, ident, Fd.anon(req.gfid))
        new = req.offset

        async def body(state: TxnState, lk: Identity) -> Any:
            done = list(state.good)
            if new < state.size and new % self.stripe:
                a = new - new % self.stripe
                zeros = bytes(min(state.size, a + self.stripe) - new)
                done = await self.write_range(state, fd, req.gfid, new, zeros, lk, ident)
            sent = dataclasses.replace(req, offset=-(-new // self.stripe) * algo.CHUNK_SIZE)
            outs = await gather((i, bind(self.children[i], proc, sent, ident, fd)) for i in range(self.n) if done[i])
            ok = [any(o.ok and o.index == i for o in outs) for i in range(self.n)]
            if sum(ok) < self.k:
                raise self._too_few(outs)
            st = await self.stat_with_size(req.gfid, ident, new)
            pre = dataclasses.replace(st, ia_size=state.size)
            return F.GfxCommon2iattRsp(0, 0, None, pre, st), ok, new - state.size

        return await self.transaction(req.gfid, ident, fd, True, body)

    # ---- metadata and entries ----------------------------------------------------------------
    async def _metadata(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        lk = locks.owned(ident, locks.new_owner())
        lfd = fd if fd is not None and proc in FD_FOPS else None
        lproc, lreq, locked = await self.lock_inode(req.gfid, lk)
        try:
            reg = await self._is_regular(req.gfid, ident)
            state = await self.query(req.gfid, lk, lfd, locked, regular=reg)
            dirty = (0, 1) if not all(state.good) else (0, 0)
            if any(dirty):
                await self._update(req.gfid, lk, lfd, state.good, data=0, meta=0, dirty=dirty)
            outs = await gather(
                (i, bind(self.children[i], proc, req, ident, fd)) for i in range(self.n) if state.good[i]
            )
            done = [any(o.ok and o.index == i for o in outs) for i in range(self.n)]
            if sum(done) < self.k:
                raise self._too_few(outs)
            clear = (0, -dirty[1]) if self._everyone_good(done) else (0, 0)
            await self._update(req.gfid, lk, lfd, done, data=0, meta=1, dirty=clear)
            rsp = next(o.value for o in outs if o.ok)
            if reg and hasattr(rsp, "poststat"):
                rsp = dataclasses.replace(
                    rsp,
                    prestat=self._fix_iatt(rsp.prestat, state.size),
                    poststat=self._fix_iatt(rsp.poststat, state.size),
                )
            return rsp
        finally:
            await locks.unlock_all(self.children, lproc, lreq, lk, None, locked)

    async def _is_regular(self, gfid: bytes, ident: Identity) -> bool:
        rsp = await self._lookup(F.GfxLookupReq(gfid, NULL_GFID, 0, "", None), ident)
        return _stat.S_ISREG(rsp.prestat.mode)

    async def _entry(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None) -> Any:
        """Entry operations: lock the parent(s), run everywhere, bump the parents' versions."""
        parents = (
            [req.oldgfid, req.newgfid]
            if proc == GfFop.RENAME
            else [req.newgfid]
            if proc == GfFop.LINK
            else [req.pargfid]
        )
        parents = list(dict.fromkeys(parents))
        lk = locks.owned(ident, locks.new_owner())
        held = []
        try:
            locked = [c.up for c in self.children]
            states = []
            for p in parents:
                lproc, lreq, got = await self.lock_inode(p, lk)
                held.append((lproc, lreq, got))
                locked = [a and b for a, b in zip(locked, got)]
            for p in parents:
                states.append(await self.query(p, lk, None, locked, regular=False))
            good = [all(s.good[i] for s in states) for i in range(self.n)]
            if sum(good) < self.k:
                raise fop_error(errno.EIO, None, f"{self.name}: fewer than {self.k} good bricks for the parent")
            if not all(good):
                for p in parents:
                    await self._update(p, lk, None, good, data=0, meta=0, dirty=(1, 1))
            sent = req
            if proc == GfFop.CREATE or (proc == GfFop.MKNOD and _stat.S_ISREG(req.mode)):
                xd = dict(req.xdata or {})
                xd[algo.CONFIG_XATTR] = GfxValue.ptr(self.config.encode())
                xd[algo.SIZE_XATTR] = GfxValue.ptr(algo.encode_u64(0))
                xd[algo.VERSION_XATTR] = GfxValue.ptr(algo.encode_pair(0, 0))
                sent = dataclasses.replace(req, xdata=xd)
            outs = await gather((i, bind(self.children[i], proc, sent, ident, fd)) for i in range(self.n) if good[i])
            done = [any(o.ok and o.index == i for o in outs) for i in range(self.n)]
            if sum(done) < self.k:
                raise self._too_few(outs)
            clear = (-1, -1) if not all(good) and self._everyone_good(done) else (0, 0)
            for p in parents:
                await self._update(p, lk, None, done, data=1, meta=1, dirty=clear)
            rsp = next(o.value for o in outs if o.ok)
            if proc in (GfFop.CREATE, GfFop.MKNOD, GfFop.LINK) and hasattr(rsp, "stat"):
                rsp = dataclasses.replace(rsp, stat=self._fix_iatt(rsp.stat, None if proc == GfFop.LINK else 0))
            return rsp
        finally:
            for lproc, lreq, got in reversed(held):
                await locks.unlock_all(self.children, lproc, lreq, lk, None, got)


def _call(fn: Any, i: int) -> Any:
    async def run() -> Any:
        return await fn(i)

    return run


def _u64(xdata: Any, key: str) -> int | None:
    if not xdata or key not in xdata:
        return None
    v = xdata[key].value
    if isinstance(v, bytes) and len(v) == 8:
        return algo.decode_u64(v)
    return None


def _answer_key(rsp: Any) -> tuple[bytes, int, int | None, tuple[int, int]]:
    """What bricks must agree on: gfid, type, size, version."""
    xd = rsp.xdata or {}
    version = (0, 0)
    raw = xd.get(algo.VERSION_XATTR)
    if raw is not None and isinstance(raw.value, bytes):
        try:
            version = algo.decode_pair(raw.value)
        except ValueError:
            pass
    return rsp.prestat.ia_gfid, _stat.S_IFMT(rsp.prestat.mode), _u64(xd, algo.SIZE_XATTR), version
