"""``ADAPTER@path:DIR`` for Python libraries: a maintainer's checkout, reinstalled on every run.

The checkout is real: the websockets 14.1 source distribution from PyPI,
unpacked into a temporary folder. Each test uses its own cache
(``WSREPLAY_CACHE``), so nothing is left in the user's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import WSREPLAY
from wsreplay.clients import ADAPTERS, installer
from wsreplay.installers import python as python_installer

SDIST_VERSION = "14.1"


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The websockets 14.1 sdist, downloaded once for the module."""
    folder = tmp_path_factory.mktemp("sdist")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"websockets=={SDIST_VERSION}",
            "--dest",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return next(folder.glob(f"websockets-{SDIST_VERSION}.tar.gz"))


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python without extraction filters; the archive comes from PyPI
            tar.extractall(into)
    return into / f"websockets-{SDIST_VERSION}"


def resolved_forms(checkout: Path, version: str) -> tuple[str, ...]:
    """How a report may show a checkout's version: bare, or labelled with the path."""
    return version, f"path:{checkout.resolve()} ({version})"


def run_path_spec(checkout: Path, cache: Path, out: Path) -> dict:
    argv = [
        WSREPLAY,
        "run",
        "--client",
        f"python-websockets@path:{checkout}",
        "--scenario",
        "close/send-then-close",
        "--out",
        str(out),
    ]
    env = {**os.environ, "WSREPLAY_CACHE": str(cache)}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "report.json").read_text())


@pytest.mark.e2e
def test_checkout_runs_and_edits_are_picked_up(
    sdist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout = unpack(sdist, tmp_path / "src")
    cache = tmp_path / "cache"
    monkeypatch.setenv("WSREPLAY_CACHE", str(cache))

    first = run_path_spec(checkout, cache, tmp_path / "run1")
    (client,) = first["clients"]
    assert client["status"] == "ok", client
    assert client["resolved_version"] in resolved_forms(checkout, SDIST_VERSION), client
    # 14.1 delivers the message sent right before the close (14.0 did not)
    (record,) = first["results"]
    assert record["verdict"] == "pass", record["reason"]

    envs = [p for p in (cache / "python" / "paths").iterdir() if not p.name.startswith(".")]
    assert len(envs) == 1, envs
    marker = json.loads((envs[0] / python_installer.MARKER).read_text())
    assert marker["path"] == str(checkout.resolve()) and marker["package"] == "websockets"
    # a checkout is not a release: the cache does not list it as one
    assert installer(ADAPTERS["python-websockets"]).installed(ADAPTERS["python-websockets"]) == []

    # the maintainer edits the checkout: the next run reinstalls it into the same env
    version_py = checkout / "src" / "websockets" / "version.py"
    text = version_py.read_text()
    assert f'tag = version = commit = "{SDIST_VERSION}"' in text
    version_py.write_text(text.replace(f'"{SDIST_VERSION}"', f'"{SDIST_VERSION}.post1"', 1))
    second = run_path_spec(checkout, cache, tmp_path / "run2")
    (client,) = second["clients"]
    assert client["resolved_version"] in resolved_forms(checkout, f"{SDIST_VERSION}.post1"), client
    assert second["results"][0]["verdict"] == "pass"
    again = [p for p in (cache / "python" / "paths").iterdir() if not p.name.startswith(".")]
    assert again == envs


def test_env_is_per_absolute_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path)
    env_a = python_installer.path_env_dir("websockets", Path("a"))
    assert env_a == python_installer.path_env_dir("websockets", tmp_path / "a" / ".." / "a")
    assert env_a != python_installer.path_env_dir("websockets", tmp_path / "b")
    assert env_a.parent == tmp_path / "cache" / "python" / "paths"
    assert env_a.name.startswith("websockets-")


def test_build_requires(tmp_path: Path) -> None:
    assert python_installer.build_requires(tmp_path) == list(
        python_installer.DEFAULT_BUILD_REQUIRES
    )
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["hatchling>=1.0"]\nbuild-backend = "hatchling.build"\n'
    )
    assert python_installer.build_requires(tmp_path) == ["hatchling>=1.0"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert python_installer.build_requires(tmp_path) == list(
        python_installer.DEFAULT_BUILD_REQUIRES
    )


@pytest.mark.e2e
def test_a_checkout_of_something_else_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))
    project = tmp_path / "notwebsockets"
    (project / "notwebsockets").mkdir(parents=True)
    (project / "notwebsockets" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "notwebsockets"\nversion = "1.0"\n'
    )
    with pytest.raises(python_installer.InstallError, match="holds no websockets"):
        python_installer.ensure_path_env("websockets", project)
    # nothing half-built counts as an env
    paths = tmp_path / "cache" / "python" / "paths"
    assert not [p for p in paths.iterdir() if not p.name.startswith(".")]


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(python_installer.InstallError, match="is not a directory"):
        python_installer.ensure_path_env("websockets", tmp_path / "missing")
