"""features/index: a brick's record of what needs healing, and the virtual directories
glustershd and glfsheal (``gluster volume heal V info``) read it through (index.c, 10.3).

Every XATTROP with ADD_ARRAY (or ADD_ARRAY64 naming a watched key) is watched: a key of the
*dirty* watchlist (``trusted.afr.dirty``) or the *pending* one (``trusted.afr.VOL-``,
``trusted.ec.dirty``; prefixes) with a non-zero delta puts the inode's gfid in
``indices/dirty`` or ``indices/xattrop`` before the change is made; once the changed values
of that kind are all zeros it comes out again.  ``glusterfs.xattrop-entry-create=NAME`` in
the xdata records NAME under ``indices/entry-changes/<gfid>/`` (granular entry heal),
``glusterfs.xattrop-entry-delete`` removes it once the change was made, and
``glusterfs.xattrop-purge-index`` drops a directory's entry-changes once its pending keys
are zeros.  Whether an inode is in each index is cached per inode as the real translator
does (so an entry removed through the virtual directory is not put back by the next
non-zero XATTROP, and an entry-changes directory removed that way makes the next
entry-create fail with ENOENT, as on a 10.3 brick).

What clients see:

* GETXATTR ``glusterfs.xattrop_index_gfid`` / ``_dirty_gfid`` / ``_entry_changes_gfid`` on
  any inode: the 16-byte gfid of a virtual directory (random per brick start);
  ``glusterfs.xattrop_index_count`` / ``_dirty_count``: how many gfids the index holds.
* LOOKUP, OPENDIR, READDIR (``get-gfid-type`` fills d_type), UNLINK and RMDIR on those
  directories and on the entry-changes directories below; stats as ``index_lookup_wrapper``
  builds them (ia_ino -1, a fresh gfid for a file entry the first time it is looked up).
* LOOKUP and FSTAT with ``link-count=glusterfs.xattrop_index_count`` in xdata: ``link-count``
  1 when anything is pending in ``indices/xattrop`` (the self-heal daemon's quick check).

The index lives in memory: a fake server started again begins with an empty one (real
bricks keep it on disk); the fake's own self-heal (server/heal.py) changes xattrs directly,
so it calls :meth:`BrickIndex.refresh` for what it healed.
"""

from __future__ import annotations

import errno
import stat
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..proto import fops as F
from ..proto.common import NULL_GFID, GfxIattx
from ..proto.events import Call
from ..proto.gfdict import GfxValue
from ..store.base import fs_error

if TYPE_CHECKING:
    from ..store.base import Store
    from .brickstate import BrickState
    from .fops import FdTable

__all__ = ["BrickIndex", "IndexFops", "XATTROP", "DIRTY", "ENTRY_CHANGES", "watchlists"]

XATTROP, DIRTY, ENTRY_CHANGES = 0, 1, 2
SUBDIRS = ("xattrop", "dirty", "entry-changes")
VGFID_KEYS = {
    "glusterfs.xattrop_index_gfid": XATTROP,
    "glusterfs.xattrop_dirty_gfid": DIRTY,
    "glusterfs.xattrop_entry_changes_gfid": ENTRY_CHANGES,
}
COUNT_KEYS = {"glusterfs.xattrop_index_count": XATTROP, "glusterfs.xattrop_dirty_count": DIRTY}
ENTRY_IN = "glusterfs.xattrop-entry-create"
ENTRY_OUT = "glusterfs.xattrop-entry-delete"
PURGE = "glusterfs.xattrop-purge-index"
LINK_COUNT = "link-count"
IA_TYPE_REQ, IA_TYPE_RSP = "glusterfs.index-ia-type-get-req", "glusterfs.index-ia-type-get-rsp"
IA_IFREG, IA_IFDIR = 1, 2
ADD_ARRAY, ADD_ARRAY64 = 0, 1
UNKNOWN, IN, NOTIN = 0, 1, 2
#: ``iatt_from_stat``'s flags, as an index stat carries them (no IATT_INO... of posix's own)
VIRTUAL_IA_FLAGS = 1791
NO_INO = (1 << 64) - 1
#: index.c's option defaults (``xattrop-pending-watchlist``'s is a template nobody expands)
DEFAULT_PENDING, DEFAULT_DIRTY, DEFAULT_XATTROP64 = (
    "trusted.afr.{{ volume.name }}",
    "trusted.afr.dirty",
    "trusted.ec.dirty",
)


