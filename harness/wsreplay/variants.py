"""Variant axes (`wsreplay run --vary split=frames,every-byte,...`).

A variant replays a scenario with the same bytes travelling differently:
the server (`?vary=NAME` in the URL; server/steps.h) replaces each write
group's own cuts with the variant's. Each (scenario, variant) is a cell of
its own, named `SCENARIO~VARIANT` (`close/send-then-close~every-byte`):
scenario names never hold a `~`, so the name says which cell it is, and
reports, JUnit, HTML, summary, compare, bisect, merge and `--shard` treat
it as one more scenario.

A cell is the scenario's normalized object with that name, a client
`recv_timeout_ms` and a deadline that leave room for the variant's extra
pieces (`extra_ms`), and `"transport": "wss"` for the TLS variants.
Not every scenario gets cells: one that opts out (`"vary": {"no": WHY}`)
and one too large to go a byte per write are skipped, with the reason,
in the run's output and report.
"""

from __future__ import annotations

import fnmatch
import math

from .contract import Scenario
from .scenarios import ScenarioError, select

#: Every variant the server knows, in the order cells are listed.
VARIANTS = (
    "frames",
    "header-payload",
    "every-byte",
    "gaps",
    "tls-record-per-write",
    "tls-record-per-byte",
)

#: The axes `--vary AXIS=NAME,...` takes, and the variants each allows.
AXES = {"split": VARIANTS}

#: Variants that run over wss:// only.
TLS_VARIANTS = ("tls-record-per-write", "tls-record-per-byte")

#: Variants that send a byte per write.
BYTE_VARIANTS = ("every-byte", "tls-record-per-byte")

#: The server's pause between pieces under `gaps` (WSR_VARY_GAP_MS).
GAP_MS = 5

#: What one piece may cost: the server waits for each piece's ACK (it polls
#: every millisecond); about 2.6 ms a piece was measured on a loaded machine.
PIECE_MS = 5

#: The most a scenario's write groups may hold to go a byte per write: at
#: PIECE_MS a byte, 4096 bytes are 20 s (each piece is also two transcript
#: events: a write and its ack; the transcript keeps 100000).
BYTE_VARIANT_MAX_BYTES = 4096

SEPARATOR = "~"


class VaryError(ValueError):
    """A --vary value that names no axis or variant; the message says which."""


def parse_vary(values: list[str]) -> list[str]:
    """The variants of `--vary` values (each `AXIS=NAME[,NAME...]`), in `VARIANTS`
    order, each once."""
    chosen: set[str] = set()
    for value in values:
        axis, eq, names = value.partition("=")
        if not eq or axis not in AXES:
            raise VaryError(
                f"--vary {value!r}: expected AXIS=NAME[,NAME...] with AXIS one of {', '.join(AXES)}"
            )
        for name in names.split(","):
            if name not in AXES[axis]:
                raise VaryError(
                    f"--vary {value!r}: no variant {name!r}; {axis}= takes {', '.join(AXES[axis])}"
                )
            chosen.add(name)
    return [v for v in VARIANTS if v in chosen]


def cell_name(scenario: str, variant: str) -> str:
    return f"{scenario}{SEPARATOR}{variant}"


def split_name(name: str) -> tuple[str, str | None]:
    """(scenario, variant) of a cell name; variant None for a plain scenario."""
    base, sep, variant = name.partition(SEPARATOR)
    return (base, variant) if sep else (name, None)


def skip_reason(scenario: Scenario, variant: str) -> str | None:
    """Why the scenario gets no cell for the variant, or None."""
    opt_out = scenario.get("vary")
    if opt_out:
        return f"opts out: {opt_out['no']}"
    size = scenario["wire"]["bytes"]
    if variant in BYTE_VARIANTS and size > BYTE_VARIANT_MAX_BYTES:
        return (
            f"{size} bytes of writes: more than {BYTE_VARIANT_MAX_BYTES} to send a byte per write"
        )
    return None


def extra_ms(scenario: Scenario, variant: str) -> int:
    """The time the variant's pieces may add to a job: a piece per byte, or
    up to two per item (frames, header and payload) and a gap between them."""
    wire = scenario["wire"]
    if variant in BYTE_VARIANTS:
        pieces = wire["bytes"]
    elif variant == "tls-record-per-write":
        pieces = 0
    else:
        pieces = 2 * wire["items"]
    gap = GAP_MS if variant == "gaps" else 0
    return math.ceil(pieces * (PIECE_MS + gap))


def make_cell(scenario: Scenario, variant: str) -> Scenario:
    """The scenario's cell under the variant (the scenario is not modified)."""
    cell = scenario.copy()
    cell["name"] = cell_name(scenario["name"], variant)
    extra = extra_ms(scenario, variant)
    # The client waits for a message that now arrives in many pieces: its
    # recv_timeout_ms grows by the variant's time, and the job's deadline
    # by that and by the server's longer steps.
    knobs = scenario["client"].copy()
    knobs["recv_timeout_ms"] += extra
    cell["client"] = knobs
    budget = scenario["budget_ms"].copy()
    budget["steps"] += extra
    budget["client"] += extra
    budget["deadline"] += 2 * extra
    budget["expected"] += extra  # longest jobs first, and --shard balance
    cell["budget_ms"] = budget
    if variant in TLS_VARIANTS:
        cell["transport"] = "wss"
    return cell


def with_variants(
    scenarios: list[Scenario], variants: list[str]
) -> tuple[list[Scenario], list[dict[str, str]]]:
    """The run's cells: each scenario, then its variant cells; and the
    (scenario, variant) pairs skipped, each `{"scenario", "variant", "reason"}`."""
    cells: list[Scenario] = []
    skipped: list[dict[str, str]] = []
    for scenario in scenarios:
        cells.append(scenario)
        for variant in variants:
            reason = skip_reason(scenario, variant)
            if reason:
                skipped.append({"scenario": scenario["name"], "variant": variant, "reason": reason})
            else:
                cells.append(make_cell(scenario, variant))
    return cells, skipped


def select_cells(
    catalogue: list[Scenario], patterns: list[str], variants: list[str]
) -> tuple[list[Scenario], list[dict[str, str]]]:
    """`with_variants` of the scenarios --scenario PATTERNs select, where a
    pattern may name cells: `close/*~every-byte` selects by the part before
    `~` and keeps only the cells (plain or variant) some pattern matches. A
    pattern whose cells the run's --vary does not make is an error."""
    cells, skipped = with_variants(
        select(catalogue, [p.partition(SEPARATOR)[0] for p in patterns]), variants
    )
    if not any(SEPARATOR in p for p in patterns):
        return cells, skipped

    def wanted(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in patterns)

    for pattern in (p for p in patterns if SEPARATOR in p):
        names = [c["name"] for c in cells] + [
            cell_name(s["scenario"], s["variant"]) for s in skipped
        ]
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise ScenarioError(
                f"--scenario {pattern!r} matches no cell of this run "
                f"(--vary makes {', '.join(variants) or 'none'})"
            )
    return (
        [c for c in cells if wanted(c["name"])],
        [s for s in skipped if wanted(cell_name(s["scenario"], s["variant"]))],
    )
