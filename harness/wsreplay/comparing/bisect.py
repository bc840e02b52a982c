"""`wsreplay bisect ADAPTER`: the first release that broke (or fixed) a scenario.

Two modes, one search:

- ``--good V1 --bad V2``: V1 passes, V2 fails; find the first bad release.
- ``--broken V1 --fixed V2``: V1 fails, V2 passes; find the first fixed release.

The candidates are the registry's final releases from V1 to V2, oldest first,
as the adapter's installer lists and orders them. Both ends are checked first
(in one run); if they do not behave as claimed the search would be
meaningless, so it stops with exit 2. Then a binary search installs and runs
only the releases it needs, and reports how many that was against a linear
scan, which would install every candidate.

A release *passes* (is good) when every run of every selected scenario
ends `pass` or `informational`. It *fails* (is bad) when any run ends
`fail` or `non-strict` — by default a `non-strict` verdict is a change for
the worse like a fail, as in `compare`, so that the release where a library
started doing what the RFC does not recommend is found, not called good.
`--ignore non-strict` counts `non-strict` as good, to hunt fails only.
`informational` is always good (never failing, as in `run`). Otherwise (no
bad run, but an `error`: the install, the adapter or the harness broke) a
release cannot be judged and is skipped, like `git bisect skip`: the search
tries the nearest untested release instead.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .. import __version__
from ..clients import ADAPTERS, AdapterInfo, adapter_names, check_version_range, installer
from ..installers import VersionNotFound
from ..judging.verdicts import (
    FAILING,
    IGNORABLE,
    LEVELS,
    breakdown_text,
    good_verdicts,
    run_verdicts,
    worst,
)
from ..outputs import report
from ..outputs.report import write_text_atomic
from ..running.adapterproc import safe_name
from ..running.runner import Run, RunPlan
from ..scenarios import load_all
from ..variants import select_cells

SCHEMA_ID = "wsreplay-bisect/1"
BISECT_JSON = "bisect.json"

#: A final release in any of the registries: digits and dots, maybe a leading
#: "v" (Go) or a Python post-release. Anything else (rc, beta, -alpha.1, dev)
#: is a pre-release and not a candidate.
_FINAL_RE = re.compile(r"v?\d+(?:\.\d+)*(?:\.post\d+)?")


_VERB = {"pass": "passes", "fail": "fails"}


class BisectError(ValueError):
    """Bad arguments, or ends that do not behave as claimed (exit 2)."""


@dataclass(frozen=True)
class Mode:
    """The two directions, in one vocabulary: `old` is how the older end behaves."""

    name: str  # "first-bad" / "first-fixed"
    old_option: str  # "--good" / "--broken"
    new_option: str  # "--bad" / "--fixed"
    old_outcome: str  # what the older end must do: "pass" / "fail"
    new_outcome: str
    answer_key: str  # "first_bad" / "first_fixed"
    last_old_key: str  # "last_good" / "last_broken"
    old_word: str  # "good" / "broken"
    new_word: str  # "bad" / "fixed"


FIRST_BAD = Mode(
    "first-bad", "--good", "--bad", "pass", "fail", "first_bad", "last_good", "good", "bad"
)
FIRST_FIXED = Mode(
    "first-fixed",
    "--broken",
    "--fixed",
    "fail",
    "pass",
    "first_fixed",
    "last_broken",
    "broken",
    "fixed",
)


# --------------------------------------------------------------- the search


@dataclass
class SearchResult:
    """The outcome of `bisect_search`.

    ``found`` is False when releases that could not be judged (skipped) sit
    between the last old and the first new one; ``candidates`` then lists
    every release that may be the first new one.
    """

    first_new: str
    last_old: str
    tested: list[str]
    skipped: list[str]
    found: bool
    candidates: list[str] = field(default_factory=list)


def bisect_search(versions: list[str], classify: Callable[[str], str]) -> SearchResult:
    """Binary search over ``versions`` (oldest first) for the first "new" one.

    ``versions[0]`` must behave "old" and ``versions[-1]`` "new" (the caller
    has checked them); ``classify(version)`` answers "old", "new" or "skip"
    and is called only for versions strictly between, each at most once.
    Assumes one change of behaviour in the range, as any bisection does.
    """
    if len(versions) < 2:
        raise ValueError("bisect_search needs at least the two ends")
    lo, hi = 0, len(versions) - 1
    skipped: set[int] = set()
    tested: list[str] = []
    while True:
        inner = [i for i in range(lo + 1, hi) if i not in skipped]
        if not inner:
            break
        middle = (lo + hi) / 2
        pick = min(inner, key=lambda i: (abs(i - middle), i))
        tested.append(versions[pick])
        answer = classify(versions[pick])
        if answer == "new":
            hi = pick
        elif answer == "old":
            lo = pick
        elif answer == "skip":
            skipped.add(pick)
        else:
            raise ValueError(f"classify must answer old, new or skip, not {answer!r}")
    undecided = versions[lo + 1 : hi]
    return SearchResult(
        first_new=versions[hi],
        last_old=versions[lo],
        tested=tested,
        skipped=[versions[i] for i in sorted(skipped)],
        found=not undecided,
        candidates=[] if not undecided else [*undecided, versions[hi]],
    )


def is_final(version: str) -> bool:
    """True for a final release (not an alpha, beta, rc or dev build)."""
    return _FINAL_RE.fullmatch(version.strip()) is not None


def candidate_versions(
    listed: list[str], older: str, newer: str, key: Callable[[str], tuple]
) -> list[str]:
    """The final releases from ``older`` to ``newer`` inclusive, oldest first.

    The ends are kept even if they are pre-releases: the user asked for them.
    """
    low, high = key(older), key(newer)
    between = [v for v in listed if is_final(v) and low < key(v) < high]
    unique = dict.fromkeys([older, *sorted(between, key=key), newer])
    return list(unique)


# --------------------------------------------------------------- judging a release


def bad_verdicts(ignore: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The verdicts that make a release bad: fail and non-strict, or fail only."""
    good = good_verdicts(ignore)
    return tuple(v for v in LEVELS if v not in good)


