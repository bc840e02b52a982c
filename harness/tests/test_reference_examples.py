"""Every example in scenarios/README.md is a scenario that works as the page says.

The examples are extracted from the page itself, so the documentation cannot
drift: each must pass the server's loader and the JSON Schema, together they
must use every step kind and every client knob, and the newest
python-websockets (a correct client for all of them) must pass each one.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest

from conftest import WSREPLAY
from wsreplay.build import server_binary
from wsreplay.paths import REPO_ROOT, SCENARIOS_DIR
from wsreplay.scenarios import knob_defaults

README = SCENARIOS_DIR / "README.md"
SCHEMA = json.loads((REPO_ROOT / "docs" / "scenario.schema.json").read_text())

STEP_KINDS = {"write", "delay_ms", "await", "echo", "read", "shutdown", "tls", "abort"}
AWAITS = {"close", "message", "messages", "ping", "pong", "eof"}


def examples() -> list[dict]:
    blocks = re.findall(r"```json\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    found = [json.loads(block) for block in blocks]
    return [b for b in found if str(b.get("name", "")).startswith("examples/")]


EXAMPLES = examples()


def expanded(example: dict) -> list[str]:
    """The scenario names an example gives: its own, or its family's members'."""
    members = example.get("family", {}).get("members")
    if members is None:
        return [example["name"]]
    return [f"{example['name']}/{m['id']}" for m in members]


@pytest.fixture(scope="module")
def examples_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reference")
    for example in EXAMPLES:
        path = root / f"{example['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(example, indent=2), encoding="utf-8")
    return root


def test_the_page_has_examples_with_distinct_names() -> None:
    names = [e["name"] for e in EXAMPLES]
    assert len(names) >= 15
    assert len(set(names)) == len(names)


def test_examples_use_every_step_kind_await_and_knob() -> None:
    steps = [step for e in EXAMPLES for step in e["steps"]]
    assert {kind for step in steps for kind in step if kind in STEP_KINDS} == STEP_KINDS
    assert {step["await"] for step in steps if "await" in step} == AWAITS
    assert {step["shutdown"] for step in steps if "shutdown" in step} == {"write", "tcp"}
    knobs = {k for e in EXAMPLES for k in e.get("client", {})}
    assert knobs == set(knob_defaults())
    options = {k for step in steps for item in step.get("write", []) for k in item}
    assert {"fin", "pattern", "base64", "length_form", "count", "handshake", "raw_text"} <= options
    assert {"split", "gap_ms"} <= {k for step in steps for k in step}
    assert any(step.get("split") == "every_byte" for step in steps)


def test_examples_pass_the_loader(examples_dir: Path) -> None:
    files = sorted(str(p) for p in examples_dir.rglob("*.json"))
    proc = subprocess.run(
        [str(server_binary()), "--check", *files], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e["name"])
def test_examples_pass_the_schema(example: dict) -> None:
    jsonschema.validate(example, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_newest_python_websockets_passes_every_example(examples_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            WSREPLAY, "run", "--scenarios-dir", str(examples_dir),
            "--client", "python-websockets", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    verdicts = {r["scenario"]: (r["verdict"], r["reason"]) for r in report["results"]}
    assert set(verdicts) == {name for e in EXAMPLES for name in expanded(e)}, proc.stderr[-2000:]
    wrong = {name: v for name, v in verdicts.items() if v[0] != "pass"}
    assert wrong == {}
