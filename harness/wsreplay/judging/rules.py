"""RFC 6455's rules for a client, checked on every byte it sent, in every scenario.

A scenario's expectations say what the application should see; these rules
say what the client may put on the wire, whatever the scenario. They read
only the server's transcript (and, to tell the library's frames from the
adapter's final `close()`, the observation's clock and `close_call` events).

Each rule has a name (what a scenario's `waive` uses), its RFC section and a
severity from the RFC's words: MUST → `fail`, SHOULD → `non-strict`. A rule
whose severity is our reading rather than a plain MUST or SHOULD says so in
`policy` (scenarios/README.md lists them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..contract import Observation, Transcript


@dataclass(frozen=True)
class Rule:
    name: str
    rfc: str
    severity: str
    text: str
    policy: str = ""


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule("mask", "6455#5.1", "fail", "a client masks every frame it sends"),
        Rule(
            "rsv",
            "6455#5.2",
            "fail",
            "RSV bits stay clear unless an extension defines them: with permessage-deflate "
            "negotiated, RSV1 only on the first frame of a data message (7692#6.1)",
        ),
        Rule("opcode", "6455#5.2", "fail", "a client sends only defined opcodes"),
        Rule(
            "control-frame",
            "6455#5.5",
            "fail",
            "control frames carry at most 125 bytes and are never fragmented",
        ),
        Rule("length-form", "6455#5.2", "fail", "payload lengths use the minimal form"),
        Rule(
            "fragmentation",
            "6455#5.4",
            "fail",
            "continuation frames only inside a message, no new message inside one",
        ),
        Rule("utf8", "6455#8.1", "fail", "text messages are valid UTF-8"),
        Rule(
            "close-payload",
            "6455#7.4",
            "fail",
            "a close payload is empty, or a code allowed on the wire "
            "(1000-1003, 1007-1014, 3000-4999) with a UTF-8 reason",
        ),
        Rule(
            "close-reply",
            "6455#5.5.1",
            "fail",
            "a client that receives a close frame, not having sent one, sends one in response",
        ),
        Rule(
            "close-once",
            "6455#5.5.1",
            "non-strict",
            "a client sends one close frame",
            policy="RFC 6455 describes one close frame per endpoint (5.5.1, 7.1.2) "
            "but forbids a second in no MUST",
        ),
        Rule(
            "no-data-after-close",
            "6455#5.5.1",
            "fail",
            "no data frame after the client's close frame",
        ),
        Rule(
            "pong-payload",
            "6455#5.5.3",
            "fail",
            "a pong carries the application data of the ping it answers",
        ),
        Rule(
            "ping-answered",
            "6455#5.5.2",
            "fail",
            "a ping is answered with a pong before the client closes, unless a close came first",
        ),
        Rule(
            "fail-with-close",
            "6455#7.1.7",
            "non-strict",
            "a client that fails the connection sends a close frame with a fitting code "
            "(1002; 1007 for invalid UTF-8) before closing TCP",
        ),
        Rule(
            "server-closes-tcp",
            "6455#7.1.1",
            "non-strict",
            "after the close handshake the client leaves closing TCP to the server "
            "for a while (at least a second)",
        ),
        Rule(
            "deflate-stream",
            "7692#7.2.1",
            "fail",
            "every compressed client message inflates under the negotiated parameters "
            "(client_max_window_bits 7692#7.1.2.2, client_no_context_takeover 7692#7.1.1.2)",
        ),
        Rule(
            "wait-for-close-reply",
            "6455#5.5.1",
            "fail",
            "a client that sent the first close frame keeps TCP open until the server's "
            "close frame arrives, when the server answers within a second (unless its "
            "code fails the connection: 1002, 1003, 1007-1011, 7.1.7)",
            policy="5.5.1 has the endpoint close TCP 'after both sending and receiving' a "
            "close frame; we read dropping TCP before the reply as breaking that MUST",
        ),
    )
}


#: Close codes a frame may carry (RFC 6455 7.4.1, 7.4.2; 1012-1014 from the IANA registry).
def close_code_allowed(code: int) -> bool:
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


#: How long the server must wait, after a close event, before the client's
#: FIN (or silence) can be judged without depending on scheduling luck.
SETTLE_US = 20_000
#: A client that closed first may drop TCP if no reply came within this long;
#: after the close handshake it may close TCP itself after this long.
PATIENCE_US = 1_000_000

#: Server-side protocol errors on client bytes, by the transcript's name.
_PROTOCOL_ERRORS = {
    "unmasked": "mask",
    "rsv": "rsv",
    "reserved_opcode": "opcode",
    "control_too_long": "control-frame",
    "control_fragmented": "control-frame",
    "nonminimal_length": "length-form",
    "length_msb": "length-form",
    "bad_continuation": "fragmentation",
    "expected_continuation": "fragmentation",
    "deflate": "deflate-stream",
}

_OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


@dataclass
class Breach:
    """One rule broken, with the evidence a person needs."""

    rule: str
    severity: str
    rfc: str
    detail: str

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "rfc": self.rfc,
            "detail": self.detail,
        }


@dataclass
class _Frame:
    """A client frame, or a run of like data frames the server logged as one event.

    The server folds consecutive data frames with the same header (opcode, fin,
    rsv, masked, length) into one event with `count`, `t_us_last` and
    `offset_last` (server/README.md): the rules judge a header, so one verdict
    holds for every frame of the run, and the run is named by its range.
    """

    index: int  # 1-based, among the client's frames: the run's first
    event: dict

    @property
    def t(self) -> int:
        return int(self.event.get("t_us") or 0)

    @property
    def count(self) -> int:
        """How many frames the event stands for (1 unless it is a run)."""
        return max(1, int(self.event.get("count") or 1))

    @property
    def opcode(self) -> int:
        return int(self.event.get("opcode", -1))

    def describe(self) -> str:
        ev = self.event
        kind = _OPCODES.get(self.opcode, f"opcode {self.opcode}")
        where = f"client frame {self.index}"
        if "offset" in ev:
            where += f" at byte {ev['offset']}"
        if self.count > 1:
            last = self.index + self.count - 1
            where = f"client frames {self.index} to {last} ({self.count} alike"
            if "offset" in ev and "offset_last" in ev:
                where += f", at bytes {ev['offset']} to {ev['offset_last']}"
            where += ")"
        what = f"{kind} frame"
        if self.opcode == 8:
            what = _show_close_frame(ev)
        elif ev.get("hex"):
            what += f" (payload {_spaced(ev['hex'])})"
        elif isinstance(ev.get("text"), str):
            what += f" ({ev['text'][:40]!r})"
        return f"{where}, {what}, {ms(self.t)}"


@dataclass
class Wire:
    """The transcript read once: who sent what, when, and who closed TCP."""

    events: list[dict]
    client: list[_Frame] = field(default_factory=list)
    server_closes: list[dict] = field(default_factory=list)
    server_pings: list[dict] = field(default_factory=list)
    violation: dict | None = None
    protocol_error: dict | None = None
    bad_messages: list[dict] = field(default_factory=list)
    server_rst: int | None = None
    server_fin: int | None = None
    client_fin: int | None = None  # the earliest evidence of the client's FIN or RST
    client_reset: bool = False  # the client ended with an RST: it left data unread
    fin_before: list[dict] = field(default_factory=list)  # server events marked peer_fin
    adapter_close_us: int | None = None  # the adapter's final close(), on the server's clock
    refused: bool = False  # the library refused the opening handshake: no connection to close
    deflate: dict | None = None  # the deflate event: offers, answer, negotiated

    @classmethod
    def read(cls, transcript: Transcript, observation: Observation | None) -> Wire:
        events = [e for e in transcript.get("events") or [] if isinstance(e, dict)]
        wire = cls(events)
        for ev in events:
            wire._add(ev)
        client_us = (transcript.get("tcp_close") or {}).get("client_us")
        if isinstance(client_us, int):
            wire.client_fin = (
                client_us if wire.client_fin is None else min(wire.client_fin, client_us)
            )
        wire.adapter_close_us = _adapter_close_us(transcript, observation)
        wire.refused = observation is not None and observation.get("connected") is False
        return wire

    def _add(self, ev: dict) -> None:
        kind, direction, t = ev.get("type"), ev.get("dir"), int(ev.get("t_us") or 0)
        if kind == "frame" and direction == "in":
            after = self.client[-1].index + self.client[-1].count if self.client else 1
            self.client.append(_Frame(after, ev))
        elif kind == "frame" and direction == "out" and ev.get("opcode") == 8:
            self.server_closes.append(ev)
        elif kind == "frame" and direction == "out" and ev.get("opcode") == 9:
            self.server_pings.append(ev)
        elif kind == "deflate" and self.deflate is None:
            self.deflate = ev
        elif kind == "violation" and self.violation is None:
            self.violation = ev
        elif kind == "protocol_error" and direction == "in":
            self.protocol_error = ev
        elif kind == "message" and direction == "in" and ev.get("utf8_valid") is False:
            self.bad_messages.append(ev)
        elif kind == "tcp_rst" and self.server_rst is None:
            self.server_rst = t
        elif kind in ("tcp_shutdown", "tls_close_notify") and self.server_fin is None:
            self.server_fin = t  # over TLS, close_notify is the server closing
        elif kind in ("tcp_eof", "tcp_error") and direction == "in":
            self.client_fin = t if self.client_fin is None else min(self.client_fin, t)
            self.client_reset = self.client_reset or kind == "tcp_error"
        if ev.get("peer_fin"):
            self.fin_before.append(ev)
            self.client_fin = t if self.client_fin is None else min(self.client_fin, t)

    @property
    def negotiated_deflate(self) -> bool:
        """permessage-deflate was in effect (the 101 the server sent answered it)."""
        return self.deflate is not None and self.deflate.get("negotiated") is not None

    def client_closes(self) -> list[_Frame]:
        return [f for f in self.client if f.opcode == 8]

    def server_close_end(self) -> int | None:
        """When the server closed TCP (FIN or RST), if it did."""
        ends = [t for t in (self.server_fin, self.server_rst) if t is not None]
        return min(ends) if ends else None


def check(
    transcript: Transcript, observation: Observation | None = None, waive: dict | None = None
) -> list[Breach]:
    """Every rule broken by the client in this transcript, in rule order, waivers applied."""
    wire = Wire.read(transcript, observation)
    breaches: list[Breach] = []
    for rule_name, judge in _JUDGES:
        if waive and rule_name in waive:
            continue
        for detail in judge(wire):
            rule = RULES[rule_name]
            breaches.append(Breach(rule.name, rule.severity, rule.rfc, detail))
    return breaches


def unknown_waivers(waive: dict | None) -> list[str]:
    return sorted(set(waive or {}) - set(RULES))


# --------------------------------------------------------------- framing


def _protocol_error(wire: Wire, rule: str) -> list[str]:
    ev = wire.protocol_error
    if not ev or _PROTOCOL_ERRORS.get(str(ev.get("error"))) != rule:
        return []
    where = f"the client frame at byte {ev['offset']}" if "offset" in ev else "a client frame"
    bytes_ = f" (bytes {_spaced(ev['hex'])})" if ev.get("hex") else ""
    return [
        f"{where}{bytes_}: {ev.get('reason')}; the server stopped reading, {ms(ev.get('t_us'))}"
    ]


def _judge_mask(wire: Wire) -> list[str]:
    found = [f"{f.describe()}: not masked" for f in wire.client if f.event.get("masked") is False]
    return found + _protocol_error(wire, "mask")


def _rsv_wrong(frame: _Frame, deflate: bool) -> str:
    """Why the frame's RSV bits are not allowed, or "" (RFC 6455 5.2, RFC 7692 6.1)."""
    rsv = int(frame.event.get("rsv") or 0)
    if not rsv:
        return ""
    if not deflate:
        return f"RSV bits {rsv} with no extension negotiated"
    if rsv & 3:
        return f"RSV bits {rsv}: permessage-deflate defines RSV1 only"
    if frame.opcode not in (1, 2):
        return "RSV1 on a continuation or control frame"
    return ""


