"""cluster/distribute's pure parts: the name hash, directory layouts, new-directory ranges.

**The hash** (``libglusterfs/src/hashfn.c`` ``gf_dm_hashfn``): a Davies-Meyer construction over
a TEA-like round function.  The name is read as native (little-endian on every platform
GlusterFS runs on) 32-bit words, 16 bytes (4 words) per 6-round pass; the last 0-15 bytes
fill 4 more words, whole words first, then one word made of a length pad shifted left by the
remaining bytes -- bytes read as C ``char``, which is *signed* on x86, so a byte >= 0x80 sets
all the high bits of that word -- and the final pass runs 10 rounds.  The hash is
``h0 ^ h1``.

**Name munging** (``dht-hashfn.c`` ``dht_hash_compute``): before hashing, a name matching
``cluster.extra-hash-regex`` (if set), else ``cluster.rsync-hash-regex`` (default
``^\\.(.+)\\.[^.]+$``: rsync's ``.NAME.XXXXXX`` temp files), is replaced by its first group,
so the temp file lands where the renamed file belongs.  The regexes are POSIX extended; the
default reads the same in Python's ``re`` (a user-set one may not, see :class:`NameHasher`).

**Layouts** (``dht-layout.c``): each subvolume's copy of a directory carries
``trusted.glusterfs.dht``, 16 bytes, four big-endian 32-bit words: commit hash, hash type
(0 ``DHT_HASH_TYPE_DM``, 1 ``..._DM_USER``), start, stop.  A name belongs to the subvolume
whose ``start <= hash <= stop`` (``dht_layout_search``).

**New directories** (``dht-selfheal.c`` ``dht_selfheal_layout_new_directory``): subvolumes
sorted by name (``dht_layout_sort_volname``); those where the directory could be made take
part (``dht_get_layout_count``: not down, not out of space unless all are, at most
``directory-layout-spread``); the ranges start at subvolume ``hash(path) % count`` and go
round, each ``0xffffffff / n`` wide (or weighted by brick size in 1 MiB chunks when
``weighted-rebalance`` is on and every size is known), the last one ending at 0xffffffff.
"""

from __future__ import annotations

import dataclasses
import errno
import re
import stat
import struct
from collections.abc import Mapping, Sequence

__all__ = [
    "DHT_XATTR",
    "LINKTO_XATTR",
    "COMMITHASH_XATTR",
    "MDS_XATTR",
    "HASH_TYPE_DM",
    "HASH_TYPE_DM_USER",
    "LAYOUT_HASH_INVALID",
    "RSYNC_HASH_REGEX",
    "dm_hash",
    "NameHasher",
    "hash_name",
    "Range",
    "Layout",
    "du_chunks",
    "new_directory_ranges",
    "is_linkfile_mode",
    "LINKFILE_MODE",
]

DHT_XATTR = "trusted.glusterfs.dht"
LINKTO_XATTR = "trusted.glusterfs.dht.linkto"
COMMITHASH_XATTR = "trusted.glusterfs.dht.commithash"
MDS_XATTR = "trusted.glusterfs.dht.mds"
HASH_TYPE_DM = 0
HASH_TYPE_DM_USER = 1
#: ``DHT_LAYOUT_HASH_INVALID``: the commit hash of a layout that was fixed after anomalies.
LAYOUT_HASH_INVALID = 1
#: ``dht_init_regex``'s default for ``rsync-hash-regex``.
RSYNC_HASH_REGEX = r"^\.(.+)\.[^.]+$"
#: A linkto file's mode: the sticky bit alone (``DHT_LINKFILE_MODE``, ``IS_DHT_LINKFILE_MODE``).
LINKFILE_MODE = stat.S_ISVTX

_M = 0xFFFFFFFF
_DELTA = 0x9E3779B9
_WORDS4 = struct.Struct("<4I")
_WORD = struct.Struct("<I")
_DISK = struct.Struct(">4I")


def _dm_round(rounds: int, a0: int, a1: int, a2: int, a3: int, h0: int, h1: int) -> tuple[int, int]:
    """``dm_round``: ``rounds`` TEA-like rounds over the 4 words, added into (h0, h1)."""
    b0, b1, total = h0, h1, 0
    for _ in range(rounds):
        total = (total + _DELTA) & _M
        b0 = (b0 + ((((b1 << 4) + a0) & _M) ^ ((b1 + total) & _M) ^ (((b1 >> 5) + a1) & _M))) & _M
        b1 = (b1 + ((((b0 << 4) + a2) & _M) ^ ((b0 + total) & _M) ^ (((b0 >> 5) + a3) & _M))) & _M
    return (h0 + b0) & _M, (h1 + b1) & _M


