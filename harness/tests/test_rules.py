"""The RFC 6455 client rules on hand-made transcripts: each rule broken, and kept.

Real libraries breaking these rules are in test_rules_e2e.py; here the
engine itself is pinned: which events trigger a rule, which exempt it, and
what the detail says.
"""

from __future__ import annotations

import pytest

from wsreplay.judging import rules
from wsreplay.judging.evaluate import evaluate


class Wire:
    """Builds a transcript event by event, with a clock in milliseconds."""

    def __init__(self) -> None:
        self.events: list[dict] = [{"t_us": 0, "dir": "in", "type": "tcp_accept"}]
        self.offset = 0

    def at(self, ms: float, **event) -> Wire:
        self.events.append({"t_us": int(ms * 1000), **event})
        return self

    def client(self, ms: float, opcode: int, **fields) -> Wire:
        frame = {"dir": "in", "type": "frame", "opcode": opcode, "fin": True, "rsv": 0}
        frame.update({"masked": True, "offset": self.offset, "length": 0})
        frame.update(fields)
        self.offset += 6 + int(frame["length"])
        return self.at(ms, **frame)

    def client_close(self, ms: float, code: int | None = 1000, reason: str = "") -> Wire:
        if code is None:
            return self.client(ms, 8)
        return self.client(ms, 8, length=2 + len(reason), close_code=code, close_reason=reason)

    def server(self, ms: float, opcode: int, **fields) -> Wire:
        frame = {"dir": "out", "type": "frame", "opcode": opcode, "fin": True, "rsv": 0}
        frame.update({"masked": False, "length": 0})
        frame.update(fields)
        return self.at(ms, **frame)

    def server_close(self, ms: float, code: int = 1000, reason: str = "") -> Wire:
        return self.server(ms, 8, length=2 + len(reason), close_code=code, close_reason=reason)

    def done(self, ms: float) -> dict:
        self.at(ms, type="closed")
        return {"started": "2026-12-07T12:00:00.000000Z", "events": self.events}


def broken(transcript: dict, observation: dict | None = None, waive: dict | None = None):
    return {b.rule: b for b in rules.check(transcript, observation, waive)}


def test_a_clean_exchange_breaks_nothing():
    t = (
        Wire()
        .server(1, 1, length=2, text="hi")
        .server_close(1, 1000, "bye")
        .client_close(3, 1000, "bye")
        .at(4, dir="out", type="tcp_shutdown")
        .at(5, dir="in", type="tcp_eof")
        .done(6)
    )
    assert broken(t) == {}


@pytest.mark.parametrize(
    ("error", "rule"),
    [
        ("unmasked", "mask"),
        ("rsv", "rsv"),
        ("reserved_opcode", "opcode"),
        ("control_too_long", "control-frame"),
        ("control_fragmented", "control-frame"),
        ("nonminimal_length", "length-form"),
        ("length_msb", "length-form"),
        ("bad_continuation", "fragmentation"),
        ("expected_continuation", "fragmentation"),
    ],
)
def test_the_servers_protocol_errors_name_their_rule(error, rule):
    t = (
        Wire()
        .client(2, 1, length=2, text="ok")
        .at(3, dir="in", type="protocol_error", error=error, reason="why", offset=8, hex="8182")
        .done(4)
    )
    found = broken(t)
    assert list(found) == [rule]
    assert found[rule].detail.startswith("the client frame at byte 8 (bytes 81 82): why")
    assert found[rule].severity == "fail"


def test_invalid_utf8_in_a_client_text_message():
    t = Wire().at(2, dir="in", type="message", opcode=1, length=2, utf8_valid=False, hex="c328")
    found = broken(t.done(3))
    assert list(found) == ["utf8"]
    assert "starts c3 28" in found["utf8"].detail


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ({"length": 2, "close_code": 0, "close_reason": ""}, "code 0 may not be sent"),
        ({"length": 2, "close_code": 1005, "close_reason": ""}, "code 1005 may not be sent"),
        ({"length": 2, "close_code": 999, "close_reason": ""}, "code 999 may not be sent"),
        ({"length": 2, "close_code": 2000, "close_reason": ""}, "code 2000 may not be sent"),
        ({"length": 1}, "a 1-byte close payload"),
        ({"length": 3, "close_code": 1000, "close_reason": None}, "reason is not valid UTF-8"),
    ],
)
def test_close_payloads_the_client_may_not_send(frame, says):
    t = Wire().server_close(1).client(2, 8, **frame).done(3)
    found = broken(t)
    assert "close-payload" in found
    assert says in found["close-payload"].detail
    assert "client frame 1 at byte 0" in found["close-payload"].detail