def release_outcome(rep: dict, spec: str, ignore: tuple[str, ...] = ()) -> tuple[str, list[dict]]:
    """("pass" | "fail" | "error", the per-scenario summary) for one client in a report.

    "fail" when any run's verdict is bad (`bad_verdicts(ignore)`), "error"
    when none is but some run could not be judged, "pass" otherwise.
    """
    bad = bad_verdicts(ignore)
    rows = []
    any_bad = any_error = False
    for record in rep.get("results", []):
        if record["client"] != spec:
            continue
        verdicts = run_verdicts(record)
        bad_runs = [v for v in verdicts if v in bad]
        any_bad = any_bad or bool(bad_runs)
        any_error = any_error or any(v in FAILING and v not in bad for v in verdicts)
        rows.append(
            {
                "scenario": record["scenario"],
                "verdict": record["verdict"],
                "reason": record["reason"],
                "runs": record.get("runs", 1),
                "passes": record.get("passes", 0),
                "fails": verdicts.count("fail"),
                "bad": len(bad_runs),
                "worst_bad": worst(bad_runs) if bad_runs else None,
                "shown": breakdown_text(record),
            }
        )
    if not rows:
        return "error", rows
    if any_bad:
        return "fail", rows
    return ("error" if any_error else "pass"), rows


def outcome_detail(outcome: str, rows: list[dict]) -> str:
    """` (close/send-then-close)`: the scenarios that made a release bad, or those
    in error; a verdict other than fail is named (`close/x: non-strict`), and
    runs that disagreed are counted (`close/x: FAIL 1/3 PASS 2/3`)."""
    if outcome == "pass":
        return ""
    shown = []
    for row in rows:
        if outcome == "fail" and not row.get("bad", row["fails"]):
            continue
        if outcome == "error" and row["verdict"] != "error":
            continue
        name = row["scenario"]
        if row.get("runs", 1) > 1 and " " in row.get("shown", ""):
            name += f": {row['shown']}"
        elif outcome == "fail" and row.get("worst_bad") not in (None, "fail"):
            name += f": {row['worst_bad']}"
        if outcome == "error":
            name += f": {row['reason']}"
        shown.append(name)
    return f" ({', '.join(shown)})" if shown else ""


# --------------------------------------------------------------- the command


