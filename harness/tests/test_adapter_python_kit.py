"""The shared part of the Python adapters (harness/adapters/python-common) and the checks
every Python adapter test uses.

Unit tests of the kit come first (job parsing, close payloads, the sleep
split for ``close_first.after_ms``). Then the helpers the per-adapter e2e
tests import: run `./wsreplay` with two pinned releases in one run, over
the committed catalogue and over the generic knob scenarios in
harness/tests/data/knob-scenarios/, and check from the report that every
knob was really honoured (the transcript shows the client's frames, the
observation shows the timing). Last, one test per Python adapter that a
wss:// job trusts exactly the job's CA.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import adapter_e2e as e2e
from wsreplay.paths import REPO_ROOT
from wsreplay.plugin import ClientPool
from wsreplay.running.server import ScenarioServer
from wsreplay.running.tlscerts import make_run_certs

KIT_DIR = REPO_ROOT / "harness" / "adapters" / "python-common"
sys.path.insert(0, str(KIT_DIR))

import wsreplay_adapterkit as kit  # noqa: E402

#: The catalogue scenarios every Python adapter test runs: the founding case
#: and the other scenarios of the first catalogue (delivery before close,
#: FIN, RST, a message coalesced with the 101).
CATALOGUE = (
    "close/send-then-close",
    "close/many-then-close",
    "close/send-then-close-gap",
    "close/send-then-close-separate-writes",
    "close/send-then-fin",
    "close/send-then-rst",
    "handshake/coalesced-message",
)


# --------------------------------------------------------------------------
# unit tests of the kit


def job_line(knobs: dict[str, Any] | None = None, **fields: Any) -> str:
    """A job line as the harness writes it: the given knobs over the defaults, all of them."""
    job = {"id": "1", "url": "ws://127.0.0.1:9/x", "knobs": e2e.knobs(**(knobs or {}))}
    job.update(fields)
    return json.dumps(job)


def test_parse_job_reads_the_complete_knobs() -> None:
    job = kit.parse_job(job_line(knobs={"recv_delay_ms": 100, "echo": True}))
    assert job.knobs == kit.Knobs(
        recv_delay_ms=100,
        recv_pace_ms=0,
        recv_timeout_ms=3000,
        max_messages=1000,
        echo=True,
        send=(),
        close_first=None,
        subprotocols=(),
        compression="default",
    )
    assert job.unknown == []
    offer = {"server_max_window_bits": 10}
    assert kit.parse_job(job_line(knobs={"compression": offer})).knobs.compression == offer


def test_parse_offer_reads_a_library_built_offer() -> None:
    assert kit.parse_offer("") is None
    assert kit.parse_offer("permessage-deflate; client_max_window_bits") == {
        "client_max_window_bits": True
    }
    assert kit.parse_offer(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
    ) == {"client_max_window_bits": True, "server_max_window_bits": 10}


@pytest.mark.parametrize(
    "offer, wanted, honoured",
    [
        (None, "default", True),
        ({"client_max_window_bits": True}, "default", True),
        (None, "off", True),
        ({"client_max_window_bits": True}, "off", False),
        (None, "on", False),
        ({"client_max_window_bits": True}, "on", True),
        ({"client_max_window_bits": True}, {"client_max_window_bits": True}, True),
        ({"client_max_window_bits": True}, {"server_no_context_takeover": False}, True),
        ({"client_max_window_bits": True}, {"server_no_context_takeover": True}, False),
        ({"client_max_window_bits": True}, {"client_max_window_bits": 10}, False),
        ({"server_max_window_bits": 10}, {"server_max_window_bits": 10}, True),
        ({"server_max_window_bits": True}, {"server_max_window_bits": 1}, False),
        (None, {"client_max_window_bits": True}, False),
        ({"server_no_context_takeover": True}, {"server_no_context_takeover": False}, False),
    ],
)
def test_offer_meets(offer: dict | None, wanted: str | dict, honoured: bool) -> None:
    """A library with a fixed offer (or none) honours a compression value when
    that offer is what it asks for."""
    assert kit.offer_meets(offer, wanted) is honoured


def test_parse_job_reads_send_close_first_subprotocols_and_tls() -> None:
    job = kit.parse_job(
        job_line(
            url="wss://127.0.0.1:9/x",
            ca_file="/tmp/ca.pem",
            deadline_ms=5000,
            knobs={
                "send": [{"text": "hé"}, {"hex": "00ff"}, {"ping": "p"}],
                "close_first": {"code": 4000, "reason": "r", "after_ms": 200},
                "subprotocols": ["a", "b"],
                "recv_pace_ms": 50,
                "from_the_future": 1,
                "off_in_the_future": None,
            },
        )
    )
    assert job.knobs.send == (("text", "hé"), ("binary", b"\x00\xff"), ("ping", b"p"))
    assert job.knobs.close_first == kit.CloseFirst(4000, "r", None, 200)
    assert job.knobs.subprotocols == ("a", "b")
    assert job.deadline_s == 5.0 and job.ca_file == "/tmp/ca.pem"
    assert job.unknown == ["from_the_future"]


def test_the_kit_fills_in_no_knob() -> None:
    # the harness sends every knob; a job without one is the harness's bug
    knobs = e2e.knobs()
    del knobs["max_messages"], knobs["echo"]
    line = json.dumps({"id": "1", "url": "ws://127.0.0.1:9/x", "knobs": knobs})
    with pytest.raises(kit.BadJob, match=r"lacks the knobs \['max_messages', 'echo'\]"):
        kit.parse_job(line)
    assert set(e2e.knobs()) == set(kit.KNOB_NAMES)  # the contract's knobs, no more, no less


def test_close_from_payload() -> None:
    assert kit.close_from_payload(b"\x03\xe8bye") == {"code": 1000, "reason": "bye"}
    assert kit.close_from_payload(b"") == {"code": None, "reason": None}
    assert kit.close_from_payload(b"\x0f\xa1") == {"code": 4001, "reason": ""}


def test_a_time_based_close_cuts_a_sleep() -> None:
    obs = kit.Observation("1")
    obs.start()
    job = kit.parse_job(
        job_line(knobs={"close_first": {"code": 1000, "reason": "", "after_ms": 100000}})
    )
    session = kit.Session(job, obs)
    # the close falls after the sleep: one plain sleep
    assert session.sleep_slices(1.0) == [("sleep", 1.0)]
    slices = session.sleep_slices(200.0)
    assert [what for what, _ in slices] == ["sleep", "close", "sleep"]
    assert 99.0 < slices[0][1] <= 100.0
    assert abs(slices[0][1] + slices[2][1] - 200.0) < 0.1


def test_unsupported_knob_is_reported_not_ignored() -> None:
    class NoPing:
        def unsupported(self, knobs: kit.Knobs) -> list[str]:
            return ["send"] if any(k == "ping" for k, _ in knobs.send) else []

    line = job_line(knobs={"send": [{"ping": "x"}], "new_knob": True})
    observation = kit.run_job(line, NoPing, is_async=False)
    assert observation["end"] == "unsupported"
    assert observation["unsupported"] == ["new_knob", "send"]


def test_a_bad_job_is_an_adapter_error_with_its_id() -> None:
    observation = kit.run_job(json.dumps({"id": "7", "knobs": e2e.knobs()}), object, is_async=False)
    assert observation["id"] == "7"
    assert observation["end"] == "adapter_error"
    assert "no 'url'" in observation["error"]["message"]


def test_t0_unix_us_is_the_wall_clock_of_connect_start() -> None:
    obs = kit.Observation("1")
    before = time.time_ns() // 1000
    obs.start()
    after = time.time_ns() // 1000
    assert isinstance(obs.data["t0_unix_us"], int)
    assert before <= obs.data["t0_unix_us"] <= after


class _Scripted:
    """A sync driver replaying a script of receive results; every send raises.

    Only for the kit's own decisions (no library involved); the e2e tests
    show the same behaviour with real libraries.
    """

    subprotocol = None

    def __init__(self, script: list[kit.Received], connect_exc: BaseException | None = None):
        self.script = list(script)
        self.connect_exc = connect_exc

    def unsupported(self, knobs: kit.Knobs) -> list[str]:
        return []

    def http_status(self, exc: BaseException) -> int | None:
        return None

    def is_closed(self, exc: BaseException) -> bool:
        return isinstance(exc, EOFError)

    def connect(self, job: kit.Job, tls: Any, timeout_s: float) -> None:
        if self.connect_exc is not None:
            raise self.connect_exc

    def send(self, kind: str, payload: Any) -> None:
        raise EOFError("connection is closing")

    def receive(self, timeout_s: float) -> kit.Received:
        return self.script.pop(0) if self.script else kit.Received("timeout")

    def close(self, code: int | None, reason: str) -> None:
        pass

    def finish(self, budget_s: float) -> None:
        pass

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        return {"code": 1000, "reason": ""}, "script"

    def clean_info(self) -> tuple[bool | None, str | None]:
        return True, "script"


def test_a_failed_echo_is_recorded_and_receiving_goes_on() -> None:
    # the audit's bug: the kit stopped at the first failed echo, so messages the
    # library still held were reported missing
    script = [
        kit.Received("message", data="a"),
        kit.Received("message", data="b"),
        kit.Received("closed", exc=EOFError("closed"), close={"code": 1000, "reason": ""}),
    ]
    line = job_line(knobs={"echo": True, "close_first": {"code": 1000, "after_messages": 1}})
    observation = kit.run_job(line, lambda: _Scripted(script), is_async=False)
    assert [m["text"] for m in observation["messages"]] == ["a", "b"]
    echoes = [e for e in observation["events"] if e["event"] == "echo"]
    assert [e["error"]["type"] for e in echoes] == ["builtins.EOFError"] * 2
    assert observation["end"] == "closed"
    # close_call says whose close it is: the knob's, then the adapter's own at the end
    assert [e["why"] for e in observation["events"] if e["event"] == "close_call"] == [
        "knob",
        "end",
    ]
    assert (observation["clean"], observation["clean_source"]) == (True, "script")


@pytest.mark.parametrize(
    "exc, end",
    [
        (TimeoutError("cut off"), "connect_timeout"),
        (ConnectionRefusedError("refused"), "connect_failed"),
        (ValueError("bad status"), "connect_failed"),
    ],
)
def test_a_connect_cut_off_by_a_timeout_is_not_a_refusal(exc: BaseException, end: str) -> None:
    observation = kit.run_job(job_line(), lambda: _Scripted([], exc), is_async=False)
    assert (observation["connected"], observation["end"]) == (False, end)
    assert observation["events"][-1]["event"] == end


def test_call_with_timeout_gives_up_on_a_hung_call() -> None:
    gate = threading.Event()
    late: list[str] = []
    with pytest.raises(TimeoutError, match=r"stuck\(\) did not return within 0.1 s"):
        kit.call_with_timeout(lambda: gate.wait() and "conn", 0.1, "stuck()", late.append)
    gate.set()
    for _ in range(100):
        if late:
            break
        time.sleep(0.01)
    assert late == ["conn"]  # what came back too late was handed over to be released
    assert kit.call_with_timeout(lambda: 7, 1.0, "quick()") == 7
    with pytest.raises(KeyError):
        kit.call_with_timeout(lambda: {}["x"], 1.0, "raises()")


#: A deliberately broken adapter: its "library" loses exceptions in the two ways
#: the kit watches (no Python client library at hand has a known reproducible one).
BROKEN_ADAPTER = """
import asyncio, sys, threading
sys.path.insert(0, {kit_dir!r})
import wsreplay_adapterkit as kit

