"""`wsreplay-server --check --json`: the loader's normalized form of scenarios.

The loader owns what a scenario means: complete client knobs and the time
budget come from it. Valid input gives exactly one JSON document on stdout;
any invalid file gives nothing on stdout, the same errors as `--check` on
stderr, and exit 1.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from wsreplay.build import server_binary
from wsreplay.paths import REPO_ROOT

CASES = Path(__file__).parent / "data" / "invalid-scenarios"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
SLACK_MS = 5000


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(server_binary()), "--check", *args], capture_output=True, text=True, timeout=60
    )


def scenario(name: str, steps: list[dict], **extra: object) -> dict:
    return {"name": name, "summary": "s", "rfc": ["6455#5"], "expect": {}, "steps": steps, **extra}


def write(root: Path, data: dict, place: str | None = None) -> Path:
    path = root / f"{place or data['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_folder_gives_one_document_sorted_by_name() -> None:
    proc = check("--json", "--scenarios", str(REPO_ROOT / "scenarios"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == ["scenarios", "knob_defaults"]
    names = [s["name"] for s in doc["scenarios"]]
    assert names == sorted(names)
    # one scenario per file, or one per member of a family file
    files = [json.loads(p.read_text()) for p in (REPO_ROOT / "scenarios").rglob("*.json")]
    assert len(names) == sum(len(f.get("family", {}).get("members", [None])) for f in files)
    for s in doc["scenarios"]:
        budget = s["budget_ms"]
        knobs = s["client"]
        assert Path(s["file"]).is_file()
        assert budget["client"] == knobs["recv_delay_ms"] + knobs["recv_timeout_ms"]
        assert budget["deadline"] == budget["steps"] + budget["client"] + SLACK_MS
        assert 0 <= budget["expected"] <= max(budget["steps"], knobs["recv_delay_ms"])


def test_files_keep_the_file_and_fill_the_knobs(tmp_path: Path) -> None:
    given = write(
        tmp_path,
        scenario(
            "a/given",
            [{"delay_ms": 10, "jitter_ms": 5}],
            client={"recv_delay_ms": 100, "echo": True},
        ),
    )
    plain = write(tmp_path, scenario("b/plain", [{"await": "close"}]))
    proc = check("--json", str(plain), str(given))
    assert proc.returncode == 0, proc.stderr
    first, second = json.loads(proc.stdout)["scenarios"]
    assert first["name"] == "a/given"
    assert first["file"] == str(given)
    assert first["summary"] == "s"
    assert first["client"] == {
        "recv_delay_ms": 100,
        "recv_pace_ms": 0,
        "recv_timeout_ms": 3000,
        "max_messages": 1000,
        "echo": True,
        "send": [],
        "close_first": None,
        "subprotocols": [],
        "compression": "default",
    }
    # expected: the larger of the steps' usual waits (10 + 5 // 2) and recv_delay_ms
    assert first["budget_ms"] == {"steps": 15, "client": 3100, "deadline": 8115, "expected": 100}
    # an await counts nothing in the usual length
    assert second["budget_ms"] == {"steps": 5000, "client": 3000, "deadline": 13000, "expected": 0}


@pytest.mark.parametrize("case", CASE_NAMES)
def test_an_invalid_file_gives_nothing_on_stdout(case: str) -> None:
    good = REPO_ROOT / "scenarios" / "close" / "send-then-close.json"
    bad = CASES / case / "input.json"
    text = check(str(good), str(bad))
    proc = check("--json", str(good), str(bad))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == text.stderr


def test_a_folder_checks_names_against_places(tmp_path: Path) -> None:
    write(tmp_path, scenario("close/right", [{"delay_ms": 1}]))
    misplaced = write(tmp_path, scenario("close/wrong", [{"delay_ms": 1}]), "other/place")
    proc = check("--json", "--scenarios", str(tmp_path))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert f"{misplaced}: name: 'close/wrong' does not match the file's place" in proc.stderr


def test_two_files_with_one_name_are_refused(tmp_path: Path) -> None:
    one = write(tmp_path, scenario("same", [{"delay_ms": 1}]), "one")
    two = write(tmp_path, scenario("same", [{"delay_ms": 1}]), "two")
    proc = check("--json", str(one), str(two))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "duplicate scenario name 'same'" in proc.stderr


def test_plain_check_keeps_its_text(tmp_path: Path) -> None:
    path = write(tmp_path, scenario("x", [{"delay_ms": 1}]))
    proc = check(str(path))
    assert proc.returncode == 0
    assert proc.stdout == f"ok {path} (x, 1 steps)\n"


def test_no_file_gives_the_knob_defaults_alone() -> None:
    """A job built by hand gets complete knobs from the loader's one table."""
    proc = check("--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "scenarios": [],
        "knob_defaults": {
            "recv_delay_ms": 0,
            "recv_pace_ms": 0,
            "recv_timeout_ms": 3000,
            "max_messages": 1000,
            "echo": False,
            "send": [],
            "close_first": None,
            "subprotocols": [],
            "compression": "default",
        },
    }
    plain = check()
    assert (plain.returncode, plain.stdout) == (2, "")
    assert "--check needs at least one FILE" in plain.stderr
