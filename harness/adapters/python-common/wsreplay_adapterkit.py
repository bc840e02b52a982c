"""What every wsreplay Python adapter shares: the contract, the knobs, the receive loop.

The adapters in ``harness/adapters/python-*/`` each drive one client library
in its own venv, so this module cannot be installed there: an adapter puts
this folder on ``sys.path`` and imports it. It uses only the standard
library and knows no client library. It holds:

- the contract channel (`Out`): only contract lines reach the real stdout;
- the job (`parse_job`): the knobs of harness/adapters/README.md, as the
  harness sends them (all of them, defaults filled and values checked by its
  loader), and the knobs a driver cannot honour (→ ``end: unsupported``);
- the observation (`Observation`): messages, events, timestamps;
- the application's behaviour (`_application`): connect, send, close first,
  wait, receive, pace, echo, end, close — written once, as a generator of
  steps, so every library is driven alike; `drive_async` awaits each step,
  `drive_sync` calls it. A *driver* object per library supplies the calls
  into the library (see `AsyncDriver` / `SyncDriver`);
- `serve`: the ready line, then one observation per job line.

Timing rules shared by every driver:

- ``recv_delay_ms`` / ``recv_pace_ms`` are plain sleeps with no call into the
  library, so its own background reading goes on as in a real application.
- ``recv_timeout_ms`` bounds each wait for the next message (and, after a
  ``close_first`` call, the wait for the library's end signal).
- ``close_first.after_ms`` interrupts whatever the application is doing at
  that moment (a sleep or a receive wait; drivers must make a receive wait
  that ends early lose nothing), calls the library's close, then receiving
  goes on until the library signals the end.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import importlib
import importlib.metadata
import json
import logging
import os
import platform
import socket
import ssl
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

EXIT_UNSUPPORTED = 3

#: Message content up to this many bytes is reported inline, longer ones as sha256.
INLINE_LIMIT = 4096
#: Kept free before the job's deadline so the observation still gets out.
DEADLINE_MARGIN_S = 0.5
#: The longest an adapter lets the opening handshake take (cut to the deadline).
OPEN_TIMEOUT_S = 10.0

log = logging.getLogger("wsreplay.adapter")


class BadJob(Exception):
    """The job line is not what the contract describes (a harness bug)."""


# --------------------------------------------------------------------------
# output


class Out:
    """The contract channel: the process's original stdout, one JSON line per write.

    fd 1 and ``sys.stdout`` are pointed at stderr, so no print, log record
    or warning from any library can corrupt the protocol.
    """

    def __init__(self) -> None:
        sys.stdout.flush()
        fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._file = os.fdopen(fd, "w", encoding="ascii", newline="\n")

    def emit(self, obj: dict[str, Any]) -> None:
        line = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(", ", ": "))
        self._file.write(line + "\n")
        self._file.flush()


def qualname(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def exc_text(exc: BaseException) -> str:
    """The exception's text. A library whose exception cannot even be printed
    (its __str__ raises) has crashed: that is reported as the job's crash."""
    try:
        return str(exc) or repr(exc)
    except Exception as inner:  # the library's own __str__ failed
        WATCH.report(
            qualname(inner),
            f"str() of the library's {qualname(exc)} raised {qualname(inner)}: {inner!r}",
            "in the __str__ of an exception the library raised",
        )
        return f"<str() of {qualname(exc)} raised {qualname(inner)}>"


def error_info(exc: BaseException) -> dict[str, str]:
    return {"type": qualname(exc), "message": exc_text(exc)}


def describe(data: str | bytes | bytearray | memoryview) -> dict[str, Any]:
    """A message as the contract wants it: type, byte length, content or digest."""
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
        entry: dict[str, Any] = {"type": "text", "length": len(raw)}
        if len(raw) <= INLINE_LIMIT:
            entry["text"] = data
        else:
            entry["sha256"] = hashlib.sha256(raw).hexdigest()
        return entry
    raw = bytes(data)
    entry = {"type": "binary", "length": len(raw)}
    if len(raw) <= INLINE_LIMIT:
        entry["hex"] = raw.hex()
    else:
        entry["sha256"] = hashlib.sha256(raw).hexdigest()
    return entry


