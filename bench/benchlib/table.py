"""The figures as text tables: one block per part, one figure per row."""

from __future__ import annotations


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def render(figures: dict) -> str:
    blocks = [_machine(figures["machine"])]
    if "harness" in figures:
        blocks.append(_harness(figures["harness"]))
    if "matrix" in figures:
        blocks.append(_matrix(figures["matrix"]))
    if "report" in figures:
        blocks.append(_report(figures["report"]))
    if "server" in figures:
        blocks.append(_server(figures["server"]))
    return "\n\n".join(blocks) + "\n"


def _rows(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    lines = [title, "-" * len(title)]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    return "\n".join(lines)


def _grid(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        # names (the first column, and `left`) left-aligned, figures right-aligned
        cells = zip(row, widths, strict=True)
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(cells)
        ).rstrip()

    return "\n".join([line(header), *(line(r) for r in rows)])


def _machine(m: dict) -> str:
    return _rows(
        "Machine",
        [
            ("cores", str(m["cores"])),
            ("kernel (uname -r)", m["kernel"]),
            ("cpu", str(m["cpu"])),
            ("started (UTC)", m["started"]),
            ("load at start (1/5/15 min)", " ".join(map(str, m["load_at_start"]))),
            ("load at end", " ".join(map(str, m.get("load_at_end", [])))),
        ],
    )


def _harness(h: dict) -> str:
    blocks = [_per_adapter(h)]
    mode = {"jobs_1": "--jobs 1", "default": f"--jobs default ({h.get('default_jobs', '?')})"}
    for name, r in h["runs"].items():
        o = r["overhead_per_job_ms"]
        rows = [
            ("client", h["client"]),
            (
                "scenarios",
                f"{_names(h['scenarios'])} ({r['jobs']} jobs, exit {r['exit']}: "
                + ", ".join(f"{n} {v}" for v, n in r["totals"].items() if v != "total")
                + ")",
            ),
            ("wall time (./wsreplay run, outside)", f"{r['wall_s']:.1f} s"),
            ("run duration (report.json)", f"{r['report_duration_s']:.1f} s"),
            ("sum of the jobs' durations", f"{r['sum_of_jobs_s']:.1f} s"),
            ("wall - sum of jobs (start-up, outputs)", f"{r['outside_jobs_s']:.1f} s"),
            (
                "critical path (longest job)",
                f"{r['critical_path_s']:.2f} s ({r['critical_path_job']})",
            ),
            ("sum of the scenarios' own waits", _seconds(r.get("sum_of_own_waits_s"), 1)),
            ("sum of step budgets (upper bound)", f"{r['sum_of_step_budgets_s']:.1f} s"),
            ("wall / critical path", _ratio(r["wall_over_critical_path"], 1)),
            ("wall / sum of jobs", _ratio(r["wall_over_sum_of_jobs"], 3)),
            ("wall / sum of own waits", _ratio(r.get("wall_over_own_waits"), 3)),
            (
                "harness overhead per job: job - adapter's own duration",
                _spread_text(r["job_minus_adapter_ms"], r["jobs_with_adapter_duration"]),
            ),
            (
                "job - server session (also client-side waits)",
                _spread_text(o, r["jobs_with_transcript"]),
            ),
        ]
        rows += [(f"peak RSS {role}", mib(kib)) for role, kib in r["peak_rss_kib"].items()]
        rows.append(("load after", " ".join(map(str, r["load_after"]))))
        blocks.append(_rows(f"1b. Harness: {h['client']} in full, {mode.get(name, name)}", rows))
    if not h["jobs_option"]:
        blocks.append("--jobs: `wsreplay run` has no --jobs option yet; only the default was run")
    return "\n\n".join(blocks)


def _per_adapter(h: dict) -> str:
    """One row per (client, --jobs): the catalogue's wall time and what to hold it against."""
    default = f"default ({h.get('default_jobs', '?')})"
    header = [
        "client",
        "--jobs",
        "wall s",
        "1/default",
        "sum of jobs s",
        "wall/sum",
        "critical path s",
        "wall/crit",
        "wall/own waits",
        "overhead p50/p90 ms",
        "ok/fail/error",
        "load before/after",
        "longest job",
    ]
    rows, missing = [], []
    primary = {"client": h["client"], "runs": h["runs"]}
    if "jobs_1_over_default" in h:
        primary["jobs_1_over_default"] = h["jobs_1_over_default"]
    entries = {h["client"].split("@")[0]: primary}
    entries.update(h.get("adapters", {}))
    for name, e in entries.items():
        if "error" in e:
            missing.append(f"{name}: {e['error']}")
            continue
        for mode, r in e["runs"].items():
            t = r["totals"]
            ok = t.get("pass", 0) + t.get("non-strict", 0) + t.get("informational", 0)
            ratio = e.get("jobs_1_over_default") if mode == "default" else None
            rows.append(
                [
                    e["client"],
                    "1" if mode == "jobs_1" else default,
                    f"{r['wall_s']:.1f}",
                    _ratio(ratio, 2) if ratio else "",
                    f"{r['sum_of_jobs_s']:.1f}",
                    _ratio(r["wall_over_sum_of_jobs"], 2),
                    f"{r['critical_path_s']:.2f}",
                    _ratio(r["wall_over_critical_path"], 1),
                    _ratio(r.get("wall_over_own_waits"), 2),
                    _p50_p90(r.get("job_minus_adapter_ms") or {}),
                    f"{ok}/{t.get('fail', 0)}/{t.get('error', 0)}",
                    _load(r),
                    r["critical_path_job"],
                ]
            )
    title = "1. Harness: the catalogue per adapter, --jobs 1 and the default"
    head = [
        title,
        "-" * len(title),
        f"scenarios: {_names(h['scenarios'])} ({h.get('scenario_count', '?')})",
        "their own waits (sum of budget_ms.expected): "
        f"{_seconds(h.get('sum_of_own_waits_s'), 1)}; their step budgets "
        f"(sum of budget_ms.steps, an upper bound): {_seconds(h.get('sum_of_step_budgets_s'), 1)}",
        "",
    ]
    tail = ["", *(f"not run: {m}" for m in missing), *([""] if missing else [])]
    tail += [
        "goals (issue 11): the catalogue x python-websockets under 5 s wall on 2 cores "
        "(the default --jobs);",
        "  harness overhead under 5 ms per job (job - adapter's own duration, in 1b);",
        "  ./run-matrix under 3 minutes (bench/run --matrix)",
    ]
    return "\n".join([*head, _grid(header, rows, left=(0, len(header) - 1)), *tail])


def _load(r: dict) -> str:
    """The 1-minute load average before and after a run."""
    before = r.get("load_before") or ["-"]
    after = r.get("load_after") or ["-"]
    return f"{before[0]}/{after[0]}"


def _names(scenarios: str | list[str]) -> str:
    return scenarios if isinstance(scenarios, str) else " ".join(scenarios)


def _p50_p90(spread: dict) -> str:
    """The harness's part per job (job - adapter's own duration), p50 and p90."""
    if not spread:
        return "-"
    return f"{spread['p50']:.1f}/{spread['p90']:.1f}"


def _ratio(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _seconds(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def _matrix(m: dict) -> str:
    t = m["totals"]
    rows = [
        ("clients", f"{len(m['clients'])}: " + ", ".join(m["clients"])),
        (
            "results",
            f"{m['jobs']} (exit {m['exit']}: "
            + ", ".join(f"{n} {v}" for v, n in t.items() if v != "total")
            + ")",
        ),
        ("wall time (./run-matrix --out DIR, outside)", f"{m['wall_s']:.1f} s"),
        (
            "  ./bootstrap --test (timed alone, just before)",
            f"{m['bootstrap_s']:.1f} s (exit {m['bootstrap_exit']})",
        ),
        ("  the rest: ./wsreplay run with 13 clients", f"~{m['run_part_s']:.1f} s"),
        ("    run duration (report.json: the jobs)", f"{m['report_duration_s']:.1f} s"),
        (
            "    the rest (preparing 13 clients, start-up, outputs)",
            f"~{m['run_part_s'] - m['report_duration_s']:.1f} s",
        ),
        ("sum of the jobs' durations", f"{m['sum_of_jobs_s']:.1f} s"),
        (
            "critical path (longest job)",
            f"{m['critical_path_s']:.2f} s ({m['critical_path_job']})",
        ),
        ("sum of the jobs' own waits", _seconds(m.get("sum_of_own_waits_s"), 1)),
        ("wall / critical path", _ratio(m["wall_over_critical_path"], 1)),
        ("wall / sum of jobs", _ratio(m["wall_over_sum_of_jobs"], 3)),
        ("wall / sum of own waits", _ratio(m.get("wall_over_own_waits"), 3)),
        (
            "harness overhead per job: job - adapter's own duration",
            _spread_text(m["job_minus_adapter_ms"], m["jobs_with_adapter_duration"]),
        ),
    ]
    rows += [(f"peak RSS {role}", mib(kib)) for role, kib in m["peak_rss_kib"].items()]
    rows.append(("load after", " ".join(map(str, m["load_after"]))))
    grid = _grid(
        header=["client", "jobs", "sum of jobs s", "longest job s", "longest job"],
        left=(0, 4),
        rows=[
            [
                name,
                str(c["jobs"]),
                f"{c['sum_of_jobs_s']:.1f}",
                f"{c['longest_s']:.2f}",
                c.get("longest_job", "-"),
            ]
            for name, c in m["per_client"].items()
        ],
    )
    title = "1c. ./run-matrix (13 adapters, newest, cached)"
    if m.get("scenarios", "all") != "all":
        title += f", --scenario {m['scenarios']} only (--quick)"
    return _rows(title, rows) + "\n\n" + grid


def _spread_text(o: dict, jobs: int) -> str:
    if not o:
        return "-"
    return (
        f"mean {o['mean']} ms, p50 {o['p50']}, p90 {o['p90']}, max {o['max']}; "
        f"total {o['total'] / 1000:.1f} s over {jobs} jobs"
    )


def _report(r: dict) -> str:
    sizes = r["sizes_bytes"]
    each = r["writer_s"]
    rewrite = r["rewrite_after_every_result_s"]
    rows = [
        ("results", str(r["results"])),
        ("write_all (4 files)", f"{r['write_all_s']:.2f} s"),
    ]
    rows += [(f"  {kind}", f"{each[kind]:.2f} s, {sizes[kind] / 1e6:.1f} MB") for kind in each]
    rows += [
        (
            "report.json rewritten after every result",
            f"~{rewrite['estimated_total_s']:.0f} s over the run (estimate, 10 samples)",
        ),
        (
            f"  the same for part 1's run ({r['source_run']['results']} results)",
            f"{r['source_run']['rewrite_after_every_result_s']:.1f} s (measured)",
        ),
        ("RSS with the records built", mib(r["rss_with_records_kib"])),
        ("peak RSS of the writing process", mib(r["peak_rss_kib"])),
    ]
    return _rows("2. Report assembly (wsreplay.outputs)", rows)


def _server(s: dict) -> str:
    header = ["server", "conns", "sessions/s", "p50 ms", "p99 ms", "failed", "/ bare"]
    rows = []
    for key, label, ratio_key in (
        ("wsreplay_transcripts", "wsreplay --transcripts", "ratio_transcripts_over_bare"),
        ("wsreplay_no_transcripts", "wsreplay (ring only)", "ratio_no_transcripts_over_bare"),
        ("bare", "bare C server", None),
    ):
        for conns, level in s[key]["levels"].items():
            ratio = s[ratio_key][conns] if ratio_key else 1.0
            rows.append(
                [
                    label,
                    conns,
                    f"{level['sessions_per_s']:.0f}",
                    f"{level['p50_ms']:.3f}",
                    f"{level['p99_ms']:.3f}",
                    str(level["failed"]),
                    f"{ratio:.2f}",
                ]
            )
    idle = s["idle"]
    t = s["wsreplay_transcripts"]["levels"]
    per_session = next(iter(t.values())).get("transcript_bytes_per_session", 0)
    extra = _rows(
        "   idle sessions and memory",
        [
            ("transcript on disk per session", f"{per_session} bytes"),
            (
                "peak RSS under load (transcripts / ring / bare)",
                " / ".join(
                    mib(s[k]["peak_rss_kib"])
                    for k in ("wsreplay_transcripts", "wsreplay_no_transcripts", "bare")
                ),
            ),
            (
                "idle sessions open",
                f"{idle['sessions_open']} of {idle['sessions_requested']} "
                f"({idle['sessions_failed']} failed) in {idle['open_s']:.1f} s",
            ),
            (
                "server RSS before / with them",
                f"{mib(idle['rss_before_kib'])} / {mib(idle['rss_with_sessions_kib'])}",
            ),
            ("RSS per idle session", f"{idle['rss_per_session_bytes']} bytes"),
            ("all ended after the client reset them", f"{idle['all_ended_s']} s"),
            ("RSS after they ended", mib(idle["rss_after_close_kib"])),
            (
                "server exit statuses (SIGTERM at the end)",
                " / ".join(
                    str(s[k]["exit"])
                    for k in ("wsreplay_transcripts", "wsreplay_no_transcripts", "bare", "idle")
                ),
            ),
        ],
    )
    title = (
        f"3. Server alone: {s['scenario']}, {s['seconds_per_level']:g} s per level, "
        "C load client (epoll)"
    )
    return "\n".join([title, "-" * len(title), _grid(header, rows), "", extra])
