"""Self-heal, as glustershd does it for replicate and disperse volumes, and what ``volume heal
V info`` lists.

The fake's self-heal daemon works on the bricks' stores directly, in the server's trio
thread, between two calls: each step is atomic for clients.  It walks every replica or
disperse set from the root (a real shd crawls the bricks' ``indices/xattrop``; the fake
looks at every object, and the bricks' indices (server/index.py) are refreshed for what it
healed, so glfsheal reading them agrees), and for each object compares the copies:

* **replicate** (``afr-self-heal-{entry,data,metadata}.c``): the changelog xattrs
  ``trusted.afr.VOL-client-N`` say which copies missed operations; sources and sinks come from
  :func:`fakegluster.xl.afr.find_direction` (a split brain has no source and is left alone).
  Entry heal makes a sink directory's names those of a source (same gfids; extra names
  removed), data heal copies a source's content (holes kept; never to or from an arbiter,
  whose files stay empty), metadata heal its mode, owner and xattrs.  The healed sinks' counters
  are then zeroed on every copy, and ``trusted.afr.dirty`` with them.  Data sources that differ
  in size or carry dirty marks (a transaction that never finished) are narrowed to one as
  10.3 does: the largest, then the most dirty, then the newest ctime (``data_sources``).
* **disperse** (``ec-heal.c``): ``trusted.ec.version`` (data, metadata) picks the good
  fragments (the highest version, on at least k bricks); a bad or missing fragment is rebuilt
  from k good ones (:class:`fakegluster.xl.ec.Codec`), with the good ``size``/``version``/
  ``config``; ``trusted.ec.dirty`` is cleared once every brick of the set is good again.
  Directories: entry heal from the bricks with the highest version.

An object a client holds a lock on (any inode or entry lock, on any brick of the set) is in
the middle of a transaction: glustershd's non-blocking lock would fail, and the entry is left
for the next pass, as is one a client changed in the last :data:`QUIET` seconds.  A pass runs
in the bricks' own thread without awaiting, so no client call interleaves with it (as if it
held the set's locks while it heals).  :func:`heal` is one pass; the runtime's heal daemon
repeats passes while something is left (``cluster.self-heal-daemon``).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import stat
import struct
import time
import uuid
from collections.abc import Callable, Sequence

import trio

from ..mgmt import model
from ..store.base import ROOT_GFID, Attr, Store
from ..xl import afr, ec
from .brick import Brick
from .volume import Volume

log = logging.getLogger("fakegluster.server")

__all__ = [
    "QUIET",
    "SHD_GRACE",
    "HealReport",
    "BrickHealInfo",
    "heal",
    "heal_info",
    "format_heal_info",
    "pending",
    "self_heal_daemon",
]

#: seconds an object must have been left alone before it is healed
QUIET = 2.0
#: seconds the self-heal daemon keeps crawling after a brick came back
SHD_GRACE = 10.0
#: bytes copied per read/write while healing
CHUNK = 1 << 20
_I32 = struct.Struct(">iii")
_NOT_METADATA = ("trusted.afr.", "trusted.ec.", "trusted.gfid", "trusted.glusterfs.volume-id")


@dataclasses.dataclass
class HealReport:
    """One heal pass: what was healed (``brick name: path (kind)``), what is left."""

    healed: list[str] = dataclasses.field(default_factory=list)
    busy: list[str] = dataclasses.field(default_factory=list)  # in a transaction: next pass
    split_brain: list[str] = dataclasses.field(default_factory=list)
    unhealable: list[str] = dataclasses.field(default_factory=list)  # no good copy up

    @property
    def done(self) -> bool:
        return not (self.busy or self.unhealable)


@dataclasses.dataclass
class BrickHealInfo:
    """One brick's part of ``volume heal V info``."""

    host: str
    path: str
    connected: bool
    entries: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (path, status)


def _copies(bricks: Sequence[Brick], gfid: bytes) -> dict[int, Attr]:
    out = {}
    for i, b in enumerate(bricks):
        if not b.running:
            continue
        try:
            out[i] = b.store.getattr(gfid)
        except OSError:
            pass
    return out


