"""What one brick keeps across its connections: lock tables, open-fd counts, the live
sessions (to call clients back), and the brick options that shape these semantics.

A :class:`~fakegluster.server.brick.Brick` holds one :class:`BrickState` (``brick.state``);
every :class:`~fakegluster.server.fops.FopHandlers` of that brick shares it.  Everything
runs in the server's trio thread; nothing here blocks.
"""

from __future__ import annotations

import dataclasses
import socket
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from ..proto import callback
from ..proto.gfdict import serialize_old_dict
from .datafaults import DataFaults
from .index import BrickIndex
from .leases import LeaseState
from .locks import Answer, Contention, EntryLocks, InodeLocks, PosixLocks, Revocation
from .reservelk import Reservations
from .upcall import Notice, Upcalls, gf_iatt

if TYPE_CHECKING:
    from ..store.base import Store

__all__ = ["BrickState", "BrickOptions", "InodeState"]


@dataclasses.dataclass
class BrickOptions:
    """The volume options a brick's translators read (names as ``gluster volume set``
    takes them; defaults as glusterd 10.3 writes a brick volfile)."""

    #: features/locks ``notify-contention``: INODELK_CONTENTION upcalls to lock holders
    notify_contention: bool = True
    #: features/locks ``notify-contention-delay`` (seconds between upcalls for one lock)
    notify_contention_delay: float = 5.0
    #: ``locks.mandatory-locking``: off, file, forced or optimal
    mandatory_locking: str = "off"
    #: ``features.cache-invalidation``: CACHE_INVALIDATION upcalls to clients
    cache_invalidation: bool = False
    #: ``features.cache-invalidation-timeout`` (seconds)
    cache_invalidation_timeout: int = 60
    #: ``features.leases`` and ``features.lease-lock-recall-timeout`` (seconds)
    leases: bool = False
    lease_recall_timeout: float = 60.0
    #: ``server.root-squash`` / ``server.all-squash``: callers' uid/gid 0 (or all) become
    #: ``server.anonuid`` / ``server.anongid``
    root_squash: bool = False
    all_squash: bool = False
    anonuid: int = 65534
    anongid: int = 65534
    #: ``storage.owner-uid`` / ``storage.owner-gid`` (posix ``brick-uid``/``brick-gid``): the
    #: brick root's owner, -1 = left alone
    owner_uid: int = -1
    owner_gid: int = -1
    #: ``features.locks-revocation-secs`` / ``-max-blocked`` / ``-clear-all`` (0: off)
    revocation_secs: int = 0
    revocation_max_blocked: int = 0
    revocation_clear_all: bool = False

    @property
    def revocation(self) -> Revocation:
        return Revocation(self.revocation_secs, self.revocation_max_blocked, self.revocation_clear_all)

    @classmethod
    def from_volume_options(cls, options: dict[str, str]) -> BrickOptions:
        """From ``gluster volume set`` keys (unknown keys are ignored)."""
        out = cls()
        on = {"on", "yes", "true", "enable", "1"}
        if "features.locks-notify-contention" in options:
            out.notify_contention = options["features.locks-notify-contention"].lower() in on
        if "features.locks-notify-contention-delay" in options:
            out.notify_contention_delay = float(options["features.locks-notify-contention-delay"])
        if "locks.mandatory-locking" in options:
            out.mandatory_locking = options["locks.mandatory-locking"]
        if "features.cache-invalidation" in options:
            out.cache_invalidation = options["features.cache-invalidation"].lower() in on
        for key in ("root_squash", "all_squash"):
            opt = "server." + key.replace("_", "-")
            if opt in options:
                setattr(out, key, options[opt].lower() in on)
        for key in ("anonuid", "anongid"):
            if "server." + key in options:
                setattr(out, key, int(options["server." + key]))
        for key in ("secs", "max_blocked"):
            opt = "features.locks-revocation-" + key.replace("_", "-")
            if opt in options:
                setattr(out, "revocation_" + key, int(options[opt]))
        if "features.locks-revocation-clear-all" in options:
            out.revocation_clear_all = options["features.locks-revocation-clear-all"].lower() in on
        for key in ("owner_uid", "owner_gid"):
            opt = "storage." + key.replace("_", "-")
            if opt in options:
                setattr(out, key, int(options[opt]))
        if "features.leases" in options:
            out.leases = options["features.leases"].lower() in on
        if "features.lease-lock-recall-timeout" in options:
            out.lease_recall_timeout = float(options["features.lease-lock-recall-timeout"])
        if "features.cache-invalidation-timeout" in options:
            out.cache_invalidation_timeout = int(options["features.cache-invalidation-timeout"])
        return out


