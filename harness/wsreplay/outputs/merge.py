"""Joining the reports of `wsreplay run --shard K/N` into one (`wsreplay merge`).

Each shard's folder holds a report of part of one run: every client and
scenario, the records of its own pairs (`running.shards`). Merged, they
make the report a single run of the same command would have written: the
clients and scenarios, every record in the canonical order
(`report.order_results`), the totals recounted; `started` the earliest
shard's start, `finished` the latest shard's end (null when a shard did not
finish or is missing), `shard` null and `merged_from` naming the shards.

Shards are joined only when they belong together. Refused, with a sentence
naming the folders (`MergeError`): a folder that is not a run's; a run that
was not a shard or whose report names no catalogue; different catalogues
(`catalogue.digest`); different commands once `--shard` and `--out` are
left out; different wsreplay or server versions; different shard counts; a
shard given twice; a shard missing (unless `allow_missing`); a client that
resolved to different versions in different shards; a pair with a record
in two shards.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..judging.verdicts import totals
from .recordlog import HEADER_NAME, RECORDS_NAME, NoRecords, assemble, report_is_current
from .report import (
    REPORT_NAME,
    SCHEMA_ID,
    add_result,
    elapsed_ms,
    new_report,
    order_results,
    parse_time,
)

#: Options of `wsreplay run` that differ between the shards of one run.
SHARD_OPTIONS = ("--shard", "--out")


class MergeError(Exception):
    """The folders cannot be merged; the message says why and names them."""


@dataclass(frozen=True)
class Shard:
    """One shard's folder and its report."""

    folder: Path
    report: dict
    #: True when read from run.json + records.jsonl: the run did not finish.
    assembled: bool = False
    #: Unreadable lines of records.jsonl skipped while assembling.
    skipped: int = 0

    @property
    def index(self) -> int:
        return int(self.report["shard"]["index"])

    @property
    def count(self) -> int:
        return int(self.report["shard"]["count"])


@dataclass
class Merged:
    report: dict
    #: What a person should know about the merge (for stderr), none fatal.
    notes: list[str] = field(default_factory=list)
    #: (client, scenario) pairs with no record: a shard missing or interrupted.
    missing_pairs: int = 0


def read_shard(folder: Path) -> Shard:
    """A shard folder's report: report.json when it is its run's finished report,
    else assembled from run.json + records.jsonl (like `wsreplay report`), else
    a report.json alone (a CI artifact of the report only)."""
    folder = Path(folder)
    if report_is_current(folder):
        return Shard(folder, _load(folder / REPORT_NAME))
    if (folder / HEADER_NAME).is_file() and (folder / RECORDS_NAME).is_file():
        try:
            report, skipped = assemble(folder)
        except NoRecords as exc:
            raise MergeError(f"cannot merge: {exc}") from exc
        return Shard(folder, _check_report(report, folder / HEADER_NAME), True, skipped)
    if (folder / REPORT_NAME).is_file():
        return Shard(folder, _load(folder / REPORT_NAME))
    raise MergeError(
        f"cannot merge: {folder} is not the folder of a run "
        f"(no {REPORT_NAME}, nor {HEADER_NAME} and {RECORDS_NAME})"
    )


def shared_command(command: list[str]) -> list[str]:
    """The command without the options the shards of one run differ in (`SHARD_OPTIONS`)."""
    kept: list[str] = []
    skip_value = False
    for arg in command:
        if skip_value:
            skip_value = False
        elif arg in SHARD_OPTIONS:
            skip_value = True
        elif not arg.startswith(tuple(f"{option}=" for option in SHARD_OPTIONS)):
            kept.append(arg)
    return kept


def merge(shards: list[Shard], run_id: str, *, allow_missing: bool = False) -> Merged:
    """One report from the shards of a run, or `MergeError` if they do not belong together."""
    if not shards:
        raise MergeError("cannot merge: no shard folders given")
    _check_belong_together(shards)
    ordered = sorted(shards, key=lambda s: s.index)
    count = ordered[0].count
    notes: list[str] = []
    missing = sorted(set(range(1, count + 1)) - {s.index for s in ordered})
    if missing:
        text = (
            f"shard(s) {_numbers(missing)} of {count} missing "
            f"(given: {'; '.join(f'{s.index}/{count} in {s.folder}' for s in ordered)})"
        )
        if not allow_missing:
            raise MergeError(f"cannot merge: {text}; --allow-missing merges the shards given")
        notes.append(f"{text}: their pairs have no record and the report has no `finished`")

    first = ordered[0].report
    merged = new_report(
        run_id,
        first["tool"]["version"],
        first["server"]["version"],
        shared_command(first["command"]),
        catalogue=first["catalogue"],
        compression=first.get("compression", "default"),
        vary=first.get("vary"),
    )
    merged["started"] = min((s.report["started"] for s in ordered), key=parse_time)
    ends: list[str] = [s.report["finished"] for s in ordered if s.report.get("finished")]
    if missing or len(ends) < len(ordered):
        merged["finished"] = merged["duration_ms"] = None
    else:
        merged["finished"] = max(ends, key=parse_time)
        merged["duration_ms"] = elapsed_ms(merged["started"], merged["finished"])
    merged["merged_from"] = [
        {"run_id": s.report["run_id"], "folder": str(s.folder), "shard": dict(s.report["shard"])}
        for s in ordered
    ]
    merged["clients"] = _merge_clients(ordered, notes)
    merged["scenarios"] = _union(ordered, "scenarios", "name")
    _merge_results(ordered, merged)

    pairs = len(merged["clients"]) * len(merged["scenarios"])
    unrecorded = pairs - len(merged["results"])
    if not missing and unrecorded:
        notes.append(
            f"{unrecorded} of {pairs} pair(s) have no record (a shard's run was "
            "interrupted): they show as not run"
        )
    return Merged(merged, notes, unrecorded)


