"""Case numbering and the spec file of the Autobahn-compatible mode.

A driver written for Autobahn's fuzzingserver asks for the case count and
then plays `/runCase?case=N` for N = 1..count. For `case=N` to mean what it
means to Autobahn with the same spec, the numbering follows Autobahn's
case selection (autobahntestsuite/caseset.py, read for its semantics):

- `cases`: patterns. One with a `*` is a regular expression in which `.` is
  literal and `*` is `.*`, matched at the *start* of each id (`re.match`: "1.1"
  alone is an id, "1.1*" also takes 1.10 if it existed, "*.1" takes 1.1.1);
  one without a `*` is a case id taken as it is.
- `exclude-cases`: the same patterns, taken away. What is left is sorted
  numerically (2.9 before 2.10) and numbered 1..N.
- `exclude-agent-cases`: {agent pattern: [case patterns]}, both matched whole.
  An excluded case keeps its number; its runCase is closed at once for that
  agent and it gets no report, as in Autobahn.

Every Autobahn client case (docs/autobahn-cases.json, 517 of them) keeps its
slot whether or not a scenario reproduces it: a case no scenario reproduces
is UNIMPLEMENTED. One scenario plays each case: of those naming it in their
`autobahn` field, the one naming the fewest cases (the most specific), then
the first by name.

wsreplay's own scenarios follow the Autobahn cases, in catalogue (name)
order: those no Autobahn slot plays, selected by the spec key
`wsreplay-scenarios` ("default": every scenario not tagged slow; "all";
"none"; or a list of names and globs, where globs choose among the scenarios
not tagged slow and an exact name may name a slow one). Their case id is
`100.K`, K the scenario's 1-based place in the whole catalogue: dotted
numbers like Autobahn's, in a section Autobahn does not use, so consumers
that sort or split ids numerically keep working; the same scenario has the
same id whatever the spec selects.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..autobahn import Case, sort_key
from ..contract import Scenario
from ..scenarios import SLOW_TAG

#: The section of wsreplay's own scenarios' case ids.
WSREPLAY_SECTION = 100
#: Autobahn's fuzzingserver default `url`.
DEFAULT_URL = "ws://127.0.0.1:9001"
#: Spec keys of Autobahn's fuzzingserver that this mode reads.
SPEC_KEYS = ("url", "outdir", "cases", "exclude-cases", "exclude-agent-cases")
#: Autobahn's other fuzzingserver keys: accepted, with a warning that they do nothing here.
IGNORED_KEYS = ("options", "protocols", "webport")
#: Our own keys.
OWN_KEYS = ("wsreplay-scenarios",)
WSREPLAY_CHOICES = ("default", "all", "none")


class SpecError(Exception):
    """A spec file is wrong; the message names the file and the key."""


@dataclass(frozen=True)
class Spec:
    """A fuzzingserver spec, checked, with the defaults filled in."""

    url: str = DEFAULT_URL
    #: where Autobahn's layout goes; None: the spec did not say (the CLI picks)
    outdir: str | None = None
    cases: tuple[str, ...] = ("*",)
    exclude_cases: tuple[str, ...] = ()
    exclude_agent_cases: tuple[tuple[str, tuple[str, ...]], ...] = ()
    wsreplay_scenarios: str | tuple[str, ...] = "default"
    warnings: tuple[str, ...] = ()
    source: str = "(defaults)"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 9001


def _strings(where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{where}: {key!r} must be a list of non-empty strings, not {value!r}")
    return tuple(value)


def parse_spec(data: Any, where: str = "(spec)") -> Spec:
    """A Spec from a decoded spec document; `where` names it in errors."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: a spec is a JSON object, not {type(data).__name__}")
    warnings = []
    for key in data:
        if key in IGNORED_KEYS:
            warnings.append(f"{where}: {key!r} is an Autobahn option wsreplay ignores")
        elif key not in SPEC_KEYS + OWN_KEYS:
            warnings.append(f"{where}: unknown key {key!r} ignored")
    url = data.get("url", DEFAULT_URL)
    if not isinstance(url, str):
        raise SpecError(f"{where}: 'url' must be a string such as {DEFAULT_URL!r}, not {url!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises on a bad port
    except ValueError as exc:
        raise SpecError(f"{where}: 'url' {url!r}: {exc}") from exc
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise SpecError(f"{where}: 'url' must be ws://HOST[:PORT], not {url!r}")
    if parts.scheme == "wss":
        raise SpecError(f"{where}: 'url' {url!r}: wss:// is not served in this mode yet")
    outdir = data.get("outdir")
    if outdir is not None and (not isinstance(outdir, str) or not outdir):
        raise SpecError(f"{where}: 'outdir' must be a non-empty string, not {outdir!r}")
    cases = _strings(where, "cases", data.get("cases", ["*"]))
    exclude = _strings(where, "exclude-cases", data.get("exclude-cases", []))
    agents = data.get("exclude-agent-cases", {})
    if not isinstance(agents, dict):
        raise SpecError(
            f"{where}: 'exclude-agent-cases' must be an object "
            f'{{"agent pattern": ["case pattern", ...]}}, not {agents!r}'
        )
    agent_cases = tuple(
        (agent, _strings(where, f"exclude-agent-cases.{agent}", pats))
        for agent, pats in agents.items()
    )
    own = data.get("wsreplay-scenarios", "default")
    own_value: str | tuple[str, ...]
    if isinstance(own, str):
        if own not in WSREPLAY_CHOICES:
            raise SpecError(
                f"{where}: 'wsreplay-scenarios' must be one of {', '.join(WSREPLAY_CHOICES)} "
                f"or a list of scenario names and globs, not {own!r}"
            )
        own_value = own
    else:
        own_value = _strings(where, "wsreplay-scenarios", own)
    return Spec(url, outdir, cases, exclude, agent_cases, own_value, tuple(warnings), where)


def load_spec(path: Path) -> Spec:
    """The spec in a JSON file; SpecError names the file and what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SpecError(f"{path}: not JSON: {exc}") from exc
    return parse_spec(data, str(path))


# ------------------------------------------------------------------ patterns


def _regex(pattern: str, whole: bool) -> re.Pattern[str]:
    # Autobahn: "." is literal, "*" is ".*"; other characters are taken
    # literally here (Autobahn would hand them to re unescaped).
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(f"^{body}$" if whole else body)


def resolve_patterns(patterns: Iterable[str], known: list[str]) -> list[str]:
    """Autobahn's resolveCasePatternList: ids matched by globs, literal ids as given."""
    out: list[str] = []
    for pattern in patterns:
        if "*" in pattern:
            regex = _regex(pattern, whole=False)
            out.extend(sorted((c for c in known if regex.match(c)), key=sort_key))
        else:
            out.append(pattern)
    return out


def select_case_ids(spec: Spec, known: list[str]) -> list[str]:
    """The Autobahn case ids a spec selects, in numbering order.

    A literal id that is not an Autobahn client case is an error (Autobahn
    fails on it when a driver asks for it; here it fails at the start).
    """
    chosen = resolve_patterns(spec.cases, known)
    excluded = resolve_patterns(spec.exclude_cases, known)
    known_set = set(known)
    for key, ids in (("cases", chosen), ("exclude-cases", excluded)):
        for cid in ids:
            if cid not in known_set:
                raise SpecError(
                    f"{spec.source}: {key!r} names {cid!r}, which is not an Autobahn client case "
                    "(docs/autobahn-cases.json lists them)"
                )
    return sorted(set(chosen) - set(excluded), key=sort_key)


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class CaseEntry:
    """One numbered case: an Autobahn case or one of wsreplay's scenarios."""

    number: int
    id: str
    description: str
    #: the scenario that plays it; None: no scenario reproduces this Autobahn case
    scenario: Scenario | None
    #: an Autobahn case, or one of wsreplay's own scenarios
    autobahn: bool

    @property
    def scenario_name(self) -> str | None:
        return self.scenario["name"] if self.scenario is not None else None


@dataclass
class CaseTable:
    """The numbered cases of one spec, and who may run which."""

    entries: list[CaseEntry]
    spec: Spec = field(default_factory=Spec)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, number: int) -> CaseEntry | None:
        if 1 <= number <= len(self.entries):
            return self.entries[number - 1]
        return None

    def excluded_for(self, entry: CaseEntry, agent: str) -> bool:
        """Autobahn's checkAgentCaseExclude; a wsreplay case also matches by scenario name."""
        for agent_pattern, case_patterns in self.spec.exclude_agent_cases:
            if not _regex(agent_pattern, whole=True).match(agent):
                continue
            for pattern in case_patterns:
                if _regex(pattern, whole=True).match(entry.id):
                    return True
                name = entry.scenario_name
                if not entry.autobahn and name and fnmatch.fnmatchcase(name, pattern):
                    return True
        return False


