"""The volfile graph glusterd builds, and the option plumbing shared by every volfile.

A port of the generic half of ``xlators/mgmt/glusterd/src/glusterd-volgen.c`` (v10.3):
``volgen_graph_add*``, ``volgen_graph_merge_sub``, ``volgen_graph_set_options_generic`` and its
option handlers (basic, log level, threads, perf, debug, self-heal daemon), printed the way
``libglusterfs/src/graph-print.c`` prints (xlators oldest first, each one's options newest
first, as ``dict_foreach`` walks a dict).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .model import Volume
from .optable import VolOpt, volopt, volopt_map
from .values import string2boolean

__all__ = ["Xlator", "Graph", "GraphError", "SetDict", "set_options", "get_boolean", "volinfo_get"]

#: the option dict a graph is built from: volinfo->dict plus the build's overrides
SetDict = dict[str, str]


class GraphError(Exception):
    """The graph cannot be built; ``errstr`` is what glusterd reports (None: its generic
    "Error, Validation Failed")."""

    def __init__(self, errstr: str | None = None):
        super().__init__(errstr or "Error, Validation Failed")
        self.errstr = errstr


class Xlator:
    """One ``volume NAME / type T / option ... / subvolumes ... / end-volume`` block."""

    __slots__ = ("name", "type", "options", "children")

    def __init__(self, xltype: str, name: str):
        self.name = name
        self.type = xltype
        self.options: dict[str, str] = {}  # in the order they were set; dict_set keeps a key's place
        self.children: list[Xlator] = []

    def set(self, key: str, value: str) -> None:
        self.options[key] = value

    def __repr__(self) -> str:
        return f"Xlator({self.type!r}, {self.name!r})"


class Graph:
    """``volgen_graph_t``: xlators in a list whose head (``first``) is the newest one."""

    def __init__(self, kind: str = "client"):
        self.kind = kind  # client, server, shd (graph->type: only quotad/snapd differ in 10.3)
        self.xls: list[Xlator] = []

    @property
    def first(self) -> Xlator:
        return self.xls[0]

    def add_nolink(self, xltype: str, name: str) -> Xlator:
        xl = Xlator(xltype, name)
        self.xls.insert(0, xl)
        return xl

    def add_as(self, xltype: str, name: str) -> Xlator:
        """``volgen_graph_add_as``: a new top, with the previous top as its only child."""
        xl = Xlator(xltype, name)
        if self.xls:
            xl.children.append(self.xls[0])
        self.xls.insert(0, xl)
        return xl

    def add(self, xltype: str, volname: str) -> Xlator:
        """``volgen_graph_add``: named ``VOLNAME-SHORTTYPE``."""
        return self.add_as(xltype, f"{volname}-{xltype.rsplit('/', 1)[1]}")

    def link_from_tail(self, volname: str, xltype: str, namefmt: str, child_count: int, sub_count: int) -> list[Xlator]:
        """``volgen_link_bricks_from_list_tail``: group the ``child_count`` newest xlators,
        oldest first, ``sub_count`` at a time, under new xlators named ``namefmt % (volname, j)``."""
        if child_count == 0:
            raise GraphError()
        children = self.xls[:child_count][::-1]
        made: list[Xlator] = []
        for i, child in enumerate(children):
            if i % sub_count == 0:
                name = namefmt % (volname, len(made)) if namefmt.count("%") == 2 else namefmt % volname
                made.append(self.add_nolink(xltype, name))
            if xltype == "performance/readdir-ahead":
                made[-1].set("performance.readdir-ahead", "on")
            made[-1].children.append(child)
        return made

    def merge_sub(self, sub: Graph, child_count: int) -> None:
        """``volgen_graph_merge_sub``: the top adopts ``sub``'s ``child_count`` newest
        xlators (oldest first); ``sub``'s list goes to the tail (printed first)."""
        self.first.children.extend(sub.xls[:child_count][::-1])
        self.xls.extend(sub.xls)

    def of_type(self, xltype: str) -> list[Xlator]:
        return [xl for xl in self.xls if xl.type == xltype]

    def text(self) -> str:
        """``glusterfs_graph_print``: what glusterd writes to the .vol file."""
        out = []
        for n, xl in enumerate(reversed(self.xls)):
            out.append(f"volume {xl.name}\n    type {xl.type}\n")
            out.extend(f"    option {k} {v}\n" for k, v in reversed(xl.options.items()))
            if xl.children:
                out.append("    subvolumes " + " ".join(c.name for c in xl.children) + "\n")
            out.append("end-volume\n")
            if n != len(self.xls) - 1:
                out.append("\n")
        return "".join(out)


# -- option lookups glusterd makes while building -------------------------------------------------


def get_boolean(d: Mapping[str, str], key: str, default: int) -> int:
    """``dict_get_str_boolean``: 1/0, ``default`` when absent, -1 when not a boolean."""
    if key not in d:
        return default
    b = string2boolean(d[key])
    return -1 if b is None else int(b)


def volinfo_get(vol: Volume, key: str) -> str | None:
    """``glusterd_volinfo_get``: the volume's value, else the map's default (volgen_dict_get)."""
    if key in vol.options:
        return vol.options[key]
    found = None
    for v in volopt_map():
        if v.key == key and v.value is not None:
            found = v.value
    return found


