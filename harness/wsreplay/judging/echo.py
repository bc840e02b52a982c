"""Echo mode: verdicts from the wire alone, for an Autobahn client driver.

In Autobahn-compatible mode (issue 15) the client is a library's own
Autobahn driver: it connects, sends every text and binary message back as
received, and answers the close. No adapter reports what the application
saw, so the only observer is the server's transcript: what the client
echoed, its pongs, its close frame, who closed TCP and when.

`echo_plan(scenario)` says what of a scenario can be judged there. A
scenario's wire expectations (`client_close`, `client_pong(s)`,
`client_messages`, `round_trips`, `fail_fast`, `tcp_closed_by`,
`close_clean`, `deflate`) carry over as they are; its application
expectations translate where the wire shows them:

- `messages` (what the application received) become the client's echoes
  (`client_messages`): the driver sends each one back, so the echoes the
  server received must be the expected messages, in order. Only when the
  steps wait for every echo (an `await` of messages, a `round_trips` step)
  before the server writes anything that could end the session first (a
  close frame, a frame that breaks the protocol, raw bytes, a shutdown):
  after that an echo races with the close or with the client failing the
  connection, and a missing echo proves nothing. A delivery that only the
  application could show is the scenario's point and cannot be judged: the
  scenario is skipped.
- `connected: false` becomes `upgraded: false`: a client that refused the
  opening handshake sent no WebSocket frame. `connected: true` needs a
  frame from the client (an awaited echo, or the reply to the server's
  close), which the other checks then demand.
- `close` (the code the application was told) leaves no trace on the wire
  and is not judged; the client's own close frame is (`client_close`).

Where the derivation is wrong for a scenario, the scenario declares its
echo-mode expectations in the top-level field `echo_mode`:
`{"expect": {...wire expectations...}}` (judged instead of the derived
ones), or `{"no": "why"}` (skipped, with that reason).

A scenario that needs the application's own behaviour — its read timing
(`recv_delay_ms`, `recv_pace_ms`), its own sends, closes, subprotocols or
message limit — cannot be reproduced by a driver and is skipped, never
judged wrongly. `judge_echo` then judges a plan's expectations with the
normal evaluation's checks, and the RFC rules on every client byte apply as
in every run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..contract import Scenario, Transcript
from . import evaluate, rules
from .evaluate import Check, Verdict
from .verdicts import RANK, SEVERITIES

__all__ = [
    "AUTOBAHN_BEHAVIOR",
    "ECHO_EXPECTATIONS",
    "UNIMPLEMENTED",
    "EchoPlan",
    "behavior",
    "echo_plan",
    "judge_echo",
]

#: Autobahn's behaviour word for each verdict (reports/clients/*.json).
AUTOBAHN_BEHAVIOR = {
    "pass": "OK",
    "non-strict": "NON-STRICT",
    "informational": "INFORMATIONAL",
    "fail": "FAILED",
    "error": "FAILED",
}
#: Autobahn's word for a case with no scenario, or one skipped in echo mode.
UNIMPLEMENTED = "UNIMPLEMENTED"

#: The expectations an echo-mode plan may hold (derived or declared), in the
#: order they are judged and reported: the transcript expectations of
#: `expect`, plus `upgraded` (true: the client took the connection; false:
#: it refused the handshake).
#: The expectations a plan takes from the scenario as they are: already about the wire.
WIRE_EXPECTATIONS = (
    "client_pong",
    "client_pongs",
    "round_trips",
    "fail_fast",
    "deflate",
    "tcp_closed_by",
    "close_clean",
)
ECHO_EXPECTATIONS = ("upgraded", "client_messages", "client_close", *WIRE_EXPECTATIONS)
#: The scenario expectation whose severity a declared echo expectation takes.
_SOURCE = {"upgraded": "connected"}
#: The order failing checks are listed in when equally severe.
_CHECK_ORDER = (*ECHO_EXPECTATIONS, "rfc", "echo_mode")

#: Close codes of a client failing the connection (RFC 6455 7.4.1: a protocol
#: error, bad data, a message too big; 1006 and None: it sent no close
#: frame); a scenario whose close codes all come from here expects it to. (A
#: server's own 1003 or 1011 is a code the client reports, not a failure.)
_FAILURE_CODES = frozenset({1002, 1006, 1007, 1009, None})
#: A message at least this large may be refused with 1009 (as in evaluate).
_LARGE_MESSAGE = 16 * 1024


@dataclass(frozen=True)
class EchoPlan:
    """What of a scenario is judged from the wire in echo mode.

    `expect`: the wire expectations, each judged like a scenario's (severity
    from `severities`). `source`: "derived" from the scenario's expectations
    or "declared" by its `echo_mode` field. `unjudged`: the scenario's own
    expectations that leave no trace on the wire, each with why. `offer`:
    what the driver's library must have offered for the scenario to mean
    what it says (permessage-deflate, from the `compression` knob); a
    driver that did not gets `error`, as an adapter that cannot honour a
    knob does.
    """

    expect: dict[str, Any]
    source: Literal["derived", "declared"]
    severities: dict[str, str] = field(default_factory=dict)
    unjudged: dict[str, str] = field(default_factory=dict)
    offer: str | dict[str, Any] = "default"

    def describe(self) -> str:
        """One line for a report: where the plan came from and what it leaves out."""
        text = f"echo mode: {self.source} from the scenario ({', '.join(self.expect)})"
        if self.source == "declared":
            text = f"echo mode: declared by the scenario ({', '.join(self.expect)})"
        if self.unjudged:
            left = "; ".join(f"{name}: {why}" for name, why in self.unjudged.items())
            text += f"; not judged from the wire: {left}"
        return text


# --------------------------------------------------------------- the plan


def echo_plan(scenario: Scenario) -> EchoPlan | str:
    """The wire expectations to judge `scenario` by in echo mode, or why it cannot be.

    A string is the reason the scenario is skipped in this mode (listed,
    never judged).
    """
    declared = scenario.get("echo_mode")
    if isinstance(declared, Mapping) and isinstance(declared.get("no"), str):
        return f"the scenario opts out of echo mode: {declared['no']}"
    if scenario.get("transport") == "wss":
        return "it runs only over TLS, and Autobahn drivers connect over ws://"
    # a driver cannot play an application's timing or its own moves, and a
    # declaration cannot make it: what such a scenario is about is not on the
    # wire of an echo-mode session
    knob_problem = _knob_problem(scenario)
    if knob_problem:
        return knob_problem
    offer = _offer_needed(scenario)
    if isinstance(declared, Mapping) and isinstance(declared.get("expect"), Mapping):
        return _declared(scenario, dict(declared["expect"]), offer)
    return _derive(scenario, offer)


def _declared(scenario: Scenario, expect: dict[str, Any], offer: str | dict[str, Any]) -> EchoPlan:
    severities = {name: _severity(scenario, _SOURCE.get(name, name)) for name in expect}
    covered = set(expect) | {_SOURCE.get(name, name) for name in expect}
    unjudged = {
        name: "not among the echo-mode expectations the scenario declares"
        for name in scenario.get("expect") or {}
        if name not in covered
    }
    ordered = {name: expect[name] for name in ECHO_EXPECTATIONS if name in expect}
    ordered |= expect  # an unknown name stays, for judge_echo to report
    return EchoPlan(ordered, "declared", severities, unjudged, offer)


def _knob_problem(scenario: Scenario) -> str | None:
    """Why a driver cannot play the application this scenario asks for, if it cannot."""
    client: Mapping[str, Any] = scenario.get("client") or {}
    if client.get("recv_delay_ms"):
        return "it needs the application's read timing (recv_delay_ms): a driver reads at once"
    if client.get("recv_pace_ms"):
        return "it needs the application's read timing (recv_pace_ms): a driver reads at once"
    if client.get("send"):
        return "the application sends messages of its own (send): a driver only echoes"
    if client.get("close_first"):
        return "the application closes the connection itself (close_first): a driver never does"
    if client.get("subprotocols"):
        return "the application offers subprotocols (subprotocols): a driver offers none"
    max_messages = client.get("max_messages")
    expected = evaluate.expand_messages(list((scenario.get("expect") or {}).get("messages") or []))
    if isinstance(max_messages, int) and max_messages < len(expected):
        return "the application stops receiving after max_messages: a driver never stops"
    return None


def _offer_needed(scenario: Scenario) -> str | dict[str, Any]:
    compression = (scenario.get("client") or {}).get("compression", "default")
    return compression if isinstance(compression, (str, dict)) else "default"


def _severity(scenario: Scenario, name: str) -> str:
    by_check: Mapping[str, Any] = scenario.get("severity_by_check") or {}
    return str(by_check.get(name) or scenario.get("severity") or "fail")


def _derive(scenario: Scenario, offer: str | dict[str, Any]) -> EchoPlan | str:
    expect: Mapping[str, Any] = scenario.get("expect") or {}
    echoing = bool((scenario.get("client") or {}).get("echo"))
    plan: dict[str, Any] = {}
    severities: dict[str, str] = {}
    unjudged: dict[str, str] = {}
    failing = _expects_failure(expect)

    def take(name: str, value: Any, source: str) -> None:
        plan[name] = value
        severities[name] = _severity(scenario, source)

    # the wire expectations as they are
    for name in WIRE_EXPECTATIONS:
        if name in expect:
            take(name, expect[name], name)
    if "client_messages" in expect:
        if not echoing:
            return "its client messages are the application's own (the scenario does not echo)"
        take("client_messages", expect["client_messages"], "client_messages")
    if "client_close" in expect:
        why = _client_close_problem(scenario, expect["client_close"], failing)
        if why:
            unjudged["client_close"] = why
        else:
            take("client_close", expect["client_close"], "client_close")

    # what the application saw, as far as the wire shows it
    if "messages" in expect:
        problem = _derive_echoes(scenario, expect, failing, take, unjudged)
        if problem:
            return problem
    if "connected" in expect:
        if expect["connected"] is False:
            take("upgraded", False, "connected")
        elif _client_must_send(plan):
            unjudged["connected"] = "judged through the frames the client had to send"
        else:
            return (
                "whether the client took the connection leaves no trace: "
                "no step makes it send a frame"
            )
    if "close" in expect:
        unjudged["close"] = "the close code the application was told leaves no trace on the wire"
    if not _positive(plan):
        left = ", ".join(unjudged) or "nothing"
        return f"nothing it expects shows on the wire ({left} not judged from the wire)"
    ordered = {name: plan[name] for name in ECHO_EXPECTATIONS if name in plan}
    return EchoPlan(ordered, "derived", severities, unjudged, offer)


def _close_codes(expect: Mapping[str, Any]) -> set[Any]:
    """Every close code `close` and `client_close` accept (None: no code, or no close)."""
    codes: set[Any] = set()
    for name in ("close", "client_close"):
        value = expect.get(name)
        if isinstance(value, Mapping) and "code" in value:
            code = value["code"]
            codes.update(code if isinstance(code, list) else [code])
    return codes


def _expects_failure(expect: Mapping[str, Any]) -> bool:
    """The client must fail the connection (or the server drops it): every close code
    expected is a failure's."""
    codes = _close_codes(expect)
    return bool(codes) and codes <= _FAILURE_CODES


