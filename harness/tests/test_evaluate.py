"""Judging: hand-made observations and transcripts against scenario expectations.

The wording of reasons is asserted exactly where it is part of the product
(the founding case, pass confirmations, the message diffs).
"""

from __future__ import annotations

import copy
import hashlib

import pytest

from wsreplay.judging.evaluate import Check, Verdict, evaluate, expand_messages
from wsreplay.scenarios import knob_defaults

CLOSED_OK = "websockets.exceptions.ConnectionClosedOK"


def scenario(expect: dict, client: dict | None = None, **extra) -> dict:
    """A hand-made scenario as the loader publishes it: complete knobs."""
    return {
        "name": "close/send-then-close",
        "summary": "s",
        "rfc": [],
        "steps": [],
        "expect": expect,
        "client": {**knob_defaults(), **(client or {})},
        **extra,
    }


def observation(
    messages: list[dict] | None = None,
    close: dict | None = None,
    end: str = "closed",
    error_type: str | None = CLOSED_OK,
    **extra,
) -> dict:
    obs = {
        "id": "1",
        "connected": True,
        "messages": messages if messages is not None else [],
        "close": close,
        "end": end,
        "error": {"type": error_type, "message": "m"} if error_type else None,
        "unsupported": [],
        "events": [],
        "duration_ms": 5.0,
    }
    obs.update(extra)
    return obs


def text(value: str) -> dict:
    return {"type": "text", "length": len(value.encode()), "text": value}


def transcript(*client_closes: tuple[int | None, str | None]) -> dict:
    """A transcript whose only incoming frames are the given client close frames."""
    events = [
        {"t_us": 0, "dir": "in", "type": "tcp_accept"},
        # the server's own close must never be mistaken for the client's
        {
            "t_us": 5,
            "dir": "out",
            "type": "frame",
            "opcode": 8,
            "close_code": 1000,
            "close_reason": "bye",
        },
    ]
    for code, reason in client_closes:
        frame = {"t_us": 10, "dir": "in", "type": "frame", "opcode": 8}
        if code is not None:
            frame["close_code"] = code
            frame["close_reason"] = reason or ""
        events.append(frame)
    return {
        "run": "r-1",
        "scenario": "close/send-then-close",
        "complete": True,
        "end": {"reason": "complete", "detail": ""},
        "events": events,
    }


FOUNDING = scenario(
    {
        "messages": [{"text": "final message"}],
        "close": {"code": 1000, "reason": "bye"},
        "client_close": {"code": 1000},
    },
    client={"recv_delay_ms": 100},
)
BYE = {"code": 1000, "reason": "bye"}


def check(verdict: Verdict, name: str) -> Check:
    (found,) = [c for c in verdict.checks if c.name == name]
    return found


# ------------------------------------------------------------ founding case


def test_founding_case_names_the_lost_message_and_the_close_that_arrived() -> None:
    result = evaluate(FOUNDING, observation([], BYE), transcript((1000, "bye")))
    assert result.verdict == "fail"
    assert result.reason == (
        "the message 'final message' was not received, although the close "
        "(1000 'bye') was; recv() raised websockets.exceptions.ConnectionClosedOK"
    )
    assert check(result, "messages").detail == "expected 1 message, received 0"
    assert check(result, "close").ok and check(result, "client_close").ok


def test_founding_case_passes_when_the_message_arrives() -> None:
    result = evaluate(
        FOUNDING, observation([text("final message")], BYE), transcript((1000, "bye"))
    )
    assert result.verdict == "pass"
    assert result.reason == (
        "received the 1 expected message and close 1000 'bye', and the client sent close 1000 'bye'"
    )
    assert all(c.ok for c in result.checks)
    assert [c.name for c in result.checks] == ["messages", "close", "client_close", "rfc"]


def test_pass_reason_without_client_close() -> None:
    sc = scenario({"messages": [{"text": "final message"}], "close": BYE})
    result = evaluate(sc, observation([text("final message")], BYE), None)
    assert result.verdict == "pass"
    assert result.reason == "received the 1 expected message and close 1000 'bye'"


def test_lost_message_without_close_says_nothing_about_a_close() -> None:
    sc = scenario({"messages": [{"text": "final message"}], "close": BYE})
    result = evaluate(sc, observation([], {"code": 1006, "reason": ""}), None)
    assert result.reason == (
        "the message 'final message' was not received; "
        "recv() raised websockets.exceptions.ConnectionClosedOK; "
        "expected close 1000 'bye', received 1006 with no reason"
    )


# ------------------------------------------------------------ messages


HUNDRED = scenario({"messages": [{"text": "message {i}", "count": 100}]})


def hundred(n: int = 100) -> list[dict]:
    return [text(f"message {i}") for i in range(1, n + 1)]


def test_count_template_expands_in_order() -> None:
    expanded = expand_messages([{"text": "a"}, {"text": "m{i}", "count": 3}, {"hex": "00FF"}])
    assert expanded == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "m1"},
        {"type": "text", "text": "m2"},
        {"type": "text", "text": "m3"},
        {"type": "binary", "hex": "00ff"},
    ]


