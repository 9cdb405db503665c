"""Option values as libglusterfs 10.3 reads and checks them.

The parsers follow ``libglusterfs/src/common-utils.c`` (``gf_string2boolean``,
``gf_string2longlong``, ``gf_string2bytesize_uint64``, ``gf_string2percent``,
``gf_string2time``, ``gf_string2double``, ``valid_internet_address`` ...) including their C
library roots (``strtoll``/``strtod`` prefixes with a tail check).  :func:`validate` is
``xlator_option_validate`` (``libglusterfs/src/options.c``): one checker per option type, each
returning the exact error text a real ``volume set`` prints.
"""

from __future__ import annotations

import fnmatch
import math
import re

from .optable import XlOption

__all__ = ["string2boolean", "string2bytesize", "string2time", "validate", "OptionValueError"]

GF_UNIT_KB = 1024
_UNITS = {"kb": GF_UNIT_KB, "mb": GF_UNIT_KB**2, "gb": GF_UNIT_KB**3, "tb": GF_UNIT_KB**4, "pb": GF_UNIT_KB**5}
_LLONG_MAX = 2**63 - 1
_ULLONG_MAX = 2**64 - 1


class OptionValueError(ValueError):
    """A value a translator's option table refuses; ``str()`` is glusterd's text."""


# -- C library number prefixes ---------------------------------------------------------------

_INT_RE = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT_RE = re.compile(
    r"\s*[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?"
    r"|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan(?:\([0-9a-zA-Z_]*\))?)",
    re.I,
)


def _strtoll(s: str, base: int = 0) -> tuple[int, str] | None:
    """strtoll/strtoull: (value, tail), None when no digits (EINVAL); raises OverflowError
    on ERANGE (the caller decides the limit)."""
    if base == 10:
        m = re.match(r"\s*([+-]?)(\d+)", s)
        if not m:
            return None
        return int(m.group(1) + m.group(2)), s[m.end() :]
    m = _INT_RE.match(s)
    if not m:
        return None
    digits = m.group(2)
    if digits.lower().startswith("0x"):
        value = int(digits, 16)
    elif digits.startswith("0") and len(digits) > 1:
        value = int(digits, 8)
    else:
        value = int(digits)
    return (-value if m.group(1) == "-" else value), s[m.end() :]


def _strtod(s: str) -> tuple[float, str] | None:
    m = _FLOAT_RE.match(s)
    if not m:
        return None
    text = m.group().strip()
    try:
        value = float.fromhex(text) if "x" in text.lower() else float(text)
    except ValueError:
        return None
    if math.isinf(value) and "inf" not in text.lower():
        raise OverflowError(text)
    return value, s[m.end() :]


def _negative(s: str) -> bool:
    """The leading '-' check common-utils makes before unsigned conversions."""
    return s.lstrip().startswith("-")


def string2boolean(s: str) -> bool | None:
    """gf_string2boolean; None if the string is none of its ten words."""
    w = s.lower()
    if w in ("1", "on", "yes", "true", "enable"):
        return True
    if w in ("0", "off", "no", "false", "disable"):
        return False
    return None


def string2longlong(s: str) -> int | None:
    r = _strtoll(s)
    if r is None or r[1] or not -_LLONG_MAX - 1 <= r[0] <= _LLONG_MAX:
        return None
    return r[0]


def string2ulonglong(s: str) -> int | None:
    if _negative(s):
        return None
    r = _strtoll(s)
    if r is None or r[1] or r[0] > _ULLONG_MAX:
        return None
    return r[0]


def string2int32(s: str) -> int | None:
    r = _strtoll(s)
    if r is None or r[1] or not -(2**31) <= r[0] < 2**31:
        return None
    return r[0]


def string2bytesize(s: str, umax: int = _ULLONG_MAX) -> int | None:
    """gf_string2bytesize_range: ``64MB``, ``1.5GB``, ``512``, ``4kb`` -> bytes."""
    if _negative(s):
        return None
    limit = umax & 0x7FFFFFFFFFFFFFFF
    try:
        r = _strtod(s) if "." in s else _strtoll(s, 10)
    except OverflowError:
        return None
    if r is None:
        return None
    value, tail = r
    if "." not in s and value > _LLONG_MAX:
        return None
    if tail:
        unit = _UNITS.get(tail.lower())
        if unit is None and tail.lower() != "b":
            return None
        value *= unit or 1
    if value > limit:
        return None
    return int(value)