def _judge_rsv(wire: Wire) -> list[str]:
    deflate = wire.negotiated_deflate
    found = [f"{f.describe()}: {why}" for f in wire.client if (why := _rsv_wrong(f, deflate))]
    return found + _protocol_error(wire, "rsv")


def _simple(rule: str):
    return lambda wire: _protocol_error(wire, rule)


def _judge_utf8(wire: Wire) -> list[str]:
    return [
        f"a text message of {ev.get('length')} bytes is not valid UTF-8"
        + (f" (starts {_spaced(ev['hex'][:32])})" if ev.get("hex") else "")
        + f", {ms(ev.get('t_us'))}"
        for ev in wire.bad_messages
    ]


def _judge_close_payload(wire: Wire) -> list[str]:
    found = []
    for frame in wire.client_closes():
        ev = frame.event
        length = int(ev.get("length") or 0)
        code = ev.get("close_code")
        if length == 1:
            found.append(f"{frame.describe()}: a 1-byte close payload (a code needs 2)")
        elif code is not None and not close_code_allowed(int(code)):
            found.append(f"{frame.describe()}: code {code} may not be sent")
        elif length > 2 and ev.get("close_reason") is None:
            found.append(f"{frame.describe()}: the reason is not valid UTF-8")
    return found


# --------------------------------------------------------------- close handshake


