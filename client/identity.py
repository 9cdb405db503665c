"""Who a call is made for (:class:`Identity`, the AUTH_GLUSTERFS credential fields, with a
cached encoding), and the xid source of one rpc client (:class:`XidCounter`)."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from fakegluster.proto.rpc import AuthGlusterfsParamsV3, AuthGlusterfsParmsV2, OpaqueAuth, encode_auth, lk_owner_for_pid

__all__ = ["Identity", "INTERNAL", "XidCounter"]


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who a call is made for: the AUTH_GLUSTERFS credential fields.

    ``flags``/``ctime_ns`` are the features/utime fields of the v3 credential (0 when the
    FOP does not go through utime).  ``lk_owner`` defaults to the little-endian pid.
    """

    pid: int = 0
    uid: int = 0
    gid: int = 0
    groups: tuple[int, ...] = ()
    lk_owner: bytes | None = None
    flags: int = 0
    ctime_ns: int = 0

    def credential(self, v3: bool) -> Any:
        owner = self.lk_owner if self.lk_owner is not None else lk_owner_for_pid(self.pid)
        if v3:
            sec, nsec = divmod(self.ctime_ns, 1_000_000_000)
            return AuthGlusterfsParamsV3(self.pid, self.uid, self.gid, self.flags, nsec, sec, tuple(self.groups), owner)
        return AuthGlusterfsParmsV2(self.pid, self.uid, self.gid, tuple(self.groups), owner)

    def opaque_auth(self, v3: bool) -> Any:
        """:meth:`credential` already encoded (the ``OpaqueAuth`` a call header carries).

        The hot path: the encoding of everything but the v3 ctime is cached per identity,
        split around the ctime fields of the schema's own encoding, so the bytes are the
        encoder's."""
        key = (v3, self.pid, self.uid, self.gid, self.groups, self.lk_owner, self.flags)
        cached = _AUTH_CACHE.get(key)
        if cached is None:
            if len(_AUTH_CACHE) >= 1024:
                _AUTH_CACHE.clear()
            plain = dataclasses.replace(self, ctime_ns=0)
            whole = encode_auth(plain.credential(v3))
            cached = (whole, None, None) if not v3 else (whole.flavor, whole.body[:16], whole.body[28:])
            probe = dataclasses.replace(self, ctime_ns=0x0102030405060708090A)
            assert _glue(cached, probe.ctime_ns) == encode_auth(probe.credential(v3)), "credential layout"
            _AUTH_CACHE[key] = cached
        return _glue(cached, self.ctime_ns)


_AUTH_CACHE: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}
_CTIME = struct.Struct(">IQ")  # ctime_nsec, ctime_sec: bytes 16..28 of the v3 credential


def _glue(cached: tuple[Any, Any, Any], ctime_ns: int) -> Any:
    flavor, head, tail = cached
    if head is None:
        return flavor  # v2: the whole OpaqueAuth, nothing varies
    sec, nsec = divmod(ctime_ns, 1_000_000_000)
    return OpaqueAuth(flavor, head + _CTIME.pack(nsec, sec) + tail)


#: Frames the client makes itself (DUMP, PING, SETVOLUME, RELEASE...): pid/uid/gid 0.
INTERNAL = Identity()


class XidCounter:
    """The xid source of one rpc client: pre-increment from 1, so the first xid is 2."""

    def __init__(self, last: int = 1) -> None:
        self.last = last

    def next(self) -> int:
        self.last = (self.last + 1) & 0xFFFFFFFF
        return self.last