def set_owner(store: Store, uid: int, gid: int) -> None:
    """``posix_set_owner`` (posix-common.c, at init and on reconfigure): the brick root gets
    ``storage.owner-uid``/``-gid`` (-1: that one left alone; nothing when both already
    match).  A reset leaves the owner as it is."""
    if uid == -1 and gid == -1:
        return
    root = store.getattr(store.root_gfid)
    if (uid == -1 or root.uid == uid) and (gid == -1 or root.gid == gid):
        return
    store.setattr(store.root_gfid, uid=None if uid == -1 else uid, gid=None if gid == -1 else gid)


class InodeState:
    """A brick's per-inode state (``pl_inode_t`` and friends)."""

    __slots__ = ("posix", "reservelk", "inodelk", "entrylk", "open_fds", "leases", "rw_waiters")

    def __init__(self, notify_delay: float | None) -> None:
        self.posix = PosixLocks()
        #: features/locks' reservations (LK cmds 3-6), made by :meth:`reservations` at the first
        #: one: most inodes never see one, and an idle brick's memory counts per inode
        self.reservelk: Reservations | None = None
        self.inodelk = InodeLocks(notify_delay)
        self.entrylk = EntryLocks()
        self.open_fds: list[Any] = []  # the brick's open fds on the inode (every connection)
        self.leases = LeaseState()
        self.rw_waiters: list[Any] = []  # reads/writes held by mandatory locks

    @property
    def fd_count(self) -> int:
        return len(self.open_fds)

    def reservations(self) -> Reservations:
        """:attr:`reservelk`, made if it is not yet."""
        if self.reservelk is None:
            self.reservelk = Reservations()
        return self.reservelk

    def idle(self) -> bool:
        return not (
            len(self.posix)
            or (self.reservelk is not None and self.reservelk.busy())
            or self.inodelk.count()
            or self.entrylk.count()
            or self.open_fds
            or self.leases.entries
            or self.leases.blocked
            or self.rw_waiters
            or self.inodelk.remove_locked
        )


