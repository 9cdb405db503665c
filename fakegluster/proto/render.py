"""Events as plain JSON-able data: for the capture decoder and the server's call log.

Pure functions, no IO.  Rendering rules: dataclasses become objects of their fields; 16-byte
gfid/uuid fields become UUID strings; other bytes become text when they are printable
UTF-8 (a C string's trailing NUL dropped and noted as ``"\\u0000"``-free text), else
``"hex:..."``; gfx_dict values become ``{"type": NAME, "value": ...}``; payloads become
their length.
"""

from __future__ import annotations

import dataclasses
import enum
import uuid
from typing import Any

from .errors import AcceptStat
from .events import Call, Denied, Reply
from .gfdict import GfxValue
from .programs import lookup
from .rpc import AuthFlavor, OpaqueAuth
from .xdr import Encoded

__all__ = ["to_jsonable", "describe", "program_name", "proc_name"]


def _bytes(b: bytes, key: str = "") -> Any:
    if len(b) == 16 and ("gfid" in key or "uuid" in key or key in ("lease_id", "tid")):
        return str(uuid.UUID(bytes=b))
    text = b[:-1] if b.endswith(b"\0") else b
    try:
        s = text.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + b.hex()
    if s.isprintable() and "\0" not in s:
        return s
    return "hex:" + b.hex()


def to_jsonable(obj: Any, key: str = "") -> Any:
    if obj is None or isinstance(obj, (bool, int, float, str)) and not isinstance(obj, enum.Enum):
        return obj
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, Encoded):
        return to_jsonable(obj.decoded(), key)
    if isinstance(obj, GfxValue):
        if obj.type.name == "GFUUID":
            return {"type": "GFUUID", "value": str(uuid.UUID(bytes=obj.value))}
        return {"type": obj.type.name, "value": to_jsonable(obj.value, key)}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _bytes(bytes(obj), key)
    if dataclasses.is_dataclass(obj):
        return {f.name: to_jsonable(getattr(obj, f.name), f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, key) for v in obj]
    return repr(obj)


def program_name(prog: int | None, vers: int | None) -> str | None:
    if prog is None:
        return None
    program = lookup(prog, vers or 0)
    return program.name if program else f"program-{prog}"


def proc_name(prog: int | None, vers: int | None, proc: int | None) -> str | None:
    if proc is None:
        return None
    program = lookup(prog or 0, vers or 0)
    if program and proc in program.procs:
        return program.procs[proc].name
    return f"proc-{proc}"


def _auth(auth: Any) -> Any:
    if isinstance(auth, OpaqueAuth):
        try:
            flavor: Any = AuthFlavor(auth.flavor).name
        except ValueError:
            flavor = auth.flavor
        return {"flavor": flavor, "body": _bytes(auth.body)} if auth.body else {"flavor": flavor}
    flavor = {
        "AuthGlusterfsParmsV2": "AUTH_GLUSTERFS_v2",
        "AuthGlusterfsParamsV3": "AUTH_GLUSTERFS_v3",
        "AuthGlusterfsParms": "AUTH_GLUSTERFS",
        "AuthsysParms": "AUTH_UNIX",
    }.get(type(auth).__name__)
    out = {"flavor": flavor}
    out.update(to_jsonable(auth))
    return out


def describe(event: Call | Reply | Denied) -> dict[str, Any]:
    """One event as a flat JSON-able record (xid, call/reply, program, procedure, fields)."""
    if isinstance(event, Call):
        return {
            "xid": event.xid,
            "type": "call",
            "program": program_name(event.prog, event.vers),
            "prog": event.prog,
            "vers": event.vers,
            "proc": proc_name(event.prog, event.vers, event.proc),
            "procnum": event.proc,
            "cred": _auth(event.cred),
            "args": to_jsonable(event.args),
            "payload": len(event.payload),
        }
    common = {
        "xid": event.xid,
        "type": "reply" if isinstance(event, Reply) else "denied",
        "program": program_name(event.prog, event.vers),
        "prog": event.prog,
        "vers": event.vers,
        "proc": proc_name(event.prog, event.vers, event.proc),
        "procnum": event.proc,
    }
    if isinstance(event, Denied):
        common.update(
            reject_stat=event.reject_stat.name,
            low=event.low,
            high=event.high,
            auth_stat=event.auth_stat.name,
        )
        return common
    common["stat"] = event.stat.name
    if event.stat == AcceptStat.PROG_MISMATCH:
        common.update(low=event.low, high=event.high)
    common["result"] = to_jsonable(event.result)
    common["payload"] = len(event.payload)
    return common
