"""Which (client, scenario) pairs shard K of N runs (`wsreplay run --shard K/N`).

N CI runners each run `--shard K/N` with the same command and catalogue;
together they run every pair exactly once, and `wsreplay merge` joins their
reports into the one a single run would have written. So the split must be
a function of the pairs and their expected durations only: the same on
every machine, whatever order the pairs arrive in.

How: the pairs, longest expected duration first (ties by client spec, then
scenario name), each go onto the shard with the least expected time so far
(ties: the lowest shard number), the greedy "longest processing time first"
rule. Every shard ends within one pair's duration of every other.

The expected duration of a pair is its scenario's `budget_ms.expected` from
the server's loader: the steps' fixed waits (delays, half their jitter,
write gaps) or the client's read delay, whichever is longer; awaits count
nothing, since a client normally answers at once. It is deterministic and
known before anything runs, the same for every client. (The upper bounds,
`steps` and `client`, are dominated by await timeouts a passing client
never waits out; they did not predict real durations at all.) A pair
costs at least 1 ms, so shards of instant pairs balance by count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ..contract import Scenario

#: A (client spec, scenario name) pair, the unit a shard runs.
Pair = tuple[str, str]

_SHARD = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """`"K/N"` -> (K, N), shard K of N counted from 1; ValueError saying what is wrong."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a shard: expected K/N such as 2/4 (shard K of N)")
    k, n = int(match[1]), int(match[2])
    if n < 1:
        raise ValueError(f"{text!r} is not a shard: N, the number of shards, must be 1 or more")
    if not 1 <= k <= n:
        raise ValueError(f"{text!r} is not a shard: K must be from 1 to {n} (counted from 1)")
    return k, n


def expected_ms(scenario: Scenario) -> int:
    """What one pair of this scenario is expected to take (see the module's docstring)."""
    return max(1, int(scenario["budget_ms"]["expected"]))


def expected_by_scenario(scenarios: Iterable[Scenario]) -> dict[str, int]:
    return {scenario["name"]: expected_ms(scenario) for scenario in scenarios}


def split(pairs: Iterable[Pair], expected: Mapping[str, int], n: int) -> list[list[Pair]]:
    """All N shards: each pair in exactly one, each shard's pairs in the order given.

    `expected` maps a scenario name to its expected duration in ms; a
    scenario it does not name counts 0.
    """
    if n < 1:
        raise ValueError(f"the number of shards must be 1 or more, not {n}")
    given = list(dict.fromkeys(pairs))  # in order, once each
    loads = [0] * n
    shard_of: dict[Pair, int] = {}
    for pair in sorted(given, key=lambda p: (-expected.get(p[1], 0), p[0], p[1])):
        lightest = min(range(n), key=lambda i: (loads[i], i))
        shard_of[pair] = lightest
        loads[lightest] += expected.get(pair[1], 0)
    shards: list[list[Pair]] = [[] for _ in range(n)]
    for pair in given:
        shards[shard_of[pair]].append(pair)
    return shards


def select(pairs: Sequence[Pair], expected: Mapping[str, int], k: int, n: int) -> list[Pair]:
    """The pairs shard K of N runs (K from 1), in the order given."""
    if not 1 <= k <= n:
        raise ValueError(f"shard {k} of {n}: K must be from 1 to N")
    return split(pairs, expected, n)[k - 1]
