"""Known differences between fakegluster and a real GlusterFS 10.3, in one registry.

Each entry says what the real one does, what the fake does, and why the fake still differs.
The README's "Known differences" list is generated from here (``python -m
fakegluster.differences``; tests/test_differences.py keeps the two equal), and every entry is
pinned by a test that names its code (checked by the same test module):

* a conformance test asserting the *real* behaviour, marked
  ``@known_difference("CODE")`` (tests/helpers.py): a strict xfail on the fake targets, so the
  day the fake does it right the test fails until the entry goes;
* or, where the real behaviour cannot be asserted (it crashes, or depends on the real host's
  page cache), an explicit exception in the test that names the code.

Adding one is one call (and a test that pins it)::

    known("CODE", real="what a real 10.3 does", fake="what we do", why="why we differ")
"""

from __future__ import annotations

import dataclasses
import textwrap

__all__ = ["Difference", "DIFFERENCES", "known", "get", "markdown"]


@dataclasses.dataclass(frozen=True)
class Difference:
    """One known difference: ``code`` (stable, UPPER_SNAKE), ``real``, ``fake``, ``why``."""

    code: str
    real: str
    fake: str
    why: str


#: code -> Difference, in the order they were declared.
DIFFERENCES: dict[str, Difference] = {}


def known(code: str, *, real: str, fake: str, why: str) -> Difference:
    """Declare a known difference (see the module docstring)."""
    if not code.isidentifier() or code.upper() != code:
        raise ValueError(f"a difference code is UPPER_SNAKE_CASE, not {code!r}")
    if code in DIFFERENCES:
        raise ValueError(f"difference {code} is declared twice")
    DIFFERENCES[code] = diff = Difference(code, real, fake, why)
    return diff


def get(code: str) -> Difference:
    """The entry ``code`` (``KeyError`` naming the known codes otherwise)."""
    try:
        return DIFFERENCES[code]
    except KeyError:
        raise KeyError(f"no known difference {code!r}; known: {', '.join(DIFFERENCES)}") from None


def markdown(width: int = 100) -> str:
    """The README's list: one bullet per entry."""
    out = []
    for d in DIFFERENCES.values():
        text = f"**{d.code}**: a real 10.3 {d.real}; the fake {d.fake}. {d.why}"
        out.append(textwrap.fill(text, width, initial_indent="- ", subsequent_indent="  "))
    return "\n".join(out) + "\n"


# ---- the registry -------------------------------------------------------------------------
known(
    "FOP_V330",
    real=(
        "brick also serves the old FOP program 'GlusterFS 3.3' (1298437 v330): its DUMP lists it, a NULL call"
        " succeeds, a STAT without arguments gets GARBAGE_ARGS"
    ),
    fake="serves only v400, so a v330 call gets PROG_MISMATCH and DUMP does not list it",
    why="No 10.x client speaks v330 (libgfapi and FUSE negotiate v400).",
)
known(
    "READDIR_ORDER",
    real="brick lists a directory in ext4's hash order, with ext4's cookies as d_off",
    fake="lists in its store's order (creation order for the memory store), with its own cookies",
    why="No client may depend on the order; tests compare listings as sets.",
)
known(
    "SUCCESS_OP_ERRNO",
    real="brick leaves whatever op_errno its history left on some successful replies",
    fake="sends 0 there",
    why="Clients ignore op_errno when op_ret >= 0; tests compare it only on failures.",
)
known(
    "SEEK_DATA_PAGE_CACHE",
    real=(
        "brick on ext4 reports unwritten extents (left by write -z or fallocate) as data for SEEK_DATA/SEEK_HOLE"
        " once its page cache holds them, so a range read after it was zeroed can show as data in qemu-img map"
    ),
    fake="answers by extents, like ext4 with a cold page cache",
    why="The fake has no page cache; tests compare maps before such a read.",
)
known(
    "NAMELINK_CRASH",
    real="brick dies on a single NAMELINK call (glusterfsd crashes; any client can do it)",
    fake="answers NAMELINK with ENOSYS",
    why="A crash is not worth imitating; the real behaviour cannot be tested on a shared brick.",
)

known(
    "VOLFILE_BRICK_ADDRESS",
    real=(
        "glusterd names each brick of a client volfile by its host name (remote-host), with no remote-port (it is"
        " on port 24007): system:: getspec shows it, glfsheal prints it in volume heal V info"
    ),
    fake=(
        "names a brick by the address the client reached its glusterd on (remote-host 127.0.0.1...), and adds"
        " remote-port when its glusterd is not on 24007"
    ),
    why="Clients must reach a fake on another port or address; its nodes are addresses of one machine.",
)


if __name__ == "__main__":
    print(markdown(), end="")
