"""``volume set``, ``volume reset`` and ``volume get`` as glusterd 10.3 does them.

* :func:`set_options` -- ``glusterd_op_stage_set_volume`` then ``glusterd_op_set_volume``
  (``glusterd-op-sm.c``): per key the deprecated-command checks, glusterd's own value checks
  (:mod:`.checks`), existence with the "Did you mean" hint, completion of short keys, the
  special keys, then the value checked by the translators that would load it: the brick, client
  and self-heal graphs are built with the new value (:mod:`.volgen`) and every translator's
  options validated against its table (``graph_reconf_validateopt``).  Keys under ``user.`` are
  stored unchecked.  All keys pass or nothing changes.
* :func:`reset_option` -- ``glusterd_op_stage_reset_volume`` / ``glusterd_options_reset``
  (protected keys, ``force``, the defaults glusterd puts back).
* :func:`get_option` / :func:`get_all` -- ``glusterd_get_volume_opts`` rows, ``(DEFAULT)`` and
  all, as ``volume get V KEY|all`` prints them.
* :func:`update_op_versions` -- ``gd_update_volume_op_versions``.

Errors are :class:`~.model.VolumeError` with glusterd's text (the CLI prints
``volume set: failed: TEXT``).  :func:`graph_changes` says which volfiles a change touched,
for the serving side (FETCHSPEC to clients, brick reconfigure).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from .checks import volopt_validate
from .graph import Graph, GraphError, volinfo_get
from .model import OP_VERSION_MAX, ClusterType, Transport, Volume, VolumeError, VolumeStatus, default_options
from .optable import (
    DEFAULT_XLATOR_OPTIONS,
    VOLOPT_FLAG_FORCE,
    VOLOPT_FLAG_NEVER_RESET,
    VOLOPT_FLAG_XLATOR_OPT,
    key_exists,
    volopt,
    volopt_map,
    xlator_option,
    xlator_options,
)
from .support import refusal
from .values import OptionValueError, string2boolean, validate
from .volgen import client_graph, is_shd_compatible, shd_graph
from .volgen_brick import brick_graph

__all__ = [
    "set_options",
    "stage_set",
    "reset_option",
    "get_option",
    "get_all",
    "update_op_versions",
    "validate_graph",
    "GetRow",
    "ALL_VOLUME_OPTIONS",
]

#: valid_all_vol_opts (glusterd-op-sm.c): keys only "volume set all" takes, with defaults
ALL_VOLUME_OPTIONS = {
    "cluster.server-quorum-ratio": "51",
    "cluster.enable-shared-storage": "disable",
    "cluster.op-version": str(OP_VERSION_MAX),
    "cluster.max-op-version": str(OP_VERSION_MAX),
    "cluster.brick-multiplex": "disable",
    "cluster.max-bricks-per-process": "250",
    "glusterd.vol_count_per_thread": "100",
    "cluster.localtime-logging": "disable",
    "cluster.daemon-log-level": "INFO",
    "cluster.brick-graceful-cleanup": "disable",
}


# -- graph validation (graph_reconf_validateopt) ---------------------------------------------


def validate_graph(graph: Graph) -> None:
    """``xlator_validate_rec`` from the top: children first, then each translator's options
    against libglusterfs' default table and its own (the verdict is the last table's; within a
    table the last failing option, in dict order, gives the text)."""
    seen: set[int] = set()

    def rec(xl) -> None:
        for child in xl.children:
            rec(child)
        if id(xl) in seen:
            return
        seen.add(id(xl))
        own = xlator_options(xl.type)  # None: xlator_dynload fails, nothing is checked
        tables = [] if own is None else [DEFAULT_XLATOR_OPTIONS] + ([own] if own else [])
        verdict: str | None = None
        for table in tables:
            err = None
            for key, value in reversed(xl.options.items()):
                opt = next((o for o in table if o.matches(key)), None)
                if opt is None:
                    continue
                try:
                    validate(key, value, opt)
                except OptionValueError as e:
                    err = str(e)
            verdict = err
        if verdict:
            raise VolumeError(verdict)

    rec(graph.first)


def _graphs(vol: Volume, mod: dict[str, str]) -> Iterable[Graph]:
    """glusterd_validate_reconfopts' graphs: every brick's, the client's, the shd's."""
    for b in vol.bricks:
        yield brick_graph(vol, b, mod)
    yield client_graph(vol, mod)
    if is_shd_compatible(vol):
        yield shd_graph(vol, {**mod, "graph-check": "1"})


def _validate_with(vol: Volume, key: str, value: str) -> None:
    try:
        for g in _graphs(vol, {key: value}):
            validate_graph(g)
    except GraphError as e:
        raise VolumeError(e.errstr or "Error, Validation Failed") from None


# -- volume set ------------------------------------------------------------------------------

_BITROT = {
    "bitrot": "{enable|disable}",
    "scrub-freq": "scrub-frequency {hourly|daily|weekly|biweekly|monthly}",
    "scrub": "scrub {pause|resume}",
    "scrub-throttle": "scrub-throttle  {lazy|normal|aggressive}",
}


def _deprecated_commands(key: str, value: str) -> None:
    """glusterd_check_bitrot_cmd / glusterd_check_quota_cmd."""
    short = key[len("features.") :] if key.startswith("features.") else key
    if short in _BITROT and key in (short, f"features.{short}"):
        raise VolumeError(
            f" 'gluster volume set <VOLNAME> {key}' is invalid command. Use 'gluster volume bitrot <VOLNAME> "
            f"{_BITROT[short]}' instead."
        )
    if short in ("quota", "inode-quota") and key in (short, f"features.{short}"):
        b = string2boolean(value)
        if b is None:
            raise VolumeError("Error, Validation Failed")
        what = "inode-quota" if short == "inode-quota" and b else "quota"
        raise VolumeError(
            f" 'gluster volume set <VOLNAME> {key} {value}' is deprecated. Use 'gluster volume {what} "
            f"<VOLNAME> {'enable' if b else 'disable'}' instead."
        )


#: a connected client as glusterd keeps it: (identifier "host:port", min-op-version, max-op-version)
ClientPeer = tuple[str, int, int]


def stage_set(
    vol: Volume,
    pairs: Sequence[tuple[str, str]],
    volumes: Sequence[Volume] = (),
    clients: Sequence[ClientPeer] = (),
) -> list[tuple[str, str]]:
    """glusterd's checks of ``volume set VOL K1 V1 [K2 V2 ...]``: the pairs to store (keys
    completed), or :class:`VolumeError`.  ``volumes`` is every volume of the cluster: a global
    key (``client.strict-locks``, ``server.outstanding-rpc-limit``) is checked against each.
    ``clients`` are the volume's connected clients (from their GETSPEC): a client option newer
    than one of them can run is refused (``glusterd_check_client_op_version_support``)."""
    if not pairs:
        raise VolumeError("Options not specified")
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        if key == "config.transport" and value.lower() not in ("rdma", "tcp", "tcp,rdma", "rdma,tcp"):
            raise VolumeError(f"transport-type {value} does not exist")
        if key not in ("config.memory-accounting", "config.transport", "ganesha.enable"):
            _deprecated_commands(key, value)
        if key.startswith("user."):
            out.append((key, value))
            continue
        volopt_validate(vol, key, value, volinfo_get)
        exists, fixed = key_exists(key)
        if not exists:
            raise VolumeError(f"option : {key} does not exist" + (f"\nDid you mean {fixed}?" if fixed else ""))
        if fixed:
            key = fixed
        if key == "storage.linux-aio" and vol.status == VolumeStatus.STARTED:
            raise VolumeError(
                "Changing 'storage.linux-aio' is not supported when the volume is in started state. "
                "Please stop the volume first."
            )
        if key == "cluster.granular-entry-heal":
            if vol.status != VolumeStatus.CREATED:
                raise VolumeError(
                    f" 'gluster volume set <VOLNAME> {key} {{enable, disable}}' is not supported. Use 'gluster "
                    "volume heal <VOLNAME> granular-entry-heal {enable, disable}' instead."
                )
        elif key == "cluster.op-version":
            raise VolumeError(f'Option "{key}" is not valid for a single volume')
        if key in ("all", "cluster.max-op-version"):
            raise VolumeError("Not a valid option to set")
        if key in ALL_VOLUME_OPTIONS:
            raise VolumeError("Not a valid option for single volume")
        if key in ("cluster.server-quorum-type", "cluster.server-quorum-ratio"):
            opt = xlator_option("mgmt/glusterd", key.split(".", 1)[1])
            if opt is not None:
                try:
                    validate(key.split(".", 1)[1], value, opt)
                except OptionValueError as e:
                    raise VolumeError(str(e)) from None
        vme = volopt(key)
        if key == "features.trash-dir":
            trash = volinfo_get(vol, "features.trash")
            if not (trash and string2boolean(trash)):
                raise VolumeError(f"Trash translator is not enabled. Use volume set {vol.name} trash on")
            if "/" in value:
                raise VolumeError("Path is not allowed as option")
        if vme is not None and vme.is_global:
            for other in volumes or (vol,):
                _validate_with(other, key, value)
        else:
            _validate_with(vol, key, value)
        out.append((key, value))
    needed = max([vol.client_op_version] + [v.op_version for k, _ in out if (v := volopt(k)) and v.is_client])
    for ident, min_op, max_op in clients:
        if needed > max_op or needed < min_op:
            raise VolumeError(
                f"One of the client {ident} is running with op-version {max_op} and doesn't support the required "
                f"op-version {needed}. This client needs to be upgraded or disconnected before running this "
                "command again"
            )
    return out


def set_options(
    vol: Volume,
    pairs: Sequence[tuple[str, str]],
    volumes: Sequence[Volume] = (),
    *,
    strict: bool = False,
    clients: Sequence[ClientPeer] = (),
) -> list[tuple[str, str]]:
    """``volume set``: stage, then store in order (a new key goes to the head of glusterd's
    dict, a known one keeps its place; a global key goes to every volume of ``volumes``);
    returns the pairs stored.  ``strict`` (what a served fake uses) also refuses a key the
    fake's bricks cannot honour (:func:`.support.refusal`), after glusterd's own checks."""
    staged = stage_set(vol, pairs, volumes, clients)
    if strict:
        for key, value in staged:
            why = refusal(key, value)
            if why:
                raise VolumeError(why)
    touched = {id(vol): vol}
    for key, value in staged:
        if key == "config.transport":
            vol.transport = Transport.parse(value)
        vme = volopt(key)
        for target in (volumes or (vol,)) if vme is not None and vme.is_global else (vol,):
            target.options[key] = value
            touched[id(target)] = target
    for target in touched.values():
        update_op_versions(target)
        target.version += 1
    return staged


# -- volume reset ----------------------------------------------------------------------------


def reset_option(vol: Volume, key: str = "all", force: bool = False) -> str | None:
    """``volume reset VOL [KEY|all] [force]``; returns glusterd's note on protected keys (None
    when there is none), raises :class:`VolumeError` when nothing may be reset."""
    if key != "all":
        exists, fixed = key_exists(key)
        if not exists:
            raise VolumeError(f"Option {key} does not exist" + (f"\nDid you mean {fixed}?" if fixed else ""))
        key = fixed or key
        if key in ("features.quota", "features.inode-quota"):
            raise VolumeError(
                f"'gluster volume reset <VOLNAME> {key}' is deprecated. Use 'gluster volume quota <VOLNAME> "
                "disable' instead."
            )
        if key == "cluster.max-op-version":
            raise VolumeError("Not a valid option to set")
        if key in ALL_VOLUME_OPTIONS:
            raise VolumeError("Not a valid option for single volume")
    protected = unprotected = False

    def delete(k: str) -> None:
        nonlocal protected, unprotected
        vme = volopt(k)
        flags = vme.flags if vme else 0
        if flags & VOLOPT_FLAG_NEVER_RESET:
            protected = protected or not force
            return
        if not force:
            if flags & VOLOPT_FLAG_FORCE:
                protected = True
                return
            unprotected = True
        del vol.options[k]
        if k.startswith("features.bitrot"):
            vol.options.pop("features.scrub", None)

    if key == "all":
        for k in [k for k, _ in vol.options_glusterd_order()]:
            if k in vol.options:
                delete(k)
        _enable_defaults(vol, None)
    elif key in vol.options:
        delete(key)
        _enable_defaults(vol, key)
    else:
        return None
    update_op_versions(vol)
    vol.version += 1
    if protected and unprotected:
        return "All unprotected fields were reset. To reset the protected fields, use 'force'."
    if protected:
        raise VolumeError(f"'{key}' is protected. To reset use 'force'.")
    return None


def _enable_defaults(vol: Volume, option: str | None) -> None:
    """``glusterd_enable_default_options`` after a reset: nfs.disable and
    transport.address-family when named (or all), fips always, granular-entry-heal while a
    replicate volume is still Created."""
    fresh = default_options(vol.type, vol.transport)
    for k, v in fresh.items():
        if k == "performance.client-io-threads":
            continue
        if k in ("nfs.disable", "transport.address-family") and option not in (None, k):
            continue
        if k == "cluster.granular-entry-heal" and vol.status != VolumeStatus.CREATED:
            continue
        vol.options[k] = v


# -- volume get ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GetRow:
    key: str
    value: str  # "on", or "on (DEFAULT)" when it is the translator's default


def _is_replicate(vol: Volume) -> bool:
    return vol.type == ClusterType.REPLICATE


def _row(vol: Volume, vme) -> GetRow | None:
    """One row of glusterd_get_default_val_for_volopt (None: the entry is skipped)."""
    if vme.key in vol.options:
        return GetRow(vme.key, vol.options[vme.key])
    if _is_replicate(vol):  # glusterd_get_option_value
        if vme.key == "performance.client-io-threads":
            return GetRow(vme.key, "off")
        if vme.key == "cluster.quorum-type" and vol.replica_count % 2:
            return GetRow(vme.key, "auto")
    if vme.value is not None:
        return GetRow(vme.key, vme.value)
    table = xlator_options(vme.voltype)
    if table is None:
        return None
    opt = next((o for o in table if o.matches(vme.xlator_key)), None)
    if opt is None:
        return None
    return GetRow(vme.key, f"{opt.default if opt.default is not None else '(null)'} (DEFAULT)")


def get_all(vol: Volume) -> list[GetRow]:
    """``volume get VOL all``: every map entry with a value, in map order."""
    return [r for r in (_row(vol, vme) for vme in volopt_map()) if r is not None]


def get_option(vol: Volume, key: str) -> list[GetRow]:
    """``volume get VOL KEY`` (one row; ``user.*`` keys as stored)."""
    if key == "all":
        return get_all(vol)
    if key.startswith("user."):
        if key not in vol.options:
            raise VolumeError("")
        return [GetRow(key, vol.options[key])]
    exists, fixed = key_exists(key)
    if not exists:
        raise VolumeError(f"Did you mean {fixed}?" if fixed else f"Option with name: {key} does not exist")
    full = fixed or key
    if full == "cluster.op-version":
        return [GetRow(full, str(OP_VERSION_MAX))]
    if full == "config.memory-accounting":
        return [GetRow(full, "Enabled" if string2boolean(vol.options.get(full, "off")) else "Disabled")]
    if full == "config.transport":
        return [GetRow(full, vol.transport.text)]
    for vme in volopt_map():
        if vme.key == full:
            row = _row(vol, vme)
            if row is None:
                raise VolumeError(f"option {key} does not exist")
            return [row]
    raise VolumeError(f"option {key} does not exist")


# -- op-versions -----------------------------------------------------------------------------


def update_op_versions(vol: Volume) -> None:
    """``gd_update_volume_op_versions``: the highest op-version of the options set (an enabling
    translator switch or boolean counts only while on), at least 2 while open-behind is on,
    30600 for disperse."""
    op = cop = 1
    for key, value in vol.options.items():
        vme = volopt(key)
        if vme is None:
            continue
        if vme.flags & VOLOPT_FLAG_XLATOR_OPT or _is_boolean(vme):
            if string2boolean(value) is not True:
                continue
        op = max(op, vme.op_version)
        if vme.is_client:
            cop = max(cop, vme.op_version)
    if string2boolean(vol.options.get("performance.open-behind", "on")) is not False:
        op, cop = max(op, 2), max(cop, 2)
    if vol.type == ClusterType.DISPERSE:
        op, cop = max(op, 30600), max(cop, 30600)
    vol.op_version, vol.client_op_version = op, cop


def _is_boolean(vme) -> bool:
    """gd_is_boolean_option: the translator's option behind the key is a BOOL."""
    table = xlator_options(vme.voltype)
    if not table:
        return False
    opt = next((o for o in table if o.matches(vme.xlator_key)), None)
    return opt is not None and opt.type == "BOOL"
