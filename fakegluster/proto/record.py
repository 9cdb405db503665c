"""ONC RPC record marking (RFC 5531 §11).

Each fragment is preceded by a big-endian u32: bit 31 = last fragment, bits 0..30 = length.
GlusterFS always sends one fragment per record; it accepts several (it concatenates them)
and refuses a record once it would reach 1 GiB (``rpc/rpc-transport/socket/src/socket.c``).
:class:`RecordReader` does the same: multi-fragment input is accepted, the cap is checked
against each fragment header *before* the fragment is buffered, and :func:`frame` always
emits a single fragment.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from itertools import accumulate

from .errors import ProtocolError

__all__ = ["RecordReader", "Pieces", "frame", "frame_header", "DEFAULT_MAX_RECORD", "LAST_FRAGMENT", "PIECES_RECORD"]

DEFAULT_MAX_RECORD = 1 << 30  # GF_UNIT_GB, like glusterfsd
#: Records at least this big are handed out as a memoryview of the receive buffer (which is
#: then replaced), not copied: a qemu-io "write 0 256M" is one 256 MiB WRITE record.
ZERO_COPY_RECORD = 64 * 1024
#: Records at least this big (one fragment) are gathered as :class:`Pieces`, the buffers they
#: arrived in, never joined: a 64 MiB WRITE costs one copy out of the receive buffer per piece
#: instead of a 64 MiB buffer grown (and copied at each reallocation) as it arrives.
PIECES_RECORD = 4 << 20
#: receives smaller than this are appended to the last piece rather than kept as pieces of
#: their own: a peer dribbling a 1 GiB record a byte at a time costs 1 GiB, not an object a byte
PIECE_MIN = 64 * 1024
LAST_FRAGMENT = 0x80000000
_MAX_FRAGMENT = 0x7FFFFFFF
_u32 = struct.Struct(">I")


def frame_header(length: int) -> bytes:
    """The record mark for a single-fragment record of ``length`` bytes."""
    if not 0 <= length <= _MAX_FRAGMENT:
        raise ValueError(f"record of {length} bytes does not fit one fragment")
    return _u32.pack(LAST_FRAGMENT | length)


def frame(record: bytes) -> bytes:
    """``record`` as one last fragment."""
    return frame_header(len(record)) + record


class Pieces:
    """Bytes kept as the buffers they arrived in (a big record, or the payload riding in it).

    ``len()`` is the byte count; ``parts`` the buffers (bytes or memoryviews), in order, none
    empty; ``head(n)`` the first ``n`` bytes as one bytes object (a call's XDR header and
    arguments); ``after(i)`` and slicing give Pieces of views of the same buffers (no copy);
    ``bytes(p)`` joins them (one copy).
    """

    __slots__ = ("parts", "nbytes", "_ends")

    def __init__(self, parts: list[bytes | memoryview]) -> None:
        self.parts = [p for p in parts if len(p)]
        #: where each part ends (cumulative lengths): a slice finds its first part by bisection,
        #: so cutting a 1 GiB WRITE into 1 MiB steps is linear, not quadratic
        self._ends = list(accumulate(len(p) for p in self.parts))
        self.nbytes = self._ends[-1] if self._ends else 0

    def __len__(self) -> int:
        return self.nbytes

    def __bytes__(self) -> bytes:
        return b"".join(self.parts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Pieces, bytes, bytearray, memoryview)):
            return bytes(self) == bytes(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Pieces({len(self.parts)} parts, {self.nbytes} bytes)"

    def head(self, n: int) -> bytes:
        """The first ``min(n, len(self))`` bytes, contiguous."""
        out: list[bytes | memoryview] = []
        for p in self.parts:
            if n <= 0:
                break
            out.append(p[:n])
            n -= len(p)
        return b"".join(out)

    def after(self, start: int) -> Pieces:
        """The bytes from ``start`` on (views, no copy)."""
        return self[start:]

    def __getitem__(self, key: slice) -> Pieces:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("Pieces take a slice with step 1")
        start, stop, _ = key.indices(self.nbytes)
        out: list[bytes | memoryview] = []
        if start >= stop:
            return Pieces(out)
        parts, ends = self.parts, self._ends
        i = bisect_right(ends, start)  # the first part ending after ``start``
        at = ends[i - 1] if i else 0
        while at < stop:
            p = parts[i]
            end = ends[i]
            lo, hi = start - at if start > at else 0, (stop if stop < end else end) - at
            out.append(p if lo == 0 and hi == len(p) else memoryview(p)[lo:hi])
            at = end
            i += 1
        return Pieces(out)


class RecordReader:
    """Incremental record splitter: :meth:`feed` bytes, take records from :meth:`next_record`.

    Args:
        max_record: the largest record accepted; a fragment header that would take the
            record past it raises ``ProtocolError(reply="CLOSE")`` at once.
        pieces_from: single-fragment records of at least this many bytes come out of
            :meth:`next_record` as :class:`Pieces` (``None``: never; a server's connection
            uses :data:`PIECES_RECORD`).
    """

    def __init__(self, max_record: int = DEFAULT_MAX_RECORD, pieces_from: int | None = None) -> None:
        self.max_record = max_record
        self.pieces_from = pieces_from
        #: the record being gathered in pieces (its fragment header read), and its bytes so far
        self._gather: list[bytearray] | None = None
        self._got = 0
        self._buf = bytearray()
        self._pos = 0
        self._fragments: list[bytes] = []  # earlier fragments of the current record
        self._partial = 0  # bytes in self._fragments
        self._marks = 0  # bytes of the fragment headers read for the current record
        self._need: int | None = None  # length of the fragment whose header we read
        self._last = False
        #: a record was handed out as a view of ``_buf``: it may no more change (or resize)
        self._frozen = False
        self.closed = False

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._gather is not None:
            # a big record in pieces: copy this receive's share out (the caller's buffer is
            # reused), keep the rest (the next records) in the buffer as usual
            take = min(len(data), self._need - self._got)  # type: ignore[operator]
            if take:
                gather = self._gather
                if gather and len(gather[-1]) < PIECE_MIN:
                    gather[-1] += data[:take]
                else:
                    gather.append(bytearray(data[:take]))
                self._got += take
            data = data[take:]
            if not data:
                return
        if self._frozen:
            # the unread rest and the new bytes in a new buffer, allocated and copied once
            self._buf = bytearray().join((memoryview(self._buf)[self._pos :], data))
            self._pos = 0
            self._frozen = False
            return
        if self._pos and self._pos > len(self._buf) // 2:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received (record marks included) but not yet returned as part of a record."""
        return len(self._buf) - self._pos + self._partial + self._marks + self._got

    def next_record(self) -> bytes | memoryview | Pieces | None:
        """The next complete record, or ``None`` if more bytes are needed.

        Records of :data:`ZERO_COPY_RECORD` bytes or more come as a read-only memoryview
        of a buffer the reader no longer changes; smaller ones as bytes.  What follows such a
        record in that buffer is copied once, by the next :meth:`feed` (records already
        there are handed out from it first): several WRITEs received at once cost one copy
        each, not one per record still behind them.  Single-fragment records of
        ``pieces_from`` bytes or more come as :class:`Pieces`.
        """
        if self._gather is not None:
            if self._got < self._need:  # type: ignore[operator]
                return None
            record = Pieces(self._gather)  # type: ignore[arg-type]
            self._gather, self._got, self._need, self._marks = None, 0, None, 0
            return record
        buf = self._buf
        while True:
            if self._need is None:
                if len(buf) - self._pos < 4:
                    return None
                (mark,) = _u32.unpack_from(buf, self._pos)
                self._pos += 4
                self._marks += 4
                length = mark & _MAX_FRAGMENT
                self._last = bool(mark & LAST_FRAGMENT)
                if self._partial + length > self.max_record:
                    self.closed = True
                    raise ProtocolError(
                        f"record of at least {self._partial + length} bytes exceeds the {self.max_record}-byte limit",
                        reply="CLOSE",
                        fatal=True,
                    )
                self._need = length
            need = self._need
            if self.pieces_from is not None and self._last and not self._fragments and need >= self.pieces_from:
                # gather it in pieces: what is buffered now, then each receive's share (feed)
                take = min(len(buf) - self._pos, need)
                self._gather = [bytearray(memoryview(buf)[self._pos : self._pos + take])] if take else []
                self._got = take
                self._pos += take
                return self.next_record()
            if len(buf) - self._pos < need:
                return None
            if self._last and not self._fragments and need >= ZERO_COPY_RECORD:
                # hand the buffer over instead of copying the record out of it
                start = self._pos
                self._pos += need
                self._frozen = True
                self._need = None
                self._marks = 0
                return memoryview(buf).toreadonly()[start : start + need]
            fragment = bytes(memoryview(buf)[self._pos : self._pos + need])
            self._pos += need
            self._need = None
            if self._last:
                self._marks = 0
                if self._fragments:
                    self._fragments.append(fragment)
                    fragment = b"".join(self._fragments)
                    self._fragments.clear()
                    self._partial = 0
                return fragment
            self._fragments.append(fragment)
            self._partial += need