def test_template_without_count_is_literal() -> None:
    sc = scenario({"messages": [{"text": "{i}"}]})
    assert evaluate(sc, observation([text("{i}")]), None).verdict == "pass"
    assert evaluate(sc, observation([text("1")]), None).verdict == "fail"


def test_all_hundred_messages_pass() -> None:
    result = evaluate(HUNDRED, observation(hundred()), None)
    assert result.verdict == "pass"
    assert result.reason == "received the 100 expected messages"
    assert check(result, "messages").expected == {"count": 100}


def test_one_message_differs() -> None:
    got = hundred()
    got[36] = text("message 38")
    result = evaluate(HUNDRED, observation(got), None)
    assert result.verdict == "fail"
    assert result.reason == (
        "message 37 of 100 differs: expected 'message 37', received 'message 38'"
    )
    messages = check(result, "messages")
    assert messages.expected == {
        "count": 100,
        "at": 37,
        "message": {"type": "text", "text": "message 37"},
    }
    assert messages.observed["message"] == text("message 38")


def test_difference_and_loss_together() -> None:
    sc = scenario({"messages": [{"text": "m{i}", "count": 3}], "close": BYE})
    result = evaluate(sc, observation([text("m1"), text("m3")], BYE), None)
    assert result.reason == (
        "message 2 of 3 differs: expected 'm2', received 'm3'; only 2 of 3 received, "
        "although the close (1000 'bye') was received; "
        "recv() raised websockets.exceptions.ConnectionClosedOK"
    )
    extra = evaluate(sc, observation([text("m1"), text("x"), text("m3"), text("m4")], BYE), None)
    assert check(extra, "messages").detail == (
        "message 2 of 3 differs: expected 'm2', received 'x'; 4 received in all"
    )
    assert extra.reason == check(extra, "messages").detail  # nothing lost: no cause


def test_last_message_missing() -> None:
    result = evaluate(HUNDRED, observation(hundred(99)), None)
    assert check(result, "messages").detail == (
        "received 99 of 100 messages; message 100 'message 100' missing"
    )
    assert result.reason == (
        "received 99 of 100 messages; message 100 'message 100' missing; "
        "recv() raised websockets.exceptions.ConnectionClosedOK"
    )


def test_several_messages_missing_with_close_received() -> None:
    sc = scenario({"messages": [{"text": "message {i}", "count": 100}], "close": BYE})
    result = evaluate(sc, observation(hundred(98), BYE), None)
    assert result.reason == (
        "received 98 of 100 messages; messages 99 to 100 missing, from 'message 99', "
        "although the close (1000 'bye') was received; "
        "recv() raised websockets.exceptions.ConnectionClosedOK"
    )


def test_none_of_several_received() -> None:
    result = evaluate(HUNDRED, observation([], end="timeout", error_type=None), None)
    assert result.reason == (
        "none of the 100 expected messages was received (first: 'message 1'); "
        "receiving timed out after 3000 ms"
    )


def test_timeout_uses_the_scenario_recv_timeout() -> None:
    sc = scenario({"messages": [{"text": "x"}]}, client={"recv_timeout_ms": 500})
    result = evaluate(sc, observation([], end="timeout", error_type=None), None)
    assert result.reason == "the message 'x' was not received; receiving timed out after 500 ms"


def test_connect_failure_is_named() -> None:
    sc = scenario({"messages": [{"text": "x"}]})
    obs = observation(
        [], end="connect_failed", error_type="ConnectionRefusedError", connected=False
    )
    result = evaluate(sc, obs, None)
    assert result.verdict == "fail"
    assert result.reason.endswith("connecting failed with ConnectionRefusedError")


def test_extra_message_is_reported() -> None:
    sc = scenario({"messages": [{"text": "a"}]})
    result = evaluate(sc, observation([text("a"), text("b")]), None)
    assert result.verdict == "fail"
    assert result.reason == "expected 1 message, received 2; message 2 'b' was not expected"


def test_no_messages_expected_and_none_received() -> None:
    result = evaluate(scenario({"messages": []}), observation([]), None)
    assert result.verdict == "pass"
    assert result.reason == "received no messages, as expected"


def test_text_and_binary_with_the_same_bytes_differ() -> None:
    sc = scenario({"messages": [{"text": "abc"}]})
    got = {"type": "binary", "length": 3, "hex": "616263"}
    result = evaluate(sc, observation([got]), None)
    assert result.verdict == "fail"
    assert result.reason == "message 1 of 1 differs: expected 'abc', received binary 616263"


def test_binary_hex_compares_case_insensitively() -> None:
    sc = scenario({"messages": [{"hex": "00FF10"}]})
    got = {"type": "binary", "length": 3, "hex": "00ff10"}
    assert evaluate(sc, observation([got]), None).verdict == "pass"
    got_other = {"type": "binary", "length": 3, "hex": "00ff11"}
    result = evaluate(sc, observation([got_other]), None)
    assert result.reason == (
        "message 1 of 1 differs: expected binary 00ff10, received binary 00ff11"
    )


