#!/usr/bin/env python3
"""Issue 12's soak: the server's memory over 100,000 mixed and hostile sessions.

Starts build/wsreplay-server as a run does (the catalogue, transcripts
written to disk) with a short handshake timeout, and drives SESSIONS
sessions through `loadclient soak` (bench/c/loadclient.c), CONCURRENCY at a
time, from a plan of well-behaved sessions on catalogue scenarios and
hostile peers (slowloris, connect-and-RST, RST mid-scenario, a frame header
announcing 2^62 bytes, 16 MiB announced then RST, garbage after the
handshake, an oversize request head, bad run tags). The server's VmRSS,
VmSize and descriptors are read every 1,000 sessions; the curve is printed
(start once the /_runs ring is full, peak, end, a table of about 20 samples) and, with
--json, written as JSON. Prints figures only; nothing here passes or fails.
See bench/README.md, "Soak".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import REPO, SERVER, machine
from benchlib.cprograms import build
from benchlib.procmem import status_kib
from benchlib.serverbench import HOST, Server, raise_fd_limit

SESSIONS = 100_000
CONCURRENCY = 150
# The start of the curve: after the /_runs ring has filled (it keeps the
# newest 4096 transcripts, WSR_RUNS_KEEP), so what follows is the steady state.
WARMUP = 5_000
HANDSHAKE_TIMEOUT_MS = 1000  # slowloris peers end after this

# Hostile kinds (loadclient's names) and their weight; the well-behaved
# scenarios share GOOD_WEIGHT between them. About 1 session in 6 is hostile.
HOSTILE = {
    "slowloris": 2,
    "rst-connect": 4,
    "rst-open": 4,
    "frame-2^62": 3,
    "frame-16MiB": 3,
    "garbage": 4,
    "oversize-head": 3,
    "bad-run-tag": 4,
}
GOOD_WEIGHT = 2


def log(text: str) -> None:
    print(f"soak: {text}", file=sys.stderr, flush=True)


def good_scenarios() -> list[str]:
    """Catalogue scenarios a plain client completes without sending data:
    every await is the client's close or EOF (which loadclient gives), not
    messages or pongs; not tls/ (loadclient speaks ws:// only)."""
    out = subprocess.run(
        [str(SERVER), "--check", "--json", "--scenarios", str(REPO / "scenarios")],
        capture_output=True,
        text=True,
        check=True,
    )
    names = []
    for s in json.loads(out.stdout)["scenarios"]:
        awaits = {step["await"] for step in s.get("steps", []) if "await" in step}
        if not s["name"].startswith("tls/") and awaits <= {"close", "eof"}:
            names.append(s["name"])
    return names


def write_plan(file: Path, names: list[str]) -> dict:
    lines = [f"good {GOOD_WEIGHT} /{name}" for name in names]
    lines += [f"{kind} {weight}" for kind, weight in HOSTILE.items()]
    file.write_text("\n".join(lines) + "\n")
    total = GOOD_WEIGHT * len(names) + sum(HOSTILE.values())
    return {
        "good_scenarios": names,
        "good_share": round(GOOD_WEIGHT * len(names) / total, 3),
        "hostile_weights": HOSTILE,
        "plan_slots": total,
    }


class TranscriptSweeper:
    """Counts and removes the finished transcript files once a second, so a
    100,000-session soak neither fills the disk nor makes one huge folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def sweep(self) -> None:
        for p in list(self.folder.iterdir()):
            if ".tmp" in p.name:  # the writer's NAME.json.tmp.PID until renamed
                continue
            p.unlink(missing_ok=True)
            self.count += 1

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.sweep()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.sweep()
        return self.count


def sample(server: Server, done: int, t: float) -> dict:
    pid = server.proc.pid
    return {
        "sessions": done,
        "t_s": round(t, 2),
        "rss_kib": status_kib(pid, "VmRSS"),
        "vmsize_kib": status_kib(pid, "VmSize"),
        "fds": server.fds(),
    }


def run(sessions: int, concurrency: int, transcripts: bool = True) -> dict:
    progs = build()
    raise_fd_limit()
    names = good_scenarios()
    with tempfile.TemporaryDirectory(prefix="wsreplay-soak-") as name:
        tmp = Path(name)
        plan = write_plan(tmp / "plan", names)
        folder = tmp / "transcripts"
        folder.mkdir()
        argv = [
            str(SERVER),
            "--scenarios",
            str(REPO / "scenarios"),
            "--host",
            HOST,
            "--port",
            "0",
            "--handshake-timeout-ms",
            str(HANDSHAKE_TIMEOUT_MS),
        ]
        if transcripts:
            argv += ["--transcripts", str(folder)]
        with Server(argv, tmp / "server.log") as server:
            time.sleep(0.5)  # settled after loading the catalogue
            idle = sample(server, 0, 0.0)
            sweeper = TranscriptSweeper(folder)
            log(
                f"{sessions} sessions, {concurrency} at a time, {len(names)} scenarios "
                f"+ {len(HOSTILE)} hostile kinds (load {machine.loadavg()}) ..."
            )
            samples = [idle]
            t0 = time.monotonic()
            client = subprocess.Popen(
                [
                    str(progs["loadclient"]),
                    "soak",
                    HOST,
                    str(server.port),
                    str(tmp / "plan"),
                    str(concurrency),
                    str(sessions),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            end: dict = {}
            assert client.stdout is not None
            for line in client.stdout:
                event = json.loads(line)
                if event["event"] == "end":
                    end = event
                    break
                samples.append(sample(server, event["done"], time.monotonic() - t0))
                if event["done"] % 10_000 == 0:
                    s = samples[-1]
                    log(
                        f"{s['sessions']} sessions, {s['t_s']} s, RSS {s['rss_kib']} KiB "
                        f"(load {machine.loadavg()})"
                    )
            client.wait()
            duration = time.monotonic() - t0
            last = sample(server, end.get("done", 0), duration)
            if samples[-1]["sessions"] != last["sessions"]:
                samples.append(last)
            time.sleep(3.0)  # the writer's queue drains, lingering sessions end
            settled = sample(server, end.get("done", 0), time.monotonic() - t0)
            hwm = status_kib(server.proc.pid, "VmHWM")
            exit_code = server.stop()  # it writes what its writer still holds
            files = sweeper.stop()
            log_text = (tmp / "server.log").read_text(errors="replace")
    return {
        "schema": "wsreplay-soak/1",
        "sessions": sessions,
        "concurrency": concurrency,
        "transcripts_on_disk": transcripts,
        "warmup_sessions": WARMUP,
        "server_options": argv[7:],
        "plan": plan,
        "client": end,
        "duration_s": round(duration, 1),
        "sessions_per_s": round(end.get("done", 0) / duration, 1) if duration else None,
        "transcript_files": files,
        "curve": curve(samples, settled, hwm),
        "samples": samples,
        "server_exit": exit_code,
        # what it says of its writer's queue and its /_runs ring when it stops
        "server_stats": [
            line for line in log_text.splitlines() if "transcripts:" in line or "ring:" in line
        ],
        "server_log_tail": log_text[-2000:] if exit_code != 0 else "",
    }


def curve(samples: list[dict], settled: dict, hwm: int | None) -> dict:
    """Start (after the warm-up), peak, end, and the growth of each half."""
    after = [s for s in samples if s["sessions"] >= WARMUP] or samples
    start, end = after[0], after[-1]
    peak = max(after, key=lambda s: s["rss_kib"] or 0)
    half = (start["sessions"] + end["sessions"]) / 2
    middle = min(after, key=lambda s: abs(s["sessions"] - half))
    return {
        "idle_rss_kib": samples[0]["rss_kib"],
        "start": start,
        "peak": peak,
        "end": end,
        "after_settling": settled,
        "vmhwm_kib": hwm,
        "growth_first_half_kib": (middle["rss_kib"] or 0) - (start["rss_kib"] or 0),
        "growth_second_half_kib": (end["rss_kib"] or 0) - (middle["rss_kib"] or 0),
        "middle": middle,
    }


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def render(fig: dict) -> str:
    c = fig["curve"]
    out = [
        f"soak: {fig['sessions']:,} sessions, {fig['concurrency']} at a time, "
        f"{fig['duration_s']} s ({fig['sessions_per_s']} sessions/s)",
        f"  server RSS idle {mib(c['idle_rss_kib'])} MiB; "
        f"start (after {c['start']['sessions']:,}) {mib(c['start']['rss_kib'])} MiB; "
        f"peak {mib(c['peak']['rss_kib'])} MiB (at {c['peak']['sessions']:,}); "
        f"end {mib(c['end']['rss_kib'])} MiB; "
        f"3 s after {mib(c['after_settling']['rss_kib'])} MiB; VmHWM {mib(c['vmhwm_kib'])} MiB",
        f"  growth: first half {c['growth_first_half_kib']:+} KiB, "
        f"second half {c['growth_second_half_kib']:+} KiB "
        f"(middle: {c['middle']['sessions']:,} sessions)",
        "",
        f"  {'sessions':>9} {'t s':>7} {'RSS MiB':>8} {'VmSize MiB':>11} {'fds':>5}",
    ]
    samples = fig["samples"]
    step = max(1, len(samples) // 20)
    shown = samples[::step]
    if shown[-1] is not samples[-1]:
        shown.append(samples[-1])
    for s in shown:
        out.append(
            f"  {s['sessions']:>9,} {s['t_s']:>7} {mib(s['rss_kib']):>8} "
            f"{mib(s['vmsize_kib']):>11} {s['fds']:>5}"
        )
    cl = fig["client"]
    out += [
        "",
        "  sessions by kind (started / ended by the server / reset by the client after 30 s):",
    ]
    for kind, k in cl.get("kinds", {}).items():
        out.append(f"    {kind:<14} {k['started']:>7,} {k['ended']:>7,} {k['client_timeout']:>4}")
    out.append(
        f"  upgraded {cl.get('upgraded', 0):,}, refused {cl.get('refused', 0):,}, "
        f"server close frames answered {cl.get('server_close_frames', 0):,}, "
        f"transcript files {fig['transcript_files']:,}, server exit {fig['server_exit']}"
    )
    out += [f"  {line}" for line in fig.get("server_stats", [])]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/soak.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sessions", type=int, default=SESSIONS, metavar="N")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, metavar="C")
    parser.add_argument(
        "--no-transcripts",
        action="store_true",
        help="without --transcripts (the /_runs ring only): the writer's queue out of the curve",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args(argv)
    if not SERVER.exists():
        log(f"{SERVER} is missing: run ./bootstrap first")
        return 2
    figures = {"machine": machine.describe()}
    figures.update(run(args.sessions, args.concurrency, not args.no_transcripts))
    figures["machine"]["load_at_end"] = machine.loadavg()
    sys.stdout.write(render(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        log(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
