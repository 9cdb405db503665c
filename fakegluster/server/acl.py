"""POSIX ACLs and the permission checks of a brick's access-control translator
(glusterfs v10.3 ``xlators/system/posix-acl/src/posix-acl.c``), pure functions over a
store's attributes and xattrs.

ACLs live where the brick's file system keeps them: the ``system.posix_acl_access`` and
``system.posix_acl_default`` xattrs in Linux's binary form (version 2, little-endian
(tag u16, perm u16, id u32) entries).  Setting an access ACL sets the mode bits it implies
and an ACL the mode says all of is not stored (what ``acl_set_file`` does on ext4).  The
text forms ``glusterfs.posix.acl`` / ``glusterfs.posix.default_acl`` that gfapi's
``glfs_h_acl_set/get`` send are libacl's (``acl_to_any_text(acl, NULL, ',',
TEXT_ABBREVIATE | TEXT_NUMERIC_IDS)``).

:func:`permits` is ``acl_permits``: the owner, then named users, then the owning and named
groups (any of the caller's groups granting all wanted bits), the mask, then others; uid 0
and internal callers (pid < 0) always pass.  A normal client is a "FUSE call" for the
translator (any pid but NFS's 1): READ, WRITE and FTRUNCATE are not checked at all.
"""

from __future__ import annotations

import dataclasses
import errno
import grp
import pwd
import stat
import struct
from typing import Any

__all__ = [
    "Ace",
    "Caller",
    "USER_OBJ",
    "USER",
    "GROUP_OBJ",
    "GROUP",
    "MASK",
    "OTHER",
    "R",
    "W",
    "X",
    "ACCESS_XATTR",
    "DEFAULT_XATTR",
    "ACCESS_TEXT",
    "DEFAULT_TEXT",
    "parse_xattr",
    "to_xattr",
    "parse_text",
    "to_text",
    "from_mode",
    "permits",
    "sticky_permits",
    "inherit",
    "apply_acl",
    "get_acl",
    "STORED",
    "SHOWN",
]

USER_OBJ, USER, GROUP_OBJ, GROUP, MASK, OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
R, W, X = 4, 2, 1
UNDEFINED_ID = 0xFFFFFFFF
ACCESS_XATTR, DEFAULT_XATTR = "system.posix_acl_access", "system.posix_acl_default"
ACCESS_TEXT, DEFAULT_TEXT = "glusterfs.posix.acl", "glusterfs.posix.default_acl"
ACL_KEYS = frozenset({ACCESS_XATTR, DEFAULT_XATTR, ACCESS_TEXT, DEFAULT_TEXT})
#: where a store keeps them (the stores take user./trusted./security. names only); a brick
#: shows them to clients as ``system.posix_acl_*`` and hides these names
STORED = {ACCESS_XATTR: "trusted.fakegluster.posix_acl_access", DEFAULT_XATTR: "trusted.fakegluster.posix_acl_default"}
SHOWN = {v: k for k, v in STORED.items()}
_VERSION = 2
_ACE = struct.Struct("<HHI")


