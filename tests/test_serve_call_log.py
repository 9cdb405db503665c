"""``fakegluster serve --call-log FILE``: the decoded call log as JSON lines (issue #15),
written as the calls are answered, one object per call."""

from __future__ import annotations

import errno
import json

import gfclient
from fakegluster.testing.serve import serve_process


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_serve_call_log_is_the_decoded_calls_as_json_lines(tmp_path):
    path = tmp_path / "calls.jsonl"
    with serve_process(["--call-log", str(path)], volumes=["vm"], listen=["tcp://127.0.0.1:0"]) as served:
        with gfclient.connect(f"gluster://127.0.0.1:{served.port()}/vm") as vol:
            with vol.fopen("a.txt", "w") as f:
                f.write(b"hello")
            try:
                vol.stat("missing")
            except FileNotFoundError:
                pass
            # written while serving, a line per call (tail -f works)
            live = _records(path)
            assert {"GETSPEC", "PORTBYBRICK", "SETVOLUME", "CREATE", "WRITE"} <= {r["proc"] for r in live}
    records = _records(path)
    assert len(records) >= len(live)
    assert {"time", "server", "connection", "peer", "program", "proc", "xid", "args", "result", "error"} <= set(
        records[0]
    )
    (create,) = [r for r in records if r["proc"] == "CREATE"]
    assert create["server"] == "brick:vm:0" and create["args"]["bname"] == "a.txt"
    assert create["result"]["op_ret"] == 0
    gfid = create["result"]["stat"]["ia_gfid"]
    (write,) = [r for r in records if r["proc"] == "WRITE"]
    assert write["args"]["gfid"] == gfid and write["args"]["size"] == 5 and write["result"]["op_ret"] == 5
    [missing, *_] = [r for r in records if r["proc"] == "LOOKUP" and r["args"]["bname"] == "missing"]
    assert (missing["result"]["op_ret"], missing["result"]["op_errno"]) == (-1, errno.ENOENT)
    (getspec, *_) = [r for r in records if r["proc"] == "GETSPEC"]
    assert getspec["server"].startswith("glusterd") and getspec["args"]["key"] == "vm"
