"""Who may use a brick: the auth modules of protocol/server, and rpcsvc's privileged ports.

A brick's ``protocol/server`` xlator carries its access rules as options (what glusterd's
volgen writes into the brick volfile, ``brick_graph_add_server`` / ``server_auth_option_handler``
in ``xlators/mgmt/glusterd/src/glusterd-volgen.c``)::

    option auth.addr./b/1.allow *                # auth.allow (default *)
    option auth.addr./b/1.reject 10.0.0.*        # auth.reject
    option auth.login./b/1.allow USER            # the trusted volfile's username
    option auth.login.USER.password PASSWORD
    option auth.login./b/1.ssl-allow CN1,CN2     # auth.ssl-allow (TLS common names)
    option rpc-auth-allow-insecure on            # server.allow-insecure

:func:`authenticate` is ``gf_authenticate`` (``xlators/protocol/server/src/authenticate.c``): every
module named by an ``auth.<module>.`` option votes; one REJECT refuses, otherwise one ACCEPT
admits, and nobody caring refuses too.  The modules:

* ``addr`` (``xlators/protocol/auth/addr/src/addr.c``): an unprivileged source port is REJECT
  unless ``rpc-auth-allow-insecure``; then ``reject`` entries that match REJECT, ``allow``
  entries that match ACCEPT, and no match at all does not care.  An entry is a host name or
  address (compared through ``getaddrinfo``, ``gf_is_same_address``), an ``fnmatch`` pattern
  (``127.0.0.*``), or a network with ``/`` (``gf_is_ip_in_net``, with its quirks: the mask is
  the low bits of a little-endian word, so ``/32`` matches every address, as on a real brick).
* ``login`` (``xlators/protocol/auth/login/src/login.c``): a client that sends the trusted
  volfile's ``username``/``password`` is ACCEPT (that is how glusterd's own clients get past
  ``auth.allow``), a wrong password REJECT, no username does not care.  Over TLS the
  certificate's common name replaces the username and must match ``ssl-allow`` if it is set.

:class:`PortPolicy` is rpcsvc's check (``rpcsvc_handle_rpc_call`` in ``rpc/rpc-lib/src/rpcsvc.c``):
with ``rpc-auth-allow-insecure`` off every call from a source port >= 1024 is denied
(MSG_DENIED / AUTH_ERROR / AUTH_REJECTEDCRED), before its arguments are even decoded.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
import socket
import struct
from collections.abc import Mapping
from functools import lru_cache

__all__ = [
    "AuthResult",
    "Peer",
    "authenticate",
    "addr_auth",
    "login_auth",
    "allows_insecure",
    "server_options",
    "validate_addr_list",
    "PRIVILEGED_PORT_CEILING",
]

#: ``PRIVILEGED_PORT_CEILING`` (addr.c) and rpcsvc's "port >= 1024 is unprivileged".
PRIVILEGED_PORT_CEILING = 1024


class AuthResult(enum.IntEnum):
    """``auth_result_t`` (``authenticate.h``)."""

    ACCEPT = 0
    REJECT = 1
    DONT_CARE = 2


@dataclasses.dataclass(frozen=True)
class Peer:
    """A client's address as the transport reports it (``peerinfo``).

    ``family`` is ``"inet"``, ``"inet6"`` or ``"unix"``; ``address`` is the numeric address
    (an IPv4-mapped IPv6 address is given as IPv4, as ``get_transport_identifiers`` does).
    """

    family: str
    address: str
    port: int = 0

    @classmethod
    def from_sockaddr(cls, addr: object) -> Peer:
        """From what ``accept()`` returned (a tuple for inet/inet6, a path or '' for unix)."""
        if isinstance(addr, tuple) and len(addr) >= 2:
            host, port = str(addr[0]).split("%")[0], int(addr[1])
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                return cls("inet", host, port)
            if isinstance(ip, ipaddress.IPv6Address):
                if ip.ipv4_mapped is not None:
                    return cls("inet", str(ip.ipv4_mapped), port)
                return cls("inet6", str(ip), port)
            return cls("inet", str(ip), port)
        return cls("unix", str(addr or ""))

    @property
    def privileged(self) -> bool:
        return self.family == "unix" or self.port < PRIVILEGED_PORT_CEILING

    @property
    def identifier(self) -> str:
        """``peerinfo.identifier``: ``ADDRESS:PORT`` (unix: the path)."""
        return self.address if self.family == "unix" else f"{self.address}:{self.port}"


#: A peer with no address of its own (the emulated in-process rdma): loopback, privileged.
LOCAL_PEER = Peer("inet", "127.0.0.1", 0)


# ---- gf_string2boolean ------------------------------------------------------------------

_TRUE = {"1", "yes", "true", "on", "enable"}
_FALSE = {"0", "no", "false", "off", "disable"}


def string2boolean(text: str) -> bool | None:
    """``gf_string2boolean`` (common-utils.c): None when it is no boolean."""
    t = text.lower()
    return True if t in _TRUE else False if t in _FALSE else None


def allows_insecure(options: Mapping[str, str]) -> bool:
    """``rpcsvc_set_allow_insecure``: ``rpc-auth-allow-insecure``, on when absent."""
    value = options.get("rpc-auth-allow-insecure")
    return True if value is None else string2boolean(value) is not False


# ---- addr -------------------------------------------------------------------------------


def _valid_host_name(text: str) -> bool:
    """``valid_host_name`` (common-utils.c)."""
    if not 1 <= len(text) <= 255:
        return False
    if not (text[-1].isascii() and text[-1].isalnum()) and text[-1] != "*":
        return False
    if ".." in text:
        return False
    for part in [p for p in text.split(".") if p]:
        if not (_alnum(part[0]) and _alnum(part[-1])):
            return False
        if any(not (_alnum(ch) or ch == "-") for ch in part[1:]):
            return False
    return True


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=256)
def _addresses(name: str) -> frozenset[tuple[int, str]]:
    try:
        infos = socket.getaddrinfo(name, None)
    except (OSError, UnicodeError):
        return frozenset()
    return frozenset((fam, str(sa[0]).split("%")[0]) for fam, _t, _p, _c, sa in infos)


def _same_address(name: str, peer_address: str) -> bool:
    """``gf_is_same_address``: both names resolved, any common address."""
    return bool(_addresses(name) & _addresses(peer_address))


def _ip_in_net(network: str, ip: str) -> bool:
    """``gf_is_ip_in_net`` exactly as it computes on x86-64.

    The addresses are read into an ``unsigned long`` in network byte order and masked with
    ``(1 << n) - 1`` (an ``int`` shift, so n is taken mod 32): the mask keeps the low bits of
    a little-endian word, the first n/8 bytes of the address plus the *low* bits of the next,
    and ``/32`` (``1 << 0``) keeps nothing: every address matches.  IPv6 networks overflow
    the word in C; here they compare the first 8 bytes the same way."""
    if ":" in network:
        family, size = socket.AF_INET6, 16
    elif "." in network:
        family, size = socket.AF_INET, 4
    else:
        return False
    net, _, bits = network.partition("/")
    try:
        net_bytes = socket.inet_pton(family, net)
    except OSError:
        return False
    try:
        ip_bytes = socket.inet_pton(family, ip)
    except OSError:
        ip_bytes = b"\0" * size  # inet_pton failed: the buffer stays 0
    n = _atoi(bits)
    mask = (((1 << (n % 32)) - 1) if n % 32 != 31 else 0x7FFFFFFF) & 0xFFFFFFFFFFFFFFFF
    word = struct.Struct("<Q")
    a = word.unpack(ip_bytes[:8].ljust(8, b"\0"))[0]
    b = word.unpack(net_bytes[:8].ljust(8, b"\0"))[0]
    return (a & mask) == (b & mask)


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


@lru_cache(maxsize=512)
def _fnmatch_regex(pattern: str) -> re.Pattern[str]:
    """glibc ``fnmatch(pattern, s, 0)``: ``*``, ``?``, ``[...]`` (``!``/``^`` negate), ``\\``
    escapes; ``/`` and leading dots are not special."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(ch))
                continue
            body = pattern[i:j].replace("\\", "\\\\")
            i = j + 1
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append(f"[{body}]")
        else:
            out.append(re.escape(ch))
    return re.compile("(?s:" + "".join(out) + r")\Z")