@dataclasses.dataclass(frozen=True)
class Ace:
    tag: int
    perm: int
    id: int = UNDEFINED_ID


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who sends a FOP (AUTH_GLUSTERFS, after root squashing)."""

    uid: int
    gid: int
    groups: tuple[int, ...] = ()
    pid: int = 0

    @property
    def superuser(self) -> bool:
        return self.uid == 0 or self.pid < 0

    def in_group(self, gid: int) -> bool:
        return self.gid == gid or gid in self.groups


# ---- forms ---------------------------------------------------------------------------


def _sorted(entries: list[Ace]) -> list[Ace]:
    return sorted(entries, key=lambda e: (e.tag, e.id if e.tag in (USER, GROUP) else 0))


def _valid(entries: list[Ace]) -> list[Ace]:
    """``acl_valid``: one owner, owning group and other entry, no repeated named entry, a
    mask when there are named entries."""
    tags = [e.tag for e in entries]
    named = [(e.tag, e.id) for e in entries if e.tag in (USER, GROUP)]
    if any(tags.count(t) != 1 for t in (USER_OBJ, GROUP_OBJ, OTHER)) or tags.count(MASK) > 1:
        raise OSError(errno.EINVAL, "invalid ACL")
    if len(set(named)) != len(named) or (named and MASK not in tags):
        raise OSError(errno.EINVAL, "invalid ACL")
    if any(e.perm & ~7 for e in entries):
        raise OSError(errno.EINVAL, "invalid ACL")
    return _sorted(entries)


def parse_xattr(blob: bytes) -> list[Ace]:
    if len(blob) < 4 or (len(blob) - 4) % _ACE.size or struct.unpack_from("<I", blob)[0] != _VERSION:
        raise OSError(errno.EINVAL, "not an ACL")
    return [Ace(*_ACE.unpack_from(blob, off)) for off in range(4, len(blob), _ACE.size)]


def to_xattr(entries: list[Ace]) -> bytes:
    return struct.pack("<I", _VERSION) + b"".join(
        _ACE.pack(e.tag, e.perm, e.id if e.tag in (USER, GROUP) else UNDEFINED_ID) for e in entries
    )


_TAG_TEXT = {USER_OBJ: "u", USER: "u", GROUP_OBJ: "g", GROUP: "g", MASK: "m", OTHER: "o"}
_TEXT_TAG = {"u": "u", "user": "u", "g": "g", "group": "g", "m": "m", "mask": "m", "o": "o", "other": "o"}


def to_text(entries: list[Ace]) -> str:
    """libacl's ``acl_to_any_text(acl, NULL, ',', TEXT_ABBREVIATE | TEXT_NUMERIC_IDS)``."""
    out = []
    for e in _sorted(entries):
        qual = str(e.id) if e.tag in (USER, GROUP) else ""
        perm = ("r" if e.perm & R else "-") + ("w" if e.perm & W else "-") + ("x" if e.perm & X else "-")
        out.append(f"{_TAG_TEXT[e.tag]}:{qual}:{perm}")
    return ",".join(out)


def parse_text(text: str) -> list[Ace]:
    """libacl's ``acl_from_text`` for the forms gluster clients send (numeric ids)."""
    entries = []
    for part in text.replace("\n", ",").split(","):
        part = part.split("#", 1)[0].strip()
        if not part:
            continue
        fields = part.split(":")
        if len(fields) == 2 and _TEXT_TAG.get(fields[0]) in ("m", "o"):
            fields = [fields[0], "", fields[1]]
        if len(fields) != 3 or fields[0] not in _TEXT_TAG:
            raise OSError(errno.EINVAL, f"bad ACL entry {part!r}")
        kind, qual, perms = _TEXT_TAG[fields[0]], fields[1].strip(), fields[2].strip()
        perm = 0
        for ch in perms:
            if ch in "rwx":
                perm |= {"r": R, "w": W, "x": X}[ch]
            elif ch != "-":
                raise OSError(errno.EINVAL, f"bad ACL permissions {perms!r}")
        if kind in ("u", "g") and qual:
            entries.append(Ace(USER if kind == "u" else GROUP, perm, _qualifier(kind, qual)))
        elif qual:
            raise OSError(errno.EINVAL, f"bad ACL entry {part!r}")
        else:
            entries.append(Ace({"u": USER_OBJ, "g": GROUP_OBJ, "m": MASK, "o": OTHER}[kind], perm))
    return entries


def _qualifier(kind: str, qual: str) -> int:
    """A numeric id, or a user/group name as the brick's host resolves it."""
    if qual.isdigit():
        return int(qual)
    try:
        return pwd.getpwnam(qual).pw_uid if kind == "u" else grp.getgrnam(qual).gr_gid
    except KeyError:
        raise OSError(errno.EINVAL, f"unknown ACL qualifier {qual!r}") from None


def from_mode(mode: int) -> list[Ace]:
    """The three-entry ACL a mode amounts to (what ``acl_get_file`` gives without an ACL)."""
    return [Ace(USER_OBJ, (mode >> 6) & 7), Ace(GROUP_OBJ, (mode >> 3) & 7), Ace(OTHER, mode & 7)]


def _mode_bits(entries: list[Ace]) -> int:
    """The permission bits an access ACL sets (``posix_acl_access_set_mode``)."""
    by = {e.tag: e.perm for e in entries if e.tag in (USER_OBJ, GROUP_OBJ, MASK, OTHER)}
    group = by.get(MASK, by.get(GROUP_OBJ, 0))
    return (by.get(USER_OBJ, 0) << 6) | (group << 3) | by.get(OTHER, 0)


# ---- checks ------------------------------------------------------------------------------


