"""The judge of gfclient's ESTALE retry (tests/client/test_estale_retry.py): unmodified libgfapi
10.3 (ctypes, gfapi_open_race.py) opening a file that another client unlinks -- or replaces --
while the OPEN is on its way.  The fake holds that OPEN back (an injected delay on the volume's
brick) and the test unlinks the file meanwhile, so the brick answers the OPEN with ESTALE:
libgfapi resolves the path again (``ESTALE_RETRY`` in glfs_open) and answers ENOENT, or opens
and reads the new file.  gfclient, raced the same way on a volume of its own, must answer alike.

``performance.open-behind`` is off: with it on (the default) libgfapi's glfs_open without
O_TRUNC does not send OPEN at all (open-behind.c ``ob_open_behind``), so there is no race in it.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import gfclient
from fakegluster.server import FakeGluster
from tests.helpers import unavailable

pytestmark = pytest.mark.real
PROGRAM = str(Path(__file__).with_name("gfapi_open_race.py"))
HOLD = 5.0
"""How long the brick holds the OPEN back (seconds): the unlink needs a few milliseconds."""
CASES = [("gfapi", False), ("gfapi", True), ("gfclient", False), ("gfclient", True)]


def _libgfapi(port: int, vol: str, path: str, log: str) -> dict:
    cp = subprocess.run(
        [sys.executable, PROGRAM, "127.0.0.1", str(port), vol, path, str(os.O_RDONLY), log],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cp.returncode == 0, (cp.stdout, cp.stderr[-2000:])
    return json.loads(cp.stdout.strip().splitlines()[-1])


def _gfclient(port: int, vol: str, path: str) -> dict:
    with gfclient.connect(f"gluster://127.0.0.1:{port}/{vol}") as v:
        try:
            f = v.open(path, os.O_RDONLY)
        except OSError as exc:
            return {"open": exc.errno}
        with f:
            return {"open": 0, "read": 0, "data": f.pread(100, 0).decode()}


def test_libgfapi_and_gfclient_open_again_after_estale(tmp_path):
    import ctypes.util

    if not ctypes.util.find_library("gfapi"):
        unavailable("libgfapi.so is not installed")
    vols = [f"{who}{int(replace)}" for who, replace in CASES]
    results: dict[str, dict] = {}
    with FakeGluster([f"{v};performance.open-behind=off" for v in vols], ["tcp://127.0.0.1:0"]) as server:
        port = server.info.port

        def case(vol: str, who: str, replace: bool) -> None:
            with gfclient.connect(f"gluster://127.0.0.1:{port}/{vol}") as w:
                with w.fopen("/f", "w") as f:
                    f.write(b"old")
                held = server.faults.inject("OPEN", delay=HOLD, server=f"brick:{vol}:")
                out: dict = {}
                opener = threading.Thread(
                    target=lambda: out.update(
                        _libgfapi(port, vol, "/f", str(tmp_path / f"{vol}.log"))
                        if who == "gfapi"
                        else _gfclient(port, vol, "/f")
                    )
                )
                opener.start()
                deadline = time.monotonic() + 90
                while not held.rule.fired:  # the OPEN has reached the brick and is held there
                    assert time.monotonic() < deadline and opener.is_alive(), out
                    time.sleep(0.01)
                w.unlink("/f")
                if replace:
                    with w.fopen("/f", "w") as f:
                        f.write(b"new")
                opener.join(120)
                results[vol] = out

        threads = [threading.Thread(target=case, args=(v, *c)) for v, c in zip(vols, CASES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        opens = {}
        for vol in vols:  # what the brick answered the OPENs: ESTALE for the held one
            opens[vol] = [c.result.op_errno for c in server.calls.find("OPEN") if c.server.startswith(f"brick:{vol}:")]
    unlinked = {"open": errno.ENOENT}
    replaced = {"open": 0, "read": 0, "data": "new"}
    assert results == {"gfapi0": unlinked, "gfapi1": replaced, "gfclient0": unlinked, "gfclient1": replaced}
    assert opens == {"gfapi0": [errno.ESTALE], "gfapi1": [errno.ESTALE, 0]} | {
        "gfclient0": [errno.ESTALE],
        "gfclient1": [errno.ESTALE, 0],
    }
