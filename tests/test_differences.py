"""The known-differences registry (fakegluster/differences.py): every entry pinned by a
test, the README's list generated from it."""

from __future__ import annotations

import pathlib
import re

import pytest

from fakegluster import differences

ROOT = pathlib.Path(__file__).resolve().parent.parent
START, END = "<!-- known differences: python -m fakegluster.differences -->", "<!-- end of known differences -->"


def test_every_difference_is_pinned_by_a_test():
    here = pathlib.Path(__file__).resolve()
    sources = {p: p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.resolve() != here}
    unpinned = [code for code in differences.DIFFERENCES if not any(code in text for text in sources.values())]
    assert unpinned == [], "pin each difference with a test naming its code (see fakegluster/differences.py)"


def test_the_readme_lists_the_registry():
    readme = (ROOT / "README.md").read_text()
    m = re.search(re.escape(START) + r"\n(.*?)" + re.escape(END), readme, re.S)
    assert m, f"README.md has no section between {START!r} and {END!r}"
    assert m.group(1) == differences.markdown(), "regenerate it: python -m fakegluster.differences"


def test_codes_are_unique_and_named_in_upper_snake_case():
    with pytest.raises(ValueError, match="twice"):
        differences.known("FOP_V330", real="r", fake="f", why="w")
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        differences.known("lower", real="r", fake="f", why="w")
    with pytest.raises(KeyError, match="FOP_V330"):
        differences.get("NO_SUCH_CODE")
