"""TEMPORARY STAND-IN for helper "echo"'s module (issue 15): replaced by theirs at merge.

Only the interface of /work/notes/ab15-interfaces.md, with a crude verdict
(the session ended complete and the client broke no frame rule), so that
the fuzzingserver session can be tested before the real module lands.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..contract import Scenario, Transcript
from .evaluate import Verdict

AUTOBAHN_BEHAVIOR = {
    "pass": "OK",
    "non-strict": "NON-STRICT",
    "informational": "INFORMATIONAL",
    "fail": "FAILED",
    "error": "FAILED",
}


@dataclass(frozen=True)
class EchoPlan:
    expect: dict
    source: str = "derived"

    def describe(self) -> str:
        return f"echo mode: {self.source} from the scenario ({', '.join(self.expect)})"


def echo_plan(scenario: Scenario) -> EchoPlan | str:
    if scenario["client"].get("recv_delay_ms"):
        return "needs the application's read timing (recv_delay_ms), which the wire does not show"
    return EchoPlan(dict(scenario["expect"]))


def judge_echo(
    scenario: Scenario, transcript: Transcript | None, problem: str | None = None
) -> Verdict:
    if transcript is None:
        return Verdict("fail", problem or "the client never connected")
    for event in transcript.get("events") or []:
        if event.get("type") == "protocol_error":
            return Verdict("fail", f"the client broke RFC 6455: {event.get('reason')}")
    if problem:
        return Verdict("fail", problem)
    return Verdict("pass", "stand-in: the session ended and the client broke no rule")
