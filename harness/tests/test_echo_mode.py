"""Echo mode (issue 15): a scenario's plan for an Autobahn driver, and its verdict from the wire.

Plans are derived from hand-made scenarios and from the whole catalogue;
verdicts come from hand-made transcripts (the server's event shapes,
server/README.md "Transcript"). test_echo_mode_wire.py drives a real library
the way an Autobahn driver does against the real server.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections import Counter
from typing import Any

import jsonschema
import pytest

from wsreplay.contract import Scenario
from wsreplay.judging.echo import (
    AUTOBAHN_BEHAVIOR,
    ECHO_EXPECTATIONS,
    UNIMPLEMENTED,
    EchoPlan,
    behavior,
    echo_plan,
    judge_echo,
)
from wsreplay.judging.verdicts import VERDICTS
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA
from wsreplay.scenarios import knob_defaults, load_all


def scenario(**fields: Any) -> Scenario:
    """A loader-shaped scenario: complete knobs (echo on), one message awaited, a close."""
    client = knob_defaults() | {"echo": True} | fields.pop("client", {})
    base: dict[str, Any] = {
        "name": "t/echo",
        "summary": "s",
        "rfc": ["6455#5.6"],
        "client": client,
        "steps": [
            {"write": [{"text": "hello"}]},
            {"await": "messages", "count": 1, "timeout_ms": 1000},
            {"write": [{"close": 1000}]},
            {"await": "close", "timeout_ms": 1000},
            {"shutdown": "write"},
        ],
        "expect": {
            "messages": [{"text": "hello"}],
            "close": {"code": 1000},
            "client_close": {"code": 1000},
        },
        "file": "t/echo.json",
        "wire": {"bytes": 0, "items": 0},
        "budget_ms": {"steps": 0, "client": 0, "deadline": 0, "expected": 0},
    }
    base.update(fields)
    return base  # type: ignore[return-value]


# --------------------------------------------------------------- transcripts


def frame_in(t: int, opcode: int, **fields: Any) -> dict:
    return {"t_us": t, "dir": "in", "type": "frame", "opcode": opcode, "fin": True, "rsv": 0} | {
        "masked": True,
        **fields,
    }


def frame_out(t: int, opcode: int, **fields: Any) -> dict:
    return {"t_us": t, "dir": "out", "type": "frame", "opcode": opcode, "fin": True, "rsv": 0} | {
        "masked": False,
        **fields,
    }


def text_in(t: int, text: str) -> list[dict]:
    """A text frame from the client and the message it completes."""
    size = len(text.encode())
    return [
        frame_in(t, 1, length=size, text=text),
        {"t_us": t + 1, "dir": "in", "type": "message", "opcode": 1, "length": size, "text": text},
    ]


def close_in(t: int, code: int | None, reason: str = "") -> dict:
    return frame_in(t, 8, length=2 + len(reason), close_code=code, close_reason=reason)


def close_out(t: int, code: int) -> dict:
    return frame_out(t, 8, length=2, close_code=code, close_reason="")


def transcript(*events: dict, first: str | None = "server") -> dict:
    """A session that reached a 101; the server shut down last unless `first` says otherwise."""
    head = [
        {"t_us": 0, "dir": "in", "type": "tcp_accept"},
        {"t_us": 10, "dir": "in", "type": "http_request", "target": "/runCase?case=1&agent=a"},
        {"t_us": 20, "dir": "out", "type": "http_response", "status": 101},
    ]
    return {
        "run": "r-1",
        "scenario": "t/echo",
        "complete": True,
        "end": {"reason": "complete"},
        "tcp_close": {"first": first},
        "events": head + list(events) + [{"t_us": 9_999_999, "type": "closed"}],
    }


def good_session() -> dict:
    """hello out, echoed; close 1000 out, answered; FIN from the server, then the client's."""
    return transcript(
        frame_out(100, 1, length=5, text="hello"),
        *text_in(2_000, "hello"),
        close_out(3_000, 1000),
        close_in(4_000, 1000),
        {"t_us": 5_000, "dir": "out", "type": "tcp_shutdown"},
        {"t_us": 6_000, "dir": "in", "type": "tcp_eof"},
    )


