"""What the adapter end-to-end tests (test_adapter_*.py) share.

Running `./wsreplay run` and reading its report, building its arguments,
picking events and frames out of a record, and the checks that are the same
logic for every library: the founding scenario delivered, ``recv_delay_ms``
and ``recv_pace_ms`` honoured, the common knob outcomes, a TLS run, a spec
refused before anything runs. What one library does differently stays in
its own test file.
"""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
from collections.abc import Collection, Iterable
from pathlib import Path

import jsonschema

from conftest import WSREPLAY
from wsreplay import scenarios
from wsreplay.contract import ReportRecord, Scenario
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA
from wsreplay.plugin import ClientPool
from wsreplay.running.runner import run_one
from wsreplay.running.server import ScenarioServer
from wsreplay.running.tlscerts import make_run_certs

KNOB_SCENARIOS = REPO_ROOT / "harness" / "tests" / "data" / "knob-scenarios"

#: The reason of the knobs/send-ping verdict for a library that cannot send a ping.
PING_UNSUPPORTED = "the adapter cannot honour the client knob send=[{'ping': 'are you there'}]"

#: The two scenarios every adapter runs over wss://.
TLS_SCENARIOS = ("close/send-then-close", "close/many-then-close")


# --------------------------------------------------------------------------
# jobs built by hand


def knobs(**given: object) -> dict:
    """A job's complete knobs: the given ones over the scenario language's defaults.

    Adapters apply no defaults of their own (the loader owns them), so a job a
    test builds by hand must carry every knob, exactly as the harness sends it.
    """
    return {**scenarios.knob_defaults(), **given}


# --------------------------------------------------------------------------
# running ./wsreplay


