"""`wsreplay run --shard K/N` and `wsreplay merge DIR...`: the split, the catalogue's
identity, the merge and its refusals, and the pytest plugin under `pytest -n`.

The split is tested on hand-made pairs and on the real catalogue; the merge
end to end: one real run, then the same command as three shards and a merge,
whose report must equal the single run's record for record, what differs
between any two runs of the same pair (`RUN_SPECIFIC`) aside.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import wsreplay
from wsreplay import cli
from wsreplay.outputs import report as rep
from wsreplay.outputs.merge import MergeError, Shard, merge, read_shard, shared_command
from wsreplay.outputs.summary import render_summary
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA, SCENARIOS_DIR
from wsreplay.running.shards import (
    expected_by_scenario,
    expected_ms,
    parse_shard,
    select,
    split,
)
from wsreplay.scenarios import identity, load_all

CLIENTS = ["python-websockets@14.0", "python-websockets@14.1"]
#: Eight quick scenarios whose verdicts do not race; 14.0 fails the close/ ones.
SCENARIO_GLOBS = ["close/send-then-close*", "handshake/accept-*", "handshake/status-*"]


def run_args(clients: list[str], globs: list[str]) -> list[str]:
    return [
        "run",
        *itertools.chain.from_iterable(("--client", c) for c in clients),
        *itertools.chain.from_iterable(("--scenario", g) for g in globs),
    ]


RUN_ARGS = run_args(CLIENTS, SCENARIO_GLOBS)

#: What differs between two runs of the same pair when nothing about the
#: behaviour did: timings, the job's run tag (it holds the run id), and the
#: server's wire log (timestamps, the client's random masking key and
#: handshake key, the port, the order of ACK events), of which only the
#: outcome is compared. Paths are dotted; `[]` is every item of a list.
RUN_SPECIFIC = (
    "timing",
    "per_run[].duration_ms",
    "observed.id",
    "observed.t0_unix_us",
    "observed.duration_ms",
    "observed.messages[].t_ms",
    "observed.events[].t_ms",
)
#: Of the transcript, what is compared.
TRANSCRIPT_KEPT = ("scenario", "complete", "end")


def _drop(value: Any, path: list[str]) -> None:
    head, rest = path[0], path[1:]
    items = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(value, dict) or key not in value:
        return
    if not rest:
        del value[key]
    elif items:
        for item in value[key] or []:
            _drop(item, rest)
    else:
        _drop(value[key], rest)


def comparable(record: dict) -> dict:
    """The record without what is run-specific (`RUN_SPECIFIC`)."""
    record = copy.deepcopy(record)
    for path in RUN_SPECIFIC:
        _drop(record, path.split("."))
    if record.get("transcript") is not None:
        record["transcript"] = {k: record["transcript"].get(k) for k in TRANSCRIPT_KEPT}
    return record


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def validate_header(report: dict) -> None:
    """The report against the schema, its (hand-made, partial) records aside."""
    validator().validate({**report, "results": []})


# ---------------------------------------------------------------- parse_shard

#: (argument, (K, N) or the words the error must contain)
SHARD_ARGUMENTS = [
    ("1/1", (1, 1)),
    ("2/4", (2, 4)),
    (" 3 / 5 ", (3, 5)),  # spaces, as a YAML matrix may leave them
    ("0/0", "N, the number of shards, must be 1 or more"),
    ("1/0", "N, the number of shards, must be 1 or more"),
    ("0/3", "K must be from 1 to 3"),
    ("4/3", "K must be from 1 to 3"),
    ("abc", "expected K/N"),
    ("", "expected K/N"),
    ("1/", "expected K/N"),
    ("/3", "expected K/N"),
    ("-1/3", "expected K/N"),
    ("1/3/5", "expected K/N"),
    ("1.5/3", "expected K/N"),
]


@pytest.mark.parametrize(("text", "expected"), SHARD_ARGUMENTS)
def test_parse_shard(text: str, expected: tuple[int, int] | str) -> None:
    if isinstance(expected, tuple):
        assert parse_shard(text) == expected
        return
    with pytest.raises(ValueError) as caught:
        parse_shard(text)
    assert f"{text!r} is not a shard" in str(caught.value)
    assert expected in str(caught.value)


def test_run_refuses_a_bad_shard_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["run", "--shard", "4/3"])
    assert exited.value.code == 2
    assert (
        "argument --shard: '4/3' is not a shard: K must be from 1 to 3" in capsys.readouterr().err
    )
    assert cli.build_parser().parse_args(["run", "--shard", "2/3"]).shard == (2, 3)
    assert cli.build_parser().parse_args(["run"]).shard is None


# ---------------------------------------------------------------- select


def test_split_is_longest_first_onto_the_lightest_shard() -> None:
    expected = {"a": 5, "b": 4, "c": 3, "d": 3, "e": 2}
    pairs = [("x", name) for name in "edcba"]
    # a->1 (5), b->2 (4), c->2 (7), d->1 (8), e->2 (9); each shard in the order given
    assert split(pairs, expected, 2) == [
        [("x", "d"), ("x", "a")],
        [("x", "e"), ("x", "c"), ("x", "b")],
    ]
    # equal durations: by client, then scenario name, then the lowest shard
    same = {"s1": 1, "s2": 1}
    pairs = [("c2", "s2"), ("c1", "s2"), ("c2", "s1"), ("c1", "s1")]
    # (c1, s1) -> 1, (c1, s2) -> 2, (c2, s1) -> 3, (c2, s2) -> 1
    assert split(pairs, same, 3) == [[("c2", "s2"), ("c1", "s1")], [("c1", "s2")], [("c2", "s1")]]


def test_more_shards_than_pairs_leaves_some_empty() -> None:
    pairs = [("x", "a"), ("x", "b"), ("y", "a")]
    shards = split(pairs, {"a": 10, "b": 1}, 7)
    assert sorted(itertools.chain.from_iterable(shards)) == sorted(pairs)
    assert [len(s) for s in shards] == [1, 1, 1, 0, 0, 0, 0]
    assert select(pairs, {"a": 10, "b": 1}, 7, 7) == []


def test_select_refuses_a_shard_out_of_range() -> None:
    with pytest.raises(ValueError, match="shard 4 of 3"):
        select([("x", "a")], {"a": 1}, 4, 3)
    with pytest.raises(ValueError, match="1 or more"):
        split([("x", "a")], {"a": 1}, 0)


@pytest.fixture(scope="module")
def catalogue() -> list[dict]:
    return list(load_all(SCENARIOS_DIR))


def catalogue_pairs(catalogue: list[dict]) -> list[tuple[str, str]]:
    specs = ["python-websockets@14.1", "node-ws@8.18.0", "go-gorilla"]
    return [(spec, s["name"]) for spec in specs for s in catalogue]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_pair_is_in_exactly_one_shard(catalogue: list[dict], n: int) -> None:
    pairs = catalogue_pairs(catalogue)
    expected = expected_by_scenario(catalogue)
    chosen = [select(pairs, expected, k, n) for k in range(1, n + 1)]
    every = list(itertools.chain.from_iterable(chosen))
    assert len(every) == len(pairs) and set(every) == set(pairs)
    for shard in chosen:  # each in the order given: the run's own order
        assert shard == sorted(shard, key=pairs.index)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_the_split_balances_expected_time(catalogue: list[dict], n: int) -> None:
    """Greedy longest-first: every shard within one pair's budget of every other."""
    pairs = catalogue_pairs(catalogue)
    expected = expected_by_scenario(catalogue)
    loads = [sum(expected[s] for _, s in shard) for shard in split(pairs, expected, n)]
    assert max(loads) - min(loads) <= max(expected.values())
    assert max(loads) <= sum(loads) / n + max(expected.values())


