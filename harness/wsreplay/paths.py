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
    """The cache of installed client versions, shared by runs and kept outside the
    repository (so `git status` stays clean): ``$WSREPLAY_CACHE``, else
    ``$XDG_CACHE_HOME/wsreplay``, else ``~/.cache/wsreplay``."""
    explicit = os.environ.get("WSREPLAY_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "wsreplay"
    return Path.home() / ".cache" / "wsreplay"
