"""Everything a run writes beside report.json, in one call.

A run ends with four files in its folder: report.json (the record, the only
input of the other three), junit.xml (for CI test tabs), summary.md (for a CI
job summary) and report.html (for people). `write_all` writes them in that
order, each atomically, so a reader never sees half a file.

- `report`: building and writing report.json (and `write_text_atomic`).
- `recordlog`: records.jsonl, one line per record as it finishes, and run.json
  (the header): what a killed run leaves, and `assemble` rebuilds it from.
- `records`: what the writers read from a report, the same way in each.
- `junit`, `summary`, `htmlreport` (+ ``html/``): the other three files.
- `matrix`: the console's progress lines and end-of-run matrix.
- `merge`: the reports of `run --shard K/N` joined into one (`wsreplay merge`).
"""

from __future__ import annotations

from pathlib import Path

from .htmlreport import write_html
from .junit import write_junit
from .report import record_texts, write_report
from .summary import write_summary

__all__ = ["write_all"]


def write_all(report: dict, out_dir: Path) -> dict[str, Path]:
    """Write report.json, junit.xml, summary.md and report.html into out_dir.

    Returns the path of each by kind (`json`, `junit`, `summary`, `html`).
    report.json comes first: if a writer after it fails, the record is safe.
    """
    out_dir = Path(out_dir)
    texts = record_texts(report)  # the records' JSON, for report.json and report.html
    return {
        "json": write_report(report, out_dir, texts),
        "junit": write_junit(report, out_dir),
        "summary": write_summary(report, out_dir),
        "html": write_html(report, out_dir, texts),
    }
