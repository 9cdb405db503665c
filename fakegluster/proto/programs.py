"""RPC programs as data: which procedures exist and which ``.x`` types they carry.

Each program module (``dump``, ``handshake``, ``portmap``, ``fops``, ``callback``, ``cli``) builds a
:class:`Program` and registers it here.  A server serves a *subset* (``Program.only``),
e.g. glusterd's handshake has GETSPEC but no SETVOLUME; a procedure missing from the table
it serves is PROC_UNAVAIL, as in rpcsvc (no actor).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from .xdr import Struct

__all__ = ["Procedure", "Program", "UNDECODABLE", "register", "lookup", "all_programs"]


class Undecodable(enum.Enum):
    """Marker: the server rejects this procedure's arguments as GARBAGE_ARGS whatever they are
    (e.g. FOP COMPOUND in 10.x: ``server4_0_compound`` just sets that error)."""

    UNDECODABLE = "UNDECODABLE"

    def __repr__(self) -> str:
        return "UNDECODABLE"


UNDECODABLE: Final = Undecodable.UNDECODABLE


@dataclasses.dataclass(frozen=True)
class Procedure:
    """One procedure: its number, name, argument and result schemas.

    ``args``/``reply`` are ``None`` for void.  ``args_payload``: raw bytes follow the
    arguments in the same record (WRITE, PUT); ``reply_payload``: raw bytes follow the
    result (READ).  ``one_way``: the callee never answers (server-to-client callbacks).
    """

    num: int
    name: str
    args: type[Struct] | Undecodable | None = None
    reply: type[Struct] | None = None
    args_payload: bool = False
    reply_payload: bool = False
    one_way: bool = False
    args_ignored: bool = False


@dataclasses.dataclass(frozen=True)
class Program:
    name: str
    prog: int
    vers: int
    procs: Mapping[int, Procedure]

    def __getitem__(self, key: int | str) -> Procedure:
        if isinstance(key, str):
            for proc in self.procs.values():
                if proc.name == key:
                    return proc
            raise KeyError(key)
        return self.procs[key]

    def only(self, names: Iterable[str], *, name: str | None = None) -> Program:
        """The same program with only the named procedures (what a given server serves)."""
        wanted = set(names)
        unknown = wanted - {p.name for p in self.procs.values()}
        if unknown:
            raise KeyError(f"{self.name} has no procedures {sorted(unknown)}")
        procs = {n: p for n, p in self.procs.items() if p.name in wanted}
        return dataclasses.replace(self, procs=procs, name=name or self.name)

    @property
    def key(self) -> tuple[int, int]:
        return (self.prog, self.vers)


def procedures(*items: Procedure) -> dict[int, Procedure]:
    table = {p.num: p for p in items}
    if len(table) != len(items):
        raise ValueError("duplicate procedure numbers")
    return table


_REGISTRY: dict[tuple[int, int], Program] = {}


def register(program: Program) -> Program:
    _REGISTRY[program.key] = program
    return program


def lookup(prog: int, vers: int) -> Program | None:
    _load()
    return _REGISTRY.get((prog, vers))


def all_programs() -> list[Program]:
    _load()
    return list(_REGISTRY.values())


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        # Importing the program modules registers them.
        from . import callback, cli, dump, fops, handshake, portmap  # noqa: F401

        _loaded = True