@pytest.mark.parametrize(
    ("entry", "kind", "payload"),
    [
        ({"text": "x" * 5000}, "text", b"x" * 5000),
        ({"hex": "ab" * 5000}, "binary", b"\xab" * 5000),
        ({"text": "big {i}", "count": 2}, "text", None),  # per-message digests below
    ],
)
def test_large_messages_compare_by_sha256(entry: dict, kind: str, payload: bytes | None) -> None:
    sc = scenario({"messages": [entry]})
    payloads = [payload] if payload is not None else [b"big 1", b"big 2"]
    got = [
        {"type": kind, "length": len(p), "sha256": hashlib.sha256(p).hexdigest()} for p in payloads
    ]
    assert evaluate(sc, observation(got), None).verdict == "pass"
    wrong = copy.deepcopy(got)
    wrong[-1]["sha256"] = hashlib.sha256(b"something else").hexdigest()
    result = evaluate(sc, observation(wrong), None)
    assert result.verdict == "fail"
    assert f"message {len(got)} of {len(got)} differs" in result.reason
    assert "sha256" in result.reason


def test_uppercase_observed_digest_matches() -> None:
    sc = scenario({"messages": [{"text": "y" * 5000}]})
    digest = hashlib.sha256(b"y" * 5000).hexdigest().upper()
    got = [{"type": "text", "length": 5000, "sha256": digest}]
    assert evaluate(sc, observation(got), None).verdict == "pass"


def test_message_without_content_never_matches() -> None:
    sc = scenario({"messages": [{"text": "a"}]})
    result = evaluate(sc, observation([{"type": "text", "length": 1}]), None)
    assert result.verdict == "fail"
    assert "text message with no content" in result.reason


def test_long_text_is_shortened_in_the_reason() -> None:
    sc = scenario({"messages": [{"text": "a" * 200}]})
    result = evaluate(sc, observation([text("b" * 200)]), None)
    assert result.reason == (
        f"message 1 of 1 differs: expected '{'a' * 60}'… (200 bytes), "
        f"received '{'b' * 60}'… (200 bytes)"
    )


# ------------------------------------------------------------ close


@pytest.mark.parametrize(
    ("expected", "close", "ok", "detail"),
    [
        # row: scenario's close, library's close, verdict ok?, detail
        (BYE, BYE, True, "received close 1000 'bye'"),
        (
            BYE,
            {"code": 1000, "reason": "ciao"},
            False,
            "expected close 1000 'bye', received 1000 'ciao'",
        ),
        (
            BYE,
            {"code": 1000, "reason": ""},
            False,
            "expected close 1000 'bye', received 1000 with no reason",
        ),
        (
            BYE,
            {"code": 1006, "reason": None},
            False,
            "expected close 1000 'bye', received 1006 with no reason",
        ),
        (
            {"code": 1000},
            {"code": 1000, "reason": "anything"},
            True,
            "received close 1000",
        ),
        (
            {"code": 1000},
            {"code": 1001, "reason": "away"},
            False,
            "expected close 1000, received 1001",
        ),
        (
            {"code": 1000, "reason": ""},
            {"code": 1000, "reason": None},
            True,
            "received close 1000",
        ),
        (
            BYE,
            None,
            False,
            "expected close 1000 'bye', but the library reported no close",
        ),
        ({"code": None}, None, True, "the library reported no close code, as expected"),
        (
            {"code": None},
            {"code": None, "reason": None},
            True,
            "the library reported no close code, as expected",
        ),
        (
            {"code": None},
            {"code": 1005, "reason": ""},
            False,
            "expected no close code, received 1005",
        ),
        (
            {"code": 1000},
            {"code": None, "reason": None},
            False,
            "expected close 1000, received a close with no code",
        ),
    ],
)
def test_close_check(expected: dict, close: dict | None, ok: bool, detail: str) -> None:
    result = evaluate(scenario({"close": expected}), observation([], close), None)
    found = check(result, "close")
    assert (found.ok, found.detail) == (ok, detail)
    assert result.verdict == ("pass" if ok else "fail")
    assert found.expected == expected and found.observed == close
    if not ok:
        assert result.reason == detail


# ------------------------------------------------------------ client_close


@pytest.mark.parametrize(
    ("expected", "frames", "ok", "detail"),
    [
        ({"code": 1000}, [(1000, "")], True, "the client sent close 1000"),
        (
            {"code": 1000},
            [(1001, "going away")],
            False,
            "the client sent close 1001 'going away', expected close 1000",
        ),
        (
            {"code": 1000},
            [],
            False,
            "the client sent no close frame, expected close 1000",
        ),
        # only the first close frame counts
        (
            {"code": 1000},
            [(1002, ""), (1000, "")],
            False,
            "the client sent close 1002, expected close 1000",
        ),
        ({"code": None}, [(None, None)], True, "the client sent an empty close frame"),
        (
            {"code": 1000},
            [(None, None)],
            False,
            "the client sent an empty close frame, expected close 1000",
        ),
        ({}, [(1011, "")], True, "the client sent close 1011"),
        (False, [], True, "the client sent no close frame, as expected"),
        (
            False,
            [(1000, "bye")],
            False,
            "the client sent close 1000 'bye' although it must not send one",
        ),
    ],
)
def test_client_close_check(expected, frames: list, ok: bool, detail: str) -> None:
    result = evaluate(scenario({"client_close": expected}), observation(), transcript(*frames))
    found = check(result, "client_close")
    assert (found.ok, found.detail) == (ok, detail)
    assert result.verdict == ("pass" if ok else "fail")


