"""Judging: a scenario's expectations against what the client saw.

The adapter reports facts (an *observation*), the server reports the wire (a
*transcript*); this module is the only place that turns them into a verdict.
Every verdict carries one plain sentence that a person can act on without
opening the transcript, so the wording here is part of the product: it says
what was expected, what arrived instead, and — when messages were lost — how
the library signalled the end.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..contract import Crash, Observation, Scenario, Transcript
from . import rules
from .verdicts import RANK as _RANK
from .verdicts import SEVERITIES, VERDICTS

__all__ = ["CHECKS", "EXPECTATIONS", "SEVERITIES", "VERDICTS", "evaluate"]

#: What a scenario's `expect` may hold.
EXPECTATIONS = (
    "connected",
    "messages",
    "close",
    "client_close",
    "client_pong",
    "client_messages",
    "deflate",
    "client_pongs",
    "round_trips",
    "fail_fast",
    "tcp_closed_by",
    "close_clean",
)
#: Every check, in the order failures are reported when they are equally
#: severe: the ones every run gets (the client's outcome, RFC rules on its
#: bytes, how it reported the closure) around the scenario's expectations.
CHECKS = ("outcome", *EXPECTATIONS, "clean", "rfc")

_QUOTE_CHARS = 60
_HEX_CHARS = 32


@dataclass
class Check:
    """One expectation, judged.

    `expected` and `observed` are compact JSON-ready summaries (not the whole
    observation, which the report carries once per record).
    """

    name: str
    ok: bool
    severity: str
    expected: Any
    observed: Any
    detail: str


@dataclass
class Verdict:
    """The outcome for one (scenario, client) pair."""

    verdict: str
    reason: str
    checks: list[Check] = field(default_factory=list)


def evaluate(
    scenario: Scenario,
    observation: Observation | None,
    transcript: Transcript | None,
    harness_error: str | None = None,
    crash: Crash | None = None,
) -> Verdict:
    """Judge one run of `scenario`.

    Anything that keeps the checks from meaning something about the library
    (a broken harness or adapter, a knob the adapter cannot honour, a missing
    transcript) yields `error`, never `fail`.
    """
    if crash is not None:
        # The library killed the client process: nothing else it did can be judged.
        check = check_crash(crash)
        return Verdict("fail", check.detail, [check])
    problem = _blocking_problem(scenario, observation, harness_error) or transcript_cut(transcript)
    if problem is not None:
        return Verdict("error", problem, [])
    assert observation is not None  # _blocking_problem guarantees it
    checks = [check_outcome(observation)]
    checks += [
        _run_check(name, scenario, observation, transcript) for name in scenario.get("expect", {})
    ]
    if transcript is not None:
        _allow_size_refusal(checks, transcript)
        checks.append(check_clean(observation, transcript))
        checks += check_rules(scenario, observation, transcript)
    return _judge(scenario, observation, [c for c in checks if c is not None])


#: A message at least this large may be refused by a library's documented size limit.
_LARGE_MESSAGE = 16 * 1024
#: How a messages check's detail starts when that refusal excused the loss.
_SIZE_REFUSAL = "the client refused message"


def _allow_size_refusal(checks: list[Check | None], transcript: Transcript) -> None:
    """A large message refused with close 1009 is allowed (RFC 6455 10.4, 7.4.1).

    The library's limit is its own choice: the lost message, the close code
    that follows and the client's messages that did not come (an echo of the
    refused message cannot) are then recorded (informational), not held
    against it.
    """
    by_name = {c.name: c for c in checks if c is not None}
    lost = by_name.get("messages")
    if lost is None or lost.ok or not isinstance(lost.expected, dict):
        return
    first_missing = lost.expected.get("message") or {}
    size = first_missing.get("length") or len(message_bytes(first_missing) or b"")
    sent = client_close_frame(transcript)
    if size < _LARGE_MESSAGE or not sent or sent.get("code") != 1009:
        return
    note = (
        f"{_SIZE_REFUSAL} {lost.expected.get('at')} ({size} bytes) with close 1009, "
        "a size limit RFC 6455 10.4 allows"
    )
    lost.severity = "informational"
    lost.detail = f"{note}: {lost.detail}"
    close = by_name.get("close")
    if close is not None and not close.ok:
        close.severity = "informational"
    # What the application would have echoed or sent after the refusal never
    # existed: the echo of a refused message is lost with it.
    echoed = by_name.get("client_messages")
    if echoed is not None and not echoed.ok:
        echoed.severity = "informational"
        echoed.detail = f"{echoed.detail} (the client refused a message with close 1009 first)"


# --------------------------------------------------------------- errors


def _blocking_problem(
    scenario: Scenario, observation: Observation | None, harness_error: str | None
) -> str | None:
    """Return why the run cannot be judged at all, or None if it can."""
    if harness_error:
        return _one_line(harness_error)
    if observation is None:
        return "the adapter reported no observation"
    malformed = _observation_problem(observation)
    if malformed:
        return f"the adapter's observation is malformed: {malformed}"
    end = observation.get("end")
    if end == "adapter_error":
        return f"the adapter failed on this job: {_adapter_failure(observation)}"
    if end == "unsupported":
        return _unsupported_reason(scenario, observation)
    return _scenario_problem(scenario)


def transcript_cut(transcript: Transcript | None) -> str | None:
    """Why a transcript that lost events past the server's cap cannot be judged, or None.

    The server keeps a prefix of a session's events (server/transcript.h: a cap on their
    number and on their bytes) and counts the rest in `events_dropped`. A close frame, an
    echo or a FIN past the cap is missing from the prefix only: judging it "missing" would
    blame the library for the server's limit.
    """
    if transcript is None:
        return None
    dropped = transcript.get("events_dropped")
    if not isinstance(dropped, int) or dropped <= 0:
        return None
    cap = transcript.get("events_cap")
    if isinstance(cap, dict):
        limits = f"{cap.get('events')} events or {cap.get('bytes')} bytes of them"
    else:
        limits = "WSR_TRANSCRIPT_MAX_EVENTS"
    return (
        f"the server's transcript of this session is cut: {_plural(dropped, 'event')} past its "
        f"cap ({limits}, server/transcript.h) were dropped, so what the client did after "
        "them cannot be judged"
    )


def _observation_problem(observation: Any) -> str | None:
    """Check the shape the checks rely on, so garbage cannot crash judging."""
    if not isinstance(observation, dict):
        return f"expected a JSON object, got {type(observation).__name__}"
    if not isinstance(observation.get("end"), str):
        return "'end' is missing or not a string"
    if observation["end"] in ("adapter_error", "unsupported"):
        return None
    messages = observation.get("messages")
    if not isinstance(messages, list):
        return "'messages' is missing or not a list"
    for index, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            return f"message {index} is not an object"
    close = observation.get("close")
    if close is not None and not isinstance(close, dict):
        return "'close' is neither null nor an object"
    return None


def _scenario_problem(scenario: Scenario) -> str | None:
    """Catch expectations and severities this harness cannot apply."""
    expect = scenario.get("expect")
    if not isinstance(expect, dict):
        return f"the scenario {scenario.get('name')!r} has no 'expect' object"
    for name in expect:
        if name not in EXPECTATIONS:
            return f"the scenario expects {name!r}, which the harness cannot check"
    unknown = rules.unknown_waivers(scenario.get("waive"))
    if unknown:
        names = ", ".join(map(repr, unknown))
        return f"the scenario waives {names}, which is no RFC rule the harness checks"
    for name in expect:
        severity = _severity(scenario, name)
        if severity not in SEVERITIES:
            return f"the scenario gives {name!r} the unknown severity {severity!r}"
    return None


def _adapter_failure(observation: Observation) -> str:
    """The last line of the adapter's traceback: the exception itself."""
    error: Mapping[str, Any] = observation.get("error") or {}
    message = str(error.get("message") or "").strip()
    last = message.splitlines()[-1].strip() if message else ""
    return last or str(error.get("type") or "no details given")


