"""Runs one adapter process per client spec and exchanges JSON lines with it.

Whatever the adapter does — crash, hang, print garbage — a job ends with
either an observation or an error sentence that names the adapter and
quotes its stderr; the process is then replaced for the next job.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ..contract import Job, Observation
from .linereader import LineReader

STDERR_QUOTE = 1500
READY_TIMEOUT_S = 30.0


class AdapterStartError(Exception):
    """The adapter could not start, or said its library lacks the API."""

    def __init__(self, message: str, stderr: str = "", unsupported: bool = False) -> None:
        super().__init__(message)
        self.stderr = stderr
        self.unsupported = unsupported


@dataclass
class JobOutcome:
    observation: Observation | None
    error: str | None
    stderr: str
    duration_ms: float = 0.0


@dataclass
class AdapterProcess:
    """A long-lived adapter. `name` is the client spec, used in every message."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: dict | None = None
    proc: subprocess.Popen[bytes] | None = None
    _reader: LineReader | None = None

    def start(self) -> dict:
        """Starts the process and waits for its ready line; returns it."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
            )
        except OSError as exc:
            raise AdapterStartError(f"adapter {self.name} could not start: {exc}") from exc
        finally:
            log.close()
        assert self.proc.stdout is not None
        self._reader = LineReader(self.proc.stdout.fileno())
        mark = self._log_size()
        line, problem = self._read_line(READY_TIMEOUT_S)
        if line is None:
            self.kill()
            raise AdapterStartError(
                f"adapter {self.name} {problem} before its ready line",
                self._stderr_since(mark),
            )
        try:
            hello = json.loads(line)
        except ValueError:
            self.kill()
            raise AdapterStartError(
                f"adapter {self.name} printed a line that is not JSON: {line[:200]!r}",
                self._stderr_since(mark),
            ) from None
        if hello.get("event") == "unsupported":
            self.kill()
            raise AdapterStartError(
                f"adapter {self.name}: {hello.get('reason', 'unsupported')}",
                self._stderr_since(mark),
                unsupported=True,
            )
        if hello.get("event") != "ready":
            self.kill()
            raise AdapterStartError(
                f"adapter {self.name} began with {line[:200]!r}, not a ready line"
            )
        self.ready = hello
        return hello

    def run_job(self, job: Job, timeout_s: float) -> JobOutcome:
        """Sends one job; returns its observation or why there is none."""
        started = time.monotonic()
        if self.proc is None or self.proc.poll() is not None:
            try:
                self.start()
            except AdapterStartError as exc:
                return JobOutcome(None, str(exc), exc.stderr)
        mark = self._log_size()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as exc:
            self.kill()
            return self._fail(f"adapter {self.name} would not take a job ({exc})", mark, started)
        line, problem = self._read_line(timeout_s)
        if line is None:
            self.kill()
            return self._fail(f"adapter {self.name} {problem}", mark, started)
        try:
            obs = json.loads(line)
        except ValueError:
            self.kill()
            return self._fail(
                f"adapter {self.name} printed a line that is not JSON: {line[:200]!r}",
                mark,
                started,
            )
        if not isinstance(obs, dict) or obs.get("id") != job["id"]:
            self.kill()
            return self._fail(
                f"adapter {self.name} answered job {job['id']} with {line[:200]!r}",
                mark,
                started,
            )
        # Trusted as an Observation from here on: evaluate() checks its shape
        # before judging it, and reports a malformed one as an error.
        return JobOutcome(
            cast(Observation, obs), None, self._stderr_since(mark), _ms_since(started)
        )

    def _fail(self, message: str, mark: int, started: float) -> JobOutcome:
        stderr = self._stderr_since(mark)
        if stderr.strip():
            message += f"; its stderr ends: {stderr.strip()[-STDERR_QUOTE:]}"
        else:
            message += "; its stderr is empty"
        return JobOutcome(None, message, stderr, _ms_since(started))

    def _read_line(self, timeout_s: float) -> tuple[str | None, str]:
        """Reads one stdout line; (None, what went wrong) on EOF or timeout."""
        assert self.proc is not None and self._reader is not None
        line, problem = self._reader.readline(timeout_s)
        if problem == "timeout":
            return None, f"did not answer within {timeout_s:.0f} s (hung)"
        if problem == "eof":
            return None, f"exited with status {self.proc.wait(timeout=5)}"
        return line, ""

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _stderr_since(self, mark: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                return f.read()[-20000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        """EOF on stdin asks the adapter to exit; it is killed if it does not."""
        if self.proc is None:
            return
        if self.proc.poll() is None and self.proc.stdin:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


#: The server takes run ids of at most 127 characters; a spec part longer
#: than this (a @path: spec, say) is cut and given a digest to stay unique.
SAFE_NAME_MAX = 60


def safe_name(text: str) -> str:
    """A client spec as a file-name and run-id fragment (at most 60 characters)."""
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in text)
    if len(safe) <= SAFE_NAME_MAX:
        return safe
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]
    return f"{safe[: SAFE_NAME_MAX - 11]}-{digest}"


def launch(
    name: str, argv: list[str], env: dict[str, str], log_path: Path
) -> tuple[AdapterProcess | None, dict, str | None]:
    """Starts an adapter: (process, its ready line, None), or (None, {}, why not).

    The reason quotes the adapter's stderr, so a run and a test session
    report a failed start the same way.
    """
    adapter = AdapterProcess(name, argv, env, log_path)
    try:
        return adapter, adapter.start(), None
    except AdapterStartError as exc:
        stderr = exc.stderr.strip()
        return None, {}, str(exc) + (f"; stderr: {stderr[-800:]}" if stderr else "")
