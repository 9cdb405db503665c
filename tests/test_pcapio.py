"""fakegluster.pcapio: capture reading and TCP reassembly, checked against tshark."""

from __future__ import annotations

import os
import socket
import subprocess
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dpkt
import pytest

from fakegluster.pcapio import CaptureError, Segment, iter_segments, read_streams
from tests.helpers import require_tool

PCAPS = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "pcaps").glob("*.pcap"))
SYN, ACK, FIN, RST, PSH = dpkt.tcp.TH_SYN, dpkt.tcp.TH_ACK, dpkt.tcp.TH_FIN, dpkt.tcp.TH_RST, dpkt.tcp.TH_PUSH

C4, S4 = ("10.0.0.1", 40000), ("10.0.0.2", 24007)


# ------------------------------------------------------------------ synthetic captures


def ip_packet(src, dst, seq, ack=0, flags=ACK, data=b""):
    """An IPv4 or IPv6 (by address) packet carrying one TCP segment."""
    tcp = dpkt.tcp.TCP(
        sport=src[1], dport=dst[1], seq=seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF, flags=flags, win=65535, data=data
    )
    if ":" in src[0]:
        ip6 = dpkt.ip6.IP6(
            src=socket.inet_pton(socket.AF_INET6, src[0]), dst=socket.inet_pton(socket.AF_INET6, dst[0]), nxt=6, hlim=64
        )
        ip6.data = tcp
        ip6.plen = len(bytes(tcp))
        return bytes(ip6)
    ip = dpkt.ip.IP(src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=6, ttl=64, data=tcp)
    ip.len = len(ip)
    return bytes(ip)


def frame(linktype, ip):
    v6 = ip[0] >> 4 == 6
    etype = 0x86DD if v6 else 0x0800
    if linktype == 1:
        return bytes(6) + b"\x02" + bytes(5) + etype.to_bytes(2, "big") + ip + bytes(max(0, 46 - len(ip)))
    if linktype == 0:
        return (30 if v6 else 2).to_bytes(4, "little") + ip
    if linktype == 113:
        return bytes(14) + etype.to_bytes(2, "big") + ip
    if linktype == 276:
        return etype.to_bytes(2, "big") + bytes(18) + ip
    return ip  # raw IP link types


def write_pcap(path, packets, linktype=1):
    """packets: (time, ip bytes) pairs."""
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=262144, linktype=linktype)
        for ts, ip in packets:
            w.writepkt(frame(linktype, ip), ts=ts)
    return path


def handshake(c, s, cisn, sisn, t=0.0):
    return [
        (t, ip_packet(c, s, cisn, 0, SYN)),
        (t + 0.001, ip_packet(s, c, sisn, cisn + 1, SYN | ACK)),
        (t + 0.002, ip_packet(c, s, cisn + 1, sisn + 1, ACK)),
    ]


def data_pkt(t, a, b, seq, data, ack=1):
    return (t, ip_packet(a, b, seq, ack, ACK | PSH, data))


