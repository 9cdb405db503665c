"""run_gfapi runs a libgfapi tool once more when it died of SIGABRT/SIGSEGV (glfs_fini's race)."""

from fakegluster.testing.procs import run_gfapi

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
