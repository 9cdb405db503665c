"""``fakegluster conformance``: grade a gluster *client* against a catalogue of scenarios.

Each scenario sets up fake servers (volumes, options, faults, brick restarts, volfile
changes), drives the client through a small interface, and judges what the client reported
and what it sent on the wire (the fake's call log).  Outcomes are pynfs's: PASS, WARN (it
worked, not as it should), FAIL, OMIT (the client cannot do what the scenario needs, or a
prerequisite did not pass).

    from fakegluster import conformance
    report = conformance.run("libgfapi", k="MGMT")     # or flags=["bricks"], jobs=4
    print(report.table())

Command line: ``fakegluster conformance --client libgfapi [-k EXPR] [--flags F] [--list]
[--json F] [--junit F] [--expect F] [--real]``.  ``--real`` (``run(..., real=RealGluster)``)
runs the scenarios that can run there against a real GlusterFS on this machine instead:
a verdict that differs from the fake's is the fake's fault (:mod:`.real`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..testing.realgluster import RealGluster
    from .core import CATALOGUE, Outcome, Result, Scenario, scenario, select
    from .drivers import DRIVERS, get_driver
    from .drivers.base import Driver
    from .report import Report, compare, expected_json, load_expected

#: public name -> the submodule defining it, imported on first use (PEP 562): ``fakegluster
#: serve`` imports this package for its ``conformance`` subcommand's arguments only, and the
#: runner imports the whole server (trio and all) before the server itself would
_LAZY = {
    **dict.fromkeys(("CATALOGUE", "Outcome", "Result", "Scenario", "scenario", "select"), "core"),
    **dict.fromkeys(("DRIVERS", "get_driver"), "drivers"),
    **dict.fromkeys(("Report", "compare", "expected_json", "load_expected"), "report"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "run",
    "catalogue",
    "CATALOGUE",
    "DRIVERS",
    "get_driver",
    "Outcome",
    "Result",
    "Scenario",
    "Report",
    "scenario",
    "select",
    "compare",
    "expected_json",
    "load_expected",
]


def catalogue() -> dict[str, Scenario]:
    """Every scenario, by code (imports the scenario modules)."""
    from . import scenarios  # noqa: F401  (registers)
    from .core import CATALOGUE

    return dict(CATALOGUE)


def run(
    client: str | Driver = "gfclient",
    *,
    k: str | None = None,
    flags: Iterable[str] = (),
    jobs: int = 4,
    progress: Callable[[Result], None] | None = None,
    real: RealGluster | None = None,
) -> Report:
    """Run the scenarios selected by ``k`` (substrings of code or name) and ``flags`` (with
    their prerequisites) against ``client`` (a driver name, ``agent:COMMAND`` or a Driver).
    With ``real`` (a started :class:`~fakegluster.testing.realgluster.RealGluster`), the
    scenarios marked ``real`` run against volumes of that real GlusterFS instead of fakes."""
    from .core import select
    from .drivers import get_driver
    from .runner import run_scenarios

    cat = catalogue()
    if real is not None:
        cat = {code: s for code, s in cat.items() if s.real}
    driver = get_driver(client) if isinstance(client, str) else client
    why = driver.unavailable()
    if why is not None:
        raise RuntimeError(f"client {driver.name} cannot run here: {why}")
    try:
        return run_scenarios(driver, select(k, flags, cat), jobs=jobs, progress=progress, real=real)
    finally:
        driver.close()
