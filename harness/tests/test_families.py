"""Scenario families: one file, many scenarios, expanded by the loader.

A file with "family": {"members": [...]} is expanded at load time into one
scenario per member, named the file's name + '/' + the member's id
(scenarios/README.md#families). Everything downstream sees only the
expanded names: the loader's normalized form, the listing, selection by glob
and tag, `show`, and a run's report. Errors name the file, the member and
its id.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import wsreplay
from wsreplay.build import server_binary


def family(name: str = "x/codes") -> dict:
    """A two-member family of close codes; the second member is tagged and
    expects its own close code."""
    return {
        "name": name,
        "summary": "A message, then a close frame with code {code} ({why}).",
        "rfc": ["6455#7.4.1"],
        "tags": ["close"],
        "family": {
            "members": [
                {"id": "1000", "vars": {"code": 1000, "why": "normal"}},
                {
                    "id": "4000",
                    "vars": {"code": 4000, "why": "private"},
                    "tags": ["close", "private-use"],
                    "rfc": ["6455#7.4.2"],
                },
            ]
        },
        "steps": [
            {"write": [{"text": "m{i}", "count": 2}, {"close": "{code}", "reason": "{why}"}]},
            {"await": "close", "timeout_ms": 2000},
        ],
        "expect": {
            "messages": [{"text": "m{i}", "count": 2}],
            "close": {"code": "{code}", "reason": "{why}"},
        },
    }


def write(root: Path, data: dict) -> Path:
    path = root / f"{data['name']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(server_binary()), "--check", *args], capture_output=True, text=True, timeout=60
    )


def catalogue(tmp_path: Path) -> Path:
    root = tmp_path / "scenarios"
    write(root, family())
    single = {
        "name": "x/single",
        "summary": "s",
        "rfc": ["6455#5"],
        "steps": [{"write": [{"close": 1000}]}, {"await": "close", "timeout_ms": 2000}],
        "expect": {"close": {"code": 1000}},
    }
    write(root, single)
    return root


def test_the_normalized_form_has_one_scenario_per_member(tmp_path: Path) -> None:
    root = catalogue(tmp_path)
    proc = check("--json", "--scenarios", str(root))
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)["scenarios"]
    assert [d["name"] for d in docs] == ["x/codes/1000", "x/codes/4000", "x/single"]
    first, second = docs[0], docs[1]
    assert first["file"] == second["file"] == str(root / "x" / "codes.json")
    assert "family" not in first
    assert first["steps"][0]["write"][1] == {"close": 1000, "reason": "normal"}
    assert first["steps"][0]["write"][0] == {"text": "m{i}", "count": 2}  # {i} stays
    assert second["expect"]["close"] == {"code": 4000, "reason": "private"}
    assert second["summary"] == "A message, then a close frame with code 4000 (private)."
    assert (first["tags"], second["tags"]) == (["close"], ["close", "private-use"])
    assert second["rfc"] == ["6455#7.4.2"]
    assert first["budget_ms"] == second["budget_ms"]


def test_check_says_ok_for_each_member(tmp_path: Path) -> None:
    path = write(tmp_path, family())
    proc = check(str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"ok {path} (x/codes/1000, 2 steps)",
        f"ok {path} (x/codes/4000, 2 steps)",
    ]


def test_an_error_names_the_file_the_member_and_its_id(tmp_path: Path) -> None:
    data = family()
    data["family"]["members"].append({"id": "65536", "vars": {"code": 65536, "why": "too big"}})
    path = write(tmp_path, data)
    proc = wsreplay("check", str(path))
    assert proc.returncode == 1
    expected = f'{path}: family.members[2] (id "65536"): expect.close.code: 65536 is out of range'
    assert expected in proc.stderr
    assert "ok " not in proc.stdout  # nothing of the file is accepted


def test_listing_selection_and_show_use_member_names(tmp_path: Path) -> None:
    root = catalogue(tmp_path)
    proc = wsreplay("scenarios", "--scenarios-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()[:-1]]
    assert names == ["x/codes/1000", "x/codes/4000", "x/single"]
    proc = wsreplay("scenarios", "--scenarios-dir", str(root), "x/codes/*")
    assert [line.split()[0] for line in proc.stdout.splitlines()[:-1]] == names[:2]
    proc = wsreplay("scenarios", "--scenarios-dir", str(root), "--tag", "private-use")
    assert [line.split()[0] for line in proc.stdout.splitlines()[:-1]] == ["x/codes/4000"]
    proc = wsreplay("scenarios", "--scenarios-dir", str(root), "show", "x/codes/4000")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("x/codes/4000\n")
    assert '"close": 4000' in proc.stdout


def test_a_run_reports_each_member_under_its_name(tmp_path: Path) -> None:
    """The server serves each member at its own URL path, and the report
    has one result per member (python-websockets reports every code)."""
    root = catalogue(tmp_path)
    out = tmp_path / "run"
    proc = wsreplay(
        "run", "--scenarios-dir", str(root), "--client", "python-websockets",
        "--scenario", "x/codes/*", "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    verdicts = {r["scenario"]: r["verdict"] for r in report["results"]}
    assert verdicts == {"x/codes/1000": "pass", "x/codes/4000": "pass"}


def test_the_catalogue_families_expand_with_stable_names() -> None:
    """The families in scenarios/: close codes valid and invalid (RFC 6455
    7.4 and the IANA registry), RSV values on each frame type, reserved
    opcodes and payload length forms."""
    proc = wsreplay("scenarios", "close/code-*/*", "framing/rsv-*/*", "framing/reserved-opcode/*")
    assert proc.returncode == 0, proc.stderr
    names = {line.split()[0] for line in proc.stdout.splitlines()[:-1]}
    valid = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
    valid |= {3000, 3999, 4000, 4999}
    invalid = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}
    assert {f"close/code-valid/{c}" for c in valid} <= names
    assert {f"close/code-invalid/{c}" for c in invalid} <= names
    for kind in ("text", "binary", "continuation", "ping", "pong", "close"):
        assert {f"framing/rsv-{kind}/{r}" for r in range(1, 8)} <= names
    reserved = [*range(3, 8), *range(11, 16)]
    assert {f"framing/reserved-opcode/{op}" for op in reserved} <= names
    proc = wsreplay("scenarios", "framing/length-*/*")
    lengths = {line.split()[0] for line in proc.stdout.splitlines()[:-1]}
    boundaries = (0, 125, 126, 127, 128, 65535, 65536)
    for form in ("text", "binary", "text-chopped", "binary-chopped"):
        assert {f"framing/length-{form}/{n}" for n in boundaries} <= lengths
