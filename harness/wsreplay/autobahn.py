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

#: docs/autobahn.md's section on `wsreplay fuzzingserver` (harness/wsreplay/fuzzingserver/).
MODE_SECTION = """\
## Autobahn-compatible mode

`./wsreplay fuzzingserver` answers the URLs of Autobahn's fuzzing server, so a
library's existing Autobahn client driver runs against wsreplay unchanged: it
asks `/getCaseCount`, plays `/runCase?case=N&agent=A` for each case (echoing
every message until the server closes), may ask `/getCaseInfo?case=N` and
`/getCaseStatus?case=N&agent=A`, and ends with `/updateReports?agent=A`.

**The one line to change** in an existing setup is the server's URL: the
driver's URL must point at wsreplay instead of Autobahn. wsreplay listens where
the spec's `url` says (`--port` overrides it), by default on
`ws://127.0.0.1:9001`, Autobahn's own default, so a driver with the usual URL
keeps it and the line that changes is the one starting the server: where CI ran
`wstest -m fuzzingserver -s config/fuzzingserver.json` (or its Docker image),
it runs

```sh
# serve until Ctrl-C
./wsreplay fuzzingserver --spec config/fuzzingserver.json
# run the driver, write the reports, exit 1 on a failure
./wsreplay fuzzingserver --spec config/fuzzingserver.json -- ./run-my-driver
```

With a driver command after `--`, the mode runs it (its output goes to
`DIR/driver.log`; the URL is also in `$WSREPLAY_AUTOBAHN_URL`), waits at
most `--timeout` seconds, writes the reports and exits 0 when every case played
passed, 1 when a case FAILED, the driver exited non-zero or timed out, or no
case ran, 2 for a bad spec: an exit status CI can gate on, which Autobahn never
had. Without one, it serves until SIGINT/SIGTERM.

Three real drivers, written as library repositories write theirs, live in
`harness/autobahn-drivers/` (python-websockets, node ws, Go gorilla); their
README shows how to run each, and `python3 -m wsreplay.fuzzingserver.drivers
crosscheck DRIVER` compares a driver's verdicts with its library's adapter,
scenario by scenario.

**The spec file** takes Autobahn's keys: `url`, `outdir` (where Autobahn's
layout goes; default `DIR/autobahn`), `cases`, `exclude-cases` and
`exclude-agent-cases` (`options`, `protocols` and `webport` are accepted and
ignored with a warning, other keys warned about; a bad value is an error that
names the file and the key). Ours: `"wsreplay-scenarios"`, see below.

**Case numbering** is Autobahn's for the same spec, so `case=N` means what it
means to Autobahn: the cases `cases` selects minus `exclude-cases` (a pattern
with `*` is matched at the start of the id with `.` literal and `*` any run of
characters, e.g. `"9.*"`, `"12.*"`; one without is an id), in numeric order
(2.9 before 2.10), numbered from 1. `exclude-agent-cases`
(`{"agent pattern": ["case pattern", ...]}`) keeps the numbers: such a runCase
is closed at once (the opening handshake, then a close 1000, as Autobahn
answers it; wsreplay plays `close/code-only` for it) and gets no report. Every
Autobahn case keeps its slot whether or not a scenario reproduces it: a case no
scenario reproduces (the table below says which) is closed at once the same way
and is **UNIMPLEMENTED**. One
scenario plays each case: the one naming it in its `autobahn` field; of
several, the one that names the fewest cases, then the first by name.
wsreplay's own scenarios follow the Autobahn cases, in catalogue order:
`"wsreplay-scenarios": "default"` (those not tagged slow), `"all"`, `"none"`,
or a list of names and globs (globs among those not tagged slow; an exact name
may name a slow one); a scenario that plays an Autobahn slot is not played
again. Their case id is `100.K`, K the scenario's place in the whole catalogue
(by name): dotted numbers like Autobahn's in a section Autobahn does not use,
so consumers that split or sort ids numerically keep working; the case's
description starts with the scenario's name.

**What the mode can judge.** The only observer is the server: what the client
echoed, its pongs, its close frame and code, who closed TCP and when, and every
byte it sent against RFC 6455's client rules (as in every run). A scenario
whose expectations need the application's view (its read timing, the close
code its library reported, an exception it raised) is judged only where an
echo-mode expectation translates it (derived, or declared by the scenario's
`echo_mode`), and otherwise skipped: its runCase is closed at once, and it is
listed with the reason, UNIMPLEMENTED in Autobahn's layout and `informational`
in wsreplay's report, never judged wrongly (`./wsreplay scenarios show NAME`
prints a scenario's echo plan). A driver whose library offers
permessage-deflate where the scenario needs it off, or not the offer it needs
(gorilla's default dialer offers none; Autobahn 13.2-13.6 need particular
parameters), gets UNIMPLEMENTED for that case, as Autobahn reports its deflate
cases for a client whose offer it cannot take (`informational` in wsreplay's
report, the reason naming the offer): the driver chose the offer, not the library.

**Reports, in both forms**, on every updateReports, and at the end whatever
happens (the driver exits, crashes, hangs past `--timeout`, never calls
updateReports, or the mode gets SIGINT/SIGTERM): a verdict for every case an
agent started, each file written atomically.

- Autobahn's layout in `outdir`: `index.json`, `{agent: {case id: {behavior,
  behaviorClose, duration, remoteCloseCode, reportfile}}}`, and one
  `<agent>_case_<id with . as _>.json` per case with Autobahn's fields (the
  agent lower-cased, other characters as `_`, as Autobahn names them).
  `behavior` is OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED or FAILED
  (wsreplay's `error` is FAILED). The fields come from the server's
  transcript: `behaviorClose` OK when the close handshake went both ways, else
  UNCLEAN (FAILED with no session); `closedByMe`, `droppedByMe`, `wasClean`,
  `local/remoteCloseCode` and `Reason`, `received` (the client's messages and
  pongs), `rxFrameStats`, `txFrameStats`, `txOctetStats` (per write),
  `wirelog` (`RF`/`TF` frames, `TO` writes), `httpRequest` (the client's
  request as its headers arrived). `expected` holds the wire expectations the
  case was judged by (the echo plan, wsreplay's form), `expectation` says
  where they came from and what of the scenario they leave out, `result` is
  the verdict's reason, `resultClose` how the session ended. Null where the
  transcript cannot tell: `httpResponse`, `rxOctetStats`, `expectedClose`,
  `trafficStats`, and the closing fields of a case that never reached the
  server. `failedByMe` is false (the server plays
  its steps, it never fails a connection by itself); `isServer` true.
- wsreplay's own in `DIR` (`--out`, default `results/<time>-fuzzingserver`):
  report.json, junit.xml, summary.md and report.html
  ([results/README.md](../results/README.md)), each agent a client (adapter
  `autobahn-driver`), each scenario case a record; the UNIMPLEMENTED Autobahn
  cases have no scenario and appear only in Autobahn's layout.

`getCaseStatus` waits for the case's verdict (bounded by the scenario's
deadline) and answers its behaviour word; for a case the agent never started it
answers `MISSING` after a while (Autobahn would wait for ever).

## The cases
"""


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
        MODE_SECTION,
        "| case | Autobahn's server | status | scenarios / what is missing |",
        "| --- | --- | --- | --- |",
    ]
    for c in cases:
        status, detail = _status(c, by_case.get(c.id, []))
        does = c.does.replace("|", "\\|")
        lines.append(f"| {c.id} | {does} | {status} | {detail.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"