def string2percent(s: str) -> float | None:
    if _negative(s):
        return None
    try:
        r = _strtod(s)
    except OverflowError:
        return None
    if r is None or r[1] not in ("", "%"):
        return None
    return r[0]


def string2percent_or_bytesize(s: str) -> tuple[float, bool] | None:
    """(value, is_percent) as gf_string2percent_or_bytesize reads it."""
    if _negative(s):
        return None
    try:
        r = _strtod(s)
    except OverflowError:
        return None
    if r is None:
        return None
    value, tail = r
    if not tail:
        return value, False
    if tail == "%":
        return value, True
    unit = _UNITS.get(tail.lower())
    if unit is None:
        return None
    return value * unit, False


_TIME_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "days": 86400}
_TIME_UNITS.update({"w": 604800, "wk": 604800})


def string2time(s: str) -> int | None:
    """gf_string2time: ``42``, ``10s``, ``5min``, ``2hr``, ``1days``, ``3wk`` -> seconds."""
    if _negative(s):
        return None
    r = _strtoll(s)
    if r is None or abs(r[0]) > _LLONG_MAX:
        return None
    value, tail = r
    if tail not in _TIME_UNITS:
        return None
    return value * _TIME_UNITS[tail]


def string2double(s: str) -> float | None:
    try:
        r = _strtod(s)
    except OverflowError:
        return None
    if r is None or r[1]:
        return None
    return r[0]


# -- addresses (valid_internet_address and friends) -------------------------------------------


def valid_host_name(a: str) -> bool:
    if not 1 <= len(a) <= 255 or ".." in a:
        return False
    if not (a[-1].isascii() and a[-1].isalnum()) and a[-1] != "*":
        return False
    for part in (p for p in a.split(".") if p):
        if not (part[0].isascii() and part[0].isalnum() and part[-1].isascii() and part[-1].isalnum()):
            return False
        if any(not (c.isascii() and c.isalnum()) and c != "-" for c in part[1:]):
            return False
    return True


def _c_strtol_whole(part: str, base: int) -> int | None:
    m = re.match(r"\s*[+-]?(0[xX])?[0-9a-fA-F]*" if base == 16 else r"\s*[+-]?\d*", part)
    text = m.group() if m else ""
    if text != part:
        return None
    try:
        return int(text, base) if text.strip(" +-") else 0
    except ValueError:
        return None


def valid_ipv4_address(a: str, wildcard: bool) -> bool:
    if not a or ".." in a or not (a[-1].isdigit() or a[-1] == "*"):
        return False
    octets, is_wild = 0, False
    for part in (p for p in a.split(".") if p):
        octets += 1
        if wildcard and part == "*":
            is_wild = True
            continue
        v = _c_strtol_whole(part, 10)
        if v is None or not 0 <= v <= 255:
            return False
    return not (octets > 4 or (octets < 4 and not is_wild))


def valid_ipv6_address(a: str, wildcard: bool) -> bool:
    a = a.split("%", 1)[0]
    if not a or a.endswith(":") or a.count("::") > 1 or ":::" in a:
        return False
    compressed = "::" in a
    groups, is_wild = 0, False
    for part in (p for p in a.split(":") if p):
        groups += 1
        if wildcard and part == "*":
            is_wild = True
            continue
        v = _c_strtol_whole(part, 16)
        if v is None or not 0 <= v <= 0xFFFF:
            return False
    return not (groups > 8 or (groups < 8 and not is_wild and not compressed))


def valid_cidr_address(a: str, wildcard: bool) -> bool:
    if "/" not in a:
        return False
    addr, mask = a.split("/", 1)
    m = re.match(r"\s*[+-]?\d+", mask)
    bits = int(m.group()) if m else 0
    return 1 <= bits <= 32 and valid_ipv4_address(addr, wildcard)


