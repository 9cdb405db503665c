"""gluster[+transport]:// URI parsing, checked against QEMU 7.2 (URI.md §1.1-1.6).

* the seed URIs of QEMU's gluster patch (8d6d89cb63);
* one test per rule, each asserting that the error names the rule;
* the table recorded from the real ``qemu-img`` 7.2.22 by ``tools/uri_probe.py``
  (``fixtures/uri/qemu72_cases.json``): we agree on every row except the three deliberate
  differences, which are checked explicitly;
* a ``real`` test re-running ``qemu-img`` on a sample of that table;
* Hypothesis: to_uri()/parse_uri() round trip, and "URIError or a GlusterURI, nothing else".
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import ipaddress
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakegluster.proto.uri import GlusterURI, URIError, parse_uri
from tests.helpers import require_tool

ROOT = Path(__file__).resolve().parents[2]
TABLE = json.loads((ROOT / "fixtures/uri/qemu72_cases.json").read_text())
ROWS = TABLE["cases"]
ROWS_BY_ID = {row["id"]: row for row in ROWS}


def tcp(host, port, volume, path, transport="tcp"):
    return GlusterURI(transport, host, port, None, volume, path)


def unix(socket, volume, path):
    return GlusterURI("unix", None, None, socket, volume, path)


def rejects(uri: str, rule: str, **kwargs) -> URIError:
    with pytest.raises(URIError) as info:
        parse_uri(uri, **kwargs)
    err = info.value
    assert rule in str(err), str(err)
    assert err.rule in str(err) and err.uri == uri and repr(uri) in str(err)
    return err


# -- seeds ---------------------------------------------------------------------------------

SEEDS = [
    ("gluster://1.2.3.4/testvol/a.img", tcp("1.2.3.4", 24007, "testvol", "a.img")),
    ("gluster+tcp://1.2.3.4/testvol/a.img", tcp("1.2.3.4", 24007, "testvol", "a.img")),
    ("gluster+tcp://1.2.3.4:24007/testvol/dir/a.img", tcp("1.2.3.4", 24007, "testvol", "dir/a.img")),
    ("gluster+tcp://[1:2:3:4:5:6:7:8]/testvol/dir/a.img", tcp("1:2:3:4:5:6:7:8", 24007, "testvol", "dir/a.img")),
    ("gluster+tcp://[1:2:3:4:5:6:7:8]:24007/testvol/dir/a.img", tcp("1:2:3:4:5:6:7:8", 24007, "testvol", "dir/a.img")),
    (
        "gluster+tcp://server.domain.com:24007/testvol/dir/a.img",
        tcp("server.domain.com", 24007, "testvol", "dir/a.img"),
    ),
    (
        "gluster+unix:///testvol/dir/a.img?socket=/tmp/glusterd.socket",
        unix("/tmp/glusterd.socket", "testvol", "dir/a.img"),
    ),
    ("gluster+rdma://1.2.3.4:24007/testvol/a.img", tcp("1.2.3.4", 24007, "testvol", "a.img", transport="rdma")),
]


@pytest.mark.parametrize(("uri", "expected"), SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_uris(uri, expected):
    got = parse_uri(uri)
    assert got == expected
    assert parse_uri(got.to_uri()) == got == parse_uri(str(got))


def test_to_uri_shape():
    assert (
        str(parse_uri("gluster+tcp://[1:2:3:4:5:6:7:8]/testvol/dir/a.img"))
        == "gluster://[1:2:3:4:5:6:7:8]:24007/testvol/dir/a.img"
    )
    assert (
        unix("/tmp/a&b;c=d e#%", "v", "a?b#c d%").to_uri()
        == "gluster+unix:///v/a%3Fb%23c%20d%25?socket=/tmp/a%26b%3Bc%3Dd%20e%23%25"
    )
    assert tcp("a b:c", 1, "v", None, "rdma").to_uri() == "gluster+rdma://a%20b%3Ac:1/v"
    assert tcp("fe80::1%eth0", 1, "v", "i").to_uri() == "gluster://[fe80::1%25eth0]:1/v/i"


# -- one test per rule ---------------------------------------------------------------------


def test_no_scheme_is_not_a_gluster_uri():
    for uri in ("//127.0.0.1/testvol/a.img", "/testvol/a.img", "testvol/a.img", ""):
        rejects(uri, "no scheme")


def test_scheme_must_be_registered_and_is_case_sensitive():
    for uri in (
        "gluster+foo://h/v/i",
        "GLUSTER://h/v/i",
        "Gluster+TCP://h/v/i",
        "gluster+://h/v/i",
        "glusterfs://h/v/i",
        "gluster+unix+tcp://h/v/i",
        "127.0.0.1:1/v/i",
        ":x",
    ):
        rejects(uri, "unknown scheme")
    assert parse_uri("gluster+tcp://h/v/i").transport == "tcp"


def test_characters_outside_rfc3986_are_rejected():
    for uri in (
        "gluster://h/v/a b",
        'gluster://h/v/a"b',
        "gluster://h/v/a<b",
        "gluster://h/v/a{b",
        "gluster://h/v/a|b",
        "gluster://h/v/a\\b",
        "gluster://h/v/a^b",
        "gluster://h/v/a`b",
        "gluster://h/v/a[b]",
        "gluster://h/v/\u00e9",
        "gluster://h/v/i#a#b",
        "gluster://a@b@c/v/i",
        "gluster://h/v/i\x00",
        "gluster://h/v/i?a b",
    ):
        rejects(uri, "is not allowed here by RFC 3986")


def test_invalid_percent_escape():
    for uri in (
        "gluster://h/v/a%zz",
        "gluster://h/v/a%2",
        "gluster://h/v/a%",
        "gluster://127.0.0.%3/v/i",
        "gluster+unix:///v/i?socket=%g0",
    ):
        rejects(uri, "invalid percent-escape")


def test_percent_decoding_stages():
    # host decoded; path decoded *before* the volume/image split; query name and value
    # decoded *after* splitting on & ; =
    assert parse_uri("gluster://127.0.0.%31/v/i").host == "127.0.0.1"
    assert parse_uri("gluster://h/vol%2Fdir%2Fa.img") == tcp("h", 24007, "vol", "dir/a.img")
    assert parse_uri("gluster://h/v/%C3%A9%20x").path == "\u00e9 x"
    assert parse_uri("gluster://h/v/%FF").path == "\udcff"  # not UTF-8: surrogate escape
    assert parse_uri("gluster+unix:///v/i?sock%65t=/a%26b%3Bc%3D").socket == "/a&b;c="
    assert parse_uri("gluster+unix:///v/i?socket=a+b").socket == "a+b"  # '+' is not a space


def test_decoded_nul_is_an_error_not_a_truncation():
    for uri, where in (
        ("gluster://h/v/a%00b", "path"),
        ("gluster://h%00/v/i", "host"),
        ("gluster+unix:///v/i?socket=/tmp/a%00b", "query"),
    ):
        rejects(uri, f"decoded NUL (%00) in the {where}")
    assert parse_uri("gluster://h/v/i#%00").path == "i"  # the fragment is never decoded


def test_userinfo_and_fragment_are_ignored():
    base = tcp("127.0.0.1", 1, "v", "i")
    for uri in (
        "gluster://user@127.0.0.1:1/v/i",
        "gluster://u:pw@127.0.0.1:1/v/i",
        "gluster://us%40er@127.0.0.1:1/v/i",
        "gluster://@127.0.0.1:1/v/i",
        "gluster://127.0.0.1:1/v/i#frag",
        "gluster://127.0.0.1:1/v/i#",
        "gluster://127.0.0.1:1/v/i#[x]?/",
    ):
        assert parse_uri(uri) == base
    assert parse_uri("gluster+unix://user@/v/i?socket=/s#x") == unix("/s", "v", "i")


def test_tcp_host_defaults_to_localhost_including_the_no_slash_forms():
    expected = tcp("localhost", 24007, "v", "i")
    for uri in ("gluster:///v/i", "gluster:/v/i", "gluster:v/i", "gluster+tcp:///v/i", "gluster://user@/v/i"):
        assert parse_uri(uri) == expected
    assert parse_uri("gluster://:1/v/i") == tcp("localhost", 1, "v", "i")
    assert parse_uri("gluster+rdma:///v/i") == tcp("localhost", 24007, "v", "i", "rdma")
    # gluster:HOST/v/i: HOST silently becomes the volume (QEMU does the same)
    assert parse_uri("gluster:127.0.0.1/v/i") == tcp("localhost", 24007, "127.0.0.1", "v/i")
    assert parse_uri("gluster://LocalHost:1/v/i").host == "LocalHost"  # case kept


def test_port_rules():
    assert parse_uri("gluster://h/v/i").port == 24007
    assert parse_uri("gluster://h:0/v/i").port == 24007  # 0 cannot be told from "no port"
    assert parse_uri("gluster://h:00024007/v/i").port == 24007  # leading zeros are fine
    assert parse_uri("gluster://h:" + "0" * 5000 + "1/v/i").port == 1
    assert parse_uri("gluster://h:65535/v/i").port == 65535
    for port in ("65536", "065536", "99999", "", "abc", "-1", "+1", "1:2", "1x", "9" * 5000):
        rejects(f"gluster://h:{port}/v/i", "port must be one or more decimal digits with a value <= 65535")


def test_ipv6_host_must_be_bracketed_and_valid():
    assert parse_uri("gluster://[::1]:1/v/i").host == "::1"  # brackets removed (difference 1)
    assert parse_uri("gluster://[::FFFF:127.0.0.1]/v/i").host == "::FFFF:127.0.0.1"  # as written
    assert parse_uri("gluster://[fe80::1%25eth0]/v/i").host == "fe80::1%eth0"
    for uri in (
        "gluster://[foo]/v/i",
        "gluster://[]/v/i",
        "gluster://[1.2.3.4]/v/i",
        "gluster://[::1/x]/v/i",
        "gluster://[::g]/v/i",
        "gluster://[::\u00e9]/v/i",
    ):
        rejects(uri, "must be a valid IPv6 address")
    rejects("gluster://[::1/v/i", "unterminated '['")
    rejects("gluster://::1/v/i", "an IPv6 host needs [brackets]")
    rejects("gluster://[::1]x/v/i", "not allowed here")


def test_missing_volume_name():
    for uri in ("gluster://h/", "gluster://h", "gluster://", "gluster:", "gluster://h?", "gluster://h:1?/v/i"):
        rejects(uri, "missing volume name")
        rejects(uri, "missing volume name", require_path=False)


def test_missing_image_path():
    for uri in (
        "gluster://h/v",
        "gluster://h/v/",
        "gluster://h/v//",
        "gluster://h//a.img",
        "gluster:/v",
        "gluster+unix:///v?socket=/s",
    ):
        rejects(uri, "missing image path after the volume name")
    # the client library mounts a bare volume with require_path=False
    assert parse_uri("gluster://h/v", require_path=False) == tcp("h", 24007, "v", None)
    assert parse_uri("gluster://h/v//", require_path=False) == tcp("h", 24007, "v", None)
    assert parse_uri("gluster+unix:///v/?socket=/s", require_path=False) == unix("/s", "v", None)
    assert parse_uri("gluster://h/v/i", require_path=False).path == "i"


def test_image_path_is_kept_verbatim():
    for raw, path in (
        ("dir/sub/a.img", "dir/sub/a.img"),
        ("/dir//a.img", "dir//a.img"),
        ("dir/", "dir/"),
        ("./a.img", "./a.img"),
        ("../a.img", "../a.img"),
        ("a:b@c;d=e&f", "a:b@c;d=e&f"),
    ):
        assert parse_uri(f"gluster://h//v/{raw}").path == path


def test_tcp_and_rdma_take_no_query_parameters():
    for query in ("socket=/tmp/s", "socket=", "foo", "a?b", "=", "=&=x", "%73ocket=x"):
        rejects(f"gluster://h/v/i?{query}", "tcp transport takes no query parameters")
    rejects("gluster+rdma://h/v/i?socket=/s", "rdma transport takes no query parameters")
    for query in ("", "=x", "&&;", "=x&=y;=z"):  # these yield zero parameters
        assert parse_uri(f"gluster://h/v/i?{query}").path == "i"


def test_unix_takes_no_host():
    for uri in (
        "gluster+unix://127.0.0.1/v/i?socket=/s",
        "gluster+unix://localhost/v/i?socket=/s",
        "gluster+unix://[::1]/v/i?socket=/s",
        "gluster+unix://%00/v/i?socket=/s",
    ):
        rejects(uri, "unix transport takes no host")


def test_unix_takes_no_port_except_zero():
    rejects("gluster+unix://:1/v/i?socket=/s", "unix transport takes no port")
    assert parse_uri("gluster+unix://:0/v/i?socket=/s") == unix("/s", "v", "i")


def test_unix_takes_exactly_one_parameter():
    for query in ("", "?", "?=x", "?socket=/a&socket=/b", "?socket=/a;b", "?socket=/s&=", "?&socket=/s&=x&b"):
        rejects(f"gluster+unix:///v/i{query}", "unix transport takes exactly one query parameter")


def test_unix_parameter_must_be_named_socket():
    for query in ("foo=/s", "Socket=/s", "="):
        rejects(f"gluster+unix:///v/i?{query}", "must be named 'socket'")


def test_unix_socket_needs_a_value():
    rejects("gluster+unix:///v/i?socket", "the socket parameter needs a value")
    assert parse_uri("gluster+unix:///v/i?socket=").socket == ""  # QEMU accepts an empty path


def test_query_separator_quirks():
    # '&' ends a section; ';' only does when no '&' is left in the rest of the query
    assert parse_uri("gluster+unix:///v/i?socket=/a;b&").socket == "/a;b"
    assert parse_uri("gluster+unix:///v/i?;socket=/s").socket == "/s"
    assert parse_uri("gluster+unix:///v/i?&socket=/s&").socket == "/s"
    assert parse_uri("gluster+unix:///v/i?=x&socket=/s").socket == "/s"
    assert parse_uri("gluster+unix:///v/i?socket=/x=y?z").socket == "/x=y?z"


def test_urierror_is_a_valueerror_and_glusteruri_validates_itself():
    assert issubclass(URIError, ValueError)
    for args in (
        ("udp", "h", 1, None, "v", "i"),
        ("tcp", "h", 0, None, "v", "i"),
        ("tcp", "h", 65536, None, "v", "i"),
        ("tcp", "", 1, None, "v", "i"),
        ("tcp", None, 1, None, "v", "i"),
        ("tcp", "h", True, None, "v", "i"),
        ("tcp", "h", 1, "/s", "v", "i"),
        ("unix", "h", None, "/s", "v", "i"),
        ("unix", None, 1, "/s", "v", "i"),
        ("unix", None, None, None, "v", "i"),
        ("tcp", "h", 1, None, "", "i"),
        ("tcp", "h", 1, None, "a/b", "i"),
        ("tcp", "h", 1, None, "v", ""),
        ("tcp", "h", 1, None, "v", "/i"),
        ("tcp", "h", 1, None, "v", "a\x00b"),
        ("tcp", "h", 1, None, "v", "\ud800"),
    ):
        with pytest.raises(URIError):
            GlusterURI(*args)


# -- the table recorded from the real qemu-img 7.2 -----------------------------------------


def test_table_was_recorded_from_qemu_7_2():
    assert TABLE["qemu_img_version"].startswith("qemu-img version 7.2.")
    assert len(ROWS) >= 80
    assert all(row["qemu"]["stage"] not in ("unknown", "timeout") for row in ROWS)
    stages = {row["qemu"]["stage"] for row in ROWS}
    assert {"connect", "parse", "protocol", "file-driver", "gfapi-init"} <= stages


def _unix_socket_without_value(uri: str) -> bool:
    query = uri.partition("?")[2].partition("#")[0]
    return uri.startswith("gluster+unix:") and "socket" in re.split(r"[&;]", query)


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_agrees_with_recorded_qemu(row):
    uri, q = row["uri"], row["qemu"]
    if not q["ok"]:
        err = rejects(uri, "")
        if q["stage"] == "protocol":
            assert "unknown scheme" in err.rule
        elif q["stage"] == "file-driver":
            assert "no scheme" in err.rule
        return
    # Difference 3: QEMU truncates at a decoded NUL; we refuse.
    if "%00" in uri.partition("#")[0]:
        rejects(uri, "decoded NUL (%00)")
        return
    # ... and a unix "?socket" without "=" (QEMU: NULL socket, then EINVAL from libgfapi).
    if q["stage"] == "gfapi-init" and _unix_socket_without_value(uri):
        rejects(uri, "the socket parameter needs a value")
        return
    got = parse_uri(uri)
    if q["stage"] == "gfapi-init":  # accepted, but libgfapi refused the volume name: no fields
        return
    assert q["stage"] == "connect"
    assert (got.volume, got.path) == (q["volume"], q["path"])
    if q["socket"] is not None:
        assert (got.transport, got.host, got.port, got.socket) == ("unix", None, None, q["socket"])
        return
    assert got.socket is None and got.port == q["port"]
    if q["host"].startswith("["):  # Difference 1: QEMU keeps the brackets
        assert got.host == q["host"][1:-1]
        ipaddress.IPv6Address(got.host)
    else:
        assert got.host == q["host"]
    # Difference 2: QEMU warns and falls back to tcp; we keep rdma.
    is_rdma = uri.startswith("gluster+rdma:")
    assert (q["warning"] is not None) == is_rdma
    assert got.transport == ("rdma" if is_rdma else "tcp")


LIVE_SAMPLE = ["seed-1", "seed-7", "seed-8", "v6-1", "port-4", "sch-2", "unix-11"]


def _load_probe():
    spec = importlib.util.spec_from_file_location("uri_probe", ROOT / "tools/uri_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.real
def test_live_qemu_img_still_matches_the_recording():
    qemu_img = require_tool("qemu-img")
    probe = _load_probe()
    rows = [ROWS_BY_ID[cid] for cid in LIVE_SAMPLE]
    with concurrent.futures.ThreadPoolExecutor(len(rows)) as pool:
        live = list(pool.map(lambda row: probe.run_qemu(row["uri"], qemu_img), rows))
    keys = ("ok", "stage", "volume", "path", "host", "port", "socket", "warning", "error")
    for row, verdict in zip(rows, live):
        assert {k: verdict[k] for k in keys} == {k: row["qemu"][k] for k in keys}, row["id"]


# -- properties ----------------------------------------------------------------------------

_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_SEGMENT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/")
_segments = st.one_of(
    st.text(_SEGMENT_CHARS, min_size=1, max_size=10),
    st.sampled_from(["a.img", "dir", ".", "..", "", "%", "?", "#", "&", "[x]", " "]),
)
_hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.sampled_from(["fe80::1%eth0", "::ffff:1.2.3.4", "localhost", "server.domain.com"]),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9-]{1,8}){0,3}", fullmatch=True),
    st.text(_CHARS, min_size=1, max_size=15),  # anything: exercises the host's percent-encoding
)
_volumes = st.text(_SEGMENT_CHARS, min_size=1, max_size=12)
_paths = st.one_of(
    st.none(),
    st.lists(_segments, min_size=1, max_size=5).map("/".join).filter(lambda p: p and p[0] != "/"),
)
_uris = st.one_of(
    st.builds(
        GlusterURI,
        transport=st.sampled_from(["tcp", "rdma"]),
        host=_hosts,
        port=st.integers(1, 65535),
        socket=st.none(),
        volume=_volumes,
        path=_paths,
    ),
    st.builds(
        GlusterURI,
        transport=st.just("unix"),
        host=st.none(),
        port=st.none(),
        socket=st.text(_CHARS, max_size=30),
        volume=_volumes,
        path=_paths,
    ),
)


@settings(max_examples=400)
@given(_uris)
def test_to_uri_round_trips(u):
    text = u.to_uri()
    assert str(u) == text and text.isascii()
    assert parse_uri(text, require_path=u.path is not None) == u


_URI_ALPHABET = st.sampled_from(list("abcdefxyzAF0129-._~!$&'()*+,;=:@/?#[]% \x00\u00e9\\\"<>{}|^`"))
_PREFIXES = st.sampled_from(
    [
        "",
        "gluster:",
        "gluster://",
        "gluster+tcp://h",
        "gluster+unix://",
        "gluster+unix:///v/i?",
        "gluster+rdma://[",
        "gluster://h:",
        "gluster://h/v/",
        "gluster://[::1]",
        "GLUSTER://",
        "gluster+unix:///v/i?socket=",
    ]
)


@settings(max_examples=600)
@given(st.one_of(st.text(), st.builds(str.__add__, _PREFIXES, st.text(_URI_ALPHABET))), st.booleans())
def test_arbitrary_text_gives_a_glusteruri_or_urierror(text, require_path):
    try:
        u = parse_uri(text, require_path=require_path)
    except URIError as err:
        assert err.uri == text and err.rule
        return
    assert isinstance(u, GlusterURI)
    assert parse_uri(u.to_uri(), require_path=require_path) == u
