"""`wsreplay compare OLD NEW`: what changed between two clients, scenario by scenario.

Each side is either a report (a report.json, or a run folder holding one) or
a client spec run on the spot; specs on both sides run together in one run,
against one server. Results are matched by scenario name, for one client per
side: a report with several clients needs `--old-client`/`--new-client`.

A pair is classified by its pass rate (passes / runs; 1.0 or 0.0 for a
single run, and 1.0 exactly when the verdict is pass, non-strict or
informational):

- regression: the rate dropped — it passed before and now fails or errs, or
  with `--repeat` it fails more often than before;
- fix: the rate rose;
- other change: same rate, but the transport (ws/wss), the verdict, the
  reason, the close code, the error type, the number of messages received,
  or the timing (the job's duration, the t_ms of the last message, beyond
  the tolerance) differ;
- unchanged: none of these.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .clients import SpecError, parse_spec
from .matrix import cell_text
from .report import PASSING_VERDICTS, REPORT_NAME, write_text_atomic
from .runner import Run, RunPlan
from .scenarios import load_all, select

SCHEMA_ID = "wsreplay-compare/1"
COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
DEFAULT_TOLERANCE_MS = 50.0

#: The kinds of change, in the order they are listed.
CHANGE_KINDS = (
    "transport",
    "verdict",
    "pass_rate",
    "reason",
    "close_code",
    "error_type",
    "messages_received",
    "duration_ms",
    "last_message_t_ms",
)
_TIMING_KINDS = ("duration_ms", "last_message_t_ms")
_CHANGE_WORDS = {
    "transport": "transport",
    "verdict": "verdict",
    "pass_rate": "pass rate",
    "reason": "reason",
    "close_code": "close code",
    "error_type": "error type",
    "messages_received": "messages received",
    "duration_ms": "job duration (ms)",
    "last_message_t_ms": "last message at (ms)",
}


class CompareError(ValueError):
    """Bad arguments to compare: an unreadable report, an ambiguous client (exit 2)."""


# --------------------------------------------------------------- sides


@dataclass
class Side:
    """One side of the comparison: OLD or NEW."""

    label: str  # "OLD" or "NEW"
    arg: str  # as given on the command line
    spec: str | None = None  # when the side is a client spec to run
    path: Path | None = None  # when the side is a report
    report: dict | None = None
    client: str | None = None  # the client spec whose results are compared
    records: dict[str, dict] = field(default_factory=dict)

    @property
    def option(self) -> str:
        return f"--{self.label.lower()}-client"

    def describe(self) -> dict:
        resolved = _resolved_version(self.report or {}, self.client) if self.client else None
        return {
            "source": "run" if self.spec else "report",
            "arg": self.arg,
            "report": str(self.path) if self.path else None,
            "client": self.client,
            "resolved_version": resolved,
        }


def parse_side(label: str, arg: str) -> Side:
    """A client spec if the argument parses as one, else a report file or folder."""
    try:
        spec = parse_spec(arg)
    except SpecError as spec_error:
        path = Path(arg).expanduser()
        if path.is_dir():
            path = path / REPORT_NAME
            if not path.is_file():
                raise CompareError(f"{label} {arg!r}: the folder holds no {REPORT_NAME}") from None
        elif not path.is_file():
            raise CompareError(
                f"{label} {arg!r} is neither a report (a {REPORT_NAME} or a run folder "
                f"holding one) nor a client spec: {spec_error}"
            ) from None
        return Side(label, arg, path=path, report=load_report(path, label))
    return Side(label, arg, spec=spec.raw)


def load_report(path: Path, label: str = "report") -> dict:
    """A report.json as a dict, with enough shape checked to compare it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompareError(f"{label} {path}: cannot read the report: {exc}") from exc
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or not all(
        isinstance(r, dict) and {"scenario", "client", "verdict"} <= set(r) for r in results
    ):
        raise CompareError(f"{label} {path}: not a wsreplay report (no usable 'results')")
    return data


def report_clients(report: dict) -> list[str]:
    """The client specs of a report, declared ones first, in order."""
    specs = [c["spec"] for c in report.get("clients", []) if isinstance(c, dict) and "spec" in c]
    for record in report.get("results", []):
        if record["client"] not in specs:
            specs.append(record["client"])
    return specs