def valid_internet_address(a: str, wildcard: bool = False, cidr: bool = False) -> bool:
    if not a:
        return False
    if cidr and valid_cidr_address(a, wildcard):
        return True
    return valid_ipv4_address(a, wildcard) or valid_ipv6_address(a, wildcard) or valid_host_name(a)


def _valid_addr_list(value: str) -> bool:
    if not value.startswith("/") and "(" not in value:
        return all(valid_internet_address(t, True, True) for t in value.split(",") if t)
    for entry in (e for e in value.split(",") if e):
        d, _, rest = entry.partition("(")
        if not d.startswith("/"):
            return False
        addrs = rest.split(")", 1)[0] if rest else ""
        toks = [t for t in addrs.split("|") if t]
        if not rest or not toks or not all(valid_internet_address(t, True, True) for t in toks):
            return False
    return True


def _valid_mount_auth(value: str) -> bool:
    toks = [t for t in value.split(",") if t]
    if not toks:
        return False
    for t in toks:
        if t == "*" or any(c in t for c in "*?["):
            continue
        if "/" in t:
            addr, _, bits = t.partition("/")
            if not (bits and bits.isdigit() and int(bits) <= 32 and valid_ipv4_address(addr, False)):
                return False
            continue
        if not (valid_ipv4_address(t, False) or valid_ipv6_address(t, False) or valid_host_name(t)):
            return False
    return True


# -- xlator_option_validate -------------------------------------------------------------------


def _range(value: float, opt: XlOption) -> bool:
    return opt.min <= value <= opt.max


def _check_number(kind: str, n: float, text: str, key: str, value: str, opt: XlOption) -> None:
    """The MIN / MAX / BOTH range checks of validate_int and validate_double."""
    if opt.min == 0 and opt.max == 0 and opt.validate == "BOTH":
        return
    if opt.validate == "MIN":
        if n < opt.min:
            lim = f"{opt.min:.0f}" if kind == "int" else f"{opt.min:f}"
            raise OptionValueError(f"'{text}' in 'option {key} {value}' is smaller than minimum value '{lim}'")
    elif opt.validate == "MAX":
        if n > opt.max:
            lim = f"{opt.max:.0f}" if kind == "int" else f"{opt.max:f}"
            raise OptionValueError(f"'{text}' in 'option {key} {value}' is greater than maximum value '{lim}'")
    elif not _range(n, opt):
        rng = f"[{opt.min:.0f} - {opt.max:.0f}]" if kind == "int" else f"[{opt.min:f} - {opt.max:f}]"
        raise OptionValueError(f"'{text}' in 'option {key} {value}' is out of range {rng}")


