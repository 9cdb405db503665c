"""Which ``volume set`` keys the fake honours, which change nothing it could show, and which it
must refuse.

A key acts where its translator runs (``VolOpt.voltype``): client-side translators (AFR, DHT,
EC, the performance translators, shard, protocol/client...) run in the *real* client, which gets
them from the volfile the fake serves byte for byte, so every client-side key is honoured.
Brick-side translators (protocol/server, posix, locks, upcall, leases, access-control, worm...)
are the fake's own: a brick-side key is honoured only when a stream registered it in
:data:`HONOURED` (edit the table when your brick code reads the key from
:func:`fakegluster.mgmt.volgen_brick.brick_graph`), or when it changes nothing a client can see
(:data:`NO_VISIBLE_EFFECT`: thread counts, logging, statistics, timers of features the fake does
not have).  Keys for daemons the fake does not run (quotad, bitd, snapd, ganesha) are refused like
unimplemented brick keys; gNFS keys are accepted (the packaged glusterfs 10.3 has no gNFS either).

:func:`refusal` gives the text with which ``options.set_options(..., strict=True)`` refuses a
key the fake cannot honour (unless the value is the default): refused, never silently ignored.
:func:`readme_lists` prints the lists for the README.
"""

from __future__ import annotations

from .optable import VolOpt, volopt, volopt_map, xlator_options
from .values import string2boolean

__all__ = ["HONOURED", "NO_VISIBLE_EFFECT", "where", "refusal", "readme_lists"]

#: translator types of the brick stack (glusterd-volgen.c server_graph_table)
BRICK_TYPES = frozenset(
    {
        "protocol/server", "features/sdfs", "features/namespace", "features/cdc", "features/quota",
        "features/index", "features/barrier", "features/marker", "features/selinux", "features/upcall",
        "features/leases", "features/read-only", "features/worm", "features/locks", "features/access-control",
        "features/bitrot-stub", "features/changelog", "features/trash", "features/arbiter", "storage/posix",
    }
)  # fmt: skip
#: types of daemons fakegluster does not run
DAEMON_TYPES = frozenset(
    {"nfs/server", "features/bit-rot", "features/quotad", "features/snapview-server", "mgmt/ganesha"}
)

#: brick-side keys the fake's bricks implement: key -> the module that reads it
HONOURED: dict[str, str] = {
    "auth.allow": "server/auth.py",
    "auth.reject": "server/auth.py",
    "auth.ssl-allow": "server/auth.py",
    "server.allow-insecure": "server/auth.py",
    "server.ssl": "server/auth.py",
    "server.dynamic-auth": "server/auth.py",
    "features.cache-invalidation": "server/upcall.py",
    "features.cache-invalidation-timeout": "server/upcall.py",
    "features.locks-notify-contention": "server/locks.py",
    "features.locks-notify-contention-delay": "server/locks.py",
    "features.leases": "server/leases.py",
    "features.lease-lock-recall-timeout": "server/leases.py",
    "locks.mandatory-locking": "server/lockfops.py",
    "server.root-squash": "server/access.py",
    "server.all-squash": "server/access.py",
    "server.anonuid": "server/access.py",
    "server.anongid": "server/access.py",
    "features.locks-revocation-secs": "server/locks.py",
    "features.locks-revocation-max-blocked": "server/locks.py",
    "features.locks-revocation-clear-all": "server/locks.py",
    "storage.owner-uid": "server/brickstate.py",
    "storage.owner-gid": "server/brickstate.py",
}

#: brick-side keys that change nothing a client of the fake can observe
NO_VISIBLE_EFFECT = frozenset(
    {
        # logging, statistics and dumps
        "diagnostics.latency-measurement", "diagnostics.dump-fd-stats", "diagnostics.count-fop-hits",
        "diagnostics.brick-log-level", "diagnostics.brick-sys-log-level", "diagnostics.brick-logger",
        "diagnostics.brick-log-format", "diagnostics.brick-log-buf-size", "diagnostics.brick-log-flush-timeout",
        "diagnostics.stats-dump-interval", "diagnostics.fop-sample-interval", "diagnostics.stats-dump-format",
        "diagnostics.fop-sample-buf-size", "diagnostics.stats-dnscache-ttl-sec", "server.statedump-path",
        "locks.trace",
        # threads, queues and transport tuning
        "performance.io-thread-count", "performance.high-prio-threads", "performance.normal-prio-threads",
        "performance.low-prio-threads", "performance.least-prio-threads", "performance.enable-least-priority",
        "performance.iot-watchdog-secs", "performance.iot-cleanup-disconnected-reqs", "performance.iot-pass-through",
        "network.tcp-window-size", "network.inode-lru-limit", "transport.keepalive", "server.outstanding-rpc-limit",
        "server.own-thread", "server.event-threads", "server.tcp-user-timeout", "server.keepalive-time",
        "server.keepalive-interval", "server.keepalive-count", "transport.listen-backlog", "config.global-threading",
        "config.brick-threads", "performance.nfs.io-threads", "storage.linux-aio", "storage.linux-io_uring",
        "storage.batch-fsync-mode", "storage.batch-fsync-delay-usec", "storage.health-check-interval",
        "storage.health-check-timeout",
        # features that only matter to geo-replication, snapshots or bitrot daemons
        "changelog.changelog", "changelog.changelog-dir", "changelog.encoding", "changelog.rollover-time",
        "changelog.fsync-interval", "changelog.changelog-barrier-timeout", "changelog.capture-del-path",
        "features.barrier", "features.barrier-timeout", "features.selinux",
    }
)  # fmt: skip


