"""The pure lock tables (fakegluster/server/locks.py).

The example tests replay what a real 10.3 brick answered to the same sequences
(tests/server/test_brick_conformance.py asserts them on the wire, on fake and real); the
state machines hold the tables to a byte-map reference model and to the invariants of
features/locks (granted locks of different owners never conflict; a waiter always has
something in its way).
"""

from __future__ import annotations

import errno

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fakegluster.proto.common import GfProtoFlock
from fakegluster.server.locks import (
    BLOCKED,
    EAGAIN,
    GRANTED,
    LLONG_MAX,
    RDLCK,
    UNLCK,
    WRLCK,
    EntryLock,
    EntryLocks,
    InodeLock,
    InodeLocks,
    PosixLock,
    PosixLocks,
    lock_end,
)


def plk(type_, start, length, owner=b"o1", client="A", fd=0, pid=1, waiter=None):
    return PosixLock(type_, start, lock_end(start, length), client, owner, pid, fd, waiter=waiter)


def rng(lk):
    return (lk.type, lk.start, lk.length)


# ---- fcntl locks: the sequences read off the real brick -----------------------------------


def test_split_then_getlk_reports_the_first_conflict_in_list_order():
    t = PosixLocks()
    assert t.setlk(plk(WRLCK, 0, 100), False)[0] == GRANTED
    assert t.setlk(plk(RDLCK, 50, 10), False)[0] == GRANTED  # splits 0-99 in three
    assert [rng(lk) for lk in t.locks] == [(WRLCK, 0, 50), (RDLCK, 50, 10), (WRLCK, 60, 40)]
    other = dict(owner=b"o2", pid=7)
    assert rng(t.getlk(plk(WRLCK, 0, 0, **other))) == (WRLCK, 0, 50)
    assert rng(t.getlk(plk(RDLCK, 50, 5, **other))) == (UNLCK, 50, 5)  # read locks share
    assert rng(t.getlk(plk(RDLCK, 60, 5, **other))) == (WRLCK, 60, 40)
    # the same owner from another client is another owner
    assert rng(t.getlk(plk(WRLCK, 0, 0, client="B"))) == (WRLCK, 0, 50)
    assert t.setlk(plk(RDLCK, 50, 5, owner=b"o3", client="B"), False)[0] == GRANTED
    assert t.setlk(plk(WRLCK, 50, 5, owner=b"o3", client="B"), False)[0] == EAGAIN
    t.setlk(plk(UNLCK, 0, 50), False)
    assert rng(t.getlk(plk(WRLCK, 0, 0, **other))) == (RDLCK, 50, 10)
    t.setlk(plk(UNLCK, 0, 0), False)
    assert [(lk.owner, rng(lk)) for lk in t.locks] == [(b"o3", (RDLCK, 50, 5))]


def test_merge_of_one_owners_locks():
    t = PosixLocks()
    t.setlk(plk(WRLCK, 0, 10), False)
    t.setlk(plk(WRLCK, 5, 10), False)
    t.setlk(plk(WRLCK, 15, 5), False)  # adjacent, not overlapping: stays apart
    assert sorted(rng(lk) for lk in t.locks) == [(WRLCK, 0, 15), (WRLCK, 15, 5)]
    t.setlk(plk(WRLCK, 10, 0), False)
    assert [rng(lk) for lk in t.locks] == [(WRLCK, 0, 0)]


def test_blocked_waiters_are_woken_in_order_before_the_unlock_answer():
    t = PosixLocks()
    t.setlk(plk(WRLCK, 0, 100), False)
    assert t.setlk(plk(WRLCK, 50, 10, owner=b"o2", waiter="w2"), True) == (BLOCKED, [])
    assert t.setlk(plk(RDLCK, 0, 10, owner=b"o3", client="B", waiter="w3"), True) == (BLOCKED, [])
    status, answers = t.setlk(plk(UNLCK, 0, 50), False)
    assert status == GRANTED and [(a.waiter, a.op_ret, rng(a.lock)) for a in answers] == [("w3", 0, (RDLCK, 0, 10))]
    assert t.holds_fd(0)  # the unlock reply then says F_RDLCK: the fd still holds locks
    status, answers = t.setlk(plk(UNLCK, 0, 0), False)
    assert [(a.waiter, rng(a.lock)) for a in answers] == [("w2", (WRLCK, 50, 10))]


