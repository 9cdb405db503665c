"""gfclient: a pure-Python client of the GlusterFS 10.x wire protocol.

Blocking (like libgfapi-python)::

    import gfclient
    with gfclient.connect("gluster://127.0.0.1/testvol") as vol:
        with vol.fopen("dir/a.img", "w") as f:
            f.write(b"hello")
        print(vol.stat("dir/a.img").st_size)

trio::

    async with gfclient.aio.connect("gluster://127.0.0.1/testvol") as vol:
        async with await vol.fopen("a.img", "r") as f:
            data = await f.read()
"""

import logging as _logging

from . import aio
from .errors import GlusterConnectionError, RpcError, UnsupportedVolumeError
from .sync import File, Volume, connect
from .tls import ClientTLS, TLSSettings
from .uri import GlusterURI, URIError, parse_uri

__all__ = [
    "GlusterURI",
    "URIError",
    "parse_uri",
    "connect",
    "Volume",
    "File",
    "aio",
    "ClientTLS",
    "TLSSettings",
    "GlusterConnectionError",
    "RpcError",
    "UnsupportedVolumeError",
]

# A library: its records go where the application's logging config sends them, and nowhere
# (not to stderr through logging's last resort) when the application configured nothing.
_logging.getLogger("gfclient").addHandler(_logging.NullHandler())
