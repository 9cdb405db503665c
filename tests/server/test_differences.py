"""The known differences of fakegluster/differences.py, pinned at the wire on every target.

Each test asserts what a real GlusterFS 10.3 brick does (read off one: see the entry) and is
marked ``known_difference``: it passes on ``real`` and is a strict xfail on the fakes, so the
fake getting it right fails here until the entry is removed.  Where the real behaviour cannot
be exercised (NAMELINK kills the brick), the test is an explicit exception on the fakes only.
"""

from __future__ import annotations

import errno
import uuid

import pytest

from fakegluster import differences
from fakegluster.proto import AcceptStat, dump, fops
from fakegluster.proto.gfdict import GfxValue
from fakegluster.proto.rpc import AuthGlusterfsParamsV3, lk_owner_for_pid
from tests.helpers import known_difference
from tests.rawclient import ROOT


@known_difference("FOP_V330")
def test_the_brick_serves_fop_v330(mount):
    progs = mount.raw.call(dump.GF_DUMP_PROGRAM, 1, 1, dump.GfDumpReq(dump.GFS_ID)).result.prog
    assert ("GlusterFS 3.3", fops.GLUSTER_FOP_PROGRAM, 330) in [(p.progname, p.prognum, p.progver) for p in progs]
    assert mount.raw.call(fops.GLUSTER_FOP_PROGRAM, 330, fops.GfFop.NULL).stat == AcceptStat.SUCCESS
    assert mount.raw.call(fops.GLUSTER_FOP_PROGRAM, 330, fops.GfFop.STAT).stat == AcceptStat.GARBAGE_ARGS


def test_a_non_root_caller_cannot_create_in_a_root_owned_directory(mount):
    """Was NO_PERMISSION_CHECKS until bricksem's posix-acl checks (server/acl.py)."""
    d = mount.mkdir(ROOT, f"perm-{uuid.uuid4().hex[:8]}", 0o755).stat.ia_gfid
    user = AuthGlusterfsParamsV3(pid=4242, uid=1000, gid=1000, lk_owner=lk_owner_for_pid(4242))
    req = fops.GfxCreateReq(
        pargfid=d, flags=0o102, mode=0o644, bname="f", xdata={"gfid-req": GfxValue.uuid(uuid.uuid4().bytes)}
    )
    r = mount.raw.call(fops.GLUSTER_FOP_PROGRAM, 400, fops.GfFop.CREATE, req, cred=user).result
    assert (r.op_ret, r.op_errno) == (-1, errno.EACCES)


@pytest.mark.targets("fake", "fake-subprocess")
def test_namelink_is_answered_instead_of_crashing_the_brick(mount):
    """NAMELINK_CRASH: a real brick dies of this call, so it runs on the fakes only."""
    differences.get("NAMELINK_CRASH")
    r = mount.fop("NAMELINK", pargfid=ROOT, bname=f"n-{uuid.uuid4().hex[:8]}")
    assert (r.op_ret, r.op_errno) == (-1, errno.ENOSYS)