def watchlists(volume: Any, brick: int) -> tuple[str | None, str | None, str | None]:
    """The features/index options a volume's brick runs with (pending, dirty, xattrop64),
    from mgmt's brick volfile (its values or the translator's defaults)."""
    from ..mgmt import volgen_brick

    graph = volgen_brick.brick_graph(volume, brick)
    keys = ("xattrop-pending-watchlist", "xattrop-dirty-watchlist", "xattrop64-watchlist")
    pending, dirty, wide = (volgen_brick.brick_option(graph, "features/index", k) for k in keys)
    return pending, dirty, wide


class _Dir:
    """One directory of the index: names (None: a file, i.e. a link to the base file;
    a ``_Dir``: an entry-changes directory) and its times."""

    __slots__ = ("names", "ctime_ns", "atime_ns")

    def __init__(self, now: int) -> None:
        self.names: dict[str, _Dir | None] = {}
        self.ctime_ns = self.atime_ns = now


class BrickIndex:
    """The pure state of a brick's index translator."""

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self.clock = clock
        self.vgfids = tuple(uuid.uuid4().bytes for _ in SUBDIRS)
        self.base = str(uuid.uuid4())  # the index's base file: indices/SUBDIR/SUBDIR-<base>
        now = clock()
        self.dirs = tuple(_Dir(now) for _ in SUBDIRS)
        self.based = [False, False, False]  # base file created (on the first link)
        self.states: dict[bytes, list[int]] = {}  # the inode ctx: UNKNOWN/IN/NOTIN per index
        self.handed: dict[tuple[bytes, str], bytes] = {}  # the gfids LOOKUPs gave index entries
        self.subdirs: dict[bytes, str] = {}  # gfid of an entry-changes directory -> its name
        self.pending: tuple[str, ...] = (DEFAULT_XATTROP64, DEFAULT_PENDING)
        self.dirty: tuple[str, ...] = (DEFAULT_DIRTY,)

    # ---- configuration --------------------------------------------------------------
    def watch(self, pending: str | None, dirty: str | None, xattrop64: str | None = DEFAULT_XATTROP64) -> None:
        """The watchlists (comma-separated prefixes): xattrop64 and pending both feed the
        pending index (``index_make_xattrop_watchlist``)."""
        self.pending = tuple(_split(xattrop64)) + tuple(_split(pending))
        self.dirty = tuple(_split(dirty))

    def watch_volume(self, volume: Any, brick: int) -> None:
        self.watch(*watchlists(volume, brick))

    # ---- what XATTROP does to the index --------------------------------------------
    def kind(self, key: str) -> int | None:
        """``index_find_xattr_type``: DIRTY, XATTROP or None (dirty looked at first)."""
        if key.startswith(self.dirty):
            return DIRTY
        if key.startswith(self.pending):
            return XATTROP
        return None

    def tracked(self, flags: int, keys: Iterable[str]) -> bool:
        """``index_xattrop_track``: every ADD_ARRAY; ADD_ARRAY64 naming a pending key."""
        if flags == ADD_ARRAY:
            return True
        return flags == ADD_ARRAY64 and any(k.startswith(self.pending) for k in keys)

    def wind(self, gfid: bytes, deltas: dict[str, bytes], xdata: Any) -> None:
        """Before the change (``index_xattrop_do``): a non-zero delta puts the inode in
        its index; an entry-create records the name (OSError: the XATTROP fails, what was
        done stays)."""
        zfilled = [-1, -1, -1]
        for key, delta in deltas.items():
            kind = self.kind(key)
            if kind is not None and any(delta):
                zfilled[kind] = 0
        self._action(gfid, zfilled)
        name = _str(xdata, ENTRY_IN)
        if name is not None:
            self.entry_create(gfid, name)

    def unwind(self, gfid: bytes, is_dir: bool, flags: int, values: dict[str, bytes], xdata: Any) -> None:
        """After a successful change (``xattrop_index_action``): the new values of each
        kind all zeros takes the inode out, any non-zero puts it in; then entry-delete and
        purge-index."""
        zfilled = [-1, -1, -1]
        watched = self.dirty + self.pending if flags == ADD_ARRAY else self.pending
        for key, value in values.items():
            if not key.startswith(watched):
                continue
            kind = self.kind(key)
            if kind is None:
                continue
            if any(value):
                zfilled[kind] = 0
            elif zfilled[kind]:
                zfilled[kind] = 1
        self._action(gfid, zfilled)
        if xdata:
            name = _str(xdata, ENTRY_OUT)
            if name is not None:
                self.entry_delete(gfid, name)
            if not _int(xdata, PURGE):
                return
        if zfilled[XATTROP] != 1 or not is_dir:
            return
        state = self._state(gfid)
        if state[ENTRY_CHANGES] == UNKNOWN:
            state[ENTRY_CHANGES] = IN if _hex(gfid) in self.dirs[ENTRY_CHANGES].names else NOTIN
        if state[ENTRY_CHANGES] == IN:
            self.remove(ENTRY_CHANGES, _hex(gfid))
            state[ENTRY_CHANGES] = NOTIN

    def _state(self, gfid: bytes) -> list[int]:
        state = self.states.get(gfid)
        if state is None:
            state = self.states[gfid] = [UNKNOWN, UNKNOWN, UNKNOWN]
        return state

    def _action(self, gfid: bytes, zfilled: list[int]) -> None:
        """``_index_action``."""
        if zfilled == [-1, -1, -1]:
            return
        state = self._state(gfid)
        for kind in (XATTROP, DIRTY):
            if zfilled[kind] == 1 and state[kind] != NOTIN:
                self.remove(kind, _hex(gfid))
                state[kind] = NOTIN
            elif zfilled[kind] == 0 and state[kind] != IN:
                self.add(kind, _hex(gfid))
                state[kind] = IN

    def add(self, kind: int, name: str) -> None:
        d = self.dirs[kind]
        if name not in d.names:
            d.names[name] = None
            d.ctime_ns = self.clock()
            self.based[kind] = True

    def remove(self, kind: int, name: str) -> None:
        """``index_del``: a gfid file goes; an entry-changes directory still holding names
        is renamed to a random name instead (the self-heal daemon cleans those up)."""
        d = self.dirs[kind]
        if name not in d.names:
            return
        sub = d.names.pop(name)
        if isinstance(sub, _Dir) and sub.names:
            d.names[str(uuid.uuid4())] = sub
        d.ctime_ns = self.clock()

    def entry_create(self, gfid: bytes, name: str) -> None:
        """``index_entry_create``: indices/entry-changes/<gfid>/NAME."""
        top = self.dirs[ENTRY_CHANGES]
        state = self._state(gfid)
        if state[ENTRY_CHANGES] != IN:
            if _hex(gfid) not in top.names:
                top.names[_hex(gfid)] = _Dir(self.clock())
                top.ctime_ns = self.clock()
            state[ENTRY_CHANGES] = IN
        if "/" in name:
            raise fs_error(errno.EINVAL, name)
        sub = top.names.get(_hex(gfid))
        if not isinstance(sub, _Dir):  # (removed through the virtual directory meanwhile)
            raise fs_error(errno.ENOENT, name)
        self.based[ENTRY_CHANGES] = True
        if name not in sub.names:
            sub.names[name] = None
            sub.ctime_ns = self.clock()

    def entry_delete(self, gfid: bytes, name: str) -> None:
        sub = self.dirs[ENTRY_CHANGES].names.get(_hex(gfid))
        if isinstance(sub, _Dir) and sub.names.pop(name, 0) is None:
            sub.ctime_ns = self.clock()

    def refresh(self, gfid: bytes, xattrs: dict[str, bytes]) -> None:
        """Re-read one inode's watched xattrs after they were changed without XATTROP
        (the fake's self-heal): all zeros takes it out of each index, non-zero puts it in."""
        zfilled = [-1, -1, -1]
        for key, value in xattrs.items():
            kind = self.kind(key)
            if kind is None:
                continue
            if any(value):
                zfilled[kind] = 0
            elif zfilled[kind]:
                zfilled[kind] = 1
        state = self._state(gfid)
        for kind in (XATTROP, DIRTY):
            if zfilled[kind] == 1:
                self.remove(kind, _hex(gfid))
                state[kind] = NOTIN
            elif zfilled[kind] == 0:
                self.add(kind, _hex(gfid))
                state[kind] = IN

    # ---- reading it --------------------------------------------------------------------
    def count(self, kind: int) -> int:
        """``index_entry_count``: the gfids in an index (not the base file)."""
        return sum(1 for n in self.dirs[kind].names if not n.startswith(SUBDIRS[kind]))

    def pending_anything(self) -> bool:
        """``index_fill_link_count``: 1 when ``indices/xattrop`` holds anything."""
        return bool(self.dirs[XATTROP].names)

    def kind_of(self, gfid: bytes) -> int | None:
        try:
            return self.vgfids.index(gfid)
        except ValueError:
            return None

    def is_virtual(self, gfid: bytes) -> bool:
        return gfid in self.vgfids or gfid in self.subdirs

    def directory(self, gfid: bytes) -> _Dir:
        """The index directory a virtual gfid stands for (EINVAL: an entry-changes directory
        that is gone)."""
        kind = self.kind_of(gfid)
        if kind is not None:
            return self.dirs[kind]
        sub = self.dirs[ENTRY_CHANGES].names.get(self.subdirs.get(gfid, ""))
        if not isinstance(sub, _Dir):
            raise fs_error(errno.EINVAL, "stale index directory")
        return sub

    def links(self, gfid: bytes) -> int:
        """The link count of an index file: the base file and every entry linked to it."""
        kind = ENTRY_CHANGES if gfid in self.subdirs or gfid == self.vgfids[ENTRY_CHANGES] else self.kind_of(gfid)
        if kind == ENTRY_CHANGES:
            subs = self.dirs[ENTRY_CHANGES].names.values()
            return 1 + sum(len(s.names) for s in subs if isinstance(s, _Dir))
        return 1 + self.count(kind or 0)

    def listing(self, gfid: bytes) -> list[str]:
        """``index_fill_readdir``: the names (the xattrop and dirty base files hidden; the
        entry-changes one is not)."""
        d = self.directory(gfid)
        names = list(d.names)
        kind = self.kind_of(gfid)
        if kind == ENTRY_CHANGES and self.based[ENTRY_CHANGES]:
            names.append(f"entry-changes-{self.base}")
        return names

    def entry(self, parent: bytes, name: str) -> _Dir | None:
        """An entry of a virtual directory (a file: None; ENOENT when absent)."""
        d = self.directory(parent)
        kind = self.kind_of(parent)
        if kind is not None and self.based[kind] and name == f"{SUBDIRS[kind]}-{self.base}":
            return None  # the base file
        if name not in d.names:
            raise fs_error(errno.ENOENT, name)
        return d.names[name]

    def gfid_for(self, parent: bytes, name: str, sub: _Dir | None) -> bytes:
        """The gfid a LOOKUP gives an entry: the same for the same name while the brick
        remembers it (its inode table), a new one at first."""
        gfid = self.handed.get((parent, name))
        if gfid is None:
            gfid = self.handed[(parent, name)] = uuid.uuid4().bytes
        if sub is not None:
            self.subdirs[gfid] = name
        return gfid


