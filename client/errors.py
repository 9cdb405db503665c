"""gfclient's exceptions: every one is an :class:`OSError`.

* A FOP that the brick answers with ``op_ret -1`` raises a plain ``OSError(errno, strerror,
  path)`` built by :func:`fop_error`; Python turns it into the matching subclass
  (``FileNotFoundError`` for ENOENT, ``FileExistsError`` for EEXIST, ...).
* :class:`GlusterConnectionError` (a :class:`ConnectionError`): a server could not be reached,
  stopped answering, or the handshake failed.  Its message names the server like QEMU's
  hints do (``failed on host H and port N`` / ``failed on socket S``).
* :class:`RpcError`: the peer refused a call at the RPC level (PROG_UNAVAIL, PROC_UNAVAIL,
  GARBAGE_ARGS, MSG_DENIED ...) or sent a reply that cannot be decoded.
"""

from __future__ import annotations

import errno as _errno
import os

from fakegluster.proto.errors import AcceptStat, RejectStat
from fakegluster.proto.events import Denied, Reply
from fakegluster.proto.programs import lookup

__all__ = [
    "GlusterConnectionError",
    "RpcError",
    "UnsupportedVolumeError",
    "fop_error",
    "where",
    "rpc_refusal",
    "describe_call",
]


def where(host: str | None, port: int | None, socket: str | None = None) -> str:
    """QEMU's hint text for one server: ``host H and port N`` or ``socket S``."""
    if socket is not None:
        return f"socket {socket}"
    return f"host {host} and port {port}"


class GlusterConnectionError(ConnectionError):
    """A connection to glusterd or a brick failed, broke, or timed out.

    ``errno`` is ECONNREFUSED, ENOTCONN, ETIMEDOUT, EHOSTUNREACH ... ; the message says which
    server failed (``... failed on host H and port N``).
    """

    def __init__(self, err: int, message: str) -> None:
        super().__init__(err, message)


class RpcError(OSError):
    """The peer refused a call at the RPC level, or its reply could not be decoded.

    ``errno`` is EOPNOTSUPP for PROG_UNAVAIL / PROG_MISMATCH / PROC_UNAVAIL (the server does
    not implement the procedure), EACCES for MSG_DENIED/AUTH_ERROR and EPROTO otherwise;
    ``stat`` is the RPC status name (``"PROC_UNAVAIL"``, ``"AUTH_ERROR"``, ``"UNDECODABLE"``...).
    """

    def __init__(self, err: int, message: str, stat: str) -> None:
        super().__init__(err, message)
        self.stat = stat


def fop_error(op_errno: int, path: str | None = None, what: str | None = None) -> OSError:
    """The ``OSError`` for a failed FOP: ``OSError(errno, strerror, path)``.

    GlusterFS error numbers are Linux errno values (``gf_errno_to_error`` is the identity on
    Linux).  A zero/unknown errno becomes EIO.
    """
    err = op_errno if op_errno > 0 else _errno.EIO
    text = os.strerror(err)
    if what:
        text = f"{text} ({what})"
    if path is None:
        return OSError(err, text)
    return OSError(err, text, path)


class UnsupportedVolumeError(OSError):
    """The volume's graph is one gfclient cannot drive yet (errno EOPNOTSUPP), e.g. a
    distribute volume over several bricks."""

    def __init__(self, message: str) -> None:
        super().__init__(_errno.EOPNOTSUPP, message)


def rpc_refusal(ev: Reply | Denied, what: str) -> RpcError:
    """The :class:`RpcError` for a reply that refused a call (denied, or not SUCCESS)."""
    if isinstance(ev, Denied):
        if ev.reject_stat == RejectStat.AUTH_ERROR:
            return RpcError(_errno.EACCES, f"{what}: call denied, AUTH_ERROR ({ev.auth_stat.name})", "AUTH_ERROR")
        return RpcError(_errno.EPROTO, f"{what}: call denied, RPC_MISMATCH ({ev.low}..{ev.high})", "RPC_MISMATCH")
    stat = ev.stat
    if stat in (AcceptStat.PROG_UNAVAIL, AcceptStat.PROC_UNAVAIL, AcceptStat.PROG_MISMATCH):
        extra = f" (server has versions {ev.low}..{ev.high})" if stat == AcceptStat.PROG_MISMATCH else ""
        return RpcError(_errno.EOPNOTSUPP, f"{what}: {stat.name}{extra}", stat.name)
    return RpcError(_errno.EPROTO, f"{what}: {stat.name}", stat.name)


def describe_call(prog: int, vers: int, proc: int) -> str:
    """A call's program and procedure by name, for messages ("GlusterFS 4.x v1 READ")."""
    program = lookup(prog, vers)
    if program is None:
        return f"program {prog} v{vers} procedure {proc}"
    p = program.procs.get(proc)
    return f"{program.name} {p.name if p else f'procedure {proc}'}"
