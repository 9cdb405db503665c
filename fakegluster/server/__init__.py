"""The fake glusterd + bricks: a thin trio shell around synchronous sessions.

The names below are imported on first use (PEP 562): ``fakegluster serve`` imports
:mod:`.listen` (trio-free) to bind its listeners before trio and the server are imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calllog import CallLog, CallRecord, Faults
    from .cluster import (
        BrickControl,
        ClusterError,
        FakeGluster,
        NodeControl,
        ServerInfo,
        parse_listen,
        parse_volume,
    )
    from .heal import BrickHealInfo, HealReport, format_heal_info
    from .listen import DEFAULT_LISTEN
    from .volspec import VolumeSpec, load_cluster_file, parse_volume_spec

_WHERE = {
    "CallLog": "calllog",
    "CallRecord": "calllog",
    "Faults": "calllog",
    "FakeGluster": "cluster",
    "ServerInfo": "cluster",
    "BrickControl": "cluster",
    "NodeControl": "cluster",
    "ClusterError": "cluster",
    "parse_listen": "cluster",
    "parse_volume": "cluster",
    "HealReport": "heal",
    "BrickHealInfo": "heal",
    "format_heal_info": "heal",
    "DEFAULT_LISTEN": "listen",
    "VolumeSpec": "volspec",
    "load_cluster_file": "volspec",
    "parse_volume_spec": "volspec",
}

__all__ = [
    "FakeGluster",
    "ServerInfo",
    "BrickControl",
    "NodeControl",
    "ClusterError",
    "VolumeSpec",
    "HealReport",
    "BrickHealInfo",
    "format_heal_info",
    "parse_volume_spec",
    "load_cluster_file",
    "CallLog",
    "CallRecord",
    "Faults",
    "DEFAULT_LISTEN",
    "parse_listen",
    "parse_volume",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
