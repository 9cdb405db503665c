"""Read pcap/pcapng captures and reassemble their TCP streams (no protocol knowledge).

The reference is tshark (Wireshark 4.0), not a reading of RFC 793:

* stream indices are ``tcp.stream``: in order of first appearance of the 4-tuple, and a pure
  SYN whose sequence number differs from that side's Wireshark ``base_seq`` starts a new
  stream on the same 4-tuple (port reuse after FIN/RST);
* direction 0 is the sender of the stream's first packet seen (the client, for a SYN-started
  stream): ``-z follow,tcp``'s "Node 0";
* each direction's bytes are what ``-z follow,tcp,raw,N`` prints: retransmitted/duplicate
  bytes dropped, out-of-order segments held until the gap before them is filled.  Unlike
  tshark we never skip a gap the peer ACKs past (tshark inserts a "[N bytes missing in
  capture file]" text): data after a hole the capture never fills is dropped.

Link types: Ethernet (with 802.1Q tags), NULL/LOOP, Linux SLL and SLL2, raw IPv4/IPv6.  IP
fragments, ICMP-quoted headers and every non-TCP packet are ignored.
"""

from __future__ import annotations

import socket
import struct
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike
from typing import BinaryIO, Union

__all__ = ["CaptureError", "Segment", "TcpStream", "Truncation", "iter_segments", "read_streams"]

Endpoint = tuple[str, int]
PathArg = Union[str, "PathLike[str]"]
_M = 0xFFFFFFFF
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
_IF_TSRESOL, _IF_TSOFFSET = 9, 14  # pcapng interface options
_ETHERTYPE_IP = {0x0800, 0x86DD}
_VLAN = {0x8100, 0x88A8, 0x9100}
_RAW_LINKTYPES = {101, 228, 229, 12, 14}  # LINKTYPE_RAW / IPV4 / IPV6, and the DLT_RAW aliases
_SYN, _ACK = 0x02, 0x10


class CaptureError(ValueError):
    """The file is not a pcap/pcapng capture, or is truncated inside its file header."""


@dataclass(frozen=True)
class Segment:
    stream: int  # tshark's tcp.stream
    direction: int  # 0: from the endpoint that sent the stream's first packet
    time: float  # capture time of the packet that completed ``data``
    data: bytes  # new, in-order, contiguous payload bytes
    src: Endpoint
    dst: Endpoint


@dataclass(frozen=True)
class TcpStream:
    index: int
    client: Endpoint  # direction 0
    server: Endpoint  # direction 1
    data: tuple[bytes, bytes]  # whole reassembled bytes of direction 0 and 1


def _lt(a: int, b: int) -> bool:  # sequence-space a < b, wraparound aware
    return ((a - b) & _M) > 0x7FFFFFFF


# ---------------------------------------------------------------- capture file readers


class Truncation:
    """What a capture was missing (``iter_segments(..., truncation=...)`` fills it in):
    ``file`` the file ends inside a packet or its header (at byte ``at``); ``snapped``
    packets cut to the capture's snap length; ``gap_bytes`` payload held after a hole in a
    TCP stream that the capture never filled (dropped)."""

    def __init__(self) -> None:
        self.file = False
        self.at = 0
        self.snapped = 0
        self.gap_bytes = 0

    def __bool__(self) -> bool:
        return self.file or bool(self.snapped) or bool(self.gap_bytes)

    def describe(self) -> str:
        parts = []
        if self.file:
            parts.append(f"the file ends inside a packet (byte {self.at})")
        if self.snapped:
            parts.append(f"{self.snapped} packet(s) cut to the snap length")
        if self.gap_bytes:
            parts.append(f"{self.gap_bytes} byte(s) after gaps in TCP streams never filled (not decoded)")
        return "; ".join(parts)


# pcap magic (as read little-endian) -> (byte order, timestamp divisor, extra record header bytes)
_PCAP_FORMATS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6, 0),
    b"\xa1\xb2\xc3\xd4": (">", 1e6, 0),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9, 0),  # nanosecond pcap
    b"\xa1\xb2\x3c\x4d": (">", 1e9, 0),
    b"\x34\xcd\xb2\xa1": ("<", 1e6, 8),  # Kuznetzov's modified pcap: ifindex, protocol, type
    b"\xa1\xb2\xcd\x34": (">", 1e6, 8),
}


