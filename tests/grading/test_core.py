"""The suite's machinery on a catalogue of its own: selection, prerequisites (pynfs's OMIT),
outcomes from what a scenario raises, the reports (table, JSON, JUnit) and expectations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from fakegluster.conformance import core
from fakegluster.conformance.context import Ctx
from fakegluster.conformance.core import Outcome, Scenario, select, with_dependencies
from fakegluster.conformance.drivers.base import ClientError, ClientHang, Driver, Unsupported, errno_from_text
from fakegluster.conformance.report import compare, expected_json, load_expected
from fakegluster.conformance.runner import run_scenarios


class NoClient(Driver):
    name = "none"
    description = "no client at all"
    caps = frozenset({"stat"})


def _cat(**fns):
    """A catalogue: code -> (fn, depends)."""
    out = {}
    for code, (fn, deps) in fns.items():
        code = code.replace("_", "-")
        out[code] = Scenario(code, fn.__doc__ or code, fn, frozenset({code.split("-")[0].lower()}), tuple(deps))
    return out


def ok(ctx: Ctx) -> None:
    """passes"""


def warns(ctx: Ctx) -> None:
    """warns"""
    ctx.warn("not quite")


def fails(ctx: Ctx) -> None:
    """fails"""
    ctx.fail("no")


def needs_lock(ctx: Ctx) -> None:
    """needs a capability the driver lacks"""
    ctx.need("lock")


def client_error(ctx: Ctx) -> None:
    """the client fails unexpectedly"""
    raise ClientError(5, "Input/output error")


def hangs(ctx: Ctx) -> None:
    """the client hangs"""
    raise ClientHang("read did not return within 1 s")


def bug(ctx: Ctx) -> None:
    """the scenario has a bug"""
    raise KeyError("oops")


CAT = _cat(
    A_OK=(ok, ()),
    A_WARN=(warns, ()),
    A_FAIL=(fails, ()),
    B_AFTER_FAIL=(ok, ("A-FAIL",)),
    B_AFTER_WARN=(ok, ("A-WARN",)),
    B_NEEDS=(needs_lock, ()),
    C_AFTER_OMIT=(ok, ("B-NEEDS",)),
    C_CLIENT=(client_error, ()),
    C_HANG=(hangs, ()),
    C_BUG=(bug, ()),
)


def test_outcomes_from_what_scenarios_do():
    report = run_scenarios(NoClient(), list(CAT.values()), jobs=3)
    got = {r.code: r.outcome for r in report.results}
    assert got == {
        "A-OK": Outcome.PASS,
        "A-WARN": Outcome.WARN,
        "A-FAIL": Outcome.FAIL,
        "B-AFTER-FAIL": Outcome.OMIT,  # a failed prerequisite says nothing about what depends on it
        "B-AFTER-WARN": Outcome.PASS,  # a WARN is a pass
        "B-NEEDS": Outcome.OMIT,
        "C-AFTER-OMIT": Outcome.OMIT,
        "C-CLIENT": Outcome.FAIL,
        "C-HANG": Outcome.FAIL,
        "C-BUG": Outcome.FAIL,
    }
    reasons = {r.code: r.reason for r in report.results}
    assert reasons["A-WARN"] == "not quite"
    assert reasons["B-AFTER-FAIL"] == "prerequisite A-FAIL did not pass (FAIL)"
    assert reasons["B-NEEDS"] == "none cannot take POSIX byte-range locks"
    assert reasons["C-CLIENT"] == "unexpected client error: EIO: Input/output error"
    assert reasons["C-HANG"].startswith("hung: read did not return")
    assert "KeyError" in reasons["C-BUG"]
    assert report.failed
    assert [r.code for r in report.results] == list(CAT)  # results in catalogue order


def test_a_known_upstream_bug_is_named_when_that_client_fails():
    s = Scenario("K-BUG", "fails on none", fails, known={"none": "upstream#1"})
    (r,) = run_scenarios(NoClient(), [s]).results
    assert r.outcome is Outcome.FAIL and r.reason == "no [known: upstream#1]"


def test_selection_takes_prerequisites_along():
    assert [s.code for s in select("after-fail", catalogue=CAT)] == ["A-FAIL", "B-AFTER-FAIL"]
    assert [s.code for s in select(flags=["c"], catalogue=CAT)] == [
        "B-NEEDS",
        "C-AFTER-OMIT",
        "C-CLIENT",
        "C-HANG",
        "C-BUG",
    ]
    assert [s.code for s in select("a-, not warn", catalogue=CAT)] == ["A-OK", "A-FAIL"]
    assert len(select(catalogue=CAT)) == len(CAT)
    with pytest.raises(KeyError):
        with_dependencies(["NOPE"], CAT)


def test_registration_checks_codes_names_and_order():
    with pytest.raises(ValueError, match="capitals"):
        Scenario("lower-case", "x", ok)
    with pytest.raises(ValueError, match="not registered"):
        core.scenario("ZZ-TEST-ORDER", depends="ZZ-NOT-YET")(ok)
    with pytest.raises(ValueError, match="docstring"):
        core.scenario("ZZ-TEST-NODOC")(lambda ctx: None)
    assert "ZZ-TEST-ORDER" not in core.CATALOGUE and "ZZ-TEST-NODOC" not in core.CATALOGUE


def test_the_real_catalogue_is_consistent():
    from fakegluster import conformance

    cat = conformance.catalogue()
    assert len(cat) >= 40
    for code, s in cat.items():
        assert s.code == code and s.name and not s.name.endswith(".")
        for dep in s.depends:
            assert list(cat).index(dep) < list(cat).index(code)


def test_reports(tmp_path):
    report = run_scenarios(NoClient(), [CAT["A-OK"], CAT["A-WARN"], CAT["A-FAIL"], CAT["B-NEEDS"]])
    table = report.table()
    assert "A-FAIL" in table and "FAIL  no" in table and "1 PASS, 1 WARN, 1 FAIL, 1 OMIT" in table
    data = report.as_json()
    assert data["counts"] == {"PASS": 1, "WARN": 1, "FAIL": 1, "OMIT": 1}
    json.dumps(data)
    suite = ET.fromstring(report.junit())
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = {c.get("name").split()[0]: c for c in suite}
    assert cases["A-FAIL"].find("failure").get("message") == "no"
    assert cases["B-NEEDS"].find("skipped") is not None

    path = tmp_path / "expected-none.json"
    path.write_text(json.dumps(expected_json(report)))
    expected = load_expected(path)
    assert compare(report.results, expected) == []
    again = run_scenarios(NoClient(), [CAT["A-OK"], CAT["A-WARN"], CAT["A-FAIL"]])
    assert compare(again.results, expected) == ["B-NEEDS: expected OMIT, not run"]
    assert compare(again.results, expected, complete=False) == []
    flipped = {**expected, "A-OK": ("FAIL",)}
    assert compare(again.results, flipped, complete=False) == ["A-OK: expected FAIL, got PASS ()"]
    flaky = {**expected, "A-OK": ("FAIL", "PASS")}
    assert compare(again.results, flaky, complete=False) == []


def test_errno_from_a_tools_words():
    assert errno_from_text("write failed: No space left on device") == 28
    assert errno_from_text("read failed: Input/output error") == 5
    assert errno_from_text("Could not open 'x': No such file or directory") == 2
    assert errno_from_text("failed to connect") == 0


def test_unsupported_is_an_omission():
    assert issubclass(Unsupported, core.Omit)


def test_a_scenario_that_runs_on_a_real_glusterfs_depends_only_on_such_scenarios():
    """With ``--real`` only scenarios marked real run: a prerequisite that is not would OMIT
    everything after it."""
    from fakegluster import conformance

    cat = conformance.catalogue()
    real = {code for code, s in cat.items() if s.real}
    assert "MGMT-MOUNT" in real
    assert {(code, d) for code in real for d in cat[code].depends if d not in real} == set()


def test_a_fake_only_scenario_omits_on_a_real_glusterfs():
    """A scenario not marked real asks for a server on a real GlusterFS: OMIT, no volume made."""
    cat = _cat(FAKE_ONLY=(lambda ctx: ctx.serve(), ()))
    marker = object()
    report = run_scenarios(NoClient(), list(cat.values()), real=marker)  # type: ignore[arg-type]
    assert [(r.outcome, r.reason) for r in report.results] == [(Outcome.OMIT, "this scenario runs on the fake only")]


def test_recording_a_selection_keeps_the_other_entries():
    from fakegluster.conformance.report import Report

    previous = {
        "driver": "x",
        "outcomes": {
            "MGMT-MOUNT": {"outcome": "PASS", "reason": ""},
            "FOP-READ-EOF": {"outcome": "FAIL", "reason": "r"},
        },
    }
    report = Report("x", "x", [core.Result("MGMT-HANDSHAKE", "h", Outcome.WARN, "w")])
    got = expected_json(report, previous, partial=True)["outcomes"]
    assert list(got) == ["MGMT-MOUNT", "MGMT-HANDSHAKE", "FOP-READ-EOF"]  # catalogue order
    assert got["MGMT-HANDSHAKE"] == {"outcome": "WARN", "reason": "w"}
    assert got["FOP-READ-EOF"] == {"outcome": "FAIL", "reason": "r"}
    assert list(expected_json(report, previous)["outcomes"]) == ["MGMT-HANDSHAKE"]