# --------------------------------------------------------------- the vocabulary


def test_every_verdict_has_an_autobahn_behaviour() -> None:
    assert set(AUTOBAHN_BEHAVIOR) == set(VERDICTS)
    assert AUTOBAHN_BEHAVIOR == {
        "pass": "OK",
        "non-strict": "NON-STRICT",
        "informational": "INFORMATIONAL",
        "fail": "FAILED",
        "error": "FAILED",
    }
    assert behavior(None) == UNIMPLEMENTED == "UNIMPLEMENTED"
    assert behavior("pass") == "OK"
    assert behavior("something else") == "FAILED"


# --------------------------------------------------------------- plans


def test_awaited_messages_become_echoes() -> None:
    plan = echo_plan(scenario())
    assert isinstance(plan, EchoPlan)
    assert plan.source == "derived"
    assert plan.expect == {
        "client_messages": [{"text": "hello"}],
        "client_close": {"code": 1000},
    }
    assert set(plan.unjudged) == {"close"}
    assert "close code the application was told" in plan.unjudged["close"]


def test_severities_follow_the_expectations_they_come_from() -> None:
    plan = echo_plan(
        scenario(severity="non-strict", severity_by_check={"messages": "informational"})
    )
    assert isinstance(plan, EchoPlan)
    assert plan.severities == {"client_messages": "informational", "client_close": "non-strict"}


@pytest.mark.parametrize(
    "knobs, words",
    [
        ({"recv_delay_ms": 100}, "read timing (recv_delay_ms)"),
        ({"recv_pace_ms": 10}, "read timing (recv_pace_ms)"),
        ({"send": [{"text": "x"}]}, "sends messages of its own"),
        ({"close_first": {"code": 1000, "after_ms": 10}}, "closes the connection itself"),
        ({"subprotocols": ["chat"]}, "offers subprotocols"),
        ({"max_messages": 0}, "stops receiving after max_messages"),
    ],
)
def test_what_only_an_application_does_is_skipped(knobs: dict, words: str) -> None:
    reason = echo_plan(scenario(client=knobs))
    assert isinstance(reason, str) and words in reason


def test_a_longer_receive_timeout_or_message_limit_is_no_reason_to_skip() -> None:
    plan = echo_plan(scenario(client={"recv_timeout_ms": 20000, "max_messages": 5}))
    assert isinstance(plan, EchoPlan)


def test_tls_only_scenarios_are_skipped() -> None:
    reason = echo_plan(scenario(transport="wss"))
    assert isinstance(reason, str) and "TLS" in reason


def test_a_message_racing_the_close_cannot_be_judged() -> None:
    """The founding shape: the echo of a message that comes with the close races with it."""
    steps = [{"write": [{"text": "hello"}, {"close": 1000}]}, {"await": "close"}]
    reason = echo_plan(scenario(steps=steps))
    assert isinstance(reason, str)
    assert "the delivery of 1 of its 1 messages shows only to the application" in reason


def test_a_message_racing_a_failure_cannot_be_judged() -> None:
    """Autobahn's 3.2-3.4 and 4.x.3-5: the message ahead of the bad frame must reach the
    application (fail), and its echo races with the client failing the connection.

    Judging the rest would pass python-websockets 14.0, which loses that message
    (the normal run fails it): skipped, never judged wrongly.
    """
    steps = [
        {"write": [{"text": "before"}, {"text": "bad", "rsv": 1}, {"text": "after"}]},
        {"await": "close", "timeout_ms": 1000},
    ]
    expect = {
        "messages": [{"text": "before"}],
        "close": {"code": [1002, 1006, None]},
        "client_close": {"code": [1002]},
    }
    reason = echo_plan(scenario(steps=steps, expect=expect))
    assert reason == (
        "the delivery of 1 of its 1 messages shows only to the application: the steps do "
        "not wait for their echo, which races with the client failing the connection"
    )


