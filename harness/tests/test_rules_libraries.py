"""RFC client rules broken by real libraries, at pinned releases, caught by the whole harness.

Every claim here comes from the library: its release is installed from its
registry and run against the real server. Where a fixed release exists, it
runs beside the broken one and must not break the rule. Rules no library
here is known to break are shown on the wire by a raw client in
test_rules_wire.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter_e2e import wsreplay_run

#: (rule, client spec, scenario, words of the breach): a real library breaking a rule.
BROKEN = [
    # simple-websocket never answers the server's close frame (it closes TCP instead).
    ("close-reply", "python-simple-websocket@1.1.0", "close/send-then-close",
     "the server's close 1000 'bye'"),
    # Tornado echoes a code that may not appear on the wire.
    ("close-payload", "python-tornado@6.6.1", "close/reserved-code-1005-on-wire",
     "close 1005, at"),
    # coder/websocket#103: Close() dropped TCP without waiting for the server's reply.
    ("wait-for-close-reply", "go-coder@v1.6.5", "client-close/reply-delayed",
     "before the server's close reply went out"),
    # coder/websocket neither validates nor refuses bad UTF-8: echoed, it goes back out.
    ("utf8", "go-coder@v1.8.15", "utf8/invalid-text", "is not valid UTF-8"),
    # simple-websocket fails on an oversized ping by dropping TCP, with no close frame.
    ("fail-with-close", "python-simple-websocket@1.1.0", "control/ping-126-bytes",
     "the client closed TCP without a close frame"),
]  # fmt: skip

#: Releases where the same rule holds on the same scenario (a fixed one, or a peer).
KEPT = [
    ("wait-for-close-reply", "go-coder@v1.8.15", "client-close/reply-delayed"),
    ("close-reply", "python-websockets@15.0.1", "close/send-then-close"),
    ("close-payload", "python-websockets@15.0.1", "close/reserved-code-1005-on-wire"),
    ("fail-with-close", "python-websockets@15.0.1", "control/ping-126-bytes"),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run of every pair above: the clients against the scenarios they need."""
    pairs = [(spec, scenario) for _, spec, scenario, *_ in BROKEN + KEPT]
    args: list[str] = []
    for spec in dict.fromkeys(spec for spec, _ in pairs):
        args += ["--client", spec]
    for scenario in dict.fromkeys(scenario for _, scenario in pairs):
        args += ["--scenario", scenario]
    _, found = wsreplay_run(Path(tmp_path_factory.mktemp("rules-libs")), *args)
    return found


def record(report: dict, spec: str, scenario: str) -> dict:
    matches = [r for r in report["results"] if r["client"] == spec and r["scenario"] == scenario]
    assert len(matches) == 1, (spec, scenario)
    return matches[0]


def breaches(rec: dict) -> dict[str, dict]:
    return {c["observed"]["rule"]: c for c in rec["checks"] if c["name"] == "rfc" and not c["ok"]}


@pytest.mark.parametrize(("rule", "spec", "scenario", "words"), BROKEN)
def test_a_real_library_breaking_the_rule_is_caught(report, rule, spec, scenario, words):
    rec = record(report, spec, scenario)
    found = breaches(rec)
    assert rule in found, rec["reason"]
    assert words in found[rule]["detail"]
    assert f"(rule {rule}, RFC 6455 " in rec["reason"]
    assert rec["verdict"] == found[rule]["severity"] or rec["verdict"] == "fail"


@pytest.mark.parametrize(("rule", "spec", "scenario"), KEPT)
def test_a_library_keeping_the_rule_is_not_blamed(report, rule, spec, scenario):
    rec = record(report, spec, scenario)
    assert rule not in breaches(rec), rec["reason"]
