#!/usr/bin/env python3
"""Before and after: every number two `bench/run --json` files share, side by side.

    python3 bench/compare.py BEFORE.json AFTER.json

One row per figure (its dotted path in the JSON), the two values and
after/before. Figures only one side has are listed at the end. Nothing is
judged: whether a higher number is better depends on the figure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def flatten(value: object, prefix: str = "") -> dict[str, float]:
    """path -> number for every int/float leaf (booleans left out)."""
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {prefix: value}
    return {}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    before, after = (flatten(json.loads(Path(p).read_text())) for p in argv)
    shared = [k for k in before if k in after]
    width = max((len(k) for k in shared), default=10)
    print(f"{'figure'.ljust(width)}  {'before':>12}  {'after':>12}  after/before")
    for key in shared:
        old, new = before[key], after[key]
        ratio = f"{new / old:.2f}" if old else "-"
        print(f"{key.ljust(width)}  {old:>12g}  {new:>12g}  {ratio:>12}")
    for side, mine, other in (("before", before, after), ("after", after, before)):
        only = [k for k in mine if k not in other]
        if only:
            print(f"\nonly {side}: " + ", ".join(only))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
