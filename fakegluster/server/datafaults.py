"""Data faults of one brick (its disk and its network), for tests of what client translators
do when a single brick misbehaves: AFR and EC must notice, heal, or at least not lose data.

    brick = server.bricks("vol")[1]
    brick.faults.disk_full(after=1 << 20)        # ENOSPC once 1 MiB more was written
    brick.faults.slow(0.05)                      # every FOP answered 50 ms late
    brick.faults.slow(0.2, procs=["WRITE"])      # ... or only some
    brick.faults.partition("gfapi.qemu-io")      # that client can no longer reach this brick
    brick.faults.stale()                         # writes acknowledged, never stored
    brick.faults.clear()

A client is named by a part of its SETVOLUME ``process-name`` (``fuse``, ``gfapi.qemu-img``,
``glustershd``...) or ``process-uuid``.  A partitioned client's connections to the brick are
closed and every new one is closed at its first call, so it sees the brick down (ENOTCONN)
while the others carry on.  A full disk fails WRITE, FALLOCATE and ZEROFILL with ENOSPC (a
write that only partly fits is short, as write(2) is) and STATFS reports the space left.
A stale brick answers WRITE, (F)TRUNCATE, FALLOCATE, DISCARD and ZEROFILL as done with the
file unchanged — its changelogs (XATTROP) still go through, so nothing tells the replica set.
(Brick lifecycle faults — stop, kill, freeze — are the cluster's: ``BrickControl``.)
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["DataFaults", "STALE_PROCS", "parse_brick_fault"]

#: the FOPs a stale brick acknowledges without doing them
STALE_PROCS = frozenset({"WRITE", "TRUNCATE", "FTRUNCATE", "FALLOCATE", "DISCARD", "ZEROFILL"})


class DataFaults:
    """The data faults of one brick (set from any thread; the brick reads them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.space: int | None = None
        self.delays: dict[str, float] = {}
        self.partitioned: list[str] = []
        self.stale_writes = False
        #: called (in the server's thread) when a partition starts, to cut live connections
        self.on_partition: Any = None

    @property
    def active(self) -> bool:
        return bool(self.space is not None or self.delays or self.partitioned or self.stale_writes)

    # ---- setting them ---------------------------------------------------------------------
    def disk_full(self, after: int = 0) -> None:
        """The disk fills up once ``after`` more bytes of data were written."""
        self.space = max(0, int(after))

    def slow(self, delay: float, procs: Iterable[str] | None = None) -> None:
        """Answer every FOP (or those named) ``delay`` seconds late; 0 ends it."""
        with self._lock:
            for p in [p.upper() for p in procs] if procs else ["*"]:
                if delay:
                    self.delays[p] = float(delay)
                else:
                    self.delays.pop(p, None)

    def partition(self, client: str) -> None:
        """Cut the brick off from the client(s) whose process-name or process-uuid contains
        ``client``."""
        with self._lock:
            self.partitioned.append(client)
        if self.on_partition is not None:
            self.on_partition()

    def reconnect(self, client: str | None = None) -> None:
        """End a partition (all of them when ``client`` is None)."""
        with self._lock:
            self.partitioned = [] if client is None else [p for p in self.partitioned if p != client]

    def stale(self, on: bool = True) -> None:
        """Acknowledge data changes without making them (a replica silently left behind)."""
        self.stale_writes = on

    def clear(self) -> None:
        with self._lock:
            self.space, self.delays, self.partitioned, self.stale_writes = None, {}, [], False

    def apply(self, fault: str) -> None:
        """One fault in the words of ``fakegluster serve --brick-fault`` (see
        :func:`parse_brick_fault`): ``disk-full=BYTES``, ``slow=SECONDS[@PROC,PROC]``,
        ``partition=CLIENT``, ``stale``."""
        kind, eq, arg = fault.partition("=")
        try:
            if kind == "disk-full" and eq:
                self.disk_full(int(arg))
            elif kind == "slow" and eq:
                delay, _, procs = arg.partition("@")
                self.slow(float(delay), [p for p in procs.split(",") if p] or None)
            elif kind == "partition" and arg:
                self.partition(arg)
            elif kind == "stale" and not eq:
                self.stale()
            else:
                raise ValueError
        except ValueError:
            kinds = "disk-full=BYTES, slow=SECONDS[@PROC,...], partition=CLIENT or stale"
            raise ValueError(f"bad brick fault {fault!r}: expected {kinds}") from None

    # ---- the brick's side ---------------------------------------------------------------------
    def delay_for(self, proc: str) -> float:
        if not self.delays:
            return 0.0
        return self.delays.get(proc, self.delays.get("*", 0.0))

    def cuts(self, session: Any) -> bool:
        """Whether ``session``'s client is partitioned from the brick."""
        if not self.partitioned:
            return False
        names = (getattr(session, "client_name", None) or "", getattr(session, "client_uid", None) or "")
        return any(p in n for p in self.partitioned for n in names if n)

    def take(self, wanted: int) -> int:
        """Bytes of a write of ``wanted`` bytes that still fit (ENOSPC when none do)."""
        if self.space is None:
            return wanted
        with self._lock:
            n = min(wanted, self.space)
            if wanted and not n:
                raise OSError(errno.ENOSPC, "no space left on the brick (fault)")
            self.space -= n
            return n


def parse_brick_fault(text: str) -> tuple[str, int, str]:
    """``VOLUME:BRICK:FAULT`` (``fakegluster serve --brick-fault``) -> (volume, brick index,
    fault), the fault checked by a throw-away :meth:`DataFaults.apply` (ValueError)."""
    volume, _, rest = text.partition(":")
    index, _, fault = rest.partition(":")
    if not volume or not index.isdigit() or not fault:
        raise ValueError(f"bad --brick-fault {text!r}: expected VOLUME:BRICK:FAULT, e.g. vm:1:disk-full=1048576")
    DataFaults().apply(fault)
    return volume, int(index), fault