class Lossy:
    subprotocol = None
    def unsupported(self, knobs): return []
    def http_status(self, exc): return None
    def is_closed(self, exc): return False
    async def connect(self, job, tls, timeout_s):
        def reader():
            raise ConnectionResetError("reader thread died")
        t = threading.Thread(target=reader, name="library-reader")
        t.start(); t.join()
        async def background():
            raise RuntimeError("background task failed")
        asyncio.get_running_loop().create_task(background())  # never awaited
        await asyncio.sleep(0.05)
    async def send(self, kind, payload): pass
    async def receive(self, timeout_s):
        return kit.Received("closed", close={{"code": 1000, "reason": ""}})
    async def close(self, code, reason): pass
    async def finish(self, budget_s): pass
    def close_info(self): return {{"code": 1000, "reason": ""}}, "none"
    def clean_info(self): return None, None

out = kit.Out()
sys.exit(kit.serve(out, adapter="broken", library="none", version="0", api="none",
                   new_driver=Lossy, is_async=True))
"""


def test_a_crash_outside_the_applications_calls_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "broken_adapter.py"
    script.write_text(BROKEN_ADAPTER.format(kit_dir=str(KIT_DIR)))
    jobs = job_line(id="1") + "\n" + job_line(id="2") + "\n"
    proc = subprocess.run(
        [sys.executable, str(script)], input=jobs, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    ready, first, second = (json.loads(line) for line in proc.stdout.splitlines())
    assert ready["event"] == "ready"
    for observation in (first, second):
        # not an adapter error: the job ran, and the crash is a fact about it
        assert observation["end"] == "closed", observation
        assert observation["crash"] == {
            "type": "builtins.ConnectionResetError",
            "message": "reader thread died",
            "where": "thread 'library-reader'",
        }
        crashes = [e for e in observation["events"] if e["event"] == "crash"]
        assert [c["type"] for c in crashes] == [
            "builtins.ConnectionResetError",
            "builtins.RuntimeError",
        ], crashes
        assert "never retrieved" in crashes[1]["where"], crashes[1]
        assert "background" in crashes[1]["where"], crashes[1]


# --------------------------------------------------------------------------
# helpers for the per-adapter e2e tests


def wsreplay_run(
    out: Path, specs: list[str], scenarios: list[str], *extra: str
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """One `./wsreplay run` of every spec against every scenario; (process, report)."""
    args = [*extra, *e2e.client_args(specs), *e2e.scenario_args(scenarios)]
    return e2e.wsreplay_run(out, *args)


def check_clients(report: dict, adapter: str, versions: tuple[str, ...]) -> None:
    """Both pinned releases installed, started and reported as resolved."""
    resolved = {c["spec"]: (c["resolved_version"], c["status"]) for c in report["clients"]}
    assert resolved == {f"{adapter}@{v}": (v, "ok") for v in versions}, report["clients"]


def check_catalogue_run(tmp_path: Path, adapter: str, versions: tuple[str, ...]) -> dict:
    """The committed catalogue at two releases in one run: judged, never an error, and
    the founding scenario passed at both; the records by (scenario, spec)."""
    specs = [f"{adapter}@{v}" for v in versions]
    _, report = wsreplay_run(tmp_path, specs, list(CATALOGUE))
    check_clients(report, adapter, versions)
    records = report["results"]
    assert sorted((r["scenario"], r["client"]) for r in records) == sorted(
        (s, c) for s in CATALOGUE for c in specs
    )
    for record in records:
        where = (record["scenario"], record["client"])
        assert record["verdict"] != "error", (where, record["reason"])
        assert record["reason"].strip(), where
        assert record["transcript"] is not None, where
        check_observation_facts(record)
    by_key = {(r["scenario"], r["client"]): r for r in records}
    for spec in specs:
        founding = by_key["close/send-then-close", spec]
        assert founding["verdict"] == "pass", (spec, founding["reason"])
    return by_key


def frames(record: dict, direction: str, opcode: int) -> list[dict]:
    """The frames of one direction and opcode in a record's transcript, in order."""
    return [
        e
        for e in record["transcript"]["events"]
        if e.get("type") == "frame" and e.get("dir") == direction and e.get("opcode") == opcode
    ]


