"""The catalogue side by side with Autobahn|Testsuite's 517 client cases.

A scenario names the Autobahn cases it reproduces exactly in its `autobahn`
field (the loader checks the form, publishes the field, and the mapping here
reads the published scenarios, so expanded family members count too).
docs/autobahn-cases.json is the hand-written list of every case: its id,
what Autobahn's fuzzing server does in a few words, and, for a case no
scenario reproduces exactly, the scenarios of the same kind with other
parameters (`other`) or what is missing (`why`). docs/autobahn.md is
rendered from both (tools/autobahn_table.py) and a test keeps it current.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .contract import Scenario
from .paths import REPO_ROOT

CASES_JSON = REPO_ROOT / "docs" / "autobahn-cases.json"
TABLE_MD = REPO_ROOT / "docs" / "autobahn.md"
#: Autobahn's sections 12 and 13 are permessage-deflate.
COMPRESSION_SECTIONS = ("12", "13")


@dataclass(frozen=True)
class Case:
    id: str
    does: str
    other: tuple[str, ...] = ()
    why: str = ""


def sort_key(case_id: str) -> tuple[int, ...]:
    """Numeric order: 2.9 before 2.10, 7.7.9 before 7.7.10."""
    return tuple(int(part) for part in case_id.split("."))


def mapping(scenarios: Iterable[Scenario]) -> dict[str, list[str]]:
    """Case id -> the names of the scenarios naming it, sorted by case id then name."""
    found: dict[str, list[str]] = {}
    for scenario in scenarios:
        for case_id in scenario.get("autobahn", []):
            found.setdefault(case_id, []).append(scenario["name"])
    return {cid: sorted(found[cid]) for cid in sorted(found, key=sort_key)}


def format_mapping(by_case: Mapping[str, list[str]]) -> str:
    """One line per case id: the id, then its scenarios."""
    width = max((len(cid) for cid in by_case), default=0)
    lines = [f"{cid:<{width}}  {', '.join(names)}" for cid, names in by_case.items()]
    scenarios = len({n for names in by_case.values() for n in names})
    lines.append(f"({len(by_case)} Autobahn cases, {scenarios} scenarios)")
    return "\n".join(lines)


def load_cases(path: Path = CASES_JSON) -> list[Case]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return [
        Case(c["id"], c["does"], tuple(c.get("other", ())), c.get("why", "")) for c in raw["cases"]
    ]


def problems(cases: list[Case], scenarios: list[Scenario]) -> list[str]:
    """What makes the case list and the catalogue disagree (empty when they agree)."""
    out = []
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        out.append("a case id is listed twice in the case list")
    if ids != sorted(ids, key=sort_key):
        out.append("the case list is not in numeric order")
    names = {s["name"] for s in scenarios}
    by_case = mapping(scenarios)
    known = set(ids)
    for cid in by_case:
        if cid not in known:
            out.append(
                f"{', '.join(by_case[cid])}: names {cid}, which is not an Autobahn client case"
            )
    for c in cases:
        for name in c.other:
            if name not in names:
                out.append(f"case {c.id}: other names {name!r}, which is not a scenario")
        if c.id not in by_case and not c.other and not c.why:
            out.append(f"case {c.id}: not covered, and no why says what is missing")
    return out


_MENTION = re.compile(r"(\w+\s+)?Autobahn(?:\|Testsuite)?(?:\s+cases?)?\s+(\d+(?:\.\d+){1,2})")


def unnamed_mentions(scenarios: Iterable[Scenario]) -> list[tuple[str, str, str]]:
    """(name, case id, the words around it) for each case a scenario's summary
    mentions but its `autobahn` field does not name: candidates for the field,
    for a person to judge (a summary may mention a case it only resembles)."""
    out = []
    for scenario in scenarios:
        named = set(scenario.get("autobahn", []))
        for m in _MENTION.finditer(scenario["summary"]):
            if m.group(2) not in named:
                out.append((scenario["name"], m.group(2), m.group(0).strip()))
    return out


def _status(case: Case, exact: list[str]) -> tuple[str, str]:
    if exact:
        return "exact", ", ".join(f"`{n}`" for n in exact)
    if case.other:
        names = ", ".join(f"`{n}`" for n in case.other)
        return "other parameters", names + (f"; {case.why}" if case.why else "")
    return "not covered", case.why


def counts(cases: list[Case], scenarios: list[Scenario]) -> dict[str, dict[str, int]]:
    """Per part ("all", "outside-deflate", "deflate"): how many cases per status, and "total"."""
    by_case = mapping(scenarios)
    out = {
        k: {"exact": 0, "other parameters": 0, "not covered": 0, "total": 0}
        for k in ("all", "outside-deflate", "deflate")
    }
    for c in cases:
        status, _ = _status(c, by_case.get(c.id, []))
        part = "deflate" if c.id.split(".")[0] in COMPRESSION_SECTIONS else "outside-deflate"
        for k in ("all", part):
            out[k][status] += 1
            out[k]["total"] += 1
    return out


def render(cases: list[Case], scenarios: list[Scenario]) -> str:
    """docs/autobahn.md."""
    by_case = mapping(scenarios)
    n = counts(cases, scenarios)

    def row(label: str, k: str) -> str:
        c = n[k]
        return (
            f"| {label} | {c['total']} | {c['exact']} | {c['other parameters']} "
            f"| {c['not covered']} | {c['exact'] + c['other parameters']} |"
        )

    lines = [
        "# Autobahn|Testsuite's client cases and the catalogue",
        "",
        "<!-- Generated by tools/autobahn_table.py from docs/autobahn-cases.json and the",
        "     scenarios' `autobahn` fields; edit those, then run the tool. -->",
        "",
        "[Autobahn|Testsuite](https://github.com/crossbario/autobahn-testsuite) tests a",
        "WebSocket client with 517 cases (its fuzzing server's sections 1-10, 12 and 13).",
        "This table lists every one, with what Autobahn's server does in a few words",
        "(our words, read from its case generators), and how the catalogue covers it:",
        "",
        "- **exact**: these scenarios do the same on the wire and expect the same; each",
        '  names the case in its `"autobahn"` field (`./wsreplay scenarios --autobahn`',
        "  lists them);",
        "- **other parameters**: scenarios of the same kind with other sizes, codes,",
        "  byte sequences or ways of cutting the writes;",
        "- **not covered**: what is missing.",
        "",
        "Scenarios usually send a text message before the frame under test and one",
        "after it (so a client that fails late, or not at all, is seen); that alone",
        "does not make a case other than exact. A scenario's severities may be milder",
        "than Autobahn's verdicts where RFC 6455 only recommends what Autobahn requires",
        "([scenarios/README.md](../scenarios/README.md#top-level-fields) says which).",
        "",
        "| cases | total | exact | other parameters | not covered | covered |",
        "| --- | --- | --- | --- | --- | --- |",
        row("all", "all"),
        row("outside permessage-deflate (1-10)", "outside-deflate"),
        row("permessage-deflate (12-13)", "deflate"),
        "",
        "| case | Autobahn's server | status | scenarios / what is missing |",
        "| --- | --- | --- | --- |",
    ]
    for c in cases:
        status, detail = _status(c, by_case.get(c.id, []))
        does = c.does.replace("|", "\\|")
        lines.append(f"| {c.id} | {does} | {status} | {detail.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"
