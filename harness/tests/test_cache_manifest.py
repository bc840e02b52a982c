"""A cache entry checks itself before use (issue 12, D4).

Every finished entry carries a manifest (its files and their sizes); the
installers check it wherever they reuse an entry, and a damaged entry is
removed and reinstalled, or, when that fails, the error names it. The
real-install tests work on a copy of a cached python-websockets env in a
temporary cache root (``WSREPLAY_CACHE``), never on the shared cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from wsreplay.clients import prepare
from wsreplay.installers import InstallError, common
from wsreplay.installers.python import MARKER, env_dir

# --------------------------------------------------------------------------
# the manifest itself, on hand-made entries


def _entry(root: Path) -> Path:
    entry = root / "pkg-1.0"
    (entry / "lib" / "pkg" / "__pycache__").mkdir(parents=True)
    (entry / "lib" / "pkg" / "__init__.py").write_text("x = 1\n")
    (entry / "lib" / "pkg" / "__pycache__" / "__init__.pyc").write_bytes(b"\0" * 10)
    (entry / "bin").mkdir()
    os.symlink("/nonexistent/python3", entry / "bin" / "python")
    common.write_marker(entry, ".wsreplay-env.json", {"version": "1.0"})
    return entry


def test_write_marker_writes_the_manifest_first(tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    files = json.loads((entry / common.MANIFEST).read_text())["files"]
    # the bytecode cache and the marker are not listed; the symlink is, unfollowed
    assert files == {"bin/python": len("/nonexistent/python3"), "lib/pkg/__init__.py": 6}
    assert common.manifest_damage(entry) is None
    assert not [p for p in entry.iterdir() if ".tmp-" in p.name]  # written by a rename


def test_damage_is_a_missing_file_or_another_size(tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    shutil.rmtree(entry / "lib" / "pkg" / "__pycache__")  # no damage
    (entry / "extra.txt").write_text("added later")  # not listed, not checked
    assert common.manifest_damage(entry) is None
    (entry / "lib" / "pkg" / "__init__.py").write_text("x = 10\n")
    assert common.manifest_damage(entry) == "lib/pkg/__init__.py has 7 bytes, not 6"
    (entry / "lib" / "pkg" / "__init__.py").unlink()
    assert common.manifest_damage(entry) == "lib/pkg/__init__.py is missing"
    (entry / common.MANIFEST).write_text("{")
    assert common.manifest_damage(entry) == f"{common.MANIFEST} is unreadable"


def test_a_nested_entry_is_left_to_its_own_manifest(tmp_path: Path) -> None:
    outer = tmp_path / "lib-1.0"
    (outer / "lib").mkdir(parents=True)
    (outer / "lib" / "a.jar").write_bytes(b"jar")
    inner = outer / "adapters" / "x-123"
    (inner / "classes").mkdir(parents=True)
    (inner / "classes" / "X.class").write_bytes(b"cafebabe")
    common.write_marker(inner, ".wsreplay-env.json", {})
    (outer / "adapters" / ".y-456.tmp-abc").mkdir()  # a build in progress
    common.write_marker(outer, ".wsreplay-env.json", {})
    assert json.loads((outer / common.MANIFEST).read_text())["files"] == {"lib/a.jar": 3}


def test_an_entry_without_a_manifest_gets_one(tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    (entry / common.MANIFEST).unlink()
    lines: list[str] = []
    assert common.entry_intact(entry, lines.append)
    assert lines == []
    files = json.loads((entry / common.MANIFEST).read_text())["files"]
    assert ".wsreplay-env.json" not in files and "lib/pkg/__init__.py" in files


def test_a_damaged_entry_is_removed_with_one_line(tmp_path: Path) -> None:
    entry = _entry(tmp_path)
    (entry / "lib" / "pkg" / "__init__.py").unlink()
    lines: list[str] = []
    assert not common.entry_intact(entry, lines.append)
    assert not entry.exists()
    assert lines == [
        f"cache entry {entry} is damaged (lib/pkg/__init__.py is missing): removed it, reinstalling"
    ]
    assert (entry, "lib/pkg/__init__.py is missing") in common.REMOVED_ENTRIES
    leftovers = [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_a_damaged_entry_that_cannot_be_removed_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = tmp_path / "my dir" / "pkg-1.0"
    entry.parent.mkdir()
    entry = _entry(entry.parent)
    (entry / "lib" / "pkg" / "__init__.py").unlink()

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(common.os, "rename", refuse)  # root ignores file modes
    with pytest.raises(InstallError) as info:
        common.entry_intact(entry, lambda _line: None)
    assert str(info.value) == (
        f"cache entry {entry} is damaged (lib/pkg/__init__.py is missing) and cannot be "
        f"moved aside (Permission denied); remove it with: rm -rf '{entry}'"
    )


# --------------------------------------------------------------------------
# a real env: python-websockets, copied from the shared cache


VERSION = "13.1"
SPEC = f"python-websockets@{VERSION}"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache root holding a copy of the shared cache's websockets env (no manifest yet)."""
    shared = env_dir("websockets", VERSION)
    if not (shared / MARKER).is_file():
        pytest.skip(f"{shared} is not in the cache")
    root = tmp_path / "cache"
    monkeypatch.setenv("WSREPLAY_CACHE", str(root))
    copy = env_dir("websockets", VERSION)
    shutil.copytree(shared, copy, symlinks=True)
    (copy / common.MANIFEST).unlink(missing_ok=True)
    return copy