def _unsupported_reason(scenario: Scenario, observation: Observation) -> str:
    """Name the knobs (with the values asked for) the adapter could not honour."""
    knobs = [str(k) for k in observation.get("unsupported") or []]
    if not knobs:
        return "the adapter reported the job as unsupported without naming a knob"
    values: Mapping[str, Any] = scenario.get("client") or {}
    shown = [f"{k}={_json_value(values[k])}" if k in values else k for k in knobs]
    noun = "knob" if len(shown) == 1 else "knobs"
    return f"the adapter cannot honour the client {noun} {', '.join(shown)}"


# --------------------------------------------------------------- checks


def _severity(scenario: Scenario, name: str) -> str:
    """Per-check override first, then the scenario's, then `fail`."""
    by_check = scenario.get("severity_by_check") or {}
    return by_check.get(name, scenario.get("severity", "fail"))


def _run_check(
    name: str, scenario: Scenario, observation: Observation, transcript: Transcript | None
) -> Check:
    expected = scenario["expect"][name]
    severity = _severity(scenario, name)
    if name == "messages":
        return check_messages(expected, observation.get("messages") or [], severity)
    if name == "close":
        return check_close(expected, observation, severity, transcript)
    if name == "connected":
        return check_connected(expected, observation, severity)
    if transcript is None:
        detail = f"no server transcript, so the {name} check could not be made"
        return Check(name, False, "error", expected, None, detail)
    return _TRANSCRIPT_CHECKS[name](expected, transcript, severity)


