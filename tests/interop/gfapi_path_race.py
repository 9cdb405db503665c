"""A libgfapi program (Python ctypes over libgfapi.so.0) making one path call, for
tests/interop/test_estale_retry_gfapi.py:

    gfapi_path_race.py HOST PORT VOLUME PATH CALL LOG

CALL is ``open`` (glfs_open read-only, then glfs_pread), ``chmod`` (glfs_chmod 0640) or
``setxattr`` (glfs_setxattr ``user.k``).  Prints ``{"ret": errno}`` (0: success; for open also
``"data"``, what the read gave) as one JSON line, then leaves without glfs_fini (its ~10 s wait,
gluster/glusterfs#4329).
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
gf.glfs_chmod.argtypes = [P, ctypes.c_char_p, ctypes.c_uint]
gf.glfs_setxattr.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def call(fs: int, path: bytes, what: str) -> dict[str, object]:
    if what == "open":
        fd = gf.glfs_open(fs, path, os.O_RDONLY)
        if not fd:
            return {"ret": ctypes.get_errno()}
        buf = ctypes.create_string_buffer(100)
        n = gf.glfs_pread(fd, buf, 100, 0, 0, None)
        if n < 0:
            return {"ret": 0, "read": ctypes.get_errno()}
        return {"ret": 0, "data": buf.raw[:n].decode()}
    if what == "chmod":
        ret = gf.glfs_chmod(fs, path, 0o640)
    elif what == "setxattr":
        ret = gf.glfs_setxattr(fs, path, b"user.k", b"v", 1, 0)
    else:
        raise SystemExit(f"unknown call {what}")
    return {"ret": ctypes.get_errno() if ret else 0}


def main() -> None:
    host, port, volume, path, what, log = sys.argv[1:7]
    fs = gf.glfs_new(volume.encode())
    gf.glfs_set_volfile_server(fs, b"tcp", host.encode(), int(port))
    gf.glfs_set_logging(fs, log.encode(), 7)
    if gf.glfs_init(fs) != 0:
        print(json.dumps({"init": ctypes.get_errno()}), flush=True)
        os._exit(1)
    print(json.dumps(call(fs, path.encode(), what)), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
