"""TLS as GlusterFS's socket transport does it (``rpc/rpc-transport/socket/src/socket.c``).

* The I/O path: a brick with ``server.ssl`` (``transport.socket.ssl-enabled`` in its
  protocol/server) does the TLS handshake right after ``accept()``, before any RPC; a client
  with ``client.ssl`` in its protocol/client does it right after ``connect()`` to a brick.
* Management encryption: the file ``/var/lib/glusterd/secure-access`` turns TLS on for
  glusterd's TCP listener (every connection, ``MGMT_SSL_ALWAYS``) and for every client
  connection to port 24007 (``socket_fix_ssl_opts``); its
  ``option transport.socket.ssl-cert-depth N`` line sets the depth
  (``glusterfs_read_secure_access_file``).  Unix sockets never use TLS.

Both sides build the same context (``ssl_setup_connection_params``): any TLS version the
library allows (TLS_method without SSLv2/3), no tickets, no compression, the server's cipher
order, ``ssl-cipher-list`` (default ``EECDH:EDH:HIGH:!3DES:!RC4:!DES:!MD5:!aNULL:!eNULL``),
EC curve ``prime256v1``, the own certificate chain and key, the CA list, verify depth
``ssl-cert-depth`` (default 1: the peer's certificate must be issued by a CA of the list),
``SSL_VERIFY_PEER`` both ways and ``X509_PURPOSE_ANY``.  No host name is checked.  After the
handshake the peer must have presented a certificate (``ssl_setup_connection_postfix``);
its common name is the connection's ``ssl_name``, which ``auth.ssl-allow`` checks
(:func:`fakegluster.server.auth.login_auth`).  A peer that does not speak TLS fails the
handshake ("wrong version number") and the socket is closed with its data unread, so the
peer sees a reset.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import re
import ssl
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "TLSSettings",
    "ClientTLS",
    "SECURE_ACCESS_FILE",
    "DEFAULT_CIPHER_LIST",
    "GLUSTERD_PORT",
    "secure_access",
    "peer_common_name",
    "ssl_enabled",
]

log = logging.getLogger("fakegluster.tls")


def _openssldir() -> str:
    """OPENSSLDIR, where glusterfs's configure puts SSL_CERT_PATH (``openssl version -d``):
    /usr/lib/ssl on Debian, /etc/pki/tls on Fedora."""
    cafile = ssl.get_default_verify_paths().openssl_cafile
    return os.path.dirname(cafile) if cafile else "/etc/ssl"


#: SSL_CERT_PATH of the glusterfs build: the defaults are glusterfs.pem, .key, .ca there
SSL_CERT_PATH = _openssldir()
DEFAULT_CERT_PATH = f"{SSL_CERT_PATH}/glusterfs.pem"
DEFAULT_KEY_PATH = f"{SSL_CERT_PATH}/glusterfs.key"
DEFAULT_CA_PATH = f"{SSL_CERT_PATH}/glusterfs.ca"
DEFAULT_VERIFY_DEPTH = 1
DEFAULT_CIPHER_LIST = "EECDH:EDH:HIGH:!3DES:!RC4:!DES:!MD5:!aNULL:!eNULL"
DEFAULT_EC_CURVE = "prime256v1"
#: SECURE_ACCESS_FILE (GLUSTERD_DEFAULT_WORKDIR "/secure-access")
SECURE_ACCESS_FILE = "/var/lib/glusterd/secure-access"
#: GF_DEFAULT_SOCKET_LISTEN_PORT: clients use management TLS on connections to this port
GLUSTERD_PORT = 24007

_PREFIX = "transport.socket."


def ssl_enabled(options: Mapping[str, str]) -> bool:
    """``transport.socket.ssl-enabled`` as gf_string2boolean reads it (absent: off)."""
    return options.get(_PREFIX + "ssl-enabled", "off").lower() in ("1", "yes", "true", "on", "enable")


@dataclasses.dataclass(frozen=True)
class TLSSettings:
    """The files and knobs of one side of a TLS connection (the ``transport.socket.ssl-*``
    options of an xlator, or the defaults)."""

    own_cert: str = DEFAULT_CERT_PATH
    private_key: str = DEFAULT_KEY_PATH
    ca_list: str = DEFAULT_CA_PATH
    cert_depth: int = DEFAULT_VERIFY_DEPTH
    cipher_list: str = DEFAULT_CIPHER_LIST
    crl_path: str | None = None
    dh_param: str | None = None
    ec_curve: str = DEFAULT_EC_CURVE

    @classmethod
    def from_options(cls, options: Mapping[str, str], cert_depth: int | None = None) -> TLSSettings:
        """From an xlator's options (``transport.socket.ssl-own-cert`` ...).  ``cert_depth``
        overrides the option (management connections take secure-access's depth)."""

        def get(name: str, default: str) -> str:
            return options.get(_PREFIX + name, default)

        depth = cert_depth
        if depth is None:
            try:
                depth = int(get("ssl-cert-depth", str(DEFAULT_VERIFY_DEPTH)), 0)
            except ValueError:
                depth = DEFAULT_VERIFY_DEPTH
        crl = options.get(_PREFIX + "ssl-crl-path")
        return cls(
            own_cert=get("ssl-own-cert", DEFAULT_CERT_PATH),
            private_key=get("ssl-private-key", DEFAULT_KEY_PATH),
            ca_list=get("ssl-ca-list", DEFAULT_CA_PATH),
            cert_depth=depth,
            cipher_list=get("ssl-cipher-list", DEFAULT_CIPHER_LIST),
            crl_path=None if crl is None or crl.lower() == "null" else crl,
            dh_param=options.get(_PREFIX + "ssl-dh-param"),
            ec_curve=get("ssl-ec-curve", DEFAULT_EC_CURVE),
        )

    def volfile_options(self) -> list[tuple[str, str]]:
        """The ``transport.socket.ssl-*`` options naming these settings (non-defaults only)."""
        out = []
        for name, value, default in (
            ("ssl-own-cert", self.own_cert, DEFAULT_CERT_PATH),
            ("ssl-private-key", self.private_key, DEFAULT_KEY_PATH),
            ("ssl-ca-list", self.ca_list, DEFAULT_CA_PATH),
            ("ssl-cert-depth", str(self.cert_depth), str(DEFAULT_VERIFY_DEPTH)),
            ("ssl-cipher-list", self.cipher_list, DEFAULT_CIPHER_LIST),
        ):
            if value != default:
                out.append((_PREFIX + name, value))
        return out

    def context(self, *, server: bool) -> ssl.SSLContext:
        """A fresh ``SSLContext`` configured as ``ssl_setup_connection_params`` configures
        its SSL_CTX.  Raises ``ssl.SSLError``/``OSError`` when a file cannot be loaded or no
        cipher is valid (the real transport then fails to initialise)."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        # SSL_VERIFY_PEER: a server asks for a certificate but the handshake does not fail
        # without one (the postfix check refuses it); a client insists on the server's.
        ctx.verify_mode = ssl.CERT_OPTIONAL if server else ssl.CERT_REQUIRED
        ctx.options |= ssl.OP_NO_TICKET | ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        if self.dh_param:
            try:
                ctx.load_dh_params(self.dh_param)
            except (OSError, ssl.SSLError) as exc:
                log.error("failed to open %s, DH ciphers are disabled (%s)", self.dh_param, exc)
        try:
            ctx.set_ecdh_curve(self.ec_curve)
        except (ValueError, ssl.SSLError) as exc:
            log.error("failed to load EC curve %s: %s. ECDH ciphers are disabled.", self.ec_curve, exc)
        ctx.set_ciphers(self.cipher_list)
        ctx.load_cert_chain(self.own_cert, self.private_key)
        ctx.load_verify_locations(cafile=self.ca_list, capath=self.crl_path)
        if self.crl_path:
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_CRL_CHECK_CHAIN
        _native(ctx, self.cert_depth)
        return ctx


# ---- what the ssl module does not offer: verify depth and purpose -------------------------

_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()
_X509_PURPOSE_ANY = 7


def _libssl() -> ctypes.CDLL | None:
    """The libssl the ``_ssl`` module is linked against (dlsym searches its dependencies)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            import _ssl

            lib = ctypes.CDLL(_ssl.__file__)
            for name, res, args in (
                ("SSL_CTX_set_verify_depth", None, [ctypes.c_void_p, ctypes.c_int]),
                ("SSL_CTX_get_verify_depth", ctypes.c_int, [ctypes.c_void_p]),
                ("SSL_CTX_set_purpose", ctypes.c_int, [ctypes.c_void_p, ctypes.c_int]),
                ("SSL_CTX_get_options", ctypes.c_uint64, [ctypes.c_void_p]),
            ):
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = res, args
            _lib = lib
        return _lib


def _ctx_pointer(ctx: ssl.SSLContext) -> int | None:
    """The ``SSL_CTX *`` behind ``ctx``: the first field after PyObject_HEAD of PySSLContext,
    checked by reading its options back through libssl."""
    lib = _libssl()
    if lib is None:
        return None
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not ptr or lib.SSL_CTX_get_options(ptr) != int(ctx.options):
        return None
    return ptr


def _native(ctx: ssl.SSLContext, depth: int) -> None:
    """``SSL_CTX_set_verify_depth`` and ``SSL_CTX_set_purpose(X509_PURPOSE_ANY)``."""
    try:
        ptr = _ctx_pointer(ctx)
    except (OSError, AttributeError, ValueError):
        ptr = None
    if ptr is None:
        log.warning("cannot reach the SSL_CTX of the ssl module: ssl-cert-depth is not applied")
        return
    lib = _libssl()
    assert lib is not None
    lib.SSL_CTX_set_verify_depth(ptr, depth)
    lib.SSL_CTX_set_purpose(ptr, _X509_PURPOSE_ANY)


# ---- connections ---------------------------------------------------------------------------


def peer_common_name(cert: dict[str, Any] | None) -> str | None:
    """The first commonName of a peer certificate (``X509_NAME_get_text_by_NID``), from
    ``SSLObject.getpeercert()``; None when the peer sent none."""
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)[:255]
    return ""


