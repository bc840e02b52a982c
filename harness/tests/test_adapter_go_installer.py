"""The Go installer (wsreplay.installers.go) and what the two Go adapters share.

The first part is offline: version rules, the module chosen for a version,
the cache, the generated module. The tests marked e2e build real adapters
(Go module proxy, go build): a local checkout (`ADAPTER@path:DIR`), and TLS
against a certificate authority the adapter must trust exclusively.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay import clients
from wsreplay.installers import InstallError, VersionNotFound
from wsreplay.installers import go as goinst
from wsreplay.paths import REPO_ROOT
from wsreplay.running.tlscerts import make_run_certs

ADAPTERS_DIR = REPO_ROOT / "harness" / "adapters"
GORILLA = clients.ADAPTERS["go-gorilla"]
CODER = clients.ADAPTERS["go-coder"]

CODER_LISTED = ["v1.8.12", "v1.8.13", "v1.8.14", "v1.8.15"]
NHOOYR_LISTED = ["v1.8.6", "v1.8.7", "v1.8.10", "v1.8.11", "v1.8.17"]


# --------------------------------------------------------------------------
# versions


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("1.5.3", "v1.5.3"),
        ("v1.5.3", "v1.5.3"),
        (" v1.5.3 ", "v1.5.3"),
        ("v1.5", "v1.5.0"),  # like pip's 14 == 14.0, not go's "latest v1.5.x"
        ("1", "v1.0.0"),
        ("v1.8.8-rc.1", "v1.8.8-rc.1"),
        ("master", "master"),  # not a version: left alone, then not found
    ],
)
def test_canonical(text: str, canonical: str) -> None:
    assert goinst.canonical(text) == canonical


def test_version_order_is_semver() -> None:
    ordered = [
        "v0.0.0-20200101000000-abcdef123456",  # a pseudo-version
        "v1.0.0-alpha",
        "v1.0.0-alpha.1",
        "v1.0.0-alpha.beta",
        "v1.0.0-beta.2",
        "v1.0.0-beta.11",
        "v1.0.0-rc.1",
        "v1.0.0",
        "v1.2.0",
        "v1.10.0",
    ]
    assert sorted(reversed(ordered), key=goinst.version_key) == ordered
    assert goinst.version_key("1.5.3") == goinst.version_key("v1.5.3")
    assert goinst.version_key("not a version") < goinst.version_key("v0.0.1")
    assert goinst.is_prerelease("v1.0.0-rc.1")
    assert goinst.is_prerelease("v0.0.0-20200101000000-abcdef123456")
    assert not goinst.is_prerelease("v1.8.15")


# --------------------------------------------------------------------------
# which module a version is built from (proxy answers faked)


@pytest.fixture
def fake_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """coder/websocket and nhooyr.io/websocket as the proxy lists them; asked = queries."""
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(goinst, "_MODULE_OF", {})
    listed = {
        "github.com/coder/websocket": CODER_LISTED,
        "nhooyr.io/websocket": NHOOYR_LISTED,
        "github.com/gorilla/websocket": ["v1.4.0", "v1.5.3"],
    }
    asked: list[str] = []

    def list_versions(module: str) -> tuple[str, ...]:
        return tuple(goinst._sorted_newest_first(listed[module]))

    def query(module: str, version: str) -> dict | None:
        asked.append(f"{module}@{version}")
        # served but not listed: an old nhooyr tag, gorilla's v1.5.2
        served = {"nhooyr.io/websocket@v1.8.5", "github.com/gorilla/websocket@v1.5.2"}
        if f"{module}@{version}" in served or version in listed[module]:
            return {"Version": version, "GoVersion": "1.19"}
        return None

    monkeypatch.setattr(goinst, "_listed_versions", list_versions)
    monkeypatch.setattr(goinst, "_query", query)
    monkeypatch.setattr(goinst, "_local_go_version", lambda: (1, 26, 8))
    return asked


@pytest.mark.parametrize(
    "requested, version, module",
    [
        (None, "v1.8.15", "github.com/coder/websocket"),  # newest: coder's, never v1.8.17
        ("1.8.12", "v1.8.12", "github.com/coder/websocket"),  # coder's first release
        ("1.8.11", "v1.8.11", "nhooyr.io/websocket"),
        ("v1.8.7", "v1.8.7", "nhooyr.io/websocket"),
        ("1.8.17", "v1.8.17", "nhooyr.io/websocket"),  # only the old path has it
        ("1.8.5", "v1.8.5", "nhooyr.io/websocket"),  # served, not listed
    ],
)
def test_coder_module_by_version(
    fake_proxy: list[str], requested: str | None, version: str, module: str
) -> None:
    assert goinst._resolve(CODER, requested) == version
    assert goinst._module_for(CODER, version) == module


def test_the_release_line_leaves_out_the_republished_old_path(fake_proxy: list[str]) -> None:
    # v1.8.17 under nhooyr.io is coder's v1.8.12 again: not between v1.8.15 and what follows
    assert goinst._versions(CODER) == [
        "v1.8.15", "v1.8.14", "v1.8.13", "v1.8.12", "v1.8.11", "v1.8.10", "v1.8.7", "v1.8.6"
    ]  # fmt: skip


def test_missing_version_names_both_paths_and_the_nearest(fake_proxy: list[str]) -> None:
    with pytest.raises(VersionNotFound) as caught:
        goinst._resolve(CODER, "1.8.99")
    assert str(caught.value) == (
        "github.com/coder/websocket (or its former path nhooyr.io/websocket) has no release "
        "'1.8.99'; nearest: v1.8.15, v1.8.14, v1.8.13, v1.8.12, v1.8.11"
    )
    # an exact version the list lacks is asked for before it is called missing
    assert "nhooyr.io/websocket@v1.8.99" in fake_proxy


def test_gorilla_versions(fake_proxy: list[str]) -> None:
    assert goinst._resolve(GORILLA, None) == "v1.5.3"
    assert goinst._resolve(GORILLA, "1.5.2") == "v1.5.2"
    with pytest.raises(VersionNotFound, match=re.escape("nearest: v1.5.3, v1.4.0")):
        goinst._resolve(GORILLA, "v1.6")
    with pytest.raises(VersionNotFound):
        goinst._resolve(GORILLA, "master")  # no branch names: versions only


def test_newest_skips_releases_this_go_cannot_build(
    fake_proxy: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def query(module: str, version: str) -> dict:
        return {"Version": version, "GoVersion": "1.27" if version == "v1.8.15" else "1.23"}

    monkeypatch.setattr(goinst, "_query", query)
    assert goinst._resolve(CODER, None) == "v1.8.14"


def test_a_built_version_resolves_offline(fake_proxy: list[str], monkeypatch) -> None:
    build = goinst._build_dir(CODER, "nhooyr.io/websocket", "v1.8.7")
    build.mkdir(parents=True)
    (build / goinst.BINARY).write_text("")
    (build / goinst.MARKER).write_text(json.dumps({"version": "v1.8.7"}))

    def offline(*_args: object) -> None:
        raise InstallError("no network")

    monkeypatch.setattr(goinst, "_listed_versions", offline)
    monkeypatch.setattr(goinst, "_query", offline)
    monkeypatch.setattr(goinst, "_MODULE_OF", {})
    assert goinst._resolve(CODER, "1.8.7") == "v1.8.7"
    monkeypatch.setattr(goinst, "_MODULE_OF", {})
    assert goinst._module_for(CODER, "v1.8.7") == "nhooyr.io/websocket"
    assert goinst._ensure(CODER, "v1.8.7", lambda _: None).argv == [str(build / "adapter")]
    assert goinst._installed(CODER) == ["v1.8.7"]


# --------------------------------------------------------------------------
# the generated module


def test_a_former_path_gets_its_import_substituted(tmp_path: Path) -> None:
    goinst._write_module(CODER, tmp_path, "nhooyr.io/websocket", "v1.8.7", None)
    go_mod = (tmp_path / "go.mod").read_text()
    assert "require nhooyr.io/websocket v1.8.7" in go_mod
    main = (tmp_path / "main.go").read_text()
    assert '"nhooyr.io/websocket"' in main
    assert 'github.com/coder/websocket"' not in main
    # the repository's copy is untouched
    assert '"github.com/coder/websocket"' in (ADAPTERS_DIR / "go-coder" / "main.go").read_text()


def test_the_source_hash_follows_the_adapter_files() -> None:
    assert goinst._source_hash(GORILLA) != goinst._source_hash(CODER)
    assert goinst._build_dir(GORILLA, GORILLA.package, "v1.5.3").name.startswith(
        "github.com+gorilla+websocket@v1.5.3-"
    )


def test_go_adapters_build_in_the_shared_files() -> None:
    for name in ("go-gorilla", "go-coder"):
        sources = goinst._sources(clients.ADAPTERS[name])
        for shared in ("contract.go", "run.go"):
            assert ADAPTERS_DIR / "go-common" / shared in sources
            assert not (ADAPTERS_DIR / name / shared).exists()


# --------------------------------------------------------------------------
# real builds


def module_source(module_at_version: str, dest: Path) -> Path:
    """A writable copy of a module's source from the go module cache (downloaded if needed)."""
    proc = subprocess.run(
        ["go", "mod", "download", "-json", module_at_version],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=dest.parent,
        env=goinst._go_environ(),
    )
    shutil.copytree(json.loads(proc.stdout)["Dir"], dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return dest


def run_adapter(argv: list[str], jobs: list[dict]) -> tuple[dict, list[dict]]:
    lines = "".join(json.dumps(job) + "\n" for job in jobs)
    proc = subprocess.run(argv, input=lines, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    return out[0], out[1:]


@pytest.mark.e2e
def test_local_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))
    checkout = module_source("github.com/gorilla/websocket@v1.5.3", tmp_path / "websocket")
    prepared = clients.prepare(f"go-gorilla@path:{checkout}")
    assert prepared.resolved_version == f"path:{checkout} (path)"
    ready, _ = run_adapter(prepared.argv, [])
    assert ready["version"] == f"(devel) {checkout}"

    git = ["git", "-C", str(checkout), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "x"], ["tag", "v9.9.9-local"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    prepared = clients.prepare(f"go-gorilla@path:{checkout}")
    assert prepared.resolved_version == f"path:{checkout} (v9.9.9-local)"


@pytest.mark.e2e
def test_a_checkout_of_another_module_is_refused(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/other\n\ngo 1.22\n")
    with pytest.raises(InstallError, match=re.escape("declares module example.com/other")):
        clients.prepare(f"go-coder@path:{tmp_path}")


@pytest.mark.e2e
def test_bad_jobs_and_unknown_knobs() -> None:
    argv = clients.prepare("go-gorilla@1.5.3").argv
    jobs = [
        {"id": "u", "url": "ws://127.0.0.1:9/x", "knobs": e2e.knobs(teleport=True, later=None)},
        {"id": "b", "url": "ws://127.0.0.1:9/x", "knobs": e2e.knobs(max_messages="many")},
        # the harness sends every knob: the adapter fills in none
        {"id": "m", "url": "ws://127.0.0.1:9/x", "knobs": {"echo": True}},
    ]
    ready, (unknown, bad, missing) = run_adapter(argv, jobs)
    assert ready["adapter"] == "go-gorilla" and ready["language"].startswith("go1.")
    assert unknown["end"] == "unsupported" and unknown["unsupported"] == ["teleport"]
    assert bad["end"] == "adapter_error" and "max_messages" in bad["error"]["message"]
    assert missing["end"] == "adapter_error"
    assert "knob close_first missing" in missing["error"]["message"]


class OneShotWssServer:
    """Accepts TLS connections; answers an upgrade with 101 and a close frame 1000 'ok'."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(30)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            with raw:
                try:
                    self.upgrade(self.context.wrap_socket(raw, server_side=True))
                except (OSError, ssl.SSLError):
                    continue  # the client refused our certificate

    @staticmethod
    def upgrade(conn: ssl.SSLSocket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            b"\x88\x04\x03\xe8ok"
        )
        conn.settimeout(5)
        while conn.recv(4096):
            pass

    def close(self) -> None:
        self.sock.close()


@pytest.mark.e2e
@pytest.mark.parametrize("spec", ["go-gorilla@1.5.3", "go-coder@1.8.15", "go-coder@1.8.7"])
def test_tls_trusts_exactly_the_job_ca(tmp_path: Path, spec: str) -> None:
    ours = make_run_certs(tmp_path / "ours", "go-test")
    other = make_run_certs(tmp_path / "other", "go-test-other")
    server = OneShotWssServer(ours.cert_file, ours.key_file)
    try:
        url = f"wss://127.0.0.1:{server.port}/x"
        jobs = [
            {"id": "right", "url": url, "ca_file": str(ours.ca_file), "knobs": e2e.knobs()},
            {"id": "wrong", "url": url, "ca_file": str(other.ca_file), "knobs": e2e.knobs()},
        ]
        _, (right, wrong) = run_adapter(clients.prepare(spec).argv, jobs)
    finally:
        server.close()
    assert right["connected"] is True, right
    assert right["close"] == {"code": 1000, "reason": "ok"}
    assert wrong["connected"] is False and wrong["end"] == "connect_failed"
    assert "unknown authority" in wrong["error"]["message"]
