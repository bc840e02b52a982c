"""Rust libraries: one adapter binary per (adapter, crate, version), built with cargo.

Versions come from the crates.io sparse index (``index.crates.io``, one JSON
line per release; yanked releases are left out). Building a version means: a
generated Cargo project in a temporary directory (the adapter's ``src/`` and
its ``Cargo.toml.in`` filled in with ``<crate> = "=X.Y.Z"`` and the features
that version needs), ``cargo build --release --quiet``, the binary copied
out, a marker file, then an atomic rename to

    <cache root>/rust/<adapter>/<crate>@<version>-<source hash>/

The source hash (the adapter's sources, its template and this build recipe)
makes an edited adapter rebuild by itself. Every build shares one
CARGO_TARGET_DIR (``<cache root>/rust/target``), so dependencies compile once
where versions share them, and cargo's own registry cache (``$CARGO_HOME``)
keeps the downloads; a built version resolves and starts offline. Cargo
locks the shared target directory itself; a per-build lock file keeps two
processes from building the same binary at once.

An adapter's manifest tells this module what differs between versions of
its library, so the module itself knows no crate:

- ``cargo_dependency_features``: features of the library always turned on
  (rust-tungstenite: ``native-tls``);
- ``cargo_features``: features *of the adapter crate* to turn on by library
  version, ``[{"feature": "read-send", "min_version": "0.20.0"}, ...]``
  (``max_version`` inclusive) — the adapter's source picks its API with
  ``#[cfg(feature = ...)]``.

``ensure_path`` builds against a local checkout (a path dependency), every
call, so a maintainer's edit is always what runs; cargo rebuilds only what
changed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import string
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import cache_root
from . import Installer, InstallError, Launch, Log, VersionNotFound, common

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

#: Written last into a finished build; a directory without it is not used.
MARKER = ".wsreplay-build.json"
#: Bump when the way a build is made changes, so old builds are redone.
RECIPE = "1"
#: The template of the generated Cargo.toml, in the adapter's folder.
TEMPLATE = "Cargo.toml.in"
#: The sparse index of crates.io (https://doc.rust-lang.org/cargo/reference/registry-index.html).
INDEX_URL = "https://index.crates.io/"

INDEX_TIMEOUT_S = 60.0
BUILD_TIMEOUT_S = 1200.0

_SEMVER_RE = re.compile("^" + common.SEMVER + "$")
_SHORT_RE = re.compile(r"^(?P<major>\d+)(?:\.(?P<minor>\d+))?$")


class CratesIndexError(InstallError):
    """The crates.io index could not be read."""


def _no_log(message: str) -> None:
    del message


# --------------------------------------------------------------------------
# versions


def version_key(version: str) -> tuple:
    """Orders SemVer 2.0 versions (``0.30.0`` > ``0.30.0-rc.1`` > ``0.29.0``).

    Pre-release identifiers compare field by field, numbers below words;
    build metadata is ignored; strings that are not SemVer sort first.
    """
    match = _SEMVER_RE.match(version.strip())
    if match is None:
        return (-1, (), ())
    core = (int(match["major"]), int(match["minor"]), int(match["patch"]))
    return common.semver_key(core, match["pre"])


def is_prerelease(version: str) -> bool:
    match = _SEMVER_RE.match(version.strip())
    return bool(match and match["pre"] is not None)


def index_path(crate: str) -> str:
    """Where a crate's file lives in the index: ``tungstenite`` → ``tu/ng/tungstenite``."""
    name = crate.lower()
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def parse_index(text: str) -> list[dict]:
    """The release entries of one index file (one JSON object per line)."""
    entries = []
    for line in text.splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise CratesIndexError(
                    f"the crates.io index sent a line that is not JSON: {exc}"
                ) from None
            if isinstance(entry, dict) and isinstance(entry.get("vers"), str):
                entries.append(entry)
    return entries


