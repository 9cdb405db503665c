"""Unmodified real clients against ``fakegluster serve``: qemu-img, qemu-io (QEMU 7.2's
gluster driver = libgfapi 10.3) and fio's gfapi engine.

Every scenario runs at once (one module-scoped fixture) because each libgfapi process needs
~10 s to exit.  Where a real glusterd 10.3 is available, the same scenario also runs against
a real volume and the outputs are compared: the real one is the judge.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from fakegluster.testing.realgluster import available
from fakegluster.testing.serve import serve_process
from tests.helpers import require_root, require_tool, unavailable
from tests.interop.conftest import Result, Step, run, run_scenarios

pytestmark = pytest.mark.real

QI, QIO = "qemu-img", "qemu-io"


def _local_image(path: Path) -> bytes:
    rnd = random.Random(7)
    data = bytearray(3 << 20)
    data[0:65536] = rnd.randbytes(65536)
    data[1 << 20 : (1 << 20) + (512 << 10)] = rnd.randbytes(512 << 10)
    path.write_bytes(bytes(data))
    return bytes(data)


class Via:
    """How a scenario names an image: a gluster:// or gluster+unix:// URI, or (IPv6, which
    QEMU 7.2 cannot take in a URI) ``--image-opts`` on ::1 — images are then created over
    IPv4 (``qemu-img create`` takes no options syntax) and used over IPv6."""

    def __init__(self, served, transport: str) -> None:
        self.served, self.transport = served, transport

    def create(self, path: str, fmt: str, size: str) -> list[str]:
        uri = self.served.uri(path, transport="unix" if self.transport == "unix" else "tcp")
        return [QI, "create", "-f", fmt, uri, size]

    def image(self, path: str, fmt: str) -> list[str]:
        if self.transport == "ipv6":
            return ["--image-opts", self.served.v6_opts(path, fmt=fmt)]
        return ["-f", fmt, self.served.uri(path, transport=self.transport)]

    def qemu_io(self, path: str, fmt: str, *cmds: str) -> list[str]:
        return [QIO, *[x for c in cmds for x in ("-c", c)], *self.image(path, fmt)]


# Writes first, map next, reads last: on ext4 a real brick reports unwritten extents (what
# write -z leaves) as data once its page cache holds them, so map must come before anything
# reads the zeroed ranges back for the real and the fake answers to be comparable.
RAW_IO = [
    "write -P 0xab 0 64k",
    "write -z 64k 64k",
    "write -P 0xcd 128k 64k",
    "discard 128k 64k",
    "write -P 0x11 1M 64k",
    "write -P 0x22 3M 4k",
    "flush",
]
RAW_CHECK = [
    "read -P 0xab 0 64k",
    "read -P 0 64k 64k",
    "read -P 0 128k 64k",
    "read -P 0x11 1M 64k",
    "read -P 0x22 3M 4k",
]


def _raw_scenario(via: Via) -> list[Step]:
    return [
        via.create("a.raw", "raw", "4M"),
        via.qemu_io("a.raw", "raw", *RAW_IO),
        (  # both read-only: at once
            [QI, "map", "--output=json", *via.image("a.raw", "raw")],
            [QI, "info", "--output=json", *via.image("a.raw", "raw")],
        ),
        via.qemu_io("a.raw", "raw", *RAW_CHECK),
    ]


def _real_raw_scenario(uri: str) -> list[list[str]]:
    return [
        [QI, "create", "-f", "raw", uri, "4M"],
        [QIO, *[x for c in RAW_IO for x in ("-c", c)], "-f", "raw", uri],
        [QI, "map", "--output=json", "-f", "raw", uri],
    ]


def _qcow2_scenario(via: Via) -> list[Step]:
    return [
        via.create("b.qcow2", "qcow2", "16M"),
        via.qemu_io("b.qcow2", "qcow2", "write -P 0x5a 1M 128k", "read -P 0x5a 1M 128k"),
        (  # both read-only (check without -r repairs nothing on a clean image): at once
            [QI, "check", *via.image("b.qcow2", "qcow2")],
            [QI, "info", "--output=json", *via.image("b.qcow2", "qcow2")],
        ),
    ]


def _map_scenario(uri: str) -> list[list[str]]:
    # compared with a real volume's map: nothing zeroes a range and reads it back before the map,
    # which a real brick's page cache would then report as data (SEEK_DATA_PAGE_CACHE)
    return [
        [QI, "create", "-f", "raw", uri, "4M"],
        [QIO, "-f", "raw", "-c", "write -P 0x11 1M 64k", "-c", "write -P 0x22 3M 4k", uri],
        [QI, "map", "--output=json", "-f", "raw", uri],
    ]


def _real_qcow2_scenario(uri: str) -> list[Step]:
    return [
        [QI, "create", "-f", "qcow2", uri, "16M"],
        [QIO, "-f", "qcow2", "-c", "write -P 0x5a 1M 128k", "-c", "read -P 0x5a 1M 128k", uri],
        ([QI, "check", "-f", "qcow2", uri], [QI, "info", "--output=json", uri]),  # read-only: at once
    ]


TRANSPORTS = ["tcp", "unix", "ipv6"]


@pytest.fixture(scope="module")
def results(request, served, qemu_tools, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qemu")
    local = tmp / "local.raw"
    image = _local_image(local)
    u = served.uri
    scenarios: dict[str, list[Step]] = {}
    for t in TRANSPORTS:
        # each transport gets its own volume directory of images: names do not collide
        via = _Scoped(served, t)
        scenarios[f"raw_{t}"] = _raw_scenario(via)
        scenarios[f"qcow2_{t}"] = _qcow2_scenario(via)
        scenarios[f"missing_{t}"] = [[QI, "info", *via.image("missing.raw", "raw")]]
    for t in ("tcp", "unix"):
        back = tmp / f"back-{t}.raw"
        scenarios[f"convert_{t}"] = [
            [QI, "convert", "-f", "raw", "-O", "raw", str(local), u(f"c-{t}.raw", transport=t)],
            [QI, "convert", "-f", "raw", "-O", "raw", u(f"c-{t}.raw", transport=t), str(back)],
        ]
        scenarios[f"resize_{t}"] = [
            [QI, "create", "-f", "raw", u(f"r-{t}.raw", transport=t), "1M"],
            [QI, "resize", "-f", "raw", u(f"r-{t}.raw", transport=t), "3M"],
            [QI, "info", "--output=json", u(f"r-{t}.raw", transport=t)],
        ]
    scenarios["map"] = _map_scenario(u("m.raw"))
    scenarios["nested"] = [
        [QI, "create", "-f", "raw", u("dir/sub/n.img", volume="handvol"), "1M"],
        [QIO, "-f", "raw", "-c", "write -P 0x71 0 4k", u("dir/sub/n.img", volume="handvol")],
        [QI, "info", u("dir/sub/n.img", volume="handvol")],
    ]
    scenarios["handfilled"] = [
        [QIO, "-f", "raw", "-r", "-c", "read -P 0x42 1M 1M", "-c", "read -P 0 0 1M", u("sparse.raw", volume="handvol")],
        [QI, "map", "--output=json", "-f", "raw", u("sparse.raw", volume="handvol")],
    ]
    scenarios["before_1970"] = [[QI, "info", "--output=json", u("old.img", volume="handvol")]]
    real = request.getfixturevalue("real_volume") if available()[0] else None  # the tests comparing say so
    if real is not None:
        tag = uuid.uuid4().hex[:6]
        scenarios["real_map"] = _map_scenario(real.uri(f"m-{tag}.raw"))
        scenarios["real_raw"] = _real_raw_scenario(real.uri(f"a-{tag}.raw"))
        scenarios["real_qcow2"] = _real_qcow2_scenario(real.uri(f"b-{tag}.qcow2"))
        scenarios["real_missing"] = [[QI, "info", real.uri(f"missing-{tag}.raw")]]
    out = run_scenarios(scenarios)
    out["_local"] = image  # type: ignore[assignment]
    out["_tmp"] = tmp  # type: ignore[assignment]
    out["_real"] = real  # type: ignore[assignment]
    return out


class _Scoped(Via):
    """A Via whose image names carry the transport, so scenarios never share an image."""

    def _p(self, path: str) -> str:
        stem, dot, ext = path.partition(".")
        return f"{stem}-{self.transport}{dot}{ext}"

    def create(self, path: str, fmt: str, size: str) -> list[str]:
        return super().create(self._p(path), fmt, size)

    def image(self, path: str, fmt: str) -> list[str]:
        return super().image(self._p(path), fmt)


def ok(results: list[Result]) -> list[Result]:
    for r in results:
        assert r.returncode == 0, f"{r.argv} -> {r.returncode}\n{r.out}"
    return results


@pytest.mark.parametrize("t", TRANSPORTS)
def test_raw_create_write_read_zero_discard_flush_info_map(results, t):
    create, io, mapped, info, check = ok(results[f"raw_{t}"])
    assert "Formatting" in create.stdout
    assert io.stdout.count("wrote 65536/65536") == 4 and "discard 65536/65536" in io.stdout
    assert check.stdout.count("read 65536/65536") == 4 and "Pattern verification failed" not in check.out
    meta = json.loads(info.stdout)
    assert meta["format"] == "raw" and meta["virtual-size"] == 4 << 20
    data = [(e["start"], e["length"]) for e in json.loads(mapped.stdout) if e["data"]]
    # written at 0, 1M and 3M; the zero-written 64k and the discarded 64k are holes (ext4:
    # ZERO_RANGE leaves unwritten extents, which SEEK_DATA skips)
    assert data == [(0, 65536), (1 << 20, 65536), (3 << 20, 4096)]
    if results["_real"] is None:
        unavailable("no real glusterd to compare the map with")
    assert json.loads(mapped.stdout) == json.loads(ok(results["real_raw"])[-1].stdout)


@pytest.mark.parametrize("t", TRANSPORTS)
def test_qcow2_create_io_check_info(results, t):
    create, io, check, info = ok(results[f"qcow2_{t}"])
    assert "fmt=qcow2" in create.stdout and "Pattern verification failed" not in io.out
    assert "No errors were found on the image." in check.stdout
    meta = json.loads(info.stdout)
    assert meta["format"] == "qcow2" and meta["virtual-size"] == 16 << 20


@pytest.mark.parametrize("t", ["tcp", "unix"])
def test_convert_to_the_volume_and_back_is_byte_identical(results, t):
    ok(results[f"convert_{t}"])
    assert (results["_tmp"] / f"back-{t}.raw").read_bytes() == results["_local"]


@pytest.mark.parametrize("t", ["tcp", "unix"])
def test_resize(results, t):
    _, _, info = ok(results[f"resize_{t}"])
    assert json.loads(info.stdout)["virtual-size"] == 3 << 20


def test_map_is_the_same_as_on_a_real_volume(results):
    if results["_real"] is None:
        unavailable("no real glusterd to compare with")
    fake = json.loads(ok(results["map"])[-1].stdout)
    real = json.loads(ok(results["real_map"])[-1].stdout)
    assert fake == real
    assert [(e["start"], e["length"]) for e in fake if e["data"]] == [(1 << 20, 65536), (3 << 20, 4096)]


def test_qcow2_check_and_info_are_the_same_as_on_a_real_volume(results):
    if results["_real"] is None:
        unavailable("no real glusterd to compare with")
    fake, real = ok(results["qcow2_tcp"]), ok(results["real_qcow2"])
    assert fake[2].stdout == real[2].stdout
    f, r = json.loads(fake[3].stdout), json.loads(real[3].stdout)
    for key in ("format", "virtual-size", "cluster-size", "format-specific"):
        assert f[key] == r[key], key


@pytest.mark.parametrize("t", TRANSPORTS)
def test_missing_image_says_no_such_file(results, t):
    [r] = results[f"missing_{t}"]
    assert r.returncode != 0 and "No such file or directory" in r.stderr


def test_missing_image_message_is_the_same_as_on_a_real_volume(results):
    if results["_real"] is None:
        unavailable("no real glusterd to compare with")
    [r], [real] = results["missing_tcp"], results["real_missing"]
    norm = lambda s: re.sub(r"gluster://[^']*", "URI", s)  # noqa: E731
    assert norm(r.stderr) == norm(real.stderr)


def test_nested_image_path_on_a_directory_volume(results, served):
    _, _, info = ok(results["nested"])
    assert "virtual size: 1 MiB" in info.stdout
    on_disk = served.handvol_dir / "dir" / "sub" / "n.img"
    assert on_disk.is_file() and on_disk.stat().st_size == 1 << 20
    assert on_disk.read_bytes()[:4096] == b"\x71" * 4096  # the user's files stay plain files


def test_a_folder_filled_by_hand_is_served(results):
    io, mapped = ok(results["handfilled"])
    assert "Pattern verification failed" not in io.out and io.stdout.count("read 1048576/1048576") == 2
    data = [(e["start"], e["length"]) for e in json.loads(mapped.stdout) if e["data"]]
    assert data == [(1 << 20, 1 << 20)]


def test_an_image_from_before_1970_opens(results):
    """A file whose mtime is 1960 (issue #14 defect 3: its mdata reply used to fail)."""
    [info] = ok(results["before_1970"])
    assert json.loads(info.stdout)["virtual-size"] == 65536


def test_fio_gfapi_verify_crc32c(tmp_path):
    """fio's gfapi engine always asks 127.0.0.1:24007, so fake and fio share a network namespace."""
    require_tool("fio")
    require_root("a network namespace")
    ns = f"fgtest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        with serve_process(netns=ns) as served:
            assert served.port() == 24007
            r = run(
                [
                    "fio",
                    "--name=verify",
                    "--ioengine=gfapi",
                    "--volume=testvol",
                    "--brick=127.0.0.1",
                    "--filename=fio.dat",
                    "--size=16m",
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
            assert r.returncode == 0, r.out
            job = json.loads(r.stdout[r.stdout.index("{") :])["jobs"][0]
            assert job["error"] == 0
            assert job["write"]["io_bytes"] > 0 and job["read"]["io_bytes"] > 0
    finally:
        subprocess.run(["ip", "netns", "del", ns])
