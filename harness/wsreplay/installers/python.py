"""Python libraries: one cached venv per (package, version), from PyPI via pip."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import pyenvs
from . import Installer, Launch, Log, common

if TYPE_CHECKING:
    from ..clients import AdapterInfo

#: The adapter must see only its venv's site-packages, print nothing
#: buffered and leave no bytecode in the repo.
ENV = MappingProxyType(
    {
        "PYTHONNOUSERSITE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }
)


def _launch(info: AdapterInfo, python: Path) -> Launch:
    return Launch([str(python), str(info.entry), *info.args], ENV)


# Looked up through the module at call time, so tests can monkeypatch pyenvs.
def _versions(info: AdapterInfo) -> list[str]:
    return pyenvs.available_versions(info.package)


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    return pyenvs.resolve_version(info.package, requested)


def _ensure(info: AdapterInfo, version: str, log: Log) -> Launch:
    return _launch(info, pyenvs.ensure_env(info.package, version, log=log))


def _ensure_path(info: AdapterInfo, directory: Path, log: Log) -> tuple[str, Launch]:
    python, version = pyenvs.ensure_path_env(info.package, directory, log=log)
    return f"path:{directory} ({version})", _launch(info, python)


def _installed(info: AdapterInfo) -> list[str]:
    root = pyenvs.cache_root() / "python"
    return common.installed_versions(root, pyenvs.MARKER, pyenvs.version_key, info.package)


INSTALLER = Installer(
    language="python",
    versions=_versions,
    resolve=_resolve,
    ensure=_ensure,
    ensure_path=_ensure_path,
    installed=_installed,
    version_key=lambda version: pyenvs.version_key(version),
)
