"""glusterd 10.3's option tables, read off the real binaries (``optiontable.json``).

``optiontable.json`` is written by ``tools/record_options.py`` from the installed glusterfs
10.3: ``glusterd_volopt_map`` (``glusterd-volume-set.c``, the keys ``volume set`` knows, the
translator type and option each one drives, defaults glusterd applies itself, op-versions) and
every translator's ``volume_option_t`` table (types, ranges, allowed values, defaults).  This
module gives them as data and answers the lookups glusterd makes on them: key completion
(``COMPLETE_OPTION`` / ``option_complete``), existence, and the "Did you mean" hint
(``volopt_trie``, built on libglusterfs' ``trie.c`` edit distance).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import json
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "VolOpt",
    "XlOption",
    "volopt_map",
    "volopt",
    "complete_key",
    "key_exists",
    "hint",
    "xlator_options",
    "xlator_option",
    "group",
    "VOLOPT_FLAG_FORCE",
    "VOLOPT_FLAG_XLATOR_OPT",
    "VOLOPT_FLAG_CLIENT_OPT",
    "VOLOPT_FLAG_NEVER_RESET",
]

VOLOPT_FLAG_FORCE = 0x01  # gd_volopt_flags_t (glusterd-volgen.h)
VOLOPT_FLAG_XLATOR_OPT = 0x02
VOLOPT_FLAG_CLIENT_OPT = 0x04
VOLOPT_FLAG_NEVER_RESET = 0x08
_TABLE = Path(__file__).with_name("optiontable.json")


@dataclasses.dataclass(frozen=True)
class VolOpt:
    """One ``struct volopt_map_entry``: a ``volume set`` key."""

    key: str
    voltype: str  # translator type it configures, e.g. performance/write-behind
    option: str | None  # the translator's option name; "!name" = handled specially
    value: str | None  # the value glusterd applies when the key is not set
    type: str  # DOC, NO_DOC, GLOBAL_DOC, GLOBAL_NO_DOC
    flags: int
    op_version: int
    description: str | None
    validate_fn: bool  # glusterd has a custom check for it (see .glusterdchecks)

    @property
    def is_global(self) -> bool:
        return self.type in ("GLOBAL_DOC", "GLOBAL_NO_DOC")

    @property
    def is_client(self) -> bool:
        return bool(self.flags & VOLOPT_FLAG_CLIENT_OPT)

    @property
    def xlator_key(self) -> str:
        """The key the translator knows it by (``_get_xlator_opt_key_from_vme``)."""
        if self.key == "auth.allow":
            return "auth.addr.*.allow"
        if self.key == "auth.reject":
            return "auth.addr.*.reject"
        if self.option:
            return self.option[1:] if self.option.startswith("!") else self.option
        return self.key.split(".", 1)[1]


@dataclasses.dataclass(frozen=True)
class XlOption:
    """One ``volume_option_t`` of a translator (``libglusterfs/src/glusterfs/options.h``)."""

    keys: tuple[str, ...]  # fnmatch patterns; the first is the preferred name
    type: str  # STR INT SIZET PERCENT PERCENT_OR_SIZET BOOL XLATOR PATH TIME DOUBLE ...
    min: float
    max: float
    values: tuple[str, ...]
    default: str | None
    description: str | None
    validate: str  # BOTH, MIN, MAX
    op_version: tuple[int, ...]
    flags: int

    def matches(self, key: str) -> bool:
        # a pattern without wildcards matches only itself: fnmatch would compile a regex for each
        # (~0.1 ms apiece; planning the first volume compiled ~60 of them, ~6 ms of every start)
        return any(key == k if _GLOB.isdisjoint(k) else fnmatch.fnmatchcase(key, k) for k in self.keys)


_GLOB = frozenset("*?[")


@functools.cache
def _table() -> dict:
    return json.loads(_TABLE.read_text())


@functools.cache
def volopt_map() -> tuple[VolOpt, ...]:
    """glusterd_volopt_map, in glusterd's order (read on first use: the fake starts fast)."""
    return tuple(VolOpt(**e) for e in _table()["volopt_map"])


@functools.cache
def _by_key() -> dict[str, VolOpt]:
    out: dict[str, VolOpt] = {}
    for v in volopt_map():
        out.setdefault(v.key, v)
    return out


def __getattr__(name: str):
    if name == "VOLOPT_MAP":
        return volopt_map()
    raise AttributeError(name)


def complete_key(key: str) -> str | None:
    """``option_complete``: a key without a dot names the one map key ending in ``.KEY``
    (None when no key or several keys do)."""
    found = None
    for v in volopt_map():
        if v.key.split(".", 1)[1] != key:
            continue
        if found and found != v.key:
            return None
        found = v.key
    return found