def _library_frames(wire: Wire, after: int) -> list[_Frame]:
    """Client frames sent after `after` that the library sent itself.

    When the library never told the application that the connection ended
    (the adapter's receive loop timed out), a frame that left only after
    the adapter's own final close() call is the application closing, not
    the library answering. Otherwise the two are a few microseconds apart
    and the wire cannot tell them apart: the frame counts as the library's.
    """
    frames = [f for f in wire.client if f.t >= after]
    cutoff = wire.adapter_close_us
    if cutoff is None:
        return frames
    return [f for f in frames if f.t < cutoff]


def _server_close_is_valid(ev: dict) -> bool:
    length = int(ev.get("length") or 0)
    code = ev.get("close_code")
    if length == 1 or length > 125 or not ev.get("fin", True) or ev.get("rsv"):
        return False
    if code is not None and not close_code_allowed(int(code)):
        return False
    return not (length > 2 and ev.get("close_reason") is None)


def _judge_close_reply(wire: Wire) -> list[str]:
    if not wire.server_closes or wire.refused:
        return []
    close = wire.server_closes[0]
    t = int(close.get("t_us") or 0)
    if any(f.t < t for f in wire.client_closes()):
        return []  # the client closed first: the server's close is the reply
    if not _server_close_is_valid(close) or _violation_at_or_before(wire, close):
        return []  # the client must fail the connection instead (fail-with-close)
    if wire.server_rst is not None and wire.server_rst >= t:
        return []  # the server's RST may have destroyed the close before it was read
    if wire.client_fin is not None and wire.client_fin <= t:
        return []  # the client had closed TCP before the close went out
    if wire.client_reset:
        return []  # an RST means unread data: the close may never have been read
    if not wire.events or wire.events[-1].get("type") != "closed":
        return []  # the transcript was cut: the reply may still have come
    replies = [f for f in _library_frames(wire, t) if f.opcode == 8]
    if replies:
        return []
    shown = _show_close_frame(close)
    late = [f for f in wire.client_closes() if f.t >= t]
    if late:
        return [
            f"the server's {shown} ({ms(t)}) was answered only by the application's own "
            f"close() call, {ms(late[0].t - t, 'later')}"
        ]
    how = "the client closed TCP without one" if wire.client_fin is not None else "none came"
    return [f"the server's {shown} ({ms(t)}) was never answered with a close frame; {how}"]


