"""A run: every selected scenario against every client, one verdict per pair.

Order of work: start the server, prepare every client (install on demand),
then work the (client, scenario) pairs, --jobs at a time (`pool`): each job
takes one of its client's adapter processes, runs the scenario, judges it.
With `--shard K/N` only the pairs `shards.select` gives shard K run; every
client is still prepared and listed, so the shards' reports merge into a
whole run's (`outputs.merge`).
Each finished record is appended to records.jsonl at once (so a crash, even
a SIGKILL, loses nothing judged); report.json and the files beside it are
written once, when the run ends or is interrupted (`outputs.recordlog`).
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, cast

from .. import __version__, outputs
from ..build import server_binary
from ..clients import (
    ADAPTERS,
    ClientSpec,
    PreparedClient,
    SpecError,
    check_version_range,
    installer,
    parse_spec,
    prepare,
)
from ..contract import Crash, Job, Observation, ReportRecord, Scenario, Transcript
from ..installers import VersionNotFound
from ..judging import crashes
from ..judging.evaluate import evaluate
from ..outputs import report
from ..outputs.matrix import Progress, render_matrix, use_color
from ..outputs.recordlog import RecordLog
from ..scenarios import identity, knobs_for, with_compression
from ..variants import split_name
from . import shards
from .adapterproc import AdapterProcess, safe_name
from .pool import ClientSlot, Gate, JobPool, default_jobs
from .server import ScenarioServer, ServerError, evicted_problem
from .tlscerts import make_run_certs

# Time the server may still need after the client's observation: its await
# timeouts and the linger for the client's EOF (2 s each by default). The
# wait is one long poll that ends when the session does; only a job whose
# client never connected waits all of it.
TRANSCRIPT_WAIT_S = 8.0
JOB_MARGIN_S = 10.0


@dataclass
class RunPlan:
    scenarios: list[Scenario]
    client_specs: list[str]
    out_dir: Path
    scenarios_dir: Path
    command: list[str]
    server_args: list[str] = field(default_factory=list)
    #: Runs per (scenario, client) pair; the report still has one record per pair.
    repeat: int = 1
    #: "ws" or "wss": how scenarios without a "transport" of their own run.
    transport: str = "ws"
    #: Jobs at once (--jobs); None: `pool.default_jobs()`.
    jobs: int | None = None
    #: The specs as `check_specs` returned them, when the caller checked them
    #: already (before printing its header); None: `execute` checks them.
    checked_specs: list[ClientSpec] | None = None
    #: (K, N): run only shard K of N of the (client, scenario) pairs (`shards`).
    shard: tuple[int, int] | None = None
    #: --compression: "default" (as the scenarios say), "on" or "off" for
    #: every scenario whose `compression` knob is "default" (`with_compression`).
    compression: str = "default"
    #: --vary: the (scenario, variant) pairs that got no cell, with the
    #: reason (`variants.with_variants`); `scenarios` holds the cells.
    vary: list[str] = field(default_factory=list)
    vary_skipped: list[dict[str, str]] = field(default_factory=list)


#: A client as prepared: (spec, its install, None) or (spec, None, why not).
Prepared = tuple[str, PreparedClient | None, str | None]


def check_specs(raw_specs: list[str]) -> list[ClientSpec]:
    """Parse every spec and refuse, with `SpecError`, any that cannot run:
    bad syntax, an unknown adapter, a version the registry does not have or
    outside the adapter's range.

    Called before anything starts (no header, no server, no file written), so
    a wrong spec costs nothing and leaves nothing behind. A version is
    resolved here (`python-websockets` -> the newest release, `14` -> `14.0`)
    and the spec returned carries the exact release, so `prepare` does not
    look it up again. A registry that cannot be reached is not the user's
    mistake: the spec is returned unresolved, and `prepare` reports it as
    that client's error, as before.
    """
    # Each unversioned spec asks its registry for the newest release: asked
    # all at once (13 registries one after the other took 6.4 s). A
    # SpecError is raised for the first bad spec in the order given.
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(raw_specs)))) as pool:
        return list(pool.map(_check_spec, raw_specs))


def _check_spec(raw: str) -> ClientSpec:
    spec = parse_spec(raw)
    info = ADAPTERS[spec.adapter]
    if spec.path is not None:
        return spec
    try:
        version = installer(info).resolve(info, spec.version)
    except SpecError:
        raise
    except VersionNotFound as exc:
        raise SpecError(f"client spec {spec.raw!r}: {exc}") from exc
    except (OSError, RuntimeError, ValueError):
        return spec  # cannot tell now; prepare will say why
    check_version_range(info, version)
    return ClientSpec(raw=spec.raw, adapter=spec.adapter, version=version)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def job_tag(run_id: str, spec: str, index: int) -> str:
    """The run tag of a job: the run's id (its folder's name, whatever
    characters --out gave it), the client spec and the scenario's index,
    each made safe for the server's run ids. A run id starts with a letter
    or digit (it names transcript files: no hidden or option-like names),
    so a folder named ".x", "-x", "_x" or "" gets an "r" in front."""
    run = safe_name(run_id)
    if not (run[:1].isascii() and run[:1].isalnum()):
        run = "r" + run
    return f"{run}-{safe_name(spec)}-{index}"


def uses_tls(scenario: Scenario, transport: str) -> bool:
    """wss:// when the run asks for it or the scenario only makes sense over TLS."""
    return transport == "wss" or scenario.get("transport") == "wss"


