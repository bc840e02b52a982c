"""The adapter docs stay true: the README's table, the folders, the guide's worked example.

- README.md `## Adapters`: one row per adapter the manifests declare and no
  other, each with the manifest's `install` text and its `min_version`;
- every folder under harness/adapters/ is an adapter (README.md and
  adapter.json) or a shared-code folder with a README.md;
- docs/adding-an-adapter.md: its JSON blocks parse and the manifest it shows
  is the real python-simple-websocket manifest;
- end to end: the guide's adapter, simple-websocket from PyPI at two
  releases in one `./wsreplay run` (about 25 s cold for the two venvs,
  under 10 s warm).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import WSREPLAY
from wsreplay import adapters, clients
from wsreplay.paths import REPO_ROOT, REPORT_SCHEMA

README = REPO_ROOT / "README.md"
GUIDE = REPO_ROOT / "docs" / "adding-an-adapter.md"
EXAMPLE = "python-simple-websocket"
#: Folders of code shared by several adapters: no manifest of their own.
#: a language kit (python-common, js-common, …): shared code, no adapter of its own
KIT_SUFFIX = "-common"
#: The README table's columns, in order.
COLUMNS = ["adapter", "language", "library and API driven", "versions", "the machine needs"]


def section(text: str, heading: str) -> str:
    """The body of a `## heading` section, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no '## {heading}' section"
    return match[1]


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split(" | ")]


def adapter_rows() -> dict[str, dict[str, str]]:
    """The `## Adapters` table of README.md: adapter name → {column: cell}."""
    lines = [line for line in section(README.read_text(), "Adapters").splitlines()]
    table = [line for line in lines if line.startswith("|")]
    assert table, "the '## Adapters' section has no table"
    header = cells(table[0])
    assert header[: len(COLUMNS)] == COLUMNS, header
    rows: dict[str, dict[str, str]] = {}
    for line in table[2:]:
        row = dict(zip(header, cells(line), strict=False))
        name = row["adapter"].strip("`")
        assert name not in rows, f"adapter {name} has two rows in README.md"
        rows[name] = row
    return rows


def test_readme_table_lists_every_adapter_and_no_other() -> None:
    rows = adapter_rows()
    declared = set(clients.ADAPTERS)
    assert sorted(declared - set(rows)) == [], "adapters without a row in README.md"
    assert sorted(set(rows) - declared) == [], "README.md rows for adapters that do not exist"


@pytest.mark.parametrize("name", sorted(clients.ADAPTERS))
def test_readme_row_matches_the_manifest(name: str) -> None:
    info = clients.ADAPTERS[name]
    row = adapter_rows().get(name)
    assert row is not None, f"{name} has no row in README.md's adapter table"
    assert info.install, f"{info.directory / adapters.MANIFEST}: {name} has no 'install' line"
    assert info.install in row["the machine needs"]
    for bound in (info.min_version, info.max_version):
        if bound is not None:
            assert bound in row["versions"], f"{name}: {bound} not in {row['versions']!r}"


def test_every_adapter_folder_has_a_readme_and_a_manifest() -> None:
    for folder in sorted(p for p in adapters.ADAPTERS_DIR.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "__")):
            continue
        assert (folder / "README.md").is_file(), f"{folder} has no README.md"
        if not folder.name.endswith(KIT_SUFFIX):
            assert (folder / adapters.MANIFEST).is_file(), f"{folder} has no {adapters.MANIFEST}"
    for info in clients.ADAPTERS.values():
        assert (info.directory / "README.md").is_file()
        assert info.entry.is_file(), f"{info.name}: entry {info.entry} does not exist"


def json_blocks(text: str) -> list[str]:
    return re.findall(r"^```json\n(.*?)^```", text, re.M | re.S)


def test_guide_json_blocks_parse_and_show_the_real_manifest() -> None:
    blocks = json_blocks(GUIDE.read_text())
    assert blocks, "docs/adding-an-adapter.md has no JSON block"
    parsed = [json.loads(block) for block in blocks]
    real = json.loads((clients.ADAPTERS[EXAMPLE].directory / adapters.MANIFEST).read_text())
    manifests = [p for p in parsed if isinstance(p, dict) and "adapters" in p]
    assert manifests == [real]


def test_guide_names_files_that_exist() -> None:
    text = GUIDE.read_text()
    for target in re.findall(r"\]\(\.\./([^)#]+)\)", text):
        assert (REPO_ROOT / target).exists(), f"docs/adding-an-adapter.md links to {target}"


# --------------------------------------------------------------------------
# the worked example, end to end

#: Two releases with Client.connect; they behave alike on these scenarios.
SPECS = {f"{EXAMPLE}@1.0.0": "1.0.0", f"{EXAMPLE}@1.1.0": "1.1.0"}
NO_CLOSE_REPLY = "the client sent no close frame, expected close 1000"


@pytest.mark.e2e
def test_worked_example_runs_two_releases(tmp_path: Path) -> None:
    argv = [WSREPLAY, "run", "--out", str(tmp_path)]
    argv += ["--scenario", "close/send-then-close", "--scenario", "close/close-while-receiving"]
    for spec in SPECS:
        argv += ["--client", spec]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr  # fail verdicts (below) make the run fail
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(REPORT_SCHEMA.read_text()))
    assert {c["spec"]: c["resolved_version"] for c in report["clients"]} == SPECS
    assert all(c["api"].startswith("simple_websocket.Client.connect") for c in report["clients"])
    records = {(r["scenario"], r["client"]): r for r in report["results"]}
    assert len(records) == 4
    for (scenario, spec), record in records.items():
        checks = {c["name"]: c for c in record["checks"]}
        # The client never answers the server's close frame (only the server side does).
        assert record["verdict"] == "fail", (scenario, spec, record["reason"])
        assert NO_CLOSE_REPLY in record["reason"]
        assert not checks["client_close"]["ok"]
        if scenario == "close/close-while-receiving":
            # It arrived while the application was waiting: delivered, and the close reported.
            # ...and the RFC rule on the client's bytes says the same of the wire.
            assert record["reason"].startswith(NO_CLOSE_REPLY + "; the server's close 1000 'bye'")
            assert record["reason"].endswith("(rule close-reply, RFC 6455 5.5.1)")
            assert [m["text"] for m in record["observed"]["messages"]] == ["first"]
            assert record["observed"]["close"] == {"code": 1000, "reason": "bye"}
            assert record["observed"]["end"] == "closed"
        # send-then-close: whether 'final message' is lost depends on whether it shared
        # the handshake's read (see the adapter's README); either way it is a fact, not
        # an adapter error.
        assert record["observed"]["end"] == "closed"
        assert record["observed"]["error"]["type"] == "simple_websocket.errors.ConnectionClosed"
