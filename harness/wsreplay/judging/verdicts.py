"""The verdict vocabulary, defined once: names, rank, what passes, display order.

After Autobahn: `pass`; `fail`; `non-strict` (allowed by the RFC, not what
it recommends); `informational` (recorded, never failing); `error` (the
harness or the adapter broke — never the library's fault). Every module that
orders, counts or words verdicts imports them from here.

Two ideas of "passing" live side by side, on purpose:

- `PASSING`: the verdicts that do not make `run` exit 1 (`pass`,
  `non-strict`, `informational`). A record's `passes` and `pass_rate`
  count these runs.
- a *strictness* for judging change (`compare`, `bisect`): by default a move
  from `pass` to `non-strict` is a change for the worse like any other —
  a severity must not hide a regression. `IGNORABLE` names the levels a
  user may choose to let through (`--ignore non-strict`).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..contract import ReportRecord

#: Every verdict, in the order reports count them (report totals, matrix totals).
VERDICTS = ("pass", "fail", "non-strict", "informational", "error")
#: How bad a verdict is; higher is worse. `error` is worse than `fail`: a run
#: that could not be judged leaves the question open, so a combined verdict
#: must not claim a clean fail.
RANK = {"pass": 0, "informational": 1, "non-strict": 2, "fail": 3, "error": 4}
#: Verdicts under which a run counts as passed: none of them makes `run` exit 1.
PASSING = ("pass", "non-strict", "informational")
#: Verdicts that make `run` exit 1.
FAILING = ("fail", "error")
#: The severities a scenario's expectation can carry (a missed one yields it).
SEVERITIES = ("fail", "non-strict", "informational")
#: Most urgent first: the order in which non-passing pairs are listed.
DISPLAY_ORDER = ("fail", "error", "non-strict", "informational", "pass")
#: Worst first: the order in which a pair's runs are broken down (`FAIL 1/3 PASS 2/3`).
WORST_FIRST = ("error", "fail", "non-strict", "informational", "pass")
#: Short upper-case words for terminals: a FAIL stands out even without colour.
WORDS = {
    "pass": "PASS",
    "fail": "FAIL",
    "non-strict": "NON-STRICT",
    "informational": "INFO",
    "error": "ERROR",
}

#: The levels of a change for the worse, most severe first, and the verdicts
#: at or past each: a pair regresses at the most severe level whose share of
#: runs grew. `fail` covers `error` (the pass rate dropped).
LEVELS = ("fail", "non-strict", "informational")
LEVEL_VERDICTS = {
    "fail": ("fail", "error"),
    "non-strict": ("fail", "error", "non-strict"),
    "informational": ("fail", "error", "non-strict", "informational"),
}
#: Levels a user may tell compare/bisect to let through. `informational` is
#: never failing (as in `run`): it is listed, never counted.
IGNORABLE = ("non-strict",)
#: Levels that never count towards an exit status, whatever the user says.
NEVER_COUNTED = ("informational",)


def rank(verdict: str) -> int:
    """How bad `verdict` is (unknown verdicts rank with `error`)."""
    return RANK.get(verdict, RANK["error"])


def worst(verdicts: Iterable[str]) -> str:
    """The worst of `verdicts` (at least one)."""
    return max(verdicts, key=rank)


def is_passing(verdict: str) -> bool:
    """True for the verdicts that do not make `run` exit 1."""
    return verdict in PASSING


def counted_levels(ignore: Iterable[str] = ()) -> tuple[str, ...]:
    """The regression levels that make compare exit 1 (and bisect call a release bad)."""
    ignored = set(ignore) | set(NEVER_COUNTED)
    return tuple(level for level in LEVELS if level not in ignored)


def good_verdicts(ignore: Iterable[str] = ()) -> tuple[str, ...]:
    """The verdicts under which a release is good for bisect.

    By default only `pass` and `informational` (never failing); with
    `--ignore non-strict`, also `non-strict`.
    """
    bad: set[str] = set()
    for level in counted_levels(ignore):
        bad.update(LEVEL_VERDICTS[level])
    # A level left out still leaves the worse levels bad.
    return tuple(v for v in VERDICTS if v not in bad and v not in FAILING)


def run_verdicts(record: ReportRecord) -> list[str]:
    """Every run's verdict of a record (`per_run`), or its one verdict."""
    per_run = record.get("per_run")
    if isinstance(per_run, list) and per_run:
        found = [entry.get("verdict") for entry in per_run if isinstance(entry, dict)]
        named = [v for v in found if isinstance(v, str)]
        if found and len(named) == len(found):
            return named
    return [str(record.get("verdict"))]


def run_breakdown(record: ReportRecord) -> list[tuple[str, int]]:
    """[(verdict, runs)] for the verdicts a pair's runs ended with, worst first."""
    verdicts = run_verdicts(record)
    known = [(v, verdicts.count(v)) for v in WORST_FIRST if v in verdicts]
    extra = sorted({v for v in verdicts if v not in RANK})
    return [(v, verdicts.count(v)) for v in extra] + known


def breakdown_text(record: ReportRecord, words: dict[str, str] | None = None) -> str:
    """`NON-STRICT 2/3 PASS 1/3` when repeated runs disagreed, else the verdict word.

    Every verdict seen gets its own count, worst first, so `3/3` can only
    mean that all three runs ended alike.
    """
    words = WORDS if words is None else words
    parts = run_breakdown(record)
    verdict = str(record.get("verdict"))
    if len(parts) < 2:
        return words.get(verdict, verdict)
    total = sum(count for _, count in parts)
    return " ".join(f"{words.get(v, v)} {count}/{total}" for v, count in parts)


def totals(records: Iterable[ReportRecord]) -> dict[str, int]:
    """How many records ended with each verdict, plus `total`.

    Every verdict is there, in `VERDICTS` order, even at 0; a verdict that is
    not one of them (a damaged report) gets a count of its own rather than
    breaking a writer. The one count behind report.json's `totals`, the
    console's totals line, summary.md, report.html and junit.xml.
    """
    counts = dict.fromkeys(VERDICTS, 0)
    total = 0
    for record in records:
        verdict = str(record.get("verdict"))
        counts[verdict] = counts.get(verdict, 0) + 1
        total += 1
    counts["total"] = total
    return counts
