"""How `./wsreplay scenarios` shows the catalogue: a list, the tags, one scenario in full."""

from __future__ import annotations

import json
from collections import Counter

from .contract import Scenario
from .judging.echo import echo_plan


def format_list(scenarios: list[Scenario]) -> str:
    """One line per scenario: name, transport mark, summary."""
    width = max((len(s["name"]) for s in scenarios), default=0)
    lines = []
    for s in scenarios:
        mark = " [wss]" if s.get("transport") == "wss" else ""
        lines.append(f"{s['name']:<{width}}  {s.get('summary', '')}{mark}")
    lines.append(f"({len(scenarios)} scenario{'s' if len(scenarios) != 1 else ''})")
    return "\n".join(lines)


def format_tags(scenarios: list[Scenario]) -> str:
    """Every tag with how many scenarios carry it, most used first."""
    counts = Counter(tag for s in scenarios for tag in s.get("tags", []))
    width = max((len(t) for t in counts), default=0)
    return "\n".join(f"{tag:<{width}}  {n}" for tag, n in counts.most_common())


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def format_full(scenario: Scenario) -> str:
    """Everything a scenario says, for a person: metadata, knobs, steps, expectations."""
    s = scenario
    out = [s["name"], "=" * len(s["name"]), s.get("summary", ""), ""]
    out.append(f"file:      {s['file']}")
    out.append(f"rfc:       {', '.join(s.get('rfc', []))}")
    if s.get("tags"):
        out.append(f"tags:      {', '.join(s['tags'])}")
    if s.get("autobahn"):
        out.append(f"autobahn:  {', '.join(s['autobahn'])}")
    out.append(f"transport: {'wss only' if s.get('transport') == 'wss' else 'ws or wss'}")
    if s.get("handshake") == "manual":
        out.append("handshake: manual (the steps write the whole response)")
    severity = s.get("severity", "fail")
    by_check = s.get("severity_by_check") or {}
    extra = "".join(f", {k}: {v}" for k, v in by_check.items())
    out.append(f"severity:  {severity}{extra}")
    for bug in s.get("bugs", []):
        versions = f" {bug['versions']}" if bug.get("versions") else ""
        url = f"  {bug['url']}" if bug.get("url") else ""
        out.append(f"bug:       {bug['library']}{versions}{url}")
    budget = s["budget_ms"]
    out.append(
        f"budget:    {budget['deadline']} ms (server steps {budget['steps']} ms at their slowest, "
        f"client waits {budget['client']} ms, slack)"
    )
    out += ["", "client knobs (the loader's defaults filled in):"]
    out += [f"  {k}: {_json(v)}" for k, v in s["client"].items()]
    out += ["", "steps:"]
    out += [f"  {i}. {_json(step)}" for i, step in enumerate(s.get("steps", []), 1)]
    out += ["", "expect:"]
    out += [f"  {k}: {_json(v)}" for k, v in (s.get("expect") or {}).items()]
    out += ["", *format_echo_plan(s)]
    return "\n".join(out)


def format_echo_plan(scenario: Scenario) -> list[str]:
    """What echo mode (an Autobahn driver as the client) judges of the scenario, or why not."""
    plan = echo_plan(scenario)
    if isinstance(plan, str):
        return [f"echo mode: skipped: {plan}"]
    out = [f"echo mode ({plan.source}):"]
    out += [f"  {k}: {_json(v)}" for k, v in plan.expect.items()]
    out += [f"  not judged: {k}: {why}" for k, why in plan.unjudged.items()]
    if plan.offer != "default":
        out.append(f"  the driver's offer must be: compression {_json(plan.offer)}")
    return out
