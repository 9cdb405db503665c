"""gfclient keeps using a file another client unlinked (or renamed another file over) while it
holds it open: POSIX semantics, which a real 10.3 brick keeps (posix_unlink moves the open
file's gfid handle to ``.glusterfs/unlink`` until posix_release).  The same outcomes on a real
volume and the fake (memory and directory stores), one brick and replicated.

(Disperse is left out: gfclient's EC answers ENOENT on such an fd, real and fake alike.)
"""

from __future__ import annotations

import os
import uuid

import pytest

from tests.targets import FAKE_CLUSTER_KINDS, REAL_CLUSTER_KINDS

KINDS = [k for k in FAKE_CLUSTER_KINDS + REAL_CLUSTER_KINDS if not k.endswith("disperse")]
pytestmark = pytest.mark.targets("fake", "fake-subprocess", "real", *KINDS)


def outcome(fn, *args):
    """What a call gives: its value, or the errno it raised."""
    try:
        return fn(*args)
    except OSError as e:
        return ("errno", e.errno)


def test_an_open_file_outlives_its_unlink(target):
    path = f"/ou-{uuid.uuid4().hex[:8]}"
    with target.connect() as v, target.connect() as w:
        with v.open(path, os.O_CREAT | os.O_WRONLY, 0o644) as f:
            f.write(b"hello")
        g = w.open(path, os.O_RDWR)
        assert g.pread(5, 0) == b"hello"
        v.unlink(path)
        assert not w.exists(path)
        got = [
            outcome(g.pread, 100, 0),
            outcome(lambda: (g.fstat().st_size, g.fstat().st_nlink)),
            outcome(g.pwrite, b"XY", 5),
            outcome(g.pread, 100, 0),
            outcome(g.truncate, 3),
            outcome(lambda: g.fstat().st_size),
            outcome(g.fsync),
            outcome(g.pread, 100, 0),
        ]
        assert got == [b"hello", (5, 0), 2, b"helloXY", 3, 3, None, b"hel"]
        g.close()
        assert not w.exists(path) and not v.exists(path)


def test_an_open_file_outlives_a_rename_over_it(target):
    top = f"/or-{uuid.uuid4().hex[:8]}"
    with target.connect() as v, target.connect() as w:
        v.mkdir(top)
        for name in ("old", "new"):
            with v.open(f"{top}/{name}", os.O_CREAT | os.O_WRONLY, 0o644) as f:
                f.write(name.encode())
        g = w.open(f"{top}/old", os.O_RDWR)
        v.rename(f"{top}/new", f"{top}/old")
        got = [outcome(g.pread, 100, 0), outcome(g.pwrite, b"OLD", 0), outcome(g.pread, 100, 0)]
        assert got == [b"old", 3, b"OLD"]
        g.close()
        with w.open(f"{top}/old") as f:
            assert f.read() == b"new"
        assert sorted(w.listdir(top)) == ["old"]
