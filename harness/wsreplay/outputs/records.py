"""What the writers of a run's files read from a report, the same way in each.

The writers read records defensively: a report from an interrupted run has
pairs without a record, and records of a `--repeat N` run may carry `runs`,
`passes` and `pass_rate`, which are shown as "7/10" wherever a verdict is.
"""

from __future__ import annotations

from ..contract import ReportRecord
from ..judging.verdicts import run_breakdown


def pass_rate(record: ReportRecord) -> tuple[int, int] | None:
    """(passes, runs) for a record of a repeated pair, None for a single run.

    Reads `runs` with `passes` or `pass_rate`; anything malformed counts as
    a single run rather than breaking a report.
    """
    runs = record.get("runs")
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 2:
        return None
    passes = record.get("passes")
    if isinstance(passes, bool) or not isinstance(passes, int):
        rate = record.get("pass_rate")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            return None
        passes = round(rate * runs)
    if not 0 <= passes <= runs:
        return None
    return passes, runs


def pass_rate_text(record: ReportRecord) -> str:
    """ "7/10" for a repeated pair, "" otherwise.

    When the runs ended with different verdicts, each one with its share
    ("non-strict 1/3 pass 2/3"), so "3/3" never hides a non-strict run.
    """
    rate = pass_rate(record)
    if not rate:
        return ""
    seen = run_breakdown(record) if isinstance(record.get("per_run"), list) else []
    if len(seen) > 1:
        return " ".join(f"{verdict} {count}/{rate[1]}" for verdict, count in seen)
    return f"{rate[0]}/{rate[1]}"


def scenario_names(report: dict) -> list[str]:
    """Declared scenarios in order, then any that only appear in results."""
    return _declared_then_recorded(report, "scenarios", "name", "scenario")


def client_specs(report: dict) -> list[str]:
    """Declared client specs in order, then any that only appear in results."""
    return _declared_then_recorded(report, "clients", "spec", "client")


def _declared_then_recorded(report: dict, section: str, key: str, field: str) -> list[str]:
    """``report[section][*][key]`` in order, then the records' ``field`` values not among them."""
    found = [entry[key] for entry in report.get(section, []) if isinstance(entry, dict)]
    for record in report.get("results", []):
        if record.get(field) not in found:
            found.append(record[field])
    return found


def client_entry(report: dict, spec: str) -> dict:
    """The report's entry for a client spec, completed from its records if missing."""
    for client in report.get("clients", []):
        if client.get("spec") == spec:
            entry = dict(client)
            break
    else:
        entry = {"spec": spec}
    if not entry.get("resolved_version"):
        for record in report.get("results", []):
            if record.get("client") == spec and record.get("resolved_version"):
                entry["resolved_version"] = record["resolved_version"]
                break
    return entry


def records_by_pair(report: dict) -> dict[tuple[str, str], ReportRecord]:
    """(scenario, client) → record; the last record of a pair wins."""
    return {(r["scenario"], r["client"]): r for r in report.get("results", [])}
