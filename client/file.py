"""An open file of the trio API (:class:`File`), shaped like ``gluster.gfapi.File``.

IO goes straight to the brick (no write-behind, no read-ahead): ``pread``/``pwrite`` split
requests into :data:`CHUNK` pieces sent concurrently (at most :data:`MAX_INFLIGHT` at a
time); WRITE carries its payload raw after the header, READ's data rides after the reply.
A request of at most one CHUNK is one FOP call and touches no other trio machinery, so the
blocking API can drive it from its own thread (:func:`gfclient.sync.run_inline`); keep it so.
``read``/``write``/``seek`` keep a file offset like ``glfs_read``/``glfs_write``; with
O_APPEND the brick appends and the offset follows the new size.  ``close`` sends FLUSH
(``glfs_close``) and then RELEASE with pid 0 (the fd's destruction).
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Any

import trio

from ._util import unwrap_groups
from .brick import RemoteFd
from .errors import fop_error
from .fops import SEEK_DATA, SEEK_HOLE, SETATTR
from .stat import stat_result
from .xl.base import Fd

if TYPE_CHECKING:
    from .aio import Volume

__all__ = ["File", "CHUNK", "MAX_INFLIGHT"]

#: Bytes per READ/WRITE call (a 10.3 brick takes much more; qemu sends up to a few MiB).
CHUNK = 1 << 20
#: READ/WRITE calls in flight per pread/pwrite.
MAX_INFLIGHT = 8


class File:
    """An open file; use as ``async with await vol.fopen(path, "w") as f: ...``."""

    def __init__(self, vol: Volume, fd: Fd, path: str, flags: int) -> None:
        self._vol = vol
        self._gfd = fd
        self.path = path
        self.name = path
        self.flags = flags
        self.mode: str | None = None
        self.offset = 0
        self.closed = False
        self._lock = trio.Lock()

    # ---- plumbing ----------------------------------------------------------------------
    def _fd(self) -> Fd:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._gfd

    @property
    def gfid(self) -> bytes:
        """The file's gfid (16 bytes)."""
        return self._gfd.gfid

    @property
    def fd(self) -> int:
        """The first brick's fd number (-1 while lost after a disconnect, or closed)."""
        for ctx in self._gfd.ctx.values():
            if isinstance(ctx, RemoteFd):
                return ctx.fd
        return -1

    @property
    def inline_io(self) -> bool:
        """Can a single-chunk READ/WRITE of this file run in a thread of its own?  (The
        graph's translators await one RPC at a time: see :func:`gfclient.sync.run_inline`.)"""
        return self._vol.graph.top.inline_io

    @property
    def graph_fd(self) -> Fd:
        """The client graph's fd of this file (each xlator's state for it); a graph switch
        replaces it with one opened on the new graph (:mod:`gfclient.mount`)."""
        return self._gfd

    @graph_fd.setter
    def graph_fd(self, fd: Fd) -> None:
        self._gfd = fd

    async def __aenter__(self) -> File:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """FLUSH then RELEASE; errors of the FLUSH are raised after the release."""
        if self.closed:
            return
        error: OSError | None = None
        try:
            await self._vol.fops.flush(self._gfd, self.path)
        except OSError as exc:
            if exc.errno != errno.EBADF:  # EBADF: the brick lost the fd with its connection
                error = exc
        await self._release()
        if error is not None:
            raise error

    async def _release(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._vol._dropped(self)
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            try:
                await self._vol.fops.release(self._gfd)
            except OSError:
                pass

    # ---- positional IO -----------------------------------------------------------------
    async def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer only at end of file)."""
        if size < 0 or offset < 0:
            raise fop_error(errno.EINVAL, self.path)
        fd = self._fd()
        fops = self._vol.fops
        if size <= CHUNK:
            return await fops.read(fd, offset, size, self.path) if size else b""
        pieces = [(off, min(CHUNK, offset + size - off)) for off in range(offset, offset + size, CHUNK)]
        results: list[bytes] = [b""] * len(pieces)
        limiter = trio.CapacityLimiter(MAX_INFLIGHT)

        async def one(i: int, off: int, n: int) -> None:
            async with limiter:
                results[i] = await fops.read(fd, off, n, self.path)

        with unwrap_groups():
            async with trio.open_nursery() as nursery:
                for i, (off, n) in enumerate(pieces):
                    nursery.start_soon(one, i, off, n)
        out = bytearray()
        for (_, n), data in zip(pieces, results):
            out += data
            if len(data) < n:
                break
        return bytes(out)

    async def pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> int:
        """Write all of ``data`` at ``offset``; returns the number of bytes written."""
        if offset < 0:
            raise fop_error(errno.EINVAL, self.path)
        post = await self._pwrite(memoryview(data).cast("B"), offset)
        return post[0]

    async def _pwrite(self, view: memoryview, offset: int) -> tuple[int, int]:
        """(bytes written, file size after the last write)."""
        fd = self._fd()
        fops = self._vol.fops
        total = len(view)
        if total == 0:
            return 0, -1
        if total <= CHUNK:
            rsp = await fops.write(fd, offset, view, self.path)
            return rsp.op_ret, rsp.poststat.ia_size
        pieces = [(off, min(CHUNK, total - off)) for off in range(0, total, CHUNK)]
        written = [0] * len(pieces)
        sizes = [-1] * len(pieces)

        async def one(i: int, start: int, n: int) -> None:
            rsp = await fops.write(fd, offset + start, view[start : start + n], self.path)
            written[i] = rsp.op_ret
            sizes[i] = rsp.poststat.ia_size

        if self.flags & os.O_APPEND:  # appends must reach the brick in order
            for i, (start, n) in enumerate(pieces):
                await one(i, start, n)
                if written[i] < n:
                    break
        else:
            limiter = trio.CapacityLimiter(MAX_INFLIGHT)

            async def limited(i: int, start: int, n: int) -> None:
                async with limiter:
                    await one(i, start, n)

            with unwrap_groups():
                async with trio.open_nursery() as nursery:
                    for i, (start, n) in enumerate(pieces):
                        nursery.start_soon(limited, i, start, n)
        done = 0
        for (_, n), w in zip(pieces, written):
            done += w
            if w < n:
                break
        return done, max(sizes)

    # ---- sequential IO -----------------------------------------------------------------
    async def read(self, size: int = -1) -> bytes:
        """Read ``size`` bytes (all up to EOF when negative) from the file offset."""
        async with self._lock:
            return await self.read_unlocked(size)

    async def read_unlocked(self, size: int | None) -> bytes:
        """:meth:`read` without the offset lock, for a caller that serializes the offset
        itself (the blocking API holds a thread lock of its own)."""
        if size is None or size < 0:
            st = await self.fstat()
            chunks = [await self.pread(max(st.st_size - self.offset, 0), self.offset)]
            self.offset += len(chunks[0])
            while True:
                more = await self.pread(CHUNK, self.offset)
                if not more:
                    break
                chunks.append(more)
                self.offset += len(more)
            return b"".join(chunks)
        data = await self.pread(size, self.offset)
        self.offset += len(data)
        return data

    readall = read

    async def readinto(self, buf: bytearray | memoryview) -> int:
        """Read into ``buf`` at the file offset; returns the number of bytes read."""
        view = memoryview(buf).cast("B")
        data = await self.read(len(view))
        view[: len(data)] = data
        return len(data)

    async def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write at the file offset (at the end with O_APPEND); returns bytes written."""
        async with self._lock:
            return await self.write_unlocked(data)

    async def write_unlocked(self, data: bytes | bytearray | memoryview) -> int:
        """:meth:`write` without the offset lock (see :meth:`read_unlocked`)."""
        n, size = await self._pwrite(memoryview(data).cast("B"), self.offset)
        if self.flags & os.O_APPEND and size >= 0:
            self.offset = size
        else:
            self.offset += n
        return n

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the file offset; also SEEK_DATA / SEEK_HOLE (the SEEK fop)."""
        async with self._lock:
            return await self.seek_unlocked(offset, whence)

    async def seek_unlocked(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """:meth:`seek` without the offset lock (see :meth:`read_unlocked`)."""
        if whence == os.SEEK_SET:
            new = offset
        elif whence == os.SEEK_CUR:
            new = self.offset + offset
        elif whence == os.SEEK_END:
            new = (await self.fstat()).st_size + offset
        elif whence in (getattr(os, "SEEK_DATA", 3), getattr(os, "SEEK_HOLE", 4)):
            what = SEEK_DATA if whence == getattr(os, "SEEK_DATA", 3) else SEEK_HOLE
            new = await self._vol.fops.seek(self._fd(), offset, what, self.path)
        else:
            raise fop_error(errno.EINVAL, self.path)
        if new < 0:
            raise fop_error(errno.EINVAL, self.path)
        self.offset = new
        return new

    lseek = seek

    def tell(self) -> int:
        """The file offset."""
        return self.offset

    # ---- metadata ----------------------------------------------------------------------
    async def fstat(self) -> os.stat_result:
        """The :class:`os.stat_result` of the open file (FSTAT)."""
        return stat_result(await self._vol.fops.fstat(self._fd(), self.path))

    async def fgetsize(self) -> int:
        """``fstat().st_size``."""
        return (await self.fstat()).st_size

    async def truncate(self, size: int | None = None) -> int:
        """FTRUNCATE to ``size`` (default: the file offset); returns the new size."""
        size = self.offset if size is None else size
        await self._vol.fops.ftruncate(self._fd(), size, self.path)
        return size

    ftruncate = truncate

    async def fsync(self) -> None:
        """FSYNC: data and metadata reach the bricks' disks."""
        await self._vol.fops.fsync(self._fd(), False, self.path)

    async def fdatasync(self) -> None:
        """FSYNC with the datasync flag (data only)."""
        await self._vol.fops.fsync(self._fd(), True, self.path)

    async def discard(self, offset: int, length: int) -> None:
        """Punch a hole (DISCARD); the size does not change."""
        await self._vol.fops.discard(self._fd(), offset, length, self.path)

    async def zerofill(self, offset: int, length: int) -> None:
        """Write zeros (ZEROFILL); may extend the file."""
        await self._vol.fops.zerofill(self._fd(), offset, length, self.path)

    async def fallocate(self, mode: int, offset: int, length: int) -> None:
        """FALLOCATE ``length`` bytes at ``offset`` (``mode`` as fallocate(2): 0 or
        ``FALLOC_FL_KEEP_SIZE``)."""
        await self._vol.fops.fallocate(self._fd(), mode, offset, length, self.path)

    async def fchmod(self, mode: int) -> None:
        """Set the permission bits (FSETATTR)."""
        await self._vol.fops.fsetattr(self._fd(), SETATTR["MODE"], path=self.path, mode=mode & 0o7777)

    async def fchown(self, uid: int, gid: int) -> None:
        """Set the owner and group; -1 leaves one as it is (FSETATTR)."""
        valid = (SETATTR["UID"] if uid != -1 else 0) | (SETATTR["GID"] if gid != -1 else 0)
        if valid:
            await self._vol.fops.fsetattr(self._fd(), valid, path=self.path, ia_uid=max(uid, 0), ia_gid=max(gid, 0))

    async def fgetxattr(self, key: str, size: int = 0) -> bytes:
        """The value of the extended attribute ``key`` (``ENODATA`` if absent; ``ERANGE`` if longer
        than a non-zero ``size``)."""
        values = await self._vol.fops.fgetxattr(self._fd(), key, self.path)
        if key not in values:
            raise fop_error(errno.ENODATA, self.path)
        if size and len(values[key]) > size:
            raise fop_error(errno.ERANGE, self.path)
        return values[key]

    async def flistxattr(self, size: int = 0) -> list[str]:
        """The extended attribute names (``ERANGE`` if they need more than a non-zero ``size`` bytes)."""
        return list(await self._vol.fops.fgetxattr(self._fd(), None, self.path))

    async def fsetxattr(self, key: str, value: bytes | str, flags: int = 0) -> None:
        """Set the extended attribute ``key`` (a ``str`` value is UTF-8 encoded; ``flags``:
        ``XATTR_CREATE``/``XATTR_REPLACE``)."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        await self._vol.fops.fsetxattr(self._fd(), key, data, flags, self.path)

    async def fremovexattr(self, key: str) -> None:
        """Remove the extended attribute ``key``."""
        await self._vol.fops.fremovexattr(self._fd(), key, self.path)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"fd {self.fd}"
        return f"<gfclient File {self.path!r} {state}>"
