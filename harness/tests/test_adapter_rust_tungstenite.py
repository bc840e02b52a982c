"""rust-tungstenite: the Rust installer (offline) and tungstenite's blocking client end to end.

The installer tests use a made-up crates.io index and need no network. The
end-to-end tests build the adapter with cargo against two pinned releases
from crates.io, 0.24.0 and 0.26.2: they share most dependencies (one
dependency build serves both) and straddle tungstenite's switch of message
payloads from String/Vec<u8> to Utf8Bytes/Bytes (0.26), so both of the
adapter's payload code paths run. On a fresh machine the first build takes
about a minute (downloads, OpenSSL bindings), the second about 15 s; later
runs start at once from the cache.

Besides the verdicts: how tungstenite reported each closure (clean or not,
and no close code observable on an error end), the wall-clock start of each
job, why each close call was made; a server that never answers the opening
handshake (a hang: connect_timeout); and tungstenite's own panic when the TLS
handshake of a socket with a read timeout does not finish in time (a crash).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import pytest

import adapter_e2e as e2e
from rawpeer import silent_server
from wsreplay import clients
from wsreplay.installers import InstallError, VersionNotFound, rust
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer
from wsreplay.running.tlscerts import make_run_certs

ADAPTER = "rust-tungstenite"

SPECS = {f"{ADAPTER}@0.24.0": "0.24.0", f"{ADAPTER}@0.26.2": "0.26.2"}

#: The founding scenario, its seed family and four opening handshakes, with
#: what tungstenite did at each version ({verdict} = the same at both). It
#: delivers everything before the close (it only reads when the application
#: calls read()); a connection that ends without a close frame is an error
#: (Protocol(ResetWithoutClosingHandshake) or Io(ConnectionReset)), never a
#: close code: the close is not observable there, so it is not judged. Its
#: handshake check wants "Connection: Upgrade" exactly (a token list is
#: refused) and ignores an unrequested Sec-WebSocket-Extensions (a TODO in
#: its source). Up to 0.24 it splits the offered subprotocols on "," without
#: trimming, so the server's choice of the second one ("chat.v2, chat.v1" ->
#: "chat.v1") is refused; 0.25.0 trims.
CATALOGUE: dict[str, set[str] | dict[str, str]] = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    # no close code is observable on this path: the close is not judged
    "close/send-then-fin": {"pass"},
    # after an RST the message may or may not have been read from the socket
    "close/send-then-rst": {"pass", "informational", "non-strict"},
    "handshake/coalesced-message": {"pass"},
    "handshake/connection-token-list": {"fail"},
    "handshake/extension-unrequested": {"fail"},
    "handshake/subprotocol-second-choice": {
        f"{ADAPTER}@0.24.0": "fail",
        f"{ADAPTER}@0.26.2": "pass",
    },
}


#: cargo may build the adapter (about a minute on a fresh machine) within a run
RUN_TIMEOUT = 1200


# --------------------------------------------------------------------------
# the installer, offline


def index_line(version: str, *, yanked: bool = False, rust_version: str | None = None) -> str:
    return json.dumps(
        {
            "name": "tungstenite",
            "vers": version,
            "deps": [],
            "yanked": yanked,
            "rust_version": rust_version,
        }
    )


FAKE_INDEX = "\n".join(
    [
        index_line("0.20.0"),
        index_line("0.20.1"),
        index_line("0.21.0", yanked=True),
        index_line("0.24.0", rust_version="1.63"),
        index_line("0.26.2", rust_version="1.63"),
        index_line("0.27.0-rc.1", rust_version="1.63"),
        index_line("0.27.0", rust_version="99.0"),
    ]
)


@pytest.fixture
def fake_index(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    entries = tuple(rust.parse_index(FAKE_INDEX))
    monkeypatch.setattr(rust, "_index_entries", lambda crate: entries)
    monkeypatch.setattr(rust, "rustc_version", lambda: "1.95.0")
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))


def info() -> clients.AdapterInfo:
    return clients.ADAPTERS[ADAPTER]


def test_index_path_follows_the_sparse_index_layout() -> None:
    assert rust.index_path("tungstenite") == "tu/ng/tungstenite"
    assert rust.index_path("ws") == "2/ws"
    assert rust.index_path("a") == "1/a"
    assert rust.index_path("url") == "3/u/url"
    assert rust.index_path("Tokio") == "to/ki/tokio"


def test_version_key_orders_semver() -> None:
    ordered = [
        "0.9.0",
        "0.10.0-alpha.1",
        "0.10.0-alpha.2",
        "0.10.0-beta",
        "0.10.0",
        "0.10.1",
        "1.0.0",
    ]
    assert sorted(reversed(ordered), key=rust.version_key) == ordered
    assert rust.is_prerelease("0.27.0-rc.1") and not rust.is_prerelease("0.27.0")


@pytest.mark.usefixtures("fake_index")
def test_versions_leave_out_yanked_releases() -> None:
    assert rust.INSTALLER.versions(info()) == [
        "0.27.0",
        "0.27.0-rc.1",
        "0.26.2",
        "0.24.0",
        "0.20.1",
        "0.20.0",
    ]


@pytest.mark.usefixtures("fake_index")
def test_newest_is_the_newest_final_release_this_rustc_can_build() -> None:
    # 0.27.0 declares rust-version 99.0; the pre-release never counts as newest
    assert rust.INSTALLER.resolve(info(), None) == "0.26.2"


@pytest.mark.usefixtures("fake_index")
def test_resolve_exact_and_short_versions() -> None:
    assert rust.INSTALLER.resolve(info(), "0.24.0") == "0.24.0"
    assert rust.INSTALLER.resolve(info(), " 0.24.0 ") == "0.24.0"
    assert rust.INSTALLER.resolve(info(), "0.24") == "0.24.0"
    assert rust.INSTALLER.resolve(info(), "0.27.0-rc.1") == "0.27.0-rc.1"


@pytest.mark.usefixtures("fake_index")
def test_unknown_and_yanked_versions_name_the_nearest() -> None:
    with pytest.raises(VersionNotFound) as caught:
        rust.INSTALLER.resolve(info(), "0.25.0")
    assert caught.value.package == "tungstenite"
    assert caught.value.nearest == ["0.27.0-rc.1", "0.26.2", "0.24.0", "0.20.1", "0.20.0"]
    assert "tungstenite has no release '0.25.0'; nearest: " in str(caught.value)
    with pytest.raises(VersionNotFound):
        rust.INSTALLER.resolve(info(), "0.21.0")  # yanked


def test_features_follow_the_manifest() -> None:
    assert rust.features_for(info(), "0.13.0") == ["auto-stream"]
    assert rust.features_for(info(), "0.14.0") == ["auto-stream"]
    assert rust.features_for(info(), "0.15.0") == []
    assert rust.features_for(info(), "0.19.0") == []
    assert rust.features_for(info(), "0.20.0") == ["read-send"]
    assert rust.features_for(info(), "0.25.0") == ["read-send", "payload-0-25"]
    assert rust.features_for(info(), "0.26.2") == ["read-send"]


def test_generated_project(tmp_path: Path) -> None:
    dependency = rust._dependency(info(), version="0.26.2")
    assert dependency == '{ version = "=0.26.2", features = ["native-tls"] }'
    rust.write_project(tmp_path, info(), "wsreplay-x", dependency, ["read-send"])
    manifest = (tmp_path / "Cargo.toml").read_text()
    assert 'tungstenite = { version = "=0.26.2", features = ["native-tls"] }' in manifest
    assert 'default = ["read-send"]' in manifest
    assert (tmp_path / "src" / "main.rs").is_file()
    parsed = tomllib.loads(manifest)
    assert parsed["package"]["name"] == "wsreplay-x"
    # the adapter's own crates are exact versions: every build resolves them alike
    for crate in ("serde", "serde_json", "sha2"):
        wanted = parsed["dependencies"][crate]
        assert (wanted if isinstance(wanted, str) else wanted["version"]).startswith("="), crate


def test_locked_version_and_checkout_version(tmp_path: Path) -> None:
    (tmp_path / "Cargo.lock").write_text(
        '# generated\nversion = 4\n\n[[package]]\nname = "bytes"\nversion = "1.9.0"\n\n'
        '[[package]]\nname = "tungstenite"\nversion = "0.26.2"\nsource = "registry+x"\n'
    )
    assert rust.locked_version(tmp_path, "tungstenite") == "0.26.2"
    assert rust.locked_version(tmp_path, "url") is None
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "tungstenite"\nversion = "0.99.0" # local\n\n[dependencies]\nx = "1"\n'
    )
    assert rust.checkout_version(info(), tmp_path) == "0.99.0"
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "url"\nversion = "2.0.0"\n')
    with pytest.raises(InstallError, match="is the crate 'url', not 'tungstenite'"):
        rust.checkout_version(info(), tmp_path)
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "tungstenite"\nversion.workspace = true\n'
    )
    with pytest.raises(InstallError, match="no plain version string"):
        rust.checkout_version(info(), tmp_path)
    (tmp_path / "Cargo.toml").write_text('[package\nname = "tungstenite"\n')
    with pytest.raises(InstallError, match="cannot read it"):
        rust.checkout_version(info(), tmp_path)


def test_too_old_is_refused_before_any_build() -> None:
    with pytest.raises(clients.SpecError, match=r"rust-tungstenite needs tungstenite >= 0\.13\.0"):
        clients.check_version_range(info(), "0.12.0")
    clients.check_version_range(info(), "0.13.0")


# --------------------------------------------------------------------------
# end to end (cargo builds from crates.io, the real server)


@pytest.mark.e2e
def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    started_us = time.time_ns() // 1000
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE), timeout=RUN_TIMEOUT
    )
    e2e.assert_clients(report, SPECS, "tungstenite")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    for record in report["results"]:
        where = (record["scenario"], record["client"], record["reason"])
        assert record["verdict"] != "error", where
        observed = record["observed"]
        assert started_us <= observed["t0_unix_us"] <= time.time_ns() // 1000, where
        assert observed["crash"] is None, where
        assert {e["why"] for e in e2e.events(observed, "close_call")} <= {"end"}, where
    by_key = {(r["scenario"], r["client"]): r for r in report["results"]}
    for spec in SPECS:
        founding = by_key["close/send-then-close", spec]["observed"]
        e2e.assert_founding_delivered(founding)
        assert founding["error"]["type"] == "tungstenite::Error::ConnectionClosed"
        assert founding["clean"] is True
        assert founding["clean_source"] == "tungstenite::Error::ConnectionClosed"
        fin = by_key["close/send-then-fin", spec]["observed"]
        # tungstenite has no code for "no close frame": an error, no close observable
        assert fin["close"] == {"code": None, "reason": None, "observable": False}
        reset = "tungstenite::Error::Protocol(ResetWithoutClosingHandshake)"
        assert fin["error"]["type"] == reset
        assert (fin["clean"], fin["clean_source"]) == (False, reset)
        token_list = by_key["handshake/connection-token-list", spec]["observed"]
        assert token_list["connected"] is False
        assert token_list["end"] == "connect_failed"
        assert token_list["error"]["type"] == (
            "tungstenite::Error::Protocol(MissingConnectionUpgradeHeader)"
        )
    refused = by_key["handshake/subprotocol-second-choice", f"{ADAPTER}@0.24.0"]
    assert "SecWebSocketSubProtocolError" in refused["reason"]
    assert "PASS" in proc.stdout and "FAIL" in proc.stdout


@pytest.mark.e2e
def test_knobs(tmp_path: Path) -> None:
    """Every knob of the contract, each in a scenario of its own, all honoured."""
    spec = f"{ADAPTER}@0.26.2"
    by_name = e2e.run_knob_scenarios(tmp_path, spec, timeout=RUN_TIMEOUT)
    e2e.assert_knobs_honoured(by_name)
    observed = {name: record["observed"] for name, record in by_name.items()}
    e2e.assert_knob_basics(observed)
    # after max_messages the adapter closes (1000) and reads the server's answer
    assert observed["knobs/max-messages"]["close"] == {"code": 1000, "reason": "done"}
    assert [e["why"] for e in e2e.events(observed["knobs/max-messages"], "close_call")] == ["end"]
    assert observed["knobs/max-messages"]["clean"] is True
    e2e.assert_paced(observed["knobs/recv-pace"], 190)
    calls = e2e.events(observed["knobs/close-first-after-ms"], "close_call")
    opened = e2e.events(observed["knobs/close-first-after-ms"], "open")[0]["t_ms"]
    assert calls and calls[0]["t_ms"] - opened >= 295, calls
    assert [call["why"] for call in calls] == ["knob"]
    # close_first with no code is close(None): an empty close frame on the wire
    e2e.assert_empty_close_frame(by_name["knobs/close-first-no-code"])
    assert e2e.sent_kinds(observed["knobs/send-ping"]) == ["ping"]
    assert e2e.sent_kinds(observed["knobs/send"]) == ["text", "binary"]


@pytest.mark.e2e
def test_compression_knob(wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool) -> None:
    """tungstenite has no permessage-deflate: no offer for "default" and
    "off" (the server's transcript of the request), "on" and any offer
    reported unsupported."""
    e2e.assert_offers(
        wsreplay_server,
        wsreplay_clients,
        f"{ADAPTER}@0.26.2",
        {
            "default": ("default", []),
            "off": ("off", []),
            "on": ("on", "unsupported"),
            "an-offer": ({"server_no_context_takeover": False}, "unsupported"),
        },
    )


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root:
    through tungstenite's TLS connector (0.24.0), and at the floor, 0.13.0, which
    takes none, through native-tls set up as its own connect does (its first
    build adds about a minute on a fresh machine)."""
    specs = [f"{ADAPTER}@0.13.0", f"{ADAPTER}@0.24.0"]
    e2e.assert_passes_over_tls(tmp_path, specs, timeout=RUN_TIMEOUT)


@pytest.mark.e2e
def test_unknown_version_names_the_nearest(tmp_path: Path) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, f"{ADAPTER}@0.26.9")
    assert f"client spec '{ADAPTER}@0.26.9'" in stderr
    assert "tungstenite has no release '0.26.9'; nearest: " in stderr
    assert "0.26.2" in stderr and "0.27.0" in stderr


