#!/usr/bin/env python3
"""Record test vectors for fakegluster/xl/ from a REAL GlusterFS 10.3 (root; glusterd).

    .venv/bin/python tools/record_xl_vectors.py [OUTDIR]     # default fixtures/xl

Creates real volumes with the RealGluster harness, writes through the unmodified glusterfs
FUSE client, and reads what landed on the bricks:

* ``dht_placement.json`` -- distribute 3: for many names (ASCII, UTF-8, bytes >= 0x80, long,
  rsync temp names) the brick each file landed on; for nested directories the
  ``trusted.glusterfs.dht`` value on every brick, with the bricks' STATFS sizes.
* ``ec_fragments.json`` -- disperse 4+2 and 2+1: files of known content and sizes, every
  brick's fragment file (hex) and its ``trusted.ec.*`` xattrs.
* ``afr_changelog.json`` -- replica 3: the ``trusted.afr.*`` xattrs of a file and a directory
  on every brick after a data, a metadata and an entry change made while brick 2 was killed,
  and again after the brick came back and the real self-heal daemon healed them.

Every value in those files was written by the real software; nothing is computed here.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fakegluster.testing.realgluster import RealGluster  # noqa: E402

NAMES = (
    [f"file{i}" for i in range(48)]
    + ["a", "ab", "abc", "abcd", "abcdefghijklmno", "abcdefghijklmnop", "abcdefghijklmnopq"]
    + ["x" * 31, "y" * 32, "z" * 33, "w" * 200]
    + ["é", "日本語のファイル名", "Ünïcödé-ñame.txt", "emoji-🙂"]
    + [".vm.img.Ab12Cd", ".report.pdf.XyZ987", ".x.y", ".nodot", "..z.q"]
)
RAW_NAMES = [b"\xff", b"raw-\x80\x81\xfe", b"\xc3\x28-bad-utf8"]
DIRS = ["/d0", "/d1", "/d2", "/d3", "/d4", "/d5", "/d0/a", "/d0/a/b", "/d1/x", "/top-é", "/d5/deep/er/path"]
EC_SIZES = [1, 511, 512, 2047, 2048, 2049, 5000, 8195]


def _content(size: int, seed: int) -> bytes:
    return bytes(((i * 131 + seed * 7 + (i >> 8)) % 256) for i in range(size))


@contextlib.contextmanager
def fuse(volume: str):
    mnt = tempfile.mkdtemp(prefix="fg-xlrec-")
    subprocess.run(["mount", "-t", "glusterfs", f"127.0.0.1:/{volume}", mnt], check=True, timeout=60)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", mnt], timeout=60, check=False)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", mnt], timeout=60, check=False)
        os.rmdir(mnt)


def _xattrs(path: str, prefix: str) -> dict[str, str]:
    out = {}
    for key in os.listxattr(path):
        if key.startswith(prefix):
            out[key] = os.getxattr(path, key).hex()
    return out


def record_dht(rg: RealGluster) -> dict:
    vol = rg.create_volume(bricks=3)
    with fuse(vol.name) as mnt:
        for d in DIRS:
            os.makedirs(mnt + d, exist_ok=True)
        for n in NAMES:
            with open(os.path.join(mnt, n), "w") as f:
                f.write("x")
        for raw in RAW_NAMES:
            with open(os.path.join(os.fsencode(mnt), raw), "w") as f:
                f.write("x")
    files = []
    for name in [os.fsencode(n) for n in NAMES] + RAW_NAMES:
        where = [i for i, b in enumerate(vol.brick_paths) if os.path.exists(os.path.join(os.fsencode(b), name))]
        assert len(where) == 1, (name, where)
        files.append({"name_hex": name.hex(), "brick": where[0]})
    dirs = []
    for d in ["/", *DIRS]:
        layouts = []
        for b in vol.brick_paths:
            p = b + d
            layouts.append(os.getxattr(p, "trusted.glusterfs.dht").hex())
        dirs.append({"path": d, "layouts": layouts})
    statfs = [{"f_blocks": os.statvfs(b).f_blocks, "f_bsize": os.statvfs(b).f_bsize} for b in vol.brick_paths]
    subvols = [f"{vol.name}-client-{i}" for i in range(len(vol.brick_paths))]
    vol.delete()
    return {"volume": "distribute 3", "subvolumes": subvols, "statfs": statfs, "files": files, "dirs": dirs}


def record_ec(rg: RealGluster, disperse: int, redundancy: int) -> dict:
    vol = rg.create_volume(bricks=disperse, disperse=disperse, redundancy=redundancy)
    with fuse(vol.name) as mnt:
        for seed, size in enumerate(EC_SIZES):
            with open(os.path.join(mnt, f"f{size}"), "wb") as f:
                f.write(_content(size, seed))
        time.sleep(3)  # eager-lock keeps the inode locked ~1 s: its post-op clears trusted.ec.dirty
    files = []
    for seed, size in enumerate(EC_SIZES):
        frags = []
        for b in vol.brick_paths:
            p = os.path.join(b, f"f{size}")
            with open(p, "rb") as f:
                frags.append({"data": f.read().hex(), "xattrs": _xattrs(p, "trusted.ec.")})
        files.append({"size": size, "seed": seed, "fragments": frags})
    vol.delete()
    return {"volume": f"disperse {disperse} redundancy {redundancy}", "files": files}


def _afr_state(vol, paths: list[str]) -> dict[str, list[dict[str, str] | None]]:
    """path -> per brick its trusted.afr.* xattrs (None: not on that brick)."""
    return {
        p: [_xattrs(b + p, "trusted.afr.") if os.path.lexists(b + p) else None for b in vol.brick_paths] for p in paths
    }


def record_afr(rg: RealGluster) -> dict:
    vol = rg.create_volume(bricks=3, replica=3)
    with fuse(vol.name) as mnt:
        with open(mnt + "/f", "wb") as f:
            f.write(b"before")
        os.mkdir(mnt + "/d")
        time.sleep(2)
        vol.kill_brick(2)
        with open(mnt + "/f", "r+b") as f:
            f.write(b"after!")
        os.chmod(mnt + "/f", 0o600)
        with open(mnt + "/d/new", "wb") as f:
            f.write(b"n")
        time.sleep(3)
        down = _afr_state(vol, ["/f", "/d", "/d/new"])
    vol.start_force()
    vol.wait_healed()
    healed = _afr_state(vol, ["/f", "/d", "/d/new"])
    subvols = [f"{vol.name}-client-{i}" for i in range(3)]
    vol.delete()
    return {
        "volume": "replica 3",
        "children": subvols,
        "steps": "brick 2 killed; f written (data) and chmod-ed (metadata); d/new created (entry on d)",
        "brick_down": down,
        "healed": healed,
    }


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "xl")
    os.makedirs(out, exist_ok=True)
    with RealGluster() as rg:
        dht = record_dht(rg)
        with open(os.path.join(out, "dht_placement.json"), "w") as f:
            json.dump(dht, f, indent=1)
        afr = record_afr(rg)
        with open(os.path.join(out, "afr_changelog.json"), "w") as f:
            json.dump(afr, f, indent=1)
        ec = [record_ec(rg, 6, 2), record_ec(rg, 3, 1)]
        with open(os.path.join(out, "ec_fragments.json"), "w") as f:
            json.dump({"content": "byte i = (i*131 + seed*7 + (i>>8)) % 256", "volumes": ec}, f)
    print("recorded into", out)


if __name__ == "__main__":
    main()
