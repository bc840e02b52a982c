"""The full matrix: every adapter at its newest release over the whole catalogue.

Too long for the default test command (about half an hour on 2 cores), so it
runs only when asked: `WSREPLAY_FULL_MATRIX=1 python3 -m pytest -q
harness/tests/test_full_matrix.py` (or `./run-matrix` for the report alone).
Every cell must have a verdict and a reason; the report must validate.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA, SCENARIOS_DIR
from wsreplay.scenarios import load_all, select_run

only_when_asked = pytest.mark.skipif(
    os.environ.get("WSREPLAY_FULL_MATRIX") != "1",
    reason="the full matrix takes about half an hour: set WSREPLAY_FULL_MATRIX=1",
)

#: Twelve libraries (the python-websockets APIs count as one) plus the
#: worked example of docs/adding-an-adapter.md; ./run-matrix has the same list.
ADAPTERS = [
    "python-websockets", "python-aiohttp", "python-websocket-client", "python-tornado",
    "python-simple-websocket", "node-ws", "node-undici", "go-gorilla", "go-coder",
    "rust-tungstenite", "java-okhttp", "java-websocket", "chromium",
]  # fmt: skip


def test_run_matrix_lists_the_same_adapters() -> None:
    script = (REPO_ROOT / "run-matrix").read_text()
    listed = script.split("for adapter in", 1)[1].split("; do", 1)[0].replace("\\", " ").split()
    assert listed == ADAPTERS


@pytest.mark.e2e
@only_when_asked
def test_every_cell_has_a_verdict_and_a_reason(tmp_path: Path) -> None:
    out = Path(os.environ.get("WSREPLAY_MATRIX_OUT", tmp_path))
    proc = subprocess.run(
        [str(REPO_ROOT / "run-matrix"), "--out", str(out)],
        capture_output=True, text=True, timeout=4 * 3600,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    # run-matrix runs the default selection: the scenarios tagged slow stay out
    names = [s["name"] for s in select_run(load_all(SCENARIOS_DIR), [], [], False)]
    assert [c["spec"] for c in report["clients"]] == ADAPTERS
    assert all(c["status"] == "ok" for c in report["clients"]), report["clients"]
    cells = {(r["scenario"], r["client"]): r for r in report["results"]}
    assert len(cells) == len(names) * len(ADAPTERS)
    for (scenario, client), record in cells.items():
        assert record["verdict"] in ("pass", "fail", "non-strict", "informational", "error")
        assert record["reason"].strip(), (scenario, client)
