"""Where things live: the repository, its scenarios, the server binary, caches."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS_DIR = REPO_ROOT / "scenarios"
RESULTS_DIR = REPO_ROOT / "results"
REPORT_SCHEMA = RESULTS_DIR / "report.schema.json"
BUILD_DIR = Path(os.environ.get("WSREPLAY_BUILD_DIR", REPO_ROOT / "build"))


def cache_root() -> Path:
    """The cache for installed client versions: outside the repository, shared by runs."""
    if os.environ.get("WSREPLAY_CACHE"):
        return Path(os.environ["WSREPLAY_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wsreplay"
