"""Go libraries: one adapter binary per (adapter, module, version), built with the go command.

Versions and modules come from the Go module proxy ($GOPROXY, through the go
command: ``go list -m -versions``, ``go build -mod=mod``), checksums from the
checksum database the go command consults (through the proxy here).
Building a version means: a generated module in a temporary directory, its
``go.mod`` requiring exactly that version of the library, the adapter's
``*.go`` files copied in, ``go build -o adapter`` (which completes go.mod
and go.sum), a marker file, then an atomic rename to

    <cache root>/go/<adapter>/<module, "/" as "+">@<version>-<source hash>/

The source hash (the adapter's Go files and this build recipe) makes an
edited adapter rebuild by itself. Module downloads and compiled packages go
to the go command's own shared caches (GOMODCACHE, GOCACHE), so a second
version of a library builds in seconds, and a built version resolves and
starts offline.

A library that moved keeps one adapter name: ``former_modules`` in
adapter.json lists the paths it was published under before (go-coder:
``nhooyr.io/websocket``). A version is built from the current module if that
has it, else from the first former module that does; the adapter's source
names the current path and the build substitutes the former one. "Newest"
is always the current module's newest release.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import ADAPTERS_DIR, cache_root
from . import Installer, InstallError, Launch, Log, VersionNotFound, common

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

#: Written last into a finished build; a directory without it is not used.
MARKER = ".wsreplay-build.json"
#: The adapter binary inside a build directory.
BINARY = "adapter"
#: Bump when the way a build is made changes, so old builds are redone.
RECIPE = "1"
#: The go line of the generated module (the go command raises it when the
#: library asks for more).
GO_LINE = "1.22"
#: What a replaced module is required at (the go command's own placeholder).
PLACEHOLDER_VERSION = "v0.0.0-00010101000000-000000000000"

LIST_TIMEOUT_S = 120.0
BUILD_TIMEOUT_S = 600.0

_SEMVER_RE = re.compile("^v" + common.SEMVER + "$")
_SHORT_RE = re.compile(r"^v(?P<major>\d+)(?:\.(?P<minor>\d+))?$")

#: (adapter, version) -> the module that version was resolved in, this process.
_MODULE_OF: dict[tuple[str, str], str] = {}


# --------------------------------------------------------------------------
# versions


def canonical(version: str) -> str:
    """A version as the go command writes it: ``1.5.3`` → ``v1.5.3``; ``v1.5`` → ``v1.5.0``."""
    text = version.strip()
    if text[:1].isdigit():
        text = "v" + text
    short = _SHORT_RE.match(text)
    if short:
        text = f"v{int(short['major'])}.{int(short['minor'] or 0)}.0"
    return text


def is_semver(version: str) -> bool:
    return _SEMVER_RE.match(version) is not None


def is_prerelease(version: str) -> bool:
    """Pre-releases and pseudo-versions (``v0.0.0-2024…``), which "newest" never picks."""
    match = _SEMVER_RE.match(canonical(version))
    return bool(match and match["pre"])


def version_key(version: str) -> tuple:
    """Semantic-version precedence (build metadata ignored); junk sorts first."""
    match = _SEMVER_RE.match(canonical(version))
    if match is None:
        return (-1, (), version)
    release = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    return common.semver_key(release, match["pre"])


def _sorted_newest_first(versions: list[str]) -> list[str]:
    return sorted(dict.fromkeys(versions), key=version_key, reverse=True)


# --------------------------------------------------------------------------
# the go command


def _go() -> str:
    found = shutil.which("go")
    if found is None:
        raise InstallError("the go command is not on PATH (Go adapters need Go 1.22 or newer)")
    return found


def _go_environ() -> dict[str, str]:
    """The user's environment (GOPROXY, GOMODCACHE, GOCACHE …) plus module mode.

    ``-mod=mod`` lets go.mod and go.sum be written; GOWORK=off keeps a
    go.work found above the cache out of the build.
    """
    env = dict(os.environ)
    flags = env.get("GOFLAGS", "").split()
    flags = [f for f in flags if not f.startswith("-mod=")] + ["-mod=mod"]
    env["GOFLAGS"] = " ".join(flags)
    env["GOWORK"] = "off"
    env.setdefault("GO111MODULE", "on")
    return env


def _run_go(args: list[str], cwd: Path, what: str, timeout: float) -> str:
    """Run ``go ARGS`` in cwd; its stdout, or `InstallError` with the output's tail."""
    return common.run_tool([_go(), *args], what=what, timeout=timeout, cwd=cwd, env=_go_environ())


