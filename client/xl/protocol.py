"""protocol/client as a :class:`~gfclient.xl.base.Subvolume`: one brick connection.

The connection itself (portmap, handshake, pings, reconnects, reopening fds) is
:class:`gfclient.brick.BrickClient`; this adapter turns a graph FOP into an RPC: the brick's
fd number goes into fd-based requests (``client_pre_*`` in ``client-common.c``), ``op_ret <
0`` becomes ``OSError(op_errno)``, and the fds it opens are remembered in the :class:`Fd` and
registered with the connection so that they are reopened after a reconnect.  An fd the
brick lost (a disconnect, no reopen yet) fails with EBADF, like ``client_fd_fop_prepare``.
"""

from __future__ import annotations

import errno
from typing import Any

from fakegluster.proto.fops import GF_ANON_FD_NO, GfFop

from ..brick import BrickClient, RemoteFd
from ..errors import fop_error
from ..identity import Identity
from .base import FD_FOPS, OPENING_FOPS, RELEASING_FOPS, Fd, Subvolume, with_fd

__all__ = ["ProtocolClient"]


class ProtocolClient(Subvolume):
    """A protocol/client xlator over its :class:`BrickClient`."""

    type = "protocol/client"
    inline_io = True

    def __init__(self, brick: BrickClient) -> None:
        self.brick = brick
        self.name = brick.config.name
        self.children = ()

    @property
    def up(self) -> bool:
        return self.brick.up

    def leaves(self) -> list[Subvolume]:
        return [self]

    def forget(self, gfid: bytes) -> None:
        pass

    def remote(self, fd: Fd) -> RemoteFd | None:
        """This brick's fd for ``fd`` (None if it was not opened here)."""
        return fd.ctx.get(self)

    async def call(
        self,
        proc: GfFop,
        req: Any,
        ident: Identity,
        *,
        fd: Fd | None = None,
        payload: bytes | memoryview = b"",
        path: str | None = None,
    ) -> Any:
        if fd is not None and fd.anonymous:
            if proc in RELEASING_FOPS:
                return None
            req = with_fd(req, GF_ANON_FD_NO)
        elif fd is not None and proc in FD_FOPS:
            rfd = fd.ctx.get(self)
            if proc in RELEASING_FOPS:
                if rfd is None:
                    return None
                self.brick.forget_fd(rfd)
                del fd.ctx[self]
                if rfd.fd == -1:  # lost with the connection: nothing to release
                    return None
                req = with_fd(req, rfd.fd)
            else:
                if rfd is None or rfd.fd == -1:
                    raise fop_error(errno.EBADF, None, f"no open fd on {self.name}")
                req = with_fd(req, rfd.fd)
        reply = await self.brick.fop(proc, req, ident=ident, payload=payload)
        rsp = reply.result
        if rsp.op_ret < 0:
            raise fop_error(rsp.op_errno)
        if fd is not None and proc in OPENING_FOPS and not fd.anonymous:
            gfid = rsp.stat.ia_gfid if proc == GfFop.CREATE else fd.gfid
            rfd = RemoteFd(gfid, fd.flags, fd.is_dir, rsp.fd)
            fd.ctx[self] = rfd
            self.brick.register_fd(rfd)
        if proc == GfFop.READ:
            return rsp, reply.payload[: rsp.op_ret]
        return rsp