def _xattrs(store: Store, gfid: bytes) -> dict[str, bytes]:
    out = {}
    for name in store.listxattr(gfid):
        try:
            out[name] = store.getxattr(gfid, name)
        except OSError:
            pass
    return out


def _busy(bricks: Sequence[Brick], gfid: bytes, now: float) -> bool:
    """A client holds an inode or entry lock on the object on some brick (glustershd's
    non-blocking locks would fail: ``afr_selfheal_tryinodelk``/``afr_selfheal_tryentrylk``,
    ``ec_heal_inodelk``/``ec_heal_entrylk`` with ``F_SETLK``: the entry waits for the next
    crawl), or touched it less than :data:`QUIET` seconds ago."""
    for b in bricks:
        st = b.state.inodes.get(gfid)
        if st is not None and (st.inodelk.count() or st.entrylk.count()):
            return True
        t = b.touched.get(gfid) if b.touched is not None else None
        if t is not None and now - t < QUIET:
            return True
    return False


def _set_sets(volume: Volume) -> list[list[Brick]]:
    if volume.model.type not in (model.ClusterType.REPLICATE, model.ClusterType.DISPERSE):
        raise ValueError(f"Volume {volume.name} is not of type replicate/disperse")
    return volume.subvolumes()


# ---- the namespace walk ---------------------------------------------------------------
def _walk(bricks: Sequence[Brick], visit: Callable[[str, bytes, dict[int, Attr]], None]) -> None:
    """Call ``visit(path, gfid, copies)`` for every object of the set, parents first (a
    parent's entry heal runs before its children are listed)."""
    stack = [("/", ROOT_GFID)]
    seen = set()
    while stack:
        path, gfid = stack.pop()
        if gfid in seen:
            continue
        seen.add(gfid)
        copies = _copies(bricks, gfid)
        if not copies:
            continue
        visit(path, gfid, copies)
        copies = _copies(bricks, gfid)  # entry heal may have created it on more bricks
        if not any(stat.S_ISDIR(a.mode) for a in copies.values()):
            continue
        names: dict[str, bytes] = {}
        for i in copies:
            try:
                listing = bricks[i].store.readdir(gfid)
            except OSError:
                continue
            for name, a in listing:
                names.setdefault(name, a.gfid)
        for name in sorted(names, reverse=True):
            stack.append((path.rstrip("/") + "/" + name, names[name]))


