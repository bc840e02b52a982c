"""report.html in a real browser: headless Chromium, driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: JSON messages ended by NUL on
fds 3 and 4), with nothing but the standard library.

Checked: one cell per (scenario, client) in its verdict's colour (computed
style), the filters, the cell view a click opens (reason, expected/observed,
the wire timeline), links to a cell, hostile text staying text, a narrow
window, and that the page asks the network for nothing. Screenshots go to
the session's pytest temporary folder (``screenshots/`` beside the browser's
profile), never into the repository, and their paths are printed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from test_junit import HOSTILE, ODD, REAL_CLIENTS, REAL_SCENARIOS, real_run, sample_report
from wsreplay.judging.verdicts import DISPLAY_ORDER, VERDICTS, WORDS
from wsreplay.outputs.htmlreport import HTML_NAME, cell_href, render_html, write_html
from wsreplay.outputs.records import client_specs, pass_rate_text, records_by_pair, scenario_names

CHROMIUM = os.environ.get("WSREPLAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
COMMAND_TIMEOUT_S = 30.0
WIDE = (1280, 900)
NARROW = (420, 860)

# Run in the page before the child process is spawned: moves the pipe ends
# to the fds Chromium expects (3: commands in, 4: answers out), then execs.
_TRAMPOLINE = (
    "import os, sys; a, b = int(sys.argv[1]), int(sys.argv[2]); "
    "os.dup2(a, 3); os.dup2(b, 4); os.close(a); os.close(b); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


class Chromium:
    """A headless Chromium and its DevTools pipe: send a command, read events."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "chromium.log"
        self.screenshots = workdir / "screenshots"
        cmd_r, cmd_w = os.pipe()  # we write commands, Chromium reads fd 3
        ans_r, ans_w = os.pipe()  # Chromium writes fd 4, we read answers
        # Above 10 so the trampoline's dup2 onto 3 and 4 cannot clobber them.
        child_in = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(ans_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(cmd_r)
        os.close(ans_w)
        argv = [
            sys.executable,
            "-c",
            _TRAMPOLINE,
            str(child_in),
            str(child_out),
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={workdir / 'profile'}",
            "about:blank",
        ]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(child_in, child_out),
            )
        os.close(child_in)
        os.close(child_out)
        self.out_fd = cmd_w
        self.in_fd = ans_r
        self.buffer = b""
        self.last_id = 0
        self.events: list[dict] = []

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium did not answer; its log:\n{self.log_tail()}")
            ready, _, _ = select.select([self.in_fd], [], [], left)
            if ready:
                chunk = os.read(self.in_fd, 1 << 20)
                if not chunk:
                    raise EOFError(f"Chromium closed the pipe; its log:\n{self.log_tail()}")
                self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and return its result; events read meanwhile are kept."""
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.out_fd, data) :]
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self.last_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_event(self, method: str, session: str) -> dict:
        deadline = time.monotonic() + COMMAND_TIMEOUT_S
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(self._read(deadline))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.out_fd)
        os.close(self.in_fd)


class Page:
    """One tab: load a file, evaluate JavaScript, take screenshots."""

    def __init__(self, browser: Chromium) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.target = target
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict | None = None) -> dict:
        return self.browser.send(method, params, self.session)

    def open(self, path: Path, size: tuple[int, int] = WIDE, fragment: str = "") -> None:
        self.resize(size)
        self.send("Page.navigate", {"url": path.resolve().as_uri() + fragment})
        self.browser.wait_event("Page.loadEventFired", self.session)

    def resize(self, size: tuple[int, int]) -> None:
        width, height = size
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def eval(self, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, condition: str, timeout_ms: int = 5000) -> None:
        """Wait until a JavaScript condition holds (hashchange runs after the click)."""
        ok = self.eval(
            "new Promise(done => { const t0 = Date.now(); (function poll() {"
            f" if ({condition}) done(true);"
            f" else if (Date.now() - t0 > {timeout_ms}) done(false);"
            " else setTimeout(poll, 20); })(); })"
        )
        assert ok, f"timed out waiting for {condition}"

    def screenshot(self, name: str) -> Path:
        """The whole page (up to 8000 px) as PNG in the browser's screenshots folder."""
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        clip = {
            "x": 0,
            "y": 0,
            "width": size["width"],
            "height": min(size["height"], 8000),
            "scale": 1,
        }
        shot = self.send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        self.browser.screenshots.mkdir(parents=True, exist_ok=True)
        path = self.browser.screenshots / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        print(f"screenshot: {path}")
        return path

    def problems(self) -> list[str]:
        """Script errors, console errors and any request that left the file system."""
        found = []
        for event in self.browser.events:
            if event.get("sessionId") != self.session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(f"log: {params['entry']['text']}")
            elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
                found.append(f"console: {params['args']}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    found.append(f"network: {url}")
        return found

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    assert os.access(CHROMIUM, os.X_OK), (
        f"{CHROMIUM} not found: install Debian's chromium (./bootstrap --test does)"
    )
    chromium = Chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def page(browser: Chromium) -> Iterator[Page]:
    tab = Page(browser)
    yield tab
    problems = tab.problems()
    tab.close()
    assert not problems, problems


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    report = sample_report(finished=True)
    out = tmp_path_factory.mktemp("html-sample")
    return report, write_html(report, out)


# ------------------------------------------------------------ helpers

CELLS_JS = """[...document.querySelectorAll('#matrix td.cell')].map(td => ({
  verdict: td.dataset.verdict, scenario: td.dataset.scenario, client: td.dataset.client,
  text: td.textContent, background: getComputedStyle(td).backgroundColor,
  visible: !td.closest('tr').hidden && !td.classList.contains('filtered')}))"""


def _rgb(css: str) -> tuple[int, int, int]:
    assert css.startswith("rgb"), css
    parts = css[css.index("(") + 1 : css.index(")")].split(",")
    red, green, blue = (int(float(p)) for p in parts[:3])
    return red, green, blue


def _colour_fits(verdict: str, css: str) -> bool:
    """The colour family each verdict must have, whatever the exact shade."""
    r, g, b = _rgb(css)
    return {
        "pass": g > r + 20 and g > b + 20,  # green
        "fail": r > g + 60 and r > b + 60,  # red
        "non-strict": r > b + 80 and g > b + 40 and r >= g,  # amber
        "informational": b >= r and b >= g - 10,  # blue / blue-grey
        "error": b > g + 20 and r > g + 10 and max(r, g, b) < 160,  # dark purple
        "none": abs(r - g) < 12 and abs(g - b) < 12,  # grey
    }[verdict]


def _check_matrix(page: Page, report: dict) -> list[dict]:
    """One cell per (scenario, client), each with its record's verdict and colour."""
    cells = page.eval(CELLS_JS)
    specs = client_specs(report)
    names = scenario_names(report)
    assert len(cells) == len(specs) * len(names)
    records = records_by_pair(report)
    for cell in cells:
        record = records.get((cell["scenario"], cell["client"]))
        assert cell["verdict"] == (record["verdict"] if record else "none"), cell
        assert _colour_fits(cell["verdict"], cell["background"]), cell
        rate = pass_rate_text(record) if record else ""
        if rate:
            assert cell["text"].endswith(rate), cell
    by_verdict = {cell["verdict"]: cell["background"] for cell in cells}
    assert len(set(by_verdict.values())) == len(by_verdict)  # one colour per verdict
    return cells


def _timeline_counts(record: dict) -> dict[str, int]:
    """How many timeline rows each column must have for this record."""
    server_events = (record.get("transcript") or {}).get("events") or []
    app_events = (record.get("observed") or {}).get("events") or []
    client = sum(1 for e in server_events if e.get("dir") == "in") + len(app_events)
    return {"server": len(server_events) + len(app_events) - client, "client": client}


def _open_cell_by_click(page: Page, record: dict) -> None:
    href = cell_href(record["scenario"], record["client"])
    page.eval(f"document.querySelector('#matrix td.cell a[href=\"{href}\"]').click()")
    page.wait_for("!document.getElementById('cell-view').hidden")
    assert page.eval("decodeURIComponent(location.hash)") == _decoded(href)
    assert page.eval("document.getElementById('matrix-view').hidden") is True


def _decoded(href: str) -> str:
    return unquote(href)


def _check_cell_view(page: Page, record: dict) -> None:
    view = page.eval(
        """(() => { const v = document.getElementById('cell-view');
        const rows = [...v.querySelectorAll('#timeline .tl-row:not(.tl-head)')];
        return {reason: (v.querySelector('#cell-reason') || {}).textContent,
                verdict: (v.querySelector('#cell-verdict') || {dataset: {}}).dataset.verdict,
                scenario: v.querySelector('article').dataset.scenario,
                client: v.querySelector('article').dataset.client,
                server: rows.filter(r => r.dataset.side === 'server').length,
                client_rows: rows.filter(r => r.dataset.side === 'client').length,
                expected_observed: !!v.querySelector('#expected-observed'),
                text: v.textContent}; })()"""
    )
    assert view["reason"] == record["reason"]
    assert view["verdict"] == record["verdict"]
    assert (view["scenario"], view["client"]) == (record["scenario"], record["client"])
    assert view["expected_observed"]
    counts = _timeline_counts(record)
    assert (view["server"], view["client_rows"]) == (counts["server"], counts["client"])
    if record.get("transcript"):
        assert "server → client" in view["text"]
    else:
        assert "No server transcript" in view["text"]


# ------------------------------------------------------------ the tests


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def test_the_page_is_self_contained(sample: tuple[dict, Path]) -> None:
    report, path = sample
    text = path.read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(text)
    tags = [tag for tag, _ in parser.tags]
    for outside in ("link", "img", "iframe", "object", "embed", "base", "audio", "video"):
        assert outside not in tags, outside
    assert not [attrs for _, attrs in parser.tags if "src" in attrs or "srcset" in attrs]
    hrefs = [attrs["href"] for _, attrs in parser.tags if "href" in attrs]
    assert hrefs and all(h.startswith("#cell=") for h in hrefs)  # only links into the page
    style = "".join(parser.styles)
    assert "url(" not in style and "@import" not in style
    csp = [a["content"] for t, a in parser.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0].startswith("default-src 'none'")
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [
        {"type": "application/json", "id": "wsreplay-report"},
        {"type": "application/json", "id": "wsreplay-verdicts"},
        {},
    ]
    embedded = text.split('id="wsreplay-report">', 1)[1].split("</script>", 1)[0]
    assert "<" not in embedded and "&" not in embedded  # cannot close its element
    assert json.loads(embedded) == json.loads(json.dumps(report))
    # The script words verdicts from the one vocabulary, not a copy of its own.
    vocabulary = text.split('id="wsreplay-verdicts">', 1)[1].split("</script>", 1)[0]
    assert json.loads(vocabulary) == {"order": list(VERDICTS), "words": WORDS}


def test_matrix_cells_in_verdict_colours(page: Page, sample: tuple[dict, Path]) -> None:
    report, path = sample
    page.open(path)
    cells = _check_matrix(page, report)
    assert {c["verdict"] for c in cells} == {
        "pass",
        "fail",
        "non-strict",
        "informational",
        "error",
        "none",
    }
    groups = page.eval("[...document.querySelectorAll('#matrix tr.group')].map(g => g.textContent)")
    assert groups == ["close", "handshake", "odd"]
    headers = page.eval(
        "[...document.querySelectorAll('#matrix thead th')].map(t => t.textContent)"
    )
    assert headers == [
        "scenario",
        "python-websockets@14.0websockets 14.0",
        "python-websocketswebsockets 15.0.1",  # spec, then library and version below it
    ]
    totals = page.eval("document.getElementById('totals').textContent")
    assert f"{len(report['results'])} results" in totals
    page.screenshot("sample-matrix")


def test_click_on_a_failed_cell_opens_its_view(page: Page, sample: tuple[dict, Path]) -> None:
    report, path = sample
    page.open(path)
    failed = next(
        r
        for r in report["results"]
        if r["verdict"] == "fail" and r["client"].endswith("@14.0") and r["scenario"] != ODD
    )
    _open_cell_by_click(page, failed)
    _check_cell_view(page, failed)
    text = page.eval("document.getElementById('cell-view').textContent")
    for expected in (
        "TEXT frame",
        "'final message'",
        "CLOSE frame",
        "close 1000 'bye'",
        "HTTP 101",
    ):
        assert expected in text
    assert "RFC 6455 §5.5.1" in text
    rfc = page.eval("document.querySelector('#cell-view a[href*=\"rfc-editor\"]').href")
    assert rfc == "https://www.rfc-editor.org/rfc/rfc6455#section-5.5.1"
    # hex of the write, cut to 32 bytes with a count of the rest
    assert "81 0d 66 69 6e 61 6c 20 6d 65 73 73 61 67 65" in text
    page.screenshot("sample-cell-fail")
    # back to the matrix
    page.eval("document.getElementById('back').click()")
    page.wait_for("!document.getElementById('matrix-view').hidden")
    assert page.eval("document.getElementById('cell-view').hidden") is True


def test_repeated_and_error_cells(page: Page, sample: tuple[dict, Path]) -> None:
    report, path = sample
    page.open(path)
    repeated = next(r for r in report["results"] if r.get("runs", 1) > 1)
    _open_cell_by_click(page, repeated)
    _check_cell_view(page, repeated)
    runs = page.eval("[...document.querySelectorAll('#per-run .run')].map(b => b.className)")
    assert len(runs) == 10 and sum("v-fail" in c for c in runs) == 3
    page.eval("history.back()")
    page.wait_for("!document.getElementById('matrix-view').hidden")
    error = next(r for r in report["results"] if r["verdict"] == "error")
    _open_cell_by_click(page, error)
    _check_cell_view(page, error)  # no transcript, no observation: said so
    assert "boom <&> " in page.eval("document.getElementById('cell-view').textContent")


def test_hostile_text_stays_text(page: Page, sample: tuple[dict, Path]) -> None:
    report, path = sample
    odd = next(r for r in report["results"] if r["scenario"] == ODD)
    # a link straight to the cell (the odd name has | < & " ' in it)
    page.open(path, fragment=cell_href(ODD, odd["client"]))
    page.wait_for("!document.getElementById('cell-view').hidden")
    _check_cell_view(page, odd)
    view = page.eval(
        """({h2: document.querySelector('#cell-view h2').textContent,
             imgs: document.querySelectorAll('img').length,
             scripts: document.querySelectorAll('script').length,
             pwned: window.pwned === undefined ? null : window.pwned,
             links: [...document.querySelectorAll('#cell-view a')].map(a => a.getAttribute('href')),
             text: document.getElementById('cell-view').textContent})"""
    )
    assert view["h2"].startswith(ODD)
    assert (view["imgs"], view["scripts"], view["pwned"]) == (0, 3, None)  # the page's own 3
    assert "javascript:alert(3)" not in view["links"]  # shown, not linked
    assert "https://example.org/a?b=1&c=<2>" in view["links"]
    assert "javascript:alert(3)" in view["text"]
    assert HOSTILE in view["text"]  # the summary, verbatim
    page.screenshot("sample-cell-hostile")
    page.eval("location.hash = ''")
    page.wait_for("!document.getElementById('matrix-view').hidden")
    row = page.eval(
        f"[...document.querySelectorAll('#matrix tr.scenario-row')]"
        f".find(r => r.dataset.scenario === {json.dumps(ODD)}).querySelector('th').textContent"
    )
    assert row == ODD


def test_filters_hide_rows_and_cells(page: Page, sample: tuple[dict, Path]) -> None:
    _, path = sample
    page.open(path)

    def visible() -> dict[str, int]:
        cells = page.eval(CELLS_JS)
        out: dict[str, int] = {}
        for cell in cells:
            if cell["visible"]:
                out[cell["verdict"]] = out.get(cell["verdict"], 0) + 1
        return out

    everything = visible()
    assert sum(everything.values()) == 8
    page.eval("document.getElementById('only-not-passing').click()")
    shown = visible()
    assert "pass" not in shown and "none" not in shown and shown["fail"] == 3
    rows = page.eval(
        "[...document.querySelectorAll('#matrix tr.scenario-row')].filter(r => !r.hidden).length"
    )
    assert rows == 4  # every scenario has a non-passing cell
    page.eval("document.getElementById('show-all').click()")
    assert visible() == everything
    page.eval(
        "const s = document.querySelector('select[name=tag]'); s.value = 'odd';"
        " s.dispatchEvent(new Event('change', {bubbles: true}))"
    )
    names = page.eval(
        "[...document.querySelectorAll('#matrix tr.scenario-row')].filter(r => !r.hidden)"
        ".map(r => r.dataset.scenario)"
    )
    assert names == [ODD]
    groups = page.eval(
        "[...document.querySelectorAll('#matrix tr.group')].filter(g => !g.hidden)"
        ".map(g => g.dataset.group)"
    )
    assert groups == ["odd"]
    note = page.eval("document.getElementById('filter-note').textContent")
    assert note == "1 of 4 scenario(s) shown"
    page.screenshot("sample-filtered")


def test_narrow_window(page: Page, sample: tuple[dict, Path]) -> None:
    report, path = sample
    page.open(path, size=NARROW)
    overflow = "document.documentElement.scrollWidth - window.innerWidth"
    assert page.eval(overflow) <= 0  # the matrix scrolls in its own box, not the page
    page.screenshot("sample-matrix-narrow")
    failed = next(r for r in report["results"] if r["verdict"] == "fail")
    _open_cell_by_click(page, failed)
    assert page.eval(overflow) <= 0
    columns = page.eval(
        "getComputedStyle(document.querySelector('#timeline .tl-row:not(.tl-head)'))"
        ".gridTemplateColumns.split(' ').length"
    )
    assert columns == 2  # time | event: the two sides fold into one column
    page.screenshot("sample-cell-narrow")


def test_rendering_is_stable() -> None:
    report = sample_report(finished=True)
    assert render_html(report) == render_html(report)


@pytest.mark.e2e
def test_real_run(tmp_path_factory: pytest.TempPathFactory, page: Page) -> None:
    report, out = real_run(tmp_path_factory.mktemp("html"))
    assert [c["spec"] for c in report["clients"]] == list(REAL_CLIENTS)
    page.open(out / HTML_NAME)
    cells = _check_matrix(page, report)
    assert len(cells) == len(REAL_SCENARIOS) * len(REAL_CLIENTS)
    assert all(c["verdict"] != "none" for c in cells)
    page.screenshot("real-run-matrix")
    worst = sorted(report["results"], key=lambda r: DISPLAY_ORDER.index(r["verdict"]))[0]
    _open_cell_by_click(page, worst)
    _check_cell_view(page, worst)
    page.screenshot("real-run-cell")
