"""The xattr FOPs of a brick (GETXATTR, SETXATTR, REMOVEXATTR, XATTROP and their fd forms),
as a mixin of :class:`~fakegluster.server.fops.FopHandlers`.  Behaviour read off a real
10.3 brick (tests/server/test_brick_conformance.py): ``trusted.gfid`` is reported by size
only, a list-all shows ``user.*`` and non-gluster ``trusted.*`` names with op_ret 16,
failures carry an empty dict, the stats come back in xdata of successful writes.
"""

from __future__ import annotations

import errno
import stat
from typing import Any

from ..proto import fops as F
from ..proto.gfdict import GfDataType, GfxValue
from ..store.base import fs_error

__all__ = ["XattrFops", "VIRTUAL_XATTRS"]

#: Keys the posix xlator handles itself instead of storing: the utime xlator's request to
#: record times for an object without ``trusted.glusterfs.mdata`` (posix-metadata.c).
VIRTUAL_XATTRS = frozenset({"set-ctime-mdata"})
GF_XATTROP_ADD_ARRAY, GF_XATTROP_ADD_ARRAY64 = 0, 1


class XattrFops:
    """xattr handlers; the host class provides ``store``, ``_iatt`` and ``_fd``."""

    def _getxattr(self, gfid: bytes, name: str, namelen: int) -> Any:
        try:
            return self._getxattr_ok(gfid, name, namelen)
        except OSError as exc:  # a failed GETXATTR carries an empty dict, not a NULL one
            return F.GfxCommonDictRsp.cls(-1, exc.errno or errno.EIO, None, {})

    def _getxattr_ok(self, gfid: bytes, name: str, namelen: int) -> Any:
        if namelen and name:
            if name == "trusted.gfid":  # a 10.3 brick gives its size, filters it from the dict
                self.store.getattr(gfid)
                return F.GfxCommonDictRsp.cls(16, 0, None, {})
            namespace = name.split(".", 1)[0] if "." in name else ""
            if namespace not in ("user", "trusted", "security", "system") or name.startswith("glusterfs."):
                raise fs_error(errno.EOPNOTSUPP, name)  # client-side virtual keys, no namespace
            if name.startswith("system.posix_acl_"):
                self.store.getattr(gfid)
                raise fs_error(errno.ENODATA, name)
            value = self.store.getxattr(gfid, name)
            return F.GfxCommonDictRsp.cls(len(value), 0, None, {name: GfxValue.ptr(value)})
        names = [n for n in self.store.listxattr(gfid) if _listed(n)]
        values = {n: GfxValue.ptr(self.store.getxattr(gfid, n)) for n in names}
        # a list-all on a 10.3 brick: op_ret 16 whatever the names (op_errno varies; 0 here)
        return F.GfxCommonDictRsp.cls(16, 0, None, values)

    def op_getxattr(self, a, call):
        return self._getxattr(a.gfid, a.name, a.namelen)

    def op_fgetxattr(self, a, call):
        return self._getxattr(self._fd(a.gfid, a.fd).gfid, a.name, a.namelen)

    def _setxattr(self, gfid: bytes, pairs: Any, flags: int) -> Any:
        pre = self._iatt(gfid)
        if pairs is None:
            raise fs_error(errno.EINVAL)
        for name, value in pairs.items():
            if name.startswith("user.") and stat.S_ISLNK(pre.mode):
                raise fs_error(errno.EPERM, name)  # Linux: no user xattrs on symlinks
            if name in VIRTUAL_XATTRS:
                self.store.getattr(gfid)
                continue
            self.store.setxattr(gfid, name, _xattr_bytes(value), flags)
        return F.GfxCommonRsp.cls(0, 0, self._stat_xdata(pre, gfid))

    def _stat_xdata(self, pre: Any, gfid: bytes) -> dict[str, GfxValue]:
        """posix's xattr fops hand the stats back in xdata (md-cache uses them)."""
        post = self._iatt(gfid)
        return {
            "virt-gf-poststat": GfxValue(GfDataType.IATT, post),
            "virt-gf-prestat": GfxValue(GfDataType.IATT, pre),
            "dht-get-iatt-in-xattr": GfxValue(GfDataType.IATT, post),
        }

    def op_setxattr(self, a, call):
        return self._setxattr(a.gfid, a.dict, a.flags)

    def op_fsetxattr(self, a, call):
        return self._setxattr(self._fd(a.gfid, a.fd).gfid, a.dict, a.flags)

    def _removexattr(self, gfid: bytes, name: str) -> Any:
        pre = self._iatt(gfid)
        self.store.removexattr(gfid, name)
        # the stats in xdata, like posix (its op_errno on success varies; 0 here)
        return F.GfxCommonRsp.cls(0, 0, self._stat_xdata(pre, gfid))

    def op_removexattr(self, a, call):
        return self._removexattr(a.gfid, a.name)

    def op_fremovexattr(self, a, call):
        return self._removexattr(self._fd(a.gfid, a.fd).gfid, a.name)

    def _xattrop(self, gfid: bytes, flags: int, pairs: Any) -> Any:
        width = {GF_XATTROP_ADD_ARRAY: 4, GF_XATTROP_ADD_ARRAY64: 8}.get(flags)
        if width is None:
            raise fs_error(errno.EINVAL)
        out = {}
        for name, value in (pairs or {}).items():
            delta = _xattr_bytes(value)
            try:
                old = self.store.getxattr(gfid, name)
            except OSError as exc:
                if exc.errno != errno.ENODATA:
                    raise
                old = bytes(len(delta))
            if len(old) != len(delta) or len(delta) % width:
                raise fs_error(errno.EINVAL)
            new = b"".join(
                (
                    (
                        int.from_bytes(old[i : i + width], "big", signed=True)
                        + int.from_bytes(delta[i : i + width], "big", signed=True)
                    )
                    % (1 << 8 * width)
                ).to_bytes(width, "big")
                for i in range(0, len(delta), width)
            )
            self.store.setxattr(gfid, name, new)
            out[name] = GfxValue.ptr(new)
        return F.GfxCommonDictRsp.cls(0, 0, None, out)

    def op_xattrop(self, a, call):
        return self._xattrop(a.gfid, a.flags, a.dict)

    def op_fxattrop(self, a, call):
        return self._xattrop(self._fd(a.gfid, a.fd).gfid, a.flags, a.dict)


def _listed(name: str) -> bool:
    """Names a list-all shows: user.* and trusted.* except gluster's own."""
    if name.startswith("user."):
        return True
    return name.startswith("trusted.") and name != "trusted.gfid" and not name.startswith("trusted.glusterfs.")


def _xattr_bytes(value: GfxValue) -> bytes:
    if value.type in (GfDataType.PTR, GfDataType.STR_OLD, GfDataType.STR, GfDataType.GFUUID):
        return bytes(value.value)
    if value.type in (GfDataType.INT, GfDataType.UINT, GfDataType.DOUBLE):
        return str(value.value).encode()
    raise fs_error(errno.EINVAL)
