"""`wsreplay compare`: regressions (by level), fixes, other changes and timing
between two clients.

Unit tests classify hand-made records and reports and normalize hand-made
reasons; the end-to-end tests compare real websockets releases: 13.1 -> 14.0
regresses the founding case (to fail), 14.0 -> 14.1 fixes it, and a real
pass -> non-strict change is a regression that exits 1 unless ignored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import wsreplay
from wsreplay.comparing import compare

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
    regressions = result["regressions"]
    assert [e["scenario"] for e in regressions["fail"]] == ["a/lost", "a/crash"]
    # pass -> non-strict is a change for the worse too: listed apart from the fails
    assert [e["scenario"] for e in regressions["non-strict"]] == ["a/soft"]
    assert regressions["informational"] == []
    assert [e["level"] for e in regressions["fail"] + regressions["non-strict"]] == [
        "fail",
        "fail",
        "non-strict",
    ]
    assert [(e["scenario"], e["level"]) for e in result["fixes"]] == [("a/fixed", "fail")]
    assert result["changes"] == []
    assert (result["unchanged"], result["unchanged_scenarios"]) == (1, ["a/same"])
    assert (result["only_old"], result["only_new"]) == (["a/gone"], ["a/new"])
    assert result["compared"] == 5
    lost = regressions["fail"][0]
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
        (
            "reason",
            {"reason": "the message was lost"},
            {"reason": "the message was cut"},
            ("the message was lost", "the message was cut"),
        ),
    ],
)
def test_each_kind_of_other_change(kind, old_kwargs, new_kwargs, expected) -> None:
    result = compare.compare_records(
        by_name(rec("s", "fail", **old_kwargs)), by_name(rec("s", "fail", **new_kwargs)), {}
    )
    assert not compare.all_regressions(result) and not result["fixes"]
    (entry,) = result["changes"]
    assert [(c["what"], c["old"], c["new"]) for c in entry["changes"]] == [(kind, *expected)]
    assert result["timing"] == []


@pytest.mark.parametrize(
    ("kind", "old_kwargs", "new_kwargs", "expected"),
    [
        ("duration_ms", {}, {"duration_ms": 151.0}, (100.0, 151.0)),
        ("last_message_t_ms", {}, {"last_t_ms": 200.0}, (50.0, 200.0)),
    ],
)
def test_timing_is_listed_apart_and_is_no_behaviour_change(
    kind, old_kwargs, new_kwargs, expected
) -> None:
    result = compare.compare_records(
        by_name(rec("s", "fail", **old_kwargs)), by_name(rec("s", "fail", **new_kwargs)), {}
    )
    assert result["changes"] == [] and result["unchanged"] == 1
    (entry,) = result["timing"]
    assert entry["scenario"] == "s" and (entry["old_shown"], entry["new_shown"]) == ("FAIL",) * 2
    assert [(c["what"], c["old"], c["new"]) for c in entry["changes"]] == [(kind, *expected)]


def test_a_verdict_change_stands_out_from_timing() -> None:
    """A regression with a 2 s timing jump: the regression lists behaviour only,
    the timing goes to its own section."""
    old = by_name(rec("s", "pass", duration_ms=100.0), rec("t", "pass", duration_ms=100.0))
    new = by_name(rec("s", "non-strict", duration_ms=2100.0), rec("t", "pass", duration_ms=2300.0))
    result = compare.compare_records(old, new, {})
    (entry,) = result["regressions"]["non-strict"]
    assert [c["what"] for c in entry["changes"]] == ["verdict", "reason"]
    assert [e["scenario"] for e in result["timing"]] == ["s", "t"]
    assert result["unchanged_scenarios"] == ["t"] and result["changes"] == []
    document = {
        "old": {"source": "run", "arg": "a", "client": "lib@1", "resolved_version": "1"},
        "new": {"source": "run", "arg": "b", "client": "lib@2", "resolved_version": "2"},
        "tolerance_ms": 50.0,
        "ignored": [],
        "counted_levels": ["fail", "non-strict"],
        **result,
    }
    text = compare.render_text(document)
    regression_part, timing_part = text.split("TIMING, beyond 50 ms", 1)
    assert "2100" not in regression_part and "job duration (ms) 100 -> 2100" in timing_part
    assert "REGRESSIONS: NON-STRICT (1)\n  s  PASS -> NON-STRICT" in regression_part


def test_a_different_transport_is_a_change() -> None:
    wss = dict(rec("s", "pass"), transport="wss")
    result = compare.compare_records(by_name(rec("s", "pass")), by_name(wss), {})
    assert [c["what"] for c in result["changes"][0]["changes"]] == ["transport"]


def test_timing_within_the_tolerance_is_no_change() -> None:
    old = by_name(rec("s", "pass", duration_ms=100.0, last_t_ms=50.0))
    new = by_name(rec("s", "pass", duration_ms=150.0, last_t_ms=99.0))
    assert compare.compare_records(old, new, {})["timing"] == []
    assert compare.compare_records(old, new, {}, tolerance_ms=10)["timing"]
    assert compare.compare_records(old, new, {}, tolerance_ms=10)["unchanged"] == 1
    # no messages on one side: the count changed, not the timing of the last one
    entry = compare.compare_records(old, by_name(rec("s", "fail", messages=0)), {})
    kinds = [c["what"] for c in entry["regressions"]["fail"][0]["changes"]]
    assert "messages_received" in kinds and entry["timing"] == []


def test_pass_rates_decide_among_failing_pairs() -> None:
    old = by_name(rec("s", "fail", runs=10, passes=7), rec("t", "fail", runs=10, passes=3))
    new = by_name(rec("s", "fail", runs=10, passes=3), rec("t", "fail", runs=10, passes=7))
    result = compare.compare_records(old, new, {})
    (regression,) = result["regressions"]["fail"]
    (fix,) = result["fixes"]
    assert (regression["scenario"], regression["old"]["shown"], regression["new"]["shown"]) == (
        "s",
        "FAIL 3/10 PASS 7/10",
        "FAIL 7/10 PASS 3/10",
    )
    assert fix["scenario"] == "t"
    # a steady pass (old report, no rate fields) against a flaky one
    result = compare.compare_records(
        by_name(rec("s", "pass")), by_name(rec("s", "fail", runs=10, passes=9)), {}
    )
    assert result["regressions"]["fail"][0]["new"]["pass_rate"] == 0.9


def test_non_strict_runs_count_even_when_the_pass_rate_does_not_move() -> None:
    """pass 3/3 -> non-strict in 1 of 3: the pass rate stays 1.0, yet a run got
    worse: a regression at non-strict, shown so that no `3/3` hides it."""
    old = by_name(rec("s", "pass", runs=3, passes=3))
    new = by_name(rec("s", "non-strict", runs=3, passes=3))
    new["s"]["per_run"][0]["verdict"] = "non-strict"
    result = compare.compare_records(old, new, {})
    (entry,) = result["regressions"]["non-strict"]
    assert (entry["old"]["pass_rate"], entry["new"]["pass_rate"]) == (1.0, 1.0)
    assert (entry["old"]["shown"], entry["new"]["shown"]) == ("PASS", "NON-STRICT 1/3 PASS 2/3")
    assert entry["new"]["run_verdicts"] == {"non-strict": 1, "pass": 2}


@pytest.mark.parametrize(
    ("old_verdict", "new_verdict", "kind", "level"),
    [
        ("pass", "non-strict", "regression", "non-strict"),
        ("pass", "informational", "regression", "informational"),
        ("informational", "non-strict", "regression", "non-strict"),
        ("non-strict", "fail", "regression", "fail"),
        ("pass", "error", "regression", "fail"),
        ("fail", "non-strict", "fix", "fail"),  # fewer fails decides, not the softer rest
        ("non-strict", "pass", "fix", "non-strict"),
        ("non-strict", "informational", "fix", "non-strict"),
        ("fail", "error", None, None),  # the same level: an other change
    ],
)
def test_levels_decide_most_severe_first(old_verdict, new_verdict, kind, level) -> None:
    assert compare.classify(
        compare.outcome(rec("s", old_verdict)), compare.outcome(rec("s", new_verdict))
    ) == (kind, level)


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


# --------------------------------------------------------------- normalizing

#: (one run's text, another run's text): the same behaviour, different noise.
SAME_AFTER_NORMALIZING = [
    (
        "recv() raised ConnectionClosedError: <Conn object at 0x7f3a2c1b9e50>",
        "recv() raised ConnectionClosedError: <Conn object at 0x7f12aa0c4410>",
    ),
    ("connect to 127.0.0.1:41234 refused", "connect to 127.0.0.1:5555 refused"),
    ("dial tcp [::1]:41234: connection reset", "dial tcp [::1]:39001: connection reset"),
    ("http://localhost:41234/x failed", "http://localhost:80/x failed"),
    ("listening on port 41234", "listening on port 5555"),
    (
        "wrote /tmp/pytest-of-root/pytest-7/test_x0/out.json",
        "wrote /tmp/tmpab12cd/out.json",
    ),
    (
        "GET ws://127.0.0.1:41234/close/x?run=20261126-092301-5e1a-lib_1-0 failed",
        "GET ws://127.0.0.1:40000/close/x?run=20261207-124731-c0de-lib_2-3-r2 failed",
    ),
    ("frame masked with 37 fa 21 3d", "frame masked with 0a 11 9c e4"),
    ("key dGhlIHNhbXBsZSBub25jZQ== sent", "key x3JJHMbDL1EzLkh9GBhXDw== sent"),
    (
        "accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo= expected",
        "accept HSmrc0sMlYUkAGmm5OPpG2HaGWk= expected",
    ),
    (
        "org.java_websocket.WebSocketImpl@1b2c3d4f closed",
        "org.java_websocket.WebSocketImpl@6e8cf4c6 closed",
    ),
    ("session 3f2a9c81d0e4 ended", "session 9a0b1c2d3e4f ended"),
    ("id 123e4567-e89b-12d3-a456-426614174000", "id 00112233-4455-6677-8899-aabbccddeeff"),
    ("timed out after 9503 ms", "timed out after 9871 ms"),
    ("no answer within 2.5 s", "no answer within 2.61 s"),
    ("pid 4242 exited", "pid 4343 exited"),
]
#: Texts that must still differ: what they say differs, not only their noise.
DIFFERENT_AFTER_NORMALIZING = [
    ("close 1000 'bye'", "close 1006 ''"),
    ("received 16777216 bytes", "received 16777215 bytes"),  # a count is not an id
    ("the message 'final message' was not received", "received the 1 expected message"),
    ("ConnectionClosedOK", "ConnectionClosedError"),
    ("received 2 messages", "received 3 messages"),
]


@pytest.mark.parametrize(("one", "other"), SAME_AFTER_NORMALIZING)
def test_normalize_masks_what_changes_on_every_run(one: str, other: str) -> None:
    assert one != other
    assert compare.normalize(one) == compare.normalize(other)


@pytest.mark.parametrize(("one", "other"), DIFFERENT_AFTER_NORMALIZING)
def test_normalize_keeps_what_matters(one: str, other: str) -> None:
    assert compare.normalize(one) != compare.normalize(other)


def test_noise_in_reasons_and_error_messages_is_no_change() -> None:
    old_record = rec("s", "fail", reason="lost; recv() raised at 0x7f3a2c1b9e50 after 2051 ms")
    new_record = rec("s", "fail", reason="lost; recv() raised at 0x7f0000aa0010 after 13 ms")
    old_record["observed"]["error"]["message"] = "reset by 127.0.0.1:41234"
    new_record["observed"]["error"]["message"] = "reset by 127.0.0.1:39999"
    result = compare.compare_records(by_name(old_record), by_name(new_record), {})
    assert result["unchanged"] == 1 and result["changes"] == []
    # a real change in the message is still one, and shows the texts as they were
    new_record["observed"]["error"]["message"] = "refused by 127.0.0.1:39999"
    result = compare.compare_records(by_name(old_record), by_name(new_record), {})
    (entry,) = result["changes"]
    assert entry["changes"] == [
        {
            "what": "error_message",
            "old": "reset by 127.0.0.1:41234",
            "new": "refused by 127.0.0.1:39999",
        }
    ]


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
    assert "REGRESSIONS: FAIL (1)\n  s/a  PASS -> FAIL\n      about s/a\n" in proc.stdout
    assert "REGRESSIONS: NON-STRICT (0)" in proc.stdout
    assert "FIXES (1)\n  s/b  FAIL -> PASS" in proc.stdout
    document = json.loads((out / "compare.json").read_text())
    assert document["schema"] == "wsreplay-compare/2"
    assert (document["old"]["client"], document["new"]["client"]) == ("lib@1", "lib@2")
    assert document["old"]["source"] == "report"
    assert [e["scenario"] for e in document["regressions"]["fail"]] == ["s/a"]
    assert document["counted_regressions"] == 1
    markdown = (out / "compare.md").read_text()
    assert "## Regressions: fail (1)" in markdown and "### `s/a`: PASS → FAIL" in markdown
    # --scenario narrows the comparison: no regression left
    proc = wsreplay("compare", str(old), str(new), "--scenario", "s/b", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "REGRESSIONS: FAIL (0)" in proc.stdout


def test_pass_to_non_strict_exits_1_unless_ignored(tmp_path: Path) -> None:
    old = write_report(
        tmp_path / "old",
        [rec("s/soft", "pass", "lib@1"), rec("s/info", "pass", "lib@1")],
        ["lib@1"],
    )
    new = write_report(
        tmp_path / "new",
        [rec("s/soft", "non-strict", "lib@2"), rec("s/info", "informational", "lib@2")],
        ["lib@2"],
    )
    proc = wsreplay("compare", str(old), str(new), "--out", str(tmp_path / "strict"))
    assert proc.returncode == 1, proc.stderr
    assert "REGRESSIONS: FAIL (0)\n" in proc.stdout
    assert "REGRESSIONS: NON-STRICT (1)\n  s/soft  PASS -> NON-STRICT" in proc.stdout
    # informational is listed, never counted (as in `run`)
    assert "REGRESSIONS: INFORMATIONAL, never counted (1)\n  s/info  PASS -> INFO" in proc.stdout
    assert "2 regression(s) (0 fail, 1 non-strict, 1 informational)" in proc.stdout
    document = json.loads((tmp_path / "strict" / "compare.json").read_text())
    assert (document["ignored"], document["counted_levels"]) == ([], ["fail", "non-strict"])
    assert document["counted_regressions"] == 1
    assert "## Regressions: non-strict (1)" in (tmp_path / "strict" / "compare.md").read_text()

    proc = wsreplay(
        "compare", str(old), str(new), "--ignore", "non-strict", "--out", str(tmp_path / "lax")
    )
    assert proc.returncode == 0, proc.stderr
    assert "REGRESSIONS: NON-STRICT, ignored (1)\n  s/soft  PASS -> NON-STRICT" in proc.stdout
    document = json.loads((tmp_path / "lax" / "compare.json").read_text())
    assert (document["ignored"], document["counted_levels"]) == (["non-strict"], ["fail"])
    assert document["counted_regressions"] == 0
    assert [e["scenario"] for e in document["regressions"]["non-strict"]] == ["s/soft"]


def test_only_non_strict_can_be_ignored(tmp_path: Path) -> None:
    proc = wsreplay("compare", "a", "b", "--ignore", "fail", "--out", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert "invalid choice: 'fail'" in proc.stderr


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
    for word in (
        "OLD",
        "NEW",
        "--old-client",
        "--tolerance-ms",
        "--repeat",
        "--ignore",
        "non-strict",
        "exit status",
    ):
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
    assert FOUNDING in [e["scenario"] for e in document["regressions"]["fail"]]
    entry = next(e for e in document["regressions"]["fail"] if e["scenario"] == FOUNDING)
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
    assert FOUNDING not in [e["scenario"] for e in compare.all_regressions(document)]
    assert proc.returncode == (1 if document["counted_regressions"] else 0)
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
    assert compare.all_regressions(document) == []
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
    assert compare.all_regressions(document) == [] and document["fixes"] == []
    assert document["compared"] == 1


#: A real pass -> non-strict change between two releases of one library: ws
#: 3.3.2 answers a reserved opcode with close 1002, as RFC 6455 7.1.7 says
#: it SHOULD; 3.3.3 closes TCP without a close frame (seen in every run).
SOFT_OLD, SOFT_NEW = "node-ws@3.3.2", "node-ws@3.3.3"
SOFT_SCENARIO = "framing/reserved-opcode-3"


@pytest.mark.e2e
def test_a_real_pass_to_non_strict_change_exits_1_unless_ignored(tmp_path: Path) -> None:
    strict = tmp_path / "strict"
    proc = wsreplay(
        "compare", SOFT_OLD, SOFT_NEW, "--scenario", SOFT_SCENARIO, "--repeat", "2",
        "--out", str(strict),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    document = json.loads((strict / "compare.json").read_text())
    assert document["regressions"]["fail"] == []
    (entry,) = document["regressions"]["non-strict"]
    assert entry["scenario"] == SOFT_SCENARIO and entry["level"] == "non-strict"
    assert (entry["old"]["verdict"], entry["new"]["verdict"]) == ("pass", "non-strict")
    assert (entry["old"]["run_verdicts"], entry["new"]["run_verdicts"]) == (
        {"pass": 2},
        {"non-strict": 2},
    )
    assert entry["old"]["pass_rate"] == entry["new"]["pass_rate"] == 1.0  # hidden before
    assert "the client sent close 1002" in entry["old"]["reason"]
    assert "the client sent no close frame" in entry["new"]["reason"]
    assert document["counted_regressions"] == 1
    assert (
        f"REGRESSIONS: FAIL (0)\n\nREGRESSIONS: NON-STRICT (1)\n"
        f"  {SOFT_SCENARIO}  PASS -> NON-STRICT\n"
    ) in proc.stdout
    assert "1 regression(s) (0 fail, 1 non-strict, 0 informational)" in proc.stdout
    markdown = (strict / "compare.md").read_text()
    assert f"## Regressions: non-strict (1)\n\n### `{SOFT_SCENARIO}`: PASS → NON-STRICT" in (
        markdown
    )
    print(f"\n{SOFT_OLD} -> {SOFT_NEW} on {SOFT_SCENARIO}:\n{proc.stdout}")

    # The same two results, told to let non-strict through: listed, exit 0.
    lax = tmp_path / "lax"
    proc = wsreplay(
        "compare", str(strict), str(strict), "--old-client", SOFT_OLD, "--new-client", SOFT_NEW,
        "--ignore", "non-strict", "--out", str(lax),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"REGRESSIONS: NON-STRICT, ignored (1)\n  {SOFT_SCENARIO}  PASS -> NON-STRICT" in (
        proc.stdout
    )
    document = json.loads((lax / "compare.json").read_text())
    assert document["counted_regressions"] == 0 and document["ignored"] == ["non-strict"]
    assert [e["scenario"] for e in document["regressions"]["non-strict"]] == [SOFT_SCENARIO]


def test_a_side_whose_client_never_ran_is_refused(tmp_path: Path) -> None:
    """An install failure on one side must not pass a CI gate as 'no regression'."""
    run = wsreplay(
        "run", "--client", "python-websockets@14.1",
        "--scenario", "close/send-then-close", "--out", str(tmp_path / "ok"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    broken = json.loads((tmp_path / "ok" / "report.json").read_text())
    broken["clients"][0].update(status="error", error="pip install failed: no network")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "report.json").write_text(json.dumps(broken))
    proc = wsreplay(
        "compare", str(tmp_path / "ok"), str(tmp_path / "broken"), "--out", str(tmp_path / "cmp")
    )
    assert proc.returncode == 2
    assert "cannot compare: NEW client python-websockets@14.1 did not run: pip install failed" in (
        proc.stderr
    )
