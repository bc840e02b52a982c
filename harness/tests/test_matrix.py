"""Console output: progress lines and the scenario × client matrix."""

from __future__ import annotations

import io
import re

import pytest

from wsreplay.outputs import matrix

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def rec(scenario: str, client: str, version: str | None, verdict: str, reason: str = "r") -> dict:
    return {
        "scenario": scenario,
        "client": client,
        "resolved_version": version,
        "verdict": verdict,
        "reason": reason,
    }


def report(finished: str | None = "2026-11-26T09:31:00.000000Z") -> dict:
    return {
        "finished": finished,
        "clients": [
            {"spec": "python-websockets@13.1", "resolved_version": "13.1"},
            {"spec": "python-websockets@14.0", "resolved_version": "14.0"},
            {"spec": "python-websockets", "resolved_version": "14.1"},
            {"spec": "node-ws@8", "resolved_version": "8.18.0"},
        ],
        "scenarios": [
            {"name": "close/send-then-close"},
            {"name": "close/split-close"},
            {"name": "handshake/bad-accept"},
        ],
        "results": [
            rec("close/send-then-close", "python-websockets@13.1", "13.1", "pass"),
            rec("close/send-then-close", "python-websockets@14.0", "14.0", "fail"),
            rec("close/send-then-close", "python-websockets", "14.1", "pass"),
            rec("close/send-then-close", "node-ws@8", "8.18.0", "error"),
            rec("close/split-close", "python-websockets@13.1", "13.1", "non-strict"),
            rec("close/split-close", "python-websockets@14.0", "14.0", "informational"),
            rec("handshake/bad-accept", "python-websockets@14.0", "14.0", "pass"),
        ],
    }


EXPECTED_MATRIX = """\
scenario               python-websockets@13.1  python-websockets@14.0  python-websockets@14.1  node-ws@8 (8.18.0)
close/send-then-close  PASS                    FAIL                    PASS                    ERROR
close/split-close      NON-STRICT              INFO                    -                       -
handshake/bad-accept   -                       PASS                    -                       -
7 results: 3 pass, 1 fail, 1 non-strict, 1 informational, 1 error
"""


def test_matrix_plain() -> None:
    assert matrix.render_matrix(report()) == EXPECTED_MATRIX


def test_matrix_flags_an_unfinished_run() -> None:
    text = matrix.render_matrix(report(finished=None))
    assert text.splitlines()[-1].endswith("1 error (run not finished)")


def test_matrix_in_colour_keeps_the_columns() -> None:
    text = matrix.render_matrix(report(), color=True)
    assert "\x1b[1;31mFAIL\x1b[0m" in text
    assert "\x1b[32mPASS\x1b[0m" in text
    assert ANSI.sub("", text) == EXPECTED_MATRIX


def test_matrix_includes_results_for_undeclared_scenarios_and_clients() -> None:
    data = {
        "finished": None,
        "clients": [],
        "scenarios": [],
        "results": [rec("a/b", "go-gorilla", "1.5.3", "fail")],
    }
    lines = matrix.render_matrix(data).splitlines()
    assert lines[0] == "scenario  go-gorilla@1.5.3"
    assert lines[1] == "a/b       FAIL"
    assert (
        lines[2]
        == "1 result: 0 pass, 1 fail, 0 non-strict, 0 informational, 0 error (run not finished)"
    )


@pytest.mark.parametrize(
    ("spec", "resolved", "label"),
    [
        ("python-websockets@14.0", "14.0", "python-websockets@14.0"),
        ("python-websockets", "14.1", "python-websockets@14.1"),
        ("node-ws@8", "8.18.0", "node-ws@8 (8.18.0)"),
        ("node-ws@8", None, "node-ws@8"),
    ],
)
def test_client_label(spec: str, resolved: str | None, label: str) -> None:
    assert matrix.client_label(spec, resolved) == label


def test_progress_lines_are_aligned_and_plain_off_a_terminal() -> None:
    out = io.StringIO()
    progress = matrix.Progress(12, out, scenario_width=21, client_width=22)
    progress.add(
        rec(
            "close/send-then-close",
            "python-websockets@14.0",
            "14.0",
            "fail",
            "the message 'final message' was not received",
        )
    )
    progress.add(rec("close/split-close", "python-websockets", "14.1", "pass", "ok"))
    assert out.getvalue() == (
        "[ 1/12] close/send-then-close  python-websockets@14.0  FAIL        "
        "the message 'final message' was not received\n"
        "[ 2/12] close/split-close      python-websockets@14.1  PASS        ok\n"
    )


def test_progress_colours_only_the_verdict_when_asked() -> None:
    out = io.StringIO()
    line = matrix.Progress(3, out, color=True).add(rec("a/b", "c", "1", "error", "why"))
    assert line == "[1/3] a/b  c@1  ERROR       why"
    assert out.getvalue() == "[1/3] a/b  c@1  \x1b[35mERROR\x1b[0m       why\n"


def test_progress_fits_a_terminal_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "40")
    out = FakeTTY()
    full = matrix.Progress(1, out).add(rec("a/b", "c", "1", "fail", "x" * 100))
    shown = ANSI.sub("", out.getvalue().rstrip("\n"))
    assert len(full) > 40
    assert len(shown) == 40 and shown.endswith("…")
    assert "\x1b[1;31mFAIL\x1b[0m" in out.getvalue()


def test_colour_needs_a_terminal_and_no_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert matrix.use_color(FakeTTY()) is True
    assert matrix.use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert matrix.use_color(FakeTTY()) is False
    monkeypatch.setenv("NO_COLOR", "")
    assert matrix.use_color(FakeTTY()) is False


def test_progress_decides_colour_from_its_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = FakeTTY()
    matrix.Progress(1, out).add(rec("a/b", "c", "1", "pass"))
    assert "\x1b[" not in out.getvalue()