def with_deflate(event: dict | None) -> dict:
    """A transcript with this `deflate` event (None: no event at all)."""
    t = transcript()
    if event is not None:
        t["events"].insert(1, {"t_us": 1, "type": "deflate", **event})
    return t


ACCEPTED = {
    "offers": [{"client_max_window_bits": True}],
    "answer": "permessage-deflate",
    "negotiated": {},
}
DECLINED = {"offers": [{}], "answer": None, "negotiated": None}
BAD_ANSWER = {
    "offers": [{}],
    "answer": "permessage-deflate; x=1",
    "negotiated": None,
    "answer_error": "unknown parameter x",
}


@pytest.mark.parametrize(
    ("expected", "event", "ok", "detail"),
    [
        (True, ACCEPTED, True, "permessage-deflate was negotiated (permessage-deflate)"),
        (False, None, True, "the client offered no permessage-deflate"),
        (False, DECLINED, True, "the client offered permessage-deflate and the server declined"),
        (
            True,
            None,
            False,
            "the client offered no permessage-deflate, expected it to be negotiated",
        ),
        (
            False,
            ACCEPTED,
            False,
            "permessage-deflate was negotiated (permessage-deflate), "
            "expected it not to be negotiated",
        ),
        (
            True,
            BAD_ANSWER,
            False,
            "the server's answer 'permessage-deflate; x=1' negotiated nothing: "
            "unknown parameter x, expected it to be negotiated",
        ),
    ],
)
def test_deflate_check(expected: bool, event: dict | None, ok: bool, detail: str) -> None:
    result = evaluate(scenario({"deflate": expected}), observation(), with_deflate(event))
    found = check(result, "deflate")
    assert (found.ok, found.detail) == (ok, detail)
    assert result.verdict == ("pass" if ok else "fail")


def test_client_close_without_transcript_is_an_error() -> None:
    result = evaluate(FOUNDING, observation([text("final message")], BYE), None)
    assert result.verdict == "error"
    assert result.reason.startswith("no server transcript")
    found = check(result, "client_close")
    assert (found.ok, found.severity) == (False, "error")
    # the other checks are still made and kept
    assert check(result, "messages").ok and check(result, "close").ok


def test_missing_transcript_outranks_a_library_failure() -> None:
    result = evaluate(FOUNDING, observation([], BYE), None)
    assert result.verdict == "error"
    assert result.reason.startswith("no server transcript, so the client_close check")
    assert "(fail)" in result.reason and "'final message' was not received" in result.reason


def test_transcript_is_not_needed_without_client_close() -> None:
    sc = scenario({"messages": [{"text": "a"}]})
    assert evaluate(sc, observation([text("a")]), None).verdict == "pass"


# ------------------------------------------------------------ severity


LOSSY = observation([], {"code": 1006, "reason": ""})  # both messages and close fail
TWO = {"messages": [{"text": "a"}], "close": BYE}


@pytest.mark.parametrize(
    ("extra", "verdict"),
    [
        ({}, "fail"),
        ({"severity": "fail"}, "fail"),
        ({"severity": "non-strict"}, "non-strict"),
        ({"severity": "informational"}, "informational"),
        ({"severity_by_check": {"close": "informational"}}, "fail"),
        ({"severity_by_check": {"close": "non-strict"}}, "fail"),
        ({"severity": "non-strict", "severity_by_check": {"close": "fail"}}, "fail"),
        (
            {"severity": "informational", "severity_by_check": {"close": "non-strict"}},
            "non-strict",
        ),
        (
            {"severity": "informational", "severity_by_check": {"messages": "fail"}},
            "fail",
        ),
        (
            {
                "severity": "fail",
                "severity_by_check": {
                    "messages": "informational",
                    "close": "informational",
                },
            },
            "informational",
        ),
    ],
)
def test_strictest_failing_severity_wins(extra: dict, verdict: str) -> None:
    assert evaluate(scenario(TWO, **extra), LOSSY, None).verdict == verdict


def test_per_check_severity_is_recorded_and_a_passing_check_does_not_count() -> None:
    sc = scenario(TWO, severity="informational", severity_by_check={"messages": "fail"})
    result = evaluate(sc, observation([text("a")], {"code": 1006, "reason": ""}), None)
    assert result.verdict == "informational"  # messages (fail) holds, close does not
    assert check(result, "messages").severity == "fail"
    assert check(result, "close").severity == "informational"