@pytest.mark.parametrize("code", [1000, 1003, 1007, 1014, 3000, 4999])
def test_close_codes_allowed_on_the_wire(code):
    t = Wire().server_close(1).client_close(2, code).done(3)
    assert "close-payload" not in broken(t)


def test_an_unanswered_close_frame():
    t = Wire().server_close(1, 1000, "bye").at(5, dir="in", type="tcp_eof").done(6)
    found = broken(t)
    assert list(found) == ["close-reply"]
    assert found["close-reply"].detail == (
        "the server's close 1000 'bye' (at 1.0 ms) was never answered with a close frame; "
        "the client closed TCP without one"
    )


def test_no_reply_is_owed_after_the_servers_rst_or_when_the_client_closed_first():
    rst = Wire().server_close(1).at(1.1, dir="out", type="tcp_rst").done(2)
    assert broken(rst) == {}
    first = Wire().client_close(1).server_close(2).done(3)
    assert "close-reply" not in broken(first)


def test_an_invalid_server_close_is_answered_by_failing_not_by_echoing():
    t = (
        Wire()
        .server(1, 8, length=2, close_code=1005, close_reason="")
        .at(1, dir="out", type="violation", error="bad_close_code", reason="r", offset=0, opcode=8)
        .client_close(2, 1002)
        .done(3)
    )
    assert broken(t) == {}


def test_a_reply_only_from_the_applications_own_close_call():
    """The adapter's close() after its receive loop timed out is not a reply by the library."""
    t = Wire().server_close(1).client_close(2003).done(2100)
    observation = {
        "end": "timeout",  # the library never reported the close to the application
        "t0_unix_us": 1796644800_000_000,  # 2026-12-07T12:00:00Z, the transcript's start
        "events": [{"t_ms": 2000.0, "event": "close_call", "why": "end"}],
    }
    found = broken(t, observation)
    assert list(found) == ["close-reply"]
    assert "answered only by the application's own close() call" in found["close-reply"].detail
    # Without the adapter's clock the frame counts as the library's.
    assert broken(t) == {}
    # Nor when the library did report the end: reply and close() are then too close to tell.
    assert broken(t, {**observation, "end": "closed"}) == {}


def test_a_second_close_and_data_after_close():
    t = (
        Wire()
        .client_close(1, 1000)
        .client(2, 1, length=1, text="x")
        .server_close(3)
        .client_close(4, 1000)
        .done(5)
    )
    found = broken(t)
    assert set(found) == {"close-once", "no-data-after-close"}
    assert found["close-once"].severity == "non-strict"
    assert "a second close frame (the first was frame 1)" in found["close-once"].detail
    assert found["no-data-after-close"].severity == "fail"


def test_pongs_must_carry_the_pings_payload():
    t = (
        Wire()
        .server(1, 9, length=2, hex="6869")
        .client(2, 10, length=2, hex="6868")
        .server_close(3)
        .client_close(4)
        .done(5)
    )
    found = broken(t)
    assert list(found) == ["pong-payload"]
    assert "pong payload 68 68, the ping carried 68 69" in found["pong-payload"].detail


def test_only_the_latest_ping_needs_a_pong_and_unsolicited_pongs_are_fine():
    t = (
        Wire()
        .client(0.5, 10, length=1, hex="00")
        .server(1, 9, length=1, hex="01")
        .server(1.1, 9, length=1, hex="02")
        .client(2, 10, length=1, hex="02")
        .server_close(3)
        .client_close(4)
        .done(5)
    )
    assert broken(t) == {}


