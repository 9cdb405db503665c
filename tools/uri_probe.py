#!/usr/bin/env python3
"""Record how the REAL ``qemu-img`` (7.2, block-gluster module) parses gluster URIs.

For every URI in :data:`CASES` this runs ``timeout 30 qemu-img info URI`` (``LC_ALL=C``, in a
scratch directory) and records QEMU's verdict in ``fixtures/uri/qemu72_cases.json``:

* ``ok: false`` - QEMU refused the string before connecting: ``invalid URI`` (stage
  ``parse``), ``Unknown protocol`` (stage ``protocol``), or it was not a URI at all and the
  ``file`` driver said ENOENT (stage ``file-driver``);
* ``ok: true`` - QEMU's URI parser accepted it.  The fields come from QEMU's connection
  failure text ("Gluster connection for volume V, path P failed to connect" + "hint: failed
  on host H and port N" / "hint: failed on socket S"; stage ``connect``).  Stage
  ``gfapi-init`` means libgfapi refused the parsed values before connecting
  (``Invalid argument``: a bad volume name, a NULL socket), so no field is known.

Only loopback hosts (or unix sockets under /tmp that do not exist) and the nonexistent
volume ``uri-probe-novol`` are used, so every accepted URI fails fast and echoes its fields;
:func:`assert_loopback` refuses anything else.  libgfapi log lines (``[YYYY-...``) and
GLib-CRITICAL lines are dropped from stderr.  See /work/shared/protocol/URI.md.

Usage: ``python tools/uri_probe.py [--jobs 8] [--out fixtures/uri/qemu72_cases.json]``
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

V = "uri-probe-novol"  # a volume that does not exist: glfs_init fails in ~0-1 s
H = "127.0.0.1:1"  # nothing listens on port 1: connection refused at once
S = "/tmp/uri-probe-nonexistent.sock"

# (id, uri).  Ids follow the groups of URI.md §1.6.
CASES: list[tuple[str, str]] = [
    # the seed URIs of QEMU's gluster patch, moved to loopback hosts
    ("seed-1", f"gluster://{H}/{V}/a.img"),
    ("seed-2", f"gluster+tcp://{H}/{V}/a.img"),
    ("seed-3", f"gluster+tcp://127.0.0.1:24007/{V}/dir/a.img"),
    ("seed-4", f"gluster+tcp://[::1]/{V}/dir/a.img"),
    ("seed-5", f"gluster+tcp://[::1]:1/{V}/dir/a.img"),
    ("seed-6", f"gluster+tcp://localhost:1/{V}/dir/a.img"),
    ("seed-7", f"gluster+unix:///{V}/dir/a.img?socket={S}"),
    ("seed-8", f"gluster+rdma://{H}/{V}/a.img"),
    # volume / image path
    ("path-1", f"gluster://{H}/{V}"),
    ("path-2", f"gluster://{H}/{V}/"),
    ("path-3", f"gluster://{H}/{V}//"),
    ("path-4", f"gluster://{H}/"),
    ("path-5", f"gluster://{H}"),
    ("path-6", "gluster://"),
    ("path-7", f"gluster://{H}//a.img"),
    ("path-8", f"gluster://{H}//{V}/a.img"),
    ("path-9", f"gluster://{H}/{V}/dir/sub/a.img"),
    ("path-10", f"gluster://{H}/{V}/dir/"),
    ("path-11", f"gluster://{H}/{V}//dir//a.img"),
    ("path-12", f"gluster://{H}/{V}/./a.img"),
    ("path-13", f"gluster://{H}/{V}/../a.img"),
    ("path-14", f"gluster://{H}/{V}/a:b@c.img"),
    ("path-15", f"gluster://{H}/{V}/a;b=c&d!$'()*+,~.img"),
    ("path-16", "gluster:"),
    ("path-17", f"gluster:/{V}"),
    ("path-18", f"gluster://{H}/{V}///a.img"),
    # hosts, including the no-// forms
    ("lo-1", f"gluster:///{V}/a.img"),
    ("lo-2", f"gluster:/{V}/a.img"),
    ("lo-3", f"gluster:{V}/a.img"),
    ("lo-4", f"gluster+rdma:///{V}/a.img"),
    ("lo-5", f"gluster:127.0.0.1/{V}/a.img"),
    ("lo-6", f"gluster://localhost:1/{V}/a.img"),
    ("lo-7", f"gluster://LOCALHOST:1/{V}/a.img"),
    ("lo-8", f"gluster://127.0.0.%31:1/{V}/a.img"),
    ("lo-9", f"gluster://%31%32%37.0.0.1:1/{V}/a.img"),
    ("lo-10", f"gluster://:1/{V}/a.img"),
    ("lo-11", f"gluster+tcp:///{V}/a.img"),
    ("lo-12", f"gluster://127.0.0.1 :1/{V}/a.img"),
    ("lo-13", f"gluster://127.0.0.%3:1/{V}/a.img"),
    # IPv6
    ("v6-1", f"gluster://[::1]:1/{V}/a.img"),
    ("v6-2", f"gluster://[::1]/{V}/a.img"),
    ("v6-3", f"gluster://[0:0:0:0:0:0:0:1]:1/{V}/a.img"),
    ("v6-4", f"gluster://[::ffff:127.0.0.1]:1/{V}/a.img"),
    ("v6-5", f"gluster://::1/{V}/a.img"),
    ("v6-6", f"gluster://::1:1/{V}/a.img"),
    ("v6-7", f"gluster://[::1:1/{V}/a.img"),
    ("v6-8", f"gluster://[::1]x/{V}/a.img"),
    ("v6-9", f"gluster://[::1]:/{V}/a.img"),
    ("v6-10", f"gluster+rdma://[::1]:1/{V}/a.img"),
    # ports
    ("port-1", f"gluster://127.0.0.1:0/{V}/a.img"),
    ("port-2", f"gluster://127.0.0.1:00024007/{V}/a.img"),
    ("port-3", f"gluster://127.0.0.1:65535/{V}/a.img"),
    ("port-4", f"gluster://127.0.0.1:65536/{V}/a.img"),
    ("port-5", f"gluster://127.0.0.1:99999/{V}/a.img"),
    ("port-6", f"gluster://127.0.0.1:/{V}/a.img"),
    ("port-7", f"gluster://127.0.0.1:abc/{V}/a.img"),
    ("port-8", f"gluster://127.0.0.1:-1/{V}/a.img"),
    ("port-9", f"gluster://127.0.0.1:+1/{V}/a.img"),
    ("port-10", f"gluster://127.0.0.1:1:2/{V}/a.img"),
    ("port-11", f"gluster://127.0.0.1:1x/{V}/a.img"),
    ("port-12", f"gluster://127.0.0.1:0001/{V}/a.img"),
    ("port-13", f"gluster://127.0.0.1:{'0' * 30}1/{V}/a.img"),
    ("port-14", f"gluster://127.0.0.1:1?/{V}/a.img"),
    ("port-15", f"gluster://127.0.0.1:065536/{V}/a.img"),
    # schemes / block-layer protocol lookup
    ("sch-1", f"gluster+foo://{H}/{V}/a.img"),
    ("sch-2", f"GLUSTER://{H}/{V}/a.img"),
    ("sch-3", f"Gluster+TCP://{H}/{V}/a.img"),
    ("sch-4", f"gluster+://{H}/{V}/a.img"),
    ("sch-5", f"glusterfs://{H}/{V}/a.img"),
    ("sch-6", f"gluster+unix+tcp://{H}/{V}/a.img"),
    ("sch-7", f"gluster+TCP://{H}/{V}/a.img"),
    ("sch-8", f"//127.0.0.1/{V}/a.img"),
    ("sch-9", f"/{V}/a.img"),
    ("sch-10", f"127.0.0.1:1/{V}/a.img"),
    ("sch-11", f":gluster//{H}/{V}/a.img"),
    ("sch-12", f"{V}/a.img"),
    # userinfo
    ("ui-1", f"gluster://user@{H}/{V}/a.img"),
    ("ui-2", f"gluster://user:pw@{H}/{V}/a.img"),
    ("ui-3", f"gluster://us%40er@{H}/{V}/a.img"),
    ("ui-4", f"gluster://@{H}/{V}/a.img"),
    ("ui-5", f"gluster://a@b@{H}/{V}/a.img"),
    ("ui-6", f"gluster://user@/{V}/a.img"),
    ("ui-7", f"gluster+unix://user@/{V}/a.img?socket={S}"),
    ("ui-8", f"gluster://us%zzer@{H}/{V}/a.img"),
    # fragments
    ("frag-1", f"gluster://{H}/{V}/a.img#frag"),
    ("frag-2", f"gluster://{H}/{V}/a.img#"),
    ("frag-3", f"gluster://{H}/{V}/a.img#[x]?/"),
    ("frag-4", f"gluster://{H}/{V}/a.img#a#b"),
    ("frag-5", f"gluster+unix:///{V}/a.img?socket={S}#frag"),
    ("frag-6", f"gluster://{H}/{V}/a.img#%00"),
    # percent-encoding
    ("pct-1", f"gluster://{H}/{V}/a%2Fb.img"),
    ("pct-2", f"gluster://{H}/{V}%2Fa.img"),
    ("pct-3", f"gluster://{H}/uri-probe-nov%6Fl/a.img"),
    ("pct-4", f"gluster://{H}/{V}/a%20b.img"),
    ("pct-5", f"gluster://{H}/{V}/a%zzb.img"),
    ("pct-6", f"gluster://{H}/{V}/a%2.img"),
    ("pct-7", f"gluster://{H}/{V}/a.img%"),
    ("pct-8", f"gluster://{H}/{V}/a%00b.img"),
    ("pct-9", f"gluster://{H}/{V}/%C3%A9.img"),
    ("pct-10", f"gluster://{H}/{V}/%FF.img"),
    ("pct-11", f"gluster://{H}/{V}/a.img?%73ocket={S}"),
    ("pct-12", f"gluster+unix:///{V}/a.img?sock%65t={S}"),
    ("pct-13", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-a%26b.sock"),
    ("pct-14", f"gluster+unix:///{V}/a.img?socket=%2Ftmp%2Furi-probe-x.sock"),
    ("pct-15", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-a%00b.sock"),
    ("pct-16", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-a%3Bb.sock"),
    ("pct-17", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-a+b.sock"),
    ("pct-18", f"gluster://{H}/{V}/a%2fb%2Fc.img"),
    ("pct-19", f"gluster://127.0.0.1%00:1/{V}/a.img"),
    ("pct-20", f"gluster://{H}/{V}%00/a.img"),
    ("pct-21", f"gluster+unix:///{V}/a.img?socket%00x={S}"),
    # characters outside RFC 3986
    ("chr-1", f"gluster://{H}/{V}/a b.img"),
    ("chr-2", f'gluster://{H}/{V}/a"b.img'),
    ("chr-3", f"gluster://{H}/{V}/a<b>.img"),
    ("chr-4", f"gluster://{H}/{V}/a{{b}}.img"),
    ("chr-5", f"gluster://{H}/{V}/a|b.img"),
    ("chr-6", f"gluster://{H}/{V}/a\\b.img"),
    ("chr-7", f"gluster://{H}/{V}/a^b.img"),
    ("chr-8", f"gluster://{H}/{V}/a`b.img"),
    ("chr-9", f"gluster://{H}/{V}/a[b].img"),
    ("chr-10", f"gluster://{H}/{V}/\u00e9.img"),
    ("chr-11", f"gluster://{H}/{V}/a.img?a b"),
    # query quirks on tcp
    ("q-1", f"gluster://{H}/{V}/a.img?socket={S}"),
    ("q-2", f"gluster://{H}/{V}/a.img?foo=bar"),
    ("q-3", f"gluster://{H}/{V}/a.img?"),
    ("q-4", f"gluster://{H}/{V}/a.img?=x"),
    ("q-5", f"gluster://{H}/{V}/a.img?="),
    ("q-6", f"gluster+rdma://{H}/{V}/a.img?socket={S}"),
    ("q-7", f"gluster://{H}/{V}/a.img?&&;"),
    ("q-8", f"gluster://{H}/{V}/a.img?=x&=y;=z"),
    ("q-9", f"gluster://{H}/{V}/a.img?socket="),
    ("q-10", f"gluster://{H}/{V}/a.img?foo"),
    ("q-11", f"gluster://{H}/{V}/a.img?a?b"),
    ("q-12", f"gluster://{H}/{V}/a.img?=&=x"),
    # unix
    ("unix-1", f"gluster+unix:///{V}/a.img"),
    ("unix-2", f"gluster+unix://127.0.0.1/{V}/a.img?socket={S}"),
    ("unix-3", f"gluster+unix://:1/{V}/a.img?socket={S}"),
    ("unix-4", f"gluster+unix://:0/{V}/a.img?socket={S}"),
    ("unix-5", f"gluster+unix://localhost/{V}/a.img?socket={S}"),
    ("unix-6", f"gluster+unix:///{V}/a.img?foo={S}"),
    ("unix-7", f"gluster+unix:///{V}/a.img?Socket={S}"),
    ("unix-8", f"gluster+unix:///{V}/a.img?socket={S}&socket={S}"),
    ("unix-9", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-a;b.sock"),
    ("unix-10", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-a;b.sock&"),
    ("unix-11", f"gluster+unix:///{V}/a.img?socket"),
    ("unix-12", f"gluster+unix:///{V}/a.img?socket="),
    ("unix-13", f"gluster+unix:///{V}/a.img?&socket={S}&"),
    ("unix-14", f"gluster+unix:///{V}/a.img?=x&socket={S}"),
    ("unix-15", f"gluster+unix:///{V}/a.img?socket={S}&="),
    ("unix-16", f"gluster+unix:///{V}/a.img?="),
    ("unix-17", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-x=y.sock"),
    ("unix-18", f"gluster+unix:/{V}/a.img?socket={S}"),
    ("unix-19", f"gluster+unix:{V}/a.img?socket={S}"),
    ("unix-20", f"gluster+unix:///{V}?socket={S}"),
    ("unix-21", f"gluster+unix://[::1]/{V}/a.img?socket={S}"),
    ("unix-22", f"gluster+unix://%00/{V}/a.img?socket={S}"),
    ("unix-23", f"gluster+unix:///{V}/a.img?socket=uri-probe-relative.sock"),
    ("unix-24", f"gluster+unix:///{V}/a.img?socket=/tmp/uri-probe-x?y.sock"),
    ("unix-25", f"gluster+unix:///{V}/a.img?socket={S}&;"),
    ("unix-26", f"gluster+unix:///{V}/a.img?;socket={S}"),
    ("unix-27", f"gluster+unix:///{V}/dir//a.img/?socket={S}"),
    ("unix-28", f"gluster+unix://:/{V}/a.img?socket={S}"),
]

_LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d |^\(process:\d+\): GLib")
_CONNECT = re.compile(r"Gluster connection for volume (.*?), path (.*) failed to connect")
_PLEASE = " Please refer to gluster logs for more info"
_HINT_HOST = re.compile(r"hint: failed on host (.*) and port (\d+)" + _PLEASE)
_HINT_SOCKET = re.compile(r"hint: failed on socket (.*)" + _PLEASE)
_LOOPBACK = {"", "127.0.0.1", "localhost", "LOCALHOST", "[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"}


def assert_loopback(uri: str) -> None:
    """Refuse (ValueError) to hand qemu-img a URI whose host might not be loopback.

    Deliberately independent of the parser under test, and conservative: take the
    authority, drop userinfo and port, percent-decode (cutting at NUL, as QEMU does) and look
    the result up in a list.  Hosts QEMU's RFC 3986 parser cannot accept pass unchecked (a
    reg-name with a character outside unreserved / sub-delims / %XX, or a '[' never closed)."""
    scheme, sep, rest = uri.partition(":")
    if not sep or "/" in scheme or not rest.startswith("//"):
        return  # not a URI (file driver) or no authority: localhost
    body = rest[2:]
    authority = re.split(r"[/?#]", body, maxsplit=1)[0]
    if "@" in authority:
        body = body[authority.rindex("@") + 1 :]
    if body.startswith("["):
        if "]" not in body:
            return  # QEMU: unterminated IP-literal, the URI is invalid
        host = body[: body.index("]") + 1]
    else:
        host = re.split(r"[/?#:]", body, maxsplit=1)[0]
        if re.search(r"[^A-Za-z0-9._~!$&'()*+,;=%-]|%(?![0-9A-Fa-f]{2})", host):
            return  # QEMU's reg-name scan stops there and the URI is invalid
    host = urllib.parse.unquote(host, errors="surrogateescape").partition("\x00")[0]
    if host not in _LOOPBACK:
        raise ValueError(f"refusing to run qemu-img on a non-loopback host {host!r}: {uri}")


def qemu_img_version(qemu_img: str = "qemu-img") -> str:
    out = subprocess.run([qemu_img, "--version"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0].strip()


def run_qemu(uri: str, qemu_img: str = "qemu-img", timeout: int = 30) -> dict:
    """Run ``qemu-img info URI`` and return QEMU's verdict (see the module docstring)."""
    assert_loopback(uri)
    env = dict(os.environ, LC_ALL="C")
    with tempfile.TemporaryDirectory(prefix="uri-probe-") as cwd:
        proc = subprocess.run(
            ["timeout", str(timeout), qemu_img, "info", uri],
            capture_output=True,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
    text = proc.stderr.decode("utf-8", "surrogateescape")
    lines = [ln for ln in text.split("\n") if ln and not _LOG_LINE.match(ln)]
    verdict: dict = {
        "ok": None,
        "stage": None,
        "volume": None,
        "path": None,
        "host": None,
        "port": None,
        "socket": None,
        "warning": None,
        "error": None,
        "rc": proc.returncode,
        "stderr": lines,
    }
    prefix = f"qemu-img: Could not open '{uri}': "
    warnings = [ln[len("qemu-img: warning: ") :] for ln in lines if ln.startswith("qemu-img: warning: ")]
    if warnings:
        verdict["warning"] = "; ".join(warnings)
    msg = next((ln[len(prefix) :] for ln in lines if ln.startswith(prefix)), None)
    if proc.returncode == 124:
        verdict.update(stage="timeout", error="timeout")
    elif proc.returncode == 0:
        verdict.update(ok=True, stage="open")
    elif msg is None:
        verdict.update(stage="unknown", error="\n".join(lines))
    elif msg.startswith("invalid URI "):
        verdict.update(ok=False, stage="parse", error="invalid URI")
    elif msg.startswith("Unknown protocol "):
        verdict.update(ok=False, stage="protocol", error=msg)
    elif m := _CONNECT.fullmatch(msg):
        verdict.update(ok=True, stage="connect", volume=m[1], path=m[2], error="failed to connect")
        for ln in lines:
            if h := _HINT_HOST.fullmatch(ln):
                verdict.update(host=h[1], port=int(h[2]))
            elif s := _HINT_SOCKET.fullmatch(ln):
                verdict.update(socket=s[1])
    elif msg == f"Could not open '{uri}': Invalid argument":
        verdict.update(ok=True, stage="gfapi-init", error="Invalid argument")
    elif msg == f"Could not open '{uri}': No such file or directory" and "/" in uri:
        # No gluster connection was possible (no such volume), so this is the file driver.
        verdict.update(ok=False, stage="file-driver", error="No such file or directory")
    else:
        verdict.update(stage="unknown", error=msg)
    return verdict


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--qemu-img", default="qemu-img")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "fixtures/uri/qemu72_cases.json"
    )
    args = ap.parse_args(argv)

    ids = [cid for cid, _ in CASES]
    assert len(set(ids)) == len(ids), "duplicate case ids"
    for _, uri in CASES:
        assert_loopback(uri)
    version = qemu_img_version(args.qemu_img)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        verdicts = list(pool.map(lambda c: run_qemu(c[1], args.qemu_img), CASES))
    rows = [{"id": cid, "uri": uri, "qemu": v} for (cid, uri), v in zip(CASES, verdicts)]
    doc = {
        "qemu_img_version": version,
        "generator": "tools/uri_probe.py",
        "spec": "/work/shared/protocol/URI.md",
        "cases": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n")
    stages: dict[str, int] = {}
    for v in verdicts:
        stages[v["stage"]] = stages.get(v["stage"], 0) + 1
    print(f"{version}: {len(rows)} URIs -> {args.out}  stages: {stages}")
    bad = [r for r in rows if r["qemu"]["stage"] in ("unknown", "timeout")]
    for r in bad:
        print(f"  unclassified: {r['id']} {r['uri']!r}: {r['qemu']['error']!r}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
