"""Every served connection's traffic as a packet capture Wireshark and tshark read.

``FakeGluster(pcap="out.pcap")`` / ``fakegluster serve --pcap out.pcap`` /
``pytest --fakegluster-pcap DIR``: each connection of glusterd and the bricks becomes a TCP
stream in a classic pcap file (Ethernet link type, microsecond timestamps), with a
three-way handshake when it opens, one segment per chunk of bytes received or sent (split
at 64 000 bytes), the acknowledgements a peer would send, and a FIN from each side when it
ends.  Wireshark's ONC-RPC dissector finds the records and its GlusterFS dissectors
(packet-gluster*.c: GlusterFS, GlusterD Management, Gluster Portmap, Gluster Dump, GF-CBK...)
decode them, as they do a capture of a real cluster; so does ``fakegluster decode``.

What is written is what the server saw, not what a network card saw: bytes are stamped when
received and when queued for sending; TLS connections are written as the plain text inside
them (a decrypted capture); unix-socket and emulated-rdma connections, which have no IP
addresses, appear as TCP between 127.255.255.254 (the server, port 24007 for glusterd or
the brick's port) and 127.255.255.253 (the client, one port per connection).

The writer runs in the server's thread; a lock makes it safe to share between servers.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
import time
from typing import IO, Any

__all__ = ["PcapWriter", "Tap", "UNIX_SERVER", "UNIX_CLIENT"]

UNIX_SERVER = "127.255.255.254"
UNIX_CLIENT = "127.255.255.253"
_SEGMENT = 64000
_LINKTYPE_ETHERNET = 1
_SYN, _ACK, _PSH, _FIN = 0x02, 0x10, 0x08, 0x01
_MAC_CLIENT, _MAC_SERVER = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"

Endpoint = tuple[str, int]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class PcapWriter:
    """A pcap file taking TCP streams (:meth:`open` one per connection).

    ``target``: a path (created, truncated) or a binary file object (not closed here).
    """

    def __init__(self, target: str | IO[bytes]) -> None:
        if isinstance(target, str):
            self._file: IO[bytes] = open(target, "wb")  # noqa: SIM115 - closed in close()
            self._owned = True
        else:
            self._file, self._owned = target, False
        self._lock = threading.Lock()
        self._unix_ports = 0
        self.packets = 0
        # pcap header: magic, v2.4, thiszone 0, sigfigs 0, snaplen, Ethernet
        self._file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, _LINKTYPE_ETHERNET))
        self._file.flush()

    def open(self, server: Endpoint | None, client: Endpoint | None, *, server_port: int = 24007) -> Tap:
        """A new stream between ``client`` and ``server`` ((address, port); None for a
        connection without IP addresses: a unix socket, emulated rdma)."""
        with self._lock:
            if server is None or client is None:
                self._unix_ports += 1
                server = (UNIX_SERVER, server_port or 24007)
                client = (UNIX_CLIENT, 1024 + self._unix_ports % 60000)
        tap = Tap(self, _endpoint(client), _endpoint(server))
        tap.handshake()
        return tap

    def write_packet(self, data: bytes, when: float | None = None) -> None:
        t = time.time() if when is None else when
        sec = int(t)
        usec = int((t - sec) * 1_000_000)
        with self._lock:
            if self._file.closed:
                return
            self._file.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
            self.packets += 1

    def flush(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file.closed:
                return
            self._file.flush()
            if self._owned:
                self._file.close()


def _endpoint(ep: Endpoint) -> Endpoint:
    host = ep[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[len("::ffff:") :]
    return host, int(ep[1])


class Tap:
    """One connection's stream in a :class:`PcapWriter`: :meth:`received` (client to server),
    :meth:`sent` (server to client), :meth:`closed`."""

    def __init__(self, writer: PcapWriter, client: Endpoint, server: Endpoint) -> None:
        self.writer, self.client, self.server = writer, client, server
        self.v6 = ipaddress.ip_address(client[0]).version == 6 or ipaddress.ip_address(server[0]).version == 6
        if self.v6:
            self._addrs = [_v6(client[0]), _v6(server[0])]
        else:
            self._addrs = [socket.inet_aton(client[0]), socket.inet_aton(server[0])]
        self._ports = [client[1], server[1]]
        self._seq = [0x1000, 0x8000]  # next sequence number of each side (client, server)
        self._ip_id = 0
        self._done = False

    def handshake(self) -> None:
        self._packet(0, b"", _SYN, ack=False)
        self._seq[0] += 1
        self._packet(1, b"", _SYN | _ACK)
        self._seq[1] += 1
        self._packet(0, b"", _ACK)

    def received(self, data: Any) -> None:
        """Bytes the server received from the client."""
        self._data(0, data)

    def sent(self, buffers: Any) -> None:
        """Buffers the server queued for the client (bytes, memoryviews, a list of them)."""
        if isinstance(buffers, (bytes, bytearray, memoryview)):
            self._data(1, buffers)
        else:
            self._data(1, b"".join(bytes(b) for b in buffers))

    def closed(self) -> None:
        """The connection ended: a FIN each way."""
        if self._done:
            return
        self._done = True
        self._packet(1, b"", _FIN | _ACK)
        self._seq[1] += 1
        self._packet(0, b"", _FIN | _ACK)
        self._seq[0] += 1
        self._packet(1, b"", _ACK)

    def _data(self, side: int, data: Any) -> None:
        if self._done or not data:
            return
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _SEGMENT):
            chunk = bytes(view[start : start + _SEGMENT])
            self._packet(side, chunk, _PSH | _ACK)
            self._seq[side] = (self._seq[side] + len(chunk)) & 0xFFFFFFFF
        self._packet(1 - side, b"", _ACK)  # the peer acknowledges

    def _packet(self, side: int, payload: bytes, flags: int, *, ack: bool = True) -> None:
        src, dst = self._addrs[side], self._addrs[1 - side]
        sport, dport = self._ports[side], self._ports[1 - side]
        acknum = self._seq[1 - side] if ack and flags & _ACK else 0
        tcp = struct.pack("!HHIIBBHHH", sport, dport, self._seq[side], acknum, 5 << 4, flags, 65535, 0, 0)
        if self.v6:
            pseudo = src + dst + struct.pack("!IxxxB", len(tcp) + len(payload), 6)
        else:
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
        csum = _checksum(pseudo + tcp + payload)
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        if self.v6:
            ip = struct.pack("!IHBB", 6 << 28, len(tcp) + len(payload), 6, 64) + src + dst
            ethertype = 0x86DD
        else:
            self._ip_id = (self._ip_id + 1) & 0xFFFF
            head = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(tcp) + len(payload), self._ip_id, 0x4000, 64, 6, 0)
            head += src + dst
            ip = head[:10] + struct.pack("!H", _checksum(head)) + head[12:]
            ethertype = 0x0800
        macs = (_MAC_SERVER + _MAC_CLIENT) if side == 0 else (_MAC_CLIENT + _MAC_SERVER)
        self.writer.write_packet(macs + struct.pack("!H", ethertype) + ip + tcp + payload)


def _v6(host: str) -> bytes:
    addr = ipaddress.ip_address(host)
    if addr.version == 4:
        return ipaddress.IPv6Address(f"::ffff:{host}").packed
    return addr.packed
