"""The `wsreplay` command line: run, merge, report, compare, bisect, scenarios, check."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from . import __version__, autobahn, bugcatalogue, clients_view, scenario_view
from .build import BuildError, server_binary
from .clients import SpecError
from .comparing.bisect import FIRST_BAD, FIRST_FIXED, BisectArgs, BisectError, run_bisect
from .comparing.compare import DEFAULT_TOLERANCE_MS, CompareArgs, CompareError, run_compare
from .fuzzingserver import serve as fuzzingserver
from .fuzzingserver.cases import SpecError as FuzzingSpecError
from .judging.verdicts import IGNORABLE
from .outputs import write_all
from .outputs.merge import MergeError, merge, read_shard
from .outputs.recordlog import NoRecords, assemble, report_is_current
from .paths import RESULTS_DIR, SCENARIOS_DIR
from .running.pool import default_jobs
from .running.runner import Run, RunPlan, check_specs, exit_code, new_run_id, print_summary
from .running.server import ServerError
from .running.shards import parse_shard
from .scenarios import COMPRESSION_MODES, SLOW_TAG, ScenarioError, load_all, select, select_run
from .variants import SEPARATOR, VARIANTS, VaryError, parse_vary, select_cells

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
  wsreplay run --shard 2/4 --out results/shard-2   # a quarter of the pairs (CI matrix)
  wsreplay run --compression on --client node-ws   # the catalogue with permessage-deflate
  wsreplay run --vary split=frames,every-byte      # each scenario also cut per frame, per byte
  wsreplay run --all                          # also the scenarios tagged slow
  wsreplay run --tag slow --client node-ws    # only the slow ones

exit status: 0 all verdicts pass/non-strict/informational, 1 a fail or error
verdict, 2 bad arguments, scenarios or client specs."""

SHARD_HELP = (
    "run only shard K of N (from 1) of the (scenario, client) pairs: the same "
    "split on every machine for the same command and catalogue, balanced by the "
    "scenarios' time budgets; join the N folders with `wsreplay merge`"
)

COMPRESSION_HELP = (
    "the client knob `compression` of every scenario that leaves it at "
    '"default": on (the library offers permessage-deflate, and the server '
    "accepts the offer where the scenario does not say how to answer it: "
    "deflate=accept in the URL), off (no offer) or default (each scenario's "
    "own knob; an adapter whose library cannot honour on/off reports the knob "
    "unsupported: an error verdict) (default: default)"
)

MERGE_EPILOG = """\
Each DIR is the --out folder of one `wsreplay run --shard K/N`, all with the
same command (--shard and --out aside) and catalogue. Its report.json is
read, or for a run that did not finish its run.json and records.jsonl. The
merged report.json (with junit.xml, summary.md, report.html) is the one a
single run of the command would have written; transcripts/ and adapters/
stay in the shard folders.

examples:
  wsreplay merge results/shard-1 results/shard-2 results/shard-3 --out results/all

exit status: 0 all verdicts pass/non-strict/informational, 1 a fail or error
verdict, or a pair with no record (a shard interrupted; not with
--allow-missing), 2 the folders cannot be merged (not runs, different
catalogues or commands, a shard given twice or missing) or bad arguments."""

REPORT_EPILOG = """\
A finished or interrupted (Ctrl-C, SIGTERM) run writes report.json itself;
for such a folder this command changes nothing.

exit status: 0 the files are written (or report.json was complete already),
2 DIR has no run.json or records.jsonl."""

CLIENTS_EPILOG = """\
A client spec is ADAPTER[@VERSION] or ADAPTER@path:DIR (a local checkout);
versions are installed on first use into ~/.cache/wsreplay ($WSREPLAY_CACHE).

examples:
  wsreplay clients                          # adapters, languages, installed versions
  wsreplay clients versions node-ws         # every ws release on npm, newest first"""

SCENARIOS_EPILOG = """\
examples:
  wsreplay scenarios                          # every scenario, one line each
  wsreplay scenarios --tag delivery           # those tagged delivery
  wsreplay scenarios 'close/*'                # one topic
  wsreplay scenarios --tags                   # the tags and their counts
  wsreplay scenarios --autobahn               # Autobahn case id -> scenarios
  wsreplay scenarios show close/send-then-close   # one scenario in full"""

REPEAT_HELP = (
    "run each (scenario, client) pair N times (same adapter process, a fresh "
    "connection each time); the record shows the worst verdict, and when the "
    "runs disagreed every verdict with its share, e.g. FAIL 3/10 PASS 7/10 (default: 1)"
)