def fnmatch(pattern: str, text: str) -> bool:
    return _fnmatch_regex(pattern).match(text) is not None


def _compare(entries: str, peer_address: str, delimiter: str, status: AuthResult) -> AuthResult | None:
    """``compare_addr_and_update``: ``status`` at the first matching entry, else None.

    A ``!`` negates the ``/`` and pattern entries after it (it is never reset); a host name
    or address entry is never negated."""
    negate = False
    for entry in [e for e in entries.split(delimiter) if e]:
        if entry.startswith("!"):
            negate = True
            entry = entry[1:]
        if entry[:1] != "*" and _valid_host_name(entry):
            if _same_address(entry, peer_address):
                return status
        elif "/" in entry:
            if _ip_in_net(entry, peer_address) != negate:
                return status
        elif fnmatch(entry, peer_address) != negate:
            return status
    return None


def _parse_and_compare(option: str, peer_address: str, subdir: str, status: AuthResult) -> AuthResult | None:
    """``parse_entries_and_compare``: the plain list, or ``/dir(addr|addr),...`` entries
    (subdirectory mounts) of which the one naming ``subdir`` counts."""
    if not option.startswith("/") and "(" not in option:
        return _compare(option, peer_address, ",", status)
    for entry in [e for e in option.split(",") if e]:
        directory, _, rest = entry.partition("(")
        if not directory.startswith("/"):
            return None
        if directory != subdir:
            continue
        addrs = rest.split(")")[0]
        if not addrs:
            return None
        result = _compare(addrs, peer_address, "|", status)
        if result is not None:
            return result
    return None