def _judge_close_once(wire: Wire) -> list[str]:
    closes = wire.client_closes()
    return [
        f"{f.describe()}: a second close frame (the first was frame {closes[0].index})"
        for f in closes[1:]
    ]


def _judge_no_data_after_close(wire: Wire) -> list[str]:
    closes = wire.client_closes()
    if not closes:
        return []
    first = closes[0]
    return [
        f"{f.describe()}: a data frame after the client's close frame (frame {first.index})"
        for f in wire.client
        if f.index > first.index and f.opcode in (0, 1, 2)
    ]


# --------------------------------------------------------------- ping and pong


def _judge_pings(wire: Wire) -> tuple[list[str], list[str]]:
    """(pong-payload breaches, ping-answered breaches), walking the wire in time order."""
    wrong, unanswered = [], []
    outstanding: list[dict] = []
    pings = iter(sorted(wire.server_pings, key=lambda e: int(e.get("t_us") or 0)))
    pending = next(pings, None)
    for frame in wire.client:
        while pending is not None and int(pending.get("t_us") or 0) <= frame.t:
            outstanding.append(pending)
            pending = next(pings, None)
        if frame.opcode == 10 and outstanding:
            payload = frame.event.get("hex") or ""
            matches = [i for i, p in enumerate(outstanding) if (p.get("hex") or "") == payload]
            if matches:
                del outstanding[: matches[-1] + 1]
            else:
                want = outstanding[-1].get("hex") or ""
                wrong.append(
                    f"{frame.describe()}: pong payload {_spaced(payload) or '(empty)'}, "
                    f"the ping carried {_spaced(want) or '(empty)'}"
                )
                outstanding.clear()
        elif frame.opcode == 8 and outstanding:
            unanswered.extend(_unanswered(wire, outstanding, frame.t, f"{frame.describe()}"))
            outstanding.clear()
    if outstanding and wire.client_fin is not None:
        unanswered.extend(_unanswered(wire, outstanding, wire.client_fin, "the client's FIN"))
    return wrong, unanswered


