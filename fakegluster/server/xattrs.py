"""The xattr FOPs of a brick (GETXATTR, SETXATTR, REMOVEXATTR, XATTROP and their fd forms),
as a mixin of :class:`~fakegluster.server.fops.FopHandlers`.  Behaviour read off a real
10.3 brick (tests/server/test_brick_conformance.py): ``trusted.gfid`` is reported by size
only, a list-all shows ``user.*`` and non-gluster ``trusted.*`` names with op_ret 16,
failures carry an empty dict, the stats come back in xdata of successful writes.
"""

from __future__ import annotations

import errno
import stat
from typing import TYPE_CHECKING, Any

from ..proto import fops as F
from ..proto.common import GfxIattx
from ..proto.events import Call
from ..proto.gfdict import GfDataType, GfxValue
from ..store.base import XATTR_CREATE, Store, fs_error
from .acl import (
    ACCESS_TEXT,
    ACL_KEYS,
    DEFAULT_TEXT,
    DEFAULT_XATTR,
    SHOWN,
    STORED,
    apply_acl,
    from_mode,
    get_acl,
    parse_text,
    parse_xattr,
    to_text,
)
from .xdata import POSIX_IGNORED

if TYPE_CHECKING:
    from .brickstate import BrickState
    from .fops import OpenFd

__all__ = ["XattrFops", "VIRTUAL_XATTRS"]

#: Keys the posix xlator handles itself instead of storing: the utime xlator's request to
#: record times for an object without ``trusted.glusterfs.mdata`` (posix-metadata.c).
VIRTUAL_XATTRS = frozenset({"set-ctime-mdata"})
GF_XATTROP_ADD_ARRAY, GF_XATTROP_ADD_ARRAY64, GF_XATTROP_GET_AND_SET = 0, 1, 4
GF_XATTROP_ADD_ARRAY_WITH_DEFAULT, GF_XATTROP_ADD_ARRAY64_WITH_DEFAULT = 5, 6
_WIDTH = {
    GF_XATTROP_ADD_ARRAY: 4,
    GF_XATTROP_ADD_ARRAY64: 8,
    GF_XATTROP_ADD_ARRAY_WITH_DEFAULT: 4,
    GF_XATTROP_ADD_ARRAY64_WITH_DEFAULT: 8,
}


