"""Run scenarios against one client: in parallel (each scenario has its own servers and
mounts, so they are independent), a prerequisite before what depends on it, and a scenario
whose prerequisite did not PASS or WARN is OMIT without running (pynfs's rule).

Real clients spend most of a scenario waiting (libgfapi's timers, ping-timeouts, reconnect
intervals), so several scenarios at once cost little CPU; ``jobs`` bounds them.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from .context import Ctx
from .core import Failed, Omit, Outcome, Result, Scenario
from .drivers.base import ClientError, ClientHang, Driver, call_with_timeout
from .report import Report

if TYPE_CHECKING:
    from ..testing.realgluster import RealGluster

__all__ = ["run_scenarios", "run_one"]

_OK = (Outcome.PASS, Outcome.WARN)


def run_one(scenario: Scenario, driver: Driver, workdir: str | None = None, real: RealGluster | None = None) -> Result:
    """One scenario on ``driver`` (against fakes, or volumes of ``real``): its outcome,
    reason and time."""
    started = time.monotonic()
    ctx = Ctx(scenario, driver, workdir, real)
    details: list[str] = []
    try:
        call_with_timeout(lambda: scenario.fn(ctx), scenario.timeout, f"scenario {scenario.code}")
        if ctx.warnings:
            outcome, reason = Outcome.WARN, "; ".join(ctx.warnings)
        else:
            outcome, reason = Outcome.PASS, ""
    except Omit as exc:
        outcome, reason = Outcome.OMIT, str(exc)
    except Failed as exc:
        outcome, reason = Outcome.FAIL, str(exc)
    except ClientHang as exc:
        outcome, reason = Outcome.FAIL, f"hung: {exc}"
    except ClientError as exc:
        outcome, reason = Outcome.FAIL, f"unexpected client error: {exc}"
    except Exception as exc:  # a harness bug or an unforeseen client answer: reported, never raised
        outcome, reason = Outcome.FAIL, f"error in the scenario: {type(exc).__name__}: {exc}"
        details.append(traceback.format_exc())
    finally:
        ctx.close()
    if outcome in (Outcome.FAIL, Outcome.WARN) and driver.name in scenario.known:
        reason = f"{reason} [known: {scenario.known[driver.name]}]"
    details[:0] = ctx.notes + [f"warning: {w}" for w in ctx.warnings if outcome is not Outcome.WARN]
    return Result(scenario.code, scenario.name, outcome, reason, time.monotonic() - started, details)


def run_scenarios(
    driver: Driver,
    scenarios: Sequence[Scenario],
    *,
    jobs: int = 4,
    progress: Callable[[Result], None] | None = None,
    workdir: str | None = None,
    real: RealGluster | None = None,
) -> Report:
    """Run ``scenarios`` (with their prerequisites already included, see
    :func:`~.core.select`) on ``driver``; results in the order given.  With ``real``, the
    servers are volumes of that real GlusterFS (scenarios marked ``real`` only)."""
    started = time.monotonic()
    results: dict[str, Result] = {}
    lock = threading.Condition()
    pending = list(scenarios)
    running = 0
    codes = {s.code for s in scenarios}

    def ready(s: Scenario) -> bool:
        return all(d in results or d not in codes for d in s.depends)

    def blocked_by(s: Scenario) -> Result | None:
        for d in s.depends:
            r = results.get(d)
            if r is not None and r.outcome not in _OK:
                return r
        return None

    def finish(result: Result) -> None:
        nonlocal running
        with lock:
            results[result.code] = result
            running -= 1
            lock.notify_all()
        if progress is not None:
            progress(result)

    def work(s: Scenario) -> None:
        try:
            result = run_one(s, driver, workdir, real)
        except BaseException as exc:  # never lose a slot
            result = Result(s.code, s.name, Outcome.FAIL, f"runner error: {exc!r}")
        finish(result)

    with lock:
        while pending or running:
            launched = False
            for s in list(pending):
                if not ready(s):
                    continue
                blocker = blocked_by(s)
                if blocker is not None:
                    pending.remove(s)
                    results[s.code] = Result(
                        s.code,
                        s.name,
                        Outcome.OMIT,
                        f"prerequisite {blocker.code} did not pass ({blocker.outcome.value})",
                    )
                    if progress is not None:
                        progress(results[s.code])
                    launched = True
                    continue
                if running >= max(1, jobs):
                    break
                pending.remove(s)
                running += 1
                threading.Thread(target=work, args=(s,), name=f"conformance {s.code}", daemon=True).start()
                launched = True
            if not launched:
                lock.wait(1.0)
    return Report(driver.name, driver.description, [results[s.code] for s in scenarios], time.monotonic() - started)
