"""A libgfapi program (Python ctypes over libgfapi.so.0 and libacl.so.1, no headers needed)
that exercises brick semantics the way applications do, and prints what it saw as JSON:

    gfapi_semantics.py locks  HOST PORT VOLUME   posix locks across two lock owners
    gfapi_semantics.py upcall HOST PORT VOLUME   glfs_upcall_register + a change by another client
    gfapi_semantics.py acl    HOST PORT VOLUME   glfs_h_acl_set / glfs_h_acl_get

tests/interop/test_gfapi_semantics.py runs it against the fake and a real volume and compares.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import struct
import sys
import threading
import time
import uuid

gf = ctypes.CDLL("libgfapi.so.0", use_errno=True)
acl = ctypes.CDLL("libacl.so.1", use_errno=True)
P = ctypes.c_void_p
gf.glfs_new.restype = P
gf.glfs_new.argtypes = [ctypes.c_char_p]
gf.glfs_set_volfile_server.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
gf.glfs_set_logging.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
gf.glfs_init.argtypes = [P]
gf.glfs_fini.argtypes = [P]
gf.glfs_creat.restype = P
gf.glfs_creat.argtypes = [P, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
gf.glfs_open.restype = P
gf.glfs_open.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
gf.glfs_close.argtypes = [P]
gf.glfs_write.restype = ctypes.c_ssize_t
gf.glfs_write.argtypes = [P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
gf.glfs_fsync.argtypes = [P, P, P]
gf.glfs_posix_lock.argtypes = [P, ctypes.c_int, ctypes.c_char_p]
gf.glfs_fd_set_lkowner.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
gf.glfs_stat.argtypes = [P, ctypes.c_char_p, ctypes.c_char_p]
gf.glfs_mkdir.argtypes = [P, ctypes.c_char_p, ctypes.c_uint]
gf.glfs_h_lookupat.restype = P
gf.glfs_h_lookupat.argtypes = [P, P, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
gf.glfs_h_close.argtypes = [P]
gf.glfs_h_acl_set.argtypes = [P, P, ctypes.c_int, P]
gf.glfs_h_acl_get.restype = P
gf.glfs_h_acl_get.argtypes = [P, P, ctypes.c_int]
gf.glfs_h_extract_handle.argtypes = [P, ctypes.c_char_p, ctypes.c_int]
gf.glfs_upcall_get_reason.argtypes = [P]
gf.glfs_upcall_get_event.restype = P
gf.glfs_upcall_get_event.argtypes = [P]
gf.glfs_upcall_inode_get_flags.argtypes = [P]
gf.glfs_upcall_inode_get_object.restype = P
gf.glfs_upcall_inode_get_object.argtypes = [P]
gf.glfs_free.argtypes = [P]
acl.acl_from_text.restype = P
acl.acl_from_text.argtypes = [ctypes.c_char_p]
acl.acl_to_any_text.restype = P
acl.acl_to_any_text.argtypes = [P, ctypes.c_char_p, ctypes.c_char, ctypes.c_int]
acl.acl_free.argtypes = [P]
UPCALL_CBK = ctypes.CFUNCTYPE(None, P, P)
gf.glfs_upcall_register.argtypes = [P, ctypes.c_uint32, UPCALL_CBK, P]

O_RDWR, O_CREAT = os.O_RDWR, os.O_CREAT
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
FLOCK = "hh4xqqi4x"  # struct flock on x86_64
ACL_TYPE_ACCESS, ACL_TYPE_DEFAULT = 0x8000, 0x4000
TEXT_ABBREVIATE, TEXT_NUMERIC_IDS = 0x10, 0x08


def mount(host: str, port: int, volume: str) -> int:
    fs = gf.glfs_new(volume.encode())
    gf.glfs_set_volfile_server(fs, b"tcp", host.encode(), port)
    gf.glfs_set_logging(fs, b"/dev/null", 7)
    if gf.glfs_init(fs) != 0:
        raise OSError(ctypes.get_errno(), "glfs_init")
    return fs


def lock(fd: int, cmd: int, type_: int, start: int = 0, length: int = 0) -> tuple[int, int, list[int]]:
    buf = ctypes.create_string_buffer(struct.pack(FLOCK, type_, 0, start, length, 0), 32)
    ret = gf.glfs_posix_lock(fd, cmd, buf)
    err = ctypes.get_errno() if ret else 0
    t, _, s, n, _pid = struct.unpack(FLOCK, buf.raw)
    return ret, err, [t, s, n]


def scenario_locks(fs: int, base: str) -> dict:
    path = f"{base}/locked".encode()
    a = gf.glfs_creat(fs, path, O_RDWR, 0o644)
    b = gf.glfs_open(fs, path, O_RDWR)
    gf.glfs_fd_set_lkowner(a, b"owner-A!", 8)
    gf.glfs_fd_set_lkowner(b, b"owner-B!", 8)
    out: dict = {}
    out["A setlk wr 0-99"] = lock(a, F_SETLK, F_WRLCK, 0, 100)
    out["B setlk wr 50-59"] = lock(b, F_SETLK, F_WRLCK, 50, 10)
    out["B getlk wr 50-59"] = lock(b, F_GETLK, F_WRLCK, 50, 10)
    out["A getlk wr (own lock)"] = lock(a, F_GETLK, F_WRLCK, 0, 0)
    out["B setlk rd 200-209"] = lock(b, F_SETLK, F_RDLCK, 200, 10)
    got: dict = {}

    def waiter() -> None:
        got["B setlkw wr 50-59"] = lock(b, F_SETLKW, F_WRLCK, 50, 10)
        got["at"] = time.monotonic()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(1.0)
    out["B waiting after 1 s"] = t.is_alive()
    unlocked = time.monotonic()
    out["A unlock all"] = lock(a, F_SETLK, F_UNLCK, 0, 0)
    t.join(10)
    out.update({k: v for k, v in got.items() if k != "at"})
    out["B granted after A's unlock"] = "at" in got and got["at"] >= unlocked
    out["A setlk wr 50-59 now"] = lock(a, F_SETLK, F_WRLCK, 50, 10)
    gf.glfs_close(b)  # closing B's fd releases its locks
    out["A setlk wr 50-59 after B closed"] = lock(a, F_SETLK, F_WRLCK, 50, 10)
    gf.glfs_close(a)
    return out


def scenario_upcall(fs: int, base: str, host: str, port: int, volume: str) -> dict:
    seen: list[tuple[int, int]] = []

    @UPCALL_CBK
    def cbk(up: int, data: int) -> None:
        reason = gf.glfs_upcall_get_reason(up)
        flags = gf.glfs_upcall_inode_get_flags(gf.glfs_upcall_get_event(up)) if reason == 1 else 0
        seen.append((reason, flags))
        gf.glfs_free(up)

    out: dict = {"registered": gf.glfs_upcall_register(fs, 1, cbk, None)}
    path = f"{base}/watched".encode()
    fd = gf.glfs_creat(fs, path, O_RDWR, 0o644)
    gf.glfs_close(fd)
    st = ctypes.create_string_buffer(256)
    out["stat"] = gf.glfs_stat(fs, path, st)
    other = mount(host, port, volume)
    fd2 = gf.glfs_open(other, path, O_RDWR)
    out["other write"] = gf.glfs_write(fd2, b"changed", 7, 0)
    gf.glfs_close(fd2)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not seen:
        time.sleep(0.1)
    time.sleep(0.5)
    out["upcalls"] = sorted(set(seen))
    gf.glfs_fini(other)
    return out


def acl_text(a: int) -> str:
    if not a:
        return f"error {ctypes.get_errno()}"
    s = acl.acl_to_any_text(a, None, b",", TEXT_ABBREVIATE | TEXT_NUMERIC_IDS)
    text = ctypes.string_at(s).decode()
    acl.acl_free(s)
    acl.acl_free(a)
    return text


def scenario_acl(fs: int, base: str) -> dict:
    out: dict = {}
    path = f"{base}/aclfile".encode()
    gf.glfs_close(gf.glfs_creat(fs, path, O_RDWR, 0o640))
    st = ctypes.create_string_buffer(256)
    obj = gf.glfs_h_lookupat(fs, None, path, st, 0)
    out["get before"] = acl_text(gf.glfs_h_acl_get(fs, obj, ACL_TYPE_ACCESS))
    new = acl.acl_from_text(b"u::rw-,u:1000:rw-,g::r--,m::rw-,o::---")
    out["set"] = gf.glfs_h_acl_set(fs, obj, ACL_TYPE_ACCESS, new)
    acl.acl_free(new)
    out["get after"] = acl_text(gf.glfs_h_acl_get(fs, obj, ACL_TYPE_ACCESS))
    gf.glfs_stat(fs, path, st)
    out["mode after"] = oct(struct.unpack_from("I", st.raw, 24)[0])  # st_mode on x86_64
    gf.glfs_h_close(obj)
    d = f"{base}/acldir".encode()
    gf.glfs_mkdir(fs, d, 0o755)
    dobj = gf.glfs_h_lookupat(fs, None, d, st, 0)
    dflt = acl.acl_from_text(b"u::rwx,u:1000:rwx,g::r-x,m::rwx,o::r-x")
    out["set default"] = gf.glfs_h_acl_set(fs, dobj, ACL_TYPE_DEFAULT, dflt)
    acl.acl_free(dflt)
    out["get default"] = acl_text(gf.glfs_h_acl_get(fs, dobj, ACL_TYPE_DEFAULT))
    gf.glfs_close(gf.glfs_creat(fs, d + b"/child", O_RDWR, 0o640))
    child = gf.glfs_h_lookupat(fs, None, d + b"/child", st, 0)
    out["child inherits"] = acl_text(gf.glfs_h_acl_get(fs, child, ACL_TYPE_ACCESS))
    bad = acl.acl_from_text(b"u::rw-,u:1000:rw-,g::r--,o::---")  # no mask: libacl refuses to build it?
    out["set invalid"] = [gf.glfs_h_acl_set(fs, child, ACL_TYPE_ACCESS, bad), ctypes.get_errno()] if bad else "n/a"
    gf.glfs_h_close(child)
    gf.glfs_h_close(dobj)
    return out


def scenario_write(fs: int, base: str) -> dict:
    """A file written (while a replica is down: what heal info then lists)."""
    path = f"{base}/written".encode()
    fd = gf.glfs_creat(fs, path, O_RDWR, 0o644)
    if not fd:
        raise OSError(ctypes.get_errno(), "creat")
    data = b"D" * 16384
    n = gf.glfs_write(fd, data, len(data), 0)
    gf.glfs_fsync(fd, None, None)
    gf.glfs_close(fd)
    # AFR's post-op (dirty back to zero) may still be on its way: os._exit with replies
    # unread resets the connections, and a brick that had not read it yet never does
    time.sleep(1.5)
    return {"base": base, "written": n}


def main() -> None:
    what, host, port, volume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    fs = mount(host, port, volume)
    base = f"/sem-{uuid.uuid4().hex[:8]}"
    if gf.glfs_mkdir(fs, base.encode(), 0o755) != 0:
        raise OSError(ctypes.get_errno(), "mkdir")
    if what == "locks":
        out = scenario_locks(fs, base)
    elif what == "upcall":
        out = scenario_upcall(fs, base, host, port, volume)
    elif what == "acl":
        out = scenario_acl(fs, base)
    elif what == "write":
        out = scenario_write(fs, base)
    else:
        raise SystemExit(f"unknown scenario {what}")
    print(json.dumps(out, sort_keys=True), flush=True)
    os._exit(0)  # skip glfs_fini's ~10 s wait and its known races (gluster/glusterfs#4329, #4666)


if __name__ == "__main__":
    try:
        main()
    except OSError as exc:
        print(json.dumps({"error": [exc.errno, errno.errorcode.get(exc.errno or 0, "?"), str(exc)]}), flush=True)
        os._exit(1)
