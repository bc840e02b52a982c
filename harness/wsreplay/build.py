"""Builds the C server on demand so `./wsreplay` works straight from a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

from .paths import BUILD_DIR, INSTALLED, REPO_ROOT


class BuildError(Exception):
    """The server could not be built; the message carries the build output."""


def server_binary() -> Path:
    """Returns the server executable, building it first (meson + ninja) if needed.

    WSREPLAY_SERVER names a prebuilt binary and skips the build, e.g. for a
    sanitizer build under test.
    """
    override = os.environ.get("WSREPLAY_SERVER")
    if override:
        path = Path(override)
        if not path.is_file():
            raise BuildError(f"WSREPLAY_SERVER={override} is not a file")
        return path
    if INSTALLED:
        return _installed_binary()
    for tool in ("meson", "ninja"):
        if shutil.which(tool) is None:
            raise BuildError(f"'{tool}' is not installed; run ./bootstrap first")
    if not (BUILD_DIR / "build.ninja").exists():
        _run(["meson", "setup", str(BUILD_DIR)], "meson setup")
    _run(["ninja", "-C", str(BUILD_DIR), "wsreplay-server"], "ninja")
    return BUILD_DIR / "wsreplay-server"


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-4000:]
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def _installed_binary() -> Path:
    """The server `pip install` put beside the environment's scripts."""
    beside = Path(sysconfig.get_path("scripts")) / "wsreplay-server"
    found = beside if beside.is_file() else shutil.which("wsreplay-server")
    if not found:
        raise BuildError(f"wsreplay-server is not installed (looked in {beside.parent} and PATH)")
    return Path(found)
