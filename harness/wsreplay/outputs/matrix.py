"""Console output: a line per result while the run goes, a matrix at the end.

The progress lines are for watching a run (and for CI logs, where they are
the only thing kept); the matrix answers the question people actually ask —
which client fails which scenario — at a glance. Colour is a courtesy for
terminals only: never in pipes or files, and never when NO_COLOR is set.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TextIO

from ..contract import ReportRecord
from ..judging.verdicts import VERDICTS, WORDS, breakdown_text, totals
from .records import client_entry, client_specs, records_by_pair, scenario_names

MISSING = "-"
_SGR = {
    "pass": "32",
    "fail": "1;31",
    "non-strict": "33",
    "informational": "36",
    "error": "35",
}
_VERDICT_WIDTH = max(len(word) for word in WORDS.values())


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and only if NO_COLOR is not set at all."""
    if "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, verdict: str, color: bool) -> str:
    """Wrap `text` in the verdict's colour when colour is on."""
    code = _SGR.get(verdict)
    if not color or code is None:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def cell_text(record: ReportRecord) -> str:
    """The verdict word; when repeated runs disagreed, every verdict seen with
    its share of the runs, worst first (`FAIL 3/10 PASS 7/10`,
    `NON-STRICT 2/3 PASS 1/3`).

    Runs that all ended alike show the word alone: the fractions are there to
    flag a flaky pair, not to restate a steady one. A `3/3` never hides a
    `non-strict` run: each verdict is counted apart.
    """
    if is_mixed(record):
        return breakdown_text(record)
    return WORDS.get(record["verdict"], record["verdict"])


def is_mixed(record: ReportRecord) -> bool:
    """True when the repeated runs of a pair did not all end with the same verdict."""
    per_run = record.get("per_run") or []
    return record.get("runs", 1) > 1 and len({entry.get("verdict") for entry in per_run}) > 1


def client_label(spec: str, resolved_version: str | None) -> str:
    """`adapter@resolved`, keeping the requested version when it differs."""
    adapter, _, requested = spec.partition("@")
    if not resolved_version:
        return spec
    if requested in ("", resolved_version):
        return f"{adapter}@{resolved_version}"
    return f"{spec} ({resolved_version})"


class Progress:
    """Prints one compact line per finished (scenario, client) pair.

    `[ 3/21] close/send-then-close  python-websockets@14.0  FAIL  the message …`
    Passing the widths of the longest scenario and client up front keeps the
    columns aligned from the first line on; `runs` (--repeat) widens the
    verdict column for `FAIL 3/10 PASS 7/10`.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        color: bool | None = None,
        scenario_width: int = 0,
        client_width: int = 0,
        runs: int = 1,
    ) -> None:
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.color = use_color(self.stream) if color is None else color
        self.scenario_width = scenario_width
        self.client_width = client_width
        # Room for the common mixed case, the worst verdict and PASS with counts.
        share = len(f" {runs}/{runs}")
        self.verdict_width = _VERDICT_WIDTH + (
            share + 1 + len(WORDS["pass"]) + share if runs > 1 else 0
        )

    def add(self, record: ReportRecord) -> str:
        """Print the line for `record` and return it without colour."""
        self.done += 1
        plain, verdict_at = self._line(record)
        shown = self._fit(plain)
        word = cell_text(record)
        if self.color and verdict_at < len(shown):
            end = verdict_at + len(word)
            shown = (
                shown[:verdict_at]
                + paint(shown[verdict_at:end], record["verdict"], True)
                + shown[end:]
            )
        self.stream.write(shown + "\n")
        self.stream.flush()
        return plain

    def _line(self, record: ReportRecord) -> tuple[str, int]:
        """The uncoloured line and where the verdict word starts in it."""
        count = len(str(self.total))
        label = client_label(record["client"], record.get("resolved_version"))
        head = (
            f"[{self.done:>{count}}/{self.total}] "
            f"{record['scenario']:<{self.scenario_width}}  {label:<{self.client_width}}  "
        )
        word = cell_text(record)
        return (
            f"{head}{word:<{self.verdict_width}}  {record.get('reason', '')}".rstrip(),
            len(head),
        )

    def _fit(self, line: str) -> str:
        """On a terminal, cut the line to its width so each result stays one line."""
        isatty = getattr(self.stream, "isatty", None)
        if not (isatty and isatty()):
            return line
        width = shutil.get_terminal_size().columns
        return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def render_matrix(report: dict, color: bool = False) -> str:
    """A scenario × client table of verdicts, then a totals line."""
    scenarios = scenario_names(report)
    clients = client_specs(report)
    cells = records_by_pair(report)
    header = ["scenario"] + [_header_label(report, spec) for spec in clients]
    rows = [(name, [cells.get((name, spec)) for spec in clients]) for name in scenarios]
    widths = [len(text) for text in header]
    for name, records in rows:
        widths[0] = max(widths[0], len(name))
        for col, record in enumerate(records, 1):
            widths[col] = max(widths[col], len(cell_text(record) if record else MISSING))
    lines = ["  ".join(text.ljust(widths[i]) for i, text in enumerate(header)).rstrip()]
    for name, records in rows:
        lines.append(_matrix_row(name, records, widths, color))
    lines.append(totals_line(report))
    return "\n".join(lines) + "\n"


def totals_line(report: dict) -> str:
    """`21 results: 15 pass, 3 fail, …`, flagged when the run did not finish."""
    results = report.get("results", [])
    counts = totals(results)
    noun = "result" if len(results) == 1 else "results"
    parts = ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICTS)
    line = f"{len(results)} {noun}: {parts}"
    runs = sum(record.get("runs", 1) for record in results)
    if runs > len(results):
        flaky = sum(1 for record in results if is_mixed(record))
        line += f"; {runs} runs in all, {flaky} pair(s) with mixed outcomes"
    if report.get("finished") is None:
        line += " (run not finished)"
    return line


def _matrix_row(
    name: str, records: list[ReportRecord | None], widths: list[int], color: bool
) -> str:
    cells = [name.ljust(widths[0])]
    for col, record in enumerate(records, 1):
        word = cell_text(record) if record else MISSING
        padding = " " * (widths[col] - len(word))
        cells.append(paint(word, record["verdict"] if record else "", color) + padding)
    return "  ".join(cells).rstrip()


def _header_label(report: dict, spec: str) -> str:
    """The client's label with the version it resolved to, wherever that is known."""
    return client_label(spec, client_entry(report, spec).get("resolved_version"))
