"""Runs wsreplay-server as a child process and reads transcripts back from it."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .linereader import LineReader
from .tlscerts import RunCerts

#: The longest wait_ms the server takes in GET /_runs/RUN?wait_ms=N.
RUNS_WAIT_MAX_MS = 60000
#: How much longer than its wait_ms a long poll may take to be answered.
RUNS_ANSWER_SLACK_S = 5.0


def evicted_problem(run: str) -> str:
    """Why a run has no transcript when GET /_runs/RUN answers "evicted": true."""
    return (
        f"the server evicted this run's transcript (run {run}) from its /_runs ring "
        "before the harness fetched it: the ring keeps the newest 4096 transcripts "
        "and at most --runs-max-bytes of them (64 MiB by default), and drops one "
        "larger than that on its own; see the server's log"
    )


class ServerError(Exception):
    """The server did not start, or stopped answering; the message quotes its stderr."""


@dataclass(frozen=True)
class ServerInfo:
    host: str
    port: int
    version: str
    scenarios: int
    tls_port: int | None = None


class ScenarioServer:
    """One wsreplay-server process on loopback, started on a free port.

    stderr goes to a log file, kept so a failure can quote it.
    """

    def __init__(
        self,
        binary: Path,
        scenarios_dir: Path,
        log_path: Path,
        transcripts_dir: Path | None = None,
        extra_args: list[str] | None = None,
        certs: RunCerts | None = None,
        handoff: Path | None = None,
    ) -> None:
        self.binary = binary
        self.scenarios_dir = scenarios_dir
        self.log_path = log_path
        self.transcripts_dir = transcripts_dir
        self.extra_args = list(extra_args or [])
        self.certs = certs  # also serve wss:// with these
        # also take connections handed over on this unix socket (--handoff)
        self.handoff = handoff
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: ServerInfo | None = None

    def argv(self) -> list[str]:
        argv = [str(self.binary), "--scenarios", str(self.scenarios_dir), "--port", "0"]
        if self.transcripts_dir is not None:
            argv += ["--transcripts", str(self.transcripts_dir)]
        if self.certs is not None:
            argv += ["--tls-cert", str(self.certs.cert_file), "--tls-key", str(self.certs.key_file)]
        if self.handoff is not None:
            argv += ["--handoff", str(self.handoff)]
        return argv + self.extra_args

    def start(self, timeout: float = 15.0) -> ServerInfo:
        """Starts the server and waits for its one "listening" line."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.transcripts_dir is not None:
            self.transcripts_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log
        )
        log.close()
        assert self.proc.stdout is not None
        line, problem = LineReader(self.proc.stdout.fileno()).readline(timeout)
        if line is None:
            # EOF: it exited (bad scenarios, say). Timeout: it hangs, stop() kills it.
            what = f"exit {self.proc.wait()}" if problem == "eof" else f"no line in {timeout:.0f} s"
            self.stop()
            raise ServerError(
                f"wsreplay-server did not start ({what}): {self.stderr_text().strip()}"
            )
        try:
            hello = json.loads(line)
            self.info = ServerInfo(
                hello["host"],
                int(hello["port"]),
                hello["version"],
                int(hello["scenarios"]),
                int(hello["tls_port"]) if hello.get("tls_port") is not None else None,
            )
        except (ValueError, KeyError) as exc:
            self.stop()
            raise ServerError(
                f"wsreplay-server printed an unexpected first line: {line!r}"
            ) from exc
        return self.info

    @property
    def ca_file(self) -> Path | None:
        """The CA that wss:// clients of this server must trust."""
        return self.certs.ca_file if self.certs is not None else None

    def url(self, scenario: str, run: str, tls: bool = False) -> str:
        """The URL of a scenario: ws://, or wss:// on the TLS port."""
        assert self.info is not None
        if tls:
            if self.info.tls_port is None:
                raise ServerError("wsreplay-server was started without TLS")
            return f"wss://{self.info.host}:{self.info.tls_port}/{scenario}?run={run}"
        return f"ws://{self.info.host}:{self.info.port}/{scenario}?run={run}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self, limit: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def query_run(self, run: str, timeout: float = 5.0, wait_ms: int | None = None) -> dict:
        """One GET /_runs/RUN; with wait_ms, the long poll GET /_runs/RUN?wait_ms=N.

        timeout bounds the whole exchange: give a long poll more than wait_ms.
        """
        assert self.info is not None
        target = f"/_runs/{run}" if wait_ms is None else f"/_runs/{run}?wait_ms={wait_ms}"
        conn = http.client.HTTPConnection(self.info.host, self.info.port, timeout=timeout)
        try:
            conn.request("GET", target)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            raise ServerError(f"wsreplay-server did not answer GET {target}: {exc}") from exc
        finally:
            conn.close()
        if resp.status != 200:
            raise ServerError(f"GET {target} answered {resp.status}: {body[:200]!r}")
        return json.loads(body)

    def wait_run(self, run: str, timeout: float) -> dict:
        """Waits until every session of RUN has ended, or the timeout passes.

        One long poll: the server answers the moment the run's last session
        ends (or when the timeout has passed), so nothing here sleeps or polls.
        Returns the last answer either way; its "complete" field tells which.
        A run whose transcripts the server evicted (or dropped as too big)
        answers at once, complete, with "evicted": true and what is left.
        """
        deadline = time.monotonic() + timeout
        while True:
            left_ms = round((deadline - time.monotonic()) * 1000)
            wait_ms = max(0, min(RUNS_WAIT_MAX_MS, left_ms))
            answer = self.query_run(run, wait_ms / 1000 + RUNS_ANSWER_SLACK_S, wait_ms)
            if answer.get("complete") or time.monotonic() >= deadline:
                return answer
            # Early and incomplete: a timeout over the server's longest wait,
            # or a server without wait_ms (which answers at once): poll on.
            time.sleep(0.02)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not go; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode
