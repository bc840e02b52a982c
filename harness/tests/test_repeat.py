"""--repeat N: N runs of a pair, one record with the worst verdict and the pass rate.

Unit tests combine hand-made single-run records (judged by the real
evaluate()); the end-to-end tests run real websockets releases, and one
scenario whose server waits a random 0-300 ms against a client that waits
150 ms, so its pass rate is a fraction.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from conftest import wsreplay
from wsreplay.judging.evaluate import evaluate
from wsreplay.outputs import matrix
from wsreplay.outputs import report as rep
from wsreplay.paths import REPORT_SCHEMA

REPEAT_SCENARIOS = Path(__file__).parent / "data" / "repeat-scenarios"
FOUNDING = "close/send-then-close"

SCENARIO = {
    "name": "close/send-then-close",
    "summary": "A text message and a close frame leave in one TCP write.",
    "rfc": ["6455#5.5.1"],
    "client": {"recv_delay_ms": 100},
    "steps": [],
    "expect": {"messages": [{"text": "final message"}], "close": {"code": 1000, "reason": "bye"}},
}


def observation(messages: list[str]) -> dict:
    return {
        "id": "1",
        "connected": True,
        "messages": [
            {"type": "text", "length": len(m), "text": m, "t_ms": 101.0} for m in messages
        ],
        "close": {"code": 1000, "reason": "bye"},
        "end": "closed",
        "error": {"type": "websockets.exceptions.ConnectionClosedOK", "message": "bye"},
        "events": [],
    }


def single(outcome: str, duration_ms: float = 100.0) -> dict:
    """One real single-run record: "pass", "fail" (message lost) or "error"."""
    if outcome == "error":
        verdict = evaluate(SCENARIO, None, None, "adapter x did not answer within 9 s (hung)")
        obs = None
    else:
        obs = observation(["final message"] if outcome == "pass" else [])
        verdict = evaluate(SCENARIO, obs, None)
    assert verdict.verdict == outcome
    return rep.make_record(
        SCENARIO,
        "python-websockets@14.0",
        "14.0",
        verdict,
        obs,
        None,
        rep.utc_now(),
        duration_ms,
        "",
    )


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def report_with(records: list[dict]) -> dict:
    report = rep.new_report("r1", "0.1.0", "0.1.0", ["wsreplay"])
    rep.add_client(report, {"spec": "python-websockets@14.0", "resolved_version": "14.0"})
    rep.add_scenario(report, SCENARIO)
    for record in records:
        rep.add_result(report, record)
    return rep.finish(report)


# --------------------------------------------------------------- combining


def test_a_single_run_carries_the_repeat_fields(validator) -> None:
    for outcome, passes in (("pass", 1), ("fail", 0), ("error", 0)):
        record = single(outcome)
        assert (record["runs"], record["passes"], record["pass_rate"]) == (
            1,
            passes,
            float(passes),
        )
        assert record["evidence_run"] == 1
        assert record["per_run"] == [
            {"verdict": outcome, "reason": record["reason"], "duration_ms": 100.0}
        ]
        assert rep.combine_runs([record]) == record
    validator.validate(report_with([single("pass"), single("error")]))


def test_mixed_runs_give_the_worst_verdict_the_rate_and_the_first_failing_evidence(
    validator,
) -> None:
    outcomes = ["pass", "pass", "fail", "pass", "fail", "pass", "pass", "fail", "pass", "pass"]
    runs = [single(o, duration_ms=100.0 + i) for i, o in enumerate(outcomes)]
    record = rep.combine_runs(runs)
    assert record["verdict"] == "fail"
    assert (record["runs"], record["passes"], record["pass_rate"]) == (10, 7, 0.7)
    assert record["evidence_run"] == 3  # the first failing run
    assert record["timing"] == runs[2]["timing"]
    assert record["observed"] == runs[2]["observed"]
    assert record["checks"] == runs[2]["checks"]
    assert record["reason"] == runs[2]["reason"] + " (failed in 3 of 10 runs)"
    assert [r["verdict"] for r in record["per_run"]] == outcomes
    assert [r["duration_ms"] for r in record["per_run"]] == [100.0 + i for i in range(10)]
    assert matrix.cell_text(record) == "FAIL 3/10 PASS 7/10"
    validator.validate(report_with([record]))


def test_error_outranks_fail_and_the_reason_counts_both() -> None:
    record = rep.combine_runs([single("fail"), single("error"), single("pass"), single("fail")])
    assert record["verdict"] == "error"
    assert record["evidence_run"] == 2
    assert record["observed"] is None
    assert record["reason"].endswith("(failed in 2, an error in 1 of 4 runs)")
    assert (record["passes"], record["pass_rate"]) == (1, 0.25)
    assert matrix.cell_text(record) == "ERROR 1/4 FAIL 2/4 PASS 1/4"


def test_steady_runs_show_the_word_alone() -> None:
    record = rep.combine_runs([single("pass") for _ in range(5)])
    assert (record["verdict"], record["passes"], record["pass_rate"]) == ("pass", 5, 1.0)
    assert record["evidence_run"] == 1
    assert record["reason"].endswith("(passed in all 5 runs)")
    assert matrix.cell_text(record) == "PASS"
    failing = rep.combine_runs([single("fail") for _ in range(3)])
    assert failing["reason"].endswith("(failed in all 3 runs)")
    assert matrix.cell_text(failing) == "FAIL"


def test_non_strict_runs_count_as_passes() -> None:
    lenient = dict(SCENARIO, name="x/lenient", severity="non-strict")
    obs = observation([])
    verdict = evaluate(lenient, obs, None)
    assert verdict.verdict == "non-strict"
    soft = rep.make_record(lenient, "c", "1", verdict, obs, None, rep.utc_now(), 1.0, None)
    assert (soft["passes"], soft["pass_rate"]) == (1, 1.0)
    record = rep.combine_runs([single("pass"), soft, single("pass")])
    assert record["verdict"] == "non-strict"
    assert (record["passes"], record["pass_rate"]) == (3, 1.0)
    assert record["reason"].endswith("(non-strict in 1 of 3 runs)")
    # The pass rate stays 3/3 (non-strict does not fail a run), but the cell
    # must not say 3/3: each verdict seen is counted apart.
    assert matrix.cell_text(record) == "NON-STRICT 1/3 PASS 2/3"
    assert "3/3" not in matrix.cell_text(record)
    out = io.StringIO()
    matrix.Progress(1, out, scenario_width=10, client_width=5, runs=3).add(
        dict(record, scenario="x/lenient", client="c")
    )
    assert "NON-STRICT 1/3 PASS 2/3" in out.getvalue() and "3/3" not in out.getvalue()
    text = matrix.render_matrix({"finished": "x", "results": [dict(record, client="c")]})
    assert "NON-STRICT 1/3 PASS 2/3" in text and "3/3" not in text


def test_combine_refuses_nothing_and_combined_records() -> None:
    with pytest.raises(ValueError):
        rep.combine_runs([])
    twice = rep.combine_runs([single("pass"), single("pass")])
    with pytest.raises(ValueError):
        rep.combine_runs([twice, single("pass")])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("runs", 0),
        ("passes", -1),
        ("pass_rate", 1.5),
        ("pass_rate", "0.7"),
        ("per_run", []),
        ("per_run", [{"verdict": "passed", "reason": "r", "duration_ms": 1}]),
        ("per_run", [{"verdict": "pass", "reason": "r"}]),
        ("evidence_run", 0),
    ],
)
def test_schema_holds_the_repeat_fields(validator, field: str, value) -> None:
    report = report_with([rep.combine_runs([single("pass"), single("fail")])])
    validator.validate(report)
    report["results"][0][field] = value
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(report)
    del report["results"][0][field]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(report)


# --------------------------------------------------------------- console


def test_progress_and_matrix_show_mixed_results_as_a_fraction() -> None:
    mixed = rep.combine_runs([single("pass")] * 7 + [single("fail")] * 3)
    steady = rep.combine_runs([single("pass")] * 10)
    out = io.StringIO()
    progress = matrix.Progress(2, out, scenario_width=21, client_width=22, runs=10)
    progress.add(mixed)
    progress.add(steady)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        "[1/2] close/send-then-close  python-websockets@14.0  FAIL 3/10 PASS 7/10  "
    )
    assert lines[1].startswith(
        "[2/2] close/send-then-close  python-websockets@14.0  PASS                 "
    )
    assert lines[0].index("the message") == lines[1].index("received")  # aligned
    data = {
        "finished": "2026-11-26T09:31:00.000000Z",
        "clients": [{"spec": "a@1", "resolved_version": "1"}, {"spec": "b@2"}],
        "scenarios": [{"name": "s/one"}],
        "results": [
            dict(mixed, scenario="s/one", client="a@1"),
            dict(steady, scenario="s/one", client="b@2"),
        ],
    }
    text = matrix.render_matrix(data)
    assert text.splitlines()[1] == "s/one     FAIL 3/10 PASS 7/10  PASS"
    assert text.splitlines()[2].endswith("; 20 runs in all, 1 pair(s) with mixed outcomes")


# --------------------------------------------------------------- end to end


@pytest.mark.e2e
def test_repeat_runs_the_founding_case_n_times_into_one_record(tmp_path: Path) -> None:
    proc = wsreplay(
        "run",
        "--client",
        "python-websockets@13.1",
        "--client",
        "python-websockets@14.0",
        "--scenario",
        FOUNDING,
        "--repeat",
        "3",
        "--out",
        str(tmp_path),
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    assert len(report["results"]) == 2  # one record per pair, not per run
    by_client = {r["client"]: r for r in report["results"]}
    good, bad = by_client["python-websockets@13.1"], by_client["python-websockets@14.0"]
    assert (good["verdict"], good["runs"], good["passes"], good["pass_rate"]) == ("pass", 3, 3, 1.0)
    assert (bad["verdict"], bad["runs"], bad["passes"], bad["pass_rate"]) == ("fail", 3, 0, 0.0)
    assert [r["verdict"] for r in bad["per_run"]] == ["fail"] * 3
    assert bad["reason"].endswith("(failed in all 3 runs)")
    # a fresh connection and a run tag per run: one transcript file each ...
    transcripts = sorted(p.name for p in (tmp_path / "transcripts").glob("*.json"))
    assert len(transcripts) == 6, transcripts
    # ... but the record keeps the evidence of one run only
    assert bad["evidence_run"] == 1
    assert bad["transcript"]["run"].endswith("-r1")
    assert "3 runs each" in proc.stderr


@pytest.mark.e2e
def test_a_random_delay_gives_a_fractional_pass_rate(tmp_path: Path) -> None:
    # The server has had jitter_ms for a while: a `check` that refuses it now
    # is a regression to report, not a reason to skip.
    check = wsreplay("check", str(REPEAT_SCENARIOS / "repeat" / "jitter.json"), timeout=300)
    assert check.returncode == 0, f"check refused jitter_ms: {(check.stdout + check.stderr)[-300:]}"
    # About half the runs time out, so all ten alike happens once in ~500
    # tries; a second attempt makes a false failure ~1 in 250000.
    for attempt in (1, 2):
        out = tmp_path / f"attempt{attempt}"
        proc = wsreplay(
            "run",
            "--scenarios-dir",
            str(REPEAT_SCENARIOS),
            "--client",
            "python-websockets@14.1",
            "--repeat",
            "10",
            "--out",
            str(out),
        )
        report = json.loads((out / "report.json").read_text())
        jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
        by_name = {r["scenario"]: r for r in report["results"]}
        jitter, steady = by_name["repeat/jitter"], by_name["repeat/steady"]
        assert (steady["verdict"], steady["passes"], steady["runs"]) == ("pass", 10, 10)
        assert jitter["runs"] == 10 and len(jitter["per_run"]) == 10
        if 0 < jitter["passes"] < 10:
            break
    else:
        pytest.fail(f"repeat/jitter passed {jitter['passes']} of 10 runs twice: not random")
    print(f"repeat/jitter: {jitter['passes']}/10 passed, pass_rate {jitter['pass_rate']}")
    assert proc.returncode == 1  # one failing run is a failing pair
    assert jitter["verdict"] == "fail"
    assert jitter["pass_rate"] == jitter["passes"] / 10
    shown = f"FAIL {10 - jitter['passes']}/10 PASS {jitter['passes']}/10"
    assert shown in proc.stdout  # the matrix
    assert shown in proc.stderr  # the progress line
    assert f"failed in {10 - jitter['passes']} of 10 runs" in jitter["reason"]
    assert "timed out after 150 ms" in jitter["reason"]
    first_fail = [r["verdict"] for r in jitter["per_run"]].index("fail") + 1
    assert jitter["evidence_run"] == first_fail
    assert jitter["observed"]["end"] == "timeout"
