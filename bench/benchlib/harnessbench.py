"""Part 1: the catalogue through `./wsreplay run`, per client, timed from outside.

The runs are the user's command as it is today; nothing in the harness is
changed or patched. Everything per job comes from the report it writes
(results/README.md: `timing.duration_ms` per record, the transcript's `t_us`,
the adapter's `observed.duration_ms`) and from the server's own reading of
the scenarios (`--check --json`: `budget_ms.steps` and `budget_ms.expected`).

Each client runs the catalogue at `--jobs 1` and at the default (when `wsreplay
run` has the option). With `--matrix`, `./run-matrix` is timed as well.
"""

from __future__ import annotations

import fnmatch
import json
import statistics
import subprocess
import time
from pathlib import Path

from . import REPO, SERVER
from .machine import loadavg
from .procmem import TreeWatcher

#: Issue 11's clients; each at its newest release.
DEFAULT_CLIENTS = ["python-websockets", "node-ws", "go-gorilla", "java-okhttp"]
#: The client whose per-job figures (overhead, RSS) are printed in full, and
#: whose run feeds part 2; its figures keep before.json's keys.
PRIMARY = "python-websockets"
QUICK_SCENARIOS = ["close/*"]
WARMUP_SCENARIO = "close/send-then-close"


def has_jobs_option() -> bool:
    """Whether `wsreplay run` offers --jobs (issue 11 added it)."""
    out = subprocess.run(
        [str(REPO / "wsreplay"), "run", "--help"], capture_output=True, text=True, check=False
    )
    return "--jobs" in out.stdout


def default_jobs() -> int | None:
    """What `--jobs` is when not given, as the harness computes it here."""
    try:
        from wsreplay.running.pool import default_jobs as harness_default
    except ImportError:
        return None
    return harness_default()