def opened_at_us(record: dict) -> int:
    """When the server sent its 101 (transcript µs)."""
    return next(
        e["t_us"] for e in record["transcript"]["events"] if e.get("type") == "http_response"
    )


def events(record: dict, name: str) -> list[dict]:
    return [e for e in record["observed"]["events"] if e["event"] == name]


def transcript_started_us(record: dict) -> int:
    """The server transcript's wall-clock ``started`` (the TCP accept), in µs since the epoch."""
    started = datetime.fromisoformat(record["transcript"]["started"].replace("Z", "+00:00"))
    return int(started.timestamp()) * 1_000_000 + started.microsecond


def check_observation_facts(record: dict) -> None:
    """The facts every Python adapter reports on every job: ``t0_unix_us`` on the
    transcript's clock (the server accepts the connection after connect_start, and
    soon after), ``clean`` with its source once connected, no crash, and every
    ``close_call`` saying whose close it was, the adapter's own one last."""
    observed = record["observed"]
    where = (record["scenario"], record["client"])
    t0 = observed["t0_unix_us"]
    assert isinstance(t0, int), where
    if record["transcript"] is not None and observed["connected"]:
        assert 0 <= transcript_started_us(record) - t0 <= 2_000_000, where
    assert observed["crash"] is None, (where, observed["crash"])
    assert observed["clean"] in (True, False, None), where
    if observed["connected"]:
        assert isinstance(observed["clean_source"], str) and observed["clean_source"], where
        calls = events(record, "close_call")
        assert calls and calls[-1]["why"] == "end", (where, calls)
        assert {c["why"] for c in calls} <= {"knob", "end"}, (where, calls)


