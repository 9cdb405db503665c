"""Run the unmodified ``gluster`` CLI against a glusterd (real or fake) and record what it did.

Used by ``tools/record_cli.py`` (fixtures/cli/, recorded from a real glusterd 10.3) and by the
transcript tests (the same command list against the fake).  Stdlib plus our own decoder.

* :class:`Relay` sits between the CLI and glusterd, as the capture of
  /work/shared/fixtures/cluster/README.md section 8 did: it listens on a unix socket (the CLI's
  ``--glusterd-sock``), forwards every connection to glusterd's unix socket or TCP port, and
  keeps each direction's bytes, which :func:`decode_exchange` turns into the decoded CLI calls
  and replies.
* The CLI's ``--remote-host`` always dials port 24007 (``cli.c``: ``remote_port`` is never
  set), where a real glusterd already listens.  :class:`NetnsBridge` runs the CLI in a network
  namespace of its own whose ``127.0.0.1:24007`` is carried over a unix socket to a relay in
  this namespace, which dials the TCP glusterd (real or fake, any port).
* Commands are templates: ``{vol:KEY}`` (a volume name), ``{host}`` (the brick host),
  ``{root}`` (the brick root directory).  :class:`Normaliser` maps every side's values back to
  the same placeholders, and UUIDs, brick ports and pids to stable tokens, so a real and a
  fake transcript compare equal when the CLI printed the same things.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..proto.connection import Role, RpcConnection
from ..proto.errors import ProtocolError
from ..proto.events import NEED_DATA, Call, ConnectionClosed
from ..proto.render import describe

__all__ = [
    "Relay",
    "NetnsBridge",
    "decode_exchange",
    "Step",
    "Outcome",
    "Normaliser",
    "expand",
    "run_gluster",
    "run_step",
    "run_steps",
    "glusterd_socket_prefix",
    "comparable",
    "TRANSIENT",
]

#: A real glusterd's answers that mean "try again": another transaction holds the volume lock.
TRANSIENT = re.compile(r"Another transaction is in progress|Locking failed on|Error : Request timed out")
#: What the CLI prints when its connection ends before it is up (``cli_rpc_notify``).
NOT_CONNECTED = "Connection failed. Please check if gluster daemon is operational."


# ---------------------------------------------------------------------------------------------
# relay
# ---------------------------------------------------------------------------------------------


class Relay:
    """A unix-socket listener that forwards each connection to ``target`` and records the bytes.

    ``target`` is a unix socket path (``str``) or a ``(host, port)`` TCP address.  Use as a
    context manager; :attr:`path` is the socket to give the CLI; :meth:`take` returns and
    forgets the connections seen so far as ``(client_bytes, server_bytes)`` pairs.
    """

    def __init__(self, target: str | tuple[str, int], path: str | None = None) -> None:
        self.target = target
        self._dir = None if path else tempfile.mkdtemp(prefix="fgcli-")
        self.path = path or os.path.join(self._dir or "", "relay.sock")
        self._lock = threading.Lock()
        self._done: list[tuple[bytes, bytes]] = []
        self._live = 0
        self._cond = threading.Condition(self._lock)
        self._sock: socket.socket | None = None

    def __enter__(self) -> Relay:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        if self._dir:
            with contextlib.suppress(OSError):
                os.rmdir(self._dir)

    def _connect(self) -> socket.socket:
        if isinstance(self.target, str):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.target)
            return s
        return socket.create_connection(self.target)

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._live += 1
            threading.Thread(target=self._pair, args=(client,), daemon=True).start()

    def _pair(self, client: socket.socket) -> None:
        got: list[bytearray] = [bytearray(), bytearray()]
        try:
            server = self._connect()
        except OSError:
            client.close()
            with self._cond:
                self._live -= 1
                self._cond.notify_all()
            return
        pumps = [
            threading.Thread(target=_pump, args=(client, server, got[0]), daemon=True),
            threading.Thread(target=_pump, args=(server, client, got[1]), daemon=True),
        ]
        for t in pumps:
            t.start()
        # The CLI closes once it has its reply: what glusterd sends after that (it may be slow
        # to notice) belongs to nobody, so the exchange ends with the client's side.
        pumps[0].join()
        pumps[1].join(2.0)
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        pumps[1].join()
        client.close()
        server.close()
        with self._cond:
            self._done.append((bytes(got[0]), bytes(got[1])))
            self._live -= 1
            self._cond.notify_all()

    def take(self, timeout: float = 30.0) -> list[tuple[bytes, bytes]]:
        """The finished connections since the last call (waits for live ones to end)."""
        with self._cond:
            self._cond.wait_for(lambda: self._live == 0, timeout)
            done, self._done = self._done, []
        return done


def _pump(src: socket.socket, dst: socket.socket, keep: bytearray) -> None:
    try:
        while data := src.recv(65536):
            keep += data
            dst.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


_BRIDGE = """
import os, socket, sys, threading
port, path = int(sys.argv[1]), sys.argv[2]
def pump(a, b):
    try:
        while d := a.recv(65536):
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def pair(c):
    u = socket.socket(socket.AF_UNIX); u.connect(path)
    t = [threading.Thread(target=pump, args=x) for x in ((c, u), (u, c))]
    [x.start() for x in t]; [x.join() for x in t]; c.close(); u.close()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(16)
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    threading.Thread(target=pair, args=(c,), daemon=True).start()
"""


class NetnsBridge:
    """A network namespace whose ``127.0.0.1:24007`` leads to ``target`` (through a :class:`Relay`).

    ``argv_prefix`` runs a command inside it.  Needs root (``ip netns``).
    """

    def __init__(self, target: str | tuple[str, int], port: int = 24007) -> None:
        self.name = f"fgcli-{os.getpid()}-{threading.get_ident() % 100000}"
        self.relay = Relay(target)
        self.port = port
        self._proc: subprocess.Popen[str] | None = None

    @property
    def argv_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def __enter__(self) -> NetnsBridge:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            subprocess.run([*self.argv_prefix, "ip", "link", "set", "lo", "up"], check=True)
            self.relay.__enter__()
            self._proc = subprocess.Popen(
                [*self.argv_prefix, sys.executable, "-c", _BRIDGE, str(self.port), self.relay.path],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._proc.stdout is not None
            if self._proc.stdout.readline().strip() != "ready":
                raise RuntimeError("the netns bridge did not start")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        self.relay.__exit__()
        subprocess.run(["ip", "netns", "del", self.name], check=False)


# ---------------------------------------------------------------------------------------------
# decoding what went over a relay
# ---------------------------------------------------------------------------------------------


def _events(data: bytes, conn: RpcConnection) -> Iterator[Any]:
    conn.receive_data(data)
    conn.receive_data(b"")
    while True:
        try:
            ev = conn.next_event()
        except ProtocolError as exc:
            yield {"error": str(exc)}
            return
        if ev is NEED_DATA or isinstance(ev, ConnectionClosed):
            return
        yield ev


def decode_exchange(client: bytes, server: bytes) -> list[dict[str, Any]]:
    """The RPC messages of one CLI connection, decoded (calls first, then replies; GF-CBK calls
    glusterd pushed, e.g. FETCHSPEC, included)."""
    c2s, s2c = RpcConnection(Role.OBSERVER, None), RpcConnection(Role.OBSERVER, None)
    out: list[dict[str, Any]] = []
    for ev in _events(client, c2s):
        if isinstance(ev, Call):
            s2c.expect_reply(ev.xid, ev.prog, ev.vers, ev.proc)
        out.append(ev if isinstance(ev, dict) else describe(ev))
    for ev in _events(server, s2c):
        out.append(ev if isinstance(ev, dict) else describe(ev))
    for m in out:
        m.pop("cred", None)  # the CLI's uid/gid/groups/pid: this machine's, not the protocol's
        m.pop("payload", None)
    return out


# ---------------------------------------------------------------------------------------------
# commands and their outcomes
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Step:
    """One CLI command: ``args`` after ``gluster --mode=script`` (a template), ``via`` unix or tcp."""

    id: str
    args: str
    via: str = "unix"
    note: str = ""


@dataclasses.dataclass
class Outcome:
    id: str
    args: str
    via: str
    stdout: str
    stderr: str
    status: int
    rpc: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_PLACEHOLDER = re.compile(r"\{(vol:[\w-]+|host|root)\}")


def expand(template: str, values: Mapping[str, str]) -> list[str]:
    """``template`` with its placeholders filled from ``values``, split like a shell would."""

    def one(m: re.Match[str]) -> str:
        return values[m.group(1)]

    return shlex.split(_PLACEHOLDER.sub(one, template))


def run_gluster(
    args: Sequence[str],
    *,
    sock: str | None = None,
    remote_host: str | None = None,
    prefix: Sequence[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``gluster --mode=script`` with ``--glusterd-sock`` or ``--remote-host`` (LC_ALL=C)."""
    where = [f"--glusterd-sock={sock}"] if sock else [f"--remote-host={remote_host}"] if remote_host else []
    env = dict(os.environ, LC_ALL="C")
    return subprocess.run(
        [*prefix, "gluster", "--mode=script", *where, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def glusterd_socket_prefix(sock: str) -> list[str]:
    """An argv prefix that runs a command in a mount namespace of its own where glusterd's
    default socket ``/var/run/glusterd.socket`` is ``sock``.

    ``volume heal V info`` runs glfsheal, which always fetches its volfile from that path
    (``glfs-heal.c``: ``DEFAULT_GLUSTERD_SOCKFILE``; the CLI does not pass ``--glusterd-sock``
    on).  Needs root (``unshare --mount``)."""
    q = shlex.quote(os.path.abspath(sock))
    script = (
        "if [ -S /run/glusterd.socket ]; then mount --bind " + q + " /run/glusterd.socket; "
        "else mount -t tmpfs fgcli /run && ln -s " + q + ' /run/glusterd.socket; fi && exec "$@"'
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def run_step(
    step: Step,
    values: Mapping[str, str],
    *,
    unix: Relay | None,
    tcp: NetnsBridge | None,
    retry_for: float = 30.0,
    default_socket: str | None = None,
) -> Outcome:
    """Run ``step`` through the relay (unix) or the netns bridge (tcp); retry a transient
    "another transaction" answer of a glusterd others share.  ``default_socket``: run unix
    steps where /var/run/glusterd.socket is that socket (:func:`glusterd_socket_prefix`)."""
    argv = expand(step.args, values)
    deadline = time.monotonic() + retry_for
    while True:
        if step.via == "unix":
            assert unix is not None
            relay = unix
            prefix = glusterd_socket_prefix(default_socket) if default_socket else []
            cp = run_gluster(argv, sock=unix.path, prefix=prefix)
        else:
            assert tcp is not None
            relay = tcp.relay
            cp = run_gluster(argv, remote_host="127.0.0.1", prefix=tcp.argv_prefix)
        exchanges = relay.take()
        if cp.returncode != 0 and time.monotonic() < deadline:
            if TRANSIENT.search(cp.stderr + cp.stdout):
                time.sleep(0.5)
                continue
            # The CLI lost its connection before it sent anything (seen once on a loaded machine):
            # nothing reached glusterd, so running it again is safe.
            if NOT_CONNECTED in cp.stdout and not any(client for client, _ in exchanges):
                time.sleep(0.5)
                continue
        break
    rpc = [m for c, s in exchanges for m in decode_exchange(c, s)]
    return Outcome(step.id, step.args, step.via, cp.stdout, cp.stderr, cp.returncode, rpc)


# ---------------------------------------------------------------------------------------------
# normalising
# ---------------------------------------------------------------------------------------------

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
# volume status text: "Brick HOST:PATH   49152  0  Y  12345" / "Self-heal Daemon on localhost  N/A  N/A  Y  4810"
_STATUS_ROW = re.compile(
    r"^(?P<head>.*?\s)(?P<port>\d+|N/A)(?P<s1>\s+)(?P<rdma>\d+|N/A)(?P<s2>\s+)(?P<online>[YN])"
    r"(?P<s3>\s+)(?P<pid>\d+|N/A)\s*$"
)
# another test session's volume on a shared real glusterd (a line of "volume list")
_FOREIGN = re.compile(r"^fgreal-\d+-[0-9a-f]+-\d+$")
_XML_NUM = re.compile(r"<(port|tcp|pid)>(\d+)</\1>")
_DICT_KEYS_PORT = re.compile(r"(^|\.)brick\d+\.(port|pid)$")


class Normaliser:
    """Turns one side's transcript into placeholders.

    ``values`` are the side's template values (``vol:KEY`` -> name, ``host``, ``root``); UUIDs
    become ``{uuid-N}`` numbered in the order they first appear in the outputs (so the node's
    uuid and each volume id keep their identity), brick ports ``{port}``, pids ``{pid}``.
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self.subs = sorted(
            ((v, "{" + k + "}") for k, v in values.items() if v and k != "host"), key=lambda kv: -len(kv[0])
        )
        self.host = values.get("host", "")
        # the host name only where a host goes (a brick "HOST:/path", <hostname>, remote-host):
        # a short host name ("vm") must not eat other words
        self._host = re.compile(rf"(?<![\w.-]){re.escape(self.host)}(?=:[/{{]|<|\s*$)", re.M) if self.host else None
        self.uuids: dict[str, str] = {}

    def _uuid(self, m: re.Match[str]) -> str:
        u = m.group(0)
        if u not in self.uuids:
            self.uuids[u] = f"{{uuid-{len(self.uuids) + 1}}}"
        return self.uuids[u]

    def _values(self, s: str) -> str:
        for value, token in self.subs:
            s = s.replace(value, token)
        if self._host is not None:
            s = self._host.sub("{host}", s)
        return s

    def text(self, s: str) -> str:
        s = self._values(s)
        s = _UUID.sub(self._uuid, s)
        s = _XML_NUM.sub(lambda m: f"<{m.group(1)}>{{{'pid' if m.group(1) == 'pid' else 'port'}}}</{m.group(1)}>", s)
        lines = []
        for line in s.split("\n"):
            m = _STATUS_ROW.match(line)
            if m:
                port = "{port}" if m["port"].isdigit() else m["port"]
                pid = "{pid}" if m["pid"].isdigit() else m["pid"]
                line = f"{m['head']}{port}{m['s1']}{m['rdma']}{m['s2']}{m['online']}{m['s3']}{pid}"
            if not _FOREIGN.match(line):
                lines.append(line)
        return "\n".join(lines)

    def value(self, key: str, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: self.value(k, x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(key, x) for x in v]
        if not isinstance(v, str):
            return v
        if key == "transaction_id":
            return "{txid}"
        if _DICT_KEYS_PORT.search(key) and v not in ("0", "-1"):
            return "{pid}" if key.endswith("pid") else "{port}"
        v = "{host}" if v == self.host else self._values(v)
        return _UUID.sub(lambda m: self.uuids.get(m.group(0), "{uuid}"), v)

    def outcome(self, o: Outcome) -> Outcome:
        return Outcome(
            o.id,
            o.args,
            o.via,
            self.text(o.stdout),
            self.text(o.stderr),
            o.status,
            [self.value("", m) for m in o.rpc],
        )


def comparable(text: str) -> str:
    """Text as compared across sides: runs of spaces (table padding the CLI computed from
    values that were normalised) made one, trailing spaces dropped."""
    return "\n".join(re.sub(r" {2,}", " ", line).rstrip() for line in text.split("\n"))


def normalise_all(outcomes: Sequence[Outcome], values: Mapping[str, str]) -> list[Outcome]:
    """Every outcome normalised with one :class:`Normaliser` (text first, so dicts reuse the
    uuid numbering of the outputs)."""
    n = Normaliser(values)
    texts = [(n.text(o.stdout), n.text(o.stderr)) for o in outcomes]
    out = []
    for o, (so, se) in zip(outcomes, texts):
        out.append(Outcome(o.id, o.args, o.via, so, se, o.status, [n.value("", m) for m in o.rpc]))
    return out


def run_steps(
    steps: Sequence[Step],
    values: Mapping[str, str],
    *,
    unix: Relay | None,
    tcp: NetnsBridge | None,
    before: Callable[[Step], None] | None = None,
    default_socket: str | None = None,
) -> list[Outcome]:
    """Run ``steps`` in order (``before`` is called ahead of each, e.g. to wait for bricks)."""
    out = []
    for step in steps:
        if before is not None:
            before(step)
        out.append(run_step(step, values, unix=unix, tcp=tcp, default_socket=default_socket))
    return out
