"""Volfiles: the real ones parse; the generator (fakegluster.mgmt.volgen; the full matrix is in
tests/mgmt/test_volgen.py) reproduces glusterd 10.3's byte for byte and its output parses; the
parser refuses what glusterfs's graph.y refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakegluster.mgmt.create import plain_volume
from fakegluster.mgmt.volgen import client_volfile
from fakegluster.proto.volfile import VolfileError, parse_volfile

VOLFILES = Path(__file__).parents[2] / "fixtures" / "volfiles"
USER = "aae02c30-dc4a-4553-8822-7295aa3a54bd"
PASSWORD = "665470cd-896c-4725-bc80-717612589ce2"


@pytest.mark.parametrize("name", ["real-brick-volfile", "real-client-volfile", "real-trusted-client-volfile"])
def test_real_volfiles_parse(name):
    graph = parse_volfile((VOLFILES / f"{name}.vol").read_text())
    assert len(graph.reachable()) == len(graph.xlators)  # every volume is used under the top


def test_trusted_client_volfile_graph():
    graph = parse_volfile((VOLFILES / "real-trusted-client-volfile.vol").read_text())
    assert graph.top.name == "testvol" and graph.top.type == "debug/io-stats"
    [client] = graph.of_type("protocol/client")
    assert client.options["remote-subvolume"] == "/tmp/gbrick1/b"
    assert client.options["username"] == USER and client.options["password"] == PASSWORD
    assert graph["testvol-dht"].subvolumes == ("testvol-client-0",)


def test_brick_volfile_keeps_auth_login_options():
    graph = parse_volfile((VOLFILES / "real-brick-volfile.vol").read_text())
    server = graph.top
    assert server.type == "protocol/server"
    assert server.options[f"auth.login.{USER}.password"] == PASSWORD
    assert server.options["auth.login./tmp/gbrick1/b.allow"] == USER


def test_generator_reproduces_glusterd_byte_for_byte():
    vol = plain_volume("testvol", ["vm:/tmp/gbrick1/b"], username=USER, password=PASSWORD)
    trusted = (VOLFILES / "real-trusted-client-volfile.vol").read_text()
    assert client_volfile(vol, trusted=True) == trusted
    assert len(trusted) == 1626  # the GETSPEC op_ret of the capture
    assert client_volfile(vol, trusted=False) == (VOLFILES / "real-client-volfile.vol").read_text()


def test_generated_multi_brick_volfile_parses_with_remote_ports():
    vol = plain_volume("v", ["127.0.0.1:/b0", "127.0.0.1:/b1"])
    text = client_volfile(vol, remote_ports=[49152, 49153])
    graph = parse_volfile(text)
    clients = graph.of_type("protocol/client")
    assert [c.options["remote-port"] for c in clients] == ["49152", "49153"]
    assert graph["v-dht"].subvolumes == ("v-client-0", "v-client-1")


@pytest.mark.parametrize(
    "text,rule",
    [
        ("volume a\n type x/y\n", "unexpected 'end of file'"),
        ("volume a\n option k v\nend-volume\n", "no 'type'"),
        ("volume a\n type x/y\n option k\nend-volume\n", "a value for option 'k'"),
        ("volume a\n type x/y\n option k 1\n option k 2\nend-volume\n", "duplicate entry ('option k')"),
        ("volume a\n type x/y\n subvolumes b\nend-volume\n", "subvolume 'b' has not been defined"),
        ("volume a\n type x/y\nend-volume\nvolume a\n type x/y\nend-volume\n", "defined again"),
        ("volume a\n type x/y\n subvolumes\nend-volume\n", "'subvolumes' without names"),
        ('volume a\n type x/y\n option k "open\nend-volume\n', "newline inside a quoted string"),
        ("", "defines no volume"),
        ("type x/y\n", "expected 'volume'"),
    ],
)
def test_parser_names_the_rule_broken(text, rule):
    with pytest.raises(VolfileError) as info:
        parse_volfile(text)
    assert rule in str(info.value)


def test_comments_and_quoted_values():
    graph = parse_volfile('# head\nvolume a # trailing\n type "x/y"\n option k "a \\"b\\" c"\nend-volume\n')
    assert graph.top.type == "x/y" and graph.top.options["k"] == 'a "b" c'


words = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_./"), min_size=1, max_size=12
).filter(lambda w: w not in ("volume", "type", "end-volume", "subvolumes", "option"))


@given(name=words, host=words, path=words, port=st.none() | st.integers(1, 65535), user=st.none() | words)
def test_generated_volfiles_always_parse(name, host, path, port, user):
    vol = plain_volume(name, [(host, path)], username=user, password=user)
    text = client_volfile(vol, remote_ports=[port])
    graph = parse_volfile(text)
    [client] = graph.of_type("protocol/client")
    assert client.options["remote-host"] == host and client.options["remote-subvolume"] == path
    assert graph.top.name == name
