"""A fake GlusterFS cluster: glusterd listeners, one brick port per brick, volumes on stores.

Async use (readiness through ``nursery.start``)::

    server = FakeGluster(volumes=["testvol"], listen=["tcp://127.0.0.1:0"])
    info = await nursery.start(server.serve)
    info.uri("testvol", "a.img")      # gluster://127.0.0.1:PORT/testvol/a.img

Sync use (trio runs in a thread)::

    with FakeGluster(listen=["tcp://127.0.0.1:0", "unix:///tmp/g.sock"]) as server:
        subprocess.run(["qemu-img", "info", server.uri("testvol", "a.img")])
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import ipaddress
import logging
import os
import socket
import stat
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import trio

from ..inproc import MessageStream, offer_rdma
from ..proto.uri import GlusterURI
from ..store import Store, open_store
from ..trio_thread import TrioThread
from .auth import LOCAL_PEER, Peer, server_options
from .brick import BRICK_PROGRAMS, Brick, BrickSession
from .calllog import CallLog, Faults
from .glusterd import GLUSTERD_TCP_PROGRAMS, GLUSTERD_UNIX_PROGRAMS, GlusterdSession, Volume
from .identity import VolumeIdentity, identity_folder
from .net import LISTEN_BACKLOG, ConnectionLimit, next_connection_id, serve_listener, serve_socket, serve_stream

__all__ = ["FakeGluster", "ServerInfo", "Listen", "parse_listen", "parse_volume", "DEFAULT_LISTEN"]

log = logging.getLogger("fakegluster.server")
DEFAULT_LISTEN = "tcp://127.0.0.1:24007"


@dataclasses.dataclass(frozen=True)
class Listen:
    transport: str  # "tcp" or "unix"
    host: str | None = None
    port: int | None = None
    path: str | None = None

    def url(self) -> str:
        if self.transport == "unix":
            return f"unix://{self.path}"
        return f"tcp://{_bracket(self.host)}:{self.port}"


def _bracket(host: str | None) -> str:
    return f"[{host}]" if host and ":" in host else str(host)


def parse_listen(text: str) -> Listen:
    """``tcp://HOST:PORT`` (IPv6 as ``[::1]``; port 0 picks one) or ``unix:///PATH``."""
    u = urllib.parse.urlsplit(text)
    if u.scheme == "unix":
        path = urllib.parse.unquote(u.path)
        if u.netloc or not path.startswith("/"):
            raise ValueError(f"--listen {text!r}: a unix listener is unix:///ABSOLUTE/PATH")
        if len(os.fsencode(path)) > 107:
            raise ValueError(f"--listen {text!r}: a unix socket path is at most 107 bytes (AF_UNIX)")
        return Listen("unix", path=path)
    if u.scheme != "tcp":
        raise ValueError(f"--listen {text!r}: the scheme must be tcp:// or unix://")
    try:
        port = u.port
    except ValueError as exc:
        raise ValueError(f"--listen {text!r}: {exc}") from None
    if not u.hostname or port is None or u.path not in ("", "/"):
        raise ValueError(f"--listen {text!r}: a tcp listener is tcp://HOST:PORT")
    return Listen("tcp", host=u.hostname, port=port)


def parse_volume(text: str) -> tuple[str, str | None]:
    """``NAME`` (in memory) or ``NAME=DIR`` (serve DIR)."""
    name, _, directory = text.partition("=")
    if not name or any(c in name for c in "/ .\0") or name.startswith("-"):
        raise ValueError(
            f"--volume {text!r}: a volume name is letters, digits, '-' and '_' (libgfapi refuses '.', spaces and '/')"
        )
    if _ and not directory:
        raise ValueError(f"--volume {text!r}: NAME=DIR needs a directory")
    if directory and not os.path.isdir(directory):
        raise ValueError(f"--volume {text!r}: {directory} is not a directory")
    return name, (os.path.abspath(directory) if directory else None)