def wsreplay_run(
    out: Path, *args: str, schema: bool = True, timeout: float = 900
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`./wsreplay run --out OUT ARGS`: the process and its report.

    The run must end judged (exit 0 or 1). The report is checked against
    results/report.schema.json unless ``schema`` is false (for knob runs
    whose scenarios may run ahead of the schema).
    """
    argv = [WSREPLAY, "run", "--out", str(out), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((out / "report.json").read_text())
    if schema:
        jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    return proc, report


def refused_spec_stderr(out: Path, spec: str) -> str:
    """Run ``spec`` on the founding scenario, which must be refused (exit 2); its stderr."""
    argv = [WSREPLAY, "run", "--out", str(out)]
    argv += ["--client", spec, "--scenario", "close/send-then-close"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    return proc.stderr


def client_args(specs: Iterable[str]) -> list[str]:
    """``--client SPEC`` for each spec."""
    return [arg for spec in specs for arg in ("--client", spec)]


def scenario_args(names: Iterable[str]) -> list[str]:
    """``--scenario NAME`` for each name."""
    return [arg for name in names for arg in ("--scenario", name)]


def knob_scenario_names() -> list[str]:
    """The names of the knob scenarios (``knobs/...``), sorted."""
    return sorted(
        p.relative_to(KNOB_SCENARIOS).with_suffix("").as_posix()
        for p in KNOB_SCENARIOS.rglob("*.json")
    )


def run_knob_scenarios(
    out: Path, spec: str, *, schema: bool = True, timeout: float = 900
) -> dict[str, dict]:
    """Every knob scenario with one client spec: the records by scenario name."""
    _, report = wsreplay_run(
        out,
        "--scenarios-dir",
        str(KNOB_SCENARIOS),
        "--client",
        spec,
        schema=schema,
        timeout=timeout,
    )
    by_name = {r["scenario"]: r for r in report["results"]}
    assert len(by_name) >= 10
    return by_name


# --------------------------------------------------------------------------
# reading a record


def events(observation: dict, name: str) -> list[dict]:
    """The adapter's events of one name, in order."""
    return [e for e in observation["events"] if e["event"] == name]


def sent_kinds(observation: dict) -> list[str]:
    """The kinds of what the client sent (``send`` events), in order."""
    return [e["kind"] for e in events(observation, "send")]


def client_close_frames(record: dict) -> list[dict]:
    """The close frames the server received from the client (the record's transcript)."""
    return [
        e
        for e in record["transcript"]["events"]
        if e.get("type") == "frame" and e.get("dir") == "in" and e.get("opcode") == 8
    ]


def extensions_offered(record: dict) -> list[str]:
    """The ``Sec-WebSocket-Extensions`` values of the client's opening request,
    as the server read them (the transcript's ``http_request`` event)."""
    request = next(e for e in record["transcript"]["events"] if e.get("type") == "http_request")
    headers = request["headers"]
    return [value for name, value in headers if name.lower() == "sec-websocket-extensions"]


def expected_verdicts(catalogue: dict, scenario: str, spec: str) -> set[str]:
    """The verdicts ``catalogue`` accepts for ``scenario`` run by ``spec``.

    A catalogue maps each scenario to a set of verdicts (the same for every
    spec) or to a dict with one verdict per spec.
    """
    expected = catalogue[scenario]
    return {expected[spec]} if isinstance(expected, dict) else expected


# --------------------------------------------------------------------------
# checks that are the same for every library


def assert_clients(report: dict, specs: dict[str, str], library: str) -> None:
    """Every spec resolved to its version, started, and reported ``library``."""
    resolved = {c["spec"]: c["resolved_version"] for c in report["clients"]}
    assert resolved == specs
    assert {c["status"] for c in report["clients"]} == {"ok"}
    assert {c["library"] for c in report["clients"]} == {library}


def assert_catalogue_verdicts(report: dict, catalogue: dict, specs: Collection[str]) -> None:
    """One result per scenario and spec, each with a reason and an accepted verdict."""
    assert len(report["results"]) == len(catalogue) * len(specs)
    for record in report["results"]:
        where = (record["scenario"], record["client"], record["reason"])
        assert record["reason"].strip(), where
        assert record["verdict"] in expected_verdicts(
            catalogue, record["scenario"], record["client"]
        ), where


def assert_session_ended_by_client(record: dict, upgraded: bool = True) -> None:
    """The server's session ended because the client closed TCP (FIN, or an
    RST when the client left the server's bytes unread), not on its linger
    timeout. After a 101 the server also says who closed TCP first."""
    transcript = record["transcript"]
    end = transcript["end"]
    assert "linger timeout" not in end["detail"], end
    assert (end["reason"], end["detail"]) in {
        ("complete", "steps done, client closed"),
        ("peer_closed", "Connection reset by peer"),
    }, end
    if upgraded:
        assert transcript["tcp_close"]["first"] == "client", transcript["tcp_close"]


def assert_founding_delivered(observation: dict) -> None:
    """close/send-then-close: the message before the close, then the close itself."""
    assert observation["messages"][0]["text"] == "final message"
    assert observation["close"] == {"code": 1000, "reason": "bye"}


def assert_recv_delay_honoured(observation: dict) -> None:
    """recv_delay_ms 100: nothing was received or delivered before it had passed."""
    opened = events(observation, "open")[0]["t_ms"]
    assert events(observation, "recv_start")[0]["t_ms"] - opened >= 99
    assert observation["messages"][0]["t_ms"] - opened >= 99


def assert_paced(observation: dict, min_gap_ms: int, count: int | None = None) -> None:
    """recv_pace_ms: the messages reached the application at least ``min_gap_ms`` apart
    (and there were ``count`` of them, when given)."""
    times = [m["t_ms"] for m in observation["messages"]]
    if count is not None:
        assert len(times) == count, times
    assert all(b - a >= min_gap_ms for a, b in itertools.pairwise(times)), times


def assert_knobs_honoured(records: dict) -> None:
    """Each record passed, no knob reported unsupported (``records``: keyed by
    scenario name, or by (scenario, client))."""
    for name, record in records.items():
        assert record["verdict"] == "pass", (name, record["reason"])
        assert record["observed"]["unsupported"] == []


def assert_knob_basics(observed: dict[str, dict]) -> None:
    """The outcomes of the knob scenarios every library reaches the same way
    (``observed``: scenario name -> observation)."""
    assert observed["knobs/subprotocols"]["subprotocol"] == "chat.v1"
    assert observed["knobs/recv-timeout"]["end"] == "timeout"
    assert observed["knobs/max-messages"]["end"] == "max_messages"


def close_first_call(observation: dict, code: int) -> dict:
    """The first ``close_call`` event, which must be close_first's with ``code``."""
    call = events(observation, "close_call")[0]
    assert (call["by"], call["code"]) == ("close_first", code), call
    return call


def assert_empty_close_frame(record: dict) -> None:
    """close_first with no code: the client's first close frame has no payload."""
    frames = client_close_frames(record)
    assert frames and frames[0]["length"] == 0


def assert_passes_over_tls(out: Path, specs: Collection[str], timeout: float = 900) -> None:
    """TLS_SCENARIOS over wss://, each spec trusting the run's own CA: every one passes."""
    _, report = wsreplay_run(
        out,
        "--transport",
        "wss",
        *client_args(specs),
        *scenario_args(TLS_SCENARIOS),
        timeout=timeout,
    )
    assert len(report["results"]) == len(TLS_SCENARIOS) * len(specs)
    for record in report["results"]:
        assert record["verdict"] == "pass", (record["scenario"], record["reason"])
        assert record["transport"] == "wss"


def foreign_ca_observation(
    tmp_path: Path, server: ScenarioServer, pool: ClientPool, spec: str, tag: str
) -> dict:
    """The founding scenario over wss:// with another CA's file as the job's CA.

    The handshake must fail (not connected, ``connect_failed``); the observation,
    for the library's own error to be checked.
    """
    adapter, _, error = pool.get(spec)
    assert adapter is not None, error
    other = make_run_certs(tmp_path / "other", "other")
    job = {
        "id": tag,
        "url": server.url("close/send-then-close", tag, tls=True),
        "knobs": knobs(),
        "ca_file": str(other.ca_file),
        "deadline_ms": 8000,
    }
    outcome = adapter.run_job(job, 20)
    assert outcome.error is None, outcome.error
    observed = outcome.observation
    assert (observed["connected"], observed["end"]) == (False, "connect_failed")
    return observed


# --------------------------------------------------------------------------
# the compression knob, one connection per value

_compression_tags = itertools.count(1)


def run_compression(
    server: ScenarioServer,
    pool: ClientPool,
    catalogue: dict[str, Scenario],
    spec: str,
    value: str | dict[str, object],
    scenario: str = "close/send-then-close",
) -> ReportRecord:
    """One job of ``scenario`` with its ``compression`` knob set to ``value``
    (the loader cannot be asked for it yet: the scenario as published, its
    knob changed), through the session's server and adapter processes."""
    changed = copy.deepcopy(catalogue[scenario])
    changed["client"]["compression"] = value
    adapter, resolved, error = pool.get(spec)
    tag = f"deflate-{next(_compression_tags)}"
    return run_one(server, adapter, spec, resolved, changed, tag, error)


def assert_compression_unsupported(record: ReportRecord) -> None:
    """The adapter refused the job for its ``compression`` knob: error verdict, no session."""
    observed = record["observed"]
    assert observed is not None
    assert (observed["end"], observed["unsupported"]) == ("unsupported", ["compression"])
    assert record["verdict"] == "error"
    assert "cannot honour the client knob compression=" in record["reason"]
    assert record["transcript"] is None


#: A compression knob value, and the Sec-WebSocket-Extensions the library sent for it.
Offered = tuple[str | dict[str, object], str | None]


def check_compression(
    server: ScenarioServer,
    pool: ClientPool,
    catalogue: dict[str, Scenario],
    spec: str,
    offered: list[Offered],
    unsupported: Iterable[str | dict[str, object]] = (),
) -> None:
    """One connection per value: for each (value, offer) of ``offered`` the job
    connected and the opening request carried exactly that offer (None: none); each
    value of ``unsupported`` was refused as the contract says."""
    for value, offer in offered:
        record = run_compression(server, pool, catalogue, spec, value)
        # connected and judged (the verdict is the library's business: not all pass)
        observed = record["observed"]
        assert observed is not None and observed["connected"], (spec, value, record["reason"])
        assert observed["unsupported"] == [], (spec, value)
        assert extensions_offered(record) == ([] if offer is None else [offer]), (spec, value)
    for value in unsupported:
        record = run_compression(server, pool, catalogue, spec, value)
        assert record["observed"] is not None, (spec, value, record["reason"])
        assert record["observed"]["unsupported"] == ["compression"], (spec, value)
        assert_compression_unsupported(record)


# --------------------------------------------------------------------------
# the compression knob (issue 13): the offer a library sends

#: The scenario a compression job runs: it only needs the opening handshake.
OFFER_SCENARIO = "close/send-then-close"


def compression_job(
    server: ScenarioServer, pool: ClientPool, spec: str, compression: object, tag: str
) -> tuple[dict, list[str] | None]:
    """One job of OFFER_SCENARIO with the knob ``compression``, built by hand.

    Returns the observation and the Sec-WebSocket-Extensions values of the
    request the server received, as the transcript records them (``[]``: no
    such header); None when the adapter skipped the job as unsupported.
    """
    adapter, _, error = pool.get(spec)
    assert adapter is not None, error
    job = {
        "id": tag,
        "url": server.url(OFFER_SCENARIO, tag),
        "knobs": knobs(compression=compression),
        "deadline_ms": 8000,
    }
    outcome = adapter.run_job(job, 20)
    assert outcome.error is None, outcome.error
    observed = outcome.observation
    if observed["end"] == "unsupported":
        assert observed["connected"] is False
        return observed, None
    assert observed["connected"] is True, observed
    answer = server.wait_run(tag, 10)
    assert answer.get("complete"), answer
    (session,) = answer["sessions"]
    request = next(e for e in session["events"] if e.get("type") == "http_request")
    extensions = [v for k, v in request["headers"] if k.lower() == "sec-websocket-extensions"]
    return observed, extensions


def assert_offers(
    server: ScenarioServer, pool: ClientPool, spec: str, expected: dict[str, tuple[object, object]]
) -> None:
    """For each case (a tag suffix): (knob value, the Sec-WebSocket-Extensions
    values the request carried, or "unsupported" when the adapter must report
    compression unsupported and skip the job)."""
    for name, (value, offered) in expected.items():
        tag = "".join(c if c.isalnum() else "-" for c in f"{spec}-{name}")
        observed, extensions = compression_job(server, pool, spec, value, tag)
        if offered == "unsupported":
            assert (observed["end"], observed["unsupported"]) == ("unsupported", ["compression"]), (
                name,
                observed,
            )
        else:
            assert observed["unsupported"] == [], (name, observed)
            assert extensions == offered, (name, extensions)
