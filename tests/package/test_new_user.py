"""The package as a new user meets it: the sdist and wheel built from this tree, the wheel
installed into a fresh venv (with the oldest ``construct`` the dependency range allows), and
a separate tiny project whose own tests use the fixtures, gfclient, its asyncio face and the
libgfapi-python compatible layer, run with pytest-xdist.  Needs PyPI (pip installs the
dependencies as a user's pip would); ~1 min."""

from __future__ import annotations

import email
import os
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
OLDEST_CONSTRUCT = "2.10.54"  # pyproject.toml: construct>=2.10.54,<2.11

PROJECT_TESTS = """
import asyncio
import errno
import os

import pytest

import fakegluster  # the package: no fixture hides it
import gfclient
from gfclient import gfapi


def test_fresh_server(fakegluster_server):
    fakegluster_server.write_file("seed.img", b"\\0" * 4096)
    with gfclient.connect(fakegluster_server.uri("projvol")) as vol:
        assert vol.getsize("seed.img") == 4096
        vol.fopen("w.txt", "w").write(b"written")
    assert fakegluster_server.read_file("w.txt") == b"written"
    fakegluster_server.calls.assert_called("WRITE", path="/w.txt")
    assert fakegluster.__version__


@pytest.mark.parametrize("n", range(4))
def test_shared_server_is_clean(fakegluster_shared, n):
    assert not fakegluster_shared.exists("left-over")
    fakegluster_shared.write_file("left-over", b"x")
    with pytest.raises(ValueError, match="WRITE"):
        fakegluster_shared.faults.inject("WRIET")


def test_fault(fakegluster_server):
    fakegluster_server.faults.inject("CREATE", errno=errno.EDQUOT)
    with gfclient.connect(fakegluster_server.uri("projvol")) as vol:
        with pytest.raises(OSError) as exc:
            vol.fopen("f", "w")
    assert exc.value.errno == errno.EDQUOT


def test_gfapi_and_asyncio(fakegluster_server):
    vol = gfapi.Volume("127.0.0.1", "projvol", port=fakegluster_server.info.port)
    vol.mount()
    with vol.fopen("g.txt", "w") as f:
        f.write(b"gfapi")
    vol.umount()

    async def main():
        async with gfclient.aio.connect(fakegluster_server.uri("projvol")) as avol:
            async with await avol.fopen("g.txt") as f:
                return await f.read()

    assert asyncio.run(main()) == b"gfapi"
"""

PROJECT_PYPROJECT = """
[project]
name = "tiny-gluster-user"
version = "0"

[tool.pytest.ini_options]
fakegluster_volumes = ["projvol"]
"""


def _run(*argv: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 600) -> str:
    cp = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    assert cp.returncode == 0, f"{argv}\nstdout: {cp.stdout[-4000:]}\nstderr: {cp.stderr[-4000:]}"
    return cp.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def test_sdist_leaves_the_suite_out_and_carries_the_licence(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert not [n for n in names if n.startswith(("tests/", "fixtures/", "bench/", "tools/"))]
    assert {"LICENSE", "CHANGELOG.md", "README-pypi.md", "pyproject.toml"} <= set(names)


def test_wheel_metadata(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(meta_name))
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    # every package of the tree is in the wheel (a new subpackage must join pyproject's list)
    for folder, package in (("fakegluster", "fakegluster"), ("client", "gfclient")):
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.relative_to(ROOT / folder).parent
            assert f"{package}/{rel.as_posix()}/__init__.py".replace("/./", "/") in names, rel
    assert meta["License-Expression"] == "MIT" and meta.get_all("License-File") == ["LICENSE"]
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("urls", {})
    assert {u.split(",")[0] for u in meta.get_all("Project-URL") or []} == set(urls)  # none yet: see pyproject
    assert "Framework :: Pytest" in meta.get_all("Classifier")
    requires = meta.get_all("Requires-Dist")
    assert not [r for r in requires if r.startswith("dpkt") and "extra ==" not in r], requires
    assert any(r.startswith("construct") and "<2.11" in r for r in requires), requires
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "pip install fakegluster" in meta.get_payload()
    assert "fakegluster = fakegluster.testing.plugin" in entry_points


def test_a_new_user_project_with_xdist(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    _run(py, "-m", "pip", "install", "-q", str(wheel), f"construct=={OLDEST_CONSTRUCT}", "pytest", "pytest-xdist")

    # installed from the wheel, not this tree; the plugin does not import trio by itself
    where = _run(py, "-c", "import fakegluster, gfclient; print(fakegluster.__file__, gfclient.__file__)", cwd=tmp_path)
    assert str(ROOT) not in where and str(env_dir) in where
    lazy = "import sys, fakegluster.testing.plugin; print('trio' in sys.modules)"
    assert _run(py, "-c", lazy, cwd=tmp_path).strip() == "False"
    assert _run(env_dir / "bin" / "fakegluster", "--version").strip().startswith("fakegluster ")

    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "pyproject.toml").write_text(textwrap.dedent(PROJECT_PYPROJECT))
    (project / "tests" / "test_with_fakegluster.py").write_text(PROJECT_TESTS)
    out = _run(py, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", cwd=project)
    assert "7 passed" in out, out
