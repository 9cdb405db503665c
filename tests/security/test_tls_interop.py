"""Unmodified real clients over TLS to the fake: qemu-img/qemu-io (libgfapi 10.3), fio's gfapi
engine and the glusterfs FUSE client, each reading the TLS files from the volfile
(client.ssl); and a libgfapi client whose volfile has no client.ssl, refused by a TLS brick
(server.ssl) of the fake as by a real one.  All libgfapi runs go at once (each takes ~10 s to
exit)."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import uuid

import pytest

from fakegluster.server import FakeGluster
from fakegluster.testing.serve import serve_process
from tests.helpers import require_root, require_tool, unavailable
from tests.interop.conftest import run

pytestmark = pytest.mark.real

QI, QIO = "qemu-img", "qemu-io"


def _fio(ns: str, tls_options: dict[str, str]) -> tuple[int, str, dict | None]:
    """fio's gfapi engine always asks 127.0.0.1:24007: the fake serves there in a namespace."""
    sets = [x for k, v in tls_options.items() for x in ("--set", f"{k}={v}")]
    with serve_process(sets, netns=ns) as served:
        assert served.port() == 24007
        r = run(
            [
                "fio",
                "--name=verify",
                "--ioengine=gfapi",
                "--volume=testvol",
                "--brick=127.0.0.1",
                "--filename=fio.dat",
                "--size=8m",
                "--rw=randrw",
                "--bs=4k",
                "--iodepth=1",
                "--verify=crc32c",
                "--do_verify=1",
                "--verify_state_save=0",
                "--output-format=json",
            ],
            netns=ns,
            timeout=180,
        )
        job = json.loads(r.stdout[r.stdout.index("{") :])["jobs"][0] if "{" in r.stdout else None
        return r.returncode, r.stdout + r.stderr, job


@pytest.fixture(scope="module")
def runs(request, tls_files):
    for tool in (QI, QIO, "fio"):
        require_tool(tool)
    require_root("a network namespace")
    tls = tls_files.volume_options()
    server_only = tls_files.volume_options(client=False)
    real_plain = request.getfixturevalue("access_volumes")("real", server_only)
    with (
        FakeGluster(["testvol"], ["tcp://127.0.0.1:0"], options=tls) as fake,
        FakeGluster(["testvol"], ["tcp://127.0.0.1:0"], options=server_only) as fake_plain,
    ):
        uri = fake.uri("testvol", "tls.raw")
        ns = f"fgsec-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                qemu = pool.submit(
                    lambda: [
                        run([QI, "create", "-f", "raw", uri, "4M"]),
                        run([QIO, "-f", "raw", "-c", "write -P 0xab 0 64k", "-c", "read -P 0xab 0 64k", uri]),
                    ]
                )
                fio = pool.submit(_fio, ns, tls)
                plain_fake = pool.submit(run, [QI, "info", fake_plain.uri("testvol", "x.raw")], 120)
                plain_real = pool.submit(run, [QI, "info", f"gluster://127.0.0.1/{real_plain.volume}/x.raw"], 120)
                out = {
                    "qemu": qemu.result(),
                    "fio": fio.result(),
                    "plain_fake": plain_fake.result(),
                    "plain_real": plain_real.result(),
                }
            out["image"] = fake.read_file("tls.raw")
            yield out
        finally:
            subprocess.run(["ip", "netns", "del", ns])


def test_qemu_over_tls(runs):
    create, io = runs["qemu"]
    assert create.returncode == 0, create.stderr
    assert io.returncode == 0, io.stderr
    assert "read 65536/65536 bytes" in io.stdout
    assert runs["image"][:65536] == b"\xab" * 65536


def test_fio_gfapi_over_tls(runs):
    rc, out, job = runs["fio"]
    assert rc == 0, out
    assert job is not None and job["error"] == 0
    assert job["write"]["io_bytes"] > 0 and job["read"]["io_bytes"] > 0


def test_a_plain_text_libgfapi_client_is_refused_as_by_a_real_brick(runs):
    fake, real = runs["plain_fake"], runs["plain_real"]
    assert fake.returncode != 0 and real.returncode != 0

    def norm(text: str) -> str:  # the volume names and glusterd ports differ
        text = re.sub(r"volume [\w-]+,", "volume V,", text)
        text = re.sub(r"gluster://[^']*", "URI", text)
        return re.sub(r"port \d+", "port P", text).strip()

    assert norm(fake.stderr) == norm(real.stderr)


def test_fuse_client_over_tls(tls_files, tmp_path):
    glusterfs = require_tool("glusterfs")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        unavailable("the FUSE client needs root and /dev/fuse")
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"], options=tls_files.volume_options()) as fake:
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        subprocess.run(
            [glusterfs, "--volfile-server=127.0.0.1", f"--volfile-server-port={fake.info.port}",
             "--volfile-id=testvol", str(mnt)],
            check=True,
            timeout=60,
        )  # fmt: skip
        try:
            assert os.path.ismount(mnt)
            data = os.urandom(1 << 20)
            (mnt / "over-tls.bin").write_bytes(data)
            assert (mnt / "over-tls.bin").read_bytes() == data
        finally:
            subprocess.run(["umount", str(mnt)], timeout=60)
            if os.path.ismount(mnt):
                subprocess.run(["umount", "-l", str(mnt)], timeout=60)
        assert fake.read_file("over-tls.bin") == data
