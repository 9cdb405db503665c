"""The fake glusterd + bricks: a thin trio shell around synchronous sessions."""

from .calllog import CallLog, CallRecord, Faults
from .cluster import DEFAULT_LISTEN, FakeGluster, ServerInfo, parse_listen, parse_volume

__all__ = [
    "FakeGluster",
    "ServerInfo",
    "CallLog",
    "CallRecord",
    "Faults",
    "DEFAULT_LISTEN",
    "parse_listen",
    "parse_volume",
]