def make_job(
    server: ScenarioServer,
    scenario: Scenario,
    tag: str,
    transport: str,
    compression: str = "default",
) -> Job:
    """The job line for an adapter: URL, knobs, deadline (and the CA for wss://).

    `compression` is the run's --compression: it sets the `compression` knob
    of a scenario that leaves it at "default", and "on" also asks the server
    (`deflate=accept` in the URL) to accept the offer in scenarios that do
    not say how to answer it. A variant cell (`SCENARIO~VARIANT`) asks
    the server for SCENARIO with `vary=VARIANT`."""
    tls = uses_tls(scenario, transport)
    base, variant = split_name(scenario["name"])
    url = server.url(base, tag, tls=tls)
    if compression == "on":
        url += "&deflate=accept"
    if variant is not None:
        url += f"&vary={variant}"
    job: Job = {
        "id": tag,
        "url": url,
        "scenario": scenario["name"],
        "knobs": knobs_for(with_compression(scenario, compression)),
        # the loader's budget: the server's steps at their slowest, the client's waits, slack
        "deadline_ms": scenario["budget_ms"]["deadline"],
    }
    if tls:
        job["ca_file"] = str(server.ca_file)
    return job


def run_one(
    server: ScenarioServer,
    adapter: AdapterProcess | None,
    client_spec: str,
    resolved: str | None,
    scenario: Scenario,
    tag: str,
    client_error: str | None = None,
    transport: str = "ws",
    compression: str = "default",
) -> ReportRecord:
    """Runs one (scenario, client) pair and returns its report record.

    `compression` (the run's --compression) changes the scenario's knob as
    `with_compression` says, for the job and for judging alike."""
    scenario = with_compression(scenario, compression)
    started = report.utc_now()
    t0 = time.monotonic()
    observation: Observation | None = None
    transcript: Transcript | None = None
    harness_error = client_error
    stderr = None
    if adapter is not None and harness_error is None:
        job = make_job(server, scenario, tag, transport, compression)
        outcome = adapter.run_job(job, job["deadline_ms"] / 1000 + JOB_MARGIN_S)
        observation, harness_error, stderr = (
            outcome.observation,
            outcome.error,
            outcome.stderr,
        )
        # An adapter that refused the job (a knob it cannot honour) never
        # connected: there is no session to wait for.
        refused = observation is not None and observation.get("end") == "unsupported"
        transcript, server_problem = (None, None) if refused else _fetch_transcript(server, tag)
        if (
            harness_error is None
            and server_problem
            and observation
            and observation.get("connected")
        ):
            harness_error = server_problem
    crash = _library_crash(client_spec, stderr) if harness_error and observation is None else None
    verdict = evaluate(scenario, observation, transcript, harness_error, crash)
    record = report.make_record(
        scenario,
        client_spec,
        resolved,
        verdict,
        observation,
        transcript,
        started,
        (time.monotonic() - t0) * 1000,
        stderr or None,
    )
    record["transport"] = "wss" if uses_tls(scenario, transport) else "ws"
    return record


def _library_crash(client_spec: str, stderr: str | None) -> Crash | None:
    """The library's crash report in a dead adapter's stderr, if it names the library."""
    try:
        info = ADAPTERS[parse_spec(client_spec).adapter]
    except (SpecError, KeyError):
        return None
    return crashes.library_crash(stderr or "", crashes.LibraryCode.of(info.language, info.package))


def _fetch_transcript(server: ScenarioServer, tag: str) -> tuple[Transcript | None, str | None]:
    """The session's transcript (the first one of the run tag) or why there is none."""
    if not server.alive():
        return (
            None,
            f"wsreplay-server is no longer running: {server.stderr_text()[-500:]}",
        )
    try:
        answer = server.wait_run(tag, TRANSCRIPT_WAIT_S)
    except ServerError as exc:
        return None, str(exc)
    if answer.get("evicted"):
        # Its first session's transcript is gone (the ring forgets the
        # oldest first); what is left would be the wrong session.
        return None, evicted_problem(tag)
    sessions = answer.get("sessions") or []
    if not sessions:
        return None, "the server saw no connection for this job"
    return sessions[0], None