def test_the_split_does_not_depend_on_the_order_of_its_input(catalogue: list[dict]) -> None:
    pairs = catalogue_pairs(catalogue)
    expected = expected_by_scenario(catalogue)
    reference = [set(shard) for shard in split(pairs, expected, 4)]
    shuffler = random.Random(11)
    for _ in range(5):
        shuffled = pairs[:]
        shuffler.shuffle(shuffled)
        keys = list(expected)
        shuffler.shuffle(keys)
        assert [set(s) for s in split(shuffled, {k: expected[k] for k in keys}, 4)] == reference


def test_expected_duration_is_the_loaders_budget(catalogue: list[dict]) -> None:
    founding = next(s for s in catalogue if s["name"] == "close/send-then-close")
    budget = founding["budget_ms"]
    assert expected_ms(founding) == budget["expected"] == 100  # its recv_delay_ms


# ---------------------------------------------------------------- catalogue identity


def test_catalogue_identity_ignores_where_the_files_are(
    catalogue: list[dict], tmp_path: Path
) -> None:
    elsewhere = tmp_path / "copy"
    shutil.copytree(SCENARIOS_DIR, elsewhere)
    moved = list(load_all(elsewhere))
    assert [s["file"] for s in moved] != [s["file"] for s in catalogue]
    assert identity(moved) == identity(catalogue)
    assert identity(catalogue)["scenarios"] == len(catalogue)
    assert identity(catalogue)["digest"].startswith("sha256:")
    # the order of keys in memory does not matter either
    reordered = [dict(reversed(list(s.items()))) for s in catalogue]
    assert identity(reordered) == identity(catalogue)


