"""cluster/replicate's pure parts: the changelog xattrs, readable bricks, the heal direction.

**Changelog** (``afr-common.c``, ``afr-transaction.c``): every brick's copy of an inode can
carry ``trusted.afr.<KEY>`` per child of the replica set (KEY from the volfile's
``afr-pending-xattr`` option, else the child's xlator name) and ``trusted.afr.dirty``; each
value is three big-endian signed 32-bit counters, data / metadata / entry
(``afr_index_for_transaction_type``).  Brick ``i``'s ``trusted.afr.KEY_j`` counts operations
that brick ``i`` saw and brick ``j`` may have missed: ``j`` is *accused*.  A transaction
adds 1 to ``dirty`` on every brick before the operation (pre-op) and subtracts it after
(post-op), adding 1 to ``KEY_j`` on the bricks that succeeded for each ``j`` that failed or
was down.  Values go through XATTROP with ``GF_XATTROP_ADD_ARRAY`` (the brick adds them).

**Readable bricks** (``afr_readables_fill``): a brick is not readable for data (entries, for
a directory) or metadata when some brick accuses it; the arbiter is never readable; a
failed lookup makes a brick unreadable; files smaller than the largest good copy are
accused too (``afr_accuse_smallfiles``, not for the arbiter).

**Heal direction** (``afr-self-heal-common.c`` ``afr_selfheal_find_direction``): sources are
the locked bricks nobody accuses (a self-accusing brick's accusations do not count); sinks
are those the non-self-accusing sources accuse; with no source at all, for data and
metadata a brick accused by fewer than quorum bricks becomes a source, else every locked
brick is a sink (split brain).  ``witness`` counts dirty and self-accusing marks, for ties.
"""

from __future__ import annotations

import dataclasses
import enum
import stat as _stat
import struct
from collections.abc import Mapping, Sequence

__all__ = [
    "AFR_PREFIX",
    "DIRTY_XATTR",
    "Txn",
    "Changelog",
    "pending_keys",
    "pending_key_names",
    "pending_matrix",
    "dirty_counts",
    "accused",
    "readable",
    "Direction",
    "find_direction",
    "quorum_count",
    "has_quorum",
    "super_fast_hash",
    "read_child",
]

AFR_PREFIX = "trusted.afr."
DIRTY_XATTR = "trusted.afr.dirty"
_CHANGELOG = struct.Struct(">iii")


class Txn(enum.IntEnum):
    """AFR transaction types, as the index of their counter in a changelog value."""

    DATA = 0
    METADATA = 1
    ENTRY = 2


@dataclasses.dataclass(frozen=True)
class Changelog:
    """One ``trusted.afr.*`` value: (data, metadata, entry) counters."""

    data: int = 0
    metadata: int = 0
    entry: int = 0

    def encode(self) -> bytes:
        return _CHANGELOG.pack(self.data, self.metadata, self.entry)

    @classmethod
    def decode(cls, raw: bytes) -> Changelog:
        """From 12 bytes (older AFR wrote 8: data and metadata only)."""
        if len(raw) == 8:
            d, m = struct.unpack(">ii", raw)
            return cls(d, m, 0)
        if len(raw) != _CHANGELOG.size:
            raise ValueError(f"an AFR changelog is 12 bytes, got {len(raw)}")
        return cls(*_CHANGELOG.unpack(raw))

    @classmethod
    def one(cls, txn: Txn, count: int = 1) -> Changelog:
        """``count`` in the counter of ``txn`` (e.g. the +1 / -1 of a pre-/post-op)."""
        vals = [0, 0, 0]
        vals[txn] = count
        return cls(*vals)

    def __getitem__(self, txn: Txn) -> int:
        return (self.data, self.metadata, self.entry)[txn]

    def __bool__(self) -> bool:
        return bool(self.data or self.metadata or self.entry)


def pending_key_names(children: Sequence[str], options: Mapping[str, str] | None = None) -> list[str]:
    """The per-child KEYs: ``afr-pending-xattr`` (comma separated) or the child names."""
    opt = (options or {}).get("afr-pending-xattr")
    if opt:
        names = [n.strip() for n in opt.split(",")]
        if len(names) == len(children):
            return names
    return list(children)


def pending_keys(children: Sequence[str], options: Mapping[str, str] | None = None) -> list[str]:
    """The per-child xattr names ``trusted.afr.KEY``."""
    return [AFR_PREFIX + k for k in pending_key_names(children, options)]