def close_from_payload(payload: bytes | None) -> dict[str, Any]:
    """Code and reason of a raw close frame payload (no code: both null)."""
    payload = bytes(payload or b"")
    if len(payload) < 2:
        return {"code": None, "reason": None}
    return {
        "code": int.from_bytes(payload[:2], "big"),
        "reason": payload[2:].decode("utf-8", "replace"),
    }


# --------------------------------------------------------------------------
# the job


@dataclass(frozen=True)
class CloseFirst:
    """The application closes the connection itself (``close_first`` knob)."""

    code: int | None
    reason: str
    after_messages: int | None
    after_ms: float | None


@dataclass(frozen=True)
class Knobs:
    """A job's client knobs, every one of them: the harness sends them all, with
    the scenario language's defaults filled in and the values checked by the
    loader (harness/wsreplay/scenarios.py), so the kit applies no defaults of
    its own and checks no values again; it only reads their form."""

    recv_delay_ms: float
    recv_pace_ms: float
    recv_timeout_ms: float
    max_messages: int
    echo: bool
    #: (kind, payload): ("text", str), ("binary", bytes), ("ping", bytes)
    send: tuple[tuple[str, Any], ...]
    close_first: CloseFirst | None
    subprotocols: tuple[str, ...]
    #: "default", "off", "on" or a dict of offer parameters (see `compression_offer`)
    compression: str | dict[str, Any]


#: The knobs of the contract, as `Knobs` names them.
KNOB_NAMES = tuple(f.name for f in fields(Knobs))

#: The permessage-deflate parameters an object value of the `compression` knob may give.
DEFLATE_PARAMS = (
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
)


def parse_offer(header: str) -> dict[str, Any] | None:
    """The parameters of a ``permessage-deflate`` offer as the header gives it
    (``True`` for a parameter without a value, an int for a number); None for
    an empty header. Only for offers a library builds itself (no quoting)."""
    parts = [part.strip() for part in header.split(";") if part.strip()]
    if not parts:
        return None
    params: dict[str, Any] = {}
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        params[name.strip()] = int(value) if sep and value.strip().isdigit() else (value or True)
    return params


def offer_meets(offer: dict[str, Any] | None, wanted: str | dict[str, Any]) -> bool:
    """Whether a library that always sends ``offer`` honours the ``compression`` knob.

    For libraries with no compression option at all: ``offer`` is the
    permessage-deflate offer they send (its parameters, ``True`` for one
    without a value), ``None`` when they send none. "default" is always
    honoured; "off" when there is no offer; "on" when there is one (the
    library's own); an object when each key it gives is in the offer as
    given (a flag given as false: absent from the offer).
    """
    if wanted == "default":
        return True
    if wanted == "off":
        return offer is None
    if offer is None or not isinstance(wanted, dict):
        return wanted == "on" and offer is not None
    for key, value in wanted.items():
        if value is False:
            if key in offer:
                return False
        elif key not in offer or type(offer[key]) is not type(value) or offer[key] != value:
            return False
    return True


@dataclass
class Job:
    id: Any
    url: str
    knobs: Knobs
    deadline_s: float | None
    ca_file: str | None
    #: knobs this adapter does not even know (from a newer contract)
    unknown: list[str] = field(default_factory=list)


def _send_items(value: list[dict[str, str]]) -> tuple[tuple[str, Any], ...]:
    """The send knob as (kind, payload): hex as binary bytes, a ping's text as bytes."""
    items = []
    for index, item in enumerate(value):
        for kind, payload in item.items():
            if kind == "text":
                items.append(("text", payload))
            elif kind == "hex":
                items.append(("binary", bytes.fromhex(payload)))
            elif kind == "ping":
                items.append(("ping", payload.encode("utf-8")))
            else:
                raise BadJob(f"knob send[{index}] has unknown kind {kind!r}")
    return tuple(items)


def _close_first(value: dict[str, Any] | None) -> CloseFirst | None:
    if value is None:
        return None
    return CloseFirst(
        value.get("code"),
        value.get("reason", ""),
        value.get("after_messages"),
        value.get("after_ms"),
    )