def test_catalogue_identity_changes_with_any_scenario(catalogue: list[dict]) -> None:
    changed = copy.deepcopy(catalogue)
    changed[3]["client"]["recv_delay_ms"] += 1
    assert identity(changed)["digest"] != identity(catalogue)["digest"]
    assert identity(catalogue[1:])["digest"] != identity(catalogue)["digest"]
    assert identity(catalogue[1:])["scenarios"] == len(catalogue) - 1


# ---------------------------------------------------------------- merge, by hand


@pytest.mark.parametrize(
    ("command", "shared"),
    [
        (["run", "--shard", "2/3", "--out", "r/2"], ["run"]),
        (["run", "--shard=2/3", "--out=r/2", "--repeat", "3"], ["run", "--repeat", "3"]),
        (["run", "--client", "x", "--out"], ["run", "--client", "x"]),  # a trailing option
    ],
)
def test_shared_command_leaves_out_shard_and_out(command: list[str], shared: list[str]) -> None:
    assert shared_command(command) == shared


CATALOGUE = {"digest": "sha256:" + "ab" * 32, "scenarios": 2}
COMMAND = ["wsreplay", "run", "--client", "a@1", "--client", "b@1"]


def shard_report(k: int, n: int, pairs: list[tuple[str, str]], **changes: Any) -> dict:
    """A report of shard K of N holding records of PAIRS (client, scenario)."""
    report = rep.new_report(
        f"run-{k}",
        "0.1.0",
        "0.1.0",
        [*COMMAND, "--shard", f"{k}/{n}", "--out", f"results/{k}"],
        catalogue=CATALOGUE,
        shard=(k, n),
    )
    report["started"] = f"2026-12-07T10:0{k}:00.000000Z"
    report["finished"] = f"2026-12-07T10:0{k}:30.000000Z"
    for spec in ("a@1", "b@1"):
        rep.add_client(report, {"spec": spec, "resolved_version": "1"})
    for name in ("s1", "s2"):
        rep.add_scenario(report, {"name": name})
    for client, scenario in pairs:
        rep.add_result(report, {"client": client, "scenario": scenario, "verdict": "pass"})
    report.update(changes)
    return report


def shards_of(*reports: dict) -> list[Shard]:
    return [Shard(Path(f"results/{r['run_id']}"), r) for r in reports]


def three_shards() -> list[dict]:
    return [
        shard_report(1, 3, [("b@1", "s2"), ("a@1", "s1")]),
        shard_report(2, 3, [("a@1", "s2")]),
        shard_report(3, 3, [("b@1", "s1")]),
    ]


