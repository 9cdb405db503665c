"""Fixtures for interop tests: ``fakegluster serve`` as a subprocess, and a runner that
executes scenarios of real libgfapi tools (qemu-img, qemu-io, fio) in parallel — each such
process takes ~10 s to exit (glfs_fini), so they must not run one after the other."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakegluster.testing.procs import run_gfapi
from fakegluster.testing.serve import ServeProcess, serve_process
from tests.helpers import require_tool


@dataclasses.dataclass
class Served:
    process: ServeProcess
    tcp4: int
    tcp6: int
    socket: str
    handvol_dir: Path

    def uri(self, path: str, volume: str = "testvol", transport: str = "tcp") -> str:
        if transport == "unix":
            return f"gluster+unix:///{volume}/{path}?socket={self.socket}"
        return f"gluster://127.0.0.1:{self.tcp4}/{volume}/{path}"

    def v6_opts(self, path: str, volume: str = "testvol", fmt: str = "raw") -> str:
        return (
            f"driver={fmt},file.driver=gluster,file.volume={volume},file.path={path},"
            f"file.server.0.type=inet,file.server.0.host=::1,file.server.0.port={self.tcp6}"
        )


def start_served(tmp: Path, extra: list[str] | None = None) -> Served:
    hand = tmp / "hand"
    (hand / "dir" / "sub").mkdir(parents=True)
    (hand / "hello.txt").write_text("hello from a folder filled by hand\n")
    with open(hand / "sparse.raw", "wb") as f:  # 1 MiB of 0x42 at 1 MiB, holes elsewhere, 4 MiB
        f.truncate(4 << 20)
        f.seek(1 << 20)
        f.write(b"\x42" * (1 << 20))
    os.symlink("hello.txt", hand / "link")
    (hand / "old.img").write_bytes(b"\0" * 65536)  # touch -d 1960-01-01 (issue #14 defect 3)
    os.utime(hand / "old.img", (-315619200, -315619200))
    sock = tmp / "glusterd.sock"
    served = serve_process(
        extra or [],
        volumes=["testvol", f"handvol={hand}"],
        listen=["tcp://127.0.0.1:0", "tcp://[::1]:0", f"unix://{sock}"],
    )
    return Served(served, served.port("127.0.0.1"), served.port("::1"), str(sock), hand)


def stop_served(served: Served) -> tuple[int, str]:
    rc = served.process.stop()
    return rc, served.process.stderr()


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Iterator[Served]:
    s = start_served(tmp_path_factory.mktemp("served"))
    yield s
    stop_served(s)


@dataclasses.dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str  # libgfapi log lines removed
    elapsed: float

    @property
    def out(self) -> str:
        return self.stdout + self.stderr


def run(argv: list[str], timeout: float = 120, netns: str | None = None) -> Result:
    """Run one libgfapi tool (in ``netns`` if given) with :func:`run_gfapi`: a run that
    libgfapi's racy teardown killed (SIGABRT/SIGSEGV after its work was done) is repeated
    once; each such crash is reported as a warning, never hidden."""
    full = (["ip", "netns", "exec", netns] if netns else []) + argv
    cp = run_gfapi(full, timeout)
    for crash in cp.crashes:
        warnings.warn(f"{' '.join(argv[:2])} died of a signal ({crash.strip()[-120:]!r}); ran it again", stacklevel=2)
    return Result(argv, cp.returncode, cp.stdout, cp.qemu_stderr, cp.elapsed)


#: A scenario's step: one command, or a tuple of commands that run at once (read-only ones).
Step = list[str] | tuple[list[str], ...]


def run_scenarios(scenarios: dict[str, list[Step]]) -> dict[str, list[Result]]:
    """Run each scenario's steps in order (a tuple's commands at once: each libgfapi tool
    spends ~10 s in glfs_fini); all scenarios at once.  One result per command, in order."""

    def one(steps: list[Step]) -> list[Result]:
        out: list[Result] = []
        for step in steps:
            if isinstance(step, tuple):
                with concurrent.futures.ThreadPoolExecutor(max_workers=len(step)) as pool:
                    out += list(pool.map(run, step))
            else:
                out.append(run(step))
        return out

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(scenarios))) as pool:
        futures = {name: pool.submit(one, cmds) for name, cmds in scenarios.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="session")
def qemu_tools():
    for tool in ("qemu-img", "qemu-io"):
        require_tool(tool)