def pick_client(side: Side, requested: str | None) -> str:
    """The client of a report side: the only one, or the one `--old/new-client` names."""
    assert side.report is not None
    specs = report_clients(side.report)
    listed = ", ".join(specs) or "none"
    if requested is not None:
        if requested not in specs:
            raise CompareError(
                f"{side.option} {requested!r} is not in {side.label} {side.path}; "
                f"its clients: {listed}"
            )
        return requested
    if len(specs) == 1:
        return specs[0]
    if not specs:
        raise CompareError(f"{side.label} {side.path} has no results to compare")
    raise CompareError(
        f"{side.label} {side.path} holds {len(specs)} clients; pick one with "
        f"{side.option}: {listed}"
    )


# --------------------------------------------------------------- comparing


def outcome(record: dict) -> dict:
    """The comparable facts of one record; old reports without pass rates get them derived."""
    passed = record["verdict"] in PASSING_VERDICTS
    runs = int(record.get("runs", 1))
    passes = int(record.get("passes", runs if passed else 0))
    observed = record.get("observed") if isinstance(record.get("observed"), dict) else {}
    messages = observed.get("messages") if isinstance(observed.get("messages"), list) else None
    close = observed.get("close") if isinstance(observed.get("close"), dict) else None
    error = observed.get("error") if isinstance(observed.get("error"), dict) else None
    last = messages[-1] if messages else None
    last_t = last.get("t_ms") if isinstance(last, dict) else None
    timing = record.get("timing") if isinstance(record.get("timing"), dict) else {}
    return {
        "client": record["client"],
        "resolved_version": record.get("resolved_version"),
        # Reports from before TLS support carry no transport: they were all ws://.
        "transport": record.get("transport") or "ws",
        "verdict": record["verdict"],
        "shown": cell_text(record),
        "reason": record.get("reason", ""),
        "runs": runs,
        "passes": passes,
        "pass_rate": float(record.get("pass_rate", passes / runs if runs else 0.0)),
        "close_code": close.get("code") if close else None,
        "error_type": error.get("type") if error else None,
        "messages_received": len(messages) if messages is not None else None,
        "duration_ms": timing.get("duration_ms"),
        "last_message_t_ms": last_t if isinstance(last_t, (int, float)) else None,
    }


def changes_between(old: dict, new: dict, tolerance_ms: float) -> list[dict]:
    """What differs between two outcomes: [{what, old, new}], in CHANGE_KINDS order."""
    found = []
    for kind in CHANGE_KINDS:
        a, b = old.get(kind), new.get(kind)
        if kind in _TIMING_KINDS:
            if a is None or b is None or abs(float(b) - float(a)) <= tolerance_ms:
                continue
        elif a == b:
            continue
        found.append({"what": kind, "old": a, "new": b})
    return found


def compare_records(
    old: dict[str, dict],
    new: dict[str, dict],
    summaries: dict[str, str],
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
) -> dict:
    """Classify every scenario present on both sides; list those on one side only.

    `old` and `new` map scenario names to report records (one client each).
    """
    result: dict[str, Any] = {
        "compared": 0,
        "regressions": [],
        "fixes": [],
        "changes": [],
        "unchanged": 0,
        "unchanged_scenarios": [],
        "only_old": sorted(set(old) - set(new)),
        "only_new": sorted(set(new) - set(old)),
    }
    for name in [n for n in old if n in new]:
        a, b = outcome(old[name]), outcome(new[name])
        changes = changes_between(a, b, tolerance_ms)
        result["compared"] += 1
        entry = {
            "scenario": name,
            "summary": summaries.get(name, ""),
            "old": a,
            "new": b,
            "changes": changes,
        }
        if b["pass_rate"] < a["pass_rate"]:
            result["regressions"].append(entry)
        elif b["pass_rate"] > a["pass_rate"]:
            result["fixes"].append(entry)
        elif changes:
            result["changes"].append(entry)
        else:
            result["unchanged"] += 1
            result["unchanged_scenarios"].append(name)
    return result


# --------------------------------------------------------------- the command


@dataclass
class CompareArgs:
    old: str
    new: str
    scenarios: list[str]
    repeat: int
    out_dir: Path
    tolerance_ms: float
    old_client: str | None
    new_client: str | None
    scenarios_dir: Path
    command: list[str]
    transport: str = "ws"


