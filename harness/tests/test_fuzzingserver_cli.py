"""`wsreplay fuzzingserver` end to end: the CLI, the front, the server, a real driver.

The driver is written the way library repositories write their Autobahn
client driver (python-websockets' compliance/test_client.py is the model):
ask the case count, play each case echoing every message, update the
reports. It runs on the real `websockets` from PyPI (the harness's cached
env for the python-websockets adapter); it reads the URL from
$WSREPLAY_AUTOBAHN_URL only because the test listens on a free port.
Two variants misbehave on purpose: one stops after case 3 without
updateReports, one hangs in case 4 until the timeout kills it; both must
still leave a verdict for every case they started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import WSREPLAY, wsreplay
from wsreplay.fuzzingserver.reports import BEHAVIORS
from wsreplay.installers.python import ensure_env
from wsreplay.paths import REPORT_SCHEMA

#: The version of the real library the driver uses (a cached env).
WEBSOCKETS = "16.0"

DRIVER = """\
import asyncio, json, os, sys

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

SERVER = os.environ.get("WSREPLAY_AUTOBAHN_URL", "ws://127.0.0.1:9001")
AGENT = "websockets"
STOP_AFTER = int(sys.argv[1]) if len(sys.argv) > 1 else 0
HANG_IN = int(sys.argv[2]) if len(sys.argv) > 2 else 0


async def get_case_count():
    async with connect(f"{SERVER}/getCaseCount") as ws:
        return json.loads(await ws.recv())


async def run_case(case):
    uri = f"{SERVER}/runCase?case={case}&agent={AGENT}"
    try:
        async with connect(uri, max_size=2**25) as ws:
            if case == HANG_IN:
                await asyncio.sleep(3600)
            async for message in ws:
                await ws.send(message)
    except WebSocketException:
        pass


async def update_reports():
    async with connect(f"{SERVER}/updateReports?agent={AGENT}", open_timeout=None):
        pass


async def main():
    count = await get_case_count()
    print(f"{count} cases", flush=True)
    for case in range(1, count + 1):
        print(f"case {case}", flush=True)
        await run_case(case)
        if case == STOP_AFTER:
            return
    await update_reports()


asyncio.run(main())
"""

#: Ten Autobahn cases in numeric order: a scenario plays the first nine,
#: none 13.7.18 (UNIMPLEMENTED: docs/autobahn.md says why).
CASES = ["1.1.1", "1.1.2", "1.1.3", "1.2.1", "1.2.2", "2.1", "2.2", "3.1", "5.1", "13.7.18"]


@pytest.fixture(scope="module")
def driver_python() -> Path:
    return ensure_env("websockets", WEBSOCKETS)


def run_mode(
    tmp_path: Path, python: Path, *driver_args: str, timeout: str = "120"
) -> tuple[int, str, Path]:
    (tmp_path / "driver.py").write_text(DRIVER)
    spec = tmp_path / "fuzzingserver.json"
    outdir = tmp_path / "reports" / "clients"
    spec.write_text(
        json.dumps({"outdir": str(outdir), "cases": CASES, "wsreplay-scenarios": "none"})
    )
    out = tmp_path / "out"
    proc = wsreplay(
        "fuzzingserver",
        "--spec",
        str(spec),
        "--port",
        "0",
        "--out",
        str(out),
        "--timeout",
        timeout,
        "--",
        str(python),
        str(tmp_path / "driver.py"),
        *driver_args,
        timeout=600,
    )
    return proc.returncode, proc.stderr, outdir


def check_reports(tmp_path: Path, outdir: Path, played: list[str]) -> dict:
    index = json.loads((outdir / "index.json").read_text())
    assert set(index) == {"websockets"}
    assert sorted(index["websockets"]) == sorted(played)
    for entry in index["websockets"].values():
        assert entry["behavior"] in BEHAVIORS
        case = json.loads((outdir / entry["reportfile"]).read_text())
        assert case["behavior"] == entry["behavior"] and case["result"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    assert (tmp_path / "out" / "junit.xml").is_file()
    return index["websockets"]


@pytest.mark.e2e
def test_real_driver_runs_unchanged(tmp_path: Path, driver_python: Path) -> None:
    code, stderr, outdir = run_mode(tmp_path, driver_python)
    by_case = check_reports(tmp_path, outdir, CASES)
    # websockets echoes these plain messages and pings as Autobahn expects
    assert {c: e["behavior"] for c, e in by_case.items()} == {
        **dict.fromkeys(CASES[:-1], "OK"),
        "13.7.18": "UNIMPLEMENTED",
    }
    assert code == 0, stderr
    assert "10 cases" in (tmp_path / "out" / "driver.log").read_text()


@pytest.mark.e2e
def test_driver_that_stops_after_three_cases(tmp_path: Path, driver_python: Path) -> None:
    code, stderr, outdir = run_mode(tmp_path, driver_python, "3")
    check_reports(tmp_path, outdir, CASES[:3])  # no updateReports: written at the end
    assert code in (0, 1), stderr


@pytest.mark.e2e
def test_driver_that_hangs_is_stopped(tmp_path: Path, driver_python: Path) -> None:
    code, stderr, outdir = run_mode(tmp_path, driver_python, "0", "5", timeout="20")
    assert code == 1 and "still ran after 20 s" in stderr, stderr
    check_reports(tmp_path, outdir, CASES[:5])


@pytest.mark.e2e
def test_serving_until_sigterm_writes_what_was_played(tmp_path: Path, driver_python: Path) -> None:
    """No driver command: the mode serves; a driver that never calls updateReports
    plays three cases; SIGTERM stops the mode, which writes the reports."""
    (tmp_path / "driver.py").write_text(DRIVER)
    spec = tmp_path / "fuzzingserver.json"
    outdir = tmp_path / "reports" / "clients"
    spec.write_text(json.dumps({"outdir": str(outdir), "cases": CASES}))
    out = tmp_path / "out"
    argv = [WSREPLAY, "fuzzingserver", "--spec", str(spec), "--port", "0", "--out", str(out)]
    mode = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        assert mode.stderr is not None
        first = mode.stderr.readline()
        found = re.search(r"on (ws://[0-9.]+:[0-9]+)", first)
        assert found, first
        env = dict(os.environ, WSREPLAY_AUTOBAHN_URL=found.group(1))
        driver = [str(driver_python), str(tmp_path / "driver.py"), "3"]
        subprocess.run(driver, env=env, check=True, timeout=300, capture_output=True)
        mode.send_signal(signal.SIGTERM)
        _, rest = mode.communicate(timeout=120)
    finally:
        if mode.poll() is None:
            mode.kill()
            mode.wait()
    assert mode.returncode == 143, rest
    check_reports(tmp_path, outdir, CASES[:3])


def test_bad_spec_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"cases": "1.*"}))
    proc = wsreplay("fuzzingserver", "--spec", str(spec), timeout=120)
    assert proc.returncode == 2
    assert str(spec) in proc.stderr and "'cases'" in proc.stderr
