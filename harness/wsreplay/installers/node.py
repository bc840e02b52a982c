"""JavaScript libraries for Node.js: one cached npm prefix per (package, version).

A client spec such as ``node-ws@8.18.3`` runs its adapter with ``node``
against exactly that release, installed from the npm registry with the
machine's ``npm`` into a prefix of its own:

    <cache root>/node/<package>-<version>/node_modules/<package>/

The adapter loads the package from that directory by its absolute path
(``WSREPLAY_NODE_PACKAGE_DIR``), so no ``node_modules`` folder above the
adapter and no global install can shadow it; ``NODE_PATH`` points at the
prefix's ``node_modules`` as well, for the package's own dependencies and for
running an adapter by hand.

The adapter itself runs in place (``node harness/adapters/<name>/adapter.js``)
and finds the JavaScript adapter kit by a path relative to its own file
(``require('../js-common/node-contract.js')``); nothing of the kit goes into
the prefix, so a new JavaScript adapter needs no change here.

A prefix is built in a temporary directory beside its final place and renamed
into place only after npm succeeded, the installed version was checked and a
marker file was written (as `installers.python.ensure_env` does), so a killed
install never leaves a prefix that looks complete.

"Newest" (a spec without a version) is the newest final release whose
``engines.node`` range this machine's ``node`` satisfies: npm itself only
warns about a mismatch, but a library that declares it needs a newer Node
(undici 8 wants Node >= 22.19; this machine has Node 20) may not load or may
misbehave, and its verdicts would say nothing about the library. The
registry's ``latest`` dist-tag is not used either: it can point below the
newest release or to a release line the machine cannot run.

A local checkout (``node-ws@path:/src/ws``) is installed with ``npm install
DIR``, which links the checkout into a prefix kept per absolute path and
redone on every call, so the adapter always runs the working tree as it is
now; its version label comes from ``DIR/package.json``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import cache_root
from . import Installer, InstallError, Launch, Log, VersionNotFound, common

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

#: Written last into a finished prefix; a prefix without it is not used.
MARKER = ".wsreplay-npm.json"
#: Seconds allowed for `npm view` (listing versions).
VIEW_TIMEOUT_S = 120.0
#: Seconds allowed for one `npm install`.
INSTALL_TIMEOUT_S = 600.0


def _no_log(message: str) -> None:
    del message


# --------------------------------------------------------------------------
# semver: versions and ranges, as npm orders and matches them


_SEMVER_RE = re.compile(
    r"^\s*[v=]?\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?"
    r"(?:-?([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?\s*$"
)


def version_key(version: str) -> tuple:
    """A sort key ordering npm (semver) versions as npm does.

    A pre-release (``8.0.0-beta.1``, also ``0.3.4-2``) sorts before its
    release; its dot-separated identifiers compare numerically when numeric,
    numeric before alphanumeric. Missing minor/patch count as 0, so ``8.18``
    equals ``8.18.0``. Strings that are not versions sort before all others.
    """
    match = _SEMVER_RE.match(version)
    if match is None:
        return (-1, (), version)
    major, minor, patch = (int(part or 0) for part in match.group(1, 2, 3))
    return common.semver_key((major, minor, patch), match[4])


def is_prerelease(version: str) -> bool:
    key = version_key(version)
    return key[0] == 0 and key[2][0] == 0


_COMPARATOR_RE = re.compile(
    r"^(<=|>=|<|>|=|\^|~>?|)\s*v?([0-9xX*]+(?:\.[0-9xX*]+){0,2})(?:[-+].*)?$"
)


def _partial(text: str) -> list[int | None]:
    """``20.1`` → [20, 1, None]; x, X and * are wildcards (None)."""
    parts: list[int | None] = [None if p in ("x", "X", "*") else int(p) for p in text.split(".")]
    while len(parts) < 3:
        parts.append(None)
    # Anything after a wildcard is a wildcard too (1.x.3 means 1.x).
    for i in range(1, 3):
        if parts[i - 1] is None:
            parts[i] = None
    return parts


def _bound(parts: list[int | None]) -> tuple[int, int, int]:
    return (parts[0] or 0, parts[1] or 0, parts[2] or 0)


def _comparators(token: str) -> list[tuple[str, tuple[int, int, int]]] | None:
    """One range token as (operator, version) pairs that must all hold; None if unparsable."""
    if token in ("*", "x", "X", ""):
        return []
    match = _COMPARATOR_RE.match(token)
    if match is None:
        return None
    op, parts = match[1], _partial(match[2])
    major, minor, patch = parts
    if major is None:
        return [] if op in ("", "=", ">=", "<=", "^", "~", "~>") else [("<", (0, 0, 0))]
    if op in ("", "="):
        if minor is None:
            return [(">=", (major, 0, 0)), ("<", (major + 1, 0, 0))]
        if patch is None:
            return [(">=", (major, minor, 0)), ("<", (major, minor + 1, 0))]
        return [("=", (major, minor, patch))]
    if op in ("~", "~>"):
        if minor is None:
            return [(">=", (major, 0, 0)), ("<", (major + 1, 0, 0))]
        return [(">=", _bound(parts)), ("<", (major, minor + 1, 0))]
    if op == "^":
        low = _bound(parts)
        if major > 0 or minor is None:
            return [(">=", low), ("<", (major + 1, 0, 0))]
        if minor > 0 or patch is None:
            return [(">=", low), ("<", (0, minor + 1, 0))]
        return [(">=", low), ("<", (0, 0, patch + 1))]
    if op == ">":
        if minor is None:
            return [(">=", (major + 1, 0, 0))]
        if patch is None:
            return [(">=", (major, minor + 1, 0))]
        return [(">", (major, minor, patch))]
    if op == "<=":
        if minor is None:
            return [("<", (major + 1, 0, 0))]
        if patch is None:
            return [("<", (major, minor + 1, 0))]
        return [("<=", (major, minor, patch))]
    return [(op, _bound(parts))]  # >= and < with wildcards filled by 0


def _holds(version: tuple[int, int, int], op: str, bound: tuple[int, int, int]) -> bool:
    return {
        "=": version == bound,
        ">": version > bound,
        ">=": version >= bound,
        "<": version < bound,
        "<=": version <= bound,
    }[op]


def range_satisfied(range_text: str, version: tuple[int, int, int]) -> bool | None:
    """Whether a release version satisfies an npm range (``>=14 <16 || ^18``).

    Covers what ``engines`` fields use: ``||`` alternatives, space-separated
    comparators, ``^``, ``~``, x-ranges and hyphen ranges. None when the range
    cannot be parsed (the caller decides what that means).
    """
    for alternative in range_text.split("||"):
        text = re.sub(r"(<=|>=|<|>|=|\^|~>?)\s+", r"\1", alternative.strip())
        hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
        if hyphen:
            low, high = _comparators(hyphen[1]), _comparators("<=" + hyphen[2])
            if low is None or high is None:
                return None
            low = [(">=", bound) for _op, bound in low[:1]]
            comparators = low + high
        else:
            comparators = []
            for token in text.split():
                parsed = _comparators(token)
                if parsed is None:
                    return None
                comparators += parsed
        if all(_holds(version, op, bound) for op, bound in comparators):
            return True
    return False


# --------------------------------------------------------------------------
# running node and npm


def _npm_environ() -> dict[str, str]:
    """npm quiet and non-interactive, with no prefix or global settings leaking in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in {"npm_config_prefix", "npm_config_global", "npm_config_save"}
    }
    env.update(
        {
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
            "npm_config_progress": "false",
            "npm_config_yes": "true",
        }
    )
    return env