@dataclasses.dataclass
class ServerInfo:
    """What a started server listens on, and how to reach its volumes."""

    listeners: list[Listen]
    volumes: list[str]
    brick_ports: dict[str, int]

    @property
    def tcp(self) -> list[Listen]:
        return [li for li in self.listeners if li.transport == "tcp"]

    @property
    def unix(self) -> list[Listen]:
        return [li for li in self.listeners if li.transport == "unix"]

    @property
    def port(self) -> int:
        """The first TCP listener's port (what ``gluster://HOST:PORT/...`` needs)."""
        return self.tcp[0].port if self.tcp else 0

    def uri(
        self, volume: str | None = None, path: str | None = None, *, transport: str = "tcp", listener: int = 0
    ) -> str:
        """A URI for ``volume`` (default: the first) and image ``path`` (None: the volume)."""
        volume = volume or self.volumes[0]
        if transport == "unix":
            return GlusterURI("unix", None, None, self.unix[listener].path, volume, path).to_uri()
        li = self.tcp[listener]
        host = _reachable(li.host)
        return GlusterURI("rdma" if transport == "rdma" else "tcp", host, li.port, None, volume, path).to_uri()

    def uri_prefixes(self, volume: str) -> list[str]:
        """One URI prefix per listener: append the image path (before ``?socket=`` for unix)."""
        out = []
        for li in self.listeners:
            if li.transport == "tcp":
                out.append(f"gluster://{_bracket(_reachable(li.host))}:{li.port}/{volume}/")
            else:
                out.append(f"gluster+unix:///{volume}/?socket={li.path}")
        return out


def _reachable(host: str | None) -> str:
    if host in ("0.0.0.0", "", None):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return str(host)