def _outside_any_module(args: list[str], what: str) -> str:
    """Run a ``go list -m`` query from an empty directory (no go.mod around)."""
    with tempfile.TemporaryDirectory(prefix="wsreplay-go-") as tmp:
        return _run_go(args, Path(tmp), what, LIST_TIMEOUT_S)


@functools.lru_cache(maxsize=64)
def _listed_versions(module: str) -> tuple[str, ...]:
    """The releases the module proxy lists for a module, newest first (once per process)."""
    out = _outside_any_module(
        ["list", "-m", "-versions", "-json", module], f"go list -m -versions {module}"
    )
    try:
        versions = json.loads(out).get("Versions") or []
    except ValueError as exc:
        raise InstallError(f"go list -m -versions {module}: not JSON: {exc}") from exc
    return tuple(_sorted_newest_first(versions))


@functools.lru_cache(maxsize=256)
def _query(module: str, version: str) -> dict | None:
    """``go list -m -json MODULE@VERSION``: the proxy's record of a version, None if it has none.

    The proxy's list leaves out some versions it still serves (old tags,
    gorilla v1.5.2): an exact version is asked for directly before it is
    called missing. A tag whose go.mod declares another path (the
    coder/websocket repository's old tags say nhooyr.io/websocket) is no
    release of this module.
    """
    try:
        out = _outside_any_module(
            ["list", "-m", "-json", f"{module}@{version}"], f"go list -m {module}@{version}"
        )
        info = json.loads(out)
    except (InstallError, ValueError):
        return None
    if info.get("Version") != version:
        return None
    declared = _declared_module(info.get("GoMod"))
    if declared is not None and declared != module:
        return None
    return info


def _declared_module(go_mod: str | None) -> str | None:
    """The ``module`` line of a go.mod file, None if there is none to read."""
    if not go_mod:
        return None
    try:
        text = Path(go_mod).read_text(encoding="utf-8")
    except OSError:
        return None
    match = re.search(r"^\s*module\s+(\S+)", text, re.MULTILINE)
    return match.group(1).strip('"') if match else None


@functools.lru_cache(maxsize=1)
def _local_go_version() -> tuple[int, ...]:
    out = _outside_any_module(["env", "GOVERSION"], "go env GOVERSION")
    return _go_version_tuple(out.strip().removeprefix("go"))


def _go_version_tuple(text: str) -> tuple[int, ...]:
    """``1.23.4`` → (1, 23, 4); ``1.21rc1`` → (1, 21)."""
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.group() != piece:
            break
    return tuple(parts)


def _works_here(module: str, version: str) -> bool:
    """The version's go.mod asks for no newer Go than the one on this machine."""
    info = _query(module, version)
    wanted = (info or {}).get("GoVersion")
    return not wanted or _go_version_tuple(wanted) <= _local_go_version()


# --------------------------------------------------------------------------
# modules of an adapter


def modules(info: AdapterInfo) -> list[str]:
    """The library's module path, then the paths it was published under before."""
    former = info.extra.get("former_modules") or []
    return [info.package, *former]


def _package_label(info: AdapterInfo) -> str:
    former = modules(info)[1:]
    if not former:
        return info.package
    return f"{info.package} (or its former path {' / '.join(former)})"


def _versions(info: AdapterInfo) -> list[str]:
    """The library's release line, newest first: for `clients versions` and `bisect`.

    The current path's releases, then a former path's releases from before
    the current path's first one. A former path's later releases are left
    out as out of sequence (nhooyr.io/websocket v1.8.17 is coder's v1.8.12
    code republished under the old path); they still resolve when asked for.
    """
    found = list(_listed_versions(info.package))
    first = min((version_key(v) for v in found), default=None)
    for module in modules(info)[1:]:
        found.extend(v for v in _listed_versions(module) if first is None or version_key(v) < first)
    return _sorted_newest_first(found)


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    """The exact version for a request, as the go command writes it.

    None: the current module's newest release whose go.mod this machine's Go
    can build. Otherwise the requested version (``1.5.3``, ``v1.5.3``,
    ``v1.5`` = ``v1.5.0``), found in the cache (offline), in the proxy's
    list, or — for a full semantic version the list leaves out — by asking
    the proxy for it directly.
    """
    if requested is None:
        listed = _listed_versions(info.package)
        finals = [v for v in listed if not is_prerelease(v)]
        for version in finals:
            if _works_here(info.package, version):
                _MODULE_OF[(info.name, version)] = info.package
                return version
        raise VersionNotFound(info.package, "(newest release)", list(listed[:5]))
    version = canonical(requested)
    found = _find_version(info, version)
    if found is None:
        raise VersionNotFound(
            _package_label(info),
            requested,
            common.nearest_versions(version, _versions(info), version_key),
        )
    module, exact = found
    _MODULE_OF[(info.name, exact)] = module
    return exact