def parse_job(line: str) -> Job:
    """The job of one stdin line; `BadJob` if it is not what the harness sends."""
    try:
        job = json.loads(line)
    except ValueError as exc:
        raise BadJob(f"job line is not JSON: {exc}: {line[:200]!r}") from None
    if not isinstance(job, dict):
        raise BadJob(f"job line is not a JSON object: {line[:200]!r}")
    url = job.get("url")
    if not isinstance(url, str) or not url:
        raise BadJob("job has no 'url' string")
    raw = job.get("knobs")
    if not isinstance(raw, dict):
        raise BadJob("job 'knobs' is not an object")
    missing = [name for name in KNOB_NAMES if name not in raw]
    if missing:
        raise BadJob(f"job lacks the knobs {missing}: the harness sends every knob")
    unknown = [
        name
        for name, value in raw.items()
        if name not in KNOB_NAMES and value is not None and value is not False
    ]
    knobs = Knobs(
        recv_delay_ms=raw["recv_delay_ms"],
        recv_pace_ms=raw["recv_pace_ms"],
        recv_timeout_ms=raw["recv_timeout_ms"],
        max_messages=raw["max_messages"],
        echo=raw["echo"],
        send=_send_items(raw["send"]),
        close_first=_close_first(raw["close_first"]),
        subprotocols=tuple(raw["subprotocols"]),
        compression=raw["compression"],
    )
    deadline = job.get("deadline_ms")
    deadline_s = (
        deadline / 1000.0
        if isinstance(deadline, (int, float)) and not isinstance(deadline, bool) and deadline > 0
        else None
    )
    ca_file = job.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise BadJob(f"job 'ca_file' must be a string, got {ca_file!r}")
    return Job(job.get("id"), url, knobs, deadline_s, ca_file, unknown)


def tls_context(job: Job) -> ssl.SSLContext | None:
    """For a wss:// URL: a client context that trusts exactly the job's CA, else None.

    ``create_default_context(cafile=...)`` loads only that file (no system
    roots) and keeps certificate and host name verification on.
    """
    if not job.url.lower().startswith("wss:"):
        return None
    if not job.ca_file:
        raise BadJob("a wss:// job without 'ca_file'")
    return ssl.create_default_context(cafile=job.ca_file)


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
            "subprotocol": None,
            "t0_unix_us": None,
            "clean": None,
            "clean_source": None,
            "crash": None,
            "events": [],
            "duration_ms": 0.0,
        }

    def start(self) -> None:
        """Mark connect_start: every t_ms is measured from here.

        ``t0_unix_us`` is the same instant on the wall clock (µs since the
        Unix epoch), for the harness to place the events on the server
        transcript's clock.
        """
        self.t0 = time.perf_counter()
        self.data["t0_unix_us"] = time.time_ns() // 1000
        self.data["events"].append({"t_ms": 0.0, "event": "connect_start"})

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.t0

    def now_ms(self) -> float:
        return round(self.elapsed_s() * 1000.0, 3)

    def event(self, name: str, **fields: Any) -> float:
        t_ms = self.now_ms()
        self.data["events"].append({"t_ms": t_ms, "event": name, **fields})
        return t_ms

    def message(self, data: str | bytes) -> int:
        """Record a received message; the number of messages so far."""
        entry = describe(data)
        entry["t_ms"] = self.event("message", type=entry["type"], length=entry["length"])
        self.data["messages"].append(entry)
        return len(self.data["messages"])

    def end(self, how: str, exc: BaseException | None = None) -> None:
        if self.data["end"] is None:
            self.data["end"] = how
            if exc is not None:
                self.data["error"] = error_info(exc)

    def crash(self, exc_type: str, message: str, where: str) -> None:
        """An exception the library raised outside any call the application awaits.

        The first one is the observation's ``crash``; each one is a ``crash`` event.
        """
        info = {"type": exc_type, "message": message, "where": where}
        self.event("crash", **info)
        if self.data["crash"] is None:
            self.data["crash"] = info

    def finish(self) -> dict[str, Any]:
        self.data["duration_ms"] = self.now_ms()
        return self.data


# --------------------------------------------------------------------------
# crashes: exceptions no application call would ever see


