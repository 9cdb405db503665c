"""DHT's directory layouts as one object (:class:`DirLayouts`), used by
:class:`gfclient.xl.dht.Distribute`: which range of the hash space each subvolume holds for
each directory, learnt from LOOKUP replies, written for new directories, and healed when a
directory has none or has holes (``dht-selfheal.c``: ``dht_selfheal_directory``,
``dht_selfheal_layout_new_directory``, ``dht_get_du_info``).

Writes go under an INODELK in the ``dht.layout.heal`` domain, with DHT's internal pid, one
SETXATTR of ``trusted.glusterfs.dht`` per subvolume (xdata ``glusterfs-internal-fop``); a
heal first looks again under the lock, so that two clients do not both rewrite a layout.
"""

from __future__ import annotations

import errno
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from fakegluster.proto import fops as F
from fakegluster.proto.common import NULL_GFID, ROOT_GFID
from fakegluster.proto.fops import GfFop
from fakegluster.proto.gfdict import GfxValue
from fakegluster.xl import dht as algo

from ..identity import Identity
from . import locks
from .base import Outcome, Subvolume, bind, gather

__all__ = ["DirLayouts", "Lru", "INTERNAL_PID", "raw_value", "LAYOUT_HEAL_DOMAIN"]

_CACHE = 65536
_DU_TTL = 5.0
#: pid of DHT's internal frames (layout heal, linkto files): ``GF_CLIENT_PID_NO_ROOT_SQUASH``.
INTERNAL_PID = -4
LAYOUT_HEAL_DOMAIN = "dht.layout.heal"


class Lru(OrderedDict):  # type: ignore[type-arg]
    """A dict keeping its newest ``_CACHE`` entries (an inode table's size bound)."""

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > _CACHE:
            self.popitem(last=False)


def raw_value(xdata: Mapping[str, GfxValue] | None, key: str) -> bytes | None:
    """The bytes of ``xdata[key]`` (None when absent or not a byte value)."""
    if not xdata or key not in xdata:
        return None
    v = xdata[key]
    return v.value if isinstance(v.value, bytes) else None