def test_reason_lists_the_most_severe_first_and_marks_the_milder() -> None:
    sc = scenario(TWO, severity_by_check={"messages": "non-strict"})
    result = evaluate(sc, LOSSY, None)
    assert result.verdict == "fail"
    assert result.reason == (
        "expected close 1000 'bye', received 1006 with no reason; "
        "the message 'a' was not received; "
        "recv() raised websockets.exceptions.ConnectionClosedOK (non-strict)"
    )


def test_unknown_severity_is_an_error() -> None:
    sc = scenario(TWO, severity_by_check={"close": "warning"})
    result = evaluate(sc, LOSSY, None)
    assert result.verdict == "error"
    assert "'warning'" in result.reason


# ------------------------------------------------------------ errors


def test_harness_error_wins_and_is_one_line() -> None:
    result = evaluate(
        FOUNDING,
        observation([text("final message")], BYE),
        transcript((1000, "")),
        harness_error="adapter python-websockets@14.0 hung past 10000 ms;\n"
        "stderr:\n  Traceback ...",
    )
    assert result == Verdict(
        "error",
        "adapter python-websockets@14.0 hung past 10000 ms; stderr: Traceback ...",
        [],
    )


def test_no_observation_is_an_error() -> None:
    result = evaluate(FOUNDING, None, transcript((1000, "")))
    assert (result.verdict, result.reason) == (
        "error",
        "the adapter reported no observation",
    )


def test_adapter_error_quotes_the_exception_line() -> None:
    obs = observation(end="adapter_error", error_type="KeyError")
    obs["error"]["message"] = (
        "Traceback (most recent call last):\n  File \"a.py\", line 3\nKeyError: 'url'\n"
    )
    result = evaluate(FOUNDING, obs, transcript())
    assert result.verdict == "error"
    assert result.reason == "the adapter failed on this job: KeyError: 'url'"


def test_unsupported_names_the_knobs_with_their_values() -> None:
    obs = {"id": "1", "end": "unsupported", "unsupported": ["recv_delay_ms"]}
    result = evaluate(FOUNDING, obs, None)
    assert result.verdict == "error"
    assert result.reason == "the adapter cannot honour the client knob recv_delay_ms=100"
    sc = scenario(TWO, client={"echo": True, "recv_delay_ms": 5})
    obs["unsupported"] = ["echo", "recv_delay_ms"]
    assert evaluate(sc, obs, None).reason == (
        "the adapter cannot honour the client knobs echo=true, recv_delay_ms=5"
    )


@pytest.mark.parametrize(
    ("obs", "words"),
    [
        ([], "expected a JSON object, got list"),
        ({"messages": []}, "'end' is missing"),
        ({"end": "closed", "messages": "a"}, "'messages' is missing or not a list"),
        ({"end": "closed", "messages": ["a"]}, "message 1 is not an object"),
        ({"end": "closed", "messages": [], "close": 1000}, "'close' is neither null"),
    ],
)
def test_malformed_observation_is_an_error(obs, words: str) -> None:
    result = evaluate(FOUNDING, obs, transcript())
    assert result.verdict == "error"
    assert result.reason.startswith("the adapter's observation is malformed")
    assert words in result.reason


def test_unknown_expectation_is_an_error() -> None:
    result = evaluate(scenario({"pings": 3}), observation(), None)
    assert result.verdict == "error"
    assert "'pings'" in result.reason


def test_error_end_is_judged_not_excused() -> None:
    """`end: error` is the library's doing: it is evaluated, not turned into `error`."""
    sc = scenario({"messages": [{"text": "a"}]})
    obs = observation([], None, end="error", error_type="ssl.SSLError")
    result = evaluate(sc, obs, None)
    assert result.verdict == "fail"
    assert result.reason == "the message 'a' was not received; recv() raised ssl.SSLError"


# --------------------------------------------------------------------------
# connected, code lists, client_pong, client_messages


def test_connected_false_passes_when_the_client_refuses() -> None:
    obs = observation(end="connect_failed", error_type="InvalidHandshake", connected=False)
    verdict = evaluate(scenario({"connected": False}), obs, transcript())
    assert verdict.verdict == "pass"
    assert (
        verdict.reason
        == "the client refused the handshake with InvalidHandshake ('m'), as expected"
    )


def test_connected_false_fails_when_the_client_accepts() -> None:
    verdict = evaluate(scenario({"connected": False}), observation(), transcript())
    assert verdict.verdict == "fail"
    assert verdict.reason == "the client accepted the opening handshake, although it must refuse it"


def test_connected_true_fails_with_the_error_when_connecting_failed() -> None:
    obs = observation(end="connect_failed", error_type="OSError", connected=False)
    verdict = evaluate(scenario({"connected": True}), obs, transcript())
    assert verdict.verdict == "fail"
    assert "did not connect with OSError" in verdict.reason


@pytest.mark.parametrize("code, verdict", [(1002, "pass"), (1006, "pass"), (1000, "fail")])
def test_close_code_list_accepts_any_listed_code(code: int, verdict: str) -> None:
    obs = observation(close={"code": code, "reason": ""})
    result = evaluate(scenario({"close": {"code": [1002, 1006]}}), obs, transcript())
    assert result.verdict == verdict
    if verdict == "fail":
        assert result.reason == "expected close 1002 or 1006, received 1000"