#: (spec, scenario) whose only failed check is the library calling a completed
#: closure an error: websockets 10.x raises ConnectionClosedError when the server
#: answers an empty close frame (1005 joined its OK codes in 11.0). A fact about the
#: library, judged non-strict; the knob itself acted.
NOT_CLEAN_BY_THE_LIBRARY = {("python-websockets-legacy@10.4", "knobs/close-first-no-code")}


def check_knob_records(records: dict[str, dict]) -> None:
    """What each knob scenario must show for any library: the knob really acted."""
    for name, record in records.items():
        where = (name, record["client"], record["reason"])
        if (record["client"], name) in NOT_CLEAN_BY_THE_LIBRARY:
            failed = [c for c in record["checks"] if not c["ok"]]
            assert [(c["name"], c["severity"]) for c in failed] == [("clean", "non-strict")], where
            assert record["observed"]["clean_source"] == "ConnectionClosedError", where
        else:
            assert record["verdict"] == "pass", where
        check_observation_facts(record)

    # send: both messages reached the server, in order, and were noted as sent
    record = records["knobs/send"]
    assert [e["kind"] for e in events(record, "send")] == ["text", "binary"]
    assert [f.get("text") for f in frames(record, "in", 1)] == ["hello"]
    assert [f.get("hex") for f in frames(record, "in", 2)] == ["00ff10"]

    # send ping: a ping frame with exactly that payload
    record = records["knobs/send-ping"]
    pings = frames(record, "in", 9)
    assert [p.get("hex") for p in pings] == [b"are you there".hex()], pings

    # echo: the server got back what it sent (client_messages passed) after each message
    record = records["knobs/echo"]
    assert [e["type"] for e in events(record, "echo")] == ["text", "binary"]

    # close_first after 2 messages: the client's close frame with the code and reason asked for
    record = records["knobs/close-first-after-messages"]
    closes = frames(record, "in", 8)
    assert [(c["close_code"], c["close_reason"]) for c in closes] == [(4001, "client done")]
    call = events(record, "close_call")[0]
    assert call["why"] == "knob" and call["code"] == 4001
    assert call["t_ms"] >= record["observed"]["messages"][1]["t_ms"]

    # close_first after 300 ms: the close is called then and reaches the server then, not
    # before (upper bounds are loose: the machine may be busy with other tests)
    record = records["knobs/close-first-after-ms"]
    closes = frames(record, "in", 8)
    assert [(c["close_code"], c["close_reason"]) for c in closes] == [(1000, "bored")]
    call = events(record, "close_call")[0]
    assert call["why"] == "knob" and 300 <= call["t_ms"] <= 3000, call
    opened = events(record, "open")[0]["t_ms"]
    after_ms = (closes[0]["t_us"] - opened_at_us(record)) / 1000
    assert 300 - opened - 5 <= after_ms <= 3000, (after_ms, opened)

    # close_first with no code, right after open: the library's default close, at once
    record = records["knobs/close-first-no-code"]
    closes = frames(record, "in", 8)
    assert len(closes) == 1, closes
    assert (closes[0]["t_us"] - opened_at_us(record)) / 1000 < 3000
    names = [e["event"] for e in record["observed"]["events"]]
    assert names.index("close_call") < names.index("recv_start")
    assert events(record, "close_call")[0]["code"] is None

    # recv_pace_ms 200: the messages reach the application 200 ms apart
    record = records["knobs/recv-pace"]
    times = [m["t_ms"] for m in record["observed"]["messages"]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and all(199 <= g <= 3000 for g in gaps), times

    # subprotocols: offered in order in the request, the agreed one reported
    record = records["knobs/subprotocols"]
    request = next(e for e in record["transcript"]["events"] if e.get("type") == "http_request")
    offered = [v for k, v in request["headers"] if k.lower() == "sec-websocket-protocol"]
    assert [p.strip() for p in ",".join(offered).split(",")] == ["chat.v2", "chat.v1"]
    assert record["observed"]["subprotocol"] == "chat.v1"

    # max_messages 2: receiving stopped there
    record = records["knobs/max-messages"]
    assert record["observed"]["end"] == "max_messages"
    assert len(record["observed"]["messages"]) == 2

    # recv_timeout_ms 300: gave up 300 ms after the last message
    record = records["knobs/recv-timeout"]
    assert record["observed"]["end"] == "timeout"
    waited = events(record, "timeout")[0]["t_ms"] - record["observed"]["messages"][0]["t_ms"]
    assert 299 <= waited <= 3000, waited


def check_knob_run(
    tmp_path: Path, adapter: str, versions: tuple[str, ...], transport: str = "ws"
) -> None:
    """Every knob scenario at two releases in one run, over ``transport``."""
    specs = [f"{adapter}@{v}" for v in versions]
    _, report = wsreplay_run(
        tmp_path,
        specs,
        [],
        "--scenarios-dir",
        str(e2e.KNOB_SCENARIOS),
        "--transport",
        transport,
    )
    check_clients(report, adapter, versions)
    for spec in specs:
        records = {r["scenario"]: r for r in report["results"] if r["client"] == spec}
        assert len(records) == len(e2e.knob_scenario_names()), sorted(records)
        assert {r["transport"] for r in records.values()} == {transport}
        check_knob_records(records)


# --------------------------------------------------------------------------
# the observation facts on real releases


#: A scenario for the echo bug the audit found: three messages and the close in one
#: write, read 200 ms later by an echoing client. Echoing may fail (the library is
#: closing), yet the messages it holds are still the application's to receive.
ECHO_AFTER_CLOSE = {
    "name": "echo/queued-after-close",
    "summary": "Three messages and a close frame in one TCP write, read by an echoing "
    "client 200 ms later: the echoes may fail, all three messages must arrive.",
    "rfc": ["6455#5.5.1", "6455#7.1.1"],
    "tags": ["echo"],
    "client": {"echo": True, "recv_delay_ms": 200},
    "steps": [
        {"write": [{"text": "a"}, {"text": "b"}, {"text": "c"}, {"close": 1000, "reason": "done"}]},
        {"await": "close", "timeout_ms": 2000},
        {"shutdown": "write"},
    ],
    "expect": {
        "messages": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
        "close": {"code": 1000, "reason": "done"},
    },
}


def run_facts(
    tmp_path: Path,
    specs: list[str],
    scenarios: list[str],
    extra: tuple[dict, ...] = (),
) -> dict[tuple[str, str], dict]:
    """One run of ``specs`` over a catalogue made for it: the named scenarios (from
    scenarios/ or the knob scenarios) plus ``extra`` ones; records by (scenario, spec).
    Every record carries the facts every Python adapter reports."""
    catalogue = tmp_path / "catalogue"
    for name in scenarios:
        source = REPO_ROOT / "scenarios" / f"{name}.json"
        if not source.exists():
            source = e2e.KNOB_SCENARIOS / f"{name}.json"
        target = catalogue / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text())
    for scenario in extra:
        target = catalogue / f"{scenario['name']}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(scenario))
    _, report = wsreplay_run(tmp_path / "out", specs, [], "--scenarios-dir", str(catalogue))
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    assert len(records) == len(specs) * (len(scenarios) + len(extra)), sorted(records)
    for record in records.values():
        if record["observed"]["end"] != "unsupported":
            check_observation_facts(record)
    return records


