"""`wsreplay compare`: regressions, fixes and other changes between two clients.

Unit tests classify hand-made records and reports; the end-to-end tests
compare real websockets releases: 13.1 -> 14.0 regresses the founding case,
14.0 -> 14.1 fixes it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from wsreplay import compare
from wsreplay.paths import REPO_ROOT

WSREPLAY = str(REPO_ROOT / "wsreplay")
FOUNDING = "close/send-then-close"


def rec(
    scenario: str,
    verdict: str,
    client: str = "lib@1",
    *,
    messages: int = 1,
    close: int | None = 1000,
    error: str | None = "ConnectionClosedOK",
    duration_ms: float = 100.0,
    last_t_ms: float = 50.0,
    runs: int | None = None,
    passes: int | None = None,
    reason: str | None = None,
) -> dict:
    """A report record with the fields compare reads; runs=None: an old report without them."""
    record = {
        "scenario": scenario,
        "client": client,
        "resolved_version": client.partition("@")[2] or None,
        "verdict": verdict,
        "reason": reason or f"{verdict} reason",
        "observed": {
            "messages": [
                {"type": "text", "text": f"m{i}", "t_ms": last_t_ms} for i in range(messages)
            ],
            "close": {"code": close, "reason": ""} if close is not None else None,
            "error": {"type": error} if error else None,
            "end": "closed",
        },
        "timing": {"started": "2026-11-26T09:30:00.000000Z", "duration_ms": duration_ms},
    }
    if runs is not None:
        assert passes is not None
        outcomes = ["pass"] * passes + [verdict if verdict != "pass" else "fail"] * (runs - passes)
        record.update(
            runs=runs,
            passes=passes,
            pass_rate=passes / runs,
            per_run=[{"verdict": v, "reason": "r", "duration_ms": 1.0} for v in outcomes],
        )
    return record


def by_name(*records: dict) -> dict[str, dict]:
    return {r["scenario"]: r for r in records}


# --------------------------------------------------------------- classifying


def test_regressions_fixes_changes_and_unchanged() -> None:
    old = by_name(
        rec("a/lost", "pass"),
        rec("a/fixed", "fail", messages=0),
        rec("a/soft", "pass"),
        rec("a/same", "pass"),
        rec("a/crash", "informational"),
        rec("a/gone", "pass"),
    )
    new = by_name(
        rec("a/lost", "fail", messages=0),
        rec("a/fixed", "pass"),
        rec("a/soft", "non-strict", messages=0),
        rec("a/same", "pass"),
        rec("a/crash", "error"),
        rec("a/new", "pass"),
    )
    result = compare.compare_records(old, new, {"a/lost": "A message is lost."})
    assert [e["scenario"] for e in result["regressions"]] == ["a/lost", "a/crash"]
    assert [e["scenario"] for e in result["fixes"]] == ["a/fixed"]
    # pass -> non-strict is allowed by the RFC: a change, not a regression
    assert [e["scenario"] for e in result["changes"]] == ["a/soft"]
    assert (result["unchanged"], result["unchanged_scenarios"]) == (1, ["a/same"])
    assert (result["only_old"], result["only_new"]) == (["a/gone"], ["a/new"])
    assert result["compared"] == 5
    lost = result["regressions"][0]
    assert lost["summary"] == "A message is lost."
    assert (lost["old"]["reason"], lost["new"]["reason"]) == ("pass reason", "fail reason")
    assert (lost["old"]["shown"], lost["new"]["shown"]) == ("PASS", "FAIL")
    assert {c["what"]: (c["old"], c["new"]) for c in lost["changes"]} == {
        "verdict": ("pass", "fail"),
        "pass_rate": (1.0, 0.0),
        "reason": ("pass reason", "fail reason"),
        "messages_received": (1, 0),
    }


@pytest.mark.parametrize(
    ("kind", "old_kwargs", "new_kwargs", "expected"),
    [
        ("close_code", {}, {"close": 1006}, (1000, 1006)),
        ("close_code", {}, {"close": None}, (1000, None)),
        (
            "error_type",
            {},
            {"error": "ConnectionClosedError"},
            ("ConnectionClosedOK", "ConnectionClosedError"),
        ),
        ("messages_received", {"messages": 100}, {"messages": 96}, (100, 96)),
        ("duration_ms", {}, {"duration_ms": 151.0}, (100.0, 151.0)),
        ("last_message_t_ms", {}, {"last_t_ms": 200.0}, (50.0, 200.0)),
    ],
)
def test_each_kind_of_other_change(kind, old_kwargs, new_kwargs, expected) -> None:
    result = compare.compare_records(
        by_name(rec("s", "fail", **old_kwargs)), by_name(rec("s", "fail", **new_kwargs)), {}
    )
    assert not result["regressions"] and not result["fixes"]
    (entry,) = result["changes"]
    assert [(c["what"], c["old"], c["new"]) for c in entry["changes"]] == [(kind, *expected)]


def test_a_different_transport_is_a_change() -> None:
    wss = dict(rec("s", "pass"), transport="wss")
    result = compare.compare_records(by_name(rec("s", "pass")), by_name(wss), {})
    assert [c["what"] for c in result["changes"][0]["changes"]] == ["transport"]


def test_timing_within_the_tolerance_is_no_change() -> None:
    old = by_name(rec("s", "pass", duration_ms=100.0, last_t_ms=50.0))
    new = by_name(rec("s", "pass", duration_ms=150.0, last_t_ms=99.0))
    assert compare.compare_records(old, new, {})["unchanged"] == 1
    assert compare.compare_records(old, new, {}, tolerance_ms=10)["changes"]
    # no messages on one side: the count changed, not the timing of the last one
    entry = compare.compare_records(old, by_name(rec("s", "fail", messages=0)), {})
    kinds = [c["what"] for c in entry["regressions"][0]["changes"]]
    assert "last_message_t_ms" not in kinds and "messages_received" in kinds


def test_pass_rates_decide_among_failing_pairs() -> None:
    old = by_name(rec("s", "fail", runs=10, passes=7), rec("t", "fail", runs=10, passes=3))
    new = by_name(rec("s", "fail", runs=10, passes=3), rec("t", "fail", runs=10, passes=7))
    result = compare.compare_records(old, new, {})
    (regression,) = result["regressions"]
    (fix,) = result["fixes"]
    assert (regression["scenario"], regression["old"]["shown"], regression["new"]["shown"]) == (
        "s",
        "FAIL 7/10",
        "FAIL 3/10",
    )
    assert fix["scenario"] == "t"
    # a steady pass (old report, no rate fields) against a flaky one
    result = compare.compare_records(
        by_name(rec("s", "pass")), by_name(rec("s", "fail", runs=10, passes=9)), {}
    )
    assert result["regressions"][0]["new"]["pass_rate"] == 0.9


def test_old_reports_without_rates_get_them_derived() -> None:
    assert compare.outcome(rec("s", "non-strict"))["pass_rate"] == 1.0
    assert compare.outcome(rec("s", "error"))["pass_rate"] == 0.0
    error = rec("s", "error")
    error["observed"] = None
    facts = compare.outcome(error)
    assert (facts["messages_received"], facts["close_code"], facts["error_type"]) == (
        None,
        None,
        None,
    )


# --------------------------------------------------------------- sides and reports


def write_report(path: Path, records: list[dict], clients: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    data = {
        "clients": [{"spec": c, "resolved_version": c.partition("@")[2]} for c in clients],
        "scenarios": [
            {"name": r["scenario"], "summary": f"about {r['scenario']}"} for r in records
        ],
        "results": records,
    }
    (path / "report.json").write_text(json.dumps(data))
    return path


def wsreplay(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WSREPLAY, *args], capture_output=True, text=True, timeout=timeout)


def test_two_reports_compare_without_running_anything(tmp_path: Path) -> None:
    old = write_report(
        tmp_path / "old", [rec("s/a", "pass", "lib@1"), rec("s/b", "fail", "lib@1")], ["lib@1"]
    )
    new = write_report(
        tmp_path / "new", [rec("s/a", "fail", "lib@2"), rec("s/b", "pass", "lib@2")], ["lib@2"]
    )
    out = tmp_path / "cmp"
    proc = wsreplay("compare", str(old), str(new / "report.json"), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert "REGRESSIONS (1)\n  s/a  PASS -> FAIL\n      about s/a\n" in proc.stdout
    assert "FIXES (1)\n  s/b  FAIL -> PASS" in proc.stdout
    document = json.loads((out / "compare.json").read_text())
    assert document["schema"] == "wsreplay-compare/1"
    assert (document["old"]["client"], document["new"]["client"]) == ("lib@1", "lib@2")
    assert document["old"]["source"] == "report"
    assert [e["scenario"] for e in document["regressions"]] == ["s/a"]
    markdown = (out / "compare.md").read_text()
    assert "## Regressions (1)" in markdown and "### `s/a`: PASS → FAIL" in markdown
    # --scenario narrows the comparison: no regression left
    proc = wsreplay("compare", str(old), str(new), "--scenario", "s/b", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "REGRESSIONS (0)" in proc.stdout


def test_a_report_with_several_clients_needs_a_pick(tmp_path: Path) -> None:
    both = write_report(
        tmp_path / "both",
        [rec("s/a", "pass", "lib@1"), rec("s/a", "fail", "lib@2")],
        ["lib@1", "lib@2"],
    )
    proc = wsreplay("compare", str(both), str(both), "--out", str(tmp_path / "x"))
    assert proc.returncode == 2
    assert "holds 2 clients; pick one with --old-client: lib@1, lib@2" in proc.stderr
    proc = wsreplay(
        "compare",
        str(both),
        str(both),
        "--old-client",
        "lib@3",
        "--new-client",
        "lib@2",
        "--out",
        str(tmp_path / "x"),
    )
    assert proc.returncode == 2
    assert "--old-client 'lib@3' is not in OLD" in proc.stderr and "lib@1, lib@2" in proc.stderr
    proc = wsreplay(
        "compare",
        str(both),
        str(both),
        "--old-client",
        "lib@1",
        "--new-client",
        "lib@2",
        "--out",
        str(tmp_path / "x"),
    )
    assert proc.returncode == 1, proc.stderr
    assert "s/a  PASS -> FAIL" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["no/such/report.json", "python-websockets@14.0"],
            "OLD 'no/such/report.json' is neither a report",
        ),
        (
            ["python-websockets@14.0", "python-websockets@14.0"],
            "OLD and NEW are the same client spec",
        ),
        (
            ["python-websockets@13.1", "python-websockets@14.0", "--old-client", "x"],
            "--old-client applies only when OLD is a report",
        ),
        (
            ["python-websockets@13.1", "python-websockets@14.0", "--tolerance-ms", "-1"],
            "--tolerance-ms must be 0 or more",
        ),
        (["python-websockets@13.1", "cobol-ws@1"], "known adapters"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = wsreplay("compare", *args, "--out", str(tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "compare.json").exists()


def test_help_explains_compare() -> None:
    proc = wsreplay("compare", "--help", timeout=60)
    for word in ("OLD", "NEW", "--old-client", "--tolerance-ms", "--repeat", "exit status"):
        assert word in proc.stdout


def test_a_folder_without_a_report_is_refused(tmp_path: Path) -> None:
    proc = wsreplay(
        "compare", str(tmp_path), "python-websockets@14.0", "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    assert "the folder holds no report.json" in proc.stderr


# --------------------------------------------------------------- end to end


@pytest.mark.e2e
def test_13_1_to_14_0_is_a_regression_and_14_1_fixes_it(tmp_path: Path) -> None:
    # The founding family rather than the whole catalogue (two clients x 120+
    # scenarios take minutes); `compare 13.1 14.0` with no --scenario is the same code.
    first = tmp_path / "13.1-14.0"
    proc = wsreplay(
        "compare",
        "python-websockets@13.1",
        "python-websockets@14.0",
        "--scenario",
        "close/send-then-*",
        "--out",
        str(first),
    )
    assert proc.returncode == 1, proc.stderr
    assert "5 scenario(s) compared" in proc.stdout
    document = json.loads((first / "compare.json").read_text())
    assert FOUNDING in [e["scenario"] for e in document["regressions"]]
    entry = next(e for e in document["regressions"] if e["scenario"] == FOUNDING)
    assert (entry["old"]["verdict"], entry["new"]["verdict"]) == ("pass", "fail")
    assert "'final message' was not received" in entry["new"]["reason"]
    assert entry["summary"].startswith("A text message and a close frame")
    assert f"  {FOUNDING}  PASS -> FAIL" in proc.stdout
    assert document["old"]["resolved_version"] == "13.1"
    assert document["new"]["resolved_version"] == "14.0"
    # both specs ran in one run, on one server: one report with both clients
    report = json.loads((first / "report.json").read_text())
    assert [c["spec"] for c in report["clients"]] == [
        "python-websockets@13.1",
        "python-websockets@14.0",
    ]
    assert (first / "compare.md").read_text().count(FOUNDING) >= 1

    # the report just written as OLD (picking 14.0 from it), 14.1 run on the spot
    # as NEW, on the scenarios of that report
    second = tmp_path / "14.0-14.1"
    proc = wsreplay(
        "compare",
        str(first),
        "python-websockets@14.1",
        "--old-client",
        "python-websockets@14.0",
        "--out",
        str(second),
    )
    document = json.loads((second / "compare.json").read_text())
    assert document["compared"] == 5
    assert FOUNDING in [e["scenario"] for e in document["fixes"]], proc.stdout
    assert FOUNDING not in [e["scenario"] for e in document["regressions"]]
    assert proc.returncode == (1 if document["regressions"] else 0)
    assert f"  {FOUNDING}  FAIL -> PASS" in proc.stdout
    assert document["old"]["source"] == "report" and document["new"]["source"] == "run"


@pytest.mark.e2e
def test_14_0_to_14_1_lists_the_fix(tmp_path: Path) -> None:
    proc = wsreplay(
        "compare",
        "python-websockets@14.0",
        "python-websockets@14.1",
        "--scenario",
        FOUNDING,
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads((tmp_path / "compare.json").read_text())
    assert [e["scenario"] for e in document["fixes"]] == [FOUNDING]
    assert document["regressions"] == []
    assert "FIXES (1)" in proc.stdout


@pytest.mark.e2e
def test_repeat_applies_to_the_clients_compare_runs(tmp_path: Path) -> None:
    proc = wsreplay(
        "compare",
        "python-websockets@14.0",
        "python-websockets@14.1",
        "--scenarios-dir",
        str(Path(__file__).parent / "data" / "repeat-scenarios"),
        "--scenario",
        "repeat/steady",
        "--repeat",
        "3",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["runs"], r["passes"]) for r in report["results"]] == [(3, 3), (3, 3)]
    document = json.loads((tmp_path / "compare.json").read_text())
    assert document["regressions"] == [] and document["fixes"] == []
    assert document["compared"] == 1


def test_a_side_whose_client_never_ran_is_refused(tmp_path: Path) -> None:
    """An install failure on one side must not pass a CI gate as 'no regression'."""
    run = subprocess.run(
        [str(REPO_ROOT / "wsreplay"), "run", "--client", "python-websockets@14.1",
         "--scenario", "close/send-then-close", "--out", str(tmp_path / "ok")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    broken = json.loads((tmp_path / "ok" / "report.json").read_text())
    broken["clients"][0].update(status="error", error="pip install failed: no network")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text(json.dumps(broken))
    proc = subprocess.run(
        [str(REPO_ROOT / "wsreplay"), "compare", str(tmp_path / "ok"), str(tmp_path / "broken"),
         "--out", str(tmp_path / "cmp")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cannot compare: NEW client python-websockets@14.1 did not run: pip install failed" in (
        proc.stderr
    )
