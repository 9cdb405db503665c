"""The volfiles glusterd 10.3 writes for a volume: client (plain and trusted), self-heal daemon
and, in :mod:`.volgen_brick`, each brick's.

A port of ``glusterd-volgen.c``'s ``client_graph_builder`` (protocol/client per brick,
replicate/disperse sets, distribute, features, the performance translators the options turn on,
io-stats), ``build_shd_graph`` and the file variants ``generate_client_volfiles`` writes.  Byte
for byte against the files a real glusterd 10.3 wrote (``fixtures/volgen/``, recorded by
``tools/record_volgen.py``; ``tests/mgmt/test_volgen.py``).  The brick host names, ports and
paths are whatever the :class:`~.model.Volume` holds.

* :func:`client_volfile` -- what GETSPEC hands a client: ``trusted=True`` is what glusterd gives
  local clients (``trusted-V.tcp-fuse.vol``: protocol/client carries the volume's internal
  username/password), ``trusted=False`` the rest (``V.tcp-fuse.vol``).
* :func:`shd_volfile` -- ``V-shd.vol`` (replicate and disperse volumes only).
* :func:`client_graph` / :func:`shd_graph` -- the same as :class:`~.graph.Graph` objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .graph import (
    Graph,
    GraphError,
    SetDict,
    add_debug_xlators,
    basic_handler,
    generic_client_options,
    get_boolean,
    perf_handler,
    set_options,
    shd_handler,
    volinfo_get,
    volinfo_get_boolean,
)
from .model import ClusterType, Transport, Volume
from .values import string2boolean, string2bytesize

__all__ = ["client_volfile", "client_graph", "shd_volfile", "shd_graph", "is_shd_compatible", "volfile_id"]

TRUSTED, OTHER, TRUSTED_PROXY = "0", "1", "2"  # glusterd_client_type_t in "trusted-client"


def _transport_str(t: Transport) -> str:
    return t.text


def _build_client(graph: Graph, vol: Volume, host: str | None, port: str | None, subvol: str, xl_id: str,
                  transt: str, d: Mapping[str, str]):  # fmt: skip
    """``volgen_graph_build_client``: one protocol/client xlator."""
    xl = graph.add_nolink("protocol/client", xl_id)
    xl.set("ping-timeout", "42")
    if host:
        xl.set("remote-host", host)
    if port:
        xl.set("remote-port", port)
    xl.set("remote-subvolume", subvol)
    xl.set("transport-type", transt)
    if "transport.address-family" in vol.options:
        xl.set("transport.address-family", vol.options["transport.address-family"])
    if d.get("trusted-client", OTHER) in (TRUSTED, TRUSTED_PROXY):
        if vol.username:
            xl.set("username", vol.username)
        if vol.password:
            xl.set("password", vol.password)
    if "client.ssl" in d and string2boolean(d["client.ssl"]):
        xl.set("transport.socket.ssl-enabled", "true")
    rpc_set_ssl_options(xl, d)
    return xl


#: ``RPC_SET_OPT`` in glusterd-volgen.c: volume-set key -> ``transport.socket.`` option, in order
RPC_SSL_OPTIONS = (
    ("ssl.own-cert", "ssl-own-cert"),
    ("ssl.private-key", "ssl-private-key"),
    ("ssl.ca-list", "ssl-ca-list"),
    ("ssl.crl-path", "ssl-crl-path"),
    ("ssl.certificate-depth", "ssl-cert-depth"),
    ("ssl.cipher-list", "ssl-cipher-list"),
    ("ssl.dh-param", "ssl-dh-param"),
    ("ssl.ec-curve", "ssl-ec-curve"),
)


def rpc_set_ssl_options(xl, d: Mapping[str, str]) -> None:
    """The ``RPC_SET_OPT`` lines of ``volgen_graph_build_client`` / ``brick_graph_add_server``:
    the TLS files and knobs of the transport (checked on a real 10.3 volfile)."""
    for key, opt in RPC_SSL_OPTIONS:
        if key in d:
            xl.set(f"transport.socket.{opt}", d[key])


def build_clients(
    graph: Graph,
    vol: Volume,
    d: Mapping[str, str],
    remote_host: str | None = None,
    remote_ports: Sequence[int | None] | None = None,
) -> None:
    """``volgen_graph_build_clients``: a protocol/client per brick, in brick order.
    ``remote_host``/``remote_ports`` replace the bricks' host and add ``remote-port`` (the fake's
    glusterd hands out addresses its client can reach)."""
    if not vol.bricks:
        raise GraphError()
    if vol.dist_leaf_count < vol.brick_count and vol.brick_count % vol.dist_leaf_count:
        raise GraphError()
    transt = d.get("client-transport-type") or _transport_str(vol.transport)
    if transt == "tcp,rdma":
        transt = "tcp"
    for i, b in enumerate(vol.bricks):
        port = remote_ports[i] if remote_ports else None
        host = remote_host or b.host
        _build_client(graph, vol, host, str(port) if port else None, b.path, b.brick_id, transt, d)


def _afr_clusters(graph: Graph, vol: Volume) -> int:
    """``volgen_graph_build_afr_clusters``."""
    afrs = graph.link_from_tail(vol.name, "cluster/replicate", "%s-replicate-%d", vol.brick_count, vol.replica_count)
    for n, afr in enumerate(afrs):  # set_afr_pending_xattrs_option
        ids = [b.brick_id for b in vol.bricks[n * vol.replica_count : (n + 1) * vol.replica_count]]
        afr.set("afr-pending-xattr", ",".join(ids))
    for afr in reversed(afrs):  # set_volfile_id_option walks from the graph's head
        afr.set("volume-id", vol.volume_id)
    if vol.arbiter_count:
        for afr in reversed(afrs):
            afr.set("arbiter-count", str(vol.arbiter_count))
    return len(afrs)


def _ec_clusters(graph: Graph, vol: Volume) -> int:
    """``volgen_graph_build_ec_clusters``."""
    ecs = graph.link_from_tail(vol.name, "cluster/disperse", "%s-disperse-%d", vol.brick_count, vol.disperse_count)
    for ec in reversed(ecs):
        ec.set("redundancy", str(vol.redundancy_count))
    return len(ecs)


def build_clusters(graph: Graph, vol: Volume) -> None:
    """``volume_volgen_graph_build_clusters``: sets, then readdir-ahead, then distribute."""
    if vol.dist_leaf_count > 1:
        if vol.type == ClusterType.REPLICATE:
            _afr_clusters(graph, vol)
        elif vol.type == ClusterType.DISPERSE:
            _ec_clusters(graph, vol)
        else:
            raise GraphError()
    dist_count = vol.brick_count // vol.dist_leaf_count
    if not dist_count:
        raise GraphError()
    if volinfo_get_boolean(vol, "performance.parallel-readdir"):
        graph.link_from_tail(vol.name, "performance/readdir-ahead", "%s-readdir-ahead-%d", dist_count, 1)
    nufa, switch = get_boolean(vol.options, "cluster.nufa", 0), get_boolean(vol.options, "cluster.switch", 0)
    if nufa and switch:  # -1 (not a boolean) counts as set, as in C
        raise GraphError()
    voltype = "cluster/switch" if switch else "cluster/nufa" if nufa else "cluster/distribute"
    graph.link_from_tail(vol.name, voltype, "%s-dht", dist_count, dist_count)


def _rda_options(vol: Volume, d: SetDict) -> None:
    """``client_graph_set_rda_options``: parallel-readdir splits the readdir-ahead cache."""
    dist_count = vol.brick_count // vol.dist_leaf_count
    if dist_count <= 1:
        return
    if not volinfo_get_boolean(vol, "performance.parallel-readdir") or not volinfo_get_boolean(
        vol, "performance.readdir-ahead"
    ):
        return
    cache_s = d.get("performance.rda-cache-limit") or volinfo_get(vol, "performance.rda-cache-limit")
    req_s = d.get("performance.rda-request-size") or volinfo_get(vol, "performance.rda-request-size")
    if cache_s is None or req_s is None:
        return
    cache, req = string2bytesize(cache_s), string2bytesize(req_s)
    if cache is None:
        raise GraphError("invalid number format in option performance.rda-cache-limit")
    if req is None:
        raise GraphError("invalid number format in option performance.rda-request-size")
    if cache == 0 or req == 0:
        raise GraphError("Value cannot be 0")
    new_cache = cache // dist_count
    if new_cache < req:
        if new_cache < 4096:
            new_cache = req = 4096
        else:
            req = new_cache
        d["performance.rda-request-size"] = f"{req}B"
    d["performance.rda-cache-limit"] = f"{new_cache}B"


def _client_builder(graph: Graph, vol: Volume, d: SetDict, where: dict) -> None:
    """``client_graph_builder`` (without gfproxy, snapshots, user-serviceable snapshots)."""
    if get_boolean(d, "gfproxy-client", 0) == -1:
        raise GraphError()
    build_clients(graph, vol, d, **where)
    build_clusters(graph, vol)
    for key, xltype in (("features.cloudsync", "features/cloudsync"), ("features.shard", "features/shard")):
        on = get_boolean(d, key, 0)
        if on == -1:
            raise GraphError()
        if on:
            graph.add(xltype, vol.name)
    if get_boolean(d, "features.ctime", -1):
        graph.add("features/utime", vol.name)
    on = get_boolean(d, "network.compression", 0)
    if on == -1:
        raise GraphError()
    if on:
        graph.add("features/cdc", vol.name).set("mode", "client")
    # root-squash and open-behind's read-after-open
    if "performance.read-after-open" in d and "server.root-squash" in vol.options:
        if string2boolean(vol.options["server.root-squash"]):
            raise GraphError()
    if "server.root-squash" in d:
        squash = string2boolean(d["server.root-squash"])
        if squash is None:
            raise GraphError()
        rao = vol.options.get("performance.read-after-open")
        if squash:
            if rao is None or not string2boolean(rao):
                d["performance.read-after-open"] = "yes"
        elif rao is not None and string2boolean(rao):
            d["performance.read-after-open"] = "yes"
    gids = get_boolean(d, "server.manage-gids", 0)
    if gids != -1:
        d["client.send-gids"] = "false" if gids else "true"
    _rda_options(vol, d)
    set_options(graph, d, perf_handler, vol)
    uss = get_boolean(d, "features.uss", 0)
    if uss == -1:
        raise GraphError()
    if uss:
        raise GraphError("user-serviceable snapshots (features.uss) are not supported by fakegluster")
    add_debug_xlators(graph, d, vol.name, "client")
    graph.add_as("debug/io-stats", vol.name)
    generic_client_options(graph, d)


def client_graph(
    vol: Volume,
    mod: Mapping[str, str] | None = None,
    remote_host: str | None = None,
    remote_ports: Sequence[int | None] | None = None,
) -> Graph:
    """``build_client_graph`` with ``mod`` laid over the volume's options."""
    d: SetDict = {**vol.options, **(mod or {})}
    graph = Graph("client")
    _client_builder(graph, vol, d, {"remote_host": remote_host, "remote_ports": remote_ports})
    set_options(graph, d, basic_handler)
    return graph


