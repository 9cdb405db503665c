"""``fakegluster conformance``: the command line of the suite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "main"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "conformance",
        help="grade a gluster client: run the catalogue of scenarios against it",
        description="Run scenarios (fake servers with faults, restarts, volfile changes) against one client and "
        "judge what it reports and what it sends. Outcomes: PASS, WARN, FAIL, OMIT; exits 1 on FAIL.",
    )
    p.add_argument(
        "--client",
        default="gfclient",
        metavar="DRIVER",
        help="gfclient, libgfapi, qemu, fuse, or agent:COMMAND (a program speaking the agent protocol); "
        "default gfclient",
    )
    p.add_argument(
        "-k",
        dest="expr",
        metavar="EXPR",
        help="only scenarios whose code or name contains EXPR "
        "(comma-separated alternatives; 'not X' excludes), with their prerequisites",
    )
    p.add_argument("--flags", metavar="F,F", default="", help="only scenarios in these groups (comma-separated)")
    p.add_argument("--list", action="store_true", help="list the selected scenarios (code, groups, name) and exit")
    p.add_argument("--jobs", "-j", type=int, default=4, metavar="N", help="scenarios run at once (default 4)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--junit", metavar="FILE", help="write the results as JUnit XML")
    p.add_argument(
        "--expect",
        metavar="FILE",
        help="compare outcomes with recorded expectations (fixtures/conformance/expected-DRIVER.json): exit 1 "
        "on any difference instead of on FAIL",
    )
    p.add_argument(
        "--record",
        metavar="FILE",
        help="write the outcomes as expectations to FILE (with -k/--flags: update those scenarios' entries)",
    )
    p.add_argument(
        "--real",
        action="store_true",
        help="run the scenarios marked real against the real GlusterFS of this machine (root; volumes fgreal-*, "
        "deleted at the end) instead of fakes",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines, just the table")
    p.add_argument("--verbose", "-v", action="store_true", help="show the servers' and gfclient's log warnings")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import json
    import logging

    from . import catalogue, select
    from .drivers import get_driver
    from .report import compare, expected_json, load_expected
    from .runner import run_scenarios

    # the scenarios break servers and connections on purpose: their warnings are expected
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL, stream=sys.stderr)
    cat = catalogue()
    if args.real:
        cat = {code: s for code, s in cat.items() if s.real}
    flags = [f for f in args.flags.split(",") if f]
    chosen = select(args.expr, flags, cat)
    if args.list:
        for s in chosen:
            deps = f"  (after {', '.join(s.depends)})" if s.depends else ""
            print(f"{s.code:<32} {','.join(sorted(s.flags)):<28} {s.name}{deps}")
        return 0
    try:
        driver = get_driver(args.client)
    except (ValueError, ImportError) as exc:
        print(f"fakegluster conformance: {exc}", file=sys.stderr)
        return 2
    why = driver.unavailable()
    if why is not None:
        print(f"fakegluster conformance: {driver.name} cannot run here: {why}", file=sys.stderr)
        return 2

    def progress(r: object) -> None:
        if not args.quiet:
            print(f"  {r.outcome.value:<4} {r.code}", file=sys.stderr, flush=True)  # type: ignore[attr-defined]

    real = None
    if args.real:
        from ..testing.realgluster import RealGluster, available

        ok, reason = available()
        if not ok:
            print(f"fakegluster conformance: no real GlusterFS here: {reason}", file=sys.stderr)
            return 2
        real = RealGluster().start()
    try:
        report = run_scenarios(driver, chosen, jobs=args.jobs, progress=progress, real=real)
    finally:
        driver.close()
        if real is not None:
            real.stop()
    print(report.table(), end="")
    if args.json:
        Path(args.json).write_text(json.dumps(report.as_json(), indent=1) + "\n")
    if args.junit:
        Path(args.junit).write_text(report.junit())
    if args.record:
        record = Path(args.record)
        previous = json.loads(record.read_text()) if record.exists() else None
        partial = bool(args.expr or flags)
        record.write_text(json.dumps(expected_json(report, previous, partial=partial), indent=1) + "\n")
    if args.expect:
        diff = compare(report.results, load_expected(args.expect), complete=not (args.expr or flags))
        for line in diff:
            print(f"differs: {line}")
        return 1 if diff else 0
    return 1 if report.failed else 0