def _server_writes(scenario: Scenario, key: str) -> bool:
    """Some write group of the steps holds an item with `key` (close, ping, …)."""
    for step in scenario.get("steps") or []:
        for item in step.get("write") or []:
            if isinstance(item, Mapping) and key in item:
                return True
    return False


def _client_close_problem(scenario: Scenario, expected: Any, failing: bool) -> str | None:
    """Why the client's close frame would be the application's, not the library's."""
    if expected is False or failing:
        return None  # no close frame at all, or the library failing the connection
    if _server_writes(scenario, "close"):
        return None  # the close frame answers the server's
    return (
        "with no close frame from the server, the client's close is the application's "
        "(a driver never closes by itself)"
    )


def _derive_echoes(
    scenario: Scenario,
    expect: Mapping[str, Any],
    failing: bool,
    take: Callable[[str, Any, str], None],
    unjudged: dict[str, str],
) -> str | None:
    """`messages` → the echoes the driver sends back; a reason if that cannot be judged."""
    entries = list(expect["messages"])
    wanted = evaluate.expand_messages(entries)
    if "client_messages" in expect:
        unjudged["messages"] = "judged through the scenario's own client_messages (the echoes)"
        return None
    if "round_trips" in expect and _round_trip_messages(scenario) >= len(wanted):
        unjudged["messages"] = "judged through round_trips (every echo came back)"
        return None
    awaited = min(_awaited_echoes(scenario, failing), len(wanted))
    if awaited < len(wanted):
        missing = len(wanted) - awaited
        race = (
            "the client failing the connection"
            if _close_codes(expect) & {1002, 1007, 1009}
            else "the close"
        )
        return (
            f"the delivery of {missing} of its {len(wanted)} messages shows only to the "
            f"application: the steps do not wait for their echo, which races with {race}"
        )
    take("client_messages", entries, "messages")
    return None


def _client_must_send(plan: Mapping[str, Any]) -> bool:
    """The plan demands a frame from the client (so it must have taken the connection)."""
    if plan.get("client_messages") or plan.get("round_trips") or plan.get("client_pongs"):
        return True
    close = plan.get("client_close")
    if close is not None and close is not False:
        return True
    pong = plan.get("client_pong")
    return pong is not None and pong is not False


def _positive(plan: Mapping[str, Any]) -> bool:
    """The plan judges something the client must do or must not, beyond sending no echo."""
    for name, value in plan.items():
        if name == "client_messages" and value == []:
            continue
        return True
    return False


# --- reading the steps: which echoes the server waits for


#: Write items that cannot end a session early: valid data frames and pings.
_PLAIN_DATA = {"text", "binary", "continuation"}
_PLAIN_OPTIONS = {"count", "fin", "pattern", "size", "hex", "base64", "compress", "fragment_size"}


def _plain_item(item: Mapping[str, Any], state: dict[str, Any], strict: bool) -> bool:
    """A write item after which a correct client has no reason to close or fail.

    `strict` (the client is expected to fail the connection somewhere):
    only valid data frames and pings, so that nothing before an awaited
    echo gives the client a reason to fail. Otherwise the scenario's own
    expectations say the client delivers what it is sent, odd frames
    included: only a close frame or raw bytes end the plain part.
    """
    if not isinstance(item, Mapping):
        return False
    if "handshake" in item:
        return not strict or (item["handshake"] == "accept" and len(item) == 1)
    kind = next((k for k in ("text", "binary", "continuation", "ping", "pong") if k in item), None)
    if kind is None:
        return False  # a close frame, raw bytes
    fin = item.get("fin", True) is not False
    if kind in ("ping", "pong"):
        # a control frame: at most 125 bytes, never fragmented
        small = len(str(item[kind]).encode()) <= 125
        return not strict or (set(item) <= {kind, "count"} and small)
    if strict and not _strictly_plain(kind, item, fin, state):
        return False
    if kind != "continuation":
        state["open"] = None if fin else kind
    elif fin:
        state["open"] = None
    if fin:
        state["messages"] = state.get("messages", 0) + int(item.get("count", 1))
    return True