def choose_scenario(names: list[str], by_name: dict[str, Scenario]) -> Scenario:
    """The one scenario that plays a case several scenarios name: the one
    naming the fewest Autobahn cases, then the first by name."""
    return by_name[min(names, key=lambda n: (len(by_name[n].get("autobahn", [])), n))]


def _own_scenarios(spec: Spec, scenarios: list[Scenario], played: set[str]) -> list[Scenario]:
    rest = [s for s in scenarios if s["name"] not in played]
    choice = spec.wsreplay_scenarios
    if choice == "none":
        return []
    if choice == "all":
        return rest
    fast = [s for s in rest if SLOW_TAG not in s.get("tags", [])]
    if choice == "default":
        return fast
    chosen: set[str] = set()
    for pattern in choice:
        hits = {s["name"] for s in fast if fnmatch.fnmatchcase(s["name"], pattern)}
        hits |= {s["name"] for s in rest if s["name"] == pattern}
        if not hits:
            raise SpecError(
                f"{spec.source}: 'wsreplay-scenarios' pattern {pattern!r} matches no scenario "
                "(outside those that play an Autobahn case; slow ones only by exact name)"
            )
        chosen |= hits
    return [s for s in rest if s["name"] in chosen]


def build_table(spec: Spec, cases: list[Case], scenarios: list[Scenario]) -> CaseTable:
    """Number the cases of `spec`: the Autobahn cases it selects, then wsreplay's own."""
    ordered = sorted(scenarios, key=lambda s: s["name"])
    by_name = {s["name"]: s for s in ordered}
    naming: dict[str, list[str]] = {}
    for s in ordered:
        for cid in s.get("autobahn", []):
            naming.setdefault(cid, []).append(s["name"])
    described = {c.id: c for c in cases}
    entries: list[CaseEntry] = []
    played: set[str] = set()
    for cid in select_case_ids(spec, [c.id for c in cases]):
        names = naming.get(cid, [])
        scenario = choose_scenario(names, by_name) if names else None
        if scenario is not None:
            played.add(scenario["name"])
        entries.append(CaseEntry(len(entries) + 1, cid, described[cid].does, scenario, True))
    place = {s["name"]: i + 1 for i, s in enumerate(ordered)}
    # A scenario that plays an Autobahn slot of this spec is not played twice.
    for s in _own_scenarios(spec, ordered, played):
        cid = f"{WSREPLAY_SECTION}.{place[s['name']]}"
        entries.append(CaseEntry(len(entries) + 1, cid, f"{s['name']}: {s['summary']}", s, False))
    return CaseTable(entries, spec)
