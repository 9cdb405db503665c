"""The pytest plugin's fixtures, used the way a user would (pytester runs them in a fresh
pytest, through the entry point)."""

from __future__ import annotations

import subprocess
import sys

pytest_plugins = ["pytester"]


def test_fixtures_give_a_fresh_server_per_test(pytester):
    pytester.makepyfile("""
        import errno
        import gfclient

        def test_seed_and_read(fakegluster):
            fakegluster.write_file("dir/a.img", b"hello")
            with gfclient.connect(fakegluster.uri("testvol")) as vol:
                assert vol.fopen("dir/a.img").read() == b"hello"
                vol.fopen("b.txt", "w").write(b"written remotely")
            assert fakegluster.read_file("b.txt") == b"written remotely"
            assert fakegluster.exists("dir") and not fakegluster.exists("nope")
            fakegluster.calls.assert_called("LOOKUP", bname="a.img")

        def test_isolated(fakegluster):
            assert not fakegluster.exists("dir/a.img")   # the previous test's server is gone
            assert len(fakegluster.calls) == 0

        def test_faults_and_factory(fakegluster, fakegluster_factory):
            other = fakegluster_factory(volumes=["v1", "v2"])
            assert other.info.volumes == ["v1", "v2"] and other.info.port != fakegluster.info.port
            fakegluster.faults.inject("CREATE", errno=errno.EDQUOT)
            with gfclient.connect(fakegluster.uri("testvol", transport="unix")) as vol:
                try:
                    vol.fopen("x", "w")
                except OSError as exc:
                    assert exc.errno == errno.EDQUOT
                else:
                    raise AssertionError("the fault did not fire")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_entry_point_is_registered():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.metadata as m; print([e.value for e in m.entry_points(group='pytest11')])",
        ],
        capture_output=True,
        text=True,
    ).stdout
    assert "fakegluster.testing.plugin" in out