def _pcap_packets(f: BinaryIO, path: str, trunc: Truncation) -> Iterator[tuple[float, int, bytes]]:
    head = f.read(24)
    if len(head) < 24:
        raise CaptureError(f"{path}: bad or truncated pcap header")
    endian, divisor, extra = _PCAP_FORMATS[head[:4]]
    linktype = struct.unpack(endian + "I", head[20:24])[0] & 0xFFFF  # high bits may carry FCS information
    rec = struct.Struct(endian + "IIII")

    def gen() -> Iterator[tuple[float, int, bytes]]:
        offset = 24
        while True:
            hdr = f.read(rec.size + extra)
            if not hdr:
                return
            if len(hdr) < rec.size + extra:  # a truncated last record header
                trunc.file, trunc.at = True, offset + len(hdr)
                return
            sec, frac, caplen, origlen = rec.unpack(hdr[: rec.size])
            data = f.read(caplen)
            offset += len(hdr) + len(data)
            if len(data) < caplen:
                trunc.file, trunc.at = True, offset
            if caplen < origlen:
                trunc.snapped += 1
            yield sec + frac / divisor, linktype, data
            if trunc.file:
                return

    return gen()


def _pcapng_shb(f: BinaryIO, path: str) -> str:
    """Read a section header block, its type already read; return its byte order."""
    head = f.read(8)
    endian = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}.get(head[4:8])
    if endian is None:
        raise CaptureError(f"{path}: truncated pcapng section header, or bad byte-order magic")
    (length,) = struct.unpack(endian + "I", head[:4])
    if length < 28 or len(f.read(length - 12)) < length - 12:
        raise CaptureError(f"{path}: truncated pcapng section header")
    return endian


def _pcapng_packets(f: BinaryIO, path: str, trunc: Truncation) -> Iterator[tuple[float, int, bytes]]:
    f.read(4)
    endian = _pcapng_shb(f, path)

    def gen(endian: str) -> Iterator[tuple[float, int, bytes]]:
        ifaces: list[tuple[int, int, float, int]] = []  # linktype, snaplen, divisor, offset
        while True:
            head = f.read(8)
            if len(head) < 8:
                return
            btype, length = struct.unpack(endian + "II", head)
            if btype == _SHB:  # a new section: new byte order, new interfaces
                f.seek(-4, 1)
                try:
                    endian = _pcapng_shb(f, path)
                except CaptureError:
                    return
                ifaces = []
                continue
            if length < 12:
                return  # corrupt: stop, keeping what we have
            body = f.read(length - 8)
            if len(body) < length - 8:
                trunc.file = True  # the file ends inside this block
            if btype == _IDB:
                if len(body) < length - 8 or len(body) < 12:
                    return  # truncated last block
                linktype, _reserved, snaplen = struct.unpack(endian + "HHI", body[:8])
                divisor, offset = 1e6, 0
                pos, end = 8, length - 12  # options, up to the trailing length
                while pos + 4 <= end:
                    code, olen = struct.unpack(endian + "HH", body[pos : pos + 4])
                    value = body[pos + 4 : pos + 4 + olen]
                    if code == 0:  # opt_endofopt
                        break
                    if code == _IF_TSRESOL and value:
                        r = value[0]
                        divisor = float(2 ** (r & 0x7F) if r & 0x80 else 10**r)
                    elif code == _IF_TSOFFSET and len(value) >= 8:
                        (offset,) = struct.unpack(endian + "q", value[:8])
                    pos += 4 + ((olen + 3) & ~3)
                ifaces.append((linktype, snaplen, divisor, offset))
                continue
            if btype in (_EPB, _PB) and len(body) >= 20:  # enhanced / obsolete packet block
                fmt = "IIIII" if btype == _EPB else "HxxIIII"
                iface, hi, lo, caplen, origlen = struct.unpack(endian + fmt, body[:20])
                data = body[20 : 20 + caplen]
                if caplen < origlen:
                    trunc.snapped += 1
            elif btype == _SPB and len(body) >= 4 and ifaces:  # no timestamp, interface 0
                iface, hi, lo, (orig,) = 0, 0, 0, struct.unpack(endian + "I", body[:4])
                data = body[4 : 4 + min(orig, ifaces[0][1] or orig)]
            else:
                continue  # other block types, or a truncated one
            if iface < len(ifaces):
                linktype, _snap, divisor, offset = ifaces[iface]
                yield offset + ((hi << 32) | lo) / divisor, linktype, data

    return gen(endian)


