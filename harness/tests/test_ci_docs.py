"""docs/ci.md and docs/examples/ tell the truth.

Every ``./wsreplay`` command line in them is accepted by the real argument
parser (with its client specs, scenario selections and report folders
checked too); the workflow files have the shape the docs describe; the exit
codes the docs state are the ones the commands return; and one real short
run writes the files the docs promise.
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
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest
import yaml

from conftest import WSREPLAY, wsreplay
from wsreplay import cli
from wsreplay.clients import ADAPTERS, SpecError, parse_spec
from wsreplay.comparing import bisect as bisect_module
from wsreplay.installers import installer_for
from wsreplay.outputs.recordlog import RecordLog
from wsreplay.outputs.report import new_report
from wsreplay.paths import REPO_ROOT, SCENARIOS_DIR
from wsreplay.scenarios import ScenarioError, load_all, select

CI_MD = REPO_ROOT / "docs" / "ci.md"
GITHUB = REPO_ROOT / "docs" / "examples" / "github-actions.yml"
GITLAB = REPO_ROOT / "docs" / "examples" / "gitlab-ci.yml"
SCENARIO = "close/send-then-close"
INVALID_SCENARIO = REPO_ROOT / "harness/tests/data/invalid-scenarios/bad-json/input.json"

#: Where the example commands think they are (the doc's own variables).
GITHUB_WORKSPACE = PurePosixPath("/home/runner/work/lib/lib")
CI_PROJECT_DIR = PurePosixPath("/builds/group/lib")
#: The commands and exit codes docs/ci.md's table states, each checked below.
EXIT_CODES = {
    ("run", 0): "test_run_exit_0_and_1",
    ("run", 1): "test_run_exit_0_and_1",
    ("run", 2): "test_run_exit_2_writes_no_report",
    ("compare", 0): "test_compare_exit_codes",
    ("compare", 1): "test_compare_exit_codes",
    ("compare", 2): "test_compare_exit_codes",
    ("bisect", 0): "test_bisect_exit_0_and_1",
    ("bisect", 1): "test_bisect_exit_0_and_1",
    ("bisect", 2): "test_bisect_exit_2",
    ("check", 0): "test_check_exit_codes",
    ("check", 1): "test_check_exit_codes",
    ("check", 2): "test_check_exit_codes",
    ("report", 0): "test_report_exit_codes",
    ("report", 2): "test_report_exit_codes",
    ("merge", 0): "test_shards.py::test_merge_exit_codes",
    ("merge", 1): "test_shards.py::test_merge_exit_codes",
    ("merge", 2): "test_shards.py::test_merge_refusals_from_real_runs",
}


# --------------------------------------------------------------------------
# reading the docs


def markdown_section(text: str, title_start: str) -> str:
    """The body of the ``## `` section whose title starts with ``title_start``."""
    match = re.search(rf"^## {re.escape(title_start)}.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/ci.md has no section '## {title_start}…'"
    return match[1]


def tables(section: str) -> list[list[list[str]]]:
    """Each Markdown table of a section as the cells of its body rows (no header, no rule)."""
    found = []
    for block in re.findall(r"(?:^\|.*\n?)+", section, re.M):
        rows = block.strip().splitlines()[2:]
        found.append([[c.strip() for c in row.strip().strip("|").split("|")] for row in rows])
    return found


def table_rows(section: str) -> list[list[str]]:
    """The body rows of a section's only (or first) table."""
    return tables(section)[0]


def code_spans(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def join_continuations(text: str) -> list[str]:
    return re.sub(r"\\\n\s*", " ", text).splitlines()


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)


def inline_spans(text: str) -> list[str]:
    """Inline code spans outside fenced blocks."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.findall(r"(?<!`)`([^`\n]+)`(?!`)", prose)


_VAR = re.compile(r"\$\{\{\s*([A-Za-z_.]+)\s*\}\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_]\w*)")


def substitute(text: str, values: dict[str, str]) -> str:
    """Expand ``$X``, ``${X}`` and GitHub's ``${{ x.y }}`` (repeatedly); unknown ones fail."""
    original = text

    def one(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[3]
        if name.startswith("env."):
            name = name[4:]
        assert name in values, f"unknown variable {match[0]} in {original!r}"
        return values[name]

    for _ in range(5):
        if not _VAR.search(text):
            return text
        text = _VAR.sub(one, text)
    raise AssertionError(f"variables nest too deep in {original!r}")


def command_argv(line: str) -> list[str] | None:
    """The arguments of the ``./wsreplay`` command on a shell line, up to the first operator."""
    at = line.find("./wsreplay")
    if at < 0:
        return None
    lexer = shlex.shlex(line[at:], posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    argv = []
    for token in lexer:
        if token and set(token) <= set("|&;<>()"):
            break
        argv.append(token)
    return argv[1:]


# --------------------------------------------------------------------------
# checking one command


@dataclass
class Flow:
    """The commands of one document, in order, and the report folders they write."""

    outs: list[PurePosixPath] = field(default_factory=list)
    commands: list[tuple[str, object]] = field(default_factory=list)


def check_spec(spec: str, where: str) -> None:
    """A client spec the harness accepts: syntax, a known adapter; a path spec's folder
    is one of the doc's workspace folders (it does not exist here)."""
    match = re.fullmatch(r"([a-z0-9][a-z0-9._-]*)@path:(.+)", spec)
    if match:
        assert match[1] in ADAPTERS, f"{where}: unknown adapter in {spec!r}"
        path = PurePosixPath(match[2])
        assert path.is_absolute(), f"{where}: {spec!r}: CI docs should give an absolute path"
        assert any(
            path == root or root in path.parents for root in (GITHUB_WORKSPACE, CI_PROJECT_DIR)
        ), f"{where}: {spec!r} is not under the CI workspace"
        return
    try:
        parse_spec(spec)
    except SpecError as exc:
        raise AssertionError(f"{where}: {exc}") from None


def check_command(argv: list[str], flow: Flow, workdir: PurePosixPath, where: str) -> None:
    """Parse with the real parser, then check what the parser leaves to later."""
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"{where}: ./wsreplay {shlex.join(argv)} is refused") from exc
    assert args.command, f"{where}: no command in ./wsreplay {shlex.join(argv)}"
    if args.command in ("run", "compare", "bisect"):
        for pattern in args.scenario:
            try:
                select(load_all(SCENARIOS_DIR), [pattern])
            except ScenarioError as exc:
                raise AssertionError(f"{where}: {exc}") from None
    if args.command == "run":
        for spec in args.client:
            check_spec(spec, where)
    elif args.command == "compare":
        for side in (args.old, args.new):
            folder = workdir / side
            if folder not in flow.outs:  # not an earlier report: must be a spec
                check_spec(side, where)
    elif args.command == "bisect":
        assert args.adapter in ADAPTERS, f"{where}: unknown adapter {args.adapter!r}"
    elif args.command == "check":
        for path in args.files:
            assert (REPO_ROOT / path).is_file(), f"{where}: {path} does not exist"
    if getattr(args, "out", None) is not None:
        flow.outs.append(workdir / PurePosixPath(str(args.out)))
    flow.commands.append((where, args))


# --------------------------------------------------------------------------
# docs/ci.md


def ci_text() -> str:
    return CI_MD.read_text(encoding="utf-8")


CI_VALUES = {
    "GITHUB_WORKSPACE": str(GITHUB_WORKSPACE),
    "CI_PROJECT_DIR": str(CI_PROJECT_DIR),
    # the sharded workflow of section 12
    "github.workspace": str(GITHUB_WORKSPACE),
    "matrix.shard": "1",
}


def test_every_command_in_ci_md_is_accepted() -> None:
    text = ci_text()
    flow = Flow()
    workdir = PurePosixPath(REPO_ROOT)
    found = 0
    for block in fenced_blocks(text):
        for line in join_continuations(block):
            argv = command_argv(substitute(line, CI_VALUES)) if "./wsreplay" in line else None
            if argv is not None:
                check_command(argv, flow, workdir, f"docs/ci.md: {line.strip()}")
                found += 1
    assert found >= 8, "docs/ci.md lost its examples"
    commands = {args.command for _, args in flow.commands}
    assert {"run", "compare", "bisect", "check"} <= commands
    # Inline mentions: names such as `./wsreplay compare` alone are references;
    # anything with arguments must parse (placeholders like OLD NEW are fine).
    for span in inline_spans(text):
        argv = command_argv(substitute(span, CI_VALUES)) if "./wsreplay" in span else None
        if argv is not None and len(argv) > 1:
            try:
                cli.build_parser().parse_args(argv)
            except SystemExit as exc:
                raise AssertionError(f"docs/ci.md: `{span}` is refused") from exc


def test_the_shard_matrix_example_hangs_together() -> None:
    """Section 12's workflow: N shard jobs, each `--shard K/N` into its own folder,
    uploaded whatever the verdicts; a merge job that downloads them all and merges."""
    section = markdown_section(ci_text(), "12. Many runners")
    (block,) = re.findall(r"^```yaml\n(.*?)^```", section, re.M | re.S)
    data = yaml.safe_load(block)
    shard_job, merge_job = data["jobs"]["shard"], data["jobs"]["merge"]
    shards = shard_job["strategy"]["matrix"]["shard"]
    count = len(shards)
    assert shards == list(range(1, count + 1)) and count > 1
    assert shard_job["strategy"]["fail-fast"] is False

    def wsreplay_steps(job: dict) -> list[tuple[dict, list[str]]]:
        found = []
        for step in job["steps"]:
            for line in steps_lines(step.get("run", "")):
                if "./wsreplay" in line:
                    found.append((step, line))
        return found

    ((run_step, run_line),) = wsreplay_steps(shard_job)
    assert f"--shard ${{{{ matrix.shard }}}}/{count} " in run_line
    assert run_line.rstrip().endswith("|| [ $? -eq 1 ]")  # exit 1 goes on to the merge
    workdir = PurePosixPath(shard_job["defaults"]["run"]["working-directory"])
    values = {**CI_VALUES}
    outs = set()
    for k in shards:
        values["matrix.shard"] = str(k)
        argv = command_argv(substitute(run_line, values))
        assert argv is not None
        args = cli.build_parser().parse_args(argv)
        assert args.command == "run" and args.shard == (k, count)
        assert all("@" in spec for spec in args.client), "pin the client versions"
        outs.add(workdir / args.out)
    assert len(outs) == count  # a folder per shard
    uses = [step.get("uses", "").split("@")[0] for step in shard_job["steps"]]
    upload = shard_job["steps"][uses.index("actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert PurePosixPath(substitute(upload["with"]["path"], values)) in outs
    assert uses.index("actions/upload-artifact") > shard_job["steps"].index(run_step)

    assert merge_job["needs"] == "shard" and merge_job["if"] == "always()"
    uses = [step.get("uses", "").split("@")[0] for step in merge_job["steps"]]
    download = merge_job["steps"][uses.index("actions/download-artifact")]["with"]
    artifact = upload["with"]["name"].replace("${{ matrix.shard }}", "*")
    assert download["pattern"] == artifact
    ((_, merge_line),) = wsreplay_steps(merge_job)
    args = cli.build_parser().parse_args(command_argv(merge_line))
    assert args.command == "merge"
    merge_workdir = PurePosixPath(merge_job["defaults"]["run"]["working-directory"])
    (folders,) = args.dirs  # one glob over the downloaded artifacts
    assert PurePosixPath(download["path"]) / artifact == merge_workdir / folders
    assert not any("./bootstrap" in step.get("run", "") for step in merge_job["steps"])


def test_the_exit_code_table_is_what_the_tests_check() -> None:
    rows = table_rows(markdown_section(ci_text(), "5. Exit codes"))
    stated = {(code_spans(row[0])[0], int(row[1])) for row in rows}
    assert stated == set(EXIT_CODES)
    # and every command's --help says the same numbers
    helps = {
        "run": cli.RUN_EPILOG,
        "compare": cli.COMPARE_EPILOG,
        "bisect": cli.BISECT_EPILOG,
    }
    for command, epilog in helps.items():
        status = epilog.split("exit status:", 1)[1]
        for code in (0, 1, 2):
            assert f"{code} " in status, f"{command} --help does not state exit {code}"
    assert "exits 130 when interrupted" in ci_text()


def test_bootstrap_packages_are_the_ones_listed() -> None:
    bootstrap = (REPO_ROOT / "bootstrap").read_text(encoding="utf-8")
    base = re.search(r'^packages="([^"$]+)"', bootstrap, re.M)
    extra = re.search(r'^\$with_test && packages="\$packages ([^"]+)"', bootstrap, re.M)
    assert base and extra, "./bootstrap changed shape; update docs/ci.md section 2 and this test"
    rows = tables(markdown_section(ci_text(), "2. What the machine needs"))[0]
    listed_base = set(" ".join(code_spans(rows[0][1]) + code_spans(rows[1][1])).split())
    listed_test = set(code_spans(rows[2][1])[0].split())
    assert listed_base == set(base[1].split())
    assert listed_test == set(extra[1].split())


def test_every_adapter_and_language_is_covered() -> None:
    text = ci_text()
    runtime = tables(markdown_section(text, "2. What the machine needs"))[1]
    paths = table_rows(markdown_section(text, "3. Your checkout"))
    named_runtime = {name for row in runtime for name in code_spans(row[0])}
    named_paths = {name for row in paths for name in code_spans(row[0])}
    assert set(ADAPTERS) <= named_runtime
    assert set(ADAPTERS) == named_paths
    for info in ADAPTERS.values():
        assert installer_for(info.language) is not None
        assert info.language.lower() in {row[0].split(":")[0].lower() for row in paths}


# --------------------------------------------------------------------------
# the workflow files


def load_yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path}: not a YAML mapping"
    return data


def steps_lines(run: str) -> Iterator[str]:
    yield from (line for line in join_continuations(run) if line.strip())


def test_github_workflow_runs_checks_caches_and_reports() -> None:
    data = load_yaml(GITHUB)
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = data["jobs"].values()
    env = {**data.get("env", {}), **job.get("env", {})}
    values = {
        **{k: str(v) for k, v in env.items()},
        "github.workspace": str(GITHUB_WORKSPACE),
        "GITHUB_WORKSPACE": str(GITHUB_WORKSPACE),
        "GITHUB_STEP_SUMMARY": "/home/runner/work/_temp/summary",
    }
    workdir = PurePosixPath(job["defaults"]["run"]["working-directory"])
    steps = job["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]

    # the two checkouts: the library where CHECKOUT points, wsreplay at a pinned commit
    checkouts = [s for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 2
    library = next(s for s in checkouts if "repository" not in s.get("with", {}))
    tool = next(s for s in checkouts if "repository" in s.get("with", {}))
    spec_dir = PurePosixPath(substitute(env["CHECKOUT"], values).split("@path:", 1)[1])
    assert spec_dir == GITHUB_WORKSPACE / library["with"]["path"]
    assert PurePosixPath(tool["with"]["path"]) == workdir
    assert re.fullmatch(r"[0-9a-f]{40}", substitute(tool["with"]["ref"], values))

    # the cache holds the default cache root, keyed on the pinned commit
    cache = steps[uses.index("actions/cache")]
    assert cache["with"]["path"] == "~/.cache/wsreplay" and "WSREPLAY_CACHE" not in env
    assert "env.WSREPLAY_REF" in cache["with"]["key"]

    # bootstrap, then the commands; every one parses and hangs together
    flow = Flow()
    first_wsreplay = None
    bootstrap_at = None
    summary_files: list[PurePosixPath] = []
    for i, step in enumerate(steps):
        for line in steps_lines(step.get("run", "")):
            if line.strip() == "./bootstrap":
                bootstrap_at = i
            argv = command_argv(substitute(line, values)) if "./wsreplay" in line else None
            if argv is not None:
                first_wsreplay = i if first_wsreplay is None else first_wsreplay
                check_command(argv, flow, workdir, f"{GITHUB.name}: {line.strip()}")
                if argv[0] == "compare":
                    assert "||" not in line, "the comparison is the gate: keep its exit status"
            if "GITHUB_STEP_SUMMARY" in line:
                words = shlex.split(line.split(">>")[0])
                summary_files += [workdir / w for w in words[1:]]
    assert bootstrap_at is not None and first_wsreplay is not None
    assert bootstrap_at < first_wsreplay
    assert [a.command for _, a in flow.commands] == ["run", "compare"]

    # what later steps read is what the commands wrote, and they run after a red step too
    outs = set(flow.outs)
    assert summary_files and all(f.parent in outs for f in summary_files)
    assert {f.name for f in summary_files} >= {"summary.md"}
    upload = steps[uses.index("actions/upload-artifact")]
    uploaded = [PurePosixPath(p) for p in upload["with"]["path"].split()]
    assert all(p.parent in outs for p in uploaded), uploaded
    assert {"report.html", "junit.xml"} <= {p.name for p in uploaded}
    for step in steps[first_wsreplay + 1 :]:
        gate = any(word in step.get("run", "") for word in ("./wsreplay", "jq "))
        assert gate or step.get("if") == "always()", f"{step['name']}: needs if: always()"


def test_gitlab_job_runs_caches_and_reports() -> None:
    data = load_yaml(GITLAB)
    (job,) = [v for v in data.values() if isinstance(v, dict) and "script" in v]
    values = {"CI_PROJECT_DIR": str(CI_PROJECT_DIR)}
    for key, value in job["variables"].items():
        values[key] = substitute(str(value), values)
    assert re.fullmatch(r"[0-9a-f]{40}", values["WSREPLAY_REF"])

    # the cache is WSREPLAY_CACHE, which GitLab needs inside the project folder
    cache_dir = PurePosixPath(values["WSREPLAY_CACHE"])
    assert CI_PROJECT_DIR in cache_dir.parents
    assert [CI_PROJECT_DIR / p for p in job["cache"]["paths"]] == [cache_dir]

    flow = Flow()
    workdir = CI_PROJECT_DIR
    for line in job["script"]:
        expanded = substitute(line, values) if "./wsreplay" in line else line
        if line.startswith("cd "):
            workdir = PurePosixPath(shlex.split(line)[1])
        argv = command_argv(expanded)
        if argv is not None:
            check_command(argv, flow, workdir, f"{GITLAB.name}: {line}")
    assert [a.command for _, a in flow.commands] == ["run", "compare"]
    assert any("./bootstrap" in line for line in job["script"])

    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    outs = set(flow.outs)
    files = [CI_PROJECT_DIR / p for p in [*artifacts["paths"], artifacts["reports"]["junit"]]]
    assert all(f.parent in outs for f in files), files
    assert (CI_PROJECT_DIR / artifacts["reports"]["junit"]).name == "junit.xml"


def test_all_three_pin_the_same_commit_of_this_repository() -> None:
    pins = {
        re.search(r"checkout ([0-9a-f]{40})", ci_text())[1],
        load_yaml(GITHUB)["env"]["WSREPLAY_REF"],
        load_yaml(GITLAB)["wsreplay"]["variables"]["WSREPLAY_REF"],
    }
    assert len(pins) == 1
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    shallow = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--is-shallow-repository"],
        capture_output=True,
        text=True,
    )
    if shallow.stdout.strip() != "false":
        pytest.skip("a shallow clone may lack the pinned commit")
    (pin,) = pins
    known = subprocess.run(["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{pin}^{{commit}}"])
    assert known.returncode == 0, f"the docs pin {pin}, which is not a commit of this repository"
    # the pinned wsreplay has every command the docs use
    pinned_cli = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "show", f"{pin}:harness/wsreplay/cli.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("run", "compare", "bisect", "check"):
        assert f'"{command}",' in pinned_cli, f"the pinned commit {pin} has no `{command}`"


# --------------------------------------------------------------------------
# the exit codes, for real


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int]]:
    """Two real short runs: 14.1 passes the founding scenario, 14.0 fails it."""
    base = tmp_path_factory.mktemp("ci-docs")
    done = {}
    for name, spec in (("pass", "python-websockets@14.1"), ("fail", "python-websockets@14.0")):
        out = base / name
        proc = wsreplay("run", "--scenario", SCENARIO, "--client", spec, "--out", str(out))
        done[name] = (out, proc.returncode)
        assert (out / "report.json").is_file(), proc.stderr
    return done


@pytest.mark.e2e
def test_run_exit_0_and_1(runs: dict[str, tuple[Path, int]]) -> None:
    assert runs["pass"][1] == 0
    assert runs["fail"][1] == 1


@pytest.mark.e2e
def test_run_writes_the_files_the_docs_promise(runs: dict[str, tuple[Path, int]]) -> None:
    out = runs["pass"][0]
    rows = table_rows(markdown_section(ci_text(), "6. What a run writes"))
    promised = [name for row in rows[:5] for name in code_spans(row[0])]
    assert promised[:4] == ["report.json", "junit.xml", "summary.md", "report.html"]
    for name in promised:
        path = out / name.rstrip("/")
        assert path.is_dir() if name.endswith("/") else path.is_file(), name
    report = json.loads((out / "report.json").read_text())
    assert [r["verdict"] for r in report["results"]] == ["pass"]
    suites = ET.parse(out / "junit.xml").getroot()
    assert [c.get("name") for c in suites.iter("testcase")] == [SCENARIO]
    assert SCENARIO in (out / "summary.md").read_text()
    assert 'id="wsreplay-report"' in (out / "report.html").read_text()


@pytest.mark.e2e
def test_run_exit_2_writes_no_report(tmp_path: Path) -> None:
    proc = wsreplay("run", "--client", "nope", "--scenario", SCENARIO, "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "unknown adapter 'nope'" in proc.stderr
    assert not (tmp_path / "report.json").exists()


@pytest.mark.e2e
def test_compare_exit_codes(runs: dict[str, tuple[Path, int]], tmp_path: Path) -> None:
    good, bad = str(runs["pass"][0]), str(runs["fail"][0])
    regression = wsreplay("compare", good, bad, "--out", str(tmp_path / "regression"))
    assert regression.returncode == 1, regression.stderr
    assert "1 regression(s)" in regression.stdout
    fix = wsreplay("compare", bad, good, "--out", str(tmp_path / "fix"))
    assert fix.returncode == 0, fix.stderr
    for name in ("compare.json", "compare.md"):
        assert (tmp_path / "regression" / name).is_file()
    missing = wsreplay("compare", good, str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"))
    assert missing.returncode == 2
    assert "neither a report" in missing.stderr


@pytest.mark.e2e
def test_compare_of_two_sides_that_never_ran_exits_2(tmp_path: Path) -> None:
    """A side whose client could not be prepared makes no comparison: exit 2."""
    empty = tmp_path / "empty"  # no go.mod, no chromium binary: neither can be prepared
    empty.mkdir()
    specs = [f"go-gorilla@path:{empty}", f"chromium@path:{empty}"]
    argv = ["run", "--scenario", SCENARIO, "--out", str(tmp_path / "run")]
    proc = wsreplay(*argv, "--client", specs[0], "--client", specs[1])
    assert proc.returncode == 1
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert [c["status"] for c in report["clients"]] == ["error", "error"]
    run_dir = str(tmp_path / "run")
    compare = wsreplay(
        "compare", run_dir, run_dir, "--old-client", specs[0], "--new-client", specs[1],
        "--out", str(tmp_path / "compare"),
    )  # fmt: skip
    assert compare.returncode == 2, compare.stderr
    assert f"cannot compare: OLD client {specs[0]} did not run" in compare.stderr
    assert "jq -s -e 'all(.[].clients[]; .status == \"ok\")'" in ci_text()


def test_bisect_exit_2(tmp_path: Path) -> None:
    proc = wsreplay("bisect", "python-websockets", "--good", "13.1", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "--good V1 --bad V2" in proc.stderr


@dataclass
class FakeRun:
    """Stands in for `runner.Run` inside bisect: verdicts by version, no server, no client."""

    plan: object
    stream: object = None
    verdicts: dict[str, str] = field(default_factory=dict)

    def execute(self) -> dict:
        results = []
        for spec in self.plan.client_specs:
            verdict = self.verdicts.get(spec.split("@", 1)[1], "error")
            results.append(
                {
                    "client": spec,
                    "scenario": SCENARIO,
                    "verdict": verdict,
                    "reason": f"{verdict} by design of this test",
                    "runs": 1,
                    "passes": int(verdict == "pass"),
                }
            )
        return {"results": results}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("good", "bad", "verdicts", "code"),
    [
        ("13.1", "14.0", {"13.1": "pass", "14.0": "fail"}, 0),
        # every release between the ends could not be judged: no answer
        ("12.0", "14.0", {"12.0": "pass", "14.0": "fail"}, 1),
    ],
)
def test_bisect_exit_0_and_1(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    good: str,
    bad: str,
    verdicts: dict[str, str],
    code: int,
) -> None:
    """The exit status bisect's CLI returns for found / not found (the registry's
    release list is real; the runs are faked, which is what makes 'not found' cheap)."""
    monkeypatch.setattr(
        bisect_module, "Run", lambda plan, stream=None: FakeRun(plan, stream, verdicts)
    )
    argv = ["bisect", "python-websockets", "--good", good, "--bad", bad]
    argv += ["--scenario", SCENARIO, "--out", str(tmp_path)]
    assert cli.main(argv) == code
    document = json.loads((tmp_path / "bisect.json").read_text())
    assert document["answer"]["found"] is (code == 0)


def test_check_exit_codes() -> None:
    assert wsreplay("check", str(SCENARIOS_DIR / f"{SCENARIO}.json")).returncode == 0
    bad = wsreplay("check", str(INVALID_SCENARIO))
    assert bad.returncode == 1
    assert str(INVALID_SCENARIO) in bad.stderr
    assert wsreplay("check").returncode == 2


def test_report_exit_codes(tmp_path: Path) -> None:
    assert wsreplay("report", str(tmp_path)).returncode == 2  # not a run's folder
    log = RecordLog(tmp_path)
    log.write_header(new_report("r1", "0.1.0", "0.1.0", ["wsreplay", "run"]))
    log.close()
    assert wsreplay("report", str(tmp_path)).returncode == 0
    assert (tmp_path / "report.json").is_file()


@pytest.mark.e2e
def test_interrupted_run_exits_130_and_still_writes_its_files(tmp_path: Path) -> None:
    argv = [WSREPLAY, "run", "--scenario", SCENARIO, "--client", "python-websockets@14.1"]
    proc = subprocess.Popen(
        [*argv, "--repeat", "200", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    transcripts = tmp_path / "transcripts"
    # interrupt once jobs are under way (the first transcripts are written)
    while time.monotonic() < deadline and not (
        transcripts.is_dir() and len(os.listdir(transcripts)) >= 2
    ):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    for name in ("report.json", "junit.xml", "summary.md", "report.html"):
        assert (tmp_path / name).is_file(), name


# --------------------------------------------------------------------------
# the central example: a Python checkout


def websockets_checkout(version: str) -> Path:
    """websockets' source at ``version`` from its PyPI sdist, at a path that stays the same
    between test runs: a checkout's env is keyed by its path, so the shared cache keeps one
    env for it (reinstalled each run, as for a maintainer) instead of one per run."""
    root = Path(tempfile.gettempdir()) / f"wsreplay-test-{os.getuid()}"
    checkout = root / f"websockets-{version}"
    if (checkout / "pyproject.toml").is_file():
        return checkout
    root.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".websockets-", dir=root))
    try:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        download = subprocess.run(
            [*pip, "--no-binary", ":all:", f"websockets=={version}", "-d", str(work)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert download.returncode == 0, download.stderr
        (sdist,) = work.glob(f"websockets-{version}.tar.gz")
        subprocess.run(["tar", "-xzf", str(sdist), "-C", str(work)], check=True)
        with contextlib.suppress(OSError):  # another run may have won the race
            os.rename(work / f"websockets-{version}", checkout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checkout


@pytest.mark.e2e
def test_a_python_source_checkout_runs_through_a_path_spec(tmp_path: Path) -> None:
    """What the example workflow does, with websockets 14.1's source as the checkout."""
    spec = f"python-websockets@path:{websockets_checkout('14.1')}"
    argv = ["run", "--scenario", SCENARIO, "--client", spec, "--out", str(tmp_path)]
    proc = wsreplay(*argv)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["clients"][0]["status"] == "ok"
    assert "14.1" in report["clients"][0]["resolved_version"]
    assert [r["verdict"] for r in report["results"]] == ["pass"]
