#!/usr/bin/env python3
"""wsreplay adapter for the Python `websockets` library (all of its client APIs).

One script serves four adapter names, picked with ``--api``:

    python-websockets          websockets.connect, whatever the version makes
                               the default (legacy up to 13.x, the new asyncio
                               implementation from 14.0 on)
    python-websockets-asyncio  websockets.asyncio.client.connect (13.0+)
    python-websockets-legacy   websockets.legacy.client.connect
    python-websockets-sync     websockets.sync.client.connect (12.0+)

It speaks the contract in harness/adapters/README.md through the shared
``wsreplay_adapterkit`` (harness/adapters/python-common/), which holds the
job, the knobs and the application's behaviour; this file holds only the
calls into `websockets`. It uses only the standard library and `websockets`,
and must run on every websockets release from 10.0 to the newest, so it
feature-tests the library (``hasattr``, signatures) instead of trusting
version numbers.

Choices that shape what the application "sees", and why:

- ``ping_interval=None``: keepalive pings would add frames the scenario did
  not script. Where an API has no such parameter (the sync client before it
  gained keepalive) it sends no pings anyway.
- ``open_timeout``: the library default (10 s), or less when the job's
  deadline is nearer, passed explicitly so every version and API behaves
  alike (and enforced around the call as well).
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
- ``subprotocols`` only when the job offers some; ``ssl`` (``ssl_context``
  in the 12.x sync client) only for wss:// URLs: a context that trusts
  exactly the job's CA.
- ``compression`` (the knob): "default" passes nothing; "off"
  ``compression=None``; "on" ``compression="deflate"``; an object
  ``compression=None, extensions=[ClientPerMessageDeflateFactory(**object)]``.
  A value the factory refuses (17.4 refuses ``client_max_window_bits`` 8)
  is reported unsupported.
- Every other connect parameter (max_size, max_queue …) keeps the library
  default, as in an application that did not tune them.
- A receive wait that ends early (``recv_timeout_ms``, or a
  ``close_first.after_ms`` falling into it) cancels ``recv()`` (asyncio) or
  uses ``recv(timeout=...)`` (sync): the library documents both as losing
  nothing.
- ``send`` pings go out with ``ping(data)``; the adapter does not wait for
  the pong. ``close_first`` calls ``close(code, reason)`` (``close()`` for a
  null code), which returns once the closing handshake is over; receiving
  then goes on until ``ConnectionClosed``.

Where the close code and reason come from (the ``close`` field): first the
``ConnectionClosed`` exception that ended receiving (or a send, or the
application's close) — ``exc.rcvd.code`` / ``exc.rcvd.reason`` — because that
is what the library documents as the application's source ("inspect
attributes of ConnectionClosed exceptions") and it exists unchanged from
10.0 to 17.x; without a received close frame the library's own convention
applies (1006 and "", which is what its deprecated ``exc.code``/``exc.reason``
and ``close_code`` say). When receiving ended otherwise (timeout,
max_messages, an error), it is read after the adapter's own close from
``ws.close_code`` / ``ws.close_reason`` (legacy: every version; new asyncio
and sync: 14.1+), else from ``ws.protocol.close_code`` / ``close_reason``,
the sans-I/O state those properties forward to. The ``close_done`` event
names the source used.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))

import wsreplay_adapterkit as kit

ADAPTERS = (
    "python-websockets",
    "python-websockets-asyncio",
    "python-websockets-legacy",
    "python-websockets-sync",
)


class Unsupported(Exception):
    """The requested API does not exist in the installed websockets."""


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
        "python-websockets-sync": ("websockets.sync.client", "11.0", True),
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


class CannotCompress(Exception):
    """The ``compression`` knob asks for what this API or version cannot express."""


def compression_kwargs(named: set[str], value: str | dict[str, Any]) -> dict[str, Any]:
    """The connect arguments for the ``compression`` knob.

    "off": ``compression=None``; "on": ``compression="deflate"`` (the
    library's own offer, also its default); an object:
    ``compression=None`` and ``extensions=[ClientPerMessageDeflateFactory(...)]``
    with the parameters given (the factory's defaults for the others, so
    ``client_max_window_bits`` is offered without a value unless given).
    The factory validates them: a value it refuses raises `CannotCompress`.
    """
    if value == "default":
        return {}
    if "compression" not in named:
        raise CannotCompress("this connect() has no compression parameter")
    if value == "off":
        return {"compression": None}
    if value == "on":
        return {"compression": "deflate"}
    if "extensions" not in named or not isinstance(value, dict):
        raise CannotCompress("this connect() has no extensions parameter")
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

    try:
        factory = ClientPerMessageDeflateFactory(**value)
    except (ValueError, TypeError) as exc:
        raise CannotCompress(f"ClientPerMessageDeflateFactory refuses {value}: {exc}") from None
    return {"compression": None, "extensions": [factory]}


def connect_kwargs(
    func: Any,
    subprotocols: tuple[str, ...],
    tls: ssl.SSLContext | None,
    open_timeout_s: float,
    compression: str | dict[str, Any] = "default",
) -> dict[str, Any]:
    """The connect arguments this adapter passes, where the API names them.

    Only named parameters count for the fixed choices: unknown keywords
    would land in ``**kwargs``, which the library forwards to the socket
    layer. The TLS context is the exception: the asyncio APIs take it as
    ``ssl`` through ``**kwargs`` (to ``loop.create_connection``).
    Raises `CannotCompress` for a ``compression`` the API cannot express.
    """
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        params = {}
    named = {
        name
        for name, p in params.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    wanted = {"ping_interval": None, "open_timeout": open_timeout_s, "proxy": None}
    kwargs = {name: value for name, value in wanted.items() if name in named}
    kwargs.update(compression_kwargs(named, compression))
    if subprotocols:
        kwargs["subprotocols"] = list(subprotocols)
    if tls is not None:
        if "ssl" in named or ("ssl_context" not in named and takes_kwargs):
            kwargs["ssl"] = tls
        else:
            kwargs["ssl_context"] = tls
    return kwargs


def close_from_exception(exc: BaseException) -> dict[str, Any]:
    """Code and reason of the close frame the library says it received (or 1006, "")."""
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is None:
        return {"code": 1006, "reason": ""}
    return {"code": rcvd.code, "reason": rcvd.reason}


def clean_from_exception(exc: BaseException) -> tuple[bool | None, str]:
    """How the library classed the closure: ConnectionClosedOK is clean,
    ConnectionClosedError is not (both exist from 8.1 on)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "ConnectionClosedOK" in names:
        return True, "ConnectionClosedOK"
    if "ConnectionClosedError" in names:
        return False, "ConnectionClosedError"
    return None, type(exc).__name__


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


def shorten_close_timeout(ws: Any, budget_s: float) -> None:
    """Let the adapter's own final close end within the job's deadline.

    Every implementation reads ``close_timeout`` when a close starts, so
    lowering it here affects only this last close, never what was observed.
    Half the budget, because the legacy client may wait that long twice
    (for its close frame to go out, then for the server's answer).
    """
    current = getattr(ws, "close_timeout", None)
    if isinstance(current, (int, float)) and current > budget_s:
        ws.close_timeout = max(0.1, budget_s / 2)


def http_status(exc: BaseException) -> int | None:
    """InvalidStatusCode.status_code (legacy) or InvalidStatus.response.status_code (new)."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


# --------------------------------------------------------------------------
# drivers


class Common:
    """What both calling styles share: the close signal and where the close is read."""

    def __init__(self, connect: Callable[..., Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        self.connect_fn = connect
        self.closed_cls = ConnectionClosed
        self.ws: Any = None
        self.subprotocol: str | None = None
        self.closed_exc: BaseException | None = None

    def unsupported(self, knobs: kit.Knobs) -> list[str]:
        # every other knob has an API from 10.0 on
        try:
            connect_kwargs(self.connect_fn, (), None, 1.0, knobs.compression)
        except CannotCompress as exc:
            kit.log.info("compression %s: %s", knobs.compression, exc)
            return ["compression"]
        return []

    def http_status(self, exc: BaseException) -> int | None:
        return http_status(exc)

    def is_closed(self, exc: BaseException) -> bool:
        if isinstance(exc, self.closed_cls):
            self.closed_exc = self.closed_exc or exc
            return True
        return False

    def closed(self, exc: BaseException) -> kit.Received:
        self.closed_exc = self.closed_exc or exc
        return kit.Received("closed", exc=exc, close=close_from_exception(exc))

    def recv_raised(self, exc: Exception) -> kit.Received:
        """What a ``recv()`` that raised gave the application: the end of its wait
        (asyncio's and the sync API's timeout are both TimeoutError), the library's
        end signal, or an error."""
        if kit.is_timeout(exc):
            return kit.Received("timeout")
        if isinstance(exc, self.closed_cls):
            return self.closed(exc)
        return kit.Received("error", exc=exc)

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        if self.closed_exc is not None:
            return close_from_exception(self.closed_exc), "exception.rcvd"
        return close_from_connection(self.ws)

    def clean_info(self) -> tuple[bool | None, str | None]:
        """The class of the ConnectionClosed the application got; when it got none
        (receiving ended by a timeout, max_messages or an error), the class the
        library gives the closure after the adapter's own close."""
        if self.closed_exc is not None:
            return clean_from_exception(self.closed_exc)
        ws = self.ws
        if ws is None:
            return None, None
        exc = None
        try:
            protocol = getattr(ws, "protocol", None)  # new implementation (13.0+ asyncio, sync)
            if protocol is not None and hasattr(type(protocol), "close_exc"):
                exc = protocol.close_exc
            elif callable(getattr(ws, "connection_closed_exc", None)):  # legacy
                exc = ws.connection_closed_exc()
        except Exception:  # not closed after all: nothing to read
            exc = None
        if exc is None:
            return None, "none: not closed"
        clean, source = clean_from_exception(exc)
        return clean, f"{source} after the adapter's close"


class AsyncDriver(Common):
    """websockets.connect / legacy / new asyncio: coroutines on an event loop."""

    async def connect(self, job: kit.Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        kwargs = connect_kwargs(
            self.connect_fn, job.knobs.subprotocols, tls, timeout_s, job.knobs.compression
        )
        self.ws = await asyncio.wait_for(self.connect_fn(job.url, **kwargs), timeout_s + 1.0)
        self.subprotocol = self.ws.subprotocol

    async def send(self, kind: str, payload: Any) -> None:
        if kind == "ping":
            # The pong waiter is the application's to await or drop; dropped here,
            # so whatever it ends with is the adapter's business, not a crash.
            kit.adapter_future(await self.ws.ping(payload))
        else:
            await self.ws.send(payload)

    async def receive(self, timeout_s: float) -> kit.Received:
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout_s)
        except Exception as exc:
            return self.recv_raised(exc)
        return kit.Received("message", data=data)

    async def close(self, code: int | None, reason: str) -> None:
        if code is None:
            await self.ws.close()
        else:
            await self.ws.close(code, reason)

    async def finish(self, budget_s: float) -> None:
        ws = self.ws
        if ws is None:
            return
        shorten_close_timeout(ws, budget_s)
        try:
            await asyncio.wait_for(ws.close(), budget_s)
        except TimeoutError:
            transport = getattr(ws, "transport", None)
            if transport is not None:
                transport.abort()
                # connection_lost runs on a later loop iteration; let it, so
                # the library's close state is final before it is read.
                for _ in range(3):
                    await asyncio.sleep(0)
            raise


class SyncDriver(Common):
    """websockets.sync.client.connect: blocking calls; the library has its own reader thread."""

    cm: Any = None

    def connect(self, job: kit.Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        # The context-manager form is what 17.1+ asks for (a bare connect()
        # warns there) and works from 12.0 on; finish() exits it after the
        # explicit close, where it is a no-op.
        # The call runs in a helper thread and is given up after the open
        # timeout: 11.0 can deadlock inside connect() when a message arrives
        # right after the 101, and its own open_timeout does not cover that.
        kwargs = connect_kwargs(
            self.connect_fn, job.knobs.subprotocols, tls, timeout_s, job.knobs.compression
        )

        def open_connection() -> tuple[Any, Any]:
            cm = self.connect_fn(job.url, **kwargs)
            return cm, cm.__enter__()

        def release(opened: tuple[Any, Any]) -> None:
            opened[0].__exit__(None, None, None)

        self.cm, self.ws = kit.call_with_timeout(
            open_connection, timeout_s + 0.5, "websockets.sync.client.connect()", release
        )
        self.subprotocol = self.ws.subprotocol

    def send(self, kind: str, payload: Any) -> None:
        if kind == "ping":
            self.ws.ping(payload)
        else:
            self.ws.send(payload)

    def receive(self, timeout_s: float) -> kit.Received:
        try:
            data = self.ws.recv(timeout=timeout_s)
        except Exception as exc:
            return self.recv_raised(exc)
        return kit.Received("message", data=data)

    def close(self, code: int | None, reason: str) -> None:
        if code is None:
            self.ws.close()
        else:
            self.ws.close(code, reason)

    def finish(self, budget_s: float) -> None:
        if self.ws is None:
            return
        shorten_close_timeout(self.ws, budget_s)
        try:
            self.ws.close()
        finally:
            self.cm.__exit__(None, None, None)


# --------------------------------------------------------------------------
# main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--api", required=True, choices=ADAPTERS, help="adapter name")
    args = parser.parse_args(argv)

    out = kit.Out()
    kit.setup_logging()
    try:
        import websockets
    except ImportError as exc:
        return kit.refuse(out, args.api, None, f"cannot import websockets: {exc}")
    version = library_version(websockets)
    try:
        api, connect, is_sync = select_api(args.api, version)
    except Unsupported as exc:
        return kit.refuse(out, args.api, version, str(exc))
    driver = SyncDriver if is_sync else AsyncDriver
    return kit.serve(
        out,
        adapter=args.api,
        library="websockets",
        version=version,
        api=api,
        new_driver=lambda: driver(connect),
        is_async=not is_sync,
    )


if __name__ == "__main__":
    sys.exit(main())
