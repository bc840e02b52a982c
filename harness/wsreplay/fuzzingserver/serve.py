"""`wsreplay fuzzingserver`: serve Autobahn's fuzzingserver URLs, optionally run a driver.

With a driver command, the mode starts, runs it (its output to
DIR/driver.log), waits for it (at most --timeout), writes the reports and
exits 1 when a case failed, the driver failed or timed out, or no case ran.
Without one, it serves until SIGINT/SIGTERM, writing the reports on each
updateReports and once more at the end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .. import autobahn
from ..judging.echo import echo_plan
from ..paths import RESULTS_DIR, SCENARIOS_DIR
from ..running.runner import new_run_id
from ..scenarios import load_all
from .cases import CaseTable, Spec, build_table, load_spec
from .front import Front
from .session import CLOSE_AT_ONCE, FuzzingSession

#: How long a driver may run by default.
DEFAULT_TIMEOUT_S = 3600
#: After the driver ends, how long the cases still being judged may take.
SETTLE_S = 30.0
#: The same after SIGINT/SIGTERM: a case still running is judged from its transcript so far.
INTERRUPTED_SETTLE_S = 2.0
#: How long a driver has to go after SIGTERM before SIGKILL.
KILL_GRACE_S = 5.0

EPILOG = """\
An existing Autobahn client driver runs unchanged: it asks /getCaseCount,
plays /runCase?case=N&agent=A for each case (echoing every message until the
server closes), may ask /getCaseStatus and /getCaseInfo, and ends with
/updateReports?agent=A. Point its server URL at this mode (default
ws://127.0.0.1:9001, Autobahn's own default) and nothing else changes.

Case numbers follow Autobahn's for the same spec (cases, exclude-cases,
exclude-agent-cases); a case no scenario reproduces keeps its number and is
UNIMPLEMENTED; wsreplay's own scenarios follow, with ids 100.K (the spec key
"wsreplay-scenarios": "default" | "all" | "none" | [names or globs]).

Reports: Autobahn's layout (index.json and one JSON per case) in the spec's
outdir, else DIR/autobahn; wsreplay's own (report.json, junit.xml,
summary.md, report.html) in DIR. See docs/autobahn.md,
"Autobahn-compatible mode".

examples:
  wsreplay fuzzingserver --spec config/fuzzingserver.json     # serve until Ctrl-C
  wsreplay fuzzingserver --out results/ab -- python3 compliance/test_client.py

exit status: 0 every case played passed (OK, NON-STRICT, INFORMATIONAL or
UNIMPLEMENTED), 1 a case FAILED, the driver failed or timed out, or no case
ran; 2 a bad spec or a server that would not start."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    fz = sub.add_parser(
        "fuzzingserver",
        help="serve Autobahn's fuzzingserver URLs so an Autobahn client driver runs unchanged",
        description="Autobahn-compatible mode: answer an Autobahn client driver's URLs, "
        "play wsreplay's scenarios as Autobahn's numbered cases, judge them from the wire "
        "and write Autobahn's and wsreplay's reports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fz.add_argument("--spec", type=Path, metavar="FILE", help="Autobahn's fuzzingserver spec")
    fz.add_argument(
        "--port",
        type=int,
        metavar="PORT",
        help="listen here (0: any free port); default: the spec's url, else 9001",
    )
    fz.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="wsreplay's reports, the driver's log and the server's log "
        "(default: results/<time>-fuzzingserver)",
    )
    fz.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"stop a driver still running after S seconds (default {DEFAULT_TIMEOUT_S})",
    )
    fz.add_argument(
        "driver", nargs=argparse.REMAINDER, metavar="-- DRIVER ...", help="a driver command to run"
    )


