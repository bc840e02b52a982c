"""What every installer does the same way: run a tool, build a cache entry atomically.

- `run_tool` runs a registry or build tool (pip, npm, go, mvn, javac, cargo)
  with a deadline and returns its stdout; on failure, on timeout or when the
  tool cannot be started it raises `InstallError` with the tail of the output.
- `temporary_build`, `move_into_place`: a cache entry is built in a
  temporary directory beside its final place (same filesystem, so the rename
  is atomic) and renamed into place only once it is finished, so a crash or
  a kill never leaves a half-built entry that looks complete.
- `write_marker`, `read_marker`, `installed_versions`: the marker file a
  finished entry gets last, and the versions the markers of a cache record.
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
import shutil
import signal
import subprocess
import tempfile
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


def write_marker(directory: Path, name: str, data: Mapping[str, object]) -> None:
    """Write the marker ``name`` (JSON) into ``directory``: the last step of a build."""
    (directory / name).write_text(json.dumps(data) + "\n", encoding="utf-8")


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
