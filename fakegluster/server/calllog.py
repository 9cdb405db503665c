"""A decoded record of every call a fake server answered, and fault injection rules.

``CallLog`` keeps :class:`CallRecord` values (the decoded request dataclass and reply
dataclass, never bytes), with pytest-httpserver-style assertions::

    server.calls.assert_called("WRITE", count=4)
    server.calls.assert_called("LOOKUP", bname="a.img")
    server.calls.assert_called("WRITE", path="/dir/a.img")   # by path, whatever the gfids

``Faults`` holds rules the server consults before answering a call::

    with server.faults.inject("WRITE", errno=errno.EIO, nth=3):   # the 3rd WRITE fails
        ...
    server.faults.inject("READ", delay=0.5, times=None)            # every READ waits 0.5 s
    server.faults.inject("SETVOLUME", action="drop")                # close the connection
"""

from __future__ import annotations

import collections
import dataclasses
import errno as _errno
import functools
import json
import threading
from collections.abc import Iterator
from typing import Any

from ..proto.render import proc_name, program_name, to_jsonable

__all__ = ["CallRecord", "CallLog", "Dropped", "Fault", "Faults"]


@dataclasses.dataclass(frozen=True)
class CallRecord:
    """One call answered (or refused).  ``program``/``proc`` are names, ``prognum``,
    ``progvers``, ``procnum`` the numbers on the wire."""

    time: float
    server: str  # "glusterd" or "brick:<volume>:<index>"
    connection: int
    peer: str
    prognum: int | None
    progvers: int | None
    procnum: int | None
    xid: int
    args: Any
    result: Any = None
    error: str | None = None  # an RPC-level error reply (GARBAGE_ARGS ...) or an injected fault
    #: "in": a call the server received (and answered, unless one-way); "out": a call the
    #: server sent to its peer (GF-CBK callbacks such as FETCHSPEC or CACHE_INVALIDATION)
    direction: str = "in"

    @property
    def program(self) -> str:
        return program_name(self.prognum, self.progvers) or ""

    @property
    def proc(self) -> str:
        return proc_name(self.prognum, self.progvers, self.procnum) or ""

    @property
    def op_ret(self) -> int | None:
        return getattr(self.result, "op_ret", None)

    @property
    def op_errno(self) -> int | None:
        return getattr(self.result, "op_errno", None)

    def matches(self, proc: str | None = None, server: str | None = None, **fields: Any) -> bool:
        """Whether this call is ``proc`` (any case) on a server whose name starts with
        ``server``, with argument fields equal to ``fields`` (``op_ret``/``op_errno``: the
        reply's).  ``path``/``newpath`` need the log's context: use :meth:`CallLog.find`."""
        if proc is not None and self.proc != proc.upper():
            return False
        if server is not None and not self.server.startswith(server):
            return False
        for key, want in fields.items():
            if key in ("op_ret", "op_errno"):
                if getattr(self, key) != want:
                    return False
            elif getattr(self.args, key, _MISSING) != want:
                return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "server": self.server,
            "connection": self.connection,
            "peer": self.peer,
            "program": self.program,
            "proc": self.proc,
            "xid": self.xid,
            "args": to_jsonable(self.args),
            "result": to_jsonable(self.result),
            "error": self.error,
            "direction": self.direction,
        }


_MISSING = object()


def _shrink_record(record: CallRecord | tuple) -> CallRecord | tuple:
    if isinstance(record, CallRecord):
        return dataclasses.replace(
            record, args=_shrink(record.args, FIELD_MAX), result=_shrink(record.result, FIELD_MAX)
        )
    fields = list(record)
    fields[8], fields[9] = _shrink(fields[8], FIELD_MAX), _shrink(fields[9], FIELD_MAX)
    return tuple(fields)


