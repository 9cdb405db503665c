"""fakegluster: a pure-Python GlusterFS 10.x simulator speaking the real wire protocol.

The protocol core lives in :mod:`fakegluster.proto` (sans-IO: bytes in, events out).
"""

__version__ = "0.1.0"
