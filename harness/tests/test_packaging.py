"""`pip install .`: wsreplay as a dependency of a library's own test suite.

The checkout is installed into a fresh virtual environment (meson-python
builds the server); the installed `wsreplay` command then runs the founding
scenario with its own catalogue and adapters, and a test file outside the
repository gets the plugin's fixtures through the pytest11 entry point,
with no -p option and no conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wsreplay.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

LIBRARY_TEST = """
def test_the_plugin_serves_the_catalogue(wsreplay_run_scenario, wsreplay_catalogue):
    assert "close/send-then-close" in wsreplay_catalogue
    record = wsreplay_run_scenario("close/send-then-close", "python-websockets@14.1")
    assert record["verdict"] == "pass", record["reason"]
"""


WHERE = "import wsreplay.paths as p; print(p.INSTALLED, p.SCENARIOS_DIR)"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    python = str(root / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    proc = subprocess.run([*pip, str(REPO_ROOT), "pytest"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def clean_env() -> dict[str, str]:
    """No trace of the checkout: the installed package must stand alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WSREPLAY_", "PYTHON"))}
    return env


def test_installed_command_runs_a_scenario(venv: Path, tmp_path: Path) -> None:
    assert (venv / "bin" / "wsreplay-server").is_file()
    argv = [str(venv / "bin" / "wsreplay"), "run", "--client", "python-websockets@14.1"]
    argv += ["--scenario", "close/send-then-close", "--out", "out"]
    proc = subprocess.run(argv, cwd=tmp_path, env=clean_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (record,) = report["results"]
    assert record["verdict"] == "pass", record["reason"]
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", WHERE],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0] == "True" and "site-packages" in where[1], where


def test_plugin_loads_by_entry_point(venv: Path, tmp_path: Path) -> None:
    (tmp_path / "test_library.py").write_text(LIBRARY_TEST)
    argv = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [*argv, "test_library.py"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
