"""glusterd's own checks of ``volume set`` values (``validate_fn`` of ``glusterd_volopt_map``).

Ports of the validators in ``xlators/mgmt/glusterd/src/glusterd-volume-set.c`` (v10.3), with
their texts; each raises :class:`~.model.VolumeError`.  They run before the key is even known
to exist, and match the key as the user typed it, full (``cluster.quorum-count``) or short
(``quorum-count``), as ``glusterd_volopt_validate`` does.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .model import ClusterType, Volume, VolumeError
from .optable import volopt_map
from .values import string2boolean, string2bytesize, string2int32, string2ulonglong

__all__ = ["volopt_validate"]


def _c_int(value: str) -> int | None:
    """gf_string2int (a long, no range check beyond C's)."""
    return string2int32(value)


def _cache_min_max(vol: Volume, key: str, value: str, volinfo_get) -> None:
    cur_min = cur_max = None
    mn = mx = 0
    if key in ("performance.cache-min-file-size", "cache-min-file-size"):
        cur_max = volinfo_get(vol, "performance.cache-max-file-size")
        if cur_max:
            mx, mn, cur_min = string2bytesize(cur_max) or 0, string2bytesize(value) or 0, value
    else:
        cur_min = volinfo_get(vol, "performance.cache-min-file-size")
        if cur_min:
            mn, mx, cur_max = string2bytesize(cur_min) or 0, string2bytesize(value) or 0, value
    if mn > mx:
        raise VolumeError(f"cache-min-file-size ({cur_min}) is greater than cache-max-file-size ({cur_max})")


def _rebal_throttle(vol: Volume, key: str, value: str, volinfo_get) -> None:
    cores = os.cpu_count() or 1
    if value.lower() in ("lazy", "normal", "aggressive"):
        return
    n = _c_int(value)
    if n is not None:
        if not 0 < n <= cores:
            raise VolumeError(
                f"{key} should be within range of 0 and maximum number of cores available (cores available - {cores})"
            )
        return
    raise VolumeError(
        f"{key} should be {{lazy|normal|aggressive}} or a number up to number of cores available "
        f"(cores available - {cores})"
    )


def _replica(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if vol.replica_count == 1:
        raise VolumeError(f"Cannot set {key} for a non-replicate volume.")


def _disperse(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if vol.type != ClusterType.DISPERSE:
        raise VolumeError(f"Cannot set {key} for a non-disperse volume.")


def _quorum_count(vol: Volume, key: str, value: str, volinfo_get) -> None:
    n = _c_int(value)
    if n is None:
        raise VolumeError(f"{value} is not an integer. {key} expects a valid integer value.")
    if n < 1 or n > vol.replica_count:
        raise VolumeError(f"{n} in {key} {n} is out of range [1 - {vol.replica_count}]")


def _subvols_per_directory(vol: Volume, key: str, value: str, volinfo_get) -> None:
    digits = ""
    for c in value.lstrip():
        if not (c.isdigit() or (not digits and c in "+-")):
            break
        digits += c
    try:
        n = int(digits)
    except ValueError:
        n = 0
    if n > vol.subvol_count:
        raise VolumeError(f"subvols-per-directory({n}) is greater than the number of subvolumes({vol.subvol_count}).")


def _replica_heal(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if vol.type != ClusterType.REPLICATE:
        raise VolumeError(f"Volume {vol.name} is not of replicate type")


def _disperse_heal(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if vol.type != ClusterType.DISPERSE:
        raise VolumeError(f"Volume {vol.name} is not of disperse type")


def _mandatory_locking(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if value not in ("off", "file", "forced", "optimal"):
        raise VolumeError(f"Invalid option value '{value}': Available options are 'off', 'file', 'forced' or 'optimal'")


def _lock_migration(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if vol.replica_count > 1 or vol.disperse_count:
        raise VolumeError("Lock migration is a experimental feature. Currently works with pure distribute volume only")
    if string2boolean(value) is None:
        raise VolumeError("Invalid value for volume set command. Use on/off only.")


def _boolean(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if string2boolean(value) is None:
        raise VolumeError(f"{value} is not a valid boolean value. {key} expects a valid boolean value.")


def _uss(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if string2boolean(value) is None:
        raise VolumeError(f"{value} is not a valid boolean value. {key} expects a valid boolean value.")


def _uss_dir(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if len(value) > 255:
        raise VolumeError(f"value of {key} exceedes 255 characters")
    if len(value) < 2:
        raise VolumeError(f"value of {key} too short, expects at least two characters")
    if value[0] != ".":
        raise VolumeError(f"{key} expects value starting with '.' ")
    if any(not (c.isascii() and c.isalnum()) and c not in "_-" for c in value[1:]):
        raise VolumeError(f"{key} expects value to contain only '0-9a-z-_'")


def _quota(vol: Volume, key: str, value: str, volinfo_get) -> None:
    q = volinfo_get(vol, "features.quota")
    if not (q and string2boolean(q)):
        raise VolumeError(f"Cannot set {key}. Enable quota first.")


def _server_options(vol: Volume, key: str, value: str, volinfo_get) -> None:
    n = _c_int(value)
    if n is None:
        raise VolumeError(f"{value} is not a compatible value. {key} expects an integer value.")
    if n < 0:
        raise VolumeError(f"{value} is not a compatible value. {key} expects a positiveinteger value.")


def _disperse_quorum_count(vol: Volume, key: str, value: str, volinfo_get) -> None:
    n = _c_int(value)
    if n is None:
        raise VolumeError(f"{value} is not an integer. {key} expects a valid integer value.")
    if vol.type != ClusterType.DISPERSE:
        raise VolumeError(f"Cannot set {key} for a non-disperse volume.")
    data = vol.disperse_count - vol.redundancy_count
    if n < data or n > vol.disperse_count:
        raise VolumeError(f"{n} for {key} is out of range [{data} - {vol.disperse_count}]")


def _worm_period(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if string2ulonglong(value) is None:
        raise VolumeError(f"{value} is not a valid uint64_t value. {key} expects a valid uint64_t value.")


def _retention_mode(vol: Volume, key: str, value: str, volinfo_get) -> None:
    if value not in ("relax", "enterprise"):
        raise VolumeError(
            f"The value of retention mode should be either relax or enterprise. But the value of {key} is {value}"
        )


def _statedump_path(vol: Volume, key: str, value: str, volinfo_get) -> None:
    raise VolumeError(f"Failed: {value} is not a directory")  # the fake has no file system to point into


def _brick_mux(vol: Volume, key: str, value: str, volinfo_get) -> None:
    raise VolumeError(
        "Brick-multiplexing is not enabled. Please enable brick multiplexing before trying to set this option."
    )


def _noop(vol: Volume, key: str, value: str, volinfo_get) -> None:
    return


Validator = Callable[[Volume, str, str, Callable], None]
#: the validate_fn of each map key (glusterd-volume-set.c, v10.3)
VALIDATORS: dict[str, Validator] = {
    "cluster.subvols-per-directory": _subvols_per_directory,
    "cluster.rebal-throttle": _rebal_throttle,
    "cluster.lock-migration": _lock_migration,
    "cluster.metadata-self-heal": _replica,
    "cluster.data-self-heal": _replica,
    "cluster.entry-self-heal": _replica,
    "cluster.self-heal-daemon": _replica_heal,
    "cluster.quorum-count": _quorum_count,
    "performance.cache-max-file-size": _cache_min_max,
    "performance.cache-min-file-size": _cache_min_max,
    "client.strict-locks": _boolean,
    "server.statedump-path": _statedump_path,
    "transport.listen-backlog": _server_options,
    "features.uss": _uss,
    "features.snapshot-directory": _uss_dir,
    "features.quota-deem-statfs": _quota,
    "features.worm": _boolean,
    "features.worm-file-level": _boolean,
    "features.worm-files-deletable": _boolean,
    "features.default-retention-period": _worm_period,
    "features.retention-mode": _retention_mode,
    "features.auto-commit-period": _worm_period,
    "locks.mandatory-locking": _mandatory_locking,
    "cluster.disperse-self-heal-daemon": _disperse_heal,
    "cluster.shd-max-threads": _replica,
    "disperse.shd-max-threads": _disperse,
    "performance.parallel-readdir": _boolean,  # plus "no rebalance running", always true here
    "performance.rda-cache-limit": _noop,  # only asks connected clients' op-version
    "cluster.brick-multiplex": _boolean,
    "cluster.brick-graceful-cleanup": _boolean,
    "glusterd.vol_count_per_thread": _brick_mux,
    "cluster.max-bricks-per-process": _brick_mux,
    "cluster.localtime-logging": _boolean,
    "disperse.quorum-count": _disperse_quorum_count,
    "features.ctime": _boolean,
    "ctime.noatime": _boolean,
    "features.enforce-mandatory-lock": _boolean,
}


def volopt_validate(vol: Volume | None, key: str, value: str, volinfo_get) -> None:
    """``glusterd_volopt_validate``: the first map entry with a validator whose key, or key
    after its first dot, is ``key``."""
    for vme in volopt_map():
        fn = VALIDATORS.get(vme.key) if vme.validate_fn else None
        if fn is None or key not in (vme.key, vme.key.split(".", 1)[1]):
            continue
        if not vme.is_global and vol is None:
            raise VolumeError("Error, Validation Failed")
        fn(vol, key, value, volinfo_get)  # type: ignore[arg-type]
        return