def _run(argv: list[str], what: str, timeout: float) -> str:
    """Run node or npm; its stdout, or `InstallError` with the tail of its output."""
    return common.run_tool(
        argv, what=what, timeout=timeout, env=_npm_environ(), hint=" (is Node.js installed?)"
    )


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InstallError(f"'{name}' is not on PATH; the node adapters need Node.js and npm")
    return found


@functools.lru_cache(maxsize=1)
def node_version() -> str:
    """This machine's ``node --version`` without the ``v`` (e.g. ``20.20.2``)."""
    return _run([_tool("node"), "--version"], "node --version", 60).strip().lstrip("v")


def _node_release() -> tuple[int, int, int]:
    key = version_key(node_version())
    if key[0] != 0:
        raise InstallError(f"cannot parse node --version output {node_version()!r}")
    return key[1]


def _view_json(spec: str, *fields: str) -> object:
    out = _run(
        [_tool("npm"), "view", spec, *fields, "--json"],
        f"npm view {spec} {' '.join(fields)}",
        VIEW_TIMEOUT_S,
    )
    try:
        return json.loads(out) if out.strip() else None
    except ValueError as exc:
        raise InstallError(f"npm view {spec}: output is not JSON: {out[:200]!r}") from exc


@functools.lru_cache(maxsize=64)
def _versions_cached(package: str) -> tuple[str, ...]:
    data = _view_json(package, "versions")
    versions = [data] if isinstance(data, str) else data
    if not isinstance(versions, list) or not versions:
        raise InstallError(f"npm view {package} versions: the registry lists no versions")
    return tuple(sorted({str(v) for v in versions}, key=version_key, reverse=True))