def test_a_ping_left_unanswered_before_the_client_closes():
    t = Wire().server(1, 9, length=1, hex="01").client_close(50).server_close(51).done(52)
    found = broken(t)
    assert list(found) == ["ping-answered"]
    # A close from the server after the ping excuses the missing pong.
    excused = Wire().server(1, 9, length=1, hex="01").server_close(1).client_close(3).done(4)
    assert broken(excused) == {}


def violation(error: str = "reserved_opcode", opcode: int | None = None) -> dict:
    event = {"dir": "out", "type": "violation", "error": error, "reason": "bad", "offset": 8}
    if opcode is not None:
        event["opcode"] = opcode
    return event


@pytest.mark.parametrize(
    ("error", "opcode", "code", "ok"),
    [
        ("reserved_opcode", None, 1002, True),
        ("reserved_opcode", None, 1000, False),
        ("invalid_utf8", 1, 1007, True),
        ("invalid_utf8", 1, 1002, False),
        ("invalid_utf8", 8, 1002, True),
        ("masked", None, None, True),  # 5.1: MAY use 1002
        ("reserved_opcode", None, None, False),
    ],
)
def test_failing_the_connection_with_a_fitting_code(error, opcode, code, ok):
    t = Wire().at(1, **violation(error, opcode)).client_close(2, code).done(3)
    found = broken(t)
    assert ("fail-with-close" not in found) is ok
    if not ok:
        assert found["fail-with-close"].severity == "non-strict"
        assert "fits" in found["fail-with-close"].detail


def test_failing_by_dropping_tcp_without_a_close_frame():
    t = Wire().at(1, **violation()).at(2, dir="in", type="tcp_eof").done(3)
    found = broken(t)
    assert found["fail-with-close"].detail.endswith("the client closed TCP without a close frame")


def test_closing_tcp_before_the_server_after_the_close_handshake():
    t = (
        Wire()
        .server_close(1)
        .client_close(2)
        .at(2.1, type="step", step="delay")
        .at(3, dir="in", type="tcp_eof")
        .at(52, dir="out", type="tcp_shutdown", peer_fin=True)
        .done(53)
    )
    found = broken(t)
    assert list(found) == ["server-closes-tcp"]
    assert found["server-closes-tcp"].severity == "non-strict"
    # The same lag without a step that waits on purpose: a slow server, not a test.
    lagging = [e for e in t["events"] if e.get("type") != "step"]
    assert broken({**t, "events": lagging}) == {}
    # The server closing at once leaves who was first to scheduling luck: not judged.
    quick = (
        Wire()
        .server_close(1)
        .client_close(2)
        .at(2.5, dir="out", type="tcp_shutdown", peer_fin=True)
        .done(3)
    )
    assert broken(quick) == {}


def test_a_client_may_fail_on_the_header_before_the_whole_bad_frame_left():
    # An RSV1 ping sent a byte per write: the client fails after its header
    # (close 1002 at 40), the check flags the frame once whole (at 90). The
    # ping is no ping to answer (ping-answered), and failing was right.
    ping = {"dir": "out", "type": "frame", "offset": 10, "opcode": 9, "rsv": 4, "hex": "72737631"}
    t = (
        Wire()
        .at(2, **ping)
        .client_close(40, 1002)
        .at(41, dir="in", type="tcp_eof")
        .at(90, **dict(violation("rsv", 9), offset=10))
        .done(120)
    )
    assert "ping-answered" not in broken(t)


def test_closing_tcp_first_after_an_invalid_server_close_is_failing_not_closing():
    # A close frame that breaks the protocol (here too long, as under --vary
    # every-byte, whose frame is logged long before its last byte leaves) is
    # no close handshake: the client fails the connection (7.1.7).
    t = (
        Wire()
        .server_close(1)
        .at(1, **violation("control_too_long", 8))
        .client_close(2, 1002)
        .at(3, dir="in", type="tcp_eof")
        .at(520, dir="out", type="tcp_shutdown", peer_fin=True)
        .done(521)
    )
    assert "server-closes-tcp" not in broken(t)


