"""TLS settings for gfclient: a re-export of :mod:`fakegluster.tls` (one source of truth for
what GlusterFS's socket transport does)."""

from fakegluster.tls import ClientTLS, TLSSettings

__all__ = ["ClientTLS", "TLSSettings"]
