"""Java libraries: one cached folder per (Maven artifact, version), resolved by Maven.

An adapter's ``package`` is a Maven coordinate ``GROUP:ARTIFACT``
(``com.squareup.okhttp3:okhttp``). Versions come from the artifact's
``maven-metadata.xml`` on Maven Central (``$WSREPLAY_MAVEN_REPO`` overrides the
base URL). Installing a version writes a one-dependency pom into a temporary
folder and lets Maven copy the artifact and its runtime dependencies into
``lib/`` (``mvn dependency:copy-dependencies``; Maven's own ``~/.m2`` is the
shared download cache, ``MAVEN_OPTS=-Dmaven.repo.local=DIR`` moves it). The
adapter's ``.java`` sources, with java-common's, are then compiled against
``lib/*.jar`` and the one jar java-common needs, the pinned Gson
(``CONTRACT_JSON``, installed the same way once, its sha256 checked)::

    <cache root>/java/<group>+<artifact>-<version>/lib/*.jar         the library and its deps
    <cache root>/java/<group>+<artifact>-<version>/adapters/<adapter>-<digest>/classes/
    <cache root>/java/contract/com.google.code.gson+gson-<version>/lib/gson-<version>.jar

The library folder and each compiled adapter are built in a temporary folder
beside their final place and renamed into place after a marker file is
written, as `installers.python` does for venvs; the adapter's folder name holds
a digest of its sources, so editing an adapter recompiles it and nothing
else. Launch: ``java -cp classes:lib/*:GSON_JAR MAIN``, ``MAIN`` being the
entry file's name without ``.java``.

Kotlin multiplatform libraries (OkHttp 5) publish their JVM classes under a
second artifact (``okhttp-jvm``) and keep an almost empty jar under the plain
name, which only Gradle's module metadata redirects. Maven cannot read that,
so an adapter names the JVM artifact in its manifest (``"maven_jvm_artifact":
"okhttp-jvm"``) and a version that artifact has is installed from it; older
versions (OkHttp 4.x) come from the plain artifact.

`resolve(info, None)` is the newest final release. The main jar's class-file
version is checked against this machine's Java after the download, so a
release built for a newer Java fails with that reason instead of a javac
error; pick an older version then (no release of the libraries here needs
more than Java 8 so far).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import ADAPTERS_DIR, cache_root
from . import Installer, InstallError, Launch, Log, VersionNotFound, common

if TYPE_CHECKING:
    from ..adapters import AdapterInfo

#: Written last into a finished folder; a folder without it is not used.
MARKER = ".wsreplay-env.json"
#: Maven Central; `$WSREPLAY_MAVEN_REPO` points version listing at a mirror.
CENTRAL = "https://repo1.maven.org/maven2"
#: Pinned, so a run never depends on which plugin version Maven would pick.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
#: Seconds for reading maven-metadata.xml, for `mvn`, and for `javac`.
METADATA_TIMEOUT_S = 60.0
MAVEN_TIMEOUT_S = 600.0
JAVAC_TIMEOUT_S = 300.0
#: javac --release: the compiled adapter runs on any Java from 11 on.
JAVA_RELEASE = "11"
#: JVM options: a small, quick-starting JVM (jobs are small; large messages
#: are 64 MiB at most) that never uses the system's default charset.
JVM_OPTIONS = (
    "-Xss1m",
    "-Xmx1g",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dfile.encoding=UTF-8",
)

#: The JSON library of java-common's Contract.java (jobs in, observations
#: out): pinned, and its jar checked against this digest after Maven copied it.
CONTRACT_JSON = ("com.google.code.gson", "gson", "2.15.0")
CONTRACT_JSON_SHA256 = "96d3dd843dc2911de01cdabcd50064cb9e860353102a0a78c96fd833d396fc7d"

#: For the short-lived tool JVMs (mvn, javac): the JIT's first tier and the
#: serial GC more than halve their run time (mvn: 6-8 s -> 2-3 s).
TOOL_JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

_SAFE = re.compile(r"[^A-Za-z0-9.+_-]+")


# --------------------------------------------------------------------------
# versions


_QUALIFIER_RANK = {
    "alpha": 0,
    "a": 0,
    "beta": 1,
    "b": 1,
    "milestone": 2,
    "m": 2,
    "rc": 3,
    "cr": 3,
    "snapshot": 4,
    "": 5,
    "ga": 5,
    "final": 5,
    "release": 5,
    "sp": 6,
}
_FINAL_RANK = 5
_MAVEN_VERSION = re.compile(r"^(?P<release>\d+(?:\.\d+)*)(?P<rest>.*)$")
_QUALIFIER = re.compile(r"^[-.]?(?P<word>[A-Za-z]*)[-.]?(?P<number>\d*)(?P<tail>.*)$")


def version_key(version: str) -> tuple:
    """A sort key for Maven versions, Maven's ordering for the usual forms.

    ``5.0.0-alpha.17 < 5.0.0-RC1 < 5.0.0 = 5.0 < 5.0.0-sp1 < 5.0.1``;
    unknown qualifiers (``31.1-jre``) count as final releases. Strings that
    do not start with a number sort before every real version.
    """
    match = _MAVEN_VERSION.match(version.strip())
    if match is None:
        return (-1, (), 0, 0, version)
    release = [int(part) for part in match["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    qualifier = _QUALIFIER.match(match["rest"])
    assert qualifier is not None  # every part of the pattern is optional
    word = qualifier["word"].lower()
    rank = _QUALIFIER_RANK.get(word, _FINAL_RANK)
    number = int(qualifier["number"] or 0)
    unknown = "" if word in _QUALIFIER_RANK else word
    return (0, tuple(release), rank, number, unknown + qualifier["tail"].lower())


def is_prerelease(version: str) -> bool:
    """Alpha, beta, milestone, RC and SNAPSHOT versions: "newest" never picks them."""
    key = version_key(version)
    return key[0] == 0 and key[2] < _FINAL_RANK


def _coordinates(info: AdapterInfo) -> tuple[str, str]:
    group, sep, artifact = info.package.partition(":")
    if not sep or not group or not artifact or ":" in artifact:
        raise InstallError(f"{info.name}: package {info.package!r} is not GROUP:ARTIFACT")
    return group, artifact


def _jvm_artifact(info: AdapterInfo) -> str | None:
    value = info.extra.get("maven_jvm_artifact")
    return str(value) if value else None


def _repo_url() -> str:
    return os.environ.get("WSREPLAY_MAVEN_REPO", CENTRAL).rstrip("/")


def parse_metadata(text: str) -> list[str]:
    """The ``<version>`` entries of a maven-metadata.xml document."""
    root = ET.fromstring(text)
    return [v.text.strip() for v in root.iter("version") if v.text and v.text.strip()]


@functools.lru_cache(maxsize=64)
def _artifact_versions(group: str, artifact: str) -> tuple[str, ...]:
    """Versions of one artifact, oldest first as published; () if it does not exist."""
    url = f"{_repo_url()}/{group.replace('.', '/')}/{artifact}/maven-metadata.xml"
    try:
        with urllib.request.urlopen(url, timeout=METADATA_TIMEOUT_S) as response:
            body = response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return ()
        raise InstallError(f"cannot read {url}: HTTP {exc.code} {exc.reason}") from exc
    except (OSError, urllib.error.URLError) as exc:
        raise InstallError(f"cannot read {url}: {exc}") from exc
    try:
        return tuple(parse_metadata(body))
    except ET.ParseError as exc:
        raise InstallError(f"{url} is not valid XML: {exc}") from exc


def _versions(info: AdapterInfo) -> list[str]:
    """Every published version (the plain and the JVM artifact together), newest first."""
    group, artifact = _coordinates(info)
    found = list(_artifact_versions(group, artifact))
    jvm = _jvm_artifact(info)
    if jvm:
        found += _artifact_versions(group, jvm)
    if not found:
        raise InstallError(f"{info.package} has no versions on {_repo_url()}")
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=version_key, reverse=True)


def _resolve(info: AdapterInfo, requested: str | None) -> str:
    """The exact version for a request; a complete cache entry needs no network."""
    if requested is not None:
        requested = requested.strip()
        if not requested:
            raise VersionNotFound(info.package, requested, [])
        if _is_complete(_lib_dir(info, requested)):
            return requested
    versions = _versions(info)
    if requested is None:
        finals = [v for v in versions if not is_prerelease(v)]
        if not finals:
            raise VersionNotFound(info.package, "(newest release)", versions[:5])
        return finals[0]
    found = common.listed_release(requested, versions, version_key)
    if found is not None:
        return found
    # Pre-releases are offered as "nearest" only to someone asking for one.
    candidates = (
        versions if is_prerelease(requested) else [v for v in versions if not is_prerelease(v)]
    )
    nearest = common.nearest_versions(requested, candidates or versions, version_key)
    raise VersionNotFound(info.package, requested, nearest)


# --------------------------------------------------------------------------
# cache layout


def _java_root() -> Path:
    return cache_root() / "java"


def _safe(text: str) -> str:
    return _SAFE.sub("-", text).strip("-")


def _lib_dir(info: AdapterInfo, version: str) -> Path:
    group, artifact = _coordinates(info)
    return _java_root() / _safe(f"{group}+{artifact}-{version}")


def _is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename a finished build to its final name; a concurrent winner is as good."""
    common.move_into_place(tmp, target, is_complete=_is_complete)


