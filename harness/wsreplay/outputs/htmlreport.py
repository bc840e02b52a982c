"""report.html: the run as one self-contained page for people.

Everything is inside the file: the stylesheet and the script (html/report.css
and html/report.js beside this module, inlined at write time) and the report
itself as JSON in a <script type="application/json">. Nothing is loaded from
the network — a Content-Security-Policy in the page forbids it — so the file
can be opened from a CI artifact, an e-mail or a laptop on a train.

The page: a header (run id, versions, totals), filters (verdict, tag, name),
and the scenario × client matrix — rows grouped by topic folder, one cell per
pair coloured by verdict with data-verdict / data-scenario / data-client
attributes. A cell links to #cell=SCENARIO|CLIENT, the pair's own view:
scenario, RFC sections and known bugs, verdict and reason, expected against
observed, the checks, and the wire transcript as a two-column timeline.

The matrix is rendered here; the cell view is built by the script from the
embedded JSON, so every record's evidence is in the file once. All text from
the report is escaped (here with html.escape, in the script by textContent).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from ..contract import ReportRecord
from ..judging.verdicts import FAILING, VERDICTS, WORDS, totals
from .records import client_entry, client_specs, pass_rate_text, records_by_pair, scenario_names
from .report import record_texts, split_header, write_chunks_atomic

HTML_NAME = "report.html"
ASSETS = Path(__file__).resolve().parent / "html"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
# Surrogates cannot be encoded; C0 controls other than tab/newline are not text.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def write_html(report: dict, out_dir: Path, texts: list[str] | None = None) -> Path:
    """Write out_dir/report.html atomically and return its path.

    `texts`: the records as JSON already (`report.record_texts`)."""
    return write_chunks_atomic(Path(out_dir) / HTML_NAME, html_chunks(report, texts))


def render_html(report: dict) -> str:
    """The whole page as a string."""
    return "".join(html_chunks(report))


def html_chunks(report: dict, texts: list[str] | None = None) -> Iterator[str]:
    """The page in pieces; the embedded report is one piece per record."""
    title = _title(report)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{esc(title)}</title>",
        f"<style>\n{_asset('report.css', '</style')}</style>",
        "</head>",
        f'<body data-title="{esc(title)}">',
        _header(report),
        "<main>",
        '<section id="matrix-view">',
        _filters(report),
        _matrix(report),
        _legend(),
        "</section>",
        '<section id="cell-view" hidden></section>',
        "</main>",
        '<script type="application/json" id="wsreplay-report">',
    ]
    yield "\n".join(parts)
    yield from _embed_report(report, texts)
    yield (
        "\n".join(
            [
                "</script>",
                '<script type="application/json" id="wsreplay-verdicts">'
                + embed_json({"order": list(VERDICTS), "words": WORDS})
                + "</script>",
                f"<script>\n{_asset('report.js', '</script')}</script>",
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )


def esc(text: object) -> str:
    """Text for HTML content or a quoted attribute value."""
    return html.escape(_UNPRINTABLE.sub("\ufffd", str(text)), quote=True)


def embed_json(report: dict) -> str:
    """The report as JSON that cannot end its <script> element early.

    `<`, `>` and `&` only occur inside JSON strings, where \\u escapes mean the
    same; ensure_ascii keeps lone surrogates from breaking the UTF-8 file.
    """
    return _script_safe(json.dumps(report, ensure_ascii=True, separators=(",", ":")))


def _embed_report(report: dict, texts: list[str] | None) -> Iterator[str]:
    """`embed_json(report)` in pieces, reusing the records' JSON texts."""
    if texts is None:
        texts = record_texts(report)
    before, after = split_header(report, ensure_ascii=True, separators=(",", ":"))
    yield _script_safe(before) + "["
    for index, text in enumerate(texts):
        yield ("" if index == 0 else ",") + _script_safe(text)
    yield "]" + _script_safe(after)


def _script_safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def cell_href(scenario: str, client: str) -> str:
    """`#cell=close/send-then-close|python-websockets@14.0`, each part URI-encoded.

    `/`, `@`, `:` and `+` stay readable; `|` and `%` are always encoded, so the
    first literal `|` separates the two parts.
    """
    return "#cell=" + quote(scenario, safe="/@:+") + "|" + quote(client, safe="/@:+")


def topic(scenario: str) -> str:
    """The scenario's topic folder: `close` for `close/send-then-close`."""
    head, sep, _ = scenario.partition("/")
    return head if sep else "(top level)"


def _asset(name: str, forbidden: str) -> str:
    text = (ASSETS / name).read_text(encoding="utf-8")
    if forbidden in text.lower():
        raise ValueError(f"{ASSETS / name} contains {forbidden!r}, which would end its element")
    return text


def _title(report: dict) -> str:
    counts = totals(report.get("results", []))
    bad = sum(counts[verdict] for verdict in FAILING)
    state = f"{bad} failing" if bad else "all passing" if counts["total"] else "no results"
    return f"wsreplay {report.get('run_id', '')}: {counts['total']} results, {state}"


