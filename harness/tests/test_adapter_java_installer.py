"""The java installer (Maven Central + mvn + javac), offline.

Maven version order, maven-metadata.xml, which artifact holds a version's
JVM classes (OkHttp 5 publishes them as okhttp-jvm), resolving and launching
from the cache without the network, "not found" messages, a local checkout
without jars, class-file versions; and that the two Java adapters share one
Contract.java with its pinned, checksummed Gson. Compiling needs the JDK
(javac) and that Gson, which Maven copies from ~/.m2 (from Maven Central the
first time); the registry's version lists are never asked.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from wsreplay import clients
from wsreplay.clients import AdapterInfo
from wsreplay.installers import InstallError, VersionNotFound
from wsreplay.installers import java as java_installer
from wsreplay.paths import REPO_ROOT

ADAPTERS = REPO_ROOT / "harness" / "adapters"


@pytest.mark.parametrize(
    "older, newer",
    [
        ("5.0.0-alpha.2", "5.0.0-alpha.10"),  # qualifier numbers compare as numbers
        ("5.0.0-alpha.17", "5.0.0"),  # a pre-release sorts before its release
        ("4.0.0-alpha01", "4.0.0-RC1"),
        ("4.0.0-RC3", "4.0.0"),
        ("4.10.0-RC1", "4.10.0"),
        ("1.0-SNAPSHOT", "1.0"),
        ("1.0", "1.0-sp1"),
        ("4.9.3", "4.10.0"),
        ("3.14.9", "4.0.0-alpha01"),
        ("not-a-version", "0.1"),
    ],
)
def test_version_key_orders_like_maven(older: str, newer: str) -> None:
    key = java_installer.version_key
    assert key(older) < key(newer)


def test_version_key_details() -> None:
    key = java_installer.version_key
    assert key("5.3") == key("5.3.0")
    assert key("1.2.3.Final") == key("1.2.3")
    assert java_installer.is_prerelease("5.0.0-alpha.17")
    assert java_installer.is_prerelease("4.0.0-RC1")
    assert java_installer.is_prerelease("2.0-SNAPSHOT")
    assert not java_installer.is_prerelease("4.12.0")
    assert not java_installer.is_prerelease("31.1-jre")


def test_parse_metadata() -> None:
    text = """<?xml version="1.0" encoding="UTF-8"?>
