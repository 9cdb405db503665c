"""cluster/distribute (DHT): each file on one subvolume, chosen by the hash of its name.

The pure parts (hash, layouts, new-directory ranges) are :mod:`fakegluster.xl.dht`; this is
the translator, after ``xlators/cluster/dht/src/dht-common.c`` of GlusterFS 10.3:

* **Directories** exist on every subvolume; each copy's ``trusted.glusterfs.dht`` is its
  range of the hash space (the directory's *layout*).  ``mkdir`` (``dht_mkdir``): under an
  INODELK ``dht.layout.heal`` (read) on the parent and an ENTRYLK ``dht.entry.sync`` on the
  name, MKDIR on the hashed subvolume first (with ``trusted.glusterfs.dht.mds`` and the
  parent's layout as a pre-op check), then on the others with the same ``gfid-req``; then,
  under an INODELK ``dht.layout.heal`` (write) on the new directory, one SETXATTR of each
  subvolume's range.  A directory found without a layout, or with holes (a new volume's
  root; a subvolume that was down), is healed the same way (``dht_selfheal_directory``),
  and a copy missing on a subvolume is made there.
* **Files** are created on the subvolume the parent's layout gives for the name's hash
  (CREATE/MKNOD/SYMLINK carry the parent's layout for the brick's pre-op check, which
  fails with EIO when the layout changed: the layout is read again and the create retried).
  A file found elsewhere (renamed) is reached through a *linkto* file on the hashed
  subvolume: mode ``---------T``, xattr ``trusted.glusterfs.dht.linkto`` naming the
  subvolume that has the data (the *cached* subvolume).  LOOKUP follows it; a miss on the
  hashed subvolume looks everywhere unless ``lookup-optimize`` says the parent's layout is
  current (its commit hash equals the volume's).
* **rename/link/unlink** keep linkto files right (``dht_rename``, ``dht_link``,
  ``dht_unlink``): a rename across subvolumes makes a linkto at the new name's hashed
  subvolume (MKNOD linkto, LINK on the data's subvolume, RENAME of the linkto, UNLINK of
  the old data name), as the real client does.
* **readdir** reads the subvolumes one after another; directories come from the first only,
  linkto files are skipped.  STATFS adds the subvolumes up.  Everything else goes to the
  subvolume holding the inode (directories: all for changes, the first for reads).

Rebalance (files being migrated), ``min-free-disk`` (creating elsewhere when the hashed
subvolume is full), ``nufa``/``switch`` and directory quota are not implemented.
"""

from __future__ import annotations

import dataclasses
import errno
import stat as _stat
import uuid
from collections.abc import Sequence
from typing import Any

from fakegluster.proto import fops as F
from fakegluster.proto.common import NULL_GFID, ROOT_GFID
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.volfile import Xlator
from fakegluster.xl import dht as algo

from ..errors import fop_error
from ..identity import Identity
from . import dht_dirs, locks
from .base import FD_FOPS, Fd, Outcome, Subvolume, bind, first_error, gather, merged, truthy
from .dht_layout import INTERNAL_PID, DirLayouts, Lru, raw_value

__all__ = ["Distribute"]

ENTRY_SYNC_DOMAIN = "dht.entry.sync"
_LINKTO_MODE = _stat.S_IFREG | algo.LINKFILE_MODE
_DIR_WRITES = frozenset({GfFop.SETATTR, GfFop.SETXATTR, GfFop.REMOVEXATTR})


@dataclasses.dataclass
class Entry:
    """What a named lookup found: the reply to return, where the data is, where the name
    hashes, and whether the hashed subvolume holds a linkto for it."""

    rsp: Any
    cached: Subvolume
    hashed: Subvolume | None
    linkto_on_hashed: bool