class XattrFops:
    """xattr handlers; the host class provides ``store``, ``state``, ``_iatt`` and ``_fd``."""

    store: Store
    state: BrickState
    _fgetxattr: bool = False

    if TYPE_CHECKING:

        def _iatt(self, gfid: bytes) -> GfxIattx: ...

        def _fd(self, gfid: bytes, fd: int) -> OpenFd: ...

    def _getxattr(self, gfid: bytes, name: str, namelen: int) -> F.GfxCommonDictRsp:
        try:
            return self._getxattr_ok(gfid, name, namelen)
        except OSError as exc:  # a failed GETXATTR carries an empty dict, not a NULL one
            return F.GfxCommonDictRsp(-1, exc.errno or errno.EIO, None, {})

    def _getxattr_ok(self, gfid: bytes, name: str, namelen: int) -> F.GfxCommonDictRsp:
        if namelen and name:
            if name in (ACCESS_TEXT, DEFAULT_TEXT) or name.startswith((ACCESS_TEXT, DEFAULT_TEXT)):
                return self._acl_text(gfid, name)
            if name == "trusted.gfid":  # a 10.3 brick gives its size, filters it from the dict
                self.store.getattr(gfid)
                return F.GfxCommonDictRsp(16, 0, None, {})
            virtual = self._virtual_getxattr(gfid, name)
            if virtual is not None:
                return virtual
            namespace = name.split(".", 1)[0] if "." in name else ""
            if namespace not in ("user", "trusted", "security", "system") or name.startswith("glusterfs."):
                raise fs_error(errno.EOPNOTSUPP, name)  # client-side virtual keys, no namespace
            value = self.store.getxattr(gfid, STORED.get(name, name))
            return F.GfxCommonDictRsp(len(value), 0, None, {name: GfxValue.ptr(value)})
        names = [n for n in self.store.listxattr(gfid) if _listed(n)]
        values = {SHOWN.get(n, n): GfxValue.ptr(self.store.getxattr(gfid, n)) for n in names}
        # a list-all on a 10.3 brick: op_ret 16 whatever the names (op_errno varies; 0 here)
        return F.GfxCommonDictRsp(16, 0, None, values)

    def _acl_text(self, gfid: bytes, name: str) -> F.GfxCommonDictRsp:
        """``posix_pacl_get``: an ACL in libacl's text form (op_ret 0; the access ACL of an
        object without one is its mode's; a default ACL exists only on directories)."""
        attr = self.store.getattr(gfid)
        default = name.startswith(DEFAULT_TEXT)
        if default and not stat.S_ISDIR(attr.mode):
            raise fs_error(errno.EACCES, name)
        entries = get_acl(self.store, gfid, default)
        if entries is None:
            entries = [] if default else from_mode(attr.mode)
        return F.GfxCommonDictRsp(0, 0, None, {name: GfxValue.str(to_text(entries))})

    def _set_acl(self, gfid: bytes, name: str, value: GfxValue) -> None:
        """The ACL keys of a SETXATTR: text (``posix_pacl_set``: unparsable text is EPERM,
        an invalid ACL EINVAL) or Linux's binary xattr; the mode follows the access ACL."""
        raw = _xattr_bytes(value)
        default = name in (DEFAULT_TEXT, DEFAULT_XATTR)
        if name in (ACCESS_TEXT, DEFAULT_TEXT):
            try:
                entries = parse_text(raw.rstrip(b"\0").decode("utf-8", "surrogateescape"))
            except OSError:
                raise fs_error(errno.EPERM, name) from None
        else:
            entries = parse_xattr(raw)
        apply_acl(self.store, gfid, default, entries)

    def _virtual_getxattr(self, gfid: bytes, name: str) -> F.GfxCommonDictRsp | None:
        """The keys ``posix_getxattr`` answers itself (by gfid only: FGETXATTR does not)."""
        if getattr(self, "_fgetxattr", False):
            return None
        state = self.state
        attr = self.store.getattr(gfid)
        root = self.store.root_gfid
        if _is_pathinfo(name):  # a prefix of the key will do (XATTR_IS_PATHINFO's strncmp)
            path = state.path(gfid, root)
            if path is None:
                raise fs_error(errno.ENOENT, name)
            real = state.brick_path.rstrip("/") + ("/" if path == "/" else path)
            return _text_reply(name, f"<POSIX({state.brick_path}):{state.hostname}:{real}>")
        if name == "trusted.glusterfs.node-uuid":
            return _text_reply(name, state.node_uuid)
        if name == "glusterfs.gfid2path":
            return _text_reply(name, state.inode_path(gfid, root))
        if name == "glusterfs.gfidtopath":
            paths = ["/"] if gfid == root else state.paths(gfid, root)
            return F.GfxCommonDictRsp(0, 0, None, {name: GfxValue.ptr(":".join(paths).encode())})
        if name == "glusterfs.open-fd-count":
            st = state.peek(gfid)
            return F.GfxCommonDictRsp(0, 0, None, {name: GfxValue.uint(int(bool(st and st.fd_count)))})
        if name.startswith("glusterfs.get_real_filename:") and stat.S_ISDIR(attr.mode):
            wanted = name.split(":", 1)[1].casefold()
            for entry, _ in self.store.readdir(gfid):
                if entry.casefold() == wanted:
                    value = GfxValue.str(entry)
                    return F.GfxCommonDictRsp(len(value.value), 0, None, {name: value})
            raise fs_error(errno.ENODATA, name)
        return None

    def op_getxattr(self, a: F.GfxGetxattrReq, call: Call) -> F.GfxCommonDictRsp:
        return self._getxattr(a.gfid, _c_string(a.name), a.namelen)

    def op_fgetxattr(self, a: F.GfxFgetxattrReq, call: Call) -> F.GfxCommonDictRsp:
        gfid = self._fd(a.gfid, a.fd).gfid
        self._fgetxattr = True
        try:
            return self._getxattr(gfid, _c_string(a.name), a.namelen)
        finally:
            self._fgetxattr = False

    def _setxattr(self, gfid: bytes, pairs: Any, flags: int) -> F.GfxCommonRsp:
        pre = self._iatt(gfid)
        if pairs is None:
            raise fs_error(errno.EINVAL)
        for name, value in pairs.items():
            if name.startswith("user.") and stat.S_ISLNK(pre.mode):
                raise fs_error(errno.EPERM, name)  # Linux: no user xattrs on symlinks
            if name in VIRTUAL_XATTRS:
                self.store.getattr(gfid)
                self.store.adopt(gfid)  # posix_set_mdata_xattr_legacy_files (mdata.py)
                continue
            if name in ACL_KEYS:
                self._set_acl(gfid, name, value)
                continue
            self.store.setxattr(gfid, name, _xattr_bytes(value), flags)
        return F.GfxCommonRsp(0, 0, self._stat_xdata(pre, gfid))

    def _stat_xdata(self, pre: Any, gfid: bytes) -> dict[str, GfxValue]:
        """posix's xattr fops hand the stats back in xdata (md-cache uses them)."""
        post = self._iatt(gfid)
        return {
            "virt-gf-poststat": GfxValue(GfDataType.IATT, post),
            "virt-gf-prestat": GfxValue(GfDataType.IATT, pre),
            "dht-get-iatt-in-xattr": GfxValue(GfDataType.IATT, post),
        }

    def op_setxattr(self, a: F.GfxSetxattrReq, call: Call) -> F.GfxCommonRsp:
        return self._setxattr(a.gfid, a.dict, a.flags)

    def op_fsetxattr(self, a: F.GfxFsetxattrReq, call: Call) -> F.GfxCommonRsp:
        return self._setxattr(self._fd(a.gfid, a.fd).gfid, a.dict, a.flags)

    def _removexattr(self, gfid: bytes, name: str) -> F.GfxCommonRsp:
        pre = self._iatt(gfid)
        self.store.removexattr(gfid, STORED.get(name, name))
        # the stats in xdata, like posix (its op_errno on success varies; 0 here)
        return F.GfxCommonRsp(0, 0, self._stat_xdata(pre, gfid))

    def op_removexattr(self, a: F.GfxRemovexattrReq, call: Call) -> F.GfxCommonRsp:
        return self._removexattr(a.gfid, _c_string(a.name))

    def op_fremovexattr(self, a: F.GfxFremovexattrReq, call: Call) -> F.GfxCommonRsp:
        return self._removexattr(self._fd(a.gfid, a.fd).gfid, _c_string(a.name))

    def _xattrop(self, gfid: bytes, flags: int, pairs: Any, xdata: Any = None) -> F.GfxCommonDictRsp:
        """``do_xattrop``: each key (newest first, as ``dict_foreach`` walks a dict decoded
        from the wire) read as a buffer of the delta's length, combined, written back; the
        first failing key ends the call (what was written stays).  A delta of zeros only
        reads (an absent key is then reported as zeros, not created); GET_AND_SET reports
        the old value, and nothing for an absent key.  (posix-inode-fd-ops.c)"""
        attr = self.store.getattr(gfid)
        index = self.state.index
        tracked = pairs is not None and index.tracked(flags, pairs)
        if tracked:  # features/index, above posix: the gfid goes in before the change
            index.wind(gfid, {k: _xattr_bytes(v) for k, v in pairs.items()}, xdata)
        if pairs is None:
            raise fs_error(errno.ENOMEM)  # VALIDATE_OR_GOTO (xattr) leaves ENOMEM
        out = {}
        for name, value in reversed(list(pairs.items())):
            delta = _xattr_bytes(value)
            result = xattrop_one(self.store, gfid, name, flags, delta)
            if result is not None:
                out[name] = GfxValue.ptr(result)
        if tracked:  # ... and out once its counters are back to zeros
            values = {k: bytes(v.value) for k, v in out.items() if isinstance(v.value, (bytes, bytearray, memoryview))}
            index.unwind(gfid, stat.S_ISDIR(attr.mode), flags, values, xdata)
        return F.GfxCommonDictRsp(0, 0, None, dict(reversed(out.items())))

    def op_xattrop(self, a: F.GfxXattropReq, call: Call) -> F.GfxCommonDictRsp:
        return self._xattrop(a.gfid, a.flags, a.dict, a.xdata)

    def op_fxattrop(self, a: F.GfxFxattropReq, call: Call) -> F.GfxCommonDictRsp:
        return self._xattrop(self._fd(a.gfid, a.fd).gfid, a.flags, a.dict, a.xdata)