def _find_version(info: AdapterInfo, version: str) -> tuple[str, str] | None:
    """(module, exact version) for a canonical request, first match wins.

    The cache first (offline), then each path's listed releases (current
    path first), then — for a full semantic version the lists leave out —
    the proxy asked directly.
    """
    for module in modules(info):
        if _complete_builds(info, module, version):
            return module, version
    key = version_key(version)
    if key[0] == 0:
        for module in modules(info):
            for listed in _listed_versions(module):
                if version_key(listed) == key:
                    return module, listed
    if is_semver(version):
        for module in modules(info):
            if _query(module, version) is not None:
                return module, version
    return None


def _module_for(info: AdapterInfo, version: str) -> str:
    """Which module path a resolved version is built from."""
    if len(modules(info)) == 1:
        return info.package
    known = _MODULE_OF.get((info.name, version))
    if known is not None:
        return known
    found = _find_version(info, version)
    if found is None:
        raise VersionNotFound(_package_label(info), version, [])
    return found[0]


# --------------------------------------------------------------------------
# the cache


def _adapter_root(info: AdapterInfo) -> Path:
    return cache_root() / "go" / info.name


#: Go code every Go adapter shares (the job/observation contract), built in
#: beside each adapter's own files as part of its package main.
COMMON_DIR = ADAPTERS_DIR / "go-common"


def _go_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.go") if not p.name.endswith("_test.go"))


def _sources(info: AdapterInfo) -> list[Path]:
    """The adapter's Go files (every ``*.go`` beside its entry, tests excluded),
    then the shared ones of go-common/ (unless ``"go_common": false``: a
    program that is no adapter, such as an Autobahn client driver)."""
    own = _go_files(info.directory)
    if info.entry not in own:
        raise InstallError(f"{info.name}: entry {info.entry} is not a .go file of {info.directory}")
    if info.extra.get("go_common") is False:  # a program of its own (an Autobahn driver)
        return own
    clash = {p.name for p in own} & {p.name for p in _go_files(COMMON_DIR)}
    if clash:
        raise InstallError(f"{info.name}: {', '.join(sorted(clash))} is also in {COMMON_DIR}")
    return own + _go_files(COMMON_DIR)


def _build_requires(info: AdapterInfo) -> dict[str, str]:
    """``build_requires`` of adapter.json: lowest versions of the library's own
    dependencies that today's Go can build (nhooyr.io/websocket before v1.5
    requires a golang.org/x/xerrors whose go1.13 files no released Go
    compiles). Minimum version selection keeps any newer one the library asks
    for; the library itself is never replaced."""
    requires = info.extra.get("build_requires") or {}
    if not isinstance(requires, dict):
        raise InstallError(f"{info.name}: build_requires must map module paths to versions")
    return {str(module): str(version) for module, version in sorted(requires.items())}


def _source_hash(info: AdapterInfo) -> str:
    digest = hashlib.sha256(f"recipe {RECIPE}\n".encode())
    for module, version in _build_requires(info).items():
        digest.update(f"require {module} {version}\n".encode())
    for path in _sources(info):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _module_dir_name(module: str) -> str:
    return module.replace("/", "+")


def _build_dir(info: AdapterInfo, module: str, version: str) -> Path:
    name = f"{_module_dir_name(module)}@{version}-{_source_hash(info)}"
    return _adapter_root(info) / name


def _is_complete(directory: Path) -> bool:
    return (directory / MARKER).is_file() and (directory / BINARY).is_file()


def _complete_builds(info: AdapterInfo, module: str, version: str) -> list[Path]:
    """Finished builds of this version (any adapter source), for offline resolution."""
    pattern = f"{_module_dir_name(module)}@{version}-*"
    return [d for d in _adapter_root(info).glob(pattern) if _is_complete(d)]


def _launch(info: AdapterInfo, directory: Path) -> Launch:
    return Launch([str(directory / BINARY), *info.args])


def _installed(info: AdapterInfo) -> list[str]:
    return common.installed_versions(_adapter_root(info), MARKER, version_key)


# --------------------------------------------------------------------------
# building


