"""Building and writing results/<run>/report.json.

The report is one JSON document, valid against results/report.schema.json at
every moment of a run — not only at the end — because the CLI rewrites it
after every result: a crash or a Ctrl-C then loses nothing that was judged.
`finished` and `duration_ms` stay null until `finish()`, which is how a
reader tells an interrupted run from a complete one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .evaluate import VERDICTS, Verdict

SCHEMA_ID = "wsreplay-report/1"
REPORT_NAME = "report.json"
CLIENT_FIELDS = (
    "spec",
    "adapter",
    "requested_version",
    "resolved_version",
    "library",
    "api",
    "language",
    "status",
    "error",
)
CLIENT_STATUSES = ("ok", "error")


def utc_now() -> str:
    """An RFC 3339 UTC timestamp with microseconds, the form used throughout."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_report(run_id: str, tool_version: str, server_version: str, command: list[str]) -> dict:
    """An empty report for a run that starts now."""
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "wsreplay", "version": tool_version},
        "server": {"version": server_version},
        "run_id": run_id,
        "started": utc_now(),
        "finished": None,
        "duration_ms": None,
        "command": [str(arg) for arg in command],
        "clients": [],
        "scenarios": [],
        "results": [],
        "totals": _empty_totals(),
    }


def add_client(report: dict, info: dict) -> dict:
    """Record a client spec; adding the same spec again replaces its entry.

    Replacing matters because a spec is first known by what was asked for and
    only later by what the adapter reports it resolved to. Unknown keys are
    refused here rather than discovered later by the schema.
    """
    unknown = sorted(set(info) - set(CLIENT_FIELDS))
    if unknown:
        raise ValueError(f"unknown client field(s): {', '.join(unknown)}")
    if not info.get("spec"):
        raise ValueError("a client needs a 'spec'")
    entry: dict[str, Any] = {name: info.get(name) for name in CLIENT_FIELDS}
    entry["status"] = info.get("status") or "ok"
    if entry["status"] not in CLIENT_STATUSES:
        raise ValueError(f"client status must be one of {CLIENT_STATUSES}, not {entry['status']!r}")
    if entry["adapter"] is None:
        entry["adapter"] = str(entry["spec"]).split("@", 1)[0]
    _replace_or_append(report["clients"], "spec", entry)
    return entry


def add_scenario(report: dict, scenario: dict) -> dict:
    """Record the descriptive part of a scenario (not its steps)."""
    entry = {
        "name": scenario["name"],
        "summary": scenario.get("summary", ""),
        "rfc": list(scenario.get("rfc", [])),
        "tags": list(scenario.get("tags", [])),
        "bugs": [dict(bug) for bug in scenario.get("bugs", [])],
    }
    _replace_or_append(report["scenarios"], "name", entry)
    return entry


def add_result(report: dict, record: dict) -> None:
    """Append one (scenario, client) record and keep the totals current."""
    verdict = record.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    report["results"].append(record)
    report["totals"][verdict] += 1
    report["totals"]["total"] += 1


def finish(report: dict) -> dict:
    """Stamp the end of the run and recount the totals from the records."""
    report["finished"] = utc_now()
    report["duration_ms"] = round(
        (_parse_time(report["finished"]) - _parse_time(report["started"])).total_seconds() * 1000,
        3,
    )
    report["totals"] = totals(report["results"])
    return report


def totals(results: list[dict]) -> dict[str, int]:
    """Count records per verdict, plus `total`."""
    counts = _empty_totals()
    for record in results:
        counts[record["verdict"]] += 1
        counts["total"] += 1
    return counts


def make_record(
    scenario: dict,
    client_spec: str,
    resolved_version: str | None,
    verdict: Verdict,
    observation: dict | None,
    transcript: dict | None,
    started: str,
    duration_ms: float,
    adapter_stderr: str | None,
) -> dict:
    """One result: verdict and reason first, then the evidence behind them."""
    return {
        "scenario": scenario["name"],
        "client": client_spec,
        "resolved_version": resolved_version,
        "verdict": verdict.verdict,
        "reason": verdict.reason,
        "checks": [asdict(check) for check in verdict.checks],
        "expected": scenario.get("expect"),
        "observed": observation,
        "timing": {"started": started, "duration_ms": round(float(duration_ms), 3)},
        "transcript": transcript,
        "adapter_stderr": adapter_stderr,
    }


def write_report(report: dict, out_dir: Path) -> Path:
    """Write out_dir/report.json atomically and return its path.

    A temporary file in the same directory, fsynced, then os.replace(): a
    reader (or a crash) sees the old report or the new one, never half of one.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / REPORT_NAME
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=f".{REPORT_NAME}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the report from CI users
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            json.dump(report, tmp, indent=2, ensure_ascii=False)
            tmp.write("\n")
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    _fsync_dir(out_dir)
    return target


def _empty_totals() -> dict[str, int]:
    counts = {verdict: 0 for verdict in VERDICTS}
    counts["total"] = 0
    return counts


def _replace_or_append(entries: list[dict], key: str, entry: dict) -> None:
    for index, existing in enumerate(entries):
        if existing[key] == entry[key]:
            entries[index] = entry
            return
    entries.append(entry)


def _parse_time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
