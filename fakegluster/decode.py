"""``fakegluster decode``: every RPC message of pcap/pcapng captures as JSON lines.

Each TCP stream is split into records per direction; a CALL seen in one direction tells the
other direction how to decode the REPLY with the same xid (so server-to-client callbacks
decode too).  ``--check`` re-encodes every decoded message and compares it with the
captured record, byte for byte.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from .pcapio import Truncation, iter_segments
from .proto.connection import Role, RpcConnection, encode_call, encode_reply
from .proto.errors import ProtocolError
from .proto.events import NEED_DATA, Call, ConnectionClosed, Denied, Reply
from .proto.record import RecordReader, frame
from .proto.render import describe

__all__ = ["Message", "decode_capture", "run"]


@dataclass
class Message:
    """One decoded (or undecodable) record of a capture."""

    file: str
    stream: int
    direction: int
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    record: bytes
    event: Any = None
    error: str | None = None
    reencoded: bytes | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "file": self.file,
            "stream": self.stream,
            "direction": "c2s" if self.direction == 0 else "s2c",
            "time": round(self.time, 6),
            "src": f"{self.src[0]}:{self.src[1]}",
            "dst": f"{self.dst[0]}:{self.dst[1]}",
            "size": len(self.record),
        }
        if self.event is not None:
            out.update(describe(self.event))
        if self.error is not None:
            out["error"] = self.error
        return out

    @property
    def roundtrips(self) -> bool:
        return self.reencoded == self.record


class _Direction:
    def __init__(self) -> None:
        self.records = RecordReader()
        self.conn = RpcConnection(Role.OBSERVER, None)  # accepts every registered program
        self.broken = False


def decode_capture(path: str, *, ports: Iterable[int] = (), truncation: Truncation | None = None) -> Iterator[Message]:
    """Every RPC record of the capture at ``path``, in capture order, decoded; with
    ``ports``, only the TCP streams with an end on one of them.  ``truncation`` is filled
    in with what the capture was missing (:class:`~fakegluster.pcapio.Truncation`)."""
    dirs: dict[tuple[int, int], _Direction] = {}
    wanted = set(ports)
    for seg in iter_segments(path, truncation):
        if wanted and seg.src[1] not in wanted and seg.dst[1] not in wanted:
            continue
        d = dirs.setdefault((seg.stream, seg.direction), _Direction())
        if d.broken:
            continue
        d.records.feed(seg.data)
        while True:
            try:
                record = d.records.next_record()
            except ProtocolError as exc:
                d.broken = True
                yield Message(str(path), seg.stream, seg.direction, seg.time, seg.src, seg.dst, b"", error=str(exc))
                break
            if record is None:
                break
            record = bytes(record)
            msg = Message(str(path), seg.stream, seg.direction, seg.time, seg.src, seg.dst, record)
            d.conn.receive_data(frame(record))
            try:
                event = d.conn.next_event()
            except ProtocolError as exc:
                msg.error = f"{exc.reply}: {exc}"
                yield msg
                continue
            assert event is not NEED_DATA and not isinstance(event, ConnectionClosed)
            msg.event = event
            if isinstance(event, Call):
                other = dirs.setdefault((seg.stream, 1 - seg.direction), _Direction())
                other.conn.expect_reply(event.xid, event.prog, event.vers, event.proc)
                buffers = encode_call(event)
            else:
                assert isinstance(event, (Reply, Denied))
                buffers = encode_reply(event)
            msg.reencoded = b"".join(bytes(b) for b in buffers)[4:]
            yield msg


def run(paths: Iterable[str], *, check: bool, out: TextIO, ports: Iterable[int] = ()) -> int:
    """``fakegluster decode``: JSON lines to ``out``, a warning on stderr per capture that is
    truncated (cut inside a packet, packets cut to the snap length, gaps never filled)."""
    total = failed = 0
    ports = list(ports)
    for path in paths:
        trunc = Truncation()
        for msg in decode_capture(path, ports=ports, truncation=trunc):
            total += 1
            line = msg.as_json()
            bad = msg.error is not None or (check and not msg.roundtrips)
            if check and msg.error is None and not msg.roundtrips:
                line["check"] = "re-encoded bytes differ"
            if bad:
                failed += 1
            if not check or bad:
                out.write(json.dumps(line) + "\n")
        if trunc:
            print(f"fakegluster decode: warning: {path} is truncated: {trunc.describe()}", file=sys.stderr)
    if check:
        out.write(f"decoded {total} messages, {failed} failed\n")
    else:
        print(f"decoded {total} messages, {failed} failed", file=sys.stderr)
    return 0 if failed == 0 and total > 0 else 1
