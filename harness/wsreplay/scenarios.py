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
import os
import subprocess
import tempfile
from pathlib import Path

from .build import server_binary
from .contract import Knobs, Scenario
from .paths import cache_root


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
    key = _catalogue_key(root)
    cached = _cached_catalogue(key)
    if cached is not None:
        return cached
    doc = _loader("--scenarios", str(root))
    _keep_catalogue(key, doc)
    return list(doc["scenarios"])


# Every wsreplay command loads the catalogue, and the loader takes 1-2 s for
# ~800 files (the Autobahn families expand to 1,000 scenarios, the
# compression ones carry 32 KB patterns): the normalized document is kept in
# the cache, keyed by the loader binary and every file's path, size and
# mtime, and read back in about 0.15 s while nothing changed.
CATALOGUE_CACHE_KEEP = 8


def _catalogue_dir() -> Path:
    return cache_root() / "catalogue"


def _catalogue_key(root: Path) -> str:
    digest = hashlib.sha256()
    binary = server_binary()
    st = binary.stat()
    digest.update(f"{binary.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    digest.update(f"{root.resolve()}\n".encode())
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            st = path.stat()
            rel = path.relative_to(root)
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def _cached_catalogue(key: str) -> list[Scenario] | None:
    path = _catalogue_dir() / f"{key}.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        os.utime(path)  # newest use last to be pruned
        return list(doc["scenarios"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no copy, or a broken one: the loader decides again


def _keep_catalogue(key: str, doc: dict) -> None:
    folder = _catalogue_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, folder / f"{key}.json")
        kept = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[CATALOGUE_CACHE_KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a cache that cannot be written costs only time


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
#: The tag of exhaustive parameter sweeps a run leaves out by default: every close code,
#: every UTF-8 vector of Kuhn's test, every RSV value and reserved opcode, every length
#: boundary. Each member is quick, but together they tripled the default catalogue, and the
#: hand-written scenarios beside them already catch what they have caught.
SWEEP_TAG = "sweep"
#: Tags whose scenarios run only when asked for (--all, --tag TAG, or the exact name).
OPT_IN_TAGS = (SLOW_TAG, SWEEP_TAG)


def opt_in_tags(scenario: Scenario) -> set[str]:
    """The opt-in tags this scenario carries (empty: it runs by default)."""
    return set(OPT_IN_TAGS) & set(scenario.get("tags", []))


def select_run(
    scenarios: list[Scenario], patterns: list[str], tags: list[str], include_all: bool
) -> list[Scenario]:
    """What `wsreplay run` runs of the scenarios `select` chose.

    With tags, only scenarios carrying one of them. Scenarios tagged `slow`
    or `sweep` are left out unless `include_all`, a `--tag` naming that tag,
    or a pattern that is exactly their name asks for them, so the default
    run stays fast. An empty result is an error, as for a pattern that
    matches nothing.
    """
    chosen = scenarios
    if tags:
        chosen = [s for s in chosen if set(tags) & set(s.get("tags", []))]
    if not include_all:
        chosen = [s for s in chosen if opt_in_tags(s) <= set(tags) or s["name"] in patterns]
    if not chosen:
        why = f"with the tag(s) {', '.join(tags)}" if tags else "selected"
        raise ScenarioError(
            f"no scenario {why} is left to run (those tagged "
            f"{' or '.join(repr(t) for t in OPT_IN_TAGS)} need --all or --tag)"
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