def test_release_flush_and_cancel():
    t = PosixLocks()
    t.setlk(plk(WRLCK, 0, 10, fd="anon"), False)
    t.setlk(plk(WRLCK, 300, 10, fd=1), False)
    t.setlk(plk(WRLCK, 400, 10, owner=b"o2", fd=0), False)
    assert t.setlk(plk(WRLCK, 0, 0, client="B", owner=b"o3", fd=5, waiter="w"), True)[0] == BLOCKED
    assert t.flush_owner("A", b"o1") == []  # both of o1's locks go, whatever their fd
    assert [rng(lk) for lk in t.granted()] == [(WRLCK, 400, 10)]
    assert [(a.waiter, a.op_ret) for a in t.release_fd(0)] == [("w", 0)]
    assert t.setlk(plk(WRLCK, 0, 0, waiter="x", fd=9), True)[0] == BLOCKED
    answers = t.release_fd(9)
    assert [(a.waiter, a.op_ret, a.op_errno) for a in answers] == [("x", -1, errno.EAGAIN)]
    assert t.setlk(plk(WRLCK, 0, 0, waiter="y", fd=9), True)[0] == BLOCKED
    assert t.cancel("y") == [] and len(t) == 1


def test_a_blocking_upgrade_gives_up_its_own_range_first():
    """``pl_send_prelock_unlock``: o1's read lock goes when its blocked upgrade waits."""
    t = PosixLocks()
    t.setlk(plk(RDLCK, 0, 10), False)
    t.setlk(plk(RDLCK, 0, 10, owner=b"o2"), False)
    assert t.setlk(plk(WRLCK, 0, 10, waiter="up"), True)[0] == BLOCKED
    assert [(lk.owner, lk.blocked) for lk in t.locks] == [(b"o2", False), (b"o1", True)]
    assert [a.waiter for a in t.setlk(plk(UNLCK, 0, 0, owner=b"o2"), False)[1]] == ["up"]


def test_read_locks_are_not_merged_past_another_owners_read_lock():
    """Read off a real brick: posixlk-count 3 after these, 1 after o2's unlock."""
    t = PosixLocks()
    for owner in (b"o1", b"o2", b"o2"):
        t.setlk(plk(RDLCK, 0, 0, owner=owner), False)
    assert len(t) == 3
    t.setlk(plk(UNLCK, 0, 0, owner=b"o2"), False)
    assert len(t) == 1
    t.setlk(plk(RDLCK, 0, 10, owner=b"o2"), False)
    t.setlk(plk(RDLCK, 5, 10, owner=b"o2"), False)
    assert len(t) == 3


def test_a_stale_write_lock_survives_a_read_relock():
    """Read off a real brick: o1 read-locks all, o2 read-locks from 1, o1 write-locks byte 0
    then read-locks all again; the new read lock meets o2's first and is appended, so o1's
    write lock on byte 0 stays and a third owner's read lock there is refused."""
    t = PosixLocks()
    for owner, type_, start, length in [(b"o1", RDLCK, 0, 0), (b"o2", RDLCK, 1, 0), (b"o1", WRLCK, 0, 1)]:
        t.setlk(plk(type_, start, length, owner=owner), False)
    t.setlk(plk(RDLCK, 0, 0), False)
    assert rng(t.getlk(plk(RDLCK, 0, 1, owner=b"o3"))) == (WRLCK, 0, 1)
    assert t.setlk(plk(RDLCK, 0, 1, owner=b"o3"), False)[0] == EAGAIN


def test_lock_end():
    assert lock_end(0, 0) == LLONG_MAX and lock_end(10, 5) == 14


# ---- fcntl locks: a reference model --------------------------------------------------------

#: Byte positions 0..23; 23 stands for every byte from 23 to LLONG_MAX (no request ends
#: inside that tail), so a byte map is an exact model.
TAIL = 23
owners = st.sampled_from([("A", b"o1"), ("A", b"o2"), ("B", b"o1"), ("B", b"o3")])


def _bytes(start, length):
    end = TAIL if length == 0 else start + length - 1
    return range(start, end + 1)


