"""A run's results as a table, JSON, JUnit XML, and against recorded expectations.

Expectations (``fixtures/conformance/expected-DRIVER.json``) record each scenario's outcome
for one client; :func:`compare` lists every scenario whose outcome differs, so a change in
the client -- or in the catalogue -- shows up as a diff.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .core import Outcome, Result

__all__ = ["Report", "load_expected", "compare", "expected_json"]


@dataclasses.dataclass
class Report:
    driver: str
    description: str
    results: list[Result]
    seconds: float = 0.0

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.outcome.value for r in self.results)

    @property
    def failed(self) -> bool:
        return any(r.outcome is Outcome.FAIL for r in self.results)

    def summary(self) -> str:
        c = self.counts
        parts = [f"{c.get(o.value, 0)} {o.value}" for o in Outcome]
        return f"{self.driver}: {len(self.results)} scenarios, " + ", ".join(parts) + f" in {self.seconds:.0f} s"

    def table(self, width: int = 120) -> str:
        """One line per scenario: code, name, outcome, reason (cut to ``width``)."""
        if not self.results:
            return "no scenario selected\n"
        cw = max(len(r.code) for r in self.results)
        nw = min(48, max(len(r.name) for r in self.results))
        lines = []
        for r in self.results:
            name = r.name if len(r.name) <= nw else r.name[: nw - 1] + "…"
            line = f"{r.code:<{cw}}  {name:<{nw}}  {r.outcome.value:<4}  {r.reason}"
            lines.append(line if len(line) <= width else line[: width - 1] + "…")
        return "\n".join(lines) + "\n" + self.summary() + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "driver": self.driver,
            "client": self.description,
            "seconds": round(self.seconds, 1),
            "counts": dict(self.counts),
            "results": [r.as_json() for r in self.results],
        }

    def junit(self) -> str:
        """JUnit XML: one testcase per scenario (FAIL: failure, OMIT: skipped, WARN: passes
        with its reason in system-out)."""
        c = self.counts
        suite = ET.Element(
            "testsuite",
            name=f"fakegluster conformance {self.driver}",
            tests=str(len(self.results)),
            failures=str(c.get("FAIL", 0)),
            skipped=str(c.get("OMIT", 0)),
            errors="0",
            time=f"{self.seconds:.2f}",
        )
        for r in self.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"conformance.{self.driver}",
                name=f"{r.code} {r.name}",
                time=f"{r.seconds:.2f}",
            )
            if r.outcome is Outcome.FAIL:
                ET.SubElement(case, "failure", message=r.reason).text = "\n".join(r.details) or r.reason
            elif r.outcome is Outcome.OMIT:
                ET.SubElement(case, "skipped", message=r.reason)
            elif r.outcome is Outcome.WARN:
                ET.SubElement(case, "system-out").text = f"WARN: {r.reason}"
        ET.indent(suite)
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def expected_json(
    report: Report, previous: Mapping[str, Any] | None = None, *, partial: bool = False
) -> dict[str, Any]:
    """What to record as a client's expectations: outcome and reason per scenario (a
    ``previous`` record's ``also``/``flaky`` notes are kept while its outcome stays accepted).
    ``partial``: the run was a selection; the previous entries of scenarios it did not run
    are kept (in catalogue order)."""
    old = (previous or {}).get("outcomes", {})
    outcomes: dict[str, Any] = {}
    for r in report.results:
        entry: dict[str, Any] = {"outcome": r.outcome.value, "reason": r.reason}
        before = old.get(r.code, {})
        accepted = {before.get("outcome"), *before.get("also", ())}
        if before.get("flaky") and r.outcome.value in accepted:
            entry = {**entry, "outcome": before["outcome"], "also": before.get("also", []), "flaky": before["flaky"]}
            if r.outcome.value == before["outcome"]:
                entry["reason"] = r.reason
            else:
                entry["reason"] = before.get("reason", "")
        outcomes[r.code] = entry
    if partial:
        from . import catalogue

        merged = {**old, **outcomes}
        outcomes = {code: merged[code] for code in catalogue() if code in merged}
    return {"driver": report.driver, "client": report.description, "outcomes": outcomes}


def load_expected(path: str | Path) -> dict[str, tuple[str, ...]]:
    """code -> the outcomes accepted, from a file written from :func:`expected_json`: its
    ``outcome``, then any ``also`` (a client that is not deterministic there: the entry's
    ``flaky`` says why)."""
    data = json.loads(Path(path).read_text())
    return {code: (entry["outcome"], *entry.get("also", ())) for code, entry in data["outcomes"].items()}


def compare(results: Iterable[Result], expected: Mapping[str, tuple[str, ...]], *, complete: bool = True) -> list[str]:
    """Lines naming each scenario whose outcome is not one ``expected`` accepts (and, with
    ``complete``, scenarios run but not expected and expected but not run)."""
    out = []
    seen = set()
    for r in results:
        seen.add(r.code)
        want = expected.get(r.code)
        if want is None:
            if complete:
                out.append(f"{r.code}: {r.outcome.value} ({r.reason}), not in the expectations")
        elif r.outcome.value not in want:
            out.append(f"{r.code}: expected {'|'.join(want)}, got {r.outcome.value} ({r.reason})")
    if complete:
        out += [f"{code}: expected {'|'.join(want)}, not run" for code, want in expected.items() if code not in seen]
    return out
