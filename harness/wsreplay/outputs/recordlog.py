"""A run's records as they finish: DIR/records.jsonl, and DIR/run.json beside it.

report.json holds every transcript, so rewriting it after each result made a
run's cost grow with the square of its results. Instead each finished record
is appended to records.jsonl as one line of JSON (one write, then a flush: a
run killed at any moment, even by SIGKILL, leaves every finished record
there), and report.json is written once, when the run ends or is
interrupted. run.json holds the report's header (everything but `results`
and `totals`), so `assemble` can rebuild report.json after a hard kill
(`wsreplay report DIR`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..contract import ReportRecord
from ..judging.verdicts import totals
from .report import REPORT_NAME, add_result, order_results, write_text_atomic

RECORDS_NAME = "records.jsonl"
HEADER_NAME = "run.json"


class RecordLog:
    """Appends a run's records to out_dir/records.jsonl, one line each."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / RECORDS_NAME
        # A folder reused by a new run: its records start from nothing.
        path.unlink(missing_ok=True)
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write_header(self, report: dict) -> Path:
        """(Re)write run.json: the report without its results, atomically."""
        header = {key: value for key, value in report.items() if key not in ("results", "totals")}
        text = json.dumps(header, indent=2, ensure_ascii=False) + "\n"
        return write_text_atomic(self.out_dir / HEADER_NAME, text)

    def append(self, record: ReportRecord) -> None:
        """One complete record as one line, in one write() to the OS.

        One system call: a buffered file splits a long line (a record with
        its transcript is tens of KB) into several writes, and a kill
        between them left half a line.
        """
        if self._fd is None:
            raise ValueError("the record log is closed")
        # ASCII (\\u escapes): a lone surrogate in a record stays writable
        data = (json.dumps(record) + "\n").encode("ascii")
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class NoRecords(Exception):
    """The folder has no run.json or records.jsonl to assemble a report from."""


def read_records(path: Path) -> tuple[list[ReportRecord], int]:
    """The records of a records.jsonl and how many lines were skipped.

    Only a last line can be incomplete (a write cut short by a full disk);
    it is skipped and counted, not fatal.
    """
    records: list[ReportRecord] = []
    skipped = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                skipped += 1
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                skipped += 1
    return records, skipped


def report_is_current(out_dir: Path) -> bool:
    """True when out_dir/report.json is the report the run in run.json wrote
    at its end: finished, or interrupted with every record it had."""
    try:
        header = json.loads((Path(out_dir) / HEADER_NAME).read_text(encoding="utf-8"))
        report = json.loads((Path(out_dir) / REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # run_id is the folder's name, the same for every run in a reused --out
    # folder: `started` tells the runs apart.
    same_run = all(report.get(key) == header.get(key) for key in ("run_id", "started"))
    if not same_run:
        return False
    if report.get("finished") is not None:
        return True
    # An interrupted run wrote its report (finished null) from every record
    # it had; a killed one wrote none, or an older one with fewer.
    try:
        records, _ = read_records(Path(out_dir) / RECORDS_NAME)
    except OSError:
        return False
    return len(report.get("results") or []) == len(records)


def assemble(out_dir: Path) -> tuple[dict, int]:
    """The report of the run in out_dir, from run.json and records.jsonl.

    `finished` and `duration_ms` stay as run.json has them (null): a report
    assembled this way is one of a run that did not finish. Returns the
    report and the number of unreadable lines skipped.
    """
    out_dir = Path(out_dir)
    header_path, records_path = out_dir / HEADER_NAME, out_dir / RECORDS_NAME
    missing = [p.name for p in (header_path, records_path) if not p.is_file()]
    if missing:
        raise NoRecords(
            f"{out_dir}: no {' or '.join(missing)}; not the folder of a run "
            "(or of a run from a wsreplay that did not write them)"
        )
    try:
        report = json.loads(header_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise NoRecords(f"{header_path}: not JSON: {exc}") from exc
    # results and totals after the header, in report.json's order
    report["results"] = []
    report["totals"] = totals([])
    records, skipped = read_records(records_path)
    for record in records:
        add_result(report, record)
    # records.jsonl is in the order jobs finished (parallel with --jobs)
    order_results(report)
    return report, skipped


__all__ = [
    "HEADER_NAME",
    "RECORDS_NAME",
    "NoRecords",
    "RecordLog",
    "assemble",
    "read_records",
    "report_is_current",
]