def echo_errors(record: dict) -> list[str | None]:
    """For each echo event: the type of the error the send raised, or None."""
    return [(e.get("error") or {}).get("type") for e in events(record, "echo")]


# --------------------------------------------------------------------------
# TLS: exactly the job's CA


#: The newest pinned release of each Python adapter.
TLS_SPECS = (
    "python-websockets@14.1",
    "python-websockets-sync@14.1",
    "python-aiohttp@3.14.5",
    "python-websocket-client@1.9.2",
    "python-tornado@6.6.1",
)


@pytest.mark.e2e
@pytest.mark.parametrize("spec", TLS_SPECS)
def test_wss_trusts_exactly_the_jobs_ca(
    spec: str, tmp_path: Path, wsreplay_server: ScenarioServer, wsreplay_clients: ClientPool
) -> None:
    adapter, _, error = wsreplay_clients.get(spec)
    assert adapter is not None, error
    tag = "tls-" + "".join(c if c.isalnum() else "-" for c in spec)
    url = wsreplay_server.url("close/send-then-close", f"{tag}-{os.getpid()}", tls=True)
    base = {"url": url, "knobs": e2e.knobs(recv_timeout_ms=1000), "deadline_ms": 8000}

    good = adapter.run_job({"id": "good", **base, "ca_file": str(wsreplay_server.ca_file)}, 20)
    assert good.observation is not None, good.error
    assert good.observation["connected"] is True, json.dumps(good.observation)
    assert [m.get("text") for m in good.observation["messages"]] == ["final message"]

    other = make_run_certs(tmp_path / "other-ca", "other")
    bad = adapter.run_job({"id": "bad", **base, "ca_file": str(other.ca_file)}, 20)
    assert bad.observation is not None, bad.error
    assert bad.observation["connected"] is False, bad.observation
    assert bad.observation["end"] == "connect_failed"
    error_text = json.dumps(bad.observation["error"]).lower()
    assert "certificate" in error_text or "ssl" in error_text, error_text


def test_an_exception_the_library_cannot_print_is_its_crash() -> None:
    """websockets 12.0/13.0: str(ConnectionClosed) raised AssertionError (fixed in 13.1).

    The kit must not fall over (adapter_error): the library crashed, and the
    job reports it. (A stand-in exception here; no claim about websockets.)
    """

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise AssertionError("no close frame to describe")

    obs = kit.Observation("7")
    kit.WATCH.begin(obs)
    try:
        info = kit.error_info(Unprintable())
    finally:
        kit.WATCH.done(obs)
    assert info["message"].startswith("<str() of ")
    assert obs.data["crash"]["type"] == "builtins.AssertionError"
    assert "raised builtins.AssertionError" in obs.data["crash"]["message"]
