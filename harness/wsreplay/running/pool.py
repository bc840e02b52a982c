"""Parallel jobs: worker threads, each client's adapter processes, the gate.

A run is a list of (client, scenario) pairs. `JobPool` works them with
`jobs` threads at once; almost all of a job's time is spent waiting (the
scenario's delays, the client's read delays, the linger for EOF), so
threads are enough and the GIL costs nothing that matters.

Each client has a `ClientSlot`: the adapter processes that run its jobs,
one per job running at the same time, started when first needed (up to
`jobs` of them) and closed when the client's last pair is done. Pairs are
taken in client-major order, so at any moment only one or two clients have
processes running.

A scenario marked `"run_alone": true` runs with no other job at the same
time (`Gate`): its verdict depends on timing that parallel load could
shift.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..clients import PreparedClient
from .adapterproc import AdapterProcess, launch, safe_name

#: Jobs at once when --jobs is not given: a job mostly waits, so more jobs
#: than cores pay off; eight kept the verdicts of the catalogue identical
#: to --jobs 1 on two cores (see bench/README.md).
DEFAULT_JOBS_PER_CORE = 4
DEFAULT_JOBS_MAX = 8


def default_jobs() -> int:
    return max(1, min(DEFAULT_JOBS_MAX, DEFAULT_JOBS_PER_CORE * (os.cpu_count() or 1)))


@dataclass
class ClientSlot:
    """One client of a run and the adapter processes that run its jobs."""

    raw: str
    prep: PreparedClient | None
    #: Why the client cannot run (install or first start failed), or None.
    error: str | None
    #: Where the adapters' stderr logs go: SPEC.stderr.log, SPEC.2.stderr.log, ...
    log_dir: Path
    limit: int
    #: Pairs of this client not finished yet; at 0 its processes are closed.
    left: int = 0
    ready: dict | None = None
    #: The report has the client as its first adapter described it.
    reported: bool = False
    idle: list[AdapterProcess] = field(default_factory=list)
    running: list[AdapterProcess] = field(default_factory=list)
    #: A later process would not start: make do with those running.
    no_more: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    def acquire(self) -> AdapterProcess | None:
        """An adapter process for one job, or None when the client cannot run.

        The first process's ready line is the client's (`self.ready`); its
        failure to start is the client's error, as in a run of one job at a
        time. A later process that fails to start only means fewer at once.
        """
        with self.cond:
            while True:
                if self.error is not None or self.prep is None:
                    return None
                if self.idle:
                    reused = self.idle.pop()
                    self.running.append(reused)
                    return reused
                count = len(self.running)
                if count < self.limit and not (count and self.no_more):
                    adapter, ready, error = self._launch(count)
                    if adapter is not None:
                        self.ready = self.ready or ready
                        self.running.append(adapter)
                        return adapter
                    if count == 0:
                        self.error = error
                        return None
                    self.no_more = True
                self.cond.wait()

    def _launch(self, index: int) -> tuple[AdapterProcess | None, dict, str | None]:
        assert self.prep is not None
        suffix = "" if index == 0 else f".{index + 1}"
        log_path = self.log_dir / f"{safe_name(self.raw)}{suffix}.stderr.log"
        return launch(self.raw, self.prep.argv, self.prep.env, log_path)

    def release(self, adapter: AdapterProcess | None) -> None:
        """Back to the idle list after a job; the last pair closes them all."""
        with self.cond:
            if adapter is not None:
                self.running.remove(adapter)
                self.idle.append(adapter)
            self.left -= 1
            done = self.left <= 0
            closing = list(self.idle) if done else []
            if done:
                self.idle.clear()
            self.cond.notify()
        for process in closing:
            process.close()

    def introduce(self) -> None:
        """A client with no job here (another shard's): start one process for
        its ready line, so the report describes it as a run with jobs would."""
        adapter = self.acquire()
        if adapter is not None:
            with self.cond:
                self.running.remove(adapter)
            adapter.close()

    def kill_all(self) -> None:
        """Interrupted: end every process now, so jobs in flight return at once."""
        with self.cond:
            processes = self.running + self.idle
        for process in processes:
            if process.proc is not None and process.proc.poll() is None:
                process.proc.kill()


class Gate:
    """Shared for ordinary jobs, exclusive for a scenario that must run alone.

    A job waiting to run alone keeps new ordinary jobs out until it has run,
    so it is not starved.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._alone = False
        self._waiting_alone = 0

    def enter(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._waiting_alone += 1
                self._cond.wait_for(lambda: not self._alone and self._shared == 0)
                self._waiting_alone -= 1
                self._alone = True
            else:
                self._cond.wait_for(lambda: not self._alone and self._waiting_alone == 0)
                self._shared += 1

    def leave(self, alone: bool) -> None:
        with self._cond:
            if alone:
                self._alone = False
            else:
                self._shared -= 1
            self._cond.notify_all()


class JobPool:
    """Runs `work(item)` for every item with at most `jobs` at once.

    `work` is called from worker threads; `stopping` tells it (and it tells
    the pool) that results arriving now belong to an interrupted run.
    """

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._next = 0
        self._failure: BaseException | None = None

    def run(
        self,
        items: Sequence[object],
        work: Callable[[object], None],
        on_interrupt: Callable[[], None],
    ) -> None:
        """Works every item; on KeyboardInterrupt in the calling thread, stops
        taking items, calls `on_interrupt` (which should make jobs in flight
        end) and re-raises once the workers have returned (or 10 s passed)."""

        def worker() -> None:
            while not self.stopping.is_set():
                with self._lock:
                    if self._next >= len(items):
                        return
                    item = items[self._next]
                    self._next += 1
                try:
                    work(item)
                except BaseException as exc:  # a bug: stop the run, re-raise in the caller
                    with self._lock:
                        self._failure = self._failure or exc
                    self.stopping.set()
                    return

        threads = [
            threading.Thread(target=worker, name=f"wsreplay-job-{n}", daemon=True)
            for n in range(min(self.jobs, len(items)))
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.5)
        except BaseException:
            self.stopping.set()
            on_interrupt()
            for thread in threads:
                thread.join(10)
            raise
        if self._failure is not None:
            raise self._failure
