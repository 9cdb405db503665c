"""A libgfapi program (Python ctypes over libgfapi.so.0) that opens a path and reads it, for
tests/interop/test_estale_retry_gfapi.py:

    gfapi_open_race.py HOST PORT VOLUME PATH FLAGS LOG

Prints ``{"open": errno, "read": errno, "data": text}`` (errno 0: success; no "read" when the open
failed) as one JSON line, then leaves without glfs_fini (its ~10 s wait, gluster/glusterfs#4329).
"""

from __future__ import annotations

import ctypes
import json
import os
import sys

gf = ctypes.CDLL("libgfapi.so.0", use_errno=True)
P = ctypes.c_void_p
gf.glfs_new.restype = P
gf.glfs_new.argtypes = [ctypes.c_char_p]
gf.glfs_set_volfile_server.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
gf.glfs_set_logging.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
gf.glfs_init.argtypes = [P]
gf.glfs_open.restype = P
gf.glfs_open.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
gf.glfs_pread.restype = ctypes.c_ssize_t
gf.glfs_pread.argtypes = [P, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_int, P]


def main() -> None:
    host, port, volume, path, flags, log = sys.argv[1:7]
    fs = gf.glfs_new(volume.encode())
    gf.glfs_set_volfile_server(fs, b"tcp", host.encode(), int(port))
    gf.glfs_set_logging(fs, log.encode(), 7)
    if gf.glfs_init(fs) != 0:
        print(json.dumps({"init": ctypes.get_errno()}), flush=True)
        os._exit(1)
    out: dict[str, object] = {}
    fd = gf.glfs_open(fs, path.encode(), int(flags))
    out["open"] = 0 if fd else ctypes.get_errno()
    if fd:
        buf = ctypes.create_string_buffer(100)
        n = gf.glfs_pread(fd, buf, 100, 0, 0, None)
        out["read"] = 0 if n >= 0 else ctypes.get_errno()
        out["data"] = buf.raw[: max(n, 0)].decode()
    print(json.dumps(out), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
