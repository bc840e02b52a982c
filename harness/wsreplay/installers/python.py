"""Python libraries: one cached venv per (package, version), from PyPI via pip.

A client spec such as ``python-websockets@14.0`` names an exact release of a
library; the harness runs that adapter with an interpreter that sees exactly
that release and nothing else. Each (package, version) gets its own venv,
made once with the interpreter running the harness and kept in a cache
outside the repository, so later runs and parallel workers reuse it:

    <cache root>/python/<package>-<version>/

The cache root is `paths.cache_root` (``$WSREPLAY_CACHE``, else
``$XDG_CACHE_HOME/wsreplay``, else ``~/.cache/wsreplay``).

A venv is built in a temporary directory beside its final place and renamed
into place only after the install succeeded and a marker file was written,
so a crash or a kill never leaves a half-built env that looks complete, and
two processes building the same env at once both end up using one good copy.
Only the venv's ``bin/python`` is used afterwards; it locates its
site-packages relative to itself, so the rename is harmless (console scripts
in ``bin/`` keep stale shebangs, and nothing here runs them).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from .. import installers
from ..paths import cache_root
from . import Installer, Launch, Log, common

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

__all__ = [
    "INSTALLER",
    "InstallError",
    "PyEnvError",
    "VersionNotFound",
    "available_versions",
    "build_requires",
    "ensure_env",
    "ensure_path_env",
    "env_dir",
    "env_python",
    "is_prerelease",
    "parse_pip_index_output",
    "path_env_dir",
    "resolve_version",
    "version_key",
]

#: Written last into a finished env; an env directory without it is not used.
MARKER = ".wsreplay-env.json"

#: Seconds allowed for listing versions (`pip index versions`).
INDEX_TIMEOUT_S = 120.0
#: Seconds allowed for `python -m venv` and for `pip install`, each.
INSTALL_TIMEOUT_S = 600.0
#: Seconds pip waits on one network read before retrying (pip's own --timeout).
PIP_NETWORK_TIMEOUT_S = 60

_PYPI_JSON = "https://pypi.org/pypi/{package}/json"


class PyEnvError(Exception):
    """Base class: a version could not be listed, resolved or installed."""


class VersionNotFound(PyEnvError, installers.VersionNotFound):
    """The requested version is not a release of the package on PyPI."""

    def __init__(self, package: str, requested: str, nearest: list[str]) -> None:
        installers.VersionNotFound.__init__(self, package, requested, nearest)
        hint = ", ".join(nearest) if nearest else "none"
        self.args = (f"{package} {requested} is not a release on PyPI (nearest releases: {hint})",)


class InstallError(PyEnvError, installers.InstallError):
    """Making the venv or installing the package into it failed."""


def _no_log(message: str) -> None:
    del message


# --------------------------------------------------------------------------
# where envs live (under paths.cache_root)


def _safe_name(text: str) -> str:
    """A directory-name-safe form of a package name or version (PEP 503-ish)."""
    return re.sub(r"[^A-Za-z0-9.+]+", "-", text).strip("-").lower()


def env_dir(package: str, version: str) -> Path:
    """The directory of the env for ``package==version`` (may not exist yet)."""
    return cache_root() / "python" / f"{_safe_name(package)}-{_safe_name(version)}"


def env_python(env: Path) -> Path:
    """The interpreter inside a venv directory, on POSIX and on Windows."""
    if os.name == "nt":
        return env / "Scripts" / "python.exe"
    return env / "bin" / "python"


def _is_complete(env: Path) -> bool:
    return (env / MARKER).is_file() and env_python(env).exists()


# --------------------------------------------------------------------------
# versions


_VERSION_RE = re.compile(
    r"""^v?(?:(?P<epoch>\d+)!)?
        (?P<release>\d+(?:\.\d+)*)
        (?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?
        (?:(?:-(?P<post_n1>\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n2>\d*)))?
        (?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?
        (?:\+(?P<local>[a-z0-9.]+))?$""",
    re.IGNORECASE | re.VERBOSE,
)


def version_key(version: str) -> tuple:
    """A sort key that orders PEP 440 versions as pip does, for the common forms.

    The harness itself depends on nothing but the standard library, so this
    stands in for `packaging.version.Version`. It handles epochs, releases of
    any length (trailing zeros ignored: 14 == 14.0), pre-, post- and
    dev-releases. Strings it cannot parse sort before every real version.
    """
    match = _VERSION_RE.match(version.strip())
    if match is None:
        return (-1, (), version)
    release = [int(part) for part in match["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    epoch = int(match["epoch"] or 0)
    # A final release sorts after its pre-releases and before its post-releases;
    # a dev release sorts before everything else of the same release.
    has_post = match["post_n1"] is not None or match["post_n2"] is not None
    has_dev = match["dev_n"] is not None
    # A final release sorts after its pre-releases and before its post-releases;
    # a bare dev release (1.0.dev1) sorts before the pre-releases of its release.
    pre_rank = {"a": 0, "alpha": 0, "b": 1, "beta": 1}
    if match["pre_l"]:
        pre = (pre_rank.get(match["pre_l"].lower(), 2), int(match["pre_n"] or 0))
    elif has_dev and not has_post:
        pre = (-1, 0)
    else:
        pre = (3, 0)
    post = (1, int(match["post_n1"] or match["post_n2"] or 0)) if has_post else (0, 0)
    dev = (0, int(match["dev_n"] or 0)) if has_dev else (1, 0)
    return (0, (epoch, tuple(release), pre, post, dev), "")


def is_prerelease(version: str) -> bool:
    """True for alpha/beta/rc and dev releases, which "newest" never picks."""
    match = _VERSION_RE.match(version.strip())
    return bool(match and (match["pre_l"] or match["dev_n"] is not None))


def _sorted_newest_first(versions: list[str]) -> list[str]:
    unique = list(dict.fromkeys(v.strip() for v in versions if v.strip()))
    return sorted(unique, key=version_key, reverse=True)


def parse_pip_index_output(text: str) -> list[str]:
    """The versions listed by `pip index versions` (its `Available versions:` line)."""
    for line in text.splitlines():
        head, sep, tail = line.partition("Available versions:")
        if sep and not head.strip():
            return [v.strip() for v in tail.split(",") if v.strip()]
    return []


def _pip_index_versions(package: str) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "index",
        "versions",
        package,
        "--pre",
        "--disable-pip-version-check",
        "--no-input",
        "--timeout",
        str(PIP_NETWORK_TIMEOUT_S),
    ]
    what = f"`pip index versions {package}`"
    out = common.run_tool(
        cmd, what=what, timeout=INDEX_TIMEOUT_S, env=_pip_environ(), error=PyEnvError
    )
    versions = parse_pip_index_output(out)
    if not versions:
        raise PyEnvError(f"{what} listed no versions: {common.tail(out)}")
    return versions


def _pypi_json_versions(package: str) -> list[str]:
    """Fallback when pip cannot list versions (old pip, or the command removed).

    Unlike pip this does not filter by the running interpreter's
    Requires-Python, so an install may still fail later with a clear error.
    Releases whose every file is yanked are left out.
    """
    url = _PYPI_JSON.format(package=urllib.parse.quote(package))
    try:
        with urllib.request.urlopen(url, timeout=PIP_NETWORK_TIMEOUT_S) as response:
            data = json.load(response)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise PyEnvError(f"cannot read {url}: {exc}") from exc
    releases = data.get("releases") or {}
    return [
        version
        for version, files in releases.items()
        if files and not all(f.get("yanked") for f in files)
    ]


@functools.lru_cache(maxsize=64)
def _available_versions_cached(package: str) -> tuple[str, ...]:
    try:
        versions = _pip_index_versions(package)
    except PyEnvError as pip_error:
        try:
            versions = _pypi_json_versions(package)
        except PyEnvError as json_error:
            raise PyEnvError(
                f"cannot list versions of {package}: {pip_error}; {json_error}"
            ) from None
        if not versions:
            raise PyEnvError(f"cannot list versions of {package}: {pip_error}") from None
    return tuple(_sorted_newest_first(versions))


def available_versions(package: str) -> list[str]:
    """Every release of ``package`` installable here, newest first, pre-releases too.

    Asks `pip index versions`, which honours the user's pip configuration
    (index URL, proxy) and filters by this interpreter; falls back to PyPI's
    JSON API only when pip cannot answer. The answer is cached for the life
    of the process: one run asks once per package.
    """
    return list(_available_versions_cached(package))


def resolve_version(package: str, requested: str | None) -> str:
    """The exact release to install for a request.

    ``None`` means the newest final release (never a pre-release). An
    explicit version must be a release on the index; ``14`` resolves to
    ``14.0`` the way pip's ``==`` would match. A requested version whose env
    is already complete in the cache resolves without asking the network, so
    a rerun works offline.
    """
    if requested is not None:
        requested = requested.strip()
        if not requested:
            raise VersionNotFound(package, requested, [])
        if _is_complete(env_dir(package, requested)):
            return requested
    versions = available_versions(package)
    if requested is None:
        finals = [v for v in versions if not is_prerelease(v)]
        if not finals:
            raise VersionNotFound(package, "(newest release)", versions[:5])
        return finals[0]
    found = common.listed_release(requested, versions, version_key)
    if found is not None:
        return found
    nearest = common.nearest_versions(requested, versions, version_key)
    raise VersionNotFound(package, requested, nearest)


# --------------------------------------------------------------------------
# installing


def _pip_environ() -> dict[str, str]:
    """The environment for pip: quiet, non-interactive, no leaks from our own env.

    PYTHONPATH/PYTHONHOME and an active VIRTUAL_ENV would let packages from
    the harness's environment leak into the one being built.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "PYTHONPATH",
            "PYTHONHOME",
            "VIRTUAL_ENV",
            "PIP_USER",
            "PIP_TARGET",
            "PIP_PREFIX",
        }
    }
    env.update(
        {
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "PIP_ROOT_USER_ACTION": "ignore",
            "PYTHONNOUSERSITE": "1",
        }
    )
    return env


