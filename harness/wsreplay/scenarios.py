"""The harness's view of the scenario catalogue: names, summaries, knobs, expectations.

The server is the authority on whether a scenario file is valid (it refuses
to start otherwise); here we only read what the harness needs.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

# The knobs every adapter understands, with the values a job gets by default.
DEFAULT_KNOBS: dict[str, object] = {
    "recv_delay_ms": 0,
    "recv_pace_ms": 0,
    "recv_timeout_ms": 3000,
    "max_messages": 1000,
    "echo": False,
    "send": [],
    "close_first": None,
    "subprotocols": [],
}


class ScenarioError(Exception):
    """A scenario file or selection is wrong; the message names it."""


def load_all(root: Path) -> list[dict]:
    """Every scenario under root, sorted by name, each with its file in "_file"."""
    out = []
    for path in sorted(root.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"{path}: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise ScenarioError(f"{path}: name: missing")
        data["_file"] = str(path)
        out.append(data)
    out.sort(key=lambda s: s["name"])
    return out


def select(scenarios: list[dict], patterns: list[str]) -> list[dict]:
    """Scenarios whose name matches any pattern (exact names or globs), in catalogue order.

    A pattern that matches nothing is an error: a typo must not shrink a run silently.
    """
    if not patterns:
        return list(scenarios)
    chosen: set[str] = set()
    for pattern in patterns:
        hits = [s["name"] for s in scenarios if fnmatch.fnmatchcase(s["name"], pattern)]
        if not hits:
            known = ", ".join(s["name"] for s in scenarios[:20])
            raise ScenarioError(f"--scenario {pattern!r} matches no scenario; known: {known}")
        chosen.update(hits)
    return [s for s in scenarios if s["name"] in chosen]


def knobs_for(scenario: dict) -> dict:
    """The client knobs for a job: the scenario's, over the defaults."""
    knobs = dict(DEFAULT_KNOBS)
    knobs.update(scenario.get("client", {}))
    return knobs