def _value(xattrs: Mapping[str, bytes] | None, key: str, txn: Txn) -> int:
    if not xattrs:
        return 0
    raw = xattrs.get(key)
    if raw is None:
        return 0
    try:
        return Changelog.decode(bytes(raw))[txn]
    except ValueError:
        return 0


def pending_matrix(replies: Sequence[Mapping[str, bytes] | None], keys: Sequence[str], txn: Txn) -> list[list[int]]:
    """``matrix[i][j]``: brick ``i``'s count against brick ``j`` (None: no reply from ``i``)."""
    return [[_value(x, k, txn) for k in keys] for x in replies]


def dirty_counts(replies: Sequence[Mapping[str, bytes] | None], txn: Txn) -> list[int]:
    return [_value(x, DIRTY_XATTR, txn) for x in replies]


def accused(replies: Sequence[Mapping[str, bytes] | None], keys: Sequence[str], txn: Txn) -> list[bool]:
    """``afr_accused_fill`` over every reply: is brick ``j`` accused by anyone?"""
    out = [False] * len(keys)
    for x in replies:
        for j, k in enumerate(keys):
            if _value(x, k, txn):
                out[j] = True
    return out


def readable(
    replies: Sequence[Mapping[str, bytes] | None],
    keys: Sequence[str],
    *,
    modes: Sequence[int | None] | None = None,
    sizes: Sequence[int | None] | None = None,
    arbiter: int | None = None,
) -> tuple[list[bool], list[bool]]:
    """(data readable, metadata readable) per brick from lookup replies (``afr_readables_fill``).

    ``replies[i]`` is brick ``i``'s xattrs (None: its lookup failed); ``modes``/``sizes`` its
    ``st_mode``/size (a directory's "data" is its entries; sizes accuse small files);
    ``arbiter``: the arbiter brick's index (never readable).
    """
    n = len(keys)
    is_dir = any(m is not None and _stat.S_ISDIR(m) for m in (modes or ()))
    data_acc = [False] * n
    meta_acc = [False] * n
    data_ok = [True] * n
    meta_ok = [True] * n
    if arbiter is not None:
        data_ok[arbiter] = meta_ok[arbiter] = False
    for i, x in enumerate(replies):
        if x is None:
            data_ok[i] = meta_ok[i] = False
            continue
        for j, k in enumerate(keys):
            if _value(x, k, Txn.ENTRY if is_dir else Txn.DATA):
                data_acc[j] = True
            if _value(x, k, Txn.METADATA):
                meta_acc[j] = True
    if sizes is not None and not is_dir:
        good = [s for i, s in enumerate(sizes) if s is not None and replies[i] is not None and not data_acc[i]]
        biggest = max(good, default=0)
        for i, s in enumerate(sizes):
            if data_acc[i] or i == arbiter or s is None or replies[i] is None:
                continue
            if s < biggest:
                data_acc[i] = True
    for i in range(n):
        if data_acc[i]:
            data_ok[i] = False
        if meta_acc[i]:
            meta_ok[i] = False
    return data_ok, meta_ok


def quorum_count(children: int, quorum: int | str | None = "auto") -> int:
    """``afr_get_quorum_count``: ``auto`` is a majority (more than half)."""
    if quorum in (None, "auto", 0):
        return children // 2 + 1
    return int(quorum)


@dataclasses.dataclass(frozen=True)
class Direction:
    """What ``afr_selfheal_find_direction`` decides: ``sources``/``sinks`` per brick, the
    ``witness`` counts (tie breakers), and whether it is a split brain (no source)."""

    sources: tuple[bool, ...]
    sinks: tuple[bool, ...]
    witness: tuple[int, ...]

    @property
    def split_brain(self) -> bool:
        return not any(self.sources)

    @property
    def needs_heal(self) -> bool:
        return any(self.sinks) or not all(self.sources)