def validate(key: str, value: str, opt: XlOption) -> None:
    """``xlator_option_validate``: raise :class:`OptionValueError` with glusterd's text."""
    t = opt.type
    if t == "PATH":
        if "../" in value:
            raise OptionValueError(f"invalid path given '{value}'")
        if not value.startswith("/"):
            raise OptionValueError(f"option {key} {value}: '{value}' is not an absolute path name")
    elif t == "INT":
        n = string2longlong(value)
        if n is None or (n == 0 and string2ulonglong(value) is None):
            raise OptionValueError(f'invalid number format "{value}" in option "{key}"')
        _check_number("int", n, str(n), key, value, opt)
    elif t == "SIZET":
        n = string2bytesize(value)
        if n is None:
            raise OptionValueError(f'invalid number format "{value}" in option "{key}"')
        if (opt.min or opt.max) and not _range(n, opt):
            raise OptionValueError(f"'{n}' in 'option {key} {value}' is out of range [{opt.min:.0f} - {opt.max:.0f}]")
    elif t == "BOOL":
        if string2boolean(value) is None:
            raise OptionValueError(f"option {key} {value}: '{value}' is not a valid boolean value")
    elif t == "STR":
        if not opt.values:
            return
        if value.strip(" ") == "" or not any(_extmatch(p, value) for p in opt.values):
            raise OptionValueError(
                f"option {key} {value}: '{value}' is not valid (possible options are {', '.join(opt.values)}.)"
            )
    elif t == "PERCENT":
        p = string2percent(value)
        if p is None:
            raise OptionValueError(f'invalid percent format "{value}" in "option {key}"')
        if not 0.0 <= p <= 100.0:
            raise OptionValueError(f"'{p:f}' in 'option {key} {value}' is out of range [0 - 100]")
    elif t == "PERCENT_OR_SIZET":
        _validate_percent_or_sizet(key, value, opt)
    elif t == "TIME":
        n = string2time(value)
        if n is None:
            raise OptionValueError(f'invalid time format "{value}" in "option {key}"')
        if (opt.min or opt.max) and not _range(n, opt):
            raise OptionValueError(f"'{n}' in 'option {key} {value}' is out of range [{opt.min:.0f} - {opt.max:.0f}]")
    elif t == "DOUBLE":
        d = string2double(value)
        if d is None:
            raise OptionValueError(f'invalid number format "{value}" in option "{key}"')
        _check_number("double", d, f"{d:f}", key, value, opt)
    elif t == "INTERNET_ADDRESS_LIST":
        if not _valid_addr_list(value):
            raise OptionValueError(f"option {key} {value}: '{value}' is not a valid internet-address-list")
    elif t == "CLIENT_AUTH_ADDR":
        if not _valid_mount_auth(value):
            raise OptionValueError(f"option {key} {value}: '{value}' is not a valid mount-auth-address")
    elif t == "PRIORITY_LIST":
        if not _valid_list(value, lambda v: string2int32(v) is not None):
            raise OptionValueError(f"option {key} {value}: '{value}' is not a valid priority-list")
    elif t == "SIZE_LIST":

        def size_ok(v: str) -> bool:
            n = string2bytesize(v)
            return n is not None and n >= opt.min and n % 512 == 0

        if not size_ok(value) and not _valid_list(value, size_ok):
            raise OptionValueError(f"option {key} {value}: '{value}' is not a valid size-list")
    # ANY, XLATOR (checked against the graph by the caller), INTERNET_ADDRESS (logs only): accepted


def _validate_percent_or_sizet(key: str, value: str, opt: XlOption) -> None:
    r = string2percent_or_bytesize(value)
    if r is None:
        raise OptionValueError(f'invalid number format "{value}" in "option {key}"')
    size, is_percent = r
    if is_percent:
        if not 0.0 <= size <= 100.0:
            raise OptionValueError(f"'{size:f}' in 'option {key} {value}' is out of range [0 - 100]")
        return
    if "." in value and value.split(".", 1)[1].strip("0"):
        raise OptionValueError(
            f"'{size:f}' in 'option {key} {value}' should not be fractional value. Use valid unsigned integer value."
        )
    if (opt.min or opt.max) and not _range(size, opt):
        raise OptionValueError(f"'{size:f}' in 'option {key} {value}' is out of range [{opt.min:.0f} - {opt.max:.0f}]")


def _valid_list(value: str, check) -> bool:
    """validate_list_elements: ``k:v,k:v`` with every v passing ``check``."""
    items = [i for i in value.split(",") if i]
    if not items:
        return False
    for item in items:
        parts = [p for p in item.split(":") if p]
        if len(parts) < 2 or not check(parts[1]):
            return False
    return True


def _extmatch(pattern: str, value: str) -> bool:
    """fnmatch(3) with FNM_EXTMATCH for the patterns option tables use (``*([ \\t])``)."""
    if "(" not in pattern:
        return fnmatch.fnmatchcase(value, pattern)
    regex = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c in "*?+@!" and pattern[i + 1 : i + 2] == "(":
            end = pattern.index(")", i)
            inner = "|".join(fnmatch.translate(p)[4:-3] for p in pattern[i + 2 : end].split("|"))
            regex += {"*": f"(?:{inner})*", "?": f"(?:{inner})?", "+": f"(?:{inner})+", "@": f"(?:{inner})"}.get(
                c, f"(?!{inner}).*"
            )
            i = end + 1
        else:
            regex += fnmatch.translate(c)[4:-3]
            i += 1
    return re.fullmatch(regex, value, re.S) is not None