def _open_packets(
    path: PathArg, trunc: Truncation | None = None
) -> tuple[BinaryIO, Iterator[tuple[float, int, bytes]]]:
    trunc = Truncation() if trunc is None else trunc
    f = open(path, "rb")
    try:
        magic, _ = f.read(4), f.seek(0)
        if magic == b"\x0a\x0d\x0d\x0a":
            return f, _pcapng_packets(f, str(path), trunc)
        if magic in _PCAP_FORMATS:
            return f, _pcap_packets(f, str(path), trunc)
        raise CaptureError(f"{path}: neither a pcap nor a pcapng file")
    except BaseException:
        f.close()
        raise


# ---------------------------------------------------------------- packet decoding


def _ip_packet(linktype: int, buf: bytes) -> bytes | None:
    if linktype == 1:  # Ethernet
        off = 12
        while len(buf) >= off + 2 and int.from_bytes(buf[off : off + 2], "big") in _VLAN:
            off += 4
        etype = int.from_bytes(buf[off : off + 2], "big")
        return buf[off + 2 :] if etype in _ETHERTYPE_IP else None
    if linktype in (0, 108):  # NULL / LOOP: 4-byte address family
        return buf[4:]
    if linktype == 113:  # Linux cooked (SLL)
        return buf[16:] if int.from_bytes(buf[14:16], "big") in _ETHERTYPE_IP else None
    if linktype == 276:  # Linux cooked v2 (SLL2)
        return buf[20:] if int.from_bytes(buf[0:2], "big") in _ETHERTYPE_IP else None
    if linktype in _RAW_LINKTYPES:
        return buf
    return None


def _tcp_of(pkt: bytes) -> tuple[str, str, bytes, int] | None:
    """(src, dst, tcp segment bytes, its length per the IP header) of a non-fragmented TCP packet."""
    if not pkt:
        return None
    version = pkt[0] >> 4
    if version == 4 and len(pkt) >= 20:
        ihl, total = (pkt[0] & 15) * 4, int.from_bytes(pkt[2:4], "big")
        if pkt[9] != 6 or ihl < 20 or int.from_bytes(pkt[6:8], "big") & 0x3FFF:
            return None  # not TCP, or an IP fragment
        total = total or len(pkt)  # 0: TSO/GSO capture, trust the frame
        return (
            socket.inet_ntop(socket.AF_INET, pkt[12:16]),
            socket.inet_ntop(socket.AF_INET, pkt[16:20]),
            pkt[ihl:total],
            total - ihl,
        )
    if version == 6 and len(pkt) >= 40:
        nxt, off = pkt[6], 40
        end = 40 + (int.from_bytes(pkt[4:6], "big") or len(pkt) - 40)
        while nxt in (0, 43, 60, 51):  # hop-by-hop, routing, dest-opts, AH
            if len(pkt) < off + 2:
                return None
            hlen = (pkt[off + 1] + 2) * 4 if nxt == 51 else (pkt[off + 1] + 1) * 8
            nxt, off = pkt[off], off + hlen
        if nxt != 6:
            return None  # not TCP (fragment header included)
        return (
            socket.inet_ntop(socket.AF_INET6, pkt[8:24]),
            socket.inet_ntop(socket.AF_INET6, pkt[24:40]),
            pkt[off:end],
            end - off,
        )
    return None


# ---------------------------------------------------------------- reassembly


