"""The catalogue: importing this package registers every scenario.

A scenario's prerequisites must be registered before it, so the modules load in this order
(not alphabetically).
"""

from __future__ import annotations

import importlib

MODULES = ("mgmt", "transport", "bricks", "fops", "setvolume", "locks", "graph", "cluster")

for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
