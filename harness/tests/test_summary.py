"""summary.md: the totals, the matrix as a Markdown table, the pairs that did
not pass with their reasons; escaped, and short for big runs."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from test_junit import HOSTILE, ODD, REAL_CLIENTS, REAL_SCENARIOS, real_run, sample_report
from wsreplay.judging.verdicts import DISPLAY_ORDER
from wsreplay.judging.verdicts import totals as verdict_totals
from wsreplay.outputs import report as rep
from wsreplay.outputs.records import pass_rate_text
from wsreplay.outputs.summary import (
    NOT_RUN,
    SUMMARY_NAME,
    SYMBOLS,
    md,
    render_summary,
    write_summary,
)

# A table row is split at pipes that are not escaped.
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _table(text: str) -> list[list[str]]:
    """The Markdown table's rows (header first, separator dropped) as cell lists."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in _CELL_SPLIT.split(row)[1:-1]] for row in rows]
    assert cells[1] and all(set(c) <= set(":-") for c in cells[1]), "no separator row"
    return [cells[0], *cells[2:]]


def _listed(text: str) -> list[str]:
    """The items of the 'Not passing' list."""
    part = text.split("### Not passing", 1)[1]
    return [line[2:] for line in part.splitlines() if line.startswith("- ")]


def test_sample_report(tmp_path: Path) -> None:
    report = sample_report(finished=True)
    path = write_summary(report, tmp_path)
    assert path == tmp_path / SUMMARY_NAME
    text = path.read_text(encoding="utf-8")
    counts = verdict_totals(report["results"])
    first = text.splitlines()
    assert first[0] == "## wsreplay run sample-run"
    totals = first[2]
    assert totals.startswith(f"**{counts['total']} results**: ")
    for verdict, symbol in SYMBOLS.items():
        assert f"{symbol} {counts[verdict]} {verdict}" in totals

    table = _table(text)
    specs = [c["spec"] for c in report["clients"]]
    assert table[0] == ["scenario", "python-websockets@14.0", "python-websockets@15.0.1"]
    assert len(table) - 1 == len(report["scenarios"])
    assert all(len(row) == 1 + len(specs) for row in table)  # no stray | from odd names
    cells = {(r["scenario"], r["client"]): r for r in report["results"]}
    for row, scenario in zip(table[1:], report["scenarios"], strict=False):
        assert row[0] == md(scenario["name"])
        for spec, cell in zip(specs, row[1:], strict=False):
            record = cells.get((scenario["name"], spec))
            if record is None:
                assert cell == NOT_RUN
                continue
            assert cell.startswith(f"{SYMBOLS[record['verdict']]} {record['verdict']}")
            rate = pass_rate_text(record)
            # a pair whose runs disagree ends with its last share ("pass 7/10")
            assert (
                cell.endswith(f" {rate.split()[-1]}") if rate else cell.endswith(record["verdict"])
            )
    # The repeated pair: each verdict seen with its own share, worst first.
    assert "❌ fail 3/10 · ✅ pass 7/10" in text

    listed = _listed(text)
    not_passing = [r for r in report["results"] if r["verdict"] != "pass"]
    assert len(listed) == len(not_passing)
    order = [item.split(" — ", 1)[0].split()[1] for item in listed]
    assert order == sorted(order, key=DISPLAY_ORDER.index)  # fail, error, ...
    for record in not_passing:
        assert any(
            md(record["scenario"]) in item and md(record["reason"][:100])[:60] in item
            for item in listed
        ), record["scenario"]


def test_hostile_text_is_escaped() -> None:
    report = sample_report()
    record = next(r for r in report["results"] if r["scenario"] == ODD)
    record["reason"] = "line one\nline two | <b>bold</b> *star* `tick` [x](javascript:y)"
    text = render_summary(report)
    assert "<b>" not in text and "<img" not in text and "<script" not in text
    item = next(i for i in _listed(text) if "odd/" in i)
    assert "line one line two \\| &lt;b&gt;bold&lt;/b&gt; \\*star\\* \\`tick\\`" in item
    assert "\\[x\\](javascript:y)" in item  # no link
    assert all(len(row) == 3 for row in _table(text))
    assert md(HOSTILE).count("|") == md(HOSTILE).count("\\|")  # every pipe escaped
    assert md("a\r\nb\tc") == "a b c"


def _big_report(scenarios: int, clients: int, failing_every: int) -> dict:
    """A synthetic run: copies of the sample's records under many names."""
    base = sample_report(finished=True)
    passing = next(r for r in base["results"] if r["verdict"] == "pass")
    failing = next(r for r in base["results"] if r["verdict"] == "fail")
    report = copy.deepcopy(base)
    report["scenarios"] = [
        {"name": f"topic{i % 7}/case-{i:04d}", "summary": "", "rfc": [], "tags": [], "bugs": []}
        for i in range(scenarios)
    ]
    report["clients"] = [
        {**base["clients"][0], "spec": f"lib@{n}.0", "resolved_version": f"{n}.0"}
        for n in range(clients)
    ]
    report["results"] = []
    for i, scenario in enumerate(report["scenarios"]):
        for n, client in enumerate(report["clients"]):
            record = failing if (i * clients + n) % failing_every == 0 else passing
            report["results"].append(
                {
                    **record,
                    "scenario": scenario["name"],
                    "client": client["spec"],
                    "transcript": None,
                }
            )
    report["totals"] = verdict_totals(report["results"])
    return report


def test_big_runs_stay_short() -> None:
    report = _big_report(scenarios=400, clients=6, failing_every=9)
    failing = sum(r["verdict"] == "fail" for r in report["results"])
    text = render_summary(report, max_listed=25, max_rows=50)
    listed = _listed(text)
    assert len(listed) == 25 + 1
    assert listed[-1] == f"… and {failing - 25} more; see report.html or report.json."
    table = _table(text)
    assert len(table) - 1 == 50
    assert all("fail" in " ".join(row[1:]) for row in table[1:])  # all-pass rows went first
    assert "350 more scenario(s) not shown" in text
    assert len(text.encode()) < 20_000  # GitHub allows 1 MiB per step summary
    # a small run shows every row, including all-pass ones
    small = render_summary(_big_report(scenarios=5, clients=2, failing_every=3), max_rows=50)
    assert len(_table(small)) - 1 == 5 and "not shown" not in small


def test_unfinished_and_empty_runs() -> None:
    text = render_summary(sample_report(finished=False))
    assert "**run not finished**" in text
    empty = render_summary(rep.new_report("e", "0.1.0", "0.1.0", []))
    assert "**0 results**" in empty and "|" not in empty and "Not passing" not in empty


@pytest.mark.e2e
def test_real_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    report, out = real_run(tmp_path_factory.mktemp("summary"))
    text = (out / SUMMARY_NAME).read_text(encoding="utf-8")
    counts = verdict_totals(report["results"])
    assert f"**{counts['total']} results**" in text
    table = _table(text)
    assert table[0] == ["scenario", *REAL_CLIENTS]
    assert [row[0] for row in table[1:]] == list(REAL_SCENARIOS)
    cells = {(r["scenario"], r["client"]): r["verdict"] for r in report["results"]}
    for row in table[1:]:
        for spec, cell in zip(REAL_CLIENTS, row[1:], strict=False):
            assert cell.split()[1] == cells[(row[0], spec)]
    not_passing = [r for r in report["results"] if r["verdict"] != "pass"]
    if not_passing:
        assert len(_listed(text)) == len(not_passing)
    else:
        assert "Not passing" not in text
