"""gfclient: a pure-Python client of the GlusterFS 10.x wire protocol."""

from .uri import GlusterURI, URIError, parse_uri

__all__ = ["GlusterURI", "URIError", "parse_uri"]