def _unanswered(wire: Wire, pings: list[dict], until: int, what: str) -> list[str]:
    first = int(pings[0].get("t_us") or 0)
    if wire.refused or _violation_before(wire, until):
        return []  # no connection, or one the client had to fail (an invalid ping, say)
    if any(first <= int(c.get("t_us") or 0) <= until for c in wire.server_closes):
        return []  # a close came after the ping: the client may skip the pong
    if wire.server_rst is not None and wire.server_rst <= until:
        return []
    shown = _spaced(pings[0].get("hex") or "") or "(empty)"
    return [f"the server's ping ({shown}, {ms(first)}) got no pong before {what}"]


def closed_cleanly(transcript: Transcript) -> tuple[bool | None, str]:
    """RFC 6455 7.1.4: was TCP closed after the closing handshake completed? With the why.

    None when the server's own close frame was invalid: the client had to
    fail the connection, and whether that "completes" a handshake the RFC
    does not say.
    """
    wire = Wire.read(transcript, None)
    client, server = wire.client_closes(), wire.server_closes
    if server and not _server_close_is_valid(server[0]):
        return None, "the server's close frame was invalid"
    if server and _data_after(wire, server[0]):
        return None, "the server sent data after its close frame"
    if not server:
        return False, "no close frame came from the server"
    if not client:
        return False, "the client sent no close frame"
    server_t = int(server[0].get("t_us") or 0)
    if wire.server_rst is not None:
        return False, f"the server reset the connection {ms(wire.server_rst)}"
    if client[0].t < server_t and wire.client_fin is not None and wire.client_fin < server_t:
        return False, "the client closed TCP before the server's close frame went out"
    return True, "the closing handshake completed (close frames both ways) before TCP closed"


def tcp_close_facts(transcript: Transcript) -> dict[str, Any]:
    """Who closed TCP first and what had passed by then: the server's `tcp_close`.

    `first` ("client", "server" or None), `clean` (close frames both ways
    before TCP was first closed: Autobahn's wasClean), `dropped_by_me`
    (the server closed first: Autobahn's droppedByMe), `close_sent`,
    `close_received`, `frames_in`/`frames_out` and the opcodes `last_in`/
    `last_out` of the frames each way before then.
    """
    facts = dict(transcript.get("tcp_close") or {})
    facts["dropped_by_me"] = facts.get("first") == "server"
    facts.setdefault("clean", False)
    return facts


