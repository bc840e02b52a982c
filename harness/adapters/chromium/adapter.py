#!/usr/bin/env python3
"""wsreplay adapter for the browser's own WebSocket, in headless Chromium.

Speaks the contract in harness/adapters/README.md on stdin/stdout, like every
adapter, and uses only Python's standard library. The WebSocket under test is
the browser's: this process

1. serves a page on 127.0.0.1 (port 0) with ``http.server``: ``page.js`` and
   the JavaScript kit's browser half from ``../js-common/`` (``recorder.js``,
   ``event-job.js``, ``whatwg-job.js``: the WHATWG job driver node-undici
   runs too);
2. starts ONE headless Chromium for its whole life, with a fresh temporary
   profile, pointed at that page;
3. for each job line, hands the job to the page (the page long-polls
   ``POST /next``), which runs it with ``new WebSocket(url, protocols)`` and
   posts the observation back (``POST /result``); the observation goes out on
   stdout as it is.

The browser is started with ``--headless --no-sandbox --disable-gpu
--disable-quic --no-first-run --disable-background-networking
--disable-component-update --disable-sync --disable-extensions
--no-proxy-server --disable-dev-shm-usage`` and ``--user-data-dir`` in a new
temporary directory: nothing from a user's profile, no traffic besides the
page and the scenario server. It runs in its own process group and gets
SIGKILL if this process dies (``PR_SET_PDEATHSIG``), so a killed adapter
leaves no browser behind.

TLS (wss:// jobs): Chromium on Linux takes locally trusted roots from the NSS
database in ``$HOME/.pki/nssdb``. The browser runs with HOME in the temporary
directory; for the first job that names a ``ca_file`` (and again if another
CA comes) the adapter makes a new NSS database there with ``certutil`` (apt
package libnss3-tools) holding exactly that CA as a trusted issuer for
servers (``-t C,,``), then restarts the browser so it reads it. Certificate
checks stay on; nothing is pinned or ignored.

recv_delay_ms / recv_pace_ms: the page's main thread spins for that long
(see js-common/whatwg-job.js: the WHATWG API has no pause and no receive call; a busy
application is the honest analogue). The browser's network process keeps
reading the socket meanwhile, as it always does.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# The Python adapter kit, for the contract channel (``Out``): this process is
# a Python adapter; the WebSocket code it runs in the page is the JavaScript kit.
sys.path.insert(0, str(HERE.parent / "python-common"))
from wsreplay_adapterkit import EXIT_UNSUPPORTED, Out  # noqa: E402

ADAPTER = "chromium"
#: The JavaScript adapter kit; the page loads these from it, in this order.
KIT = HERE.parent / "js-common"
KIT_SCRIPTS = ("recorder.js", "event-job.js", "whatwg-job.js")
PAGE_JS = HERE / "page.js"
PAGE_HTML = (
    '<!doctype html>\n<meta charset="utf-8">\n<title>wsreplay chromium adapter</title>\n'
    + "".join(f'<script src="/{name}"></script>\n' for name in (*KIT_SCRIPTS, "page.js"))
).encode()

#: How long the browser may take to start and load the page.
START_TIMEOUT_S = 25.0
#: A long poll answers 204 after this long, and the page asks again.
POLL_S = 15.0
#: Margin over a job's deadline_ms before the page is declared stuck.
JOB_MARGIN_S = 3.0
#: Used when a job names no deadline.
DEFAULT_JOB_S = 30.0
#: The adapter's temp dirs (profile, HOME, browser log): <tmp>/wsreplay-chromium-*.
TEMP_PREFIX = "wsreplay-chromium-"

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
    "--disable-dev-shm-usage",
]

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the browser's child process, before exec: SIGKILL when we die."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def log(text: str) -> None:
    sys.stderr.write(f"chromium-adapter: {text}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# the page's side: one job slot, results by job id


class Exchange:
    """Jobs to the page and observations back, for the current page generation."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.generation = 0
        self.job: dict[str, Any] | None = None
        self.results: dict[str, Any] = {}
        self.hello: dict[str, Any] | None = None

    def new_generation(self) -> int:
        with self.cond:
            self.generation += 1
            self.job = None
            self.hello = None
            self.cond.notify_all()
            return self.generation

    def offer(self, job: dict[str, Any]) -> None:
        with self.cond:
            self.job = job
            self.cond.notify_all()

    def take(self, generation: int, timeout: float) -> dict[str, Any] | bool | None:
        """The job for a poll of ``generation``; None after timeout, False if outdated."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                if generation != self.generation:
                    return False
                if self.job is not None:
                    job, self.job = self.job, None
                    return job
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def put_result(self, obs: dict[str, Any]) -> None:
        with self.cond:
            self.results[str(obs.get("id"))] = obs
            self.cond.notify_all()

    def wait_result(self, job_id: str, timeout: float) -> dict[str, Any] | None:
        end = time.monotonic() + timeout
        with self.cond:
            while job_id not in self.results:
                left = end - time.monotonic()
                if left <= 0:
                    self.job = None  # not taken yet: withdraw it
                    return None
                self.cond.wait(left)
            result = self.results.pop(job_id)
            self.results.clear()  # anything else is a leftover of an abandoned job
            return result

    def put_hello(self, generation: int, info: dict[str, Any]) -> None:
        with self.cond:
            if generation == self.generation:
                self.hello = info
                self.cond.notify_all()

    def wait_hello(self, timeout: float) -> dict[str, Any] | None:
        end = time.monotonic() + timeout
        with self.cond:
            while self.hello is None:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.hello


def make_handler(exchange: Exchange) -> type[http.server.BaseHTTPRequestHandler]:
    static = {
        "/": ("text/html; charset=utf-8", lambda: PAGE_HTML),
        "/page.js": ("text/javascript; charset=utf-8", PAGE_JS.read_bytes),
        **{
            f"/{name}": ("text/javascript; charset=utf-8", (KIT / name).read_bytes)
            for name in KIT_SCRIPTS
        },
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # one line per poll would drown the adapter's log

        def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _path_and_generation(self) -> tuple[str, int]:
            path, _, query = self.path.partition("?")
            match = re.search(r"(?:^|&)gen=(\d+)", query)
            return path, int(match[1]) if match else 0

        def do_GET(self) -> None:
            path, _ = self._path_and_generation()
            if path not in static:
                self._send(404)
                return
            ctype, read = static[path]
            self._send(200, read(), ctype)

        def do_POST(self) -> None:
            path, generation = self._path_and_generation()
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                self._send(400)
                return
            if path == "/next":
                job = exchange.take(generation, POLL_S)
                if job is False:
                    self._send(410)
                elif job is None:
                    self._send(204)
                else:
                    self._send(200, json.dumps(job).encode(), "application/json")
            elif path == "/result":
                exchange.put_result(body)
                self._send(204)
            elif path == "/hello":
                exchange.put_hello(generation, body)
                self._send(204)
            elif path == "/log":
                log(f"page: {body.get('text')}")
                self._send(204)
            else:
                self._send(404)

    return Handler


class PageServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The browser going away mid-poll (a restart, the end) is routine.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------
# the browser


def remove_leftovers() -> None:
    """Delete the temp dirs of adapters that were killed (SIGKILL leaves them behind)."""
    for root in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            pid = int((root / "pid").read_text())
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(root, ignore_errors=True)  # its adapter is gone
        except (OSError, ValueError):
            continue  # not ours to judge (another user's, or being made right now)


class Browser:
    """One headless Chromium with its own temporary HOME and profile."""

    def __init__(self, binary: Path, page_url: str, exchange: Exchange) -> None:
        self.binary = binary
        self.page_url = page_url
        self.exchange = exchange
        remove_leftovers()
        self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        (self.root / "pid").write_text(str(os.getpid()))
        self.home = self.root / "home"
        self.home.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None
        self.ca_file: str | None = None
        self.hello: dict[str, Any] | None = None
        self.starts = 0

    def start(self) -> dict[str, Any]:
        """Start the browser (a fresh profile each time) and wait for the page's hello."""
        self.stop()
        self.starts += 1
        generation = self.exchange.new_generation()
        profile = self.root / f"profile-{self.starts}"
        log_path = self.root / f"chromium-{self.starts}.log"
        env = dict(os.environ)
        env["HOME"] = str(self.home)  # NSS reads $HOME/.pki/nssdb
        argv = [
            str(self.binary),
            *FLAGS,
            f"--user-data-dir={profile}",
            f"{self.page_url}?gen={generation}",
        ]
        with open(log_path, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # only a prebound prctl call: safe with threads
            )
        hello = self.exchange.wait_hello(START_TIMEOUT_S)
        if hello is None:
            tail = self.log_tail(log_path)
            self.stop()
            raise RuntimeError(
                f"Chromium did not load the adapter's page within {START_TIMEOUT_S:.0f} s; "
                f"its output ends: {tail}"
            )
        self.hello = hello
        return hello

    @staticmethod
    def log_tail(path: Path) -> str:
        try:
            return path.read_text(errors="replace").strip()[-1500:] or "(nothing)"
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def trust(self, ca_file: str) -> None:
        """Make exactly this CA the browser's trusted root; restart to load it."""
        if ca_file == self.ca_file and self.alive():
            return
        certutil = shutil.which("certutil")
        if certutil is None:
            raise RuntimeError(
                "wss:// needs certutil to give the browser the run's CA: "
                "apt-get install libnss3-tools"
            )
        nssdb = self.home / ".pki" / "nssdb"
        shutil.rmtree(nssdb, ignore_errors=True)
        nssdb.mkdir(parents=True)
        for argv in (
            [certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"],
            [
                certutil,
                "-A",
                "-d",
                f"sql:{nssdb}",
                "-n",
                "wsreplay-run-ca",
                "-t",
                "C,,",
                "-i",
                ca_file,
            ],
        ):
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            if proc.returncode != 0:
                raise RuntimeError(
                    f"{' '.join(argv)} failed (exit {proc.returncode}): "
                    f"{(proc.stderr or proc.stdout).strip()[-500:]}"
                )
        self.ca_file = ca_file
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def browser_version(binary: Path, hello: dict[str, Any]) -> str:
    """The full version the browser reports about itself."""
    for brand in hello.get("fullVersionList") or []:
        if brand.get("brand") in ("Chromium", "Google Chrome", "HeadlessChrome"):
            return str(brand.get("version"))
    proc = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = re.search(r"\d+(?:\.\d+){1,3}", proc.stdout)
    return match[0] if match else "unknown"


# --------------------------------------------------------------------------
# jobs


def failed_observation(job_id: Any, message: str, kind: str = "AdapterError") -> dict[str, Any]:
    return {
        "id": job_id,
        "connected": False,
        "messages": [],
        "close": None,
        "end": "adapter_error",
        "error": {"type": kind, "message": message},
        "unsupported": [],
        "events": [],
        "duration_ms": 0.0,
    }


def crashed_observation(job_id: Any, status: int | None) -> dict[str, Any]:
    """The browser process exited while the job ran: the job's ``crash``."""
    return {
        "id": job_id,
        "connected": False,
        "messages": [],
        "close": None,
        "end": "error",
        "error": {"type": "BrowserExited", "message": f"the browser exited (status {status})"},
        "unsupported": [],
        "clean": None,
        "clean_source": "none: the browser exited before the page reported anything",
        "crash": {
            "type": "BrowserExited",
            "message": f"the Chromium process exited with status {status} during the job",
            "where": "the browser process (nothing the page did)",
        },
        "events": [],
        "duration_ms": 0.0,
    }


def run_job(line: str, browser: Browser, exchange: Exchange) -> dict[str, Any]:
    try:
        job = json.loads(line)
    except ValueError as exc:
        return failed_observation(None, f"bad job: job line is not JSON: {exc}: {line[:200]!r}")
    if not isinstance(job, dict):
        return failed_observation(None, f"bad job: not a JSON object: {line[:200]!r}")
    job_id = job.get("id")
    try:
        url = str(job.get("url") or "")
        if url.startswith("wss:") and job.get("ca_file"):
            browser.trust(str(job["ca_file"]))
        if not browser.alive():
            log("the browser is gone; starting it again")
            browser.start()
        deadline = job.get("deadline_ms")
        wait_s = (
            deadline / 1000.0 + JOB_MARGIN_S
            if isinstance(deadline, (int, float)) and deadline > 0
            else DEFAULT_JOB_S
        )
        exchange.offer(job)
        obs = exchange.wait_result(str(job_id), wait_s)
        if obs is None:
            alive = browser.alive()
            status = browser.proc.returncode if browser.proc is not None else None
            log(f"no observation for job {job_id!r} within {wait_s:.1f} s; restarting the browser")
            browser.start()
            if not alive:
                # The browser under test died during the job: in a user's
                # browser that is a crash, not an adapter failure.
                return crashed_observation(job_id, status)
            return failed_observation(
                job_id,
                f"the page gave no observation within {wait_s:.1f} s "
                f"(browser {'still running' if alive else 'had exited'})",
            )
        return obs
    except Exception as exc:
        log(f"adapter error on job {job_id!r}:\n{traceback.format_exc()}")
        return failed_observation(job_id, f"{type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--chromium", required=True, type=Path, help="the browser binary")
    args = parser.parse_args(argv)
    out = Out()

    exchange = Exchange()
    server = PageServer(("127.0.0.1", 0), make_handler(exchange))
    page_url = f"http://127.0.0.1:{server.server_address[1]}/"
    threading.Thread(target=server.serve_forever, name="page-server", daemon=True).start()

    browser = Browser(args.chromium, page_url, exchange)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        try:
            hello = browser.start()
        except Exception as exc:
            out.emit(
                {
                    "event": "unsupported",
                    "adapter": ADAPTER,
                    "version": None,
                    "reason": f"cannot start {args.chromium}: {exc}",
                }
            )
            return EXIT_UNSUPPORTED
        out.emit(
            {
                "event": "ready",
                "adapter": ADAPTER,
                "library": "chromium",
                "version": browser_version(args.chromium, hello),
                "api": "new WebSocket(url, protocols) in the page (WHATWG)",
                "language": f"{hello.get('userAgent')}",
            }
        )
        for raw in sys.stdin.buffer:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                out.emit(run_job(line, browser, exchange))
        return 0
    finally:
        browser.close()
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
