"""Where things live: the catalogue, the adapters, reports, the server build, caches.

Two layouts: a checkout (the repository's folders), and a `pip install`
(pyproject.toml), where the package carries the catalogue, the adapters
and the schemas in ``wsreplay/_data`` and the server is a script of the
environment (see build.server_binary).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_PACKAGE_DATA = PACKAGE_DIR / "_data"
#: Installed by pip rather than run from a checkout.
INSTALLED = _PACKAGE_DATA.is_dir()

REPO_ROOT = PACKAGE_DIR.parents[1]
DATA_ROOT = _PACKAGE_DATA if INSTALLED else REPO_ROOT
SCENARIOS_DIR = DATA_ROOT / "scenarios"
ADAPTERS_DIR = _PACKAGE_DATA / "adapters" if INSTALLED else REPO_ROOT / "harness" / "adapters"
REPORT_SCHEMA = DATA_ROOT / "results" / "report.schema.json"
#: Where runs write reports by default: the checkout's results/, or ./results.
RESULTS_DIR = Path("results") if INSTALLED else REPO_ROOT / "results"
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
