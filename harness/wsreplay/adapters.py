"""The adapters, as their manifests describe them: one ``adapter.json`` per folder.

Every adapter folder under ``harness/adapters/`` holds an ``adapter.json``
manifest naming one or more adapters (name, language, package, entry point,
the versions where its API exists). `clients` (specs, preparing a client) and
the installers both read `AdapterInfo`; neither imports the other for it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import paths

__all__ = [
    "ADAPTERS",
    "ADAPTERS_DIR",
    "AdapterInfo",
    "SpecError",
    "adapter_names",
    "load_manifests",
]

#: harness/adapters/ (or the installed package's copy), one folder per library.
ADAPTERS_DIR = paths.ADAPTERS_DIR
MANIFEST = "adapter.json"


class SpecError(ValueError):
    """A client spec that cannot run: bad syntax, unknown adapter, unusable version."""


@dataclass(frozen=True)
class AdapterInfo:
    """One adapter, as its folder's ``adapter.json`` describes it.

    ``entry`` is the adapter's main file and ``args`` the arguments it takes
    after it; how the file is run (interpreter, build) is the installer's
    business. ``min_version``/``max_version`` bound the releases where the
    API the adapter drives exists (inclusive); ``too_old``/``too_new`` say in
    words what is missing outside that range and may use ``{version}``.
    ``install`` is the one-line description of what the adapter needs on a
    machine, for `./wsreplay clients` and the README's table.
    """

    name: str
    language: str
    package: str
    summary: str
    directory: Path
    entry: Path
    args: tuple[str, ...] = ()
    min_version: str | None = None
    max_version: str | None = None
    too_old: str = "{version} does not have the API this adapter drives"
    too_new: str = "{version} no longer has the API this adapter drives"
    install: str = ""
    extra: dict = field(default_factory=dict, compare=False)


_KNOWN_FIELDS = {f for f in AdapterInfo.__dataclass_fields__ if f not in ("directory", "extra")}


def _manifest_entries(path: Path) -> list[AdapterInfo]:
    """The adapters one manifest declares; `SpecError` naming the file if it is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SpecError(f"{path}: cannot read adapter manifest: {exc}") from exc
    entries = data.get("adapters") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{path}: expected an object with a non-empty 'adapters' list")
    infos = []
    for i, entry in enumerate(entries):
        where = f"{path}: adapters[{i}]"
        if not isinstance(entry, dict):
            raise SpecError(f"{where}: expected an object")
        missing = [k for k in ("name", "language", "package", "summary", "entry") if k not in entry]
        if missing:
            raise SpecError(f"{where}: missing {', '.join(missing)}")
        known = {k: v for k, v in entry.items() if k in _KNOWN_FIELDS}
        extra = {k: v for k, v in entry.items() if k not in _KNOWN_FIELDS}
        known["entry"] = path.parent / known["entry"]
        known["args"] = tuple(known.get("args", ()))
        infos.append(AdapterInfo(directory=path.parent, extra=extra, **known))
    return infos


@functools.cache
def load_manifests(root: Path = ADAPTERS_DIR) -> dict[str, AdapterInfo]:
    """Every adapter declared under ``root``, by name."""
    found: dict[str, AdapterInfo] = {}
    for path in sorted(root.glob(f"*/{MANIFEST}")):
        for info in _manifest_entries(path):
            if info.name in found:
                raise SpecError(f"{path}: adapter {info.name!r} is declared twice")
            found[info.name] = info
    return found


ADAPTERS: dict[str, AdapterInfo] = load_manifests()


def adapter_names() -> list[str]:
    """Known adapter names, sorted (for help texts and error messages)."""
    return sorted(ADAPTERS)
