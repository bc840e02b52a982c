"""The bench's own C programs, built with cc into bench/build/.

Not part of the project's meson build or run-tests: the bench builds what it
needs, and rebuilds a program when its source is newer than the binary.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import BENCH_DIR, BUILD_DIR

PROGRAMS = ("loadclient", "bareserver")
CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra"]


def build() -> dict[str, Path]:
    """Builds every program that is missing or stale; returns name -> binary."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    built = {}
    for name in PROGRAMS:
        source = BENCH_DIR / "c" / f"{name}.c"
        binary = BUILD_DIR / name
        if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
            subprocess.run([cc, *CFLAGS, "-o", str(binary), str(source)], check=True)
        built[name] = binary
    return built
