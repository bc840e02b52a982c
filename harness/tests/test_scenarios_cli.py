"""`./wsreplay scenarios`: listing by tag or glob, the tags, one scenario in full."""

from __future__ import annotations

from conftest import wsreplay
from wsreplay.paths import SCENARIOS_DIR
from wsreplay.scenarios import load_all


def test_list_shows_every_scenario_once() -> None:
    proc = wsreplay("scenarios")
    assert proc.returncode == 0, proc.stderr
    names = [s["name"] for s in load_all(SCENARIOS_DIR)]
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == names
    assert lines[-1] == f"({len(names)} scenarios)"


def test_list_by_tag_keeps_only_tagged_scenarios() -> None:
    proc = wsreplay("scenarios", "--tag", "founding")
    assert proc.returncode == 0, proc.stderr
    tagged = [s["name"] for s in load_all(SCENARIOS_DIR) if "founding" in s.get("tags", [])]
    assert [line.split()[0] for line in proc.stdout.splitlines()[:-1]] == tagged


def test_unknown_tag_is_an_error() -> None:
    proc = wsreplay("scenarios", "--tag", "no-such-tag")
    assert proc.returncode == 2
    assert "no scenario has the tag(s) no-such-tag" in proc.stderr


def test_tags_are_counted() -> None:
    proc = wsreplay("scenarios", "--tags")
    assert proc.returncode == 0
    counts = dict(line.split() for line in proc.stdout.splitlines())
    delivery = sum("delivery" in s.get("tags", []) for s in load_all(SCENARIOS_DIR))
    assert int(counts["delivery"]) == delivery


def test_show_prints_one_scenario_in_full() -> None:
    proc = wsreplay("scenarios", "show", "close/send-then-close")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("close/send-then-close\n")
    for part in (
        "rfc:       6455#5.5.1",
        "issues/1538",
        "recv_delay_ms: 100",
        '1. {"write": [{"text": "final message"}, {"close": 1000, "reason": "bye"}]}',
        'close: {"code": 1000, "reason": "bye"}',
        "echo mode: skipped: it needs the application's read timing (recv_delay_ms)",
    ):
        assert part in out


def test_show_prints_the_echo_mode_plan() -> None:
    proc = wsreplay("scenarios", "show", "framing/rsv-text/1")
    assert proc.returncode == 0, proc.stderr
    plan = proc.stdout.split("\necho mode (derived):\n", 1)[1].splitlines()
    assert plan == [
        '  client_messages: [{"text": "before"}]',
        '  client_close: {"code": [1002]}',
        "  not judged: close: the close code the application was told leaves no trace on the wire",
    ]


def test_show_unknown_scenario_names_it() -> None:
    proc = wsreplay("scenarios", "show", "close/nope")
    assert proc.returncode == 2
    assert "no scenario named 'close/nope'" in proc.stderr


def test_autobahn_lists_case_ids_in_numeric_order() -> None:
    proc = wsreplay("scenarios", "--autobahn")
    assert proc.returncode == 0, proc.stderr
    *rows, total = proc.stdout.splitlines()
    ids = [row.split()[0] for row in rows]
    assert ids == sorted(ids, key=lambda cid: [int(p) for p in cid.split(".")])
    assert ids.index("7.7.1") < ids.index("7.7.12")  # numerically, not as text
    by_name = {s["name"]: s for s in load_all(SCENARIOS_DIR)}
    for row in rows:
        cid, names = row.split(maxsplit=1)
        for name in names.split(", "):
            assert cid in by_name[name]["autobahn"], (cid, name)
    named = {(cid, s["name"]) for s in by_name.values() for cid in s.get("autobahn", [])}
    assert sum(len(row.split(maxsplit=1)[1].split(", ")) for row in rows) == len(named)
    assert total == f"({len(ids)} Autobahn cases, {len({n for _, n in named})} scenarios)"


def test_show_prints_the_autobahn_cases() -> None:
    proc = wsreplay("scenarios", "show", "close/code-echoed/4000")
    assert proc.returncode == 0, proc.stderr
    assert "autobahn:  7.7.12\n" in proc.stdout
