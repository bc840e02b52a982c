"""The Autobahn-compatible mode's reports (fuzzingserver/reports.py): Autobahn's layout
and wsreplay's own."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from wsreplay.contract import Scenario
from wsreplay.fuzzingserver.cases import CaseEntry
from wsreplay.fuzzingserver.reports import (
    BEHAVIORS,
    CASE_FIELDS,
    INDEX_FIELDS,
    CaseResult,
    clean_for_filename,
    report_filename,
    write_reports,
)
from wsreplay.judging.evaluate import Verdict
from wsreplay.outputs.report import utc_now
from wsreplay.paths import REPORT_SCHEMA

# Autobahn's case report, as its fuzzingserver writes it (fuzzing.py,
# FuzzingProtocol.connectionLost's caseResult): every key, and the index entry.
AUTOBAHN_CASE_KEYS = {
    "agent", "behavior", "behaviorClose", "case", "closedByMe", "createStats",
    "createWirelog", "description", "droppedByMe", "duration", "expectation",
    "expected", "expectedClose", "failedByMe", "httpRequest", "httpResponse", "id",
    "isServer", "localCloseCode", "localCloseReason", "received", "remoteCloseCode",
    "remoteCloseReason", "reportCompressionRatio", "reportTime", "result",
    "resultClose", "rxFrameStats", "rxOctetStats", "started", "trafficStats",
    "txFrameStats", "txOctetStats", "wasClean", "wasCloseHandshakeTimeout",
    "wasNotCleanReason", "wasOpenHandshakeTimeout", "wasServerConnectionDropTimeout",
    "wirelog",
}  # fmt: skip
AUTOBAHN_INDEX_KEYS = {"behavior", "behaviorClose", "duration", "remoteCloseCode", "reportfile"}

# The server's transcript of one echo session (server/README.md's form).
TRANSCRIPT = {
    "run": "ab1-c1-agent",
    "scenario": "framing/length-text/0",
    "complete": True,
    "end": {"reason": "complete", "detail": "steps done, client EOF"},
    "tcp_close": {"first": "server", "clean": True, "close_received": True, "close_sent": True},
    "events": [
        {"t_us": 0, "dir": "in", "type": "tcp_accept"},
        {
            "t_us": 180,
            "dir": "in",
            "type": "http_request",
            "bytes": 120,
            "method": "GET",
            "target": "/runCase?case=1&agent=my%20lib",
            "headers": [["Host", "127.0.0.1:9001"], ["Upgrade", "websocket"]],
        },
        {"t_us": 220, "dir": "out", "type": "http_response", "status": 101, "bytes": 129},
        {"t_us": 231, "dir": "out", "type": "frame", "opcode": 1, "fin": True, "rsv": 0,
         "masked": False, "length": 2, "text": "hi"},
        {"t_us": 233, "dir": "out", "type": "write", "bytes": 4, "hex": "81026869"},
        {"t_us": 900, "dir": "in", "type": "frame", "opcode": 1, "fin": True, "rsv": 0,
         "masked": True, "length": 2, "text": "hi"},
        {"t_us": 901, "dir": "in", "type": "message", "opcode": 1, "length": 2, "text": "hi"},
        {"t_us": 1000, "dir": "out", "type": "frame", "opcode": 8, "fin": True, "rsv": 0,
         "masked": False, "length": 2, "close_code": 1000, "close_reason": ""},
        {"t_us": 1001, "dir": "out", "type": "write", "bytes": 4, "hex": "880203e8"},
        {"t_us": 1500, "dir": "in", "type": "frame", "opcode": 8, "fin": True, "rsv": 0,
         "masked": True, "length": 2, "close_code": 1000, "close_reason": ""},
        {"t_us": 1600, "dir": "out", "type": "tcp_shutdown"},
        {"t_us": 2100, "dir": "in", "type": "tcp_eof"},
        {"t_us": 2110, "type": "closed"},
    ],
}  # fmt: skip


def results(scenario: Scenario, slow: Scenario) -> list[CaseResult]:
    agent = "My Lib/1.0"
    judged = CaseEntry(1, "1.1.1", "one text message", scenario, True)
    missing = CaseEntry(2, "1.1.8", "a case no scenario reproduces", None, True)
    skipped = CaseEntry(3, "100.7", "a scenario of ours", slow, False)
    failed = CaseEntry(4, "1.1.2", "one text message", scenario, True)
    return [
        CaseResult(judged, agent, "ab1-c1-agent", utc_now(), 2.11, Verdict("pass", "echoed"),
                   transcript=TRANSCRIPT),
        CaseResult(missing, agent, None, utc_now()),
        CaseResult(skipped, agent, None, utc_now(), skipped="needs the read timing"),
        CaseResult(failed, "other", "ab4-c4-other", utc_now(), 0.0,
                   Verdict("fail", "the client never connected")),
    ]  # fmt: skip


@pytest.fixture
def written(tmp_path: Path, wsreplay_catalogue: dict[str, Scenario]) -> tuple[Path, dict]:
    scenario = wsreplay_catalogue["framing/length-text/0"]
    slow = wsreplay_catalogue["close/send-then-close"]
    report = write_reports(
        results(scenario, slow), tmp_path / "ab", tmp_path / "ws", "r1", "0.1.0", ["wsreplay"]
    )
    return tmp_path, report


def test_autobahn_layout(written: tuple[Path, dict]) -> None:
    tmp_path, _ = written
    index = json.loads((tmp_path / "ab" / "index.json").read_text())
    assert set(index) == {"My Lib/1.0", "other"}
    assert set(index["My Lib/1.0"]) == {"1.1.1", "1.1.8", "100.7"}
    for agent, by_case in index.items():
        for case_id, entry in by_case.items():
            assert set(entry) == AUTOBAHN_INDEX_KEYS == set(INDEX_FIELDS)
            assert entry["behavior"] in BEHAVIORS
            assert entry["reportfile"] == report_filename(agent, case_id)
            case = json.loads((tmp_path / "ab" / entry["reportfile"]).read_text())
            assert set(case) == AUTOBAHN_CASE_KEYS == set(CASE_FIELDS)
            assert case["agent"] == agent and case["id"] == case_id
            assert case["behavior"] == entry["behavior"]
            assert isinstance(case["duration"], int)
    assert index["My Lib/1.0"]["1.1.1"]["reportfile"] == "my_lib_1_0_case_1_1_1.json"
    words = {a: {c: e["behavior"] for c, e in cs.items()} for a, cs in index.items()}
    assert words == {
        "My Lib/1.0": {"1.1.1": "OK", "1.1.8": "UNIMPLEMENTED", "100.7": "UNIMPLEMENTED"},
        "other": {"1.1.2": "FAILED"},
    }


def test_case_report_from_the_transcript(written: tuple[Path, dict]) -> None:
    tmp_path, _ = written
    case = json.loads((tmp_path / "ab" / "my_lib_1_0_case_1_1_1.json").read_text())
    assert case["case"] == 1 and case["isServer"] is True
    assert isinstance(case["expected"], dict)  # the echo plan's wire expectations
    assert "framing/length-text/0" in case["expectation"]
    assert case["behaviorClose"] == "OK" and case["wasClean"] is True
    assert case["closedByMe"] is True and case["droppedByMe"] is True
    assert (case["localCloseCode"], case["remoteCloseCode"]) == (1000, 1000)
    assert case["received"] == [["message", "hi", False]]
    assert case["rxFrameStats"] == {"1": 1, "8": 1} and case["txOctetStats"] == {"4": 2}
    assert case["httpRequest"].startswith("GET /runCase?case=1&agent=my%20lib HTTP/1.1\r\n")
    assert ["RF", "hi", 1, True, 0, True, None] in case["wirelog"]
    assert case["started"].endswith("Z") and len(case["started"]) == 24
    skipped = json.loads((tmp_path / "ab" / "my_lib_1_0_case_100_7.json").read_text())
    assert "needs the read timing" in skipped["result"]
    assert skipped["wasClean"] is None and skipped["httpRequest"] is None


def test_wsreplay_report_validates(written: tuple[Path, dict]) -> None:
    tmp_path, report = written
    for name in ("report.json", "junit.xml", "summary.md", "report.html"):
        assert (tmp_path / "ws" / name).is_file()
    on_disk = json.loads((tmp_path / "ws" / "report.json").read_text())
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(on_disk)
    verdicts = {(r["client"], r["scenario"]): r["verdict"] for r in on_disk["results"]}
    # the case with no scenario lives in Autobahn's layout only
    assert verdicts == {
        ("My Lib/1.0", "framing/length-text/0"): "pass",
        ("My Lib/1.0", "close/send-then-close"): "informational",
        ("other", "framing/length-text/0"): "fail",
    }
    assert report["totals"]["fail"] == 1
    assert [c["adapter"] for c in on_disk["clients"]] == ["autobahn-driver"] * 2


def test_clean_for_filename() -> None:
    assert clean_for_filename("  AutobahnPython/0.6.0 ") == "autobahnpython_0_6_0"
    assert report_filename("ws", "12.1.10") == "ws_case_12_1_10.json"
