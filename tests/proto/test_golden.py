"""Golden bytes: every RPC message of real GlusterFS 10.3 captures decodes completely and
re-encodes byte for byte; the decoder agrees with tshark's RPC dissector message by message;
the qemu capture shows the call sequence of PROTOCOL.md §6."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fakegluster.decode import decode_capture
from fakegluster.proto import fops
from fakegluster.proto.events import Call, Reply
from tests.helpers import require_tool

PCAPS = sorted((Path(__file__).parents[2] / "fixtures" / "pcaps").glob("*.pcap"))
IDS = [p.stem for p in PCAPS]


@pytest.fixture(scope="module", params=PCAPS, ids=IDS)
def capture(request):
    return request.param, list(decode_capture(str(request.param)))


def test_captures_are_bundled():
    assert {p.name for p in PCAPS} >= {"qemu_create_write_read.pcap", "qemu_lifecycle.pcap", "fuse_posix.pcap"}


def test_every_message_decodes_and_reencodes_byte_for_byte(capture):
    path, messages = capture
    assert len(messages) > 50
    for m in messages:
        assert m.error is None, (m.stream, m.error)
        assert m.roundtrips, (m.stream, m.as_json())


def test_no_leftover_bytes_except_read_write_payloads(capture):
    _, messages = capture
    for m in messages:
        ev = m.event
        if isinstance(ev, Call) and ev.prog == fops.GLUSTER_FOP_PROGRAM and ev.proc == fops.GfFop.WRITE:
            assert len(ev.payload) == ev.args.size > 0
        elif isinstance(ev, Reply) and ev.prog == fops.GLUSTER_FOP_PROGRAM and ev.proc == fops.GfFop.READ:
            assert len(ev.payload) == max(ev.result.op_ret, 0) == ev.result.size
        else:
            assert len(ev.payload) == 0, m.as_json()


def _tshark_rpc(path: Path) -> list[tuple[int, int, int, int, int]]:
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-o",
            "tcp.desegment_tcp_streams:TRUE",
            "-Y",
            "rpc",
            "-T",
            "fields",
            "-E",
            "separator=;",
            "-e",
            "tcp.stream",
            "-e",
            "rpc.xid",
            "-e",
            "rpc.msgtyp",
            "-e",
            "rpc.program",
            "-e",
            "rpc.programversion",
            "-e",
            "rpc.procedure",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        stream, xids, types, progs, vers, procs = (f.split(",") for f in line.split(";"))
        # Several RPC messages may share one frame; a field can also repeat when the gluster
        # dissector shows it again, so keep one value per message.
        n = len(xids)
        vers = vers[:: len(vers) // n] if len(vers) > n else vers
        for i in range(n):
            rows.append((int(stream[0]), int(xids[i], 16), int(types[i]), int(progs[i]), int(vers[i]), int(procs[i])))
    return rows


@pytest.mark.real
def test_decoder_agrees_with_tshark_message_by_message(capture):
    """tshark 4.0's RPC dissector is an independent reading of the same bytes (it mislabels
    GlusterFS proc 41 as FORGET by name, but the numbers are the wire's)."""
    require_tool("tshark")
    path, messages = capture
    ours = sorted(
        (m.stream, m.event.xid, 0 if isinstance(m.event, Call) else 1, m.event.prog, m.event.vers, m.event.proc)
        for m in messages
    )
    assert ours == sorted(_tshark_rpc(path))