def xattrop_one(store: Any, gfid: bytes, name: str, flags: int, delta: bytes) -> bytes | None:
    """``_posix_handle_xattr_keyvalue_pair`` for one key: the value to report (None: none)."""
    count = (
        len(delta) // 2
        if flags in (GF_XATTROP_ADD_ARRAY_WITH_DEFAULT, GF_XATTROP_ADD_ARRAY64_WITH_DEFAULT)
        else len(delta)
    )
    try:
        old: bytes | None = store.getxattr(gfid, name)
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            raise
        old = None
    if old is not None and len(old) > count:
        raise fs_error(errno.ERANGE, name)  # the value does not fit the buffer
    current = (old or b"").ljust(count, b"\0")
    if flags != GF_XATTROP_GET_AND_SET and not any(delta):
        return current  # nothing to add: report, do not write
    if flags == GF_XATTROP_GET_AND_SET:
        store.setxattr(gfid, name, delta)
        return old.ljust(count, b"\0") if old is not None else None
    width = _WIDTH.get(flags)
    if width is None:
        raise fs_error(errno.EINVAL, f"xattrop type {flags}")
    new = bytearray(current)
    mask = (1 << 8 * width) - 1
    for i in range(0, count - count % width, width):
        dest = int.from_bytes(current[i : i + width], "big")
        add = int.from_bytes(delta[i : i + width], "big")
        if width and flags in (GF_XATTROP_ADD_ARRAY_WITH_DEFAULT, GF_XATTROP_ADD_ARRAY64_WITH_DEFAULT) and dest == 0:
            add += int.from_bytes(delta[count + i : count + i + width], "big")
        new[i : i + width] = ((dest + add) & mask).to_bytes(width, "big")
    store.setxattr(gfid, name, bytes(new))
    return bytes(new)


