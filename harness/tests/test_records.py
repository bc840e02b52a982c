"""records.jsonl, run.json and `wsreplay report`: a run's records as they finish,
report.json written once, and a killed run's report rebuilt."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import wsreplay.outputs as outputs
from conftest import WSREPLAY, wsreplay
from wsreplay.outputs import recordlog
from wsreplay.outputs import report as rep
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.running.runner import Run, RunPlan
from wsreplay.scenarios import load_all, select

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "results" / "report.schema.json").read_text()
)
CLIENT = "python-websockets@14.1"


def validator(ref: str | None = None) -> jsonschema.Draft202012Validator:
    """The report schema, or one of its definitions (`result`: a record's shape)."""
    schema = SCHEMA if ref is None else {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{ref}"}
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_a_run_killed_with_sigkill_leaves_every_finished_record_and_report_rebuilds_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    records = out / recordlog.RECORDS_NAME
    # its own process group: the kill takes the server and the adapter with it
    proc = subprocess.Popen(
        [WSREPLAY, "run", "--client", CLIENT, "--scenario", "close/*", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            records.exists() and len(lines_of(records)) >= 3
        ):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / rep.REPORT_NAME).exists(), "report.json is written at the end only"
    server = subprocess.run(["pgrep", "-f", f"wsreplay-server.*{out}"], capture_output=True)
    assert server.returncode == 1, "the server outlived the kill"

    lines = lines_of(records)
    assert len(lines) >= 3
    shape = validator("result")
    selected = {s["name"] for s in select(load_all(SCENARIOS_DIR), ["close/*"])}
    for line in lines:
        record = json.loads(line)  # every line one complete record
        shape.validate(record)
        assert record["scenario"] in selected and record["client"] == CLIENT
    assert len({json.loads(line)["scenario"] for line in lines}) == len(lines)

    proc2 = wsreplay("report", str(out))
    assert proc2.returncode == 0, proc2.stderr
    assert f"{len(lines)} record(s) of a run that did not finish" in proc2.stdout
    rebuilt = json.loads((out / rep.REPORT_NAME).read_text(encoding="utf-8"))
    validator().validate(rebuilt)
    # every finished record, in the catalogue's order (parallel jobs finish
    # in any order; records.jsonl keeps theirs)
    order = [s["name"] for s in rebuilt["scenarios"]]
    written = sorted((json.loads(line) for line in lines), key=lambda r: order.index(r["scenario"]))
    assert rebuilt["results"] == written
    assert rebuilt["finished"] is None and rebuilt["duration_ms"] is None
    assert rebuilt["totals"]["total"] == len(lines)
    assert [c["spec"] for c in rebuilt["clients"]] == [CLIENT]
    for name in ("junit.xml", "summary.md", "report.html"):
        assert (out / name).is_file(), name
    assert "run not finished" in (out / "summary.md").read_text(encoding="utf-8")


def test_report_json_is_written_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not after each result (that made a run quadratic): once, at the end."""
    writes: list[Path] = []
    real = rep.write_report

    def counting(report: dict, out_dir: Path, texts: list[str] | None = None) -> Path:
        writes.append(Path(out_dir))
        return real(report, out_dir, texts)

    monkeypatch.setattr(rep, "write_report", counting)
    monkeypatch.setattr(outputs, "write_report", counting)
    scenarios = select(load_all(SCENARIOS_DIR), ["close/send-then-*"])
    assert len(scenarios) >= 3
    plan = RunPlan(
        scenarios=scenarios,
        client_specs=[CLIENT],
        out_dir=tmp_path,
        scenarios_dir=SCENARIOS_DIR,
        command=["wsreplay", "run"],
    )
    result = Run(plan, io.StringIO()).execute()
    assert writes == [tmp_path]
    assert len(result["results"]) == len(scenarios)
    written = json.loads((tmp_path / rep.REPORT_NAME).read_text(encoding="utf-8"))
    assert written["finished"] is not None
    streamed = [json.loads(line) for line in lines_of(tmp_path / "records.jsonl")]
    assert sorted(written["results"], key=str) == sorted(streamed, key=str)
    order = [s["name"] for s in scenarios]
    assert [r["scenario"] for r in written["results"]] == order, "the catalogue's order"
    # a finished run's folder: `wsreplay report` leaves it alone
    assert recordlog.report_is_current(tmp_path)


def header(run_id: str = "r1") -> dict:
    report = rep.new_report(run_id, "0.1.0", "0.1.0", ["wsreplay", "run"])
    rep.add_client(report, {"spec": CLIENT})
    return report


def record(scenario: str, verdict: str = "pass") -> Any:
    return {"scenario": scenario, "client": CLIENT, "verdict": verdict}


def test_record_log_starts_afresh_in_a_reused_folder_and_writes_a_line_per_record(
    tmp_path: Path,
) -> None:
    (tmp_path / recordlog.RECORDS_NAME).write_text('{"from": "an earlier run"}\n')
    log = recordlog.RecordLog(tmp_path)
    log.write_header(header())
    log.append(record("a"))
    # flushed: readable before the log is closed
    assert [json.loads(x) for x in lines_of(tmp_path / recordlog.RECORDS_NAME)] == [record("a")]
    log.append(record("b", "fail"))
    log.close()
    with pytest.raises(ValueError):
        log.append(record("c"))
    assembled, skipped = recordlog.assemble(tmp_path)
    assert skipped == 0
    assert [r["scenario"] for r in assembled["results"]] == ["a", "b"]
    assert assembled["totals"]["fail"] == 1 and assembled["totals"]["total"] == 2
    assert list(assembled) == list(header())  # report.json's key order


def test_assemble_skips_a_cut_last_line(tmp_path: Path) -> None:
    recordlog.RecordLog(tmp_path).write_header(header())
    (tmp_path / recordlog.RECORDS_NAME).write_text(
        json.dumps(record("a")) + "\n" + '{"scenario": "b", "cli'
    )
    assembled, skipped = recordlog.assemble(tmp_path)
    assert [r["scenario"] for r in assembled["results"]] == ["a"] and skipped == 1


def test_assemble_with_no_records_yet(tmp_path: Path) -> None:
    log = recordlog.RecordLog(tmp_path)
    log.write_header(header())
    log.close()
    assembled, _ = recordlog.assemble(tmp_path)
    assert assembled["results"] == [] and assembled["totals"]["total"] == 0
    validator().validate(assembled)


def test_report_command_refuses_a_folder_without_records(tmp_path: Path) -> None:
    proc = wsreplay("report", str(tmp_path))
    assert proc.returncode == 2
    assert "no run.json or records.jsonl" in proc.stderr
    assert not (tmp_path / rep.REPORT_NAME).exists()


def test_report_is_current_only_for_the_same_run_with_all_its_records(tmp_path: Path) -> None:
    recordlog.RecordLog(tmp_path).write_header(header("r2"))
    assert not recordlog.report_is_current(tmp_path)  # none yet
    first = header("r2")
    rep.write_report(rep.finish(header("r1")), tmp_path)
    assert not recordlog.report_is_current(tmp_path)  # another run's
    # an earlier run in the same --out folder: the same run_id, started earlier
    rep.write_report(rep.finish(first), tmp_path)
    recordlog.RecordLog(tmp_path).write_header(header("r2"))
    assert not recordlog.report_is_current(tmp_path)
    current = header("r2")
    log = recordlog.RecordLog(tmp_path)
    log.write_header(current)
    log.append(record("a"))
    rep.write_report(current, tmp_path)
    assert not recordlog.report_is_current(tmp_path)  # a record it lacks: killed
    rep.add_result(current, record("a"))
    rep.write_report(rep.close_interrupted(current), tmp_path)
    assert recordlog.report_is_current(tmp_path)  # interrupted: every record, not finished
    log.append(record("b"))
    assert not recordlog.report_is_current(tmp_path)  # the run went on after it
    rep.add_result(current, record("b"))
    rep.write_report(rep.finish(current), tmp_path)
    assert recordlog.report_is_current(tmp_path)
