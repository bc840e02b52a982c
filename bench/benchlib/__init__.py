"""bench/: the figures of issue 11 ("Speed"), before and after.

- `machine`: what the figures were measured on (cores, kernel, load).
- `procmem`: peak and current memory of a process tree, read from /proc.
- `cprograms`: builds the load client and the bare server with cc.
- `harnessbench`: part 1, the catalogue run through `./wsreplay run`.
- `reportbench`: part 2, writing a report of 10,000 results.
- `serverbench`: part 3, the server alone under a C load client.
- `table`: the figures as a table for people.
"""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
BUILD_DIR = BENCH_DIR / "build"
SERVER = REPO / "build" / "wsreplay-server"
