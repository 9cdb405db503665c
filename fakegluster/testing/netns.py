"""Throw-away network namespaces: a fake glusterd of its own on 127.0.0.1:24007 (which fio's
gfapi engine always dials) next to a real glusterd, and its clients beside it.

    with netns() as ns:
        with FakeGluster(["vm;replica=3"], ["tcp://127.0.0.1:24007"], nodes=3, netns=ns) as server:
            subprocess.run(in_netns(ns, ["fio", "--ioengine=gfapi", "--volume=vm", ...]))

Needs root and ``ip`` (iproute2).  Loopback is brought up; 127.0.0.0/8 is all there, so fake
nodes on 127.0.0.2, 127.0.0.3, ... work inside too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator, Sequence

__all__ = ["netns", "in_netns"]


@contextlib.contextmanager
def netns(prefix: str = "fg") -> Iterator[str]:
    """A new network namespace with loopback up; deleted on the way out."""
    name = f"{prefix}-{os.getpid()}-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_netns(name: str | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run inside namespace ``name`` (unchanged when None).  Through ``nsenter
    --net``, not ``ip netns exec``: the latter also makes a mount namespace of its own, so a
    FUSE mount made inside would not be seen outside."""
    return (["nsenter", f"--net=/var/run/netns/{name}"] if name else []) + list(argv)
