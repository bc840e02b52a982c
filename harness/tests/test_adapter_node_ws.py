"""node-ws: the `ws` npm package, and the node installer behind every node adapter.

The installer tests are offline (semver keys and ranges, resolving from the
cache, "not found" messages). The end-to-end tests install real ws releases
from the npm registry (about 1 s each, once) and run them through
`./wsreplay run`: the founding scenario and its seed family at two pinned
versions in one run, the knob scenarios, TLS, a version without pause(),
the oldest releases the adapter reaches (0.4.x and 1.x: a hang on a 403
reported as connect_timeout, ws's own wasClean), and a version that does
not exist.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay import clients, paths
from wsreplay.clients import SpecError, check_version_range
from wsreplay.contract import Scenario
from wsreplay.installers import InstallError, VersionNotFound
from wsreplay.installers import node as node_installer
from wsreplay.plugin import ClientPool
from wsreplay.running.adapterproc import AdapterProcess
from wsreplay.running.server import ScenarioServer

#: Two releases with pause()/resume() (8.3.0+): 8.16.0 emits one message per
#: event-loop turn, 8.18.3 a whole socket read at once (allowSynchronousEvents).
SPECS = {"node-ws@8.16.0": "8.16.0", "node-ws@8.18.3": "8.18.3"}

#: The founding scenario and its seed family, with what ws did at both
#: versions: every message that arrived before the close is delivered.
CATALOGUE = {
    "close/send-then-close": {"pass"},
    "close/send-then-close-gap": {"pass"},
    "close/send-then-close-separate-writes": {"pass"},
    "close/many-then-close": {"pass"},
    "close/send-then-fin": {"pass"},
    # after an RST the message may or may not have been read from the socket
    "close/send-then-rst": {"pass", "non-strict", "informational"},
    "handshake/coalesced-message": {"pass"},
}


# --------------------------------------------------------------------------
# the installer, offline


@pytest.mark.parametrize(
    "older, newer",
    [
        ("8.0.0-beta.1", "8.0.0"),  # a pre-release sorts before its release
        ("0.3.4-2", "0.3.4"),  # semver, not PEP 440: "-2" is a pre-release
        ("8.0.0-beta.2", "8.0.0-beta.10"),  # numeric identifiers compare as numbers
        ("8.0.0-1", "8.0.0-beta"),  # numeric before alphanumeric
        ("8.9.0", "8.10.0"),
        ("7.5.10", "8.0.0"),
        ("not-a-version", "0.0.1"),
    ],
)
def test_version_key_orders_like_npm(older: str, newer: str) -> None:
    key = node_installer.version_key
    assert key(older) < key(newer)


def test_version_key_fills_missing_parts() -> None:
    assert node_installer.version_key("8.18") == node_installer.version_key("8.18.0")
    assert node_installer.is_prerelease("8.0.0-beta.1")
    assert not node_installer.is_prerelease("8.18.3")


@pytest.mark.parametrize(
    "range_text, version, expected",
    [
        (">=10.0.0", (20, 20, 2), True),  # ws 8
        (">=20.18.1", (20, 20, 2), True),  # undici 7
        (">=22.19.0", (20, 20, 2), False),  # undici 8
        (">= 18", (20, 0, 0), True),  # blank after the operator
        ("^14.17.0 || ^16.13.0 || >=18", (20, 1, 0), True),
        ("^14.17.0 || ^16.13.0", (20, 1, 0), False),
        ("~0.6.0", (20, 0, 0), False),  # ws 0.4
        ("~0.6.0", (0, 6, 9), True),
        ("^0.2.3", (0, 2, 9), True),
        ("^0.2.3", (0, 3, 0), False),
        ("12.x", (12, 5, 0), True),
        ("12.x", (13, 0, 0), False),
        ("1.2 - 2.3", (2, 3, 9), True),  # hyphen range, partial upper bound
        ("1.2 - 2.3", (2, 4, 0), False),
        ("<=20", (20, 9, 9), True),
        ("<20.1", (20, 1, 0), False),
        (">0.4.0", (20, 0, 0), True),
        ("*", (1, 0, 0), True),
        ("node, really!", (1, 0, 0), None),  # unparsable: the caller decides
    ],
)
def test_range_satisfied(range_text: str, version: tuple, expected: bool | None) -> None:
    assert node_installer.range_satisfied(range_text, version) is expected


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path))
    memos = (node_installer._versions_cached, node_installer._engines_cached)
    for memo in memos:
        memo.cache_clear()
    yield tmp_path
    for memo in memos:  # a test may have swapped them out; clear the real ones
        memo.cache_clear()


def fake_prefix(package: str, version: str) -> Path:
    """A complete-looking cache entry, as ensure_prefix leaves one."""
    prefix = node_installer.prefix_dir(package, version)
    pkg = node_installer.package_dir(prefix, package)
    pkg.mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": package, "version": version}))
    (prefix / node_installer.MARKER).write_text(
        json.dumps({"package": package, "version": version})
    )
    return prefix


def no_network(*args: object) -> None:
    raise AssertionError(f"the registry was asked: {args}")


def test_cached_version_resolves_offline(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = clients.ADAPTERS["node-ws"]
    fake_prefix("ws", "8.18.3")
    monkeypatch.setattr(node_installer, "_view_json", no_network)
    assert node_installer.INSTALLER.resolve(info, "8.18.3") == "8.18.3"
    launch = node_installer.INSTALLER.ensure(info, "8.18.3", lambda _line: None)
    assert launch.argv[1:] == [str(info.entry)]
    assert launch.env["WSREPLAY_NODE_PACKAGE_DIR"] == str(
        cache / "node" / "ws-8.18.3" / "node_modules" / "ws"
    )
    assert launch.env["NODE_PATH"] == str(cache / "node" / "ws-8.18.3" / "node_modules")
    assert node_installer.INSTALLER.installed(info) == ["8.18.3"]


def test_prefix_without_marker_is_not_complete(cache: Path) -> None:
    prefix = fake_prefix("ws", "8.18.3")
    (prefix / node_installer.MARKER).unlink()  # a killed install
    assert not node_installer._is_complete(prefix, "ws")


def test_unknown_version_lists_nearest_finals(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = ["8.19.0", "8.18.3", "8.18.2", "8.18.1", "8.0.0-beta.1", "7.5.10"]
    monkeypatch.setattr(node_installer, "available_versions", lambda _package: versions)
    info = clients.ADAPTERS["node-ws"]
    with pytest.raises(VersionNotFound) as caught:
        node_installer.INSTALLER.resolve(info, "8.18.9")
    assert caught.value.package == "ws"
    assert caught.value.nearest == ["8.19.0", "8.18.3", "8.18.2", "8.18.1", "7.5.10"]
    assert "ws has no release '8.18.9'; nearest: 8.19.0, 8.18.3" in str(caught.value)
    # 8.18 is 8.18.0 for npm, which does not exist either; 8.18.3 resolves as written
    with pytest.raises(VersionNotFound):
        node_installer.INSTALLER.resolve(info, "8.18")
    assert node_installer.INSTALLER.resolve(info, "8.18.3") == "8.18.3"


def test_newest_skips_releases_this_node_cannot_run(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = (
        ("8.13.1", ">=22.19.0"),
        ("8.0.0", ">=22.19.0"),
        ("7.30.2", ">=20.18.1"),
        ("7.0.0", ">=20.18.1"),
        ("0.1.0", None),
    )
    monkeypatch.setattr(node_installer, "_engines_cached", lambda _package: rows)
    monkeypatch.setattr(node_installer, "node_version", lambda: "20.20.2")
    assert node_installer.newest_runnable("undici") == "7.30.2"
    monkeypatch.setattr(node_installer, "node_version", lambda: "22.19.0")
    assert node_installer.newest_runnable("undici") == "8.13.1"
    monkeypatch.setattr(node_installer, "node_version", lambda: "16.0.0")
    assert node_installer.newest_runnable("undici") == "0.1.0"  # no engines: npm takes it
    monkeypatch.setattr(
        node_installer, "_engines_cached", lambda _package: (("8.0.0", ">=22.19.0"),)
    )
    with pytest.raises(InstallError, match=r"no release of undici supports node 16\.0\.0"):
        node_installer.newest_runnable("undici")


def test_path_install_needs_the_package_itself(cache: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "package.json").write_text(json.dumps({"name": "not-ws", "version": "1.0.0"}))
    with pytest.raises(InstallError, match="names the package 'not-ws', not 'ws'"):
        node_installer.ensure_path_prefix("ws", checkout)


def test_cache_lives_under_the_cache_root(cache: Path) -> None:
    assert node_installer.prefix_dir("ws", "8.18.3").parent == paths.cache_root() / "node"


def test_releases_that_cannot_install_are_refused_before_install() -> None:
    """ws before 0.4.14 must build a native parser with node-waf: not on Node 20."""
    info = clients.ADAPTERS["node-ws"]
    with pytest.raises(SpecError) as caught:
        check_version_range(info, "0.4.13")
    assert "node-ws needs ws >= 0.4.14; 0.4.13 cannot be installed on Node 20" in str(caught.value)
    check_version_range(info, "0.4.14")


# --------------------------------------------------------------------------
# end to end


@pytest.mark.e2e
def test_catalogue_at_two_versions(tmp_path: Path) -> None:
    proc, report = e2e.wsreplay_run(
        tmp_path, *e2e.client_args(SPECS), *e2e.scenario_args(CATALOGUE)
    )
    e2e.assert_clients(report, SPECS, "ws")
    e2e.assert_catalogue_verdicts(report, CATALOGUE, SPECS)
    for record in report["results"]:
        if record["scenario"] != "close/send-then-close":
            continue
        e2e.assert_founding_delivered(record["observed"])
        # recv_delay_ms 100 honoured: paused at open, nothing emitted before the delay
        e2e.assert_recv_delay_honoured(record["observed"])
    assert "PASS" in proc.stdout


@pytest.mark.e2e
def test_knobs(tmp_path: Path) -> None:
    """Every knob of the contract, each in a scenario of its own, all honoured."""
    by_name = e2e.run_knob_scenarios(tmp_path, "node-ws@8.18.3")
    e2e.assert_knobs_honoured(by_name)
    observed = {name: record["observed"] for name, record in by_name.items()}
    e2e.assert_knob_basics(observed)
    assert e2e.sent_kinds(observed["knobs/send-ping"]) == ["ping"]
    assert e2e.sent_kinds(observed["knobs/send"]) == ["text", "binary"]
    assert len(e2e.events(observed["knobs/echo"], "echo")) == 2
    # recv_pace_ms: pause() after each message; the two messages ws had
    # already read in the same chunk are still emitted, marked as such, and
    # the close (read only after resume()) waits for the pace.
    pace = observed["knobs/recv-pace"]
    assert [m["text"] for m in pace["messages"]] == ["m1", "m2", "m3"]
    last = pace["messages"][-1]["t_ms"]
    assert e2e.events(pace, "closed")[0]["t_ms"] - last >= 150
    # close_first: the code asked for, and close() alone sends an empty close frame
    e2e.close_first_call(observed["knobs/close-first-after-messages"], 4001)
    # the adapter's own close once receiving is over: why=end, not the knob
    assert [c["why"] for c in e2e.events(observed["knobs/max-messages"], "close_call")] == ["end"]
    e2e.assert_empty_close_frame(by_name["knobs/close-first-no-code"])


@pytest.mark.e2e
def test_over_tls(tmp_path: Path) -> None:
    """wss:// with the run's own CA (the job's ca_file) as the only trusted root."""
    e2e.assert_passes_over_tls(tmp_path, ["node-ws@8.18.3"])


