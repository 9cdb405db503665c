"""An escape sentinel for hostile campaigns (tools/fuzz.py, bench/soak.py): a folder next to the
served volume whose digest must not change while clients try to reach it through the server."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_digest(path: Path) -> str:
    """A digest of every name under ``path`` with its mode, size and mtime (not its content)."""
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        st = p.lstat()
        h.update(f"{p.relative_to(path)}:{st.st_mode}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()