def client_volfile(
    vol: Volume,
    *,
    trusted: bool = True,
    transport: str | None = None,
    remote_host: str | None = None,
    remote_ports: Sequence[int | None] | None = None,
) -> str:
    """The client volfile: ``trusted-V.tcp-fuse.vol`` (``trusted=True``, what glusterd serves
    to local clients and ``gluster system:: getspec`` prints) or ``V.tcp-fuse.vol``.
    ``transport`` picks the rdma variant of a tcp,rdma volume.  ``remote_host`` replaces every
    brick's host and ``remote_ports`` (per brick) adds ``remote-port``: a client dials
    ``remote-host:remote-port`` (default 24007) for PORTBYBRICK, or the brick itself when the
    peer there has no portmap."""
    if transport is None:
        transport = "rdma" if vol.transport == Transport.RDMA else "tcp"
    mod = {"client-transport-type": transport, "trusted-client": TRUSTED if trusted else OTHER}
    return client_graph(vol, mod, remote_host, remote_ports).text()


def is_shd_compatible(vol: Volume) -> bool:
    """``glusterd_is_shd_compatible_volume``: replicate and disperse volumes have a shd."""
    return vol.type in (ClusterType.REPLICATE, ClusterType.DISPERSE)


#: glusterd_shdsvc_create_volfile's overrides
SHD_MOD = {
    "cluster.background-self-heal-count": "0",
    "cluster.data-self-heal": "on",
    "cluster.metadata-self-heal": "on",
    "cluster.entry-self-heal": "on",
}


