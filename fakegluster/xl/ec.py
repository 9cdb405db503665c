"""cluster/disperse's pure parts: the Reed-Solomon codec and the ``trusted.ec.*`` xattrs.

**The code** (``ec-method.c``, ``ec-galois.c``, ``ec-code-c.c``): a volume of ``n`` bricks with
redundancy ``r`` stores each file as ``n`` fragments, any ``k = n - r`` of which give the data
back.  Data is cut into *stripes* of ``k`` chunks of 512 bytes (``EC_METHOD_CHUNK_SIZE``);
brick ``i`` (0-based) stores, for every stripe, one 512-byte chunk

    f_i = sum over j of (i + 1) ** (k - 1 - j) * d_j

in GF(2^8) with the polynomial 0x11D (``EC_GF_MOD``) -- row ``i`` of a Vandermonde-like
matrix (``ec_method_matrix_normal``: value ``i + 1``, powers falling from ``k - 1``).  The code
is not systematic: no fragment is the plain data.  The fragment file on a brick is the
concatenation of its chunks, ``size / k`` bytes for stripe-aligned ``size``.

The arithmetic is *bit-sliced* (``EC_METHOD_WORD_SIZE`` 64): a 512-byte chunk holds 512
field elements as 8 planes of 64 bytes; element ``e`` has bit ``b`` at bit ``e`` of plane
``b`` (bytes ``64*b .. 64*b + 63``, little-endian bit order).  Multiplying by a constant is
then a fixed GF(2)-linear map between planes.  This module does those maps on Python
integers holding a whole column (every stripe's chunk ``j`` back to back): per shift
distance between planes, one AND with a repeated mask, one shift and one XOR, all in C.

**Xattrs** (``ec.h``, ``ec-helpers.c``): ``trusted.ec.config`` (8 bytes, big-endian: config
version 0, algorithm 0, GF word size 8, bricks, redundancy, then 24 bits of chunk size 512),
``trusted.ec.size`` (the file's real size, big-endian u64), ``trusted.ec.version`` and
``trusted.ec.dirty`` (two big-endian u64: data, metadata).
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Mapping, Sequence

__all__ = [
    "CHUNK_SIZE",
    "GF_MOD",
    "CONFIG_XATTR",
    "SIZE_XATTR",
    "VERSION_XATTR",
    "DIRTY_XATTR",
    "HEAL_XATTR",
    "gf_mul",
    "gf_div",
    "gf_pow",
    "gf_inverse_matrix",
    "Codec",
    "Config",
    "encode_u64",
    "decode_u64",
    "encode_pair",
    "decode_pair",
]

CHUNK_SIZE = 512
WORD_SIZE = 64
GF_BITS = 8
GF_MOD = 0x11D
MAX_FRAGMENTS = 16  # EC_METHOD_MAX_FRAGMENTS: k may not exceed it
CONFIG_XATTR = "trusted.ec.config"
SIZE_XATTR = "trusted.ec.size"
VERSION_XATTR = "trusted.ec.version"
DIRTY_XATTR = "trusted.ec.dirty"
HEAL_XATTR = "trusted.ec.heal"

_U64 = struct.Struct(">Q")
_PAIR = struct.Struct(">QQ")
_PLANE_BITS = WORD_SIZE * 8  # 512 bits per plane
_CHUNK_BITS = CHUNK_SIZE * 8


def _build_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 512
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= GF_MOD
    for i in range(255, 512):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _build_tables()


def gf_mul(a: int, b: int) -> int:
    """a * b in GF(2^8) mod 0x11D."""
    if not a or not b:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def gf_div(a: int, b: int) -> int:
    if not b:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if not a:
        return 0
    return _EXP[_LOG[a] - _LOG[b] + 255]


def gf_pow(a: int, n: int) -> int:
    if n == 0:
        return 1
    if not a:
        return 0
    return _EXP[(_LOG[a] * n) % 255]


def gf_inverse_matrix(matrix: Sequence[Sequence[int]]) -> list[list[int]]:
    """The inverse of a square matrix over GF(2^8) (Gauss-Jordan); ValueError if singular."""
    n = len(matrix)
    a = [list(row) + [1 if i == j else 0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if a[r][col]), None)
        if pivot is None:
            raise ValueError("singular matrix")
        a[col], a[pivot] = a[pivot], a[col]
        inv = gf_div(1, a[col][col])
        a[col] = [gf_mul(v, inv) for v in a[col]]
        for r in range(n):
            if r != col and a[r][col]:
                f = a[r][col]
                a[r] = [v ^ gf_mul(f, p) for v, p in zip(a[r], a[col])]
    return [row[n:] for row in a]


def _shifts(m: int) -> list[tuple[int, list[int]]]:
    """Multiplying by ``m`` as plane moves: [(shift d, source planes a)] meaning plane ``a``
    is XOR-ed into plane ``a + d`` (bit ``a + d`` of ``m * x**a`` is set)."""
    by_shift: dict[int, list[int]] = {}
    for a in range(GF_BITS):
        image = gf_mul(m, 1 << a)
        for b in range(GF_BITS):
            if image >> b & 1:
                by_shift.setdefault(b - a, []).append(a)
    return sorted(by_shift.items())


#: _shifts(m) for every m, made by the first Codec (~3 ms: not at import, which every server start pays)
_SHIFTS: list[list[tuple[int, list[int]]]] = []


class _Masks:
    """Repeated plane masks as integers, grown on demand (one per set of planes)."""

    def __init__(self) -> None:
        self._chunks = 0
        self._cache: dict[tuple[int, ...], int] = {}

    def get(self, planes: tuple[int, ...], nbytes: int) -> int:
        chunks = -(-nbytes // CHUNK_SIZE)
        if chunks > self._chunks:
            self._chunks = max(chunks, 2 * self._chunks, 8)
            self._cache.clear()
        mask = self._cache.get(planes)
        if mask is None:
            one = bytearray(CHUNK_SIZE)
            for p in planes:
                one[p * WORD_SIZE : (p + 1) * WORD_SIZE] = b"\xff" * WORD_SIZE
            mask = int.from_bytes(bytes(one) * self._chunks, "little")
            self._cache[planes] = mask
        return mask


_MASKS = _Masks()


def _mul(x: int, m: int, nbytes: int) -> int:
    """Column ``x`` (``nbytes`` long, bit-sliced chunks) times the constant ``m``."""
    if m == 1 or not x:
        return x if m else 0
    if m == 0:
        return 0
    out = 0
    for d, planes in _SHIFTS[m]:
        part = x & _MASKS.get(tuple(planes), nbytes)
        if d > 0:
            out ^= part << (d * _PLANE_BITS)
        elif d < 0:
            out ^= part >> (-d * _PLANE_BITS)
        else:
            out ^= part
    return out


@dataclasses.dataclass(frozen=True)
class Config:
    """``trusted.ec.config`` (``ec_config_t``)."""

    bricks: int
    redundancy: int
    chunk_size: int = CHUNK_SIZE
    gf_word_size: int = GF_BITS
    algorithm: int = 0
    version: int = 0

    def encode(self) -> bytes:
        v = (
            (self.version << 56)
            | (self.algorithm << 48)
            | (self.gf_word_size << 40)
            | (self.bricks << 32)
            | (self.redundancy << 24)
            | (self.chunk_size & 0xFFFFFF)
        )
        return _U64.pack(v)

    @classmethod
    def decode(cls, raw: bytes) -> Config:
        if len(raw) != 8:
            raise ValueError(f"trusted.ec.config is 8 bytes, got {len(raw)}")
        v = _U64.unpack(raw)[0]
        return cls(
            bricks=(v >> 32) & 0xFF,
            redundancy=(v >> 24) & 0xFF,
            chunk_size=v & 0xFFFFFF,
            gf_word_size=(v >> 40) & 0xFF,
            algorithm=(v >> 48) & 0xFF,
            version=(v >> 56) & 0xFF,
        )

    def valid_for(self, bricks: int, redundancy: int) -> bool:
        """What ``ec_config_check`` accepts for a volume of that shape."""
        return (
            self.version == 0
            and self.algorithm == 0
            and self.gf_word_size == GF_BITS
            and self.bricks == bricks
            and self.redundancy == redundancy
            and self.chunk_size == CHUNK_SIZE
        )


def encode_u64(v: int) -> bytes:
    return _U64.pack(v & 0xFFFFFFFFFFFFFFFF)


def decode_u64(raw: bytes) -> int:
    if len(raw) != 8:
        raise ValueError(f"expected 8 bytes, got {len(raw)}")
    return int(_U64.unpack(raw)[0])


def encode_pair(data: int, metadata: int) -> bytes:
    """A ``trusted.ec.version`` / ``trusted.ec.dirty`` value (or an ADD_ARRAY64 operand)."""
    return _PAIR.pack(data & 0xFFFFFFFFFFFFFFFF, metadata & 0xFFFFFFFFFFFFFFFF)


def decode_pair(raw: bytes) -> tuple[int, int]:
    """(data, metadata) from a version/dirty value; an 8-byte value is data only (old bricks)."""
    if len(raw) == 8:
        return _U64.unpack(raw)[0], 0
    if len(raw) != 16:
        raise ValueError(f"expected 16 bytes, got {len(raw)}")
    return _PAIR.unpack(raw)


class Codec:
    """The disperse code of a volume with ``bricks`` bricks and ``redundancy`` of them spare.

    :meth:`encode` takes stripe-aligned data and gives every brick's fragment;
    :meth:`decode` takes any ``k`` fragments (brick index -> bytes) and gives the data.
    """

    def __init__(self, bricks: int, redundancy: int) -> None:
        k = bricks - redundancy
        if not (1 <= redundancy and 1 <= k <= MAX_FRAGMENTS and bricks < 256 and 2 * redundancy < bricks):
            raise ValueError(f"no disperse code for {bricks} bricks with redundancy {redundancy}")
        self.bricks = bricks
        self.redundancy = redundancy
        self.k = k
        self.stripe = k * CHUNK_SIZE
        self._inverses: dict[tuple[int, ...], list[list[int]]] = {}
        if not _SHIFTS:
            _SHIFTS[:] = [_shifts(m) for m in range(256)]  # one atomic store: threads may race here

    def row(self, index: int) -> list[int]:
        """The coefficients of brick ``index``'s fragment: (i+1)**(k-1-j) for j in 0..k-1."""
        v = index + 1
        return [gf_pow(v, self.k - 1 - j) for j in range(self.k)]

    def fragment_size(self, size: int) -> int:
        """Bytes on each brick for ``size`` bytes of file (whole stripes)."""
        return -(-size // self.stripe) * CHUNK_SIZE

    def _columns(self, data: bytes | bytearray | memoryview) -> tuple[list[int], int]:
        view = memoryview(data).cast("B")
        if len(view) % self.stripe:
            raise ValueError(f"disperse data must be whole stripes of {self.stripe} bytes, got {len(view)}")
        stripes = len(view) // self.stripe
        cols = []
        for j in range(self.k):
            if self.k == 1:
                raw = bytes(view)
            else:
                raw = b"".join(
                    view[s * self.stripe + j * CHUNK_SIZE : s * self.stripe + (j + 1) * CHUNK_SIZE]
                    for s in range(stripes)
                )
            cols.append(int.from_bytes(raw, "little"))
        return cols, stripes * CHUNK_SIZE

    def encode(self, data: bytes | bytearray | memoryview, bricks: Sequence[int] | None = None) -> list[bytes]:
        """The fragments of stripe-aligned ``data`` for ``bricks`` (default: all, in order)."""
        cols, nbytes = self._columns(data)
        out = []
        for i in range(self.bricks) if bricks is None else bricks:
            v = i + 1
            acc = cols[0]
            for col in cols[1:]:  # Horner: ((d0*v + d1)*v + d2)... = sum d_j v^(k-1-j)
                acc = _mul(acc, v, nbytes) ^ col
            out.append(acc.to_bytes(nbytes, "little"))
        return out

    def decode(self, fragments: Mapping[int, bytes | bytearray | memoryview]) -> bytes:
        """The data from ``k`` (or more: the lowest ``k`` indexes are used) fragments of equal
        length, keyed by brick index."""
        if len(fragments) < self.k:
            raise ValueError(f"disperse needs {self.k} fragments, got {len(fragments)}")
        rows = tuple(sorted(fragments)[: self.k])
        sizes = {len(fragments[i]) for i in rows}
        if len(sizes) != 1:
            raise ValueError(f"fragments of different sizes: {sorted(sizes)}")
        nbytes = sizes.pop()
        if nbytes % CHUNK_SIZE:
            raise ValueError(f"a fragment is whole chunks of {CHUNK_SIZE} bytes, got {nbytes}")
        inv = self._inverses.get(rows)
        if inv is None:
            inv = gf_inverse_matrix([self.row(i) for i in rows])
            self._inverses[rows] = inv
        frags = [int.from_bytes(fragments[i], "little") for i in rows]
        cols = []
        for j in range(self.k):
            acc = 0
            for coef, frag in zip(inv[j], frags):
                acc ^= _mul(frag, coef, nbytes)
            cols.append(acc.to_bytes(nbytes, "little"))
        if self.k == 1:
            return cols[0]
        return b"".join(col[c : c + CHUNK_SIZE] for c in range(0, nbytes, CHUNK_SIZE) for col in cols)
