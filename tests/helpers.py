"""Small helpers shared by tests (not fixtures)."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str) -> str:
    """The path of a real peer's binary.  Missing: a FAILURE under CI=true, a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (make test installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the real peer: {reason}", pytrace=False)
        pytest.skip(reason)
    return path