@pytest.mark.e2e
def test_ws7_has_no_pause(tmp_path: Path) -> None:
    """Before 8.3.0 ws cannot hold messages back: recv_delay_ms is unsupported, said so."""
    _, report = e2e.wsreplay_run(
        tmp_path,
        "--client",
        "node-ws@7.5.10",
        *e2e.scenario_args(["close/send-then-close", "handshake/coalesced-message"]),
    )
    assert report["clients"][0]["resolved_version"] == "7.5.10"
    assert "(no pause/resume)" in report["clients"][0]["api"]
    verdicts = {r["scenario"]: (r["verdict"], r["reason"]) for r in report["results"]}
    assert verdicts["close/send-then-close"] == (
        "error",
        "the adapter cannot honour the client knob recv_delay_ms=100",
    )
    assert verdicts["handshake/coalesced-message"][0] == "pass"  # no delay asked


@pytest.mark.e2e
def test_unknown_version_names_the_nearest(tmp_path: Path) -> None:
    stderr = e2e.refused_spec_stderr(tmp_path, "node-ws@8.18.9")
    assert "client spec 'node-ws@8.18.9': ws has no release '8.18.9'; nearest:" in stderr
    assert "8.18.3" in stderr


def assert_t0_near_transcript(record: dict) -> None:
    """t0_unix_us (the adapter's connect_start, wall clock) is just before the
    server's ``started`` (its accept): same machine, same clock."""
    started = datetime.fromisoformat(record["transcript"]["started"].replace("Z", "+00:00"))
    gap_us = started.timestamp() * 1e6 - record["observed"]["t0_unix_us"]
    assert -5_000 <= gap_us <= 1_000_000, gap_us