class CrashWatch:
    """Catches, process-wide, the exceptions a library raises outside the application's calls.

    In a real application these are lost (a thread dies, asyncio logs "Task
    exception was never retrieved") or kill the process. They are attributed
    to the job running when they happen (`current`); one raised between jobs
    goes to the next job, saying so. Installed once by `serve` (threads) and
    per event loop by `drive_async` (asyncio).
    """

    def __init__(self) -> None:
        self.current: Observation | None = None
        self.last_id: Any = None
        self.between: list[dict[str, str]] = []
        #: futures the adapter itself created (their exceptions are the adapter's)
        self.own: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            self._installed = True
            self._previous = threading.excepthook
            threading.excepthook = self.thread_hook

    def begin(self, obs: Observation) -> None:
        with self._lock:
            self.current = obs
            pending, self.between = self.between, []
        for info in pending:
            obs.crash(**info)

    def done(self, obs: Observation) -> None:
        with self._lock:
            if self.current is obs:
                self.current = None
                self.last_id = obs.data.get("id")

    def report(self, exc_type: str, message: str, where: str) -> None:
        with self._lock:
            obs = self.current
            if obs is None:
                where = f"{where}; raised between jobs, after job {self.last_id!r}"
                self.between.append({"exc_type": exc_type, "message": message, "where": where})
                return
        obs.crash(exc_type, message, where)

    def thread_hook(self, args: threading.ExceptHookArgs) -> None:
        """threading.excepthook: an exception ended a thread (the library's own, as a rule)."""
        self._previous(args)  # the usual traceback on stderr
        if args.exc_type is SystemExit or args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        self.report(
            qualname(args.exc_value),
            str(args.exc_value) or repr(args.exc_value),
            f"thread {name!r}",
        )

    def loop_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The event loop's exception handler: an exception nobody awaited or caught."""
        loop.default_exception_handler(context)  # the usual log line on stderr
        exc = context.get("exception")
        if not isinstance(exc, BaseException) or isinstance(exc, asyncio.CancelledError):
            return  # a warning without an exception (e.g. an unclosed session)
        future = context.get("future") or context.get("task")
        if future is not None and future in self.own:
            log.warning("the adapter's own future failed unseen: %r", exc)
            return
        where = str(context.get("message") or "asyncio")
        if future is not None:
            coro = getattr(future, "get_coro", lambda: None)()
            name = getattr(coro, "__qualname__", None) or repr(future)[:200]
            where = f"{where} ({name})"
        elif context.get("handle") is not None:
            where = f"{where} ({str(context['handle'])[:200]})"
        self.report(qualname(exc), str(exc) or repr(exc), f"asyncio: {where}")


WATCH = CrashWatch()


def adapter_future(fut: Any) -> Any:
    """Mark a future the adapter created itself (its exception is not the library's crash)."""
    WATCH.own.add(fut)
    return fut


# --------------------------------------------------------------------------
# drivers: the calls into one library


@dataclass
class Received:
    """What one receive call gave the application.

    ``kind``: ``message`` (``data`` is str or bytes), ``closed`` (the
    library's end-of-connection signal; ``exc`` if it came as an exception,
    ``close`` the code/reason it carried, if any), ``error`` (any other
    exception, in ``exc``), ``timeout`` (nothing arrived in time; a driver
    must lose nothing when its wait ends this way).
    """

    kind: str
    data: Any = None
    exc: BaseException | None = None
    close: dict[str, Any] | None = None