class PosixModel(RuleBasedStateMachine):
    """Non-blocking requests against POSIX record-lock semantics, write locks and unlocks
    only: with read locks gluster departs from POSIX (see the next test), and the
    blocking machine below covers them."""

    def __init__(self):
        super().__init__()
        self.t = PosixLocks()
        self.model: dict[tuple, dict[int, int]] = {}  # (client, owner) -> byte -> type
        self.waiters = 0

    @rule(who=owners, type_=st.sampled_from([WRLCK, UNLCK]), start=st.integers(0, 15), length=st.integers(0, 7))
    def setlk(self, who, type_, start, length):
        req = plk(type_, start, length, owner=who[1], client=who[0])
        status, answers = self.t.setlk(req, False)
        mine = self.model.setdefault(who, {})
        span = _bytes(start, length)
        conflict = type_ != UNLCK and any(
            b in theirs and WRLCK in (theirs[b], type_)
            for other, theirs in self.model.items()
            if other != who
            for b in span
        )
        assert status == (EAGAIN if conflict else GRANTED)
        assert answers == []
        if not conflict:
            for b in span:
                if type_ == UNLCK:
                    mine.pop(b, None)
                else:
                    mine[b] = type_

    @rule(who=owners, type_=st.sampled_from([RDLCK, WRLCK]), start=st.integers(0, 15), length=st.integers(0, 7))
    def getlk(self, who, type_, start, length):
        got = self.t.getlk(plk(type_, start, length, owner=who[1], client=who[0]))
        conflicting = {
            (other, b)
            for other, theirs in self.model.items()
            if other != who
            for b in _bytes(start, length)
            if b in theirs and WRLCK in (theirs[b], type_)
        }
        if not conflicting:
            assert got.type == UNLCK
        else:
            assert (got.client, got.owner) != who and got.type in (RDLCK, WRLCK)
            assert any(o == (got.client, got.owner) for o, _ in conflicting)

    @invariant()
    def same_bytes_as_the_model(self):
        for who, mine in self.model.items():
            have = {}
            for lk in self.t.granted():
                if (lk.client, lk.owner) == who:
                    for b in range(lk.start, min(lk.end, TAIL) + 1):
                        assert b not in have, "one owner's locks overlap: they were not merged"
                        have[b] = lk.type
            assert have == mine


class PosixBlocking(RuleBasedStateMachine):
    """With blocking requests: whatever happens, granted locks never conflict and a waiter
    always overlaps a granted lock."""

    def __init__(self):
        super().__init__()
        self.t = PosixLocks()
        self.n = 0
        self.waiting: set[int] = set()

    @rule(who=owners, type_=st.sampled_from([RDLCK, WRLCK, UNLCK]), start=st.integers(0, 15),
          length=st.integers(0, 7), block=st.booleans(), fd=st.integers(0, 2))  # fmt: skip
    def setlk(self, who, type_, start, length, block, fd):
        self.n += 1
        status, answers = self.t.setlk(plk(type_, start, length, who[1], who[0], fd, waiter=self.n), block)
        if status == BLOCKED:
            self.waiting.add(self.n)
        self._settle(answers)

    @precondition(lambda self: self.t.locks)
    @rule(data=st.data())
    def release(self, data):
        self._settle(self.t.release_fd(data.draw(st.sampled_from([lk.fd for lk in self.t.locks]))))

    @rule(who=owners)
    def flush(self, who):
        self._settle(self.t.flush_owner(*who))

    def _settle(self, answers):
        for a in answers:
            assert a.waiter in self.waiting
            self.waiting.discard(a.waiter)

    @invariant()
    def consistent(self):
        granted = self.t.granted()
        for i, a in enumerate(granted):
            for b in granted[i + 1 :]:
                if a.overlaps(b) and WRLCK in (a.type, b.type):
                    assert a.same_owner(b)
        for lk in self.t.locks:
            if lk.blocked:
                assert any(g.overlaps(lk) for g in granted)
        assert {lk.waiter for lk in self.t.locks if lk.blocked} == self.waiting


TestPosixModel = PosixModel.TestCase
TestPosixBlocking = PosixBlocking.TestCase
TestPosixModel.settings = TestPosixBlocking.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


# ---- inodelk ---------------------------------------------------------------------------------


def ilk(type_, start=0, length=0, owner=b"o1", client="A", domain="d", waiter=None, pid=1):
    return InodeLock(type_, start, lock_end(start, length), client, owner, domain, pid, (start, length), waiter)


