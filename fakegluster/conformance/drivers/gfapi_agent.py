"""An agent (see agent.py) for libgfapi: the system's libgfapi.so.0 through ctypes.

Standalone (stdlib only, run as ``python -I gfapi_agent.py``): one process, one ``glfs_t``.
Requests are JSON lines on stdin, each handled in a thread of its own, replies JSON lines on
stdout.  libgfapi logs (WARNING and worse) go to stderr.  Signatures are the default symbol
versions of libgfapi 10.3 (``glfs_pread``/``pwrite``/``fsync`` are GFAPI_6.0's, with pre/post
stat arguments).
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import queue
import struct
import sys
import threading
from typing import Any

gf = ctypes.CDLL("libgfapi.so.0", use_errno=True)
P = ctypes.c_void_p
S = ctypes.c_char_p
I = ctypes.c_int  # noqa: E741
SZ = ctypes.c_size_t
OFF = ctypes.c_longlong


def _sig(name: str, restype: object, *argtypes: object) -> None:
    fn = getattr(gf, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_sig("glfs_new", P, S)
_sig("glfs_set_volfile_server", I, P, S, S, I)
_sig("glfs_set_logging", I, P, S, I)
_sig("glfs_init", I, P)
_sig("glfs_fini", I, P)
_sig("glfs_open", P, P, S, I)
_sig("glfs_creat", P, P, S, I, ctypes.c_uint)
_sig("glfs_close", I, P)
_sig("glfs_pread", ctypes.c_ssize_t, P, P, SZ, OFF, I, P)
_sig("glfs_pwrite", ctypes.c_ssize_t, P, P, SZ, OFF, I, P, P)
_sig("glfs_fsync", I, P, P, P)
_sig("glfs_fstat", I, P, P)
_sig("glfs_stat", I, P, S, P)
_sig("glfs_mkdir", I, P, S, ctypes.c_uint)
_sig("glfs_rename", I, P, S, S)
_sig("glfs_unlink", I, P, S)
_sig("glfs_opendir", P, P, S)
_sig("glfs_readdir", P, P)
_sig("glfs_closedir", I, P)
_sig("glfs_posix_lock", I, P, I, P)
_sig("glfs_free", None, P)
_sig("glfs_upcall_get_reason", I, P)
_sig("glfs_upcall_get_event", P, P)
_sig("glfs_upcall_inode_get_flags", I, P)
_sig("glfs_upcall_inode_get_object", P, P)
_sig("glfs_h_extract_handle", I, P, S, I)
UPCALL_CBK = ctypes.CFUNCTYPE(None, P, P)
_sig("glfs_upcall_register", I, P, ctypes.c_uint32, UPCALL_CBK, P)

STAT_SIZE = 144  # struct stat on x86_64: st_ino at 8, st_mode at 24, st_size at 48
F_SETLK, F_SETLKW = 6, 7
LOCK_TYPES = {"r": 0, "w": 1, "u": 2}  # F_RDLCK, F_WRLCK, F_UNLCK
GLFS_EVENT_INODE_INVALIDATE = 1
LOG_WARNING = 5

CAPS = [
    "tcp6", "unix", "rdma", "servers", "create", "stat", "mkdir", "rename", "unlink", "listdir",
    "lock", "events", "fsync", "umount",
]  # fmt: skip


class AgentError(Exception):
    def __init__(self, err: int, text: str) -> None:
        super().__init__(text)
        self.errno = err


def _check(ret: int | None, what: str) -> int:
    if ret is None or ret < 0:
        err = ctypes.get_errno()
        raise AgentError(err, f"{what}: {os.strerror(err) if err else 'failed'}")
    return ret


class Agent:
    def __init__(self) -> None:
        self.fs: int | None = None
        self.fds: dict[int, int] = {}
        self.next_fd = 3
        self.lock = threading.Lock()
        self.events: queue.Queue[dict[str, object]] = queue.Queue()
        self._cbk = UPCALL_CBK(self._upcall)  # kept alive as long as the agent

    # ---- the volume ---------------------------------------------------------------
    def op_hello(self, req: dict[str, Any]) -> object:
        return {"name": "libgfapi", "description": "libgfapi (libgfapi.so.0, ctypes)", "caps": CAPS}

    def op_mount(self, req: dict[str, Any]) -> object:
        fs = gf.glfs_new(req["volume"].encode())
        if not fs:
            _check(-1, "glfs_new")
        for s in req["servers"]:
            host = s["socket"] if s["transport"] == "unix" else s["host"]
            _check(
                gf.glfs_set_volfile_server(fs, s["transport"].encode(), host.encode(), int(s.get("port") or 0)),
                "glfs_set_volfile_server",
            )
        gf.glfs_set_logging(fs, b"/dev/stderr", LOG_WARNING)
        _check(gf.glfs_init(fs), "glfs_init")
        self.fs = fs
        return None

    def op_umount(self, req: dict[str, Any]) -> object:
        fs, self.fs = self.fs, None
        if fs:
            _check(gf.glfs_fini(fs), "glfs_fini")
        return None

    def _fd(self, req: dict[str, Any]) -> int:
        try:
            return self.fds[int(req["fd"])]
        except KeyError:
            raise AgentError(9, "unknown fd") from None

    # ---- files --------------------------------------------------------------------
    def op_open(self, req: dict[str, Any]) -> object:
        path, flags = req["path"].encode(), int(req["flags"])
        if flags & os.O_CREAT:
            fd = gf.glfs_creat(self.fs, path, flags, int(req.get("mode", 0o644)))
        else:
            fd = gf.glfs_open(self.fs, path, flags)
        if not fd:
            _check(-1, f"open {req['path']}")
        with self.lock:
            n = self.next_fd
            self.next_fd += 1
            self.fds[n] = fd
        return n

    def op_close(self, req: dict[str, Any]) -> object:
        fd = self._fd(req)
        del self.fds[int(req["fd"])]
        _check(gf.glfs_close(fd), "glfs_close")
        return None

    def op_pread(self, req: dict[str, Any]) -> object:
        size = int(req["size"])
        buf = ctypes.create_string_buffer(max(1, size))
        n = _check(gf.glfs_pread(self._fd(req), buf, size, int(req["offset"]), 0, None), "glfs_pread")
        return base64.b64encode(buf.raw[:n]).decode()

    def op_pwrite(self, req: dict[str, Any]) -> object:
        data = base64.b64decode(req["data"])
        return _check(gf.glfs_pwrite(self._fd(req), data, len(data), int(req["offset"]), 0, None, None), "glfs_pwrite")

    def op_fsync(self, req: dict[str, Any]) -> object:
        _check(gf.glfs_fsync(self._fd(req), None, None), "glfs_fsync")
        return None

    def op_fstat(self, req: dict[str, Any]) -> object:
        buf = ctypes.create_string_buffer(STAT_SIZE)
        _check(gf.glfs_fstat(self._fd(req), buf), "glfs_fstat")
        return _stat(buf.raw)

    def op_lock(self, req: dict[str, Any]) -> object:
        flock = struct.pack("hh4xqqi4x", LOCK_TYPES[req["kind"]], 0, int(req["start"]), int(req["length"]), 0)
        buf = ctypes.create_string_buffer(flock, len(flock))
        cmd = F_SETLKW if req.get("wait") else F_SETLK
        _check(gf.glfs_posix_lock(self._fd(req), cmd, buf), "glfs_posix_lock")
        return None

    # ---- names --------------------------------------------------------------------
    def op_stat(self, req: dict[str, Any]) -> object:
        buf = ctypes.create_string_buffer(STAT_SIZE)
        _check(gf.glfs_stat(self.fs, req["path"].encode(), buf), f"stat {req['path']}")
        return _stat(buf.raw)

    def op_mkdir(self, req: dict[str, Any]) -> object:
        _check(gf.glfs_mkdir(self.fs, req["path"].encode(), int(req.get("mode", 0o755))), "glfs_mkdir")
        return None

    def op_rename(self, req: dict[str, Any]) -> object:
        _check(gf.glfs_rename(self.fs, req["src"].encode(), req["dst"].encode()), "glfs_rename")
        return None

    def op_unlink(self, req: dict[str, Any]) -> object:
        _check(gf.glfs_unlink(self.fs, req["path"].encode()), "glfs_unlink")
        return None

    def op_listdir(self, req: dict[str, Any]) -> object:
        d = gf.glfs_opendir(self.fs, req["path"].encode())
        if not d:
            _check(-1, f"opendir {req['path']}")
        names = []
        try:
            while True:
                ctypes.set_errno(0)
                ent = gf.glfs_readdir(d)
                if not ent:
                    if ctypes.get_errno():
                        _check(-1, "glfs_readdir")
                    break
                name = ctypes.string_at(ent + 19).decode(errors="surrogateescape")
                if name not in (".", ".."):
                    names.append(name)
        finally:
            gf.glfs_closedir(d)
        return names

    # ---- upcalls ------------------------------------------------------------------
    def _upcall(self, up: int, data: int) -> None:
        try:
            reason = gf.glfs_upcall_get_reason(up)
            event: dict[str, object] = {"kind": "invalidate" if reason == 1 else f"reason {reason}"}
            ev = gf.glfs_upcall_get_event(up)
            if reason == 1 and ev:
                event["flags"] = gf.glfs_upcall_inode_get_flags(ev)
                obj = gf.glfs_upcall_inode_get_object(ev)
                if obj:
                    handle = ctypes.create_string_buffer(16)
                    if gf.glfs_h_extract_handle(obj, handle, 16) >= 0:
                        event["gfid"] = handle.raw.hex()
            self.events.put(event)
        finally:
            gf.glfs_free(up)

    def op_subscribe(self, req: dict[str, Any]) -> object:
        _check(gf.glfs_upcall_register(self.fs, GLFS_EVENT_INODE_INVALIDATE, self._cbk, None), "upcall_register")
        return None

    def op_wait_event(self, req: dict[str, Any]) -> object:
        try:
            return self.events.get(timeout=float(req.get("wait", 0)))
        except queue.Empty:
            return None


def _stat(raw: bytes) -> dict[str, int]:
    ino = struct.unpack_from("Q", raw, 8)[0]
    mode = struct.unpack_from("I", raw, 24)[0]
    size = struct.unpack_from("q", raw, 48)[0]
    return {"size": size, "mode": mode, "ino": ino}


def main() -> None:
    agent = Agent()
    out_lock = threading.Lock()
    out = sys.stdout

    def reply(msg: dict[str, Any]) -> None:
        with out_lock:
            out.write(json.dumps(msg) + "\n")
            out.flush()

    def handle(req: dict[str, Any]) -> None:
        rid = req.get("id")
        fn = getattr(agent, f"op_{req.get('op')}", None)
        if fn is None:
            reply({"id": rid, "ok": False, "unsupported": f"no op {req.get('op')!r}"})
            return
        try:
            reply({"id": rid, "ok": True, "value": fn(req)})
        except AgentError as exc:
            reply({"id": rid, "ok": False, "errno": exc.errno, "error": str(exc)})
        except Exception as exc:  # the agent must answer whatever happens
            reply({"id": rid, "ok": False, "errno": 0, "error": f"agent error: {exc!r}"})

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        threading.Thread(target=handle, args=(req,), daemon=True).start()
    os._exit(0)  # no glfs_fini on the way out (umount does it when asked)


if __name__ == "__main__":
    main()