def volinfo_get_boolean(vol: Volume, key: str) -> int:
    """``glusterd_volinfo_get_boolean``: 1/0 (0 when unset with no default), -1 on garbage."""
    value = volinfo_get(vol, key)
    if value is None:
        return 0
    b = string2boolean(value)
    if b is None:
        raise GraphError()
    return int(b)


# -- volgen_graph_set_options_generic and its handlers ---------------------------------------

#: handler(graph, entry, option, value, param); entry is the map entry, option the
#: translator option name (the entry's, else the key after its last dot)
Handler = Callable[[Graph, VolOpt, str, str, object], None]


def set_options(graph: Graph, d: Mapping[str, str], handler: Handler, param: object = None) -> None:
    """``volgen_graph_set_options_generic``: every map entry with a value (the dict's, else the
    entry's default), in map order."""
    for vme in volopt_map():
        if vme.key == "performance.client-io-threads" and get_boolean(d, "skip-CLIOT", 0) == 1:
            continue
        value = d.get(vme.key, vme.value)
        if value is None:
            continue
        option = vme.option or (vme.key.rsplit(".", 1)[1] if "." in vme.key else vme.key)
        handler(graph, vme, option, value, param)


def no_filter_handler(graph: Graph, vme: VolOpt, option: str, value: str, param: object = None) -> None:
    for xl in graph.xls:
        if xl.type != vme.voltype:
            continue
        if option == "ta-remote-port":
            if "-ta-" in xl.name:
                xl.set("remote-port", value)
            continue
        xl.set(option, value)


def basic_handler(graph: Graph, vme: VolOpt, option: str, value: str, param: object = None) -> None:
    if not option.startswith("!"):
        no_filter_handler(graph, vme, option, value)


#: loglevel/sys_loglevel/logger/log_format/log_buf_size/log_flush_timeout/
#: log_localtime_logging/threads_option_handler: the "!name" options each turns into a plain
#: translator option, for the entries whose key names the role ("client" or "brick")
ROLE_HANDLERS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"!client-log-level", "!brick-log-level"}), "log-level"),
    (frozenset({"!sys-log-level"}), "sys-log-level"),
    (frozenset({"!logger"}), "logger"),
    (frozenset({"!log-format"}), "log-format"),
    (frozenset({"!log-buf-size"}), "log-buf-size"),
    (frozenset({"!log-flush-timeout"}), "log-flush-timeout"),
    (frozenset({"!cluster.localtime-logging"}), "cluster.localtime-logging"),
    (frozenset({"!client-threads", "!brick-threads"}), "threads"),
)


def role_handler(graph: Graph, vme: VolOpt, option: str, value: str, role: object) -> None:
    """All role handlers in one: each touches only its own options."""
    for options, plain in ROLE_HANDLERS:
        if option in options and isinstance(role, str) and role in vme.key:
            no_filter_handler(graph, vme, plain, value)


def generic_client_options(graph: Graph, d: Mapping[str, str]) -> None:
    """``graph_set_generic_options``: one pass per role handler, always with role "client"."""
    for options, plain in ROLE_HANDLERS:

        def one(graph: Graph, vme: VolOpt, option: str, value: str, role: object, _o=options, _p=plain) -> None:
            if option in _o and "client" in vme.key:
                no_filter_handler(graph, vme, _p, value)

        set_options(graph, d, one)


def perf_handler(graph: Graph, vme: VolOpt, option: str, value: str, vol: object) -> None:
    """``perfxl_option_handler``: a performance translator per enabled "!perf" key."""
    assert isinstance(vol, Volume)
    if option != "!perf":
        return
    enabled = string2boolean(value)
    if enabled is None:
        raise GraphError()
    if not enabled:
        return
    if vme.key == "performance.open-behind" and vme.op_version > vol.client_op_version:
        return
    if vme.key == "performance.readdir-ahead" and volinfo_get_boolean(vol, "performance.parallel-readdir"):
        return
    graph.add(vme.voltype, vol.name)


def debug_handler(graph: Graph, vme: VolOpt, option: str, value: str, volname: object) -> None:
    """``debugxl_option_handler`` (whose "is it a known position" check never fails in 10.3)."""
    if option != "!debug":
        return
    enabled = string2boolean(value)
    if enabled is False or value == "off":
        return
    graph.add(vme.voltype, str(volname))


def add_debug_xlators(graph: Graph, d: Mapping[str, str], volname: str, position: str | None) -> None:
    """``check_and_add_debug_xl``: debug.trace / error-gen / delay-gen set to ``position``."""
    if not position:
        return
    for key in ("debug.trace", "debug.error-gen", "debug.delay-gen"):
        if d.get(key) == position:
            set_options(graph, d, debug_handler, volname)


def shd_handler(graph: Graph, vme: VolOpt, option: str, value: str, param: object = None) -> None:
    """``shd_option_handler``: plain options plus !self-heal-daemon and !heal-timeout."""
    if option in ("!self-heal-daemon", "!heal-timeout"):
        option = option[1:]
    elif option.startswith("!"):
        return
    no_filter_handler(graph, vme, option, value)


def known_key(key: str) -> VolOpt | None:
    return volopt(key)
