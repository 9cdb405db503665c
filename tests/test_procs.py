"""run_gfapi runs a libgfapi tool once more when it died of SIGABRT/SIGSEGV (glfs_fini's race); tests/helpers.py
runs it again after the real disperse client's version/size race."""

from fakegluster.testing.procs import run_gfapi
from tests.helpers import again_after_ec_update_race, ec_update_race

SCRIPT = 'if [ -e "$1" ]; then echo second; else : > "$1"; echo "free(): invalid pointer" >&2; kill -ABRT $$; fi'


def test_a_crashed_run_is_repeated_once_and_reported(tmp_path):
    cp = run_gfapi(["sh", "-c", SCRIPT, "sh", str(tmp_path / "ran")])
    assert cp.returncode == 0 and cp.stdout == "second\n"
    assert len(cp.crashes) == 1 and "free(): invalid pointer" in cp.crashes[0]


def test_no_retry_when_told_not_to(tmp_path):
    cp = run_gfapi(["sh", "-c", SCRIPT, "sh", str(tmp_path / "ran")], crash_retries=0)
    assert cp.returncode == -6 and cp.crashes == []


def test_ordinary_failures_are_not_repeated(tmp_path):
    cp = run_gfapi(["sh", "-c", 'echo x >> "$1"; exit 3', "sh", str(tmp_path / "count")])
    assert cp.returncode == 3 and (tmp_path / "count").read_text() == "x\n"


# tests/helpers.py again_after_ec_update_race: recognised by the disperse client's log line only
EC_SCRIPT = (
    'echo x >> "$1"; if [ "$(wc -l < "$1")" -lt "$2" ]; then'
    ' echo "[2026-11-30 20:55:04.0] W [MSGID: 122040] [ec-common.c:2336:ec_update_size_version_done]'
    " 0-v-disperse-0: Failed to update version and size. FOP : 'FXATTROP' failed on gfid x.\" >&2;"
    ' echo "write failed: Bad file descriptor"; exit 1; fi; echo wrote'
)


def _ec_run(tmp_path, failures: int, **kw):
    cmd = ["sh", "-c", EC_SCRIPT, "sh", str(tmp_path / "count"), str(failures + 1)]
    return again_after_ec_update_race(cmd, run_gfapi(cmd), **kw), (tmp_path / "count").read_text().count("x")


def test_the_ec_update_race_is_run_again(tmp_path):
    cp, runs = _ec_run(tmp_path, failures=1)
    assert (cp.returncode, cp.stdout, runs) == (0, "wrote\n", 2)


def test_the_ec_update_race_is_run_again_at_most_attempts_times(tmp_path):
    cp, runs = _ec_run(tmp_path, failures=5, attempts=2)
    assert cp.returncode == 1 and ec_update_race(cp) and runs == 3


def test_other_failures_are_not_taken_for_the_ec_update_race(tmp_path):
    cmd = ["sh", "-c", 'echo x >> "$1"; echo "write failed: Bad file descriptor"; exit 1', "sh", str(tmp_path / "n")]
    cp = again_after_ec_update_race(cmd, run_gfapi(cmd))
    assert cp.returncode == 1 and not ec_update_race(cp) and (tmp_path / "n").read_text() == "x\n"