def shd_graph(vol: Volume, mod: Mapping[str, str] | None = None) -> Graph:
    """``build_shd_graph``: io-stats over the volume's replicate/disperse sets."""
    graph = Graph("shd")
    graph.add_as("debug/io-stats", vol.name)
    if not is_shd_compatible(vol):
        return graph
    key = "cluster.self-heal-daemon" if vol.type == ClusterType.REPLICATE else "cluster.disperse-self-heal-daemon"
    d: SetDict = {key: "enable", "trusted-client": TRUSTED, **vol.options, **(mod or {})}
    sub = Graph("shd")
    build_clients(sub, vol, d)
    clusters = _afr_clusters(sub, vol) if vol.type == ClusterType.REPLICATE else _ec_clusters(sub, vol)
    set_options(sub, d, shd_handler)
    for xl in sub.xls:
        if xl.type in ("cluster/replicate", "cluster/disperse"):
            xl.set("iam-self-heal-daemon", "yes")
    graph.merge_sub(sub, clusters)
    generic_client_options(graph, d)
    return graph


def shd_volfile(vol: Volume) -> str | None:
    """``V-shd.vol`` (None for a volume without a self-heal daemon)."""
    if not is_shd_compatible(vol):
        return None
    return shd_graph(vol, SHD_MOD).text()