def _module_file(entry: Path) -> Path:
    (found,) = entry.glob("lib/python*/site-packages/websockets/version.py")
    return found


def _imports(entry: Path) -> bool:
    python = entry / "bin" / "python"
    proc = subprocess.run([str(python), "-c", "import websockets"], capture_output=True)
    return proc.returncode == 0


def test_prepare_gives_an_old_entry_a_manifest(cache: Path) -> None:
    lines: list[str] = []
    prepared = prepare(SPEC, lines.append)
    assert prepared.resolved_version == VERSION
    assert lines == []  # reused, not reinstalled
    assert common.manifest_damage(cache) is None
    assert "bin/python" in json.loads((cache / common.MANIFEST).read_text())["files"]


def test_prepare_reinstalls_an_entry_missing_a_file(cache: Path) -> None:
    prepare(SPEC)  # the manifest
    lost = _module_file(cache)
    lost.unlink()
    assert not _imports(cache)  # what a run met before: the adapter's traceback
    lines: list[str] = []
    prepare(SPEC, lines.append)
    rel = lost.relative_to(cache)
    assert lines[0] == (
        f"cache entry {cache} is damaged ({rel} is missing): removed it, reinstalling"
    )
    assert lines[-1] == f"installed websockets=={VERSION}"
    assert lost.is_file() and _imports(cache)
    assert common.manifest_damage(cache) is None


def test_prepare_checks_the_manifest_every_time(cache: Path) -> None:
    prepare(SPEC)
    prepare(SPEC)  # intact: nothing happens
    target = _module_file(cache)
    target.write_text(target.read_text() + "# truncated? edited? no longer what was installed\n")
    lines: list[str] = []
    prepare(SPEC, lines.append)
    assert "is damaged" in lines[0] and "bytes, not" in lines[0]


def test_a_failed_reinstall_names_the_removed_entry(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare(SPEC)
    lost = _module_file(cache)
    lost.unlink()
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # the registry cannot be reached
    with pytest.raises(InstallError) as info:
        prepare(SPEC)
    rel = lost.relative_to(cache)
    assert str(info.value).startswith(f"pip install websockets=={VERSION} failed")
    assert str(info.value).endswith(
        f"\nthe damaged cache entry {cache} ({rel} is missing) was removed to be "
        "reinstalled, and reinstalling it failed; the next run tries again"
    )
    assert not cache.exists()
