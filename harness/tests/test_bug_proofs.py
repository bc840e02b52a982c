"""The catalogue proves what it cites.

Every bug entry of a scenario that names ``adapter``, ``affected`` and
``fixed`` is a claim: on ``adapter@affected`` the scenario does not pass (the
bug shows), on ``adapter@fixed`` it passes. The proof runs check that claim
with the real harness: one `./wsreplay run` per (adapter, affected, fixed),
both releases, all the scenarios that cite it. The affected release must get
`fail` or `non-strict` (an `error` is the harness's or adapter's trouble and
`informational` never fails, so neither shows the bug); the fixed one `pass`.

All of them take a while (Go, Rust and Java builds), so they run only when
asked: `WSREPLAY_BUG_PROOFS=1 python3 -m pytest -q harness/tests/test_bug_proofs.py`.
Without it a fast subset runs (Python libraries, under a minute once installed).

The cheap checks always run: every entry in a library that has an adapter
carries either adapter+affected+fixed or ``proof`` (why it cannot be
proven), a named adapter exists and its version range admits both releases,
and scenarios/BUGS.md's per-report table is what `./wsreplay bugs` writes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import WSREPLAY
from wsreplay import bugcatalogue

ALL_PROOFS = os.environ.get("WSREPLAY_BUG_PROOFS") == "1"

#: The proof runs in the default test run: Python libraries, quick to
#: install and run. (adapter, affected, fixed); a key no entry uses is ignored.
FAST = {
    ("python-websockets", "14.0", "14.1"),
    ("python-websocket-client", "0.58.0", "0.59.0"),
    ("python-aiohttp", "3.14.3", "3.14.4"),
    ("python-websocket-client", "0.48.0", "0.49.0"),
}

ENTRIES = bugcatalogue.entries()
GROUPS = bugcatalogue.proof_groups(ENTRIES)


def _params() -> list:
    out = []
    for key, group in GROUPS.items():
        adapter, affected, fixed = key
        marks = [pytest.mark.e2e]
        if key not in FAST and not ALL_PROOFS:
            marks.append(
                pytest.mark.skip(reason="a slow proof: set WSREPLAY_BUG_PROOFS=1 to run them all")
            )
        out.append(pytest.param(key, group, id=f"{adapter}@{affected}-{fixed}", marks=marks))
    return out


def test_every_cited_bug_is_proven_or_says_why_not() -> None:
    wrong = bugcatalogue.problems(ENTRIES)
    assert not wrong, "\n".join(wrong)


def test_bugs_md_is_generated_from_the_scenarios() -> None:
    text = bugcatalogue.BUGS_MD.read_text(encoding="utf-8")
    assert bugcatalogue.render(text, ENTRIES) == text, (
        "scenarios/BUGS.md is out of date: run ./wsreplay bugs"
    )


def test_every_report_row_has_a_description() -> None:
    text = bugcatalogue.BUGS_MD.read_text(encoding="utf-8")
    described = bugcatalogue.descriptions(text)
    missing = sorted({e.url for e in ENTRIES} - set(described))
    assert not missing, f"BUGS.md: say what went wrong for {missing}"
    placeholder = [u for u, d in described.items() if d == bugcatalogue._NO_DESCRIPTION]
    assert not placeholder, f"BUGS.md: say what went wrong for {placeholder}"


def test_the_library_table_knows_libraries_with_and_without_adapters() -> None:
    assert bugcatalogue.library_adapters("node ws") == ("node-ws",)
    assert bugcatalogue.library_adapters("websocket-client (Python)") == (
        "python-websocket-client",
    )
    assert bugcatalogue.library_adapters("websocket_client (Erlang)") == ()
    assert bugcatalogue.library_adapters("bun ws shim") == ()
    assert bugcatalogue.library_adapters("tokio-tungstenite") == ()
    assert bugcatalogue.library_adapters("OkHttp") == ("java-okhttp",)


def test_an_incomplete_entry_is_named() -> None:
    scenario = {"name": "close/x", "bugs": [
        {"library": "node ws", "url": "https://github.com/websockets/ws/issues/1"},
        {"library": "node ws", "url": "u2", "adapter": "node-ws", "affected": "8.0.0"},
        {"library": "node ws", "url": "u3", "adapter": "no-such", "affected": "1", "fixed": "2"},
        {"library": "mongoose", "url": "u4"},
    ]}  # fmt: skip
    wrong = bugcatalogue.problems(bugcatalogue.entries([scenario]))
    assert len(wrong) == 3, wrong
    assert "bugs[0]" in wrong[0] and "node-ws" in wrong[0]
    assert "not fixed" in wrong[1]
    assert "'no-such' does not exist" in wrong[2]


@pytest.mark.parametrize(("key", "group"), _params())
def test_scenario_fails_on_the_affected_release_and_passes_on_the_fixed(
    key: tuple[str, str, str], group: list[bugcatalogue.BugEntry], tmp_path: Path
) -> None:
    adapter, affected, fixed = key
    bad, good = f"{adapter}@{affected}", f"{adapter}@{fixed}"
    scenarios = sorted({e.scenario for e in group})
    cmd = [WSREPLAY, "run", "--client", bad, "--client", good]
    for name in scenarios:
        cmd += ["--scenario", name]
    cmd += ["--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    assert (tmp_path / "report.json").exists(), proc.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    cells = {(r["scenario"], r["client"]): r for r in report["results"]}
    wrong = []
    for name in scenarios:
        cites = ", ".join(sorted({e.report for e in group if e.scenario == name}))
        b, g = cells[(name, bad)], cells[(name, good)]
        if b["verdict"] not in bugcatalogue.SHOWS_BUG:
            wrong.append(f"{name} ({cites}): {bad} got {b['verdict']}, not fail: {b['reason']}")
        if g["verdict"] != "pass":
            wrong.append(f"{name} ({cites}): {good} got {g['verdict']}, not pass: {g['reason']}")
    assert not wrong, "\n".join(wrong)


def test_the_bugs_command_lists_the_proof_runs() -> None:
    proc = subprocess.run(
        [WSREPLAY, "bugs", "--proofs"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(bugcatalogue.proof_groups(bugcatalogue.entries()))
    assert any(line.startswith("python-websockets 14.0 -> 14.1: ") for line in lines)
    assert "close/send-then-close" in proc.stdout
