"""Installers: how each language lists, resolves and installs library versions.

One module per language (``python.py``, ``node.py``, …), each exposing
``INSTALLER``, an `Installer`. `clients` looks a language up with
`installer_for`, so adding a language is one module here and nothing else.
What the installers share (running a tool with a deadline, building a cache
entry atomically under a lock, its marker file, SemVer order, the nearest
releases) is in ``common.py``, which is no language. They all keep their
entries under `paths.cache_root`, and read adapters as `adapters.AdapterInfo`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

Log = Callable[[str], None]


class VersionNotFound(LookupError):
    """The registry has no such release; the message lists the nearest ones."""

    def __init__(self, package: str, requested: str, nearest: list[str]) -> None:
        self.package = package
        self.requested = requested
        self.nearest = nearest
        hint = f"; nearest: {', '.join(nearest)}" if nearest else ""
        super().__init__(f"{package} has no release {requested!r}{hint}")


class InstallError(RuntimeError):
    """Installing or building a library version failed on this machine."""


@dataclass(frozen=True)
class Launch:
    """How to start one adapter process: its argv and the variables to add."""

    argv: list[str]
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Installer:
    """One language's way with library versions.

    - ``versions(info)``: every release the registry offers, newest first.
    - ``resolve(info, requested)``: the exact release for a request (None =
      newest final release); raises `VersionNotFound` (or a subclass).
    - ``ensure(info, version, log)``: install (or reuse from the cache) and
      return how to start the adapter against exactly that version.
    - ``ensure_path(info, directory, log)``: the same for a local checkout;
      returns (a version label such as ``"path:/src/ws (8.18.0)"``, launch).
    - ``installed(info)``: versions already in the cache.
    - ``version_key``: a sort key for this registry's version strings.
    """

    language: str
    versions: Callable[[AdapterInfo], list[str]]
    resolve: Callable[[AdapterInfo, str | None], str]
    ensure: Callable[[AdapterInfo, str, Log], Launch]
    ensure_path: Callable[[AdapterInfo, Path, Log], tuple[str, Launch]]
    installed: Callable[[AdapterInfo], list[str]]
    version_key: Callable[[str], tuple]


def installer_for(language: str) -> Installer | None:
    """The installer of ``language`` (module ``installers/<language>.py``), or None."""
    try:
        module = importlib.import_module(f"{__name__}.{language}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{language}":
            return None
        raise
    return getattr(module, "INSTALLER", None)  # None for a helper module (common)