class BrickState:
    """Brick-wide state.  ``sessions`` are the bound connections (``BrickSession`` objects
    with ``client_uid``, ``conn`` and ``fops``)."""

    def __init__(self, options: BrickOptions | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.inodes: dict[bytes, InodeState] = {}
        self.sessions: dict[Any, None] = {}  # bound sessions, oldest first
        self.upcalls = Upcalls()
        self.faults = DataFaults()
        self.index = BrickIndex()  # features/index (watchlists set by the cluster: index.watch_volume)
        self.store: Store | None = None  # the brick's store, for what options do to it (brick-uid)
        self.faults.on_partition = self._partitioned
        self._token: Any = None  # the server thread's trio token (a partition set from elsewhere)
        self._options = BrickOptions()
        self.configure(options or BrickOptions())
        #: the brick's directory and host as ``trusted.glusterfs.pathinfo`` reports them,
        #: and its node's glusterd uuid (``trusted.glusterfs.node-uuid``); the cluster sets them
        self.brick_path = "/"
        self.hostname = socket.gethostname()
        self.node_uuid = str(uuid.uuid4())
        #: the names the brick has seen for each inode, newest first (its inode table's
        #: dentries: what ``inode_path`` walks for gfid2path and pathinfo)
        self.dentries: dict[bytes, list[tuple[bytes, str]]] = {}
        #: unlinked inodes still open: forgotten at their last release
        self.forget_on_release: set[bytes] = set()
        #: orphans: open files that lost their last name (the store keeps them until the last
        #: RELEASE), gfid -> reachable by an anonymous fd (unlinked: posix moved the handle to
        #: .glusterfs/unlink) or not (replaced by a rename: the handle is gone)
        self.orphans: dict[bytes, bool] = {}

    # ---- names (the inode table's dentries) -------------------------------------------
    def forget_names(self) -> None:
        """A new brick process (``volume start V force`` after a kill): its inode table starts
        empty, so gfid2path/pathinfo know no name until a named LOOKUP (or an entry FOP) links
        one again; glfsheal then lists that brick's index entries as ``<gfid:...>``.  Its
        orphans go too (posix_init empties ``.glusterfs/unlink``)."""
        self.dentries.clear()
        for gfid in [g for g in self.orphans if not (g in self.inodes and self.inodes[g].fd_count)]:
            del self.orphans[gfid]
            if self.store is not None:
                self.store.forget(gfid)

    def linked(self, gfid: bytes, pargfid: bytes, name: str, *, newest: bool = True) -> None:
        names = self.dentries.setdefault(gfid, [])
        if (pargfid, name) in names:
            return
        names.insert(0 if newest else len(names), (pargfid, name))

    def unlinked(self, pargfid: bytes, name: str) -> None:
        for gfid, names in list(self.dentries.items()):
            if (pargfid, name) in names:
                names.remove((pargfid, name))
                if not names:
                    del self.dentries[gfid]

    def path(self, gfid: bytes, root: bytes) -> str | None:
        """``inode_path``: the newest name of each ancestor, None when one is unknown."""
        path = self.inode_path(gfid, root)
        return path if path.startswith("/") else None

    def inode_path(self, gfid: bytes, root: bytes) -> str:
        """``inode_path`` as posix's ``glusterfs.gfid2path`` uses it: where a name up the way is
        unknown (the brick has not seen it since it started) the path begins at that inode's
        ``<gfid:UUID>``, e.g. ``<gfid:...>`` alone for a file only looked up by gfid."""
        parts: list[str] = []
        seen = set()
        while gfid != root:
            names = self.dentries.get(gfid)
            if not names or gfid in seen:
                head = f"<gfid:{uuid.UUID(bytes=bytes(gfid))}>"
                return head + "".join("/" + p for p in reversed(parts))
            seen.add(gfid)
            gfid, name = names[0]
            parts.append(name)
        return "/" + "/".join(reversed(parts))

    def paths(self, gfid: bytes, root: bytes) -> list[str]:
        """Every known name of ``gfid`` as a path, oldest first (``trusted.gfid2path.*``)."""
        out = []
        for pargfid, name in reversed(self.dentries.get(gfid, [])):
            parent = self.path(pargfid, root)
            if parent is not None:
                out.append(parent.rstrip("/") + "/" + name)
        return out

    @property
    def options(self) -> BrickOptions:
        return self._options

    @options.setter
    def options(self, options: BrickOptions) -> None:
        self.configure(options)

    def configure(self, options: BrickOptions | dict[str, str]) -> None:
        """New options (``volume set``): a dict of volume option keys or a BrickOptions."""
        if isinstance(options, dict):
            options = BrickOptions.from_volume_options(options)
        self._options = options
        self.upcalls.enabled = options.cache_invalidation
        self.upcalls.timeout = options.cache_invalidation_timeout
        if self.store is not None:
            set_owner(self.store, options.owner_uid, options.owner_gid)

    def inode(self, gfid: bytes) -> InodeState:
        st = self.inodes.get(gfid)
        if st is None:
            delay = self.options.notify_contention_delay if self.options.notify_contention else None
            st = self.inodes[gfid] = InodeState(delay)
        return st

    def peek(self, gfid: bytes) -> InodeState | None:
        return self.inodes.get(gfid)

    def tidy(self, gfid: bytes) -> None:
        st = self.inodes.get(gfid)
        if st is not None and st.idle():
            del self.inodes[gfid]

    # ---- sessions ---------------------------------------------------------------------
    def bound(self, session: Any) -> None:
        self.sessions[session] = None
        try:
            self._token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass

    def _partitioned(self) -> None:
        """A partition starts: close the connections of the clients it cuts off (in the
        server's thread; the call may come from any thread)."""

        def cut() -> None:
            for s in list(self.sessions):
                if self.faults.cuts(s) and s.conn is not None:
                    s.conn.close()

        if self._token is None:
            return
        try:
            if trio.lowlevel.current_trio_token() is self._token:
                cut()
                return
        except RuntimeError:
            pass
        self._token.run_sync_soon(cut)

    def sessions_of(self, client: Any) -> list[Any]:
        return [s for s in self.sessions if s.client_uid == client]

    def gone(self, session: Any) -> None:
        """A connection ended: its fds were released by the caller; when it was the
        client's last connection, the client's inode and entry locks go too
        (``pl_client_disconnect_cbk``), and its blocked requests fail with EAGAIN."""
        self.sessions.pop(session, None)
        client = session.client_uid
        if client is None:
            return
        last = not self.sessions_of(client)
        if last:
            self.upcalls.gone(client)
            for st in self.inodes.values():
                if st.leases.entries:
                    st.leases.drop_client(client)
                    session.fops.resume_blocked(st.leases)
        now = self.clock()
        for gfid, st in list(self.inodes.items()):
            if last:
                answers, contention = st.inodelk.cleanup(client, now)
                answers += st.entrylk.cleanup(client, now)
                self.answer(answers)
                self.contend(gfid, contention)
            else:
                mine = [w for w in _waiters(st) if w.session is session]
                for w in mine:
                    self.answer(st.inodelk.cancel(w, now) + st.entrylk.cancel(w, now))
            self.tidy(gfid)

    # ---- effects ----------------------------------------------------------------------
    def answer(self, answers: list[Answer]) -> None:
        """Send the deferred replies the lock tables settled, in their order."""
        for a in answers:
            a.waiter.deliver(a)

    def contend(self, gfid: bytes, contention: list[Contention]) -> None:
        """INODELK_CONTENTION to each contended lock's client (``server_process_event_upcall``
        sends an upcall on the first connection of the client it finds)."""
        for c in contention:
            for s in self.sessions_of(c.lock.client)[:1]:
                s.fops.send_contention(gfid, c.lock)

    def notify(self, notices: list[Notice]) -> None:
        """GF_CBK_CACHE_INVALIDATION for each notice, on its client's first connection."""
        for n in notices:
            for s in self.sessions_of(n.client)[:1]:
                conn = s.conn
                if conn is None or conn.closed:
                    continue
                args = callback.Gfs3CbkCacheInvalidationReq(
                    str(uuid.UUID(bytes=bytes(n.gfid))),
                    1,  # GF_UPCALL_CACHE_INVALIDATION
                    n.flags,
                    n.expire,
                    gf_iatt(n.stat),
                    gf_iatt(n.parent_stat),
                    gf_iatt(n.oldparent_stat),
                    serialize_old_dict(n.xattrs) if n.xattrs else b"",
                )
                conn.send_call(
                    callback.GLUSTER_CBK_PROGRAM,
                    callback.GLUSTER_CBK_VERSION,
                    callback.GfCbkProcnum.GF_CBK_CACHE_INVALIDATION,
                    args,
                )

    # ---- forgetting inodes ----------------------------------------------------------------
    def maybe_forget(self, gfid: bytes | None, alive: bool) -> list[Notice]:
        """An inode lost a name (``alive``: it still has one): once it has no name and no
        open fd, the brick forgets it (``inode_forget``), and upcall tells every client that
        knew it (UP_FORGET)."""
        if gfid is None or not self.upcalls.enabled or alive:
            return []
        st = self.inodes.get(gfid)
        if st is not None and st.fd_count:
            self.forget_on_release.add(gfid)
            return []
        return self.upcalls.forget(gfid, self.clock())

    def released(self, gfid: bytes) -> None:
        """An fd of ``gfid`` closed: an unlinked inode is forgotten with its last fd."""
        st = self.inodes.get(gfid)
        if gfid in self.forget_on_release and not (st and st.fd_count):
            self.forget_on_release.discard(gfid)
            self.notify(self.upcalls.forget(gfid, self.clock()))


def _waiters(st: InodeState) -> list[Any]:
    out = []
    for table in (st.inodelk, st.entrylk):
        for dom in table.domains.values():
            out += [lk.waiter for lk in dom.blocked if lk.waiter is not None]
    return out
