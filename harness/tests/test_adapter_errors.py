"""A crashed, hung or babbling adapter: an `error` verdict quoting its stderr, not a lost row."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import adapter_e2e as e2e
from wsreplay.running.adapterproc import AdapterProcess, AdapterStartError
from wsreplay.running.runner import run_one
from wsreplay.running.server import ScenarioServer

BROKEN = Path(__file__).parent / "data" / "broken_adapter.py"


def broken(mode: str, tmp_path: Path) -> AdapterProcess:
    return AdapterProcess(
        f"broken-{mode}", [sys.executable, str(BROKEN), mode], {}, tmp_path / f"{mode}.stderr.log"
    )


@pytest.mark.parametrize(
    "mode, words",
    [
        ("crash", ["exited with status 1", "deliberate crash in the broken adapter"]),
        ("garbage", ["not JSON", "this is not JSON", "broken adapter got job"]),
    ],
)
def test_broken_adapter_gives_error_verdict(
    mode: str,
    words: list[str],
    tmp_path: Path,
    wsreplay_server: ScenarioServer,
    wsreplay_catalogue: dict[str, dict],
) -> None:
    adapter = broken(mode, tmp_path)
    adapter.start()
    record = run_one(
        wsreplay_server,
        adapter,
        f"broken-{mode}",
        "0",
        wsreplay_catalogue["close/send-then-close"],
        f"broken-{mode}",
    )
    assert record["verdict"] == "error"
    assert f"broken-{mode}" in record["reason"]
    for word in words:
        assert word in record["reason"]
    # the next job gets a fresh process, and the same clear error
    again = run_one(
        wsreplay_server,
        adapter,
        f"broken-{mode}",
        "0",
        wsreplay_catalogue["close/send-then-close"],
        f"broken-{mode}-2",
    )
    assert again["verdict"] == "error"
    adapter.close()


def test_hung_adapter_is_killed_at_its_deadline(tmp_path: Path) -> None:
    adapter = broken("hang", tmp_path)
    adapter.start()
    job = {"id": "1", "url": "ws://127.0.0.1:9/x", "knobs": e2e.knobs()}
    outcome = adapter.run_job(job, timeout_s=1.5)
    assert outcome.observation is None
    assert outcome.error is not None
    assert "did not answer within 2 s (hung)" in outcome.error
    assert "broken adapter got job 1 in mode hang" in outcome.error
    assert adapter.proc is not None and adapter.proc.poll() is not None  # killed


@pytest.mark.parametrize(
    "mode, words",
    [
        ("no-ready", ["exited with status 1", "cannot import the library under test"]),
        ("unsupported", ["version 0 has no such API"]),
    ],
)
def test_adapter_that_cannot_start(mode: str, words: list[str], tmp_path: Path) -> None:
    adapter = broken(mode, tmp_path)
    with pytest.raises(AdapterStartError) as info:
        adapter.start()
    text = str(info.value) + info.value.stderr
    for word in words:
        assert word in text
    assert info.value.unsupported == (mode == "unsupported")


@pytest.mark.parametrize(
    ("mode", "verdict", "words"),
    [
        (
            "go-panic-library",
            "fail",
            ["the library crashed: go panic", "index out of range", "(*Conn).NextReader"],
        ),
        ("go-panic-adapter", "error", ["exited with status 2", "main.receive"]),
    ],
)
def test_a_process_killed_by_its_library_is_a_fail_not_an_error(
    mode: str,
    verdict: str,
    words: list[str],
    tmp_path: Path,
    wsreplay_server: ScenarioServer,
    wsreplay_catalogue: dict[str, dict],
) -> None:
    """The crash report must point into the library (here gorilla's package path)."""
    adapter = broken(mode, tmp_path)
    adapter.start()
    record = run_one(
        wsreplay_server,
        adapter,
        "go-gorilla@v1.5.3",
        "v1.5.3",
        wsreplay_catalogue["close/send-then-close"],
        f"broken-{mode}",
    )
    assert record["verdict"] == verdict, record["reason"]
    for word in words:
        assert word in record["reason"]