_DEPTH_RE = re.compile(r"^option transport\.socket\.ssl-cert-depth(.*)")


def secure_access(path: str = SECURE_ACCESS_FILE) -> tuple[bool, int]:
    """(management encryption on?, certificate depth) as glusterd and libgfapi read
    ``/var/lib/glusterd/secure-access``: the file's existence turns it on; a line
    ``option transport.socket.ssl-cert-depth N`` sets the depth (0 or junk: 1)."""
    if not os.path.exists(path):
        return False, DEFAULT_VERIFY_DEPTH
    depth = DEFAULT_VERIFY_DEPTH
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = _DEPTH_RE.match(line[:99])
                if m:
                    # the C code copies from offset len(match) of the line: the value with
                    # its leading blank, and atoi skips the blank
                    value = m.group(1)
                    if value:
                        depth = _atoi(value) or DEFAULT_VERIFY_DEPTH
                        break
    except OSError:
        pass
    return True, depth


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


@dataclasses.dataclass(frozen=True)
class ClientTLS:
    """When a client uses TLS (``socket_fix_ssl_opts``, ``glfs_new``'s secure-access check).

    ``secure_access``: management encryption is on (by default: the file exists), so every
    connection to port 24007 is TLS; it uses the connecting xlator's certificate options, or
    ``management`` (default: ``OPENSSLDIR/glusterfs.*``, /usr/lib/ssl on Debian) for the volfile connection, with the
    depth from the file.  Any other port is TLS when the protocol/client has
    ``transport.socket.ssl-enabled`` (``client.ssl``).  libgfapi's volfile connection to a
    glusterd on another port is never TLS (it sets no ssl-enabled).
    """

    secure_access: bool = False
    management: TLSSettings = TLSSettings()

    @classmethod
    def from_machine(cls, path: str = SECURE_ACCESS_FILE) -> ClientTLS:
        on, depth = secure_access(path)
        return cls(on, TLSSettings(cert_depth=depth))

    def settings(self, port: int | None, options: Mapping[str, str] | None = None) -> TLSSettings | None:
        """The TLS settings for a connection to ``port`` by an xlator with ``options``
        (None: the volfile connection), or None for plain text."""
        if port == GLUSTERD_PORT:
            if not self.secure_access:
                return None
            if options is None:
                return self.management
            return TLSSettings.from_options(options, cert_depth=self.management.cert_depth)
        if options is not None and ssl_enabled(options):
            return TLSSettings.from_options(options)
        return None