def test_nothing_delivered_before_a_failure_is_judged_as_no_echo() -> None:
    steps = [{"write": [{"text": "bad", "rsv": 1}, {"text": "after"}]}, {"await": "close"}]
    expect = {"messages": [], "client_close": {"code": [1002]}}
    plan = echo_plan(scenario(steps=steps, expect=expect))
    assert isinstance(plan, EchoPlan)
    assert plan.expect == {"client_messages": [], "client_close": {"code": [1002]}}


def test_an_awaited_echo_before_the_bad_frame_is_required() -> None:
    steps = [
        {"write": [{"text": "before"}]},
        {"await": "messages", "count": 1, "timeout_ms": 1000},
        {"write": [{"text": "bad", "rsv": 1}]},
        {"await": "close", "timeout_ms": 1000},
    ]
    expect = {"messages": [{"text": "before"}], "client_close": {"code": [1002]}}
    plan = echo_plan(scenario(steps=steps, expect=expect))
    assert isinstance(plan, EchoPlan)
    assert plan.expect["client_messages"] == [{"text": "before"}]


def test_a_bad_frame_before_the_await_makes_the_echo_race() -> None:
    """Strict reading when the client must fail: the await after the bad frame does not count."""
    steps = [
        {"write": [{"text": "before"}, {"text": "", "hex": "ff"}]},
        {"await": "messages", "count": 1, "timeout_ms": 1000},
        {"await": "close", "timeout_ms": 1000},
    ]
    expect = {"messages": [{"text": "before"}], "client_close": {"code": [1007, 1002]}}
    reason = echo_plan(scenario(steps=steps, expect=expect))
    assert isinstance(reason, str) and "races with the client failing" in reason


def test_round_trips_judge_the_messages() -> None:
    steps = [
        {"round_trips": {"count": 3, "message": {"text": "m{i}"}}},
        {"write": [{"close": 1000}]},
        {"await": "close"},
    ]
    expect = {"messages": [{"text": "m{i}", "count": 3}], "round_trips": True, "close_clean": True}
    plan = echo_plan(scenario(steps=steps, expect=expect))
    assert isinstance(plan, EchoPlan)
    assert plan.expect == {"round_trips": True, "close_clean": True}
    assert "round_trips" in plan.unjudged["messages"]


def test_a_refused_handshake_becomes_no_frame_from_the_client() -> None:
    steps = [
        {"write": [{"handshake": {"status": 101, "accept": "omit"}}]},
        {"write": [{"text": "not for you"}]},
        {"await": "eof", "timeout_ms": 1000},
    ]
    plan = echo_plan(scenario(client={"echo": False}, steps=steps, expect={"connected": False}))
    assert isinstance(plan, EchoPlan)
    assert plan.expect == {"upgraded": False}


def test_a_client_close_with_no_server_close_is_the_applications() -> None:
    steps = [{"write": [{"ping": "x"}]}, {"await": "pong"}, {"await": "close"}]
    expect = {"client_pong": {"text": "x"}, "client_close": {"code": 1000}}
    plan = echo_plan(scenario(steps=steps, expect=expect))
    assert isinstance(plan, EchoPlan)
    assert plan.expect == {"client_pong": {"text": "x"}}
    assert "application's" in plan.unjudged["client_close"]


def test_nothing_on_the_wire_is_a_reason_to_skip() -> None:
    steps = [{"write": [{"close": 4000}]}, {"await": "close"}]
    reason = echo_plan(scenario(steps=steps, expect={"messages": [], "close": {"code": 4000}}))
    assert isinstance(reason, str) and reason.startswith("nothing it expects shows on the wire")


def test_a_declared_plan_replaces_the_derived_one() -> None:
    declared = {"expect": {"client_close": {"code": [1000, 4000]}, "close_clean": True}}
    plan = echo_plan(scenario(echo_mode=declared, severity_by_check={"close_clean": "non-strict"}))
    assert isinstance(plan, EchoPlan)
    assert plan.source == "declared"
    assert plan.expect == declared["expect"]
    assert plan.severities == {"client_close": "fail", "close_clean": "non-strict"}
    # what the declaration leaves out is listed, never silently dropped
    assert set(plan.unjudged) == {"messages", "close"}