# --------------------------------------------------------------------------
# tools


def _tool(name: str) -> str:
    """``java``/``javac`` from $JAVA_HOME if set, else from PATH; ``mvn`` from PATH."""
    home = os.environ.get("JAVA_HOME")
    if name != "mvn" and home and (Path(home) / "bin" / name).is_file():
        return str(Path(home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise InstallError(
            f"{name} not found: the Java adapters need a JDK (17 or newer) and Maven "
            "(Debian: apt-get install openjdk-17-jdk-headless maven)"
        )
    return found


def _run(cmd: list[str], what: str, timeout: float, cwd: Path | None = None) -> str:
    """Run a tool quietly; its output only comes out, in an `InstallError`, on failure."""
    env = dict(os.environ)
    # The user's MAVEN_OPTS come last, so they can override ours.
    env["MAVEN_OPTS"] = " ".join([*TOOL_JVM_OPTIONS, env.get("MAVEN_OPTS", "")]).strip()
    # Maven reports errors on stdout, javac on stderr: both go into the tail.
    return common.run_tool(
        cmd, what=what, timeout=timeout, cwd=cwd, env=env, merge_output=True, tail_lines=25
    )


@functools.lru_cache(maxsize=1)
def java_feature_version() -> int:
    """The running JDK's feature version (17 for 17.0.15), from ``java -version``."""
    proc = subprocess.run(
        [_tool("java"), "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match is None:
        raise InstallError(f"cannot tell the Java version from: {common.tail(proc.stderr, 3)}")
    major = int(match[1])
    return int(match[2]) if major == 1 and match[2] else major  # 1.8 -> 8


def _jar_java_version(jar: Path) -> int | None:
    """The Java version a jar's classes need (the highest class-file version, outside
    META-INF/versions), or None when it holds no classes."""
    newest = 0
    try:
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                if not name.endswith(".class") or name.startswith("META-INF/"):
                    continue
                with archive.open(name) as entry:
                    head = entry.read(8)
                if len(head) == 8 and head[:4] == b"\xca\xfe\xba\xbe":
                    newest = max(newest, int.from_bytes(head[6:8], "big"))
    except (OSError, zipfile.BadZipFile):
        return None
    return newest - 44 if newest else None  # class-file 52 = Java 8


# --------------------------------------------------------------------------
# installing a version


def _artifact_for(info: AdapterInfo, version: str) -> str:
    """The artifact holding the JVM classes of this version (see the module doc)."""
    group, artifact = _coordinates(info)
    jvm = _jvm_artifact(info)
    if jvm and version in _artifact_versions(group, jvm):
        return jvm
    return artifact


def _pom(group: str, artifact: str, version: str) -> str:
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- generated by wsreplay: the dependency set of one library version -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>wsreplay.install</groupId>
  <artifactId>deps</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>{esc(group)}</groupId>
      <artifactId>{esc(artifact)}</artifactId>
      <version>{esc(version)}</version>
    </dependency>
  </dependencies>
</project>
"""


def _maven_install(
    target: Path,
    package: str,
    coordinates: tuple[str, str, str],
    log: Log,
    *,
    transitive: bool = True,
    sha256: str | None = None,
) -> Path:
    """``target`` holding ``lib/`` with one artifact (and, if ``transitive``, its runtime deps).

    ``package`` is what the marker and messages name (an adapter's ``GROUP:ARTIFACT``);
    ``sha256``, when given, is the digest the artifact's jar must have.
    """
    if _is_complete(target) and common.entry_intact(target, log):
        return target
    group, artifact, version = coordinates
    log(f"installing {group}:{artifact}:{version} with Maven into {target}")
    with common.temporary_build(target) as tmp:
        (tmp / "pom.xml").write_text(_pom(group, artifact, version), encoding="utf-8")
        _run(
            [
                _tool("mvn"),
                "-q",
                "-B",
                "-Dstyle.color=never",
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DoutputDirectory=lib",
                f"-DexcludeTransitive={str(not transitive).lower()}",
            ],
            f"mvn dependency:copy-dependencies for {group}:{artifact}:{version}",
            MAVEN_TIMEOUT_S,
            cwd=tmp,
        )
        jars = sorted(p.name for p in (tmp / "lib").glob("*.jar"))
        main_jar = f"{artifact}-{version}.jar"
        if main_jar not in jars:
            raise InstallError(
                f"Maven reported success for {group}:{artifact}:{version}, "
                f"but lib/ holds no {main_jar} (it holds: {', '.join(jars) or 'nothing'})"
            )
        if sha256 is not None:
            found = hashlib.sha256((tmp / "lib" / main_jar).read_bytes()).hexdigest()
            if found != sha256:
                raise InstallError(
                    f"{main_jar} from Maven has sha256 {found}, not the pinned {sha256}"
                )
        needs = _jar_java_version(tmp / "lib" / main_jar)
        have = java_feature_version()
        if needs is not None and needs > have:
            raise InstallError(
                f"{package} {version} is built for Java {needs}; this machine runs "
                f"Java {have}: install a newer JDK or ask for an older {package} version"
            )
        marker = {
            "package": package,
            "version": version,
            "artifact": f"{group}:{artifact}",
            "jars": jars,
            "java_needed": needs,
        }
        common.write_marker(tmp, MARKER, marker)
        _move_into_place(tmp, target)
    log(f"installed {package} {version}")
    return target


def ensure_lib(info: AdapterInfo, version: str, log: Log) -> Path:
    """The cache folder holding ``lib/`` with the library at ``version`` and its deps."""
    group, _ = _coordinates(info)
    coordinates = (group, _artifact_for(info, version), version)
    return _maven_install(_lib_dir(info, version), info.package, coordinates, log)


def contract_classpath(log: Log) -> list[Path]:
    """The jar(s) java-common's Contract.java needs besides the JDK: the pinned Gson.

    Only Gson's own jar (``excludeTransitive``: its one dependency,
    error_prone_annotations, holds annotations Gson does not need at run
    time), checked against ``CONTRACT_JSON_SHA256``; cached once for every
    library version.
    """
    group, artifact, version = CONTRACT_JSON
    target = _java_root() / "contract" / _safe(f"{group}+{artifact}-{version}")
    folder = _maven_install(
        target,
        f"{group}:{artifact}",
        CONTRACT_JSON,
        log,
        transitive=False,
        sha256=CONTRACT_JSON_SHA256,
    )
    return [folder / "lib" / f"{artifact}-{version}.jar"]


#: Java code every Java adapter shares (the contract: JSON lines, knobs, the
#: receive state machine), compiled in beside each adapter's own sources.
COMMON_DIR = ADAPTERS_DIR / "java-common"


def _sources(info: AdapterInfo) -> list[Path]:
    """The adapter's Java sources (every .java file in its folder), then java-common's."""
    own = sorted(info.directory.glob("*.java"))
    if info.entry not in own:
        raise InstallError(f"{info.name}: entry {info.entry} is not a .java file in its folder")
    common = sorted(COMMON_DIR.glob("*.java"))
    clash = {p.name for p in own} & {p.name for p in common}
    if clash:
        raise InstallError(f"{info.name}: {', '.join(sorted(clash))} is also in {COMMON_DIR}")
    return own + common


def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(extra.encode())
    return h.hexdigest()[:16]


def _compile(info: AdapterInfo, target: Path, classpath: list[Path], log: Log) -> Path:
    """The classes folder of the adapter compiled against ``classpath`` (cached)."""
    classes = target / "classes"
    if _is_complete(target) and common.entry_intact(target, log):
        return classes
    log(f"compiling {info.name} into {target}")
    with common.temporary_build(target) as tmp:
        _run(
            [
                _tool("javac"),
                *(f"-J{option}" for option in TOOL_JVM_OPTIONS),
                "--release",
                JAVA_RELEASE,
                "-encoding",
                "UTF-8",
                "-nowarn",
                "-Xlint:none",
                "-d",
                str(tmp / "classes"),
                "-cp",
                os.pathsep.join(str(p) for p in classpath),
                *(str(p) for p in _sources(info)),
            ],
            f"javac {info.entry.name} for {info.name}",
            JAVAC_TIMEOUT_S,
        )
        marker = {"adapter": info.name, "classpath": [str(p) for p in classpath]}
        common.write_marker(tmp, MARKER, marker)
        _move_into_place(tmp, target)
    return classes


def _launch(info: AdapterInfo, classes: Path, classpath: list[str]) -> Launch:
    main = info.entry.stem
    cp = os.pathsep.join([str(classes), *classpath])
    return Launch([_tool("java"), *JVM_OPTIONS, "-cp", cp, main, *info.args])


def _ensure(info: AdapterInfo, version: str, log: Log) -> Launch:
    lib_dir = ensure_lib(info, version, log)
    lib = lib_dir / "lib"
    # The library's jars come first: a library that brings its own Gson keeps its version.
    contract = contract_classpath(log)
    jars = [*sorted(lib.glob("*.jar")), *contract]
    digest = _digest(_sources(info), "".join(f"{p};" for p in contract))
    target = lib_dir / "adapters" / f"{_safe(info.name)}-{digest}"
    classes = _compile(info, target, jars, log)
    return _launch(info, classes, [str(lib / "*"), *(str(p) for p in contract)])


# --------------------------------------------------------------------------
# a local checkout


def _jar_version(jars: list[Path], group: str, artifacts: list[str]) -> str | None:
    """The version a built jar declares: its Maven pom.properties, else its file name."""
    for jar in jars:
        with (
            contextlib.suppress(OSError, zipfile.BadZipFile, KeyError),
            zipfile.ZipFile(jar) as archive,
        ):
            for artifact in artifacts:
                name = f"META-INF/maven/{group}/{artifact}/pom.properties"
                if name in archive.namelist():
                    for line in archive.read(name).decode("utf-8", "replace").splitlines():
                        if line.startswith("version="):
                            return line.split("=", 1)[1].strip()
    for jar in jars:
        for artifact in artifacts:
            if jar.name.startswith(f"{artifact}-") and jar.name.endswith(".jar"):
                return jar.name[len(artifact) + 1 : -4]
    return None


def _ensure_path(info: AdapterInfo, directory: Path, log: Log) -> tuple[str, Launch]:
    """Run the adapter against the jar(s) built from a checkout in ``directory``.

    The checkout must be built first with its own build (OkHttp: ``./gradlew
    :okhttp:jvmJar``, Java-WebSocket: ``mvn package``); ``directory`` is the
    folder holding the jars. Its dependencies are those of the newest
    release (the newest already installed one when the registry cannot be
    reached), minus that release's own jar.
    """
    jars = sorted(
        p
        for p in directory.glob("*.jar")
        if not p.name.endswith(("-sources.jar", "-javadoc.jar", "-tests.jar"))
    )
    if not jars:
        raise InstallError(
            f"{directory} holds no .jar: build the checkout first with its own build "
            "(e.g. ./gradlew jar or mvn package) and point @path: at the folder with the jars"
        )
    try:
        newest = _resolve(info, None)
    except InstallError:
        cached = _installed(info)
        if not cached:
            raise
        newest = cached[0]
    base = ensure_lib(info, newest, log)
    own = {f"{a}-{newest}.jar" for a in (_coordinates(info)[1], _jvm_artifact(info)) if a}
    deps = sorted(p for p in (base / "lib").glob("*.jar") if p.name not in own)
    classpath = [*jars, *deps, *contract_classpath(log)]
    stamp = "".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns};" for p in classpath)
    key = hashlib.sha256(str(directory).encode()).hexdigest()[:12]
    target = _java_root() / f"path-{key}" / f"{_safe(info.name)}-{_digest(_sources(info), stamp)}"
    classes = _compile(info, target, classpath, log)
    group, artifact = _coordinates(info)
    artifacts = [a for a in (_jvm_artifact(info), artifact) if a]
    version = _jar_version(jars, group, artifacts) or "unknown version"
    label = f"path:{directory} ({version}; dependencies of {newest})"
    return label, _launch(info, classes, [str(p) for p in classpath])


def _installed(info: AdapterInfo) -> list[str]:
    return common.installed_versions(_java_root(), MARKER, version_key, info.package)


INSTALLER = Installer(
    language="java",
    versions=_versions,
    resolve=_resolve,
    ensure=_ensure,
    ensure_path=_ensure_path,
    installed=_installed,
    version_key=version_key,
)
