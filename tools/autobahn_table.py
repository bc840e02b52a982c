"""Writes docs/autobahn.md: Autobahn|Testsuite's 517 client cases and the catalogue.

Reads docs/autobahn-cases.json (every case, hand-written) and the scenarios'
`autobahn` fields as the loader publishes them (build the server first).
`--check` writes nothing and exits 1 if the doc is out of date or the case
list and the catalogue disagree. `--suggest` writes nothing and lists the
Autobahn cases scenarios' summaries mention without naming them in their
`autobahn` field (a person decides which are exact).

    python3 tools/autobahn_table.py [--check | --suggest]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))

from wsreplay import autobahn
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.scenarios import load_all


def main() -> int:
    cases = autobahn.load_cases()
    scenarios = load_all(SCENARIOS_DIR)
    if sys.argv[1:] == ["--suggest"]:
        for name, case_id, words in autobahn.unnamed_mentions(scenarios):
            print(f"{name}: {case_id} ({words!r})")
        return 0
    bad = autobahn.problems(cases, scenarios)
    for problem in bad:
        print(f"autobahn_table: {problem}", file=sys.stderr)
    text = autobahn.render(cases, scenarios)
    if sys.argv[1:] == ["--check"]:
        current = autobahn.TABLE_MD.read_text() if autobahn.TABLE_MD.exists() else ""
        if current != text:
            print("autobahn_table: docs/autobahn.md is out of date", file=sys.stderr)
            return 1
        return 1 if bad else 0
    if bad:
        return 1
    autobahn.TABLE_MD.write_text(text)
    n = autobahn.counts(cases, scenarios)["all"]
    print(
        f"docs/autobahn.md: {n['exact']} exact, {n['other parameters']} other parameters, "
        f"{n['not covered']} not covered, of {n['total']}"
    )
    return 0


sys.exit(main())