_OPCODE_NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def describe_tcp_close(facts: dict[str, Any]) -> str:
    """`after 3 client frames (the last a close) and 2 server frames (the last a close)`."""
    if "frames_in" not in facts:
        return ""

    def side(count: Any, last: Any, who: str) -> str:
        if not count:
            return f"no {who} frame"
        name = _OPCODE_NAMES.get(last, f"opcode {last}")
        noun = f"{who} frame" if count == 1 else f"{who} frames"
        return f"{count} {noun} (the last a {name})"

    return (
        f"after {side(facts.get('frames_in'), facts.get('last_in'), 'client')} and "
        f"{side(facts.get('frames_out'), facts.get('last_out'), 'server')}"
    )


#: Close codes that say the client is failing the connection, objecting to what it
#: received (6455 7.4.1): a protocol error, unacceptable data, invalid payload, a policy
#: or size limit, a missing extension, an internal error.
FAILING_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010, 1011})


def rejected_server_close(transcript: Transcript) -> tuple[dict, int] | None:
    """(the server's valid close, the client's objecting code) if the client rejected it.

    A valid close frame from the server, no violation before it, answered by
    a close frame whose code objects to it (1002 and the like): the library
    treated a good close as an error.
    """
    wire = Wire.read(transcript, None)
    if not wire.server_closes:
        return None
    close = wire.server_closes[0]
    if not _server_close_is_valid(close) or _violation_at_or_before(wire, close):
        return None
    t = int(close.get("t_us") or 0)
    if any(f.t < t for f in wire.client_closes()):
        return None  # the client closed first: the server's close is a reply
    answers = [f for f in wire.client_closes() if f.t >= t]
    code = answers[0].event.get("close_code") if answers else None
    return (close, int(code)) if code in FAILING_CODES else None


def _data_after(wire: Wire, close: dict) -> bool:
    """Did the server send a data frame after its close (5.5.1 forbids it)?"""
    after = int(close.get("offset", -1))
    return any(
        e.get("type") == "frame"
        and e.get("dir") == "out"
        and e.get("opcode") in (0, 1, 2)
        and int(e.get("offset", -1)) > after >= 0
        for e in wire.events
    )


def close_codes_on_wire(transcript: Transcript) -> list[int | None]:
    """The codes of every close frame on the wire, either way (None: an empty one)."""
    wire = Wire.read(transcript, None)
    codes = [e.get("close_code") for e in wire.server_closes]
    return codes + [f.event.get("close_code") for f in wire.client_closes()]


# --------------------------------------------------------------- failing and closing TCP


def _fitting_codes(violation: dict) -> tuple[int, ...] | None:
    """The close codes that fit failing on this violation; None: any code does."""
    error = violation.get("error")
    if error == "masked":
        return None  # 5.1: the client MUST close, and MAY use 1002
    if error == "invalid_utf8":
        return (1007, 1002) if violation.get("opcode") == 8 else (1007,)
    if error == "length_msb":
        return (1002, 1009)  # a length past 2^63 is also "too big to process"
    if error == "deflate":
        return (1002, 1007)  # 7692 names no code: a framing error, or bad data
    return (1002,)


def _violation_before(wire: Wire, t: int) -> bool:
    """Had the server broken the protocol by time `t` (a client frame's arrival)?

    The violation is logged once its frame is whole on the wire (the check
    judges whole frames), but a client may fail on the header alone: when
    the frame leaves in pieces (a split, `--vary every-byte`) that is much
    earlier. So the offending frame's own event (logged as its write group
    was built, at its first piece) counts as the time, when it is earlier.
    """
    v = wire.violation
    if v is None:
        return False
    when = int(v.get("t_us") or 0)
    offset = v.get("offset")
    for ev in wire.events:
        if ev.get("type") != "frame" or ev.get("dir") != "out" or not isinstance(offset, int):
            continue
        if ev.get("offset") == offset:
            when = min(when, int(ev.get("t_us") or 0))
            break
        first, last = ev.get("offset"), ev.get("offset_last")
        if isinstance(first, int) and isinstance(last, int) and first < offset <= last:
            # inside a run of like frames: logged by t_us_last at the latest
            when = min(when, int(ev.get("t_us_last") or ev.get("t_us") or 0))
            break
    return when <= t