#: Keys of a create's xdata posix does not store (``_handle_entry_create_keyvalue_pair``,
#: ``posix_handle_pair``, ``posix_ignore_xattrs``).
_NOT_STORED = POSIX_IGNORED | {"trusted.gfid", "system.posix_acl_default", "system.posix_acl_access"}


def entry_xattrs(store: Any, gfid: bytes, xdata: Any) -> None:
    """``posix_entry_create_xattr_set``: a new object (CREATE, MKDIR, MKNOD, SYMLINK) gets
    the xattrs its request's xdata carries (how EC sets trusted.ec.* and DHT a linkto), each
    with XATTR_CREATE, newest key first; the first key that fails ends it, silently."""
    if not xdata:
        return
    for name, value in reversed(list(xdata.items())):
        if name in _NOT_STORED or name.startswith(("glusterfs.internal-ctx", "force-replace")):
            continue
        if "trusted.glusterfs.mdata".startswith(name):
            continue  # (rebalance and self-heal carry times this way; the store keeps its own)
        if _is_pathinfo(name) or name.startswith("trusted.gfid2path."):
            return
        if name.startswith(("glusterfs.posix.acl", "glusterfs.posix.default_acl")):
            continue  # (ACLs in text form: set by the ACL code, not stored as xattrs)
        try:
            store.setxattr(gfid, name, _xattr_bytes(value), XATTR_CREATE)
        except OSError:
            return