class Run:
    """Holds the state of one run so that the CLI and the pytest plugin share it."""

    def __init__(self, plan: RunPlan, stream: TextIO = sys.stderr) -> None:
        self.plan = plan
        self.stream = stream
        self.run_id = plan.out_dir.name
        self.report: dict = {}
        self.server: ScenarioServer | None = None
        self.records: RecordLog | None = None
        # Worker threads record results under this lock, one at a time.
        self._lock = threading.Lock()
        self._pool = JobPool(1)
        self._gate = Gate()
        self._progress: Progress | None = None
        #: The (client spec, scenario name) pairs this run's shard runs; None: all.
        self.selected: set[shards.Pair] | None = None

    def log(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def execute(self) -> dict:
        plan = self.plan
        # SpecError before any work: nothing started, nothing written.
        specs = (
            plan.checked_specs if plan.checked_specs is not None else check_specs(plan.client_specs)
        )
        # The server first: it validates the catalogue, and a bad scenario
        # should be reported before minutes of installs.
        self.server = ScenarioServer(
            server_binary(),
            plan.scenarios_dir,
            plan.out_dir / "server.log",
            plan.out_dir / "transcripts",
            plan.server_args,
            # Always served: some scenarios run over TLS whatever the run says.
            certs=make_run_certs(plan.out_dir / "tls", self.run_id),
        )
        info = self.server.start()
        try:
            prepared = self._prepare(specs)
            self._new_report(specs, info.version)
            jobs = plan.jobs or default_jobs()
            slots = [
                ClientSlot(raw, prep, error, plan.out_dir / "adapters", jobs)
                for raw, prep, error in prepared
            ]
            # Every client is listed at once, in the order asked, and updated
            # when its first adapter says what it is: the report's order does
            # not depend on which job finishes first.
            for slot in slots:
                self._add_client(slot)
            records = self.records = RecordLog(plan.out_dir)
            records.write_header(self.report)
        except BaseException:
            self.server.stop()
            raise
        work = self._work_list(slots)
        self._pool = JobPool(jobs)
        self._progress = Progress(
            len(work),
            self.stream,
            use_color(self.stream),
            max((len(s["name"]) for s in plan.scenarios), default=0),
            max((len(p[0]) for p in prepared), default=0) + 8,
            runs=plan.repeat,
        )
        completed = False
        try:
            self._introduce_idle_clients(slots)
            self._pool.run(work, self._work, lambda: _kill_all(slots))
            completed = True
        finally:
            with self._lock:
                records.close()
            _kill_all(slots)
            self.server.stop()
            # An interrupted run (Ctrl-C, SIGTERM) keeps `finished` null.
            if completed:
                report.finish(self.report)
            else:
                report.close_interrupted(self.report)
            # report.json, then junit.xml, summary.md and report.html beside it.
            outputs.write_all(self.report, plan.out_dir)
        return self.report

    def _prepare(
        self, specs: list[ClientSpec]
    ) -> list[tuple[str, PreparedClient | None, str | None]]:
        """Every client installed (on demand): (spec, prepared, None) or (spec, None, why not)."""
        prepared: list[tuple[str, PreparedClient | None, str | None]] = []
        for spec in specs:
            try:
                prepared.append((spec.raw, prepare(spec, log=self.log), None))
            except SpecError:
                raise  # the user's mistake: refuse the whole run (exit 2)
            except Exception as exc:  # an install failure: this client's error only
                self.log(f"wsreplay: {spec.raw}: {exc}")
                prepared.append((spec.raw, None, f"could not prepare {spec.raw}: {exc}"))
        return prepared

    def _new_report(self, specs: list[ClientSpec], server_version: str) -> None:
        """The report's header, and the pairs of this run's shard (--shard)."""
        plan = self.plan
        if plan.shard is not None:
            pairs = [(spec.raw, s["name"]) for spec in specs for s in plan.scenarios]
            expected = shards.expected_by_scenario(plan.scenarios)
            self.selected = set(shards.select(pairs, expected, *plan.shard))
        self.report = report.new_report(
            self.run_id,
            __version__,
            server_version,
            plan.command,
            catalogue=identity(plan.scenarios),
            shard=plan.shard,
            compression=plan.compression,
            vary={"variants": plan.vary, "skipped": plan.vary_skipped} if plan.vary else None,
        )
        for scenario in plan.scenarios:
            report.add_scenario(self.report, scenario)

    def _work_list(self, slots: list[ClientSlot]) -> list[tuple[ClientSlot, int]]:
        """The (client, scenario index) pairs to run, in the order to start them:
        client after client (few adapter processes alive at once), each
        client's longest jobs first (a long job started last is the run's tail)."""
        scenarios = self.plan.scenarios
        # the same expected length that balances --shard
        expected = [shards.expected_ms(s) for s in scenarios]
        longest_first = sorted(range(len(scenarios)), key=lambda i: -expected[i])
        work = [
            (slot, i)
            for slot in slots
            for i in longest_first
            if self.selected is None or (slot.raw, scenarios[i]["name"]) in self.selected
        ]
        for slot, _ in work:
            slot.left += 1
        return work

    def _introduce_idle_clients(self, slots: list[ClientSlot]) -> None:
        """A client whose pairs are all another shard's is still described
        as its adapter describes itself, as in a whole run."""
        assert self.records is not None
        for slot in slots:
            if slot.left == 0:
                slot.introduce()
                slot.reported = True
                self._add_client(slot)
                self.records.write_header(self.report)

    def _add_client(self, slot: ClientSlot) -> None:
        report.add_client(self.report, self._client_info(slot))

    @staticmethod
    def _client_info(slot: ClientSlot) -> dict:
        """The client's entry: as prepared, then as its first adapter says."""
        raw = slot.raw
        info: dict = {
            "spec": raw,
            "adapter": raw.split("@", 1)[0],
            "requested_version": raw.split("@", 1)[1] if "@" in raw else None,
        }
        resolved = slot.prep.resolved_version if slot.prep else None
        ready = slot.ready or {}
        # The library's own word for its version, except for a local
        # checkout, whose label ("path:DIR (1.2.3)") says where it came from.
        if slot.prep is not None and slot.prep.spec.path is None:
            resolved = ready.get("version", resolved)
        if slot.prep is not None:
            info.update(
                library=ready.get("library"), api=ready.get("api"), language=ready.get("language")
            )
        info.update(
            resolved_version=resolved,
            status="error" if slot.error else "ok",
            error=slot.error,
        )
        return info

    def _work(self, item: object) -> None:
        """One (client, scenario) pair, in a worker thread: run, judge, record."""
        slot, i = cast(tuple[ClientSlot, int], item)
        scenario = self.plan.scenarios[i]
        alone = bool(scenario.get("run_alone"))
        self._gate.enter(alone)
        try:
            adapter = slot.acquire()
            try:
                record = self._run_pair(slot, adapter, i)
            finally:
                slot.release(adapter)
        finally:
            self._gate.leave(alone)
        with self._lock:
            if self._pool.stopping.is_set():
                return  # cut short by the interruption: not a finding
            assert self.records is not None
            if not slot.reported:
                slot.reported = True
                self._add_client(slot)
                self.records.write_header(self.report)  # the client as resolved
            report.add_result(self.report, record)
            self.records.append(record)
            if self._progress is not None:
                self._progress.add(record)

    def _run_pair(self, slot: ClientSlot, adapter: AdapterProcess | None, i: int) -> ReportRecord:
        """--repeat: the same client, a fresh connection and run tag per run,
        one combined record per pair."""
        assert self.server is not None
        raw, scenario = slot.raw, self.plan.scenarios[i]
        tag = job_tag(self.run_id, raw, i)
        tags = (
            [tag]
            if self.plan.repeat <= 1
            else [f"{tag}-r{k}" for k in range(1, self.plan.repeat + 1)]
        )
        resolved = self._client_info(slot)["resolved_version"]
        return report.combine_runs(
            [
                run_one(
                    self.server,
                    adapter,
                    raw,
                    resolved,
                    scenario,
                    t,
                    slot.error if adapter is None else None,
                    self.plan.transport,
                    self.plan.compression,
                )
                for t in tags
            ]
        )


def _kill_all(slots: list[ClientSlot]) -> None:
    for slot in slots:
        slot.kill_all()


def print_summary(rep: dict, stream: TextIO, out_dir: Path) -> None:
    stream.write("\n" + render_matrix(rep, use_color(stream)) + "\n")
    stream.write(f"report: {out_dir / 'report.json'}\n")
    stream.write(f"html:   {out_dir / 'report.html'}\n")


def exit_code(rep: dict) -> int:
    """1 if any verdict is fail or error, else 0."""
    t = rep.get("totals", {})
    return 1 if t.get("fail", 0) or t.get("error", 0) else 0
