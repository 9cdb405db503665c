"""16 threads of a fresh process connect gfclient at once (issue #14 defect 6: 26 of 160
connects failed with "cannot encode GfGetspecReq ... expected GfGetspecReq, got
GfGetspecReq" when each thread made the message classes on first use)."""

from __future__ import annotations

import subprocess
import sys

from fakegluster.server import FakeGluster

SCRIPT = """
import sys, threading
sys.setswitchinterval(1e-5)  # switch threads often: the first-use race shows up
import gfclient
uri, n = sys.argv[1], int(sys.argv[2])
start = threading.Barrier(n)
failures = []
def one(i):
    try:
        start.wait()
        with gfclient.connect(uri) as vol:
            with vol.fopen(f"t{i}", "w") as f:
                f.write(b"%d" % i)
            assert vol.stat(f"t{i}").st_size == len(b"%d" % i)
    except BaseException as exc:
        failures.append(f"{i}: {exc!r}")
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print("\\n".join(failures))
sys.exit(1 if failures else 0)
"""


def test_sixteen_threads_connect_at_once_in_a_fresh_process():
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as server:
        for _ in range(3):  # a fresh process each time: classes are made by the racing threads
            r = subprocess.run(
                [sys.executable, "-c", SCRIPT, server.uri("testvol"), "16"], capture_output=True, text=True, timeout=120
            )
            assert r.returncode == 0, r.stdout + r.stderr[-3000:]
        assert sorted(
            server.run_sync(lambda: [n for n, _ in server.store().readdir(server.store().root_gfid)])
        ) == sorted(f"t{i}" for i in range(16))
