"""One Autobahn-compatible session: the C server, the cases agents start, their verdicts.

`FuzzingSession` is the front's `ControlHandler`. A `/runCase?case=N&agent=A`
becomes one run of the server (`run_target`: `/<scenario>?run=<id>`); a thread
per case waits for that run's transcript (`wait_run`, bounded by the
scenario's deadline) and judges it from the wire (`judging.echo`). Nothing
is lost: every case an agent started keeps a result from the moment its
runCase arrived, and `finish` judges whatever is still running from the
transcript so far before the reports are written, so a driver that hangs,
crashes or never calls updateReports still leaves a verdict for every case
it started.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TextIO

from ..build import server_binary
from ..contract import Transcript
from ..judging.echo import echo_plan, judge_echo, offer_problem
from ..judging.evaluate import Verdict
from ..outputs.report import utc_now
from ..paths import SCENARIOS_DIR
from ..running.server import ScenarioServer, ServerError, ServerInfo, evicted_problem
from .cases import CaseTable
from .reports import CaseResult, write_reports

#: Added to a scenario's deadline while waiting for its transcript: the time
#: between run_target's answer and the connection reaching the server.
HANDOFF_SLACK_S = 5.0
#: The longest a getCaseStatus waits for a case it does not know to be started.
STATUS_WAIT_S = 10.0
#: The scenario a runCase plays when nothing is to be judged (no scenario
#: reproduces the case, the mode cannot judge it, or the spec excludes it for
#: the agent): the opening handshake, then a close 1000 at once, as Autobahn
#: answers such a runCase. Its transcript is not judged.
CLOSE_AT_ONCE = "close/code-only"
#: How a run id names the agent: the server's run-id characters, at most this long.
AGENT_SLUG_MAX = 40


def agent_slug(agent: str) -> str:
    """The agent in a run id: letters, digits, `-`, `_`, `.`; never empty."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", agent).strip("-._")[:AGENT_SLUG_MAX]
    return slug or "agent"


