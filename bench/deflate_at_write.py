#!/usr/bin/env python3
"""Issue 14's figures: what loading the catalogue costs with "compress" items deflated at load,
and with them left to the write (server/README.md, "Compressed items").

    python3 bench/deflate_at_write.py [--repeat N] [--eager-autobahn] [--baseline SERVER]
                                      [--json FILE]

Two catalogues: scenarios/ as it is, and scenarios/ without the 198 Autobahn 12.x/13.1-13.6 cases
(compression/autobahn-*.json, copied aside without them). For each, and for each --deflate-at
(auto, the default; load, what every start paid before; write, everything the checks allow left to
the write), the best and the median of --repeat runs of:

  check  `wsreplay-server --check --json --scenarios DIR`, what every `./wsreplay run` does first:
         wall time, CPU (user + sys) and peak RSS
  start  the server from exec until it prints its port, what every run and every server fixture
         waits for: wall time, and its RSS then

--baseline SERVER adds a row per catalogue for another build of the server, run without
--deflate-at (e.g. one built from the commit before deflating at the write, in a folder of its
own: `git archive COMMIT | tar -x -C DIR`, then meson and ninja there). The full catalogue
deflated at load takes minutes per run: measured once, and only with --eager-autobahn. Prints
figures only; nothing here passes or fails on a time. Needs build/wsreplay-server (./bootstrap).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import REPO, SERVER, machine
from benchlib.procmem import status_kib

MODES = ("auto", "load", "write")
AUTOBAHN_GLOB = "autobahn-*.json"


def server_argv(mode: str, baseline: Path | None) -> list[str]:
    """The server of a row: a --baseline build as it is, else ours with --deflate-at MODE."""
    if mode == "baseline":
        assert baseline is not None
        return [str(baseline)]
    return [str(SERVER), "--deflate-at", mode]


def check_once(catalogue: Path, argv0: list[str]) -> dict[str, float]:
    """One `--check --json`: wall seconds, CPU seconds, peak RSS (MiB) of that process alone."""
    argv = [*argv0, "--check", "--json", "--scenarios", str(catalogue)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {err[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


def start_once(catalogue: Path, argv0: list[str]) -> dict[str, float]:
    """The server from exec to its ready line: wall seconds, and its RSS (MiB) then."""
    argv = [*argv0, "--scenarios", str(catalogue), "--port", "0"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        wall = time.perf_counter() - t0
        if not line:
            raise RuntimeError(f"{' '.join(argv)}: did not start")
        json.loads(line)  # {"port": N, ...}
        rss = status_kib(proc.pid, "VmRSS") or 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {"wall_s": wall, "rss_mib": rss / 1024}


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = runs[0].keys()
    return {
        k: {"best": min(r[k] for r in runs), "median": statistics.median(r[k] for r in runs)}
        for k in keys
    }


def without_autobahn(into: Path) -> Path:
    """A copy of scenarios/ without the Autobahn permessage-deflate families."""
    root = into / "scenarios"
    shutil.copytree(REPO / "scenarios", root)
    for f in (root / "compression").glob(AUTOBAHN_GLOB):
        f.unlink()
    return root


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (default 3)")
    ap.add_argument(
        "--eager-autobahn",
        action="store_true",
        help="also the full catalogue deflated at load, once (minutes)",
    )
    ap.add_argument(
        "--baseline", type=Path, metavar="SERVER", help="also this server build, as it is"
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    if not SERVER.exists():
        print(f"{SERVER}: build it first (./bootstrap)", file=sys.stderr)
        return 2
    n_autobahn = len(list((REPO / "scenarios" / "compression").glob(AUTOBAHN_GLOB)))
    figures: dict[str, object] = {"machine": machine.describe(), "rows": []}
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        catalogues = {
            "without the 198": without_autobahn(Path(tmp)),
            f"with the 198 ({n_autobahn} files)": REPO / "scenarios",
        }
        for label, path in catalogues.items():
            modes = [*MODES, "baseline"] if args.baseline else list(MODES)
            for mode in modes:
                full = label.startswith("with ")
                eager = mode in ("load", "baseline")
                if full and eager and not args.eager_autobahn:
                    continue
                repeat = 1 if full and eager else args.repeat
                argv0 = server_argv(mode, args.baseline)
                print(f"{label}, {mode}: {repeat} runs ...", file=sys.stderr)
                check = summarize([check_once(path, argv0) for _ in range(repeat)])
                start = summarize([start_once(path, argv0) for _ in range(repeat)])
                rows.append({"catalogue": label, "mode": mode, "check": check, "start": start})
    figures["rows"] = rows
    print(
        f"{'catalogue':<26} {'server':<12} {'check wall s':>12} {'check CPU s':>11} "
        f"{'check RSS MiB':>13} {'start wall s':>12} {'start RSS MiB':>13}"
    )
    for r in rows:
        c, s = r["check"], r["start"]
        assert isinstance(c, dict) and isinstance(s, dict)
        print(
            f"{r['catalogue']:<26} {r['mode']:<12} {c['wall_s']['median']:>12.2f} "
            f"{c['cpu_s']['median']:>11.2f} {c['peak_rss_mib']['median']:>13.0f} "
            f"{s['wall_s']['median']:>12.2f} {s['rss_mib']['median']:>13.0f}"
        )
    print("(medians; --json has the best runs too)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