# ---- replicate --------------------------------------------------------------------------
class _Replica:
    def __init__(self, volume: Volume, bricks: list[Brick], report: HealReport, now: float) -> None:
        self.bricks, self.report, self.now = bricks, report, now
        first = bricks[0].index
        self.keys = [f"trusted.afr.{volume.name}-client-{first + i}" for i in range(len(bricks))]
        self.arbiter = len(bricks) - 1 if volume.model.arbiter_count else None

    def direction(self, xattrs: dict[int, dict[str, bytes]], txn: afr.Txn) -> afr.Direction:
        """Sources and sinks; a directory's data counter is the full-heal indicator granular
        entry heal sets on a new directory (``afr_mark_pending_changelog``): it counts as an
        entry mark."""
        n = len(self.bricks)
        replies = [xattrs.get(i) for i in range(n)]
        matrix = afr.pending_matrix(replies, self.keys, txn)
        dirty = afr.dirty_counts(replies, txn)
        if txn == afr.Txn.ENTRY:
            full = afr.pending_matrix(replies, self.keys, afr.Txn.DATA)
            matrix = [[max(a, b) for a, b in zip(r, f, strict=True)] for r, f in zip(matrix, full, strict=True)]
            dirty = [max(a, b) for a, b in zip(dirty, afr.dirty_counts(replies, afr.Txn.DATA), strict=True)]
        return afr.find_direction(matrix, dirty, [x is not None for x in replies], txn)

    def visit(self, path: str, gfid: bytes, copies: dict[int, Attr]) -> None:
        xattrs = {i: _xattrs(self.bricks[i].store, gfid) for i in copies}
        if not any(_pending(x, self.keys) for x in xattrs.values()):
            return
        label = f"{path} ({self.bricks[0].volume})"
        if _busy(self.bricks, gfid, self.now):
            self.report.busy.append(label)
            return
        is_dir = any(stat.S_ISDIR(a.mode) for a in copies.values())
        for txn in (afr.Txn.ENTRY if is_dir else afr.Txn.DATA, afr.Txn.METADATA):
            d = self.direction(xattrs, txn)
            sinks = [i for i in copies if d.sinks[i] or not d.sources[i]]
            sources = [i for i in copies if d.sources[i] and i not in sinks]
            if not sinks and not any(d.witness):
                continue
            if not sources:
                self.report.split_brain.append(label)
                continue
            if txn == afr.Txn.DATA:
                sources = self.data_sources(sources, d.witness, copies)
                sinks = [i for i in copies if i not in sources]  # afr_mark_active_sinks
            # afr_choose_source_by_policy: the first (local) source; for data not the arbiter
            source = next((i for i in sources if txn != afr.Txn.DATA or i != self.arbiter), sources[0])
            if not sinks:  # dirty, nobody accused: the other copies take the source's
                sinks = [i for i in sources if i != source]
            self.heal(txn, path, gfid, copies, source, sinks)
            for i in copies:
                for t in (txn, afr.Txn.DATA) if txn == afr.Txn.ENTRY else (txn,):
                    _clear_afr(self.bricks[i].store, gfid, [self.keys[j] for j in sinks], t)
            self.report.healed += [f"{self.bricks[j].name}: {path} ({txn.name.lower()})" for j in sinks]
        _reindex(self.bricks, gfid)

    def data_sources(self, sources: list[int], witness: Sequence[int], copies: dict[int, Attr]) -> list[int]:
        """``__afr_selfheal_data_finalize_source`` (afr-self-heal-data.c) without a split brain:
        when the sources differ in size (an empty arbiter aside) or carry witnesses (dirty or
        self-accusing counts), keep the largest, then those with the most witnesses, then the one
        with the newest ctime (``afr_mark_newest_file_as_source``: whole seconds as a uint32, a
        tie goes to the last); with an arbiter, a file empty on every brick heals from the first
        (``afr_mark_source_sinks_if_file_empty``)."""
        sizes = {i: copies[i].size for i in sources}
        measured = {s for i, s in sizes.items() if not (i == self.arbiter and s == 0)}
        if len(measured) < 2 and not any(witness[i] for i in sources):  # afr_does_size_mismatch
            return sources
        biggest = max(sizes.values())
        sources = [i for i in sources if sizes[i] == biggest]  # afr_mark_largest_file_as_source
        most = max(witness[i] for i in sources)
        sources = [i for i in sources if witness[i] == most]  # afr_mark_biggest_witness_as_source
        newest, ctime = sources[0], 0
        for i in sources:
            t = (copies[i].ctime_ns // 1_000_000_000) & 0xFFFFFFFF
            if ctime <= t:
                newest, ctime = i, t
        sources = [newest]
        n = len(self.bricks)
        if self.arbiter is not None and len(copies) == n and all(copies[i].size == 0 for i in range(n)):
            sources = [0]
        return sources

    def heal(self, txn: afr.Txn, path: str, gfid: bytes, copies: dict[int, Attr], src: int, sinks: list[int]) -> None:
        s = self.bricks[src].store
        for j in sinks:
            d = self.bricks[j].store
            if txn == afr.Txn.ENTRY:
                _entry_heal(s, d, gfid)
            elif txn == afr.Txn.DATA:
                if j != self.arbiter and src != self.arbiter:
                    _copy_data(s, d, gfid, copies[src].size)
            else:
                _copy_metadata(s, d, gfid)


def _reindex(bricks: Sequence[Brick], gfid: bytes) -> None:
    """The heal changed changelogs without XATTROP: each running brick's features/index
    (bricksem's server/index.py) re-reads the copy's watched xattrs, so that glfsheal and
    glustershd, which read the index, stop listing what was healed."""
    for b in bricks:
        if b.running:
            try:
                b.state.index.refresh(gfid, _xattrs(b.store, gfid))
            except OSError:
                pass


def _pending(x: dict[str, bytes], keys: Sequence[str]) -> bool:
    for k in (*keys, afr.DIRTY_XATTR):
        raw = x.get(k)
        if raw and any(raw):
            return True
    return False


def _clear_afr(store: Store, gfid: bytes, keys: Sequence[str], txn: afr.Txn) -> None:
    for key in (*keys, afr.DIRTY_XATTR):
        try:
            raw = store.getxattr(gfid, key)
        except OSError:
            continue
        if len(raw) != _I32.size:
            continue
        vals = list(_I32.unpack(raw))
        if vals[txn]:
            vals[txn] = 0
            store.setxattr(gfid, key, _I32.pack(*vals))


# ---- copying between copies -----------------------------------------------------------
def _copy_data(src: Store, dst: Store, gfid: bytes, size: int) -> None:
    """Make ``dst``'s content ``src``'s: truncate, write the non-zero blocks (holes stay holes)."""
    dst.truncate(gfid, 0)
    off = 0
    while off < size:
        chunk = src.read(gfid, off, min(CHUNK, size - off))
        if not chunk:
            break
        if chunk != bytes(len(chunk)):
            dst.write(gfid, off, chunk)
        off += len(chunk)
    dst.truncate(gfid, size)


def _copy_metadata(src: Store, dst: Store, gfid: bytes) -> None:
    """Mode, owner and xattrs (not the replication xattrs) of ``src``'s copy onto ``dst``'s."""
    a = src.getattr(gfid)
    if not stat.S_ISLNK(a.mode):
        dst.setattr(gfid, mode=stat.S_IMODE(a.mode), uid=a.uid, gid=a.gid)
    want = {k: v for k, v in _xattrs(src, gfid).items() if not k.startswith(_NOT_METADATA)}
    have = {k: v for k, v in _xattrs(dst, gfid).items() if not k.startswith(_NOT_METADATA)}
    for k, v in want.items():
        if have.get(k) != v:
            dst.setxattr(gfid, k, v)
    for k in have.keys() - want.keys():
        try:
            dst.removexattr(gfid, k)
        except OSError:
            pass


def _entry_heal(src: Store, dst: Store, gfid: bytes, extra: Callable[[Store, Attr], None] | None = None) -> None:
    """Make directory ``gfid`` on ``dst`` hold ``src``'s names (same gfids)."""
    want = dict(src.readdir(gfid))
    have = dict(dst.readdir(gfid))
    for name, a in have.items():
        if name not in want or want[name].gfid != a.gfid or stat.S_IFMT(want[name].mode) != stat.S_IFMT(a.mode):
            _remove(dst, gfid, name, a)
    have = dict(dst.readdir(gfid))
    for name, a in want.items():
        if name in have:
            continue
        _make_like(src, dst, gfid, name, a)
        if extra is not None:
            extra(dst, a)


def _make_like(src: Store, dst: Store, pgfid: bytes, name: str, a: Attr) -> None:
    perm, uid, gid = stat.S_IMODE(a.mode), a.uid, a.gid
    kind = stat.S_IFMT(a.mode)
    if kind != stat.S_IFDIR:
        try:
            dst.getattr(a.gfid)
        except OSError:
            pass
        else:  # another name of a file the sink has: a hard link
            dst.link(a.gfid, pgfid, name)
            return
    if kind == stat.S_IFDIR:
        dst.mkdir(pgfid, name, perm, uid=uid, gid=gid, gfid=a.gfid)
    elif kind == stat.S_IFREG:
        dst.create(pgfid, name, perm, exclusive=True, uid=uid, gid=gid, gfid=a.gfid)
    elif kind == stat.S_IFLNK:
        dst.symlink(pgfid, name, src.readlink(a.gfid), uid=uid, gid=gid, gfid=a.gfid)
    else:
        dst.mknod(pgfid, name, a.mode, a.rdev, uid=uid, gid=gid, gfid=a.gfid)
    _copy_metadata(src, dst, a.gfid)


def _remove(store: Store, pgfid: bytes, name: str, a: Attr) -> None:
    if stat.S_ISDIR(a.mode):
        for child, ca in store.readdir(a.gfid):
            _remove(store, a.gfid, child, ca)
        store.rmdir(pgfid, name)
    else:
        store.unlink(pgfid, name)


# ---- disperse ---------------------------------------------------------------------------
class _Disperse:
    def __init__(self, volume: Volume, bricks: list[Brick], report: HealReport, now: float) -> None:
        self.bricks, self.report, self.now = bricks, report, now
        self.codec = ec.Codec(len(bricks), volume.model.redundancy_count)

    def visit(self, path: str, gfid: bytes, copies: dict[int, Attr]) -> None:
        n, k = len(self.bricks), self.codec.k
        xattrs = {i: _xattrs(self.bricks[i].store, gfid) for i in copies}
        versions = {i: _pair(x, ec.VERSION_XATTR) for i, x in xattrs.items()}
        dirty = {i: _pair(x, ec.DIRTY_XATTR) for i, x in xattrs.items()}
        up = [i for i, b in enumerate(self.bricks) if b.running]
        missing = [i for i in up if i not in copies]
        label = f"{path} ({self.bricks[0].volume})"
        top = (max(v[0] for v in versions.values()), max(v[1] for v in versions.values()))
        if all(v == top for v in versions.values()) and not missing and not any(any(d) for d in dirty.values()):
            return
        if _busy(self.bricks, gfid, self.now):
            self.report.busy.append(label)
            return
        good_data = [i for i in copies if versions[i][0] == top[0]]
        if len(good_data) < k:
            self.report.unhealable.append(label)
            return
        src = good_data[0]
        is_dir = stat.S_ISDIR(copies[src].mode)
        if missing and path != "/":
            return  # its parent's entry heal creates it (then the next pass heals it)
        stale = [i for i in copies if versions[i][0] != top[0]]
        if is_dir:
            for j in stale:
                _entry_heal(self.bricks[src].store, self.bricks[j].store, gfid, self._new_file)
        elif stale:
            self.rebuild(gfid, good_data, stale, xattrs[src])
        meta_stale = [i for i in copies if versions[i][1] != top[1]]
        good_meta = [i for i in copies if versions[i][1] == top[1]]
        for j in meta_stale:
            _copy_metadata(self.bricks[good_meta[0]].store, self.bricks[j].store, gfid)
        for j in set(stale) | set(meta_stale):
            self.bricks[j].store.setxattr(gfid, ec.VERSION_XATTR, ec.encode_pair(*top))
            self.report.healed.append(f"{self.bricks[j].name}: {path} ({'entry' if is_dir else 'data'})")
        if len(up) == n and len(copies) == n:  # every fragment good again
            for i in copies:
                if any(dirty[i]):
                    self.bricks[i].store.setxattr(gfid, ec.DIRTY_XATTR, ec.encode_pair(0, 0))
        _reindex(self.bricks, gfid)

    def _new_file(self, store: Store, a: Attr) -> None:
        """A file entry heal created: the disperse xattrs of an empty file (data heal fills it)."""
        if stat.S_ISREG(a.mode):
            store.setxattr(a.gfid, ec.CONFIG_XATTR, ec.Config(len(self.bricks), self.codec.redundancy).encode())
            store.setxattr(a.gfid, ec.SIZE_XATTR, ec.encode_u64(0))
            store.setxattr(a.gfid, ec.VERSION_XATTR, ec.encode_pair(0, 0))
            store.setxattr(a.gfid, ec.DIRTY_XATTR, ec.encode_pair(0, 0))

    def rebuild(self, gfid: bytes, good: list[int], stale: list[int], src_x: dict[str, bytes]) -> None:
        """Rebuild the stale bricks' fragments from ``k`` good ones, holes kept."""
        k = self.codec.k
        srcs = good[:k]
        length = max(self.bricks[i].store.getattr(gfid).size for i in srcs)
        step = (CHUNK // ec.CHUNK_SIZE) * ec.CHUNK_SIZE
        for j in stale:
            self.bricks[j].store.truncate(gfid, 0)
        for off in range(0, length, step):
            n = min(step, length - off)
            frags = {}
            for i in srcs:
                raw = self.bricks[i].store.read(gfid, off, n)
                frags[i] = raw + bytes(n - len(raw))
            if all(f == bytes(n) for f in frags.values()):
                continue  # a hole on every source: a hole on the sinks too
            pad = -n % ec.CHUNK_SIZE
            frags = {i: f + bytes(pad) for i, f in frags.items()}
            out = self.codec.encode(self.codec.decode(frags), stale)
            for j, frag in zip(stale, out, strict=True):
                self.bricks[j].store.write(gfid, off, frag[:n])
        for j in stale:
            store = self.bricks[j].store
            store.truncate(gfid, length)
            for key in (ec.SIZE_XATTR, ec.CONFIG_XATTR):
                if key in src_x:
                    store.setxattr(gfid, key, src_x[key])


def _pair(x: dict[str, bytes], key: str) -> tuple[int, int]:
    raw = x.get(key)
    if raw is None:
        return (0, 0)
    try:
        return ec.decode_pair(raw)
    except ValueError:
        return (0, 0)


# ---- the entry points -----------------------------------------------------------------
ANON_DIR_PREFIX = ".glusterfs-anonymous-inode"


def anon_inode_dirs(volume: Volume) -> int:
    """What glustershd's first crawl does on a replicate volume (``afr_cleanup_anon_inode_dir``
    -> ``afr_anon_inode_create``): the private directory ``.glusterfs-anonymous-inode-<volume
    id>`` (mode 0755, gfid: the volume id with its first bit flipped) on every running brick's
    root.  Returns how many it made."""
    if volume.model.type != model.ClusterType.REPLICATE:
        return 0
    name = f"{ANON_DIR_PREFIX}-{volume.volume_id}"
    gfid = bytearray(uuid.UUID(volume.volume_id).bytes)
    gfid[0] ^= 1
    made = 0
    for b in volume.bricks:
        if not b.running:
            continue
        try:
            b.store.lookup(ROOT_GFID, name)
        except OSError:
            try:
                b.store.mkdir(ROOT_GFID, name, 0o755, uid=0, gid=0, gfid=bytes(gfid))
                made += 1
            except OSError:
                pass
    return made


def heal(volume: Volume, now: float | None = None) -> HealReport:
    """One heal pass over every replica/disperse set of ``volume`` (its running bricks);
    ``now`` on the :func:`time.monotonic` clock."""
    now = time.monotonic() if now is None else now
    report = HealReport()
    for bricks in _set_sets(volume):
        if sum(b.running for b in bricks) < 2:
            continue
        if volume.model.type == model.ClusterType.DISPERSE:
            _walk(bricks, _Disperse(volume, bricks, report, now).visit)
        else:
            _walk(bricks, _Replica(volume, bricks, report, now).visit)
    return report


def pending(volume: Volume) -> bool:
    """Anything for the heal daemon to do (some copy marked as needing heal)?"""
    return any(info.entries for info in heal_info(volume) if info.connected)


def heal_info(volume: Volume) -> list[BrickHealInfo]:
    """Per brick, the objects its index would list: its copy carries pending marks
    (replicate: non-zero ``trusted.afr.*``; disperse: ``trusted.ec.dirty``)."""
    disperse = volume.model.type == model.ClusterType.DISPERSE
    out = []
    for bricks in _set_sets(volume):
        infos = [BrickHealInfo(b.host, b.path, b.running) for b in bricks]
        keys = [f"trusted.afr.{volume.name}-client-{b.index}" for b in bricks]
        _walk(bricks, _Lister(bricks, infos, keys, disperse).visit)
        out += infos
    return out


@dataclasses.dataclass
class _Lister:
    bricks: list[Brick]
    infos: list[BrickHealInfo]
    keys: list[str]
    disperse: bool

    def visit(self, path: str, gfid: bytes, copies: dict[int, Attr]) -> None:
        xattrs = {i: _xattrs(self.bricks[i].store, gfid) for i in copies}
        status = "heal"
        if not self.disperse and self._split_brain(xattrs, any(stat.S_ISDIR(a.mode) for a in copies.values())):
            status = "split-brain"  # afr_get_heal_info: no source for data, metadata or entries
        for i, x in xattrs.items():
            marked = any(_pair(x, ec.DIRTY_XATTR)) if self.disperse else _pending(x, self.keys)
            if marked:
                self.infos[i].entries.append((path, status))

    def _split_brain(self, xattrs: dict[int, dict[str, bytes]], is_dir: bool) -> bool:
        n = len(self.bricks)
        replies = [xattrs.get(i) for i in range(n)]
        for txn in (afr.Txn.ENTRY if is_dir else afr.Txn.DATA, afr.Txn.METADATA):
            matrix = afr.pending_matrix(replies, self.keys, txn)
            if not any(any(row) for row in matrix):
                continue
            d = afr.find_direction(matrix, afr.dirty_counts(replies, txn), [r is not None for r in replies], txn)
            if d.split_brain:
                return True
        return False


def format_heal_info(infos: Sequence[BrickHealInfo]) -> str:
    """``gluster volume heal V info`` as glfsheal prints it (``glfs-heal.c``)."""
    lines = []
    for info in infos:
        lines.append(f"Brick {info.host}:{info.path}")
        if not info.connected:
            lines += [f"Status: {_strerror(errno.ENOTCONN)}", "Number of entries: -", ""]
            continue
        status = {"heal": " ", "possibly-healing": " - Possibly undergoing heal", "split-brain": " - Is in split-brain"}
        lines += [f"{path}{status[s]}" for path, s in info.entries]
        lines += ["Status: Connected", f"Number of entries: {len(info.entries)}", ""]
    return "\n".join(lines) + "\n"


def _strerror(code: int) -> str:
    import os

    return os.strerror(code)


async def self_heal_daemon(vol: Volume, scope: trio.CancelScope) -> None:
    """glustershd for one volume: crawl when woken (``vol.heal_wanted``: volume start, a brick
    up) or every ``cluster.heal-timeout`` seconds (``cluster.self-heal-daemon``, for disperse
    ``cluster.disperse-self-heal-daemon``, off: it rests); after a wake-up, go on crawling
    every second while something is left to heal and for :data:`SHD_GRACE` seconds (clients
    that were writing without the returning brick take up to 3 s to reconnect)."""
    disperse = vol.model.type == model.ClusterType.DISPERSE
    key = "cluster.disperse-self-heal-daemon" if disperse else "cluster.self-heal-daemon"
    with scope:
        while True:
            with trio.move_on_after(_int_option(vol, "cluster.heal-timeout", 600)):
                await vol.heal_wanted.wait()
            vol.heal_wanted = trio.Event()
            grace = trio.current_time() + SHD_GRACE
            anon_inode_dirs(vol)
            while vol.model.options.get(key, "on").lower() in ("on", "yes", "true", "enable", "1"):
                try:
                    report = heal(vol)
                except Exception:  # a bug must not take the server down
                    log.exception("self-heal of %s failed", vol.name)
                    break
                if report.healed:
                    log.info("self-heal of %s: %s", vol.name, "; ".join(report.healed))
                all_up = all(b.running for b in vol.bricks)
                more = not report.done or (all_up and pending(vol))
                if not more and trio.current_time() > grace:
                    break
                await trio.sleep(1)


def _int_option(vol: Volume, key: str, default: int) -> int:
    try:
        return int(vol.model.options.get(key, default))
    except ValueError:
        return default
