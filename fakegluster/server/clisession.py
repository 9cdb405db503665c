"""The gluster CLI program on a fake glusterd: the file-system side of ``volume create`` and the
glue between :mod:`fakegluster.mgmt.cli_handlers` and a served cluster (:class:`CliProgram`, which
a glusterd session hands its GLUSTER-CLI calls to).

:func:`brick_path_check` is glusterd's ``glusterd_validate_and_create_brickpath``
(``glusterd-utils.c``) on a local brick directory: one ``mkdir`` (not its parents), a mount
point or the root file system refused without ``force``, a directory already carrying a volume's
``trusted.glusterfs.volume-id`` (or a ``trusted.gfid``) on itself or a parent refused without
``force``, and the new volume's id set on it.  Without the privilege to set ``trusted.*``
xattrs (not root) the xattr steps are skipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..mgmt import cli_handlers
from ..mgmt.cli_handlers import DaemonStatus, Peer
from ..mgmt.model import GLUSTERD_WORKDIR, Brick, ClusterType, Volume, VolumeError
from ..proto.events import Call

if TYPE_CHECKING:
    from .node import Node
    from .runtime import Cluster

__all__ = ["brick_path_check", "VOLUME_ID_XATTR", "ClusterGlusterd", "CliProgram"]

VOLUME_ID_XATTR = "trusted.glusterfs.volume-id"  # GF_XATTR_VOL_ID_KEY
GFID_XATTR = "trusted.gfid"  # GFID_XATTR_KEY
_TEST_XATTR = "trusted.glusterfs.test"


def _uuid_present(path: str, key: str) -> bool:
    """``glusterd_is_uuid_present``: the xattr exists (ENODATA/ENOTSUP mean no)."""
    try:
        os.getxattr(path, key, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.ENOENT):
            return False
        raise
    return True


def _path_in_use(path: str) -> str | None:
    """``glusterd_is_path_in_use``: walk from ``path`` up to ``/``; the first directory holding a
    volume id or gfid makes the text."""
    cur = path
    while True:
        for key in (GFID_XATTR, VOLUME_ID_XATTR):
            try:
                used = _uuid_present(cur, key)
            except OSError as exc:
                return f"Failed to get extended attribute {key}, reason: {os.strerror(exc.errno or 0)}"
            if used:
                if cur == path:
                    return f"{path} is already part of a volume"
                return f"parent directory {cur} is already part of a volume"
        if cur == "/":
            return None
        cur = os.path.dirname(cur) or "/"


def brick_path_check(brick: Brick, force: bool, volume_id: str, *, volname: str = "") -> str | None:
    """glusterd's checks and changes on a new local brick directory; None when it is fine, else
    the op_errstr.  The directory stays created (with the volume id) when it passes."""
    path = brick.path
    created = False
    try:
        os.mkdir(path, 0o755)
        created = True
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            return (
                f"Failed to create brick directory for brick {brick.host}:{path}. "
                f"Reason : {os.strerror(exc.errno or 0)} "
            )
    problem = _checks(brick, force, volume_id, volname, created)
    if problem is not None and created:
        shutil.rmtree(path, ignore_errors=True)
    return problem


def _checks(brick: Brick, force: bool, volume_id: str, volname: str, created: bool) -> str | None:
    path = brick.path
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"lstat failed on {path}. Reason : {os.strerror(exc.errno or 0)}"
    if not created and not stat.S_ISDIR(st.st_mode):
        return f"The provided path {path} which is already present, is not a directory"
    root = os.lstat("/")
    try:
        parent = os.lstat(os.path.join(path, ".."))
    except OSError as exc:
        return f"lstat failed on {path}/... Reason : {os.strerror(exc.errno or 0)}"
    if not volname.startswith("gluster_shared_storage") and path.startswith(GLUSTERD_WORKDIR):
        return "Brick isn't allowed to be created inside glusterd's working directory."
    if not force:
        if st.st_dev != parent.st_dev:
            return (
                f"The brick {brick.host}:{path} is a mount point. Please create a sub-directory under the mount "
                "point and use that as the brick directory. Or use 'force' at the end of the command if you want "
                "to override this behavior."
            )
        if parent.st_dev == root.st_dev:
            return (
                f"The brick {brick.host}:{path} is being created in the root partition. It is recommended that "
                "you don't use the system's root partition for storage backend. Or use 'force' at the end of the "
                "command if you want to override this behavior."
            )
    return _set_volume_id(brick, force, volume_id)


def _set_volume_id(brick: Brick, force: bool, volume_id: str) -> str | None:
    """``glusterd_check_and_set_brick_xattr``."""
    path = brick.path
    try:
        os.setxattr(path, _TEST_XATTR, b"working\0", follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            return None  # not root: trusted.* is out of reach, as for any unprivileged fake
        return (
            f"Glusterfs is not supported on brick: {brick.host}:{path}.\n"
            f"Setting extended attributes failed, reason: {os.strerror(exc.errno or 0)}."
        )
    with contextlib.suppress(OSError):
        os.removexattr(path, _TEST_XATTR, follow_symlinks=False)
    in_use = _path_in_use(path)
    if in_use is not None and (not force or in_use.startswith("Failed")):
        return in_use
    try:
        flags = 0 if force else os.XATTR_CREATE
        os.setxattr(path, VOLUME_ID_XATTR, uuid.UUID(volume_id).bytes, flags, follow_symlinks=False)
    except OSError as exc:
        return f"Failed to set extended attributes {VOLUME_ID_XATTR}, reason: {os.strerror(exc.errno or 0)}"
    return None


# ---------------------------------------------------------------------------------------------
# the CLI program on a served cluster
# ---------------------------------------------------------------------------------------------


class ClusterGlusterd:
    """:class:`~fakegluster.mgmt.cli_handlers.Glusterd` on a served cluster, as ``node``'s
    glusterd sees it.  Runs in the server's trio thread, as every glusterd session does, so the
    cluster's methods are called directly."""

    strict = True  # a key the fake's bricks cannot honour is refused (mgmt/support.py)

    def __init__(self, cluster: Cluster, node: Node) -> None:
        self.cluster, self.node = cluster, node

    @property
    def node_uuid(self) -> str:
        return self.node.uuid

    def volumes(self) -> list[Volume]:
        return [v.model for v in self.cluster.volumes.values()]

    def peers(self) -> list[Peer]:
        return [Peer(n.uuid, n.host, n.up) for n in self.cluster.nodes if n is not self.node]

    def is_local_host(self, host: str) -> bool:
        return self.node.matches(host) or host in ("localhost", "127.0.0.1", "::1")

    def resolve_host(self, host: str) -> str | None:
        return self.cluster.resolve_host(host)

    def path_check(self, brick: Brick, force: bool, volume_id: str) -> str | None:
        # every fake node's brick directories are on this machine
        return brick_path_check(brick, force, volume_id)

    def create(self, vol: Volume) -> Volume:
        served: Volume = self.cluster.add_volume(vol, storage="directory").model
        return served

    def start(self, vol: Volume, force: bool) -> None:
        self.cluster.start_volume(vol.name, force)

    def stop(self, vol: Volume, force: bool) -> None:
        self.cluster.stop_volume(vol.name)

    def delete(self, vol: Volume) -> None:
        self.cluster.delete_volume(vol.name)

    def shd(self, vol: Volume) -> DaemonStatus | None:
        served = self.cluster.volumes.get(vol.name)
        if served is None or not served.started or vol.type not in (ClusterType.REPLICATE, ClusterType.DISPERSE):
            return None
        return DaemonStatus(True, os.getpid())

    def heal(self, vol: Volume) -> None:
        served = self.cluster.volumes.get(vol.name)
        if served is not None:
            self.cluster.wake_shd(served)

    def clients(self, vol: Volume) -> list[tuple[str, int, int]]:
        return self.cluster.clients(vol.name)

    def change_options(self, vol: Volume, change: Callable[[], str | None]) -> str | None:
        """:meth:`runtime.Cluster.change_options`: the bricks' access options checked
        (glusterd's texts), the bricks reconfigured, FETCHSPEC to every client."""
        try:
            return self.cluster.change_options(vol.name, change)
        except ValueError as exc:  # runtime.ClusterError: glusterd refused, nothing changed
            raise VolumeError(getattr(exc, "message", str(exc))) from None


class CliProgram:
    """The GLUSTER-CLI program of a node's glusterd: ``handle(call)`` as sessions do."""

    def __init__(self, cluster: Cluster, node: Node) -> None:
        self.gd = ClusterGlusterd(cluster, node)

    def handle(self, call: Call) -> tuple[Any, bytes]:
        return cli_handlers.handle(self.gd, call.proc, call.args, new_uuid=lambda: str(uuid.uuid4())), b""
