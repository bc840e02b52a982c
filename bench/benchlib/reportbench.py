"""Part 2: writing the report of a 10,000-result run, with the harness's own writers.

The records are real ones (from part 1's run) repeated under more client
specs — 134 scenarios × 75 clients is about the shape of a big matrix run —
so every writer sees real transcripts and observations. The writers are
imported from harness/ (wsreplay.outputs) and called as the CLI calls them.

Runs in a child process (`python3 -m benchlib.reportbench`) so that its peak
RSS is the writers' and the records', not the bench's.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import BENCH_DIR, REPO

REWRITE_SAMPLES = 10


def synthetic_report(base: dict, count: int) -> dict:
    """base with `count` results: its records again and again, one client spec per pass."""
    from wsreplay.judging.verdicts import totals

    real = base["results"]
    passes = -(-count // len(real))
    report = copy.deepcopy({k: v for k, v in base.items() if k != "results"})
    template = base["clients"][0]
    report["clients"] = [dict(template, spec=f"{template['spec']}+copy{k}") for k in range(passes)]
    results = []
    for k in range(passes):
        for record in real:
            if len(results) == count:
                break
            results.append(dict(copy.deepcopy(record), client=f"{template['spec']}+copy{k}"))
    report["results"] = results
    report["totals"] = totals(results)
    return report


def timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - t0, value


def measure(report: dict, out: Path) -> dict:
    """write_all once, then each writer alone, then report.json at growing sizes."""
    from wsreplay.outputs import write_all
    from wsreplay.outputs.htmlreport import write_html
    from wsreplay.outputs.junit import write_junit
    from wsreplay.outputs.report import write_report
    from wsreplay.outputs.summary import write_summary

    figures: dict = {"results": len(report["results"]), "rss_with_records_kib": _rss_kib()}
    seconds, paths = timed(write_all, report, out / "all")
    figures["write_all_s"] = round(seconds, 3)
    figures["sizes_bytes"] = {kind: Path(p).stat().st_size for kind, p in paths.items()}
    each = {}
    for kind, writer in (
        ("json", write_report),
        ("junit", write_junit),
        ("summary", write_summary),
        ("html", write_html),
    ):
        each[kind] = round(timed(writer, report, out / "each")[0], 3)
    figures["writer_s"] = each
    figures["rewrite_after_every_result_s"] = _rewrite_estimate(report, out / "grow", write_report)
    return figures


def _rewrite_estimate(report: dict, out: Path, write_report) -> dict:
    """What rewriting report.json after every result (as the CLI does today) costs in all.

    Writing it with k results takes t(k); a run of N results pays
    t(1) + ... + t(N). t is measured at N/10, 2N/10, ... N and summed by the
    trapezoid rule (t(0) = 0): an estimate, not a measured total.
    """
    n = len(report["results"])
    sizes = [round(n * i / REWRITE_SAMPLES) for i in range(1, REWRITE_SAMPLES + 1)]
    samples = {}
    for k in sizes:
        partial = dict(report, results=report["results"][:k])
        samples[k] = timed(write_report, partial, out)[0]
    total, previous_k, previous_t = 0.0, 0, 0.0
    for k, t in samples.items():
        total += (previous_t + t) / 2 * (k - previous_k)
        previous_k, previous_t = k, t
    return {
        "estimated_total_s": round(total, 1),
        "samples_s": {str(k): round(t, 3) for k, t in samples.items()},
    }


def rewrites_of_run(base: dict, out: Path, write_report) -> float:
    """Measured: report.json written at 1, 2, ... N results, as the run that made
    `base` did after each of its N results (part 1's run: part of its wall time)."""
    t0 = time.perf_counter()
    for k in range(1, len(base["results"]) + 1):
        write_report(dict(base, results=base["results"][:k]), out)
    return time.perf_counter() - t0


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run(source_report: Path, count: int, log) -> dict:
    """Part 2 in a child process; its figures plus the child's peak RSS."""
    with tempfile.TemporaryDirectory(prefix="wsreplay-bench-report-") as tmp:
        env = dict(os.environ, PYTHONPATH=f"{REPO / 'harness'}:{BENCH_DIR}")
        argv = [sys.executable, "-m", "benchlib.reportbench", str(source_report), str(count), tmp]
        log(f"report: writing {count} results with wsreplay.outputs ...")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, env=env)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise RuntimeError(f"report bench failed (status {status})")
        figures = json.loads(stdout)
        figures["peak_rss_kib"] = usage.ru_maxrss  # KiB on Linux
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    from wsreplay.outputs.report import write_report

    base = json.loads(args.report.read_text())
    # before the synthetic records exist, so the peak RSS is still theirs
    run_rewrites = rewrites_of_run(base, args.out / "run", write_report)
    report = synthetic_report(base, args.count)
    figures = measure(report, args.out)
    figures["source_run"] = {
        "results": len(base["results"]),
        "rewrite_after_every_result_s": round(run_rewrites, 3),
    }
    json.dump(figures, sys.stdout)


if __name__ == "__main__":
    main()