def kitchen_sink(c=C4, s=S4):
    """Out-of-order, overlapping retransmissions, seq wraparound, and a restart on one 4-tuple."""
    ci, si = 0xFFFFFFF0, 1000  # client ISN wraps within its first bytes
    pk = handshake(c, s, ci, si)
    pk += [
        data_pkt(1.0, c, s, ci + 1, b"ABCDEFGHIJ"),  # 0..10, crosses 2**32
        data_pkt(1.1, c, s, ci + 21, b"UVWXY"),  # 20..25: early
        data_pkt(1.2, c, s, ci + 16, b"PQRST"),  # 15..20: early
        data_pkt(1.3, c, s, ci + 6, b"FGHIJKLMNO"),  # 5..15: overlaps, fills the gap
        data_pkt(1.4, c, s, ci + 1, b"ABCDEFGHIJKLMNOPQRSTUVWXY"),  # full duplicate
        data_pkt(1.5, s, c, si + 1, b"reply", ack=ci + 26),
        data_pkt(1.6, s, c, si + 4, b"lyMORE", ack=ci + 26),
        (1.7, ip_packet(c, s, ci + 26, si + 10, FIN | ACK)),
        (1.8, ip_packet(s, c, si + 10, ci + 27, FIN | ACK)),
        (1.9, ip_packet(c, s, ci + 27, si + 11, ACK)),
    ]
    pk += handshake(c, s, 5000, 9000, t=3.0)  # same 4-tuple, new ISN: new stream
    pk += [
        (3.01, ip_packet(c, s, 5000, 0, SYN)),  # retransmitted SYN: same stream
        data_pkt(3.1, c, s, 5001, b"second"),
        (3.2, ip_packet(s, c, 9001, 5007, RST | ACK)),
    ]
    pk += handshake(s, c, 70, 80, t=4.0)  # reverse roles on the same tuple
    pk += [data_pkt(4.1, s, c, 71, b"third")]
    return pk


def test_reassembly_out_of_order_overlap_and_wraparound(tmp_path):
    streams = read_streams(write_pcap(tmp_path / "k.pcap", kitchen_sink()))
    assert sorted(streams) == [0, 1, 2]
    s0 = streams[0]
    assert (s0.client, s0.server) == (C4, S4)
    assert s0.data == (b"ABCDEFGHIJKLMNOPQRSTUVWXY", b"replyMORE")
    assert streams[1].data == (b"second", b"")
    assert (streams[1].client, streams[1].server) == (C4, S4)
    assert (streams[2].client, streams[2].server, streams[2].data) == (S4, C4, (b"third", b""))


def test_iter_segments_order_and_timing(tmp_path):
    segs = list(iter_segments(write_pcap(tmp_path / "k.pcap", kitchen_sink())))
    assert all(isinstance(x, Segment) for x in segs)
    assert [(x.stream, x.direction, x.time, x.data) for x in segs] == [
        (0, 0, 1.0, b"ABCDEFGHIJ"),
        (0, 0, 1.3, b"KLMNOPQRSTUVWXY"),  # the packet that filled the gap
        (0, 1, 1.5, b"reply"),
        (0, 1, 1.6, b"MORE"),
        (1, 0, 3.1, b"second"),
        (2, 0, 4.1, b"third"),
    ]
    assert (segs[2].src, segs[2].dst) == (S4, C4)


LINKS = [
    (lt, fam)
    for lt in (0, 1, 101, 113, 228, 229, 276)
    for fam in ("ipv4", "ipv6")
    if (lt, fam) not in ((228, "ipv6"), (229, "ipv4"))
]


@pytest.mark.parametrize("linktype,family", LINKS)
def test_link_types_and_ipv6(tmp_path, linktype, family):
    c, s = (("2001:db8::1", 40000), ("2001:db8::2", 24007)) if family == "ipv6" else (C4, S4)
    udp = dpkt.ip.IP(
        src=socket.inet_aton("10.0.0.1"),
        dst=socket.inet_aton("10.0.0.2"),
        p=17,
        data=dpkt.udp.UDP(sport=1, dport=2, data=b"x"),
    )
    pk = [(0.0, bytes(udp))] if family == "ipv4" else []
    pk += handshake(c, s, 100, 200) + [data_pkt(1.0, c, s, 101, b"hello"), data_pkt(1.1, s, c, 201, b"hi")]
    streams = read_streams(write_pcap(tmp_path / "l.pcap", pk, linktype))
    assert list(streams) == [0]
    assert (streams[0].client, streams[0].server, streams[0].data) == (c, s, (b"hello", b"hi"))


