"""The pytest plugin's fixtures, used the way a user would (pytester runs them in a fresh
pytest, through the entry point)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from fakegluster.testing.realgluster import VOLUME_PREFIX, gluster_cli

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


def test_shared_server_is_reset_between_tests(pytester):
    """fakegluster_shared: one server (same port) for the session, wiped before every test:
    files, volumes a test added, options it set, call log and faults."""
    pytester.makepyfile("""
        import errno
        import gfclient
        import fakegluster  # the package: the fixtures' new names do not hide it
        PORTS = []

        def test_dirty(fakegluster_shared):
            PORTS.append(fakegluster_shared.info.port)
            fakegluster_shared.write_file("left.img", b"x")
            fakegluster_shared.create_volume("added")
            fakegluster_shared.set_option("performance.write-behind", "off")
            fakegluster_shared.faults.inject("CREATE", errno=errno.EDQUOT, times=None)
            assert fakegluster.__name__ == "fakegluster"

        def test_clean(fakegluster_shared, fakegluster_session):
            assert fakegluster_shared is fakegluster_session
            PORTS.append(fakegluster_shared.info.port)
            assert PORTS[0] == PORTS[1]
            assert not fakegluster_shared.exists("left.img")
            assert fakegluster_shared.info.volumes == ["testvol"]
            assert "performance.write-behind" not in fakegluster_shared.volume_model().options
            assert len(fakegluster_shared.calls) == 0 and not fakegluster_shared.faults.active
            with gfclient.connect(fakegluster_shared.uri("testvol")) as vol:
                vol.fopen("new", "w").write(b"fine")   # no EDQUOT any more
            fakegluster_shared.calls.assert_called("CREATE", path="/new")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_options_and_ini_pick_the_volumes(pytester):
    """--fakegluster-volume wins over the ini key, which wins over the default."""
    pytester.makeini("""
        [pytest]
        fakegluster_volumes =
            fromini
            other;performance.write-behind=off
    """)
    pytester.makepyfile("""
        def test_volumes(fakegluster_server, pytestconfig):
            want = pytestconfig.getoption("fakegluster_volume") or ["fromini", "other"]
            assert fakegluster_server.info.volumes == [v.split(";")[0] for v in want]
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fakegluster-volume", "cli").assert_outcomes(passed=1)


def test_fixtures_are_documented_and_arguments_checked(pytester):
    pytester.makepyfile("""
        import pytest

        def test_bad_fault(fakegluster_server):
            with pytest.raises(ValueError, match="did you mean WRITE"):
                fakegluster_server.faults.inject("WRTIE")
            with pytest.raises(TypeError, match="errno.EIO"):
                fakegluster_server.faults.inject("WRITE", errno="EIO")
            with pytest.raises(ValueError, match="nth=0"):
                fakegluster_server.faults.inject("WRITE", nth=0)
            with pytest.raises(ValueError, match="delay=-1"):
                fakegluster_server.faults.inject("WRITE", delay=-1)

        def test_failing_assertion(fakegluster_server):
            fakegluster_server.calls.assert_called("WRITE", path="/never")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    # __tracebackhide__: the failure points at the test's line, not into the call log
    result.stdout.fnmatch_lines(["*expected WRITE {'path': '/never'} to be called at least once, found 0*"])
    assert "def assert_called" not in result.stdout.str()
    fixtures = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    text = fixtures.stdout.str()
    for name in ("fakegluster_server", "fakegluster_shared", "fakegluster_session", "fakegluster_factory"):
        assert re.search(rf"^{name} .*\n\s+\S", text, re.M), f"{name} has no docstring in pytest --fixtures"
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    assert "--fakegluster-target" in help_text and "--fakegluster-pcap" in help_text


def test_real_target_runs_the_same_tests(pytester):
    """--fakegluster-target gluster://HOST:PORT/VOL points the same fixtures at a volume
    somewhere else (here: a fake served by another process, standing in for a real cluster
    in a nightly job): files seeded and read through gfclient, erased between tests,
    fake-only tests skipped, the call log refused with a clear message."""
    from fakegluster.testing.serve import serve_process

    pytester.makepyfile("""
        import pytest
        import gfclient

        def test_seed(fakegluster_server):
            assert fakegluster_server.is_real
            fakegluster_server.write_file("d/a.img", b"seeded")
            with gfclient.connect(fakegluster_server.uri("testvol")) as vol:
                assert vol.fopen("d/a.img").read() == b"seeded"

        def test_erased(fakegluster_shared):
            assert not fakegluster_shared.exists("d")

        @pytest.mark.fakegluster_only
        def test_fake_only(fakegluster_server):
            fakegluster_server.calls

        def test_factory(fakegluster_factory):
            pass

        def test_calls_refused(fakegluster_server):
            with pytest.raises(Exception, match="fake only.*fakegluster_only"):
                fakegluster_server.calls
    """)
    with serve_process(volumes=["nightly"], listen=["tcp://127.0.0.1:0"]) as served:
        target = f"gluster://127.0.0.1:{served.port()}/nightly"
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fakegluster-target", target)
    result.assert_outcomes(passed=3, skipped=2)


@pytest.mark.real
def test_real_harness_target_runs_the_same_tests(pytester, real_gluster):
    """--fakegluster-target real: the fixtures give throw-away volumes of this machine's real
    GlusterFS 10.3 (made by the RealGluster harness from the --fakegluster-volume spec: its
    layout and options), the same tests seed, read and find them erased between tests, and
    the volume is gone when the session ends."""
    pytester.makepyfile("""
        import pytest
        import gfclient
        from fakegluster.testing.realgluster import gluster_cli

        def test_seed(fakegluster_server):
            assert fakegluster_server.is_real and fakegluster_server.volumes == ["vm"]
            name = fakegluster_server.real_name("vm")
            print("REAL-VOLUME", name)
            info = gluster_cli("volume", "info", name).stdout
            assert "performance.write-behind: off" in info and "Number of Bricks: 1 x 3 = 3" in info
            fakegluster_server.write_file("d/a.img", b"seeded", volume="vm")
            with gfclient.connect(fakegluster_server.uri("vm")) as vol:
                assert vol.fopen("d/a.img").read() == b"seeded"
            assert fakegluster_server.read_file("d/a.img", volume="vm") == b"seeded"

        def test_erased(fakegluster_shared):
            assert not fakegluster_shared.exists("d", volume="vm")

        @pytest.mark.fakegluster_only
        def test_fake_only(fakegluster_server):
            fakegluster_server.calls

        def test_faults_refused(fakegluster_server):
            with pytest.raises(Exception, match="fake only.*fakegluster_only"):
                fakegluster_server.faults
    """)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-s", "--fakegluster-target=real",
        "--fakegluster-volume=vm;replica=3;performance.write-behind=off",
    )  # fmt: skip
    result.assert_outcomes(passed=3, skipped=1)
    (line,) = [x for x in result.outlines if "REAL-VOLUME " in x]
    name = line.split("REAL-VOLUME ", 1)[1].strip()
    assert name.startswith(VOLUME_PREFIX)
    assert name not in gluster_cli("volume", "list").stdout.split(), "the harness left its volume behind"