class AsyncDriver(Protocol):
    """One library's calls, asyncio style. Everything may raise; the loop records it."""

    #: the agreed subprotocol, set by connect()
    subprotocol: str | None

    def unsupported(self, knobs: Knobs) -> list[str]:
        """Knobs this library or version cannot honour (among those set to
        something other than null, false or the default)."""

    def http_status(self, exc: BaseException) -> int | None:
        """The HTTP status a failed connect reports, if the library exposes one."""

    def is_closed(self, exc: BaseException) -> bool:
        """True if ``exc`` (raised by send or close) is the library's "closed" signal."""

    async def connect(self, job: Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        """Open ``job.url`` offering ``job.knobs.subprotocols``; set ``subprotocol``.

        ``tls`` (wss:// only) trusts exactly ``job.ca_file``; give up after ``timeout_s``.
        """

    async def send(self, kind: str, payload: Any) -> None:
        """kind: text (str), binary (bytes) or ping (bytes)."""

    async def receive(self, timeout_s: float) -> Received: ...

    async def close(self, code: int | None, reason: str) -> None:
        """The application's close call (close_first); ``code`` None: the call without a code."""

    async def finish(self, budget_s: float) -> None:
        """The adapter's own close at the end of a job; must return within ``budget_s``.

        Also called after a failed connect (then with no connection), to
        release whatever connect left behind.
        """

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        """(the close as the library exposes it after the end, where it was read).

        The dict carries ``"observable": False`` where the library's API has
        no close code at all on the path the connection ended by.
        """

    def clean_info(self) -> tuple[bool | None, str | None]:
        """(how the library reported the closure: clean True/False, or None if its API
        does not tell; where that was read)."""

    def is_timeout(self, exc: BaseException) -> bool:
        """True if ``exc`` (raised by connect) is a timeout, not a refusal; see `is_timeout`."""


class SyncDriver(Protocol):
    """The same calls for a blocking library."""

    subprotocol: str | None

    def unsupported(self, knobs: Knobs) -> list[str]: ...

    def http_status(self, exc: BaseException) -> int | None: ...

    def is_closed(self, exc: BaseException) -> bool: ...

    def connect(self, job: Job, tls: ssl.SSLContext | None, timeout_s: float) -> None: ...

    def send(self, kind: str, payload: Any) -> None: ...

    def receive(self, timeout_s: float) -> Received: ...

    def close(self, code: int | None, reason: str) -> None: ...

    def finish(self, budget_s: float) -> None: ...

    def close_info(self) -> tuple[dict[str, Any] | None, str]: ...

    def clean_info(self) -> tuple[bool | None, str | None]: ...

    def is_timeout(self, exc: BaseException) -> bool: ...


def is_timeout(exc: BaseException) -> bool:
    """A timeout by Python's own classes (asyncio.TimeoutError and socket.timeout are
    TimeoutError from 3.11 on; both are named here for older Pythons)."""
    return isinstance(exc, (TimeoutError, asyncio.TimeoutError, socket.timeout))


def call_with_timeout(
    fn: Callable[[], Any],
    timeout_s: float,
    what: str,
    on_late: Callable[[Any], None] | None = None,
) -> Any:
    """``fn()`` in a helper thread, given up after ``timeout_s`` (raises TimeoutError).

    For a blocking library call that has no timeout of its own, or one that
    does not hold (an application would hang there). Its exception, if it
    raises in time, is raised here. The helper thread is a daemon and is left
    to the library; if ``fn`` returns after all, ``on_late`` gets the result
    (to release it).
    """
    result: dict[str, Any] = {}
    lock = threading.Lock()

    def run() -> None:
        try:
            value = fn()
        except BaseException as exc:  # handed to the caller below
            with lock:
                result["exc"] = exc
            return
        with lock:
            result["value"] = value
            late = result.get("gave_up", False)
        if late and on_late is not None:
            try:
                on_late(value)
            except Exception:
                log.exception("releasing what %s returned too late", what)

    helper = threading.Thread(target=run, name=what, daemon=True)
    helper.start()
    helper.join(timeout_s)
    with lock:
        if "exc" in result:
            raise result["exc"]
        if "value" in result:
            return result["value"]
        result["gave_up"] = True
    raise TimeoutError(f"{what} did not return within {timeout_s:.1f} s")


# --------------------------------------------------------------------------
# the application's behaviour, written once


class Session:
    """The state and records of one job's behaviour (`_application`)."""

    def __init__(self, job: Job, obs: Observation) -> None:
        self.job = job
        self.knobs = job.knobs
        self.obs = obs
        self.close_first = job.knobs.close_first
        self.close_called = False
        self.count = 0

    # -- time

    def budget_s(self) -> float:
        """What is left of the job's deadline, less a margin (at least 0.2 s)."""
        if self.job.deadline_s is None:
            return 30.0
        return max(0.2, self.job.deadline_s - self.obs.elapsed_s() - DEADLINE_MARGIN_S)

    def open_timeout_s(self) -> float:
        return min(OPEN_TIMEOUT_S, self.budget_s())

    def close_at_s(self) -> float | None:
        """When (since connect_start) a time-based close_first is due, if still pending."""
        cf = self.close_first
        if cf is None or self.close_called or cf.after_ms is None:
            return None
        return cf.after_ms / 1000.0

    def time_close_due(self) -> bool:
        at = self.close_at_s()
        return at is not None and self.obs.elapsed_s() >= at

    def count_close_due(self) -> bool:
        cf = self.close_first
        return (
            cf is not None
            and not self.close_called
            and cf.after_messages is not None
            and self.count >= cf.after_messages
        )

    def sleep_slices(self, seconds: float) -> list[tuple[str, float]]:
        """A sleep cut where a time-based close falls into it: [("sleep", s) | ("close", 0)]."""
        if seconds <= 0:
            return [("close", 0.0)] if self.time_close_due() else []
        now = self.obs.elapsed_s()
        end = now + seconds
        at = self.close_at_s()
        if at is None or at >= end:
            return [("sleep", seconds)]
        return [("sleep", max(0.0, at - now)), ("close", 0.0), ("sleep", max(0.0, end - at))]

    # -- records

    def opened(self, subprotocol: str | None) -> None:
        self.obs.data["connected"] = True
        self.obs.data["subprotocol"] = subprotocol
        self.obs.event("open", subprotocol=subprotocol)

    def connect_failed(
        self, exc: BaseException, status: int | None, d: AsyncDriver | SyncDriver
    ) -> None:
        """The opening handshake did not give a connection: refused, or cut off by a timeout.

        A timeout (the adapter's open timeout, or the library's own open
        timeout, which the adapter sets to the same value) is a hang, not a
        refusal: ``end: connect_timeout``.
        """
        check = getattr(d, "is_timeout", None) or is_timeout
        if check(exc):
            how = "connect_timeout"
            waited_ms = round(self.obs.elapsed_s() * 1000.0)
            self.obs.event(how, type=qualname(exc), waited_ms=waited_ms)
        else:
            how = "connect_failed"
            self.obs.event(how, type=qualname(exc))
        if status is not None:
            self.obs.data["http_status"] = status
        self.obs.end(how, exc)
        self.obs.data["clean_source"] = "none: never connected"

    def send_failed(self, what: str, kind: str, exc: BaseException) -> None:
        """A send (the ``send`` knob, or an echo) raised: record it, keep receiving.

        Messages the library already holds still reach the application, and
        the end comes from the next receive call, as in an application that
        only logs a failed send.
        """
        self.obs.event(what, type=kind, error=error_info(exc))

    def ended(self, got: Received, d: AsyncDriver | SyncDriver) -> None:
        """A receive (or send) ended receiving: closed or error."""
        if got.kind == "closed":
            close = got.close if got.close is not None else d.close_info()[0]
            code = close.get("code") if close else None
            self.obs.event("closed", code=code)
            self.obs.end("closed", got.exc)
        else:
            assert got.exc is not None
            self.obs.event("error", type=qualname(got.exc))
            self.obs.end("error", got.exc)

    def close_call(self) -> tuple[int | None, str]:
        cf = self.close_first
        assert cf is not None
        self.close_called = True
        self.obs.event("close_call", why="knob", code=cf.code, reason=cf.reason)
        return cf.code, cf.reason


# The behaviour below is a generator of *steps*: what to ask of the library
# next, as the name of a driver call and its arguments ("connect", "send",
# "receive", "close", "finish"), or ("sleep", seconds) for the application's
# own waits. A shell — `drive_async` awaiting each step, `drive_sync`
# calling it — performs the step and sends its result back, or throws in
# what it raised, so every decision exists once for both calling styles.

Step = tuple  # (driver call name, *args), or ("sleep", seconds)
if TYPE_CHECKING:  # a subscripted collections.abc.Generator needs Python 3.9 at run time
    Steps = Generator[Step, Any, Any]


def _call_close_first(s: Session, d: AsyncDriver | SyncDriver) -> Steps:
    """The application's close; a ``closed`` Received if it raised the library's end signal."""
    code, reason = s.close_call()
    try:
        yield ("close", code, reason)
    except Exception as exc:
        if d.is_closed(exc):
            return Received("closed", exc=exc)
        s.obs.event("close_error", type=qualname(exc), message=exc_text(exc))
        return None
    s.obs.event("close_returned")
    return None


def _sleep(s: Session, d: AsyncDriver | SyncDriver, seconds: float) -> Steps:
    """A plain sleep, cut by a time-based close_first falling into it."""
    for what, value in s.sleep_slices(seconds):
        if what == "sleep":
            yield ("sleep", value)
        elif s.close_at_s() is not None:  # due now (a timer may wake a hair early)
            got = yield from _call_close_first(s, d)
            if got is not None:
                return got
    return None


def _receive_loop(s: Session, d: AsyncDriver | SyncDriver) -> Steps:
    """send, close_first after 0 messages, recv_delay_ms, then receive until the end."""
    k, obs = s.knobs, s.obs
    for kind, payload in k.send:
        length = len(payload.encode() if kind == "text" else payload)
        try:
            yield ("send", kind, payload)
        except Exception as exc:
            obs.event("send", kind=kind, length=length, error=error_info(exc))
            continue
        obs.event("send", kind=kind, length=length)
    if s.count_close_due():
        got = yield from _call_close_first(s, d)
        if got is not None:
            s.ended(got, d)
            return
    got = yield from _sleep(s, d, k.recv_delay_ms / 1000.0)
    if got is not None:
        s.ended(got, d)
        return
    obs.event("recv_start")
    window_end = obs.elapsed_s() + k.recv_timeout_ms / 1000.0
    while True:
        if s.time_close_due():
            got = yield from _call_close_first(s, d)
            if got is not None:
                s.ended(got, d)
                return
            window_end = obs.elapsed_s() + k.recv_timeout_ms / 1000.0
        now = obs.elapsed_s()
        if now >= window_end:
            obs.event("timeout")
            obs.end("timeout")
            return
        wait = window_end - now
        at = s.close_at_s()
        if at is not None:
            wait = min(wait, max(0.0, at - now))
        got = yield ("receive", wait)
        if got.kind == "timeout":
            continue  # the top of the loop sees what is due: the close, or the end
        if got.kind != "message":
            s.ended(got, d)
            return
        s.count = obs.message(got.data)
        if k.echo:
            kind = "text" if isinstance(got.data, str) else "binary"
            try:
                yield ("send", kind, got.data)
            except Exception as exc:  # receiving goes on until the library signals the end
                s.send_failed("echo", kind, exc)
            else:
                obs.event("echo", type=kind)
        if s.count_close_due():
            closed = yield from _call_close_first(s, d)
            if closed is not None:
                s.ended(closed, d)
                return
        if s.count >= k.max_messages:
            obs.event("max_messages")
            obs.end("max_messages")
            return
        closed = yield from _sleep(s, d, k.recv_pace_ms / 1000.0)
        if closed is not None:
            s.ended(closed, d)
            return
        window_end = obs.elapsed_s() + k.recv_timeout_ms / 1000.0


def _application(d: AsyncDriver | SyncDriver, job: Job, obs: Observation) -> Steps:
    """One job: connect, behave as the knobs say, the adapter's own close, the close as exposed."""
    s = Session(job, obs)
    tls = tls_context(job)
    obs.start()
    try:
        yield ("connect", job, tls, s.open_timeout_s())
    except Exception as exc:
        s.connect_failed(exc, d.http_status(exc), d)
        try:
            yield ("finish", s.budget_s())  # releases what a failed connect left behind
        except Exception:
            log.exception("releasing after a failed connect")
        return
    s.opened(d.subprotocol)
    try:
        yield from _receive_loop(s, d)
    finally:
        obs.event("close_call", why="end")
        try:
            yield ("finish", s.budget_s())
        except TimeoutError:
            obs.event("close_timeout")
        except Exception as exc:
            obs.event("close_error", type=qualname(exc), message=exc_text(exc))
        close, source = d.close_info()
        obs.data["close"] = close
        obs.event("close_done", source=source)
        obs.data["clean"], obs.data["clean_source"] = d.clean_info()


class _Run:
    """The steps of one `_application`, one at a time: the outcome of each step,
    set in ``result`` or ``raised`` by the shell, goes back in before the next."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.result: Any = None
        self.raised: BaseException | None = None

    def __iter__(self) -> _Run:
        return self

    def __next__(self) -> Step:
        result, raised = self.result, self.raised
        self.result = self.raised = None
        if raised is not None:
            return self.steps.throw(raised)  # raised here, as if by the step's yield
        return self.steps.send(result)


async def drive_async(d: AsyncDriver, job: Job, obs: Observation) -> None:
    """One job with an asyncio library: each step of `_application` awaited."""
    asyncio.get_running_loop().set_exception_handler(WATCH.loop_handler)
    run = _Run(_application(d, job, obs))
    for name, *args in run:
        call = asyncio.sleep if name == "sleep" else getattr(d, name)
        try:
            run.result = await call(*args)
        except BaseException as exc:  # the behaviour decides, as in an application
            run.raised = exc


def drive_sync(d: SyncDriver, job: Job, obs: Observation) -> None:
    """One job with a blocking library: the same steps as `drive_async`, called."""
    run = _Run(_application(d, job, obs))
    for name, *args in run:
        call = time.sleep if name == "sleep" else getattr(d, name)
        try:
            run.result = call(*args)
        except BaseException as exc:  # the behaviour decides, as in an application
            run.raised = exc


# --------------------------------------------------------------------------
# the process


def run_job(line: str, new_driver: Callable[[], Any], is_async: bool) -> dict[str, Any]:
    """One job line in, one observation out; never raises: adapter bugs are reported."""
    obs = Observation(None)
    try:
        try:
            obs.data["id"] = json.loads(line).get("id")
        except (ValueError, AttributeError):
            pass
        job = parse_job(line)
        driver = new_driver()
        unsupported = sorted(set(job.unknown) | set(driver.unsupported(job.knobs)))
        if unsupported:
            obs.data["unsupported"] = unsupported
            obs.data["end"] = "unsupported"
            return obs.finish()
        WATCH.begin(obs)
        try:
            if is_async:
                asyncio.run(drive_async(driver, job, obs))
            else:
                drive_sync(driver, job, obs)
            # a task or future the library dropped reports its exception when collected
            gc.collect()
        finally:
            WATCH.done(obs)
        return obs.finish()
    except Exception as exc:  # a bug here or a bad job: report it, keep serving
        if isinstance(exc, BadJob):
            log.error("bad job %r: %s", obs.data["id"], exc)
            message = f"bad job: {exc}"
        else:
            log.exception("adapter error on job %r", obs.data["id"])
            message = traceback.format_exc()
        obs.data["end"] = "adapter_error"
        obs.data["error"] = {"type": qualname(exc), "message": message}
        return obs.finish()


def setup_logging() -> None:
    """Logs to stderr; the library's debug log with WSREPLAY_ADAPTER_DEBUG=1."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if os.environ.get("WSREPLAY_ADAPTER_DEBUG") else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def distribution_version(name: str) -> str | None:
    """The installed version of a distribution, without importing it (None if absent)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def refuse(out: Out, adapter: str, version: str | None, reason: str) -> int:
    """The ``unsupported`` start line: this version lacks the adapter's API."""
    out.emit({"event": "unsupported", "adapter": adapter, "version": version, "reason": reason})
    return EXIT_UNSUPPORTED


def serve(
    out: Out,
    *,
    adapter: str,
    library: str,
    version: str,
    api: str,
    new_driver: Callable[[], Any],
    is_async: bool,
) -> int:
    """The ready line, then one observation per job line until EOF on stdin."""
    WATCH.install()
    out.emit(
        {
            "event": "ready",
            "adapter": adapter,
            "library": library,
            "version": version,
            "api": api,
            "language": f"python {platform.python_version()}",
        }
    )
    while True:
        raw = sys.stdin.buffer.readline()
        if not raw:
            return 0
        line = raw.decode("utf-8", "replace").strip()
        if line:
            out.emit(run_job(line, new_driver, is_async))


class Refused(Exception):
    """Raised by an adapter's ``setup`` (see `main`): this version lacks the
    adapter's API. The message is the reason the ``unsupported`` line gives."""


@dataclass(frozen=True)
class Library:
    """The library under test, as the ``ready`` line names it, and its driver:
    `serve`'s keywords, but for the adapter's name."""

    library: str
    version: str
    api: str
    new_driver: Callable[[], Any]
    is_async: bool


def main(
    adapter: str,
    distribution: str,
    module: str,
    setup: Callable[[str | None], Library],
) -> int:
    """An adapter's whole life, for an adapter of one library and one API.

    The contract channel and logging first; then ``module`` is imported (a
    release that cannot be imported on this Python is refused, saying why),
    ``setup(version)`` names the library and its driver (``version``: the
    installed ``distribution``'s, None if absent) or raises `Refused`; then
    `serve`.
    """
    out = Out()
    setup_logging()
    version = distribution_version(distribution)
    try:
        importlib.import_module(module)
    except Exception as exc:
        reason = f"cannot import {module} on this Python: {qualname(exc)}: {exc}"
        return refuse(out, adapter, version, reason)
    try:
        lib = setup(version)
    except Refused as exc:
        return refuse(out, adapter, version, str(exc))
    return serve(out, adapter=adapter, **vars(lib))