def test_client_close_code_list() -> None:
    result = evaluate(
        scenario({"client_close": {"code": [1002, 1007]}}), observation(), transcript((1007, ""))
    )
    assert result.verdict == "pass"
    result = evaluate(
        scenario({"client_close": {"code": [1002, 1007]}}), observation(), transcript((1000, ""))
    )
    assert result.verdict == "fail"
    assert result.reason == "the client sent close 1000, expected close 1002 or 1007"


def frames_transcript(*events: dict) -> dict:
    base = [{"t_us": 0, "dir": "in", "type": "tcp_accept"}]
    return {"events": base + list(events)}


def pong(payload: bytes) -> dict:
    return {"t_us": 5, "dir": "in", "type": "frame", "opcode": 10, "hex": payload.hex()}


def test_client_pong_with_the_ping_payload_passes() -> None:
    tr = frames_transcript(pong(b"hello"))
    result = evaluate(scenario({"client_pong": {"text": "hello"}}), observation(), tr)
    assert result.verdict == "pass"
    assert result.reason == "the client answered the ping with a pong 'hello'"


def test_client_pong_missing_or_wrong() -> None:
    result = evaluate(scenario({"client_pong": {"text": "hi"}}), observation(), frames_transcript())
    assert (result.verdict, result.reason) == (
        "fail",
        "the client sent no pong, expected one with 'hi'",
    )
    tr = frames_transcript(pong(b"\x01\x02"))
    result = evaluate(scenario({"client_pong": {"hex": "0a0b"}}), observation(), tr)
    assert result.reason == "the client's pongs carried binary 0102, expected binary 0a0b"


def test_client_pong_false_means_none_allowed() -> None:
    tr = frames_transcript(pong(b""))
    result = evaluate(scenario({"client_pong": False}), observation(), tr)
    assert (result.verdict, result.reason) == ("fail", "the client sent a pong")


def test_client_messages_are_read_from_the_transcript() -> None:
    tr = frames_transcript(
        {"t_us": 3, "dir": "in", "type": "message", "opcode": 1, "length": 2, "text": "hi"},
        {"t_us": 4, "dir": "in", "type": "message", "opcode": 2, "length": 2, "hex": "0001"},
    )
    expect = {"client_messages": [{"text": "hi"}, {"hex": "0001"}]}
    assert evaluate(scenario(expect), observation(), tr).verdict == "pass"
    expect = {"client_messages": [{"text": "hi"}, {"hex": "0001"}, {"text": "more"}]}
    result = evaluate(scenario(expect), observation(), tr)
    assert result.verdict == "fail"
    assert result.reason == "client to server: received 2 of 3 messages; message 3 'more' missing"


def test_transcript_checks_without_a_transcript_are_errors() -> None:
    result = evaluate(scenario({"client_pong": {"text": "x"}}), observation(), None)
    assert result.verdict == "error"
    assert "no server transcript" in result.reason


def test_pattern_expectations_compare_large_messages_by_digest() -> None:
    data = (b"ab" * 5000)[:9999]
    observed = {"type": "binary", "length": 9999, "sha256": hashlib.sha256(data).hexdigest()}
    expect = {"messages": [{"hex": "", "pattern": "ab", "size": 9999}]}
    assert evaluate(scenario(expect), observation([observed]), transcript()).verdict == "pass"
    other = dict(observed, sha256=hashlib.sha256(b"x").hexdigest())
    result = evaluate(scenario(expect), observation([other]), transcript())
    assert result.verdict == "fail"
    assert "binary of 9999 bytes (sha256" in result.reason


def test_small_pattern_expectations_compare_content() -> None:
    expect = {"messages": [{"text": "", "pattern": "xy", "size": 5}]}
    assert evaluate(scenario(expect), observation([text("xyxyx")]), transcript()).verdict == "pass"


def test_a_large_message_refused_with_1009_is_allowed():
    """RFC 6455 10.4: a library may refuse a message over its size limit (close 1009)."""
    big = {"text": "", "pattern": "ab", "size": 1 << 20}
    scen = scenario({"messages": [big], "close": {"code": 1000, "reason": "done"}})
    wire = {
        "events": [
            {"t_us": 1, "dir": "out", "type": "frame", "opcode": 8, "length": 6,
             "close_code": 1000, "close_reason": "done"},
            {"t_us": 2, "dir": "in", "type": "frame", "opcode": 8, "length": 2,
             "close_code": 1009, "close_reason": ""},
            {"t_us": 3, "type": "closed"},
        ]
    }  # fmt: skip
    obs = observation([], close={"code": 1009, "reason": ""})
    result = evaluate(scen, obs, wire)
    assert result.verdict == "informational"
    assert "refused message 1 (1048576 bytes) with close 1009" in result.reason
    # A small message refused the same way is a loss like any other.
    small = scenario({"messages": [text("hi")], "close": {"code": 1000, "reason": "done"}})
    assert evaluate(small, obs, wire).verdict == "fail"
    # The application echoes: the echo of the refused message never comes either.
    echoed = scenario(
        {"messages": [big], "client_messages": [big], "close": {"code": 1000, "reason": "done"}}
    )
    result = evaluate(echoed, obs, wire)
    assert result.verdict == "informational"
    assert "(the client refused a message with close 1009 first)" in result.reason
    # Without the refusal, a missing echo still fails.
    unechoed = scenario({"client_messages": [text("hi")]})
    assert evaluate(unechoed, observation([]), transcript()).verdict == "fail"