def scenario_budgets(scenarios_dir: Path) -> dict[str, dict[str, int]]:
    """Scenario name -> its budget_ms (steps, client, deadline, expected), from the loader."""
    out = subprocess.run(
        [str(SERVER), "--check", "--json", "--scenarios", str(scenarios_dir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {s["name"]: s["budget_ms"] for s in json.loads(out.stdout)["scenarios"]}


def resolve_newest(client: str, work: Path) -> str:
    """ADAPTER@VERSION: installs (or finds in the cache) the release, with one small run.

    CLIENT without a version is the newest release. The timed runs then name
    the version the run resolved, so they neither install nor ask the
    registry what "newest" is: they measure running, not downloading.
    """
    out = work / f"warmup-{client.replace('@', '-')}"
    proc = subprocess.run(
        [
            str(REPO / "wsreplay"),
            "run",
            "--client",
            client,
            "--scenario",
            WARMUP_SCENARIO,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,  # exit 1 is a failing verdict, not a broken run
        cwd=REPO,
    )
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    report_path = out / "report.json"
    if not report_path.exists():
        raise RuntimeError(f"the warm-up run exited {proc.returncode} with no report: {last}")
    client_info = json.loads(report_path.read_text())["clients"][0]
    version = client_info["resolved_version"]
    if not version:
        raise RuntimeError(f"did not start: {client_info.get('error') or last}")
    return f"{client.split('@')[0]}@{version}"


def timed(argv: list[str], out: Path) -> dict:
    """Runs argv from the repo; its wall time and the peak RSS of each process in it.

    stdout and stderr go to OUT.stdout and OUT.stderr.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{out}.stdout", "wb") as so, open(f"{out}.stderr", "wb") as se:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=so, stderr=se, cwd=REPO)
        watcher = TreeWatcher(proc.pid).start()
        status = proc.wait()
        wall_s = time.monotonic() - t0
        peaks = watcher.stop()
    return {"argv": argv, "exit": status, "wall_s": round(wall_s, 3), "peaks_kib": peaks}


def timed_run(spec: str, scenarios: list[str], out: Path, extra: list[str]) -> dict:
    """One `./wsreplay run` of one client."""
    argv = [str(REPO / "wsreplay"), "run", "--client", spec, "--out", str(out), *extra]
    for pattern in scenarios:
        argv += ["--scenario", pattern]
    return timed(argv, out)


def session_ms(transcript: dict | None) -> float | None:
    """The server's side of a job: tcp_accept (t_us 0) to its last event (`closed`)."""
    if not transcript or not transcript.get("events"):
        return None
    # a run of like frames logged as one event ends at its t_us_last
    return max(max(e.get("t_us", 0), e.get("t_us_last", 0)) for e in transcript["events"]) / 1000


def job_figures(report: dict, budgets: dict[str, dict[str, int]], wall_s: float) -> dict:
    """The figures of one run, from its report.json and the scenarios' budgets."""
    records = report["results"]
    durations = [r["timing"]["duration_ms"] for r in records]
    longest = max(records, key=lambda r: r["timing"]["duration_ms"])
    # job - server session: the figure. A session can end before the
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
    # Per job (one record per (scenario, client)): for one client the same as
    # per scenario; for the matrix, each scenario once per client.
    own_waits_s = sum(budgets.get(r["scenario"], {}).get("expected", 0) for r in records) / 1000
    steps_s = sum(budgets.get(r["scenario"], {}).get("steps", 0) for r in records) / 1000
    return {
        "jobs": len(records),
        "totals": report["totals"],
        "wall_s": wall_s,
        "report_duration_s": round((report.get("duration_ms") or 0) / 1000, 3),
        "sum_of_jobs_s": round(sum_jobs_s, 3),
        "outside_jobs_s": round(wall_s - sum_jobs_s, 3),
        "critical_path_s": round(critical_s, 3),
        "critical_path_job": longest["scenario"],
        "sum_of_step_budgets_s": round(steps_s, 3),
        "sum_of_own_waits_s": round(own_waits_s, 3),
        "wall_over_critical_path": round(wall_s / critical_s, 2) if critical_s else None,
        "wall_over_sum_of_jobs": round(wall_s / sum_jobs_s, 3) if sum_jobs_s else None,
        "wall_over_own_waits": round(wall_s / own_waits_s, 3) if own_waits_s else None,
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


def _client_runs(
    spec: str,
    scenarios: list[str],
    variants: dict[str, list[str]],
    budgets: dict[str, dict[str, int]],
    work: Path,
    log,
) -> tuple[dict, Path]:
    """The catalogue for one client in each variant (--jobs 1, the default)."""
    runs: dict = {}
    report_path = None
    for name, extra in variants.items():
        load_before = loadavg()
        log(f"harness: ./wsreplay run --client {spec} {' '.join(extra)} (load {load_before}) ...")
        out = work / f"run-{spec.split('@')[0]}-{name}"
        run_info = timed_run(spec, scenarios, out, extra)
        report_path = out / "report.json"
        if not report_path.exists():
            raise RuntimeError(f"{spec}: exit {run_info['exit']}, no report; see {out}.stderr")
        entry = job_figures(json.loads(report_path.read_text()), budgets, run_info["wall_s"])
        entry.update(
            exit=run_info["exit"],
            peak_rss_kib=_roles(run_info["peaks_kib"]),
            load_before=load_before,
            load_after=loadavg(),
            out=str(out),
        )
        runs[name] = entry
    assert report_path is not None
    result: dict = {"client": spec, "runs": runs}
    if "jobs_1" in runs and "default" in runs:
        ratio = runs["jobs_1"]["wall_s"] / runs["default"]["wall_s"]
        result["jobs_1_over_default"] = round(ratio, 2)
    return result, report_path


def run(work: Path, quick: bool, clients: list[str], log) -> tuple[dict, Path]:
    """Part 1; returns its figures and the report.json part 2 reads (the primary's default run).

    The JSON keeps before.json's keys for the primary client (`client`,
    `runs`, ...) and puts every other client under `adapters`.
    """
    scenarios = QUICK_SCENARIOS if quick else []
    budgets = scenario_budgets(REPO / "scenarios")
    primary = PRIMARY if PRIMARY in [c.split("@")[0] for c in clients] else clients[0]
    primary = primary.split("@")[0]
    # Every client resolved (and installed) first, so no timed run shares the
    # machine with an install.
    specs: dict[str, str] = {}
    errors: dict[str, str] = {}
    for client in clients:
        name = client.split("@")[0]
        what = client if "@" in client else f"the newest {client}"
        log(f"harness: resolving and caching {what} (load {loadavg()}) ...")
        try:
            specs[name] = resolve_newest(client, work)
        except RuntimeError as exc:
            log(f"harness: {client}: {exc}")
            errors[name] = str(exc)
    jobs_option = has_jobs_option()
    # --jobs 1 and the default, once the option exists; before it, the default only.
    variants = {"jobs_1": ["--jobs", "1"], "default": []} if jobs_option else {"default": []}
    selected = [n for n in budgets if not scenarios or _selected(n, scenarios)]
    figures: dict = {
        "client": specs.get(primary, primary),
        "scenarios": scenarios or "all",
        "jobs_option": jobs_option,
        "default_jobs": default_jobs() if jobs_option else 1,
        "scenario_count": len(selected),
        "sum_of_own_waits_s": round(sum(budgets[n]["expected"] for n in selected) / 1000, 3),
        "sum_of_step_budgets_s": round(sum(budgets[n]["steps"] for n in selected) / 1000, 3),
        "runs": {},
        "adapters": {},
    }
    report_path = None
    for name in [c.split("@")[0] for c in clients]:
        if name in errors:
            figures["adapters"][name] = {"client": name, "error": errors[name]}
            continue
        try:
            result, path = _client_runs(specs[name], scenarios, variants, budgets, work, log)
        except RuntimeError as exc:
            log(f"harness: {exc}")
            figures["adapters"][name] = {"client": specs[name], "error": str(exc)}
            continue
        if name == primary:
            figures["runs"] = result["runs"]
            if "jobs_1_over_default" in result:
                figures["jobs_1_over_default"] = result["jobs_1_over_default"]
            report_path = path
        else:
            figures["adapters"][name] = result
    if report_path is None:
        raise RuntimeError(f"{primary} did not run: {errors.get(primary)}")
    return figures, report_path


def run_matrix(work: Path, quick: bool, log) -> dict:
    """`./run-matrix --out DIR` timed whole, after `./bootstrap --test` timed alone.

    run-matrix runs `./bootstrap --test`, then `./wsreplay run` with its 13
    clients (newest, so each is resolved; the installs are cached). Timing the
    bootstrap alone just before gives its share; the rest is the run's.
    With `quick`, the matrix is one scenario (WARMUP_SCENARIO) × 13 clients.
    """
    budgets = scenario_budgets(REPO / "scenarios")
    log(f"matrix: ./bootstrap --test alone (load {loadavg()}) ...")
    boot = timed([str(REPO / "bootstrap"), "--test"], work / "matrix-bootstrap")
    log(f"matrix: ./run-matrix --out DIR (load {loadavg()}), a few minutes ...")
    out = work / "matrix"
    extra = ["--scenario", WARMUP_SCENARIO] if quick else []
    info = timed([str(REPO / "run-matrix"), "--out", str(out), *extra], out)
    report_path = out / "report.json"
    if not report_path.exists():
        raise RuntimeError(f"run-matrix: exit {info['exit']}, no report; see {out}.stderr")
    report = json.loads(report_path.read_text())
    figures = job_figures(report, budgets, info["wall_s"])
    per_client: dict[str, dict] = {}
    for r in report["results"]:
        c = per_client.setdefault(r["client"], {"jobs": 0, "sum_of_jobs_s": 0.0, "longest_s": 0.0})
        seconds = r["timing"]["duration_ms"] / 1000
        c["jobs"] += 1
        c["sum_of_jobs_s"] = round(c["sum_of_jobs_s"] + seconds, 3)
        if seconds > c["longest_s"]:
            c["longest_s"], c["longest_job"] = round(seconds, 3), r["scenario"]
    figures.update(
        exit=info["exit"],
        bootstrap_exit=boot["exit"],
        bootstrap_s=boot["wall_s"],
        run_part_s=round(info["wall_s"] - boot["wall_s"], 3),
        scenarios=WARMUP_SCENARIO if quick else "all",
        clients=[f"{c['spec']}@{c.get('resolved_version')}" for c in report["clients"]],
        per_client=per_client,
        peak_rss_kib=_roles(info["peaks_kib"]),
        load_after=loadavg(),
        out=str(out),
    )
    return figures


def _selected(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def _roles(peaks: dict[str, int]) -> dict[str, int]:
    """harness (the python that runs `wsreplay run`), server, and the largest other child."""
    roles = {"harness": peaks.get("root", 0), "server": peaks.get("wsreplay-server", 0)}
    others = {k: v for k, v in peaks.items() if k not in ("root", "wsreplay-server")}
    if others:
        name = max(others, key=others.get)
        roles[f"largest other child ({name})"] = others[name]
    return roles