def test_dropping_tcp_before_the_servers_close_reply():
    t = (
        Wire()
        .client_close(1)
        .at(5, dir="in", type="tcp_eof")
        .server(100, 1, length=1, text="x")
        .server_close(100)
        .at(100, dir="out", type="write", bytes=7, peer_fin=True)
        .done(101)
    )
    found = broken(t)
    assert list(found) == ["wait-for-close-reply"]
    assert found["wait-for-close-reply"].severity == "fail"
    assert "closed TCP 4.0 ms later, before the server's close reply" in (
        found["wait-for-close-reply"].detail
    )


@pytest.mark.parametrize("code", [1002, 1007, 1008, 1009, 1011])
def test_a_client_failing_the_connection_may_drop_tcp_before_the_reply(code: int):
    # 7.1.7: failing the connection is a close frame with a fitting code and
    # then closing TCP; the client need not wait for the server's reply.
    t = (
        Wire()
        .client_close(1, code)
        .at(5, dir="in", type="tcp_eof")
        .server_close(100)
        .at(100, dir="out", type="write", bytes=4, peer_fin=True)
        .done(101)
    )
    assert "wait-for-close-reply" not in broken(t)


def test_a_waiver_names_the_rule():
    t = Wire().server_close(1).at(5, dir="in", type="tcp_eof").done(6)
    assert broken(t, waive={"close-reply": "the server resets at once"}) == {}
    assert rules.unknown_waivers({"close-reply": "x", "nonsense": "y"}) == ["nonsense"]


def test_the_verdict_carries_the_rule_and_a_waiver_must_name_a_real_rule():
    t = Wire().server_close(1).at(5, dir="in", type="tcp_eof").done(6)
    scenario = {"name": "close/x", "expect": {}}
    observation = {"end": "closed", "connected": True, "messages": [], "close": None}
    verdict = evaluate(scenario, observation, t)
    assert verdict.verdict == "fail"
    assert verdict.reason.endswith("(rule close-reply, RFC 6455 5.5.1)")
    wrong = evaluate({**scenario, "waive": {"nonsense": "why"}}, observation, t)
    assert wrong.verdict == "error"
    assert "waives 'nonsense'" in wrong.reason


def test_who_closed_cleanly():
    clean = Wire().server_close(1).client_close(2).at(3, dir="out", type="tcp_shutdown").done(4)
    assert rules.closed_cleanly(clean)[0] is True
    no_reply = Wire().server_close(1).at(3, dir="in", type="tcp_eof").done(4)
    assert rules.closed_cleanly(no_reply) == (False, "the client sent no close frame")
    reset = Wire().server_close(1).client_close(2).at(3, dir="out", type="tcp_rst").done(4)
    assert rules.closed_cleanly(reset)[0] is False


def test_every_rule_has_a_judge_and_an_rfc_severity():
    assert set(rules.RULES) == {name for name, _ in rules._JUDGES}
    for rule in rules.RULES.values():
        assert rule.severity in ("fail", "non-strict")
        assert rule.rfc.startswith(("6455#", "7692#"))


def test_a_refused_handshake_owes_no_close_reply():
    t = Wire().server_close(2000).at(2001, dir="in", type="tcp_eof").done(2002)
    assert "close-reply" in broken(t)
    assert broken(t, {"connected": False}) == {}


def test_an_invalid_ping_is_owed_no_pong():
    t = (
        Wire()
        .server(1, 9, length=126, hex="30")
        .at(1.1, **violation("control_too_long"))
        .client_close(2, 1002)
        .done(3)
    )
    assert broken(t) == {}


def test_a_client_that_accepted_the_bad_frame_and_answered_the_close_did_not_fail():
    """Whether it had to fail is the scenario's expectation, not this rule."""
    t = Wire().at(1, **violation("nonminimal_length")).server_close(2).client_close(3, 1000).done(4)
    assert "fail-with-close" not in broken(t)


def test_a_length_past_two_to_the_63_may_be_refused_as_too_big():
    t = Wire().at(1, **violation("length_msb")).client_close(2, 1009).done(3)
    assert "fail-with-close" not in broken(t)


