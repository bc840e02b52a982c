"""Part 3: wsreplay-server alone, under the bench's C load client.

Three servers take the same load, one after the other:
- wsreplay-server with transcripts written to disk, as in a run;
- wsreplay-server without --transcripts (the /_runs ring only);
- bareserver: the same bytes for the same request, with nothing else done.
Then wsreplay-server holding 10,000 idle sessions, for its memory.

Each server runs from its start to the end of its own measurements and is
then stopped with SIGTERM; its exit status says whether it survived the load.
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from . import BENCH_DIR, REPO, SERVER
from .cprograms import build
from .machine import loadavg
from .procmem import status_kib

HOST = "127.0.0.1"
SCENARIO_PATH = "/close/send-then-close?run=bench"
IDLE_PATH = "/bench/idle?run=bench-idle"
CONCURRENCY = (1, 16, 128)


class Server:
    """A server process that prints one JSON line with its port when ready."""

    def __init__(self, argv: list[str], log: Path) -> None:
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv[0]} did not start; see {log}")
        self.port = json.loads(line)["port"]

    def rss_kib(self, field: str = "VmRSS") -> int | None:
        return status_kib(self.proc.pid, field)

    def fds(self) -> int:
        return len(list(Path(f"/proc/{self.proc.pid}/fd").iterdir()))

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        # A bench that failed half-way must not leave a server behind.
        if self.proc.poll() is None:
            self.stop()

    def stop(self) -> int:
        """SIGTERM at the end of its measurements; the exit status (0 = clean)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def raise_fd_limit() -> None:
    """The idle test needs 10,000+ descriptors in the server (a child: it inherits this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def load(client: Path, port: int, conns: int, seconds: float) -> dict:
    out = subprocess.run(
        [str(client), "load", HOST, str(port), SCENARIO_PATH, str(conns), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def capture(client: Path, port: int, file: Path) -> dict:
    """One real session's received bytes: what the bare server will send."""
    out = subprocess.run(
        [str(client), "capture", HOST, str(port), SCENARIO_PATH, str(file)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def load_levels(client: Path, server: Server, seconds: float, log, name: str) -> dict:
    levels = {}
    for conns in CONCURRENCY:
        log(f"server: {name}, {conns} connection(s), {seconds:g} s (load {loadavg()}) ...")
        levels[str(conns)] = load(client, server.port, conns, seconds)
    return levels


def _is_temporary(p: Path) -> bool:
    """The writer's temporary file: NAME.json.tmp.PID until it is renamed."""
    return ".tmp." in p.name or p.name.endswith(".tmp")


def _folder_usage(folder: Path, at_least: int, limit_s: float = 120.0) -> tuple[int, int]:
    """Transcript files and their bytes, once the server stopped writing them.

    A session's transcript is written when it ends, by the server's writer
    thread, which runs at idle priority (SCHED_IDLE): under the load most
    files land after the load client has finished. Waits until there are
    at least `at_least` files (the sessions the load client finished) and
    no new one came in the last 0.3 s, or until `limit_s` passed.
    """
    count = -1
    deadline = time.monotonic() + limit_s
    while True:
        entries = list(folder.iterdir())
        files = [p for p in entries if not _is_temporary(p)]
        pending = len(files) != count or len(files) < at_least or any(map(_is_temporary, entries))
        if not pending or time.monotonic() > deadline:
            return len(files), sum(p.stat().st_size for p in files)
        count = len(files)
        time.sleep(0.3)


def wsreplay_under_load(progs: dict, tmp: Path, transcripts: bool, seconds: float, log) -> dict:
    name = "wsreplay-server" + (" --transcripts" if transcripts else "")
    argv = [str(SERVER), "--scenarios", str(REPO / "scenarios"), "--host", HOST, "--port", "0"]
    folder = tmp / ("transcripts" if transcripts else "none")
    if transcripts:
        folder.mkdir()
        argv += ["--transcripts", str(folder)]
    with Server(argv, tmp / f"{folder.name}.log") as server:
        answer = tmp / "answer.bin"
        if not answer.exists():
            capture(progs["loadclient"], server.port, answer)
        figures: dict = {"levels": {}}
        for conns in CONCURRENCY:
            log(f"server: {name}, {conns} connection(s), {seconds:g} s (load {loadavg()}) ...")
            level = load(progs["loadclient"], server.port, conns, seconds)
            if transcripts:
                # counted and removed between levels, while no session is writing
                count, size = _folder_usage(folder, level["sessions"])
                level["transcript_files"] = count
                level["transcript_bytes_per_session"] = round(size / count) if count else 0
                for p in folder.iterdir():
                    p.unlink()
            figures["levels"][str(conns)] = level
        figures["peak_rss_kib"] = server.rss_kib("VmHWM")
        figures["exit"] = server.stop()
    return figures


def bare_under_load(progs: dict, tmp: Path, seconds: float, log) -> dict:
    with Server([str(progs["bareserver"]), str(tmp / "answer.bin")], tmp / "bare.log") as server:
        figures = {"levels": load_levels(progs["loadclient"], server, seconds, log, "bareserver")}
        figures["peak_rss_kib"] = server.rss_kib("VmHWM")
        figures["exit"] = server.stop()
    return figures


def idle_catalogue(tmp: Path) -> Path:
    """The catalogue plus bench/idle (a 10-minute wait), in a folder of its own."""
    folder = tmp / "scenarios"
    shutil.copytree(REPO / "scenarios", folder)
    shutil.copytree(BENCH_DIR / "scenarios" / "bench", folder / "bench")
    return folder


def idle_sessions(progs: dict, tmp: Path, count: int, log) -> dict:
    """wsreplay-server's memory with `count` sessions open and waiting."""
    folder = tmp / "idle-transcripts"
    folder.mkdir()
    argv = [
        str(SERVER),
        "--scenarios",
        str(idle_catalogue(tmp)),
        "--host",
        HOST,
        "--port",
        "0",
        "--transcripts",
        str(folder),
        "--session-timeout-ms",
        "600000",
    ]
    with Server(argv, tmp / "idle.log") as server:
        return _idle_figures(progs, server, count, log)


def _idle_figures(progs: dict, server: Server, count: int, log) -> dict:
    time.sleep(0.5)  # let it settle after loading the catalogue
    before = server.rss_kib()
    fds_before = server.fds()
    log(f"server: opening {count} idle sessions (load {loadavg()}) ...")
    holder = subprocess.Popen(
        [str(progs["loadclient"]), "idle", HOST, str(server.port), IDLE_PATH, str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    ready = json.loads(holder.stdout.readline())
    time.sleep(0.5)  # the last sessions' first step runs after their 101
    during = server.rss_kib()
    fds = server.fds()
    holder.stdin.close()  # the holder resets every session (RST) and exits
    holder.wait()
    closed_s = _wait_fds(server, fds_before, 60.0)
    figures = {
        "sessions_requested": count,
        "sessions_open": ready["open"],
        "sessions_failed": ready["failed"],
        "open_s": ready["open_s"],
        "server_fds": fds,
        "rss_before_kib": before,
        "rss_with_sessions_kib": during,
        "rss_per_session_bytes": round((during - before) * 1024 / max(ready["open"], 1)),
        "all_ended_s": closed_s,
        "rss_after_close_kib": server.rss_kib(),
        "alive_after_close": server.proc.poll() is None,
    }
    figures["exit"] = server.stop()
    return figures


def _wait_fds(server: Server, baseline: int, limit_s: float) -> float | None:
    """Seconds until the server is back to its idle descriptors: every session
    ended (peer close seen, transcript written). None if not within limit_s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if server.fds() <= baseline:
            return round(time.monotonic() - t0, 2)
        time.sleep(0.1)
    return None


def ratios(wsreplay: dict, bare: dict) -> dict:
    """sessions/s of wsreplay over the bare server's, per concurrency."""
    out = {}
    for conns, level in wsreplay["levels"].items():
        floor = bare["levels"][conns]["sessions_per_s"]
        out[conns] = round(level["sessions_per_s"] / floor, 3) if floor else None
    return out


def run(seconds: float, idle_count: int, log) -> dict:
    """Part 3: every figure of the server alone."""
    progs = build()
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="wsreplay-bench-server-") as name:
        tmp = Path(name)
        with_transcripts = wsreplay_under_load(progs, tmp, True, seconds, log)
        without = wsreplay_under_load(progs, tmp, False, seconds, log)
        bare = bare_under_load(progs, tmp, seconds, log)
        idle = idle_sessions(progs, tmp, idle_count, log)
    return {
        "scenario": SCENARIO_PATH,
        "seconds_per_level": seconds,
        "wsreplay_transcripts": with_transcripts,
        "wsreplay_no_transcripts": without,
        "bare": bare,
        "ratio_transcripts_over_bare": ratios(with_transcripts, bare),
        "ratio_no_transcripts_over_bare": ratios(without, bare),
        "idle": idle,
        "load_after": loadavg(),
    }