def test_inodelk_owners_domains_and_exact_unlocks():
    t = InodeLocks()
    assert t.lock(ilk(WRLCK), False, 0)[0] == GRANTED
    assert t.lock(ilk(WRLCK), False, 0)[0] == GRANTED  # the same owner again: a second lock
    assert t.lock(ilk(WRLCK, owner=b"o2"), False, 0)[0] == EAGAIN
    assert t.lock(ilk(WRLCK, client="B"), False, 0)[0] == EAGAIN
    assert t.lock(ilk(WRLCK, client="B", domain="d2"), False, 0)[0] == GRANTED
    assert t.lock(ilk(RDLCK, client="B"), False, 0)[0] == EAGAIN
    assert (t.count(), t.count("d"), t.count("d2"), t.count("none")) == (3, 2, 1, 0)
    assert t.unlock(ilk(UNLCK, 0, 10), 0)[0] is False  # not exactly a granted range: EINVAL
    assert t.unlock(ilk(UNLCK, owner=b"o2"), 0)[0] is False
    assert t.unlock(ilk(UNLCK), 0)[0] and t.unlock(ilk(UNLCK), 0)[0]
    assert t.unlock(ilk(UNLCK), 0)[0] is False


def test_inodelk_waiters_starvation_guard_and_contention():
    t = InodeLocks(notify_delay=5)
    holder = ilk(WRLCK, 0, 100)
    assert t.lock(holder, False, 0) == (GRANTED, [])
    status, contention = t.lock(ilk(WRLCK, 50, 10, client="B", owner=b"o3", waiter="b"), True, 1)
    assert status == BLOCKED and [c.lock for c in contention] == [holder]
    assert t.lock(ilk(WRLCK, 50, 10, client="B", owner=b"o4"), False, 2) == (EAGAIN, [])  # within the delay
    # grantable against granted locks, but a blocked request is in its way
    assert t.lock(ilk(RDLCK, 150, 10, client="B", owner=b"o4"), False, 7)[0] == GRANTED
    assert t.lock(ilk(WRLCK, 55, 1, client="C", owner=b"o5"), False, 7)[0] == EAGAIN
    ok, answers, _ = t.unlock(ilk(UNLCK, 0, 100), 8)
    assert ok and [(a.waiter, a.op_ret) for a in answers] == [("b", 0)]
    assert t.count() == 2


def test_inodelk_cleanup_fails_the_clients_waiters():
    t = InodeLocks()
    t.lock(ilk(WRLCK), False, 0)
    t.lock(ilk(WRLCK, client="B", owner=b"o3", waiter="b"), True, 0)
    t.lock(ilk(WRLCK, client="C", owner=b"o3", waiter="c"), True, 0)
    answers, _ = t.cleanup("B", 0)
    assert [(a.waiter, a.op_ret, a.op_errno) for a in answers] == [("b", -1, errno.EAGAIN)]
    answers, _ = t.cleanup("A", 0)
    assert [(a.waiter, a.op_ret) for a in answers] == [("c", 0)]


def test_inodelk_held_removes():
    """PL_INODE_REMOVE: other clients' user locks hold a remove; meanwhile lockless clients
    wait; the remove runs once they are unlocked (a disconnect does not look), then the
    waiters are granted."""
    t = InodeLocks(notify_delay=5)
    mine, other, internal = ilk(WRLCK, 30, 1, client="R"), ilk(WRLCK, 0, 10), ilk(WRLCK, 20, 1, client="S", pid=-6)
    for lk in (mine, other, internal):
        assert t.lock(lk, False, 0)[0] == GRANTED
    ok, contention = t.prepare_remove("R", "unlink", 1)
    assert not ok and [c.lock for c in contention] == [other]
    assert t.lock(ilk(RDLCK, 100, 1, client="C", owner=b"o9"), False, 1)[0] == EAGAIN  # holds nothing here
    assert t.lock(ilk(RDLCK, 100, 1, client="C", owner=b"o9", waiter="c"), True, 1)[0] == BLOCKED
    assert t.lock(ilk(RDLCK, 100, 1, client="A", owner=b"o2"), False, 1)[0] == GRANTED  # holds one
    assert t.ready_removes() == []
    t.cleanup("A", 2)
    assert t.ready_removes() == ["unlink"]
    assert t.prepare_remove("R", "unlink", 3) == (True, [])
    assert t.lock(ilk(RDLCK, 200, 1, client="R", owner=b"o7"), False, 3)[0] == EAGAIN  # a remove runs
    answers, _ = t.removed(4)
    assert [(a.waiter, a.op_ret) for a in answers] == [("c", 0)]
    assert not t.remove_locked


class InodelkMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.t = InodeLocks(notify_delay=None)
        self.n = 0
        self.waiting: set[int] = set()
        self.held: list[tuple] = []  # (client, owner, domain, start, length) of granted locks

    @rule(who=owners, type_=st.sampled_from([RDLCK, WRLCK]), start=st.integers(0, 15), length=st.integers(0, 7),
          domain=st.sampled_from(["d1", "d2"]), block=st.booleans())  # fmt: skip
    def lock(self, who, type_, start, length, domain, block):
        self.n += 1
        req = ilk(type_, start, length, who[1], who[0], domain, self.n)
        status, _ = self.t.lock(req, block, 0)
        if status == BLOCKED:
            self.waiting.add(self.n)
        if status == GRANTED:
            self.held.append(_key(req))

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def unlock(self, data):
        key = data.draw(st.sampled_from(self.held))
        client, owner, domain, start, length = key
        ok, answers, _ = self.t.unlock(ilk(UNLCK, start, length, owner, client, domain), 0)
        assert ok
        self.held.remove(key)
        self._settle(answers)
        self._wake()

    @rule(client=st.sampled_from("AB"))
    def cleanup(self, client):
        answers, _ = self.t.cleanup(client, 0)
        self.held = [h for h in self.held if h[0] != client]
        self._settle(answers)

    @rule(client=st.sampled_from("ABC"))
    def remove(self, client):
        """PL_INODE_REMOVE: runs at once (and is done) or waits for other clients' locks."""
        self.n += 1
        ok, _ = self.t.prepare_remove(client, ("rm", client, self.n), 0)
        if ok:
            self._removed()
        else:
            assert self.t.owners_besides(client)

    def _removed(self):
        answers, _ = self.t.removed(0)
        self._settle(answers)

    def _wake(self):
        """What lockfops does after an unlock: the removes nothing holds any more run."""
        for token in self.t.ready_removes():
            ok, _ = self.t.prepare_remove(token[1], token, 0)
            if ok:  # (else an earlier one's end granted a waiter of another client: it waits again)
                self._removed()

    def _settle(self, answers):
        for a in answers:
            assert a.waiter in self.waiting
            self.waiting.discard(a.waiter)
            if a.op_ret == 0:
                self.held += [_key(lk) for d in self.t.domains.values() for lk in d.granted if lk.waiter == a.waiter]

    @invariant()
    def consistent(self):
        for dom in self.t.domains.values():
            for i, a in enumerate(dom.granted):
                for b in dom.granted[i + 1 :]:
                    assert not a.conflicts(b) or a.same_owner(b)
            for w in dom.blocked:
                assert (
                    any(g.conflicts(w) and not g.same_owner(w) for g in dom.granted)
                    or any(b is not w and b.conflicts(w) for b in dom.blocked)
                    or self.t.remove_locked  # (a remove waits: lockless clients wait too)
                )
        assert self.t.removing == 0  # (a remove runs to its end within one step)
        assert self.t.remove_locked == bool(self.t.removes)
        assert {w.waiter for d in self.t.domains.values() for w in d.blocked} == self.waiting
        assert sorted(self.held) == sorted(_key(x) for d in self.t.domains.values() for x in d.granted)


def _key(lk):
    return (lk.client, lk.owner, lk.domain, *lk.flock)


TestInodelkMachine = InodelkMachine.TestCase
TestInodelkMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


# ---- entrylk ---------------------------------------------------------------------------------


def elk(name="x", type_=WRLCK, owner=b"o1", client="A", domain="d", waiter=None):
    return EntryLock(type_, name, client, owner, domain, 1, waiter)


def test_entrylk_names_types_and_unlocks():
    t = EntryLocks()
    assert t.lock(elk(), False) == GRANTED
    assert t.lock(elk(), False) == GRANTED
    assert t.lock(elk(type_=RDLCK, owner=b"o2"), False) == EAGAIN
    assert t.lock(elk("y", RDLCK, b"o3", "B"), False) == GRANTED
    assert t.lock(elk("y", RDLCK, b"o4", "B"), False) == EAGAIN  # read locks on a name conflict too
    assert t.lock(elk(None, owner=b"o4", client="B"), False) == EAGAIN
    assert t.lock(elk(type_=RDLCK), False) == GRANTED
    assert t.count() == 4 and t.has_name_lock("x") and not t.has_name_lock("z")
    assert t.unlock(elk(type_=RDLCK))[0]
    assert t.unlock(elk("zz"))[0] is False
    assert t.unlock(elk())[0] and t.unlock(elk())[0] and t.unlock(elk())[0] is False


