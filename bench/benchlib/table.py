"""The figures as text tables: one block per part, one figure per row."""

from __future__ import annotations


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f} MiB"


def render(figures: dict) -> str:
    blocks = [_machine(figures["machine"])]
    if "harness" in figures:
        blocks.append(_harness(figures["harness"]))
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


def _grid(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        # the first column left-aligned (names), the rest right-aligned (figures)
        cells = zip(row, widths, strict=True)
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(cells))

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
    blocks = []
    for name, r in h["runs"].items():
        o = r["overhead_per_job_ms"]
        rows = [
            ("client", h["client"]),
            (
                "scenarios",
                f"{h['scenarios']} ({r['jobs']} jobs, exit {r['exit']}: "
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
            ("sum of step budgets (upper bound)", f"{r['sum_of_step_budgets_s']:.1f} s"),
            ("wall / critical path", f"{r['wall_over_critical_path']:.1f}"),
            ("wall / sum of jobs", f"{r['wall_over_sum_of_jobs']:.3f}"),
            (
                "harness overhead per job (job - session)",
                _spread_text(o, r["jobs_with_transcript"]),
            ),
            (
                "job - adapter's own duration (harness alone)",
                _spread_text(r["job_minus_adapter_ms"], r["jobs_with_adapter_duration"]),
            ),
        ]
        rows += [(f"peak RSS {role}", mib(kib)) for role, kib in r["peak_rss_kib"].items()]
        rows.append(("load after", " ".join(map(str, r["load_after"]))))
        blocks.append(_rows(f"1. Harness: the catalogue, {name}", rows))
    if not h["jobs_option"]:
        blocks.append("--jobs: `wsreplay run` has no --jobs option yet; only the default was run")
    return "\n\n".join(blocks)


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