class FakeGluster:
    """glusterd + bricks serving ``volumes`` (``"NAME"`` or ``"NAME=DIR"`` or (name, Store)).

    Args:
        volumes: what to serve; default one in-memory volume ``testvol``.
        listen: glusterd listeners (``tcp://HOST:PORT``, ``unix:///PATH``); bricks listen on
            every TCP listener's host, on one port each.
        max_record: the RPC record size limit (default 1 GiB).
        options: ``volume set`` options for every volume (``{"auth.allow": "127.0.0.1",
            "server.allow-insecure": "off"}``); change them live with :meth:`set_option`.
        max_connections: connections served at once, glusterd and bricks together (default:
            no limit of its own); one more is accepted and closed at once.
        call_log: keep the decoded record of every call in ``calls`` (True, the default: a
            :class:`CallLog` bounded to 64 MiB), not at all (False: ``calls`` is None), or
            in the :class:`CallLog` given.
    """

    def __init__(
        self,
        volumes: Iterable[str | tuple[str, Store]] = ("testvol",),
        listen: Iterable[str] = (DEFAULT_LISTEN,),
        *,
        max_record: int | None = None,
        options: dict[str, str] | None = None,
        max_connections: int | None = None,
        call_log: bool | CallLog = True,
    ) -> None:
        self.listen = [parse_listen(x) for x in listen]
        if not self.listen:
            raise ValueError("at least one --listen is needed")
        self.volume_specs: list[tuple[str, str | None, Store | None]] = []
        for spec in volumes:
            if isinstance(spec, tuple):
                self.volume_specs.append((spec[0], None, spec[1]))
            else:
                name, directory = parse_volume(spec)
                self.volume_specs.append((name, directory, None))
        names = [n for n, _, _ in self.volume_specs]
        if len(set(names)) != len(names):
            raise ValueError(f"volume names repeat: {names}")
        self.max_record = max_record
        self.options: dict[str, dict[str, str]] = {n: dict(options or {}) for n in names}
        for name in names:  # refuse what glusterd's volume set would refuse, before binding
            server_options("/", None, None, self.options[name])
        self.connections = ConnectionLimit(max_connections)
        self.calls: CallLog | None = call_log if isinstance(call_log, CallLog) else CallLog() if call_log else None
        self.faults = Faults()
        self.volumes: dict[str, Volume] = {}
        self.identities: dict[str, VolumeIdentity] = {}
        self.info: ServerInfo | None = None
        self._thread: TrioThread[ServerInfo] | None = None

    # ---- async ----------------------------------------------------------------------
    async def serve(self, *, task_status: trio.TaskStatus[ServerInfo] = trio.TASK_STATUS_IGNORED) -> None:
        """Bind everything, report a :class:`ServerInfo` through ``task_status``, serve until cancelled."""
        unix_paths: list[str] = []
        withdraw: list[Callable[[], None]] = []
        try:
            self._open_volumes()
            async with trio.open_nursery() as nursery:
                listeners = await self._bind_glusterd(unix_paths)
                ports = await self._bind_bricks(listeners, nursery)
                bound = [li for li, _ in listeners]
                self.info = ServerInfo(bound, list(self.volumes), ports)
                for li, socks in listeners:
                    for lsock in socks:
                        nursery.start_soon(serve_listener, lsock, self._glusterd_handler(li), nursery, self.connections)
                withdraw += self._offer_rdma(bound, nursery)
                task_status.started(self.info)
        finally:
            for w in withdraw:
                w()
            for volume in self.volumes.values():
                for brick in volume.bricks:
                    brick.store.close()
            for path in unix_paths:
                try:
                    os.unlink(path)
                except OSError:
                    pass

    def _open_volumes(self) -> None:
        for name, directory, store in self.volume_specs:
            store = store if store is not None else open_store(directory)
            path = directory or f"/fakegluster/{name}/brick0"
            # a directory volume keeps its volume-id, credentials and ports across restarts
            ident = VolumeIdentity.load_or_create(identity_folder(store), name)
            self.identities[name] = ident
            brick = Brick(name, path, store, ident.volume_id, ident.username, ident.password)
            brick.reconfigure(server_options(path, brick.username, brick.password, self.options[name]))
            self.volumes[name] = Volume(name, [brick], brick.volume_id)

    async def _bind_glusterd(self, unix_paths: list[str]) -> list[tuple[Listen, list[socket.socket]]]:
        out = []
        for li in self.listen:
            if li.transport == "unix":
                out.append((li, [_unix_listener(li.path)]))
                unix_paths.append(li.path)
                continue
            socks = _tcp_listeners(li.host, li.port)
            out.append((Listen("tcp", li.host, socks[0].getsockname()[1]), socks))
        return out

    async def _bind_bricks(self, listeners: Sequence[tuple[Listen, Any]], nursery: trio.Nursery) -> dict[str, int]:
        hosts = list(dict.fromkeys(li.host for li, _ in listeners if li.transport == "tcp")) or ["127.0.0.1"]
        ports: dict[str, int] = {}
        for volume in self.volumes.values():
            ident = self.identities.get(volume.name)
            for index, brick in enumerate(volume.bricks):
                socks = _bind_same_port(hosts, prefer=ident.port_of(brick.path) if ident else 0)
                brick.port = socks[0].getsockname()[1]
                ports[brick.path] = brick.port
                if ident is not None:
                    ident.remember_port(brick.path, brick.port)
                name = f"brick:{volume.name}:{index}"
                for lsock in socks:
                    nursery.start_soon(
                        serve_listener, lsock, self._brick_handler(brick, name), nursery, self.connections
                    )
        return ports

    def _offer_rdma(self, bound: Sequence[Listen], nursery: trio.Nursery) -> list[Callable[[], None]]:
        """Emulated rdma (:mod:`fakegluster.inproc`) on every glusterd TCP address and brick
        port, for clients in this process."""
        token = trio.lowlevel.current_trio_token()
        out = []

        def offer(host: str, port: int, handler: Callable[[Any, Any], Any]) -> None:
            def accept(sock: Any) -> None:
                token.run_sync_soon(lambda: nursery.start_soon(handler, MessageStream(sock), None))

            out.append(offer_rdma(host, port, accept))

        for li in bound:
            if li.transport == "tcp":
                host = _reachable(li.host)
                offer(host, li.port, self._glusterd_handler(li, rdma=True))
                for volume in self.volumes.values():
                    for index, brick in enumerate(volume.bricks):
                        offer(host, brick.port, self._brick_handler(brick, f"brick:{volume.name}:{index}"))
        return out

    def _glusterd_handler(self, li: Listen, rdma: bool = False) -> Callable[[Any, Any], Any]:
        async def handler(conn: Any, addr: Any) -> None:
            cid = next_connection_id()
            if rdma:
                peer, local, programs, pmap_port = "rdma", _reachable(li.host), GLUSTERD_TCP_PROGRAMS, li.port
            elif li.transport == "unix":
                peer, local, programs = "unix", None, GLUSTERD_UNIX_PROGRAMS
                tcp = self.info.tcp if self.info else []
                pmap_port = tcp[0].port if tcp else None
            else:
                local_addr = conn.getsockname()
                peer, local, programs = addr[0], local_addr[0], GLUSTERD_TCP_PROGRAMS
                pmap_port = local_addr[1]
            brick_host = _unmapped(local) if local else self._default_brick_host()
            session = GlusterdSession(
                self.volumes,
                "unix" if li.transport == "unix" and not rdma else "tcp",
                brick_host,
                None if peer in ("unix", "rdma") else peer,
                lambda: self.info.brick_ports if self.info else {},
                pmap_port,
            )
            await _serve(
                conn,
                session,
                programs,
                name="glusterd",
                peer=peer,
                connection_id=cid,
                calls=self.calls,
                faults=self.faults,
                max_record=self.max_record,
            )

        return handler

    def _default_brick_host(self) -> str:
        for li in self.listen:
            if li.transport == "tcp":
                return _reachable(li.host)
        return "127.0.0.1"

    def _brick_handler(self, brick: Brick, name: str) -> Callable[[Any, Any], Any]:
        async def handler(conn: Any, addr: Any) -> None:
            cid = next_connection_id()
            peer = "rdma" if isinstance(conn, MessageStream) else str(addr[0]) if addr else "?"
            await _serve(
                conn,
                BrickSession(brick, cid, LOCAL_PEER if peer == "rdma" else Peer.from_sockaddr(addr)),
                BRICK_PROGRAMS,
                name=name,
                peer=peer,
                connection_id=cid,
                calls=self.calls,
                faults=self.faults,
                max_record=self.max_record,
            )

        return handler

    # ---- volume options ---------------------------------------------------------------
    def set_option(self, key: str, value: str | None, volume: str | None = None) -> None:
        """``gluster volume set VOLUME KEY VALUE`` (``None``: ``volume reset VOLUME KEY``) on a
        running or stopped server; access options apply at once, as on a real brick
        (connected clients that no longer pass are disconnected).  Thread-safe."""
        name = volume or next(iter(self.options))
        opts = dict(self.options[name])
        if value is None:
            opts.pop(key, None)
        else:
            opts[key] = value
        server_options("/", None, None, opts)  # validate
        self.options[name] = opts
        if name in self.volumes:
            self.run_sync(self._apply_options, name)

    def _apply_options(self, name: str) -> None:
        for brick in self.volumes[name].bricks:
            brick.reconfigure(server_options(brick.path, brick.username, brick.password, self.options[name]))

    # ---- conveniences ---------------------------------------------------------------
    def uri(self, volume: str | None = None, path: str | None = None, *, transport: str = "tcp") -> str:
        if self.info is None:
            raise RuntimeError("the server is not started")
        return self.info.uri(volume, path, transport=transport)

    # ---- seeding and inspecting files (thread-safe; paths from the volume root) ----------
    def write_file(self, path: str, data: bytes = b"", *, volume: str | None = None, mode: int = 0o644) -> None:
        """Create (or replace the content of) ``path``, making parent directories."""
        self.run_sync(_write_file, self.store(volume), path, bytes(data), mode)

    def read_file(self, path: str, *, volume: str | None = None) -> bytes:
        """The whole content of ``path`` (``FileNotFoundError`` if absent)."""
        return self.run_sync(_read_file, self.store(volume), path)

    def makedirs(self, path: str, *, volume: str | None = None, mode: int = 0o755) -> None:
        self.run_sync(_makedirs, self.store(volume), path, mode)

    def exists(self, path: str, *, volume: str | None = None) -> bool:
        try:
            self.run_sync(self.store(volume).resolve_path, path)
        except FileNotFoundError:
            return False
        return True

    def store(self, volume: str | None = None) -> Store:
        """The store behind ``volume`` (its only brick's).  From another thread, go through
        :meth:`run_sync` to touch it while the server runs."""
        return self.volumes[volume or next(iter(self.volumes))].bricks[0].store

    # ---- sync (a thread running trio) -----------------------------------------------
    @contextlib.asynccontextmanager
    async def _serving(self) -> AsyncIterator[ServerInfo]:
        async with trio.open_nursery() as nursery:
            yield await nursery.start(self.serve)
            nursery.cancel_scope.cancel()

    def start(self) -> ServerInfo:
        """Start serving in a background thread; returns when ready."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = TrioThread("fakegluster")
        try:
            return self._thread.start(self._serving)
        except BaseException:
            self._thread = None
            raise

    def stop(self) -> None:
        """Stop serving (closes every connection and store); raises what the server raised
        while serving, if anything."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.stop()

    def run_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the server's thread (safe access to stores while serving)."""
        if self._thread is None:
            return fn(*args)
        return self._thread.run_sync(fn, *args)

    def __enter__(self) -> FakeGluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@functools.lru_cache(maxsize=4096)  # once per address, not once per connection