@dataclass
class BisectArgs:
    adapter: str
    mode: Mode
    older: str
    newer: str
    scenarios: list[str]
    repeat: int
    out_dir: Path
    scenarios_dir: Path
    command: list[str]
    transport: str = "ws"
    #: Jobs at once (--jobs); None: the default.
    jobs: int | None = None
    #: --vary: the variants whose cells run too (`variants`).
    vary: list[str] = field(default_factory=list)
    #: Levels counted as good rather than bad (`--ignore non-strict`).
    ignore: tuple[str, ...] = ()


class Bisection:
    """One bisect command: resolves the ends, runs releases, writes bisect.json."""

    def __init__(
        self, args: BisectArgs, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
    ) -> None:
        self.args = args
        self.stdout = stdout
        self.stderr = stderr
        info = ADAPTERS.get(args.adapter)
        if info is None:
            raise BisectError(
                f"unknown adapter {args.adapter!r} (known adapters: {', '.join(adapter_names())})"
            )
        self.info: AdapterInfo = info
        unknown = [level for level in args.ignore if level not in IGNORABLE]
        if unknown:
            raise BisectError(
                f"--ignore {unknown[0]!r}: only {', '.join(IGNORABLE)} can be ignored"
            )
        self.installer = installer(info)
        self.scenarios, _ = select_cells(load_all(args.scenarios_dir), args.scenarios, args.vary)
        self.steps: list[dict] = []
        self.outcomes: dict[str, str] = {}
        self.runs = 0  # one run (one server, one report folder) per search step
        self.document: dict = {}

    def resolve(self, option: str, requested: str) -> str:
        try:
            version = self.installer.resolve(self.info, requested)
        except VersionNotFound as exc:
            raise BisectError(f"{option} {requested}: {exc}") from exc
        check_version_range(self.info, version)  # SpecError: exit 2 as well
        return version

    def execute(self) -> int:
        args, mode = self.args, self.args.mode
        key = self.installer.version_key
        older = self.resolve(mode.old_option, args.older)
        newer = self.resolve(mode.new_option, args.newer)
        if key(older) >= key(newer):
            hint = (
                "; to find the release that fixed a bug use --broken OLD --fixed NEW"
                if mode is FIRST_BAD
                else "; to find the release that broke something use --good OLD --bad NEW"
            )
            raise BisectError(
                f"{mode.old_option} {older} must be an older release than "
                f"{mode.new_option} {newer}{hint}"
            )
        versions = candidate_versions(self.installer.versions(self.info), older, newer, key)
        cached_before = set(self.installer.installed(self.info))
        self.document = {
            "schema": SCHEMA_ID,
            "tool": {"name": "wsreplay", "version": __version__},
            "command": args.command,
            "started": report.utc_now(),
            "finished": None,
            "adapter": self.info.name,
            "package": self.info.package,
            "mode": mode.name,
            "ends": {mode.old_word: older, mode.new_word: newer},
            "scenarios": [s["name"] for s in self.scenarios],
            "repeat": args.repeat,
            "ignored": sorted(set(args.ignore)),
            "good_verdicts": list(good_verdicts(args.ignore)),
            "bad_verdicts": list(bad_verdicts(args.ignore)),
            "versions": versions,
            "steps": self.steps,
            "tested": [],
            "answer": None,
            "versions_installed": 0,
            "newly_installed": 0,
            "linear_scan": len(versions),
        }
        self._say(
            f"bisect {self.info.name}: {len(versions)} release(s) from {older} to {newer}, "
            f"{len(self.scenarios)} scenario(s) -> {args.out_dir}"
        )
        self._say(
            f"a release is bad when a run is {' or '.join(bad_verdicts(args.ignore))}"
            + (
                " (non-strict ignored)"
                if "non-strict" in args.ignore
                else " (--ignore non-strict: fail only)"
            )
        )
        self._run_releases([older, newer], "end")
        swapped = (self.outcomes[older], self.outcomes[newer]) == (
            mode.new_outcome,
            mode.old_outcome,
        )
        for version, expected, option in (
            (older, mode.old_outcome, mode.old_option),
            (newer, mode.new_outcome, mode.new_option),
        ):
            if self.outcomes[version] != expected:
                self._write()
                step = next(s for s in self.steps if s["version"] == version)
                hint = ""
                soft = any(row["verdict"] == "non-strict" for row in step["scenarios"])
                ignored = "non-strict" in args.ignore
                if soft and expected == "pass" and not ignored:
                    hint += "; non-strict counts as bad by default (--ignore non-strict: as good)"
                elif soft and expected == "fail" and ignored:
                    hint += "; non-strict counts as good with --ignore non-strict"
                if swapped:
                    other = FIRST_FIXED if mode is FIRST_BAD else FIRST_BAD
                    hint += (
                        f"; {older} {_VERB[mode.new_outcome]} and "
                        f"{newer} {_VERB[mode.old_outcome]}: "
                        f"use {other.old_option} {older} {other.new_option} {newer}"
                    )
                raise BisectError(
                    f"{option} {version} should {expected} but it did not: "
                    + "; ".join(
                        f"{row['scenario']}: {row['verdict']} ({row['reason']})"
                        for row in step["scenarios"]
                    )
                    + hint
                )

        def classify(version: str) -> str:
            self._run_releases([version], "search")
            outcome = self.outcomes[version]
            if outcome == mode.old_outcome:
                return "old"
            if outcome == mode.new_outcome:
                return "new"
            return "skip"

        result = bisect_search(versions, classify)
        tested = [s["version"] for s in self.steps]
        answer = {
            "found": result.found,
            mode.answer_key: result.first_new if result.found else None,
            mode.last_old_key: result.last_old,
            "skipped": result.skipped,
            "candidates": result.candidates,
        }
        self.document.update(
            answer=answer,
            versions_installed=len(tested),
            newly_installed=len([v for v in tested if v not in cached_before]),
        )
        self._write(finished=True)
        first = "first bad release" if mode is FIRST_BAD else "first fixed release"
        if result.found:
            self._say(f"{first}: {result.first_new} ({mode.old_word}: {result.last_old})")
        else:
            self._say(
                f"{first}: one of {', '.join(result.candidates)} "
                f"({', '.join(result.skipped)} could not be judged)"
            )
        self._say(
            f"installed and ran {len(tested)} of {len(versions)} releases "
            f"(a linear scan installs {len(versions)}); "
            f"{self.document['newly_installed']} of them newly installed, the rest from the cache"
        )
        self._say(f"bisect: {args.out_dir / BISECT_JSON}")
        return 0 if result.found else 1

    def _run_releases(self, versions: list[str], role: str) -> None:
        """One run (one server) for these releases; one step line each."""
        specs = [f"{self.info.name}@{v}" for v in versions]
        self.runs += 1
        folder = f"{self.runs:02d}-" + "-".join(safe_name(v) for v in versions)
        plan = RunPlan(
            scenarios=self.scenarios,
            client_specs=specs,
            out_dir=self.args.out_dir / folder,
            scenarios_dir=self.args.scenarios_dir,
            command=self.args.command,
            repeat=self.args.repeat,
            transport=self.args.transport,
            jobs=self.args.jobs,
        )
        rep = Run(plan, self.stderr).execute()
        for version, spec in zip(versions, specs, strict=False):
            outcome, rows = release_outcome(rep, spec, self.args.ignore)
            self.outcomes[version] = outcome
            self.steps.append(
                {
                    "version": version,
                    "role": role,
                    "outcome": outcome,
                    "scenarios": rows,
                    "report": str(Path(folder) / report.REPORT_NAME),
                }
            )
            note = ", skipped" if outcome == "error" and role == "search" else ""
            self._say(f"{version}: {outcome}{note}{outcome_detail(outcome, rows)}")
            self.document["tested"] = [s["version"] for s in self.steps]
            self._write()

    def _write(self, finished: bool = False) -> None:
        if finished:
            self.document["finished"] = report.utc_now()
        self.document["versions_installed"] = len(self.steps)
        write_text_atomic(
            self.args.out_dir / BISECT_JSON, json.dumps(self.document, indent=2) + "\n"
        )

    def _say(self, line: str) -> None:
        self.stdout.write(line + "\n")
        self.stdout.flush()


def run_bisect(args: BisectArgs, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr) -> int:
    return Bisection(args, stdout, stderr).execute()