def _violation_at_or_before(wire: Wire, frame: dict) -> bool:
    """Does the server's stream break the protocol at or before this frame of its own?

    Frames are logged when their write group is built, the violation when
    the bytes leave, so stream offsets order them, not times.
    """
    v = wire.violation
    if v is None:
        return False
    if "offset" in v and "offset" in frame:
        return int(v["offset"]) <= int(frame["offset"])
    return int(v.get("t_us") or 0) <= int(frame.get("t_us") or 0)


def _judge_fail_with_close(wire: Wire) -> list[str]:
    """Judged only when the client did fail the connection: it closed first, or dropped TCP.

    A client that accepted the bad frame and later answered the server's own
    close has not failed anything here; whether it had to is the scenario's
    expectation to judge.
    """
    v = wire.violation
    if v is None or wire.refused:
        return []
    t = int(v.get("t_us") or 0)
    if any(f.t < t for f in wire.client_closes()):
        return []  # the client had already closed
    fits = _fitting_codes(v)
    what = f"the server's {v.get('reason')} (byte {v.get('offset')} of its frames, {ms(t)})"
    later_server_closes = [int(c.get("t_us") or 0) for c in wire.server_closes]
    answered_by = min([c for c in later_server_closes if c > t], default=None)
    replies = [
        f
        for f in _library_frames(wire, t)
        if f.opcode == 8 and (answered_by is None or f.t < answered_by)
    ]
    if not replies and any(f.opcode == 8 for f in wire.client if f.t >= t):
        return []  # its close answered the server's: it did not fail the connection
    if replies and v.get("opcode") == 8:
        return []  # an answer to an invalid close: close-payload judges what it carries
    if replies:
        code = replies[0].event.get("close_code")
        if fits is None or code in fits:
            return []
        shown = "an empty close frame" if code is None else f"close {code}"
        return [f"after {what} the client sent {shown}; {' or '.join(map(str, fits))} fits"]
    if wire.client_fin is not None and wire.client_fin >= t:
        end = wire.server_close_end()
        if end is not None and end <= wire.client_fin:
            return []  # the server closed TCP first: nothing to judge
        return [f"after {what} the client closed TCP without a close frame"]
    return []


def _close_handshake_done(wire: Wire) -> int | None:
    """When both close frames had been exchanged, if they were."""
    client = wire.client_closes()
    if not client or not wire.server_closes:
        return None
    return max(client[0].t, int(wire.server_closes[0].get("t_us") or 0))


def _judge_server_closes_tcp(wire: Wire) -> list[str]:
    done = _close_handshake_done(wire)
    server_end = wire.server_close_end()
    if done is None or server_end is None or wire.client_fin is None:
        return []
    if wire.client_closes()[0].t < int(wire.server_closes[0].get("t_us") or 0):
        return []  # the client closed first: wait-for-close-reply judges that side
    close = wire.server_closes[0]
    if not _server_close_is_valid(close) or _violation_at_or_before(wire, close):
        return []  # no close handshake: the client fails the connection (7.1.7)
    if server_end - done < SETTLE_US:
        return []  # the server closed at once: who was first is scheduling luck
    if not _scripted_wait(wire, done, server_end):
        # the server lagged without being told to (a loaded machine, another session's
        # group deflated on the loop): who was first is luck again (node-ws on an
        # Autobahn 12.4 case was non-strict once this way, with an 80 ms lag)
        return []
    if wire.client_fin < server_end and wire.client_fin - done < PATIENCE_US:
        return [
            f"the client closed TCP {ms(wire.client_fin - done, 'after')} the close handshake, "
            f"before the server did ({ms(server_end - done, 'after')})"
        ]
    return []