def volopt(key: str) -> VolOpt | None:
    """``gd_get_vmep``: the map entry of a key (completed when it has no dot)."""
    if "." not in key:
        key = complete_key(key) or key
    return _by_key().get(key)


def key_exists(key: str) -> tuple[bool, str | None]:
    """``glusterd_check_option_exists``: (exists, completion or hint).

    A dot-less key that completes uniquely exists under its completed name; otherwise the
    second value is the "Did you mean" hint, if any."""
    if "." not in key:
        full = complete_key(key)
        if full:
            return True, full
        return False, hint(key)
    if key in _by_key():
        return True, None
    return False, hint(key)


# -- "Did you mean": volopt_trie (glusterd-volgen.c) over trie.c's edit distance -----------


def _distance(word: str, cand: str) -> int:
    """The edit distance trie.c's ``calc_dist`` computes between the searched word and a
    dictionary word (insert, delete, substitute: 1 each)."""
    prev = list(range(1, len(word) + 1))  # the root row: i + 1
    for depth, ch in enumerate(cand, 1):
        row, distu, distul = [], depth, depth - 1
        for i, wc in enumerate(word):
            distl = prev[i]
            val = distul if wc == ch else min(distul + 1, distu + 1, distl + 1)
            row.append(val)
            distu, distul = val, distl
        prev = row
    return prev[-1] if word else 0


def _closest(word: str, words: Iterable[str], n: int) -> list[str]:
    """``trie_measure_vec``: the first ``n`` words, in the trie's (byte) order, at the
    smallest distance."""
    best: list[str] = []
    best_d = None
    for cand in sorted(set(words), key=lambda s: s.encode()):
        d = _distance(word, cand)
        if best_d is None or d < best_d:
            best, best_d = [cand], d
        elif d == best_d and len(best) < n:
            best.append(cand)
    return best


def _section(level: int, prefix: str | None) -> list[str]:
    """``volopt_selector``: the ``level``-th dot-separated part of the map keys (under
    ``prefix`` at level 1), cut at the next dot."""
    out = []
    for v in volopt_map():
        parts = v.key.split(".", 1)
        if level == 0:
            out.append(parts[0])
        elif prefix is None or parts[0] == prefix:
            out.append(parts[1].split(".", 1)[0])
    return out


def _join(found: list[str], infix: str) -> str | None:
    if not found:
        return None
    if len(found) < 2:
        return found[0]
    return f"{found[0]} or {infix}{found[1]}"


def hint(key: str) -> str | None:
    """``volopt_trie``: "nfs.drc-size or ...mem-factor" for ``no.such.option``."""
    if "." not in key:
        return _join(_closest(key, _section(1, None), 2), "")
    dom, rest = key.split(".", 1)
    top = _closest(dom, _section(0, None), 1)
    if not top:
        return None
    tail = _join(_closest(rest, _section(1, top[0]), 2), "...")
    return f"{top[0]}.{tail}" if tail else None


# -- translators' own tables -----------------------------------------------------------------


@functools.cache
def xlator_options(xltype: str) -> tuple[XlOption, ...] | None:
    """The ``volume_option_t`` table of a translator type (None: no such translator)."""
    xls = _table()["xlators"]
    entry = xls.get(xltype)
    if entry is None:
        return None
    if "alias" in entry:
        entry = xls[entry["alias"]]
    return tuple(
        XlOption(
            keys=tuple(o["keys"]),
            type=o["type"],
            min=o["min"],
            max=o["max"],
            values=tuple(o["values"]),
            default=o["default"],
            description=o["description"],
            validate=o["validate"],
            op_version=tuple(o["op_version"]),
            flags=o["flags"],
        )
        for o in entry["options"]
    )


#: libglusterfs' default_options (xlator.c): every translator also takes log-level
DEFAULT_XLATOR_OPTIONS = (
    XlOption(
        keys=("log-level",),
        type="STR",
        min=0.0,
        max=0.0,
        values=("DEBUG", "WARNING", "ERROR", "INFO", "CRITICAL", "NONE", "TRACE"),
        default=None,
        description="Option to set log-level of given translator",
        validate="BOTH",
        op_version=(60000,),
        flags=1,
    ),
)


def xlator_option(xltype: str, key: str) -> XlOption | None:
    """``xlator_volume_option_get``: the first option of the translator matching ``key``."""
    for opt in DEFAULT_XLATOR_OPTIONS + (xlator_options(xltype) or ()):
        if opt.matches(key):
            return opt
    return None


def group(name: str) -> list[tuple[str, str]]:
    """The options of ``volume set V group NAME`` (``/var/lib/glusterd/groups/NAME`` as the
    glusterfs-server package installs it; the CLI expands it into key/value pairs)."""
    groups = _table()["groups"]
    if name not in groups:
        raise KeyError(name)
    return [(k, v) for k, v in groups[name]]
