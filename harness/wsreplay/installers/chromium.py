"""Chromium: the browser's own WebSocket, in the one Chromium this machine has.

A browser is not installed per version the way a library is: Debian ships
one Chromium (``apt-get install chromium``; ``./bootstrap --test`` installs
it), so the only version there is is the installed one. ``chromium`` and
``chromium@<that version>`` (or its major, ``chromium@156``) run it; any other
version is refused with the installed one named. ``chromium@path:DIR`` runs
the ``chromium`` (or ``chrome``) binary in DIR instead, e.g. a build of
one's own.

The adapter is a Python script (standard library only) run by the
interpreter running the harness; it starts the browser itself.

On Debian ``/usr/bin/chromium`` is a shell wrapper that adds flags of its own
from ``/etc/chromium.d`` (extensions, GPU rasterization …) and then runs
``/usr/lib/chromium/chromium``; the adapter runs that binary directly, so
only the adapter's flags apply.
"""

from __future__ import annotations

import functools
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import Installer, InstallError, Launch, Log, VersionNotFound, common

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

#: The real browser binaries behind distribution wrappers, tried first.
REAL_BINARIES = (Path("/usr/lib/chromium/chromium"),)
#: Commands looked up on PATH when none of those exists.
COMMANDS = ("chromium", "chromium-browser")
#: Binary names looked for in a ``path:DIR`` spec.
PATH_NAMES = ("chromium", "chrome")
INSTALL_HINT = "apt-get install chromium (./bootstrap --test installs it)"

_VERSION_RE = re.compile(r"\b(\d+(?:\.\d+){1,3})\b")


class NotInstalledVersion(VersionNotFound):
    """A version other than the one installed Chromium was asked for."""

    def __init__(self, package: str, requested: str, installed: str) -> None:
        super().__init__(package, requested, [installed])
        self.args = (
            f"{package} {requested} is not installed; this machine has only "
            f"Chromium {installed} (one version, from the distribution)",
        )


def version_key(version: str) -> tuple:
    """156.0.8078.108 → (0, (156, 0, 8078, 108)); anything else sorts first."""
    if re.fullmatch(r"\d+(?:\.\d+)*", version.strip()):
        return (0, tuple(int(p) for p in version.strip().split(".")))
    return (-1, (), version)


def system_binary() -> Path | None:
    """The installed Chromium binary, or None."""
    for path in REAL_BINARIES:
        if path.is_file():
            return path
    for name in COMMANDS:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


@functools.lru_cache(maxsize=8)
def binary_version(binary: Path) -> str:
    """The version ``BINARY --version`` prints (``Chromium 156.0.8078.108 …``)."""
    what = f"{binary} --version"
    out = common.run_tool([str(binary), "--version"], what=what, timeout=60)
    match = _VERSION_RE.search(out)
    if match is None:
        raise InstallError(f"{what} printed no version: {common.tail(out, 3)}")
    return match[1]


def _installed_binary() -> tuple[Path, str]:
    binary = system_binary()
    if binary is None:
        raise InstallError(f"Chromium is not installed: {INSTALL_HINT}")
    return binary, binary_version(binary)


def _launch(info: AdapterInfo, binary: Path) -> Launch:
    return Launch([sys.executable, str(info.entry), *info.args, "--chromium", str(binary)])


def _versions(info: AdapterInfo) -> list[str]:
    binary = system_binary()
    return [binary_version(binary)] if binary is not None else []


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    _binary, installed = _installed_binary()
    if requested is None:
        return installed
    wanted = requested.strip()
    if wanted == installed or installed.startswith(wanted + "."):
        return installed
    raise NotInstalledVersion(info.package, wanted, installed)


def _ensure(info: AdapterInfo, version: str, log: Log) -> Launch:
    del log  # nothing to install: the distribution did
    binary, installed = _installed_binary()
    if installed != version:
        raise NotInstalledVersion(info.package, version, installed)
    return _launch(info, binary)


def _ensure_path(info: AdapterInfo, directory: Path, log: Log) -> tuple[str, Launch]:
    del log
    for name in PATH_NAMES:
        binary = directory / name
        if binary.is_file():
            return f"path:{directory} ({binary_version(binary)})", _launch(info, binary)
    raise InstallError(f"{directory} holds no {' or '.join(PATH_NAMES)} binary")


def _installed(info: AdapterInfo) -> list[str]:
    return _versions(info)


INSTALLER = Installer(
    language="chromium",
    versions=_versions,
    resolve=_resolve,
    ensure=_ensure,
    ensure_path=_ensure_path,
    installed=_installed,
    version_key=version_key,
)