@functools.lru_cache(maxsize=32)
def _index_entries(crate: str) -> tuple[dict, ...]:
    url = INDEX_URL + index_path(crate)
    request = urllib.request.Request(url, headers={"User-Agent": "wsreplay (crates index reader)"})
    try:
        with urllib.request.urlopen(request, timeout=INDEX_TIMEOUT_S) as response:
            text = response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise CratesIndexError(f"crates.io has no crate named {crate!r} ({url})") from exc
        raise CratesIndexError(f"cannot read {url}: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise CratesIndexError(f"cannot read {url}: {exc}") from exc
    return tuple(parse_index(text))


@functools.lru_cache(maxsize=1)
def rustc_version() -> str | None:
    """The local compiler's version (``1.95.0``), or None without a rustc."""
    try:
        proc = subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"rustc (\d+\.\d+\.\d+)", proc.stdout)
    return match[1] if match else None


def _needs_newer_rust(entry: dict, rustc: str | None) -> bool:
    """The release's declared rust-version (MSRV) is above this machine's rustc."""
    needed = entry.get("rust_version")
    if not rustc or not isinstance(needed, str):
        return False
    parts = [int(p) for p in re.findall(r"\d+", needed)[:3]]
    have = [int(p) for p in rustc.split(".")]
    return parts + [0] * (3 - len(parts)) > have


def available_versions(crate: str) -> list[str]:
    """Every release of ``crate`` that is not yanked, newest first, pre-releases too."""
    versions = {e["vers"] for e in _index_entries(crate) if not e.get("yanked")}
    return sorted(versions, key=version_key, reverse=True)


def _versions(info: AdapterInfo) -> list[str]:
    return available_versions(info.package)


def _newest_usable(crate: str) -> str:
    """The newest final release this machine's rustc can build (its MSRV met)."""
    rustc = rustc_version()
    finals = [
        e
        for e in _index_entries(crate)
        if not e.get("yanked") and not is_prerelease(e["vers"]) and _version_ok(e["vers"])
    ]
    usable = [e["vers"] for e in finals if not _needs_newer_rust(e, rustc)]
    if not usable:
        every = available_versions(crate)
        raise VersionNotFound(crate, "(newest release)", every[:5])
    return max(usable, key=version_key)


def _version_ok(version: str) -> bool:
    return _SEMVER_RE.match(version) is not None


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    """The exact release for a request; ``0.30`` means ``0.30.0`` (like cargo's ``=0.30``)."""
    if requested is None:
        return _newest_usable(info.package)
    requested = requested.strip()
    if not requested:
        raise VersionNotFound(info.package, requested, [])
    if _SEMVER_RE.match(requested) and _is_complete(build_dir(info, requested)):
        return requested  # built before: no network needed
    versions = available_versions(info.package)
    if requested in versions:
        return requested
    short = _SHORT_RE.match(requested)
    if short:
        wanted = f"{short['major']}.{short['minor'] or 0}.0"
        if wanted in versions:
            return wanted
    nearest = common.nearest_versions(requested, versions, version_key)
    raise VersionNotFound(info.package, requested, nearest)


# --------------------------------------------------------------------------
# where builds live


def rust_root() -> Path:
    return cache_root() / "rust"


def target_dir() -> Path:
    """The CARGO_TARGET_DIR every build shares."""
    return rust_root() / "target"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+_-]+", "-", text).strip("-")