def test_decode_cli_check_passes_on_every_bundled_capture():
    proc = subprocess.run(
        [sys.executable, "-m", "fakegluster", "decode", "--check", *map(str, PCAPS)], capture_output=True, text=True
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines[-1] == "decoded 914 messages, 0 failed" or lines[-1].endswith(" messages, 0 failed")
    assert len(lines) == 1  # nothing to report


def test_decode_cli_fails_on_a_capture_without_rpc(tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    proc = subprocess.run(
        [sys.executable, "-m", "fakegluster", "decode", "--check", str(empty)], capture_output=True, text=True
    )
    assert proc.returncode == 1 and proc.stdout.strip().splitlines()[-1] == "decoded 0 messages, 0 failed"
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    proc = subprocess.run([sys.executable, "-m", "fakegluster", "decode", str(junk)], capture_output=True, text=True)
    assert proc.returncode == 2 and "junk.pcap" in proc.stderr


def _sequence(messages, stream):
    return [
        ("call" if isinstance(m.event, Call) else "reply", m.as_json()["proc"], m.event.xid)
        for m in messages
        if m.stream == stream
    ]


def test_qemu_capture_shows_the_call_sequence_of_protocol_md_section_6():
    messages = list(decode_capture(str(PCAPS[[p.stem for p in PCAPS].index("qemu_create_write_read")])))
    # §6.1 stream 0: gfapi mgmt fetches the volfile.
    assert _sequence(messages, 0) == [("call", "GETSPEC", 2), ("reply", "GETSPEC", 2)]
    getspec = [m.event for m in messages if m.stream == 0]
    assert getspec[0].args.key == "testvol" and getspec[0].args.flags == 1
    assert getspec[1].result.op_ret == len(getspec[1].result.spec) == 1626
    # §6.1 stream 1: protocol/client asks glusterd for the brick port.
    assert _sequence(messages, 1) == [
        ("call", "DUMP", 2),
        ("call", "PING", 3),
        ("reply", "DUMP", 2),
        ("reply", "PING", 3),
        ("call", "PORTBYBRICK", 4),
        ("reply", "PORTBYBRICK", 4),
    ]
    port = [m.event for m in messages if m.stream == 1][-1].result
    assert (port.op_ret, port.status, port.port) == (0, 0, 50754)
    # §6.1 stream 2 (qemu-img create) and §6.2 stream 6 (qemu-io write/read).
    calls = lambda s: [p for t, p, _ in _sequence(messages, s) if t == "call"]  # noqa: E731
    assert calls(2) == [
        "DUMP",
        "PING",
        "SETVOLUME",
        "STATFS",
        "LOOKUP",
        "LOOKUP",
        "CREATE",
        "FTRUNCATE",
        "FLUSH",
        "RELEASE",
    ]
    assert calls(6) == [
        "DUMP",
        "PING",
        "SETVOLUME",
        "STATFS",
        "LOOKUP",
        "LOOKUP",
        "OPEN",
        "SEEK",
        "READ",
        "WRITE",
        "FSYNC",
        "READ",
        "FLUSH",
        "RELEASE",
    ]
    assert [x for kind, _, x in _sequence(messages, 2) if kind == "call"] == list(range(5, 15))  # xids go on
    s6 = {(m.event.xid, type(m.event).__name__): m.event for m in messages if m.stream == 6}
    seek = s6[(12, "Reply")].result
    assert (seek.op_ret, seek.op_errno) == (-1, 6)  # ENXIO: SEEK_DATA at EOF
    setvol = s6[(7, "Call")]
    assert type(setvol.cred).__name__ == "AuthGlusterfsParamsV3" and len(setvol.args.dict) == 22
    assert setvol.args.dict["process-name"] == b"gfapi.qemu-io\0"
    rsp = s6[(7, "Reply")].result
    assert (rsp.op_ret, rsp.op_errno) == (0, 22) and rsp.dict["child_up"] == b"1\0"
    write = s6[(14, "Call")]
    assert write.args.size == 65536 and bytes(write.payload) == b"\xab" * 65536
    read = s6[(16, "Reply")]
    assert read.result.op_ret == 65536 and bytes(read.payload) == b"\xab" * 65536


def test_lookup_xdata_xdr_size_matches_the_capture():
    """PROTOCOL.md §3.1: a 4-pair LOOKUP xdata is 156 bytes with xdr_size 144."""
    messages = list(decode_capture(str(PCAPS[[p.stem for p in PCAPS].index("qemu_create_write_read")])))
    lookup = next(
        m
        for m in messages
        if isinstance(m.event, Call) and m.event.proc == fops.GfFop.LOOKUP and m.event.prog == fops.GLUSTER_FOP_PROGRAM
    )
    xdata = lookup.event.args.xdata
    assert set(xdata) == {"trusted.glusterfs.mdata", "glusterfs.content", "security.ima", "security.capability"}
    from fakegluster.proto import xdr
    from fakegluster.proto.gfdict import GFX_DICT

    encoded = xdr.encode(GFX_DICT, xdata)
    assert len(encoded) == 156 and int.from_bytes(encoded[:4], "big") == 144


def _cli_messages(stem):
    from fakegluster.proto import cli

    path = PCAPS[[p.stem for p in PCAPS].index(stem)]
    return [m.event for m in decode_capture(str(path)) if m.event.prog == cli.GLUSTER_CLI_PROGRAM]


def test_cli_capture_decodes_the_gluster_cli_program():
    """/work/shared/fixtures/cluster/README.md section 8: the eleven commands' CLI calls
    (``volume heal info`` makes none: it runs glfsheal), each answered on its own connection."""
    from fakegluster.proto import cli

    events = _cli_messages("cli_mgmt")
    calls = [e for e in events if isinstance(e, Call)]
    replies = {e.xid: e for e in events if isinstance(e, Reply)}
    assert [cli.PROGRAM[c.proc].name for c in calls] == [
        "CREATE_VOLUME",
        "START_VOLUME",
        "GET_VOLUME",
        "GET_VOLUME",
        "SET_VOLUME",
        "GET_VOL_OPT",
        "SET_VOLUME",
        "STATUS_VOLUME",
        "STOP_VOLUME",
        "DELETE_VOLUME",
    ]
    assert all(c.xid == 2 for c in calls)  # each CLI process makes its one call with xid 2
    create = calls[0].args.dict
    assert create["volname"] == b"capcli\0" and create["replica-count"] == b"3\0" and create["type"] == b"2\0"
    info = replies[2].result
    assert isinstance(info, cli.GfCliRsp)
    bad_set = [e for e in events if isinstance(e, Reply) and e.result.op_ret == -1]
    assert len(bad_set) == 1
    rsp = bad_set[0].result
    assert (rsp.op_errno, rsp.op_errstr) == (
        30800,
        "option : no.such.option does not exist\nDid you mean nfs.drc-size or ...mem-factor?",
    )


def test_cli_over_tcp_is_read_only_proc_unavail_for_the_rest():
    """Section 8b: over TCP, glusterd 10.3 serves only gd_svc_cli_trusted_actors."""
    from fakegluster.proto import cli
    from fakegluster.proto.errors import AcceptStat

    events = _cli_messages("cli_mgmt_remote_host")
    by_proc = {}
    for e in events:
        if isinstance(e, Reply):
            by_proc.setdefault(cli.PROGRAM[e.proc].name, set()).add(e.stat)
    assert by_proc == {
        "CREATE_VOLUME": {AcceptStat.PROC_UNAVAIL},
        "START_VOLUME": {AcceptStat.PROC_UNAVAIL},
        "GET_VOLUME": {AcceptStat.SUCCESS},
        "SET_VOLUME": {AcceptStat.PROC_UNAVAIL},
        "GET_VOL_OPT": {AcceptStat.PROC_UNAVAIL},
        "STATUS_VOLUME": {AcceptStat.SUCCESS},
        "STOP_VOLUME": {AcceptStat.PROC_UNAVAIL},
        "DELETE_VOLUME": {AcceptStat.PROC_UNAVAIL},
    }
    assert set(by_proc) - {"GET_VOLUME", "STATUS_VOLUME"} <= set(cli.UNIX_PROCEDURES) - set(cli.TCP_PROCEDURES)
    assert {"GET_VOLUME", "STATUS_VOLUME"} <= set(cli.TCP_PROCEDURES)


def test_cli_program_lists_every_procedure_of_10_3():
    from fakegluster.proto import cli

    assert sorted(cli.PROGRAM.procs) == list(range(50))
    assert [p.name for p in cli.PROGRAM.procs.values()] == [
        n.name.removeprefix("GLUSTER_CLI_") for n in cli.GlusterCliProcnum
    ]
    assert cli.PROGRAM["LIST_FRIENDS"].reply is cli.Gf1CliPeerListRsp
    assert cli.PROGRAM["GET_VOL_OPT"].args is cli.GfCliReq
