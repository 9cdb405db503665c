"""Small helpers shared by tests (not fixtures).

Whatever a test needs from the machine (a real peer, a tool, root, /dev/fuse) goes through
:func:`unavailable`: missing, it is a FAILURE under ``CI=true`` (CI has everything, so a
skip there would hide a broken setup) and a skip elsewhere.  No test skips on its own.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def unavailable(reason: str) -> NoReturn:
    """A missing real peer (tool, privilege, device): a FAILURE under CI=true, a skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires the real peer: {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of a real peer's binary (:func:`unavailable` if missing)."""
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} is not installed (make test installs it as root)")
    return path


def require_root(what: str) -> None:
    """``what`` needs root (:func:`unavailable` otherwise)."""
    if os.geteuid() != 0:
        unavailable(f"{what} needs root")


def known_difference(code: str) -> pytest.MarkDecorator:
    """Mark a test that asserts what a real GlusterFS does where the fake is known to differ
    (``code`` in fakegluster/differences.py; an unknown code fails at import).  On the fake
    targets (every kind but ``real``, or always for a test without ``target``) it is a strict
    xfail: when the fake gets it right, the test fails until the registry entry goes."""
    from fakegluster import differences

    differences.get(code)
    return pytest.mark.known_difference(code)
