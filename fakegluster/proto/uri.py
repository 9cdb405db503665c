"""``gluster[+transport]://`` URIs, parsed exactly like QEMU 7.2's gluster block driver.

The rules are those of ``/work/shared/protocol/URI.md`` §1.1-1.3, which describes QEMU 7.2
``block.c`` (protocol lookup), ``util/uri.c`` (the RFC 3986 parser and ``query_params_parse``)
and ``block/gluster.c`` (``qemu_gluster_parse_uri``, ``parse_volume_options``).  They were
checked against the real ``qemu-img`` 7.2.22; see ``tools/uri_probe.py`` and
``fixtures/uri/qemu72_cases.json``.  Pure: no IO, stdlib only.

Stages, in order:

A. *Protocol*: the text before the first ``:`` must come before any ``/`` and be exactly
   (case-sensitively) ``gluster``, ``gluster+tcp``, ``gluster+unix`` or ``gluster+rdma``.
B. *RFC 3986 syntax*: ``//[userinfo@]host[:port]`` then a path, or a bare path
   (``gluster:/v/i``, ``gluster:v/i``); then ``?query`` and ``#fragment``.  Userinfo and
   fragment are ignored.  Host and path are percent-decoded, the query is kept raw.
C. *Gluster*: volume = first path segment (leading ``/`` skipped), image = all the rest
   verbatim.  Query: tcp/rdma take no parameter, unix exactly one, ``socket``.  A tcp URI
   without host means ``localhost``; port absent or 0 means 24007.

Deliberate differences from QEMU 7.2, and nothing else:

1. a ``[...]`` host is returned without brackets and must be a valid IPv6 address
   (QEMU keeps the brackets and validates nothing, which makes IPv6 unusable);
2. ``gluster+rdma`` keeps transport ``"rdma"`` (QEMU warns and uses tcp);
3. a decoded NUL is an error (QEMU's C strings silently truncate at ``%00``), and so is
   ``?socket`` without ``=`` (QEMU accepts it, then libgfapi fails with EINVAL).

Decoded octets that are not UTF-8 are kept as surrogate escapes (like ``os.fsdecode``).
"""

from __future__ import annotations

import ipaddress
import string
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["GlusterURI", "URIError", "parse_uri", "SCHEMES", "DEFAULT_PORT"]

#: Protocol names registered by QEMU 7.2's ``block-gluster.so`` -> our transport.
SCHEMES = {"gluster": "tcp", "gluster+tcp": "tcp", "gluster+unix": "unix", "gluster+rdma": "rdma"}
_SCHEME_OF = {"tcp": "gluster", "unix": "gluster+unix", "rdma": "gluster+rdma"}
DEFAULT_PORT = 24007  # GLUSTER_DEFAULT_PORT

# RFC 3986 character classes, as util/uri.c uses them.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_HEX = frozenset(string.hexdigits)
_DIGITS = frozenset(string.digits)
_USERINFO = _UNRESERVED | _SUB_DELIMS | {":"}
_REG_NAME = _UNRESERVED | _SUB_DELIMS
_PCHAR = _UNRESERVED | _SUB_DELIMS | {":", "@"}
_PATH = _PCHAR | {"/"}
_QUERY = _PCHAR | {"/", "?"}
_FRAGMENT = _PCHAR | {"/", "?", "[", "]"}
# What to_uri() may leave unescaped.  The query value must also escape & ; = (separators).
_SAFE_V6 = _REG_NAME | {":"}
_SAFE_SEGMENT = _PCHAR
_SAFE_IMAGE = _PATH
_SAFE_QUERY_VALUE = _UNRESERVED | frozenset("/:@!$'()*+,")


class URIError(ValueError):
    """A string that is not a gluster URI QEMU 7.2 (plus our deliberate rules) accepts.

    ``rule`` names the broken rule; ``uri`` is the offending text (None when a
    :class:`GlusterURI` was built directly with inconsistent fields).
    """

    def __init__(self, rule: str, uri: str | None = None) -> None:
        self.rule = rule
        self.uri = uri
        super().__init__(rule if uri is None else f"invalid gluster URI {uri!r}: {rule}")