def available_versions(package: str) -> list[str]:
    """Every version of ``package`` on the registry, newest first (pre-releases too).

    Asked once per process (``npm view PKG versions``), through npm, so the
    user's npm configuration (registry, proxy, auth) applies.
    """
    return list(_versions_cached(package))


@functools.lru_cache(maxsize=64)
def _engines_cached(package: str) -> tuple[tuple[str, str | None], ...]:
    # `npm view` shapes its JSON after the first result's fields: with only
    # `version engines`, a first release without `engines` turns the whole
    # answer into a bare list of versions. `name` is always there, so asking
    # for it too keeps one object per release. The range leaves pre-releases out.
    data = _view_json(f"{package}@>=0.0.0", "name", "version", "engines")
    rows = [data] if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InstallError(f"npm view {package} engines: unexpected answer {str(data)[:200]}")
    found = []
    for row in rows:
        if not isinstance(row, dict) or "version" not in row:
            continue
        engines = row.get("engines")
        node = engines.get("node") if isinstance(engines, dict) else None
        found.append((str(row["version"]), str(node) if node is not None else None))
    return tuple(found)


def newest_runnable(package: str) -> str:
    """The newest final release whose ``engines.node`` accepts this machine's node."""
    node = _node_release()
    rows = sorted(_engines_cached(package), key=lambda r: version_key(r[0]), reverse=True)
    skipped = []
    for version, engines in rows:
        if is_prerelease(version):
            continue
        # No engines field, or one we cannot parse: npm would install it; so do we.
        if engines is None or range_satisfied(engines, node) is not False:
            return version
        skipped.append(f"{version} (node {engines})")
    if not rows:
        raise VersionNotFound(package, "(newest release)", available_versions(package)[:5])
    raise InstallError(
        f"no release of {package} supports node {node_version()}; newest ones need "
        + ", ".join(skipped[:3])
    )


# --------------------------------------------------------------------------
# the cache


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-").lower()


def prefix_dir(package: str, version: str) -> Path:
    """The npm prefix holding ``package@version`` (may not exist yet)."""
    return cache_root() / "node" / f"{_safe_name(package)}-{_safe_name(version)}"


def path_prefix_dir(package: str, directory: Path) -> Path:
    """The prefix a local checkout is linked into, one per absolute path."""
    digest = hashlib.sha256(str(directory).encode()).hexdigest()[:16]
    return cache_root() / "node" / f"path-{_safe_name(package)}-{digest}"


def package_dir(prefix: Path, package: str) -> Path:
    return prefix / "node_modules" / package


def _is_complete(prefix: Path, package: str) -> bool:
    return (prefix / MARKER).is_file() and (package_dir(prefix, package) / "package.json").is_file()


def _package_json(directory: Path) -> dict:
    try:
        data = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InstallError(f"cannot read {directory / 'package.json'}: {exc}") from exc
    if not isinstance(data, dict):
        raise InstallError(f"{directory / 'package.json'} is not a JSON object")
    return data


def _build_prefix(
    target: Path, what: str, install_arg: str, check: Callable[[Path], dict], replace: bool
) -> None:
    """npm-install ``install_arg`` into a temp prefix beside ``target``, then rename it in.

    ``check(tmp)`` verifies the result and returns the marker's content. With
    ``replace`` an existing ``target`` gives way (a path install is redone each
    time); without, a complete one that another process made first wins.
    """
    with common.temporary_build(target) as tmp:
        _run(
            [
                _tool("npm"),
                "install",
                "--prefix",
                str(tmp),
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--no-package-lock",
                "--loglevel=error",
                install_arg,
            ],
            f"npm install {what}",
            INSTALL_TIMEOUT_S,
        )
        common.write_marker(tmp, MARKER, check(tmp))
        # Without replace, a complete prefix another process renamed in first
        # wins: an adapter may be running from it and still load files.
        common.move_into_place(
            tmp, target, is_complete=_has_marker, replace=replace, what="npm prefix"
        )