def preop_check(store: Any, pargfid: bytes, xdata: Any) -> Any:
    """``posix_mkdir``'s pre-op check (DHT): ``glusterfs.preop.parent.key`` names a parent
    xattr whose expected value the xdata carries; a mismatch fails the MKDIR with EIO (and
    ``glusterfs.preop.check.failed`` in the reply), a match drops both keys."""
    key = bytes(xdata["glusterfs.preop.parent.key"].value).rstrip(b"\0").decode("utf-8", "surrogateescape")
    out = dict(xdata)
    out.pop("glusterfs.preop.parent.key")
    if key in out:
        expect = _xattr_bytes(out.pop(key))
        try:
            have = store.getxattr(pargfid, key)
        except OSError as exc:
            raise fs_error(exc.errno or errno.EIO, key) from None
        if have != expect:
            raise PreopFailed(key)
    return out


class PreopFailed(OSError):
    """A failed pre-op check: ``glusterfs.preop.check.failed`` in the reply's xdata, and
    ``reply_errno`` (MKDIR: 0, dict_set_int8's return value; CREATE: EIO)."""

    def __init__(self, key: str, reply_errno: int = 0) -> None:
        super().__init__(errno.EIO, "pre-op check failed", key)
        self.reply_errno = reply_errno


def layout_stale(store: Any, pargfid: bytes, xdata: Any) -> Any:
    """``posix_is_layout_stale`` (CREATE of a new name): like MKDIR's pre-op check, but a
    parent without the xattr counts as stale too (EIO); both keys leave the xdata."""
    key = bytes(xdata["glusterfs.preop.parent.key"].value).rstrip(b"\0").decode("utf-8", "surrogateescape")
    out = dict(xdata)
    out.pop("glusterfs.preop.parent.key")
    if key not in out:
        return out
    expect = _xattr_bytes(out.pop(key))
    try:
        have = store.getxattr(pargfid, key)
    except OSError:
        have = None
    if have != expect:
        raise PreopFailed(key, errno.EIO)
    return out


def _is_pathinfo(name: str) -> bool:
    return "trusted.glusterfs.pathinfo".startswith(name) or "glusterfs.pathinfo".startswith(name)


def _text_reply(name: str, text: str) -> F.GfxCommonDictRsp:
    """A virtual key's C string: op_ret is its length, the value carries the NUL."""
    raw = text.encode("utf-8", "surrogateescape")
    return F.GfxCommonDictRsp(len(raw), 0, None, {name: GfxValue.str(raw)})


def _c_string(name: str) -> str:
    """The server copies an xattr name with ``gf_strdup`` (server4_0_getxattr...): it ends at
    the first NUL (a 10.3 brick answers ``user.a\\0b`` as ``user.a``; found by tools/fuzz.py,
    where the directory store raised on the NUL)."""
    return name.split("\0", 1)[0]


def _listed(name: str) -> bool:
    """Names a list-all shows: user.*, the ACLs, and trusted.* except gluster's own."""
    if name.startswith("user.") or name in SHOWN:
        return True
    return (
        name.startswith("trusted.")
        and name != "trusted.gfid"
        and not name.startswith(("trusted.glusterfs.", "trusted.fakegluster."))
    )


def _xattr_bytes(value: GfxValue) -> bytes:
    if value.type in (GfDataType.PTR, GfDataType.STR_OLD, GfDataType.STR, GfDataType.GFUUID):
        return bytes(value.value)
    if value.type in (GfDataType.INT, GfDataType.UINT):
        return str(value.value).encode() + b"\0"  # data_from_int64: decimal text and its NUL
    if value.type == GfDataType.DOUBLE:
        return b"%f\0" % value.value
    raise fs_error(errno.EINVAL)
