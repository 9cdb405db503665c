"""gluster[+transport]:// URIs for the client: a re-export of :mod:`fakegluster.proto.uri`."""

from fakegluster.proto.uri import GlusterURI, URIError, parse_uri

__all__ = ["GlusterURI", "URIError", "parse_uri"]
