"""`./wsreplay clients`: the adapters with their installed versions, and a registry's releases."""

from __future__ import annotations

from pathlib import Path

from conftest import wsreplay
from wsreplay.clients import ADAPTERS


def test_clients_lists_every_adapter_with_language_and_installed_versions() -> None:
    proc = wsreplay("clients")
    assert proc.returncode == 0, proc.stderr
    for name, info in ADAPTERS.items():
        assert f"{name}  [{info.language}: {info.package}]" in proc.stdout
    assert proc.stdout.count("    installed: ") == len(ADAPTERS)


def test_installed_versions_show_what_the_cache_holds(tmp_path: Path) -> None:
    # test_founding and others install these pinned versions first.
    wsreplay(
        "run", "--client", "python-websockets@14.1", "--scenario", "close/send-then-close",
        "--out", str(tmp_path),
    )  # fmt: skip
    block = wsreplay("clients").stdout.split("python-websockets  [")[1].split("\n\n")[0]
    installed = block.splitlines()[3]
    assert "14.1" in installed


def test_versions_lists_the_registry_newest_first_and_marks_installed() -> None:
    proc = wsreplay("clients", "versions", "python-websockets")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("websockets releases for python-websockets, newest first")
    versions = [line.split()[0] for line in lines[1:]]
    assert {"13.1", "14.0", "14.1"} <= set(versions)
    assert versions.index("14.1") < versions.index("14.0") < versions.index("13.1")
    assert any(line.startswith("14.1  (installed") for line in lines)
    # (9.1 may be installed by hand, to check the floor: then it says so too)
    assert any(
        line.startswith("9.1  (") and line.endswith("outside the adapter's range)")
        for line in lines
    )


def test_versions_of_an_unknown_adapter_is_a_usage_error() -> None:
    proc = wsreplay("clients", "versions", "no-such-adapter")
    assert proc.returncode == 2
    assert "unknown adapter 'no-such-adapter'" in proc.stderr
    assert "python-websockets" in proc.stderr


def test_bad_clients_arguments_say_how_to_call_it() -> None:
    proc = wsreplay("clients", "version", "node-ws")
    assert proc.returncode == 2
    assert "usage: wsreplay clients [versions ADAPTER]" in proc.stderr
