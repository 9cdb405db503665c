"""Files of a served volume written and read directly on its bricks, laid out as a client
would leave them, for seeding a test's data and checking it (``FakeGluster.write_file`` ...).

* one brick: the store itself;
* one replica set: the same object (same gfid) on every brick, no changelog marks (clean
  copies); an arbiter brick gets the name, never the data (``features/arbiter``);
* one disperse set: each brick holds its fragment (:class:`fakegluster.xl.ec.Codec`) with the
  ``trusted.ec.*`` xattrs cluster/disperse keeps (config, size, version, dirty).

A volume of several distribute subvolumes is refused: where DHT puts a name depends on the
directory layouts its clients write; seed it through a client.
"""

from __future__ import annotations

import errno
import stat
import uuid

from ..mgmt import model
from ..store.base import ROOT_GFID, Store
from ..xl import ec
from .brick import Brick
from .volume import Volume

__all__ = ["write_file", "read_file", "makedirs", "exists", "SeedError"]


class SeedError(ValueError):
    """The volume's layout cannot be seeded directly."""


def _bricks(vol: Volume) -> list[Brick]:
    if vol.model.subvol_count > 1:
        raise SeedError(
            f"volume {vol.name} has {vol.model.subvol_count} distribute subvolumes: DHT places a file by its "
            "directory's layout, so seed it through a client (qemu-img, FUSE, gfclient)"
        )
    return vol.bricks


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def _lookup_all(bricks: list[Brick], pgfid: bytes, name: str) -> bytes | None:
    """The gfid ``name`` has on any brick (the copies share it), or None."""
    for b in bricks:
        try:
            return b.store.lookup(pgfid, name).gfid
        except OSError:
            continue
    return None


def makedirs(vol: Volume, path: str, mode: int = 0o755) -> bytes:
    """Every directory of ``path`` on every brick (same gfids); returns the last one's gfid."""
    bricks = _bricks(vol)
    gfid = ROOT_GFID
    for part in _parts(path):
        found = _lookup_all(bricks, gfid, part) or uuid.uuid4().bytes
        for b in bricks:
            try:
                b.store.lookup(gfid, part)
            except FileNotFoundError:
                b.store.mkdir(gfid, part, mode, uid=0, gid=0, gfid=found)
        gfid = found
    return gfid


def write_file(vol: Volume, path: str, data: bytes, mode: int = 0o644) -> None:
    """Create (or replace the content of) ``path``, making parent directories."""
    bricks = _bricks(vol)
    parent, _, name = path.strip("/").rpartition("/")
    if not name:
        raise SeedError(f"{path!r} names no file")
    pgfid = makedirs(vol, parent)
    gfid = _lookup_all(bricks, pgfid, name) or uuid.uuid4().bytes
    frags: list[bytes] | None = None
    if vol.model.type == model.ClusterType.DISPERSE:
        codec = ec.Codec(len(bricks), vol.model.redundancy_count)
        frags = codec.encode(data + bytes(-len(data) % codec.stripe))
        config = ec.Config(len(bricks), vol.model.redundancy_count).encode()
    for i, b in enumerate(bricks):
        s = b.store
        a, _ = s.create(pgfid, name, mode, uid=0, gid=0, gfid=gfid)
        if not stat.S_ISREG(a.mode):
            raise SeedError(f"{path!r} exists and is not a file")
        s.truncate(gfid, 0)
        if frags is not None:
            if frags[i]:
                s.write(gfid, 0, frags[i])
            s.setxattr(gfid, ec.CONFIG_XATTR, config)
            s.setxattr(gfid, ec.SIZE_XATTR, ec.encode_u64(len(data)))
            s.setxattr(gfid, ec.VERSION_XATTR, ec.encode_pair(1, 1))
            s.setxattr(gfid, ec.DIRTY_XATTR, ec.encode_pair(0, 0))
        elif data and not b.arbiter:
            s.write(gfid, 0, data)


def read_file(vol: Volume, path: str) -> bytes:
    """The whole content of ``path`` (``FileNotFoundError`` if absent)."""
    bricks = _bricks(vol)
    if vol.model.type != model.ClusterType.DISPERSE:
        for b in bricks:
            if not b.arbiter:
                return _read(b.store, path)
    codec = ec.Codec(len(bricks), vol.model.redundancy_count)
    frags = {}
    size = 0
    for i, b in enumerate(bricks):
        a = b.store.resolve_path(path)
        size = ec.decode_u64(b.store.getxattr(a.gfid, ec.SIZE_XATTR))
        frags[i] = b.store.read(a.gfid, 0, a.size)
        if len(frags) == codec.k:
            break
    if not size:
        return b""
    return codec.decode(frags)[:size]


def _read(store: Store, path: str) -> bytes:
    a = store.resolve_path(path)
    if stat.S_ISDIR(a.mode):
        raise IsADirectoryError(errno.EISDIR, path)
    return store.read(a.gfid, 0, a.size)


def exists(vol: Volume, path: str) -> bool:
    for b in vol.bricks:
        try:
            b.store.resolve_path(path)
            return True
        except FileNotFoundError:
            continue
    return False
