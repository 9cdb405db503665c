"""A machine of its own for management encryption: a private network + mount namespace in which
``/var/lib/glusterd`` (with ``secure-access``), OPENSSLDIR (/usr/lib/ssl on Debian, with
``glusterfs.{pem,key,ca}``),
``/var/log/glusterfs`` and ``/run`` are fresh directories, so nothing there touches the shared
glusterd or the machine's files (the way ../shared/fixtures/cluster was recorded).

``PrivateNamespace.start()`` runs a holder process under ``unshare --net --mount``; ``run(argv)``
runs a command inside (``nsenter``); ``start_glusterd()`` starts a real glusterd there (its
bricks stay inside too); ``close()`` ends every process of the namespace (by pid) and removes
the directories.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time

from fakegluster.tls import SSL_CERT_PATH

SETUP = r"""
set -e
T="$1"
mount --make-rprivate /
ip link set lo up
mount -t tmpfs tmpfs /run
mkdir -p /run/gluster
mount --bind "$T/lib" /var/lib/glusterd
mount --bind "$T/log" /var/log/glusterfs
mount --bind "$T/ssl" "$2"
if [ -f "$T/glusterd.vol" ]; then mount --bind "$T/glusterd.vol" /etc/glusterfs/glusterd.vol; fi
echo ready
exec sleep infinity
"""


class PrivateNamespace:
    def __init__(
        self, cert: str, key: str, ca: str, *, secure_access: str | None = "", glusterd_vol: str | None = None
    ):
        self.root = tempfile.mkdtemp(prefix="fgsec-ns-")
        for d in ("lib", "log", "ssl", "bricks"):
            os.mkdir(os.path.join(self.root, d))
        for name in ("hooks", "groups"):
            src = os.path.join("/var/lib/glusterd", name)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(self.root, "lib", name), symlinks=True)
        for entry in os.listdir(SSL_CERT_PATH):  # keep what is there (openssl.cnf, certs ...)
            target = os.path.join(SSL_CERT_PATH, entry)
            if not entry.startswith("glusterfs."):
                os.symlink(
                    os.readlink(target) if os.path.islink(target) else target, os.path.join(self.root, "ssl", entry)
                )
        for src, name in ((cert, "glusterfs.pem"), (key, "glusterfs.key"), (ca, "glusterfs.ca")):
            shutil.copy(src, os.path.join(self.root, "ssl", name))
        if secure_access is not None:
            with open(os.path.join(self.root, "lib", "secure-access"), "w") as f:
                f.write(secure_access)
        if glusterd_vol is not None:
            with open(os.path.join(self.root, "glusterd.vol"), "w") as f:
                f.write(glusterd_vol)
        self.holder: subprocess.Popen | None = None

    def start(self) -> PrivateNamespace:
        self.holder = subprocess.Popen(
            [
                "unshare",
                "--net",
                "--mount",
                "--propagation",
                "private",
                "bash",
                "-c",
                SETUP,
                "setup",
                self.root,
                SSL_CERT_PATH,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            err = self.holder.stderr.read() if self.holder.poll() is not None else ""
            self.close()
            raise RuntimeError(f"private namespace did not start: {line!r} {err}")
        return self

    @property
    def pid(self) -> int:
        assert self.holder is not None
        return self.holder.pid

    def nsenter(self, cwd: str | None = None) -> list[str]:
        """The command prefix entering the namespaces (``cwd``: the directory to run in;
        nsenter does not keep ours)."""
        return ["nsenter", "-t", str(self.pid), "-n", "-m", *([f"--wd={cwd}"] if cwd else [])]

    def run(
        self, argv: list[str], timeout: float = 120, check: bool = False, cwd: str | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run([*self.nsenter(cwd), *argv], capture_output=True, text=True, timeout=timeout, check=check)

    def popen(self, argv: list[str], cwd: str | None = None, **kw) -> subprocess.Popen:
        return subprocess.Popen([*self.nsenter(cwd), *argv], **kw)

    # ---- a real glusterd inside ------------------------------------------------------------
    def start_glusterd(self, timeout: float = 60) -> None:
        self.run(["glusterd", "-p", "/run/glusterd.pid"], check=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run(["gluster", "--mode=script", "volume", "list"]).returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError("the private glusterd does not answer")

    def gluster(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(["gluster", "--mode=script", *args], check=check)

    def create_volume(self, name: str, options: dict[str, str] | None = None) -> str:
        brick = os.path.join(self.root, "bricks", name)
        os.mkdir(brick)
        host = os.uname().nodename
        self.gluster("volume", "create", name, f"{host}:{brick}", "force")
        for k, v in (options or {}).items():
            self.gluster("volume", "set", name, k, v)
        self.gluster("volume", "start", name)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = self.gluster("volume", "status", name, "--xml", check=False).stdout
            if "<status>1</status>" in out:
                return brick
            time.sleep(0.3)
        raise RuntimeError(f"brick of {name} did not come up")

    # ---- cleanup ---------------------------------------------------------------------------
    def pids(self) -> list[int]:
        """Every process in this namespace (same net namespace as the holder)."""
        if self.holder is None:
            return []
        try:
            mine = os.readlink(f"/proc/{self.pid}/ns/net")
        except OSError:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != self.pid:
                try:
                    if os.readlink(f"/proc/{entry}/ns/net") == mine:
                        out.append(int(entry))
                except OSError:
                    pass
        return out

    def close(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while pids and time.monotonic() < deadline:
                pids = [p for p in pids if os.path.exists(f"/proc/{p}")]
                time.sleep(0.1)
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
            self.holder = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivateNamespace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
