"""--jobs N: parallel (scenario, client) jobs with the verdicts of one at a time.

The pool and the gate are tested with plain threads; the end-to-end tests
run real websockets releases against the real server: the same verdicts and
the same report with --jobs 1 and --jobs 4, several adapter processes at
once, and a scenario marked `run_alone` that no other job overlaps.
"""

from __future__ import annotations

import _thread
import itertools
import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import wsreplay
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.running.pool import Gate, JobPool, default_jobs

CLIENT = "python-websockets@14.1"
#: Quick scenarios plus one whose client reads after 1.5 s, so jobs overlap.
SELECTION = ["close/send-then-*", "close/empty-close-frame*", "control/ping-while-not-reading"]


# ------------------------------------------------------------------ pool


def test_every_item_runs_once_and_never_more_than_jobs_at_once() -> None:
    running, most, seen = 0, 0, []
    lock = threading.Lock()

    def work(item: object) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            seen.append(item)
        time.sleep(0.01)
        with lock:
            running -= 1

    JobPool(3).run(list(range(40)), work, lambda: None)
    assert sorted(seen) == list(range(40))  # type: ignore[type-var]
    assert 1 <= most <= 3


def test_a_failing_job_stops_the_pool_and_is_raised() -> None:
    def work(item: object) -> None:
        if item == 5:
            raise RuntimeError("job 5 broke")

    with pytest.raises(RuntimeError, match="job 5 broke"):
        JobPool(2).run(list(range(50)), work, lambda: None)


def test_an_interrupt_stops_taking_jobs_and_calls_on_interrupt() -> None:
    started: list[object] = []
    interrupted = threading.Event()

    def work(item: object) -> None:
        started.append(item)
        if item == 3:
            _thread.interrupt_main()  # Ctrl-C, as the main thread sees it
        interrupted.wait(5)

    pool = JobPool(2)
    with pytest.raises(KeyboardInterrupt):
        pool.run(list(range(100)), work, interrupted.set)
    assert interrupted.is_set() and pool.stopping.is_set()
    assert len(started) < 10, "no new jobs after the interrupt"


def test_a_job_that_runs_alone_overlaps_no_other() -> None:
    gate, lock = Gate(), threading.Lock()
    inside: list[str] = []
    overlaps: list[tuple[str, list[str]]] = []

    def job(name: str, alone: bool) -> None:
        gate.enter(alone)
        with lock:
            if (alone and inside) or any(n.startswith("alone") for n in inside):
                overlaps.append((name, list(inside)))
            inside.append(name)
        time.sleep(0.02)
        with lock:
            inside.remove(name)
        gate.leave(alone)

    names = [("alone" if i % 7 == 3 else "shared") + str(i) for i in range(30)]
    JobPool(4).run(names, lambda n: job(str(n), str(n).startswith("alone")), lambda: None)
    assert overlaps == []


def test_the_default_is_a_few_jobs_per_core() -> None:
    assert 1 <= default_jobs() <= 8


# ------------------------------------------------------------ end to end


def _run(out: Path, *extra: str) -> dict:
    args = ["run", "--client", CLIENT, "--out", str(out)]
    for pattern in SELECTION:
        args += ["--scenario", pattern]
    proc = wsreplay(*args, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def _interval(record: dict) -> tuple[float, float]:
    start = datetime.fromisoformat(record["timing"]["started"].replace("Z", "+00:00"))
    begin = start.timestamp()
    return begin, begin + record["timing"]["duration_ms"] / 1000


def test_jobs_1_and_jobs_4_give_the_same_report(tmp_path: Path) -> None:
    one = _run(tmp_path / "one", "--jobs", "1")
    four = _run(tmp_path / "four", "--jobs", "4")
    names = [(r["client"], r["scenario"]) for r in one["results"]]
    assert len(names) >= 6
    assert [(r["client"], r["scenario"]) for r in four["results"]] == names
    assert [r["verdict"] for r in four["results"]] == [r["verdict"] for r in one["results"]]
    assert four["clients"] == one["clients"]
    # four jobs really ran at once: some two of them overlap in time
    spans = sorted(_interval(r) for r in four["results"])
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))
    logs = list((tmp_path / "four" / "adapters").glob("*.stderr.log"))
    assert 1 <= len(logs) <= 4, "at most one adapter process per job at once"
    assert len(list((tmp_path / "one" / "adapters").glob("*.stderr.log"))) == 1


def test_a_run_alone_scenario_overlaps_no_other_job(tmp_path: Path) -> None:
    catalogue = tmp_path / "scenarios"
    for pattern in ("close/send-then-*", "close/empty-close-frame*"):
        for source in SCENARIOS_DIR.glob(pattern + ".json"):
            target = catalogue / source.relative_to(SCENARIOS_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            doc = json.loads(source.read_text(encoding="utf-8"))
            if doc["name"] == "close/send-then-close":
                doc["run_alone"] = True
            target.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "out"
    proc = wsreplay(
        "run", "--client", CLIENT, "--jobs", "4", "--scenarios-dir", str(catalogue),
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "report.json").read_text(encoding="utf-8"))["results"]
    alone = next(r for r in results if r["scenario"] == "close/send-then-close")
    begin, end = _interval(alone)
    others = [_interval(r) for r in results if r is not alone]
    assert len(others) >= 4
    assert all(e <= begin or b >= end for b, e in others)
