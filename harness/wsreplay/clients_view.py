"""How `./wsreplay clients` shows the adapters and the versions of their libraries."""

from __future__ import annotations

from .clients import ADAPTERS, AdapterInfo, SpecError, installer


def _installed(info: AdapterInfo) -> list[str]:
    try:
        return installer(info).installed(info)
    except SpecError:
        return []


def format_adapters() -> str:
    """One block per adapter: name, language, library, what it drives, installed versions."""
    rows = []
    for name, info in sorted(ADAPTERS.items()):
        versions = _installed(info)
        shown = ", ".join(versions[:8]) + (
            f" (+{len(versions) - 8} more)" if len(versions) > 8 else ""
        )
        rows.append(
            f"{name}  [{info.language}: {info.package}]\n"
            f"    {info.summary}\n"
            f"    needs: {info.install or 'see its README'}\n"
            f"    installed: {shown or 'none yet'}"
        )
    rows.append(
        f"({len(ADAPTERS)} adapters; `wsreplay clients versions ADAPTER` lists what the "
        "registry offers)"
    )
    return "\n".join(rows)


def format_versions(adapter: str, include_pre: bool = False) -> str:
    """The registry's releases of the adapter's library, newest first; * = installed."""
    info = ADAPTERS.get(adapter)
    if info is None:
        raise SpecError(
            f"unknown adapter {adapter!r} (known adapters: {', '.join(sorted(ADAPTERS))})"
        )
    inst = installer(info)
    versions = inst.versions(info)
    installed = set(inst.installed(info))
    key = inst.version_key
    lines = []
    for version in versions:
        too_old = info.min_version is not None and key(version) < key(info.min_version)
        too_new = info.max_version is not None and key(version) > key(info.max_version)
        pre = _is_prerelease(version)
        if pre and not include_pre:
            continue
        notes = []
        if version in installed:
            notes.append("installed")
        if too_old or too_new:
            notes.append("outside the adapter's range")
        if pre:
            notes.append("pre-release")
        lines.append(f"{version}{'  (' + ', '.join(notes) + ')' if notes else ''}")
    head = f"{info.package} releases for {adapter}, newest first ({len(lines)}):"
    return "\n".join([head, *lines])


def _is_prerelease(version: str) -> bool:
    from .installers.python import is_prerelease

    return is_prerelease(version.lstrip("v")) or "-" in version
