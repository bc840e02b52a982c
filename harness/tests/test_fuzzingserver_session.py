"""The Autobahn-compatible mode's session (fuzzingserver/session.py) over a real server.

These tests talk to the real wsreplay-server the session starts, at the
targets `run_target` gives, with a raw peer (tests/rawpeer.py: not a client
library, it only opens and drops connections) standing in for a driver's
connections; the front and real drivers are tested end to end elsewhere.
What is checked is the session's bookkeeping: every case a driver started
ends with a verdict in both reports, whether it finished, stopped after a
few cases, or hung.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from rawpeer import connect, masked_frame, read_http_head, read_until_close, upgrade_request
from wsreplay import autobahn
from wsreplay.contract import Scenario
from wsreplay.fuzzingserver.cases import CaseTable, build_table, parse_spec
from wsreplay.fuzzingserver.reports import BEHAVIORS
from wsreplay.fuzzingserver.session import FuzzingSession, agent_slug
from wsreplay.judging.echo import echo_plan

AGENT = "raw peer/1.0"


@pytest.fixture(scope="module")
def table(wsreplay_catalogue: dict[str, Scenario]) -> CaseTable:
    """Ten cases a scenario plays and the echo judge takes, then one no scenario plays."""
    full = build_table(
        parse_spec({"wsreplay-scenarios": "none"}),
        autobahn.load_cases(),
        list(wsreplay_catalogue.values()),
    )
    playable = [
        e.id
        for e in full.entries
        if e.scenario is not None
        and not isinstance(echo_plan(e.scenario), str)
        and e.scenario["budget_ms"]["deadline"] < 20000
    ][:10]
    missing = next(e.id for e in full.entries if e.scenario is None)
    spec = {"cases": [*playable, missing], "wsreplay-scenarios": "none"}
    return build_table(parse_spec(spec), autobahn.load_cases(), list(wsreplay_catalogue.values()))


@pytest.fixture
def session(table: CaseTable, tmp_path: Path) -> FuzzingSession:
    s = FuzzingSession(table, tmp_path / "out", tmp_path / "ab", handoff=False, progress=None)
    s.start()
    return s


def open_case(session: FuzzingSession, case: int) -> socket.socket:
    """Connect to the case's target as a driver's connection would arrive."""
    target = session.run_target(case, AGENT)
    assert target is not None and target.startswith("/")
    return connect_to(session, target)


def connect_to(session: FuzzingSession, target: str) -> socket.socket:
    assert session.info is not None
    sock = connect(session.info.port)
    head, _ = upgrade_request(target)
    sock.sendall(head)
    response, _ = read_http_head(sock)
    assert b" 101 " in response.split(b"\r\n", 1)[0]
    return sock


def drop(sock: socket.socket) -> None:
    sock.sendall(masked_frame(8, b"\x03\xe8"))
    sock.close()


def index_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "ab" / "index.json").read_text())


def test_driver_that_stops_after_three_of_ten(session: FuzzingSession, tmp_path: Path) -> None:
    assert session.case_count() == 11
    info = session.case_info(1)
    assert info is not None and info["id"] == session.table.entries[0].id
    assert session.case_info(12) is None and session.run_target(12, AGENT) is None
    for case in (1, 2, 3):
        drop(open_case(session, case))
    status = session.case_status(1, AGENT)
    assert status["behavior"] in BEHAVIORS
    # the driver exits here: no updateReports
    report = session.finish(wait_s=60)
    index = index_of(tmp_path)
    ids = [e.id for e in session.table.entries[:3]]
    assert set(index[AGENT]) == set(ids)
    for case_id in ids:
        entry = index[AGENT][case_id]
        assert entry["behavior"] in BEHAVIORS and entry["behavior"] != "UNIMPLEMENTED"
        case = json.loads((tmp_path / "ab" / entry["reportfile"]).read_text())
        assert case["result"] and case["httpRequest"].startswith("GET /")
    assert report["totals"]["total"] == 3
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {r["client"] for r in on_disk["results"]} == {AGENT}


def test_hung_case_still_gets_a_verdict(session: FuzzingSession, tmp_path: Path) -> None:
    drop(open_case(session, 1))
    hung = open_case(session, 2)  # connected, never echoes, never closes
    try:
        session.finish(wait_s=3)
    finally:
        hung.close()
    index = index_of(tmp_path)
    second = session.table.entries[1].id
    assert set(index[AGENT]) == {session.table.entries[0].id, second}
    case = json.loads((tmp_path / "ab" / index[AGENT][second]["reportfile"]).read_text())
    assert case["behavior"] in BEHAVIORS and case["behavior"] != "UNIMPLEMENTED"
    assert case["result"]


def test_unimplemented_and_excluded_cases(table: CaseTable, tmp_path: Path) -> None:
    spec = parse_spec(
        {
            "cases": [e.id for e in table.entries],
            "exclude-agent-cases": {"raw*": [table.entries[0].id]},
            "wsreplay-scenarios": "none",
        }
    )
    excluding = CaseTable(table.entries, spec)
    session = FuzzingSession(
        excluding, tmp_path / "out", tmp_path / "ab", handoff=False, progress=None
    )
    session.start()
    try:
        # excluded for this agent; no scenario: the handshake, then a close at once
        for case in (1, 11):
            target = session.run_target(case, AGENT)
            assert target is not None and target.startswith("/close/code-only?run=")
            assert session.info is not None
            sock = connect(session.info.port)
            sock.sendall(upgrade_request(target)[0])
            response, rest = read_http_head(sock)
            assert b" 101 " in response
            assert (rest + b"".join(read_until_close(sock)))[:4] == b"\x88\x02\x03\xe8"
            drop(sock)
        assert session.case_status(11, AGENT) == {"behavior": "UNIMPLEMENTED"}
        drop(open_case(session, 2))
        session.update_reports(AGENT)
        index = index_of(tmp_path)
        assert set(index[AGENT]) == {table.entries[1].id, table.entries[10].id}
        assert index[AGENT][table.entries[10].id]["behavior"] == "UNIMPLEMENTED"
    finally:
        session.finish(wait_s=10)


def test_agent_slug_is_a_valid_run_id_part() -> None:
    assert agent_slug("AutobahnPython/0.6.0") == "AutobahnPython-0.6.0"
    assert agent_slug("../..") == "agent"
    assert len(agent_slug("x" * 300)) == 40


def test_a_deflate_case_the_drivers_offer_does_not_fit_is_unimplemented(
    wsreplay_catalogue: dict[str, Scenario], tmp_path: Path
) -> None:
    # Autobahn 12.1.1 needs the library's permessage-deflate offer; the raw peer
    # offers none, as gorilla's default dialer does. Autobahn reports such a
    # case UNIMPLEMENTED; a FAILED would blame the library for its driver's choice.
    spec = parse_spec({"cases": ["12.1.1"], "wsreplay-scenarios": "none"})
    table = build_table(spec, autobahn.load_cases(), list(wsreplay_catalogue.values()))
    session = FuzzingSession(table, tmp_path / "out", tmp_path / "ab", handoff=False, progress=None)
    session.start()
    try:
        drop(open_case(session, 1))
        assert session.case_status(1, AGENT) == {"behavior": "UNIMPLEMENTED"}
        session.update_reports(AGENT)
        entry = index_of(tmp_path)[AGENT]["12.1.1"]
        assert entry["behavior"] == "UNIMPLEMENTED"
        on_disk = json.loads((tmp_path / "out" / "report.json").read_text())
        (record,) = on_disk["results"]
        assert record["verdict"] == "informational"
        assert "offered none" in record["reason"]
    finally:
        session.finish(wait_s=10)