class _Stream:
    __slots__ = ("index", "ends", "base", "next", "written", "frags")

    def __init__(self, index: int, client: Endpoint, server: Endpoint) -> None:
        self.index, self.ends = index, (client, server)
        self.base: list[int | None] = [None, None]  # Wireshark's per-side base_seq
        self.next = [0, 0]  # next relative seq wanted
        self.written = [False, False]
        self.frags: list[dict[int, bytes]] = [{}, {}]  # held out-of-order data, by seq

    def feed(self, d: int, seq: int, seglen: int, data: bytes) -> bytes:
        """Take one segment (relative seq, SYN counted); return the bytes it makes in-order."""
        nxt = self.next[d]
        if nxt == 0 and not self.written[d]:  # tshark: the first segment sets the start
            nxt = seq
        if _lt(seq, nxt):  # retransmission, maybe with new data
            end = (seq + seglen) & _M
            if not _lt(nxt, end):
                return b""
            data, seglen, seq = data[(nxt - seq) & _M :], (end - nxt) & _M, nxt
        self.next[d] = nxt
        if not data:
            return b""
        frags = self.frags[d]
        if seq != nxt:  # out of order: hold it
            if len(data) > len(frags.get(seq, b"")):
                frags[seq] = data
            return b""
        out, nxt, self.written[d] = [data], (nxt + seglen) & _M, True
        while (fseq := next((f for f in frags if not _lt(nxt, f)), None)) is not None:
            fdata, skip = frags.pop(fseq), (nxt - fseq) & _M  # a held fragment fits now
            if skip < len(fdata):
                out.append(fdata[skip:])
                nxt = (fseq + len(fdata)) & _M
        self.next[d] = nxt
        return b"".join(out)


def _segments(
    packets: Iterator[tuple[float, int, bytes]],
    found: dict[int, tuple[Endpoint, Endpoint]],
    trunc: Truncation | None = None,
) -> Iterator[Segment]:
    """Reassemble; record every stream's (client, server) in ``found``, data or not."""
    conns: dict[tuple[Endpoint, Endpoint], _Stream] = {}
    count = 0
    for ts, linktype, buf in packets:
        parsed = _tcp_of(_ip_packet(linktype, buf) or b"")
        if parsed is None:
            continue
        src_ip, dst_ip, tcp, tcplen = parsed
        if len(tcp) < 20 or not 20 <= (hlen := (tcp[12] >> 4) * 4) <= tcplen:
            continue  # short or bogus TCP header
        sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
        flags = tcp[13]
        src, dst = (src_ip, sport), (dst_ip, dport)
        key = (src, dst) if src <= dst else (dst, src)
        st = conns.get(key)
        if st is not None:
            d = 0 if src == st.ends[0] else 1
            base = st.base[d]
            if flags & (_SYN | _ACK) == _SYN and base is not None and seq != base:
                st = None  # port reuse: tshark starts a new stream
        if st is None:
            st = conns[key] = _Stream(count, src, dst)
            found[count] = (src, dst)
            count += 1
            d = 0
        if st.base[d] is None:
            st.base[d] = seq if flags & _SYN else (seq - 1) & _M
        if flags & _ACK and st.base[1 - d] is None:
            st.base[1 - d] = (ack - 1) & _M
        rel = (seq - st.base[d] + (1 if flags & _SYN else 0)) & _M
        data = st.feed(d, rel, tcplen - hlen, tcp[hlen:])
        if data:
            yield Segment(st.index, d, ts, data, src, dst)
    if trunc is not None:
        trunc.gap_bytes += sum(len(v) for st in conns.values() for frags in st.frags for v in frags.values())


def iter_segments(path: PathArg, truncation: Truncation | None = None) -> Iterator[Segment]:
    """The TCP payload of the capture at ``path``, in the order it becomes available in-order.

    Raises :class:`CaptureError` at once if the file is not a (complete-headed) capture.
    ``truncation``: filled in with what the capture was missing, once iterated to the end.
    """
    trunc = Truncation() if truncation is None else truncation
    f, packets = _open_packets(path, trunc)

    def gen() -> Iterator[Segment]:
        with f:
            yield from _segments(packets, {}, trunc)

    return gen()


def read_streams(path: PathArg) -> dict[int, TcpStream]:
    """Every TCP stream of the capture (data-less ones included), by tshark stream index."""
    f, packets = _open_packets(path)
    ends: dict[int, tuple[Endpoint, Endpoint]] = {}
    chunks: dict[tuple[int, int], list[bytes]] = defaultdict(list)
    with f:
        for seg in _segments(packets, ends):
            chunks[seg.stream, seg.direction].append(seg.data)
    return {i: TcpStream(i, c, s, (b"".join(chunks[i, 0]), b"".join(chunks[i, 1]))) for i, (c, s) in ends.items()}
