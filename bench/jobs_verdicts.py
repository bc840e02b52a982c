#!/usr/bin/env python3
"""Do parallel jobs change verdicts? The catalogue with --jobs 1 and with the
default, R times each, per client; prints every (client, scenario) whose
verdicts are not all the same, and the wall times.

    python3 bench/jobs_verdicts.py [--repeats 3] [--client SPEC]... [--keep DIR]

Default clients: python-websockets, node-ws, go-gorilla, java-okhttp (issue
11's list), each at its newest release (resolved once, then named exactly).
Runs alternate --jobs 1 and the default so that a change in the machine's
load falls on both. Exit 0 when nothing differs, 1 otherwise. Measures and
prints; not part of run-tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WSREPLAY = str(ROOT / "wsreplay")
CLIENTS = ["python-websockets", "node-ws", "go-gorilla", "java-okhttp"]


def run(client: str, jobs: str | None, out: Path, *extra: str) -> tuple[dict, float]:
    args = [WSREPLAY, "run", "--client", client, "--out", str(out), *extra]
    if jobs:
        args += ["--jobs", jobs]
    t0 = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads((out / "report.json").read_text(encoding="utf-8")), wall


def resolve(client: str, keep: Path) -> str:
    """The newest release, resolved by a one-scenario run (installs it once)."""
    if "@" in client:
        return client
    rep, _ = run(client, "1", keep / f"resolve-{client}", "--scenario", "close/send-then-close")
    return f"{client}@{rep['clients'][0]['resolved_version']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--client", action="append", default=[])
    parser.add_argument("--keep", type=Path, help="keep the runs' folders here")
    args = parser.parse_args()
    keep = args.keep or Path(tempfile.mkdtemp(prefix="wsreplay-jobs-"))
    differing = 0
    for raw in args.client or CLIENTS:
        client = resolve(raw, keep)
        verdicts: dict[str, dict[str, list[str]]] = collections.defaultdict(
            lambda: {"1": [], "default": []}
        )
        walls: dict[str, list[float]] = {"1": [], "default": []}
        for k in range(args.repeats):
            for mode in ("1", "default"):
                out = keep / f"{client}-jobs-{mode}-{k + 1}"
                rep, wall = run(client, mode if mode == "1" else None, out)
                walls[mode].append(wall)
                for record in rep["results"]:
                    verdicts[record["scenario"]][mode].append(record["verdict"])
                print(f"{client} --jobs {mode} run {k + 1}: {wall:.1f} s", file=sys.stderr)
        changed = {
            name: v
            for name, v in verdicts.items()
            if len(set(v["1"] + v["default"])) > 1 or len(v["1"]) != len(v["default"])
        }
        differing += len(changed)
        print(
            f"{client}: {len(verdicts)} scenarios x {args.repeats} repeats; wall --jobs 1 "
            f"{', '.join(f'{w:.1f}' for w in walls['1'])} s, default "
            f"{', '.join(f'{w:.1f}' for w in walls['default'])} s; "
            f"{len(changed)} scenario(s) not identical"
        )
        for name, v in sorted(changed.items()):
            print(f"  {name}: --jobs 1 {v['1']}, default {v['default']}")
        sys.stdout.flush()
    print(f"folders: {keep}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