def _unmapped(host: str) -> str:
    try:
        addr = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return host


def _makedirs(store: Store, path: str, mode: int) -> bytes:
    gfid = store.root_gfid
    for part in [p for p in path.split("/") if p]:
        try:
            attr = store.lookup(gfid, part)
        except FileNotFoundError:
            attr = store.mkdir(gfid, part, mode, uid=0, gid=0, gfid=uuid.uuid4().bytes)
        gfid = attr.gfid
    return gfid


def _write_file(store: Store, path: str, data: bytes, mode: int) -> None:
    parent, _, name = path.strip("/").rpartition("/")
    pgfid = _makedirs(store, parent, 0o755)
    attr, _ = store.create(pgfid, name, mode, uid=0, gid=0, gfid=uuid.uuid4().bytes)
    store.truncate(attr.gfid, 0)
    if data:
        store.write(attr.gfid, 0, data)


def _read_file(store: Store, path: str) -> bytes:
    attr = store.resolve_path(path)
    return store.read(attr.gfid, 0, attr.size)


async def _serve(conn: Any, session: Any, programs: Any, **kw: Any) -> None:
    """A plain socket takes the fast loop, any other stream (emulated rdma) the generic one."""
    if isinstance(conn, socket.socket):
        await serve_socket(conn, session, programs, **kw)
    else:
        await serve_stream(conn, session, programs, **kw)