class Dropped:
    """Stands in the call log for a field too big to keep: what it was and how big."""

    __slots__ = ("kind", "size")

    def __init__(self, kind: str, size: int) -> None:
        self.kind, self.size = kind, size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dropped) and (self.kind, self.size) == (other.kind, other.size)

    def __hash__(self) -> int:
        return hash((self.kind, self.size))

    def __repr__(self) -> str:
        return f"<dropped {self.kind} of {self.size}>"


#: Fields bigger than this (bytes of a string, entries of a dict or list) are dropped from
#: records that were bigger than it on the wire.
FIELD_MAX = 4096


def _shrink(value: Any, limit: int) -> Any:
    """``value`` with every field over ``limit`` replaced by a :class:`Dropped`."""
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        n = len(value)
        return Dropped(type(value).__name__, n) if n > limit else value
    if isinstance(value, dict):
        if len(value) > limit // 16:
            return Dropped("dict", len(value))
        return {k if len(k) <= limit else str(Dropped("key", len(k))): _shrink(v, limit) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        if len(value) > limit // 16:
            return Dropped(type(value).__name__, len(value))
        return type(value)(_shrink(v, limit) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _shrink(old, limit)
            if new is not old:
                changes[f.name] = new
        if not changes:
            return value
        try:
            return dataclasses.replace(value, **changes)
        except (TypeError, ValueError):
            return Dropped(type(value).__name__, 0)
    return value


class CallLog:
    """Thread-safe, bounded by records (default 100 000) and by bytes (default 64 MiB, as
    the calls and replies were on the wire without their READ/WRITE payloads); the oldest
    records go first.  A record bigger than :data:`FIELD_MAX` keeps its fields up to that
    size; bigger ones become :class:`Dropped` (a 4 MiB name is logged as
    ``<dropped str of 4194304>``).  Payloads are never kept.

    The server appends plain tuples (cheap on the hot path); :class:`CallRecord` objects are
    made when the log is read.  ``sink``: a text file that gets each record as a JSON line
    (``fakegluster serve --call-log FILE``).
    """

    def __init__(self, maxlen: int = 100_000, max_bytes: int = 64 << 20, *, sink: Any = None) -> None:
        self._records: collections.deque[Any] = collections.deque()
        self._sizes: collections.deque[int] = collections.deque()
        self.maxlen, self.max_bytes = maxlen, max_bytes
        self.bytes = 0
        self.dropped = 0  # records evicted to stay within the bounds
        self.sink = sink
        self._lock = threading.Lock()

    def append(self, record: CallRecord | tuple, size: int = 0) -> None:
        """Record a call: a :class:`CallRecord`, or the tuple of its fields; ``size``: its
        bytes on the wire (payloads left out)."""
        if size > FIELD_MAX:
            record = _shrink_record(record)
            size = min(size, 8 * FIELD_MAX)
        size += 200  # the record itself
        with self._lock:
            self._records.append(record)
            self._sizes.append(size)
            self.bytes += size
            while self.bytes > self.max_bytes or len(self._records) > self.maxlen:
                self._records.popleft()
                self.bytes -= self._sizes.popleft()
                self.dropped += 1
        if self.sink is not None:
            r = record if isinstance(record, CallRecord) else CallRecord(*record)
            self.sink.write(json.dumps(r.as_json()) + "\n")

    def __iter__(self) -> Iterator[CallRecord]:
        with self._lock:
            items = list(self._records)
        return iter([r if isinstance(r, CallRecord) else CallRecord(*r) for r in items])

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._sizes.clear()
            self.bytes = 0

    def find(self, proc: str | None = None, server: str | None = None, **fields: Any) -> list[CallRecord]:
        """The calls of ``proc`` (None: any) on ``server`` (a name prefix: ``"glusterd"``,
        ``"brick"``, ``"brick:vol:0"``) whose argument fields equal ``fields``.

        ``path="/dir/a.img"`` matches the calls on that file or directory, and
        ``newpath=`` a RENAME's or LINK's target: each call's path is worked out from the
        log itself (the entries LOOKUP, CREATE, MKDIR, MKNOD, SYMLINK, LINK and RENAME
        answered tie gfids to names), as it was when the call was made."""
        want_path, want_new = fields.pop("path", _MISSING), fields.pop("newpath", _MISSING)
        if want_path is _MISSING and want_new is _MISSING:
            return [r for r in self if r.matches(proc, server, **fields)]
        found = []
        for r, path, newpath in self.with_paths():
            if want_path is not _MISSING and path != _norm(want_path):
                continue
            if want_new is not _MISSING and newpath != _norm(want_new):
                continue
            if r.matches(proc, server, **fields):
                found.append(r)
        return found

    def with_paths(self) -> list[tuple[CallRecord, str | None, str | None]]:
        """Every call with the path it acted on and, for RENAME/LINK, the new path (None
        where the log never named the gfid: a client that did not LOOKUP it here)."""
        names = _Names()
        out = []
        for r in self:
            path, newpath = names.paths_of(r)
            out.append((r, path, newpath))
            names.learn(r)
        return out

    def paths(self, server: str | None = None) -> list[tuple[str, str | None]]:
        """(procedure, path) in call order: ``[("LOOKUP", "/a.img"), ("OPEN", "/a.img"), ...]``."""
        return [(r.proc, p) for r, p, _ in self.with_paths() if server is None or r.server.startswith(server)]

    def procs(self, server: str | None = None) -> list[str]:
        """The procedure names in call order (handy for sequence assertions)."""
        return [r.proc for r in self if server is None or r.server.startswith(server)]

    def assert_called(
        self, proc: str, count: int | None = None, server: str | None = None, **fields: Any
    ) -> list[CallRecord]:
        """Assert that ``proc`` was called (exactly ``count`` times if given) with ``fields``.

        ``fields`` as for :meth:`find` (``path=``, ``newpath=``, ``op_errno=``, any argument
        field).  The failure message lists the calls that were similar (same procedure),
        with their paths.
        """
        __tracebackhide__ = True
        _check_proc(proc)
        found = self.find(proc, server, **dict(fields))
        if (count is None and found) or (count is not None and len(found) == count):
            return found
        similar = [(r, p) for r, p, _ in self.with_paths() if r.matches(proc, server)]
        lines = [
            f"expected {proc} {fields or ''} to be called "
            f"{'at least once' if count is None else f'{count} time(s)'}, found {len(found)}"
        ]
        lines.append(
            f"{len(similar)} call(s) of {proc}:"
            if similar
            else f"no {proc} call at all; calls seen: " + ", ".join(self.procs()[-30:])
        )
        lines += [
            f"  {r.server} xid {r.xid} path {p}: {to_jsonable(r.args)} -> op_ret {r.op_ret} op_errno {r.op_errno}"
            for r, p in similar[:10]
        ]
        raise AssertionError("\n".join(lines))

    def assert_not_called(self, proc: str, server: str | None = None, **fields: Any) -> None:
        """Assert that no call of ``proc`` matches ``fields`` (as for :meth:`find`)."""
        __tracebackhide__ = True
        _check_proc(proc)
        found = self.find(proc, server, **fields)
        if found:
            raise AssertionError(
                f"expected no {proc} call, found {len(found)}: "
                + "; ".join(str(to_jsonable(r.args)) for r in found[:5])
            )


def _norm(path: str) -> str:
    return "/" + "/".join(p for p in str(path).split("/") if p and p != ".")


_ROOT_GFID = b"\0" * 15 + b"\1"
_NULL_GFID = b"\0" * 16
_ENTRY_OPS = frozenset({"LOOKUP", "CREATE", "MKDIR", "MKNOD", "SYMLINK", "UNLINK", "RMDIR", "NAMELINK"})
_NAMING_OPS = frozenset({"LOOKUP", "CREATE", "MKDIR", "MKNOD", "SYMLINK", "LINK", "RENAME"})


class _Names:
    """gfid -> (parent gfid, name), learnt from the answered calls in log order (a
    directory's rename moves its children's paths with it)."""

    def __init__(self) -> None:
        self.entries: dict[bytes, tuple[bytes, str]] = {}

    def path(self, gfid: Any) -> str | None:
        parts: list[str] = []
        for _ in range(4096):  # a cycle (a confused log) ends somewhere
            if gfid == _ROOT_GFID:
                return "/" + "/".join(reversed(parts))
            entry = self.entries.get(gfid) if isinstance(gfid, bytes) else None
            if entry is None:
                return None
            gfid, name = entry
            parts.append(name)
        return None

    def _join(self, pargfid: Any, name: Any) -> str | None:
        parent = self.path(pargfid)
        if parent is None or not isinstance(name, str):
            return None
        return parent.rstrip("/") + "/" + name

    def paths_of(self, r: CallRecord) -> tuple[str | None, str | None]:
        a, proc = r.args, r.proc
        if proc == "RENAME":
            return self._join(getattr(a, "oldgfid", None), getattr(a, "oldbname", None)), self._join(
                getattr(a, "newgfid", None), getattr(a, "newbname", None)
            )
        if proc == "LINK":
            return self.path(getattr(a, "oldgfid", None)), self._join(
                getattr(a, "newgfid", None), getattr(a, "newbname", None)
            )
        pargfid = getattr(a, "pargfid", None)
        if proc in _ENTRY_OPS and pargfid not in (None, _NULL_GFID):
            return self._join(pargfid, getattr(a, "bname", None)), None
        return self.path(getattr(a, "gfid", None)), None

    def learn(self, r: CallRecord) -> None:
        proc = r.proc
        if proc not in _NAMING_OPS or r.direction != "in" or (r.op_ret is None or r.op_ret < 0):
            return
        stat = getattr(r.result, "prestat" if proc == "LOOKUP" else "stat", None)  # gfx_common_2iatt_rsp
        gfid = getattr(stat, "ia_gfid", None)
        if not isinstance(gfid, bytes) or gfid in (_NULL_GFID, _ROOT_GFID):
            return
        a = r.args
        if proc == "RENAME":
            where = (getattr(a, "newgfid", None), getattr(a, "newbname", None))
        elif proc == "LINK":
            if gfid in self.entries:
                return  # a hard link: the first name stays the file's path
            where = (getattr(a, "newgfid", None), getattr(a, "newbname", None))
        else:
            where = (getattr(a, "pargfid", None), getattr(a, "bname", None))
        if isinstance(where[0], bytes) and where[0] != _NULL_GFID and isinstance(where[1], str) and where[1]:
            self.entries[gfid] = (where[0], where[1])


@functools.cache
def proc_names() -> tuple[str, ...]:
    """Every procedure name of every program fakegluster knows (what fault rules and call-log
    assertions take), sorted."""
    from ..proto.programs import all_programs

    return tuple(sorted({p.name for prog in all_programs() for p in prog.procs.values()}))


def _check_proc(proc: Any) -> None:
    __tracebackhide__ = True
    if not isinstance(proc, str):
        raise TypeError(f"a procedure name is a str such as 'WRITE', not {proc!r}")
    names = proc_names()
    if proc.upper() not in names:
        import difflib

        close = difflib.get_close_matches(proc.upper(), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown procedure {proc!r}{hint}; valid names: {', '.join(names)}")


_ACTIONS = ("drop", "hang")


def _check_fault(errno: Any, delay: Any, action: Any, server: Any, nth: Any, times: Any) -> None:
    __tracebackhide__ = True
    if errno is not None:
        if isinstance(errno, bool) or not isinstance(errno, int):
            named = (
                f" (errno.{errno} = {getattr(_errno, errno)})"
                if isinstance(errno, str) and hasattr(_errno, errno)
                else ""
            )
            raise TypeError(f"errno={errno!r}: give the number, e.g. errno.EIO{named}")
        if errno not in _errno.errorcode:
            raise ValueError(
                f"errno={errno}: not an errno of this system; valid: "
                + ", ".join(f"{n}={c}" for c, n in sorted(_errno.errorcode.items()))
            )
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
        raise ValueError(f"delay={delay!r}: seconds, a number >= 0")
    if action is not None and action not in _ACTIONS:
        raise ValueError(f"unknown fault action {action!r}; valid actions: {', '.join(_ACTIONS)}")
    if server is not None and (
        not isinstance(server, str) or not (server.startswith("brick") or server.startswith("glusterd"))
    ):
        raise ValueError(f"server={server!r}: a server name prefix: 'glusterd', 'brick', 'brick:VOLUME:INDEX'")
    if isinstance(nth, bool) or not isinstance(nth, int) or nth < 1:
        raise ValueError(f"nth={nth!r}: the matching call that triggers first, counted from 1")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ValueError(f"times={times!r}: how many calls trigger (>= 1), or None for every one")


@dataclasses.dataclass
class Fault:
    """One rule: matching calls (procedure name, server prefix) get the action.

    ``nth``: only the nth matching call (1-based) triggers (then ``times`` counts from there);
    ``times``: how many triggers before the rule expires (None: forever).
    Actions: ``errno`` (reply op_ret -1 with it), ``delay`` seconds before answering,
    ``"drop"`` (close the connection without answering), ``"hang"`` (never answer).
    """

    proc: str
    server: str | None = None
    errno: int | None = None
    delay: float = 0.0
    action: str | None = None
    nth: int = 1
    times: int | None = 1
    seen: int = 0
    fired: int = 0

    def wants(self, server: str, proc: str) -> bool:
        if proc != self.proc.upper() or (self.server and not server.startswith(self.server)):
            return False
        self.seen += 1
        if self.seen < self.nth or (self.times is not None and self.fired >= self.times):
            return False
        self.fired += 1
        return True

    @property
    def expired(self) -> bool:
        return self.times is not None and self.fired >= self.times


class Faults:
    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def inject(
        self,
        proc: str,
        *,
        errno: int | None = None,
        delay: float = 0.0,
        action: str | None = None,
        server: str | None = None,
        nth: int = 1,
        times: int | None = 1,
    ) -> _Injection:
        """Add a rule: the ``nth`` call of ``proc`` (and the ``times - 1`` after it; None:
        every one from there) on ``server`` (a name prefix; None: any) fails with ``errno``
        (default EIO unless ``delay`` or ``action`` is given), waits ``delay`` seconds
        first, or gets ``action`` (``"drop"``: the connection is closed unanswered;
        ``"hang"``: never answered).  Every argument is checked: a misspelt procedure,
        ``errno="EIO"``, ``nth=0`` or ``delay=-1`` raise at once, naming what is valid.
        Returns a handle usable as a context manager that removes the rule."""
        __tracebackhide__ = True
        _check_proc(proc)
        _check_fault(errno, delay, action, server, nth, times)
        if errno is None and not delay and action is None:
            errno = _errno.EIO
        rule = Fault(proc.upper(), server, errno, delay, action, nth, times)
        with self._lock:
            self._rules.append(rule)
        return _Injection(self, rule)

    def remove(self, rule: Fault) -> None:
        with self._lock:
            if rule in self._rules:
                self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def active(self) -> bool:
        """True when any rule is set (the hot path skips matching otherwise)."""
        return bool(self._rules)

    def match(self, server: str, proc: str) -> Fault | None:
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.wants(server, proc):
                    return rule
        return None


class _Injection:
    """Returned by ``Faults.inject``: usable as a context manager that removes the rule."""

    def __init__(self, faults: Faults, rule: Fault) -> None:
        self.faults, self.rule = faults, rule

    def __enter__(self) -> Fault:
        return self.rule

    def __exit__(self, *exc: object) -> None:
        self.faults.remove(self.rule)

    def remove(self) -> None:
        self.faults.remove(self.rule)
