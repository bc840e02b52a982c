"""The plumbing every installer shares: running tools, atomic cache entries, markers."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wsreplay.installers import InstallError, common
from wsreplay.installers.python import version_key


def test_run_tool_returns_stdout() -> None:
    out = common.run_tool([sys.executable, "-c", "print('hi')"], what="hello", timeout=30)
    assert out == "hi\n"


def test_run_tool_failure_quotes_the_tail() -> None:
    script = "import sys; [print(f'line {i}', file=sys.stderr) for i in range(30)]; sys.exit(3)"
    with pytest.raises(InstallError) as info:
        common.run_tool([sys.executable, "-c", script], what="npm install ws@1", timeout=30)
    message = str(info.value)
    assert message.startswith("npm install ws@1 failed (exit 3):\n")
    assert "line 29" in message and "line 9\n" not in message  # the last 20 lines only


def test_run_tool_timeout_kills_the_whole_group() -> None:
    started = time.monotonic()
    # The child keeps the output pipe open: only killing the group ends the wait.
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)"
    )
    with pytest.raises(InstallError, match=r"^slow build: no result after 1 s"):
        common.run_tool([sys.executable, "-c", script], what="slow build", timeout=1)
    assert time.monotonic() - started < 10


def test_run_tool_missing_tool_says_so(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=r"^go build: cannot run .*nope.*\(install it\)"):
        common.run_tool([str(tmp_path / "nope")], what="go build", timeout=5, hint=" (install it)")


def test_move_into_place_keeps_a_finished_winner(tmp_path: Path) -> None:
    complete = lambda d: (d / "marker").is_file()  # noqa: E731
    target = tmp_path / "ws-8.18.0"
    target.mkdir()
    (target / "marker").write_text("winner")
    with common.temporary_build(target) as tmp:
        (tmp / "marker").write_text("loser")
        common.move_into_place(tmp, target, is_complete=complete)
    assert (target / "marker").read_text() == "winner"
    assert [p.name for p in tmp_path.iterdir()] == ["ws-8.18.0"]  # the temp dir is gone


def test_move_into_place_replaces_a_half_built_leftover(tmp_path: Path) -> None:
    complete = lambda d: (d / "marker").is_file()  # noqa: E731
    target = tmp_path / "entry"
    target.mkdir()
    (target / "partial").write_text("killed mid-build")
    with common.temporary_build(target) as tmp:
        (tmp / "marker").write_text("new")
        common.move_into_place(tmp, target, is_complete=complete)
    assert sorted(p.name for p in target.iterdir()) == ["marker"]


def test_markers_and_installed_versions(tmp_path: Path) -> None:
    for name, data in {
        "a": {"package": "ws", "version": "8.2.0"},
        "b": {"package": "ws", "version": "8.18.0"},
        "c": {"package": "ws", "version": "9.0.0", "path": "/src/ws"},  # a checkout
        "d": {"package": "undici", "version": "7.0.0"},
    }.items():
        (tmp_path / name).mkdir()
        common.write_marker(tmp_path / name, ".m.json", data)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / ".m.json").write_text("not json")
    assert common.read_marker(tmp_path / "e", ".m.json") == {}
    found = common.installed_versions(tmp_path, ".m.json", version_key, package="ws")
    assert found == ["8.18.0", "8.2.0"]


def test_listed_release_finds_the_registrys_spelling() -> None:
    versions = ["14.0", "14.1", "v1.5.3"]
    assert common.listed_release("14", versions, version_key) == "14.0"
    assert common.listed_release("1.5.3", versions, version_key) == "v1.5.3"
    assert common.listed_release("15", versions, version_key) is None


# semver.org §11's example, lowest first.
SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
]


@pytest.mark.parametrize(
    ("registry", "spell"),
    [("node", str), ("rust", str), ("go", lambda version: "v" + version)],
)
def test_every_semver_registry_orders_by_the_one_semver_key(registry: str, spell) -> None:
    key = importlib.import_module(f"wsreplay.installers.{registry}").version_key
    spelled = [spell(v) for v in SEMVER_ORDER]
    assert sorted(reversed(spelled), key=key) == spelled
    assert key(spell("1.0.0+build.5")) == key(spell("1.0.0"))  # build metadata ignored
    assert key("not a version") < key(spelled[0])


def test_file_lock_excludes_a_second_process(tmp_path: Path) -> None:
    lock = tmp_path / "locks" / "entry.lock"
    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'a')\n"
        "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except BlockingIOError:\n    sys.exit(1)\n"
    )
    with common.file_lock(lock):
        assert lock.exists()
        held = subprocess.run([sys.executable, "-c", probe, str(lock)], check=False)
        assert held.returncode == 1
    free = subprocess.run([sys.executable, "-c", probe, str(lock)], check=False)
    assert free.returncode == 0


def test_nearest_versions_use_the_registrys_own_order() -> None:
    """Guava's `31.1-jre` is no PEP 440 version, but Maven's key orders it."""
    from wsreplay.installers import java

    versions = ["31.1-jre", "30.1-jre", "29.0-jre", "5.0.0"]
    assert common.nearest_versions("31.0", versions, java.version_key) == [
        "31.1-jre",
        "30.1-jre",
        "29.0-jre",
        "5.0.0",
    ]
