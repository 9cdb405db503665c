"""Volfiles: parse them into a graph (:mod:`fakegluster.mgmt.volgen` writes them).

Syntax (``libglusterfs/src/graph.l`` and ``graph.y`` of glusterfs v10.3)::

    volume NAME
        type CATEGORY/XLATOR
        option KEY VALUE          # KEY and VALUE are single words or "quoted \\" strings"
        subvolumes A B ...        # each must be a volume defined earlier
    end-volume

``#`` starts a comment at the start of a token.  Volume names are unique, an option may
not repeat within a volume, and the graph's top is the *last* volume.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping

__all__ = ["VolfileError", "Xlator", "Graph", "parse_volfile"]


class VolfileError(ValueError):
    """A volfile that glusterfs's parser would refuse; the message names the line and rule."""


@dataclasses.dataclass(frozen=True)
class Xlator:
    name: str
    type: str
    options: Mapping[str, str]
    subvolumes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Graph:
    xlators: tuple[Xlator, ...]

    @property
    def top(self) -> Xlator:
        return self.xlators[-1]

    def __getitem__(self, name: str) -> Xlator:
        for x in self.xlators:
            if x.name == name:
                return x
        raise KeyError(name)

    def of_type(self, xtype: str) -> list[Xlator]:
        return [x for x in self.xlators if x.type == xtype]

    def children(self, xl: Xlator) -> list[Xlator]:
        return [self[name] for name in xl.subvolumes]

    def reachable(self) -> list[Xlator]:
        """The xlators under the top (inclusive), depth first; unreachable ones are unused."""
        seen: dict[str, Xlator] = {}
        stack = [self.top]
        while stack:
            xl = stack.pop()
            if xl.name not in seen:
                seen[xl.name] = xl
                stack.extend(self.children(xl))
        return list(seen.values())


_KEYWORDS = {"volume": "VOLUME", "type": "TYPE", "end-volume": "END", "subvolumes": "SUB", "option": "OPTION"}
_TOKEN = re.compile(r'#[^\n]*|"|[^ \t\r\n"\\]+|[ \t\r\n]+|\\')


def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, value, line) per graph.l: keywords, WORD (ID or quoted string)."""
    pos, line, n = 0, 1, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        assert m is not None
        tok = m.group()
        if tok == '"':
            out, i = [], m.end()
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                elif text[i] == "\n":
                    raise VolfileError(f"line {line}: newline inside a quoted string")
                else:
                    out.append(text[i])
                    i += 1
            if i >= n:
                raise VolfileError(f"line {line}: unterminated quoted string")
            yield "WORD", "".join(out), line
            pos = i + 1
            continue
        if tok == "\\":
            raise VolfileError(f"line {line}: stray backslash")
        if not tok[0].isspace() and not tok.startswith("#"):
            yield _KEYWORDS.get(tok, "WORD"), tok, line
        line += tok.count("\n")
        pos = m.end()


def parse_volfile(text: str) -> Graph:
    """Parse a volfile into a :class:`Graph`; :class:`VolfileError` names what is wrong."""
    toks = list(_tokens(text))
    toks.append(("EOF", "", toks[-1][2] if toks else 1))
    i = 0
    xlators: list[Xlator] = []
    names: set[str] = set()

    def expect_word(what: str) -> str:
        nonlocal i
        kind, value, line = toks[i]
        if kind != "WORD":
            raise VolfileError(f"line {line}: expected {what}, found {value or 'end of file'!r}")
        i += 1
        return value

    while toks[i][0] != "EOF":
        kind, value, line = toks[i]
        if kind != "VOLUME":
            raise VolfileError(f"line {line}: expected 'volume', found {value!r}")
        i += 1
        name = expect_word("a volume name after 'volume'")
        if name in names:
            raise VolfileError(f"line {line}: volume '{name}' defined again")
        xtype: str | None = None
        options: dict[str, str] = {}
        subvols: tuple[str, ...] | None = None
        while True:
            kind, value, line = toks[i]
            if kind == "END":
                i += 1
                break
            i += 1
            if kind == "TYPE":
                if xtype is not None or options or subvols is not None:
                    raise VolfileError(f"line {line}: 'type' must come first in volume '{name}', once")
                xtype = expect_word(f"a type after 'type' in volume '{name}'")
            elif kind == "OPTION":
                key = expect_word(f"an option name in volume '{name}'")
                val = expect_word(f"a value for option '{key}' in volume '{name}'")
                if key in options:
                    raise VolfileError(f"line {line}: duplicate entry ('option {key}') in volume '{name}'")
                options[key] = val
            elif kind == "SUB":
                if subvols is not None:
                    raise VolfileError(f"line {line}: second 'subvolumes' line in volume '{name}'")
                subs = []
                while toks[i][0] == "WORD":
                    sub = toks[i][1]
                    if sub not in names:
                        raise VolfileError(f"line {line}: volume '{name}': subvolume '{sub}' has not been defined")
                    subs.append(sub)
                    i += 1
                if not subs:
                    raise VolfileError(f"line {line}: 'subvolumes' without names in volume '{name}'")
                subvols = tuple(subs)
            else:
                raise VolfileError(f"line {line}: unexpected {value or 'end of file'!r} in volume '{name}'")
        if xtype is None:
            raise VolfileError(f"line {line}: volume '{name}' has no 'type'")
        xlators.append(Xlator(name, xtype, options, subvols or ()))
        names.add(name)
    if not xlators:
        raise VolfileError("the volfile defines no volume")
    return Graph(tuple(xlators))