class Distribute(Subvolume):
    """cluster/distribute over ``children`` (see the module docstring)."""

    type = "cluster/distribute"

    def __init__(self, xl: Xlator, children: Sequence[Subvolume]) -> None:
        opts = xl.options
        self.name = xl.name
        self.children = tuple(children)
        self.by_name = {c.name: c for c in self.children}
        self.hasher = algo.NameHasher.from_options(opts)
        self.xattr = opts.get("xattr-name", algo.DHT_XATTR)
        self.linkto_xattr = self.xattr + ".linkto"
        spread = opts.get("directory-layout-spread")
        self.layouts = DirLayouts(
            self.children,
            xattr=self.xattr,
            hasher=self.hasher,
            weighted=truthy(opts.get("weighted-rebalance"), True),
            spread=int(spread) if spread and spread.isdigit() else None,
            lookup_optimize=truthy(opts.get("lookup-optimize"), True),
        )
        self.inline_io = all(c.inline_io for c in self.children)
        self._where: Lru = Lru()  # file gfid -> the subvolume with its data

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
        if len(self.children) == 1 and proc != GfFop.MKDIR:
            return await self.children[0].call(proc, req, ident, fd=fd, payload=payload, path=path)
        handler = _HANDLERS.get(proc)
        if handler is not None:
            return await handler(self, req, ident, fd, path)
        if proc in FD_FOPS:
            return await self._by_fd(proc, req, ident, fd, payload)
        return await self._by_gfid(proc, req, ident, fd, path)

    def forget(self, gfid: bytes) -> None:
        self.layouts.forget(gfid)
        self._where.pop(gfid, None)
        super().forget(gfid)

    async def _by_fd(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None, payload: Any) -> Any:
        ctx = fd.ctx.get(self) if fd is not None else None
        if fd is None or ctx is None:
            raise fop_error(errno.EBADF, None, f"{self.name}: fd not open here")
        if isinstance(ctx, dht_dirs.DirCursor):
            if proc == GfFop.READDIRP or proc == GfFop.READDIR:
                return await dht_dirs.readdirp(self, proc, req, ident, fd, ctx)
            targets = ctx.subvols if proc in (GfFop.RELEASEDIR, GfFop.FSETATTR, GfFop.FSETXATTR) else ctx.subvols[:1]
            outs = await gather((i, bind(s, proc, req, ident, fd)) for i, s in enumerate(targets))
            if proc == GfFop.RELEASEDIR:
                del fd.ctx[self]
            return _first_ok(outs)
        if proc == GfFop.RELEASE:
            del fd.ctx[self]
        return await ctx.call(proc, req, ident, fd=fd, payload=payload)

    async def _by_gfid(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        gfid = req.gfid
        if gfid == ROOT_GFID or gfid in self.layouts:
            if proc in _DIR_WRITES:
                outs = await gather((i, bind(c, proc, req, ident, fd)) for i, c in enumerate(self.up_children()))
                return _first_ok(outs)
            return await self.first_up().call(proc, req, ident, fd=fd)
        sub = self._where.get(gfid) or await self._locate(gfid, ident)
        if sub is self:  # a directory after all
            return await self._by_gfid(proc, req, ident, fd, path)
        try:
            return await sub.call(proc, req, ident, fd=fd, path=path)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ESTALE):
                raise
            try:
                moved = await self._locate(gfid, ident)  # renamed elsewhere by another client?
            except OSError as gone:
                # found nowhere: the brick's ESTALE stands, so that a libgfapi-style path call
                # resolves the path again (10.3 dht_migration_complete_check_task answers ESTALE
                # when the name now has another gfid; gfclient does not look the name up)
                if gone.errno in (errno.ENOENT, errno.ESTALE):
                    raise exc from None
                raise
            if moved is sub or moved is self:
                raise
            return await moved.call(proc, req, ident, fd=fd, path=path)

    def up_children(self) -> list[Subvolume]:
        up = [c for c in self.children if c.up]
        return up or list(self.children)

    def first_up(self) -> Subvolume:
        return self.up_children()[0]

    # ---- lookups --------------------------------------------------------------------------
    def _lookup_req(self, req: Any) -> Any:
        extra = {
            self.xattr: GfxValue.uint(16),
            self.linkto_xattr: GfxValue.uint(256),
            algo.MDS_XATTR: GfxValue.uint(4),
            algo.COMMITHASH_XATTR: GfxValue.uint(4),
        }
        return dataclasses.replace(req, xdata=merged(req.xdata, extra))

    def _is_linkto(self, rsp: Any) -> bool:
        return algo.is_linkfile_mode(rsp.prestat.mode) and raw_value(rsp.xdata, self.linkto_xattr) is not None

    def _linkto_target(self, rsp: Any) -> Subvolume | None:
        raw = raw_value(rsp.xdata, self.linkto_xattr)
        return self.by_name.get(raw.rstrip(b"\0").decode("utf-8", "replace")) if raw is not None else None

    async def _locate(self, gfid: bytes, ident: Identity) -> Subvolume:
        """Where the inode ``gfid`` lives (a nameless LOOKUP everywhere); ``self`` for a
        directory (its layout is cached as a side effect)."""
        req = self._lookup_req(F.GfxLookupReq(gfid, NULL_GFID, 0, "", None))
        outs = await gather((i, bind(c, GfFop.LOOKUP, req, ident)) for i, c in enumerate(self.children))
        good = [o for o in outs if o.ok]
        if not good:
            raise first_error(outs)
        if any(_stat.S_ISDIR(o.value.prestat.mode) for o in good):
            self.layouts.remember(gfid, outs)
            return self
        for o in good:
            if not self._is_linkto(o.value):
                self._where.put(gfid, self.children[o.index])
                return self.children[o.index]
        raise fop_error(errno.ENOENT)

    async def _lookup(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        if not req.bname:  # nameless: revalidate by gfid
            if req.gfid == ROOT_GFID or req.gfid in self.layouts or req.gfid not in self._where:
                return await self._lookup_dir_gfid(req, ident, path)
            sub = self._where[req.gfid]
            try:
                return await sub.call(GfFop.LOOKUP, req, ident)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ESTALE):
                    raise
                self._where.pop(req.gfid, None)
                return await self._lookup_dir_gfid(req, ident, path)
        return (await self.entry(req.pargfid, req.bname, ident, req, path)).rsp

    async def _lookup_dir_gfid(self, req: Any, ident: Identity, path: str | None) -> Any:
        lreq = self._lookup_req(req)
        outs = await gather((i, bind(c, GfFop.LOOKUP, lreq, ident)) for i, c in enumerate(self.children))
        good = [o for o in outs if o.ok]
        if not good:
            raise first_error(outs)
        if any(_stat.S_ISDIR(o.value.prestat.mode) for o in good):
            await self._dir_found(req.gfid, outs, ident, path, None)
            return _merge_dir(good)
        for o in good:
            if not self._is_linkto(o.value):
                self._where.put(req.gfid, self.children[o.index])
                return o.value
        raise fop_error(errno.ENOENT)

    async def entry(self, pargfid: bytes, name: str, ident: Identity, req: Any, path: str | None) -> Entry:
        """A named lookup (``dht_lookup``): hashed subvolume, linkto, directory, everywhere."""
        if req is None:
            req = F.GfxLookupReq(NULL_GFID, pargfid, 0, name, None)
        lreq = self._lookup_req(req)
        layout = await self._layout(pargfid, ident)
        hashed = self._hashed(layout, name)
        first: Outcome | None = None
        if hashed is not None:
            (first,) = await gather([(0, bind(hashed, GfFop.LOOKUP, lreq, ident))])
            if first.ok:
                rsp = first.value
                if _stat.S_ISDIR(rsp.prestat.mode):
                    return await self._entry_dir(lreq, ident, path, hashed)
                if not self._is_linkto(rsp):
                    self._where.put(rsp.prestat.ia_gfid, hashed)
                    return Entry(rsp, hashed, hashed, False)
                target = self._linkto_target(rsp)
                if target is not None:
                    try:
                        trsp = await target.call(GfFop.LOOKUP, lreq, ident)
                    except OSError:
                        trsp = None
                    if trsp is not None and trsp.prestat.ia_gfid == rsp.prestat.ia_gfid:
                        self._where.put(trsp.prestat.ia_gfid, target)
                        return Entry(trsp, target, hashed, True)
            elif first.errno not in (errno.ENOENT, errno.ENOTCONN, errno.ESTALE):
                raise first.error  # type: ignore[misc]
            if first.ok or first.errno == errno.ENOENT:
                if self.layouts.current(layout):
                    if first.ok:  # a stale linkto: the data is gone
                        raise fop_error(errno.ENOENT)
                    raise first.error  # type: ignore[misc]
        others = [(i, c) for i, c in enumerate(self.children) if c is not hashed]
        outs = await gather((i, bind(c, GfFop.LOOKUP, lreq, ident)) for i, c in others)
        for o in outs:
            if o.ok and _stat.S_ISDIR(o.value.prestat.mode):
                return await self._entry_dir(lreq, ident, path, hashed)
        for o in outs:
            if o.ok and not self._is_linkto(o.value):
                sub = self.children[o.index]
                self._where.put(o.value.prestat.ia_gfid, sub)
                return Entry(o.value, sub, hashed, bool(first and first.ok))
        errs = [o for o in outs if not o.ok] + ([first] if first is not None and not first.ok else [])
        if any(o.errno not in (errno.ENOENT, errno.ESTALE) for o in errs) and not any(o.ok for o in outs):
            raise first_error(errs)
        raise fop_error(errno.ENOENT)

    async def _entry_dir(self, lreq: Any, ident: Identity, path: str | None, hashed: Subvolume | None) -> Entry:
        outs = await gather((i, bind(c, GfFop.LOOKUP, lreq, ident)) for i, c in enumerate(self.children))
        good = [o for o in outs if o.ok and _stat.S_ISDIR(o.value.prestat.mode)]
        if not good:
            raise first_error(outs)
        gfid = good[0].value.prestat.ia_gfid
        await self._dir_found(gfid, outs, ident, path, (lreq.pargfid, lreq.bname, good[0].value.prestat))
        rsp = _merge_dir(good)
        return Entry(rsp, self, hashed, False)

    def _hashed(self, layout: algo.Layout, name: str) -> Subvolume | None:
        owner = layout.subvolume_for(name, self.hasher)
        return self.by_name.get(owner) if owner is not None else None

    async def _layout(self, gfid: bytes, ident: Identity) -> algo.Layout:
        layout = self.layouts.get(gfid)
        if layout is None:
            await self._lookup_dir_gfid(F.GfxLookupReq(gfid, NULL_GFID, 0, "", None), ident, None)
            layout = self.layouts.get(gfid)
            if layout is None:
                raise fop_error(errno.ENOTDIR)
        return layout

    # ---- directory heal ---------------------------------------------------------------------
    async def _dir_found(
        self,
        gfid: bytes,
        outs: Sequence[Outcome],
        ident: Identity,
        path: str | None,
        named: tuple[bytes, str, Any] | None,
    ) -> None:
        """Remember a directory's layout; heal it when a copy or a range is missing."""
        layout = self.layouts.remember(gfid, outs)
        missing = [self.children[o.index] for o in outs if not o.ok and o.errno in (errno.ENOENT, errno.ESTALE)]
        if named is not None and missing:
            pargfid, name, st = named
            req = F.GfxMkdirReq(pargfid, st.mode & 0o7777, 0, name, {"gfid-req": GfxValue.uuid(gfid)})
            owner = locks.new_owner()
            heal = locks.owned(ident, owner, pid=INTERNAL_PID)
            await gather((i, bind(c, GfFop.MKDIR, req, heal)) for i, c in enumerate(missing))
        present = {self.children[o.index].name for o in outs if o.ok or o.errno in (errno.ENOENT, errno.ESTALE)}
        if present and self.layouts.needs_heal(layout, present):
            await self.layouts.heal(gfid, ident, path, present, self._lookup_req)

    # ---- entry operations -------------------------------------------------------------------
    def _guard(self, layout: algo.Layout, sub: Subvolume) -> dict[str, GfxValue]:
        """The parent's layout on ``sub`` for the brick's pre-op check (``dht_create``)."""
        rng = dict(layout.ranges).get(sub.name)
        if rng is None:
            return {}
        return {self.xattr: GfxValue.ptr(rng.encode()), "glusterfs.preop.parent.key": GfxValue.str(self.xattr)}

    async def _create_like(self, proc: GfFop, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        """CREATE/MKNOD/SYMLINK on the hashed subvolume (``dht_create``)."""
        for attempt in (0, 1):
            layout = await self._layout(req.pargfid, ident)
            hashed = self._hashed(layout, req.bname)
            if hashed is None:
                raise fop_error(errno.EIO, None, f"{self.name}: no subvolume for {req.bname!r} (layout hole)")
            sent = dataclasses.replace(req, xdata=merged(req.xdata, self._guard(layout, hashed)))
            try:
                rsp = await hashed.call(proc, sent, ident, fd=fd, path=path)
            except OSError as exc:
                if exc.errno == errno.EIO and attempt == 0:  # the pre-op check: the layout changed
                    self.layouts.forget(req.pargfid)
                    continue
                raise
            if fd is not None:
                fd.ctx[self] = hashed
            self._where.put(rsp.stat.ia_gfid, hashed)
            return rsp
        raise AssertionError("unreachable")

    async def _create(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        return await self._create_like(GfFop.CREATE, req, ident, fd, path)

    async def _mknod(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        return await self._create_like(GfFop.MKNOD, req, ident, fd, path)

    async def _symlink(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        return await self._create_like(GfFop.SYMLINK, req, ident, fd, path)

    async def _mkdir(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        """``dht_mkdir``, see the module docstring."""
        gfid_v = (req.xdata or {}).get("gfid-req")
        gfid = gfid_v.value if gfid_v is not None else uuid.uuid4().bytes
        if len(self.children) == 1:  # the whole range, in MKDIR's xdata
            whole = algo.Range(0, 0xFFFFFFFF, self.layouts.new_commit_hash())
            sent = dataclasses.replace(req, xdata=merged(req.xdata, {self.xattr: GfxValue.ptr(whole.encode())}))
            return await self.children[0].call(GfFop.MKDIR, sent, ident, path=path)
        layout = await self._layout(req.pargfid, ident)
        hashed = self._hashed(layout, req.bname) or self.first_up()
        lk = await self.layouts.locked(hashed, req.pargfid, ident, locks.RDLCK)
        try:
            name_lock = locks.entrylk(req.pargfid, ENTRY_SYNC_DOMAIN, req.bname, locks.ENTRYLK_LOCK)
            await hashed.call(GfFop.ENTRYLK, name_lock, lk)
            try:
                extra = {algo.MDS_XATTR: GfxValue.ptr(bytes(4)), **self._guard(layout, hashed)}
                extra["gfid-req"] = GfxValue.uuid(gfid)
                rsp = await hashed.call(GfFop.MKDIR, dataclasses.replace(req, xdata=merged(req.xdata, extra)), ident)
                gfid = rsp.stat.ia_gfid
                others = [(i, c) for i, c in enumerate(self.children) if c is not hashed]
                plain = dataclasses.replace(req, xdata={"gfid-req": GfxValue.uuid(gfid)})
                outs = await gather((i, bind(c, GfFop.MKDIR, plain, ident)) for i, c in others)
            finally:
                unlock = locks.entrylk(req.pargfid, ENTRY_SYNC_DOMAIN, req.bname, locks.ENTRYLK_UNLOCK)
                await gather([(0, bind(hashed, GfFop.ENTRYLK, unlock, lk))])
        finally:
            await self.layouts.unlock(hashed, req.pargfid, lk)
        errors = {self.children[o.index].name: o.errno for o in outs if not o.ok and o.errno != errno.EEXIST}
        ranges = await self.layouts.ranges(path or "/" + req.bname, gfid, errors, self.layouts.new_commit_hash(), ident)
        heal = await self.layouts.locked(hashed, gfid, ident, locks.WRLCK)
        try:
            await self.layouts.write(gfid, ranges, heal, {c.name for c in self.children if c.name not in errors})
        finally:
            await self.layouts.unlock(hashed, gfid, heal)
        return rsp

    async def _unlink(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        ent = await self.entry(req.pargfid, req.bname, ident, None, path)
        if ent.cached is self:
            raise fop_error(errno.EISDIR)
        rsp = await ent.cached.call(GfFop.UNLINK, req, ident)
        if ent.hashed is not None and ent.hashed is not ent.cached and ent.linkto_on_hashed:
            await gather([(0, bind(ent.hashed, GfFop.UNLINK, req, ident))])
        self._where.pop(ent.rsp.prestat.ia_gfid, None)
        return rsp

    async def _linkfile(
        self, on: Subvolume, pargfid: bytes, name: str, gfid: bytes, target: Subvolume, ident: Identity
    ) -> Any:
        """Make a linkto file ``name`` on ``on`` pointing at ``target`` (``dht_linkfile_create``)."""
        xd = {
            self.linkto_xattr: GfxValue.str(target.name),
            "gfid-req": GfxValue.uuid(gfid),
            "force-replace": GfxValue.str("yes"),
            "glusterfs-internal-fop": GfxValue.str("yes"),
        }
        req = F.GfxMknodReq(pargfid, 0, _LINKTO_MODE, 0, name, xd)
        return await on.call(GfFop.MKNOD, req, dataclasses.replace(ident, pid=INTERNAL_PID))

    async def _link(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        """``dht_link``: the new name's hashed subvolume gets a linkto when the data is elsewhere."""
        cached = self._where.get(req.oldgfid) or await self._locate(req.oldgfid, ident)
        if cached is self:
            raise fop_error(errno.EPERM)
        layout = await self._layout(req.newgfid, ident)
        hashed = self._hashed(layout, req.newbname)
        if hashed is not None and hashed is not cached:
            await self._linkfile(hashed, req.newgfid, req.newbname, req.oldgfid, cached, ident)
        return await cached.call(GfFop.LINK, req, ident)

    async def _rename(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        """``dht_rename``: directories everywhere; files as the module docstring says."""
        src = await self.entry(req.oldgfid, req.oldbname, ident, None, None)
        if src.cached is self:
            try:
                dst_dir = await self.entry(req.newgfid, req.newbname, ident, None, None)
            except FileNotFoundError:
                dst_dir = None
            if dst_dir is not None and dst_dir.cached is not self:
                raise fop_error(errno.ENOTDIR)
            outs = await gather((i, bind(c, GfFop.RENAME, req, ident)) for i, c in enumerate(self.children))
            return _first_ok(outs)
        try:
            dst: Entry | None = await self.entry(req.newgfid, req.newbname, ident, None, None)
        except FileNotFoundError:
            dst = None
        if dst is not None and dst.cached is self:
            raise fop_error(errno.EISDIR)  # a file over a directory, as rename(2) says
        gfid = src.rsp.prestat.ia_gfid
        layout = await self._layout(req.newgfid, ident)
        dst_hashed = self._hashed(layout, req.newbname) or src.cached
        owner = locks.new_owner()
        lk = locks.owned(ident, owner)
        held: list[tuple[Subvolume, Any]] = []
        names = ((src.hashed or src.cached, req.oldgfid, req.oldbname), (dst_hashed, req.newgfid, req.newbname))
        for sub, pgfid, name in names:
            await sub.call(GfFop.ENTRYLK, locks.entrylk(pgfid, ENTRY_SYNC_DOMAIN, name, locks.ENTRYLK_LOCK), lk)
            held.append((sub, locks.entrylk(pgfid, ENTRY_SYNC_DOMAIN, name, locks.ENTRYLK_UNLOCK)))
        try:
            if dst_hashed is src.cached:
                rsp = await src.cached.call(GfFop.RENAME, req, ident)
            elif dst is not None and dst.cached is src.cached:
                # dht_rename_create_links: both names' data on one subvolume -- unlink the new
                # name's linkto on its hashed subvolume, rename where the data is; then a
                # linkto with the moved file's gfid (the old one would be stale: ENOENT)
                unlink = F.GfxUnlinkReq(req.newgfid, req.newbname, 0, None)
                await gather([(0, bind(dst_hashed, GfFop.UNLINK, unlink, lk))])
                rsp = await src.cached.call(GfFop.RENAME, req, ident)
                await self._linkfile(dst_hashed, req.newgfid, req.newbname, gfid, src.cached, lk)
            else:
                await self._linkfile(dst_hashed, req.oldgfid, req.oldbname, gfid, src.cached, lk)
                link = F.GfxLinkReq(gfid, req.newgfid, req.newbname, {"force-replace": GfxValue.str("yes")})
                await src.cached.call(GfFop.LINK, link, ident)
                rsp = await dst_hashed.call(GfFop.RENAME, req, ident)
                await src.cached.call(GfFop.UNLINK, F.GfxUnlinkReq(req.oldgfid, req.oldbname, 0, None), ident)
            cleanup = []
            if src.hashed is not None and src.hashed not in (src.cached, dst_hashed) and src.linkto_on_hashed:
                cleanup.append(F.GfxUnlinkReq(req.oldgfid, req.oldbname, 0, None))
                await gather([(0, bind(src.hashed, GfFop.UNLINK, cleanup[-1], ident))])
            if dst is not None and dst.cached not in (self, src.cached, dst_hashed) and dst.rsp.prestat.ia_gfid != gfid:
                unlink = F.GfxUnlinkReq(req.newgfid, req.newbname, 0, None)
                await gather([(0, bind(dst.cached, GfFop.UNLINK, unlink, ident))])
        finally:
            for sub, unlock in reversed(held):
                await gather([(0, bind(sub, GfFop.ENTRYLK, unlock, lk))])
        self._where.put(gfid, src.cached)
        return rsp

    # ---- fds and directories ------------------------------------------------------------------
    async def _open(self, req: Any, ident: Identity, fd: Fd | None, path: str | None) -> Any:
        sub = self._where.get(req.gfid) or await self._locate(req.gfid, ident)
        if sub is self:
            raise fop_error(errno.EISDIR)
        rsp = await sub.call(GfFop.OPEN, req, ident, fd=fd)
        if fd is not None:
            fd.ctx[self] = sub
        return rsp


def _first_ok(outs: Sequence[Outcome]) -> Any:
    for o in outs:
        if o.ok:
            return o.value
    raise first_error(outs)


def _merge_dir(good: Sequence[Outcome]) -> Any:
    """One reply for a directory seen on several subvolumes: the first, with the latest
    times (``dht_iatt_merge`` keeps the newest times)."""
    rsp = good[0].value
    st = rsp.prestat
    best = max((o.value.prestat for o in good), key=lambda s: (s.ia_mtime, s.ia_mtime_nsec))
    if best is not st:
        st = dataclasses.replace(
            st,
            ia_mtime=best.ia_mtime,
            ia_mtime_nsec=best.ia_mtime_nsec,
            ia_ctime=max(s.value.prestat.ia_ctime for s in good),
        )
        rsp = dataclasses.replace(rsp, prestat=st)
    return rsp


_HANDLERS = {
    GfFop.LOOKUP: Distribute._lookup,
    GfFop.CREATE: Distribute._create,
    GfFop.MKNOD: Distribute._mknod,
    GfFop.SYMLINK: Distribute._symlink,
    GfFop.MKDIR: Distribute._mkdir,
    GfFop.UNLINK: Distribute._unlink,
    GfFop.RMDIR: dht_dirs.rmdir,
    GfFop.LINK: Distribute._link,
    GfFop.RENAME: Distribute._rename,
    GfFop.OPEN: Distribute._open,
    GfFop.OPENDIR: dht_dirs.opendir,
    GfFop.STATFS: dht_dirs.statfs,
}
