"""chromium: the browser's own WebSocket in headless Chromium, and its installer.

A browser has one version here, the one the distribution installed
(`./bootstrap --test` installs Debian's chromium): the end-to-end tests run
that one (the founding scenario and its seed family in one run, the knob
scenarios, TLS through the browser's NSS store) and check that asking for
any other version is refused with the installed one named. The installer
tests at the top are offline and need no browser.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay import clients
from wsreplay.contract import Scenario
from wsreplay.installers import InstallError, VersionNotFound
from wsreplay.installers import chromium as chromium_installer
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer

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
    proc, report = e2e.wsreplay_run(
        tmp_path, "--client", "chromium", *e2e.scenario_args(list(CATALOGUE))
    )
    [client] = report["clients"]
    assert (client["spec"], client["resolved_version"], client["status"]) == (
        "chromium",
        version,
        "ok",
    )
    assert "HeadlessChrome" in client["language"]  # the page's user agent
    e2e.assert_catalogue_verdicts(report, CATALOGUE, ["chromium"])
    records = {r["scenario"]: r for r in report["results"]}
    founding = records["close/send-then-close"]["observed"]
    e2e.assert_founding_delivered(founding)
    # recv_delay_ms 100: the page was busy; no event before it ended
    e2e.assert_recv_delay_honoured(founding)
    # the closure as the page's CloseEvent says it: wasClean after a closing
    # handshake, not after a bare FIN
    assert (founding["clean"], founding["clean_source"]) == (True, "CloseEvent.wasClean")
    assert records["close/send-then-fin"]["observed"]["clean"] is False
    for record in records.values():
        assert record["observed"]["crash"] is None
        # the page's wall clock (coarsened to 0.1 ms) against the server's accept
        started = datetime.fromisoformat(record["transcript"]["started"].replace("Z", "+00:00"))
        gap_us = started.timestamp() * 1e6 - record["observed"]["t0_unix_us"]
        assert -5_000 <= gap_us <= 1_000_000, gap_us
    assert "PASS" in proc.stdout


@pytest.mark.e2e
def test_knobs(tmp_path: Path) -> None:
    """Every knob but a ping (a page cannot send one: unsupported, and said so)."""
    by_name = e2e.run_knob_scenarios(tmp_path, "chromium")
    ping = by_name.pop("knobs/send-ping")
    assert ping["verdict"] == "error"
    assert ping["reason"] == e2e.PING_UNSUPPORTED
    e2e.assert_knobs_honoured(by_name)
    observed = {name: record["observed"] for name, record in by_name.items()}
    e2e.assert_knob_basics(observed)
    e2e.assert_paced(observed["knobs/recv-pace"], 190, count=3)
    # close() calls: the knob's, and the adapter's own once receiving is over
    assert [c["why"] for c in e2e.events(observed["knobs/max-messages"], "close_call")] == ["end"]
    assert [
        c["why"] for c in e2e.events(observed["knobs/close-first-after-messages"], "close_call")
    ] == ["knob"]


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's CA in the browser's NSS store (a browser restart, once)."""
    e2e.assert_passes_over_tls(tmp_path, ["chromium"])


@pytest.mark.e2e
def test_another_version_is_refused(tmp_path: Path) -> None:
    version = installed_version()
    stderr = e2e.refused_spec_stderr(tmp_path, "chromium@1.0")
    assert (
        f"client spec 'chromium@1.0': chromium 1.0 is not installed; "
        f"this machine has only Chromium {version}"
    ) in stderr


# --------------------------------------------------------------------------
# the compression knob: the browser always offers and has no switch

#: What Chromium sends on every handshake.
OFFER = "permessage-deflate; client_max_window_bits"


@pytest.mark.e2e
def test_compression_knob_follows_the_fixed_offer(
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    installed_version()
    e2e.check_compression(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        "chromium",
        [("default", OFFER), ("on", OFFER), ({"client_max_window_bits": True}, OFFER)],
        ["off", {"server_no_context_takeover": True}],
    )