def _tcp_listeners(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (one port for all when port is 0)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    seen = set()
    try:
        for family, _type, proto, _name, addr in infos:
            if (family, addr[0]) in seen:
                continue
            seen.add((family, addr[0]))
            s = socket.socket(family, socket.SOCK_STREAM, proto)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:
                addr = (addr[0], socks[0].getsockname()[1], *addr[2:])
            s.bind(addr)
            s.listen(LISTEN_BACKLOG)
    except OSError:
        for s in socks:
            s.close()
        raise
    return socks


def _unix_listener(path: str) -> socket.socket:
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise OSError(errno.EEXIST, f"{path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # a stale socket from a dead server
        else:
            raise OSError(errno.EADDRINUSE, f"{path}: another server is listening there")
        finally:
            probe.close()
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.bind(path)
    raw.listen(LISTEN_BACKLOG)
    return raw


def _bind_same_port(hosts: Sequence[str], attempts: int = 20, prefer: int = 0) -> list[socket.socket]:
    """Listening sockets on every host with one port number (a brick has one port): port
    ``prefer`` when it is free on all of them, else any."""
    last: OSError | None = None
    for attempt in range(attempts + bool(prefer)):
        socks: list[socket.socket] = []
        port = prefer if prefer and not attempt else 0
        try:
            for host in hosts:
                info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
                s = socket.socket(info[0], socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if info[0] == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port) if info[0] == socket.AF_INET else info[4][:2] + (0, 0))
                s.listen(LISTEN_BACKLOG)
                port = s.getsockname()[1]
            return socks
        except OSError as exc:
            last = exc
            for s in socks:
                s.close()
    raise OSError(errno.EADDRINUSE, f"no common free port for a brick on {list(hosts)}: {last}")