def _has_marker(prefix: Path) -> bool:
    return (prefix / MARKER).is_file()


def ensure_prefix(package: str, version: str, log: Log = _no_log) -> Path:
    """The prefix holding exactly ``package@version``, installed now if not cached."""
    target = prefix_dir(package, version)
    if _is_complete(target, package) and common.entry_intact(target, log):
        return target
    log(f"installing {package}@{version} into {target}")

    def check(tmp: Path) -> dict:
        installed = _package_json(package_dir(tmp, package)).get("version")
        if installed != version:
            raise InstallError(
                f"npm install {package}@{version} reported success, "
                f"but the prefix holds {package} {installed or 'nothing'}"
            )
        return {"package": package, "version": version, "node": node_version()}

    try:
        _build_prefix(target, f"{package}@{version}", f"{package}@{version}", check, False)
    except InstallError:
        if _is_complete(target, package):
            return target  # another process finished it meanwhile
        raise
    if not _is_complete(target, package):
        raise InstallError(f"npm prefix {target} is incomplete after install")
    log(f"installed {package}@{version}")
    return target


def ensure_path_prefix(package: str, directory: Path, log: Log = _no_log) -> tuple[Path, str]:
    """Link a local checkout into its prefix (redone every call); (prefix, its version)."""
    directory = directory.resolve()
    meta = _package_json(directory)
    if meta.get("name") != package:
        raise InstallError(
            f"{directory / 'package.json'} names the package {meta.get('name')!r}, not {package!r}"
        )
    version = str(meta.get("version") or "unknown")
    target = path_prefix_dir(package, directory)
    log(f"installing {package} from {directory} into {target}")

    def check(tmp: Path) -> dict:
        if not (package_dir(tmp, package) / "package.json").is_file():
            raise InstallError(f"npm install {directory} left no {package} in {tmp}")
        return {"package": package, "path": str(directory), "version": version}

    _build_prefix(target, str(directory), str(directory), check, True)
    # npm links a folder with a relative symlink; the rename keeps its depth,
    # so it must still resolve.
    if not _is_complete(target, package):
        raise InstallError(f"npm prefix {target} does not resolve to {directory} after install")
    return target, version


# --------------------------------------------------------------------------
# the Installer


def launch(info: AdapterInfo, prefix: Path) -> Launch:
    """``node ADAPTER`` with the package's exact directory and the prefix's node_modules."""
    env = {
        "WSREPLAY_NODE_PACKAGE_DIR": str(package_dir(prefix, info.package)),
        "NODE_PATH": str(prefix / "node_modules"),
    }
    return Launch([_tool("node"), str(info.entry), *info.args], env)


def _versions(info: AdapterInfo) -> list[str]:
    return available_versions(info.package)


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    """The exact release for a request; a cached one resolves without the network."""
    if requested is None:
        return newest_runnable(info.package)
    requested = requested.strip()
    if requested and _is_complete(prefix_dir(info.package, requested), info.package):
        return requested
    versions = available_versions(info.package)
    found = common.listed_release(requested, versions, version_key)
    if found is not None:
        return found
    finals = [v for v in versions if not is_prerelease(v)]
    nearest = common.nearest_versions(requested, finals, version_key)
    raise VersionNotFound(info.package, requested, nearest)


def _ensure(info: AdapterInfo, version: str, log: Log) -> Launch:
    return launch(info, ensure_prefix(info.package, version, log))


def _ensure_path(info: AdapterInfo, directory: Path, log: Log) -> tuple[str, Launch]:
    prefix, version = ensure_path_prefix(info.package, directory, log)
    return f"path:{directory} ({version})", launch(info, prefix)


def _installed(info: AdapterInfo) -> list[str]:
    root = cache_root() / "node"
    return common.installed_versions(root, MARKER, version_key, info.package)


INSTALLER = Installer(
    language="node",
    versions=_versions,
    resolve=_resolve,
    ensure=_ensure,
    ensure_path=_ensure_path,
    installed=_installed,
    version_key=version_key,
)