def _strictly_plain(kind: str, item: Mapping[str, Any], fin: bool, state: dict[str, Any]) -> bool:
    """A valid data frame in its place: no options that break the protocol, valid UTF-8."""
    if not set(item) <= {kind} | _PLAIN_OPTIONS:
        return False
    if kind == "continuation":
        if not state.get("open") or ("hex" in item and state.get("open") == "text"):
            return False
    elif state.get("open"):
        return False  # a new message inside an unfinished one
    if kind == "text" and ("hex" in item or "base64" in item) and (not fin or not _utf8(item)):
        return False  # possibly invalid UTF-8, or a code point cut between frames
    if kind == "binary" and "hex" in item:
        try:
            bytes.fromhex(str(item["hex"]))
        except ValueError:
            return False
    return True


def _utf8(item: Mapping[str, Any]) -> bool:
    if "hex" not in item:
        return False
    try:
        bytes.fromhex(str(item["hex"])).decode("utf-8")
    except ValueError:
        return False
    return True


def _awaited_echoes(scenario: Scenario, strict: bool) -> int:
    """How many echoes the steps wait for before anything could end the session.

    Counted up to the first step that is not plain: a write of anything but
    valid data frames and pings (a close, a protocol violation, raw bytes),
    a shutdown, an abort. An `await` of messages counts what it waits for
    (at most the messages written so far); a `round_trips` step its trips.
    """
    state: dict[str, Any] = {"messages": 0, "open": None}
    awaited = 0
    for step in scenario.get("steps") or []:
        if "write" in step:
            if not all(_plain_item(item, state, strict) for item in step["write"]):
                break
        elif "await" in step:
            what = step["await"]
            if what == "messages":
                awaited = max(awaited, min(int(step.get("count", 1)), state["messages"]))
            elif what == "message":
                awaited = min(awaited + 1, state["messages"])
        elif "round_trips" in step:
            trips = step["round_trips"]
            message = trips.get("message") or {}
            if not _plain_item(message, {"messages": 0, "open": None}, strict):
                break
            count = int(trips.get("count", 1))
            state["messages"] += count
            awaited = state["messages"]
        elif "delay_ms" in step or "read" in step:
            continue
        else:
            break  # shutdown, abort, tls, echo: the session may end from here
    return awaited


