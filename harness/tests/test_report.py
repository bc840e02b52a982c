"""The report: built from real evaluate() verdicts, written atomically, and held
to results/report.schema.json at every stage of a run."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path

import jsonschema
import pytest

from wsreplay.judging.evaluate import evaluate
from wsreplay.outputs import report as rep

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "results" / "report.schema.json"
CLOSED_OK = "websockets.exceptions.ConnectionClosedOK"

SCENARIO = {
    "name": "close/send-then-close",
    "summary": "A text message and a close frame leave in one TCP write.",
    "rfc": ["6455#5.5.1", "6455#7.1.1"],
    "tags": ["close", "delivery"],
    "bugs": [
        {
            "library": "python-websockets",
            "versions": "14.0",
            "url": "https://github.com/python-websockets/websockets/issues/1538",
        }
    ],
    "client": {"recv_delay_ms": 100},
    "steps": [{"write": [{"text": "final message"}, {"close": 1000, "reason": "bye"}]}],
    "expect": {
        "messages": [{"text": "final message"}],
        "close": {"code": 1000, "reason": "bye"},
        "client_close": {"code": 1000},
    },
}
ECHO = {
    "name": "framing/echo-many",
    "summary": "The server sends 3 messages and echoes back.",
    "rfc": ["6455#5.6"],
    "steps": [],
    "expect": {"messages": [{"text": "m{i}", "count": 3}], "client_close": False},
    "severity": "non-strict",
}


def observation(messages: list[str]) -> dict:
    return {
        "id": "7",
        "connected": True,
        "messages": [
            {"type": "text", "length": len(m), "text": m, "t_ms": 101.4} for m in messages
        ],
        "close": {"code": 1000, "reason": "bye"},
        "end": "closed",
        "error": {"type": CLOSED_OK, "message": "received 1000 (OK) bye"},
        "unsupported": [],
        "events": [
            {"t_ms": 0.0, "event": "connect_start"},
            {"t_ms": 2.1, "event": "open"},
        ],
        "duration_ms": 102.0,
    }


def transcript(client_close: bool = True) -> dict:
    events = [
        {"t_us": 0, "dir": "in", "type": "tcp_accept"},
        {
            "t_us": 220,
            "dir": "out",
            "type": "http_response",
            "status": 101,
            "bytes": 129,
        },
        {"t_us": 230, "type": "step", "index": 0, "step": "write"},
        {
            "t_us": 231,
            "dir": "out",
            "type": "frame",
            "opcode": 1,
            "fin": True,
            "rsv": 0,
            "masked": False,
            "length": 13,
            "text": "final message",
        },
    ]
    if client_close:
        events.append(
            {
                "t_us": 101800,
                "dir": "in",
                "type": "frame",
                "opcode": 8,
                "fin": True,
                "rsv": 0,
                "masked": True,
                "length": 5,
                "close_code": 1000,
                "close_reason": "bye",
            }
        )
    events.append({"t_us": 102110, "type": "closed"})
    return {
        "run": "r1-7",
        "scenario": "close/send-then-close",
        "peer": "127.0.0.1:51234",
        "started": "2026-11-26T09:30:00.123456Z",
        "complete": True,
        "end": {"reason": "complete", "detail": "steps done, client EOF"},
        "events": events,
    }


def record(
    scenario: dict,
    spec: str,
    version: str | None,
    obs: dict | None,
    tr: dict | None,
    harness_error: str | None = None,
    stderr: str | None = None,
) -> dict:
    verdict = evaluate(scenario, obs, tr, harness_error)
    return rep.make_record(scenario, spec, version, verdict, obs, tr, rep.utc_now(), 104.25, stderr)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def build_report() -> dict:
    report = rep.new_report("r1", "0.1.0", "0.1.0", ["wsreplay", "run", "python-websockets@14.0"])
    rep.add_client(
        report,
        {
            "spec": "python-websockets@14.0",
            "requested_version": "14.0",
            "resolved_version": "14.0",
            "library": "websockets",
            "api": "websockets.connect",
            "language": "python 3.11.7",
        },
    )
    rep.add_client(
        report,
        {
            "spec": "python-websockets@14.1",
            "requested_version": "14.1",
            "resolved_version": "14.1",
            "library": "websockets",
            "api": "websockets.connect",
            "language": "python 3.11.7",
        },
    )
    rep.add_client(
        report,
        {
            "spec": "node-ws@0.0.0",
            "adapter": "node-ws",
            "requested_version": "0.0.0",
            "status": "error",
            "error": "npm: no such version 0.0.0",
        },
    )
    rep.add_scenario(report, SCENARIO)
    rep.add_scenario(report, ECHO)
    rep.add_result(
        report,
        record(SCENARIO, "python-websockets@14.0", "14.0", observation([]), transcript()),
    )
    rep.add_result(
        report,
        record(
            SCENARIO,
            "python-websockets@14.1",
            "14.1",
            observation(["final message"]),
            transcript(),
        ),
    )
    rep.add_result(
        report,
        record(
            SCENARIO,
            "node-ws@0.0.0",
            None,
            None,
            None,
            harness_error="node-ws@0.0.0 could not be installed",
            stderr="npm ERR! 404",
        ),
    )
    rep.add_result(
        report,
        record(
            ECHO,
            "python-websockets@14.1",
            "14.1",
            observation(["m1", "m3"]),
            transcript(client_close=False),
        ),
    )
    return report


def test_records_carry_every_field_and_the_evidence() -> None:
    rec = record(
        SCENARIO,
        "python-websockets@14.0",
        "14.0",
        observation([]),
        transcript(),
        stderr="",
    )
    assert list(rec) == [
        "scenario",
        "client",
        "resolved_version",
        "verdict",
        "reason",
        "runs",
        "passes",
        "pass_rate",
        "per_run",
        "evidence_run",
        "checks",
        "expected",
        "observed",
        "timing",
        "transcript",
        "adapter_stderr",
    ]
    assert rec["verdict"] == "fail"
    assert rec["reason"].startswith("the message 'final message' was not received")
    assert rec["expected"] == SCENARIO["expect"]
    assert rec["checks"][0] == {
        "name": "messages",
        "ok": False,
        "severity": "fail",
        "expected": {
            "count": 1,
            "at": 1,
            "message": {"type": "text", "text": "final message"},
        },
        "observed": {"count": 0, "at": 1, "message": None},
        "detail": "expected 1 message, received 0",
    }
    assert rec["timing"]["duration_ms"] == 104.25


def test_report_validates_at_every_stage(validator, tmp_path: Path) -> None:
    report = rep.new_report("r1", "0.1.0", "0.1.0", ["wsreplay"])
    validator.validate(report)
    report = build_report()
    validator.validate(report)  # mid-run: not finished yet
    assert report["finished"] is None and report["duration_ms"] is None
    rep.finish(report)
    validator.validate(report)
    path = rep.write_report(report, tmp_path / "r1")
    validator.validate(json.loads(path.read_text()))


def test_totals_follow_the_results() -> None:
    report = build_report()
    expected = {
        "pass": 1,
        "fail": 1,
        "non-strict": 1,
        "informational": 0,
        "error": 1,
        "total": 4,
    }
    assert report["totals"] == expected
    rep.finish(report)
    assert report["totals"] == expected
    assert report["duration_ms"] >= 0
    assert report["finished"] >= report["started"]


def test_report_top_level_shape() -> None:
    report = build_report()
    assert list(report) == [
        "schema",
        "tool",
        "server",
        "run_id",
        "started",
        "finished",
        "duration_ms",
        "command",
        "catalogue",
        "shard",
        "compression",
        "merged_from",
        "clients",
        "scenarios",
        "results",
        "totals",
    ]
    assert report["schema"] == "wsreplay-report/1"
    assert report["catalogue"] is report["shard"] is report["merged_from"] is None
    assert report["tool"] == {"name": "wsreplay", "version": "0.1.0"}
    assert [c["spec"] for c in report["clients"]] == [
        "python-websockets@14.0",
        "python-websockets@14.1",
        "node-ws@0.0.0",
    ]
    assert report["clients"][0]["adapter"] == "python-websockets"
    assert report["scenarios"][1] == {
        "name": "framing/echo-many",
        "summary": "The server sends 3 messages and echoes back.",
        "rfc": ["6455#5.6"],
        "tags": [],
        "bugs": [],
    }
    error = report["results"][2]
    assert (error["verdict"], error["observed"], error["transcript"]) == (
        "error",
        None,
        None,
    )
    assert error["reason"] == "node-ws@0.0.0 could not be installed"
    assert error["adapter_stderr"] == "npm ERR! 404"


def test_adding_a_client_again_replaces_it() -> None:
    report = rep.new_report("r1", "0.1.0", "0.1.0", [])
    rep.add_client(report, {"spec": "python-websockets", "requested_version": None})
    rep.add_client(report, {"spec": "python-websockets", "resolved_version": "14.1"})
    assert len(report["clients"]) == 1
    assert report["clients"][0]["resolved_version"] == "14.1"
    rep.add_scenario(report, SCENARIO)
    rep.add_scenario(report, SCENARIO)
    assert len(report["scenarios"]) == 1


@pytest.mark.parametrize(
    "info",
    [
        {"spec": "x", "versoin": "1"},  # misspelt field
        {"spec": "x", "status": "failed"},
        {"adapter": "x"},  # no spec
    ],
)
def test_bad_client_info_is_refused(info: dict) -> None:
    with pytest.raises(ValueError):
        rep.add_client(rep.new_report("r1", "0.1.0", "0.1.0", []), info)


def test_bad_verdict_is_refused_on_add() -> None:
    report = build_report()
    bad = dict(report["results"][0], verdict="passed")
    with pytest.raises(ValueError):
        rep.add_result(report, bad)
    assert report["totals"]["total"] == 4


def test_write_is_atomic_and_repeatable(tmp_path: Path) -> None:
    out = tmp_path / "results" / "r1"
    report = build_report()
    first = rep.write_report(report, out)
    assert first == out / "report.json"
    rep.add_result(report, report["results"][0])
    second = rep.write_report(report, out)
    assert second == first
    assert len(json.loads(second.read_text())["results"]) == 5
    assert os.listdir(out) == ["report.json"]  # no temporary file left behind
    assert stat.S_IMODE(second.stat().st_mode) == 0o644


def test_failed_write_keeps_the_previous_report(tmp_path: Path) -> None:
    report = build_report()
    path = rep.write_report(report, tmp_path)
    before = path.read_text()
    broken = copy.deepcopy(report)
    broken["results"][0]["observed"] = {"end": "closed", "oops": object()}
    with pytest.raises(TypeError):
        rep.write_report(broken, tmp_path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["report.json"]


def mutate(report: dict, where: list, value, delete: bool = False) -> dict:
    broken = copy.deepcopy(report)
    target = broken
    for key in where[:-1]:
        target = target[key]
    if delete:
        del target[where[-1]]
    else:
        target[where[-1]] = value
    return broken


@pytest.mark.parametrize(
    ("where", "value", "delete"),
    [
        (["results", 0, "verdict"], "passed", False),
        (["results", 0, "reason"], None, True),
        (["results", 0, "reason"], "", False),
        (["results", 0, "checks", 0, "severity"], "warning", False),
        (["results", 0, "checks", 0, "ok"], "yes", False),
        (["results", 0, "timing", "started"], "yesterday", False),
        (["results", 0, "observed", "end"], "finished", False),
        (["results", 0, "observed", "messages", 0], {"type": "string"}, False),
        (["results", 0, "transcript", "events", 0, "type"], "Frame!", False),
        (["results", 0, "transcript", "events", 0, "t_us"], "0", False),
        (["results", 0, "transcript", "events", 0, "dir"], "sideways", False),
        (["results", 0, "transcript", "events", 3, "opcode"], 16, False),
        (["results", 0, "transcript", "end", "reason"], "bored", False),
        (["results", 0, "transcript", "events"], None, True),
        (["results", 0, "observed", "close", "code"], "1000", False),
        (["results", 0, "observed", "error"], "boom", False),
        (["results", 0, "expected", "messages", 0], {"txt": "a"}, False),
        (["results", 0, "surprise"], 1, False),
        (["clients", 2, "error"], None, False),  # an errored client must say why
        (["clients", 0, "status"], "fine", False),
        (["totals", "fail"], -1, False),
        (["totals", "pass"], None, True),
        (["schema"], "wsreplay-report/2", False),
        (["run_id"], None, True),
        (["extra"], True, False),
    ],
)
def test_schema_rejects_broken_reports(validator, where: list, value, delete: bool) -> None:
    report = build_report()
    report["results"][0]["observed"]["messages"] = [{"type": "text", "length": 1, "text": "a"}]
    validator.validate(report)  # the unbroken one is fine
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(mutate(report, where, value, delete))