def test_a_close_code_the_api_cannot_expose_is_not_held_against_the_library():
    scen = scenario({"close": {"code": 1000}})
    obs = observation([], close={"code": None, "reason": None, "observable": False})
    result = evaluate(scen, obs, None)
    assert result.verdict == "pass"
    assert result.checks[-1].detail.startswith("the library's API exposes no close code")
    assert result.reason == "the close code is not observable through this API"


def _wire(*frames: tuple[str, int | None]) -> dict:
    """Close frames on the wire, in order: ("out", 1000) is the server's."""
    events = []
    for t, (direction, code) in enumerate(frames, 1):
        frame = {"t_us": t, "dir": direction, "type": "frame", "opcode": 8, "fin": True}
        frame.update({"length": 0} if code is None else {"length": 2, "close_code": code})
        if code is not None:
            frame["close_reason"] = ""
        events.append(frame)
    events.append({"t_us": 99, "type": "closed"})
    return {"events": events}


@pytest.mark.parametrize(
    ("clean", "wire", "verdict", "words"),
    [
        (True, _wire(), "fail", "reported a clean closure (X), but no close frame came"),
        (False, _wire(("out", 1000), ("in", 1000)), "non-strict", "as not clean (X), although"),
        (False, _wire(("out", None), ("in", None)), "non-strict", "(no code and no code;"),
        (False, _wire(("out", 4000), ("in", 4000)), "pass", ""),  # a library's own idea of error
        (False, _wire(("out", 1000)), "fail", ""),  # no reply: the close-reply rule, not clean
        (True, _wire(("out", 1000), ("in", 1000)), "pass", ""),
    ],
)
def test_the_librarys_word_on_a_clean_closure(clean, wire, verdict, words):
    obs = observation([], close={"code": 1000, "reason": ""}, clean=clean, clean_source="X")
    result = evaluate(scenario({}), obs, wire)
    assert result.verdict == verdict, result.reason
    assert words in result.reason


def test_an_unobservable_close_code_is_judged_when_the_library_rejected_a_valid_close():
    """websocket-client #273: a valid close 1014 rejected, the code lost on an error path."""
    scen = scenario({"close": {"code": 1014}})
    obs = observation([], close={"code": None, "reason": None, "observable": False})
    result = evaluate(scen, obs, _wire(("out", 1014), ("in", 1002)))
    assert result.verdict == "fail"
    assert "expected close 1014" in result.reason
    # With no close frame from the server, or one answered in kind, the API's
    # silence is not held against it.
    for wire in (_wire(), _wire(("out", 1014), ("in", 1014))):
        quiet = {c.name: c for c in evaluate(scen, obs, wire).checks}
        assert quiet["close"].ok
        assert quiet["close"].detail.startswith("the library's API exposes no close code")


# ------------------------------------------------------------ issue 14: ordered pongs, round
# trips, fail-fast, who closed TCP


def test_client_pongs_checks_every_pong_in_order() -> None:
    expect = {"client_pongs": [{"text": "p{i}", "count": 3}]}
    tr = frames_transcript(pong(b"p1"), pong(b"p2"), pong(b"p3"))
    result = evaluate(scenario(expect), observation(), tr)
    assert result.verdict == "pass"
    assert "the client answered with 3 pongs, in order" in result.reason
    tr = frames_transcript(pong(b"p1"), pong(b"p3"), pong(b"p2"))
    result = evaluate(scenario(expect), observation(), tr)
    assert (result.verdict, result.reason) == (
        "fail",
        "pong 2 carried binary 7033, expected binary 7032",
    )
    tr = frames_transcript(pong(b"p1"), pong(b"p2"))
    result = evaluate(scenario(expect), observation(), tr)
    assert result.reason == "the client sent 2 pongs, expected 3"
    tr = frames_transcript(pong(b"p1"), pong(b"p2"), pong(b"p3"), pong(b"p3"))
    result = evaluate(scenario(expect), observation(), tr)
    assert result.reason == "the client sent 4 pongs, expected only 3"


def trips(**fields) -> dict:
    event = {"t_us": 9, "type": "round_trips", "count": 3, "done": 3, "result": "ok"}
    event.update(mismatched=0, rtt_us={"min": 100, "median": 250, "max": 4000})
    event.update(fields)
    return event


def test_round_trips_pass_with_every_echo_back() -> None:
    result = evaluate(scenario({"round_trips": True}), observation(), frames_transcript(trips()))
    assert result.verdict == "pass"
    assert (
        "all 3 echoes came back equal and in order "
        "(RTT min 0.10 ms, median 0.25 ms, max 4.00 ms)" in result.reason
    )