def _round_trip_messages(scenario: Scenario) -> int:
    return sum(
        int((step.get("round_trips") or {}).get("count", 1))
        for step in scenario.get("steps") or []
        if "round_trips" in step
    )


# --------------------------------------------------------------- judging


def judge_echo(
    scenario: Scenario, transcript: Transcript | None, problem: str | None = None
) -> Verdict:
    """Judge one echo-mode session of `scenario` from its transcript alone.

    `problem` (the driver never connected, the transcript is missing, …)
    and anything else that keeps the checks from meaning something yield
    `error`, never `fail`, as in the normal evaluation.
    """
    if problem:
        return Verdict("error", _one_line(problem), [])
    plan = echo_plan(scenario)
    if isinstance(plan, str):
        return Verdict("error", f"the scenario is not judged in echo mode: {plan}", [])
    if transcript is None:
        return Verdict("error", "the server recorded no transcript for this session", [])
    dropped = transcript.get("events_dropped")
    if isinstance(dropped, int) and dropped > 0:
        return Verdict(
            "error",
            f"the server's transcript reached its event cap and dropped {dropped} events: "
            "what the client sent after them is unknown, so the wire cannot be judged",
            [],
        )
    plan_problem = _plan_problem(plan)
    if plan_problem:
        return Verdict("error", plan_problem, [])
    offered = offer_problem(plan, transcript)
    if offered:
        return Verdict("error", offered, [])  # callers that can say UNIMPLEMENTED ask first
    checks = [_run(name, plan, transcript) for name in plan.expect]
    _allow_size_refusal(checks, transcript)
    checks += evaluate.check_rules(scenario, _wire_observation(plan, transcript), transcript)
    checks.append(Check("echo_mode", True, "informational", plan.source, None, plan.describe()))
    return _judge(checks)