#: The oldest releases the adapter runs, and what they show.
OLD_SPECS = {"node-ws@0.4.20": "0.4.20", "node-ws@1.1.0": "1.1.0"}


@pytest.mark.e2e
def test_oldest_releases(tmp_path: Path) -> None:
    """ws 0.4 and 1.x (the releases cited bugs lie in) run through the same adapter.

    ws 0.4.20 never reports a 403 answer: the adapter's open timeout ends
    the job (connect_timeout: a hang, not a refusal); 1.1.0 refuses it
    (connect_failed, with the status parsed from its own wording). ws 1.x
    sets CloseEvent.wasClean only for code 1000, so a completed closing
    handshake with the application's code 4321 is reported not clean.
    """
    _, report = e2e.wsreplay_run(
        tmp_path,
        *e2e.client_args(OLD_SPECS),
        *e2e.scenario_args(
            [
                "handshake/status-403-with-body",
                "client-close/application-code",
                "close/send-then-close",
            ]
        ),
    )
    e2e.assert_clients(report, OLD_SPECS, "ws")
    records = {(r["scenario"], r["client"]): r for r in report["results"]}

    hang = records["handshake/status-403-with-body", "node-ws@0.4.20"]["observed"]
    assert (hang["connected"], hang["end"]) == (False, "connect_timeout")
    assert e2e.events(hang, "connect_timeout")
    refused = records["handshake/status-403-with-body", "node-ws@1.1.0"]["observed"]
    assert (refused["connected"], refused["end"], refused["http_status"]) == (
        False,
        "connect_failed",
        403,
    )
    assert "unexpected server response (403)" in refused["error"]["message"]

    coded = records["client-close/application-code", "node-ws@1.1.0"]["observed"]
    assert coded["close"]["code"] == 4321
    assert (coded["clean"], coded["clean_source"]) == (
        False,
        "CloseEvent.wasClean (addEventListener)",
    )
    assert [c["why"] for c in e2e.events(coded, "close_call")] == ["knob"]

    for spec in OLD_SPECS:
        record = records["close/send-then-close", spec]
        observed = record["observed"]
        e2e.assert_founding_delivered(observed)
        # recv_delay_ms through ws 0.x-3.x's own pause(): nothing lost
        assert record["verdict"] == "pass", record["reason"]
        assert_t0_near_transcript(record)