def test_a_declaration_cannot_make_a_driver_play_the_applications_timing() -> None:
    """A scenario about what an application that reads late sees stays skipped, declared or not."""
    declared = {"expect": {"client_close": {}}}
    reason = echo_plan(scenario(client={"recv_delay_ms": 100}, echo_mode=declared))
    assert isinstance(reason, str) and "recv_delay_ms" in reason
    reason = echo_plan(scenario(transport="wss", echo_mode=declared))
    assert isinstance(reason, str) and "TLS" in reason


def test_a_declared_no_skips_with_its_reason() -> None:
    reason = echo_plan(scenario(echo_mode={"no": "the echo races with the FIN"}))
    assert reason == "the scenario opts out of echo mode: the echo races with the FIN"


def test_the_plan_keeps_the_compression_the_scenario_needs() -> None:
    plan = echo_plan(scenario(client={"compression": "on"}))
    assert isinstance(plan, EchoPlan) and plan.offer == "on"


# --------------------------------------------------------------- verdicts


def test_a_good_session_passes() -> None:
    verdict = judge_echo(scenario(), good_session())
    assert verdict.verdict == "pass", verdict.reason
    assert verdict.reason.startswith("the client echoed the 1 expected message")
    names = [c.name for c in verdict.checks]
    assert names == ["client_messages", "client_close", "rfc", "echo_mode"]
    mode = verdict.checks[-1]
    assert (mode.ok, mode.severity, mode.expected) == (True, "informational", "derived")
    assert "not judged from the wire: close" in mode.detail


def test_a_missing_echo_fails_with_the_messages_severity() -> None:
    session = good_session()
    session["events"] = [e for e in session["events"] if e.get("opcode") != 1 or e["dir"] == "out"]
    session["events"] = [e for e in session["events"] if e.get("type") != "message"]
    verdict = judge_echo(scenario(severity_by_check={"messages": "non-strict"}), session)
    assert verdict.verdict == "non-strict"
    assert "the client's messages: expected 1 message, received 0" in verdict.reason


def test_an_echo_of_a_message_that_must_not_be_delivered_fails() -> None:
    """The echo proves delivery: the message after the bad frame came back."""
    steps = [
        {"write": [{"text": "before"}]},
        {"await": "messages", "count": 1, "timeout_ms": 1000},
        {"write": [{"text": "bad", "rsv": 1}, {"text": "after"}]},
        {"await": "close", "timeout_ms": 1000},
    ]
    expect = {"messages": [{"text": "before"}], "client_close": {"code": [1002]}}
    session = transcript(
        *text_in(1_000, "before"),
        *text_in(1_100, "after"),
        close_in(1_200, 1002),
        {"t_us": 2_000, "dir": "out", "type": "tcp_shutdown"},
        {"t_us": 2_100, "dir": "in", "type": "tcp_eof"},
    )
    verdict = judge_echo(scenario(steps=steps, expect=expect), session)
    assert verdict.verdict == "fail"
    assert "expected 1 message, received 2; message 2 'after' was not expected" in verdict.reason


def test_a_client_that_took_a_refused_handshake_fails() -> None:
    steps = [{"write": [{"handshake": {"status": 101, "accept": "omit"}}, {"text": "x"}]}]
    refused = scenario(client={"echo": False}, steps=steps, expect={"connected": False})
    took = transcript(*text_in(1_000, "x"), first="client")
    verdict = judge_echo(refused, took)
    assert verdict.verdict == "fail"
    assert verdict.reason.startswith("the client took the connection: a text frame came from it")
    assert "although it must refuse the opening handshake" in verdict.reason
    verdict = judge_echo(refused, transcript(first="client"))
    assert verdict.verdict == "pass", verdict.reason
    # a close frame after the refusal is no sign the application got a connection
    courtesy = transcript(close_in(1_000, 1002), first="client")
    verdict = judge_echo(refused, courtesy)
    assert verdict.verdict == "pass", verdict.reason
    assert "sent only a close frame, no data and no pong" in verdict.reason