def source_hash(info: AdapterInfo) -> str:
    """A digest of what goes into a build: the adapter's sources, template, recipe."""
    digest = hashlib.sha256(f"recipe {RECIPE}\n".encode())
    src = info.entry.parent
    files = sorted(p for p in src.rglob("*") if p.is_file())
    for path in [*files, info.directory / TEMPLATE]:
        digest.update(str(path.relative_to(info.directory)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(_manifest_build_fields(info), sort_keys=True).encode())
    return digest.hexdigest()[:12]


def _manifest_build_fields(info: AdapterInfo) -> dict:
    return {
        "cargo_features": info.extra.get("cargo_features", []),
        "cargo_dependency_features": info.extra.get("cargo_dependency_features", []),
    }


def build_dir(info: AdapterInfo, version: str) -> Path:
    return rust_root() / info.name / f"{_safe(info.package)}@{_safe(version)}-{source_hash(info)}"


def _is_complete(directory: Path) -> bool:
    binary = common.read_marker(directory, MARKER).get("binary")
    return isinstance(binary, str) and (directory / binary).is_file()


# --------------------------------------------------------------------------
# generating and building a project


def features_for(info: AdapterInfo, version: str) -> list[str]:
    """The adapter crate's features for a library version, from the manifest."""
    chosen = []
    key = version_key(version)
    for rule in info.extra.get("cargo_features", []):
        low, high = rule.get("min_version"), rule.get("max_version")
        if low is not None and key < version_key(low):
            continue
        if high is not None and key > version_key(high):
            continue
        chosen.append(str(rule["feature"]))
    return chosen


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML with ensure_ascii)."""
    return json.dumps(text)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(_toml_string(i) for i in items) + "]"


def crate_name(info: AdapterInfo, label: str) -> str:
    """The generated crate (and binary) name: unique per adapter and version or path."""
    return re.sub(r"[^a-z0-9]+", "-", f"wsreplay-{info.name}-{label}".lower()).strip("-")


def write_project(
    project: Path, info: AdapterInfo, name: str, dependency: str, features: list[str]
) -> None:
    """Fill ``project`` with the adapter's sources and its generated Cargo.toml."""
    src = project / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(info.entry.parent, src)
    template = string.Template((info.directory / TEMPLATE).read_text(encoding="utf-8"))
    try:
        text = template.substitute(
            crate_name=name,
            bin_name=name,
            package=info.package,
            dependency=dependency,
            features=_toml_list(features),
        )
    except (KeyError, ValueError) as exc:
        raise InstallError(f"{info.directory / TEMPLATE}: bad template: {exc}") from exc
    (project / "Cargo.toml").write_text(text, encoding="utf-8")


def _dependency(info: AdapterInfo, *, version: str | None = None, path: Path | None = None) -> str:
    parts = [f"version = {_toml_string('=' + version)}"] if version else []
    if path is not None:
        parts.append(f"path = {_toml_string(str(path))}")
    extra = [str(f) for f in info.extra.get("cargo_dependency_features", [])]
    if extra:
        parts.append(f"features = {_toml_list(extra)}")
    return "{ " + ", ".join(parts) + " }"


def _cargo_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CARGO_TARGET_DIR": str(target_dir()), "CARGO_TERM_COLOR": "never"})
    return env


def cargo_build(project: Path, what: str, timeout: float = BUILD_TIMEOUT_S) -> None:
    """``cargo build --release --quiet`` in ``project``; InstallError with the output's tail."""
    cargo = shutil.which("cargo")
    if cargo is None:
        raise InstallError(f"{what}: cargo is not installed (install Rust, e.g. with rustup)")
    argv = [cargo, "build", "--release", "--quiet", "--manifest-path", str(project / "Cargo.toml")]
    common.run_tool(
        argv,
        what=what,
        timeout=timeout,
        cwd=project,
        env=_cargo_env(),
        merge_output=True,
        tail_lines=25,
    )


