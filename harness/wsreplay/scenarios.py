"""The harness's view of the scenario catalogue, as the server's loader publishes it.

The loader (`wsreplay-server --check --json`) owns what a scenario means: it
validates every file, fills in the client knobs' defaults and computes each
scenario's time budget. The harness reads that normalized form and never
re-derives any of it from the raw files.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import hashlib
import json
import subprocess
from pathlib import Path

from .build import server_binary
from .contract import Knobs, Scenario


class ScenarioError(Exception):
    """A scenario file or selection is wrong; the message names it."""


def _loader(*args: str) -> dict:
    """The loader's normalized document for ARGS (files, or --scenarios DIR)."""
    argv = [str(server_binary()), "--check", "--json", *args]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ScenarioError(proc.stderr.strip() or f"{argv[0]} exited with {proc.returncode}")
    return json.loads(proc.stdout)


def load_all(root: Path) -> list[Scenario]:
    """Every scenario under root, normalized by the loader, sorted by name.

    Each carries "file" (where it came from), complete "client" knobs and its
    "budget_ms" ({"steps", "client", "deadline"}).
    """
    if not root.is_dir():
        raise ScenarioError(f"{root}: not a folder of scenarios")
    return list(_loader("--scenarios", str(root))["scenarios"])


@functools.cache
def _knob_defaults() -> dict[str, object]:
    # with no file, the loader's document holds the language's defaults alone
    return dict(_loader()["knob_defaults"])


def knob_defaults() -> dict[str, object]:
    """The client knobs a scenario gets when it names none (the loader's defaults)."""
    return copy.deepcopy(_knob_defaults())  # callers may change their copy


def select(scenarios: list[Scenario], patterns: list[str]) -> list[Scenario]:
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


#: The tag of scenarios a run leaves out by default: large messages, many round trips.
SLOW_TAG = "slow"


def select_run(
    scenarios: list[Scenario], patterns: list[str], tags: list[str], include_all: bool
) -> list[Scenario]:
    """What `wsreplay run` runs of the scenarios `select` chose.

    With tags, only scenarios carrying one of them. Scenarios tagged `slow`
    are left out unless `include_all`, a `--tag slow`, or a pattern that is
    exactly their name asks for them, so the default run stays fast. An
    empty result is an error, as for a pattern that matches nothing.
    """
    chosen = scenarios
    if tags:
        chosen = [s for s in chosen if set(tags) & set(s.get("tags", []))]
    if not include_all and SLOW_TAG not in tags:
        chosen = [s for s in chosen if SLOW_TAG not in s.get("tags", []) or s["name"] in patterns]
    if not chosen:
        why = f"with the tag(s) {', '.join(tags)}" if tags else "selected"
        raise ScenarioError(
            f"no scenario {why} is left to run (those tagged {SLOW_TAG!r} need --all)"
        )
    return chosen


#: Fields of a normalized scenario that say where it was read, not what it is.
_LOCAL_FIELDS = ("file",)


def identity(scenarios: list[Scenario]) -> dict[str, object]:
    """What a run's report says about the scenarios it ran, so that reports can
    be told apart by catalogue (`wsreplay merge` refuses to join two that differ).

    `digest` is the SHA-256 of the loader's normalized scenarios (knobs,
    budgets and all) as canonical JSON (sorted keys, no spaces), in the order
    given, without `file`: the same on every machine for the same scenarios,
    different when any of them changed. `scenarios` is how many there are.
    """
    canonical = [
        {key: value for key, value in scenario.items() if key not in _LOCAL_FIELDS}
        for scenario in scenarios
    ]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        "digest": "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "scenarios": len(scenarios),
    }


def knobs_for(scenario: Scenario) -> Knobs:
    """The client knobs for a job: the scenario's, complete (the loader filled them in)."""
    return scenario["client"].copy()


#: Values of `wsreplay run --compression`.
COMPRESSION_MODES = ("default", "on", "off")


def with_compression(scenario: Scenario, mode: str) -> Scenario:
    """The scenario as a run with `--compression MODE` plays it: MODE becomes
    its `compression` knob where the scenario leaves that knob at "default"
    (a scenario that sets its own, like those of compression/, keeps it).
    "default" changes nothing; the scenario itself is never modified."""
    if mode not in COMPRESSION_MODES:
        raise ValueError(f"compression mode must be one of {COMPRESSION_MODES}, not {mode!r}")
    knobs = knobs_for(scenario)
    if mode == "default" or knobs["compression"] != "default":
        return scenario
    knobs["compression"] = mode
    changed = scenario.copy()
    changed["client"] = knobs
    return changed
