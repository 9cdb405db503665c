"""The FOPs on open fds of :class:`~fakegluster.server.fops.FopHandlers` (a mixin): the
connection's fd table, OPEN and the data FOPs (READ, WRITE, FSYNC, TRUNCATE, FALLOCATE,
DISCARD, ZEROFILL, SEEK, RCHECKSUM, COPY_FILE_RANGE), RELEASE, and directories read through
an fd (OPENDIR, READDIR, READDIRP), as the posix xlator behind ``server-rpc-fops_v2.c``
answers them (glusterfs v10.3).

* ``fd`` numbers are per connection, lowest free first; ``fd -2`` is the anonymous fd
  (operate on ``gfid`` as if opened O_RDWR); an unknown fd is ``EBADF``;
* READs and WRITEs over :data:`SLICE_IO` run a piece per slice of the connection's work;
* READDIR/READDIRP list "." and ".." first; ``d_off`` is the cookie that continues after the
  entry; ``op_ret 0`` is the end of the directory.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import stat
import zlib
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..proto import fops as F
from ..proto.gfdict import GfxValue
from ..proto.record import Pieces
from ..store.base import (
    FALLOC_FL_KEEP_SIZE,
    FALLOC_FL_PUNCH_HOLE,
    FALLOC_FL_ZERO_RANGE,
    SEEK_DATA,
    SEEK_HOLE,
    Store,
    fs_error,
)
from .brickstate import BrickState
from .handle import Sliced
from .iatt import d_type, ino_of, to_iatt
from .leasefops import lease_id_of
from .leases import NULL_ID
from .mdata import asks_times
from .xdata import entry_xdata

if TYPE_CHECKING:
    from ..proto.events import Call

__all__ = ["OpenFd", "FdTable", "FdFops", "ANON_FD", "SLICE_IO", "MAX_RW_COUNT", "EOF_COOKIE"]

ANON_FD = F.GF_ANON_FD_NO
O_ACCMODE = 0o3
O_WRONLY, O_RDWR, O_TRUNC, O_APPEND, O_EXCL, O_CREAT = 0o1, 0o2, 0o1000, 0o2000, 0o200, 0o100
GF_SEEK_DATA, GF_SEEK_HOLE = 0, 1
#: Linux's cap on one read/write system call (INT_MAX rounded down to a page)
MAX_RW_COUNT = 0x7FFFF000
LLONG_MAX = (1 << 63) - 1


def off_t(value: int) -> int:
    """An XDR offset or size (unsigned 64 bits) as posix hands it to the kernel: ``off_t``,
    negative from 2**63 on (the kernel then says EINVAL)."""
    return value - (1 << 64) if value > LLONG_MAX else value


def rw_area(offset: int, count: int) -> int:
    """The kernel's ``rw_verify_area`` for a pread/pwrite of ``count`` bytes at the XDR
    ``offset``: EINVAL for a negative ``off_t`` or one where ``pos + count`` overflows (both
    are ``offset + count > LLONG_MAX`` for the unsigned offset: what a real brick answers a
    READ, WRITE or RCHECKSUM there); the offset otherwise."""
    if offset + count > LLONG_MAX:
        raise fs_error(errno.EINVAL)
    return offset


#: READs and WRITEs bigger than this are done a piece per slice of the connection's work
#: (net.Dispatcher), so a 64 MiB WRITE does not hold up the other clients
SLICE_IO = 1 << 20


@dataclasses.dataclass(eq=False)  # an fd is itself: two opens of one file are two fds
class OpenFd:
    gfid: bytes
    flags: int
    is_dir: bool = False
    #: the lease id features/leases gave it (None: opened while leases were off)
    lease_id: bytes | None = None
    entries: list[tuple[str, Any]] | None = None  # directory listing being read


class FdTable:
    """A connection's open fds: numbers from 0, lowest free first (like the server's fdtable)."""

    def __init__(self) -> None:
        self._fds: dict[int, OpenFd] = {}

    def add(self, ofd: OpenFd) -> int:
        n = 0
        while n in self._fds:
            n += 1
        self._fds[n] = ofd
        return n

    def get(self, fd: int) -> OpenFd:
        try:
            return self._fds[fd]
        except KeyError:
            raise fs_error(errno.EBADF) from None

    def pop(self, fd: int) -> OpenFd:
        try:
            return self._fds.pop(fd)
        except KeyError:
            raise fs_error(errno.EBADF) from None

    def __len__(self) -> int:
        return len(self._fds)

    def clear(self) -> list[OpenFd]:
        fds = list(self._fds.values())
        self._fds.clear()
        return fds


#: the FOPs that find no inode by the gfid of an orphan (ENOENT on a 10.3 brick: posix
#: reaches an inode by its gfid handle, which posix_unlink moved to .glusterfs/unlink);
#: the fd FOPs, ACCESS and the locks go on (server-resolve finds the inode in the table)
ORPHAN_ENOENT = frozenset(
    {"STAT", "SETATTR", "TRUNCATE", "OPEN", "GETXATTR", "SETXATTR", "REMOVEXATTR", "XATTROP", "STATFS", "OPENDIR",
     "READLINK"}
)  # fmt: skip


def _err(schema: Any, exc: OSError) -> Any:
    return schema(op_ret=-1, op_errno=exc.errno or errno.EIO)


class FdFops:
    """The fd handlers; the host class provides ``store``, ``fds``, ``state``, ``_fd``,
    ``_iatt``, ``_fd_key``, ``flush_locks`` and ``release_locks_of_fd``."""

    store: Store
    fds: FdTable
    state: BrickState

    if TYPE_CHECKING:

        def _fd(self, gfid: bytes, fd: int) -> OpenFd: ...

        def _iatt(self, gfid: bytes) -> Any: ...

        def _fd_key(self, gfid: bytes, fd: int) -> tuple[Any, Hashable]: ...

        def flush_locks(self, gfid: bytes, fdkey: Hashable, call: Call) -> None: ...

        def release_locks_of_fd(self, gfid: bytes, fdkey: Hashable) -> None: ...

    def op_open(self, a: F.GfxOpenReq, call: Call) -> F.GfxOpenRsp:
        attr = self.store.getattr(a.gfid)
        if stat.S_ISDIR(attr.mode) and a.flags & O_ACCMODE:
            raise fs_error(errno.EISDIR)
        if stat.S_ISLNK(attr.mode):
            raise fs_error(errno.ELOOP)
        if a.flags & O_TRUNC and a.flags & O_ACCMODE and stat.S_ISREG(attr.mode):
            self.store.truncate(a.gfid, 0)
        fd = self.opened_fd(
            OpenFd(a.gfid, a.flags, is_dir=stat.S_ISDIR(attr.mode), lease_id=self._fd_lease_id(a.xdata))
        )
        return F.GfxOpenRsp(0, 0, None, fd)

    def op_read(self, a: F.GfxReadReq, call: Call) -> tuple[F.GfxReadRsp | Sliced, Any]:
        ofd = self._fd(a.gfid, a.fd)
        if ofd.flags & O_ACCMODE == O_WRONLY:
            raise fs_error(errno.EBADF)
        # posix_readv's pread: Linux moves at most MAX_RW_COUNT bytes per call, so a 10.3
        # brick answers a READ of 2 GiB or more with 2147479552 bytes (op_ret stays an int32)
        size = min(a.size, MAX_RW_COUNT)
        if not size:  # a 10.3 brick answers a READ of 0 bytes EINVAL (probed)
            raise fs_error(errno.EINVAL)
        rw_area(a.offset, size)
        if size > SLICE_IO:  # many MiB: a piece per slice, the others run in between
            return Sliced(self._read_sliced(ofd.gfid, a.offset, size)), b""
        data = self.store.read(ofd.gfid, a.offset, size)
        return self._read_reply(ofd.gfid, a.offset, len(data)), data

    def fast_read(self, call: Call) -> tuple[F.GfxReadRsp, Any] | None:
        """:meth:`handle` of a READ that none of the translators above posix changes (no data
        faults, leases, mandatory locking, upcalls or index entries; no xdata asked for) and
        that succeeds: the reply :meth:`op_read` gives through :meth:`handle_now`, without
        the lookups those layers make (4k reads at queue depth 1 wait for every µs of it).
        None: anything else, nothing done; :meth:`handle` answers it."""
        a = call.args
        state = self.state
        opts = state.options
        if (
            a.xdata
            or state.faults.active
            or state.upcalls.enabled
            or opts.leases
            or opts.mandatory_locking != "off"
            or a.gfid in state.index.vgfids  # (the index answers READs of its virtual entries)
            or a.gfid in state.index.subdirs
            or a.size > SLICE_IO
            or (a.gfid in self.store.foreign_gfids and asks_times(call))  # (it stamps mdata: mdata.py)
        ):
            return None
        try:
            rsp, data = self.op_read(a, call)  # a.size <= SLICE_IO: never Sliced
        except OSError:
            return None
        assert not isinstance(rsp, Sliced)
        return rsp, data

    def _read_reply(self, gfid: bytes, offset: int, n: int) -> Any:
        post = self.store.getattr(gfid)
        # posix_readv sets op_errno ENOENT when the read reached the end of the file
        eof = offset + n >= post.size
        return F.GfxReadRsp(n, errno.ENOENT if eof else 0, to_iatt(post), n, None)

    def _read_sliced(self, gfid: bytes, offset: int, size: int) -> Any:
        pieces: list[Any] = []
        n = 0
        try:
            while n < size:
                piece = self.store.read(gfid, offset + n, min(SLICE_IO, size - n))
                if not piece:
                    break
                pieces.append(piece)
                n += len(piece)
                yield
            return self._read_reply(gfid, offset, n), pieces
        except OSError as exc:  # the file went away under the read
            return _err(F.GfxReadRsp, exc), b""

    def op_write(self, a: F.GfxWriteReq, call: Call) -> F.GfxCommon2iattRsp | tuple[Sliced, bytes]:
        ofd = self._fd(a.gfid, a.fd)
        if ofd.flags & O_ACCMODE == 0 or ofd.is_dir:
            raise fs_error(errno.EBADF)
        pre = self.store.getattr(ofd.gfid)
        offset = pre.size if ofd.flags & O_APPEND else a.offset
        data = call.payload
        if len(data) != a.size:
            raise fs_error(errno.EINVAL)
        rw_area(offset, len(data))
        faults = self.state.faults
        if faults.active:
            if faults.stale_writes:  # acknowledged, not stored
                return F.GfxCommon2iattRsp(len(data), 0, None, to_iatt(pre), to_iatt(pre))
            data = data[: faults.take(len(data))]
        if len(data) > SLICE_IO:  # many MiB: a piece per slice, the others run in between
            return Sliced(self._write_sliced(ofd.gfid, offset, data, pre)), b""
        if isinstance(data, Pieces):
            n = self.store.writev(ofd.gfid, offset, data.parts)
        else:
            n = self.store.write(ofd.gfid, offset, data)
        return F.GfxCommon2iattRsp(n, 0, None, to_iatt(pre), self._iatt(ofd.gfid))

    def _write_sliced(self, gfid: bytes, offset: int, data: Any, pre: Any) -> Any:
        """A big WRITE, :data:`SLICE_IO` bytes per step (the loop runs others between steps);
        a payload in :class:`Pieces` is written piece by piece, never joined."""
        if not isinstance(data, Pieces):
            data = memoryview(data)
        total = len(data)
        n = 0
        try:
            while n < total:
                step = data[n : n + SLICE_IO]
                if isinstance(step, Pieces):
                    k = self.store.writev(gfid, offset + n, step.parts)
                else:
                    k = self.store.write(gfid, offset + n, step)
                n += k
                if k < len(step):
                    break
                yield
        except OSError as exc:
            if not n:
                return _err(F.GfxCommon2iattRsp, exc), b""
        return F.GfxCommon2iattRsp(n, 0, None, to_iatt(pre), self._iatt(gfid)), b""

    def op_flush(self, a: F.GfxFlushReq, call: Call) -> F.GfxCommonRsp:
        ofd, fdkey = self._fd_key(a.gfid, a.fd)
        self.flush_locks(ofd.gfid, fdkey, call)
        return F.GfxCommonRsp(0, 0, None)

    def op_fsync(self, a: F.GfxFsyncReq, call: Call) -> F.GfxCommon2iattRsp:
        ofd = self._fd(a.gfid, a.fd)
        pre = self._iatt(ofd.gfid)
        self.store.fsync(ofd.gfid, datasync=bool(a.data))
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(ofd.gfid))

    def op_fsyncdir(self, a: F.GfxFsyncdirReq, call: Call) -> F.GfxCommonRsp:
        self.store.fsync(self._fd(a.gfid, a.fd).gfid)
        return F.GfxCommonRsp(0, 0, None)

    def _truncate(self, gfid: bytes, size: int) -> F.GfxCommon2iattRsp:
        size = off_t(size)  # (the stores say EINVAL below 0)
        pre = self._iatt(gfid)
        if not self.state.faults.stale_writes:
            self.store.truncate(gfid, size)
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(gfid))

    def op_truncate(self, a: F.GfxTruncateReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._truncate(a.gfid, a.offset)

    def op_ftruncate(self, a: F.GfxFtruncateReq, call: Call) -> F.GfxCommon2iattRsp:
        ofd = self._fd(a.gfid, a.fd)
        if ofd.flags & O_ACCMODE == 0:
            raise fs_error(errno.EINVAL)
        return self._truncate(ofd.gfid, a.offset)

    def _fallocate(self, gfid: bytes, mode: int, offset: int, size: int) -> F.GfxCommon2iattRsp:
        offset, size = off_t(offset), off_t(size)  # (the stores say EINVAL below 0)
        pre = self._iatt(gfid)
        faults = self.state.faults
        if faults.active and not mode & FALLOC_FL_PUNCH_HOLE and faults.take(size) < size:
            raise fs_error(errno.ENOSPC)
        if not faults.stale_writes:
            self.store.fallocate(gfid, mode, offset, size)
        return F.GfxCommon2iattRsp(0, 0, None, pre, self._iatt(gfid))

    def op_fallocate(self, a: F.GfxFallocateReq, call: Call) -> F.GfxCommon2iattRsp:
        # posix_glfallocate only looks at keep_size: PUNCH_HOLE/ZERO_RANGE bits are ignored
        return self._fallocate(self._fd(a.gfid, a.fd).gfid, a.flags & FALLOC_FL_KEEP_SIZE, a.offset, a.size)

    def op_discard(self, a: F.GfxDiscardReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._fallocate(
            self._fd(a.gfid, a.fd).gfid, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a.offset, a.size
        )

    def op_zerofill(self, a: F.GfxZerofillReq, call: Call) -> F.GfxCommon2iattRsp:
        return self._fallocate(self._fd(a.gfid, a.fd).gfid, FALLOC_FL_ZERO_RANGE, a.offset, a.size)

    def op_seek(self, a: F.GfxSeekReq, call: Call) -> F.GfxSeekRsp:
        ofd = self._fd(a.gfid, a.fd)
        whence = {GF_SEEK_DATA: SEEK_DATA, GF_SEEK_HOLE: SEEK_HOLE}.get(a.what)
        if whence is None:  # posix_seek: "don't know what to seek"
            raise fs_error(errno.EOPNOTSUPP)
        return F.GfxSeekRsp(0, 0, None, self.store.seek(ofd.gfid, off_t(a.offset), whence))

    def op_rchecksum(self, a: F.GfxRchecksumReq, call: Call) -> F.GfxRchecksumRsp:
        ofd = self._fd(a.gfid, a.fd)
        data = self.store.read(ofd.gfid, rw_area(a.offset, a.len), a.len)
        xdata = {"fips-mode-rchecksum": GfxValue.int(1)}
        if a.xdata and "check-zero-filled" in a.xdata:  # (AFR's data self-heal skips zero blocks)
            xdata["buf-has-zeroes"] = GfxValue.uint(int(not any(data)))
        # gf_rsync_weak_checksum is adler32 started from 0; flags 1: the strong one is SHA-256
        return F.GfxRchecksumRsp(0, 0, xdata, 1, zlib.adler32(data, 0), hashlib.sha256(data).digest())

    def op_copy_file_range(self, a: F.GfxCopyFileRangeReq, call: Call) -> F.GfxCommon3iattRsp:
        src, dst = self._fd(a.gfid1, a.fd_in), self._fd(a.gfid2, a.fd_out)
        # the kernel's generic_copy_file_checks: positions that wrap, then negative ones
        if a.off_in + a.size >= 1 << 64 or a.off_out + a.size >= 1 << 64:
            raise fs_error(errno.EOVERFLOW)
        if a.off_in > LLONG_MAX or a.off_out > LLONG_MAX:  # (negative as off_t)
            raise fs_error(errno.EINVAL)
        pre = self._iatt(dst.gfid)
        # (the kernel cuts the count at the source's end first: nothing to copy there is 0)
        data = self.store.read(src.gfid, a.off_in, a.size) if a.off_in < self.store.getattr(src.gfid).size else b""
        if data and a.off_out + len(data) > LLONG_MAX:  # generic_write_check_limits
            raise fs_error(errno.EFBIG)
        n = self.store.write(dst.gfid, a.off_out, data) if data else 0
        return F.GfxCommon3iattRsp(n, 0, None, self._iatt(src.gfid), pre, self._iatt(dst.gfid))

    def op_release(self, a: F.GfxReleaseReq, call: Call) -> F.GfxCommonRsp:
        try:
            ofd = self.fds.pop(a.fd)
        except OSError:
            pass  # a 10.3 brick answers success for an fd it does not know
        else:
            self.closed_fd(ofd)
        return F.GfxCommonRsp(0, 0, {})

    # ---- orphans: open files without a name ----------------------------------------------
    def keep_open(self, attr: Any) -> bool:
        """Whether removing a name of ``attr`` leaves an orphan: its last name, a regular file,
        an fd open on the brick (posix_unlink_gfid_handle_and_entry: ``fd_count``)."""
        st = self.state.peek(attr.gfid)
        return st is not None and bool(st.fd_count) and attr.nlink == 1 and stat.S_ISREG(attr.mode)

    def orphan_gone(self, name: str, args: Any) -> bool:
        """A FOP by gfid that a 10.3 brick answers ENOENT for an orphan (:data:`ORPHAN_ENOENT`,
        a nameless LOOKUP, LINK of it)."""
        orphans = self.state.orphans
        if name in ORPHAN_ENOENT:
            return args.gfid in orphans
        if name == "LOOKUP":
            return not any(args.pargfid) and args.gfid in orphans
        return name == "LINK" and args.oldgfid in orphans

    def _fd_lease_id(self, xdata: Any) -> bytes | None:
        """leases_open/create's fd context: the request's lease id (zeros without one)."""
        return (lease_id_of(xdata) or NULL_ID) if self.state.options.leases else None

    def opened_fd(self, ofd: OpenFd) -> int:
        """Register a new fd: its number, and the brick-wide open-fd count of its inode."""
        self.state.inode(ofd.gfid).open_fds.append(ofd)
        return self.fds.add(ofd)

    def closed_fd(self, ofd: OpenFd) -> None:
        """An fd is gone (RELEASE or disconnect): its posix locks go with it."""
        st = self.state.peek(ofd.gfid)
        if st is not None and ofd in st.open_fds:
            st.open_fds.remove(ofd)
        self.release_locks_of_fd(ofd.gfid, ofd)
        if self.state.orphans and ofd.gfid in self.state.orphans and not (st and st.fd_count):
            del self.state.orphans[ofd.gfid]  # the last fd: posix_release unlinks it for good
            self.store.forget(ofd.gfid)
        self.state.released(ofd.gfid)

    def close(self) -> None:
        """The connection ended: every fd is released (``server_connection_cleanup``)."""
        for ofd in self.fds.clear():
            self.closed_fd(ofd)

    op_releasedir = op_release

    # ---- directories --------------------------------------------------------------------
    def op_opendir(self, a: F.GfxOpendirReq, call: Call) -> F.GfxOpenRsp:
        attr = self.store.getattr(a.gfid)
        if not stat.S_ISDIR(attr.mode):
            raise fs_error(errno.ENOTDIR)
        # op_errno EINVAL on success, as posix_opendir leaves it (harmless: op_ret is 0)
        return F.GfxOpenRsp(0, errno.EINVAL, None, self.opened_fd(OpenFd(a.gfid, 0, is_dir=True)))

    def _listing(self, a: Any) -> tuple[list[tuple[str, Any]], int]:
        ofd = self._fd(a.gfid, a.fd)
        if a.fd == ANON_FD or not ofd.is_dir:
            if not stat.S_ISDIR(self.store.getattr(ofd.gfid).mode):
                raise fs_error(errno.ENOENT)
        if ofd.entries is None or a.offset == 0:
            me = self.store.getattr(ofd.gfid)
            up = self.store.getattr(self.store.parent(ofd.gfid))
            ofd.entries = [(".", me), ("..", up), *self.store.readdir(ofd.gfid)]
        return ofd.entries, a.offset

    def _entries(
        self, a: Any, per_entry: int, make: Callable[[int, int, str, Any, list[Any]], Any]
    ) -> tuple[list[Any], int]:
        """Entries from ``a.offset`` while their XDR size fits ``a.size`` (nothing that fits:
        op_ret 0 with op_errno 0, not the end); returns (entries, op_errno)."""
        entries, start = self._listing(a)
        start = min(start, len(entries))
        out, used = [], 0
        for i in range(start, len(entries)):
            name, attr = entries[i]
            raw = len(name.encode("utf-8", "surrogateescape"))
            cost = 32 + raw + (-raw % 4) + per_entry
            if used + cost > a.size:
                break
            used += cost
            out.append(make(i, raw, name, attr, entries))
        return out, _eof_errno(start, out, entries)

    def op_readdir(self, a: F.GfxReaddirReq, call: Call) -> F.GfxReaddirRsp:
        out, code = self._entries(
            a,
            0,
            lambda i, raw, name, attr, entries: F.GfxDirlist(
                ino_of(attr.gfid), _cookie(i, entries), raw, d_type(attr.mode), name
            ),
        )
        return F.GfxReaddirRsp(len(out), code, None, tuple(out))

    def op_readdirp(self, a: F.GfxReaddirpReq, call: Call) -> F.GfxReaddirpRsp:
        parent = self._fd(a.gfid, a.fd).gfid

        def entry(i: int, raw: int, name: str, attr: Any, entries: list[Any]) -> F.GfxDirplist:
            if name not in (".", ".."):  # the brick learns the names it lists (server4_readdirp_cbk:
                self.state.linked(attr.gfid, parent, name)  # gf_link_inodes_from_dirent; inode_link skips . ..)
            return F.GfxDirplist(
                ino_of(attr.gfid),
                _cookie(i, entries),
                raw,
                d_type(attr.mode),
                name,
                to_iatt(attr),
                entry_xdata(self, attr, name, a.xdata) if a.xdata else {},
            )

        out, code = self._entries(a, 148 + 12, entry)
        return F.GfxReaddirpRsp(len(out), code, None, tuple(out))


#: The d_off of the last entry of a directory: ext4 gives its end-of-directory cookie.
EOF_COOKIE = (1 << 63) - 1


def _cookie(i: int, entries: list[Any]) -> int:
    return EOF_COOKIE if i == len(entries) - 1 else i + 1


def _eof_errno(start: int, out: list[Any], entries: list[Any]) -> int:
    """posix_do_readdir leaves ENOENT in op_errno once the end of the directory was read."""
    return errno.ENOENT if start + len(out) >= len(entries) else 0