#: what glusterd itself puts in a new volume (model.default_options)
CREATE_TIME = {"storage.fips-mode-rchecksum": "on", "transport.address-family": "inet", "nfs.disable": "on"}


def where(key: str) -> str:
    """Where a key acts: "client", "brick", "daemon" (one fakegluster does not run: quotad,
    bitd, snapd, ganesha), "nfs" (gNFS, absent from glusterfs 10.3 as packaged), "glusterd"
    (management only) or "user" (``user.*``: stored, read by hook scripts)."""
    if key.startswith("user."):
        return "user"
    vme = volopt(key)
    if vme is None:
        return "glusterd"
    return _where(vme)


def _where(vme: VolOpt) -> str:
    if vme.key.startswith(("nfs.", "performance.nfs.")) or vme.voltype == "nfs/server":
        return "nfs"  # glusterfs 10.3 as packaged has no gNFS: a real volume ignores these too
    if vme.voltype in DAEMON_TYPES:
        return "daemon"
    if vme.voltype in BRICK_TYPES:
        return "brick"
    if vme.voltype == "debug/io-stats":
        return "client" if "client" in vme.key else "brick"
    if vme.voltype == "performance/io-threads" and vme.key != "performance.client-io-threads":
        return "brick"  # the brick's io-threads (a client's too, when client-io-threads is on)
    if vme.voltype in ("mgmt/glusterd", "configuration", "rpc-transport/socket"):
        return "glusterd"
    if vme.voltype == "features/quota" or vme.key.startswith("features.quota"):
        return "daemon"
    return "client"


def _is_default(vme: VolOpt, value: str) -> bool:
    """The value a new volume already has: glusterd's create-time value, the map's, or the
    translator's default."""
    default = CREATE_TIME.get(vme.key, vme.value)
    if default is None:
        table = xlator_options(vme.voltype) or ()
        opt = next((o for o in table if o.matches(vme.xlator_key)), None)
        default = opt.default if opt else None
    if default is None:
        return False
    if value == default:
        return True
    a, b = string2boolean(value), string2boolean(default)
    return a is not None and a == b


def refusal(key: str, value: str) -> str | None:
    """Why fakegluster refuses ``volume set KEY VALUE`` (None: it honours it, or the value is
    the default, or the key changes nothing the fake could show)."""
    vme = volopt(key)
    if vme is None:
        return None
    place = _where(vme)
    if place == "brick" and (vme.key in HONOURED or vme.key in NO_VISIBLE_EFFECT):
        return None
    if place not in ("brick", "daemon") or _is_default(vme, value):
        return None
    what = "its bricks do not implement" if place == "brick" else "it runs no daemon for"
    return f"{vme.key} is not supported by fakegluster: {what} it (a real volume would act on it)"


def readme_lists() -> str:
    """Markdown: the brick-side keys honoured, accepted without visible effect, and refused."""
    keys = sorted({v.key for v in volopt_map() if _where(v) in ("brick", "daemon")})
    honoured = [k for k in keys if k in HONOURED]
    quiet = [k for k in keys if k in NO_VISIBLE_EFFECT]
    refused = [k for k in keys if k not in HONOURED and k not in NO_VISIBLE_EFFECT]
    out = ["Brick-side options honoured by the fake's bricks: " + ", ".join(f"`{k}`" for k in honoured) + ".", ""]
    out += ["Accepted, no visible effect in a simulator: " + ", ".join(f"`{k}`" for k in quiet) + ".", ""]
    out += ["Refused unless set to their default: " + ", ".join(f"`{k}`" for k in refused) + "."]
    return "\n".join(out) + "\n"
