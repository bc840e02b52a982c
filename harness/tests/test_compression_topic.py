"""The compression/ topic end to end against real libraries (issue 13).

node-ws 8.23.1 implements RFC 7692 as far as this topic looks: every scenario
passes, in both directions (the server's compressed frames, and the client's
compressed echoes the server inflates). python-websockets 17.4 passes all but
the scenarios of a bug the topic found: with context takeover, every message
after one whose DEFLATE data ends with a BFINAL block (RFC 7692 7.2.3.4) is
delivered as '' (its decompressor is at end of stream and keeps the rest as
unused data). Both releases are pinned so the verdicts are facts, not
whatever the newest release does today.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import WSREPLAY
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.scenarios import SLOW_TAG, load_all

pytestmark = pytest.mark.e2e

NODE_WS = "node-ws@8.23.1"
WEBSOCKETS = "python-websockets@17.4"

#: What python-websockets 17.4 does not pass, and why.
WEBSOCKETS_EXCEPTIONS = {
    # the BFINAL bug (the module's docstring)
    "compression/bfinal-then-more": "fail",
    "compression/rfc-7.2.3.4-bfinal-context-takeover": "fail",
    # a message over its max_size (1 MiB) refused with close 1009: allowed (RFC 6455 10.4)
    "compression/inflates-to-32mib": "informational",
    "compression/message-just-over-1mib": "informational",
    # ClientPerMessageDeflateFactory refuses client_max_window_bits=8 in the offer
    "compression/client-window-bits-8": "informational",
}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    out: Path = tmp_path_factory.mktemp("compression")
    proc = subprocess.run(
        [WSREPLAY, "run", "--client", NODE_WS, "--client", WEBSOCKETS,
         "--scenario", "compression/*", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    return {(r["scenario"], r["client"]): r for r in report["results"]}


def topic() -> list[str]:
    """The topic's scenarios a run takes by default: not Autobahn's 198 families (tagged slow)."""
    return [
        s["name"]
        for s in load_all(SCENARIOS_DIR)
        if s["name"].startswith("compression/") and SLOW_TAG not in s.get("tags", [])
    ]


def test_the_topic_has_forty_scenarios_or_more() -> None:
    assert len(topic()) >= 40


def test_node_ws_passes_every_compression_scenario(
    verdicts: dict[tuple[str, str], dict],
) -> None:
    wrong = {
        name: (verdicts[name, NODE_WS]["verdict"], verdicts[name, NODE_WS]["reason"])
        for name in topic()
        if verdicts[name, NODE_WS]["verdict"] != "pass"
    }
    assert wrong == {}


def test_python_websockets_fails_only_where_it_has_a_bug(
    verdicts: dict[tuple[str, str], dict],
) -> None:
    got = {
        name: verdicts[name, WEBSOCKETS]["verdict"]
        for name in topic()
        if verdicts[name, WEBSOCKETS]["verdict"] != "pass"
    }
    assert got == WEBSOCKETS_EXCEPTIONS
    for name in ("compression/bfinal-then-more", "compression/rfc-7.2.3.4-bfinal-context-takeover"):
        assert "received ''" in verdicts[name, WEBSOCKETS]["reason"], name
