"""summary.md: the run in a few lines of Markdown, for a CI job summary.

Made to be appended to $GITHUB_STEP_SUMMARY (GitHub-flavoured Markdown):
a title with the run id, the totals line, the scenario × client matrix with
a verdict word and symbol per cell, then every pair that did not pass with
its reason, most urgent first. Big runs stay short: past `max_rows` the
matrix keeps only the rows with a non-passing cell, and past `max_listed` the
list says how many more there are. Text from the report is escaped, so a `|`,
a newline or a `<` in a reason cannot break the table or the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..contract import ReportRecord
from ..judging.verdicts import DISPLAY_ORDER, VERDICTS, run_breakdown, totals
from .records import client_entry, client_specs, records_by_pair, scenario_names
from .report import write_text_atomic

SUMMARY_NAME = "summary.md"
MAX_LISTED = 30
MAX_ROWS = 60
REASON_CHARS = 300
SYMBOLS = {
    "pass": "✅",
    "fail": "❌",
    "non-strict": "⚠️",
    "informational": "ℹ️",
    "error": "💥",
}
NOT_RUN = "—"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|#~!])")


def write_summary(
    report: dict, out_dir: Path, max_listed: int = MAX_LISTED, max_rows: int = MAX_ROWS
) -> Path:
    """Write out_dir/summary.md atomically and return its path."""
    text = render_summary(report, max_listed=max_listed, max_rows=max_rows)
    return write_text_atomic(Path(out_dir) / SUMMARY_NAME, text)


def render_summary(report: dict, max_listed: int = MAX_LISTED, max_rows: int = MAX_ROWS) -> str:
    """The Markdown text of the summary."""
    lines = [f"## wsreplay run {md(str(report.get('run_id', '')))}", ""]
    lines += [totals_markdown(report), ""]
    lines += _matrix(report, max_rows)
    lines += _not_passing(report, max_listed)
    lines += _vary_skipped(report, max_listed)
    return "\n".join(lines).rstrip("\n") + "\n"


def _vary_skipped(report: dict, max_listed: int) -> list[str]:
    """--vary: the cells that were not run, each with the reason."""
    skipped = (report.get("vary") or {}).get("skipped") or []
    if not skipped:
        return []
    lines = ["", f"### Variant cells skipped ({len(skipped)})", ""]
    for skip in skipped[:max_listed]:
        name = f"{skip['scenario']}~{skip['variant']}"
        lines.append(f"- {md(name)}: {md(skip['reason'])}")
    if len(skipped) > max_listed:
        lines.append(f"- … and {len(skipped) - max_listed} more (report.json, `vary.skipped`)")
    return lines


def totals_markdown(report: dict) -> str:
    """`**14 results**: ❌ 5 fail · ✅ 8 pass …`, then versions and duration."""
    counts = totals(report.get("results", []))
    noun = "result" if counts["total"] == 1 else "results"
    parts = [f"{SYMBOLS[v]} {counts[v]} {v}" for v in VERDICTS]
    line = f"**{counts['total']} {noun}**: " + " · ".join(parts)
    facts = [
        f"wsreplay {md(str((report.get('tool') or {}).get('version', '?')))}",
        f"server {md(str((report.get('server') or {}).get('version', '?')))}",
    ]
    duration = report.get("duration_ms")
    if isinstance(duration, (int, float)):
        facts.append(f"{duration / 1000:.1f} s")
    if report.get("finished") is None:
        facts.append("**run not finished**")
    shard = report.get("shard")
    if isinstance(shard, dict):
        facts.append(f"shard {shard.get('index')} of {shard.get('count')} (its pairs only)")
    if report.get("merged_from"):
        facts.append(f"merged from {len(report['merged_from'])} shard(s)")
    return line + "  \n" + " · ".join(facts)


def cell_text(record: ReportRecord | None) -> str:
    """`❌ fail`; for a repeated pair whose runs disagreed, every verdict seen
    with its share, worst first (`⚠️ non-strict 2/3 · ✅ pass 1/3`);
    `—` for a pair without a record."""
    if record is None:
        return NOT_RUN
    parts = run_breakdown(record)
    if len(parts) < 2:
        verdict = str(record.get("verdict"))
        return f"{SYMBOLS.get(verdict, '')} {md(verdict)}".strip()
    total = sum(count for _, count in parts)
    return " · ".join(f"{SYMBOLS.get(v, '')} {md(v)} {count}/{total}".strip() for v, count in parts)


def md(text: str) -> str:
    """Text safe in a Markdown table cell or list item: one line, nothing interpreted."""
    text = " ".join(text.split())  # newlines, tabs, runs of spaces → one space
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _matrix(report: dict, max_rows: int) -> list[str]:
    specs = client_specs(report)
    names = scenario_names(report)
    if not specs or not names:
        return []
    cells = records_by_pair(report)
    rows = names
    hidden = 0
    if len(rows) > max_rows:
        rows = [n for n in names if any(_not_pass(cells.get((n, s))) for s in specs)]
        hidden = len(names) - len(rows)
        if len(rows) > max_rows:
            hidden += len(rows) - max_rows
            rows = rows[:max_rows]
    header = ["scenario"] + [_client_heading(report, spec) for spec in specs]
    lines = [
        "| " + " | ".join(header) + " |",
        "| --- |" + " :---: |" * len(specs),
    ]
    for name in rows:
        row = [md(name)] + [cell_text(cells.get((name, spec))) for spec in specs]
        lines.append("| " + " | ".join(row) + " |")
    if hidden:
        lines += [
            "",
            f"{hidden} more scenario(s) not shown (all-pass rows go first); see report.html.",
        ]
    return [*lines, ""]


def _not_passing(report: dict, max_listed: int) -> list[str]:
    rank = {verdict: index for index, verdict in enumerate(DISPLAY_ORDER)}
    order = {name: index for index, name in enumerate(scenario_names(report))}
    records = sorted(
        (r for r in report.get("results", []) if _not_pass(r)),
        key=lambda r: (rank.get(r.get("verdict"), 0), order.get(r.get("scenario"), 0)),
    )
    if not records:
        return []
    lines = [f"### Not passing ({len(records)})", ""]
    for record in records[:max_listed]:
        reason = str(record.get("reason") or "")
        if len(reason) > REASON_CHARS:
            reason = reason[:REASON_CHARS] + "…"
        lines.append(
            f"- {cell_text(record)} — **{md(str(record.get('scenario')))}** × "
            f"{md(_label(report, str(record.get('client'))))}: {md(reason)}"
        )
    if len(records) > max_listed:
        lines.append(f"- … and {len(records) - max_listed} more; see report.html or report.json.")
    return [*lines, ""]


def _not_pass(record: ReportRecord | None) -> bool:
    return record is not None and record.get("verdict") != "pass"


def _client_heading(report: dict, spec: str) -> str:
    return md(_label(report, spec))


def _label(report: dict, spec: str) -> str:
    """The spec, with the resolved version when the spec does not already say it."""
    resolved = client_entry(report, spec).get("resolved_version")
    adapter, _, requested = spec.partition("@")
    if not resolved or requested == resolved:
        return spec
    return f"{adapter}@{resolved}" if not requested else f"{spec} ({resolved})"
