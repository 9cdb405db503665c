"""The README's table of outcomes is the one the recorded expectations give."""

from __future__ import annotations

from pathlib import Path

from fakegluster.conformance.readme import table

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- conformance table: python -m fakegluster.conformance.readme -->\n"
END = "<!-- end of conformance table -->"


def test_readme_table_is_the_recorded_outcomes():
    text = README.read_text()
    assert START in text and END in text
    inside = text.split(START, 1)[1].split(END, 1)[0]
    assert inside == table(), "regenerate: python -m fakegluster.conformance.readme (paste between the markers)"
