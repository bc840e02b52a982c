"""The reports of the Autobahn-compatible mode, in both forms.

- Autobahn's layout (autobahntestsuite/fuzzing.py, createMasterReportJSON and
  createAgentCaseReportJSON, read for the layout): `<outdir>/index.json` =
  {agent: {case id: {behavior, behaviorClose, duration, remoteCloseCode,
  reportfile}}} and one `<agent>_case_<id with . as _>.json` per case played,
  with Autobahn's field names, the agent cleaned for a file name as Autobahn
  does (lower case, runs of other characters as `_`). Filled from the server's
  transcript; what the transcript cannot tell is null (docs/autobahn.md,
  "Autobahn-compatible mode", lists each field).
- wsreplay's own (report.json, junit.xml, summary.md, report.html through
  `outputs.write_all`), with the agent as the client.

Every file is written atomically (outputs.report.write_text_atomic).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..contract import Scenario, Transcript
from ..judging.echo import AUTOBAHN_BEHAVIOR, EchoPlan, echo_plan
from ..judging.evaluate import Verdict
from ..outputs import write_all
from ..outputs.report import (
    add_client,
    add_result,
    add_scenario,
    finish,
    make_record,
    write_text_atomic,
)
from ..outputs.report import new_report as new_wsreplay_report
from .cases import CaseEntry

#: Autobahn's behaviour words.
BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")
UNIMPLEMENTED = "UNIMPLEMENTED"
INDEX_NAME = "index.json"
#: Every field of an Autobahn case report, in Autobahn's order of writing them.
CASE_FIELDS = (
    "agent",
    "behavior",
    "behaviorClose",
    "case",
    "closedByMe",
    "createStats",
    "createWirelog",
    "description",
    "droppedByMe",
    "duration",
    "expectation",
    "expected",
    "expectedClose",
    "failedByMe",
    "httpRequest",
    "httpResponse",
    "id",
    "isServer",
    "localCloseCode",
    "localCloseReason",
    "received",
    "remoteCloseCode",
    "remoteCloseReason",
    "reportCompressionRatio",
    "reportTime",
    "result",
    "resultClose",
    "rxFrameStats",
    "rxOctetStats",
    "started",
    "trafficStats",
    "txFrameStats",
    "txOctetStats",
    "wasClean",
    "wasCloseHandshakeTimeout",
    "wasNotCleanReason",
    "wasOpenHandshakeTimeout",
    "wasServerConnectionDropTimeout",
    "wirelog",
)
INDEX_FIELDS = ("behavior", "behaviorClose", "duration", "remoteCloseCode", "reportfile")
#: The adapter name wsreplay's report gives an agent (a client it did not start).
AGENT_ADAPTER = "autobahn-driver"


@dataclass
class CaseResult:
    """One case an agent started, and (once judged) its verdict."""

    entry: CaseEntry
    agent: str
    #: the run id its connection was tagged with; None when nothing was played
    run: str | None
    #: when its runCase arrived (utc_now's form)
    started: str
    duration_ms: float = 0.0
    verdict: Verdict | None = None
    #: why echo_plan refused the scenario (then nothing was played)
    skipped: str | None = None
    transcript: Transcript | None = None

    @property
    def behavior(self) -> str:
        if self.entry.scenario is None or self.skipped is not None:
            return UNIMPLEMENTED
        if self.verdict is None:
            return "FAILED"
        return AUTOBAHN_BEHAVIOR.get(self.verdict.verdict, "FAILED")

    @property
    def reason(self) -> str:
        if self.entry.scenario is None:
            return "no wsreplay scenario reproduces this Autobahn case (docs/autobahn.md says why)"
        if self.skipped is not None:
            return f"not judged in the Autobahn-compatible mode: {self.skipped}"
        if self.verdict is None:
            return "not judged: the reports were written while the case was still running"
        return self.verdict.reason


# ------------------------------------------------------------------ Autobahn's layout


def clean_for_filename(text: str) -> str:
    """Autobahn's cleanForFilename: lower case, other characters as `_`."""
    kept = "".join(c if c in "abcdefghijklmnopqrstuvwxyz0123456789" else " " for c in text.lower())
    return "_".join(kept.split())


def report_filename(agent: str, case_id: str) -> str:
    return f"{clean_for_filename(agent)}_case_{case_id.replace('.', '_')}.json"


def autobahn_time(stamp: str) -> str:
    """utc_now's microseconds as Autobahn's milliseconds: 2026-12-08T00:01:02.345Z."""
    return stamp[:23] + "Z" if len(stamp) >= 23 else stamp


def _frames(transcript: Transcript, direction: str) -> list[dict]:
    return [
        e
        for e in transcript.get("events") or []
        if isinstance(e, dict) and e.get("type") == "frame" and e.get("dir") == direction
    ]