def _write_module(
    info: AdapterInfo, tmp: Path, module: str, require: str, replace: Path | None
) -> None:
    """go.mod requiring exactly ``module require``, and the adapter's sources.

    The sources import the current module path; a build of a former path
    gets them with that path substituted.
    """
    lines = [f"module wsreplay/adapters/{info.name}", "", f"go {GO_LINE}", ""]
    lines.append(f"require {module} {require}")
    for other, version in _build_requires(info).items():
        lines.append(f"require {other} {version}")
    if replace is not None:
        lines.append(f"replace {module} => {replace}")
    (tmp / "go.mod").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for path in _sources(info):
        text = path.read_text(encoding="utf-8")
        if module != info.package:
            text = text.replace(f'"{info.package}"', f'"{module}"')
        (tmp / path.name).write_text(text, encoding="utf-8")


def _build(
    info: AdapterInfo,
    tmp: Path,
    module: str,
    require: str,
    replace: Path | None,
    marker: dict,
) -> None:
    """Generate, build and check in tmp; write the marker last."""
    what = f"{info.name}: {module}@{require if replace is None else replace}"
    _write_module(info, tmp, module, require, replace)
    # No `go mod tidy`: with -mod=mod, go build completes go.mod and go.sum
    # itself, with exactly the modules the build needs. tidy would also
    # fetch the library's test-only dependencies (103 MB instead of 40 MB
    # for nhooyr.io/websocket v1.8.7, which pulls gin and friends that way).
    _run_go(["build", "-o", BINARY, "."], tmp, f"{what}: go build", BUILD_TIMEOUT_S)
    got = _run_go(
        ["list", "-m", "-f", "{{.Version}}", module], tmp, f"{what}: go list -m", LIST_TIMEOUT_S
    ).strip()
    if replace is None and got != require:
        raise InstallError(f"{what}: the build resolved {module} {got or '(nothing)'}")
    marker = {
        **marker,
        "module": module,
        "resolved": got,
        "go": ".".join(map(str, _local_go_version())),
    }
    common.write_marker(tmp, MARKER, marker)


def _ensure(info: AdapterInfo, version: str, log: Log) -> Launch:
    """The adapter binary built against exactly ``version``; built once, then reused."""
    module = _module_for(info, version)
    target = _build_dir(info, module, version)
    if _is_complete(target) and common.entry_intact(target, log):
        return _launch(info, target)
    log(f"building {info.name} against {module} {version}")
    started = time.monotonic()
    with common.temporary_build(target) as tmp:
        _build(info, tmp, module, version, None, {"adapter": info.name, "version": version})
        common.move_into_place(tmp, target, is_complete=_is_complete)
    _remove_superseded(info, module, version, target)
    log(f"built {info.name} against {module} {version} in {time.monotonic() - started:.1f} s")
    return _launch(info, target)


def _remove_superseded(info: AdapterInfo, module: str, version: str, keep: Path) -> None:
    """Builds of this version from older adapter sources, once they are a day old.

    Not at once: another checkout of the repository (another source hash)
    may still be starting its build.
    """
    horizon = time.time() - common.STALE_BUILD_S
    for old in _complete_builds(info, module, version):
        with contextlib.suppress(OSError):
            if old != keep and (old / MARKER).stat().st_mtime < horizon:
                shutil.rmtree(old, ignore_errors=True)


def _ensure_path(info: AdapterInfo, directory: Path, log: Log) -> tuple[str, Launch]:
    """The adapter built against a local checkout (``replace``), rebuilt on every call."""
    module = _checkout_module(info, directory)
    key = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    target = _adapter_root(info) / f"path-{key}"
    label = _describe_checkout(directory)
    log(f"building {info.name} against {module} from {directory}")
    with common.temporary_build(target) as tmp:
        _build(
            info,
            tmp,
            module,
            PLACEHOLDER_VERSION,
            directory,
            {"adapter": info.name, "path": str(directory), "version": label},
        )
        # The previous build of this checkout gives way (a running old
        # binary is unaffected).
        common.move_into_place(tmp, target, is_complete=_is_complete, replace=True)
    return f"path:{directory} ({label})", _launch(info, target)


def _checkout_module(info: AdapterInfo, directory: Path) -> str:
    """The module a checkout declares; it must be the library (or a former path of it)."""
    if not (directory / "go.mod").is_file():
        raise InstallError(f"{directory}: no go.mod to build {info.package} from")
    declared = _declared_module(str(directory / "go.mod"))
    if declared not in modules(info):
        raise InstallError(
            f"{directory}/go.mod declares module {declared}, not {_package_label(info)}"
        )
    return declared


def _describe_checkout(directory: Path) -> str:
    """``git describe`` of a checkout, or "path" when it is not a git work tree."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), "describe", "--tags", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "path"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "path"


INSTALLER = Installer(
    language="go",
    versions=_versions,
    resolve=_resolve,
    ensure=_ensure,
    ensure_path=_ensure_path,
    installed=_installed,
    version_key=version_key,
)