def permits(caller: Caller, attr: Any, acl: list[Ace] | None, want: int) -> bool:
    """``acl_permits``: may ``caller`` do ``want`` (R|W|X bits) to an object with ``attr``
    (mode, uid, gid) and access ACL ``acl`` (None: the mode alone)."""
    if caller.superuser:
        return True
    mode: int = attr.mode
    entries = acl if acl and len(acl) > 3 else None
    if entries is None:
        entries = from_mode(mode)
    present = len(entries) > 3
    found = False
    perm = 0
    for ace in _sorted(entries):
        if ace.tag == USER_OBJ:
            if caller.uid == attr.uid:
                return bool((((mode >> 6) & 7) & want) == want)
        elif ace.tag == USER:
            if caller.uid == ace.id:
                return _masked(entries, ace.perm, want)
        elif ace.tag == GROUP_OBJ:
            perm = ace.perm if present else (mode >> 3) & 7
            if caller.in_group(attr.gid):
                found = True
                if perm & want == want:
                    return _masked(entries, perm, want)
        elif ace.tag == GROUP:
            if caller.in_group(ace.id):
                found = True
                if ace.perm & want == want:
                    return _masked(entries, ace.perm, want)
        elif ace.tag == OTHER:
            if found:
                return False
            return ((mode & 7) & want) == want
    return False


def _masked(entries: list[Ace], perm: int, want: int) -> bool:
    for ace in entries:
        if ace.tag == MASK:
            return (ace.perm & perm & want) == want
    return (perm & want) == want


def sticky_permits(caller: Caller, parent: Any, attr: Any) -> bool:
    """``sticky_permits``: in a sticky directory only the owner of the directory or of the
    entry may remove or rename it."""
    if caller.superuser or not parent.mode & stat.S_ISVTX:
        return True
    return caller.uid in (parent.uid, attr.uid)


def inherit(default: list[Ace], mode: int) -> tuple[list[Ace], int]:
    """``posix_acl_inherit_mode``: a new object's access ACL from its parent's default ACL
    and the mode asked for (no umask then); returns (ACL, mode)."""
    acl = list(_sorted(default))
    m = mode
    group_i = mask_i = None
    for i, ace in enumerate(acl):
        if ace.tag == USER_OBJ:
            perm = ace.perm & ((m >> 6) | ~0o7) & 7
            acl[i] = dataclasses.replace(ace, perm=perm)
            m &= (perm << 6) | ~0o700
        elif ace.tag == GROUP_OBJ:
            group_i = i
        elif ace.tag == MASK:
            mask_i = i
        elif ace.tag == OTHER:
            perm = ace.perm & (m | ~0o7) & 7
            acl[i] = dataclasses.replace(ace, perm=perm)
            m &= perm | ~0o7
    j = mask_i if mask_i is not None else group_i
    if j is not None:
        perm = acl[j].perm & ((m >> 3) | ~0o7) & 7
        acl[j] = dataclasses.replace(acl[j], perm=perm)
        m &= (perm << 3) | ~0o70
    return acl, (mode & (stat.S_IFMT(mode) | 0o7000)) | (m & 0o777)


# ---- on a store -----------------------------------------------------------------------------


def get_acl(store: Any, gfid: bytes, default: bool) -> list[Ace] | None:
    """The object's stored ACL (None: none stored)."""
    try:
        return parse_xattr(store.getxattr(gfid, STORED[DEFAULT_XATTR if default else ACCESS_XATTR]))
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.EINVAL):
            return None
        raise


def apply_acl(store: Any, gfid: bytes, default: bool, entries: list[Ace]) -> None:
    """``acl_set_file``: an access ACL sets the mode bits and is stored only when it says
    more than the mode; an empty default ACL removes it; a default ACL on anything but a
    directory is EACCES."""
    attr = store.getattr(gfid)
    if default:
        if not stat.S_ISDIR(attr.mode):
            raise OSError(errno.EACCES, "a default ACL on a non-directory")
        if not entries:
            _remove(store, gfid, STORED[DEFAULT_XATTR])
            return
        store.setxattr(gfid, STORED[DEFAULT_XATTR], to_xattr(_valid(entries)))
        return
    entries = _valid(entries)
    bits = _mode_bits(entries)
    store.setattr(gfid, mode=(attr.mode & 0o7000) | bits)
    if len(entries) > 3:
        store.setxattr(gfid, STORED[ACCESS_XATTR], to_xattr(entries))
    else:
        _remove(store, gfid, STORED[ACCESS_XATTR])


def _remove(store: Any, gfid: bytes, name: str) -> None:
    try:
        store.removexattr(gfid, name)
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            raise
