"""Part 1: the catalogue through `./wsreplay run`, one client, timed from outside.

The run is the user's command as it is today; nothing in the harness is
changed or patched. Everything per job comes from the report it writes
(results/README.md: `timing.duration_ms` per record, the transcript's `t_us`)
and from the server's own reading of the scenarios (`--check --json`:
`budget_ms.steps`).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from pathlib import Path

from . import REPO, SERVER
from .machine import loadavg
from .procmem import TreeWatcher

CLIENT = "python-websockets"
QUICK_SCENARIOS = ["close/*"]


def has_jobs_option() -> bool:
    """Whether `wsreplay run` offers --jobs yet (issue 11 adds it)."""
    out = subprocess.run(
        [str(REPO / "wsreplay"), "run", "--help"], capture_output=True, text=True, check=False
    )
    return "--jobs" in out.stdout


def step_budgets(scenarios_dir: Path) -> dict[str, int]:
    """Scenario name -> budget_ms.steps, the server's upper bound on its own waits."""
    out = subprocess.run(
        [str(SERVER), "--check", "--json", "--scenarios", str(scenarios_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {s["name"]: s["budget_ms"]["steps"] for s in json.loads(out.stdout)["scenarios"]}


def resolve_newest(work: Path) -> str:
    """Installs (or finds in the cache) the newest release, with one small run.

    The timed run then names that version, so it neither installs nor asks
    the registry what "newest" is: it measures running, not downloading.
    """
    out = work / "warmup"
    subprocess.run(
        [
            str(REPO / "wsreplay"),
            "run",
            "--client",
            CLIENT,
            "--scenario",
            "close/send-then-close",
            "--out",
            str(out),
        ],
        capture_output=True,
        check=False,  # exit 1 is a failing verdict, not a broken run
        cwd=REPO,
    )
    report = json.loads((out / "report.json").read_text())
    version = report["clients"][0]["resolved_version"]
    if not version:
        raise RuntimeError(f"{CLIENT} did not start; see {out}")
    return version


def timed_run(spec: str, scenarios: list[str], out: Path, extra: list[str]) -> dict:
    """One `./wsreplay run`, its wall time and the peak RSS of each process in it."""
    argv = [str(REPO / "wsreplay"), "run", "--client", spec, "--out", str(out), *extra]
    for pattern in scenarios:
        argv += ["--scenario", pattern]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{out}.stdout", "wb") as so, open(f"{out}.stderr", "wb") as se:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=so, stderr=se, cwd=REPO)
        watcher = TreeWatcher(proc.pid).start()
        status = proc.wait()
        wall_s = time.monotonic() - t0
        peaks = watcher.stop()
    return {"argv": argv, "exit": status, "wall_s": round(wall_s, 3), "peaks_kib": peaks}


def session_ms(transcript: dict | None) -> float | None:
    """The server's side of a job: tcp_accept (t_us 0) to its last event (`closed`)."""
    if not transcript or not transcript.get("events"):
        return None
    return max(e.get("t_us", 0) for e in transcript["events"]) / 1000


def job_figures(report: dict, budgets: dict[str, int], wall_s: float) -> dict:
    """The per-job figures of one run, from its report.json."""
    records = report["results"]
    durations = [r["timing"]["duration_ms"] for r in records]
    longest = max(records, key=lambda r: r["timing"]["duration_ms"])
    # job - server session: the brief's figure. A session can end before the
    # client is done (the client still sleeping on recv_delay_ms), so this
    # also holds client-side waits. job - the adapter's own duration is the
    # harness's part alone: the job line, the /_runs poll, judging.
    overheads, beyond_adapter = [], []
    for r in records:
        server_ms = session_ms(r.get("transcript"))
        if server_ms is not None:
            overheads.append(r["timing"]["duration_ms"] - server_ms)
        adapter_ms = (r.get("observed") or {}).get("duration_ms")
        if adapter_ms is not None:
            beyond_adapter.append(r["timing"]["duration_ms"] - adapter_ms)
    sum_jobs_s = sum(durations) / 1000
    critical_s = longest["timing"]["duration_ms"] / 1000
    names = [s["name"] for s in report["scenarios"]]
    return {
        "jobs": len(records),
        "totals": report["totals"],
        "wall_s": wall_s,
        "report_duration_s": round((report.get("duration_ms") or 0) / 1000, 3),
        "sum_of_jobs_s": round(sum_jobs_s, 3),
        "outside_jobs_s": round(wall_s - sum_jobs_s, 3),
        "critical_path_s": round(critical_s, 3),
        "critical_path_job": longest["scenario"],
        "sum_of_step_budgets_s": round(sum(budgets.get(n, 0) for n in names) / 1000, 3),
        "wall_over_critical_path": round(wall_s / critical_s, 2),
        "wall_over_sum_of_jobs": round(wall_s / sum_jobs_s, 3),
        "overhead_per_job_ms": _spread(overheads),
        "jobs_with_transcript": len(overheads),
        "job_minus_adapter_ms": _spread(beyond_adapter),
        "jobs_with_adapter_duration": len(beyond_adapter),
    }


def _spread(values: list[float]) -> dict:
    """mean, median, p90, max and total of a list of milliseconds."""
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "mean": round(statistics.fmean(ordered), 2),
        "p50": round(ordered[len(ordered) // 2], 2),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
        "total": round(sum(ordered), 1),
    }


def run(work: Path, quick: bool, log) -> tuple[dict, Path]:
    """Part 1; returns its figures and the report.json the run wrote."""
    scenarios = QUICK_SCENARIOS if quick else []
    budgets = step_budgets(REPO / "scenarios")
    log(f"harness: resolving and caching the newest {CLIENT} ...")
    version = resolve_newest(work)
    spec = f"{CLIENT}@{version}"
    jobs_option = has_jobs_option()
    # --jobs 1 and the default, once the option exists; today the default only.
    variants = {"jobs_1": ["--jobs", "1"], "default": []} if jobs_option else {"default": []}
    figures: dict = {
        "client": spec,
        "scenarios": scenarios or "all",
        "jobs_option": jobs_option,
        "runs": {},
    }
    report_path = None
    for name, extra in variants.items():
        log(f"harness: ./wsreplay run --client {spec} {' '.join(extra)} (load {loadavg()}) ...")
        out = work / f"run-{name}"
        run_info = timed_run(spec, scenarios, out, extra)
        report_path = out / "report.json"
        report = json.loads(report_path.read_text())
        entry = job_figures(report, budgets, run_info["wall_s"])
        entry.update(
            exit=run_info["exit"],
            peak_rss_kib=_roles(run_info["peaks_kib"]),
            load_after=loadavg(),
            out=str(out),
        )
        figures["runs"][name] = entry
    assert report_path is not None
    return figures, report_path


def _roles(peaks: dict[str, int]) -> dict[str, int]:
    """harness (the python that runs `wsreplay run`), server, and the largest other child."""
    roles = {"harness": peaks.get("root", 0), "server": peaks.get("wsreplay-server", 0)}
    others = {k: v for k, v in peaks.items() if k not in ("root", "wsreplay-server")}
    if others:
        name = max(others, key=others.get)
        roles[f"largest other child ({name})"] = others[name]
    return roles