def test_pcapng_per_interface_link_types(tmp_path):
    """Two interfaces (Ethernet, SLL) in one pcapng; nanosecond timestamps on the second."""
    ng = dpkt.pcapng
    tsresol = ng.PcapngOptionLE(code=ng.PCAPNG_OPT_IF_TSRESOL, data=b"\x09")
    idb2 = ng.InterfaceDescriptionBlockLE(linktype=113, snaplen=65535)
    idb2.opts = [tsresol, ng.PcapngOptionLE(code=ng.PCAPNG_OPT_ENDOFOPT)]
    blocks = [ng.SectionHeaderBlockLE(), ng.InterfaceDescriptionBlockLE(linktype=1, snaplen=65535), idb2]
    pk = handshake(C4, S4, 100, 200) + [data_pkt(1.0, C4, S4, 101, b"hello"), data_pkt(2.0, S4, C4, 201, b"hi")]
    for i, (ts, ip) in enumerate(pk):
        iface = i % 2
        t = int(ts * (10**9 if iface else 10**6))
        data = frame(113 if iface else 1, ip)
        blocks.append(
            ng.EnhancedPacketBlockLE(
                iface_id=iface,
                ts_high=t >> 32,
                ts_low=t & 0xFFFFFFFF,
                caplen=len(data),
                pkt_len=len(data),
                pkt_data=data,
            )
        )
    path = tmp_path / "two.pcapng"
    path.write_bytes(b"".join(bytes(b) for b in blocks))
    segs = list(iter_segments(path))
    assert [(x.direction, x.time, x.data) for x in segs] == [(0, 1.0, b"hello"), (1, 2.0, b"hi")]


def two_section_pcapng(path):
    """A little-endian Ethernet section, then a big-endian SLL2 section (another 4-tuple)."""
    ng = dpkt.pcapng
    out = []
    for le, linktype, (c, s) in ((True, 1, (C4, S4)), (False, 276, (("10.0.0.3", 1234), S4))):
        suffix = "LE" if le else ""
        out += [
            getattr(ng, "SectionHeaderBlock" + suffix)(),
            getattr(ng, "InterfaceDescriptionBlock" + suffix)(linktype=linktype, snaplen=65535),
        ]
        pk = handshake(c, s, 100, 200, t=5.0 * (not le)) + [data_pkt(6.0, c, s, 101, b"sec-" + suffix.encode())]
        for ts, ip in pk:
            t, data = int(ts * 10**6), frame(linktype, ip)
            out.append(
                getattr(ng, "EnhancedPacketBlock" + suffix)(
                    iface_id=0,
                    ts_high=t >> 32,
                    ts_low=t & 0xFFFFFFFF,
                    caplen=len(data),
                    pkt_len=len(data),
                    pkt_data=data,
                )
            )
    path.write_bytes(b"".join(bytes(b) for b in out))
    return path


def test_pcapng_sections_and_byte_orders(tmp_path):
    streams = read_streams(two_section_pcapng(tmp_path / "two.pcapng"))
    assert [(st.client, st.data) for st in streams.values()] == [
        (C4, (b"sec-LE", b"")),
        (("10.0.0.3", 1234), (b"sec-", b"")),
    ]


def test_truncated_last_packet_is_tolerated(tmp_path):
    pk = handshake(C4, S4, 100, 200) + [data_pkt(1.0, C4, S4, 101, b"hello"), data_pkt(1.1, C4, S4, 106, b"world!")]
    path = write_pcap(tmp_path / "t.pcap", pk)
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])  # cut inside the last packet
    assert read_streams(path)[0].data == (b"hellowor", b"")
    path.write_bytes(raw[: -(60 + 8)])  # cut inside the last record header
    assert read_streams(path)[0].data == (b"hello", b"")


