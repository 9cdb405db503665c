"""An example agent (see :mod:`.agent`): gfclient in a process of its own, speaking JSON lines.

    fakegluster conformance --client "agent:python -m fakegluster.conformance.drivers.gfclient_agent"

The agent protocol for a client written in any language, in ~100 lines: one request a line
on stdin, each answered (in a thread, in any order) with its id on stdout.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
import threading
from typing import Any

CAPS = ["tcp6", "unix", "uri", "create", "stat", "mkdir", "rename", "unlink", "listdir", "fsync", "umount"]


class Agent:
    def __init__(self) -> None:
        self.gfclient = importlib.import_module("gfclient")
        self.vol: Any = None
        self.files: dict[int, Any] = {}
        self.lock = threading.Lock()

    def op_hello(self, req: dict[str, Any]) -> object:
        return {"name": "gfclient-agent", "description": "gfclient in an agent process", "caps": CAPS}

    def op_mount(self, req: dict[str, Any]) -> object:
        if "uri" in req:
            uri = req["uri"]
        else:
            s = req["servers"][0]
            if s["transport"] == "unix":
                uri = f"gluster+unix:///{req['volume']}?socket={s['socket']}"
            else:
                host = f"[{s['host']}]" if ":" in s["host"] else s["host"]
                uri = f"gluster+{s['transport']}://{host}:{s['port']}/{req['volume']}"
        self.vol = self.gfclient.connect(uri, process_name="gfclient-agent")
        return None

    def op_umount(self, req: dict[str, Any]) -> object:
        self.vol.close()
        return None

    def op_open(self, req: dict[str, Any]) -> object:
        f = self.vol.open(req["path"], int(req["flags"]), int(req.get("mode", 0o644)))
        with self.lock:
            n = len(self.files) + 3
            self.files[n] = f
        return n

    def op_pread(self, req: dict[str, Any]) -> object:
        data = self.files[int(req["fd"])].pread(int(req["size"]), int(req["offset"]))
        return base64.b64encode(data).decode()

    def op_pwrite(self, req: dict[str, Any]) -> object:
        return self.files[int(req["fd"])].pwrite(base64.b64decode(req["data"]), int(req["offset"]))

    def op_fsync(self, req: dict[str, Any]) -> object:
        self.files[int(req["fd"])].fsync()
        return None

    def op_fstat(self, req: dict[str, Any]) -> object:
        return _stat(self.files[int(req["fd"])].fstat())

    def op_close(self, req: dict[str, Any]) -> object:
        self.files.pop(int(req["fd"])).close()
        return None

    def op_stat(self, req: dict[str, Any]) -> object:
        return _stat(self.vol.stat(req["path"]))

    def op_mkdir(self, req: dict[str, Any]) -> object:
        self.vol.mkdir(req["path"], int(req.get("mode", 0o755)))
        return None

    def op_rename(self, req: dict[str, Any]) -> object:
        self.vol.rename(req["src"], req["dst"])
        return None

    def op_unlink(self, req: dict[str, Any]) -> object:
        self.vol.unlink(req["path"])
        return None

    def op_listdir(self, req: dict[str, Any]) -> object:
        return list(self.vol.listdir(req["path"]))


def _stat(st: os.stat_result) -> dict[str, int]:
    return {"size": st.st_size, "mode": st.st_mode, "ino": st.st_ino}


def main() -> None:
    agent = Agent()
    lock = threading.Lock()

    def reply(msg: dict[str, Any]) -> None:
        with lock:
            sys.stdout.write(json.dumps(msg) + "\n")
            sys.stdout.flush()

    def handle(req: dict[str, Any]) -> None:
        fn = getattr(agent, f"op_{req.get('op')}", None)
        if fn is None:
            reply({"id": req.get("id"), "ok": False, "unsupported": f"no op {req.get('op')!r}"})
            return
        try:
            reply({"id": req.get("id"), "ok": True, "value": fn(req)})
        except OSError as exc:
            reply({"id": req.get("id"), "ok": False, "errno": exc.errno or 0, "error": str(exc)})
        except Exception as exc:  # every request gets an answer
            reply({"id": req.get("id"), "ok": False, "errno": 0, "error": repr(exc)})

    for line in sys.stdin:
        if line.strip():
            threading.Thread(target=handle, args=(json.loads(line),), daemon=True).start()
    os._exit(0)


if __name__ == "__main__":
    main()