def _first_close(frames: list[dict]) -> dict | None:
    return next((f for f in frames if f.get("opcode") == 8), None)


def _count(values: Iterable[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[str(value)] = out.get(str(value), 0) + 1
    return out


def _payload(frame: dict) -> str:
    if "text" in frame:
        return str(frame["text"])
    return str(frame.get("hex", ""))


def _wirelog(transcript: Transcript) -> list[list[Any]]:
    """Autobahn's wire log from the transcript: RF/TF frames, TO writes."""
    log: list[list[Any]] = []
    for e in transcript.get("events") or []:
        if not isinstance(e, dict):
            continue
        kind, direction = e.get("type"), e.get("dir")
        if kind == "frame" and direction == "in":
            header = [e.get("opcode"), e.get("fin"), e.get("rsv")]
            log.append(["RF", _payload(e), *header, e.get("masked"), None])
        elif kind == "frame" and direction == "out":
            header = [e.get("opcode"), e.get("fin"), e.get("rsv")]
            # mask, repeat length, chop size, sync: Autobahn's own sending options
            log.append(["TF", _payload(e), *header, None, None, None, False])
        elif kind == "write":
            log.append(["TO", e.get("hex", ""), False])
    return log


def _http_request(transcript: Transcript) -> str | None:
    for e in transcript.get("events") or []:
        if isinstance(e, dict) and e.get("type") == "http_request":
            headers = e.get("headers")
            if not isinstance(headers, list):
                return None
            lines = [f"{e.get('method', 'GET')} {e.get('target', '')} HTTP/1.1"]
            lines += [f"{pair[0]}: {pair[1]}" for pair in headers if len(pair) == 2]
            return "\r\n".join(lines) + "\r\n\r\n"
    return None


def _received(transcript: Transcript) -> list[list[Any]]:
    """Autobahn's `received`: the client's messages and pongs, in order."""
    out: list[list[Any]] = []
    for e in transcript.get("events") or []:
        if not isinstance(e, dict) or e.get("dir") != "in":
            continue
        if e.get("type") == "message":
            content = e.get("text", e.get("hex", e.get("sha256", "")))
            out.append(["message", content, e.get("opcode") == 2])
        elif e.get("type") == "frame" and e.get("opcode") == 10:
            out.append(["pong", _payload(e)])
    return out


def _close_facts(transcript: Transcript | None) -> dict[str, Any]:
    """The closing-behaviour fields, from the transcript; null where it has nothing."""
    unknown: dict[str, Any] = {
        "closedByMe": None,
        "droppedByMe": None,
        "failedByMe": None,
        "localCloseCode": None,
        "localCloseReason": None,
        "remoteCloseCode": None,
        "remoteCloseReason": None,
        "wasClean": None,
        "wasNotCleanReason": None,
        "wasCloseHandshakeTimeout": None,
    }
    if transcript is None:
        return unknown
    sent, got = _first_close(_frames(transcript, "out")), _first_close(_frames(transcript, "in"))
    tcp = transcript.get("tcp_close") or {}
    end = transcript.get("end") or {}
    clean = tcp.get("clean") if isinstance(tcp, dict) else None
    events = [e for e in transcript.get("events") or [] if isinstance(e, dict)]
    close_timeout = any(
        e.get("type") == "await_done" and e.get("what") == "close" and e.get("result") == "timeout"
        for e in events
    )
    return {
        # the server sent its close frame before the client's arrived
        "closedByMe": sent is not None
        and (got is None or sent.get("t_us", 0) <= got.get("t_us", 0)),
        "droppedByMe": tcp.get("first") == "server" if isinstance(tcp, dict) else None,
        # the server never fails a connection on its own: it plays its steps
        "failedByMe": False,
        "localCloseCode": sent.get("close_code") if sent else None,
        "localCloseReason": sent.get("close_reason") if sent else None,
        "remoteCloseCode": got.get("close_code") if got else None,
        "remoteCloseReason": got.get("close_reason") if got else None,
        "wasClean": clean,
        "wasNotCleanReason": None if clean else (end.get("detail") or end.get("reason")),
        "wasCloseHandshakeTimeout": close_timeout,
    }


def behavior_close(result: CaseResult) -> str:
    """OK: the close handshake went both ways; UNCLEAN: it did not; FAILED: no session."""
    if result.behavior == UNIMPLEMENTED:
        return UNIMPLEMENTED
    if result.transcript is None:
        return "FAILED"
    tcp = result.transcript.get("tcp_close") or {}
    return "OK" if isinstance(tcp, dict) and tcp.get("clean") else "UNCLEAN"


def case_report(result: CaseResult) -> dict[str, Any]:
    """One case's Autobahn report (every field of CASE_FIELDS)."""
    t = result.transcript
    scenario: Scenario | None = result.entry.scenario
    plan = echo_plan(scenario) if scenario is not None else None
    facts = _close_facts(t)
    report: dict[str, Any] = {
        "agent": result.agent,
        "behavior": result.behavior,
        "behaviorClose": behavior_close(result),
        "case": result.entry.number,
        "createStats": t is not None,
        "createWirelog": t is not None,
        "description": result.entry.description,
        "duration": round(result.duration_ms),
        "expectation": _expectation(scenario, plan),
        # the wire expectations judged (wsreplay's form, not Autobahn's)
        "expected": plan.expect if isinstance(plan, EchoPlan) else None,
        "expectedClose": None,
        "httpRequest": _http_request(t) if t is not None else None,
        "httpResponse": None,  # the transcript keeps the 101's status and size, not its text
        "id": result.entry.id,
        "isServer": True,
        "received": _received(t) if t is not None else [],
        "reportCompressionRatio": False,
        "reportTime": False,
        "result": result.reason,
        "resultClose": (
            ((t.get("end") or {}).get("detail") or (t.get("end") or {}).get("reason"))
            if t is not None
            else None
        ),
        "rxFrameStats": _count(f.get("opcode") for f in _frames(t, "in")) if t else {},
        "rxOctetStats": None,  # the server logs frames in, not its reads
        "started": autobahn_time(result.started),
        "trafficStats": None,
        "txFrameStats": _count(f.get("opcode") for f in _frames(t, "out")) if t else {},
        "txOctetStats": (
            _count(e.get("bytes") for e in t.get("events") or [] if e.get("type") == "write")
            if t
            else {}
        ),
        "wasOpenHandshakeTimeout": False if t is not None else None,
        "wasServerConnectionDropTimeout": False if t is not None else None,
        "wirelog": _wirelog(t) if t is not None else [],
        **facts,
    }
    return {name: report[name] for name in CASE_FIELDS}


def _expectation(scenario: Scenario | None, plan: EchoPlan | str | None) -> str:
    if scenario is None:
        return "no wsreplay scenario reproduces this case"
    if isinstance(plan, str):
        return f"wsreplay's scenario {scenario['name']} is not judged from the wire: {plan}"
    assert plan is not None
    return f"wsreplay's scenario {scenario['name']}, {plan.describe()}"


def _dump(value: Any) -> str:
    # Autobahn's own form: sorted keys, an indent of 3
    return json.dumps(value, sort_keys=True, indent=3, separators=(",", ": ")) + "\n"


def write_autobahn(outdir: Path, results: Iterable[CaseResult]) -> Path:
    """Autobahn's layout in outdir: one file per case, then index.json. Returns index.json."""
    outdir = Path(outdir)
    index: dict[str, dict[str, dict[str, Any]]] = {}
    for result in results:
        report = case_report(result)
        name = report_filename(result.agent, result.entry.id)
        write_text_atomic(outdir / name, _dump(report))
        index.setdefault(result.agent, {})[result.entry.id] = {
            "behavior": report["behavior"],
            "behaviorClose": report["behaviorClose"],
            "duration": report["duration"],
            "remoteCloseCode": report["remoteCloseCode"],
            "reportfile": name,
        }
    return write_text_atomic(outdir / INDEX_NAME, _dump(index))


# ------------------------------------------------------------------ wsreplay's own


def wsreplay_report(
    results: Iterable[CaseResult],
    run_id: str,
    server_version: str,
    command: list[str],
    started: str | None = None,
) -> dict:
    """wsreplay's report of the played cases, each agent a client.

    An Autobahn case no scenario reproduces has no scenario to report and
    stays in Autobahn's layout only; a scenario the mode cannot judge from
    the wire is `informational`, its reason saying why it was not judged.
    """
    report = new_wsreplay_report(run_id, __version__, server_version, command)
    if started is not None:
        report["started"] = started  # when the mode started, not when it wrote
    for result in results:
        scenario = result.entry.scenario
        if scenario is None:
            continue
        add_client(report, {"spec": result.agent, "adapter": AGENT_ADAPTER})
        add_scenario(report, scenario)
        if result.skipped is not None or result.verdict is None:
            verdict = Verdict("informational" if result.skipped else "error", result.reason)
        else:
            verdict = result.verdict
        record = make_record(
            scenario,
            result.agent,
            None,
            verdict,
            None,
            result.transcript,
            result.started,
            result.duration_ms,
            None,
        )
        add_result(report, record)
    return finish(report)


def write_reports(
    results: list[CaseResult],
    autobahn_dir: Path,
    wsreplay_dir: Path,
    run_id: str,
    server_version: str,
    command: list[str],
    started: str | None = None,
) -> dict:
    """Both forms; returns wsreplay's report (its totals say how it went)."""
    write_autobahn(autobahn_dir, results)
    report = wsreplay_report(results, run_id, server_version, command, started)
    write_all(report, wsreplay_dir)
    return report