@dataclass(frozen=True)
class GlusterURI:
    """One parsed URI.  ``path`` is the image path without a leading ``/``, or None when the
    URI names only a volume (``parse_uri(..., require_path=False)``).  tcp/rdma have
    ``host``/``port`` (IPv6 without brackets) and no ``socket``; unix the reverse."""

    transport: str
    host: str | None
    port: int | None
    socket: str | None
    volume: str
    path: str | None

    def __post_init__(self) -> None:
        def bad(rule: str) -> URIError:
            return URIError(f"{rule} ({self!r})")

        if self.transport not in _SCHEME_OF:
            raise bad("transport must be 'tcp', 'unix' or 'rdma'")
        if self.transport == "unix":
            if self.host is not None or self.port is not None:
                raise bad("unix transport takes no host or port")
            if not isinstance(self.socket, str):
                raise bad("unix transport needs a socket path")
        else:
            if self.socket is not None:
                raise bad(f"{self.transport} transport takes no socket")
            if not isinstance(self.host, str) or not self.host:
                raise bad(f"{self.transport} transport needs a non-empty host")
            if type(self.port) is not int or not 1 <= self.port <= 65535:
                raise bad("port must be an int in 1..65535")
        if not isinstance(self.volume, str) or not self.volume or "/" in self.volume:
            raise bad("volume must be a non-empty name without '/'")
        if self.path is not None and (not isinstance(self.path, str) or not self.path or self.path.startswith("/")):
            raise bad("image path must be non-empty and must not start with '/'")
        for text in (self.host, self.socket, self.volume, self.path):
            if text is None:
                continue
            if "\x00" in text:
                raise bad("NUL is not allowed in a gluster URI field")
            try:
                ok = _utf8(_bytes(text)) == text
            except UnicodeError:
                ok = False
            if not ok:
                raise bad("fields must be text or surrogate-escaped octets (os.fsdecode style)")

    def to_uri(self) -> str:
        """The URI text; ``parse_uri`` (with ``require_path=False`` if ``path`` is None)
        gives back an equal object.  The port is always written out."""
        if self.transport == "unix":
            authority = ""
        else:
            assert self.host is not None
            authority = f"{_quote_host(self.host)}:{self.port}"
        uri = f"{_SCHEME_OF[self.transport]}://{authority}/{_quote(self.volume, _SAFE_SEGMENT)}"
        if self.path is not None:
            uri += "/" + _quote(self.path, _SAFE_IMAGE)
        if self.socket is not None:
            uri += "?socket=" + _quote(self.socket, _SAFE_QUERY_VALUE)
        return uri

    def __str__(self) -> str:
        return self.to_uri()


