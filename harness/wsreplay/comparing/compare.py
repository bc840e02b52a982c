"""`wsreplay compare OLD NEW`: what changed between two clients, scenario by scenario.

Each side is either a report (a report.json, or a run folder holding one) or
a client spec run on the spot; specs on both sides run together in one run,
against one server. Results are matched by scenario name, for one client per
side: a report with several clients needs `--old-client`/`--new-client`.

A pair is classified by how its runs ended (one run, or N with `--repeat`),
level by level, most severe first (`verdicts.LEVELS`): the share of runs
that ended `fail`/`error`, then the share that ended `non-strict` or worse,
then `informational` or worse. The first level whose share moved decides:

- regression at that level: the share grew — `pass -> fail` is a regression
  at `fail`, `pass -> non-strict` one at `non-strict`, and with `--repeat`
  a pair that fails (or is non-strict) more often regresses too. Each level
  is listed apart, so a fail is never buried among softer changes and a
  softer change is never hidden by its severity;
- fix: the share shrank;
- other change: the same verdicts, but the transport (ws/wss), the reason,
  the close code, the error type or message, or the number of messages
  received differ — compared after `normalize`, so a random value (a port,
  an address, an object id, a mask, a temp path, a duration) is no change;
- unchanged: none of these.

Timing (the job's duration, the t_ms of the last message, beyond the
tolerance) is listed in a section of its own and never makes a pair
"changed": a verdict change must stand out, not drown in jitter.

The exit status is 1 when a regression at a counted level exists:
`fail` and `non-strict` by default, `fail` only with `--ignore non-strict`;
`informational` is listed but, as in `run`, never fails.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from ..clients import SpecError, parse_spec
from ..contract import ReportRecord
from ..judging.verdicts import (
    IGNORABLE,
    LEVEL_VERDICTS,
    LEVELS,
    NEVER_COUNTED,
    PASSING,
    counted_levels,
    run_verdicts,
)
from ..outputs.matrix import cell_text
from ..outputs.report import REPORT_NAME, write_text_atomic
from ..running.runner import Run, RunPlan, check_specs
from ..scenarios import load_all
from ..variants import select_cells

SCHEMA_ID = "wsreplay-compare/2"
COMPARE_JSON = "compare.json"
COMPARE_MD = "compare.md"
DEFAULT_TOLERANCE_MS = 50.0

#: The kinds of behaviour change, in the order they are listed.
CHANGE_KINDS = (
    "transport",
    "verdict",
    "pass_rate",
    "reason",
    "close_code",
    "error_type",
    "error_message",
    "messages_received",
)
#: The kinds of timing change, listed in their own section.
TIMING_KINDS = ("duration_ms", "last_message_t_ms")
#: Compared after `normalize`: free text that may embed random values.
_NORMALIZED_KINDS = ("reason", "error_message")
_CHANGE_WORDS = {
    "transport": "transport",
    "verdict": "verdict",
    "pass_rate": "pass rate",
    "reason": "reason",
    "close_code": "close code",
    "error_type": "error type",
    "error_message": "error message",
    "messages_received": "messages received",
    "duration_ms": "job duration (ms)",
    "last_message_t_ms": "last message at (ms)",
}


# --------------------------------------------------------------- normalizing

#: (pattern, replacement), applied in order: what varies from run to run
#: without meaning anything. The longer, more specific forms go first.
_NOISE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, flags), replacement)
    for pattern, flags, replacement in (
        # temporary files and folders: /tmp/pytest-of-root/.../x, /var/folders/…
        (r"(?:/private)?(?:/tmp|/var/tmp|/var/folders|/dev/shm)/[^\s'\"),;]*", 0, "<tmp>"),
        (r"[A-Za-z]:\\(?:[^\s'\"]*\\)?Temp\\[^\s'\"),;]*", re.I, "<tmp>"),
        # run tags and run ids: 20261126-092301-5e1a[-client-3[-r2]]
        (r"\b\d{8}-\d{6}-[0-9a-f]{4}[\w.-]*", 0, "<run>"),
        (r"\brun=[\w.-]+", 0, "run=<run>"),
        # UUIDs
        (r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I, "<uuid>"),
        # handshake keys and accepts (base64 of 16 random bytes, of a SHA-1)
        (r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{22}==(?![A-Za-z0-9+/=])", 0, "<key>"),
        (r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{27}=(?![A-Za-z0-9+/=])", 0, "<key>"),
        # addresses with or without a port: 127.0.0.1:41234, [::1]:5555, localhost:80
        (r"\[[0-9a-f:.]*:[0-9a-f:.]*\](?::\d+)?", re.I, "<addr>"),
        (r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b", 0, "<addr>"),
        (r"\blocalhost:\d+\b", re.I, "<addr>"),
        (r"\bport[ =:]+\d+\b", re.I, "port <port>"),
        (r"\b(?:pid|process)[ =:]+\d+\b", re.I, "pid <pid>"),
        # object ids and pointers: 0x7f3a2c1b9e50, Socket@1b2c3d4f, id=140234…
        (r"\b0x[0-9a-f]+\b", re.I, "0x<id>"),
        (r"@[0-9a-f]{4,}\b", re.I, "@<id>"),
        # masks and byte dumps: 4 or more hex byte pairs in a row
        (r"\b[0-9a-f]{2}(?:[ :][0-9a-f]{2}){3,}\b", re.I, "<bytes>"),
        # long hex ids (8+ hex digits, with a digit and a letter): digests, masks,
        # ids; a plain number (a byte count) is left alone
        (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I, "<hex>"),
        # durations: 2051 ms, 9.5 s, 1.2s, 350µs, 3 seconds
        (
            r"\b\d+(?:\.\d+)?\s?(?:ms|milliseconds?|µs|us|ns|s|sec|secs|seconds?)\b",
            0,
            "<duration>",
        ),
    )
)


def normalize(text: str | None) -> str | None:
    """`text` with the values that differ on every run replaced by placeholders.

    Used to decide whether a reason or an error message changed; the report
    and the listing keep the text as it was.
    """
    if text is None:
        return None
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return text


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
    records: dict[str, ReportRecord] = field(default_factory=dict)

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


def outcome(record: ReportRecord) -> dict:
    """The comparable facts of one record; old reports without pass rates get them derived."""
    passed = record["verdict"] in PASSING
    runs = int(record.get("runs", 1))
    passes = int(record.get("passes", runs if passed else 0))
    observed_raw = record.get("observed")
    observed: Mapping[str, Any] = observed_raw if isinstance(observed_raw, dict) else {}
    messages = observed.get("messages") if isinstance(observed.get("messages"), list) else None
    close = observed.get("close") if isinstance(observed.get("close"), dict) else None
    error = observed.get("error") if isinstance(observed.get("error"), dict) else None
    last = messages[-1] if messages else None
    last_t = last.get("t_ms") if isinstance(last, dict) else None
    timing_raw = record.get("timing")
    timing = timing_raw if isinstance(timing_raw, dict) else {}
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
        "run_verdicts": _run_verdict_counts(record, runs, passes),
        "close_code": close.get("code") if close else None,
        "error_type": error.get("type") if error else None,
        "error_message": error.get("message") if error else None,
        "messages_received": len(messages) if messages is not None else None,
        "duration_ms": timing.get("duration_ms"),
        "last_message_t_ms": last_t if isinstance(last_t, (int, float)) else None,
    }


def _run_verdict_counts(record: ReportRecord, runs: int, passes: int) -> dict[str, int]:
    """How many runs ended with each verdict; derived for reports without `per_run`."""
    verdicts = run_verdicts(record) if record.get("per_run") else None
    if not verdicts or len(verdicts) != runs:
        verdict = record["verdict"]
        if verdict in PASSING:
            verdicts = [verdict] * runs
        else:  # the passing runs of an old repeated record: counted as `pass`
            verdicts = [verdict] * (runs - passes) + ["pass"] * passes
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict] = counts.get(verdict, 0) + 1
    return counts


def level_shares(facts: dict) -> dict[str, Fraction]:
    """Per level, the share of runs that ended at that level or worse."""
    counts = facts["run_verdicts"]
    runs = sum(counts.values()) or 1
    return {
        level: Fraction(sum(counts.get(v, 0) for v in LEVEL_VERDICTS[level]), runs)
        for level in LEVELS
    }


def classify(old: dict, new: dict) -> tuple[str | None, str | None]:
    """("regression" | "fix" | None, the level that decided) for two outcomes.

    Levels are read most severe first; the first whose share of runs moved
    decides, so `fail -> non-strict` is a fix (fewer fails), not a
    regression at `non-strict`.
    """
    a, b = level_shares(old), level_shares(new)
    for level in LEVELS:
        if b[level] > a[level]:
            return "regression", level
        if b[level] < a[level]:
            return "fix", level
    return None, None


def changes_between(old: dict, new: dict) -> list[dict]:
    """What differs in behaviour between two outcomes: [{what, old, new}], in
    CHANGE_KINDS order; free text is compared after `normalize`."""
    found = []
    for kind in CHANGE_KINDS:
        a, b = old.get(kind), new.get(kind)
        if kind in _NORMALIZED_KINDS:
            if normalize(a) == normalize(b):
                continue
        elif a == b:
            continue
        found.append({"what": kind, "old": a, "new": b})
    return found


def timing_between(old: dict, new: dict, tolerance_ms: float) -> list[dict]:
    """Timing beyond the tolerance: [{what, old, new}], in TIMING_KINDS order."""
    found = []
    for kind in TIMING_KINDS:
        a, b = old.get(kind), new.get(kind)
        if a is None or b is None or abs(float(b) - float(a)) <= tolerance_ms:
            continue
        found.append({"what": kind, "old": a, "new": b})
    return found


def compare_records(
    old: dict[str, ReportRecord],
    new: dict[str, ReportRecord],
    summaries: dict[str, str],
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
) -> dict:
    """Classify every scenario present on both sides; list those on one side only.

    `old` and `new` map scenario names to report records (one client each).
    Regressions are grouped by level (`fail`, `non-strict`, `informational`);
    each regression and fix says its `level`. Timing changes are listed in
    `timing`, whatever the scenario's class.
    """
    result: dict[str, Any] = {
        "compared": 0,
        "regressions": {level: [] for level in LEVELS},
        "fixes": [],
        "changes": [],
        "timing": [],
        "unchanged": 0,
        "unchanged_scenarios": [],
        "only_old": sorted(set(old) - set(new)),
        "only_new": sorted(set(new) - set(old)),
    }
    for name in [n for n in old if n in new]:
        a, b = outcome(old[name]), outcome(new[name])
        changes = changes_between(a, b)
        timing = timing_between(a, b, tolerance_ms)
        result["compared"] += 1
        entry: dict[str, Any] = {
            "scenario": name,
            "summary": summaries.get(name, ""),
            "old": a,
            "new": b,
            "changes": changes,
        }
        kind, level = classify(a, b)
        if kind == "regression":
            result["regressions"][level].append({**entry, "level": level})
        elif kind == "fix":
            result["fixes"].append({**entry, "level": level})
        elif changes:
            result["changes"].append(entry)
        else:
            result["unchanged"] += 1
            result["unchanged_scenarios"].append(name)
        if timing:
            result["timing"].append(
                {
                    "scenario": name,
                    "old_shown": a["shown"],
                    "new_shown": b["shown"],
                    "changes": timing,
                }
            )
    return result


def counted_regressions(document: dict) -> list[dict]:
    """The regressions that make compare exit 1, given the document's `ignored` levels."""
    return [
        entry
        for level in document["counted_levels"]
        for entry in document["regressions"].get(level, [])
    ]


