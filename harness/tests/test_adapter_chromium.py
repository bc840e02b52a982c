"""chromium: the browser's own WebSocket in headless Chromium, and its installer.

A browser has one version here, the one the distribution installed
(`./bootstrap --test` installs Debian's chromium): the end-to-end tests run
that one (the founding scenario and its seed family in one run, the knob
scenarios, TLS through the browser's NSS store) and check that asking for
any other version is refused with the installed one named. The installer
tests at the top are offline and need no browser.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay import clients
from wsreplay.installers import InstallError, VersionNotFound
from wsreplay.installers import chromium as chromium_installer
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA

KNOB_SCENARIOS = REPO_ROOT / "harness" / "tests" / "data" / "knob-scenarios"

#: What Chromium did: everything that arrived before the close is delivered
#: (its network process reads on while the page is busy).
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"pass"},
    "close/send-then-rst": {"pass", "non-strict", "informational"},
    "handshake/coalesced-message": {"pass"},
}


def wsreplay_run(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(out), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return proc, report


def scenario_args(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("--scenario", name)]


def events(observation: dict, name: str) -> list[dict]:
    return [e for e in observation["events"] if e["event"] == name]


def installed_version() -> str:
    binary = chromium_installer.system_binary()
    if binary is None:
        pytest.fail(f"Chromium is not installed: {chromium_installer.INSTALL_HINT}")
    return chromium_installer.binary_version(binary)


# --------------------------------------------------------------------------
# the installer, offline


@pytest.fixture
def fake_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A "chromium" that prints a version, standing in for the real binary."""
    binary = tmp_path / "chromium"
    binary.write_text("#!/bin/sh\necho 'Chromium 156.0.8078.108 built on Debian'\n")
    binary.chmod(0o755)
    chromium_installer.binary_version.cache_clear()
    monkeypatch.setattr(chromium_installer, "system_binary", lambda: binary)
    yield binary
    chromium_installer.binary_version.cache_clear()


def test_the_installed_version_is_the_only_one(fake_browser: Path) -> None:
    info = clients.ADAPTERS["chromium"]
    inst = chromium_installer.INSTALLER
    assert inst.versions(info) == ["156.0.8078.108"]
    assert inst.resolve(info, None) == "156.0.8078.108"
    assert inst.resolve(info, "156.0.8078.108") == "156.0.8078.108"
    assert inst.resolve(info, "156") == "156.0.8078.108"  # the major alone
    assert inst.resolve(info, "156.0") == "156.0.8078.108"  # any leading part
    launch = inst.ensure(info, "156.0.8078.108", lambda _line: None)
    assert launch.argv[1:] == [str(info.entry), "--chromium", str(fake_browser)]


@pytest.mark.parametrize("requested", ["120.0.6099.224", "15", "156.1"])
def test_another_version_names_the_installed_one(fake_browser: Path, requested: str) -> None:
    with pytest.raises(VersionNotFound) as caught:
        chromium_installer.INSTALLER.resolve(clients.ADAPTERS["chromium"], requested)
    assert caught.value.nearest == ["156.0.8078.108"]
    assert str(caught.value) == (
        f"chromium {requested} is not installed; this machine has only "
        "Chromium 156.0.8078.108 (one version, from the distribution)"
    )


def test_no_browser_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chromium_installer, "system_binary", lambda: None)
    info = clients.ADAPTERS["chromium"]
    assert chromium_installer.INSTALLER.versions(info) == []
    with pytest.raises(InstallError, match="apt-get install chromium"):
        chromium_installer.INSTALLER.resolve(info, None)


def test_path_spec_takes_the_binary_in_the_folder(fake_browser: Path, tmp_path: Path) -> None:
    info = clients.ADAPTERS["chromium"]
    label, launch = chromium_installer.INSTALLER.ensure_path(info, tmp_path, lambda _line: None)
    assert label == f"path:{tmp_path} (156.0.8078.108)"
    assert launch.argv[-1] == str(fake_browser)
    with pytest.raises(InstallError, match="holds no chromium or chrome binary"):
        chromium_installer.INSTALLER.ensure_path(info, tmp_path / "x", lambda _line: None)


# --------------------------------------------------------------------------
# end to end


@pytest.mark.e2e
def test_catalogue(tmp_path: Path) -> None:
    version = installed_version()
    proc, report = wsreplay_run(tmp_path, "--client", "chromium", *scenario_args(list(CATALOGUE)))
    [client] = report["clients"]
    assert (client["spec"], client["resolved_version"], client["status"]) == (
        "chromium",
        version,
        "ok",
    )
    assert "HeadlessChrome" in client["language"]  # the page's user agent
    assert len(report["results"]) == len(CATALOGUE)
    records = {r["scenario"]: r for r in report["results"]}
    for name, record in records.items():
        assert record["reason"].strip(), name
        assert record["verdict"] in CATALOGUE[name], (name, record["reason"])
    founding = records["close/send-then-close"]["observed"]
    assert founding["messages"][0]["text"] == "final message"
    assert founding["close"] == {"code": 1000, "reason": "bye"}
    # recv_delay_ms 100: the page was busy; no event before it ended
    opened = events(founding, "open")[0]["t_ms"]
    assert events(founding, "recv_start")[0]["t_ms"] - opened >= 99
    assert founding["messages"][0]["t_ms"] - opened >= 99
    assert "PASS" in proc.stdout


@pytest.mark.e2e
def test_knobs(tmp_path: Path) -> None:
    """Every knob but a ping (a page cannot send one: unsupported, and said so)."""
    _, report = wsreplay_run(
        tmp_path, "--scenarios-dir", str(KNOB_SCENARIOS), "--client", "chromium"
    )
    by_name = {r["scenario"]: r for r in report["results"]}
    assert len(by_name) >= 10
    for name, record in by_name.items():
        if name == "knobs/send-ping":
            assert record["verdict"] == "error"
            assert record["reason"] == (
                "the adapter cannot honour the client knob send=[{'ping': 'are you there'}]"
            )
            continue
        assert record["verdict"] == "pass", (name, record["reason"])
        assert record["observed"]["unsupported"] == []
    observed = {name: record["observed"] for name, record in by_name.items()}
    assert observed["knobs/subprotocols"]["subprotocol"] == "chat.v1"
    assert observed["knobs/recv-timeout"]["end"] == "timeout"
    assert observed["knobs/max-messages"]["end"] == "max_messages"
    times = [m["t_ms"] for m in observed["knobs/recv-pace"]["messages"]]
    assert len(times) == 3 and all(b - a >= 190 for a, b in zip(times, times[1:])), times


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's CA in the browser's NSS store (a browser restart, once)."""
    _, report = wsreplay_run(
        tmp_path,
        "--transport",
        "wss",
        "--client",
        "chromium",
        *scenario_args(["close/send-then-close", "close/many-then-close"]),
    )
    for record in report["results"]:
        assert record["verdict"] == "pass", (record["scenario"], record["reason"])
        assert record["transport"] == "wss"


@pytest.mark.e2e
def test_another_version_is_refused(tmp_path: Path) -> None:
    version = installed_version()
    argv = [str(REPO_ROOT / "wsreplay"), "run", "--out", str(tmp_path)]
    argv += ["--client", "chromium@1.0", "--scenario", "close/send-then-close"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert (
        f"client spec 'chromium@1.0': chromium 1.0 is not installed; "
        f"this machine has only Chromium {version}"
    ) in proc.stderr
