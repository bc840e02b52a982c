#!/usr/bin/env python3
"""Issue 11's benchmark: one command prints today's figures, and the after-figures later.

Parts (harness and server by default):
  harness  the whole catalogue × each of --clients (newest, cached) through
           `./wsreplay run`, at --jobs 1 and at the default: wall time, the
           ratio of the two, sum of the jobs, critical path, the scenarios'
           own waits (budget_ms.expected) and step budgets, ratios; for
           python-websockets also harness overhead per job and peak RSS;
           then report assembly: wsreplay.outputs writing 10,000 results.
  matrix   (--matrix or --only matrix; minutes) ./bootstrap --test alone, then
           ./run-matrix --out DIR (13 adapters, newest, cached), timed.
  server   wsreplay-server alone under a C load client: sessions/s and
           p50/p99 of close/send-then-close at 1, 16 and 128 connections,
           with transcripts, without, and against a bare C server; then its
           RSS with 10,000 idle sessions.

Prints figures only; nothing here passes or fails on a time. Needs
build/wsreplay-server (./bootstrap) and cc. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "harness"))

from benchlib import SERVER, harnessbench, machine, reportbench, serverbench, table

REPORT_RESULTS = 10_000
QUICK_REPORT_RESULTS = 1_000
LOAD_SECONDS = 5.0
QUICK_LOAD_SECONDS = 1.0
IDLE_SESSIONS = 10_000
QUICK_IDLE_SESSIONS = 1_000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        choices=("harness", "server", "matrix"),
        help="run one part (harness includes report assembly)",
    )
    parser.add_argument(
        "--clients",
        metavar="A,B,...",
        help="the harness part's clients, ADAPTER or ADAPTER@VERSION, comma-separated; "
        "no version: the newest, resolved and cached by a one-scenario run "
        f"(default: {','.join(harnessbench.DEFAULT_CLIENTS)}; with --quick: "
        f"{harnessbench.PRIMARY})",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="also time ./bootstrap --test and ./run-matrix (13 adapters; takes minutes; "
        "with --quick, one scenario)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: close/* scenarios × python-websockets only, 1,000 report "
        "results, 1 s per load level, 1,000 idle sessions; not for comparing",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        type=Path,
        help="also write every figure as JSON, to diff before/after",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        type=Path,
        help="keep the harness and matrix runs' folders here (default: a temp dir, removed)",
    )
    return parser.parse_args(argv)


def log(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not SERVER.exists():
        log(f"{SERVER} is missing: run ./bootstrap first")
        return 2
    figures: dict = {
        "schema": "wsreplay-bench/1",
        "quick": args.quick,
        "machine": machine.describe(),
    }
    if args.only in (None, "harness"):
        with tempfile.TemporaryDirectory(prefix="wsreplay-bench-harness-") as tmp:
            work = args.keep or Path(tmp)
            if args.clients:
                clients = [c.strip() for c in args.clients.split(",") if c.strip()]
            else:
                clients = [harnessbench.PRIMARY] if args.quick else harnessbench.DEFAULT_CLIENTS
            figures["harness"], report_path = harnessbench.run(work, args.quick, clients, log)
            count = QUICK_REPORT_RESULTS if args.quick else REPORT_RESULTS
            figures["report"] = reportbench.run(report_path, count, log)
    if args.only == "matrix" or (args.matrix and args.only in (None, "harness")):
        with tempfile.TemporaryDirectory(prefix="wsreplay-bench-matrix-") as tmp:
            figures["matrix"] = harnessbench.run_matrix(args.keep or Path(tmp), args.quick, log)
    if args.only in (None, "server"):
        seconds = QUICK_LOAD_SECONDS if args.quick else LOAD_SECONDS
        idle = QUICK_IDLE_SESSIONS if args.quick else IDLE_SESSIONS
        figures["server"] = serverbench.run(seconds, idle, log)
    figures["machine"]["load_at_end"] = machine.loadavg()
    sys.stdout.write(table.render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