def find_direction(
    matrix: Sequence[Sequence[int]],
    dirty: Sequence[int],
    locked_on: Sequence[bool],
    txn: Txn,
    *,
    quorum: int | None = None,
) -> Direction:
    """Sources and sinks for healing ``txn`` (see the module docstring); ``quorum`` is the
    quorum count for the post-op-failure rule (default: majority of the children)."""
    n = len(matrix)
    self_accused = [bool(matrix[i][i]) for i in range(n)]
    accused_by = [0] * n
    pending = [0] * n
    for i in range(n):
        for j in range(n):
            if matrix[i][j]:
                if not self_accused[i]:
                    accused_by[j] += 1
                if i != j:
                    pending[i] += 1
    sources = [not accused_by[i] and bool(locked_on[i]) for i in range(n)]
    sinks = [False] * n
    for i in range(n):
        if sources[i] and not self_accused[i]:
            for j in range(n):
                if matrix[i][j]:
                    sinks[j] = True
    witness = [0] * n
    for i in range(n):
        if self_accused[i]:
            witness[i] += sum(matrix[i][j] for j in range(n) if j != i)
    if txn in (Txn.DATA, Txn.METADATA) and not any(sources):
        need = quorum if quorum is not None else n // 2 + 1
        for i in range(n):
            if accused_by[i] < need and locked_on[i]:
                sources[i] = True
    if not any(sources):
        for i in range(n):
            if locked_on[i]:
                sinks[i] = True
    if not any(pending):
        for i in range(n):
            if self_accused[i]:
                witness[i] += matrix[i][i]
    else:
        for i in range(n):
            if self_accused[i] and pending[i]:
                witness[i] += matrix[i][i]
    for i in range(n):
        witness[i] += dirty[i]
    return Direction(tuple(sources), tuple(sinks), tuple(witness))


def has_quorum(up: Sequence[bool], quorum: int | None) -> bool:
    """``afr_has_quorum``: ``quorum`` None/0 is no quorum, -1 is ``auto`` (a majority; with
    exactly half up, only if the first child is among them), else a count."""
    n = len(up)
    count = sum(1 for u in up if u)
    if not quorum:
        return True
    if quorum == -1:
        if count * 2 == n:
            return bool(up[0])
        return count >= n // 2 + 1
    return count >= quorum


def _signed(b: int) -> int:
    return b - 256 if b & 0x80 else b


def super_fast_hash(data: bytes) -> int:
    """``SuperFastHash`` of ``libglusterfs/src/hashfn.c`` (Paul Hsieh's), which AFR's
    ``read-hash-mode 1`` applies to a gfid to spread reads; bytes are signed ``char``."""
    m = 0xFFFFFFFF
    n = len(data)
    if n <= 1:
        return 1
    h = n
    rem = n & 3
    pos = 0
    for _ in range(n >> 2):
        h = (h + (data[pos] | data[pos + 1] << 8)) & m
        tmp = (((data[pos + 2] | data[pos + 3] << 8) << 11) ^ h) & m
        h = ((h << 16) ^ tmp) & m
        pos += 4
        h = (h + (h >> 11)) & m
    if rem == 3:
        h = (h + (data[pos] | data[pos + 1] << 8)) & m
        h ^= (h << 16) & m
        h ^= (_signed(data[pos + 2]) << 18) & m
        h = (h + (h >> 11)) & m
    elif rem == 2:
        h = (h + (data[pos] | data[pos + 1] << 8)) & m
        h ^= (h << 11) & m
        h = (h + (h >> 17)) & m
    elif rem == 1:
        h = (h + _signed(data[pos])) & m
        h ^= (h << 10) & m
        h = (h + (h >> 1)) & m
    h ^= (h << 3) & m
    h = (h + (h >> 5)) & m
    h ^= (h << 4) & m
    h = (h + (h >> 17)) & m
    h ^= (h << 25) & m
    h = (h + (h >> 6)) & m
    return h


def read_child(gfid: bytes, readable: Sequence[bool], hash_mode: int = 1, pid: int = 0, is_dir: bool = False) -> int:
    """The child to read from (``afr_read_subvol_select_by_policy`` without a preferred
    child): mode 1 hashes the gfid, 2 the gfid with the pid (files), else the first readable;
    -1 when nothing is readable (split brain, or all down)."""
    n = len(readable)
    child = -1
    if hash_mode == 1:
        child = super_fast_hash(gfid) % n
    elif hash_mode == 2:
        g = gfid
        if not is_dir:
            first = (int.from_bytes(gfid[:4], "little") ^ (pid & 0xFFFFFFFF)).to_bytes(4, "little")
            g = first + gfid[4:]
        child = super_fast_hash(g) % n
    if 0 <= child < n and readable[child]:
        return child
    for i, ok in enumerate(readable):
        if ok:
            return i
    return -1