def addr_auth(params: Mapping[str, str], options: Mapping[str, str], peer: Peer) -> AuthResult:
    """The ``addr`` module's ``gf_auth`` (addr.c)."""
    name = params.get("remote-subvolume")
    if name is None:
        return AuthResult.DONT_CARE
    allow = options.get(f"auth.addr.{name}.allow")
    reject = options.get(f"auth.addr.{name}.reject")
    if allow is None:
        allow = options.get(f"auth.ip.{name}.allow")
    if allow is None and reject is None:
        return AuthResult.DONT_CARE
    subdir = params.get("subdir-mount", "/")
    if peer.family in ("inet", "inet6"):
        allow_insecure = False
        value = options.get("rpc-auth-allow-insecure")
        if value is not None:
            parsed = string2boolean(value)
            if parsed is None:
                return AuthResult.DONT_CARE
            allow_insecure = parsed
        if peer.port >= PRIVILEGED_PORT_CEILING and not allow_insecure:
            return AuthResult.REJECT
    if reject is not None and _parse_and_compare(reject, peer.address, subdir, AuthResult.REJECT) is not None:
        return AuthResult.REJECT
    if allow is not None and _parse_and_compare(allow, peer.address, subdir, AuthResult.ACCEPT) is not None:
        return AuthResult.ACCEPT
    return AuthResult.DONT_CARE


def login_auth(params: Mapping[str, str], options: Mapping[str, str], ssl_name: str | None = None) -> AuthResult:
    """The ``login`` module's ``gf_auth`` (login.c)."""
    strict, password = False, None
    if ssl_name is not None:
        username = ssl_name
    else:
        strict = string2boolean(options.get("strict-auth-accept", "off")) is True
        if "username" not in params or "password" not in params:
            return AuthResult.REJECT if strict else AuthResult.DONT_CARE
        username, password = params["username"], params["password"]
    brick = params.get("remote-subvolume")
    if brick is None:
        return AuthResult.REJECT
    allowed = options.get(f"auth.login.{brick}.{'ssl-allow' if ssl_name is not None else 'allow'}")
    if allowed is None:
        return AuthResult.DONT_CARE
    for user in [u for u in re.split("[ ,]", allowed) if u]:
        if fnmatch(user, username):
            if ssl_name is not None:
                return AuthResult.ACCEPT
            expected = options.get(f"auth.login.{username}.password")
            return AuthResult.ACCEPT if expected is not None and expected == password else AuthResult.REJECT
    # no name matched: over TLS (or strict) that is a refusal; a plain client without the
    # trusted login is let through to the other modules ("It's wrong, but ...", login.c)
    return AuthResult.REJECT if ssl_name is not None or strict else AuthResult.DONT_CARE


def authenticate(
    params: Mapping[str, str], options: Mapping[str, str], peer: Peer, ssl_name: str | None = None
) -> AuthResult:
    """``gf_authenticate``: the modules named by ``auth.*`` options vote (``auth.ip`` is
    ``addr``); REJECT wins, then ACCEPT; nobody interested is REJECT."""
    modules = {key.split(".")[1] for key in options if key.startswith("auth.") and key.count(".") >= 2}
    modules = {"addr" if m == "ip" else m for m in modules}
    result = AuthResult.DONT_CARE
    for module in sorted(modules):
        if module == "addr":
            vote = addr_auth(params, options, peer)
        elif module == "login":
            vote = login_auth(params, options, ssl_name)
        else:
            continue
        if vote == AuthResult.REJECT:
            return AuthResult.REJECT
        if vote == AuthResult.ACCEPT:
            result = AuthResult.ACCEPT
    return AuthResult.REJECT if result == AuthResult.DONT_CARE else result