def parse_uri(text: str, *, require_path: bool = True) -> GlusterURI:
    """Parse ``text`` like QEMU 7.2 (``qemu-img info TEXT``) with the documented differences.

    ``require_path=False`` also accepts a URI naming only a volume (``path=None``).
    Raises :class:`URIError` (and nothing else) for any string that is not accepted.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_uri() wants str, not {type(text).__name__}")

    def fail(rule: str) -> URIError:
        return URIError(rule, text)

    # Stage A: block.c path_has_protocol() / bdrv_find_protocol().
    cut = next((i for i, c in enumerate(text) if c in ":/"), -1)
    if cut < 0 or text[cut] == "/":
        raise fail(
            "no scheme: without 'scheme:' before the first '/', QEMU's block layer "
            "treats the string as a local file name, not a gluster URI"
        )
    transport = SCHEMES.get(text[:cut])
    if transport is None:
        raise fail(f"unknown scheme {text[:cut]!r} (QEMU knows exactly, case-sensitively: " + ", ".join(SCHEMES) + ")")

    # Stage B: util/uri.c rfc3986_parse(): scheme ":" hier-part ["?" query] ["#" fragment].
    n, i = len(text), cut + 1
    host_raw, port, path_raw, query_raw = "", 0, "", ""
    if text.startswith("//", i):
        i += 2
        j = _scan(text, i, _USERINFO)
        if j < n and text[j] == "@":  # userinfo: parsed, then ignored by the driver
            i = j + 1
        if i < n and text[i] == "[":  # IP-literal: QEMU takes anything up to the first ']'
            j = text.find("]", i)
            if j < 0:
                raise fail("unterminated '[' in host (an IPv6 host is written [addr])")
            host_raw, i = text[i : j + 1], j + 1
        else:
            j = _scan(text, i, _REG_NAME)
            host_raw, i = text[i:j], j
        if i < n and text[i] == ":":
            j = _scan_digits(text, i + 1)
            value = text[i + 1 : j].lstrip("0")[:6]  # leading zeros are fine: 00024007
            if j == i + 1 or int(value or "0") > 65535 or (j < n and text[j] not in "/?#"):
                raise fail(
                    "port must be one or more decimal digits with a value <= 65535 (an IPv6 host needs [brackets])"
                )
            port, i = int(value or "0"), j
        if i < n and text[i] == "/":  # path-abempty
            path_raw, i = _consume(text, i, _PATH)
    elif i < n and (text[i] == "/" or _is_pchar(text, i)):  # path-absolute / -rootless
        path_raw, i = _consume(text, i, _PATH)
    if i < n and text[i] == "?":
        query_raw, i = _consume(text, i + 1, _QUERY)
    if i < n and text[i] == "#":
        i = _scan(text, i + 1, _FRAGMENT)  # fragment: ignored
    if i < n:
        if text[i] == "%":
            raise fail(f"invalid percent-escape at offset {i} ('%' needs two hex digits)")
        raise fail(f"character {text[i]!r} at offset {i} is not allowed here by RFC 3986")

    # Stage C: block/gluster.c qemu_gluster_parse_uri().
    if transport == "unix":
        if host_raw:
            raise fail("unix transport takes no host")
        if port:
            raise fail("unix transport takes no port (only :0, which QEMU treats as none)")
        host, port_out = None, None
    else:
        host = _decode_host(host_raw, fail) if host_raw else "localhost"
        port_out = port or DEFAULT_PORT

    path = _unescape(path_raw, fail, "path") if path_raw else None
    rest = (path or "").lstrip("/")
    volume, _, image = rest.partition("/")
    if not volume:
        raise fail("missing volume name (expected /VOLUME/IMAGE after the authority)")
    image = image.lstrip("/")
    if not image and require_path:
        raise fail("missing image path after the volume name")

    params = _query_params(query_raw, fail)
    socket = None
    if transport == "unix":
        if len(params) != 1:
            raise fail(f"unix transport takes exactly one query parameter, socket=PATH (got {len(params)})")
        name, socket = params[0]
        if name != "socket":
            raise fail(f"unix transport's query parameter must be named 'socket', not {name!r}")
        if socket is None:
            raise fail("the socket parameter needs a value (socket=PATH)")
    elif params:
        raise fail(f"{transport} transport takes no query parameters (got {len(params)})")

    return GlusterURI(transport, host, port_out, socket, volume, image or None)


# -- helpers -------------------------------------------------------------------------------


def _is_pct(s: str, i: int) -> bool:
    return s[i] == "%" and i + 2 < len(s) and s[i + 1] in _HEX and s[i + 2] in _HEX


def _is_pchar(s: str, i: int) -> bool:
    return s[i] in _PCHAR or _is_pct(s, i)


def _scan(s: str, i: int, allowed: frozenset[str]) -> int:
    """Index after the longest run of ``allowed`` characters and valid ``%XX`` escapes."""
    while i < len(s):
        if s[i] in allowed:
            i += 1
        elif _is_pct(s, i):
            i += 3
        else:
            break
    return i


def _consume(s: str, i: int, allowed: frozenset[str]) -> tuple[str, int]:
    j = _scan(s, i, allowed)
    return s[i:j], j


def _scan_digits(s: str, i: int) -> int:
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    return i


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _utf8(octets: bytes) -> str:
    return octets.decode("utf-8", "surrogateescape")


def _unescape(raw: str, fail: Callable[[str], URIError], what: str) -> str:
    """uri_string_unescape(): ``%XX`` -> octet, anything else copied (so a '%' that does
    not start a valid escape stays literal).  A decoded NUL is an error (difference 3)."""
    out = bytearray()
    i = 0
    while i < len(raw):
        if _is_pct(raw, i):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out += _bytes(raw[i])
            i += 1
    if 0 in out:
        raise fail(f"decoded NUL (%00) in the {what} is not allowed (QEMU would truncate)")
    return _utf8(bytes(out))


def _decode_host(raw: str, fail: Callable[[str], URIError]) -> str:
    if not raw.startswith("["):
        return _unescape(raw, fail, "host")
    inner = raw[1:-1]
    if inner.isascii():
        inner = _unescape(inner, fail, "host")
        try:
            ipaddress.IPv6Address(inner)
            return inner
        except ValueError:
            pass
    raise fail(f"bracketed host {raw!r} must be a valid IPv6 address")


def _query_params(query: str, fail: Callable[[str], URIError]) -> list[tuple[str, str | None]]:
    """query_params_parse(): sections end at the next '&', or - only if no '&' is left -
    at the next ';'.  Empty sections and '=value' sections are skipped, 'name' gives a
    None value.  Quirk: a section that is exactly '=' is not skipped; QEMU decodes the
    whole rest of the query as its name (a zero length means "to the end of string")."""
    params: list[tuple[str, str | None]] = []
    pos, n = 0, len(query)
    while pos < n:
        end = query.find("&", pos)
        if end < 0:
            end = query.find(";", pos)
        if end < 0:
            end = n
        section = query[pos:end]
        eq = section.find("=")
        if not section or eq == 0 and len(section) > 1:
            pass
        elif eq < 0:
            params.append((_unescape(section, fail, "query"), None))
        elif eq == len(section) - 1:
            name = section[:eq] if eq else query[pos:]
            params.append((_unescape(name, fail, "query"), ""))
        else:
            params.append((_unescape(section[:eq], fail, "query"), _unescape(section[eq + 1 :], fail, "query")))
        pos = end + 1
    return params


def _quote(text: str, safe: frozenset[str]) -> str:
    return "".join(chr(b) if chr(b) in safe else f"%{b:02X}" for b in _bytes(text))


def _quote_host(host: str) -> str:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return _quote(host, _REG_NAME)
    return "[" + _quote(host, _SAFE_V6) + "]"