def test_merge_joins_the_shards_of_a_run() -> None:
    reports = three_shards()
    merged = merge(shards_of(*reversed(reports)), "all").report
    validate_header(merged)
    assert [(r["client"], r["scenario"]) for r in merged["results"]] == [
        ("a@1", "s1"), ("a@1", "s2"), ("b@1", "s1"), ("b@1", "s2"),
    ]  # fmt: skip
    assert merged["totals"]["total"] == merged["totals"]["pass"] == 4
    assert merged["run_id"] == "all"
    assert merged["command"] == COMMAND
    assert merged["catalogue"] == CATALOGUE and merged["shard"] is None
    assert [c["spec"] for c in merged["clients"]] == ["a@1", "b@1"]
    assert [s["name"] for s in merged["scenarios"]] == ["s1", "s2"]
    assert merged["started"] == "2026-12-07T10:01:00.000000Z"
    assert merged["finished"] == "2026-12-07T10:03:30.000000Z"
    assert merged["duration_ms"] == 150_000.0
    assert [m["shard"]["index"] for m in merged["merged_from"]] == [1, 2, 3]
    assert merged["merged_from"][0] == {
        "run_id": "run-1",
        "folder": "results/run-1",
        "shard": {"index": 1, "count": 3},
    }


def refusal(reports: list[dict], *, allow_missing: bool = False) -> str:
    with pytest.raises(MergeError) as caught:
        merge(shards_of(*reports), "all", allow_missing=allow_missing)
    return str(caught.value)


def test_merge_refuses_shards_that_do_not_belong_together() -> None:
    one, two, three = three_shards()
    other = {"digest": "sha256:" + "cd" * 32, "scenarios": 2}
    text = refusal([one, two, {**three, "catalogue": other}])
    assert text.startswith("cannot merge: the shards ran different scenario catalogues: ")
    assert "results/run-1, results/run-2 2 scenario(s), sha256:abababab" in text
    assert "results/run-3 2 scenario(s), sha256:cdcdcdcd" in text

    text = refusal([one, two, {**three, "command": [*COMMAND, "--repeat", "2"]}])
    assert "ran different commands (--shard and --out aside)" in text
    assert "results/run-3 `wsreplay run --client a@1 --client b@1 --repeat 2`" in text

    text = refusal([one, two, shard_report(3, 4, [])])
    assert "split the run differently: results/run-1, results/run-2 into 3 shards" in text

    text = refusal([one, two, {**three, "tool": {"name": "wsreplay", "version": "0.2.0"}}])
    assert "come from different versions" in text

    text = refusal([one, two, {**two, "run_id": "run-2b"}])
    assert text == "cannot merge: shard 2/3 is given twice: results/run-2 and results/run-2b"

    text = refusal([one, three])
    assert text.startswith("cannot merge: shard(s) 2 of 3 missing (given: 1/3 in results/run-1;")
    assert "--allow-missing" in text

    text = refusal([{**one, "shard": None}, two, three])
    assert "results/run-1 is the report of a whole run, not of a shard" in text

    text = refusal([{**one, "catalogue": None}, two, three])
    assert "names no catalogue" in text

    moved = copy.deepcopy(three)
    moved["clients"][0]["resolved_version"] = "2"
    text = refusal([one, two, moved])
    assert (
        "client a@1 resolved to different versions: "
        "1 in results/run-1, results/run-2; 2 in results/run-3"
    ) in text

    twice = shard_report(3, 3, [("b@1", "s1"), ("a@1", "s2")])
    text = refusal([one, two, twice])
    assert "a@1 on s2 has a record in both results/run-2 and results/run-3" in text


def test_the_summary_says_shard_or_merged() -> None:
    assert "shard 2 of 3 (its pairs only)" in render_summary(shard_report(2, 3, []))
    merged = merge(shards_of(*three_shards()), "all").report
    text = render_summary(merged)
    assert "merged from 3 shard(s)" in text and "shard 1 of" not in text


