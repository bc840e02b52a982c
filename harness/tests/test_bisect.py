"""`wsreplay bisect`: the first release that broke or fixed a scenario.

Unit tests drive the search over hand-made version lists; the end-to-end
tests bisect real websockets releases from PyPI: 12.0..14.0 names 14.0 as
the first bad release, 14.0..16.0 names 14.1 as the first fixed one, each
installing fewer releases than a linear scan. Real ws releases from npm show
what the strictness choice does: ws 3.3.3 turned a pass into non-strict
(no close frame after a protocol error), which the default finds and
`--ignore non-strict` does not; and from 7.4.0 to 7.5.1 the first fixed
release is 7.5.0 by default (no fail, no non-strict) but 7.4.5 when
non-strict counts as good (no fail).
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from conftest import wsreplay
from wsreplay.comparing import bisect
from wsreplay.installers.python import version_key

FOUNDING = "close/send-then-close"
#: A bisect installs and runs several releases.
BISECT_TIMEOUT_S = 900


# --------------------------------------------------------------- the search


def search(versions: list[str], first_new: str, skip: frozenset[str] = frozenset()):
    """Bisect with a known answer; returns the result and every version asked about."""
    asked: list[str] = []
    boundary = versions.index(first_new)

    def classify(version: str) -> str:
        asked.append(version)
        if version in skip:
            return "skip"
        return "new" if versions.index(version) >= boundary else "old"

    return bisect.bisect_search(versions, classify), asked


@pytest.mark.parametrize("n", range(2, 34))
def test_finds_the_boundary_anywhere_in_log_steps(n: int) -> None:
    versions = [f"1.{i}" for i in range(n)]
    for boundary in range(1, n):
        result, asked = search(versions, versions[boundary])
        assert result.found
        assert (result.first_new, result.last_old) == (versions[boundary], versions[boundary - 1])
        assert result.tested == asked
        assert len(asked) == len(set(asked))  # nothing asked twice
        assert versions[0] not in asked and versions[-1] not in asked  # the ends are given
        assert len(asked) <= math.ceil(math.log2(n - 1)) if n > 2 else not asked


def test_the_founding_ranges_take_two_steps_each() -> None:
    regression = ["12.0", "13.0", "13.0.1", "13.1", "14.0"]
    result, asked = search(regression, "14.0")
    assert (result.first_new, result.last_old, asked) == ("14.0", "13.1", ["13.0.1", "13.1"])
    fix = ["14.0", "14.1", "14.2", "15.0", "15.0.1", "16.0"]
    result, asked = search(fix, "14.1")
    assert (result.first_new, result.last_old, asked) == ("14.1", "14.0", ["14.2", "14.1"])


def test_a_skipped_release_is_stepped_around() -> None:
    versions = [f"2.{i}" for i in range(9)]
    result, asked = search(versions, "2.6", skip=frozenset({"2.4"}))
    assert result.found and result.first_new == "2.6" and result.last_old == "2.5"
    assert asked[0] == "2.4" and asked[1] in ("2.3", "2.5")
    assert result.skipped == ["2.4"]


def test_skips_at_the_boundary_leave_candidates() -> None:
    versions = ["1.0", "1.1", "1.2", "1.3", "1.4"]
    result, _ = search(versions, "1.2", skip=frozenset({"1.1", "1.2"}))
    assert not result.found
    assert result.last_old == "1.0"
    assert result.candidates == ["1.1", "1.2", "1.3"]
    assert result.skipped == ["1.1", "1.2"]


def test_adjacent_ends_need_no_step() -> None:
    result, asked = search(["1.0", "1.1"], "1.1")
    assert (result.found, result.first_new, asked) == (True, "1.1", [])
    with pytest.raises(ValueError):
        bisect.bisect_search(["1.0"], lambda v: "old")
    with pytest.raises(ValueError):
        bisect.bisect_search(["1.0", "1.1", "1.2"], lambda v: "maybe")


@pytest.mark.parametrize(
    ("version", "final"),
    [
        ("14.0", True),
        ("13.0.1", True),
        ("v1.5.3", True),  # Go
        ("2.0.post1", True),
        ("14.0rc1", False),
        ("15.0b2", False),
        ("8.18.0-beta.1", False),  # npm
        ("1.0.dev3", False),
        ("0.21.0-alpha", False),
    ],
)
def test_final_releases(version: str, final: bool) -> None:
    assert bisect.is_final(version) is final


def test_candidates_are_the_final_releases_between_the_ends_oldest_first() -> None:
    listed = ["16.0", "15.0.1", "15.0", "15.0rc1", "14.2", "14.1", "14.0", "13.1", "12.0"]
    assert bisect.candidate_versions(listed, "14.0", "16.0", version_key) == [
        "14.0",
        "14.1",
        "14.2",
        "15.0",
        "15.0.1",
        "16.0",
    ]
    # a pre-release the user names as an end stays
    assert bisect.candidate_versions(listed, "14.2", "15.0rc1", version_key) == ["14.2", "15.0rc1"]


def record(scenario: str, client: str, verdicts: list[str]) -> dict:
    passes = sum(v in ("pass", "non-strict", "informational") for v in verdicts)
    worst = max(verdicts, key=["pass", "informational", "non-strict", "fail", "error"].index)
    return {
        "scenario": scenario,
        "client": client,
        "verdict": worst,
        "reason": f"{worst} because",
        "runs": len(verdicts),
        "passes": passes,
        "per_run": [{"verdict": v, "reason": "r", "duration_ms": 1} for v in verdicts],
    }


@pytest.mark.parametrize(
    ("verdicts", "outcome", "detail"),
    [
        # by default non-strict is bad, like a fail: no severity hides a change
        ({"a": ["pass"], "b": ["non-strict"]}, "fail", " (b: non-strict)"),
        ({"a": ["pass", "non-strict", "pass"]}, "fail", " (a: NON-STRICT 1/3 PASS 2/3)"),
        ({"a": ["informational"]}, "pass", ""),  # never failing, as in `run`
        ({"a": ["pass"], "b": ["fail"]}, "fail", " (b)"),
        ({"a": ["error"], "b": ["fail"]}, "fail", " (b)"),  # a fail outweighs an error
        ({"a": ["error"], "b": ["non-strict"]}, "fail", " (b: non-strict)"),
        ({"a": ["pass", "fail", "pass"]}, "fail", " (a: FAIL 1/3 PASS 2/3)"),
        ({"a": ["fail", "error"]}, "fail", " (a: ERROR 1/2 FAIL 1/2)"),  # a fail decides
        ({"a": ["pass", "error"]}, "error", " (a: ERROR 1/2 PASS 1/2: error because)"),
        ({}, "error", ""),
    ],
)
def test_a_release_passes_when_every_run_passes_strictly(verdicts, outcome, detail) -> None:
    report = {"results": [record(name, "x@1", v) for name, v in verdicts.items()]}
    report["results"].append(record("a", "x@2", ["fail"]))  # another client: ignored
    got, rows = bisect.release_outcome(report, "x@1")
    assert got == outcome
    assert bisect.outcome_detail(got, rows) == detail


@pytest.mark.parametrize(
    ("verdicts", "outcome", "detail"),
    [
        ({"a": ["pass"], "b": ["non-strict"]}, "pass", ""),  # non-strict counts as good
        ({"a": ["pass", "non-strict", "pass"]}, "pass", ""),
        ({"a": ["non-strict"], "b": ["fail"]}, "fail", " (b)"),
        ({"a": ["non-strict", "error"]}, "error", " (a: ERROR 1/2 NON-STRICT 1/2: error because)"),
    ],
)
def test_ignore_non_strict_counts_it_as_good(verdicts, outcome, detail) -> None:
    report = {"results": [record(name, "x@1", v) for name, v in verdicts.items()]}
    got, rows = bisect.release_outcome(report, "x@1", ("non-strict",))
    assert got == outcome
    assert bisect.outcome_detail(got, rows) == detail


def test_good_and_bad_verdicts_per_choice() -> None:
    assert bisect.bad_verdicts() == ("fail", "non-strict")
    assert bisect.bad_verdicts(("non-strict",)) == ("fail",)


# --------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--good", "12.0"], "bisect needs either --good V1 --bad V2"),
        (["--good", "12.0", "--fixed", "14.1"], "bisect needs either"),
        (["--good", "12.0", "--bad", "14.0", "--broken", "14.0", "--fixed", "14.1"], "either"),
        (["--good", "14.0", "--bad", "12.0"], "use --broken OLD --fixed NEW"),
        (["--broken", "14.1", "--fixed", "14.0"], "use --good OLD --bad NEW"),
        (["--good", "12.0", "--bad", "14.0", "--scenario", "nope/*"], "matches no scenario"),
        (["--good", "12.0", "--bad", "14.0", "--repeat", "0"], "1 or more"),
        (["--good", "12.0", "--bad", "14.0", "--ignore", "fail"], "invalid choice: 'fail'"),
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = wsreplay("bisect", "python-websockets", *args, "--out", str(tmp_path), timeout=120)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "bisect.json").exists()


def test_help_explains_bisect() -> None:
    proc = wsreplay("--help", timeout=60)
    assert "bisect" in proc.stdout and "compare" in proc.stdout
    proc = wsreplay("bisect", "--help", timeout=60)
    for word in ("--good", "--bad", "--broken", "--fixed", "--repeat", "--ignore", "exit status"):
        assert word in proc.stdout


def test_an_unknown_adapter_exits_2(tmp_path: Path) -> None:
    proc = wsreplay("bisect", "cobol-ws", "--good", "1", "--bad", "2", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown adapter 'cobol-ws'" in proc.stderr and "python-websockets" in proc.stderr


@pytest.mark.e2e
def test_a_release_the_registry_lacks_exits_2_with_the_nearest(tmp_path: Path) -> None:
    proc = wsreplay(
        "bisect", "python-websockets", "--good", "13.7", "--bad", "14.0", "--out", str(tmp_path),
        timeout=BISECT_TIMEOUT_S,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--good 13.7" in proc.stderr and "13.1" in proc.stderr


# --------------------------------------------------------------- end to end


def run_bisect(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = wsreplay(
        "bisect", "python-websockets", *args, "--scenario", FOUNDING, "--out", str(tmp_path),
        timeout=BISECT_TIMEOUT_S,
    )  # fmt: skip
    document = json.loads((tmp_path / "bisect.json").read_text())
    return proc, document


@pytest.mark.e2e
def test_bisect_names_14_0_as_the_first_bad_release(tmp_path: Path) -> None:
    proc, document = run_bisect(tmp_path, "--good", "12.0", "--bad", "14.0")
    assert proc.returncode == 0, proc.stderr
    assert "first bad release: 14.0 (good: 13.1)" in proc.stdout
    assert "14.0: fail (close/send-then-close)" in proc.stdout
    assert "12.0: pass" in proc.stdout
    answer = document["answer"]
    assert (answer["found"], answer["first_bad"], answer["last_good"]) == (True, "14.0", "13.1")
    assert document["versions"] == ["12.0", "13.0", "13.0.1", "13.1", "14.0"]
    assert document["tested"][:2] == ["12.0", "14.0"]  # the ends first
    print(
        f"\nbisect --good 12.0 --bad 14.0: installed {document['versions_installed']} "
        f"releases ({document['tested']}), a linear scan {document['linear_scan']}"
    )
    assert document["versions_installed"] == len(document["tested"]) == 4
    assert document["versions_installed"] < document["linear_scan"] == 5
    for step in document["steps"]:
        assert (tmp_path / step["report"]).is_file()
    assert document["finished"] is not None


@pytest.mark.e2e
def test_bisect_names_14_1_as_the_first_fixed_release(tmp_path: Path) -> None:
    # --repeat 2: every release runs the scenario twice, and must pass both times
    proc, document = run_bisect(tmp_path, "--broken", "14.0", "--fixed", "16.0", "--repeat", "2")
    assert proc.returncode == 0, proc.stderr
    assert "first fixed release: 14.1 (broken: 14.0)" in proc.stdout
    assert document["repeat"] == 2
    assert all(row["runs"] == 2 for step in document["steps"] for row in step["scenarios"])
    answer = document["answer"]
    assert (answer["first_fixed"], answer["last_broken"]) == ("14.1", "14.0")
    assert document["mode"] == "first-fixed"
    assert document["versions"] == ["14.0", "14.1", "14.2", "15.0", "15.0.1", "16.0"]
    print(
        f"\nbisect --broken 14.0 --fixed 16.0: installed {document['versions_installed']} "
        f"releases ({document['tested']}), a linear scan {document['linear_scan']}"
    )
    assert document["versions_installed"] == 4
    assert document["versions_installed"] < document["linear_scan"] == 6


@pytest.mark.e2e
def test_ends_that_do_not_behave_as_claimed_stop_the_search(tmp_path: Path) -> None:
    proc, document = run_bisect(tmp_path, "--good", "14.0", "--bad", "14.1")
    assert proc.returncode == 2
    assert "--good 14.0 should pass but it did not" in proc.stderr
    assert "'final message' was not received" in proc.stderr
    assert "use --broken 14.0 --fixed 14.1" in proc.stderr  # the ends say it is a fix
    assert document["tested"] == ["14.0", "14.1"] and document["answer"] is None


# --------------------------------------------------------------- strictness, real releases

#: ws 3.3.2 answers a reserved opcode with close 1002 (RFC 6455 7.1.7: SHOULD);
#: 3.3.3 closes TCP without one: pass -> non-strict, in every run.
SOFT = "framing/reserved-opcode-3"
#: ws delivers invalid UTF-8 as a message up to 7.4.4 (fail); 7.4.5 refuses it
#: but sends no close frame (non-strict); 7.5.0 sends close 1007 (pass).
UTF8 = "utf8/invalid-text"


def run_ws_bisect(out: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = wsreplay("bisect", "node-ws", *args, "--out", str(out), timeout=BISECT_TIMEOUT_S)
    document = json.loads((out / "bisect.json").read_text())
    return proc, document


@pytest.mark.e2e
def test_a_pass_to_non_strict_change_is_found_by_default_and_not_when_ignored(
    tmp_path: Path,
) -> None:
    proc, document = run_ws_bisect(
        tmp_path / "strict", "--good", "3.3.0", "--bad", "3.3.3", "--scenario", SOFT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "first bad release: 3.3.3 (good: 3.3.2)" in proc.stdout
    assert f"3.3.3: fail ({SOFT}: non-strict)" in proc.stdout
    assert "a release is bad when a run is fail or non-strict" in proc.stdout
    answer = document["answer"]
    assert (answer["first_bad"], answer["last_good"]) == ("3.3.3", "3.3.2")
    assert document["versions"] == ["3.3.0", "3.3.1", "3.3.2", "3.3.3"]
    assert (document["ignored"], document["bad_verdicts"]) == ([], ["fail", "non-strict"])
    end = next(s for s in document["steps"] if s["version"] == "3.3.3")
    assert [(r["verdict"], r["worst_bad"]) for r in end["scenarios"]] == [
        ("non-strict", "non-strict")
    ]

    # non-strict counted as good: 3.3.3 is no bad end any more; the refusal says why
    proc, document = run_ws_bisect(
        tmp_path / "lax",
        "--good", "3.3.0", "--bad", "3.3.3", "--scenario", SOFT, "--ignore", "non-strict",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--bad 3.3.3 should fail but it did not" in proc.stderr
    assert f"{SOFT}: non-strict" in proc.stderr
    assert "non-strict counts as good with --ignore non-strict" in proc.stderr
    assert document["bad_verdicts"] == ["fail"] and document["answer"] is None

    # and the other way round: a good end that is non-strict is refused by default
    proc, document = run_ws_bisect(
        tmp_path / "soft-good", "--good", "3.3.3", "--bad", "4.0.0", "--scenario", SOFT
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--good 3.3.3 should pass but it did not" in proc.stderr
    assert "non-strict counts as bad by default (--ignore non-strict: as good)" in proc.stderr


@pytest.mark.e2e
def test_the_strictness_choice_picks_the_first_fixed_release(tmp_path: Path) -> None:
    args = ["--broken", "7.4.0", "--fixed", "7.5.1", "--scenario", SOFT, "--scenario", UTF8]
    proc, document = run_ws_bisect(tmp_path / "strict", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "first fixed release: 7.5.0 (broken: 7.4.6)" in proc.stdout
    # 7.4.6 no longer fails, but is still non-strict twice: bad by default
    assert f"7.4.6: fail ({SOFT}: non-strict, {UTF8}: non-strict)" in proc.stdout
    assert document["versions"] == [
        "7.4.0", "7.4.1", "7.4.2", "7.4.3", "7.4.4", "7.4.5", "7.4.6", "7.5.0", "7.5.1",
    ]  # fmt: skip
    strict_answer = document["answer"]["first_fixed"]

    proc, document = run_ws_bisect(tmp_path / "lax", *args, "--ignore", "non-strict")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "first fixed release: 7.4.5 (broken: 7.4.4)" in proc.stdout
    assert "7.4.6: pass" in proc.stdout  # non-strict only: good this time
    assert document["answer"]["first_fixed"] == "7.4.5"
    assert document["good_verdicts"] == ["pass", "non-strict", "informational"]
    print(
        f"\nbisect node-ws --broken 7.4.0 --fixed 7.5.1 ({SOFT}, {UTF8}): "
        f"first fixed {strict_answer} by default, 7.4.5 with --ignore non-strict; "
        f"installed {document['versions_installed']} of {document['linear_scan']}"
    )