def dm_hash(data: bytes) -> int:
    """``gf_dm_hashfn`` of ``data`` (the name's bytes, without a NUL)."""
    n = len(data)
    h0, h1 = 0x9464A485, 0x542E1A94
    pad = (n | (n << 8)) & _M
    pad = (pad | (pad << 16)) & _M
    pos = 0
    for _ in range(n // 16):
        a0, a1, a2, a3 = _WORDS4.unpack_from(data, pos)
        h0, h1 = _dm_round(6, a0, a1, a2, a3, h0, h1)
        pos += 16
    words = []
    left = n - pos
    for _ in range(4):
        if left >= 4:
            words.append(_WORD.unpack_from(data, pos)[0])
            pos += 4
            left -= 4
            continue
        word = pad
        while left:
            byte = data[n - left]
            if byte & 0x80:  # a signed char, sign-extended when or-ed into the word
                byte |= 0xFFFFFF00
            word = ((word << 8) & _M) | byte
            left -= 1
        words.append(word)
    h0, h1 = _dm_round(10, words[0], words[1], words[2], words[3], h0, h1)
    return h0 ^ h1


def _as_bytes(name: str | bytes) -> bytes:
    return name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")


class NameHasher:
    """``dht_hash_compute`` for one DHT instance's regex options.

    ``rsync_regex`` is the ``rsync-hash-regex`` option (None: the default; ``"none"``: no
    munging), ``extra_regex`` the ``extra-hash-regex`` option (None or ``"none"``: unset).
    Python's ``re`` stands in for POSIX ``regexec``: the same for the default regex; a
    user-set one that relies on POSIX leftmost-longest matching may munge differently.
    """

    def __init__(self, rsync_regex: str | None = None, extra_regex: str | None = None) -> None:
        self.regexes: list[re.Pattern[bytes]] = []
        for rx in (extra_regex, RSYNC_HASH_REGEX if rsync_regex is None else rsync_regex):
            if rx is None or rx == "none":
                continue
            try:
                self.regexes.append(re.compile(rx.encode("utf-8", "surrogateescape"), re.DOTALL))
            except re.error:  # dht logs "compiling regex failed" and goes on without it
                continue

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> NameHasher:
        return cls(options.get("rsync-hash-regex"), options.get("extra-hash-regex"))

    def munge(self, name: str | bytes) -> bytes:
        """The bytes that are hashed for ``name`` (``dht_munge_name``)."""
        raw = _as_bytes(name)
        for rx in self.regexes:
            m = rx.search(raw)
            if m is not None and rx.groups and m.start(1) != -1:
                return m.group(1)
        return raw

    def hash(self, name: str | bytes) -> int:
        return dm_hash(self.munge(name))


_DEFAULT = NameHasher()


def hash_name(name: str | bytes) -> int:
    """The DHT hash of ``name`` with the default options."""
    return _DEFAULT.hash(name)


@dataclasses.dataclass(frozen=True)
class Range:
    """One subvolume's piece of a directory layout (one ``trusted.glusterfs.dht`` value)."""

    start: int
    stop: int
    commit_hash: int = 0
    hash_type: int = HASH_TYPE_DM

    def encode(self) -> bytes:
        """The 16-byte xattr value (``dht_disk_layout_extract``)."""
        return _DISK.pack(self.commit_hash & _M, self.hash_type & _M, self.start & _M, self.stop & _M)

    @classmethod
    def decode(cls, raw: bytes) -> Range:
        """Parse an xattr value (``dht_disk_layout_merge``); ValueError for a bad length or type."""
        if len(raw) != _DISK.size:
            raise ValueError(f"a DHT layout is {_DISK.size} bytes, got {len(raw)}")
        commit, htype, start, stop = _DISK.unpack(raw)
        if htype not in (HASH_TYPE_DM, HASH_TYPE_DM_USER):
            raise ValueError(f"unknown DHT layout hash type {htype}")
        return cls(start, stop, commit, htype)

    def __contains__(self, h: object) -> bool:
        return isinstance(h, int) and self.start <= h <= self.stop

    @property
    def empty(self) -> bool:
        """A zero range (``start == stop == 0``: a subvolume that takes no names)."""
        return self.start == 0 and self.stop == 0


@dataclasses.dataclass(frozen=True)
class Layout:
    """A directory's layout: subvolume name -> its :class:`Range` (None: no layout there)."""

    ranges: tuple[tuple[str, Range | None], ...]

    @classmethod
    def from_xattrs(cls, values: Mapping[str, bytes | None]) -> Layout:
        """From each subvolume's ``trusted.glusterfs.dht`` value (None/absent: no layout);
        a value that does not parse counts as no layout."""
        out: list[tuple[str, Range | None]] = []
        for name, raw in values.items():
            rng: Range | None = None
            if raw is not None:
                try:
                    rng = Range.decode(raw)
                except ValueError:
                    rng = None
            out.append((name, rng))
        return cls(tuple(out))

    def search(self, h: int) -> str | None:
        """The subvolume whose range holds hash ``h`` (``dht_layout_search``), or None (a hole)."""
        for name, rng in self.ranges:
            if rng is not None and not rng.empty and h in rng:
                return name
        return None

    def subvolume_for(self, name: str | bytes, hasher: NameHasher = _DEFAULT) -> str | None:
        return self.search(hasher.hash(name))

    def anomalies(self) -> tuple[int, int, int]:
        """(holes, overlaps, missing) over the ranges, like ``dht_layout_anomalies``: a
        complete layout covers 0..0xffffffff exactly once."""
        spans = sorted((r.start, r.stop) for _, r in self.ranges if r is not None and not r.empty)
        missing = sum(1 for _, r in self.ranges if r is None)
        holes = overlaps = 0
        last = -1
        for start, stop in spans:
            if start > last + 1:
                holes += 1
            elif start <= last:
                overlaps += 1
            last = max(last, stop)
        if last != _M:
            holes += 1
        return holes, overlaps, missing

    @property
    def complete(self) -> bool:
        holes, overlaps, _ = self.anomalies()
        return not holes and not overlaps


def du_chunks(f_blocks: int, f_bsize: int) -> int:
    """A subvolume's size in 1 MiB chunks from its STATFS (``dht_du_info_cbk``), the weight
    of its range in a new layout; 0 when unknown."""
    if not f_blocks or f_bsize <= 0:
        return 0
    bpc = (1 << 20) // f_bsize
    if bpc <= 0:
        return 0
    return ((f_blocks + bpc - 1) // bpc) & _M


def new_directory_ranges(
    subvolumes: Sequence[str],
    path: str | bytes,
    *,
    errors: Mapping[str, int] | None = None,
    chunks: Mapping[str, int] | None = None,
    spread: int | None = None,
    commit_hash: int = 0,
    weighted: bool = True,
    hasher: NameHasher = _DEFAULT,
    start_key: str | bytes | None = None,
) -> dict[str, Range]:
    """The layout DHT gives a new directory (``dht_selfheal_layout_new_directory``).

    ``subvolumes``: DHT's children (any order; sorted by name here). ``path``: the new
    directory's absolute path (``loc->path``, e.g. ``"/a/b"``), whose hash picks the first
    subvolume; ``start_key`` replaces it (the gfid text with ``randomize-hash-range-by-gfid``).
    ``errors``: the mkdir errno per subvolume (0 or absent: made; ENOENT counts as made; ENOSPC
    only when no subvolume could take it; anything else -- ENOTCONN for a down brick -- gets
    the zero range).  ``chunks``: :func:`du_chunks` per subvolume (weights; missing or 0 turns
    weighting off).  ``spread``: ``directory-layout-spread``.  Returns a :class:`Range` for
    every subvolume (zero ranges for those without a piece).
    """
    names = sorted(subvolumes, key=_as_bytes)
    errs = {n: (errors or {}).get(n, 0) for n in names}
    usable = [n for n in names if errs[n] in (0, -1, errno.ENOENT)]
    if not usable:
        usable = [n for n in names if errs[n] == errno.ENOSPC]
    take = set(usable)
    count = len(usable)
    to_use = spread if spread and spread <= count else (count or 1)

    weight = weighted and chunks is not None
    total = 0
    used = 0
    if weight:
        assert chunks is not None
        for n in names:
            if n not in take:
                continue
            size = chunks.get(n, 0)
            if not size:
                weight = False
                break
            total += size
            used += 1
            if used >= to_use:
                break
    if weight and total:
        chunk = float(_M) / float(total)
    else:
        weight = False
        chunk = float(_M) / float(to_use)

    key = path if start_key is None else start_key
    first = hasher.hash(key) % len(names) if names else 0
    out = {n: Range(0, 0, commit_hash) for n in names}
    start = 0
    used = 0
    for k in range(len(names)):
        n = names[(k + first) % len(names)]
        if n not in take:
            continue
        size = (chunks or {}).get(n, 0) if weight else 1
        if not size:
            continue
        width = int(chunk * size) & _M
        stop = (start + width - 1) & _M
        used += 1
        if used >= to_use:
            out[n] = Range(start, _M, commit_hash)
            break
        out[n] = Range(start, stop, commit_hash)
        start = (start + width) & _M
    return out


def is_linkfile_mode(mode: int) -> bool:
    """``IS_DHT_LINKFILE_MODE``: the permission bits are exactly the sticky bit."""
    return (mode & ~stat.S_IFMT(mode)) == LINKFILE_MODE
