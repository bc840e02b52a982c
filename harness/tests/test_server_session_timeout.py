"""A scenario's own session_timeout_ms, on the wire.

A session lives at most --session-timeout-ms (60 s by default); a scenario
that needs longer by design (a thousand compressed round trips, 16,384
writes of 64 bytes against a slow client) says so in `session_timeout_ms`,
and the server holds it to that limit instead, in both directions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from rawpeer import connect, read_until_close, upgrade_request
from wsreplay.build import server_binary
from wsreplay.running.server import ScenarioServer

STEPS = [{"delay_ms": 1500}, {"write": [{"text": "late"}, {"close": 1000}]}]


def scenario(name: str, **top: object) -> dict:
    return {
        "name": f"timeouts/{name}",
        "summary": "x",
        "rfc": ["6455#5.5.1"],
        "tags": ["t"],
        "steps": STEPS,
        "expect": {},
        **top,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioServer]:
    root = tmp_path_factory.mktemp("timeouts")
    folder = root / "scenarios" / "timeouts"
    folder.mkdir(parents=True)
    for sc in (
        scenario("own-short", session_timeout_ms=1000),
        scenario("own-long", session_timeout_ms=5000),
        scenario("server-default"),
    ):
        (folder / f"{sc['name'].split('/')[1]}.json").write_text(json.dumps(sc))
    srv = ScenarioServer(
        server_binary(),
        root / "scenarios",
        root / "server.log",
        extra_args=["--session-timeout-ms", "1000", "--linger-ms", "200"],
    )
    srv.start()
    yield srv
    srv.stop()


def play(server: ScenarioServer, name: str, run: str) -> tuple[bytes, dict]:
    assert server.info is not None
    with connect(server.info.port) as sock:
        sock.sendall(upgrade_request(f"/timeouts/{name}?run={run}")[0])
        data = b"".join(read_until_close(sock, timeout=10))
    session = server.wait_run(run, 10)["sessions"][0]
    return data, session


def test_a_scenario_that_needs_longer_than_the_server_gets_its_own_limit(
    server: ScenarioServer,
) -> None:
    data, session = play(server, "own-long", "st-long")
    assert b"\x81\x04late" in data
    assert session["end"]["reason"] != "timeout"


def test_its_own_limit_also_ends_it(server: ScenarioServer) -> None:
    data, session = play(server, "own-short", "st-short")
    assert b"late" not in data
    assert session["end"]["reason"] == "timeout"
    limit = next(e for e in session["events"] if e["type"] == "limit")
    assert (limit["limit"], limit["value"]) == ("session_timeout_ms", 1000)


def test_without_one_the_servers_limit_holds(server: ScenarioServer) -> None:
    data, session = play(server, "server-default", "st-default")
    assert b"late" not in data
    assert session["end"]["reason"] == "timeout"