def test_merge_with_allow_missing_says_the_run_did_not_finish() -> None:
    one, _, three = three_shards()
    merged = merge(shards_of(one, three), "part", allow_missing=True)
    assert merged.report["finished"] is None and merged.report["duration_ms"] is None
    assert merged.report["totals"]["total"] == 3
    assert any("shard(s) 2 of 3 missing" in note for note in merged.notes)
    validate_header(merged.report)


def test_merge_notes_pairs_an_interrupted_shard_never_ran() -> None:
    one, two, three = three_shards()
    three["results"] = []
    merged = merge(shards_of(one, two, three), "all")
    assert merged.notes == [
        "1 of 4 pair(s) have no record (a shard's run was interrupted): they show as not run"
    ]


def test_merge_exit_codes(tmp_path: Path) -> None:
    """0: every verdict passes; 1: a fail, or a pair without a record (unless
    --allow-missing); 2: cannot merge. The folders hold hand-made reports."""

    def folders(name: str, reports: list[dict]) -> list[str]:
        made = []
        for report in reports:
            folder = tmp_path / name / report["run_id"]
            rep.write_report(report, folder)
            made.append(str(folder))
        return made

    def merge_status(*argv: str) -> tuple[int, str]:
        proc = wsreplay("merge", *argv)
        return proc.returncode, proc.stderr

    good = folders("good", three_shards())
    assert merge_status(*good, "--out", str(tmp_path / "m0"))[0] == 0
    assert json.loads((tmp_path / "m0" / "report.json").read_text())["totals"]["pass"] == 4

    failing = three_shards()
    failing[1]["results"][0]["verdict"] = "fail"
    assert merge_status(*folders("fail", failing), "--out", str(tmp_path / "m1"))[0] == 1

    interrupted = three_shards()
    interrupted[2]["results"] = []
    short = folders("short", interrupted)
    status, stderr = merge_status(*short, "--out", str(tmp_path / "m2"))
    assert status == 1 and "the merged run is incomplete" in stderr
    assert "1 of 4 pair(s) have no record" in stderr
    assert merge_status(*short, "--allow-missing", "--out", str(tmp_path / "m3"))[0] == 0

    status, stderr = merge_status(*good[:2], "--out", str(tmp_path / "m4"))
    assert status == 2 and "shard(s) 3 of 3 missing" in stderr
    assert not (tmp_path / "m4").exists()


def test_read_shard_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match="is not the folder of a run"):
        read_shard(tmp_path)
    (tmp_path / "report.json").write_text('{"schema": "something-else"}')
    with pytest.raises(MergeError, match="is not a wsreplay report"):
        read_shard(tmp_path)
    (tmp_path / "report.json").write_text("{")
    with pytest.raises(MergeError, match="not a readable report"):
        read_shard(tmp_path)