def _scripted_wait(wire: Wire, start: int, end: int) -> bool:
    """A step that waits on purpose (delay, await) began between start and end."""
    return any(
        ev.get("type") == "step"
        and ev.get("step") in ("delay", "await", "read")
        and start <= int(ev.get("t_us") or 0) <= end
        for ev in wire.events
    )


def _judge_wait_for_close_reply(wire: Wire) -> list[str]:
    closes = wire.client_closes()
    if not closes or wire.client_fin is None:
        return []
    first = closes[0]
    if first.event.get("close_code") in FAILING_CODES:
        # it failed the connection: 7.1.7 lets it close TCP at once (node-ws refusing
        # 65,536 fragments with 1008 closed TCP 23 ms later, before or after the reply)
        return []
    replies = [c for c in wire.server_closes if int(c.get("t_us") or 0) >= first.t]
    if not replies:
        return []  # the server never answered: the client may close after a wait
    reply_t = int(replies[0].get("t_us") or 0)
    if reply_t - first.t < SETTLE_US or reply_t - first.t > PATIENCE_US:
        return []  # too quick to judge without luck, or too slow to wait for
    if wire.client_fin > reply_t:
        return []
    return [
        f"the client sent its close frame ({first.describe()}) and closed TCP "
        f"{ms(wire.client_fin - first.t, 'later')}, before the server's close reply "
        f"went out {ms(reply_t - first.t, 'after')} its close"
    ]


_JUDGES = (
    ("mask", _judge_mask),
    ("rsv", _judge_rsv),
    ("opcode", _simple("opcode")),
    ("control-frame", _simple("control-frame")),
    ("length-form", _simple("length-form")),
    ("fragmentation", _simple("fragmentation")),
    ("utf8", _judge_utf8),
    ("close-payload", _judge_close_payload),
    ("close-reply", _judge_close_reply),
    ("close-once", _judge_close_once),
    ("no-data-after-close", _judge_no_data_after_close),
    ("pong-payload", lambda wire: _judge_pings(wire)[0]),
    ("ping-answered", lambda wire: _judge_pings(wire)[1]),
    ("fail-with-close", _judge_fail_with_close),
    ("server-closes-tcp", _judge_server_closes_tcp),
    ("deflate-stream", _simple("deflate-stream")),
    ("wait-for-close-reply", _judge_wait_for_close_reply),
)
assert [name for name, _ in _JUDGES] == list(RULES)


# --------------------------------------------------------------- clocks and wording


def _adapter_close_us(transcript: Transcript, observation: Observation | None) -> int | None:
    """The adapter's final close() call, on the transcript's clock.

    Only when the receive loop gave up waiting (`end: timeout`) and both
    clocks are known; see _library_frames.
    """
    if not observation or observation.get("end") != "timeout":
        return None
    t0 = observation.get("t0_unix_us")
    started = _unix_us(transcript.get("started"))
    if not isinstance(t0, int) or started is None:
        return None
    for ev in observation.get("events") or []:
        if isinstance(ev, dict) and ev.get("event") == "close_call" and ev.get("why") == "end":
            return t0 + int(float(ev.get("t_ms") or 0) * 1000) - started
    return None


def _unix_us(stamp: Any) -> int | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1_000_000)


def _show_close_frame(ev: dict) -> str:
    code = ev.get("close_code")
    if code is None:
        return (
            "empty close frame"
            if not ev.get("length")
            else f"close frame (payload {_spaced(ev.get('hex') or '')})"
        )
    reason = ev.get("close_reason")
    return f"close {code}" + (f" {reason!r}" if reason else "")


def _spaced(hexed: str) -> str:
    """`88 02 03 e8`: bytes as a person reads them."""
    pairs = [hexed[i : i + 2] for i in range(0, min(len(hexed), 64), 2)]
    return " ".join(pairs) + (" …" if len(hexed) > 64 else "")


def ms(t_us: Any, word: str = "") -> str:
    """`at 12.3 ms` (a transcript time) or `12.3 ms later` (with a word)."""
    value = int(t_us or 0) / 1000
    shown = f"{value:.1f} ms"
    return f"{shown} {word}" if word else f"at {shown}"
