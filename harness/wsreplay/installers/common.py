"""What every installer does the same way: run a tool, build a cache entry atomically.

- `run_tool` runs a registry or build tool (pip, npm, go, mvn, javac, cargo)
  with a deadline and returns its stdout; on failure, on timeout or when the
  tool cannot be started it raises `InstallError` with the tail of the output.
- `temporary_build`, `move_into_place`: a cache entry is built in a
  temporary directory beside its final place (same filesystem, so the rename
  is atomic) and renamed into place only once it is finished, so a crash or
  a kill never leaves a half-built entry that looks complete.
- `write_marker`, `read_marker`, `installed_versions`: the marker file a
  finished entry gets last (with its manifest just before it), and the
  versions the markers of a cache record.
- `write_manifest`, `manifest_damage`, `entry_intact`: the list of files
  (and sizes) an entry holds, checked before every use; a damaged entry is
  removed so that the caller reinstalls it.
- `file_lock`: one process at a time in a cache entry, across processes.
- `listed_release`, `nearest_versions`: the registry's spelling of a
  requested version, and the releases around one it does not have.
- `SEMVER`, `semver_key`: SemVer 2.0's pattern and precedence, for the
  registries that use it (npm, Go modules, crates.io); each parses its own
  spelling.

Not a language: `installer_for("common")` finds no ``INSTALLER`` here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from . import InstallError

#: A temporary build directory older than this is a leftover of a killed run
#: (a live build is bounded by its tools' timeouts, far below this).
STALE_BUILD_S = 24 * 3600.0

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def tail(text: str | None, lines: int = 20) -> str:
    """The last ``lines`` non-blank lines of a tool's output, colour codes removed."""
    kept = [line for line in _ANSI_RE.sub("", text or "").strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or "(no output)"


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_tool(
    argv: list[str],
    *,
    what: str,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    merge_output: bool = False,
    tail_lines: int = 20,
    hint: str = "",
    error: type[Exception] = InstallError,
) -> str:
    """Run ``argv`` (no stdin) and return its stdout.

    Raises ``error`` (`InstallError` unless told) as ``WHAT failed (exit N):``
    plus the tail of stderr (else stdout), ``WHAT: no result after T s`` plus
    the tail when ``timeout`` passes, or ``WHAT: cannot run TOOL: REASON`` +
    ``hint`` when the tool cannot be started. ``merge_output`` sends stderr
    into stdout, for tools that report errors on either (mvn, javac, cargo).
    The tool runs in a session of its own, so a timeout or an interrupt stops
    its children (compilers, build scripts) too.
    """
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise error(f"{what}: cannot run {argv[0]}: {exc}{hint}") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        output = tail(err or out, tail_lines)
        raise error(f"{what}: no result after {timeout:.0f} s\n{output}") from None
    except BaseException:  # interrupted: leave no tool running
        _kill_group(proc)
        proc.wait()
        raise
    if proc.returncode != 0:
        raise error(f"{what} failed (exit {proc.returncode}):\n{tail(err or out, tail_lines)}")
    return out


def listed_release(requested: str, versions: list[str], key: Callable[[str], tuple]) -> str | None:
    """The entry of ``versions`` that ``requested`` names, exactly or by equal ``key``
    (``14`` finds ``14.0`` where the key says they are the same); None if none does."""
    if requested in versions:
        return requested
    wanted = key(requested)
    if wanted[0] == 0:  # a parsable version (every version_key puts 0 first)
        for version in versions:
            if key(version) == wanted:
                return version
    return None


def nearest_versions(
    requested: str, versions: list[str], key: Callable[[str], tuple], count: int = 5
) -> list[str]:
    """Releases around ``requested`` in ``key`` order, for a "not found" message.

    Up to three just below and two just above it (``14.3`` → ``15.0.1, 15.0,
    14.2, 14.1, 14.0``), newest first; the newest releases if ``requested``
    does not even parse as a version.
    """
    ordered = sorted(versions, key=key)
    wanted = key(requested)
    if wanted[0] != 0:
        return _newest_first(ordered[-count:], key)
    index = sum(1 for v in ordered if key(v) < wanted)
    above = max(0, min(count // 2, len(ordered) - index))
    below = ordered[max(0, index - (count - above)) : index]
    return _newest_first(below + ordered[index : index + above], key)


def _newest_first(versions: list[str], key: Callable[[str], tuple]) -> list[str]:
    unique = list(dict.fromkeys(v.strip() for v in versions if v.strip()))
    return sorted(unique, key=key, reverse=True)


#: A SemVer 2.0 version (semver.org's pattern), unanchored: each registry adds
#: its own spelling around it (Go's leading ``v``).
SEMVER = (
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def semver_key(release: tuple[int, int, int], pre: str | None) -> tuple:
    """The sort key of a SemVer 2.0 version, from its parsed parts (build metadata ignored).

    A pre-release sorts before its release; its dot-separated identifiers
    compare numerically when numeric, numbers before words (semver 2.0 §11).
    Like every installer's key, a real version's key starts with 0 (a string
    that is not a version gets ``(-1, ...)`` from its parser).
    """
    if not pre:
        return (0, release, (1,))
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (0, release, (0, parts))


# --------------------------------------------------------------------------
# building a cache entry


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created with its folder if missing).

    Serializes builds into one cache entry across processes; the kernel
    releases it when a holder dies. Where there is no fcntl (not POSIX)
    there is no lock, as for the atomic rename's fallback.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_builds(parent: Path) -> None:
    """Delete the temporary build directories in ``parent`` left by runs killed long ago."""
    horizon = time.time() - STALE_BUILD_S
    for stale in parent.glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < horizon:
                shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def temporary_build(target: Path) -> Iterator[Path]:
    """A fresh directory beside ``target`` to build it in; removed on exit if still there.

    Stale leftovers beside it are removed first. The caller fills it, writes
    its marker and calls `move_into_place`; anything that fails before
    that leaves nothing behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    # mkdtemp makes it private; the finished entry is an ordinary directory.
    tmp.chmod(0o755)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def move_into_place(
    tmp: Path,
    target: Path,
    *,
    is_complete: Callable[[Path], bool],
    replace: bool = False,
    what: str = "build",
    error: type[Exception] = InstallError,
) -> None:
    """Rename the finished ``tmp`` to ``target``.

    If ``target`` is already there and complete, another process won the
    race: its copy is as good as ours (and may be in use), so it stays and
    ``tmp`` is left for the caller to remove, unless ``replace`` (a local
    checkout's entry, redone on every call). Anything else in the way (an
    older entry to replace, a half-moved leftover) is moved aside
    atomically, removed, and the rename tried again.
    """
    for _ in range(3):
        try:
            os.rename(tmp, target)
            return
        except OSError:
            if not target.exists():
                raise
            if not replace and is_complete(target):
                return
            junk = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
            with contextlib.suppress(OSError):
                os.rename(target, junk)
            shutil.rmtree(junk, ignore_errors=True)
    raise error(f"cannot move the new {what} into place at {target}")


# --------------------------------------------------------------------------
# marker files


def _write_atomically(path: Path, text: str) -> None:
    """``text`` into ``path`` by a rename, so a reader sees the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_marker(directory: Path, name: str, data: Mapping[str, object]) -> None:
    """Write the marker ``name`` (JSON) into ``directory``: the last step of a build.

    The entry's manifest (`write_manifest`) is written just before it, so
    every finished entry carries one.
    """
    write_manifest(directory, exclude=(name,))
    _write_atomically(directory / name, json.dumps(data) + "\n")


def read_marker(directory: Path, name: str) -> dict:
    """The marker ``name`` in ``directory``; {} when it is missing, unreadable or no object."""
    try:
        data = json.loads((directory / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def installed_versions(
    root: Path, marker: str, key: Callable[[str], tuple], package: str | None = None
) -> list[str]:
    """The versions the markers in ``root/*/`` record, newest first by ``key``.

    Only released versions count (a local checkout's marker has a ``path``);
    with ``package``, only markers naming that package.
    """
    found = set()
    for path in root.glob(f"*/{marker}"):
        data = read_marker(path.parent, marker)
        version = data.get("version")
        if "path" in data or not isinstance(version, str) or not version:
            continue
        if package is None or data.get("package") == package:
            found.add(version)
    return sorted(found, key=key, reverse=True)


# --------------------------------------------------------------------------
# manifests: an entry checks itself before use

#: The file in a cache entry listing its files and their sizes.
MANIFEST = ".wsreplay-manifest.json"
MANIFEST_FORMAT = 1

#: Regenerated on demand by the interpreter that reads them: neither listed
#: nor checked (a missing or rewritten bytecode file is no damage).
_UNLISTED_DIRS = frozenset({"__pycache__"})


def _entry_files(directory: Path, exclude: tuple[str, ...]) -> dict[str, int]:
    """Every file (and symlink, not followed) below ``directory``: relative path → size."""
    files: dict[str, int] = {}
    skip = {MANIFEST, *exclude}
    for root, dirs, names in os.walk(directory):
        if root != str(directory) and any(_is_marker_name(n) for n in names):
            dirs[:] = []  # an entry nested inside (Java's compiled adapters): its own manifest
            continue
        dirs[:] = sorted(d for d in dirs if d not in _UNLISTED_DIRS and not _is_transient(d))
        # os.walk lists a symlink to a directory among dirs: keep it as a file.
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = [d for d in dirs if d not in links]
        rel_root = os.path.relpath(root, directory)
        for name in [*names, *links]:
            rel = name if rel_root == "." else f"{rel_root}/{name}"
            if rel in skip or _is_transient(name):
                continue
            files[rel] = os.lstat(os.path.join(root, name)).st_size
    return files


def _is_transient(name: str) -> bool:
    """A nested entry's build in progress or its leftovers (``.NAME.tmp-*``, ``.NAME.old-*``)."""
    return name.startswith(".") and (".tmp-" in name or ".old-" in name)


def write_manifest(directory: Path, *, exclude: tuple[str, ...] = ()) -> None:
    """Write ``directory``'s manifest: every file's relative path and size.

    Sizes, not hashes: the manifest is checked before every use of the
    entry, and stat-ing ~2,000 files costs milliseconds where hashing the
    27 MB of a Python env would cost far more on every run. A size catches
    what breaks an entry in practice (a deleted or truncated file, a
    half-copied cache); a same-size edit inside a file goes unnoticed. No
    mtimes: copying a cache (``cp -r``, a backup restore) changes them
    without damaging anything. Bytecode caches (``__pycache__``) are left
    out, since interpreters rewrite them at will, and so is an entry nested
    inside (a folder with a marker of its own: Java's compiled adapters in
    a library's entry), which its own manifest checks. Symlinks (a venv's
    ``bin/python``) are listed with their own size, not followed. Written
    by a rename, so a reader never sees half a manifest.
    """
    data = {"format": MANIFEST_FORMAT, "files": _entry_files(directory, exclude)}
    _write_atomically(directory / MANIFEST, json.dumps(data, separators=(",", ":")) + "\n")


def manifest_damage(directory: Path) -> str | None:
    """What is wrong with ``directory`` by its manifest, or None if nothing is.

    ``"no manifest"`` when there is none (an entry made before manifests
    existed); otherwise the first file that is missing or has another size.
    Files that are not listed (added after the build) are not checked.
    """
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
    except FileNotFoundError:
        return "no manifest"
    except (OSError, ValueError, TypeError, KeyError):
        return f"{MANIFEST} is unreadable"
    for rel, size in files.items():
        try:
            found = os.lstat(directory / rel).st_size
        except OSError:
            return f"{rel} is missing"
        if found != size:
            return f"{rel} has {found} bytes, not {size}"
    return None


def remove_command(directory: Path) -> str:
    """The shell command that removes a cache entry, for error messages."""
    return f"rm -rf {shlex.quote(str(directory))}"


def entry_intact(directory: Path, log: Callable[[str], None]) -> bool:
    """Check a finished entry against its manifest before it is used; False if it is gone.

    Called wherever an installer finds ``directory`` complete (its marker
    present), on every use. An entry without a manifest (made by an older
    wsreplay) is trusted and gets one now. A damaged entry is, under the
    entry's lock (and checked again there: another process may just have
    reinstalled it), moved aside and removed, with one line to ``log``
    naming it and why; the caller then installs it again as if it had never
    been there. If it cannot be removed, `InstallError` names the entry and
    the command that removes it.
    """
    damage = manifest_damage(directory)
    if damage is None:
        return True
    if damage == "no manifest":
        with contextlib.suppress(OSError):  # a read-only cache still works, unchecked
            write_manifest(directory, exclude=_marker_names(directory))
        return True
    with file_lock(directory.parent / f".{directory.name}.lock"):
        damage = manifest_damage(directory)
        if not directory.exists():
            return False  # another process removed it: install it
        if damage is None or damage == "no manifest":
            return True  # reinstalled meanwhile by another process (or an old entry)
        junk = directory.with_name(f".{directory.name}.tmp-damaged-{os.getpid()}-{time.time_ns()}")
        try:
            os.rename(directory, junk)
        except OSError as exc:
            raise InstallError(
                f"cache entry {directory} is damaged ({damage}) and cannot be moved aside "
                f"({exc.strerror}); remove it with: {remove_command(directory)}"
            ) from exc
        # A leftover (a file we may not delete) is a stale build for remove_stale_builds.
        shutil.rmtree(junk, ignore_errors=True)
    REMOVED_ENTRIES.append((directory, damage))
    log(f"cache entry {directory} is damaged ({damage}): removed it, reinstalling")
    return False


#: The damaged entries `entry_intact` removed in this process (the entry,
#: what was wrong), so that `clients.prepare` can name one whose reinstall failed.
REMOVED_ENTRIES: list[tuple[Path, str]] = []


def _is_marker_name(name: str) -> bool:
    """Every installer's marker, and the manifest, are ``.wsreplay-*.json``."""
    return name.startswith(".wsreplay-") and name.endswith(".json")


def _marker_names(directory: Path) -> tuple[str, ...]:
    """The marker files at the top of an entry."""
    return tuple(
        p.name for p in directory.iterdir() if _is_marker_name(p.name) and p.name != MANIFEST
    )