COMPARE_EPILOG = """\
OLD and NEW are each a report (a report.json, or a run folder holding one)
or a client spec run on the spot (two specs run together, on one server).
Results are matched by scenario name; a report with several clients needs
--old-client/--new-client to pick one.

A regression is a change to a worse verdict, listed by level: to fail (it
passed and now fails or errs, or with --repeat fails more often), to
non-strict (pass -> non-strict, or more non-strict runs), to informational.
A fix is the reverse. Other changes: the reason, the close code, the error
type or message, the number of messages received (free text compared with
random values -- ports, addresses, object ids, temp paths, durations --
masked out). Timing beyond the tolerance is listed apart. Writes
compare.json and compare.md into DIR.

examples:
  wsreplay compare python-websockets@13.1 python-websockets@14.0
  wsreplay compare results/RUN python-websockets --old-client python-websockets@14.0
  wsreplay compare python-websockets@12.0 python-websockets@13.0 --ignore non-strict

exit status: 0 no regression, 1 a regression to fail or non-strict (to fail
only, with --ignore non-strict; informational never counts), 2 bad arguments."""

BISECT_EPILOG = """\
The candidates are the registry's final releases between the two ends. Both
ends are checked first; then a binary search installs and runs only the
releases it needs. A release is good when every run of every selected
scenario is pass or informational; it is bad when any run is fail or
non-strict (with --ignore non-strict: fail only, non-strict is good); a
release with errors only is skipped. Writes bisect.json into DIR (the
steps, the answer, releases installed vs. a linear scan).

examples:
  wsreplay bisect python-websockets --good 12.0 --bad 14.0 --scenario close/send-then-close
  wsreplay bisect python-websockets --broken 14.0 --fixed 16.0 --scenario close/send-then-close
  wsreplay bisect python-websockets --good 12.0 --bad 14.0 --ignore non-strict

exit status: 0 found, 1 not found (releases that could not be judged remain),
2 bad arguments or ends that do not behave as claimed."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return value


def shard_arg(text: str) -> tuple[int, int]:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_common(sub: argparse.ArgumentParser, out_help: str) -> None:
    """--scenario, --repeat, --out and --scenarios-dir, shared by run, compare and bisect."""
    sub.add_argument(
        "--scenario",
        action="append",
        metavar="NAME_OR_GLOB",
        default=[],
        help="scenario name or glob, repeatable (default: all)",
    )
    sub.add_argument("--repeat", type=positive_int, default=1, metavar="N", help=REPEAT_HELP)
    sub.add_argument(
        "--transport",
        choices=("ws", "wss"),
        default="ws",
        help="run the scenarios over ws:// or over wss:// (TLS with a certificate made "
        'for this run); scenarios marked "transport": "wss" always use TLS (default: ws)',
    )
    sub.add_argument(
        "--jobs",
        type=positive_int,
        metavar="N",
        help="run up to N (scenario, client) jobs at the same time (default: "
        f"{default_jobs()} here, 4 per core up to 8); scenarios marked "
        '"run_alone" still run with no other job',
    )
    sub.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="AXIS=NAME,...",
        help="also run each scenario under these variants of how its bytes travel, "
        "each a cell of its own named SCENARIO~NAME: split= takes "
        f"{', '.join(VARIANTS)}; --scenario 'NAME~VARIANT' (globs too) picks cells "
        "(see scenarios/README.md, Variants)",
    )
    sub.add_argument("--out", type=Path, metavar="DIR", help=out_help)
    sub.add_argument(
        "--scenarios-dir",
        type=Path,
        default=SCENARIOS_DIR,
        metavar="DIR",
        help="the scenario catalogue to load (default: scenarios/)",
    )


def add_ignore(sub: argparse.ArgumentParser, what: str) -> None:
    """--ignore non-strict, shared by compare and bisect."""
    sub.add_argument(
        "--ignore",
        action="append",
        choices=IGNORABLE,
        default=[],
        metavar="LEVEL",
        help=f"{what} (LEVEL: {', '.join(IGNORABLE)}; default: nothing ignored)",
    )


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
    add_common(run, "report folder (default: a new folder under results/)")
    run.add_argument("--shard", type=shard_arg, metavar="K/N", help=SHARD_HELP)
    run.add_argument(
        "--compression", choices=COMPRESSION_MODES, default="default", help=COMPRESSION_HELP
    )
    run.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only scenarios with this tag (repeatable: any); --tag slow runs the slow ones",
    )
    run.add_argument(
        "--all",
        action="store_true",
        help=f"also the scenarios tagged {SLOW_TAG!r} (large messages, many round trips), "
        "which a run leaves out unless --all, --tag slow or their exact name selects them",
    )

    mer = sub.add_parser(
        "merge",
        help="join the reports of `run --shard K/N` into one",
        description="Merge the folders of the N shards of a run into one report.json\n"
        "(and junit.xml, summary.md, report.html), as a single run would have written.",
        epilog=MERGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    mer.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="a shard's folder")
    mer.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where the merged report goes (default: results/<run-id>-merged/)",
    )
    mer.add_argument(
        "--allow-missing",
        action="store_true",
        help="merge the shards given even if some are missing, and exit by the verdicts "
        "of the pairs that ran (the others show as not run)",
    )

    rep = sub.add_parser(
        "report",
        help="rebuild a killed run's report.json (and the files beside it) from its records",
        description="Assemble DIR/report.json, junit.xml, summary.md and report.html from\n"
        "DIR/run.json and DIR/records.jsonl: for a run killed before it could write\n"
        "them (SIGKILL, a lost machine). The report says the run did not finish.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument("dir", type=Path, metavar="DIR", help="the run's folder (its --out)")

    compare = sub.add_parser(
        "compare",
        help="compare two clients or reports: regressions, fixes, changes",
        description="Compare OLD with NEW scenario by scenario and list regressions,\n"
        "fixes and other changes.",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compare.add_argument("old", metavar="OLD", help="a report (file or run folder) or a SPEC")
    compare.add_argument("new", metavar="NEW", help="a report (file or run folder) or a SPEC")
    add_common(
        compare,
        "where the run's report, compare.json and compare.md go "
        "(default: a new folder under results/)",
    )
    compare.add_argument(
        "--tolerance-ms",
        type=float,
        default=DEFAULT_TOLERANCE_MS,
        metavar="MS",
        help=f"timing differences up to this are not changes (default: {DEFAULT_TOLERANCE_MS:g})",
    )
    compare.add_argument(
        "--old-client", metavar="SPEC", help="the client to compare when OLD has several"
    )
    compare.add_argument(
        "--new-client", metavar="SPEC", help="the client to compare when NEW has several"
    )
    add_ignore(
        compare,
        "list regressions to LEVEL but do not exit 1 for them, e.g. pass -> non-strict",
    )

    bisect = sub.add_parser(
        "bisect",
        help="find the first release that broke (or fixed) a scenario",
        description="Binary-search the releases of ADAPTER's library between two versions\n"
        "for the first one that fails (--good/--bad) or passes (--broken/--fixed).",
        epilog=BISECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bisect.add_argument("adapter", metavar="ADAPTER", help="an adapter name, no version")
    bisect.add_argument("--good", metavar="V1", help="a release that passes (older)")
    bisect.add_argument("--bad", metavar="V2", help="a release that fails (newer)")
    bisect.add_argument("--broken", metavar="V1", help="a release that fails (older)")
    bisect.add_argument("--fixed", metavar="V2", help="a release that passes (newer)")
    add_common(
        bisect,
        "where bisect.json and one report per step go (default: a new folder under results/)",
    )
    add_ignore(bisect, "count LEVEL as good rather than bad, e.g. non-strict")

    sc = sub.add_parser(
        "scenarios",
        help="list the scenarios (by tag), or show one in full",
        description="List the scenarios with their summaries, or show one in full.",
        epilog=SCENARIOS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.add_argument(
        "names",
        nargs="*",
        metavar="NAME_OR_GLOB",
        help="only these scenarios; 'show NAME' prints one in full",
    )
    sc.add_argument(
        "--tag", action="append", default=[], help="only scenarios with this tag (repeatable: any)"
    )
    sc.add_argument("--tags", action="store_true", help="list the tags with their counts")
    sc.add_argument(
        "--autobahn",
        action="store_true",
        help="list the Autobahn|Testsuite cases the scenarios reproduce exactly, "
        "by case id (docs/autobahn.md has all 517)",
    )
    sc.add_argument("--scenarios-dir", type=Path, default=SCENARIOS_DIR, metavar="DIR")

    cl = sub.add_parser(
        "clients",
        help="list the adapters and installed versions, or a library's released versions",
        description="List the adapters, their languages and the versions already installed; "
        "'clients versions ADAPTER' lists the releases the registry offers.",
        epilog=CLIENTS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cl.add_argument(
        "what", nargs="*", metavar="versions ADAPTER", help="list the registry's releases"
    )
    cl.add_argument("--pre", action="store_true", help="with versions: include pre-releases")

    check = sub.add_parser(
        "check",
        help="validate scenario files without running them",
        description="Validate scenario files with the server's own checks.",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")

    fuzzingserver.add_parser(sub)
    bugs = sub.add_parser("bugs", help="rewrite scenarios/BUGS.md's table of bug reports")
    bugcatalogue.add_arguments(bugs)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    variants = parse_vary(args.vary)
    # --tag and the slow tag choose among scenarios; then --vary makes their cells
    bases = [p.partition(SEPARATOR)[0] for p in args.scenario]
    chosen = select_run(select(load_all(args.scenarios_dir), bases), bases, args.tag, args.all)
    scenarios, skipped = select_cells(chosen, args.scenario, variants)
    specs = args.client or [DEFAULT_CLIENT]
    checked = check_specs(specs)  # a spec that cannot run: exit 2 before anything starts
    out_dir = args.out or RESULTS_DIR / new_run_id()
    plan = RunPlan(
        scenarios=scenarios,
        client_specs=specs,
        checked_specs=checked,
        out_dir=out_dir,
        scenarios_dir=args.scenarios_dir,
        command=["wsreplay", *sys.argv[1:]],
        repeat=args.repeat,
        transport=args.transport,
        jobs=args.jobs,
        shard=args.shard,
        compression=args.compression,
        vary=variants,
        vary_skipped=skipped,
    )
    runs = f", {args.repeat} runs each" if args.repeat > 1 else ""
    shard = f"shard {args.shard[0]}/{args.shard[1]} of " if args.shard else ""
    deflate = f", compression {args.compression}" if args.compression != "default" else ""
    print(
        f"wsreplay {__version__}: {shard}{len(scenarios)} scenario(s) x "
        f"{len(plan.client_specs)} client(s){runs}{deflate} -> {out_dir}",
        file=sys.stderr,
    )
    if variants:
        print(
            f"variants {', '.join(variants)}: {len(skipped)} cell(s) skipped",
            file=sys.stderr,
        )
    for skip in skipped:
        print(f"  skipped {skip['scenario']}~{skip['variant']}: {skip['reason']}", file=sys.stderr)
    rep = Run(plan).execute()
    print_summary(rep, sys.stdout, out_dir)
    return exit_code(rep)


def cmd_merge(args: argparse.Namespace) -> int:
    out_dir: Path = args.out or RESULTS_DIR / f"{new_run_id()}-merged"
    if any(out_dir.resolve() == Path(d).resolve() for d in args.dirs):
        raise MergeError(f"cannot merge: --out {out_dir} is one of the shard folders")
    shards = [read_shard(d) for d in args.dirs]
    for s in shards:
        if s.assembled:
            unread = f", {s.skipped} unreadable line(s) skipped" if s.skipped else ""
            print(
                f"wsreplay: {s.folder}: its run did not finish; read from run.json and "
                f"records.jsonl{unread}",
                file=sys.stderr,
            )
    merged = merge(shards, out_dir.name, allow_missing=args.allow_missing)
    for note in merged.notes:
        print(f"wsreplay: {note}", file=sys.stderr)
    rep = merged.report
    count = shards[0].report["shard"]["count"]
    print(
        f"wsreplay {__version__}: merged {len(shards)} of {count} shard(s), "
        f"{len(rep['results'])} record(s) -> {out_dir}",
        file=sys.stderr,
    )
    write_all(rep, out_dir)
    print_summary(rep, sys.stdout, out_dir)
    if merged.missing_pairs and not args.allow_missing:
        print(
            "wsreplay: exit 1: the merged run is incomplete "
            "(--allow-missing: judge the pairs that ran)",
            file=sys.stderr,
        )
        return 1
    return exit_code(rep)


def cmd_report(args: argparse.Namespace) -> int:
    out_dir: Path = args.dir
    if report_is_current(out_dir):
        own = "it finished or was interrupted"
        print(f"{out_dir / 'report.json'} is the run's own ({own}); nothing to do")
        return 0
    try:
        rep, skipped = assemble(out_dir)
    except NoRecords as exc:
        print(f"wsreplay: {exc}", file=sys.stderr)
        return 2
    paths = write_all(rep, out_dir)
    unread = f"; {skipped} unreadable line(s) skipped" if skipped else ""
    print(
        f"report: {paths['json']} ({len(rep['results'])} record(s) of a run that did not "
        f"finish{unread})"
    )
    print(f"html:   {paths['html']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    return run_compare(
        CompareArgs(
            old=args.old,
            new=args.new,
            scenarios=args.scenario,
            repeat=args.repeat,
            out_dir=args.out or RESULTS_DIR / new_run_id(),
            tolerance_ms=args.tolerance_ms,
            old_client=args.old_client,
            new_client=args.new_client,
            scenarios_dir=args.scenarios_dir,
            command=["wsreplay", *sys.argv[1:]],
            transport=args.transport,
            ignore=tuple(args.ignore),
            jobs=args.jobs,
            vary=parse_vary(args.vary),
        )
    )


def cmd_bisect(args: argparse.Namespace) -> int:
    regression = args.good is not None or args.bad is not None
    fix = args.broken is not None or args.fixed is not None
    if (
        regression == fix
        or (regression and None in (args.good, args.bad))
        or (fix and None in (args.broken, args.fixed))
    ):
        raise BisectError(
            "bisect needs either --good V1 --bad V2 (find the first bad release) "
            "or --broken V1 --fixed V2 (find the first fixed release)"
        )
    return run_bisect(
        BisectArgs(
            adapter=args.adapter,
            mode=FIRST_BAD if regression else FIRST_FIXED,
            older=args.good if regression else args.broken,
            newer=args.bad if regression else args.fixed,
            scenarios=args.scenario,
            repeat=args.repeat,
            out_dir=args.out or RESULTS_DIR / new_run_id(),
            scenarios_dir=args.scenarios_dir,
            command=["wsreplay", *sys.argv[1:]],
            transport=args.transport,
            ignore=tuple(args.ignore),
            jobs=args.jobs,
            vary=parse_vary(args.vary),
        )
    )


def cmd_scenarios(args: argparse.Namespace) -> int:
    scenarios = load_all(args.scenarios_dir)
    if args.names[:1] == ["show"]:
        if len(args.names) != 2:
            raise ScenarioError("usage: wsreplay scenarios show NAME (one scenario)")
        chosen = {s["name"]: s for s in scenarios}.get(args.names[1])
        if chosen is None:
            raise ScenarioError(f"no scenario named {args.names[1]!r} in {args.scenarios_dir}")
        print(scenario_view.format_full(chosen))
        return 0
    if args.names:
        scenarios = select(scenarios, args.names)
    if args.tag:
        scenarios = [s for s in scenarios if set(args.tag) & set(s.get("tags", []))]
        if not scenarios:
            raise ScenarioError(f"no scenario has the tag(s) {', '.join(args.tag)}")
    if args.autobahn:
        print(autobahn.format_mapping(autobahn.mapping(scenarios)))
        return 0
    view = scenario_view.format_tags if args.tags else scenario_view.format_list
    print(view(scenarios))
    return 0


def cmd_clients(args: argparse.Namespace) -> int:
    if not args.what:
        print(clients_view.format_adapters())
        return 0
    if args.what[0] != "versions" or len(args.what) != 2:
        raise SpecError("usage: wsreplay clients [versions ADAPTER]")
    try:
        print(clients_view.format_versions(args.what[1], include_pre=args.pre))
    except BrokenPipeError:
        raise
    except (OSError, RuntimeError) as exc:
        print(f"wsreplay: cannot list the releases of {args.what[1]}: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    proc = subprocess.run([str(server_binary()), "--check", *map(str, args.files)])
    return proc.returncode


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI runner cancelling the job): unwind like Ctrl-C, so the
    server is stopped and the reports are written, then exit 143."""


def _on_sigterm(signum: int, frame: object) -> None:
    del signum, frame
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A shell without job control starts background commands with SIGINT
    # ignored, and Python then keeps it ignored: Ctrl-C (or a CI runner's
    # SIGINT) must still stop a run and write its report.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handlers = {
        "run": cmd_run,
        "merge": cmd_merge,
        "report": cmd_report,
        "compare": cmd_compare,
        "bisect": cmd_bisect,
        "scenarios": cmd_scenarios,
        "clients": cmd_clients,
        "check": cmd_check,
        "bugs": bugcatalogue.run,
        "fuzzingserver": fuzzingserver.run,
    }
    try:
        return handlers[args.command](args)
    except (
        ScenarioError,
        SpecError,
        FuzzingSpecError,
        ServerError,
        BuildError,
        CompareError,
        BisectError,
        MergeError,
        VaryError,
    ) as exc:
        print(f"wsreplay: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        # Only the commands that execute runs write a report as they stop.
        writers = ("run", "bisect", "fuzzingserver")
        written = "; the report so far is written" if args.command in writers else ""
        print(f"wsreplay: terminated (SIGTERM){written}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("wsreplay: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `wsreplay scenarios | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
