"""The README's table of recorded outcomes, from fixtures/conformance/expected-*.json:

    python -m fakegluster.conformance.readme [FIXTURES_DIR]

(tests/grading/test_readme.py keeps the README's marked section equal to it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import catalogue
from .real import FAKE_DIFFERS, REAL_VARIES

__all__ = ["CLIENTS", "table"]

#: column order and headings
CLIENTS = {"gfclient": "gfclient", "libgfapi": "libgfapi 10.3", "qemu": "QEMU 7.2", "fuse": "FUSE 10.3"}

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "conformance"


def table(fixtures: Path = DEFAULT_DIR) -> str:
    """Markdown: one row per scenario, one column per client (outcome; ``*`` = a known upstream
    cause, listed below; ``~`` = not deterministic; ``R`` = libgfapi's verdict checked on a real
    GlusterFS), then the known causes and flaky notes."""
    recorded = {}
    for client in CLIENTS:
        path = fixtures / f"expected-{client}.json"
        recorded[client] = json.loads(path.read_text())["outcomes"] if path.exists() else {}
    cat = catalogue()
    lines = ["| scenario | " + " | ".join(CLIENTS.values()) + " |", "|---|" + "---|" * len(CLIENTS)]
    notes: dict[str, list[tuple[str, str]]] = {}  # text -> [(code, client heading)]
    for code, s in cat.items():
        cells = []
        for client in CLIENTS:
            entry = recorded[client].get(code)
            if entry is None:
                cells.append("")
                continue
            cell = entry["outcome"]
            if client in s.known and cell in ("FAIL", "WARN"):
                cell += "*"
            if entry.get("also"):
                cell += "~"
            if client == "libgfapi" and s.real:
                cell += " R≠" if code in FAKE_DIFFERS else " R~" if code in REAL_VARIES else " R"
            cells.append(cell)
        lines.append(f"| `{code}` {s.name} | " + " | ".join(cells) + " |")
        for client, bug in s.known.items():
            if recorded.get(client, {}).get(code, {}).get("outcome") in ("FAIL", "WARN"):
                notes.setdefault(bug, []).append((code, CLIENTS.get(client, client)))
        for client in CLIENTS:
            entry = recorded[client].get(code) or {}
            if entry.get("flaky"):
                notes.setdefault("(~) " + entry["flaky"], []).append((code, CLIENTS[client]))
    out = []
    for text, where in notes.items():
        codes = ", ".join(f"`{c}`" for c in dict.fromkeys(c for c, _ in where))
        clients = ", ".join(dict.fromkeys(client for _, client in where))
        out.append(f"- {codes} ({clients}): {text}.")
    differs = ", ".join(
        f"`{code}` PASSes there ({diff} in the known differences)" for code, diff in FAKE_DIFFERS.items()
    )
    real = (
        "R: libgfapi 10.3 gets the same verdict from a real GlusterFS 10.3 (tests/grading: the scenario also runs "
        "there, `--real`); "
        + (f"R≠: it does not, the fake differs: {differs}; " if differs else "")
        + "R~: a real cluster gives this verdict or another from run to run: "
        + "; ".join(f"`{code}` ({'/'.join(v)}): {why}" for code, (v, why) in REAL_VARIES.items())
        + "."
    )
    return "\n".join(lines) + "\n\n" + "\n".join([real, *out]) + "\n"


if __name__ == "__main__":
    print(table(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR), end="")
