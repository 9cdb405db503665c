"""The clients the suite can drive (:mod:`.base` is the interface).

``gfclient`` (in-process), ``libgfapi`` (ctypes over libgfapi.so.0 in an agent process),
``qemu`` (qemu-io), ``fuse`` (the glusterfs FUSE client and plain syscalls), and
``agent:COMMAND`` for any client that speaks the agent protocol (:mod:`.agent`).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

from .base import Driver

__all__ = ["DRIVERS", "get_driver", "Driver"]


def _gfclient() -> Driver:
    from .gfclient import GfclientDriver

    return GfclientDriver()


def _libgfapi() -> Driver:
    from .agent import GfapiDriver

    return GfapiDriver()


def _qemu() -> Driver:
    from .qemu import QemuDriver

    return QemuDriver()


def _fuse() -> Driver:
    from .fuse import FuseDriver

    return FuseDriver()


#: name -> factory of the built-in drivers
DRIVERS: dict[str, Callable[[], Driver]] = {
    "gfclient": _gfclient,
    "libgfapi": _libgfapi,
    "qemu": _qemu,
    "fuse": _fuse,
}


def get_driver(spec: str) -> Driver:
    """A driver by name, or ``agent:COMMAND ARGS...`` (a program speaking the agent protocol)."""
    if spec.startswith("agent:"):
        from .agent import AgentDriver

        argv = shlex.split(spec[len("agent:") :])
        if not argv:
            raise ValueError("agent: needs a command (agent:'/path/to/agent --flag')")
        return AgentDriver(argv)
    try:
        factory = DRIVERS[spec]
    except KeyError:
        raise ValueError(f"unknown client {spec!r}: one of {', '.join(DRIVERS)} or agent:COMMAND") from None
    return factory()