def run_compare(args: CompareArgs, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    """Run what needs running, compare, print, write compare.json/.md; the exit status."""
    if args.tolerance_ms < 0:
        raise CompareError("--tolerance-ms must be 0 or more")
    old, new = parse_side("OLD", args.old), parse_side("NEW", args.new)
    for side, requested in ((old, args.old_client), (new, args.new_client)):
        if side.spec is not None and requested is not None:
            raise CompareError(f"{side.option} applies only when {side.label} is a report")
        if side.report is not None:
            side.client = pick_client(side, requested)
    specs = [s.spec for s in (old, new) if s.spec is not None]
    if len(specs) == 2 and specs[0] == specs[1]:
        raise CompareError(f"OLD and NEW are the same client spec {specs[0]!r}")
    summaries = _report_summaries(old, new)
    chosen = _chosen_scenarios(args, old, new, bool(specs))
    if specs:
        catalogue = select(load_all(args.scenarios_dir), args.scenarios)
        scenarios = [s for s in catalogue if chosen is None or s["name"] in chosen]
        if not scenarios:
            raise CompareError(
                "none of the reported scenarios is in the catalogue "
                f"{args.scenarios_dir}; pick some with --scenario"
            )
        print(
            f"wsreplay {__version__} compare: running {len(scenarios)} scenario(s) x "
            f"{', '.join(specs)} -> {args.out_dir}",
            file=stderr,
        )
        plan = RunPlan(
            scenarios=scenarios,
            client_specs=specs,
            out_dir=args.out_dir,
            scenarios_dir=args.scenarios_dir,
            command=args.command,
            repeat=args.repeat,
            transport=args.transport,
        )
        ran = Run(plan, stderr).execute()
        for side in (old, new):
            if side.spec is not None:
                side.report, side.client, side.path = ran, side.spec, args.out_dir / REPORT_NAME
        summaries.update({s["name"]: s.get("summary", "") for s in scenarios})
    _refuse_unprepared(old, new)
    for side in (old, new):
        assert side.report is not None and side.client is not None
        side.records = {
            r["scenario"]: r
            for r in side.report["results"]
            if r["client"] == side.client and _wanted(r["scenario"], args.scenarios)
        }
    if args.scenarios and not (set(old.records) | set(new.records)):
        raise CompareError(f"--scenario {' '.join(args.scenarios)} matches no compared result")
    result = compare_records(old.records, new.records, summaries, args.tolerance_ms)
    document = {
        "schema": SCHEMA_ID,
        "tool": {"name": "wsreplay", "version": __version__},
        "command": args.command,
        "old": old.describe(),
        "new": new.describe(),
        "tolerance_ms": args.tolerance_ms,
        **result,
    }
    text = render_text(document)
    stdout.write(text)
    write_text_atomic(args.out_dir / COMPARE_JSON, json.dumps(document, indent=2) + "\n")
    write_text_atomic(args.out_dir / COMPARE_MD, render_markdown(document))
    stdout.write(f"compare: {args.out_dir / COMPARE_JSON}, {args.out_dir / COMPARE_MD}\n")
    return 1 if document["regressions"] else 0


def _refuse_unprepared(*sides: Side) -> None:
    """A side whose client never ran (an install failed) makes no comparison:
    every pair would be error, and error -> pass must not read as a fix."""
    for side in sides:
        assert side.report is not None
        for client in side.report.get("clients", []):
            if client.get("spec") == side.client and client.get("status") == "error":
                raise CompareError(
                    f"cannot compare: {side.label} client {side.client} did not run: "
                    f"{client.get('error') or 'it could not be prepared'}"
                )


def _wanted(name: str, patterns: list[str]) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def _chosen_scenarios(args: CompareArgs, old: Side, new: Side, running: bool) -> set[str] | None:
    """Which scenarios to run: those of the report side(s), unless --scenario says."""
    if not running or args.scenarios:
        return None
    reported = [s for s in (old, new) if s.report is not None]
    if not reported:
        return None  # two specs: the whole catalogue
    names: set[str] = set()
    for side in reported:
        assert side.report is not None
        names |= {r["scenario"] for r in side.report["results"] if r["client"] == side.client}
    return names


def _report_summaries(*sides: Side) -> dict[str, str]:
    summaries: dict[str, str] = {}
    for side in sides:
        for scenario in (side.report or {}).get("scenarios", []):
            if isinstance(scenario, dict) and "name" in scenario:
                summaries.setdefault(scenario["name"], scenario.get("summary", ""))
    return summaries


def _resolved_version(report: dict, spec: str | None) -> str | None:
    for client in report.get("clients", []):
        if client.get("spec") == spec and client.get("resolved_version"):
            return client["resolved_version"]
    for record in report.get("results", []):
        if record["client"] == spec and record.get("resolved_version"):
            return record["resolved_version"]
    return None


# --------------------------------------------------------------- output


def side_label(side: dict) -> str:
    """`python-websockets@14.0 (14.0)`, or with the report it came from."""
    label = side["client"] or side["arg"]
    if side["resolved_version"] and not label.endswith(f"@{side['resolved_version']}"):
        label += f" ({side['resolved_version']})"
    if side["source"] == "report":
        label += f" from {side['report']}"
    return label


def _change_text(change: dict) -> str:
    def show(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:g}"
        return "none" if value is None else str(value)

    return f"{_CHANGE_WORDS[change['what']]} {show(change['old'])} -> {show(change['new'])}"


def _counts_line(document: dict) -> str:
    n = document["compared"]
    parts = [
        f"{len(document['regressions'])} regression(s)",
        f"{len(document['fixes'])} fix(es)",
        f"{len(document['changes'])} other change(s)",
        f"{document['unchanged']} unchanged",
    ]
    return f"{n} scenario(s) compared: " + ", ".join(parts)


_SECTIONS = (("regressions", "REGRESSIONS"), ("fixes", "FIXES"), ("changes", "OTHER CHANGES"))
#: Changes an entry shows in its own lines (`PASS -> FAIL 7/10`, old:/new: reasons).
_SHOWN = ("verdict", "pass_rate", "reason")


def render_text(document: dict) -> str:
    """The terminal view: each section with its entries, both reasons, the changes."""
    lines = [
        f"OLD: {side_label(document['old'])}",
        f"NEW: {side_label(document['new'])}",
        _counts_line(document),
    ]
    for key, title in _SECTIONS:
        entries = document[key]
        lines.append("")
        lines.append(f"{title} ({len(entries)})")
        for entry in entries:
            lines.append(
                f"  {entry['scenario']}  {entry['old']['shown']} -> {entry['new']['shown']}"
            )
            if entry["summary"]:
                lines.append(f"      {entry['summary']}")
            lines.append(f"      old: {entry['old']['reason']}")
            lines.append(f"      new: {entry['new']['reason']}")
            other = [_change_text(c) for c in entry["changes"] if c["what"] not in _SHOWN]
            if other:
                lines.append(f"      changed: {'; '.join(other)}")
    for key, title in (("only_old", "only in OLD"), ("only_new", "only in NEW")):
        if document[key]:
            lines.append(f"{title}: {', '.join(document[key])}")
    lines.append("")
    return "\n".join(lines) + "\n"


def render_markdown(document: dict) -> str:
    """compare.md: the same content for a pull request or an issue."""
    lines = [
        "# wsreplay compare",
        "",
        f"- OLD: `{side_label(document['old'])}`",
        f"- NEW: `{side_label(document['new'])}`",
        f"- timing tolerance: {document['tolerance_ms']:g} ms",
        "",
        _counts_line(document) + ".",
    ]
    for key, title in _SECTIONS:
        entries = document[key]
        lines += ["", f"## {title.capitalize()} ({len(entries)})"]
        for entry in entries:
            old_word = entry["old"]["shown"]
            new_word = entry["new"]["shown"]
            lines += ["", f"### `{entry['scenario']}`: {old_word} → {new_word}", ""]
            if entry["summary"]:
                lines += [entry["summary"], ""]
            lines.append(f"- old: {entry['old']['reason']}")
            lines.append(f"- new: {entry['new']['reason']}")
            for change in entry["changes"]:
                if change["what"] not in _SHOWN:
                    lines.append(f"- {_change_text(change)}")
    if document["unchanged_scenarios"]:
        lines += ["", f"## Unchanged ({document['unchanged']})", ""]
        lines += [f"- `{name}`" for name in document["unchanged_scenarios"]]
    for key, title in (("only_old", "Only in OLD"), ("only_new", "Only in NEW")):
        if document[key]:
            lines += ["", f"## {title}", ""] + [f"- `{name}`" for name in document[key]]
    return "\n".join(lines) + "\n"