def test_report_headers_validate_with_and_without_a_shard() -> None:
    check = validator()
    whole = rep.new_report("r", "0.1.0", "0.1.0", ["wsreplay"], catalogue=CATALOGUE)
    check.validate(whole)
    sharded = shard_report(2, 3, [])
    check.validate(sharded)
    assert sharded["shard"] == {"index": 2, "count": 3}
    for broken in (
        {"shard": {"index": 0, "count": 3}},
        {"shard": {"index": 1}},
        {"catalogue": {"digest": "md5:00", "scenarios": 1}},
        {"merged_from": []},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check.validate({**sharded, **broken})
    old = {k: v for k, v in whole.items() if k not in ("catalogue", "shard", "merged_from")}
    check.validate(old)  # a report from before --shard is still valid


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One whole run and the same command as three shards, with the real server and client."""
    base = tmp_path_factory.mktemp("shards")
    done: dict[str, Any] = {"base": base}
    for name, extra in [("single", []), *((f"s{k}", ["--shard", f"{k}/3"]) for k in (1, 2, 3))]:
        proc = wsreplay(*RUN_ARGS, *extra, "--out", str(base / name))
        assert (base / name / "report.json").is_file(), proc.stderr
        done[name] = proc
    return done


def load(folder: Path) -> dict:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


@pytest.mark.e2e
def test_shards_run_their_own_pairs_and_list_every_client(runs: dict[str, Any]) -> None:
    base: Path = runs["base"]
    single = load(base / "single")
    pairs = {(r["client"], r["scenario"]) for r in single["results"]}
    assert len(pairs) == 2 * 8
    seen: list[tuple[str, str]] = []
    for k in (1, 2, 3):
        shard = load(base / f"s{k}")
        assert shard["shard"] == {"index": k, "count": 3}
        assert shard["catalogue"] == single["catalogue"]
        assert single["catalogue"]["scenarios"] == 8
        assert [c["spec"] for c in shard["clients"]] == CLIENTS  # even without a pair of one
        assert f"shard {k}/3 of 8 scenario(s) x 2 client(s)" in runs[f"s{k}"].stderr
        assert shard["results"], "every shard has work"
        # each shard's client entries are complete, as in a single run
        assert shard["clients"] == single["clients"]
        seen += [(r["client"], r["scenario"]) for r in shard["results"]]
        header = json.loads((base / f"s{k}" / "run.json").read_text(encoding="utf-8"))
        assert header["shard"] == shard["shard"] and header["catalogue"] == shard["catalogue"]
    assert sorted(seen) == sorted(pairs)
    assert single["shard"] is None and single["merged_from"] is None


@pytest.mark.e2e
def test_merged_report_equals_the_single_run(runs: dict[str, Any]) -> None:
    base: Path = runs["base"]
    out = base / "merged"
    shard_dirs = [str(base / f"s{k}") for k in (3, 1, 2)]  # any order
    proc = wsreplay("merge", *shard_dirs, "--out", str(out))
    single = load(base / "single")
    assert proc.returncode == runs["single"].returncode == 1, proc.stderr  # 14.0 fails
    merged = load(out)
    validator().validate(merged)
    assert [comparable(r) for r in merged["results"]] == [comparable(r) for r in single["results"]]
    for key in ("clients", "scenarios", "totals", "catalogue", "schema", "tool", "server"):
        assert merged[key] == single[key], key
    assert merged["command"] == ["wsreplay", *RUN_ARGS]
    assert merged["shard"] is None and merged["run_id"] == "merged"
    assert [m["shard"]["index"] for m in merged["merged_from"]] == [1, 2, 3]
    assert merged["finished"] is not None
    for name in ("junit.xml", "summary.md", "report.html"):
        assert (out / name).is_file(), name
    assert "close/send-then-close" in proc.stdout and "16 results: 13 pass, 3 fail" in proc.stdout


@pytest.mark.e2e
def test_merge_of_a_shard_that_did_not_finish_reads_its_records(runs: dict[str, Any]) -> None:
    base: Path = runs["base"]
    killed = base / "s2-killed"
    shutil.copytree(base / "s2", killed)
    (killed / "report.json").unlink()  # as after a SIGKILL
    out = base / "merged-killed"
    proc = wsreplay("merge", str(base / "s1"), str(killed), str(base / "s3"), "--out", str(out))
    assert proc.returncode == 1, proc.stderr
    assert f"{killed}: its run did not finish; read from run.json and records.jsonl" in proc.stderr
    merged, single = load(out), load(base / "single")
    assert merged["finished"] is None
    assert [comparable(r) for r in merged["results"]] == [comparable(r) for r in single["results"]]


@pytest.mark.e2e
def test_merge_refusals_from_real_runs(runs: dict[str, Any]) -> None:
    base: Path = runs["base"]
    s1, s2, s3 = (str(base / f"s{k}") for k in (1, 2, 3))
    # a shard of another scenario selection: another catalogue (and command)
    other = base / "other-scenarios"
    wsreplay(*run_args(CLIENTS, SCENARIO_GLOBS[:2]), "--shard", "3/3", "--out", str(other))
    # a shard of another command over the same catalogue: one client only
    one_client = base / "one-client"
    wsreplay(*run_args(CLIENTS[1:], SCENARIO_GLOBS), "--shard", "3/3", "--out", str(one_client))
    assert load(one_client)["catalogue"] == load(base / "single")["catalogue"]
    duplicate = base / "s1-again"
    shutil.copytree(base / "s1", duplicate)

    cases = [
        ([s1, s2, str(other)], "the shards ran different scenario catalogues"),
        ([s1, s2, str(one_client)], "the shards ran different commands"),
        ([s1, s2, s3, str(duplicate)], f"shard 1/3 is given twice: {s1} and {duplicate}"),
        ([s1, s3], f"shard(s) 2 of 3 missing (given: 1/3 in {s1}; 3/3 in {s3})"),
        ([s1, s2, str(base / "single")], f"{base / 'single'} is the report of a whole run"),
        ([s1, s2, str(base / "nowhere")], f"{base / 'nowhere'} is not the folder of a run"),
        ([s1, s2, s3, "--out", s1], f"--out {s1} is one of the shard folders"),
    ]
    for argv, words in cases:
        out = base / "refused"
        proc = wsreplay("merge", *argv, *([] if "--out" in argv else ["--out", str(out)]))
        assert proc.returncode == 2, (argv, proc.stderr)
        assert "wsreplay: cannot merge: " in proc.stderr and words in proc.stderr, proc.stderr
        assert not (out / "report.json").exists()

    partial = base / "partial"
    proc = wsreplay("merge", s1, s3, "--allow-missing", "--out", str(partial))
    assert proc.returncode in (0, 1), proc.stderr
    assert "shard(s) 2 of 3 missing" in proc.stderr
    assert load(partial)["finished"] is None


# ---------------------------------------------------------------- pytest -n

PLUGIN_TEST = """
import os

import pytest

SCENARIOS = [
    "handshake/accept-missing",
    "handshake/accept-wrong",
    "handshake/status-200-with-body",
    "close/send-then-close",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pair(wsreplay_run_scenario, wsreplay_workdir, scenario):
    record = wsreplay_run_scenario(scenario, "python-websockets@14.1")
    assert record["verdict"] == "pass", record["reason"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.environ["WORKERS_FILE"], "a") as seen:
        seen.write(f"{worker} {wsreplay_workdir}\\n")
"""


@pytest.mark.e2e
def test_the_plugin_works_under_pytest_xdist(tmp_path: Path) -> None:
    """Two workers, each with its own server and work folder, share nothing."""
    pytest.importorskip("xdist", reason="pytest-xdist (harness/requirements-test.txt)")
    (tmp_path / "test_pairs.py").write_text(PLUGIN_TEST, encoding="utf-8")
    workers = tmp_path / "workers.txt"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT / "harness"), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
        "WORKERS_FILE": str(workers),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "wsreplay.plugin",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "-c", os.devnull,
         str(tmp_path / "test_pairs.py")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
    lines = workers.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    by_worker = dict(line.split(" ", 1) for line in lines)
    assert set(by_worker) == {"gw0", "gw1"}
    assert len(set(by_worker.values())) == 2  # a work folder (and server) per worker


@pytest.mark.e2e
def test_a_shard_without_a_pair_of_a_client_still_describes_it(tmp_path: Path) -> None:
    """One scenario, two clients, two shards: each shard has one client's
    pair only, and still lists the other as a single run would (its
    adapter's own word for library, API and version)."""
    reports = []
    for k in (1, 2):
        out = tmp_path / f"s{k}"
        args = ["run", "--scenario", "close/send-then-close", "--shard", f"{k}/2"]
        for spec in CLIENTS:
            args += ["--client", spec]
        wsreplay(*args, "--out", str(out))
        reports.append(load(out))
    assert [len(r["results"]) for r in reports] == [1, 1]
    assert reports[0]["clients"] == reports[1]["clients"]
    for client in reports[0]["clients"]:
        assert client["library"] == "websockets" and client["resolved_version"], client
