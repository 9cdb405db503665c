"""What to serve, written down: one-line volume specs (``--volume``), cluster files, and the
:class:`VolumeSpec` both become.

One line (``fakegluster serve --volume ...``, ``FakeGluster(volumes=[...])``)::

    testvol                                  one in-memory brick
    vm=/srv/vm                               the directory /srv/vm, served as it is
    vm=/srv/vm;replica=3;arbiter=1           3 bricks /srv/vm/brick0..2, the third an arbiter
    ec;disperse=6;redundancy=2;bricks=12     2 x (4 + 2), in memory
    vm;replica=3;performance.write-behind=off

Keys: ``replica``, ``arbiter``, ``disperse``, ``disperse-data``, ``redundancy`` (as ``gluster
volume create`` takes them), ``bricks`` (a count, default one replica/disperse set; or
``HOST:/PATH,HOST:/PATH,...`` to place each brick on a node), ``transport`` (tcp), ``dir``
(same as ``NAME=DIR``), ``store`` (``memory`` or ``directory``), ``start`` (``yes``/``no``).
A key with a dot is a volume option (``volume set``).  Bricks without a host go round the
cluster's nodes (brick i on node i mod N).

A cluster file (TOML) describes bigger set-ups::

    listen = ["tcp://127.0.0.1:24007", "unix:///tmp/gd.sock"]   # the first node's glusterd
    nodes = ["127.0.0.2", "127.0.0.3"]                          # more nodes (same glusterd port)

    [[volume]]
    name = "vm"
    replica = 3
    dir = "/srv/vm"
    options = { "performance.write-behind" = "off" }

    [[volume]]
    name = "spread"
    bricks = ["127.0.0.2:/srv/spread/a", "127.0.0.3:/srv/spread/b"]
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["VolumeSpec", "parse_volume_spec", "volume_spec", "ClusterFile", "load_cluster_file", "SPEC_KEYS"]

_INT_KEYS = ("replica", "arbiter", "disperse", "disperse-data", "redundancy")
SPEC_KEYS = (*_INT_KEYS, "bricks", "transport", "dir", "store", "start")


@dataclasses.dataclass
class VolumeSpec:
    """One volume to create (and start): ``gluster volume create`` arguments plus where its
    data lives.

    ``bricks``: a brick count, or ``host:/path`` words (a host may be left out: ``/path``).
    ``directory``: a directory volume (one brick: the folder itself; more: ``DIR/brickN``);
    ``store``: a ready store for a one-brick volume (tests).  ``storage``: ``"memory"`` or
    ``"directory"`` (default: directory when ``directory`` or brick paths are given).
    """

    name: str
    directory: str | None = None
    bricks: int | list[str] | None = None
    replica: int | None = None
    arbiter: int | None = None
    disperse: int | None = None
    disperse_data: int | None = None
    redundancy: int | None = None
    transport: str = "tcp"
    options: dict[str, str] = dataclasses.field(default_factory=dict)
    start: bool = True
    storage: str | None = None
    store: Store | None = dataclasses.field(default=None, repr=False)

    @property
    def brick_count(self) -> int:
        if isinstance(self.bricks, list):
            return len(self.bricks)
        if self.bricks is not None:
            return self.bricks
        if self.disperse:
            return self.disperse
        if self.disperse_data is not None:
            return self.disperse_data + (self.redundancy or 1)
        if self.replica:
            return self.replica + (1 if self.arbiter and self.replica == 2 else 0)
        return 1

    @property
    def on_disk(self) -> bool:
        if self.storage is not None:
            return self.storage == "directory"
        return self.directory is not None or isinstance(self.bricks, list)

    def create_args(self) -> dict[str, Any]:
        """The keyword arguments of :func:`fakegluster.mgmt.create.cli_create_request`."""
        out: dict[str, Any] = {"transport": self.transport, "force": True}
        for key in ("replica", "arbiter", "disperse", "disperse_data", "redundancy"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def brick_words(self, node_names: list[str]) -> list[tuple[str | None, str]]:
        """(host or None, path) per brick; paths default to ``DIR/brickN`` (``DIR`` itself for
        a one-brick directory volume) or ``/fakegluster/NAME/brickN`` in memory."""
        if isinstance(self.bricks, list):
            out: list[tuple[str | None, str]] = []
            for word in self.bricks:
                host, sep, path = word.rpartition(":")
                if not path.startswith("/"):
                    raise ValueError(f"volume {self.name}: brick {word!r} is not HOST:/PATH or /PATH")
                out.append((host if sep and host else None, path))
            return out
        n = self.brick_count
        if self.directory is not None:
            paths = [self.directory] if n == 1 else [os.path.join(self.directory, f"brick{i}") for i in range(n)]
        else:
            paths = [f"/fakegluster/{self.name}/brick{i}" for i in range(n)]
        return [(None, p) for p in paths]


def _truth(word: str, what: str) -> bool:
    w = word.lower()
    if w in ("yes", "on", "true", "1", "enable"):
        return True
    if w in ("no", "off", "false", "0", "disable"):
        return False
    raise ValueError(f"{what}: {word!r} is not yes or no")


def volume_spec(name: str, **kw: Any) -> VolumeSpec:
    """A :class:`VolumeSpec` from keyword arguments (``disperse-data`` may be spelt either way;
    unknown keys with a dot are options, others are refused with the list of known ones)."""
    spec = VolumeSpec(name)
    options = dict(kw.pop("options", None) or {})
    for key, value in kw.items():
        attr = key.replace("-", "_")
        if key.replace("_", "-") in _INT_KEYS:
            try:
                setattr(spec, attr, int(value))
            except (TypeError, ValueError):
                raise ValueError(f"volume {name}: {key}={value!r} is not a number") from None
        elif key == "bricks":
            if isinstance(value, str):
                value = int(value) if value.isdigit() else [w for w in value.split(",") if w]
            elif isinstance(value, Iterable) and not isinstance(value, int):
                value = list(value)
            spec.bricks = value
        elif key in ("dir", "directory"):
            spec.directory = os.path.abspath(value) if value else None
        elif key == "transport":
            spec.transport = str(value)
        elif key in ("store", "storage"):
            from ..store.base import Store  # (not at import: `serve` reads specs before construct)

            if isinstance(value, Store):
                spec.store = value
            elif value in ("memory", "directory"):
                spec.storage = value
            else:
                raise ValueError(f"volume {name}: store={value!r}: memory or directory")
        elif key == "start":
            spec.start = value if isinstance(value, bool) else _truth(str(value), f"volume {name}: start")
        elif "." in key:
            options[key] = str(value)
        else:
            raise ValueError(
                f"volume {name}: unknown key {key!r} (known: {', '.join(SPEC_KEYS)}; a volume option has a dot)"
            )
    spec.options = options
    if spec.directory is not None and not os.path.isdir(spec.directory) and spec.brick_count == 1:
        raise ValueError(f"volume {name}: {spec.directory} is not a directory")
    return spec


def parse_volume_spec(text: str) -> VolumeSpec:
    """``NAME[=DIR][;KEY=VALUE]...`` (see the module docstring)."""
    head, *rest = text.split(";")
    name, eq, directory = head.partition("=")
    name = name.strip()
    if not name or any(c in name for c in "/ .\0") or name.startswith("-"):
        raise ValueError(
            f"--volume {text!r}: a volume name is letters, digits, '-' and '_' (libgfapi refuses '.', spaces and '/')"
        )
    if eq and not directory:
        raise ValueError(f"--volume {text!r}: NAME=DIR needs a directory")
    kw: dict[str, Any] = {}
    if directory:
        kw["dir"] = directory
    for item in rest:
        if not item.strip():
            continue
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"--volume {text!r}: {item!r} is not KEY=VALUE")
        kw[key.strip()] = value.strip()
    try:
        return volume_spec(name, **kw)
    except ValueError as exc:
        raise ValueError(f"--volume {text!r}: {exc}") from None


@dataclasses.dataclass
class ClusterFile:
    """A cluster file's content: the first node's listeners, more nodes, volumes."""

    listen: list[str]
    nodes: list[str]
    volumes: list[VolumeSpec]


def load_cluster_file(path: str) -> ClusterFile:
    """Read a TOML cluster file (see the module docstring)."""
    import tomllib  # only here: ~2 ms of every server start otherwise

    with open(path, "rb") as f:
        try:
            data = tomllib.load(f)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return cluster_from_mapping(data, where=path)


def cluster_from_mapping(data: Mapping[str, Any], where: str = "cluster") -> ClusterFile:
    unknown = set(data) - {"listen", "nodes", "volume"}
    if unknown:
        raise ValueError(f"{where}: unknown top-level keys {sorted(unknown)} (listen, nodes, [[volume]])")
    listen = data.get("listen", [])
    nodes = data.get("nodes", [])
    if isinstance(listen, str):
        listen = [listen]
    if isinstance(nodes, int):
        nodes = [f"127.0.0.{i + 2}" for i in range(nodes)]
    volumes = []
    for i, table in enumerate(data.get("volume", [])):
        table = dict(table)
        name = table.pop("name", None)
        if not name:
            raise ValueError(f"{where}: [[volume]] number {i + 1} has no name")
        try:
            volumes.append(volume_spec(str(name), **table))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return ClusterFile([str(x) for x in listen], [str(x) for x in nodes], volumes)
