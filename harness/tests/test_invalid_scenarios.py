"""Malformed scenario files are refused with the file, the JSON path and what is wrong.

Each folder under data/invalid-scenarios/ holds one mistake: input.json and
the expected message after the file name (error).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import WSREPLAY
from wsreplay.build import server_binary
from wsreplay.paths import REPO_ROOT

CASES = Path(__file__).parent / "data" / "invalid-scenarios"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def test_there_is_a_case_per_mistake_kind() -> None:
    assert len(CASE_NAMES) >= 20


def server(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """wsreplay-server with these arguments, its output captured."""
    return subprocess.run(
        [str(server_binary()), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize("case", CASE_NAMES)
def test_check_refuses_with_file_and_path(case: str) -> None:
    file = CASES / case / "input.json"
    expected = (CASES / case / "error").read_text().rstrip("\n")
    proc = server("--check", str(file))
    assert proc.returncode == 1
    assert proc.stderr.rstrip("\n") == f"{file}{expected}"


def _cap_address_space() -> None:
    cap = 512 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@pytest.mark.parametrize(
    "case", ["count-past-group-limit", "items-past-group-limit", "groups-past-scenario-limit"]
)
def test_size_limits_refuse_before_building(case: str) -> None:
    """Issue 12 D1/D2: an item's expanded size is weighed before it is built.

    The 156-byte count file once asked for 6 GB and died out of memory; under
    a 512 MB address-space cap it must get the limit error, not an
    allocation failure. (Sanitizer builds reserve terabytes of shadow memory,
    so they cannot run under the cap.)
    """
    binary = server_binary()
    if b"__asan_init" in binary.read_bytes():
        pytest.skip("an AddressSanitizer build cannot run under an address-space cap")
    file = CASES / case / "input.json"
    expected = (CASES / case / "error").read_text().rstrip("\n")
    proc = subprocess.run(
        [str(binary), "--check", str(file)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_cap_address_space,
    )
    assert proc.returncode == 1
    assert proc.stderr.rstrip("\n") == f"{file}{expected}"


@pytest.mark.parametrize("case", ["unknown-step", "wrong-type-close", "bad-json"])
def test_server_refuses_to_start(case: str, tmp_path: Path) -> None:
    good = tmp_path / "close"
    good.mkdir()
    shutil.copy(REPO_ROOT / "scenarios" / "close" / "send-then-close.json", good)
    (tmp_path / "x").mkdir()
    bad = tmp_path / "x" / "y.json"
    shutil.copy(CASES / case / "input.json", bad)
    proc = server("--scenarios", str(tmp_path))
    expected = (CASES / case / "error").read_text().rstrip("\n")
    assert proc.returncode == 2
    assert proc.stdout == ""  # never a "listening" line
    assert f"{bad}{expected}" in proc.stderr


def test_name_must_match_the_file_place(tmp_path: Path) -> None:
    (tmp_path / "close").mkdir()
    target = tmp_path / "close" / "renamed.json"
    shutil.copy(REPO_ROOT / "scenarios" / "close" / "send-then-close.json", target)
    proc = server("--scenarios", str(tmp_path))
    assert proc.returncode == 2
    assert (
        f"{target}: name: 'close/send-then-close' does not match the file's place; "
        "expected 'close/renamed'"
    ) in proc.stderr


def test_wsreplay_run_reports_a_bad_catalogue(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    bad = tmp_path / "x" / "y.json"
    shutil.copy(CASES / "unknown-step" / "input.json", bad)
    proc = subprocess.run(
        [
            WSREPLAY,
            "run",
            "--scenarios-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert f"{bad}: steps[1]: unknown step 'explode'" in proc.stderr


def test_wsreplay_check_uses_the_server_checks() -> None:
    file = CASES / "wrong-type-text" / "input.json"
    good = REPO_ROOT / "scenarios" / "close" / "send-then-close.json"
    proc = subprocess.run(
        [WSREPLAY, "check", str(good), str(file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"ok {good}" in proc.stdout
    assert f"{file}: steps[0].write[0].text: expected a string, got integer" in proc.stderr


def test_every_catalogue_scenario_is_valid() -> None:
    files = sorted((REPO_ROOT / "scenarios").rglob("*.json"))
    proc = server("--check", *map(str, files), timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_check_refuses_a_fifo_without_reading_it(tmp_path: Path) -> None:
    """A FIFO used to block `check` forever (no writer ever comes)."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    proc = subprocess.run(
        [WSREPLAY, "check", str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr == f"{fifo}: not a regular file (a FIFO)\n"


def test_check_refuses_a_directory_as_what_it_is(tmp_path: Path) -> None:
    folder = tmp_path / "folder.json"
    folder.mkdir()
    proc = subprocess.run(
        [WSREPLAY, "check", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr == f"{folder}: not a regular file (a directory)\n"
    assert "invalid JSON" not in proc.stderr


def test_server_refuses_a_fifo_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "close").mkdir()
    shutil.copy(REPO_ROOT / "scenarios" / "close" / "send-then-close.json", tmp_path / "close")
    fifo = tmp_path / "close" / "pipe.json"
    os.mkfifo(fifo)
    proc = server("--scenarios", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{fifo}: not a regular file (a FIFO)" in proc.stderr


def test_server_and_check_refuse_a_broken_symlink_in_the_folder(tmp_path: Path) -> None:
    """A dangling `*.json` symlink used to be skipped without a word: a
    scenario silently missing from the server and from `check --scenarios`."""
    (tmp_path / "close").mkdir()
    shutil.copy(REPO_ROOT / "scenarios" / "close" / "send-then-close.json", tmp_path / "close")
    (tmp_path / "close" / "notes.md").symlink_to("nowhere.md")  # not a scenario: skipped
    link = tmp_path / "close" / "gone.json"
    link.symlink_to("../moved/gone.json")
    expected = f"{link}: broken symlink (to ../moved/gone.json, which does not exist)"
    proc = server("--scenarios", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert expected in proc.stderr
    check = server("--check", "--scenarios", str(tmp_path))
    assert check.returncode == 1
    assert expected in check.stderr
    one = subprocess.run([WSREPLAY, "check", str(link)], capture_output=True, text=True, timeout=60)
    assert one.returncode == 1
    assert one.stderr == expected + "\n"
    link.unlink()  # the other dangling link alone does not stop anything
    assert server("--check", "--scenarios", str(tmp_path)).returncode == 0


def test_server_refuses_an_empty_folder(tmp_path: Path) -> None:
    """It used to start and serve nothing (and qsort(NULL, 0) under UBSan)."""
    (tmp_path / "sub").mkdir()  # folders, but no scenario
    (tmp_path / "notes.txt").write_text("not a scenario\n")
    proc = server("--scenarios", str(tmp_path), "--port", "0")
    assert proc.returncode == 2
    assert proc.stdout == ""  # never a "listening" line
    assert f"{tmp_path}: no scenario (no *.json file under it)" in proc.stderr
    check = server("--check", "--scenarios", str(tmp_path))
    assert check.returncode == 1
    assert f"{tmp_path}: no scenario" in check.stderr


def renamed(tmp_path: Path, file: str, name: str) -> Path:
    """send-then-close, claiming name, written to tmp_path/file."""
    doc = json.loads((REPO_ROOT / "scenarios" / "close" / "send-then-close.json").read_text())
    doc["name"] = name
    path = tmp_path / file
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize("name", ["../escape", "close/../../x", ".hidden", "-rf", "a//b", "a b"])
def test_check_refuses_names_no_folder_can_hold(tmp_path: Path, name: str) -> None:
    """The server would refuse such a file in any folder; `check` must too."""
    path = renamed(tmp_path, "x.json", name)
    proc = subprocess.run(
        [WSREPLAY, "check", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"{path}: name: '{name}' is not a scenario name")


def test_check_refuses_one_name_in_two_files(tmp_path: Path) -> None:
    one = renamed(tmp_path, "one.json", "close/same")
    two = renamed(tmp_path, "two.json", "close/same")
    proc = subprocess.run(
        [WSREPLAY, "check", str(one), str(two)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "duplicate scenario name 'close/same'" in proc.stderr
    assert str(one) in proc.stderr and str(two) in proc.stderr