class IndexFops:
    """The FOPs the index translator answers itself (a mixin of FopHandlers: it provides
    ``store``, ``state``, ``fds``)."""

    store: Store
    state: BrickState
    fds: FdTable

    def index_call(self, name: str, a: Any, call: Call) -> Any:
        """The reply to a call the index answers (None: not its business)."""
        index = self.state.index
        if name == "GETXATTR":
            key = _c(a.name)
            if key in VGFID_KEYS or key in COUNT_KEYS:
                if not index.is_virtual(a.gfid):
                    self.store.getattr(a.gfid)
                if key in VGFID_KEYS:
                    value = GfxValue.ptr(index.vgfids[VGFID_KEYS[key]])
                else:
                    value = GfxValue.uint(index.count(COUNT_KEYS[key]))
                return F.GfxCommonDictRsp(0, 0, None, {key: value})
        gfid = getattr(a, "gfid", None)
        parent = getattr(a, "pargfid", None)
        if not (index.subdirs or gfid in index.vgfids or parent in index.vgfids):
            return None
        if name == "LOOKUP":
            if parent is not None and parent != NULL_GFID:
                if index.is_virtual(parent):
                    return self._index_lookup_entry(parent, a.bname)
                return None
            if index.is_virtual(a.gfid):
                return self._index_lookup_dir(a.gfid, a.xdata)
            return None
        if name in ("UNLINK", "RMDIR") and parent is not None and index.is_virtual(parent):
            return self._index_remove(name, parent, a)
        if gfid is None or not index.is_virtual(gfid):
            return None
        if name == "OPENDIR":
            index.directory(gfid)
            from .fops import OpenFd

            return F.GfxOpenRsp(0, 0, None, self.fds.add(OpenFd(gfid, 0, is_dir=True)))
        if name == "READDIR":
            return self._index_readdir(a)
        if name == "RELEASEDIR":
            try:
                self.fds.pop(a.fd)
            except OSError:
                pass
            return F.GfxCommonRsp(0, 0, {})
        if hasattr(a, "fd"):
            raise fs_error(errno.EINVAL, "no posix fd")  # (posix has no context for it)
        raise fs_error(errno.ENOENT, "virtual")  # (posix finds no handle for it)

    def link_count(self, xdata: Any) -> dict[str, GfxValue]:
        """``index_lookup``/``index_fstat``'s ``link-count`` answer."""
        if xdata and LINK_COUNT in xdata and _str(xdata, LINK_COUNT) == "glusterfs.xattrop_index_count":
            return {LINK_COUNT: GfxValue.int(int(self.state.index.pending_anything()))}
        return {}

    # ---- the virtual directories --------------------------------------------------------
    def _index_dev(self) -> int:
        from .iatt import FAKE_DEV

        return self.store.getattr(self.store.root_gfid).dev or FAKE_DEV

    def _index_iatt(self, gfid: bytes, d: _Dir | None, nlink: int) -> GfxIattx:
        now = self.state.index.clock()
        ctime = d.ctime_ns if d is not None else now
        atime = d.atime_ns if d is not None else now
        mode = stat.S_IFDIR | 0o600 if d is not None else stat.S_IFREG
        size, blocks = (4096, 8) if d is not None else (0, 0)
        return GfxIattx(
            ia_gfid=gfid,
            ia_flags=VIRTUAL_IA_FLAGS,
            ia_ino=NO_INO,
            ia_dev=self._index_dev(),
            ia_size=size,
            ia_blocks=blocks,
            ia_atime=atime // 10**9,
            ia_mtime=ctime // 10**9,
            ia_ctime=ctime // 10**9,
            ia_atime_nsec=atime % 10**9,
            ia_mtime_nsec=ctime % 10**9,
            ia_ctime_nsec=ctime % 10**9,
            ia_nlink=nlink,
            ia_blksize=4096,
            mode=mode,
        )

    def _dir_iatt(self, gfid: bytes) -> GfxIattx:
        d = self.state.index.directory(gfid)
        return self._index_iatt(gfid, d, 2 + sum(isinstance(s, _Dir) for s in d.names.values()))

    def _index_lookup_dir(self, gfid: bytes, xdata: Any) -> F.GfxCommon2iattRsp:
        index = self.state.index
        out: dict[str, GfxValue] = {}
        kind = index.kind_of(gfid)
        if kind is not None and xdata and IA_TYPE_REQ in xdata:
            out[IA_TYPE_RSP] = GfxValue.uint(IA_IFDIR if kind == ENTRY_CHANGES else IA_IFREG)
        # op_errno EINVAL on success, as index_lookup_wrapper leaves it
        return F.GfxCommon2iattRsp(0, errno.EINVAL, out, self._dir_iatt(gfid), GfxIattx())

    def _index_lookup_entry(self, parent: bytes, name: str) -> F.GfxCommon2iattRsp:
        index = self.state.index
        try:
            sub = index.entry(parent, name)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return F.GfxCommon2iattRsp(-1, errno.ENOENT, None, GfxIattx(), GfxIattx())
            raise
        if parent == index.vgfids[ENTRY_CHANGES]:
            try:  # (index_save_pargfid_for_entry_changes: the name must be a gfid)
                uuid.UUID(name)
            except ValueError:
                raise fs_error(errno.EINVAL, name) from None
        gfid = index.gfid_for(parent, name, sub)
        if sub is not None:
            st = self._index_iatt(gfid, sub, 2)
        else:
            st = self._index_iatt(gfid, None, index.links(parent))
        return F.GfxCommon2iattRsp(0, errno.EINVAL, {}, st, GfxIattx())

    def _index_readdir(self, a: F.GfxReaddirReq) -> F.GfxReaddirRsp:
        from .fops import EOF_COOKIE
        from .iatt import d_type, ino_of

        index = self.state.index
        ofd = self.fds.get(a.fd) if a.fd >= 0 else None
        if ofd is None:
            raise fs_error(errno.EINVAL)
        if ofd.entries is None or a.offset == 0:
            ofd.entries = [(".", None), ("..", None), *((n, None) for n in index.listing(ofd.gfid))]
        entries = ofd.entries
        typed = index.kind_of(ofd.gfid) is not None and a.xdata and "get-gfid-type" in a.xdata
        base_ino = ino_of(uuid.UUID(index.base).bytes)
        out = []
        used = 0
        start = min(a.offset, len(entries))
        for i in range(start, len(entries)):
            name = entries[i][0]
            raw = len(name.encode())
            cost = 32 + raw + (-raw % 4)
            if used + cost > a.size:
                break
            used += cost
            kind = 0
            if typed and name not in (".", ".."):
                try:
                    kind = d_type(self.store.getattr(uuid.UUID(name).bytes).mode)
                except (OSError, ValueError):
                    kind = 0
            ino = ino_of(ofd.gfid) if name == "." else ino_of(index.vgfids[0][::-1]) if name == ".." else base_ino
            cookie = EOF_COOKIE if i == len(entries) - 1 else i + 1
            out.append(F.GfxDirlist(ino, cookie, raw, kind, name))
        code = errno.ENOENT if start + len(out) >= len(entries) else 0
        return F.GfxReaddirRsp(len(out), code, None, tuple(out))

    def _index_remove(self, name: str, parent: bytes, a: Any) -> F.GfxCommon2iattRsp:
        """UNLINK/RMDIR in a virtual directory (``index_unlink_wrapper``,
        ``index_rmdir_wrapper``): the entry is resolved first (ENOENT), the parent's stats
        come back around it."""
        index = self.state.index
        try:
            sub = index.entry(parent, a.bname)
        except OSError as exc:
            zero = GfxIattx()
            return F.GfxCommon2iattRsp(-1, exc.errno or errno.EIO, None, zero, zero)
        pre = self._dir_iatt_as(parent)
        kind = index.kind_of(parent)
        if name == "UNLINK":
            if sub is not None:
                raise fs_error(errno.EPERM, a.bname)  # (unlink of a directory)
            if kind is None:  # a name under an entry-changes directory
                d = index.directory(parent)
                d.names.pop(a.bname, None)
                d.ctime_ns = index.clock()
            elif a.bname.startswith(SUBDIRS[kind] + "-") and kind != ENTRY_CHANGES:
                index.based[kind] = False
            elif kind == ENTRY_CHANGES and a.bname.startswith("entry-changes-"):
                index.based[kind] = False
            else:
                index.remove(kind, a.bname)
        else:
            if sub is None:
                raise fs_error(errno.ENOTDIR, a.bname)
            top = index.dirs[ENTRY_CHANGES]
            if a.xflags or not sub.names:
                top.names.pop(a.bname, None)
            else:
                index.remove(ENTRY_CHANGES, a.bname)
            top.ctime_ns = index.clock()
        return F.GfxCommon2iattRsp(0, 0, a.xdata, pre, self._dir_iatt_as(parent))

    def _dir_iatt_as(self, parent: bytes) -> GfxIattx:
        return self._dir_iatt(parent)


def _split(value: str | None) -> list[str]:
    return [k for k in (value or "").split(",") if k]


def _hex(gfid: bytes) -> str:
    return str(uuid.UUID(bytes=gfid))


def _c(name: str) -> str:
    return name.split("\0", 1)[0]


def _str(xdata: Any, key: str) -> str | None:
    if not xdata or key not in xdata:
        return None
    value = xdata[key].value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else None


def _int(xdata: Any, key: str) -> int:
    if key not in xdata:
        return 0
    value = xdata[key].value
    if isinstance(value, int):
        return value
    try:
        return int(bytes(value).split(b"\0", 1)[0] or b"0")
    except (TypeError, ValueError):
        return 0