class DirLayouts:
    """Directory layouts of one DHT instance over ``children``."""

    def __init__(
        self,
        children: Sequence[Subvolume],
        *,
        xattr: str,
        hasher: algo.NameHasher,
        weighted: bool,
        spread: int | None,
        lookup_optimize: bool,
    ) -> None:
        self.children = tuple(children)
        self.xattr = xattr
        self.hasher = hasher
        self.weighted = weighted
        self.spread = spread
        self.lookup_optimize = lookup_optimize
        #: ``conf->vol_commit_hash``: the root's ``trusted.glusterfs.dht.commithash`` (0 if none)
        self.vol_commit_hash = 0
        self._known: Lru = Lru()
        self._du: dict[str, int] = {}
        self._du_at = -1e9

    def get(self, gfid: bytes) -> algo.Layout | None:
        return self._known.get(gfid)

    def __contains__(self, gfid: bytes) -> bool:
        return gfid in self._known

    def forget(self, gfid: bytes) -> None:
        self._known.pop(gfid, None)

    def remember(self, gfid: bytes, outs: Sequence[Outcome]) -> algo.Layout:
        """The layout in the LOOKUP replies ``outs`` (one per child, by index)."""
        values: dict[str, bytes | None] = {}
        for o in outs:
            child = self.children[o.index]
            values[child.name] = raw_value(o.value.xdata, self.xattr) if o.ok else None
            if gfid == ROOT_GFID and o.ok:
                commit = raw_value(o.value.xdata, algo.COMMITHASH_XATTR)
                if commit is not None and len(commit) == 4:
                    self.vol_commit_hash = int.from_bytes(commit, "big")
        layout = algo.Layout.from_xattrs(values)
        self._known.put(gfid, layout)
        return layout

    def current(self, layout: algo.Layout) -> bool:
        """``dht_should_lookup_everywhere``: with lookup-optimize, a miss on the hashed
        subvolume is final when the layout's commit hash is the volume's."""
        hashes = {r.commit_hash for _, r in layout.ranges if r is not None and not r.empty}
        commit = hashes.pop() if len(hashes) == 1 else algo.LAYOUT_HASH_INVALID
        return self.lookup_optimize and bool(layout.ranges) and commit == self.vol_commit_hash

    def new_commit_hash(self) -> int:
        """A new directory's commit hash (``dht_mkdir``)."""
        return self.vol_commit_hash if self.lookup_optimize else algo.LAYOUT_HASH_INVALID

    def needs_heal(self, layout: algo.Layout, present: set[str]) -> bool:
        return not layout.complete or any(r is None for n, r in layout.ranges if n in present)

    async def chunks(self, ident: Identity) -> dict[str, int] | None:
        """Each subvolume's size in 1 MiB chunks (``dht_get_du_info``, refreshed every 5 s);
        None when ``weighted-rebalance`` is off."""
        if not self.weighted:
            return None
        now = time.monotonic()
        if now - self._du_at > _DU_TTL:
            req = F.GfxStatfsReq(ROOT_GFID, None)
            outs = await gather((i, bind(c, GfFop.STATFS, req, ident)) for i, c in enumerate(self.children))
            self._du = {
                self.children[o.index].name: algo.du_chunks(o.value.statfs.blocks, o.value.statfs.bsize)
                for o in outs
                if o.ok
            }
            self._du_at = now
        return self._du

    async def ranges(
        self, path: str | None, gfid: bytes, errors: Mapping[str, int], commit_hash: int, ident: Identity
    ) -> dict[str, algo.Range]:
        """A new layout for directory ``path`` (its gfid when the path is unknown)."""
        return algo.new_directory_ranges(
            [c.name for c in self.children],
            path or "/",
            errors=errors,
            chunks=await self.chunks(ident),
            spread=self.spread,
            commit_hash=commit_hash,
            hasher=self.hasher,
            start_key=None if path else str(uuid.UUID(bytes=gfid)),
        )

    async def write(
        self, gfid: bytes, ranges: Mapping[str, algo.Range], ident: Identity, on: set[str] | None = None
    ) -> None:
        """One SETXATTR of each subvolume's range (on those in ``on``, default all)."""
        xd = {"glusterfs-internal-fop": GfxValue.str("yes")}
        calls = []
        for i, c in enumerate(self.children):
            if on is not None and c.name not in on:
                continue
            req = F.GfxSetxattrReq(gfid, 0, {self.xattr: GfxValue.ptr(ranges[c.name].encode())}, xd)
            calls.append((i, bind(c, GfFop.SETXATTR, req, ident)))
        await gather(calls)
        self._known.put(gfid, algo.Layout(tuple((c.name, ranges.get(c.name)) for c in self.children)))

    async def locked(self, on: Subvolume, gfid: bytes, ident: Identity, kind: int) -> Identity:
        """Take the ``dht.layout.heal`` lock (``kind``: RDLCK or WRLCK) on ``gfid`` at ``on``;
        returns the identity (lk-owner) to unlock with."""
        owned = locks.owned(ident, locks.new_owner(), pid=INTERNAL_PID if kind == locks.WRLCK else None)
        await on.call(GfFop.INODELK, locks.inodelk(gfid, LAYOUT_HEAL_DOMAIN, locks.SETLKW, kind), owned)
        return owned

    async def unlock(self, on: Subvolume, gfid: bytes, owned: Identity) -> None:
        unlock = locks.inodelk(gfid, LAYOUT_HEAL_DOMAIN, locks.SETLK, locks.UNLCK)
        await gather([(0, bind(on, GfFop.INODELK, unlock, owned))])

    async def heal(self, gfid: bytes, ident: Identity, path: str | None, present: set[str], lookup_req: Any) -> None:
        """Give a directory a complete layout (``dht_selfheal_directory``): under the lock,
        look again; if still incomplete, write a new one (commit hash "invalid", as a fixed
        layout gets) on the subvolumes that have the directory."""
        lock_on = next(c for c in self.children if c.name in present)
        owned = await self.locked(lock_on, gfid, ident, locks.WRLCK)
        try:
            req = lookup_req(F.GfxLookupReq(gfid, NULL_GFID, 0, "", None))
            outs = await gather((i, bind(c, GfFop.LOOKUP, req, ident)) for i, c in enumerate(self.children))
            layout = self.remember(gfid, outs)
            have = {self.children[o.index].name for o in outs if o.ok}
            if not self.needs_heal(layout, have):
                return
            errors = {c.name: (0 if c.name in have else errno.ENOTCONN) for c in self.children}
            ranges = await self.ranges(path, gfid, errors, algo.LAYOUT_HASH_INVALID, ident)
            await self.write(gfid, ranges, owned, have)
        finally:
            await self.unlock(lock_on, gfid, owned)
