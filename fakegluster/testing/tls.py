"""Test certificates for TLS volumes, made by trustme (``pip install fakegluster[test]``).

::

    files = make_tls_files(tmp_path)                 # a CA, and a certificate CN=fakegluster
    server = FakeGluster(options=files.volume_options())      # server.ssl, client.ssl, ssl.*
    with gfclient.connect(server.uri("testvol")) as vol: ...  # the volfile names the files

The same options work on a real glusterd (``gluster volume set V ssl.own-cert PATH`` ...):
bricks and clients then use those files instead of ``OPENSSLDIR/glusterfs.{pem,key,ca} (/usr/lib/ssl on Debian)``.
:meth:`TLSFiles.issue` makes more identities (other common names, or issued through
intermediate CAs to exercise ``ssl.certificate-depth``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from ..tls import TLSSettings

__all__ = ["TLSFiles", "Identity", "make_tls_files"]


@dataclasses.dataclass(frozen=True)
class Identity:
    """A certificate (with its chain up to, not including, the root) and its key."""

    common_name: str
    cert: str
    key: str

    def settings(self, ca_list: str, **kw: Any) -> TLSSettings:
        return TLSSettings(own_cert=self.cert, private_key=self.key, ca_list=ca_list, **kw)


@dataclasses.dataclass
class TLSFiles:
    """A CA (``ca_list``) and identities issued by it, as PEM files in ``directory``."""

    directory: str
    ca: Any  # trustme.CA
    ca_list: str
    default: Identity

    @property
    def own_cert(self) -> str:
        return self.default.cert

    @property
    def private_key(self) -> str:
        return self.default.key

    def issue(self, common_name: str, *, intermediates: int = 0) -> Identity:
        """A new certificate ``CN=common_name``, issued through ``intermediates`` CAs below
        our root (the file holds the certificate and those CAs)."""
        issuer = self.ca
        for _ in range(intermediates):
            issuer = issuer.create_child_ca()
        cert = issuer.issue_cert(f"{_dns(common_name)}.fakegluster.test", common_name=common_name)
        base = os.path.join(self.directory, f"{_dns(common_name)}{'-im' * intermediates}")
        with open(base + ".pem", "wb") as f:
            for pem in cert.cert_chain_pems:
                f.write(pem.bytes())
        cert.private_key_pem.write_to_path(base + ".key")
        os.chmod(base + ".key", 0o600)
        return Identity(common_name, base + ".pem", base + ".key")

    def settings(self, **kw: Any) -> TLSSettings:
        """The default identity's :class:`~fakegluster.tls.TLSSettings`."""
        return self.default.settings(self.ca_list, **kw)

    def volume_options(self, *, server: bool = True, client: bool = True, **more: str) -> dict[str, str]:
        """``volume set`` options putting a volume on TLS with these files (extra keys as
        ``ssl_cipher_list="HIGH"`` -> ``ssl.cipher-list``)."""
        opts = {
            "ssl.own-cert": self.own_cert,
            "ssl.private-key": self.private_key,
            "ssl.ca-list": self.ca_list,
        }
        if server:
            opts["server.ssl"] = "on"
        if client:
            opts["client.ssl"] = "on"
        opts.update({k.replace("_", ".", 1).replace("_", "-"): v for k, v in more.items()})
        return opts


def _dns(name: str) -> str:
    return "".join(c if c.isalnum() or c == "-" else "-" for c in name.lower()) or "x"


def make_tls_files(directory: str | os.PathLike[str], common_name: str = "fakegluster") -> TLSFiles:
    """A fresh CA and one identity ``CN=common_name`` under ``directory``."""
    import trustme

    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    ca = trustme.CA(organization_name="fakegluster test CA")
    ca_list = os.path.join(directory, "ca.pem")
    ca.cert_pem.write_to_path(ca_list)
    files = TLSFiles(directory, ca, ca_list, Identity("", "", ""))
    files.default = files.issue(common_name)
    return files
