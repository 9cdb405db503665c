#!/usr/bin/env python3
"""Read glusterd 10.3's option tables out of the INSTALLED GlusterFS binaries.

``gluster volume set`` knows its keys from ``glusterd_volopt_map`` (``glusterd-volume-set.c``,
compiled into ``xlator/mgmt/glusterd.so``) and validates values against each translator's own
``volume_option_t`` table (``xlator_api.options`` of every ``xlator/*/*.so``).  This tool loads
those shared objects with ctypes (nothing of them runs but their constructors), walks the tables
in memory and writes them to ``fakegluster/mgmt/optiontable.json``, which
:mod:`fakegluster.mgmt.options` reads, together with the option groups the package installs in
``/var/lib/glusterd/groups`` (``volume set V group virt``).  So the table is the real one, not our reading of the C.

* ``glusterd_volopt_map`` is not an exported symbol: it is found as the array of 64-byte
  ``struct volopt_map_entry`` whose first ``key`` points at the string
  ``"cluster.lookup-unhashed"`` (its first entry in v10.3), and walked to the NULL key.
* Struct layouts are those of v10.3 (``glusterd-volgen.h``: ``struct volopt_map_entry``;
  ``libglusterfs/src/glusterfs/options.h``: ``volume_option_t``, 1152 bytes on x86-64;
  ``xlator.h``: ``xlator_api_t``).

Usage: ``python3 tools/record_options.py [--libdir /usr/lib/x86_64-linux-gnu/glusterfs/10.3]
[--out fakegluster/mgmt/optiontable.json]`` (any user; needs the glusterfs-server package).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

LIBDIR = "/usr/lib/x86_64-linux-gnu/glusterfs/10.3"
RTLD = os.RTLD_LAZY | os.RTLD_GLOBAL
VOLOPT_ENTRY = struct.Struct("<4QiIIxxxxQQ")  # key voltype option value type flags op_version desc validate_fn
VOLOPT_TYPES = ("DOC", "NO_DOC", "GLOBAL_DOC", "GLOBAL_NO_DOC")
OPTION_TYPES = (
    "ANY",
    "STR",
    "INT",
    "SIZET",
    "PERCENT",
    "PERCENT_OR_SIZET",
    "BOOL",
    "XLATOR",
    "PATH",
    "TIME",
    "DOUBLE",
    "INTERNET_ADDRESS",
    "INTERNET_ADDRESS_LIST",
    "PRIORITY_LIST",
    "SIZE_LIST",
    "CLIENT_AUTH_ADDR",
)
VOLUME_OPTION_SIZE = 1152


def cstr(p: int) -> str | None:
    return ctypes.string_at(p).decode("utf-8", "replace") if p else None


def unpack(addr: int, fmt: str) -> tuple:
    return struct.unpack(fmt, ctypes.string_at(addr, struct.calcsize(fmt)))


def read_volume_options(p: int) -> list[dict]:
    """A NULL-key-terminated ``volume_option_t`` array."""
    out = []
    while p:
        keys = [cstr(k) for k in unpack(p, "<4Q") if k]
        if not keys:
            break
        (typ,) = unpack(p + 32, "<i")
        mn, mx = unpack(p + 40, "<dd")
        values = [cstr(v) for v in unpack(p + 56, "<64Q") if v]
        dflt, desc = unpack(p + 568, "<QQ")
        (validate,) = unpack(p + 584, "<i")
        op_version = [v for v in unpack(p + 588, "<4I") if v]
        deprecated = [v for v in unpack(p + 604, "<4I") if v]
        (flags,) = unpack(p + 620, "<I")
        tags = [cstr(t) for t in unpack(p + 624, "<64Q") if t]
        (setkey,) = unpack(p + 1136, "<Q")
        level, category = unpack(p + 1144, "<ii")
        out.append(
            {
                "keys": keys,
                "type": OPTION_TYPES[typ],
                "min": mn,
                "max": mx,
                "values": values,
                "default": cstr(dflt),
                "description": cstr(desc),
                "validate": ("BOTH", "MIN", "MAX")[validate],
                "op_version": op_version,
                "deprecated": deprecated,
                "flags": flags,
                "tags": tags,
                "setkey": cstr(setkey),
                "level": level,
                "category": category,
            }
        )
        p += VOLUME_OPTION_SIZE
    return out


def read_xlator(path: str) -> dict:
    lib = ctypes.CDLL(path, mode=RTLD)
    api = ctypes.addressof(ctypes.c_char.in_dll(lib, "xlator_api"))
    op_version = [v for v in unpack(api, "<4I") if v]
    flags, xlator_id, ident, options = unpack(api + 16, "<IIQQ")
    return {
        "identifier": cstr(ident),
        "op_version": op_version,
        "flags": flags,
        "options": read_volume_options(options),
    }


def mapped(path: str) -> list[tuple[int, bytes]]:
    """The readable mappings of a loaded shared object, as (address, bytes)."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == path and parts[1].startswith("r"):
                a, b = (int(x, 16) for x in parts[0].split("-"))
                out.append((a, ctypes.string_at(a, b - a)))
    return out