def test_the_rfc_rules_apply_to_the_clients_bytes() -> None:
    session = good_session()
    session["events"].insert(
        3,
        {
            "t_us": 1_500,
            "dir": "in",
            "type": "protocol_error",
            "error": "unmasked",
            "reason": "client frame not masked",
            "offset": 0,
        },
    )
    verdict = judge_echo(scenario(), session)
    assert verdict.verdict == "fail"
    assert any(c.name == "rfc" and not c.ok for c in verdict.checks)
    assert "rule mask" in verdict.reason


def test_a_client_that_does_not_answer_the_close_breaks_the_close_reply_rule() -> None:
    session = transcript(
        frame_out(100, 1, length=5, text="hello"),
        *text_in(2_000, "hello"),
        close_out(3_000, 1000),
        {"t_us": 1_100_000, "type": "await_done", "what": "close", "result": "timeout"},
        {"t_us": 1_100_010, "dir": "out", "type": "tcp_shutdown"},
        {"t_us": 1_200_000, "dir": "in", "type": "tcp_eof"},
    )
    verdict = judge_echo(scenario(), session)
    assert verdict.verdict == "fail"
    assert "the client sent no close frame, expected close 1000" in verdict.reason
    assert "rule close-reply" in verdict.reason


def test_a_large_message_refused_with_1009_is_recorded_not_failed() -> None:
    steps = [
        {"write": [{"binary": "", "pattern": "ab", "size": 65536}]},
        {"await": "messages", "count": 1},
        {"write": [{"close": 1000}]},
        {"await": "close"},
    ]
    expect = {"messages": [{"hex": "", "pattern": "ab", "size": 65536}], "close": {"code": 1000}}
    session = transcript(
        close_in(1_000, 1009),
        close_out(2_000, 1000),
        {"t_us": 3_000, "dir": "out", "type": "tcp_shutdown"},
        {"t_us": 3_100, "dir": "in", "type": "tcp_eof"},
    )
    verdict = judge_echo(scenario(steps=steps, expect=expect), session)
    assert verdict.verdict == "informational", verdict.reason
    assert "refused a message of 65536 bytes with close 1009" in verdict.reason


def test_a_driver_without_the_needed_offer_is_an_error() -> None:
    needs = scenario(client={"compression": "on"})
    verdict = judge_echo(needs, good_session())
    assert verdict.verdict == "error"
    assert "the driver offered none" in verdict.reason
    offered = good_session()
    offered["events"].insert(
        3, {"t_us": 25, "type": "deflate", "offers": [{}], "answer": None, "negotiated": None}
    )
    assert judge_echo(needs, offered).verdict == "pass"
    bits = scenario(client={"compression": {"client_max_window_bits": True}})
    assert judge_echo(bits, offered).verdict == "error"
    offered["events"][3]["offers"] = [{"client_max_window_bits": True}]
    assert judge_echo(bits, offered).verdict == "pass"


@pytest.mark.parametrize(
    "problem, transcript_, words",
    [
        ("the driver never connected for this case", None, "the driver never connected"),
        ("the driver\n  hung", {}, "the driver hung"),
        (None, None, "the server recorded no transcript"),
    ],
)
def test_problems_are_errors(problem: str | None, transcript_: dict | None, words: str) -> None:
    verdict = judge_echo(scenario(), transcript_, problem)
    assert verdict.verdict == "error"
    assert words in verdict.reason


def test_a_skipped_scenario_is_never_judged() -> None:
    verdict = judge_echo(scenario(client={"recv_delay_ms": 100}), good_session())
    assert verdict.verdict == "error"
    assert verdict.reason.startswith("the scenario is not judged in echo mode")


def test_a_declared_expectation_is_judged_with_the_normal_check() -> None:
    declared = scenario(echo_mode={"expect": {"client_close": {"code": 4000}}})
    verdict = judge_echo(declared, good_session())
    assert verdict.verdict == "fail"
    assert "the client sent close 1000, expected close 4000" in verdict.reason
    assert verdict.checks[-1].expected == "declared"