def registry_checkout(version: str) -> Path | None:
    """tungstenite's sources as cargo unpacked them when building that version."""
    cargo_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    found = sorted(cargo_home.glob(f"registry/src/*/tungstenite-{version}"))
    return found[0] if found else None


def forget_path_build(checkout: Path) -> None:
    """Remove the project and the compiled adapter of a one-off checkout from the cache."""
    project = rust.path_project(info(), checkout)
    name = rust.crate_name(info(), project.name)
    shutil.rmtree(project, ignore_errors=True)
    release = rust.target_dir() / "release"
    stems = (name, name.replace("-", "_"))
    for folder in (release, release / "deps", release / ".fingerprint"):
        for path in folder.glob("*"):
            if path.name.startswith(stems):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


@pytest.mark.e2e
def test_local_checkout(tmp_path: Path) -> None:
    """ADAPTER@path:DIR builds against the sources in DIR (a copy of cargo's own 0.26.2)."""
    clients.prepare(f"{ADAPTER}@0.26.2")  # also unpacks the sources into cargo's registry
    sources = registry_checkout("0.26.2")
    if sources is None:
        pytest.skip("cargo's registry sources of tungstenite 0.26.2 are not where expected")
    # A short path: the spec goes into the run tag, which the server caps at 127 bytes.
    short = Path(tempfile.mkdtemp(prefix="wsr-"))
    checkout = short / "tungstenite"
    shutil.copytree(sources, checkout)
    try:
        _, report = e2e.wsreplay_run(
            tmp_path,
            "--client",
            f"{ADAPTER}@path:{checkout}",
            "--scenario",
            "close/send-then-close",
            timeout=RUN_TIMEOUT,
        )
    finally:
        shutil.rmtree(short, ignore_errors=True)
        forget_path_build(checkout)
    client = report["clients"][0]
    # the label names the checkout and the version in its Cargo.toml
    assert client["resolved_version"] in {"0.26.2", f"path:{checkout} (0.26.2)"}, client
    assert report["results"][0]["verdict"] == "pass", report["results"][0]["reason"]


