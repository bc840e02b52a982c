"""The command line: help, listing, and clear refusals with exit status 2."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import WSREPLAY, wsreplay
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.scenarios import load_all


def test_help_explains_the_commands() -> None:
    proc = wsreplay("--help")
    assert proc.returncode == 0
    for word in ("run", "scenarios", "check"):
        assert word in proc.stdout
    proc = wsreplay("run", "--help")
    assert "--client" in proc.stdout and "ADAPTER[@VERSION]" in proc.stdout
    assert "exit status" in proc.stdout


def test_scenarios_lists_every_scenario_with_its_summary() -> None:
    proc = wsreplay("scenarios")
    assert proc.returncode == 0
    for s in load_all(SCENARIOS_DIR):
        assert s["name"] in proc.stdout
        assert s["summary"][:40] in proc.stdout


def test_scenarios_by_tag() -> None:
    proc = wsreplay("scenarios", "--tag", "founding")
    assert proc.stdout.strip().startswith("close/send-then-close ")
    assert proc.stdout.strip().splitlines()[1:] == ["(1 scenario)"]


def test_unknown_adapter_is_refused(tmp_path: Path) -> None:
    proc = wsreplay(
        "run", "--client", "cobol-websockets@1.0", "--scenario", "close/send-then-close",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cobol-websockets" in proc.stderr
    assert "python-websockets" in proc.stderr  # lists the known ones


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    proc = wsreplay("run", "--scenario", "close/no-such-thing*", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "'close/no-such-thing*' matches no scenario" in proc.stderr


def test_version_without_the_api_is_refused(tmp_path: Path) -> None:
    proc = wsreplay(
        "run", "--client", "python-websockets-asyncio@12.0", "--scenario", "close/send-then-close",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "13.0" in proc.stderr


OUT_OF_RANGE = "python-websockets-asyncio@12.0"  # websockets.asyncio arrived in 13.0
REFUSAL = "python-websockets-asyncio needs websockets >= 13.0"


@pytest.mark.parametrize(
    "args",
    [
        # run: the bad spec second, after a good one that would install first
        ["run", "--client", "python-websockets@14.1", "--client", OUT_OF_RANGE],
        ["compare", "python-websockets@14.1", OUT_OF_RANGE],
        ["compare", OUT_OF_RANGE, "python-websockets-asyncio@14.1"],
        ["bisect", "python-websockets-asyncio", "--good", "12.0", "--bad", "14.0"],
    ],
    ids=["run", "compare-new", "compare-old", "bisect"],
)
def test_a_spec_outside_the_range_is_refused_before_anything_starts(
    tmp_path: Path, args: list[str]
) -> None:
    """Exit 2 with the reason, and nothing started: no header, no server, no
    folder (the run's TLS keys used to land in it), nothing installed."""
    out = tmp_path / "out"
    proc = wsreplay(*args, "--scenario", "close/send-then-close", "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert REFUSAL in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # the refusal line only
    assert proc.stdout == ""
    assert not out.exists()


def test_no_command_prints_help() -> None:
    proc = wsreplay()
    assert proc.returncode == 2
    assert "usage" in proc.stdout


def test_sigterm_stops_the_run_cleanly_with_reports(tmp_path: Path) -> None:
    """A CI runner cancelling the job sends SIGTERM: reports written, server stopped, 143."""
    proc = subprocess.Popen(
        [WSREPLAY, "run", "--client", "python-websockets@14.1",
         "--scenario", "close/*", "--out", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    records = tmp_path / "records.jsonl"
    while time.monotonic() < deadline and not (records.exists() and records.stat().st_size):
        time.sleep(0.1)  # the first result is in: the run is under way
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "terminated (SIGTERM)" in stderr
    for name in ("report.json", "junit.xml", "summary.md", "report.html"):
        assert (tmp_path / name).is_file(), name
    # written at the end, from every record the run had finished
    written = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert len(written["results"]) == len(records.read_text(encoding="utf-8").splitlines())
    # an interrupted run does not pass for a complete one (issue 12 D3)
    assert written["finished"] is None and written["duration_ms"] is None
    assert written["totals"]["total"] == len(written["results"])
    assert "not finished" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    # and `wsreplay report` leaves the run's own report alone
    again = subprocess.run([WSREPLAY, "report", str(tmp_path)], capture_output=True, text=True)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout
    server = subprocess.run(["pgrep", "-f", f"wsreplay-server.*{tmp_path}"], capture_output=True)
    assert server.returncode == 1, "the server outlived the run"


@pytest.mark.parametrize(("command", "says_report"), [("check", False), ("run", True)])
def test_sigterm_mentions_a_report_only_for_commands_that_write_one(
    command: str, says_report: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """SIGTERM (raised here as the handler raises it) while `check` works: it writes no report."""
    from wsreplay import cli

    def terminated(args: object) -> int:
        raise cli.Terminated

    monkeypatch.setattr(cli.signal, "signal", lambda *a: None)  # keep pytest's handlers
    monkeypatch.setattr(cli, f"cmd_{command}", terminated)
    assert cli.main([command, "x.json"] if command == "check" else [command]) == 143
    err = capsys.readouterr().err
    assert err.startswith("wsreplay: terminated (SIGTERM)")
    assert ("report so far is written" in err) == says_report