class FuzzingSession:
    """Implements the front's ControlHandler over one wsreplay-server."""

    def __init__(
        self,
        table: CaseTable,
        out_dir: Path,
        autobahn_dir: Path,
        *,
        command: list[str] | None = None,
        scenarios_dir: Path = SCENARIOS_DIR,
        binary: Path | None = None,
        handoff: bool = True,
        progress: TextIO | None = sys.stderr,
        run_id: str = "fuzzingserver",
        close_at_once: str | None = CLOSE_AT_ONCE,
    ) -> None:
        self.table = table
        self.out_dir = Path(out_dir)
        self.autobahn_dir = Path(autobahn_dir)
        self.command = command or ["wsreplay", "fuzzingserver"]
        self.scenarios_dir = scenarios_dir
        self.binary = binary
        self.progress = progress
        self.run_id = run_id
        #: None: such a runCase is refused instead (the front answers 404)
        self.close_at_once = close_at_once
        # A unix socket path must stay short (108 bytes): not under out_dir.
        self._sock_dir = tempfile.mkdtemp(prefix="wsreplay-handoff-") if handoff else None
        self.handoff_path = Path(self._sock_dir) / "handoff.sock" if self._sock_dir else None
        self.server: ScenarioServer | None = None
        self.info: ServerInfo | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        #: (agent, case number) -> its latest result, in the order cases started
        self.results: dict[tuple[str, int], CaseResult] = {}
        self._threads: list[threading.Thread] = []
        self._serial = 0
        self.started: str | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> ServerInfo:
        self.server = ScenarioServer(
            self.binary or server_binary(),
            self.scenarios_dir,
            self.out_dir / "server.log",
            handoff=self.handoff_path,
        )
        self.info = self.server.start()
        self.started = utc_now()
        return self.info

    def finish(self, wait_s: float | None = None) -> dict:
        """Judge every case still running, write the reports, stop the server.

        Waits up to `wait_s` (None: as long as the cases' own deadlines) for
        the cases being judged; a case still running after that is judged
        from its transcript so far. Returns wsreplay's report.
        """
        deadline = None if wait_s is None else time.monotonic() + wait_s
        try:
            for thread in list(self._threads):
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                thread.join(left)
            for result in self._unjudged():
                self._judge_now(result, "the mode stopped while this case was still running")
            return self.write()
        finally:
            if self.server is not None:
                self.server.stop()
            if self._sock_dir:
                shutil.rmtree(self._sock_dir, ignore_errors=True)

    def write(self) -> dict:
        """Both forms of the reports, from every result so far."""
        with self._lock:
            results = list(self.results.values())
        version = self.info.version if self.info else "unknown"
        with self._write_lock:
            return write_reports(
                results,
                self.autobahn_dir,
                self.out_dir,
                self.run_id,
                version,
                self.command,
                self.started,
            )

    # ------------------------------------------------------------ ControlHandler

    def case_count(self) -> int:
        return len(self.table)

    def case_info(self, case: int) -> dict | None:
        entry = self.table.get(case)
        if entry is None:
            return None
        return {"id": entry.id, "description": entry.description}

    def run_target(self, case: int, agent: str) -> str | None:
        entry = self.table.get(case)
        if entry is None:
            return None
        if self.table.excluded_for(entry, agent):
            self._say(f"case {case} ({entry.id}) skipped for agent {agent} by the spec")
            return self._closed_at_once(case, agent)
        result = CaseResult(entry, agent, None, utc_now())
        scenario = entry.scenario
        if scenario is not None:
            plan = echo_plan(scenario)
            if isinstance(plan, str):
                result.skipped = plan
        with self._lock:
            self._serial += 1
            serial = self._serial
            self.results.pop((agent, case), None)  # a case played again: the newest counts
            self.results[(agent, case)] = result
            self._changed.notify_all()
        if scenario is None or result.skipped is not None:
            self._say(f"case {case} ({entry.id}) {agent}: {result.behavior}: {result.reason}")
            return self._closed_at_once(case, agent)
        result.run = f"ab{serial}-c{case}-{agent_slug(agent)}"
        thread = threading.Thread(
            target=self._judge, args=(result,), name=f"judge-{result.run}", daemon=True
        )
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return f"/{scenario['name']}?run={result.run}"

    def _closed_at_once(self, case: int, agent: str) -> str | None:
        if self.close_at_once is None:
            return None
        with self._lock:
            self._serial += 1
            serial = self._serial
        return f"/{self.close_at_once}?run=ab{serial}-c{case}-{agent_slug(agent)}-closed"

    def case_status(self, case: int, agent: str) -> dict:
        entry = self.table.get(case)
        if entry is None:
            return {"behavior": "UNIMPLEMENTED"}
        limit = STATUS_WAIT_S
        if entry.scenario is not None:
            limit += entry.scenario["budget_ms"]["deadline"] / 1000 + HANDOFF_SLACK_S
        deadline = time.monotonic() + limit
        with self._lock:
            while True:
                result = self.results.get((agent, case))
                if result is not None and self._judged(result):
                    return {"behavior": result.behavior}
                left = deadline - time.monotonic()
                if left <= 0:
                    if entry.scenario is None:
                        return {"behavior": "UNIMPLEMENTED"}
                    # Autobahn would wait for ever for a case never started
                    return {"behavior": "FAILED" if result is not None else "MISSING"}
                self._changed.wait(left)

    def update_reports(self, agent: str | None) -> None:
        """Writes the reports of every agent once the cases being judged are (Autobahn
        writes them all too); waits at most as long as their deadlines."""
        for thread in list(self._threads):
            thread.join()
        self.write()
        self._say(f"reports updated (asked by agent {agent}) in {self.autobahn_dir}")

    # ------------------------------------------------------------ judging

    @staticmethod
    def _judged(result: CaseResult) -> bool:
        return result.verdict is not None or result.run is None

    def _unjudged(self) -> list[CaseResult]:
        with self._lock:
            return [r for r in self.results.values() if not self._judged(r)]

    def _judge(self, result: CaseResult) -> None:
        assert self.server is not None and result.run is not None
        scenario = result.entry.scenario
        assert scenario is not None
        timeout = scenario["budget_ms"]["deadline"] / 1000 + HANDOFF_SLACK_S
        try:
            answer = self.server.wait_run(result.run, timeout)
        except ServerError as exc:
            self._settle(result, None, Verdict("error", f"the harness could not fetch it: {exc}"))
            return
        transcript = _last_session(answer)
        problem = None
        if answer.get("evicted"):
            problem = evicted_problem(result.run)
        elif not answer.get("complete"):
            problem = (
                "the client never connected"
                if transcript is None
                else f"the session did not end within the scenario's deadline ({timeout:.0f} s)"
            )
        plan = echo_plan(scenario)
        unfit = None if isinstance(plan, str) or problem else offer_problem(plan, transcript)
        if unfit:
            # not the session the scenario means: UNIMPLEMENTED, as Autobahn says of its
            # deflate cases for a client whose offer it cannot take, never FAILED
            with self._lock:
                result.skipped = unfit
        self._settle(result, transcript, judge_echo(scenario, transcript, problem))

    def _judge_now(self, result: CaseResult, problem: str) -> None:
        """A verdict for a case still running: from its transcript so far, if any."""
        scenario = result.entry.scenario
        assert scenario is not None and result.run is not None
        transcript = None
        if self.server is not None and self.server.alive():
            try:
                transcript = _last_session(self.server.query_run(result.run))
            except ServerError:
                transcript = None
        self._settle(result, transcript, judge_echo(scenario, transcript, problem))

    def _settle(self, result: CaseResult, transcript: Transcript | None, verdict: Verdict) -> None:
        with self._lock:
            if result.verdict is not None:
                return  # judged already (finish did not wait for this thread)
            result.transcript = transcript
            result.duration_ms = _duration_ms(transcript)
            result.verdict = verdict
            self._changed.notify_all()
        entry = result.entry
        self._say(
            f"case {entry.number} ({entry.id}, {entry.scenario_name}) {result.agent}: "
            f"{result.behavior}: {verdict.reason}"
        )

    def _say(self, line: str) -> None:
        if self.progress is not None:
            print(line, file=self.progress, flush=True)


def _last_session(answer: dict) -> Transcript | None:
    sessions = answer.get("sessions") or []
    return sessions[-1] if sessions else None


def _duration_ms(transcript: Transcript | None) -> float:
    """The session's length: its last event's time (µs from the accept)."""
    if transcript is None:
        return 0.0
    times = [e.get("t_us", 0) for e in transcript.get("events") or [] if isinstance(e, dict)]
    return round(max(times, default=0) / 1000, 3)