def _plan_problem(plan: EchoPlan) -> str | None:
    for name in plan.expect:
        if name not in ECHO_EXPECTATIONS:
            return f"the scenario's echo_mode expects {name!r}, which the harness cannot check"
        severity = plan.severities.get(name, "fail")
        if severity not in SEVERITIES:
            return f"the scenario gives {name!r} the unknown severity {severity!r}"
    return None


def _run(name: str, plan: EchoPlan, transcript: Transcript) -> Check:
    expected = plan.expect[name]
    severity = plan.severities.get(name, "fail")
    if name == "upgraded":
        return check_upgraded(bool(expected), transcript, severity)
    if name == "client_messages":
        return check_echoed(expected, transcript, severity)
    return evaluate._TRANSCRIPT_CHECKS[name](expected, transcript, severity)


def _client_frames(transcript: Transcript) -> list[dict]:
    return [
        e
        for e in transcript.get("events") or []
        if isinstance(e, dict) and e.get("type") == "frame" and e.get("dir") == "in"
    ]


def check_echoed(expected: list[dict], transcript: Transcript, severity: str) -> Check:
    """The client's data messages (its echoes), exactly these in order (`client_messages`)."""
    check = evaluate.check_client_messages(expected, transcript, severity)
    count = check.expected.get("count") if isinstance(check.expected, dict) else None
    if check.ok:
        check.detail = (
            f"the client echoed the {evaluate._plural(count, 'expected message')}"
            if count
            else "the client echoed no message, as expected"
        )
    else:
        check.detail = check.detail.replace("client to server: ", "the client's messages: ", 1)
    return check


#: Client frames only an open connection sends: data (an echo) and pongs. A
#: client that refuses the handshake may still send a close frame (RFC 6455
#: 7.1.7 asks for one once a connection is established; sending it anyway is
#: no sign the application got a connection).
_CONNECTION_OPCODES = (0, 1, 2, 10)


def _connection_frames(transcript: Transcript) -> list[dict]:
    return [f for f in _client_frames(transcript) if f.get("opcode") in _CONNECTION_OPCODES]


def check_upgraded(expected: bool, transcript: Transcript, severity: str) -> Check:
    """Did the client take the connection (send a data frame or a pong), or refuse it?

    `true`: any WebSocket frame from the client shows it took the 101;
    `false`: no data frame and no pong came (a close frame alone may follow
    a refusal).
    """
    frames = _client_frames(transcript)
    shown = _connection_frames(transcript) if not expected else frames
    took = bool(shown)
    ok = took == expected
    if took:
        first = shown[0]
        what = rules._OPCODES.get(int(first.get("opcode", -1)), f"opcode {first.get('opcode')}")
        detail = (
            f"the client took the connection: a {what} frame came from it "
            f"{rules.ms(first.get('t_us'))} ({evaluate._plural(len(frames), 'frame')} in all)"
        )
        if not expected:
            detail += ", although it must refuse the opening handshake"
    elif frames:
        detail = "the client sent only a close frame, no data and no pong: it refused the handshake"
    else:
        detail = "the client sent no WebSocket frame" + (
            ", as a client that refused the handshake does" if not expected else ""
        )
    return Check("upgraded", ok, severity, expected, len(frames), detail)


def _allow_size_refusal(checks: list[Check], transcript: Transcript) -> None:
    """A large message refused with close 1009 is allowed (RFC 6455 10.4), as in evaluate.

    The echo of a message the library refused cannot exist: that missing
    echo (and the ones after it) is recorded, not held against it.
    """
    sent = evaluate.client_close_frame(transcript)
    if not sent or sent.get("code") != 1009:
        return
    for check in checks:
        if check.ok or check.name != "client_messages":
            continue
        if not isinstance(check.expected, dict) or not isinstance(check.observed, dict):
            continue
        if check.observed.get("count", 0) >= check.expected.get("count", 0):
            continue  # nothing missing: a difference, not a refusal
        first_missing = check.expected.get("message") or {}
        size = first_missing.get("length") or len(evaluate.message_bytes(first_missing) or b"")
        if size >= _LARGE_MESSAGE:
            check.severity = "informational"
            check.detail = (
                f"the client refused a message of {size} bytes with close 1009, a size limit "
                f"RFC 6455 10.4 allows: {check.detail}"
            )


