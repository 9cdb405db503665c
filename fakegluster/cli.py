"""The ``fakegluster`` command line: ``decode`` (captures to JSON lines), ``serve`` and ``conformance``."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

__all__ = ["main"]


def _decode(args: argparse.Namespace) -> int:
    from .decode import run
    from .pcapio import CaptureError

    try:
        return run(args.files, check=args.check, out=sys.stdout, ports=args.port or ())
    except (OSError, CaptureError) as exc:
        print(f"fakegluster decode: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    import gc

    # No cyclic collections while starting: the imports and the cluster allocate ~34,000
    # objects that all stay alive, and the ~80 young and 7 middle collections they trigger
    # cost ~10 % of the time to ready.  tune_gc() then freezes them; collections resume.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _serve_gc_paused(args, collecting)
    finally:
        if collecting:
            gc.enable()


def _prebind(args: argparse.Namespace, early: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """The first node's TCP glusterd listeners, bound before trio and the server are imported
    (~30 ms after exec instead of ~200 ms): a libgfapi client started alongside ``serve`` then
    waits in the kernel's accept queue instead of failing at once ("failed to connect": glfs_init
    does not retry a refused connection).  ``early``: what :func:`_early_bind` bound before the
    arguments were parsed (url -> ((host, port), sockets)); its sockets are taken when argparse
    read the same URL as the same host and port, the others closed.  Anything that fails here is
    left to the server, which binds again and reports it as always; ``--cluster`` without
    ``--listen`` takes that path too."""
    from .server.listen import DEFAULT_LISTEN, parse_listen, tcp_listeners

    early = early if early is not None else {}
    if args.cluster and not args.listen:
        return {}
    bound: dict[str, list[Any]] = {}
    try:
        for url in args.listen or [DEFAULT_LISTEN]:
            li = parse_listen(url)
            if li.transport == "tcp" and li.host is not None and url not in bound:
                where, socks = early.pop(url, (None, []))
                if where == (li.host, li.port):
                    bound[url] = socks
                else:
                    _close_all({url: socks})
                    bound[url] = tcp_listeners(li.host, li.port or 0)
    except (ValueError, OSError):
        _close_all(bound)
        return {}
    return bound


def _early_listen(argv: list[str]) -> list[tuple[str, str, int]] | None:
    """The TCP ``--listen`` URLs of a ``serve`` command line as (url, host, port), read before
    argparse (which takes ~5 ms to build): None when unsure (another command, ``--cluster``,
    an abbreviated option, a URL that is not plainly ``tcp://HOST:PORT``).  :func:`_prebind`
    checks each against what argparse and :func:`.server.listen.parse_listen` read."""
    if not argv or argv[0] != "serve":
        return None
    urls: list[str] = []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--listen" and i + 1 < len(argv):
            urls.append(argv[i + 1])
            i += 2
            continue
        if a.startswith("--listen="):
            urls.append(a[len("--listen=") :])
        elif a in ("--", "--l", "--c") or a.startswith(("--li", "--cl", "-h", "--h")):
            return None
        i += 1
    found = []
    for url in urls or ["tcp://127.0.0.1:24007"]:  # listen.DEFAULT_LISTEN
        if not url.startswith("tcp://"):
            return None
        hostport = url[len("tcp://") :].rstrip("/")
        host, colon, port = hostport.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            return None
        if (
            not colon
            or not host
            or not (port.isascii() and port.isdigit() and int(port) < 65536)
            or "/" in host
            or "@" in host
        ):
            return None
        found.append((url, host.lower(), int(port)))
    return found


def _early_bind(argv: list[str]) -> dict[str, Any]:
    """The listeners :func:`_early_listen` finds, bound at once (url -> ((host, port),
    sockets)); nothing when unsure or when one cannot be bound (the usual path then reports it)."""
    found = _early_listen(argv)
    if not found:
        return {}
    from .server.bind import tcp_listeners

    bound: dict[str, Any] = {}
    try:
        for url, host, port in found:
            if url not in bound:
                bound[url] = ((host, port), tcp_listeners(host, port))
    except (ValueError, OSError):
        _close_all(bound)
        return {}
    return bound


def _close_all(bound: dict[str, Any]) -> None:
    """Close listening sockets: url -> sockets, or url -> (address, sockets)."""
    for socks in bound.values():
        for s in socks[1] if isinstance(socks, tuple) else socks:
            s.close()


def _serve_gc_paused(args: argparse.Namespace, collecting: bool) -> int:
    prebound = _prebind(args, getattr(args, "early_bound", None))
    early = _early_server(args, prebound)
    try:
        return _serve_prebound(args, collecting, prebound, early)
    finally:
        if early is not None:
            early[0].close()  # nothing once the server took its connections
        _close_all(prebound)  # the server closed those it adopted; these if it never started


def _early_server(args: argparse.Namespace, prebound: dict[str, list[Any]]) -> tuple[Any, list[Any]] | None:
    """The server of the first DUMP/GETSPEC answers (:class:`.server.early.EarlyServer`),
    started on the pre-bound listeners while the rest is imported, and the volume specs it
    planned (the server is made of the same); None, and the usual path, for anything but
    in-memory volumes on one node without a call log, pcap, TLS or connection limit, or when
    something is wrong with the arguments (the usual path reports it)."""
    if not prebound or args.cluster or args.node or args.nodes or args.call_log or args.pcap:
        return None
    if args.secure_access or args.max_connections is not None:
        return None
    from .server.early import EarlyServer
    from .server.listen import DEFAULT_LISTEN, parse_listen
    from .server.node import Node, node0_name
    from .server.volspec import parse_volume_spec

    if any("=" not in item or item.startswith("=") for item in args.set or []):
        return None  # (the usual path reports it)
    options = dict(item.split("=", 1) for item in args.set or [])
    try:
        specs = [parse_volume_spec(v) for v in args.volume or ["testvol"]]
        if any(s.store is not None or s.on_disk for s in specs):
            return None
        for spec in specs:
            spec.options = {**options, **spec.options}
        node = Node(node0_name(), [parse_listen(u) for u in args.listen or [DEFAULT_LISTEN]], dynamic_host=True)
        early = EarlyServer(node, specs, prebound)
    except Exception:  # whatever it is, the usual path meets it again and reports it
        return None
    early.start()
    return early, specs


def _serve_prebound(
    args: argparse.Namespace, collecting: bool, prebound: dict[str, list[Any]], early: tuple[Any, list[Any]] | None
) -> int:
    import gc
    import logging
    import signal

    import trio

    from .server import DEFAULT_LISTEN, FakeGluster, load_cluster_file
    from .server.net import tune_gc

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server.calllog import CallLog

    call_log: bool | CallLog = False  # nobody reads it in memory: kept only when asked, as JSON lines
    if args.call_log:
        try:
            sink = open(args.call_log, "a", buffering=1)  # noqa: SIM115 - open while serving
        except OSError as exc:
            return _fail(f"--call-log {args.call_log}: {exc.strerror or exc}")
        call_log = CallLog(max_bytes=1 << 20, sink=sink)
    options = {}
    for item in args.set or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            print(f"fakegluster serve: --set {item!r}: expected KEY=VALUE", file=sys.stderr)
            return 2
        options[key] = value
    from .server.datafaults import parse_brick_fault

    try:
        brick_faults = [parse_brick_fault(item) for item in args.brick_fault or []]
    except ValueError as exc:
        return _fail(str(exc))
    management_tls = None
    if args.secure_access:
        from .tls import TLSSettings, secure_access

        management_tls = TLSSettings(cert_depth=secure_access()[1])
    try:
        volumes: list[Any] = list(args.volume or [])
        listen = list(args.listen or [])
        nodes: list[str] | int | None = list(args.node or []) or (args.nodes if args.nodes else None)
        if args.cluster:
            cf = load_cluster_file(args.cluster)
            volumes = [*cf.volumes, *volumes]
            listen = listen or cf.listen
            if cf.nodes and nodes is None:
                nodes = cf.nodes
        server = FakeGluster(
            early[1] if early is not None else volumes or ["testvol"],
            listen or [DEFAULT_LISTEN],
            nodes=nodes,
            max_connections=args.max_connections,
            call_log=call_log,
            options=options,
            management_tls=management_tls,
            pcap=args.pcap,
            prebound=prebound,
            early=early[0] if early is not None else None,
        )
    except (ValueError, OSError) as exc:
        return _fail(str(exc))

    unserved: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
                info = await nursery.start(server.serve)
                for vol, index, fault in brick_faults:
                    bricks = server.cluster.volumes[vol].bricks if vol in server.cluster.volumes else []
                    if index >= len(bricks):
                        unserved.append(f"--brick-fault: volume {vol!r} has no brick {index}")
                        nursery.cancel_scope.cancel()
                        return
                    bricks[index].state.faults.apply(fault)
                tune_gc()  # a process that only serves: no long full collections under load
                if collecting:
                    gc.enable()
                server.connections.collect_when_idle = True
                for li in info.listeners:
                    print(f"listening {li.url()}")
                if len(server.cluster.nodes) > 1:
                    for node in server.cluster.nodes:
                        print(f"node {node.host} " + " ".join(li.url() for li in node.bound))
                for name in info.volumes:
                    print(f"volume {name} " + " ".join(info.uri_prefixes(name)))
                    bricks = server.cluster.volumes[name].bricks
                    if len(bricks) > 1:
                        for b in bricks:
                            print(f"brick {name} {b.index} {b.host}:{b.path} port {b.port}")
                print("ready", flush=True)
                async for signum in signals:
                    print(f"stopping on {signal.Signals(signum).name}", file=sys.stderr, flush=True)
                    nursery.cancel_scope.cancel()
                    break

    try:
        trio.run(main)
    except BaseException as exc:  # an expected failure is one line, not a traceback
        message = _expected(exc)
        if message is None:
            raise
        return _fail(message)
    if unserved:
        return _fail(unserved[0])
    return 0


def _fail(message: str) -> int:
    print(f"fakegluster serve: {message}", file=sys.stderr)
    return 2


def _expected(exc: BaseException) -> str | None:
    """The one-line message of an expected failure (an address in use or not available, a
    socket or store directory missing or not writable...: OSErrors, which trio may wrap in
    exception groups), or None for anything else."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for sub in e.exceptions:
                walk(sub)
        else:
            leaves.append(e)

    walk(exc)
    if not leaves or not all(isinstance(e, OSError) for e in leaves):
        return None
    first = leaves[0]
    assert isinstance(first, OSError)
    text = first.strerror or str(first)
    if first.filename is not None and str(first.filename) not in text:
        text = f"{first.filename}: {text}"
    return text


def build_parser() -> argparse.ArgumentParser:
    import argparse

    from . import __version__

    parser = argparse.ArgumentParser(prog="fakegluster", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fakegluster {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser(
        "decode",
        help="print every GlusterFS RPC message of pcap/pcapng captures as JSON lines "
        "(a warning on stderr when a capture is truncated)",
    )
    dec.add_argument("files", nargs="+", metavar="FILE")
    dec.add_argument(
        "--check",
        action="store_true",
        help="re-encode every message, report those whose bytes differ; last line: 'decoded N messages, F failed'",
    )
    dec.add_argument(
        "--port",
        type=int,
        action="append",
        metavar="PORT",
        help="only the TCP streams with an end on PORT (repeatable: glusterd's 24007, a brick's port...)",
    )
    dec.set_defaults(func=_decode)
    srv = sub.add_parser("serve", help="serve volumes to real GlusterFS clients (qemu, fio, FUSE, libgfapi)")
    srv.add_argument(
        "--volume",
        action="append",
        metavar="NAME[=DIR][;KEY=VALUE...]",
        help="a volume: in memory, or serving the existing directory DIR; keys: replica, arbiter, disperse, "
        "disperse-data, redundancy, bricks (a count or HOST:/PATH,...), transport, store, start, and volume "
        "options (e.g. 'vm=/srv/vm;replica=3;performance.write-behind=off'). Repeatable; default: one "
        "in-memory volume 'testvol'",
    )
    srv.add_argument(
        "--nodes",
        type=int,
        metavar="N",
        help="serve N fake nodes: the first on --listen, the others on 127.0.0.2, 127.0.0.3, ... (bricks go "
        "round the nodes)",
    )
    srv.add_argument(
        "--node",
        action="append",
        metavar="ADDRESS",
        help="another fake node, with its glusterd and bricks on ADDRESS (repeatable)",
    )
    srv.add_argument("--cluster", metavar="FILE", help="a TOML cluster file: listen, nodes, [[volume]] tables")
    srv.add_argument(
        "--listen",
        action="append",
        metavar="URL",
        help="tcp://HOST:PORT (port 0 picks one; IPv6 as tcp://[::1]:PORT) or unix:///PATH "
        "(repeatable; default tcp://127.0.0.1:24007)",
    )
    srv.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a volume option for every volume, as 'gluster volume set' takes it (repeatable): "
        "auth.allow, auth.reject, server.allow-insecure, server.ssl, client.ssl, ssl.own-cert, "
        "ssl.private-key, ssl.ca-list, ssl.certificate-depth, ssl.cipher-list, auth.ssl-allow",
    )
    srv.add_argument(
        "--secure-access",
        action="store_true",
        help="management encryption, as /var/lib/glusterd/secure-access does to glusterd: every TCP "
        "connection to glusterd is TLS with OPENSSLDIR/glusterfs.{pem,key,ca} (/usr/lib/ssl on Debian)",
    )
    srv.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    srv.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="serve at most N connections at once (glusterd and bricks together); more are closed at once",
    )
    srv.add_argument(
        "--call-log",
        metavar="FILE",
        help="append every call answered to FILE as a JSON line (default: no call log)",
    )
    srv.add_argument(
        "--brick-fault",
        action="append",
        metavar="VOLUME:BRICK:FAULT",
        help="a data fault of one brick from the start (repeatable): disk-full=BYTES (ENOSPC after that many more "
        "bytes), slow=SECONDS[@PROC,...] (FOPs answered late), partition=CLIENT (a client whose process-name or "
        "-uuid contains CLIENT cannot reach it), stale (writes acknowledged, not made); e.g. vm:1:slow=0.05",
    )
    srv.add_argument(
        "--pcap",
        metavar="FILE",
        help="write every connection's traffic to FILE as a pcap capture (Wireshark's GlusterFS dissectors and "
        "'fakegluster decode' read it; unix-socket clients appear as TCP from 127.255.255.253)",
    )
    srv.set_defaults(func=_serve)
    from .conformance.cli import add_parser as add_conformance

    add_conformance(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    early = _early_bind(argv)  # before argparse: see _prebind
    try:
        args = build_parser().parse_args(argv)
        if early:
            args.early_bound = early
        status: int = args.func(args)
        return status
    finally:
        _close_all(early)  # those _prebind did not take


if __name__ == "__main__":
    sys.exit(main())