def _run(cmd: list[str], what: str, timeout: float) -> None:
    """Run pip or venv; `InstallError` with the tail of its output on failure.

    Every install step goes through here, so tests can replace it.
    """
    common.run_tool(cmd, what=what, timeout=timeout, env=_pip_environ(), error=InstallError)


def _installed_version(python: Path, package: str) -> str | None:
    code = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    proc = subprocess.run(
        [str(python), "-I", "-c", code, package],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def ensure_env(
    package: str,
    version: str,
    log: Callable[[str], None] = _no_log,
    *,
    timeout: float = INSTALL_TIMEOUT_S,
) -> Path:
    """The python executable of a venv holding exactly ``package==version``.

    Reuses the cached env when its marker is present and its manifest
    checks (`common.entry_intact`: a damaged env is removed and rebuilt);
    otherwise builds one in
    a temporary directory next to it (same filesystem, so the final rename is
    atomic), installs with pip, checks the installed version, writes the
    marker, then renames it into place. If another process finished the same
    env first, its copy wins and ours is discarded. Raises `InstallError`
    with the tail of pip's stderr when anything fails.
    """
    target = env_dir(package, version)
    if _is_complete(target) and common.entry_intact(target, log):
        return env_python(target)

    log(f"installing {package}=={version} into {target}")
    with common.temporary_build(target) as tmp:
        _run(
            [sys.executable, "-m", "venv", "--clear", str(tmp)],
            f"python -m venv {tmp}",
            timeout,
        )
        python = env_python(tmp)
        _run(
            _pip(python, "--no-cache-dir", f"{package}=={version}"),
            f"pip install {package}=={version}",
            timeout,
        )
        installed = _installed_version(python, package)
        if installed is None or version_key(installed) != version_key(version):
            raise InstallError(
                f"pip install {package}=={version} reported success, "
                f"but the env holds {package} {installed or 'nothing'}"
            )
        _finish(tmp, target, {"package": package, "version": version, "installed": installed})
    if not _is_complete(target):
        raise InstallError(f"env {target} is incomplete after install")
    log(f"installed {package}=={version}")
    return env_python(target)


def _finish(tmp: Path, target: Path, marker: dict[str, str]) -> None:
    """The last steps of a build: the marker (with the interpreter's version), then the rename."""
    common.write_marker(tmp, MARKER, {**marker, "python": sys.version.split()[0]})
    _move_into_place(tmp, target)


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished env to its final name; a concurrent winner's env is kept."""
    common.move_into_place(tmp, target, is_complete=_is_complete, what="env", error=InstallError)


# --------------------------------------------------------------------------
# local checkouts (ADAPTER@path:DIR)

#: What PEP 517 says to build with when a project names no build backend.
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")


def path_env_dir(package: str, directory: Path) -> Path:
    """The env for a checkout: one per (package, absolute directory), named by a hash.

    Kept in ``python/paths/`` so it never looks like a released version's env.
    """
    absolute = str(Path(directory).expanduser().resolve())
    digest = hashlib.sha256(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_root() / "python" / "paths" / f"{_safe_name(package)}-{digest}"


def build_requires(directory: Path) -> list[str]:
    """The checkout's ``[build-system] requires`` (PEP 518), or PEP 517's default."""
    pyproject = Path(directory) / "pyproject.toml"
    try:
        import tomllib
    except ImportError:  # Python < 3.11: assume the default backend
        return list(DEFAULT_BUILD_REQUIRES)
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return list(DEFAULT_BUILD_REQUIRES)
    except (OSError, ValueError) as exc:
        raise InstallError(f"cannot read {pyproject}: {exc}") from exc
    system = data.get("build-system")
    if not isinstance(system, dict) or "requires" not in system:
        return list(DEFAULT_BUILD_REQUIRES)
    requires = system["requires"]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise InstallError(f"{pyproject}: [build-system] requires is not a list of strings")
    return requires


def _pip(python: Path, *args: str) -> list[str]:
    return [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
        "--timeout",
        str(PIP_NETWORK_TIMEOUT_S),
        *args,
    ]


def _install_checkout(
    python: Path, package: str, directory: Path, first: bool, timeout: float
) -> None:
    """Build requirements into the env, then the checkout itself, built in place.

    The build runs without pip's build isolation, against the build
    requirements installed in the env: a reinstall needs no network once
    they are there, and takes seconds. The first install brings the
    package's dependencies; later ones (``--no-deps --force-reinstall``)
    replace only the package, so a maintainer's edits are picked up.
    """
    # "wheel": what setuptools < 70.1 asks for dynamically to build a wheel,
    # which pip only installs by itself with build isolation.
    requires = [*build_requires(directory), "wheel"]
    if requires:
        _run(
            _pip(python, *requires),
            f"pip install {' '.join(requires)} (build requirements of {directory})",
            timeout,
        )
    mode = [] if first else ["--no-deps", "--force-reinstall"]
    _run(
        _pip(python, "--no-build-isolation", *mode, str(directory)),
        f"pip install {' '.join([*mode, str(directory)])} ({package} from a checkout)",
        timeout,
    )


def ensure_path_env(
    package: str,
    directory: Path,
    log: Callable[[str], None] = _no_log,
    *,
    timeout: float = INSTALL_TIMEOUT_S,
) -> tuple[Path, str]:
    """(python of a venv holding ``package`` built from ``directory``, its version).

    One venv per absolute directory, cached like a release's env (built in a
    temporary directory, marker written last, renamed into place). Unlike a
    release, a checkout changes: every call reinstalls it
    (``pip install --no-deps --force-reinstall DIR``), under a lock so
    parallel runs do not install into the same env at once. The version is
    what the installed package reports (its metadata), and `InstallError`
    is raised if ``directory`` does not install ``package`` at all. pip
    builds in the checkout, so the usual build leftovers (``build/``,
    ``*.egg-info``) may appear there.
    """
    directory = Path(directory).expanduser().resolve()
    if not directory.is_dir():
        raise InstallError(f"{directory} is not a directory")
    target = path_env_dir(package, directory)
    with common.file_lock(target.parent / f".{target.name}.lock"):
        if _is_complete(target):
            log(f"reinstalling {package} from {directory} into {target}")
            python = env_python(target)
            _install_checkout(python, package, directory, first=False, timeout=timeout)
        else:
            _build_path_env(package, directory, target, log, timeout)
            python = env_python(target)
        version = _installed_version(python, package)
    if version is None:
        raise InstallError(
            f"pip install {directory} reported success, but the env holds no {package} "
            f"(is {directory} a checkout of {package}?)"
        )
    return python, version


def _build_path_env(
    package: str, directory: Path, target: Path, log: Callable[[str], None], timeout: float
) -> None:
    log(f"installing {package} from {directory} into {target}")
    with common.temporary_build(target) as tmp:
        _run([sys.executable, "-m", "venv", "--clear", str(tmp)], f"python -m venv {tmp}", timeout)
        python = env_python(tmp)
        _install_checkout(python, package, directory, first=True, timeout=timeout)
        installed = _installed_version(python, package)
        if installed is None:
            raise InstallError(
                f"pip install {directory} reported success, but the env holds no {package} "
                f"(is {directory} a checkout of {package}?)"
            )
        _finish(tmp, target, {"package": package, "path": str(directory), "installed": installed})
    if not _is_complete(target):
        raise InstallError(f"env {target} is incomplete after install")
    log(f"installed {package} {installed} from {directory}")


# --------------------------------------------------------------------------
# the installer

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


# The functions above are looked up at call time, so tests can monkeypatch them.
def _versions(info: AdapterInfo) -> list[str]:
    return available_versions(info.package)


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    return resolve_version(info.package, requested)


def _ensure(info: AdapterInfo, version: str, log: Log) -> Launch:
    return _launch(info, ensure_env(info.package, version, log=log))


def _ensure_path(info: AdapterInfo, directory: Path, log: Log) -> tuple[str, Launch]:
    python, version = ensure_path_env(info.package, directory, log=log)
    return f"path:{directory} ({version})", _launch(info, python)


def _installed(info: AdapterInfo) -> list[str]:
    return common.installed_versions(cache_root() / "python", MARKER, version_key, info.package)


INSTALLER = Installer(
    language="python",
    versions=_versions,
    resolve=_resolve,
    ensure=_ensure,
    ensure_path=_ensure_path,
    installed=_installed,
    version_key=lambda version: version_key(version),
)