def all_regressions(document: dict) -> list[dict]:
    """Every regression, most severe level first."""
    return [entry for level in LEVELS for entry in document["regressions"].get(level, [])]


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
    #: Jobs at once (--jobs); None: the default.
    jobs: int | None = None
    #: Regression levels that do not make compare exit 1 (`--ignore non-strict`).
    ignore: tuple[str, ...] = ()
    #: --vary: the variants whose cells run too (`variants`).
    vary: list[str] = field(default_factory=list)


def run_compare(args: CompareArgs, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    """Run what needs running, compare, print, write compare.json/.md; the exit status."""
    if args.tolerance_ms < 0:
        raise CompareError("--tolerance-ms must be 0 or more")
    unknown = [level for level in args.ignore if level not in IGNORABLE]
    if unknown:
        raise CompareError(
            f"--ignore {unknown[0]!r}: only {', '.join(IGNORABLE)} can be ignored "
            "(fail always counts; informational never does)"
        )
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
    # A spec that cannot run (a version outside the adapter's range, one the
    # registry lacks) is refused now, before the header, the server or a file.
    checked = check_specs(specs) if specs else []
    if specs:
        catalogue, _ = select_cells(load_all(args.scenarios_dir), args.scenarios, args.vary)
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
            jobs=args.jobs,
            checked_specs=checked,
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
        "ignored": sorted(set(args.ignore)),
        "counted_levels": list(counted_levels(args.ignore)),
        **result,
    }
    document["counted_regressions"] = len(counted_regressions(document))
    text = render_text(document)
    stdout.write(text)
    write_text_atomic(args.out_dir / COMPARE_JSON, json.dumps(document, indent=2) + "\n")
    write_text_atomic(args.out_dir / COMPARE_MD, render_markdown(document))
    stdout.write(f"compare: {args.out_dir / COMPARE_JSON}, {args.out_dir / COMPARE_MD}\n")
    return 1 if document["counted_regressions"] else 0


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
    by_level = ", ".join(f"{len(document['regressions'][level])} {level}" for level in LEVELS)
    parts = [
        f"{len(all_regressions(document))} regression(s) ({by_level})",
        f"{len(document['fixes'])} fix(es)",
        f"{len(document['changes'])} other change(s)",
        f"{document['unchanged']} unchanged",
    ]
    line = f"{n} scenario(s) compared: " + ", ".join(parts)
    return line + f"; {len(document['timing'])} timing change(s)"


