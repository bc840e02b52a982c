"""The `wsreplay` command line: run, scenarios, check."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from . import __version__
from .build import BuildError, server_binary
from .clients import SpecError
from .paths import RESULTS_DIR, SCENARIOS_DIR
from .runner import Run, RunPlan, exit_code, new_run_id, print_summary
from .scenarios import ScenarioError, load_all, select
from .server import ServerError

DEFAULT_CLIENT = "python-websockets"

DESCRIPTION = """\
wsreplay replays scripted, byte-exact WebSocket server behaviours to real
client libraries and reports, per scenario and client version, whether the
client saw what RFC 6455 says it must see."""

RUN_EPILOG = """\
examples:
  wsreplay run --client python-websockets@13.1 --client python-websockets@14.0 \\
               --scenario close/send-then-close
  wsreplay run --scenario 'close/*'           # every close scenario, newest client

exit status: 0 all verdicts pass/non-strict/informational, 1 a fail or error
verdict, 2 bad arguments, scenarios or client specs."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsreplay",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wsreplay {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run scenarios against clients and write a report",
        description="Run every selected scenario against every client and write DIR/report.json.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--client",
        action="append",
        metavar="SPEC",
        default=[],
        help="ADAPTER[@VERSION], repeatable; no version means the newest "
        f"release (default: {DEFAULT_CLIENT})",
    )
    run.add_argument(
        "--scenario",
        action="append",
        metavar="NAME_OR_GLOB",
        default=[],
        help="scenario name or glob, repeatable (default: all)",
    )
    run.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="report folder (default: a new folder under results/)",
    )
    run.add_argument(
        "--scenarios-dir",
        type=Path,
        default=SCENARIOS_DIR,
        metavar="DIR",
        help="the scenario catalogue to load (default: scenarios/)",
    )

    sc = sub.add_parser(
        "scenarios",
        help="list the scenarios with their summaries",
        description="List the scenarios with their summaries.",
    )
    sc.add_argument("--tag", action="append", default=[], help="only scenarios with this tag")
    sc.add_argument("--scenarios-dir", type=Path, default=SCENARIOS_DIR, metavar="DIR")

    check = sub.add_parser(
        "check",
        help="validate scenario files without running them",
        description="Validate scenario files with the server's own checks.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    scenarios = select(load_all(args.scenarios_dir), args.scenario)
    out_dir = args.out or RESULTS_DIR / new_run_id()
    plan = RunPlan(
        scenarios=scenarios,
        client_specs=args.client or [DEFAULT_CLIENT],
        out_dir=out_dir,
        scenarios_dir=args.scenarios_dir,
        command=["wsreplay", *sys.argv[1:]],
    )
    print(
        f"wsreplay {__version__}: {len(scenarios)} scenario(s) x {len(plan.client_specs)} "
        f"client(s) -> {out_dir}",
        file=sys.stderr,
    )
    rep = Run(plan).execute()
    print_summary(rep, sys.stdout, out_dir)
    return exit_code(rep)


def cmd_scenarios(args: argparse.Namespace) -> int:
    scenarios = load_all(args.scenarios_dir)
    if args.tag:
        scenarios = [s for s in scenarios if set(args.tag) & set(s.get("tags", []))]
    width = max((len(s["name"]) for s in scenarios), default=0)
    for s in scenarios:
        print(f"{s['name']:<{width}}  {s.get('summary', '')}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    proc = subprocess.run([str(server_binary()), "--check", *map(str, args.files)])
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {"run": cmd_run, "scenarios": cmd_scenarios, "check": cmd_check}
    try:
        return handlers[args.command](args)
    except (ScenarioError, SpecError, ServerError, BuildError) as exc:
        print(f"wsreplay: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wsreplay: interrupted", file=sys.stderr)
        return 130