# --------------------------------------------------------------- the catalogue


@functools.cache
def catalogue() -> tuple[Scenario, ...]:
    return tuple(load_all(REPO_ROOT / "scenarios"))


def test_every_catalogue_scenario_gets_a_plan_or_a_reason() -> None:
    judged: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for item in catalogue():
        plan = echo_plan(copy.deepcopy(item))
        if isinstance(plan, str):
            assert plan.strip(), item["name"]
            skipped[re.sub(r"\d+", "N", plan)] += 1
            continue
        judged[plan.source] += 1
        assert plan.expect, item["name"]
        assert set(plan.expect) <= set(ECHO_EXPECTATIONS), item["name"]
        # every plan can be judged: even an empty session gets a verdict and a reason
        verdict = judge_echo(item, transcript())
        assert verdict.verdict in VERDICTS and verdict.reason, item["name"]
    total = sum(judged.values()) + sum(skipped.values())
    print(f"\necho mode over {total} scenarios: {sum(judged.values())} judged {dict(judged)}")
    print(f"skipped {sum(skipped.values())}:")
    for reason, count in skipped.most_common():
        print(f"  {count:4d}  {reason}")
    assert total == len(catalogue())
    # most of the catalogue is judged from the wire; the rest is listed with a reason
    assert sum(judged.values()) > 0.8 * total


@pytest.mark.parametrize(
    "name, judged",
    [
        ("close/send-then-close", False),  # the founding case needs the application's timing
        ("close/close-while-receiving", False),  # the echo races with the close
        ("close/close-frame-split", True),  # declared: the split close frame answered
        ("tls/message-then-close-notify", False),
        ("framing/rsv-text/1", True),
        ("utf8/kuhn-3.1-unexpected-continuation-3", True),
        ("handshake/accept-wrong", True),
        ("limits/round-trips-1000-text-16b", True),
        ("close/code-valid/1000", False),  # the code the application was told, read late
        ("close/server-closes-tcp-first", True),  # declared: who closes TCP is on the wire
    ],
)
def test_known_scenarios(name: str, judged: bool) -> None:
    item = next(s for s in catalogue() if s["name"] == name)
    assert isinstance(echo_plan(item), EchoPlan) == judged


def test_a_declared_upgraded_takes_the_severity_of_connected() -> None:
    declared = scenario(
        echo_mode={"expect": {"upgraded": False}}, severity_by_check={"connected": "non-strict"}
    )
    plan = echo_plan(declared)
    assert isinstance(plan, EchoPlan) and plan.severities == {"upgraded": "non-strict"}


def test_a_transcript_past_its_event_cap_is_never_judged() -> None:
    """A close frame past the cap is not missing: the verdict says so instead of failing."""
    session = good_session()
    session["events_dropped"] = 1234
    verdict = judge_echo(scenario(), session)
    assert verdict.verdict == "error"
    assert "event cap and dropped 1234 events" in verdict.reason


def test_echo_checks_fit_the_report_schema() -> None:
    """A verdict's checks go into report.json as they are: its schema knows their names."""
    defs = json.loads(REPORT_SCHEMA.read_text())["$defs"]
    check_schema = {"$ref": "#/$defs/check", "$defs": defs}
    refused = scenario(client={"echo": False}, expect={"connected": False})
    for verdict in (
        judge_echo(scenario(), good_session()),
        judge_echo(refused, transcript(*text_in(1_000, "x"))),
    ):
        assert {c.name for c in verdict.checks} >= {"echo_mode", "rfc"}
        for check in verdict.checks:
            jsonschema.validate(dataclasses.asdict(check), check_schema)


def test_the_schema_declares_what_echo_mode_judges() -> None:
    """echo_mode.expect in docs/scenario.schema.json names exactly the plan's expectations."""
    schema = json.loads((REPO_ROOT / "docs" / "scenario.schema.json").read_text())
    assert set(schema["$defs"]["echo_expect"]["properties"]) == set(ECHO_EXPECTATIONS)
