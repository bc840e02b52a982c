"""junit.xml: held to results/junit.xsd, counts that match the report, and the
verdict mapping (fail → <failure>, error → <error>, non-strict and
informational → passes with the reason in <system-out>).

Also home of the reports the three output tests share: `sample_report()`,
built with the real evaluate() from hand-made observations (one of each
verdict, hostile characters, a repeated pair, a pair never run), and
`real_run()`, one `./wsreplay run` of 2 scenarios x 2 real client versions
per test session.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from conftest import WSREPLAY
from wsreplay import outputs
from wsreplay.judging.evaluate import evaluate
from wsreplay.judging.verdicts import totals as verdict_totals
from wsreplay.outputs import report as rep
from wsreplay.outputs.junit import JUNIT_NAME, render_junit, suite_name, write_junit
from wsreplay.outputs.records import pass_rate_text
from wsreplay.paths import REPORT_SCHEMA, RESULTS_DIR

JUNIT_XSD = RESULTS_DIR / "junit.xsd"
CLOSED_OK = "websockets.exceptions.ConnectionClosedOK"
ODD = "odd/<b>&amp; \"quoted\" 'single' | pipe"
# Would run code if any of it reached a page unescaped (test_html_report checks).
HOSTILE = (
    "<img src=x onerror=window.pwned=1></script><script>window.pwned=2</script> & \"q\" 'a' |x|"
)
REAL_SCENARIOS = ("close/send-then-close", "close/send-then-rst")
REAL_CLIENTS = ("python-websockets@14.0", "python-websockets@14.1")


# ------------------------------------------------------------ shared samples


def _scenario(name: str, severity: str = "fail", text: str = "final message", **extra) -> dict:
    return {
        "name": name,
        "summary": f"A text message and a close frame in one write ({name}).",
        "rfc": ["6455#5.5.1", "6455#7.1.1"],
        "tags": ["close", "delivery"],
        "bugs": [],
        "client": {"recv_delay_ms": 100},
        "steps": [],
        "expect": {
            "messages": [{"text": text}],
            "close": {"code": 1000, "reason": "bye"},
            "client_close": {"code": 1000},
        },
        "severity": severity,
        **extra,
    }


def _observation(messages: list[str]) -> dict:
    return {
        "id": "j",
        "connected": True,
        "messages": [
            {"type": "text", "length": len(m.encode()), "text": m, "t_ms": 101.4} for m in messages
        ],
        "close": {"code": 1000, "reason": "bye"},
        "end": "closed",
        "error": {"type": CLOSED_OK, "message": "received 1000 (OK) bye"},
        "unsupported": [],
        "events": [
            {"t_ms": 0.0, "event": "connect_start"},
            {"t_ms": 1.2, "event": "open"},
            {"t_ms": 101.3, "event": "recv_start"},
            {"t_ms": 101.9, "event": "closed", "code": 1000},
        ],
        "duration_ms": 102.0,
    }


def _transcript(name: str, text: str) -> dict:
    payload = text.encode()
    frame_hex = "81" + f"{len(payload):02x}" + payload.hex() + "880503e8627965"
    return {
        "run": "sample",
        "scenario": name,
        "peer": "127.0.0.1:40000",
        "started": "2026-11-26T09:30:00.000000Z",
        "complete": True,
        "end": {"reason": "complete", "detail": "steps done, client closed"},
        "events": [
            {"t_us": 0, "dir": "in", "type": "tcp_accept"},
            {
                "t_us": 180,
                "dir": "in",
                "type": "http_request",
                "bytes": 201,
                "method": "GET",
                "target": f"/{name}?run=sample",
                "headers": [["Host", "127.0.0.1"], ["X-Odd", HOSTILE]],
            },
            {"t_us": 220, "dir": "out", "type": "http_response", "status": 101, "bytes": 129},
            {"t_us": 230, "type": "step", "index": 0, "step": "write"},
            {
                "t_us": 231,
                "dir": "out",
                "type": "frame",
                "opcode": 1,
                "fin": True,
                "rsv": 0,
                "masked": False,
                "length": len(payload),
                "text": text,
            },
            {
                "t_us": 232,
                "dir": "out",
                "type": "frame",
                "opcode": 8,
                "fin": True,
                "rsv": 0,
                "masked": False,
                "length": 5,
                "close_code": 1000,
                "close_reason": "bye",
            },
            {
                "t_us": 233,
                "dir": "out",
                "type": "write",
                "bytes": len(frame_hex) // 2,
                "hex": frame_hex[:128],
                "hex_truncated": len(frame_hex) > 128,
            },
            {"t_us": 260, "dir": "out", "type": "acked", "bytes": len(frame_hex) // 2},
            {
                "t_us": 101800,
                "dir": "in",
                "type": "frame",
                "opcode": 8,
                "fin": True,
                "rsv": 0,
                "masked": True,
                "length": 5,
                "close_code": 1000,
                "close_reason": "bye",
            },
            {"t_us": 101830, "dir": "out", "type": "tcp_shutdown"},
            {"t_us": 102100, "dir": "in", "type": "tcp_eof"},
            {"t_us": 102110, "type": "closed"},
        ],
    }


SAMPLE_CLIENTS = ("python-websockets@14.0", "python-websockets")
# (scenario, client) → how the pair went; "lost" = the message did not arrive.
SAMPLE_PAIRS = {
    ("close/send-then-close", "python-websockets@14.0"): "lost",
    ("close/send-then-close", "python-websockets"): "repeated",  # 7 of 10 runs pass
    ("close/send-then-rst", "python-websockets@14.0"): "lost",
    ("close/send-then-rst", "python-websockets"): "ok",
    ("handshake/info-only", "python-websockets@14.0"): "lost",
    ("handshake/info-only", "python-websockets"): "adapter crashed",
    (ODD, "python-websockets@14.0"): "lost",
    # (ODD, "python-websockets") never ran: the run was interrupted
}


def sample_report(finished: bool = False) -> dict:
    """One of each verdict, hostile text, a repeated pair and a missing pair.

    Valid against report.schema.json.
    """
    scenarios = {
        "close/send-then-close": _scenario("close/send-then-close"),
        "close/send-then-rst": _scenario("close/send-then-rst", severity="non-strict"),
        "handshake/info-only": _scenario("handshake/info-only", severity="informational"),
        ODD: _scenario(ODD, text=HOSTILE, summary=HOSTILE, tags=["odd", "close"]),
    }
    scenarios[ODD]["bugs"] = [
        {"library": "x<y>", "versions": "1 & 2", "url": "javascript:alert(3)"},
        {"library": "websockets", "versions": "14.0", "url": "https://example.org/a?b=1&c=<2>"},
    ]
    report = rep.new_report("sample-run", "0.1.0", "0.1.0", ["wsreplay", "run", HOSTILE])
    report["started"] = "2026-11-26T09:30:00.000000Z"
    for scenario in scenarios.values():
        rep.add_scenario(report, scenario)
    for spec in SAMPLE_CLIENTS:
        rep.add_client(
            report,
            {
                "spec": spec,
                "requested_version": spec.partition("@")[2] or None,
                "resolved_version": "14.0" if "@" in spec else "15.0.1",
                "library": "websockets",
                "api": "websockets.connect",
                "language": "python 3.11.7",
            },
        )
    for (name, spec), how in SAMPLE_PAIRS.items():
        scenario = scenarios[name]
        if how == "repeated":
            runs = [_record(scenario, spec, "lost" if i in (2, 5, 8) else "ok") for i in range(10)]
            record = _combine(runs)
        else:
            record = _record(scenario, spec, how)
        rep.add_result(report, record)
    if finished:
        rep.finish(report)
        report.update(finished="2026-11-26T09:30:02.500000Z", duration_ms=2500.0)
    return report


def _record(scenario: dict, spec: str, how: str) -> dict:
    name = scenario["name"]
    text = scenario["expect"]["messages"][0]["text"]
    harness_error = None
    observation: dict | None = _observation([] if how == "lost" else [text])
    transcript: dict | None = _transcript(name, text)
    stderr = None
    if how == "adapter crashed":
        observation = transcript = None
        harness_error = f"the adapter exited with status 1: {HOSTILE}"
        stderr = "Traceback (most recent call last):\n  boom <&> \x1b[31m\n"
    verdict = evaluate(scenario, observation, transcript, harness_error)
    return rep.make_record(
        scenario,
        spec,
        "14.0" if "@" in spec else "15.0.1",
        verdict,
        observation,
        transcript,
        "2026-11-26T09:30:01.000000Z",
        123.456,
        stderr,
    )


def _combine(records: list[dict]) -> dict:
    """report.combine_runs (--repeat), or the same fields by hand where it does not exist."""
    combine = getattr(rep, "combine_runs", None)
    if combine is not None:
        return combine(records)
    passes = sum(r["verdict"] == "pass" for r in records)
    worst = next((r for r in records if r["verdict"] != "pass"), records[0])
    return {**worst, "runs": len(records), "passes": passes, "pass_rate": passes / len(records)}


def test_sample_report_has_one_of_each_verdict() -> None:
    report = sample_report()
    verdicts = {(r["scenario"], r["client"]): r["verdict"] for r in report["results"]}
    assert sorted(set(verdicts.values())) == sorted(
        ["pass", "fail", "non-strict", "informational", "error"]
    )
    repeated = next(r for r in report["results"] if r.get("runs", 1) > 1)
    assert (repeated["verdict"], repeated["passes"], repeated["runs"]) == ("fail", 7, 10)
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))


_REAL_RUN: dict[str, Path] = {}
_REAL_RUN_LOCK = threading.Lock()


def real_run(base: Path) -> tuple[dict, Path]:
    """One real `./wsreplay run` per test session: 2 scenarios x 2 websockets versions.

    The three writers are then run on its report.json (as the runner will),
    and the report and its folder are returned.
    """
    with _REAL_RUN_LOCK:
        if "dir" not in _REAL_RUN:
            out = base / "real-run"
            argv = [WSREPLAY, "run", "--out", str(out)]
            for spec in REAL_CLIENTS:
                argv += ["--client", spec]
            for name in REAL_SCENARIOS:
                argv += ["--scenario", name]
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900)
            assert proc.returncode in (0, 1), proc.stderr  # 1: a fail or error verdict
            report = json.loads((out / "report.json").read_text())
            outputs.write_all(report, out)
            _REAL_RUN["dir"] = out
    out = _REAL_RUN["dir"]
    return json.loads((out / "report.json").read_text()), out


# ------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(JUNIT_XSD))


def _suites(root: ET.Element) -> dict[str, ET.Element]:
    return {suite.get("name"): suite for suite in root.iter("testsuite")}


def _case(root: ET.Element, scenario: str, client: str) -> ET.Element:
    hits = [
        case
        for case in root.iter("testcase")
        if case.get("name") == scenario and case.get("classname") == client
    ]
    assert len(hits) == 1, (scenario, client, len(hits))
    return hits[0]


def _seconds(record: dict) -> float:
    """All runs of a pair: per_run when it ran several times, else timing."""
    runs = record.get("per_run") or []
    if len(runs) > 1:
        return sum(run["duration_ms"] for run in runs) / 1000
    return record["timing"]["duration_ms"] / 1000


def _check_against_report(root: ET.Element, report: dict) -> None:
    """Every count and every verdict in the XML agrees with report.json."""
    totals = verdict_totals(report["results"])
    assert root.tag == "testsuites"
    assert int(root.get("tests")) == totals["total"]
    assert int(root.get("failures")) == totals["fail"]
    assert int(root.get("errors")) == totals["error"]
    assert root.get("skipped") == "0"
    assert not list(root.iter("skipped"))
    suites = _suites(root)
    assert len(suites) == len(report["clients"])
    for client in report["clients"]:
        suite = suites[suite_name(report, client["spec"])]
        records = [r for r in report["results"] if r["client"] == client["spec"]]
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases) == len(records)
        assert int(suite.get("failures")) == sum(r["verdict"] == "fail" for r in records)
        assert int(suite.get("errors")) == sum(r["verdict"] == "error" for r in records)
        assert float(suite.get("time")) == pytest.approx(
            sum(_seconds(r) for r in records), abs=0.002 * len(records)
        )
    for record in report["results"]:
        case = _case(root, record["scenario"], record["client"])
        assert float(case.get("time")) == pytest.approx(_seconds(record), abs=0.001)
        failure, error = case.find("failure"), case.find("error")
        out = case.find("system-out").text
        assert out.startswith(f"{record['verdict']}: ")
        if record["verdict"] == "fail":
            assert error is None and failure is not None
            assert failure.get("type") == "fail"
            assert failure.get("message").startswith(record["reason"][:200])
        elif record["verdict"] == "error":
            assert failure is None and error is not None
            assert error.get("type") == "error"
        else:  # pass, non-strict, informational: a pass for JUnit
            assert failure is None and error is None


# ------------------------------------------------------------ the tests


def test_sample_report_against_schema_and_report(
    tmp_path: Path, junit_schema: xmlschema.XMLSchema
) -> None:
    report = sample_report(finished=True)
    path = write_junit(report, tmp_path)
    assert path == tmp_path / JUNIT_NAME
    junit_schema.validate(str(path))
    root = ET.parse(path).getroot()
    _check_against_report(root, report)
    # one suite per client, named after the spec and the version it resolved to
    assert set(_suites(root)) == {
        "python-websockets@14.0 (websockets 14.0)",
        "python-websockets (websockets 15.0.1)",
    }
    # the repeated pair says how often it passed
    repeated = _case(root, "close/send-then-close", "python-websockets")
    assert "passed 7/10 runs" in repeated.find("system-out").text
    assert "passed 7/10 runs" in repeated.find("failure").text
    assert float(repeated.get("time")) == pytest.approx(1.235, abs=0.002)  # all 10 runs
    # non-strict and informational are passes that keep their reason
    by_verdict = {r["verdict"]: r for r in report["results"]}
    for verdict in ("non-strict", "informational"):
        record = by_verdict[verdict]
        case = _case(root, record["scenario"], record["client"])
        assert case.find("system-out").text == f"{verdict}: {record['reason']}"
    # the failure body lists the check that did not hold, with both sides
    fail = by_verdict["fail"]
    body = _case(root, fail["scenario"], fail["client"]).find("failure").text
    assert "- messages (fail):" in body and "expected:" in body and "observed:" in body
    # the suite carries the client's facts
    props = {
        p.get("name"): p.get("value")
        for p in _suites(root)["python-websockets (websockets 15.0.1)"].iter("property")
    }
    assert props["resolved_version"] == "15.0.1" and props["run_id"] == "sample-run"
    assert float(root.get("time")) == pytest.approx(report["duration_ms"] / 1000, abs=0.001)


def test_hostile_text_survives(tmp_path: Path, junit_schema: xmlschema.XMLSchema) -> None:
    report = sample_report()
    weird = next(r for r in report["results"] if r["scenario"] == ODD)
    weird["reason"] = "bad\x00byte \x1b[31m lone \ud800 surrogate; " + HOSTILE + "\nsecond line"
    path = write_junit(report, tmp_path)
    junit_schema.validate(str(path))  # well-formed despite NUL, ESC and a lone surrogate
    root = ET.parse(path).getroot()
    case = _case(root, ODD, "python-websockets@14.0")
    message = case.find("failure").get("message")
    assert message.startswith("bad\\x00byte \\x1b[31m lone \\ud800 surrogate; " + HOSTILE)
    assert message.endswith("\nsecond line")  # newlines survive in attributes
    # the pair the interrupted run never reached is simply absent
    assert [c.get("classname") for c in root.iter("testcase") if c.get("name") == ODD] == [
        "python-websockets@14.0"
    ]
    stderr = _case(root, "handshake/info-only", "python-websockets").find("system-err").text
    assert "boom <&> \\x1b[31m" in stderr


BREAKAGES = {
    "not XML at all": lambda text: text[: len(text) // 2],
    "a testsuite without a name": lambda text: text.replace(
        '<testsuite name="python-websockets@14.0 (websockets 14.0)"', "<testsuite", 1
    ),
    "a count that is not a number": lambda text: text.replace('tests="4"', 'tests="four"', 1),
    "a negative time": lambda text: text.replace('time="0.123"', 'time="-1"', 1),
    "system-out before failure": lambda text: _swap_failure_and_output(text),
    "an unknown element": lambda text: text.replace(
        "<properties>", "<verdicts />\n<properties>", 1
    ),
    "a testcase without a name": lambda text: text.replace(
        'name="close/send-then-close" time', "time", 1
    ),
    "an unknown attribute": lambda text: text.replace("<testcase ", '<testcase verdict="x" ', 1),
}


def _swap_failure_and_output(text: str) -> str:
    root = ET.fromstring(text.split("\n", 1)[1])
    for case in root.iter("testcase"):
        failure, out = case.find("failure"), case.find("system-out")
        if failure is not None and out is not None:
            case.remove(failure)
            case.append(failure)
            return ET.tostring(root, "unicode")
    raise AssertionError("no testcase with a failure")


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_schema_rejects_broken_junit(
    breakage: str, tmp_path: Path, junit_schema: xmlschema.XMLSchema
) -> None:
    good = render_junit(sample_report())
    junit_schema.validate(good)  # the unbroken document passes...
    broken = BREAKAGES[breakage](good)
    assert broken != good, "the breakage did not change the document"
    path = tmp_path / "junit.xml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises((xmlschema.XMLSchemaValidationError, ET.ParseError)):
        junit_schema.validate(str(path))  # ...and each broken one fails


def test_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report = sample_report()
    first = write_junit(report, tmp_path)
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o644
    before = first.read_text()
    # a write that breaks halfway leaves the old file and no temporary behind
    real_fsync = os.fsync

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    report["results"].pop()
    with pytest.raises(OSError, match="disk full"):
        write_junit(report, tmp_path)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert first.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [JUNIT_NAME]


def test_repeat_fields_read_defensively() -> None:
    report = sample_report()
    fail = next(r for r in report["results"] if r["verdict"] == "fail" and r["runs"] == 1)
    fail.update(runs=10, passes=3)
    odd = next(r for r in report["results"] if r["verdict"] == "informational")
    odd.update(runs="ten", passes=None, pass_rate="high")  # malformed: shown as one run
    root = ET.fromstring(render_junit(report).split("\n", 1)[1])
    failure = _case(root, fail["scenario"], fail["client"]).find("failure")
    assert failure.get("message") == fail["reason"]
    assert "passed 3/10 runs" in failure.text
    out = _case(root, odd["scenario"], odd["client"]).find("system-out").text
    assert "runs" not in out
    rate_only = {"runs": 4, "pass_rate": 0.5}
    assert pass_rate_text(rate_only) == "2/4"
    assert pass_rate_text({"runs": 1, "passes": 1}) == ""
    assert pass_rate_text({"runs": 3, "passes": 5}) == ""


def test_empty_and_unfinished_reports(junit_schema: xmlschema.XMLSchema) -> None:
    empty = rep.new_report("empty", "0.1.0", "0.1.0", ["wsreplay"])
    text = render_junit(empty)
    junit_schema.validate(text)
    root = ET.fromstring(text.split("\n", 1)[1])
    assert root.get("tests") == "0" and root.get("time") == "0.000"
    unfinished = sample_report(finished=False)
    root = ET.fromstring(render_junit(unfinished).split("\n", 1)[1])
    expected = sum(_seconds(r) for r in unfinished["results"])  # no run duration: the sum
    assert float(root.get("time")) == pytest.approx(expected, abs=0.01)


@pytest.mark.e2e
def test_real_run(
    tmp_path_factory: pytest.TempPathFactory, junit_schema: xmlschema.XMLSchema
) -> None:
    report, out = real_run(tmp_path_factory.mktemp("junit"))
    assert len(report["results"]) == len(REAL_SCENARIOS) * len(REAL_CLIENTS)
    path = out / JUNIT_NAME
    junit_schema.validate(str(path))
    root = ET.parse(path).getroot()
    _check_against_report(root, report)
    names = set(_suites(root))
    assert names == {f"{spec} (websockets {spec.split('@')[1]})" for spec in REAL_CLIENTS}


def test_a_pair_whose_runs_disagree_shows_every_verdict():
    """3/3 passing runs must not hide that one of them was non-strict."""
    record = {
        "runs": 3,
        "passes": 3,
        "per_run": [{"verdict": v} for v in ("pass", "non-strict", "pass")],
    }
    assert pass_rate_text(record) == "non-strict 1/3 pass 2/3"
    same = {**record, "per_run": [{"verdict": "pass"}] * 3}
    assert pass_rate_text(same) == "3/3"