# ------------------------------------------------------------------ checks


def _check_belong_together(shards: list[Shard]) -> None:
    for s in shards:
        if s.report.get("shard") is None:
            raise MergeError(
                f"cannot merge: {s.folder} is the report of a whole run, not of a shard "
                "(`wsreplay run --shard K/N`)"
            )
        if s.report.get("catalogue") is None:
            raise MergeError(
                f"cannot merge: {s.folder}'s report names no catalogue "
                "(written by a wsreplay from before --shard)"
            )
    _same(
        shards,
        lambda r: r["catalogue"],
        "ran different scenario catalogues",
        lambda c: f"{c['scenarios']} scenario(s), {c['digest'][:19]}…",
    )
    _same(
        shards,
        lambda r: shared_command(r["command"]),
        "ran different commands (--shard and --out aside)",
        lambda c: f"`{shlex.join(c)}`",
    )
    _same(
        shards,
        lambda r: [r["tool"]["version"], r["server"]["version"]],
        "come from different versions",
        lambda v: f"wsreplay {v[0]}, server {v[1]}",
    )
    _same(
        shards,
        lambda r: r["shard"]["count"],
        "split the run differently",
        lambda n: f"into {n} shards",
    )
    seen: dict[int, Shard] = {}
    for s in shards:
        if s.index in seen:
            raise MergeError(
                f"cannot merge: shard {s.index}/{s.count} is given twice: "
                f"{seen[s.index].folder} and {s.folder}"
            )
        seen[s.index] = s


def _same(
    shards: list[Shard], key: Callable[[dict], Any], what: str, show: Callable[[Any], str]
) -> None:
    """Refuse unless every shard's report has the same `key`; name who has which."""
    groups: dict[str, tuple[Any, list[Path]]] = {}
    for s in shards:
        value = key(s.report)
        groups.setdefault(json.dumps(value, sort_keys=True), (value, []))[1].append(s.folder)
    if len(groups) > 1:
        parts = [
            f"{', '.join(str(f) for f in folders)} {show(value)}"
            for value, folders in groups.values()
        ]
        raise MergeError(f"cannot merge: the shards {what}: {'; '.join(parts)}")


# ------------------------------------------------------------------ joining


def _merge_clients(shards: list[Shard], notes: list[str]) -> list[dict]:
    """Every client once, in the order the shards list them (the command's order).

    Each shard prepares every client, so they normally agree. A spec that
    resolved to different releases in different shards (one without a
    version, run as a new release came out) is refused: the merged report
    would mix two libraries under one name. A client that could not be
    prepared in some shard keeps that shard's entry, with its error.
    """
    entries: dict[str, list[tuple[Path, dict]]] = {}
    for s in shards:
        for client in s.report["clients"]:
            entries.setdefault(client["spec"], []).append((s.folder, client))
    merged = []
    for spec, seen in entries.items():
        versions: dict[str, list[Path]] = {}
        for folder, client in seen:
            if client.get("resolved_version") is not None:
                versions.setdefault(client["resolved_version"], []).append(folder)
        if len(versions) > 1:
            parts = "; ".join(
                f"{version} in {', '.join(str(f) for f in folders)}"
                for version, folders in versions.items()
            )
            raise MergeError(
                f"cannot merge: client {spec} resolved to different versions: {parts} "
                "(name the version in the spec so that every shard runs the same)"
            )
        failed = [(folder, client) for folder, client in seen if client.get("status") == "error"]
        if failed and len(failed) < len(seen):
            notes.append(
                f"client {spec} could not be prepared in {', '.join(str(f) for f, _ in failed)} "
                "only; the merged report keeps its error"
            )
        merged.append(dict((failed or seen)[0][1]))
    return merged


def _union(shards: list[Shard], key: str, name: str) -> list[dict]:
    entries: dict[str, dict] = {}
    for s in shards:
        for entry in s.report[key]:
            entries.setdefault(entry[name], entry)
    return list(entries.values())


def _merge_results(shards: list[Shard], merged: dict) -> None:
    owner: dict[tuple[str, str], Path] = {}
    for s in shards:
        for record in s.report["results"]:
            pair = (record["client"], record["scenario"])
            if pair in owner:
                raise MergeError(
                    f"cannot merge: {pair[0]} on {pair[1]} has a record in both "
                    f"{owner[pair]} and {s.folder}: the shards did not split the pairs alike"
                )
            owner[pair] = s.folder
            add_result(merged, record)
    order_results(merged)
    merged["totals"] = totals(merged["results"])


# ------------------------------------------------------------------ reading


def _load(path: Path) -> dict:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MergeError(f"cannot merge: {path}: not a readable report: {exc}") from exc
    return _check_report(report, path)


def _check_report(report: object, path: Path) -> dict:
    if not isinstance(report, dict) or report.get("schema") != SCHEMA_ID:
        raise MergeError(f"cannot merge: {path} is not a wsreplay report ({SCHEMA_ID})")
    return report


def _numbers(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)
