"""junit.xml: the run as JUnit XML, for the test tabs of CI systems.

Shape (results/junit.xsd; the common Jenkins/Ant form):

- one <testsuite> per client spec, named after the spec and the version it
  resolved to (`python-websockets@14.0 (websockets 14.0)`), with the client's
  facts as <properties>;
- one <testcase> per record: classname = the client spec, name = the scenario;
- `fail` → <failure type="fail" message=REASON>, `error` → <error type="error"
  message=REASON>; the body lists the checks that did not hold;
- `non-strict` and `informational` are passes for JUnit — they are not the
  library's bugs — with the verdict and reason in <system-out>; <skipped> is
  never written;
- every testcase carries `VERDICT: reason` in <system-out> and the adapter's
  stderr, if any, in <system-err>; a pair run several times (--repeat) adds
  "passed 7/10 runs" there and in the failure's body (its reason already
  counts the runs), and its time is the sum of its runs.

Times are seconds. Characters XML 1.0 cannot carry (control characters, lone
surrogates) are written as \\xNN / \\uNNNN escapes.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..contract import ReportRecord
from ..judging.verdicts import FAILING, totals
from .records import client_entry, client_specs, pass_rate, pass_rate_text, scenario_names
from .report import CLIENT_FIELDS, write_text_atomic

JUNIT_NAME = "junit.xml"
MESSAGE_CHARS = 2000
STDERR_CHARS = 20000
#: A client's details as <properties>: the fields report.json gives it.
_CLIENT_PROPERTIES = CLIENT_FIELDS
# XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def write_junit(report: dict, out_dir: Path) -> Path:
    """Write out_dir/junit.xml atomically and return its path."""
    return write_text_atomic(Path(out_dir) / JUNIT_NAME, render_junit(report))


def render_junit(report: dict) -> str:
    """The report as a JUnit XML document (a string, with its XML declaration)."""
    order = {name: index for index, name in enumerate(scenario_names(report))}
    results = report.get("results", [])
    root = ET.Element("testsuites", name=_xml_text(f"wsreplay {report.get('run_id', '')}".strip()))
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for spec in client_specs(report):
        records = sorted(
            (r for r in results if r.get("client") == spec),
            key=lambda r: order.get(r.get("scenario"), len(order)),
        )
        suite = _testsuite(report, spec, records)
        root.append(suite)
        for key in ("tests", "failures", "errors"):
            totals[key] += int(suite.get(key, "0"))
        totals["time"] += float(suite.get("time", "0"))
    run_ms = report.get("duration_ms")
    run_s = run_ms / 1000 if isinstance(run_ms, (int, float)) else totals["time"]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("skipped", "0")
    root.set("time", _seconds(run_s))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def suite_name(report: dict, spec: str) -> str:
    """`spec (library resolved)`, or `spec (resolved)`, or just the spec if unresolved."""
    entry = client_entry(report, spec)
    resolved = entry.get("resolved_version")
    if not resolved:
        return spec
    library = entry.get("library")
    return f"{spec} ({library} {resolved})" if library else f"{spec} ({resolved})"


def _testsuite(report: dict, spec: str, records: list[ReportRecord]) -> ET.Element:
    counts = totals(records)
    failures, errors = counts["fail"], counts["error"]
    seconds = sum(_record_seconds(r) for r in records)
    suite = ET.Element(
        "testsuite",
        name=_xml_text(suite_name(report, spec)),
        tests=str(len(records)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=_seconds(seconds),
    )
    # The first job of the client (RFC 3339 stamps in one format sort as text).
    found: list[object] = [(r.get("timing") or {}).get("started") for r in records]
    found = found or [report.get("started")]
    stamps = [stamp for stamp in found if isinstance(stamp, str) and stamp]
    if stamps:
        suite.set("timestamp", min(stamps))
    properties = ET.SubElement(suite, "properties")
    entry = client_entry(report, spec)
    for key in _CLIENT_PROPERTIES:
        if entry.get(key) is not None:
            _property(properties, key, entry[key])
    _property(properties, "run_id", report.get("run_id"))
    _property(properties, "wsreplay_version", (report.get("tool") or {}).get("version"))
    _property(properties, "server_version", (report.get("server") or {}).get("version"))
    for record in records:
        suite.append(_testcase(spec, record))
    return suite


def _property(parent: ET.Element, name: str, value: object) -> None:
    if value is not None:
        ET.SubElement(parent, "property", name=name, value=_xml_text(str(value)))


def _testcase(spec: str, record: ReportRecord) -> ET.Element:
    verdict = str(record.get("verdict"))
    reason = str(record.get("reason") or "")
    case = ET.Element(
        "testcase",
        classname=_xml_text(spec),
        name=_xml_text(str(record.get("scenario"))),
        time=_seconds(_record_seconds(record)),
    )
    rate = pass_rate(record)
    runs = f"passed {rate[0]}/{rate[1]} runs" if rate else ""
    if rate and " " in (shares := pass_rate_text(record)):
        runs += f" ({shares})"
    if verdict in FAILING:
        tag = "failure" if verdict == "fail" else "error"
        problem = ET.SubElement(
            case, tag, message=_xml_text(_cut(reason, MESSAGE_CHARS)), type=verdict
        )
        problem.text = _xml_text(_problem_body(record, runs))
    out_lines = [f"{verdict}: {reason}"]
    if runs:
        out_lines.append(runs)
    ET.SubElement(case, "system-out").text = _xml_text("\n".join(out_lines))
    stderr = record.get("adapter_stderr")
    if isinstance(stderr, str) and stderr:
        ET.SubElement(case, "system-err").text = _xml_text(_cut(stderr, STDERR_CHARS, tail=True))
    return case


def _problem_body(record: ReportRecord, runs: str) -> str:
    """The reason, then every check that did not hold with what it expected and saw."""
    lines = [str(record.get("reason") or "")]
    if runs:
        lines.append(runs)
    for check in record.get("checks") or []:
        if not isinstance(check, dict) or check.get("ok"):
            continue
        lines.append(
            f"- {check.get('name')} ({check.get('severity')}): {check.get('detail')}\n"
            f"  expected: {_compact(check.get('expected'))}\n"
            f"  observed: {_compact(check.get('observed'))}"
        )
    observed = record.get("observed")
    if isinstance(observed, dict):
        error = observed.get("error")
        if isinstance(error, dict) and error.get("type"):
            lines.append(f"the client raised {error['type']}: {error.get('message', '')}")
        lines.append(f"receiving ended: {observed.get('end')}")
    return "\n".join(lines)


def _record_seconds(record: ReportRecord) -> float:
    """Every run of the pair (`per_run` of a --repeat run), else the one run's timing."""
    per_run = record.get("per_run")
    if isinstance(per_run, list) and len(per_run) > 1:
        durations = [_milliseconds(run) for run in per_run if isinstance(run, dict)]
        return sum(durations) / 1000
    return _milliseconds(record.get("timing") or {}) / 1000


def _milliseconds(holder: Mapping[str, Any]) -> float:
    duration = holder.get("duration_ms")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
        return 0.0
    return float(duration)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _compact(value: object) -> str:
    return _cut(json.dumps(value, ensure_ascii=False, sort_keys=True), 500)


def _cut(text: str, limit: int, tail: bool = False) -> str:
    """At most `limit` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    dropped = len(text) - limit
    if tail:
        return f"[{dropped} characters before this]\n" + text[-limit:]
    return text[:limit] + f"… [{dropped} more characters]"


def _xml_text(text: str) -> str:
    """Text XML 1.0 can hold: the characters it cannot are written as escapes."""
    return _NOT_XML.sub(lambda m: _escape_char(m.group()), text)


def _escape_char(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