def _exit_line(document: dict) -> str:
    """Which regressions decide the exit status, and how to change that."""
    counted = document["counted_levels"]
    line = f"counted for the exit status: regressions to {' and '.join(counted)}"
    if "non-strict" in counted:
        line += " (--ignore non-strict lets non-strict through)"
    elif "non-strict" in document["ignored"]:
        line += " (non-strict ignored: --ignore non-strict)"
    return line + "; informational is listed, never counted"


def _regression_sections(document: dict) -> list[tuple[str, str, list[dict]]]:
    """(level, note, entries) per level: fail and non-strict always, informational
    when there is one; the note says when a level does not count."""
    sections = []
    for level in LEVELS:
        entries = document["regressions"][level]
        if level in NEVER_COUNTED and not entries:
            continue
        note = ""
        if level not in document["counted_levels"]:
            note = ", never counted" if level in NEVER_COUNTED else ", ignored"
        sections.append((level, note, entries))
    return sections


#: Changes an entry shows in its own lines (`PASS -> FAIL 7/10`, old:/new: reasons).
_SHOWN = ("verdict", "pass_rate", "reason")


def _entry_lines(entry: dict) -> list[str]:
    lines = [f"  {entry['scenario']}  {entry['old']['shown']} -> {entry['new']['shown']}"]
    if entry["summary"]:
        lines.append(f"      {entry['summary']}")
    lines.append(f"      old: {entry['old']['reason']}")
    lines.append(f"      new: {entry['new']['reason']}")
    other = [_change_text(c) for c in entry["changes"] if c["what"] not in _SHOWN]
    if other:
        lines.append(f"      changed: {'; '.join(other)}")
    return lines