def test_pcap_option_writes_one_capture_per_server(pytester):
    pytester.makepyfile("""
        import gfclient

        def test_one(fakegluster_server):
            with gfclient.connect(fakegluster_server.uri("testvol")) as vol:
                vol.listdir("/")
    """)
    out = pytester.path / "caps"
    pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--fakegluster-pcap={out}").assert_outcomes(passed=1)
    (cap,) = out.iterdir()
    assert cap.name.endswith("test_one.pcap") and cap.stat().st_size > 1000
    from fakegluster.decode import decode_capture

    msgs = list(decode_capture(str(cap)))
    assert len(msgs) > 10 and all(m.error is None for m in msgs)


def test_the_libgfapi_exit_delay_is_documented_with_its_helper():
    """Where the plugin is documented (its module docstring, the long description pip users
    read), the ~10 s libgfapi exit (gluster/glusterfs#4329) and the public helper that runs
    such tools in parallel are named, and the helper is where they say."""
    import importlib
    import pathlib

    from fakegluster.testing import plugin

    readme = (pathlib.Path(__file__).parents[1] / "README-pypi.md").read_text()
    for text in (plugin.__doc__, readme):
        assert "gluster/glusterfs#4329" in text and "fakegluster.testing.procs.run_gfapi_parallel" in text
    assert callable(importlib.import_module("fakegluster.testing.procs").run_gfapi_parallel)
