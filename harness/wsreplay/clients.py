"""Client specs and the registry of adapters that drive real client libraries.

A client spec is ``ADAPTER[@VERSION]`` (``python-websockets@14.0``,
``node-ws``) or ``ADAPTER@path:DIR`` (a local checkout of the library, for
maintainers testing their own change); no version means the newest release.

Adapters describe themselves (`wsreplay.adapters`: every adapter folder holds
an ``adapter.json`` manifest naming one or more adapters). Installing a
library version is the business of the language's installer
(`wsreplay.installers`). So adding a library is one adapter folder, and
adding a language is one installer module besides.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .adapters import ADAPTERS, ADAPTERS_DIR, AdapterInfo, SpecError, adapter_names, load_manifests
from .installers import Installer, InstallError, Launch, VersionNotFound, common, installer_for

__all__ = [
    "ADAPTERS",
    "ADAPTERS_DIR",
    "AdapterInfo",
    "ClientSpec",
    "PreparedClient",
    "SpecError",
    "adapter_names",
    "check_version_range",
    "installer",
    "load_manifests",
    "parse_spec",
    "prepare",
]

Log = Callable[[str], None]


@dataclass(frozen=True)
class ClientSpec:
    """A parsed spec: ``version`` None means the newest release, ``path`` a local checkout."""

    raw: str
    adapter: str
    version: str | None
    path: Path | None = None


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


def installer(info: AdapterInfo) -> Installer:
    found = installer_for(info.language)
    if found is None:
        raise SpecError(f"{info.name}: no installer for language {info.language!r}")
    return found


# --------------------------------------------------------------------------
# specs

_SPEC_RE = re.compile(
    r"(?P<adapter>[a-z0-9][a-z0-9._-]*)"
    r"(?:@(?:path:(?P<path>.+)|(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)))?"
)


def _unknown_adapter(adapter: str, raw: str) -> SpecError:
    return SpecError(
        f"unknown adapter {adapter!r} in client spec {raw!r} "
        f"(known adapters: {', '.join(adapter_names())})"
    )


def parse_spec(text: str) -> ClientSpec:
    """Parse ``ADAPTER[@VERSION]`` or ``ADAPTER@path:DIR``; `SpecError` naming the spec.

    The version is kept as written; `prepare` resolves it against the
    registry. A path must be an existing directory. Surrounding whitespace
    is ignored, inner whitespace is not (except inside a path).
    """
    if not isinstance(text, str):
        raise SpecError(f"client spec must be a string, got {type(text).__name__}")
    raw = text.strip()
    match = _SPEC_RE.fullmatch(raw)
    if match is None:
        raise SpecError(
            f"bad client spec {text!r}: expected ADAPTER[@VERSION] or ADAPTER@path:DIR, "
            f"e.g. python-websockets@14.0 "
            f"(known adapters: {', '.join(adapter_names())})"
        )
    adapter = match["adapter"]
    if adapter not in ADAPTERS:
        raise _unknown_adapter(adapter, raw)
    path = None
    if match["path"] is not None:
        path = Path(match["path"]).expanduser().resolve()
        if not path.is_dir():
            raise SpecError(f"client spec {raw!r}: {path} is not a directory")
    return ClientSpec(raw=raw, adapter=adapter, version=match["version"], path=path)


def check_version_range(info: AdapterInfo, version: str) -> None:
    """Refuse a version outside the range where the adapter's API exists.

    Done before anything is installed, so a spec that cannot work costs no
    download and says why in one line.
    """
    key = installer(info).version_key
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


def _ensure(inst: Installer, info: AdapterInfo, version: str, log: Log) -> Launch:
    """``inst.ensure``, whose error names the damaged cache entry it removed, if any.

    The installers check an entry before use (`common.entry_intact`) and
    remove a damaged one to reinstall it; when that reinstall fails (no
    network), the error says which entry was removed and why, not only what
    the registry tool printed.
    """
    before = len(common.REMOVED_ENTRIES)
    try:
        return inst.ensure(info, version, log)
    except InstallError as exc:
        removed = common.REMOVED_ENTRIES[before:]
        if not removed:
            raise
        entries = "; ".join(f"{path} ({damage})" for path, damage in removed)
        raise InstallError(
            f"{exc}\nthe damaged cache entry {entries} was removed to be reinstalled, and "
            "reinstalling it failed; the next run tries again"
        ) from exc


def prepare(spec: ClientSpec | str, log: Log = lambda _line: None) -> PreparedClient:
    """Resolve, check and install what ``spec`` needs; return how to start its adapter.

    Raises `SpecError` for what is wrong with the spec (unknown adapter, a
    version the registry does not have, a version without the adapter's API)
    and lets the installer's own errors through for what went wrong on this
    machine (network, a failed build).
    """
    if isinstance(spec, str):
        spec = parse_spec(spec)
    info = ADAPTERS.get(spec.adapter)
    if info is None:
        raise _unknown_adapter(spec.adapter, spec.raw)
    inst = installer(info)
    launch: Launch
    if spec.path is not None:
        version, launch = inst.ensure_path(info, spec.path, log)
    else:
        try:
            version = inst.resolve(info, spec.version)
        except VersionNotFound as exc:
            raise SpecError(f"client spec {spec.raw!r}: {exc}") from exc
        check_version_range(info, version)
        launch = _ensure(inst, info, version, log)
    return PreparedClient(
        spec=spec,
        resolved_version=version,
        argv=list(launch.argv),
        env=dict(launch.env),
        adapter=info,
    )