def _header(report: dict) -> str:
    counts = totals(report.get("results", []))
    tool = (report.get("tool") or {}).get("version", "?")
    server = (report.get("server") or {}).get("version", "?")
    duration = report.get("duration_ms")
    facts = [
        ("started", report.get("started") or "?"),
        (
            "duration",
            f"{duration / 1000:.1f} s" if isinstance(duration, (int, float)) else "not finished",
        ),
        ("wsreplay", tool),
        ("server", server),
        ("clients", str(len(client_specs(report)))),
        ("scenarios", str(len(scenario_names(report)))),
    ]
    badges = [f'<span class="badge v-none">{counts["total"]} results</span>']
    for verdict in VERDICTS:
        badges.append(
            f'<span class="badge v-{verdict}" data-total="{verdict}">'
            f"{counts[verdict]} {esc(verdict)}</span>"
        )
    unfinished = (
        '<p class="unfinished">This run did not finish: the matrix shows what was judged.</p>'
        if report.get("finished") is None
        else ""
    )
    command = " ".join(report.get("command") or [])
    return "\n".join(
        [
            "<header>",
            f"<h1>wsreplay run <code>{esc(report.get('run_id', ''))}</code></h1>",
            '<div class="run-facts">'
            + "".join(f"<div>{esc(k)} <b>{esc(v)}</b></div>" for k, v in facts)
            + "</div>",
            f'<div class="totals" id="totals">{"".join(badges)}</div>',
            unfinished,
            f'<div class="command">{esc(command)}</div>' if command else "",
            "</header>",
        ]
    )


def _filters(report: dict) -> str:
    counts = totals(report.get("results", []))
    boxes = "".join(
        f'<label><input type="checkbox" name="verdict" value="{v}" checked> '
        f'<span class="badge v-{v}">{esc(WORDS[v])}</span> {counts[v]}</label>'
        for v in VERDICTS
    )
    tags = sorted({t for s in report.get("scenarios", []) for t in s.get("tags", [])})
    options = '<option value="">all tags</option>' + "".join(
        f'<option value="{esc(t)}">{esc(t)}</option>' for t in tags
    )
    return (
        '<form class="filters" id="filters">'
        f"<fieldset><legend>verdict</legend>{boxes}</fieldset>"
        f'<label>tag <select name="tag">{options}</select></label>'
        '<label>scenario <input type="search" name="text" placeholder="name contains"></label>'
        '<button type="button" id="only-not-passing">not passing only</button>'
        '<button type="button" id="show-all">show all</button>'
        "</form>"
        '<p class="filter-note" id="filter-note"></p>'
    )


def _matrix(report: dict) -> str:
    specs = client_specs(report)
    names = scenario_names(report)
    scenarios = {s["name"]: s for s in report.get("scenarios", [])}
    cells = records_by_pair(report)
    head = ['<th class="scenario" scope="col">scenario</th>']
    head += [_client_heading(report, spec) for spec in specs]
    rows = []
    current = None
    for name in names:
        group = topic(name)
        if group != current:
            current = group
            rows.append(
                f'<tr class="group" data-group="{esc(group)}">'
                f'<th colspan="{len(specs) + 1}" scope="rowgroup">{esc(group)}</th></tr>'
            )
        scenario = scenarios.get(name, {})
        tags = json.dumps(list(scenario.get("tags", [])), ensure_ascii=True)
        summary = scenario.get("summary") or ""
        row = [
            f'<tr class="scenario-row" data-scenario="{esc(name)}" data-group="{esc(group)}" '
            f'data-tags="{esc(tags)}">',
            f'<th class="scenario" scope="row" title="{esc(summary)}">{esc(name)}</th>',
        ]
        row += [_cell(name, spec, cells.get((name, spec))) for spec in specs]
        row.append("</tr>")
        rows.append("".join(row))
    return (
        '<div class="matrix-wrap"><table class="matrix" id="matrix">'
        f"<thead><tr>{''.join(head)}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _client_heading(report: dict, spec: str) -> str:
    entry = client_entry(report, spec)
    resolved = entry.get("resolved_version")
    library = entry.get("library")
    if resolved:
        below = f"{library} {resolved}" if library else f"resolved {resolved}"
    else:
        below = "not resolved"
    about = " · ".join(str(entry[k]) for k in ("api", "language") if entry.get(k))
    error = entry.get("error") if entry.get("status") == "error" else None
    return (
        f'<th scope="col" data-client="{esc(spec)}" title="{esc(about)}">{esc(spec)}'
        f'<span class="resolved">{esc(below)}</span>'
        + (f'<span class="client-error">{esc(_short(str(error), 80))}</span>' if error else "")
        + "</th>"
    )


def _cell(scenario: str, spec: str, record: ReportRecord | None) -> str:
    attrs = f'data-scenario="{esc(scenario)}" data-client="{esc(spec)}"'
    if record is None:
        return f'<td class="cell" data-verdict="none" {attrs} title="not run">—</td>'
    verdict = str(record.get("verdict"))
    rate = pass_rate_text(record)
    rate_html = f'<span class="rate">{esc(rate)}</span>' if rate else ""
    word = WORDS.get(verdict, verdict)
    return (
        f'<td class="cell" data-verdict="{esc(verdict)}" {attrs} '
        f'title="{esc(_short(str(record.get("reason") or ""), 300))}">'
        f'<a href="{esc(cell_href(scenario, spec))}">{esc(word)}{rate_html}</a></td>'
    )


def _legend() -> str:
    words = {
        "pass": "every expectation held",
        "fail": "the library broke RFC 6455 or lost data",
        "non-strict": "allowed by the RFC, not what it recommends",
        "informational": "recorded, never failing",
        "error": "could not be judged (harness or adapter broke); not the library's fault",
    }
    items = "".join(
        f'<span><span class="badge v-{v}">{esc(WORDS[v])}</span> {esc(words[v])}</span>'
        for v in VERDICTS
    )
    return f'<div class="legend">{items}</div>'


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
