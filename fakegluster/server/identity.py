"""A volume's identity, kept across restarts: volume-id, auth.login credentials, brick ports.

A real glusterd keeps a volume's ``volume-id`` and its ``auth.login`` username/password in
``/var/lib/glusterd/vols/NAME/info`` (``glusterd_store_volinfo``), so a brick restarted with
``volume start NAME force`` answers SETVOLUME exactly as before: a client that holds fds
reconnects (``client_rpc_notify`` -> SETVOLUME with the volume-id it knew, the volfile's
credentials) and reopens them (``client_post_handshake``).  A fake that made up a new
volume-id and new credentials at each start refused those clients forever ("volume-id
mismatch", "Authentication failed"), so their fds stayed EBADF (issue #14 defect 7).

For a volume served from a directory the identity lives in one small JSON file in the
store's hidden folder (``DIR/.fakegluster/volume.json``), written atomically (temporary
file, fsync, rename, fsync of the folder)::

    ident = VolumeIdentity.load_or_create(folder, "testvol")   # folder None: in memory only
    brick.volume_id, brick.username = ident.volume_id, ident.username
    port = bind(prefer=ident.port_of(brick.path))              # 0 when none was kept
    ident.remember_port(brick.path, port)                      # saved at once when kept on disk

Brick ports are keyed by brick path, so a volume of many bricks (``DIR/brick0``,
``DIR/brick1``, ...) keeps one file for all of them, in the folder its caller chooses.
A port is only a preference: when another process holds it the brick takes another one, and
clients find it again through glusterd's PORTBYBRICK as they do after a real restart.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import uuid
from typing import Any

__all__ = ["VolumeIdentity", "IDENTITY_FILE", "identity_folder"]

log = logging.getLogger("fakegluster.server")

IDENTITY_FILE = "volume.json"
_VERSION = 1


def identity_folder(store: Any) -> str | None:
    """Where a store keeps its identity: the hidden folder of a directory store, else None."""
    root = getattr(store, "root", None)
    if root is None:
        return None
    from ..store.gfidindex import HIDDEN

    folder = os.path.join(root, HIDDEN)
    return folder if os.path.isdir(folder) else None


def _new_uuid() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass
class VolumeIdentity:
    """What a client must find again after a restart (see the module docstring).

    Attributes:
        name: the volume name it was last served as (for people reading the file).
        volume_id: the uuid SETVOLUME reports and checks.
        username, password: the ``auth.login`` credentials of the trusted volfile.
        brick_ports: brick path -> the TCP port it last listened on.
        folder: where it is kept (None: not kept, an in-memory volume).
    """

    name: str
    volume_id: str = dataclasses.field(default_factory=_new_uuid)
    username: str = dataclasses.field(default_factory=_new_uuid)
    password: str = dataclasses.field(default_factory=_new_uuid)
    brick_ports: dict[str, int] = dataclasses.field(default_factory=dict)
    folder: str | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def load_or_create(cls, folder: str | None, name: str) -> VolumeIdentity:
        """The identity kept in ``folder``, or a new one (saved there at once)."""
        if folder is None:
            return cls(name)
        path = os.path.join(folder, IDENTITY_FILE)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            ident = cls(
                name=name,
                volume_id=str(uuid.UUID(data["volume-id"])),
                username=str(data["username"]),
                password=str(data["password"]),
                brick_ports={str(k): int(v) for k, v in data.get("brick-ports", {}).items() if 0 < int(v) < 65536},
                folder=folder,
            )
        except FileNotFoundError:
            ident = cls(name, folder=folder)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s: unreadable (%s); the volume gets a new identity", path, exc)
            ident = cls(name, folder=folder)
        else:
            if data.get("name") == name:
                return ident
        ident.save()
        return ident

    def port_of(self, brick_path: str) -> int:
        """The port ``brick_path`` listened on last time (0: none kept)."""
        return self.brick_ports.get(brick_path, 0)

    def remember_port(self, brick_path: str, port: int) -> None:
        if self.brick_ports.get(brick_path) != port:
            self.brick_ports[brick_path] = port
            self.save()

    def save(self) -> None:
        """Write the identity to its folder atomically (nothing to do in memory)."""
        if self.folder is None:
            return
        data = {
            "version": _VERSION,
            "name": self.name,
            "volume-id": self.volume_id,
            "username": self.username,
            "password": self.password,
            "brick-ports": self.brick_ports,
        }
        path = os.path.join(self.folder, IDENTITY_FILE)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, json.dumps(data, indent=1).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dfd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
