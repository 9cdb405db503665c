"""The catalogue's vocabulary: outcomes, scenarios and their registry (pynfs's shape).

A scenario is a function taking a :class:`~.context.Ctx`, registered under a stable code::

    @scenario("MGMT-GETSPEC-ENOENT", flags="mgmt getspec", depends="MGMT-MOUNT")
    def getspec_unknown_volume(ctx: Ctx) -> None:
        '''A mount of a volume glusterd does not know fails, and says so.'''

Its docstring's first line is its name in reports.  It PASSes by returning; it FAILs by
raising :class:`Failed` (``ctx.fail(...)``) -- or anything else (a client error nobody
expected, a harness bug: reported as FAIL with the exception); ``ctx.warn(...)`` makes a pass
a WARN (it worked, but not as it should); :class:`Omit` (raised by ``ctx.omit(...)`` or by a
driver that cannot do something) makes it OMIT, as does a prerequisite (``depends``) that did
not pass -- pynfs's rule: a test whose prerequisite failed says nothing about the client.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .context import Ctx

__all__ = [
    "Outcome",
    "Result",
    "Scenario",
    "Failed",
    "Omit",
    "scenario",
    "CATALOGUE",
    "select",
    "with_dependencies",
]


class Outcome(enum.Enum):
    """What a scenario says about a client (pynfs's PASS / WARN / FAIL / OMIT)."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    OMIT = "OMIT"


class Failed(AssertionError):
    """The client did not cope: the scenario FAILs with this reason."""


class Omit(Exception):
    """The scenario cannot say anything about this client (the driver cannot do what it
    needs, or a prerequisite did not pass): OMIT with this reason."""


ScenarioFn = Callable[["Ctx"], None]

_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One entry of the catalogue.

    ``code``: stable (reports, expectations and ``-k`` use it); ``flags``: the groups it
    belongs to (``--flags``); ``depends``: codes that must PASS or WARN first; ``timeout``:
    seconds the scenario may take before it FAILs as hung; ``known``: driver name -> the
    upstream bug that makes that client FAIL it (appended to the reason when it does).
    """

    code: str
    name: str
    fn: ScenarioFn
    flags: frozenset[str] = frozenset()
    depends: tuple[str, ...] = ()
    timeout: float = 60.0
    known: Mapping[str, str] = dataclasses.field(default_factory=dict)
    doc: str = ""
    #: it can run on a real GlusterFS too (:mod:`.real`): its setup uses nothing only the fake
    #: can do and its verdict does not depend on the call log
    real: bool = False

    def __post_init__(self) -> None:
        if not _CODE_RE.match(self.code):
            raise ValueError(f"scenario code {self.code!r}: GROUP-WORD[-WORD...] in capitals")


@dataclasses.dataclass
class Result:
    """A scenario's outcome on one client: one line of the table."""

    code: str
    name: str
    outcome: Outcome
    reason: str = ""
    seconds: float = 0.0
    #: details for the JSON report (the traceback of an unexpected error, warnings...)
    details: list[str] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "seconds": round(self.seconds, 2),
            "details": list(self.details),
        }


#: Every registered scenario, by code, in registration order.
CATALOGUE: dict[str, Scenario] = {}


def scenario(
    code: str,
    *,
    flags: str | Iterable[str] = (),
    depends: str | Iterable[str] = (),
    timeout: float = 60.0,
    known: Mapping[str, str] | None = None,
    real: bool = False,
) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register ``fn`` in :data:`CATALOGUE` under ``code`` (see the module docstring).
    The code's first word is always a flag (``MGMT-...`` is in group ``mgmt``)."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        doc = (fn.__doc__ or "").strip()
        if not doc:
            raise ValueError(f"scenario {code}: its docstring's first line is its name")
        name = doc.splitlines()[0].strip()
        words = flags.split() if isinstance(flags, str) else list(flags)
        deps = tuple(depends.split()) if isinstance(depends, str) else tuple(depends)
        if code in CATALOGUE:
            raise ValueError(f"scenario {code} is registered twice")
        for dep in deps:
            if dep not in CATALOGUE:
                raise ValueError(f"scenario {code} depends on {dep}, which is not registered (yet)")
        CATALOGUE[code] = Scenario(
            code,
            name,
            fn,
            frozenset([code.split("-", 1)[0].lower(), *words]),
            deps,
            timeout,
            dict(known or {}),
            doc,
            real,
        )
        return fn

    return register


def with_dependencies(codes: Iterable[str], catalogue: Mapping[str, Scenario] | None = None) -> list[Scenario]:
    """The scenarios named, with everything they depend on, in catalogue order (a
    prerequisite is always registered before what depends on it)."""
    cat = CATALOGUE if catalogue is None else catalogue
    wanted: set[str] = set()
    todo = list(codes)
    while todo:
        code = todo.pop()
        if code in wanted:
            continue
        if code not in cat:
            raise KeyError(f"no scenario {code}")
        wanted.add(code)
        todo.extend(cat[code].depends)
    return [s for c, s in cat.items() if c in wanted]


def select(
    expr: str | None = None,
    flags: Iterable[str] = (),
    catalogue: Mapping[str, Scenario] | None = None,
) -> list[Scenario]:
    """The scenarios to run: those whose code or name contains ``expr`` (case-insensitive;
    ``-k`` takes several words separated by commas, any of them matches; a leading ``not ``
    excludes) and that carry one of ``flags`` (none: all), plus their prerequisites."""
    cat = CATALOGUE if catalogue is None else catalogue
    flagset = {f.lower() for f in flags}
    chosen = []
    for code, s in cat.items():
        if flagset and not (flagset & s.flags):
            continue
        if expr and not _matches(expr, s):
            continue
        chosen.append(code)
    return with_dependencies(chosen, cat)


def _matches(expr: str, s: Scenario) -> bool:
    text = f"{s.code} {s.name}".lower()
    include, exclude = [], []
    for word in (w.strip().lower() for w in expr.split(",")):
        if not word:
            continue
        if word.startswith("not "):
            exclude.append(word[4:].strip())
        else:
            include.append(word)
    if any(w in text for w in exclude):
        return False
    return not include or any(w in text for w in include)
