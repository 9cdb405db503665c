"""The fake glusterd + bricks: a thin trio shell around synchronous sessions."""

from .calllog import CallLog, CallRecord, Faults
from .cluster import (
    DEFAULT_LISTEN,
    BrickControl,
    ClusterError,
    FakeGluster,
    NodeControl,
    ServerInfo,
    parse_listen,
    parse_volume,
)
from .heal import BrickHealInfo, HealReport, format_heal_info
from .volspec import VolumeSpec, load_cluster_file, parse_volume_spec

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