def test_the_servers_frames_and_its_violation_are_ordered_by_stream_offset():
    """The close frame is logged when its group is built, the violation as it leaves."""
    bad_close = (
        Wire()
        .server(1, 8, length=2, close_code=999, close_reason="", offset=0)
        .at(1.1, **{**violation("bad_close_code", 8), "offset": 0})
        .client_close(2, 1002)
        .done(3)
    )
    assert broken(bad_close) == {}
    assert rules.closed_cleanly(bad_close) == (None, "the server's close frame was invalid")


def test_the_scenario_reference_lists_every_rule_with_its_severity():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "scenarios" / "README.md").read_text()
    section = text.split("## RFC rules on every client byte", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[1].strip("` "): (cells[2].strip(), cells[3].strip("` "))
        for line in section.splitlines()
        if line.startswith("| `") and len(cells := line.split("|")) > 4
    }
    expected = {r.name: (r.rfc.removeprefix("6455#"), r.severity) for r in rules.RULES.values()}
    assert rows == expected


def test_no_close_reply_is_owed_once_the_client_has_closed_tcp():
    """The client's FIN came before the server's close went out: nothing to answer."""
    t = Wire().at(301.234, dir="in", type="tcp_eof").server_close(301.249).done(302)
    assert broken(t) == {}


def test_over_tls_the_servers_close_notify_is_the_server_closing():
    t = (
        Wire()
        .server_close(1)
        .client_close(2)
        .at(3, dir="out", type="tls_close_notify")
        .at(3.2, dir="in", type="tcp_eof")
        .at(203, dir="out", type="tcp_shutdown", peer_fin=True)
        .done(204)
    )
    assert broken(t) == {}


def test_a_client_that_reset_the_connection_may_never_have_read_the_close():
    """An RST means unread data: a message over its limit, say, and the close behind it."""
    t = Wire().server_close(1).at(100, dir="in", type="tcp_error", error="reset").done(101)
    assert broken(t) == {}


def test_a_closure_is_not_judged_clean_or_not_after_the_server_sent_data_past_its_close():
    t = (
        Wire()
        .server(1, 8, length=2, close_code=1000, close_reason="", offset=0)
        .server(1, 1, length=1, text="x", offset=4)
        .client_close(2)
        .done(3)
    )
    assert rules.closed_cleanly(t) == (None, "the server sent data after its close frame")


# ------------------------------------------------------------ runs of like frames


def test_a_run_of_like_client_frames_is_judged_as_its_frames():
    # The server logs consecutive like data frames as one event with count,
    # t_us_last and offset_last: the frames after the run keep their numbers.
    run = {"length": 4, "masked": False, "opcode": 0, "fin": False, "count": 3}
    t = (
        Wire()
        .client(1, 1, length=4, fin=False, text="abcd")
        .at(2, dir="in", type="frame", offset=10, t_us_last=2200, offset_last=30, **run)
        .client_close(3, 1000)
        .client(4, 1, length=1, text="x")
        .server_close(5)
        .done(6)
    )
    found = broken(t)
    assert set(found) == {"mask", "no-data-after-close"}
    assert found["mask"].detail.startswith(
        "client frames 2 to 4 (3 alike, at bytes 10 to 30), continuation frame"
    )
    assert "client frame 6 at byte" in found["no-data-after-close"].detail
    assert "(frame 5)" in found["no-data-after-close"].detail


def test_a_violation_inside_a_run_of_server_frames_is_timed_by_the_run():
    # A text message in one-byte fragments with a bad byte in the middle: the
    # bad frame is inside the run (offset 12 of 10..20), logged by 3 ms, long
    # before the violation event (90 ms) that waited for the whole group.
    run = {"dir": "out", "type": "frame", "opcode": 0, "fin": False, "rsv": 0}
    run.update({"masked": False, "length": 1, "offset": 10, "count": 6})
    run.update({"t_us_last": 3000, "offset_last": 20})
    t = (
        Wire()
        .at(2, **run)
        .client_close(40, 1007)
        .at(41, dir="in", type="tcp_eof")
        .at(90, **dict(violation("invalid_utf8", 0), offset=12))
        .done(120)
    )
    assert rules._violation_before(rules.Wire.read(t, None), 40_000)
    assert not rules._violation_before(rules.Wire.read(t, None), 2_500)
