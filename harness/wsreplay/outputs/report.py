"""Building and writing results/<run>/report.json.

The report is one JSON document, valid against results/report.schema.json
whether or not its run finished. A run writes it once, when it ends or is
interrupted; until then each finished record is in records.jsonl
(`recordlog`), from which `wsreplay report` rebuilds a killed run's report.
`finished` and `duration_ms` stay null until `finish()`, which is how a
reader tells a rebuilt report of a killed run from a complete one.

With `--repeat N` a pair runs N times and still yields one record
(`combine_runs`): the worst verdict, the pass rate, every run's verdict in
`per_run`, and the evidence of one run only, so a report stays small.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..contract import (
    CheckRecord,
    Observation,
    ReportRecord,
    Scenario,
    Transcript,
)
from ..judging.evaluate import Check, Verdict
from ..judging.verdicts import DISPLAY_ORDER, PASSING, VERDICTS, totals, worst

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

#: How the reason counts the runs of one verdict ("failed in 3 of 10 runs").
_RUN_WORDS = {
    "pass": "passed",
    "fail": "failed",
    "error": "an error",
    "non-strict": "non-strict",
    "informational": "informational",
}


def utc_now() -> str:
    """An RFC 3339 UTC timestamp with microseconds, the form used throughout."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_report(
    run_id: str,
    tool_version: str,
    server_version: str,
    command: list[str],
    *,
    catalogue: dict | None = None,
    shard: tuple[int, int] | None = None,
    compression: str = "default",
    vary: dict | None = None,
) -> dict:
    """An empty report for a run that starts now.

    `catalogue` is `scenarios.identity` of the scenarios the run selected;
    `shard` (K, N) when the run is shard K of N (`--shard K/N`);
    `compression` the run's `--compression`; `vary` the run's `--vary`,
    `{"variants": [...], "skipped": [{"scenario", "variant", "reason"}]}`
    (`variants.with_variants`), or None without it (the key is left out).
    """
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "wsreplay", "version": tool_version},
        "server": {"version": server_version},
        "run_id": run_id,
        "started": utc_now(),
        "finished": None,
        "duration_ms": None,
        "command": [str(arg) for arg in command],
        "catalogue": dict(catalogue) if catalogue is not None else None,
        "shard": {"index": shard[0], "count": shard[1]} if shard is not None else None,
        "compression": compression,
        "merged_from": None,
        **({"vary": vary} if vary is not None else {}),
        "clients": [],
        "scenarios": [],
        "results": [],
        "totals": totals([]),
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


def add_scenario(report: dict, scenario: Scenario) -> dict:
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


def add_result(report: dict, record: ReportRecord) -> None:
    """Append one (scenario, client) record and keep the totals current."""
    verdict = record.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, not {verdict!r}")
    report["results"].append(record)
    report["totals"] = totals(report["results"])


def order_results(report: dict) -> dict:
    """Put the records in the run's canonical order: client, then scenario,
    each in the order the report declares them (unknown ones last, by name).

    Parallel jobs and shards finish in any order; the report does not
    depend on it, so a run with --jobs 1, one with --jobs 8 and a merge of
    shards write the same report.
    """
    clients = {c["spec"]: i for i, c in enumerate(report.get("clients", []))}
    scenarios = {s["name"]: i for i, s in enumerate(report.get("scenarios", []))}
    far = len(clients) + len(scenarios) + 1

    def key(record: ReportRecord) -> tuple[int, str, int, str]:
        client, scenario = record.get("client", ""), record.get("scenario", "")
        return (clients.get(client, far), client, scenarios.get(scenario, far), scenario)

    report["results"].sort(key=key)
    return report


def close_interrupted(report: dict) -> dict:
    """An interrupted run's report: records ordered and counted, `finished`
    and `duration_ms` left null, which is how a reader tells it from a
    complete one."""
    order_results(report)
    report["totals"] = totals(report["results"])
    return report


def finish(report: dict) -> dict:
    """Stamp the end of the run, order the records and recount the totals."""
    order_results(report)
    report["finished"] = utc_now()
    report["duration_ms"] = elapsed_ms(report["started"], report["finished"])
    report["totals"] = totals(report["results"])
    return report


def elapsed_ms(started: str, finished: str) -> float:
    """Milliseconds from one timestamp (as `utc_now` writes them) to another."""
    return round((parse_time(finished) - parse_time(started)).total_seconds() * 1000, 3)


def make_record(
    scenario: Scenario,
    client_spec: str,
    resolved_version: str | None,
    verdict: Verdict,
    observation: Observation | None,
    transcript: Transcript | None,
    started: str,
    duration_ms: float,
    adapter_stderr: str | None,
) -> ReportRecord:
    """One result: verdict and reason first, then the evidence behind them.

    A single run: `runs` 1, `passes` and `pass_rate` 1 or 0; `combine_runs`
    merges several of these into one record.
    """
    passed = verdict.verdict in PASSING
    duration_ms = round(float(duration_ms), 3)
    return {
        "scenario": scenario["name"],
        "client": client_spec,
        "resolved_version": resolved_version,
        "verdict": verdict.verdict,
        "reason": verdict.reason,
        "runs": 1,
        "passes": 1 if passed else 0,
        "pass_rate": 1.0 if passed else 0.0,
        "per_run": [
            {"verdict": verdict.verdict, "reason": verdict.reason, "duration_ms": duration_ms}
        ],
        "evidence_run": 1,
        "checks": [check_record(check) for check in verdict.checks],
        "expected": scenario.get("expect"),
        "observed": observation,
        "timing": {"started": started, "duration_ms": duration_ms},
        "transcript": transcript,
        "adapter_stderr": adapter_stderr,
    }