def expand_messages(entries: list[dict]) -> list[dict]:
    """Expand `count` (and `{i}` in text) into one observation-shaped dict each.

    `{i}` is replaced only in entries that carry `count`, as in write items,
    so a literal "{i}" can still be expected.
    """
    expanded: list[dict] = []
    for entry in entries:
        if "count" not in entry:
            expanded.append(_expected_message(entry, None))
            continue
        for index in range(1, int(entry["count"]) + 1):
            expanded.append(_expected_message(entry, index))
    return expanded


def _expected_message(entry: dict, index: int | None) -> dict:
    kind = "text" if "text" in entry else "binary"
    if "pattern" in entry:
        return _pattern_message(kind, str(entry["pattern"]), int(entry["size"]))
    if kind == "text":
        text = str(entry["text"])
        if index is not None:
            text = text.replace("{i}", str(index))
        return {"type": "text", "text": text}
    return {"type": "binary", "hex": "".join(str(entry["hex"]).split()).lower()}


#: Expected content longer than this is kept as a digest, as adapters report it.
_INLINE_LIMIT = 4096


def _pattern_message(kind: str, pattern: str, size: int) -> dict:
    """`pattern` (its UTF-8 bytes) repeated and cut to `size` bytes, as write items do."""
    unit = pattern.encode("utf-8")
    data = (unit * (size // max(len(unit), 1) + 1))[:size]
    if size > _INLINE_LIMIT:
        return {"type": kind, "length": size, "sha256": hashlib.sha256(data).hexdigest()}
    if kind == "text":
        return {"type": "text", "text": data.decode("utf-8", "surrogateescape")}
    return {"type": "binary", "hex": data.hex()}


def check_messages(
    expected_entries: list[dict],
    received: Sequence[Mapping[str, Any]],
    severity: str,
    name: str = "messages",
) -> Check:
    """Compare the exact, ordered list of data messages."""
    check = _compare_messages(expand_messages(expected_entries), received)
    check.severity = severity
    check.name = name
    return check


def _compare_messages(expected: list[dict], received: Sequence[Mapping[str, Any]]) -> Check:
    severity = "fail"
    n_exp, n_obs = len(expected), len(received)
    for index, (want, got) in enumerate(zip(expected, received, strict=False), 1):
        if not same_message(want, got):
            detail = (
                f"message {index} of {n_exp} differs: expected "
                f"{show_message(want)}, received {show_message(got)}"
            )
            if n_obs < n_exp:
                detail += f"; only {n_obs} of {n_exp} received"
            elif n_obs > n_exp:
                detail += f"; {n_obs} received in all"
            return _messages_check(False, severity, expected, received, index, detail)
    if n_obs < n_exp:
        return _messages_check(
            False,
            severity,
            expected,
            received,
            n_obs + 1,
            _missing_detail(expected, n_obs),
        )
    if n_obs > n_exp:
        detail = (
            f"expected {_plural(n_exp, 'message')}, received {n_obs}; "
            f"message {n_exp + 1} {show_message(received[n_exp])} was not expected"
        )
        return _messages_check(False, severity, expected, received, n_exp + 1, detail)
    detail = f"received the {_plural(n_exp, 'expected message')}"
    return Check("messages", True, severity, {"count": n_exp}, {"count": n_obs}, detail)


def _missing_detail(expected: list[dict], n_obs: int) -> str:
    n_exp = len(expected)
    if n_obs == 0:
        return f"expected {_plural(n_exp, 'message')}, received 0"
    first = expected[n_obs]
    if n_exp - n_obs == 1:
        missing = f"message {n_exp} {show_message(first)} missing"
    else:
        missing = f"messages {n_obs + 1} to {n_exp} missing, from {show_message(first)}"
    return f"received {n_obs} of {n_exp} messages; {missing}"


def _messages_check(
    ok: bool,
    severity: str,
    expected: list[dict],
    received: Sequence[Mapping[str, Any]],
    at: int,
    detail: str,
) -> Check:
    """Summarise the first difference (1-based `at`) instead of both lists."""
    want = expected[at - 1] if at <= len(expected) else None
    got = received[at - 1] if at <= len(received) else None
    return Check(
        "messages",
        ok,
        severity,
        {"count": len(expected), "at": at, "message": want},
        {"count": len(received), "at": at, "message": got},
        detail,
    )


def same_message(expected: Mapping[str, Any], observed: Mapping[str, Any]) -> bool:
    """Same type and same bytes; a digest stands in for large observed content."""
    if observed.get("type") != expected["type"]:
        return False
    return _digest(expected) == _digest(observed) is not None


def _digest(message: Mapping[str, Any]) -> str | None:
    """The SHA-256 of a message's bytes, from its content or its reported digest."""
    data = message_bytes(message)
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    digest = message.get("sha256")
    return digest.lower() if isinstance(digest, str) else None


def message_bytes(message: Mapping[str, Any]) -> bytes | None:
    """The payload of a message dict, or None if it carries only a digest."""
    if isinstance(message.get("text"), str):
        return message["text"].encode("utf-8", "surrogatepass")
    if isinstance(message.get("hex"), str):
        try:
            return bytes.fromhex(message["hex"])
        except ValueError:
            return None
    return None


def code_matches(expected: Any, got: Any) -> bool:
    """An expected close code: one code, None (no code), or a list of acceptable codes."""
    if isinstance(expected, list):
        return got in expected
    return got == expected


def show_codes(expected: Any) -> str:
    """`1002`, or `1002 or 1006` for a list."""
    if isinstance(expected, list):
        return " or ".join("no code" if code is None else str(code) for code in expected)
    return str(expected)


def check_connected(expected: bool, observation: Observation, severity: str) -> Check:
    """Did the opening handshake succeed (the library gave a connection) or not?

    A handshake the adapter had to cut off is neither: a client that hangs
    on an answer it must refuse has not refused it.
    """
    connected = bool(observation.get("connected"))
    if observation.get("end") == "connect_timeout":
        waited = observation.get("duration_ms")
        after = f" after {float(waited) / 1000:.1f} s" if isinstance(waited, (int, float)) else ""
        detail = (
            "the client hung in the opening handshake, neither connecting nor refusing, "
            f"until the adapter gave up{after}; a hang is not a "
            + ("refusal" if not expected else "connection")
        )
        return Check("connected", False, severity, expected, "hung", detail)
    error: Mapping[str, Any] = observation.get("error") or {}
    why = ""
    if error.get("type"):
        why = f" with {error['type']}"
        if error.get("message"):
            why += f" ({_quote(_one_line(str(error['message'])))})"
    if connected == expected:
        detail = (
            "the client connected, as expected"
            if connected
            else f"the client refused the handshake{why}, as expected"
        )
        return Check("connected", True, severity, expected, connected, detail)
    detail = (
        "the client accepted the opening handshake, although it must refuse it"
        if connected
        else f"the client did not connect{why}, although the handshake was valid"
    )
    return Check("connected", False, severity, expected, connected, detail)


def check_close(
    expected: dict, observation: Observation, severity: str, transcript: Transcript | None = None
) -> Check:
    """The close code (and reason, when the scenario gives one) the library reports.

    An adapter marks `"observable": false` where the library's API exposes
    no close code on the path the connection ended by: nothing to hold
    against the library, so the code is not checked — unless the library
    took that path by rejecting a valid close frame from the server (it
    answered it with 1002 and the like): then the missing code is its own
    doing, and is judged like any other.
    """
    close = observation.get("close")
    if isinstance(close, dict) and close.get("observable") is False:
        rejected = rules.rejected_server_close(transcript) if transcript else None
        if rejected is None:
            detail = "the library's API exposes no close code on this path, so it was not checked"
            return Check("close", True, severity, expected, close, detail)
    got_code = close.get("code") if close else None
    got_reason = (close.get("reason") or "") if close else None
    ok = code_matches(expected.get("code"), got_code)
    if "reason" in expected:
        ok = ok and got_reason == expected["reason"]
    want_text = show_close(expected.get("code"), expected.get("reason"))
    if ok:
        detail = (
            f"received close {want_text}"
            if expected.get("code") is not None
            else "the library reported no close code, as expected"
        )
    elif close is None and expected.get("code") is not None:
        detail = f"expected close {want_text}, but the library reported no close"
    else:
        shown = show_close(
            got_code,
            got_reason if "reason" in expected else None,
            empty="with no reason",
        )
        detail = f"expected close {want_text}, received {shown}"
        if expected.get("code") is None:
            detail = f"expected no close code, received {shown}"
    return Check("close", ok, severity, expected, close, detail)


def client_close_frame(transcript: Transcript) -> dict | None:
    """The first close frame the server received from the client, if any."""
    for event in transcript.get("events") or []:
        if (
            isinstance(event, dict)
            and event.get("type") == "frame"
            and event.get("dir") == "in"
            and event.get("opcode") == 8
        ):
            return {
                "code": event.get("close_code"),
                "reason": event.get("close_reason"),
            }
    return None


def check_client_close(expected: Any, transcript: Transcript | None, severity: str) -> Check:
    """Did the client send a close frame (with this code), or rightly none?"""
    if transcript is None:
        detail = "no server transcript, so the client_close check could not be made"
        return Check("client_close", False, "error", expected, None, detail)
    sent = client_close_frame(transcript)
    if expected is False:
        if sent is None:
            detail = "the client sent no close frame, as expected"
        else:
            detail = f"the client sent {_close_frame(sent)} although it must not send one"
        return Check("client_close", sent is None, severity, expected, sent, detail)
    want = expected if isinstance(expected, dict) else {}
    if sent is None:
        detail = f"the client sent no close frame, expected {_close_frame(want)}"
        return Check("client_close", False, severity, expected, None, detail)
    ok = ("code" not in want or code_matches(want["code"], sent["code"])) and (
        "reason" not in want or (sent["reason"] or "") == want["reason"]
    )
    detail = f"the client sent {_close_frame(sent)}"
    if not ok:
        detail += f", expected {_close_frame(want)}"
    return Check("client_close", ok, severity, expected, sent, detail)


def _close_frame(close: dict) -> str:
    """`close 1000 'bye'`; an empty close frame, or any, said in words."""
    if "code" not in close:
        return "a close frame"
    if close["code"] is None:
        return "an empty close frame"
    if isinstance(close["code"], list):
        return f"close {show_codes(close['code'])}"
    return f"close {show_close(close['code'], close.get('reason'))}"


def _frames_in(transcript: Transcript, opcode: int) -> list[dict]:
    return [
        event
        for event in transcript.get("events") or []
        if isinstance(event, dict)
        and event.get("type") == "frame"
        and event.get("dir") == "in"
        and event.get("opcode") == opcode
    ]


def check_client_pong(expected: Any, transcript: Transcript, severity: str) -> Check:
    """Did the client answer with a pong carrying this payload (or rightly none)?"""
    pongs = _frames_in(transcript, 10)
    if expected is False:
        ok = not pongs
        detail = "the client sent no pong, as expected" if ok else "the client sent a pong"
        return Check("client_pong", ok, severity, expected, len(pongs), detail)
    want = _expected_message(expected, None)
    want_bytes = message_bytes(want) or b""
    payloads = [bytes.fromhex(p.get("hex") or "") for p in pongs]
    ok = want_bytes in payloads
    shown = show_message({"hex": want_bytes.hex()} if want["type"] == "binary" else want)
    if ok:
        detail = f"the client answered the ping with a pong {shown}"
    elif not pongs:
        detail = f"the client sent no pong, expected one with {shown}"
    else:
        got = ", ".join(show_message({"hex": p.hex()}) for p in payloads[:3])
        detail = f"the client's pongs carried {got}, expected {shown}"
    return Check("client_pong", ok, severity, expected, [p.hex() for p in payloads], detail)


def check_client_pongs(expected: list[dict], transcript: Transcript, severity: str) -> Check:
    """The exact list of the client's pong payloads, in order (Autobahn 2.10/2.11)."""
    want = [message_bytes(m) or b"" for m in expand_messages(expected)]
    got = [bytes.fromhex(p.get("hex") or "") for p in _frames_in(transcript, 10)]
    ok = got == want
    observed = [p.hex() for p in got]
    if ok:
        detail = f"the client answered with {_plural(len(want), 'pong')}, in order"
        return Check("client_pongs", ok, severity, expected, observed, detail)
    index = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    if index is not None:
        detail = (
            f"pong {index + 1} carried {show_message({'hex': got[index].hex()})}, "
            f"expected {show_message({'hex': want[index].hex()})}"
        )
    elif len(got) < len(want):
        detail = f"the client sent {_plural(len(got), 'pong')}, expected {len(want)}"
    else:
        detail = f"the client sent {_plural(len(got), 'pong')}, expected only {len(want)}"
    return Check("client_pongs", ok, severity, expected, observed, detail)


def _events(transcript: Transcript, kind: str) -> list[dict]:
    return [
        e for e in transcript.get("events") or [] if isinstance(e, dict) and e.get("type") == kind
    ]


def check_round_trips(expected: Any, transcript: Transcript, severity: str) -> Check:
    """Every round_trips step ended with all its echoes back, equal and in order."""
    steps = _events(transcript, "round_trips")
    observed = [
        {k: e.get(k) for k in ("count", "done", "result", "mismatched", "rtt_us")} for e in steps
    ]
    bad = [e for e in steps if e.get("result") != "ok" or e.get("mismatched")]
    ok = bool(steps) and not bad
    if not steps:
        detail = "no round_trips step ran"
    elif ok:
        rtt = steps[-1].get("rtt_us") or {}
        done = sum(int(e.get("done") or 0) for e in steps)
        detail = (
            f"all {done} echoes came back equal and in order (RTT min "
            f"{_us(rtt.get('min'))}, median {_us(rtt.get('median'))}, max {_us(rtt.get('max'))})"
        )
    else:
        e = bad[0]
        if e.get("mismatched"):
            detail = (
                f"{e['mismatched']} of {e.get('done')} echoes differed from the message sent, "
                f"the first in round trip {e.get('first_mismatch')}"
            )
        else:
            result = str(e.get("result"))
            why = _TRIP_END.get(result, result)
            detail = (
                f"{e.get('done')} of {e.get('count')} round trips done: the echo of round trip "
                f"{int(e.get('done') or 0) + 1} never came ({why})"
            )
    return Check("round_trips", ok, severity, expected, observed, detail)


_TRIP_END = {"timeout": "timed out", "close": "the client closed", "eof": "the client closed TCP"}


def _us(value: Any) -> str:
    return "?" if not isinstance(value, int) else f"{value / 1000:.2f} ms"


def check_fail_fast(expected: Any, transcript: Transcript, severity: str) -> Check:
    """The client failed the connection (its close frame, or its FIN or RST) before the
    server began the write group marked `fail_fast_mark` (Autobahn 6.4.x)."""
    events = [e for e in transcript.get("events") or [] if isinstance(e, dict)]
    mark = next((i for i, e in enumerate(events) if e.get("type") == "fail_fast_mark"), None)
    if mark is None:
        detail = "the marked write never began (no fail_fast_mark event)"
        return Check("fail_fast", False, "error", expected, None, detail)
    t_mark = int(events[mark].get("t_us") or 0)
    before = None
    for e in events[:mark]:
        closed = e.get("type") == "frame" and e.get("dir") == "in" and e.get("opcode") == 8
        if closed or (e.get("type") in ("tcp_eof", "tcp_error") and e.get("dir") == "in"):
            before = e
            break
    if before is None and events[mark].get("peer_fin"):
        before = events[mark]
    ok = before is not None
    if ok and before is events[mark]:
        detail = "the client had closed TCP before the marked write"
    elif ok and before is not None:
        what = "its close frame" if before.get("type") == "frame" else "its TCP close"
        lead = t_mark - int(before.get("t_us") or 0)
        detail = f"the client failed fast: {what} came {lead / 1000:.1f} ms before the marked write"
    else:
        detail = (
            "the client had neither sent a close frame nor closed TCP when the marked write began"
        )
    return Check("fail_fast", ok, severity, expected, ok, detail)


def check_tcp_closed_by(expected: str, transcript: Transcript, severity: str) -> Check:
    """Which side closed TCP first (RFC 6455 7.1.1: the server should)."""
    facts = rules.tcp_close_facts(transcript)
    first = facts.get("first")
    ok = first == expected
    said = f"the {first} closed TCP first" if first else "neither side closed TCP"
    after = rules.describe_tcp_close(facts)
    detail = said + (f" ({after})" if after else "")
    if not ok:
        detail += f", expected the {expected} to"
    return Check("tcp_closed_by", ok, severity, expected, first, detail)


def check_close_clean(expected: bool, transcript: Transcript, severity: str) -> Check:
    """Close frames both ways before TCP was first closed (Autobahn's wasClean)."""
    facts = rules.tcp_close_facts(transcript)
    clean = bool(facts.get("clean"))
    ok = clean == bool(expected)
    after = rules.describe_tcp_close(facts)
    detail = ("the close was clean" if clean else "the close was not clean") + (
        f": {after}" if after else ""
    )
    return Check("close_clean", ok, severity, expected, clean, detail)


def transcript_messages(transcript: Transcript) -> list[dict]:
    """The data messages the server received from the client, observation-shaped."""
    messages = []
    for event in transcript.get("events") or []:
        if not (isinstance(event, dict) and event.get("type") == "message"):
            continue
        message: dict[str, Any] = {"type": "text" if event.get("opcode") == 1 else "binary"}
        message["length"] = event.get("length")
        for key in ("text", "hex", "sha256"):
            if key in event:
                message[key] = event[key]
        if message["type"] == "text" and "hex" in message:
            message["type"] = "text"  # invalid UTF-8: compared as bytes
        messages.append(message)
    return messages


def check_client_messages(expected: list[dict], transcript: Transcript, severity: str) -> Check:
    """The data messages the server received from the client, in order."""
    check = check_messages(expected, transcript_messages(transcript), severity, "client_messages")
    check.detail = f"client to server: {check.detail}"
    return check


def check_deflate(expected: Any, transcript: Transcript, severity: str) -> Check:
    """Did the session negotiate permessage-deflate (RFC 7692), as expected or not?

    The server's `deflate` event holds what its 101 answered; no event means
    nothing was offered or answered.
    """
    event = next(
        (
            e
            for e in transcript.get("events") or []
            if isinstance(e, dict) and e.get("type") == "deflate"
        ),
        None,
    )
    event = event or {}
    negotiated = event.get("negotiated") is not None
    answer, offers = event.get("answer"), event.get("offers") or []
    if negotiated:
        how = f"permessage-deflate was negotiated ({answer})"
    elif event.get("answer_error"):
        how = f"the server's answer {answer!r} negotiated nothing: {event['answer_error']}"
    elif offers:
        how = "the client offered permessage-deflate and the server declined"
    else:
        how = "the client offered no permessage-deflate"
    ok = negotiated == bool(expected)
    detail = how if ok else f"{how}, expected it {'to be' if expected else 'not to be'} negotiated"
    return Check("deflate", ok, severity, expected, negotiated, detail)


# --------------------------------------------------------------- every run


def check_outcome(observation: Observation) -> Check | None:
    """A library that crashed fails, whatever the scenario expects of it.

    `crash` is an exception, panic or unhandled rejection the library raised
    outside any call the application made: in a real application it kills
    the process or vanishes.
    """
    crash = observation.get("crash")
    if not isinstance(crash, dict):
        return None
    return check_crash(crash)


def check_crash(crash: Crash) -> Check:
    """The failing outcome check for a crash, whether the adapter reported it or
    the harness found it in a dead adapter's stderr."""
    what = str(crash.get("type") or "an exception")
    where = f" {crash['where']}" if crash.get("where") else ""
    message = _one_line(str(crash.get("message") or ""))
    detail = f"the library crashed: {what}{where}" + (f" ({_quote(message)})" if message else "")
    return Check("outcome", False, "fail", "no crash", crash, detail)


#: Codes of an ordinary closure: a library may call anything else an error.
_NORMAL_CLOSE_CODES = (None, 1000, 1001)


def check_clean(observation: Observation, transcript: Transcript) -> Check | None:
    """The library's word on a clean closure, where RFC 6455 7.1.4 settles it.

    Clean means the TCP connection closed after the closing handshake had
    completed. Calling a closure clean when no close frame ever came from
    the server hides a lost close: fail. Calling an ordinary closure (code
    1000, 1001 or none) an error when the handshake did complete is a false
    alarm to the application: non-strict. Between the two, libraries differ
    in what they call an error (another close code, a reply the server's RST
    destroyed) and the RFC does not settle it. Judged only where the library
    tells (`clean` not null).
    """
    said = observation.get("clean")
    if not isinstance(said, bool) or not observation.get("connected"):
        return None
    truth, why = rules.closed_cleanly(transcript)
    if truth is None:
        return None
    source = observation.get("clean_source")
    shown = f" ({source})" if source else ""
    if said and not truth and why == "no close frame came from the server":
        detail = f"the library reported a clean closure{shown}, but {why} (RFC 6455 7.1.4)"
        return Check("clean", False, "fail", truth, said, detail)
    codes = rules.close_codes_on_wire(transcript)
    if not said and truth and all(code in _NORMAL_CLOSE_CODES for code in codes):
        shown_codes = " and ".join("no code" if c is None else str(c) for c in codes)
        detail = (
            f"the library reported the closure as not clean{shown}, although {why} "
            f"({shown_codes}; RFC 6455 7.1.4)"
        )
        return Check("clean", False, "non-strict", truth, said, detail)
    word = "clean" if said else "not clean"
    return Check(
        "clean", True, "fail", truth, said, f"the library reported the closure as {word}{shown}"
    )


def check_rules(
    scenario: Scenario, observation: Observation, transcript: Transcript
) -> list[Check]:
    """RFC 6455's client rules on every byte the client sent: one check per rule broken."""
    breaches = rules.check(transcript, observation, scenario.get("waive"))
    if not breaches:
        return [
            Check("rfc", True, "fail", None, [], "the client's bytes broke no RFC 6455 client rule")
        ]
    return [
        Check(
            "rfc",
            False,
            b.severity,
            {"rule": b.rule, "rfc": b.rfc},
            b.as_dict(),
            f"{b.detail} (rule {b.rule}, RFC {b.rfc.replace('#', ' ')})",
        )
        for b in breaches
    ]


# --------------------------------------------------------------- verdict


def _judge(scenario: Scenario, observation: Observation, checks: list[Check]) -> Verdict:
    """Strictest failing severity wins; the reason leads with it."""
    failing = [c for c in checks if not c.ok]
    if not failing:
        return Verdict("pass", _pass_reason(checks), checks)
    failing.sort(key=lambda c: (-_RANK[c.severity], CHECKS.index(c.name)))
    verdict = failing[0].severity
    by_name = {c.name: c for c in checks}
    parts = []
    for check in failing:
        part = _failure_part(check, by_name, scenario, observation)
        if check.severity != verdict:
            part += f" ({check.severity})"
        parts.append(part)
    return Verdict(verdict, "; ".join(parts), checks)


def _failure_part(
    check: Check, by_name: dict[str, Check], scenario: Scenario, observation: Observation
) -> str:
    if check.name != "messages":
        return check.detail
    if check.detail.startswith(_SIZE_REFUSAL):
        return check.detail
    n_exp, n_obs = check.expected["count"], check.observed["count"]
    if n_obs >= n_exp:
        return check.detail  # a difference or extra messages: nothing was lost
    close_ok = _close_arrived(by_name, observation)
    if n_obs == 0:
        first = show_message(check.expected["message"])
        part = (
            f"the message {first} was not received"
            if n_exp == 1
            else f"none of the {n_exp} expected messages was received (first: {first})"
        )
        if close_ok:
            part += f", although {close_ok} was"
    else:
        part = check.detail
        if close_ok:
            part += f", although {close_ok} was received"
    cause = _loss_cause(scenario, observation)
    return f"{part}; {cause}" if cause else part


def _close_arrived(by_name: dict[str, Check], observation: Observation) -> str | None:
    """The close as shown, when the library did report the expected close.

    Saying so is the point of the founding case: the close got through, the
    message in front of it did not.
    """
    close_check = by_name.get("close")
    close = observation.get("close") or {}
    if close.get("code") is None:
        return None
    if close_check is not None and not close_check.ok:
        return None
    shown = show_close(close.get("code"), close.get("reason"))
    # 1006 is never on the wire: it is the library's word for "no close frame".
    if close.get("code") == 1006:
        return f"the abnormal closure ({shown})"
    return f"the close ({shown})"


def _loss_cause(scenario: Scenario, observation: Observation) -> str:
    """How receiving ended, in the application's terms."""
    end = observation.get("end")
    error: Mapping[str, Any] = observation.get("error") or {}
    kind = error.get("type")
    if end == "timeout":
        timeout = scenario["client"]["recv_timeout_ms"]
        return f"receiving timed out after {timeout} ms"
    if end == "connect_failed":
        return f"connecting failed with {kind}" if kind else "connecting failed"
    if end == "connect_timeout":
        return "the opening handshake hung until the adapter gave up"
    if kind:
        return f"recv() raised {kind}"
    return ""


def _close_not_observable(check: Check | None) -> bool:
    return (
        check is not None
        and isinstance(check.observed, dict)
        and (check.observed.get("observable") is False)
    )


def _pass_reason(checks: list[Check]) -> str:
    """A short confirmation: what was expected and did arrive."""
    by_name = {c.name: c for c in checks}
    received = []
    if "messages" in by_name:
        count = by_name["messages"].expected["count"]
        received.append(
            f"the {_plural(count, 'expected message')}" if count else "no messages, as expected"
        )
    if "close" in by_name:
        close = by_name["close"].expected
        received.append(
            f"close {show_close(close.get('code'), close.get('reason'))}"
            if close.get("code") is not None
            else "no close code, as expected"
        )
    parts = ["received " + " and ".join(received)] if received else []
    if _close_not_observable(by_name.get("close")):
        parts = ["received " + received[0]] if len(received) > 1 else []
        parts.append("the close code is not observable through this API")
    parts[:0] = [by_name["connected"].detail] if "connected" in by_name else []
    # what the server saw of the client, in EXPECTATIONS order
    for name in EXPECTATIONS[EXPECTATIONS.index("client_close") :]:
        if name in by_name:
            parts.append(by_name[name].detail)
    return ", and ".join(parts) if parts else "the scenario expects nothing"


# --------------------------------------------------------------- wording


def show_message(message: Mapping[str, Any] | None) -> str:
    """A message as a person reads it: text quoted, binary as short hex."""
    if message is None:
        return "(none)"
    if isinstance(message.get("text"), str):
        return _quote(message["text"])
    if isinstance(message.get("hex"), str):
        hexed = message["hex"]
        size = len(hexed) // 2
        if len(hexed) > _HEX_CHARS:
            return f"binary {hexed[:_HEX_CHARS]}… ({size} bytes)"
        return f"binary {hexed}" if hexed else "empty binary"
    kind = message.get("type", "untyped")
    if isinstance(message.get("sha256"), str):
        return f"{kind} of {message.get('length', '?')} bytes (sha256 {message['sha256'][:12]}…)"
    return f"{kind} message with no content"


def show_close(code: Any, reason: Any, empty: str = "") -> str:
    """`1000 'bye'`; with `empty`, say so when the reason is empty."""
    text = "a close with no code" if code is None else show_codes(code)
    if reason:
        return f"{text} {_quote(str(reason))}"
    if reason is not None and empty:
        return f"{text} {empty}"
    return text


def _quote(text: str) -> str:
    if len(text) > _QUOTE_CHARS:
        return repr(text[:_QUOTE_CHARS]) + f"… ({len(text.encode('utf-8', 'replace'))} bytes)"
    return repr(text)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _json_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: The expectations judged from the server's transcript alone, each by its check.
_TRANSCRIPT_CHECKS: dict[str, Callable[..., Check]] = {
    "client_close": check_client_close,
    "client_pong": check_client_pong,
    "client_messages": check_client_messages,
    "deflate": check_deflate,
    "client_pongs": check_client_pongs,
    "round_trips": check_round_trips,
    "fail_fast": check_fail_fast,
    "tcp_closed_by": check_tcp_closed_by,
    "close_clean": check_close_clean,
}