# ---- option checks and the brick's options -----------------------------------------------


def _valid_address(text: str) -> bool:
    """``valid_internet_address(addr, wildcard_acc=true, cidr=true)`` (common-utils.c)."""
    if not text:
        return False
    if "/" in text:
        net, _, bits = text.partition("/")
        if not bits.isdigit():
            return False
        try:
            ipaddress.ip_address(net)
        except ValueError:
            return False
        return int(bits) <= (128 if ":" in net else 32)
    return _valid_ipv4(text) or _valid_ipv6(text) or _valid_host_name(text)


def _valid_ipv4(text: str) -> bool:
    if ".." in text or not (text[-1].isdigit() or text[-1] == "*"):
        return False
    parts = [p for p in text.split(".") if p]
    wildcard = False
    for p in parts:
        if p == "*":
            wildcard = True
        elif not re.fullmatch(r"[+-]?\d+", p) or not 0 <= int(p) <= 255:
            return False
    return len(parts) == 4 or (len(parts) < 4 and wildcard)


def _valid_ipv6(text: str) -> bool:
    text = text.split("%")[0]
    if not text or text.endswith(":") or text.count("::") > 1:
        return False
    parts = [p for p in text.split(":") if p]
    wildcard = False
    for p in parts:
        if p == "*":
            wildcard = True
        elif not re.fullmatch(r"[+-]?[0-9a-fA-F]+", p) or int(p, 16) > 0xFFFF:
            return False
    return len(parts) == 8 or (len(parts) < 8 and (wildcard or "::" in text))


def validate_addr_list(key: str, value: str) -> None:
    """``xlator_option_validate_addr_list``: raise ValueError with glusterd's text."""
    ok = True
    if not value.startswith("/") and "(" not in value:
        ok = all(_valid_address(a) for a in value.split(",") if a)
    else:
        for entry in [e for e in value.split(",") if e]:
            directory, _, rest = entry.partition("(")
            addrs = rest.split(")")[0]
            if not directory.startswith("/") or not addrs or not all(_valid_address(a) for a in addrs.split("|") if a):
                ok = False
                break
    if not ok:
        raise ValueError(f"option {key} {value}: '{value}' is not a valid internet-address-list")


#: volume-set keys -> protocol/server option (glusterd-volume-set.c; ``{path}`` = brick path)
_SERVER_KEYS = {
    "auth.allow": "auth.addr.{path}.allow",
    "auth.reject": "auth.addr.{path}.reject",
    "auth.ssl-allow": "auth.login.{path}.ssl-allow",
    "server.allow-insecure": "rpc-auth-allow-insecure",
    "server.ssl": "transport.socket.ssl-enabled",
    "ssl.own-cert": "transport.socket.ssl-own-cert",
    "ssl.private-key": "transport.socket.ssl-private-key",
    "ssl.ca-list": "transport.socket.ssl-ca-list",
    "ssl.crl-path": "transport.socket.ssl-crl-path",
    "ssl.certificate-depth": "transport.socket.ssl-cert-depth",
    "ssl.cipher-list": "transport.socket.ssl-cipher-list",
    "ssl.dh-param": "transport.socket.ssl-dh-param",
    "ssl.ec-curve": "transport.socket.ssl-ec-curve",
    "server.dynamic-auth": "dynamic-auth",
    "server.strict-auth-accept": "strict-auth-accept",
}


def server_options(
    path: str, username: str | None, password: str | None, volume_options: Mapping[str, str] = {}
) -> dict[str, str]:
    """The access options of a brick's protocol/server, as glusterd's volgen writes them
    from the volume's ``volume set`` options (``brick_graph_add_server``): ``auth.allow``
    defaults to ``*``; the trusted volfile's login is allowed with its password.

    Raises ValueError (glusterd's text) for an address list glusterd would refuse."""
    out: dict[str, str] = {}
    for key, value in volume_options.items():
        target = _SERVER_KEYS.get(key)
        if target is None:
            continue
        target = target.format(path=path)
        if key in ("auth.allow", "auth.reject"):
            validate_addr_list(target, value)
        out[target] = value
    out.setdefault(f"auth.addr.{path}.allow", "*")
    # rpcsvc_set_allow_insecure puts "on" into the xlator's options when it is absent, and
    # the addr module reads it from there
    out.setdefault("rpc-auth-allow-insecure", "on")
    out["auth-path"] = path
    if username:
        out[f"auth.login.{path}.allow"] = username
        if password is not None:
            out[f"auth.login.{username}.password"] = password
    return out
