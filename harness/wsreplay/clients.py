"""Client specs and the registry of adapters that drive real client libraries.

A client spec is ``ADAPTER[@VERSION]`` (``python-websockets@14.0``,
``python-websockets-sync``): which adapter, and which release of the library
under test it runs against; no version means the newest release.

`ADAPTERS` holds one `AdapterInfo` per adapter name. Installing a library
version is the business of an `Installer`, one per language, so adding a
library in a language already known is one registry entry, and adding a
language is one installer plus its entries. `prepare` turns a spec into
everything needed to start the adapter process: the exact version, the
argv and the environment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from . import pyenvs

__all__ = [
    "ADAPTERS",
    "ADAPTERS_DIR",
    "INSTALLERS",
    "AdapterInfo",
    "ClientSpec",
    "Installer",
    "PreparedClient",
    "SpecError",
    "adapter_names",
    "check_version_range",
    "parse_spec",
    "prepare",
]

#: harness/adapters/, one folder per library.
ADAPTERS_DIR = Path(__file__).resolve().parent.parent / "adapters"

Log = Callable[[str], None]


class SpecError(ValueError):
    """A client spec that cannot run: bad syntax, unknown adapter, unusable version."""


@dataclass(frozen=True)
class ClientSpec:
    """A parsed ``ADAPTER[@VERSION]``; ``version`` None means the newest release."""

    raw: str
    adapter: str
    version: str | None


#: Builds the adapter's command line from the runtime executable the
#: installer made (e.g. the venv's python) and the adapter's registry entry.
ArgvBuilder = Callable[[Path, "AdapterInfo"], list[str]]


@dataclass(frozen=True)
class AdapterInfo:
    """One adapter: the library it drives, its entry point, the versions with its API.

    ``min_version``/``max_version`` bound the releases where the API the
    adapter drives exists (inclusive; ``max_version`` only once a release
    removed it). ``too_old``/``too_new`` say in words what is missing outside
    that range; they may use ``{version}``.
    """

    name: str
    language: str
    package: str
    summary: str
    entry: Path
    argv: ArgvBuilder
    min_version: str | None = None
    max_version: str | None = None
    too_old: str = "{version} does not have the API this adapter drives"
    too_new: str = "{version} no longer has the API this adapter drives"


@dataclass(frozen=True)
class PreparedClient:
    """Everything needed to start one adapter process for one spec.

    ``env`` holds only the variables to add to the harness's environment.
    """

    spec: ClientSpec
    resolved_version: str
    argv: list[str]
    env: dict[str, str]
    adapter: AdapterInfo


@dataclass(frozen=True)
class Installer:
    """How one language lists, resolves and installs library versions.

    ``ensure`` returns the runtime executable (an interpreter, node, …) that
    sees exactly that library version; ``not_found`` is the exception
    ``resolve_version`` raises for a version the registry does not have.
    """

    language: str
    resolve_version: Callable[[str, str | None], str]
    ensure: Callable[[str, str, Log], Path]
    version_key: Callable[[str], tuple]
    not_found: type[Exception]
    env: Mapping[str, str] = field(default_factory=dict)


def _no_log(message: str) -> None:
    del message


# --------------------------------------------------------------------------
# installers, one per language

# Looked up through the module at call time, so tests can monkeypatch pyenvs.
_PYTHON = Installer(
    language="python",
    resolve_version=lambda package, requested: pyenvs.resolve_version(package, requested),
    ensure=lambda package, version, log: pyenvs.ensure_env(package, version, log=log),
    version_key=lambda version: pyenvs.version_key(version),
    not_found=pyenvs.VersionNotFound,
    env=MappingProxyType(
        {
            # The adapter must see only its venv's site-packages, print
            # nothing buffered and leave no bytecode in the repo.
            "PYTHONNOUSERSITE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
        }
    ),
)

INSTALLERS: dict[str, Installer] = {"python": _PYTHON}


# --------------------------------------------------------------------------
# the registry


def _python_script_argv(python: Path, info: AdapterInfo) -> list[str]:
    return [str(python), str(info.entry), "--api", info.name]


_WEBSOCKETS_ENTRY = ADAPTERS_DIR / "python-websockets" / "adapter.py"
# 10.0 is the adapter's floor for every websockets API: it relies on
# ConnectionClosed.rcvd/.sent (new in 10.0), and older releases predate the
# Python versions the harness runs on.
_WEBSOCKETS_FLOOR = "10.0"
_WEBSOCKETS_TOO_OLD = (
    "{version} is older than this adapter supports (it needs ConnectionClosed.rcvd, added in 10.0)"
)


def _websockets(name: str, summary: str, **extra: str) -> AdapterInfo:
    fields: dict[str, str] = {
        "min_version": _WEBSOCKETS_FLOOR,
        "too_old": _WEBSOCKETS_TOO_OLD,
    }
    fields.update(extra)
    return AdapterInfo(
        name=name,
        language="python",
        package="websockets",
        summary=summary,
        entry=_WEBSOCKETS_ENTRY,
        argv=_python_script_argv,
        **fields,
    )


ADAPTERS: dict[str, AdapterInfo] = {
    info.name: info
    for info in (
        _websockets(
            "python-websockets",
            "websockets.connect: the version's default client "
            "(legacy up to 13.x, new asyncio from 14.0)",
        ),
        _websockets(
            "python-websockets-asyncio",
            "websockets.asyncio.client.connect: the new asyncio client",
            min_version="13.0",
            too_old="{version} has no websockets.asyncio",
        ),
        _websockets(
            "python-websockets-legacy",
            "websockets.legacy.client.connect: the legacy asyncio client",
        ),
        _websockets(
            "python-websockets-sync",
            "websockets.sync.client.connect: the threading-based blocking client",
            min_version="12.0",
            too_old="{version} has no websockets.sync",
        ),
    )
}


def adapter_names() -> list[str]:
    """Known adapter names, sorted (for help texts and error messages)."""
    return sorted(ADAPTERS)


# --------------------------------------------------------------------------
# specs

_SPEC_RE = re.compile(
    r"(?P<adapter>[a-z0-9][a-z0-9._-]*)(?:@(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*))?"
)


def parse_spec(text: str) -> ClientSpec:
    """Parse ``ADAPTER[@VERSION]``; raise `SpecError` naming the spec if it is wrong.

    The version is kept as written; `prepare` resolves it against the
    registry. Surrounding whitespace is ignored, inner whitespace is not.
    """
    if not isinstance(text, str):
        raise SpecError(f"client spec must be a string, got {type(text).__name__}")
    raw = text.strip()
    match = _SPEC_RE.fullmatch(raw)
    if match is None:
        raise SpecError(
            f"bad client spec {text!r}: expected ADAPTER[@VERSION], "
            f"e.g. python-websockets@14.0 "
            f"(known adapters: {', '.join(adapter_names())})"
        )
    adapter = match["adapter"]
    if adapter not in ADAPTERS:
        raise SpecError(
            f"unknown adapter {adapter!r} in client spec {raw!r} "
            f"(known adapters: {', '.join(adapter_names())})"
        )
    return ClientSpec(raw=raw, adapter=adapter, version=match["version"])


def check_version_range(info: AdapterInfo, version: str) -> None:
    """Refuse a version outside the range where the adapter's API exists.

    Done before anything is installed, so a spec that cannot work costs no
    download and says why in one line.
    """
    key = INSTALLERS[info.language].version_key
    if info.min_version is not None and key(version) < key(info.min_version):
        raise SpecError(
            f"{info.name} needs {info.package} >= {info.min_version}; "
            + info.too_old.format(version=version)
        )
    if info.max_version is not None and key(version) > key(info.max_version):
        raise SpecError(
            f"{info.name} needs {info.package} <= {info.max_version}; "
            + info.too_new.format(version=version)
        )


def prepare(spec: ClientSpec | str, log: Log = _no_log) -> PreparedClient:
    """Resolve, check and install what ``spec`` needs; return how to start its adapter.

    Raises `SpecError` for what is wrong with the spec (unknown adapter, a
    version the registry does not have, a version without the adapter's API)
    and lets the installer's own errors through for what went wrong on this
    machine (network, pip) — `pyenvs.PyEnvError` for Python.
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    info = ADAPTERS.get(spec.adapter)
    if info is None:
        raise SpecError(
            f"unknown adapter {spec.adapter!r} in client spec {spec.raw!r} "
            f"(known adapters: {', '.join(adapter_names())})"
        )
    installer = INSTALLERS.get(info.language)
    if installer is None:
        raise SpecError(f"{info.name}: no installer for language {info.language!r}")
    try:
        version = installer.resolve_version(info.package, spec.version)
    except installer.not_found as exc:
        raise SpecError(f"client spec {spec.raw!r}: {exc}") from exc
    check_version_range(info, version)
    runtime = installer.ensure(info.package, version, log)
    return PreparedClient(
        spec=spec,
        resolved_version=version,
        argv=info.argv(runtime, info),
        env=dict(installer.env),
        adapter=info,
    )
