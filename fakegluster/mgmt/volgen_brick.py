"""The brick volfile: the server-side translator stack glusterd 10.3 writes per brick.

A port of ``glusterd-volgen.c``'s ``server_graph_builder``: ``server_graph_table`` built from
posix up to protocol/server, debug translators where ``debug.trace``/``error-gen``/``delay-gen``
name a position, then ``server_spec_option_handler`` (auth.allow/auth.reject into
``auth.addr.PATH.*``, the brick log level and threads) and the plain options.  The fake's bricks
read what they must do from this graph (:func:`brick_graph`): features/upcall's
cache-invalidation, features/locks' mandatory-locking, protocol/server's auth and
allow-insecure, root-squash, storage/posix's owner-uid/gid...
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping

from .graph import (
    Graph,
    GraphError,
    SetDict,
    add_debug_xlators,
    basic_handler,
    get_boolean,
    role_handler,
    set_options,
    volinfo_get,
    volinfo_get_boolean,
)
from .model import Brick, ClusterType, Volume
from .optable import VolOpt
from .values import string2boolean
from .volgen import rpc_set_ssl_options

__all__ = ["brick_graph", "brick_volfile", "brick_volfile_name", "shared_brick_count", "SERVER_POSITIONS"]

GLUSTERD_WORKDIR = "/var/lib/glusterd"
OP_VERSION = 100000


def shared_brick_count(vol: Volume, brick: Brick) -> int:
    """``gd_set_shared_brick_count``: bricks of the volume on the same node and file system."""
    return sum(1 for b in vol.bricks if b.node_uuid == brick.node_uuid and b.fsid == brick.fsid)


def _server(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("protocol/server", vol.name)
    xl.set("transport-type", vol.transport.text)
    rpc_set_ssl_options(xl, d)
    if "transport.address-family" in vol.options:
        xl.set("transport.address-family", vol.options["transport.address-family"])
    if vol.username:
        xl.set(f"auth.login.{b.path}.allow", vol.username)
    if vol.password:
        xl.set(f"auth.login.{vol.username}.password", vol.password)
    xl.set("auth-path", b.path)
    if vol.name == "gluster_shared_storage":
        xl.set("strict-auth-accept", "true")
    if "auth.ssl-allow" in vol.options:
        xl.set(f"auth.login.{b.path}.ssl-allow", vol.options["auth.ssl-allow"])


def _io_stats(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add_as("debug/io-stats", b.path)
    xl.set("unique-id", b.path)
    xl.set("volume-id", vol.volume_id)  # op-version >= 7.1


def _if_on(key: str, xltype: str, **fixed: str) -> Callable[[Graph, Volume, SetDict, Brick], None]:
    def build(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
        on = get_boolean(d, key, 0)
        if on == -1 and key != "features.sdfs":
            raise GraphError()
        if on:
            xl = g.add(xltype, vol.name)
            for k, v in fixed.items():
                xl.set(k.replace("_", "-"), v)

    return build


def _quota(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("features/quota", vol.name)
    xl.set("volume-uuid", vol.name)
    value = volinfo_get(vol, "features.quota")
    if value:
        xl.set("server-quota", value)


def _index(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("features/index", vol.name)
    xl.set("index-base", f"{b.path}/.glusterfs/indices")
    if vol.type == ClusterType.DISPERSE:
        xl.set("xattrop64-watchlist", "trusted.ec.dirty")
    if vol.type in (ClusterType.REPLICATE, ClusterType.NONE):
        xl.set("xattrop-dirty-watchlist", "trusted.afr.dirty")
        xl.set("xattrop-pending-watchlist", f"trusted.afr.{vol.name}-")


def _marker(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("features/marker", vol.name)
    xl.set("volume-uuid", vol.volume_id)
    xl.set("timestamp-file", f"{GLUSTERD_WORKDIR}/vols/{vol.name}/marker.tstamp")
    xl.set("quota-version", "0")


def _plain(xltype: str) -> Callable[[Graph, Volume, SetDict, Brick], None]:
    def build(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
        g.add(xltype, vol.name)

    return build


def _ro_worm_conflict(d: SetDict) -> bool:
    return bool(get_boolean(d, "features.read-only", 0)) and bool(
        get_boolean(d, "features.worm", 0) or get_boolean(d, "features.worm-file-level", 0)
    )


def _read_only(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    if _ro_worm_conflict(d):
        raise GraphError()
    g.add("features/read-only", vol.name).set("read-only", "off")


def _worm(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    if _ro_worm_conflict(d):
        raise GraphError()
    g.add("features/worm", vol.name)


def _acl(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    if get_boolean(d, "features.acl", 1) == 0:
        return
    g.add("features/access-control", vol.name)


def _bitrot_stub(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("features/bitrot-stub", vol.name)
    xl.set("export", b.path)
    xl.set("bitrot", volinfo_get(vol, "features.bitrot") or "")


def _changelog(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("features/changelog", vol.name)
    xl.set("changelog-brick", b.path)
    xl.set("changelog-dir", f"{b.path}/.glusterfs/changelogs")
    xl.set("changelog-notification", "on" if volinfo_get_boolean(vol, "features.bitrot") else "off")


def _trash(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    xl = g.add("features/trash", vol.name)
    xl.set("trash-dir", ".trashcan")
    xl.set("brick-path", b.path)
    xl.set("trash-internal-op", "off")


def _arbiter(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    if vol.arbiter_count == 1 and b.is_arbiter:
        g.add("features/arbiter", vol.name)


def _posix(g: Graph, vol: Volume, d: SetDict, b: Brick) -> None:
    def flag(key: str, default: bool) -> bool:
        value = volinfo_get(vol, key)
        if value is None:
            return default
        parsed = string2boolean(value)
        if parsed is None:
            raise GraphError()
        return parsed

    quota, trash = flag("features.quota", True), flag("features.trash", False)
    xl = g.add("storage/posix", vol.name)
    xl.set("directory", b.path)
    xl.set("volume-id", vol.volume_id)
    if quota or trash:  # or update-link-count-parent, which no volume-set key reaches
        xl.set("update-link-count-parent", "on")
    xl.set("fips-mode-rchecksum", "on")
    xl.set("shared-brick-count", str(shared_brick_count(vol, b)))


#: server_graph_table: (builder, debug position), top (protocol/server) first
SERVER_TABLE: tuple[tuple[Callable[[Graph, Volume, SetDict, Brick], None], str | None], ...] = (
    (_server, None),
    (_io_stats, "io-stats"),
    (_if_on("features.sdfs", "features/sdfs", pass_through="false"), "sdfs"),
    (_if_on("features.tag-namespaces", "features/namespace"), "namespace"),
    (_if_on("network.compression", "features/cdc", mode="server"), "cdc"),
    (_quota, "quota"),
    (_index, "index"),
    (_plain("features/barrier"), "barrier"),
    (_marker, "marker"),
    (_plain("features/selinux"), "selinux"),
    (_plain("performance/io-threads"), "io-threads"),
    (_plain("features/upcall"), "upcall"),
    (_plain("features/leases"), "leases"),
    (_read_only, "read-only"),
    (_worm, "worm"),
    (_plain("features/locks"), "locks"),
    (_acl, "access-control"),
    (_bitrot_stub, "bitrot-stub"),
    (_changelog, "changelog"),
    (_trash, "trash"),
    (_arbiter, "arbiter"),
    (_posix, "posix"),
)
#: the positions debug.trace etc. and user.xlator.* may name
SERVER_POSITIONS = tuple(pos for _, pos in SERVER_TABLE if pos)


def _spec_handler(g: Graph, vme: VolOpt, option: str, value: str, vol: object) -> None:
    """``server_spec_option_handler``."""
    if option == "!server-auth":  # server_auth_option_handler
        top = g.first
        what = vme.key.split(".", 1)[1]
        top.set(f"auth.addr.{top.options['auth-path']}.{what}", value)
    if option in ("changelog", "!xtime"):  # server_check_changelog_off / marker_off (no geo-rep)
        if string2boolean(value) is None:
            raise GraphError()
    role_handler(g, vme, option, value, "brick")


def brick_graph(vol: Volume, brick: Brick | int, mod: Mapping[str, str] | None = None) -> Graph:
    """``build_server_graph``: the brick's translator stack, protocol/server on top."""
    b = vol.bricks[brick] if isinstance(brick, int) else brick
    d: SetDict = {**vol.options, **(mod or {})}
    for key, value in d.items():  # validate_user_xlator_position
        if fnmatch.fnmatchcase(key, "user.xlator.*") and not fnmatch.fnmatchcase(key, "user.xlator.*.*"):
            if value not in SERVER_POSITIONS:
                raise GraphError()
    g = Graph("server")
    for builder, position in reversed(SERVER_TABLE):
        builder(g, vol, d, b)
        add_debug_xlators(g, d, vol.name, position)
        for key, value in d.items():  # check_and_add_user_xl
            if key.startswith("user.xlator.") and key.count(".") == 2 and value == position:
                raise GraphError(f"user translators ({key}) are not supported by fakegluster")
    set_options(g, d, _spec_handler, vol)
    set_options(g, d, basic_handler)
    return g


def brick_volfile(vol: Volume, brick: Brick | int) -> str:
    """The brick's volfile, as glusterd writes ``V.HOST.PATH.vol`` (its GETSPEC answer to the
    brick process)."""
    return brick_graph(vol, brick).text()


def brick_volfile_name(vol: Volume, brick: Brick | int) -> str:
    """``get_brick_filepath``'s file name, also the volfile-id the brick asks for (minus .vol)."""
    b = vol.bricks[brick] if isinstance(brick, int) else brick
    return f"{vol.name}.{b.host}.{b.volfile_id_path}.vol"


def brick_option(graph: Graph, xltype: str, key: str) -> str | None:
    """The value a brick translator runs with: the volfile's (under any of the option's names),
    else the translator's default (None: no such translator in the graph, or no default).

    ``brick_option(brick_graph(vol, 0), "features/upcall", "cache-invalidation")`` -> "off"."""
    from .optable import xlator_option

    xls = graph.of_type(xltype)
    if not xls:
        return None
    opt = xlator_option(xltype, key)
    names = opt.keys if opt else (key,)
    for name in names:
        if name in xls[0].options:
            return xls[0].options[name]
    return opt.default if opt else None
