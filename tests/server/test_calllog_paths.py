"""Call-log assertions by path (issue #15): each call's path is worked out from the log's own
replies (LOOKUP, CREATE, MKDIR, ... tie gfids to names), as it was when the call was made."""

from __future__ import annotations

import errno

import pytest

import gfclient
from fakegluster.server import FakeGluster


@pytest.fixture
def server():
    with FakeGluster(["testvol"], ["tcp://127.0.0.1:0"]) as s:
        yield s


def test_a_seeded_file_is_named_by_its_lookup(server):
    """A file the client never created (seeded, or made by an earlier client) is known by the
    LOOKUP that found it: its OPEN, READ and RELEASE carry its path."""
    server.write_file("img/a.img", b"x" * 4096)
    with gfclient.connect(server.uri("testvol")) as vol, vol.fopen("img/a.img") as f:
        assert f.read() == b"x" * 4096
    calls = server.calls
    for proc in ("LOOKUP", "OPEN", "READ", "FLUSH", "RELEASE"):
        calls.assert_called(proc, path="/img/a.img", server="brick")
    opened = [p for proc, p in calls.paths(server="brick") if proc in ("OPEN", "FSTAT", "READ")]
    assert len(opened) >= 2 and set(opened) == {"/img/a.img"}


def test_paths_follow_renames_as_they_were_at_each_call(server):
    with gfclient.connect(server.uri("testvol")) as vol:
        vol.mkdir("d")
        with vol.fopen("d/f", "w") as f:
            f.write(b"1")
        vol.rename("d", "e")  # the directory's rename moves its child
        with vol.fopen("e/f", "r+") as f:
            f.write(b"2")
        vol.link("e/f", "hard")
        vol.unlink("e/f")
    calls = server.calls
    (first,) = calls.assert_called("WRITE", 1, path="/d/f")
    (second,) = calls.assert_called("WRITE", 1, path="/e/f")
    assert first.args.gfid == second.args.gfid and first.time < second.time
    calls.assert_called("RENAME", 1, path="/d", newpath="/e")
    calls.assert_called("LINK", 1, path="/e/f", newpath="/hard")
    calls.assert_called("UNLINK", 1, path="/e/f")
    calls.assert_not_called("WRITE", path="/hard")


def test_a_failed_path_assertion_lists_the_calls_with_their_paths(server):
    server.write_file("a", b"")
    with gfclient.connect(server.uri("testvol")) as vol:
        vol.stat("a")
        with pytest.raises(FileNotFoundError):
            vol.stat("missing")
    with pytest.raises(AssertionError) as failed:
        server.calls.assert_called("LOOKUP", path="/b")
    text = str(failed.value)
    assert "path /a:" in text and "path /missing:" in text and f"op_errno {errno.ENOENT}" in text