def test_entrylk_waiters():
    t = EntryLocks()
    t.lock(elk("q", owner=b"o3", client="B"), False)
    assert t.lock(elk("q", waiter="a"), True) == BLOCKED
    assert t.lock(elk(None, owner=b"o9", client="C", waiter="c"), True) == BLOCKED
    ok, answers = t.unlock(elk("q", owner=b"o3", client="B"))
    assert ok and [a.waiter for a in answers] == ["a"]
    assert [(a.waiter, a.op_ret) for a in t.cleanup("A")] == [("c", 0)]


# ---- reservations (reservelk.py) ------------------------------------------------------------


def _res(start, end, owner, client="c1", waiter=None):
    return PosixLock(WRLCK, start, end, client, owner, waiter=waiter)


def test_reservations_equal_ranges_conflict_whoever_holds_them():
    from fakegluster.server.reservelk import Reservations

    r = Reservations()
    assert r.reserve(_res(0, 9, b"o1"), False) == GRANTED
    assert r.reserve(_res(0, 9, b"o1"), False) == EAGAIN
    assert r.reserve(_res(5, 14, b"o2"), False) == GRANTED
    assert r.verify(_res(0, 9, b"o1", client="other"))  # the lk-owner alone counts: consumed
    assert [(x.start, x.owner) for x in r.held] == [(5, b"o2")]
    assert not r.verify(_res(0, 9, b"o2")) and r.dead_calls == 1  # no equal range: queued for good
    assert r.busy()


def test_reservation_waiters_after_a_queued_call_become_posix_locks():
    """grant_blocked_lock_calls re-verifies the RESLK_LCKW waiters still blocked once some call is
    queued: one of another owner than the new holder is queued for good too."""
    from fakegluster.server.reservelk import Reservations

    r, posix = Reservations(), PosixLocks()
    assert r.reserve(_res(0, 9, b"o1"), False) == GRANTED
    assert r.reserve(_res(0, 9, b"o2", waiter="w2"), True) == BLOCKED
    assert r.reserve(_res(0, 9, b"o3", waiter="w3"), True) == BLOCKED
    assert not r.verify(_res(50, 59, b"o4"))
    found, answers = r.unreserve(_res(0, 9, b"o1"), posix)
    assert found and [(a.waiter, a.op_ret) for a in answers] == [("w2", 0)]
    assert r.blocked == [] and r.dead_calls == 2 and [x.owner for x in r.held] == [b"o2"]
    assert not len(posix)


def test_an_inode_makes_its_reservations_at_the_first_one():
    """InodeState.reservelk is None until the first reservation LK cmd (an idle brick's memory
    counts per inode); a posix lock, or an inode without one, does not make it."""
    from fakegluster.server import FakeGluster
    from fakegluster.server.brickstate import BrickState
    from tests.rawclient import ROOT, Mount, v3

    st = BrickState().inode(b"g" * 16)
    assert st.reservelk is None and st.idle()
    res = st.reservations()
    assert st.reservations() is res and st.reservelk is res and st.idle()
    assert res.reserve(_res(0, 9, b"o1"), False) == GRANTED and not st.idle()

    with FakeGluster(["v"], ["tcp://127.0.0.1:0"]) as server:
        m = Mount("127.0.0.1", server.info.port, "v")
        c = m.create(ROOT, "f")
        gfid, brick = c.stat.ia_gfid, server.bricks("v")[0].brick

        def lk(cmd: int) -> int:
            fl = GfProtoFlock(type=WRLCK, whence=0, start=0, len=10, pid=1, lk_owner=b"o1")
            return m.fop("LK", cred=v3(1, owner=b"o1"), gfid=gfid, fd=c.fd, cmd=cmd, type=WRLCK, flock=fl).op_ret

        assert lk(1) == 0  # F_SETLK
        assert server.run_sync(lambda: brick.state.peek(gfid).reservelk) is None
        assert lk(3) == 0  # GF_LK_RESLK_LCK
        assert server.run_sync(lambda: brick.state.peek(gfid).reservelk.busy())
        m.close()
