"""glusterd's side: management encryption (``/var/lib/glusterd/secure-access``) and glusterd.vol's
``rpc-auth-allow-insecure``, on a real glusterd and on the fake, each in a private network + mount
namespace of its own (tests/security/privns.py) so that neither the shared glusterd nor the
machine's ``/var/lib/glusterd`` and OPENSSLDIR are touched.  The same probe
(tests/security/mgmt_probe.py) runs against both; qemu-img/qemu-io (libgfapi: TLS to 24007
because secure-access exists) run against both too."""

from __future__ import annotations

import concurrent.futures
import json
import sys
from pathlib import Path

import pytest

from fakegluster.testing.serve import serve_process
from tests.helpers import require_root, require_tool
from tests.interop.conftest import run_gfapi
from tests.security.privns import PrivateNamespace

pytestmark = pytest.mark.real

REPO = str(Path(__file__).resolve().parents[2])
VOLUME = "mgmtvol"


def _probe(ns: PrivateNamespace, *args: str) -> dict:
    r = ns.run([sys.executable, "-m", "tests.security.mgmt_probe", VOLUME, *args], cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _qemu(ns: PrivateNamespace) -> list:
    uri = f"gluster://127.0.0.1/{VOLUME}/q.raw"
    out = []
    for cmd in (
        ["qemu-img", "create", "-f", "raw", uri, "1M"],
        ["qemu-io", "-f", "raw", "-c", "write -P 0x5c 0 64k", "-c", "read -P 0x5c 0 64k", uri],
    ):
        cp = run_gfapi([*ns.nsenter(), *cmd], timeout=120)
        out.append((cp.returncode, cp.stdout, cp.qemu_stderr))
    return out


def _needs_root():
    for tool in ("unshare", "nsenter", "glusterd", "qemu-img", "qemu-io"):
        require_tool(tool)
    require_root("a private namespace")


@pytest.fixture(scope="module")
def secure(tls_files):
    """Real and fake, each with secure-access and OPENSSLDIR/glusterfs.* in its namespace."""
    _needs_root()
    files = (tls_files.own_cert, tls_files.private_key, tls_files.ca_list)
    real = PrivateNamespace(*files, secure_access="option transport.socket.ssl-cert-depth 2\n")
    fake = PrivateNamespace(*files, secure_access="")
    with real, fake:
        real.start_glusterd()
        real.create_volume(VOLUME)
        with serve_process(["--secure-access"], volumes=[VOLUME], prefix=fake.nsenter(REPO)):
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                futures = {
                    "real_qemu": pool.submit(_qemu, real),
                    "fake_qemu": pool.submit(_qemu, fake),
                    "real": pool.submit(_probe, real),
                }
                results = {k: f.result() for k, f in futures.items()}
        results["fake"] = _probe(fake, "--fake")
        yield results


def test_management_encryption_is_the_same_on_fake_and_real(secure):
    real, fake = secure["real"], secure["fake"]
    assert real["secure_access"] and real["tls"].startswith("TLSv1.3 op_ret>0 True")
    assert real["plain"] in ("reset", "eof")  # a plain-text client gets no answer
    assert real["gfclient"] == "ok"  # gfclient, like libgfapi, does TLS to 24007
    assert fake == real


def test_qemu_with_management_encryption(secure):
    for side in ("real_qemu", "fake_qemu"):
        (rc1, _, err1), (rc2, out2, err2) = secure[side]
        assert rc1 == 0, (side, err1)
        assert rc2 == 0 and "read 65536/65536 bytes" in out2, (side, err2)


def test_glusterd_rpc_auth_allow_insecure_off():
    _needs_root()
    with open("/etc/glusterfs/glusterd.vol") as f:
        vol = f.read().replace("end-volume", "    option rpc-auth-allow-insecure off\nend-volume")
    with PrivateNamespace("/dev/null", "/dev/null", "/dev/null", secure_access=None, glusterd_vol=vol) as real:
        real.start_glusterd()  # no volume: its bricks could not reach glusterd either
        real_out = _probe(real)
    with PrivateNamespace("/dev/null", "/dev/null", "/dev/null", secure_access=None) as fake:
        fake_out = _probe(
            fake, "--fake", "--fake-volume", "othervol", "--fake-glusterd-option", "rpc-auth-allow-insecure=off"
        )
    assert real_out["plain"] == "denied AUTH_ERROR AUTH_REJECTEDCRED"
    assert real_out["plain_privileged"] == "op_ret>0 False"  # answered: no such volume
    assert fake_out == real_out