def build(spec: Spec) -> tuple[CaseTable, bool]:
    """The numbered cases, and whether the catalogue has the close-at-once scenario."""
    scenarios = load_all(SCENARIOS_DIR)
    closer = any(s["name"] == CLOSE_AT_ONCE for s in scenarios)
    return build_table(spec, autobahn.load_cases(), scenarios), closer


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec) if args.spec else Spec()
    for warning in spec.warnings:
        print(f"wsreplay: warning: {warning}", file=sys.stderr)
    driver = list(args.driver)
    if driver and driver[0] == "--":
        driver = driver[1:]
    table, closer = build(spec)
    out_dir: Path = args.out or RESULTS_DIR / f"{new_run_id()}-fuzzingserver"
    out_dir.mkdir(parents=True, exist_ok=True)
    autobahn_dir = Path(spec.outdir) if spec.outdir else out_dir / "autobahn"
    port = spec.port if args.port is None else args.port
    session = FuzzingSession(
        table,
        out_dir,
        autobahn_dir,
        command=["wsreplay", *sys.argv[1:]],
        run_id=out_dir.name,
        close_at_once=CLOSE_AT_ONCE if closer else None,
    )
    session.start()
    front = Front(session, session.handoff_path or Path(), spec.host, port, log=_log)
    status = 0
    interrupted = False
    try:
        try:
            port = front.start()
        except OSError as exc:
            print(f"wsreplay: cannot listen on {spec.host}:{port}: {exc}", file=sys.stderr)
            status = 2
            return status
        n_ab = sum(1 for e in table.entries if e.autobahn)
        n_missing = sum(1 for e in table.entries if e.autobahn and e.scenario is None)
        n_skipped = sum(
            1
            for e in table.entries
            if e.scenario is not None and isinstance(echo_plan(e.scenario), str)
        )
        print(
            f"wsreplay fuzzingserver on ws://{spec.host}:{port}: {len(table)} cases "
            f"({n_ab} Autobahn, {n_missing} of them UNIMPLEMENTED; "
            f"{len(table) - n_ab} wsreplay scenarios; {n_skipped} cases not judgeable "
            f"from the wire, listed as they are asked for) -> {out_dir}",
            file=sys.stderr,
            flush=True,
        )
        if driver:
            status = _run_driver(driver, out_dir, args.timeout, spec.host, port)
        else:
            _serve_until_signal()
    except KeyboardInterrupt:
        interrupted = True  # SIGINT/SIGTERM: write the reports without a long wait
        raise
    finally:
        front.stop()
        report = session.finish(INTERRUPTED_SETTLE_S if interrupted else SETTLE_S)
        print(
            f"reports: {autobahn_dir / 'index.json'} and {out_dir / 'report.json'}",
            file=sys.stderr,
        )
    totals = report["totals"]
    failed = totals.get("fail", 0) + totals.get("error", 0)
    print(
        f"{totals['total']} scenario case(s) judged: {totals.get('pass', 0)} OK, "
        f"{totals.get('non-strict', 0)} NON-STRICT, {totals.get('informational', 0)} "
        f"INFORMATIONAL (or not judgeable), {failed} FAILED",
        file=sys.stderr,
    )
    if failed:
        return 1
    if driver and not session.results:
        print("wsreplay: the driver started no case", file=sys.stderr)
        return 1
    return status


def _run_driver(argv: list[str], out_dir: Path, timeout: float, host: str, port: int) -> int:
    """Runs the driver to its end (or the timeout); 0 when it exited 0."""
    log_path = out_dir / "driver.log"
    env = dict(os.environ, WSREPLAY_AUTOBAHN_URL=f"ws://{host}:{port}")
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            print(f"wsreplay: cannot start the driver {argv[0]}: {exc}", file=sys.stderr)
            return 1
        print(f"driver: {' '.join(argv)} (pid {proc.pid}, log {log_path})", file=sys.stderr)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            print(f"wsreplay: the driver still ran after {timeout:g} s: stopped", file=sys.stderr)
            _stop(proc)
            return 1
        except BaseException:
            _stop(proc)  # SIGINT/SIGTERM: the driver goes too, the reports get written
            raise
    if code != 0:
        print(f"wsreplay: the driver exited with {code} (see {log_path})", file=sys.stderr)
        return 1
    return 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the driver's process group, then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _serve_until_signal() -> None:
    """Blocks until SIGINT/SIGTERM (which cli.main turns into KeyboardInterrupt)."""
    threading.Event().wait()
