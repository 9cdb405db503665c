"""Which bricks a volume change reaches, as a brick process decides it.

A brick reads its options from its own volfile (mgmt's :func:`~fakegluster.mgmt.volgen_brick.brick_graph`);
after ``volume set``/``reset`` glusterd's FETCHSPEC makes it fetch the volfile again: an unchanged
volfile changes nothing, a changed one is reconfigured in place (``glusterfs_volfile_reconfigure``
-> each translator's ``reconfigure``).  mgmt's :mod:`~fakegluster.mgmt.changes` says which, per brick.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TypeVar

from ..mgmt import model
from ..mgmt.changes import Change, volume_changes

__all__ = ["changed_bricks"]

T = TypeVar("T")


def changed_bricks(vol: model.Volume, change: Callable[[], T]) -> tuple[T, list[int]]:
    """Run ``change()`` (it edits ``vol``'s options) and say which bricks' volfiles changed
    (those a brick process would reconfigure after FETCHSPEC)."""
    before = copy.deepcopy(vol)
    out = change()
    changes = volume_changes(before, vol)
    return out, [i for i, c in enumerate(changes.bricks) if c != Change.NONE]