def render_text(document: dict) -> str:
    """The terminal view: regressions by level, fixes, other changes, timing."""
    lines = [
        f"OLD: {side_label(document['old'])}",
        f"NEW: {side_label(document['new'])}",
        _counts_line(document),
        _exit_line(document),
    ]
    sections = [
        (f"REGRESSIONS: {level.upper()}{note}", entries)
        for level, note, entries in _regression_sections(document)
    ]
    sections += [("FIXES", document["fixes"]), ("OTHER CHANGES", document["changes"])]
    for title, entries in sections:
        lines.append("")
        lines.append(f"{title} ({len(entries)})")
        for entry in entries:
            lines += _entry_lines(entry)
    lines.append("")
    lines.append(
        f"TIMING, beyond {document['tolerance_ms']:g} ms, not a behaviour change "
        f"({len(document['timing'])})"
    )
    for entry in document["timing"]:
        changed = "; ".join(_change_text(c) for c in entry["changes"])
        lines.append(f"  {entry['scenario']}  {changed}")
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
        f"- {_exit_line(document)}",
        "",
        _counts_line(document) + ".",
    ]
    sections = [
        (f"Regressions: {level}{note}", entries)
        for level, note, entries in _regression_sections(document)
    ]
    sections += [("Fixes", document["fixes"]), ("Other changes", document["changes"])]
    for title, entries in sections:
        lines += ["", f"## {title} ({len(entries)})"]
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
    lines += [
        "",
        f"## Timing, beyond {document['tolerance_ms']:g} ms, not a behaviour change "
        f"({len(document['timing'])})",
    ]
    if document["timing"]:
        lines.append("")
        for entry in document["timing"]:
            changed = "; ".join(_change_text(c) for c in entry["changes"])
            lines.append(f"- `{entry['scenario']}`: {changed}")
    if document["unchanged_scenarios"]:
        lines += ["", f"## Unchanged ({document['unchanged']})", ""]
        lines += [f"- `{name}`" for name in document["unchanged_scenarios"]]
    for key, title in (("only_old", "Only in OLD"), ("only_new", "Only in NEW")):
        if document[key]:
            lines += ["", f"## {title}", ""] + [f"- `{name}`" for name in document[key]]
    return "\n".join(lines) + "\n"