<metadata><groupId>org.java-websocket</groupId><artifactId>Java-WebSocket</artifactId>
<versioning><latest>1.6.0</latest><release>1.6.0</release>
<versions><version>1.5.7</version><version> 1.6.0 </version></versions></versioning></metadata>"""
    assert java_installer.parse_metadata(text) == ["1.5.7", "1.6.0"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WSREPLAY_CACHE", str(tmp_path / "cache"))
    memo = java_installer._artifact_versions
    memo.cache_clear()
    yield tmp_path / "cache"
    memo.cache_clear()  # a test may have swapped it out; clear the real one


ROOT_VERSIONS = ("4.11.0", "4.12.0", "5.0.0-alpha.17", "5.0.0", "5.1.0", "5.3.0")
JVM_VERSIONS = ("5.0.0-alpha.17", "5.0.0", "5.1.0", "5.2.0", "5.3.0", "5.4.0-RC1")


def fake_central(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    asked: list[tuple[str, str]] = []

    def versions(group: str, artifact: str) -> tuple[str, ...]:
        asked.append((group, artifact))
        return {"okhttp": ROOT_VERSIONS, "okhttp-jvm": JVM_VERSIONS}.get(artifact, ())

    monkeypatch.setattr(java_installer, "_artifact_versions", versions)
    return asked


def test_okhttp_versions_come_from_both_artifacts(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_central(monkeypatch)
    info = clients.ADAPTERS["java-okhttp"]
    versions = java_installer.INSTALLER.versions(info)
    assert versions[:3] == ["5.4.0-RC1", "5.3.0", "5.2.0"]  # 5.2.0 only as okhttp-jvm
    assert java_installer.INSTALLER.resolve(info, None) == "5.3.0"  # newest final
    assert java_installer.INSTALLER.resolve(info, "5.3") == "5.3.0"
    # 5.x from okhttp-jvm (the plain okhttp jar holds no classes), 4.x from okhttp
    assert java_installer._artifact_for(info, "5.3.0") == "okhttp-jvm"
    assert java_installer._artifact_for(info, "4.12.0") == "okhttp"


def test_unknown_version_lists_nearest_finals(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_central(monkeypatch)
    info = clients.ADAPTERS["java-okhttp"]
    with pytest.raises(VersionNotFound) as caught:
        java_installer.INSTALLER.resolve(info, "4.12.9")
    assert caught.value.package == "com.squareup.okhttp3:okhttp"
    assert caught.value.nearest == ["5.1.0", "5.0.0", "4.12.0", "4.11.0"]
    assert "com.squareup.okhttp3:okhttp has no release '4.12.9'; nearest: 5.1.0" in str(
        caught.value
    )
    # asking for a pre-release offers pre-releases too
    with pytest.raises(VersionNotFound) as caught:
        java_installer.INSTALLER.resolve(info, "5.0.0-alpha.9")
    assert "5.0.0-alpha.17" in caught.value.nearest


def fake_adapter(tmp_path: Path) -> AdapterInfo:
    """An adapter whose Java source needs nothing but the JDK."""
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "Main.java").write_text(
        "public final class Main {\n"
        "  public static void main(String[] args) {\n"
        '    System.out.println("hello " + Helper.NAME + " " + String.join(",", args));\n'
        "  }\n"
        "}\n"
    )
    (folder / "Helper.java").write_text('final class Helper { static final String NAME = "h"; }\n')
    return AdapterInfo(
        name="java-fake",
        language="java",
        package="org.example:thing",
        summary="a test adapter",
        directory=folder,
        entry=folder / "Main.java",
        args=("a", "b"),
    )


def fake_lib(info: AdapterInfo, version: str) -> Path:
    """A complete-looking cache entry, as ensure_lib leaves one."""
    folder = java_installer._lib_dir(info, version)
    (folder / "lib").mkdir(parents=True)
    marker = {"package": info.package, "version": version, "jars": []}
    (folder / java_installer.MARKER).write_text(json.dumps(marker))
    return folder


def no_network(*args: object) -> None:
    raise AssertionError(f"the registry was asked: {args}")


def test_cached_version_resolves_and_launches_offline(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = fake_adapter(tmp_path)
    lib = fake_lib(info, "1.2.3")
    monkeypatch.setattr(java_installer, "_artifact_versions", no_network)
    assert java_installer.INSTALLER.resolve(info, "1.2.3") == "1.2.3"
    launch = java_installer.INSTALLER.ensure(info, "1.2.3", lambda _line: None)
    assert launch.argv[-3:] == ["Main", "a", "b"]
    classpath = launch.argv[launch.argv.index("-cp") + 1].split(":")
    assert classpath[1] == f"{lib}/lib/*"
    # then the JSON library of java-common's Contract.java, cached once for every library
    group, artifact, version = java_installer.CONTRACT_JSON
    assert classpath[2:] == [
        f"{cache}/java/contract/{group}+{artifact}-{version}/lib/{artifact}-{version}.jar"
    ]
    assert Path(classpath[0]).parent.parent == lib / "adapters"
    out = subprocess.run(launch.argv, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "hello h a,b\n"
    assert java_installer.INSTALLER.installed(info) == ["1.2.3"]
    # the compiled adapter is reused; a changed source gets a folder of its own
    assert java_installer.INSTALLER.ensure(info, "1.2.3", no_network).argv == launch.argv
    (info.directory / "Helper.java").write_text(
        'final class Helper { static final String NAME = "changed"; }\n'
    )
    again = java_installer.INSTALLER.ensure(info, "1.2.3", lambda _line: None)
    assert again.argv != launch.argv
    out = subprocess.run(again.argv, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout == "hello changed a,b\n"


def test_the_contract_json_jar_must_have_its_pinned_digest(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(java_installer, "CONTRACT_JSON_SHA256", "0" * 64)
    with pytest.raises(
        InstallError, match=r"gson-[\d.]+\.jar from Maven has sha256 [0-9a-f]{64}, not"
    ):
        java_installer.contract_classpath(lambda _line: None)
    assert not list((cache / "java" / "contract").glob("*/lib"))  # nothing left in place


def test_a_compile_error_is_an_install_error(cache: Path, tmp_path: Path) -> None:
    info = fake_adapter(tmp_path)
    fake_lib(info, "1.2.3")
    (info.directory / "Helper.java").write_text("final class Helper { nonsense }\n")
    with pytest.raises(InstallError, match=r"javac Main\.java for java-fake failed"):
        java_installer.INSTALLER.ensure(info, "1.2.3", lambda _line: None)
    assert not list((java_installer._lib_dir(info, "1.2.3") / "adapters").glob("java-fake-*"))


def test_folder_without_marker_is_not_complete(cache: Path, tmp_path: Path) -> None:
    info = fake_adapter(tmp_path)
    folder = fake_lib(info, "1.2.3")
    (folder / java_installer.MARKER).unlink()  # a killed install
    assert not java_installer._is_complete(folder)
    assert java_installer.INSTALLER.installed(info) == []


def test_cache_lives_under_the_cache_root(cache: Path) -> None:
    info = clients.ADAPTERS["java-websocket"]
    folder = java_installer._lib_dir(info, "1.6.0")
    assert folder == cache / "java" / "org.java-websocket+Java-WebSocket-1.6.0"


def test_path_needs_built_jars(cache: Path, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "lib-sources.jar").write_bytes(b"")
    info = clients.ADAPTERS["java-websocket"]
    with pytest.raises(InstallError, match=r"holds no \.jar: build the checkout first"):
        java_installer.INSTALLER.ensure_path(info, checkout, lambda _line: None)


def test_jar_java_version(tmp_path: Path) -> None:
    jar = tmp_path / "x.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("a/A.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x34rest")  # Java 8
        archive.writestr("a/B.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x37rest")  # Java 11
        archive.writestr("META-INF/versions/21/a/C.class", b"\xca\xfe\xba\xbe\x00\x00\x00\x41")
    assert java_installer._jar_java_version(jar) == 11
    assert java_installer.java_feature_version() >= 11


def test_adapters_compile_in_the_one_shared_contract_file() -> None:
    for name in ("java-okhttp", "java-websocket"):
        sources = java_installer._sources(clients.ADAPTERS[name])
        assert ADAPTERS / "java-common" / "Contract.java" in sources
        assert not (ADAPTERS / name / "Contract.java").exists()


def test_manifests() -> None:
    okhttp = clients.ADAPTERS["java-okhttp"]
    assert (okhttp.language, okhttp.package) == ("java", "com.squareup.okhttp3:okhttp")
    assert okhttp.extra["maven_jvm_artifact"] == "okhttp-jvm"
    jws = clients.ADAPTERS["java-websocket"]
    assert (jws.language, jws.package) == ("java", "org.java-websocket:Java-WebSocket")
    with pytest.raises(clients.SpecError, match=r"needs com\.squareup\.okhttp3:okhttp >= 3\.5\.0"):
        clients.check_version_range(okhttp, "3.4.2")
    with pytest.raises(clients.SpecError, match=r"needs .*Java-WebSocket >= 1\.3\.4.*Draft_6455"):
        clients.check_version_range(jws, "1.3.0")
    clients.check_version_range(jws, "1.3.4")
