"""The pytest plugin's fixtures pointed at a real GlusterFS instead of the fake.

:class:`RealTarget` is what the fixtures give when ``--fakegluster-target`` names a real
cluster: the part of :class:`~fakegluster.server.FakeGluster`'s interface a real volume can
offer (``uri``, ``write_file``, ``read_file``, ``makedirs``, ``exists``, ``reset``), with the
volume names of the fake's specs mapped onto real volumes.  What only the fake has (the call
log, fault rules, bricks you stop, options you set) raises :class:`FakeOnlyError`, so a
test that needs them fails with a clear message; mark such tests
``@pytest.mark.fakegluster_only`` and they are skipped on a real target.

Two kinds of real target:

* ``real``: a real GlusterFS 10.3 on this machine, through
  :class:`~fakegluster.testing.realgluster.RealGluster` (root, the Debian
  ``glusterfs-server`` package): one throw-away volume per ``--fakegluster-volume`` spec
  (its ``replica``/``arbiter``/``disperse``/``redundancy``/``bricks``), deleted at the end.
* ``gluster://HOST[:PORT]/VOLUME`` (or ``gluster+unix:///VOLUME?socket=PATH``): an existing
  volume of a cluster somewhere else, for a nightly job.  **Its content is erased before
  every test that resets it**: give it a volume made for the tests.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable
from typing import Any

from ..proto.uri import GlusterURI, parse_uri

__all__ = ["RealTarget", "FakeOnlyError", "parse_target", "start_real_target"]


class FakeOnlyError(RuntimeError):
    """Something only the fake offers (call log, faults, bricks, options) was asked of a
    real GlusterFS target."""


class RealTarget:
    """A real GlusterFS volume (or several) behind the fixtures' interface.

    Args:
        host, port: glusterd's address (``socket``: its unix socket path instead).
        volumes: the names tests use -> the real volumes' names.
        harness: the :class:`~fakegluster.testing.realgluster.RealGluster` that made the
            volumes (stopped, volumes deleted, by :meth:`close`), or None.
    """

    is_real = True

    def __init__(
        self,
        host: str | None,
        port: int | None,
        volumes: dict[str, str],
        *,
        socket: str | None = None,
        harness: Any = None,
    ) -> None:
        self.host, self.port, self.socket = host, port, socket
        self.names = dict(volumes)
        self.harness = harness
        self._clients: dict[str, Any] = {}

    def __repr__(self) -> str:
        where = self.socket or f"{self.host}:{self.port}"
        return f"<real GlusterFS at {where}: {', '.join(f'{k}={v}' for k, v in self.names.items())}>"

    # ---- what the fake's ServerInfo offers ----------------------------------------------
    @property
    def volumes(self) -> list[str]:
        """The volume names tests use (the specs' names; see :attr:`names` for the real ones)."""
        return list(self.names)

    @property
    def info(self) -> RealTarget:
        return self

    def real_name(self, volume: str | None = None) -> str:
        """The real volume behind ``volume`` (default: the first)."""
        if volume is None:
            return next(iter(self.names.values()))
        if volume in self.names:
            return self.names[volume]
        if volume in self.names.values():
            return volume
        raise KeyError(f"no volume {volume!r} on this target (volumes: {', '.join(self.names)})")

    def uri(self, volume: str | None = None, path: str | None = None, *, transport: str = "tcp") -> str:
        """``gluster://HOST:PORT/REALVOLUME/path`` for the volume a test calls ``volume``."""
        name = self.real_name(volume)
        if self.socket is not None or transport == "unix":
            if self.socket is None:
                raise FakeOnlyError("this real target has no unix socket: use transport='tcp'")
            return GlusterURI("unix", None, None, self.socket, name, path).to_uri()
        return GlusterURI("tcp", self.host, self.port, None, name, path).to_uri()

    # ---- seeding and inspecting files, through gfclient -----------------------------------
    def client(self, volume: str | None = None) -> Any:
        """A :mod:`gfclient` mount of ``volume``, kept open until :meth:`close`."""
        name = self.real_name(volume)
        if name not in self._clients:
            gfclient = importlib.import_module("gfclient")  # mypy knows it as client/

            self._clients[name] = gfclient.connect(self.uri(volume), uid=0, gid=0)
        return self._clients[name]

    def write_file(self, path: str, data: bytes = b"", *, volume: str | None = None, mode: int = 0o644) -> None:
        """Create (or replace) ``path`` with ``data``, making parent directories."""
        vol = self.client(volume)
        parent = path.strip("/").rpartition("/")[0]
        if parent:
            vol.makedirs(parent, exist_ok=True)
        with vol.fopen(path, "w") as f:
            f.write(bytes(data))
        vol.chmod(path, mode)

    def read_file(self, path: str, *, volume: str | None = None) -> bytes:
        """The whole content of ``path`` (``FileNotFoundError`` if absent)."""
        with self.client(volume).fopen(path, "r") as f:
            data: bytes = f.read()
            return data

    def makedirs(self, path: str, *, volume: str | None = None, mode: int = 0o755) -> None:
        self.client(volume).makedirs(path, mode, exist_ok=True)

    def exists(self, path: str, *, volume: str | None = None) -> bool:
        return bool(self.client(volume).exists(path))

    def reset(self) -> None:
        """Erase every volume's content (what the per-test fixtures do before a test)."""
        for name in self.names:
            vol = self.client(name)
            for entry in vol.listdir("/"):
                if vol.isdir(entry) and not vol.islink(entry):
                    vol.rmtree(entry)
                else:
                    vol.unlink(entry)

    # ---- what only the fake has ------------------------------------------------------------
    def _fake_only(self, what: str) -> FakeOnlyError:
        return FakeOnlyError(
            f"{what} exists on the fake only, not on a real GlusterFS target ({self!r}); "
            "mark the test @pytest.mark.fakegluster_only to skip it there"
        )

    @property
    def calls(self) -> Any:
        raise self._fake_only("the call log")

    @property
    def faults(self) -> Any:
        raise self._fake_only("fault injection")

    def bricks(self, volume: str | None = None) -> Any:
        raise self._fake_only("brick control")

    def set_option(self, *args: Any, **kw: Any) -> Any:
        raise self._fake_only("set_option")

    def close(self) -> None:
        """Unmount the clients; a harness target also deletes its volumes (and stops the
        glusterd it started)."""
        for vol in self._clients.values():
            with contextlib.suppress(Exception):
                vol.close()
        self._clients.clear()
        if self.harness is not None:
            self.harness.stop()
            self.harness = None


def parse_target(text: str | None) -> str | GlusterURI:
    """``fake`` (also empty/None), ``real``, or a parsed ``gluster://`` URI naming a volume."""
    text = (text or "fake").strip()
    if text in ("fake", "real"):
        return text
    try:
        uri = parse_uri(text, require_path=False)
    except ValueError as exc:
        raise ValueError(
            f"--fakegluster-target {text!r}: 'fake', 'real' or a gluster:// URI of a volume ({exc})"
        ) from None
    if uri.path:
        raise ValueError(f"--fakegluster-target {text!r}: name a volume, not a file in it")
    return uri


def start_real_target(target: str | GlusterURI, specs: Iterable[str]) -> RealTarget:
    """A :class:`RealTarget` for ``target`` (``real`` or a volume URI) serving the volumes
    the ``specs`` (:func:`~fakegluster.server.volspec.parse_volume_spec`'s one-line specs)
    name."""
    from ..server.volspec import parse_volume_spec

    parsed = [parse_volume_spec(s) for s in specs] or [parse_volume_spec("testvol")]
    if isinstance(target, GlusterURI):
        if len(parsed) != 1:
            raise ValueError(
                f"--fakegluster-target {target.to_uri()}: names one volume, the fixtures ask for {len(parsed)}"
            )
        names = {parsed[0].name: target.volume}
        if target.transport == "unix":
            return RealTarget(None, None, names, socket=target.socket)
        return RealTarget(target.host, target.port or 24007, names)
    if target != "real":
        raise ValueError(f"not a real target: {target!r}")
    from .realgluster import RealGluster, available

    ok, reason = available()
    if not ok:
        raise FakeOnlyError(f"--fakegluster-target real: no real GlusterFS here: {reason}")
    rg = RealGluster().start()
    try:
        names = {}
        for spec in parsed:
            layout = {k: getattr(spec, k) for k in ("replica", "arbiter", "disperse", "redundancy")}
            vol = rg.create_volume(
                bricks=spec.brick_count,
                options=dict(spec.options) or None,
                **{k: v for k, v in layout.items() if v is not None},
            )
            names[spec.name] = vol.name
    except BaseException:
        rg.stop()
        raise
    return RealTarget("127.0.0.1", 24007, names, harness=rg)
