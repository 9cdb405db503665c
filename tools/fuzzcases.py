"""The cases of ``tools/fuzz.py``: hostile values for every XDR schema, mutations of the real
captures' calls, odd record marking (split from fuzz.py; imported by it as a sibling module)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fakegluster.decode import decode_capture  # noqa: E402
from fakegluster.proto import Call, Role, RpcConnection, fops  # noqa: E402
from fakegluster.proto.common import NULL_GFID, ROOT_GFID  # noqa: E402
from fakegluster.proto.gfdict import GfDataType, GfxValue, old_dict  # noqa: E402
from fakegluster.proto.programs import all_programs  # noqa: E402
from fakegluster.proto.record import frame_header  # noqa: E402
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, lk_owner_for_pid  # noqa: E402

INTERESTING32 = [0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 4095, 4096, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
INTERESTING64 = [0, 1, -1, 2**31, 2**32, 2**63 - 1, -(2**63), 2**62, 1 << 40, 1 << 44]
NAMES = ["", ".", "..", "/", "a/b", "../../outside/x", "../outside", "x\0y", "\udcff\udcfe", "a" * 255, "a" * 256,
         ".fakegluster", "..\\..", "~", "\n", "con", "outside"]  # fmt: skip
KEYS = ["gfid-req", "trusted.glusterfs.mdata", "glusterfs.content", "trusted.gfid", "security.capability",
        "user.x", "trusted.glusterfs.dht", "glusterfs.open-fd-count", "get-link-count", "", "k" * 300]  # fmt: skip


# ---- the corpus: calls of the real captures ------------------------------------------------
def load_corpus(paths: list[Path]) -> list[tuple[bytes, Call]]:
    out = []
    for path in paths:
        for msg in decode_capture(str(path)):
            if msg.direction == 0 and isinstance(msg.event, Call):
                out.append((msg.record, msg.event))
    return out


# ---- values from schemas ----------------------------------------------------------------------
class Gen:
    """Random hostile values for any XDR struct (fields by their construct type)."""

    def __init__(self, rng: random.Random, gfids: list[bytes]) -> None:
        self.rng, self.gfids = rng, gfids

    def value(self, con: Any, name: str = "", depth: int = 0) -> Any:
        from fakegluster.proto import xdr
        from fakegluster.proto.gfdict import GFX_DICT, OLD_DICT

        r = self.rng
        if con is GFX_DICT:
            return self.gfx_dict()
        if con is OLD_DICT:
            return r.choice([None, old_dict({r.choice(KEYS) or "k": r.choice(NAMES)}), r.randbytes(r.randrange(0, 64))])
        if isinstance(con, xdr.StructSchema):
            return self.struct(con.cls, depth + 1)
        if isinstance(con, xdr.FixedOpaqueCon):
            if con.n == 16:
                return self.gfid()
            return r.randbytes(con.n)
        if isinstance(con, xdr.StringCon):
            n = self.name()
            return n if con.maximum is None or len(n.encode("utf-8", "surrogateescape")) <= con.maximum else n[:8]
        if isinstance(con, xdr.OpaqueCon):
            n = r.choice([0, 1, 4, 16, 100, 4096])
            return r.randbytes(n if con.maximum is None else min(n, con.maximum))
        if isinstance(con, (xdr.Array, xdr.LinkedList)):
            if depth > 3:
                return ()
            n = r.choice([0, 1, 2, 5])
            if getattr(con, "maximum", None) is not None:
                n = min(n, con.maximum)
            return tuple(self.value(con.subcon, name, depth + 1) for _ in range(n))
        if isinstance(con, xdr.FixedArray):
            return tuple(self.value(con.subcon, name, depth + 1) for _ in range(con.n))
        if isinstance(con, xdr.Optional):
            return None if r.random() < 0.3 or depth > 3 else self.value(con.subcon, name, depth + 1)
        fmt = getattr(con, "fmtstr", "")
        if fmt.endswith("d"):
            return r.choice([0.0, -1.0, 1e308, float("nan"), float("inf")])
        if fmt.endswith(("q", "Q")):
            v = r.choice(INTERESTING64 + [r.randrange(0, 1 << 20)])
            return v % (1 << 64) if fmt.endswith("Q") else ((v + (1 << 63)) % (1 << 64)) - (1 << 63)
        v = r.choice(INTERESTING32 + [r.randrange(0, 1 << 16)])
        return v if fmt.endswith("I") else ((v + (1 << 31)) % (1 << 32)) - (1 << 31)

    def struct(self, cls: Any, depth: int = 0) -> Any:
        return cls(*[self.value(con, name, depth) for name, con in cls.schema.fields])

    def gfid(self) -> bytes:
        r = self.rng
        return r.choice([ROOT_GFID, NULL_GFID, r.randbytes(16), *(self.gfids[-20:] or [ROOT_GFID])])

    def name(self) -> str:
        r = self.rng
        if r.random() < 0.5:
            return r.choice(NAMES)
        return "".join(r.choice("ab./\\\0é") for _ in range(r.randrange(1, 12)))

    def gfx_dict(self) -> Any:
        r = self.rng
        if r.random() < 0.3:
            return None
        out = {}
        for _ in range(r.randrange(0, 4)):
            key = r.choice(KEYS) or "k"
            t = r.choice(list(GfDataType))
            if t in (GfDataType.INT, GfDataType.UINT):
                v: Any = GfxValue(t, r.choice([0, 1, 2**31, 2**63 - 1]) % (1 << 63))
            elif t == GfDataType.DOUBLE:
                v = GfxValue.double(r.choice([0.0, 1.5, -1.0]))
            elif t == GfDataType.GFUUID:
                v = GfxValue.uuid(self.gfid())
            elif t in (GfDataType.STR, GfDataType.PTR, GfDataType.STR_OLD):
                v = GfxValue(t, r.randbytes(r.choice([0, 1, 8, 57, 300])))
            else:
                continue
            out[key] = v
        return out


# ---- mutations -------------------------------------------------------------------------------
def mutate(rng: random.Random, record: bytes, corpus: list[tuple[bytes, Call]]) -> bytes:
    data = bytearray(record)
    op = rng.randrange(7)
    if op == 0:  # flip/replace a few bytes
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
    elif op == 1:  # a 32-bit word set to an edge value
        if len(data) >= 4:
            at = rng.randrange(len(data) // 4) * 4
            data[at : at + 4] = rng.choice(INTERESTING32).to_bytes(4, "big")
    elif op == 2:  # cut short
        del data[rng.randrange(len(data) + 1) :]
    elif op == 3:  # extended
        data += rng.randbytes(rng.choice([1, 3, 4, 64, 1000]))
    elif op == 4:  # spliced: this record's start, another's end
        other = rng.choice(corpus)[0]
        data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
    elif op == 5:  # a length word inside the body doubled or zeroed
        for _ in range(3):
            if len(data) >= 8:
                at = rng.randrange(2, len(data) // 4) * 4
                n = int.from_bytes(data[at : at + 4], "big")
                if 0 < n < 1 << 20:
                    data[at : at + 4] = rng.choice([0, n * 2, n + 1, n - 1, 0xFFFFFFFF]).to_bytes(4, "big")
                    break
    else:  # random bytes after the first word
        data = data[:4] + rng.randbytes(rng.randrange(0, 200))
    return bytes(data)


def frame(rng: random.Random, record: bytes) -> bytes:
    """Record marking, usually right, sometimes in odd fragments or with a lying length."""
    r = rng.random()
    if r < 0.85 or not record:
        return frame_header(len(record)) + record
    if r < 0.95:  # several fragments
        out, pos = b"", 0
        while pos < len(record):
            n = rng.randrange(0, len(record) - pos + 1)
            last = pos + n >= len(record)
            out += ((0x80000000 if last else 0) | n).to_bytes(4, "big") + record[pos : pos + n]
            pos += n
        return out + (b"" if pos else frame_header(0))
    return (0x80000000 | rng.choice([0, 1, len(record) + 1, 0x7FFFFFFF])).to_bytes(4, "big") + record


def fuzz_cred() -> Any:
    return AuthGlusterfsParamsV3(pid=os.getpid(), lk_owner=lk_owner_for_pid(os.getpid()))


def generated_call(rng: random.Random, gen: Gen, brick: bool, xid: int) -> bytes:
    """A well-formed call of a served (or unknown) procedure with hostile field values."""
    progs = [p for p in all_programs() if (p.prog == fops.GLUSTER_FOP_PROGRAM) == brick or rng.random() < 0.1]
    if rng.random() < 0.03:  # a program nobody serves
        unknown = Call(xid, rng.randrange(1 << 32), rng.randrange(8), rng.randrange(64))
        return RpcConnection(Role.CLIENT).send(unknown)[4:]
    prog = rng.choice(progs)
    proc = rng.choice(list(prog.procs.values()))
    args = None
    if isinstance(proc.args, type):
        args = gen.struct(proc.args)
    payload = rng.randbytes(rng.choice([0, 0, 1, 4096])) if proc.args_payload else b""
    if proc.args_payload and args is not None and hasattr(args, "size"):
        import dataclasses

        args = dataclasses.replace(args, size=len(payload) if rng.random() < 0.8 else rng.choice(INTERESTING32))
    try:
        conn = RpcConnection(Role.CLIENT)
        return conn.send(Call(xid, prog.prog, prog.vers, proc.num, args, cred=fuzz_cred(), payload=payload))[4:]
    except (ValueError, TypeError, OverflowError):
        return b""


def read_streak(rng: random.Random, xid: int) -> tuple[bytes, bytes]:
    """Well-formed calls that make a brick stream READs: a file created (``gfid-req`` from
    ``rng``), 4 KiB written to it and 8-20 plain READs of it in a row (the brick's READ fast
    path; then its connection's reader thread gets the turn, fakegluster/server/brickthread.py),
    and 1-20 more READs, to send once those are answered (the reader thread answers them, and
    the fuzzed records that follow end its turn)."""
    gfid = rng.randbytes(16)
    conn = RpcConnection(Role.CLIENT)
    prog, name = fops.GLUSTER_FOP_PROGRAM, f"fz-streak-{gfid.hex()[:8]}"

    def call(proc: str, args: Any, payload: bytes = b"") -> bytes:
        nonlocal xid
        xid = (xid + 1) & 0x7FFFFFFF
        return conn.send(Call(xid, prog, 400, fops.PROGRAM[proc].num, args, cred=fuzz_cred(), payload=payload))

    def reads(n: int) -> bytes:
        out = b""
        for _ in range(n):
            offset, size = rng.choice([0, 512, 4095]), rng.choice([1, 512, 4096])
            out += call("READ", fops.PROGRAM["READ"].args(gfid, 0, offset, size, 0, None))
        return out

    req = fops.PROGRAM["CREATE"].args
    first = call("CREATE", req(ROOT_GFID, os.O_RDWR | os.O_CREAT, 0o644, 0, name, {"gfid-req": GfxValue.uuid(gfid)}))
    data = rng.randbytes(4096)
    first += call("WRITE", fops.PROGRAM["WRITE"].args(gfid, 0, 0, len(data), 0, None), data)
    first += reads(rng.randrange(8, 21))
    return first, reads(rng.randrange(1, 21))