@pytest.mark.e2e
def test_facts_at_a_current_release(tmp_path: Path) -> None:
    """ws 8: wasClean true after a closing handshake, false after a bare FIN;
    close_first's close call is marked why=knob, no crash, t0 on the wall clock."""
    _, report = e2e.wsreplay_run(
        tmp_path,
        "--client",
        "node-ws@8.18.3",
        *e2e.scenario_args(
            ["close/send-then-close", "close/send-then-fin", "client-close/application-code"]
        ),
    )
    observed = {r["scenario"]: r["observed"] for r in report["results"]}
    assert observed["close/send-then-close"]["clean"] is True
    fin = observed["close/send-then-fin"]
    assert (fin["close"]["code"], fin["clean"]) == (1006, False)
    assert fin["clean_source"] == "CloseEvent.wasClean (addEventListener)"
    assert observed["client-close/application-code"]["clean"] is True
    assert [
        c["why"] for c in e2e.events(observed["client-close/application-code"], "close_call")
    ] == ["knob"]
    for record in report["results"]:
        assert record["observed"]["crash"] is None
        assert_t0_near_transcript(record)


# --------------------------------------------------------------------------
# the adapter with a stand-in package: the kit's process contract, offline

#: A "ws" that opens, then throws from a timer of its own: an exception the
#: application cannot catch, which would kill it.
THROWING_WS = """
const { EventEmitter } = require('node:events')
class WebSocket extends EventEmitter {
  constructor () {
    super()
    this.readyState = 0
    setTimeout(() => { this.readyState = 1; this.emit('open') }, 5)
    setTimeout(() => { throw new TypeError('thrown by the library') }, 30)
  }
  pause () {}
  resume () {}
  close () {}
  terminate () { this.readyState = 3 }
}
WebSocket.CLOSED = 3
module.exports = WebSocket
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
def test_library_exception_is_the_jobs_crash_and_unknown_knobs_are_unsupported(
    tmp_path: Path,
) -> None:
    """js-common's node-contract: an uncaught exception ends the running job
    as its `crash` and the process serves on; a knob it does not know is
    reported, never ignored."""
    package = tmp_path / "ws"
    package.mkdir()
    (package / "package.json").write_text(json.dumps({"name": "ws", "version": "0.0.0-test"}))
    (package / "index.js").write_text(THROWING_WS)
    adapter = AdapterProcess(
        "node-ws@test",
        [str(shutil.which("node")), str(e2e.REPO_ROOT / "harness/adapters/node-ws/adapter.js")],
        {"WSREPLAY_NODE_PACKAGE_DIR": str(package)},
        tmp_path / "stderr.log",
    )
    adapter.start()
    try:
        url = "ws://127.0.0.1:9/x"
        crashed = adapter.run_job(
            {"id": "c", "url": url, "knobs": e2e.knobs(), "deadline_ms": 5000}, 10
        )
        observed = crashed.observation
        assert observed is not None, crashed.error
        assert (observed["connected"], observed["end"]) == (True, "error")
        assert observed["crash"]["where"] == "uncaughtException"
        assert (observed["crash"]["type"], observed["crash"]["message"]) == (
            "TypeError",
            "thrown by the library",
        )
        assert "index.js" in observed["crash"]["at"]
        unknown = adapter.run_job(
            {"id": "u", "url": url, "knobs": {**e2e.knobs(), "teleport": True, "later": None}}, 10
        ).observation
        assert unknown is not None
        assert (unknown["end"], unknown["unsupported"]) == ("unsupported", ["teleport"])
    finally:
        adapter.close()


# --------------------------------------------------------------------------
# the compression knob: the perMessageDeflate option, one connection per value

#: ws's own offer (perMessageDeflate: true, its default): clientMaxWindowBits
#: left unset is offered without a value.
OWN_OFFER = "permessage-deflate; client_max_window_bits"


@pytest.mark.e2e
@pytest.mark.parametrize("version", ["1.1.5", "8.18.3"])
def test_compression_knob_sets_the_offer(
    version: str,
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    e2e.check_compression(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        f"node-ws@{version}",
        [
            ("default", OWN_OFFER),
            ("off", None),
            ("on", OWN_OFFER),
            (
                {"server_no_context_takeover": True, "server_max_window_bits": 10},
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; "
                "client_max_window_bits",
            ),
            (
                {"client_no_context_takeover": True, "client_max_window_bits": 9},
                "permessage-deflate; client_no_context_takeover; client_max_window_bits=9",
            ),
        ],
    )


@pytest.mark.e2e
def test_compression_knob_before_permessage_deflate(
    wsreplay_server: ScenarioServer,
    wsreplay_clients: ClientPool,
    wsreplay_catalogue: dict[str, Scenario],
) -> None:
    """ws 0.4.x has no permessage-deflate (0.6.0 brought it): it never offers."""
    e2e.check_compression(
        wsreplay_server,
        wsreplay_clients,
        wsreplay_catalogue,
        "node-ws@0.4.32",
        [("default", None), ("off", None)],
        ["on", {"client_max_window_bits": True}],
    )