def volfile_id(vol: Volume, brick_index: int) -> str:
    """The GETSPEC key a brick process asks for: ``VOL.HOST.var-tmp-b1``."""
    b = vol.bricks[brick_index]
    return f"{vol.name}.{b.host}.{b.volfile_id_path}"


def volfile_for(key: str, volumes: Mapping[str, Volume], *, trusted: bool) -> str | None:
    """The volfile a GETSPEC for ``key`` gets, as ``build_volfile_path``
    (``glusterd-handshake.c``) finds it among the volume directories: ``shd/VOL``, a brick's
    ``VOL.HOST.PATH``, or a client's ``VOL`` / ``/VOL`` / ``VOL.tcp`` / ``VOL.rdma`` (the
    ``trusted-`` file when ``trusted`` and the volume has internal credentials).  None: no such
    file (glusterd answers ENOENT); snapd, gfproxy, rebalance and per-brick client files are
    not generated by fakegluster."""
    for prefix in ("snapd/", "gluster/", "gfproxy-client/", "gfproxyd/"):
        if prefix in key:
            return None
    if "shd/" in key:
        vol = volumes.get(key.split("shd/", 1)[1])
        return shd_volfile(vol) if vol else None
    if "/snaps/" in key or "rebalance/" in key or "client_per_brick/" in key:
        return None
    vid = key[1:] if key.startswith("/") else key
    vol = volumes.get(vid) or volumes.get(vid.split(".", 1)[0])
    if vol is None:
        return None
    from .volgen_brick import brick_volfile  # the brick graph builds on this module

    for i, b in enumerate(vol.bricks):
        if vid == f"{vol.name}.{b.host}.{b.volfile_id_path}":
            return brick_volfile(vol, i)
    if "." not in vid:
        vid += ".rdma" if vol.transport == Transport.RDMA else ".tcp"
    transports = {Transport.TCP: ("tcp",), Transport.RDMA: ("rdma",), Transport.BOTH_TCP_RDMA: ("tcp", "rdma")}
    for t in transports[vol.transport]:
        if vid == f"{vol.name}.{t}":
            return client_volfile(vol, trusted=trusted and bool(vol.username), transport=t)
    return None
