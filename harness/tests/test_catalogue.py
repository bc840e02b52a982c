"""Every scenario in the catalogue runs against the newest python-websockets.

Each pair must end with a verdict and a reason, and the report must
validate against results/report.schema.json.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA, SCENARIOS_DIR
from wsreplay.scenarios import load_all

pytestmark = pytest.mark.e2e


def test_whole_catalogue_against_newest(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(REPO_ROOT / "wsreplay"), "run", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    names = [s["name"] for s in load_all(SCENARIOS_DIR)]
    assert sorted(r["scenario"] for r in report["results"]) == sorted(names)
    for record in report["results"]:
        assert record["verdict"] in ("pass", "fail", "non-strict", "informational", "error")
        assert record["reason"].strip()
        # the newest release runs every scenario to a judgement about the library
        assert record["verdict"] != "error", (record["scenario"], record["reason"])
        assert record["transcript"] is not None
    assert report["clients"][0]["status"] == "ok"
    assert (tmp_path / "transcripts").is_dir()
    # progress went to stderr, one line per pair
    assert proc.stderr.count("python-websockets") >= len(names)