def offer_problem(plan: EchoPlan, transcript: Transcript | None) -> str | None:
    """The driver's library must have made the offer the scenario's `compression` asks for.

    A driver makes its library's default offer, which a scenario written for another
    offer cannot judge: Autobahn reports its deflate cases UNIMPLEMENTED for a client
    whose offer it cannot accept, and the Autobahn-compatible mode does the same.
    """
    if transcript is None:
        return None
    wanted = plan.offer
    if wanted == "default":
        return None
    event = next(
        (
            e
            for e in transcript.get("events") or []
            if isinstance(e, dict) and e.get("type") == "deflate"
        ),
        {},
    )
    offers = [o for o in event.get("offers") or [] if isinstance(o, dict) and "error" not in o]
    if wanted == "off":
        if offers:
            return (
                "the scenario needs a client that offers no permessage-deflate "
                "(compression off), and the driver's library offered it"
            )
        return None
    if not offers:
        return (
            "the scenario needs the library's permessage-deflate offer (compression "
            f"{_show_offer(wanted)}), and the driver offered none"
        )
    if isinstance(wanted, dict) and not any(_offer_matches(o, wanted) for o in offers):
        return (
            f"the scenario needs a permessage-deflate offer with {_show_offer(wanted)}, "
            f"and the driver offered {offers[0]}"
        )
    return None


def _offer_matches(offer: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    params = offer.get("params", offer)
    if not isinstance(params, Mapping):
        return False
    for key, value in wanted.items():
        if value is False:
            if key in params:
                return False
        elif value is True:
            if key not in params:
                return False
        elif params.get(key) != value:
            return False
    return True


def _show_offer(wanted: str | Mapping[str, Any]) -> str:
    if isinstance(wanted, str):
        return wanted
    return ", ".join(f"{key}={value}" for key, value in wanted.items())


def _wire_observation(plan: EchoPlan, transcript: Transcript) -> Any:
    """What the RFC rules read of an observation, as the wire tells it.

    A client that must refuse the handshake, and sent no data and no pong,
    refused it: it owes nothing (as `connected: false` in a normal run).
    There is no application and no final close() call to tell apart.
    """
    refused = plan.expect.get("upgraded") is False and not _connection_frames(transcript)
    return {"end": "closed", "connected": not refused, "messages": []}


def _judge(checks: list[Check]) -> Verdict:
    """Strictest failing severity wins; the reason leads with it (as evaluate's)."""
    failing = [c for c in checks if not c.ok]
    if not failing:
        parts = [c.detail for c in checks if c.name in ECHO_EXPECTATIONS]
        return Verdict("pass", ", and ".join(parts) or "the wire broke no rule", checks)
    failing.sort(key=lambda c: (-RANK[c.severity], _CHECK_ORDER.index(c.name)))
    verdict = failing[0].severity
    parts = []
    for check in failing:
        part = check.detail
        if check.severity != verdict:
            part += f" ({check.severity})"
        parts.append(part)
    return Verdict(verdict, "; ".join(parts), checks)


def behavior(verdict: str | None) -> str:
    """Autobahn's behaviour word for a verdict; None (no scenario, skipped): UNIMPLEMENTED."""
    if verdict is None:
        return UNIMPLEMENTED
    return AUTOBAHN_BEHAVIOR.get(verdict, "FAILED")


def _one_line(text: str) -> str:
    return " ".join(text.split())