def read_toml(path: Path) -> dict:
    """A Cargo.toml or Cargo.lock as a dict; InstallError if unreadable or not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InstallError(f"{path}: cannot read it: {exc}") from exc


def locked_version(project: Path, crate: str) -> str | None:
    """The version of ``crate`` that Cargo.lock says was built."""
    lock = project / "Cargo.lock"
    if not lock.is_file():
        return None
    for package in read_toml(lock).get("package", []):
        if package.get("name") == crate:
            return package.get("version")
    return None


def _build_lock(name: str) -> contextlib.AbstractContextManager[None]:
    """One builder per binary at a time, across processes (released on exit or kill)."""
    return common.file_lock(rust_root() / ".locks" / f"{name}.lock")


def _launch(info: AdapterInfo, binary: Path, version: str) -> Launch:
    argv = [str(binary), *info.args, "--library-version", version]
    rustc = rustc_version()
    if rustc:
        argv += ["--rustc", rustc]
    return Launch(argv)


def ensure(info: AdapterInfo, version: str, log: Log = _no_log) -> Launch:
    """The adapter binary built against exactly ``crate == version`` (built on first use)."""
    target = build_dir(info, version)
    if not (_is_complete(target) and common.entry_intact(target, log)):
        with _build_lock(target.name):
            if not _is_complete(target):  # another process may have finished it meanwhile
                _build_version(info, version, target, log)
    marker = common.read_marker(target, MARKER)
    return _launch(info, target / marker["binary"], marker["resolved"])


def _build_version(info: AdapterInfo, version: str, target: Path, log: Log) -> None:
    log(f"building {info.name} against {info.package} {version} with cargo into {target}")
    started = time.monotonic()
    with common.temporary_build(target) as tmp:
        name = crate_name(info, version)
        features = features_for(info, version)
        write_project(tmp, info, name, _dependency(info, version=version), features)
        cargo_build(tmp, f"cargo build of {info.name} with {info.package} {version}")
        resolved = locked_version(tmp, info.package)
        if resolved is None or version_key(resolved) != version_key(version):
            raise InstallError(
                f"cargo built {info.name} for {info.package} {version}, but Cargo.lock "
                f"holds {info.package} {resolved or 'nothing'}"
            )
        (tmp / "bin").mkdir()
        shutil.copy2(target_dir() / "release" / name, tmp / "bin" / name)
        marker = {
            "adapter": info.name,
            "package": info.package,
            "version": version,
            "resolved": resolved,
            "features": features,
            "rustc": rustc_version(),
            "binary": f"bin/{name}",
            "build_s": round(time.monotonic() - started, 1),
        }
        common.write_marker(tmp, MARKER, marker)
        common.move_into_place(tmp, target, is_complete=_is_complete)
    if not _is_complete(target):
        raise InstallError(f"build {target} is incomplete after cargo build")
    log(f"built {info.name} against {info.package} {version} in {time.monotonic() - started:.0f} s")


# --------------------------------------------------------------------------
# a local checkout


def checkout_version(info: AdapterInfo, directory: Path) -> str:
    """The version in a checkout's Cargo.toml; InstallError if it is not the crate."""
    manifest = directory / "Cargo.toml"
    package = read_toml(manifest).get("package", {})
    if package.get("name") != info.package:
        raise InstallError(f"{manifest} is the crate {package.get('name')!r}, not {info.package!r}")
    version = package.get("version")
    if not isinstance(version, str):
        raise InstallError(f"{manifest}: [package] has no plain version string")
    return version


def path_project(info: AdapterInfo, directory: Path) -> Path:
    """The (reused) project and build folder for a checkout."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]
    return rust_root() / info.name / f"path-{digest}"


def ensure_path(info: AdapterInfo, directory: Path, log: Log = _no_log) -> tuple[str, Launch]:
    """Build the adapter against a local checkout, every call; (label, launch)."""
    directory = directory.resolve()
    version = checkout_version(info, directory)
    project = path_project(info, directory)
    name = crate_name(info, project.name)
    with _build_lock(project.name):
        project.mkdir(parents=True, exist_ok=True)
        log(f"building {info.name} against {directory} ({info.package} {version}) with cargo")
        features = features_for(info, version)
        write_project(project, info, name, _dependency(info, path=directory), features)
        cargo_build(project, f"cargo build of {info.name} with {directory}")
        resolved = locked_version(project, info.package) or version
        bin_dir = project / "bin"
        bin_dir.mkdir(exist_ok=True)
        fresh = bin_dir / f".{name}.new"
        shutil.copy2(target_dir() / "release" / name, fresh)
        os.replace(fresh, bin_dir / name)  # a running adapter keeps its old binary
        marker = {
            "adapter": info.name,
            "package": info.package,
            "version": version,
            "resolved": resolved,
            "path": str(directory),
            "features": features,
            "rustc": rustc_version(),
            "binary": f"bin/{name}",
        }
        common.write_marker(project, MARKER, marker)
    return f"path:{directory} ({resolved})", _launch(info, bin_dir / name, resolved)


def _installed(info: AdapterInfo) -> list[str]:
    return common.installed_versions(rust_root() / info.name, MARKER, version_key, info.package)


INSTALLER = Installer(
    language="rust",
    versions=_versions,
    resolve=_resolve,
    ensure=ensure,
    ensure_path=ensure_path,
    installed=_installed,
    version_key=version_key,
)
