"""A certificate authority and a server certificate for one run's wss:// listener.

Made fresh for every run with the `openssl` command (no Python package
needed): the server certificate names 127.0.0.1 (IP) and localhost (DNS) and
is signed by a CA that exists only for this run. Adapters trust exactly that
CA (the job's ``ca_file``), so TLS is verified for real and nothing on the
machine learns to trust it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


class CertError(RuntimeError):
    """openssl is missing or failed; the message quotes what it said."""


@dataclass(frozen=True)
class RunCerts:
    ca_file: Path  # PEM of the CA: what clients trust
    cert_file: Path  # PEM of the server certificate
    key_file: Path  # PEM of its private key


_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(args: list[str], cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise CertError("the openssl command is not installed (apt-get install openssl)")
    proc = subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise CertError(f"openssl {args[0]} failed: {proc.stderr.strip()[-800:]}")


def make_run_certs(directory: Path, run_id: str, days: int = 7) -> RunCerts:
    """Writes ca.pem, ca.key, server.pem and server.key into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    # P-256 keys: every client's TLS stack takes them, and making two takes
    # milliseconds where RSA-2048 took most of a second of the run's start.
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        [
            "req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", str(days), "-subj", f"/CN=wsreplay run CA {run_id}"[:64],
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ],
        directory,
    )  # fmt: skip
    _openssl(
        ["req", "-new", *key, "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost"],
        directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(_SERVER_EXTENSIONS, encoding="ascii")
    _openssl(
        [
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", str(days),
            "-extfile", "server.ext",
        ],
        directory,
    )  # fmt: skip
    return RunCerts(directory / "ca.pem", directory / "server.pem", directory / "server.key")