def test_not_a_capture(tmp_path):
    bad = tmp_path / "garbage.pcap"
    bad.write_bytes(b"this is not a capture file at all\n" * 10)
    with pytest.raises(CaptureError):
        iter_segments(bad)
    with pytest.raises(CaptureError):
        read_streams(bad)
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(CaptureError):
        read_streams(tmp_path / "empty")
    good = write_pcap(tmp_path / "good.pcap", handshake(C4, S4, 1, 2)).read_bytes()
    (tmp_path / "short.pcap").write_bytes(good[:10])  # mid file header
    with pytest.raises(CaptureError):
        read_streams(tmp_path / "short.pcap")
    ng = PCAPS[0].read_bytes()[:20]  # mid pcapng section header
    (tmp_path / "short.pcapng").write_bytes(ng)
    with pytest.raises(CaptureError):
        read_streams(tmp_path / "short.pcapng")
    assert issubclass(CaptureError, ValueError)


# ------------------------------------------------------------------ tshark as the reference


def _tshark() -> str:
    return require_tool("tshark")


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def _endpoint(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host.strip("[]"), int(port)


def _follow(exe: str, path: Path, stream: int):
    """tshark's -z follow,tcp,raw: (node 0, node 1, bytes from node 0, bytes from node 1)."""
    out = _run(exe, "-n", "-r", str(path), "-q", "-z", f"follow,tcp,raw,{stream}")
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Node 1:"))
    nodes = [_endpoint(lines[start - 1].split(": ", 1)[1]), _endpoint(lines[start].split(": ", 1)[1])]
    data = [bytearray(), bytearray()]
    for ln in lines[start + 1 :]:
        if ln.startswith("====="):
            break
        if ln.strip():  # indented: from node 1
            data[1 if ln.startswith("\t") else 0] += bytes.fromhex(ln.strip())
    return nodes[0], nodes[1], bytes(data[0]), bytes(data[1])


def _tshark_streams(exe: str, path: Path):
    out = _run(
        exe,
        "-n",
        "-r",
        str(path),
        "-T",
        "fields",
        "-e",
        "tcp.stream",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "tcp.srcport",
        "-e",
        "ip.dst",
        "-e",
        "ipv6.dst",
        "-e",
        "tcp.dstport",
    )
    ends: dict[int, set] = defaultdict(set)
    for line in out.splitlines():
        stream, src4, src6, sport, dst4, dst6, dport = line.split("\t")
        if stream:
            ends[int(stream)] |= {(src4 or src6, int(sport)), (dst4 or dst6, int(dport))}
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 2)) as pool:
        follows = dict(zip(ends, pool.map(lambda n: _follow(exe, path, n), ends)))
    return ends, follows


def _check_against_tshark(path: Path) -> None:
    exe = _tshark()
    ends, follows = _tshark_streams(exe, path)
    ours = read_streams(path)
    assert sorted(ours) == sorted(ends)
    for n, st in ours.items():
        node0, node1, d0, d1 = follows[n]
        assert {st.client, st.server} == ends[n], n
        assert (st.client, st.server) == (node0, node1), n
        assert st.data[0] == d0, (n, 0, len(st.data[0]), len(d0))
        assert st.data[1] == d1, (n, 1, len(st.data[1]), len(d1))
    joined = defaultdict(bytearray)
    for seg in iter_segments(path):
        joined[seg.stream, seg.direction] += seg.data
    assert {k: bytes(v) for k, v in joined.items()} == {
        (n, d): st.data[d] for n, st in ours.items() for d in (0, 1) if st.data[d]
    }


@pytest.mark.parametrize("path", PCAPS, ids=[p.name for p in PCAPS])
def test_fixture_matches_tshark(path):
    _check_against_tshark(path)


def test_synthetic_matches_tshark(tmp_path):
    v6 = (("2001:db8::1", 40001), ("2001:db8::2", 24007))
    _check_against_tshark(write_pcap(tmp_path / "k.pcap", kitchen_sink() + kitchen_sink(*v6)))


def test_two_section_pcapng_matches_tshark(tmp_path):
    _check_against_tshark(two_section_pcapng(tmp_path / "two.pcapng"))
