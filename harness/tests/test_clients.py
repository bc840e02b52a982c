"""Client specs, the adapter registry, version resolution and the env cache.

Most tests are offline. A few ask PyPI for the real version list (they
never install anything) and skip when it cannot be reached.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from wsreplay import clients, paths
from wsreplay.clients import (
    ADAPTERS,
    ClientSpec,
    SpecError,
    check_version_range,
    parse_spec,
    prepare,
)
from wsreplay.installers import common
from wsreplay.installers import python as python_installer

ADAPTER_SCRIPT = (
    Path(clients.__file__).resolve().parents[1] / "adapters" / "python-websockets" / "adapter.py"
)


# --------------------------------------------------------------------------
# parse_spec


@pytest.mark.parametrize(
    "text, adapter, version",
    [
        ("python-websockets", "python-websockets", None),  # newest release
        ("python-websockets@14.0", "python-websockets", "14.0"),
        ("python-websockets-asyncio@13.1", "python-websockets-asyncio", "13.1"),
        ("python-websockets-legacy@10.4", "python-websockets-legacy", "10.4"),
        ("python-websockets-sync@12.0", "python-websockets-sync", "12.0"),
        ("  python-websockets@14  ", "python-websockets", "14"),  # outer blanks ignored
        (
            "python-websockets@15.0rc1",
            "python-websockets",
            "15.0rc1",
        ),  # pre-release as written
        (
            "python-websockets@1!2.0+local.1",
            "python-websockets",
            "1!2.0+local.1",
        ),  # epoch, local
    ],
)
def test_parse_spec_accepts(text: str, adapter: str, version: str | None) -> None:
    spec = parse_spec(text)
    assert spec == ClientSpec(raw=text.strip(), adapter=adapter, version=version)


@pytest.mark.parametrize(
    "text",
    [
        "",  # nothing
        "   ",  # only blanks
        "@14.0",  # no adapter
        "python-websockets@",  # empty version
        "python-websockets@@14.0",  # doubled separator
        "python-websockets@14.0@15.0",  # two versions
        "python websockets",  # inner blank
        "python-websockets@14 .0",  # blank inside the version
        "python-websockets@.14",  # version must start with a letter or digit
        "Python-Websockets@14.0",  # adapter names are lower case
        "python-websockets==14.0",  # pip syntax, not ours
    ],
)
def test_parse_spec_rejects_bad_syntax(text: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    message = str(info.value)
    assert repr(text) in message  # names the spec as given
    assert "ADAPTER[@VERSION]" in message
    assert "python-websockets-asyncio" in message  # and lists what exists


def test_parse_spec_rejects_unknown_adapter_listing_known_ones() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec("cobol-ws@8.18.0")
    message = str(info.value)
    assert "'cobol-ws'" in message
    assert "'cobol-ws@8.18.0'" in message
    for name in ADAPTERS:
        assert name in message


def test_parse_spec_rejects_non_strings() -> None:
    with pytest.raises(SpecError):
        parse_spec(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# the registry


def test_registry_entries_are_complete() -> None:
    assert set(ADAPTERS) >= {
        "python-websockets",
        "python-websockets-asyncio",
        "python-websockets-legacy",
        "python-websockets-sync",
    }
    for name, info in ADAPTERS.items():
        assert info.name == name
        assert clients.installer(info) is not None, name
        assert info.entry.is_file(), f"{name}: {info.entry} missing"
        assert info.summary


@pytest.mark.parametrize(
    "adapter, minimum",
    [
        ("python-websockets", "10.0"),
        ("python-websockets-legacy", "10.0"),
        ("python-websockets-sync", "11.0"),
        ("python-websockets-asyncio", "13.0"),
    ],
)
def test_api_availability_ranges(adapter: str, minimum: str) -> None:
    info = ADAPTERS[adapter]
    assert info.min_version == minimum
    check_version_range(info, minimum)  # the first release with the API is fine
    check_version_range(info, "17.4")


@pytest.mark.parametrize(
    "adapter, version, message",
    [
        (
            "python-websockets-asyncio",
            "12.0",
            "python-websockets-asyncio needs websockets >= 13.0; 12.0 has no websockets.asyncio",
        ),
        (
            "python-websockets-asyncio",
            "11.0.3",
            "python-websockets-asyncio needs websockets >= 13.0; 11.0.3 has no websockets.asyncio",
        ),
        (
            "python-websockets-sync",
            "10.4",
            "python-websockets-sync needs websockets >= 11.0; "
            "10.4 has no websockets.sync (added in 11.0)",
        ),
        (
            "python-websockets",
            "9.1",
            "python-websockets needs websockets >= 10.0; 9.1 is older",
        ),
        (
            "python-websockets-legacy",
            "8.1",
            "python-websockets-legacy needs websockets >= 10.0",
        ),
    ],
)
def test_version_range_refusals(adapter: str, version: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        check_version_range(ADAPTERS[adapter], version)
    assert str(info.value).startswith(message)


def test_max_version_refuses_releases_after_removal() -> None:
    removed = dataclasses.replace(
        ADAPTERS["python-websockets-legacy"],
        max_version="15.0.1",
        too_new="{version} has no websockets.legacy",
    )
    check_version_range(removed, "15.0.1")
    with pytest.raises(
        SpecError,
        match=r"needs websockets <= 15\.0\.1; 16\.0 has no websockets\.legacy",
    ):
        check_version_range(removed, "16.0")


# --------------------------------------------------------------------------
# prepare, offline (installer replaced)


@pytest.fixture
def fake_pyenvs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, str]]:
    """Replace version listing and installing; record what would be installed."""
    installed: list[tuple[str, str]] = []
    versions = ["17.4", "15.0rc1", "14.1", "14.0", "13.1", "12.0", "10.4"]

    def available(package: str) -> list[str]:
        assert package == "websockets"
        return versions

    def ensure(package: str, version: str, log: Callable[[str], None] | None = None) -> Path:
        installed.append((package, version))
        if log:
            log(f"fake install {package}=={version}")
        return tmp_path / f"{package}-{version}" / "bin" / "python"

    monkeypatch.setattr(python_installer, "available_versions", available)
    monkeypatch.setattr(python_installer, "ensure_env", ensure)
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))  # nothing cached there
    return installed


def test_prepare_builds_argv_and_env(fake_pyenvs: list[tuple[str, str]], tmp_path: Path) -> None:
    lines: list[str] = []
    prepared = prepare(parse_spec("python-websockets-sync@14.0"), lines.append)
    python = tmp_path / "websockets-14.0" / "bin" / "python"
    assert prepared.resolved_version == "14.0"
    assert prepared.argv == [
        str(python),
        str(ADAPTER_SCRIPT),
        "--api",
        "python-websockets-sync",
    ]
    assert prepared.adapter is ADAPTERS["python-websockets-sync"]
    assert prepared.spec.raw == "python-websockets-sync@14.0"
    assert prepared.env["PYTHONNOUSERSITE"] == "1"
    assert fake_pyenvs == [("websockets", "14.0")]
    assert lines == ["fake install websockets==14.0"]


def test_prepare_without_version_takes_newest_final_release(
    fake_pyenvs: list[tuple[str, str]],
) -> None:
    prepared = prepare("python-websockets")
    assert prepared.resolved_version == "17.4"  # not 15.0rc1, not the first listed by accident
    assert prepared.spec.version is None


def test_prepare_matches_versions_like_pip(fake_pyenvs: list[tuple[str, str]]) -> None:
    assert prepare("python-websockets@14").resolved_version == "14.0"


def test_prepare_refuses_api_range_before_installing(
    fake_pyenvs: list[tuple[str, str]],
) -> None:
    with pytest.raises(SpecError) as info:
        prepare("python-websockets-asyncio@12.0")
    assert (
        str(info.value)
        == "python-websockets-asyncio needs websockets >= 13.0; 12.0 has no websockets.asyncio"
    )
    assert fake_pyenvs == []  # nothing was installed


def test_prepare_unknown_version_names_spec_and_nearest(
    fake_pyenvs: list[tuple[str, str]],
) -> None:
    with pytest.raises(SpecError) as info:
        prepare("python-websockets@14.3")
    message = str(info.value)
    assert "'python-websockets@14.3'" in message
    assert "14.1" in message and "14.0" in message
    assert isinstance(info.value.__cause__, python_installer.VersionNotFound)
    assert fake_pyenvs == []


# --------------------------------------------------------------------------
# prepare / resolve against PyPI's real version list (no install)


def _pypi_versions() -> list[str]:
    try:
        return python_installer.available_versions("websockets")
    except python_installer.PyEnvError as exc:
        pytest.skip(f"PyPI not reachable: {exc}")


def test_available_versions_from_pypi() -> None:
    versions = _pypi_versions()
    for known in ("10.4", "12.0", "13.1", "14.0", "14.1"):
        assert known in versions
    keys = [python_installer.version_key(v) for v in versions]
    assert keys == sorted(keys, reverse=True)  # newest first


def test_range_refusal_with_real_version_list(monkeypatch: pytest.MonkeyPatch) -> None:
    _pypi_versions()

    def no_install(*args: object, **kwargs: object) -> Path:
        raise AssertionError("must refuse before installing")

    monkeypatch.setattr(python_installer, "ensure_env", no_install)
    with pytest.raises(SpecError) as asyncio_refusal:
        prepare("python-websockets-asyncio@12.0")
    assert str(asyncio_refusal.value) == (
        "python-websockets-asyncio needs websockets >= 13.0; 12.0 has no websockets.asyncio"
    )
    with pytest.raises(SpecError) as sync_refusal:
        prepare("python-websockets-sync@10.4")
    assert str(sync_refusal.value) == (
        "python-websockets-sync needs websockets >= 11.0; "
        "10.4 has no websockets.sync (added in 11.0)"
    )


def test_version_not_on_pypi_with_real_version_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _pypi_versions()
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path))
    with pytest.raises(python_installer.VersionNotFound) as info:
        python_installer.resolve_version("websockets", "14.3")
    assert info.value.nearest[:1] != []
    assert "14.2" in info.value.nearest
    assert "websockets 14.3 is not a release on PyPI" in str(info.value)


# --------------------------------------------------------------------------
# pyenvs helpers


def test_parse_pip_index_output() -> None:
    text = (
        "websockets (17.4)\n"
        "Available versions: 17.4, 17.3, 14.1, 14.0\n"
        "  INSTALLED: 14.0\n"
        "  LATEST:    17.4\n"
    )
    assert python_installer.parse_pip_index_output(text) == ["17.4", "17.3", "14.1", "14.0"]
    assert python_installer.parse_pip_index_output("ERROR: No matching distribution found") == []


def test_version_key_orders_like_pep_440() -> None:
    ordered = [
        "0.9",
        "1.0.dev1",
        "1.0a1",
        "1.0b2",
        "1.0rc1",
        "1.0",
        "1.0.post1",
        "1.0.1",
        "2.0",
        "10.0",
        "1!0.1",
    ]
    shuffled = ordered[5:] + ordered[:5]
    assert sorted(shuffled, key=python_installer.version_key) == ordered
    assert (
        python_installer.version_key("14")
        == python_installer.version_key("14.0")
        == python_installer.version_key("14.0.0")
    )
    assert python_installer.is_prerelease("15.0rc1") and python_installer.is_prerelease("1.0.dev3")
    assert not python_installer.is_prerelease("14.0.post1")


def test_nearest_versions() -> None:
    versions = ["17.4", "15.0.1", "15.0", "14.2", "14.1", "14.0", "13.1"]
    assert common.nearest_versions("14.3", versions, python_installer.version_key) == [
        "15.0.1",
        "15.0",
        "14.2",
        "14.1",
        "14.0",
    ]
    assert common.nearest_versions("99", versions, python_installer.version_key)[0] == "17.4"
    assert common.nearest_versions("nonsense", versions, python_installer.version_key) == [
        "17.4",
        "15.0.1",
        "15.0",
        "14.2",
        "14.1",
    ]


def test_resolve_version_uses_cached_env_without_network(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path))
    env = python_installer.env_dir("websockets", "14.0")
    python_installer.env_python(env).parent.mkdir(parents=True)
    python_installer.env_python(env).touch()
    (env / python_installer.MARKER).write_text("{}")

    def offline(package: str) -> list[str]:
        raise python_installer.PyEnvError("offline")

    monkeypatch.setattr(python_installer, "available_versions", offline)
    assert python_installer.resolve_version("websockets", "14.0") == "14.0"
    assert python_installer.ensure_env("websockets", "14.0") == python_installer.env_python(
        env
    )  # reused, no pip


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"WSREPLAY_CACHE": "/c/ws", "XDG_CACHE_HOME": "/x"}, "/c/ws"),
        ({"XDG_CACHE_HOME": "/x"}, "/x/wsreplay"),
        ({"HOME": "/h"}, "/h/.cache/wsreplay"),
    ],
)
def test_cache_root(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: str
) -> None:
    for name in ("WSREPLAY_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert paths.cache_root() == Path(expected)
    assert (
        python_installer.env_dir("websockets", "14.0")
        == Path(expected) / "python" / "websockets-14.0"
    )


def _fake_env(path: Path, tag: str) -> None:
    python_installer.env_python(path).parent.mkdir(parents=True)
    python_installer.env_python(path).write_text(tag)
    (path / python_installer.MARKER).write_text(json.dumps({"tag": tag}))


def test_move_into_place_keeps_a_concurrent_winner(tmp_path: Path) -> None:
    target = tmp_path / "websockets-14.0"
    _fake_env(target, "first")
    late = tmp_path / ".late"
    _fake_env(late, "second")
    python_installer._move_into_place(late, target)
    assert python_installer.env_python(target).read_text() == "first"


def test_move_into_place_replaces_an_incomplete_dir(tmp_path: Path) -> None:
    target = tmp_path / "websockets-14.0"
    (target / "bin").mkdir(parents=True)  # no marker: not a finished env
    new = tmp_path / ".new"
    _fake_env(new, "new")
    python_installer._move_into_place(new, target)
    assert python_installer.env_python(target).read_text() == "new"
    assert not new.exists()


def test_failed_install_leaves_nothing_that_looks_complete(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path))

    def failing_run(cmd: list[str], what: str, timeout: float) -> None:
        if "pip" in cmd:
            raise python_installer.InstallError(
                f"{what} failed (exit 1):\nERROR: No matching distribution"
            )
        python_installer.env_python(Path(cmd[-1])).parent.mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(python_installer, "_run", failing_run)
    with pytest.raises(python_installer.InstallError, match="No matching distribution"):
        python_installer.ensure_env("websockets", "0.0.0")
    parent = python_installer.env_dir("websockets", "0.0.0").parent
    assert list(parent.iterdir()) == []  # temp dir removed, no target


# --------------------------------------------------------------------------
# the adapter script, without the library


def test_adapter_without_websockets_says_unsupported() -> None:
    # -S: no site-packages, so `import websockets` fails whatever is installed.
    proc = subprocess.run(
        [sys.executable, "-S", str(ADAPTER_SCRIPT), "--api", "python-websockets"],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONNOUSERSITE": "1"},
        check=False,
    )
    assert proc.returncode == 3
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["event"] == "unsupported"
    assert line["adapter"] == "python-websockets"
    assert "websockets" in line["reason"]
