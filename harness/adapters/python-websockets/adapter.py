#!/usr/bin/env python3
"""wsreplay adapter for the Python `websockets` library (all of its client APIs).

One script serves four adapter names, picked with ``--api``:

    python-websockets          websockets.connect, whatever the version makes
                               the default (legacy up to 13.x, the new asyncio
                               implementation from 14.0 on)
    python-websockets-asyncio  websockets.asyncio.client.connect (13.0+)
    python-websockets-legacy   websockets.legacy.client.connect
    python-websockets-sync     websockets.sync.client.connect (12.0+)

It speaks the contract in harness/adapters/README.md: a ``ready`` (or
``unsupported``) line, then one observation line per job line on stdin. It
uses only the standard library and `websockets`, and must run on every
websockets release from 10.0 to the newest, so it feature-tests the library
(``hasattr``, signatures) instead of trusting version numbers.

Choices that shape what the application "sees", and why:

- ``ping_interval=None``: keepalive pings would add frames the scenario did
  not script. Where an API has no such parameter (the sync client before it
  gained keepalive) it sends no pings anyway.
- ``open_timeout=10`` s, the library default, passed explicitly so every
  version and API behaves alike (and enforced around the call as well).
- ``close_timeout`` keeps the library default (10 s): it decides how long
  the library waits for the server's half of a closing handshake and so may
  change what it reports; a test of a client should see its defaults. Only
  for the adapter's own final close, after everything has been observed, is
  it lowered to what is left of the job's ``deadline_ms``, so a server that
  never answers a close cannot make the harness kill this process. (The
  asyncio APIs are also cut off at that point. The sync API cannot be: once
  the library has started a closing handshake on its own, its close()
  waits for the library's deadline, up to close_timeout.)
- ``proxy=None`` (15.0+): the scenario server is reached directly; a proxy
  from the environment would put another peer on the wire.
- Every other connect parameter (max_size, max_queue, compression …) keeps
  the library default, as in an application that did not tune them.
- The receive delay is ``asyncio.sleep`` / ``time.sleep`` with no call into
  the library, so its background reading goes on exactly as in a real app.

Where the close code and reason come from (the ``close`` field): first the
``ConnectionClosed`` exception that ended receiving — ``exc.rcvd.code`` /
``exc.rcvd.reason`` — because that is what the library documents as the
application's source ("inspect attributes of ConnectionClosed exceptions")
and it exists unchanged from 10.0 to 17.x; without a received close frame
the library's own convention applies (1006 and "", which is what its
deprecated ``exc.code``/``exc.reason`` and ``close_code`` say). When
receiving ended otherwise (timeout, max_messages, an error), it is read after
the adapter's own close from ``ws.close_code`` / ``ws.close_reason`` (legacy:
every version; new asyncio and sync: 14.1+), else from
``ws.protocol.close_code`` / ``close_reason``, the sans-I/O state those
properties forward to. The ``close_done`` event names the source used.

Nothing but contract lines reaches stdout: the real stdout is kept on a
private file descriptor and fd 1 (and ``sys.stdout``) point at stderr, so no
print, log record or warning from anyone can corrupt the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import inspect
import json
import logging
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

ADAPTERS = (
    "python-websockets",
    "python-websockets-asyncio",
    "python-websockets-legacy",
    "python-websockets-sync",
)

EXIT_UNSUPPORTED = 3

KNOB_DEFAULTS: dict[str, Any] = {
    "recv_delay_ms": 0,
    "recv_timeout_ms": 3000,
    "max_messages": 1000,
    "echo": False,
}

OPEN_TIMEOUT_S = 10.0
#: Message content up to this many bytes is reported inline, longer ones as sha256.
INLINE_LIMIT = 4096
#: Kept free before the job's deadline so the observation still gets out.
DEADLINE_MARGIN_S = 0.5

log = logging.getLogger("wsreplay.adapter")


class Unsupported(Exception):
    """The requested API does not exist in the installed websockets."""


class BadJob(Exception):
    """The job line is not what the contract describes (a harness bug)."""


# --------------------------------------------------------------------------
# output


class Out:
    """The contract channel: the process's original stdout, one JSON line per write."""

    def __init__(self) -> None:
        sys.stdout.flush()
        fd = os.dup(1)
        os.dup2(2, 1)  # anything else written to fd 1 now lands on stderr
        sys.stdout = sys.stderr
        self._file = os.fdopen(fd, "w", encoding="ascii", newline="\n")

    def emit(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
        self._file.write(line + "\n")
        self._file.flush()


def qualname(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def error_info(exc: BaseException) -> dict[str, str]:
    return {"type": qualname(exc), "message": str(exc) or repr(exc)}


def describe(data: str | bytes) -> dict[str, Any]:
    """A message as the contract wants it: type, byte length, content or digest."""
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
        entry: dict[str, Any] = {"type": "text", "length": len(raw)}
        if len(raw) <= INLINE_LIMIT:
            entry["text"] = data
        else:
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
    else:
        raw = bytes(data)
        entry = {"type": "binary", "length": len(raw)}
        if len(raw) <= INLINE_LIMIT:
            entry["hex"] = raw.hex()
        else:
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
    return entry


# --------------------------------------------------------------------------
# one job's record


class Observation:
    """What the application saw during one job, built up as it happens."""

    def __init__(self, job_id: Any) -> None:
        self.t0 = time.perf_counter()
        self.data: dict[str, Any] = {
            "id": job_id,
            "connected": False,
            "messages": [],
            "close": None,
            "end": None,
            "error": None,
            "unsupported": [],
            "events": [],
            "duration_ms": 0.0,
        }
        self.closed_exc: BaseException | None = None

    def start(self) -> None:
        """Mark connect_start: every t_ms is measured from here."""
        self.t0 = time.perf_counter()
        self.data["events"].append({"t_ms": 0.0, "event": "connect_start"})

    def now_ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000.0, 3)

    def event(self, name: str, **fields: Any) -> float:
        t_ms = self.now_ms()
        self.data["events"].append({"t_ms": t_ms, "event": name, **fields})
        return t_ms

    def message(self, data: str | bytes) -> dict[str, Any]:
        entry = describe(data)
        entry["t_ms"] = self.event("message", type=entry["type"], length=entry["length"])
        self.data["messages"].append(entry)
        return entry

    def end(self, how: str, exc: BaseException | None = None) -> None:
        self.data["end"] = how
        if exc is not None:
            self.data["error"] = error_info(exc)

    def finish(self) -> dict[str, Any]:
        self.data["duration_ms"] = self.now_ms()
        return self.data


def load_job(line: str) -> dict[str, Any]:
    """The job object of one stdin line."""
    try:
        job = json.loads(line)
    except ValueError as exc:
        raise BadJob(f"job line is not JSON: {exc}: {line[:200]!r}") from None
    if not isinstance(job, dict):
        raise BadJob(f"job line is not a JSON object: {line[:200]!r}")
    return job


def parse_job(
    job: dict[str, Any],
) -> tuple[str, dict[str, Any], float | None, list[str]]:
    """Check a job: url, knobs (defaults filled), deadline (s), unsupported knobs."""
    url = job.get("url")
    if not isinstance(url, str) or not url:
        raise BadJob("job has no 'url' string")
    raw_knobs = job.get("knobs") or {}
    if not isinstance(raw_knobs, dict):
        raise BadJob("job 'knobs' is not an object")
    knobs = dict(KNOB_DEFAULTS)
    unsupported = []
    for name, value in raw_knobs.items():
        if name in KNOB_DEFAULTS:
            knobs[name] = value
        elif value is not None and value is not False:
            # A knob this adapter does not know, set to something other than
            # "off": it must not be silently ignored.
            unsupported.append(name)
    for name in ("recv_delay_ms", "recv_timeout_ms", "max_messages"):
        value = knobs[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadJob(f"knob {name} must be a number, got {value!r}")
    if knobs["recv_delay_ms"] < 0 or knobs["recv_timeout_ms"] <= 0 or knobs["max_messages"] <= 0:
        raise BadJob(f"knob out of range: {raw_knobs!r}")
    if not isinstance(knobs["echo"], bool):
        raise BadJob(f"knob echo must be a boolean, got {knobs['echo']!r}")
    deadline = job.get("deadline_ms")
    deadline_s = deadline / 1000.0 if isinstance(deadline, (int, float)) and deadline > 0 else None
    return url, knobs, deadline_s, unsupported


# --------------------------------------------------------------------------
# the library's APIs


def library_version(websockets: Any) -> str:
    try:
        return str(importlib.import_module("websockets.version").version)
    except (ImportError, AttributeError):
        return str(getattr(websockets, "__version__", "unknown"))


def api_name(func: Any) -> str:
    """Where a connect callable lives, e.g. ``websockets.asyncio.client.connect``."""
    module = getattr(func, "__module__", None) or "?"
    mod = sys.modules.get(module)
    if mod is not None and getattr(mod, "connect", None) is func:
        return f"{module}.connect"
    return f"{module}.{getattr(func, '__qualname__', repr(func))}"


def select_api(adapter: str, version: str) -> tuple[str, Callable[..., Any], bool]:
    """The connect callable for an adapter name: (api description, connect, is_sync)."""
    if adapter == "python-websockets":
        import websockets

        func = websockets.connect
        return f"websockets.connect -> {api_name(func)}", func, False
    modules = {
        "python-websockets-asyncio": ("websockets.asyncio.client", "13.0", False),
        "python-websockets-legacy": ("websockets.legacy.client", "", False),
        "python-websockets-sync": ("websockets.sync.client", "12.0", True),
    }
    module_name, since, is_sync = modules[adapter]
    try:
        module = importlib.import_module(module_name)
        func = module.connect
    except (ImportError, AttributeError) as exc:
        since_text = f" (it appeared in {since})" if since else ""
        raise Unsupported(
            f"websockets {version} has no {module_name}.connect{since_text}: {exc}"
        ) from None
    return f"{module_name}.connect", func, is_sync


def connect_kwargs(func: Any) -> dict[str, Any]:
    """The connect arguments this adapter always passes, where the API names them.

    Only named parameters count: unknown keywords would land in ``**kwargs``,
    which the library forwards to the socket layer.
    """
    wanted = {"ping_interval": None, "open_timeout": OPEN_TIMEOUT_S, "proxy": None}
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {
        name: value
        for name, value in wanted.items()
        if name in params and params[name].kind in named
    }


def connection_closed_class() -> type[BaseException]:
    from websockets.exceptions import ConnectionClosed

    return ConnectionClosed


def close_from_exception(exc: BaseException) -> dict[str, Any]:
    """Code and reason of the close frame the library says it received (or 1006, "")."""
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is None:
        return {"code": 1006, "reason": ""}
    return {"code": rcvd.code, "reason": rcvd.reason}


def close_from_connection(ws: Any) -> tuple[dict[str, Any] | None, str]:
    """Code and reason from the connection object after it closed, and their source."""
    for owner, label in (
        (ws, "ws.close_code"),
        (getattr(ws, "protocol", None), "ws.protocol.close_code"),
    ):
        if owner is not None and hasattr(type(owner), "close_code"):
            return {
                "code": owner.close_code,
                "reason": getattr(owner, "close_reason", None),
            }, label
    return None, "none"


def shorten_close_timeout(ws: Any, budget_s: float | None) -> None:
    """Let the adapter's own final close end within the job's deadline.

    Every implementation reads ``close_timeout`` when a close starts, so
    lowering it here affects only this last close, never what was observed.
    Half the budget, because the legacy client may wait that long twice
    (for its close frame to go out, then for the server's answer).
    """
    if budget_s is None:
        return
    current = getattr(ws, "close_timeout", None)
    if isinstance(current, (int, float)) and current > budget_s:
        ws.close_timeout = max(0.1, budget_s / 2)


# --------------------------------------------------------------------------
# running a job


class Job:
    def __init__(
        self,
        obs: Observation,
        url: str,
        knobs: dict[str, Any],
        deadline_s: float | None,
    ):
        self.obs = obs
        self.url = url
        self.knobs = knobs
        self.deadline_s = deadline_s
        self.closed_cls = connection_closed_class()
        self.ws: Any = None

    def budget_s(self) -> float | None:
        if self.deadline_s is None:
            return None
        left = self.deadline_s - (time.perf_counter() - self.obs.t0) - DEADLINE_MARGIN_S
        return max(0.2, left)

    # The receive loop is written twice, once per calling style, but the
    # decisions are shared in these helpers so both report alike.

    def on_message(self, data: Any) -> bool:
        """Record a message; True when max_messages is reached."""
        self.obs.message(data)
        return len(self.obs.data["messages"]) >= self.knobs["max_messages"]

    def on_closed(self, exc: BaseException) -> None:
        self.obs.closed_exc = exc
        close = close_from_exception(exc)
        self.obs.event("closed", code=close["code"])
        self.obs.end("closed", exc)

    def on_error(self, exc: BaseException) -> None:
        self.obs.event("error", type=qualname(exc))
        self.obs.end("error", exc)

    def on_timeout(self) -> None:
        self.obs.event("timeout")
        self.obs.end("timeout")

    def report_close(self) -> None:
        if isinstance(self.obs.closed_exc, self.closed_cls):
            close, source = close_from_exception(self.obs.closed_exc), "exception.rcvd"
        else:
            close, source = close_from_connection(self.ws)
        self.obs.data["close"] = close
        self.obs.event("close_done", source=source)

    # -- asyncio (legacy and new implementation alike)

    async def run_async(self, connect: Callable[..., Any]) -> None:
        obs = self.obs
        obs.start()
        try:
            self.ws = await asyncio.wait_for(
                connect(self.url, **connect_kwargs(connect)), OPEN_TIMEOUT_S + 1.0
            )
        except Exception as exc:
            obs.event("connect_failed", type=qualname(exc))
            obs.end("connect_failed", exc)
            return
        obs.data["connected"] = True
        obs.event("open")
        try:
            await self.receive_async()
        finally:
            await self.close_async()

    async def receive_async(self) -> None:
        ws, knobs = self.ws, self.knobs
        if knobs["recv_delay_ms"]:
            await asyncio.sleep(knobs["recv_delay_ms"] / 1000.0)
        self.obs.event("recv_start")
        timeout_s = knobs["recv_timeout_ms"] / 1000.0
        while True:
            try:
                data = await asyncio.wait_for(ws.recv(), timeout_s)
            except asyncio.TimeoutError:
                self.on_timeout()
                return
            except self.closed_cls as exc:
                self.on_closed(exc)
                return
            except Exception as exc:
                self.on_error(exc)
                return
            if self.on_message(data):
                self.obs.event("max_messages")
                self.obs.end("max_messages")
                return
            if knobs["echo"]:
                try:
                    await ws.send(data)
                except self.closed_cls as exc:
                    self.on_closed(exc)
                    return
                except Exception as exc:
                    self.on_error(exc)
                    return
                self.obs.event("echo", type="text" if isinstance(data, str) else "binary")

    async def close_async(self) -> None:
        ws = self.ws
        self.obs.event("close_call")
        budget = self.budget_s()
        shorten_close_timeout(ws, budget)
        try:
            await asyncio.wait_for(ws.close(), budget)
        except asyncio.TimeoutError:
            self.obs.event("close_timeout")
            transport = getattr(ws, "transport", None)
            if transport is not None:
                transport.abort()
                # connection_lost runs on a later loop iteration; let it, so
                # the library's close state is final before it is read.
                for _ in range(3):
                    await asyncio.sleep(0)
        except Exception as exc:
            # The observation is complete; a failing close is only noted.
            self.obs.event("close_error", type=qualname(exc), message=str(exc))
        self.report_close()

    # -- sync (blocking calls in this thread; the library has its own reader thread)

    def run_sync(self, connect: Callable[..., Any]) -> None:
        obs = self.obs
        obs.start()
        try:
            connection = connect(self.url, **connect_kwargs(connect))
        except Exception as exc:
            obs.event("connect_failed", type=qualname(exc))
            obs.end("connect_failed", exc)
            return
        obs.data["connected"] = True
        obs.event("open")
        # The context-manager form is what 17.1+ asks for (a bare connect()
        # warns there) and works from 12.0 on; its exit is a no-op after the
        # explicit close below.
        with connection as ws:
            self.ws = ws
            try:
                self.receive_sync()
            finally:
                self.close_sync()

    def receive_sync(self) -> None:
        ws, knobs = self.ws, self.knobs
        if knobs["recv_delay_ms"]:
            time.sleep(knobs["recv_delay_ms"] / 1000.0)
        self.obs.event("recv_start")
        timeout_s = knobs["recv_timeout_ms"] / 1000.0
        while True:
            try:
                data = ws.recv(timeout=timeout_s)
            except TimeoutError:
                self.on_timeout()
                return
            except self.closed_cls as exc:
                self.on_closed(exc)
                return
            except Exception as exc:
                self.on_error(exc)
                return
            if self.on_message(data):
                self.obs.event("max_messages")
                self.obs.end("max_messages")
                return
            if knobs["echo"]:
                try:
                    ws.send(data)
                except self.closed_cls as exc:
                    self.on_closed(exc)
                    return
                except Exception as exc:
                    self.on_error(exc)
                    return
                self.obs.event("echo", type="text" if isinstance(data, str) else "binary")

    def close_sync(self) -> None:
        self.obs.event("close_call")
        shorten_close_timeout(self.ws, self.budget_s())
        try:
            self.ws.close()
        except Exception as exc:
            self.obs.event("close_error", type=qualname(exc), message=str(exc))
        self.report_close()


def run_job(line: str, connect: Callable[..., Any], is_sync: bool) -> dict[str, Any]:
    """One job line in, one observation out; never raises: adapter bugs are reported."""
    job_id: Any = None
    obs: Observation | None = None
    try:
        job = load_job(line)
        job_id = job.get("id")
        obs = Observation(job_id)
        url, knobs, deadline_s, unsupported = parse_job(job)
        if unsupported:
            obs.data["unsupported"] = sorted(unsupported)
            obs.end("unsupported")
            return obs.finish()
        runner = Job(obs, url, knobs, deadline_s)
        if is_sync:
            runner.run_sync(connect)
        else:
            asyncio.run(runner.run_async(connect))
        return obs.finish()
    except Exception as exc:  # a bug here or a bad job: report it, keep serving
        if isinstance(exc, BadJob):
            log.error("bad job %r: %s", job_id, exc)
            message = f"bad job: {exc}"
        else:
            log.exception("adapter error on job %r", job_id)
            message = traceback.format_exc()
        if obs is None:
            obs = Observation(job_id)
        obs.data["end"] = "adapter_error"
        obs.data["error"] = {"type": qualname(exc), "message": message}
        return obs.finish()


# --------------------------------------------------------------------------
# main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--api", required=True, choices=ADAPTERS, help="adapter name")
    args = parser.parse_args(argv)

    out = Out()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if os.environ.get("WSREPLAY_ADAPTER_DEBUG") else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    language = f"python {platform.python_version()}"

    try:
        import websockets
    except ImportError as exc:
        out.emit(
            {
                "event": "unsupported",
                "adapter": args.api,
                "version": None,
                "reason": f"cannot import websockets: {exc}",
            }
        )
        return EXIT_UNSUPPORTED
    version = library_version(websockets)
    try:
        api, connect, is_sync = select_api(args.api, version)
    except Unsupported as exc:
        out.emit(
            {
                "event": "unsupported",
                "adapter": args.api,
                "version": version,
                "reason": str(exc),
            }
        )
        return EXIT_UNSUPPORTED

    out.emit(
        {
            "event": "ready",
            "adapter": args.api,
            "library": "websockets",
            "version": version,
            "api": api,
            "language": language,
        }
    )
    while True:
        raw = sys.stdin.buffer.readline()
        if not raw:
            return 0
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        out.emit(run_job(line, connect, is_sync))


if __name__ == "__main__":
    sys.exit(main())
