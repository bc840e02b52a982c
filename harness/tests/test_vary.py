"""`--vary`: variant cells, their names, the skipped ones, and every output
that lists cells (report, JUnit, HTML, summary, compare, merge, shards).

Unit tests use the loader's real normalized scenarios (data/step-scenarios)
and hand-made records; one end-to-end run plays two scenarios under two
variants against python-websockets.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from conftest import STEP_SCENARIOS, wsreplay
from wsreplay.comparing import compare
from wsreplay.outputs import report as rep
from wsreplay.outputs.junit import render_junit
from wsreplay.outputs.merge import Shard, merge
from wsreplay.outputs.summary import render_summary
from wsreplay.paths import REPORT_SCHEMA
from wsreplay.running import shards
from wsreplay.running.runner import make_job
from wsreplay.running.server import ScenarioServer
from wsreplay.scenarios import ScenarioError, identity, load_all
from wsreplay.variants import (
    BYTE_VARIANT_MAX_BYTES,
    VaryError,
    cell_name,
    parse_vary,
    select_cells,
    split_name,
    with_variants,
)


@pytest.fixture(scope="module")
def steps() -> dict[str, dict]:
    return {s["name"]: s for s in load_all(STEP_SCENARIOS)}


# --------------------------------------------------------------- naming


def test_parse_vary_orders_and_dedupes() -> None:
    assert parse_vary([]) == []
    assert parse_vary(["split=every-byte,frames", "split=frames"]) == ["frames", "every-byte"]
    assert parse_vary(["split=tls-record-per-byte,gaps,header-payload"]) == [
        "header-payload",
        "gaps",
        "tls-record-per-byte",
    ]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("every-byte", "expected AXIS=NAME"),
        ("chop=frames", "expected AXIS=NAME"),
        ("split=bytes", "no variant 'bytes'"),
        ("split=frames,", "no variant ''"),
    ],
)
def test_parse_vary_refuses_naming_the_value(value: str, words: str) -> None:
    with pytest.raises(VaryError, match=words):
        parse_vary([value])


def test_cell_names_round_trip() -> None:
    name = cell_name("close/send-then-close", "every-byte")
    assert name == "close/send-then-close~every-byte"
    assert split_name(name) == ("close/send-then-close", "every-byte")
    assert split_name("close/send-then-close") == ("close/send-then-close", None)


def test_cells_follow_their_scenario_and_opt_outs_are_skipped(steps: dict[str, dict]) -> None:
    chosen = [steps["steps/split-gap"], steps["steps/vary-no"], steps["steps/vary"]]
    cells, skipped = with_variants(chosen, ["frames", "tls-record-per-byte"])
    assert [c["name"] for c in cells] == [
        "steps/split-gap",
        "steps/split-gap~frames",
        "steps/split-gap~tls-record-per-byte",
        "steps/vary-no",
        "steps/vary",
        "steps/vary~frames",
        "steps/vary~tls-record-per-byte",
    ]
    reason = "opts out: the cut after the first byte is what it tests"
    assert skipped == [
        {"scenario": "steps/vary-no", "variant": "frames", "reason": reason},
        {"scenario": "steps/vary-no", "variant": "tls-record-per-byte", "reason": reason},
    ]
    by_name = {c["name"]: c for c in cells}
    plain, tls = by_name["steps/vary"], by_name["steps/vary~tls-record-per-byte"]
    assert "transport" not in plain and tls["transport"] == "wss"
    assert by_name["steps/vary~frames"].get("transport") is None
    # a piece per byte: the deadline grows with the bytes; the scenario is untouched
    assert tls["budget_ms"]["deadline"] > plain["budget_ms"]["deadline"]
    # ... and so does the client's wait for a message that comes a byte at a time
    grown = tls["client"]["recv_timeout_ms"] - plain["client"]["recv_timeout_ms"]
    assert grown == 243 * 5 and tls["budget_ms"]["client"] - plain["budget_ms"]["client"] == grown
    assert tls["budget_ms"]["expected"] - plain["budget_ms"]["expected"] == grown
    assert plain["name"] == "steps/vary" and steps["steps/vary"]["name"] == "steps/vary"
    assert tls["steps"] == plain["steps"]


def test_scenario_patterns_may_name_cells() -> None:
    catalogue = load_all(STEP_SCENARIOS)
    names = lambda got: [c["name"] for c in got[0]]  # noqa: E731
    both = ["frames", "every-byte"]
    assert names(select_cells(catalogue, ["steps/vary"], both)) == [
        "steps/vary",
        "steps/vary~frames",
        "steps/vary~every-byte",
    ]
    only = select_cells(catalogue, ["steps/v*~every-byte"], both)
    assert names(only) == ["steps/vary~every-byte"]
    # the opted-out scenario's cell is still listed as skipped
    assert [(s["scenario"], s["variant"]) for s in only[1]] == [("steps/vary-no", "every-byte")]
    with pytest.raises(ScenarioError, match="matches no cell of this run"):
        select_cells(catalogue, ["steps/vary~gaps"], both)
    with pytest.raises(ScenarioError, match="matches no scenario"):
        select_cells(catalogue, ["nothing~frames"], both)


def test_byte_variants_skip_large_writes(steps: dict[str, dict]) -> None:
    big = dict(steps["steps/vary"], name="big", wire={"bytes": BYTE_VARIANT_MAX_BYTES + 1})
    big["wire"]["items"] = 1
    cells, skipped = with_variants([big], ["frames", "every-byte"])  # type: ignore[list-item]
    assert [c["name"] for c in cells] == ["big", "big~frames"]
    assert skipped == [
        {
            "scenario": "big",
            "variant": "every-byte",
            "reason": f"{BYTE_VARIANT_MAX_BYTES + 1} bytes of writes: more than "
            f"{BYTE_VARIANT_MAX_BYTES} to send a byte per write",
        }
    ]


def test_the_catalogue_identity_and_shards_count_cells(steps: dict[str, dict]) -> None:
    plain = [steps["steps/vary"]]
    cells, _ = with_variants(plain, ["every-byte"])
    assert identity(cells) != identity(plain) and identity(cells)["scenarios"] == 2
    pairs = [("a@1", c["name"]) for c in cells]
    expected = shards.expected_by_scenario(cells)
    split = [set(shards.select(pairs, expected, k, 2)) for k in (1, 2)]
    assert split[0] | split[1] == set(pairs) and not split[0] & split[1]


@pytest.fixture(scope="module")
def server(step_server: ScenarioServer) -> ScenarioServer:
    return step_server


def test_a_cells_job_asks_for_its_scenario_with_the_variant(
    server: ScenarioServer, steps: dict[str, dict]
) -> None:
    cells, _ = with_variants([steps["steps/vary"]], ["gaps", "tls-record-per-write"])
    plain, gaps, tls = (make_job(server, c, "t1", "ws", "on") for c in cells)
    assert plain["url"].endswith("/steps/vary?run=t1&deflate=accept")
    assert gaps["url"].startswith("ws://")
    assert gaps["url"].endswith("/steps/vary?run=t1&deflate=accept&vary=gaps")
    assert tls["url"].startswith("wss://") and tls["url"].endswith("&vary=tls-record-per-write")
    assert "ca_file" in tls and "ca_file" not in gaps
    assert gaps["deadline_ms"] > plain["deadline_ms"]


# --------------------------------------------------------------- outputs


def rec(scenario: str, verdict: str, client: str = "a@1") -> dict:
    return {"client": client, "scenario": scenario, "verdict": verdict, "reason": verdict}


VARY = {
    "variants": ["every-byte"],
    "skipped": [{"scenario": "s2", "variant": "every-byte", "reason": "opts out: why"}],
}


def vary_report(k: int | None = None, n: int | None = None) -> dict:
    report = rep.new_report(
        f"run-{k}",
        "0.1.0",
        "0.1.0",
        ["wsreplay", "run", "--vary", "split=every-byte"],
        catalogue={"digest": "sha256:" + "0" * 64, "scenarios": 3},
        shard=(k, n) if k is not None and n is not None else None,
        vary=VARY,
    )
    rep.add_client(report, {"spec": "a@1", "resolved_version": "1"})
    for name in ("s1", "s1~every-byte", "s2"):
        rep.add_scenario(report, {"name": name})  # type: ignore[typeddict-item]
    return report


def test_report_header_carries_vary_and_validates() -> None:
    report = vary_report()
    rep.add_result(report, rec("s1", "pass"))  # type: ignore[arg-type]
    rep.add_result(report, rec("s1~every-byte", "fail"))  # type: ignore[arg-type]
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator(schema).validate(dict(report, results=[]))
    assert "vary" not in rep.new_report("r", "0.1.0", "0.1.0", ["wsreplay"])
    summary = render_summary(report)
    assert "**s1\\~every-byte** × a@1" in summary  # Markdown-escaped
    assert "Variant cells skipped (1)" in summary and "opts out: why" in summary
    junit = render_junit(report)
    assert 'name="s1~every-byte"' in junit


def test_merge_keeps_cells_and_the_vary_header() -> None:
    one, two = vary_report(1, 2), vary_report(2, 2)
    rep.add_result(one, rec("s1~every-byte", "fail"))  # type: ignore[arg-type]
    rep.add_result(two, rec("s1", "pass"))  # type: ignore[arg-type]
    rep.add_result(two, rec("s2", "pass"))  # type: ignore[arg-type]
    for r in (one, two):
        r["finished"] = r["started"]
    merged = merge([Shard(Path(f"results/{r['run_id']}"), r) for r in (one, two)], "all").report
    assert merged["vary"] == VARY
    assert [(r["scenario"], r["verdict"]) for r in merged["results"]] == [
        ("s1", "pass"),
        ("s1~every-byte", "fail"),
        ("s2", "pass"),
    ]


def test_compare_keys_cells_by_their_name() -> None:
    old = {r["scenario"]: r for r in (rec("s1", "pass"), rec("s1~every-byte", "pass"))}
    new = {r["scenario"]: r for r in (rec("s1", "pass"), rec("s1~every-byte", "fail"))}
    result = compare.compare_records(old, new, {})  # type: ignore[arg-type]
    assert [e["scenario"] for e in result["regressions"]["fail"]] == ["s1~every-byte"]
    assert result["unchanged_scenarios"] == ["s1"]


# --------------------------------------------------------------- end to end


def test_cli_refuses_a_bad_vary_before_anything_starts(tmp_path: Path) -> None:
    out = tmp_path / "never"
    done = wsreplay("run", "--vary", "split=sideways", "--out", str(out))
    assert done.returncode == 2
    assert "no variant 'sideways'" in done.stderr
    assert not out.exists()


def test_a_run_with_variants_names_cells_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = wsreplay(
        "run",
        "--client",
        "python-websockets",
        "--scenarios-dir",
        str(STEP_SCENARIOS),
        "--scenario",
        "steps/split-gap",
        "--scenario",
        "steps/vary-no",
        "--vary",
        "split=every-byte,tls-record-per-write",
        "--jobs",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode in (0, 1), done.stderr
    assert "skipped steps/vary-no~every-byte: opts out: the cut after" in done.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.Draft202012Validator(json.loads(REPORT_SCHEMA.read_text())).validate(report)
    names = [s["name"] for s in report["scenarios"]]
    assert names == [
        "steps/split-gap",
        "steps/split-gap~every-byte",
        "steps/split-gap~tls-record-per-write",
        "steps/vary-no",
    ]
    assert sorted(r["scenario"] for r in report["results"]) == sorted(names)
    assert report["vary"]["variants"] == ["every-byte", "tls-record-per-write"]
    assert [s["variant"] for s in report["vary"]["skipped"]] == [
        "every-byte",
        "tls-record-per-write",
    ]
    by_name = {r["scenario"]: r for r in report["results"]}
    eb = by_name["steps/split-gap~every-byte"]
    assert eb["transcript"]["vary"] == "every-byte"
    assert eb["transcript"]["scenario"] == "steps/split-gap"
    assert by_name["steps/split-gap~tls-record-per-write"]["transport"] == "wss"
    assert "vary" not in by_name["steps/split-gap"]["transcript"]
    assert 'name="steps/split-gap~every-byte"' in (out / "junit.xml").read_text()
    assert "steps/split-gap~every-byte" in (out / "report.html").read_text()
    assert "Variant cells skipped (2)" in (out / "summary.md").read_text()
    # the plain cell and its variants saw the same messages
    assert eb["verdict"] == by_name["steps/split-gap"]["verdict"]