def test_round_trips_fail_on_a_wrong_or_missing_echo() -> None:
    tr = frames_transcript(trips(mismatched=2, first_mismatch=2))
    result = evaluate(scenario({"round_trips": True}), observation(), tr)
    assert (result.verdict, result.reason) == (
        "fail",
        "2 of 3 echoes differed from the message sent, the first in round trip 2",
    )
    tr = frames_transcript(trips(done=1, result="timeout"))
    result = evaluate(scenario({"round_trips": True}), observation(), tr)
    assert result.reason == (
        "1 of 3 round trips done: the echo of round trip 2 never came (timed out)"
    )
    result = evaluate(scenario({"round_trips": True}), observation(), frames_transcript())
    assert result.reason == "no round_trips step ran"


def mark(t: int = 50, **fields) -> dict:
    return {"t_us": t, "dir": "out", "type": "fail_fast_mark", **fields}


def close_in(t: int, code: int = 1007) -> dict:
    return {"t_us": t, "dir": "in", "type": "frame", "opcode": 8, "close_code": code}


def test_fail_fast_passes_when_the_close_or_fin_came_before_the_mark() -> None:
    fail_fast = scenario({"fail_fast": True})
    result = evaluate(fail_fast, observation(), frames_transcript(close_in(20), mark(1_020)))
    assert result.verdict == "pass"
    assert (
        "the client failed fast: its close frame came 1.0 ms before the marked write"
        in result.reason
    )
    tr = frames_transcript({"t_us": 20, "dir": "in", "type": "tcp_eof"}, mark())
    assert evaluate(fail_fast, observation(), tr).verdict == "pass"
    tr = frames_transcript(mark(peer_fin=True))
    result = evaluate(fail_fast, observation(), tr)
    assert "the client had closed TCP before the marked write" in result.reason


def test_fail_fast_fails_when_the_client_closed_only_after_the_mark() -> None:
    fail_fast = scenario({"fail_fast": True}, severity_by_check={"fail_fast": "non-strict"})
    result = evaluate(fail_fast, observation(), frames_transcript(mark(), close_in(60)))
    assert (result.verdict, result.reason) == (
        "non-strict",
        "the client had neither sent a close frame nor closed TCP when the marked write began",
    )
    result = evaluate(fail_fast, observation(), frames_transcript(close_in(60)))
    assert result.verdict == "error"


def tcp_closed(first: str, clean: bool, **more) -> dict:
    tr = frames_transcript()
    tr["tcp_close"] = {
        "first": first,
        "client_us": 10,
        "server_us": 20,
        "clean": clean,
        "close_sent": True,
        "close_received": clean,
        "frames_in": 2,
        "frames_out": 1,
        "last_in": 10,
        "last_out": 8,
        **more,
    }
    return tr


def test_tcp_closed_by_and_close_clean() -> None:
    expect = {"tcp_closed_by": "server", "close_clean": True}
    result = evaluate(scenario(expect), observation(), tcp_closed("server", True))
    assert result.verdict == "pass"
    result = evaluate(scenario(expect), observation(), tcp_closed("client", False))
    assert result.verdict == "fail"
    (by,) = [c for c in result.checks if c.name == "tcp_closed_by"]
    assert by.detail == (
        "the client closed TCP first (after 2 client frames (the last a pong) and 1 server "
        "frame (the last a close)), expected the server to"
    )
    (clean,) = [c for c in result.checks if c.name == "close_clean"]
    assert clean.detail.startswith("the close was not clean: after 2 client frames")


# ------------------------------------------------------------ a transcript cut at the cap


def cut_transcript(dropped: int, cap: dict | None) -> dict:
    """A transcript whose client close frame fell past the server's cap: not in it."""
    t = transcript()
    t["events_dropped"] = dropped
    if cap is not None:
        t["events_cap"] = cap
    return t


def test_a_cut_transcript_is_an_error_naming_the_cap_and_the_count() -> None:
    cap = {"events": 100000, "bytes": 16777216}
    result = evaluate(
        scenario({"client_close": {"code": 1000}}), observation(), cut_transcript(3, cap)
    )
    assert result.verdict == "error"
    assert result.checks == []  # nothing judged: no "missing" close frame
    assert "3 events past its cap (100000 events or 16777216 bytes of them" in result.reason
    assert "server/transcript.h" in result.reason
    assert "cannot be judged" in result.reason


def test_a_cut_transcript_without_the_cap_field_names_the_constant() -> None:
    result = evaluate(
        scenario({"client_close": {"code": 1000}}), observation(), cut_transcript(1, None)
    )
    assert result.verdict == "error"
    assert "1 event past its cap (WSR_TRANSCRIPT_MAX_EVENTS" in result.reason


def test_the_same_transcript_whole_would_fail_the_missing_close() -> None:
    """The control: with nothing dropped, the absent close frame is judged missing."""
    result = evaluate(
        scenario({"client_close": {"code": 1000}}), observation(), cut_transcript(0, None)
    )
    assert result.verdict == "fail"
    assert check(result, "client_close").detail == (
        "the client sent no close frame, expected close 1000"
    )