def read_volopt_map(glusterd_so: str) -> list[dict]:
    ctypes.CDLL(glusterd_so, mode=RTLD)
    blobs = mapped(os.path.realpath(glusterd_so))
    first = b"\0cluster.lookup-unhashed\0"
    saddr = next(a + blob.find(first) + 1 for a, blob in blobs if blob.find(first) >= 0)
    needle = struct.pack("<Q", saddr)
    starts: list[int] = []
    for a, blob in blobs:
        i = blob.find(needle)
        while i >= 0 and i % 8:
            i = blob.find(needle, i + 1)
        if i >= 0:
            starts.append(a + i)
    if len(starts) != 1:
        raise SystemExit(f"glusterd_volopt_map: expected one array start, found {len(starts)}")
    p, out = starts[0], []
    while True:
        key, voltype, option, value, typ, flags, opv, desc, fn = VOLOPT_ENTRY.unpack(ctypes.string_at(p, 64))
        if not key:
            break
        out.append(
            {
                "key": cstr(key),
                "voltype": cstr(voltype),
                "option": cstr(option),
                "value": cstr(value),
                "type": VOLOPT_TYPES[typ],
                "flags": flags,
                "op_version": opv,
                "description": cstr(desc),
                "validate_fn": bool(fn),
            }
        )
        p += VOLOPT_ENTRY.size
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--libdir", default=LIBDIR)
    ap.add_argument("--groups", default="/var/lib/glusterd/groups", help="the option groups of 'volume set V group G'")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fakegluster/mgmt/optiontable.json"))
    args = ap.parse_args()
    ctypes.CDLL("libglusterfs.so.0", mode=RTLD)
    xldir = Path(args.libdir) / "xlator"
    xlators = {}
    for so in sorted(xldir.glob("*/*.so")) + sorted(xldir.glob("*.so")):
        name = str(so.relative_to(xldir))[: -len(".so")]
        if so.is_symlink():
            xlators[name] = {"alias": str(so.resolve().relative_to(xldir))[: -len(".so")]}
            continue
        xlators[name] = read_xlator(str(so))
    for so in sorted((Path(args.libdir) / "rpc-transport").glob("*.so")):
        # rpc transports export a bare "options" table (xlator_volopt_dynload's XLATORPARENTDIR case)
        lib = ctypes.CDLL(str(so), mode=RTLD)
        addr = ctypes.addressof(ctypes.c_char.in_dll(lib, "options"))
        xlators[f"rpc-transport/{so.stem}"] = {"identifier": so.stem, "op_version": [], "flags": 0,
                                               "options": read_volume_options(addr)}  # fmt: skip
    version = subprocess.run(["glusterd", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    groups = {}
    for f in sorted(Path(args.groups).iterdir()):
        lines = [ln.strip() for ln in f.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        groups[f.name] = [ln.split("=", 1) for ln in lines]
    table = {
        "source": f"{version}; {args.libdir} (tools/record_options.py)",
        "volopt_map": read_volopt_map(str(xldir / "mgmt/glusterd.so")),
        "xlators": xlators,
        "groups": groups,
    }
    Path(args.out).write_text(json.dumps(table, indent=0, sort_keys=False) + "\n")
    print(f"wrote {args.out}: {len(table['volopt_map'])} volume options, {len(xlators)} xlators", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