@pytest.mark.e2e
def test_adapter_lines() -> None:
    """The binary itself: ready line, bad jobs, unknown knobs, a refused connect, EOF."""
    prepared = clients.prepare(f"{ADAPTER}@0.26.2")
    url = "ws://127.0.0.1:1/x"
    jobs = [
        "this is not json",
        json.dumps({"id": "2", "url": url, "knobs": e2e.knobs(frobnicate=1)}),
        json.dumps({"id": "3", "url": url, "knobs": e2e.knobs(echo="yes")}),
        json.dumps({"id": "4", "url": url, "knobs": e2e.knobs(send=[{"nope": "x"}])}),
        # the harness sends every knob; the adapter fills in none
        json.dumps({"id": "5", "url": url, "knobs": {"recv_delay_ms": 0}}),
        json.dumps({"id": "6", "url": url, "knobs": e2e.knobs(frobnicate=False)}),
    ]
    proc = subprocess.run(
        prepared.argv,
        input="\n".join(jobs) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 1 + len(jobs), proc.stdout
    ready, bad, unknown, wrong_type, unknown_shape, incomplete, refused = lines
    assert ready["event"] == "ready"
    assert (ready["adapter"], ready["library"], ready["version"]) == (
        ADAPTER,
        "tungstenite",
        "0.26.2",
    )
    assert ready["language"].startswith("rust ")
    assert bad["end"] == "adapter_error" and "not JSON" in bad["error"]["message"]
    assert (unknown["id"], unknown["end"], unknown["unsupported"]) == (
        "2",
        "unsupported",
        ["frobnicate"],
    )
    assert wrong_type["end"] == "adapter_error" and "echo" in wrong_type["error"]["message"]
    assert unknown_shape["unsupported"] == ["send"]
    assert (incomplete["id"], incomplete["end"]) == ("5", "adapter_error")
    assert "knobs come complete" in incomplete["error"]["message"]
    assert refused["id"] == "6" and refused["end"] == "connect_failed"
    assert refused["connected"] is False
    assert refused["error"]["type"] == "tungstenite::Error::Url(UnableToConnect)"
    assert [e["event"] for e in refused["events"]] == ["connect_start", "connect_failed"]


@pytest.mark.e2e
def test_rust_unit_tests(tmp_path: Path) -> None:
    """The adapter's own Rust tests (reading knobs, writing observations), with cargo test."""
    project = tmp_path / "project"
    project.mkdir()
    name = rust.crate_name(info(), "unit-tests")
    features = rust.features_for(info(), "0.26.2")
    rust.write_project(project, info(), name, rust._dependency(info(), version="0.26.2"), features)
    proc = subprocess.run(
        ["cargo", "test", "--release", "--quiet"],
        cwd=project,
        env=rust._cargo_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test result: ok. 7 passed" in proc.stdout, proc.stdout


def run_adapter(spec: str, jobs: list[dict]) -> list[dict]:
    """The adapter binary of ``spec`` on these job lines: its observation lines."""
    prepared = clients.prepare(spec)
    proc = subprocess.run(
        prepared.argv,
        input="".join(json.dumps(job) + "\n" for job in jobs),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[0]["event"] == "ready" and len(lines) == 1 + len(jobs), proc.stdout
    return lines[1:]


@pytest.mark.e2e
def test_a_handshake_that_hangs_is_a_connect_timeout() -> None:
    """No answer to the upgrade request: tungstenite::connect waits for ever (it
    has no timeout); the adapter stops waiting after the job's deadline less
    0.5 s. A hang, never a refusal."""
    with silent_server() as port:
        url = f"ws://127.0.0.1:{port}/x"
        job = {"id": "hang", "url": url, "knobs": e2e.knobs(), "deadline_ms": 2500}
        (observed,) = run_adapter(f"{ADAPTER}@0.26.2", [job])
    assert (observed["connected"], observed["end"]) == (False, "connect_timeout")
    assert observed["error"]["type"] == "timeout"
    timeout = e2e.events(observed, "connect_timeout")[0]
    assert timeout["waited_ms"] == 2000 and timeout["t_ms"] >= 1990
    assert observed["crash"] is None and observed["clean"] is None
    assert isinstance(observed["t0_unix_us"], int)


@pytest.mark.e2e
def test_a_panic_inside_tungstenite_is_a_crash(tmp_path: Path) -> None:
    """wss:// to a server that never answers the TLS ClientHello.

    The adapter hands tungstenite::client_tls_with_config a TCP stream with a
    read timeout (the open budget), as its signature allows: it returns
    HandshakeError::Interrupted for a WebSocket handshake that times out, but
    when the TLS handshake times out, native-tls reports WouldBlock and
    tungstenite panics ("Bug: TLS handshake not blocked", src/tls.rs). The
    panic is the library's crash, caught around the call, with where it
    happened and its backtrace; the job is not an adapter error.
    """
    ca_file = str(make_run_certs(tmp_path / "tls", "crash").ca_file)
    with silent_server() as port:
        job = {
            "id": "tls-stall",
            "url": f"wss://127.0.0.1:{port}/x",
            "knobs": e2e.knobs(),
            "ca_file": ca_file,
            "deadline_ms": 2000,
        }
        (observed,) = run_adapter(f"{ADAPTER}@0.26.2", [job])
    crash = observed["crash"]
    assert (crash["type"], crash["message"]) == ("panic", "Bug: TLS handshake not blocked")
    assert crash["where"].startswith("tungstenite::client_tls_with_config: panicked at "), crash
    assert "tls.rs" in crash["where"]
    assert "tungstenite" in crash["stack"]
    assert [e["event"] for e in observed["events"]] == ["connect_start", "crash", "connect_failed"]
    assert (observed["connected"], observed["end"]) == (False, "connect_failed")
    assert observed["error"] == {"type": "panic", "message": "Bug: TLS handshake not blocked"}