def combine_runs(records: list[ReportRecord]) -> ReportRecord:
    """One record for N runs of the same (scenario, client) pair.

    - `verdict`: the worst verdict seen (`verdicts.RANK`): `pass` only if every
      run passed; one failing run in ten makes the pair `fail`.
    - `passes`: runs whose verdict is in `verdicts.PASSING`; `pass_rate` is
      passes / runs, so it is 1.0 exactly when the verdict passes.
    - `per_run`: every run's verdict, reason and duration, in order.
    - the evidence (`checks`, `observed`, `timing`, `transcript`,
      `adapter_stderr`) is that of one run only, `evidence_run`: the first
      run with the combined verdict — the first failing run when there is
      one, else the first run — and `reason` is that run's reason plus a
      count such as "(failed in 3 of 10 runs)".
    """
    if not records:
        raise ValueError("combine_runs needs at least one record")
    if any(record.get("runs", 1) != 1 for record in records):
        raise ValueError("combine_runs takes records of single runs")
    if len(records) == 1:
        return records[0].copy()
    per_run = [record["per_run"][0] for record in records]
    verdicts = [entry["verdict"] for entry in per_run]
    combined_verdict = worst(verdicts)
    index = verdicts.index(combined_verdict)
    chosen = records[index]
    passes = sum(1 for verdict in verdicts if verdict in PASSING)
    combined = chosen.copy()
    combined.update(
        {
            "verdict": combined_verdict,
            "reason": f"{chosen['reason']} ({runs_phrase(verdicts)})",
            "runs": len(per_run),
            "passes": passes,
            "pass_rate": passes / len(per_run),
            "per_run": per_run,
            "evidence_run": index + 1,
        }
    )
    return combined


def check_record(check: Check) -> CheckRecord:
    """A judged check as a record's `checks` carries it (a copy, like dataclasses.asdict)."""
    return {
        "name": check.name,
        "ok": check.ok,
        "severity": check.severity,
        "expected": copy.deepcopy(check.expected),
        "observed": copy.deepcopy(check.observed),
        "detail": check.detail,
    }


def runs_phrase(verdicts: list[str]) -> str:
    """How the runs went: `failed in 3 of 10 runs`, `failed in 2, an error in 1 of 10
    runs`, `passed in all 10 runs`."""
    total = len(verdicts)
    if len(set(verdicts)) == 1:
        return f"{_RUN_WORDS[verdicts[0]]} in all {total} runs"
    # Most urgent first; the passing runs are what is left.
    parts = [
        f"{_RUN_WORDS[v]} in {verdicts.count(v)}"
        for v in DISPLAY_ORDER
        if v != "pass" and v in verdicts
    ]
    return f"{', '.join(parts)} of {total} runs"


def write_report(report: dict, out_dir: Path, texts: list[str] | None = None) -> Path:
    """Write out_dir/report.json atomically and return its path.

    `texts`: each record of `results` as JSON already (`record_texts`), so
    that report.json and report.html serialize the records once between them.
    """
    return write_chunks_atomic(Path(out_dir) / REPORT_NAME, report_chunks(report, texts))


def record_texts(report: dict) -> list[str]:
    """Each record of `results` as compact JSON, in order: the costly part
    of writing a report (its transcripts), done once for every writer.

    ASCII with \\u escapes: a lone surrogate (from a client's broken UTF-16
    escape, say) stays writable, and report.html can embed the same text.
    """
    return [json.dumps(r, separators=(",", ":")) for r in report["results"]]


#: Stands in for `results` while the header is serialized, so "results"
#: keeps its place among the header's keys; no real value equals it.
_RESULTS_PLACEHOLDER = "\u0000wsreplay results\u0000"


def split_header(report: dict, **dumps: Any) -> tuple[str, str]:
    """The report's JSON without its records: the text before the `results`
    array's content and the text after it."""
    text = json.dumps({**report, "results": _RESULTS_PLACEHOLDER}, **dumps)
    before, _, after = text.partition(json.dumps(_RESULTS_PLACEHOLDER))
    return before, after


def report_chunks(report: dict, texts: list[str] | None = None) -> Iterator[str]:
    """report.json's text in pieces: the header indented, then one record per line.

    Indenting every record made Python's pure-Python encoder spend seconds
    on a large run's records; a record per line comes from the C encoder,
    still diffs line by line, and is the same JSON. Written piece by piece,
    a report of 10,000 records is never one string in memory.
    """
    if texts is None:
        texts = record_texts(report)
    before, after = split_header(report, indent=2, ensure_ascii=False)
    yield before + "["
    for index, text in enumerate(texts):
        yield ("\n    " if index == 0 else ",\n    ") + text
    yield ("\n  ]" if texts else "]") + after + "\n"


def write_text_atomic(target: Path, text: str) -> Path:
    """Write text (UTF-8) to target through a temporary file in the same folder.

    Fsynced, then os.replace()d over the target: a reader (or a crash) sees
    the old file or the new one, never half of one. Every file a run writes
    (report.json, junit.xml, summary.md, report.html, compare and bisect
    outputs) goes through here or `write_chunks_atomic`.
    """
    return write_chunks_atomic(target, [text])


def write_chunks_atomic(target: Path, chunks: Iterable[str]) -> Path:
    """`write_text_atomic` for text that comes in pieces."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the file from CI users
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as tmp:
            tmp.writelines(chunks)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        _remove_quietly(tmp_name)
        raise
    _fsync_dir(target.parent)
    return target


def _replace_or_append(entries: list[dict], key: str, entry: dict) -> None:
    for index, existing in enumerate(entries):
        if existing[key] == entry[key]:
            entries[index] = entry
            return
    entries.append(entry)


def parse_time(stamp: str) -> datetime:
    """A timestamp as `utc_now` writes it, as an aware datetime."""
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
