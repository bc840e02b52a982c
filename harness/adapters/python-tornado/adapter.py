#!/usr/bin/env python3
"""wsreplay adapter for Tornado's WebSocket client: ``tornado.websocket.websocket_connect(url)``.

It speaks the contract in harness/adapters/README.md through the shared
``wsreplay_adapterkit`` (harness/adapters/python-common/), which holds the
job, the knobs and the application's behaviour; this file holds only the
calls into Tornado. Standard library and Tornado only.

Choices that shape what the application "sees", and why:

- ``websocket_connect(url)`` in the coroutine style the docs show
  (``msg = await conn.read_message()``, ``None`` at the end), with Tornado's
  defaults: no ``ping_interval`` (no keepalive pings), no compression
  (``compression_options=None``; the ``compression`` knob: "off" passes
  that, "on" ``compression_options={}``, an object too when it asks for no
  more than Tornado's fixed offer, see ``OFFER``),
  ``max_message_size`` 10 MiB, and ``connect_timeout`` (the job's open
  timeout, 10 s at most, instead of Tornado's 20 s, so a handshake that
  never completes still fits the job's deadline; the call is also cut off
  there). Added only when a job asks: ``subprotocols=`` and, for wss://, an
  ``HTTPRequest`` with ``ssl_options=`` a context trusting exactly the job's
  CA.
- Tornado keeps at most one received message waiting for the application
  (its read queue holds one; the frame reader waits until it is taken), so
  while the application sleeps the rest stays in the socket, close frame
  included: the library answers a close only once the application has read
  what came before it.
- A receive wait that must end early (``recv_timeout_ms``, or a
  ``close_first.after_ms`` falling into it) does not cancel the
  ``read_message()`` future: it is kept and awaited again, so no message can
  be handed to a future nobody awaits.
- ``send``: ``write_message(text)`` / ``write_message(bytes, binary=True)``
  (awaited) / ``ping(bytes)``; echo uses the same calls. ``close_first``:
  ``conn.close(code, reason)`` (``conn.close()`` for a null code, which
  sends a close frame with no code); Tornado's close only starts the
  closing handshake, and receiving goes on until ``read_message()`` gives
  ``None``.
- The adapter's final close is ``conn.close()`` followed by reading until
  ``None`` (messages still queued are taken but not reported: the
  application had stopped receiving). If that does not happen within the
  job's deadline the adapter closes the stream itself (Tornado would after
  5 s).

Where the close code and reason come from: ``conn.close_code`` and
``conn.close_reason``, which Tornado fills from the server's close frame
(both ``None`` when none arrived).
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))

import wsreplay_adapterkit as kit

ADAPTER = "python-tornado"

#: What websocket_connect(compression_options={...}) offers, whatever the
#: options hold: a literal "permessage-deflate; client_max_window_bits" in
#: WebSocketClientConnection.__init__ (6.0 to 6.6.1; the options only tune
#: the compressor). With compression_options=None (the default) it offers nothing.
OFFER = {"client_max_window_bits": True}


class Driver:
    """One connection through Tornado's WebSocketClientConnection."""

    def __init__(self, tornado: Any) -> None:
        import tornado.httpclient
        import tornado.iostream
        import tornado.websocket

        self.websocket = tornado.websocket
        self.httpclient = tornado.httpclient
        self.closed_errors = (
            tornado.websocket.WebSocketClosedError,
            tornado.iostream.StreamClosedError,
        )
        self.conn: Any = None
        self.stream: Any = None
        self.subprotocol: str | None = None
        self.pending: asyncio.Future[Any] | None = None
        self.ended = False

    def unsupported(self, knobs: kit.Knobs) -> list[str]:
        # every other knob has an API from 6.0 on
        value = knobs.compression
        if value in ("default", "off") or kit.offer_meets(OFFER, value):
            return []
        return ["compression"]

    def http_status(self, exc: BaseException) -> int | None:
        if isinstance(exc, self.httpclient.HTTPClientError):
            code = getattr(exc, "code", None)
            return code if isinstance(code, int) and code != 599 else None
        return None

    def is_closed(self, exc: BaseException) -> bool:
        return isinstance(exc, self.closed_errors)

    def is_timeout(self, exc: BaseException) -> bool:
        """Tornado's own connect timeout is HTTPTimeoutError (code 599), ours TimeoutError."""
        simple = sys.modules.get("tornado.simple_httpclient")
        timeout_cls = getattr(simple, "HTTPTimeoutError", None)
        return kit.is_timeout(exc) or (timeout_cls is not None and isinstance(exc, timeout_cls))

    async def connect(self, job: kit.Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        kwargs: dict[str, Any] = {}
        if job.knobs.compression == "off":
            kwargs["compression_options"] = None
        elif job.knobs.compression != "default":
            kwargs["compression_options"] = {}  # "on", or an object OFFER meets
        if job.knobs.subprotocols:
            kwargs["subprotocols"] = list(job.knobs.subprotocols)
        if tls is not None:
            target: Any = self.httpclient.HTTPRequest(
                job.url, connect_timeout=timeout_s, ssl_options=tls
            )
        else:
            target = job.url
            kwargs["connect_timeout"] = timeout_s
        self.conn = await asyncio.wait_for(
            self.websocket.websocket_connect(target, **kwargs), timeout_s + 1.0
        )
        self.stream = getattr(self.conn.protocol, "stream", None)
        self.subprotocol = self.conn.selected_subprotocol

    async def send(self, kind: str, payload: Any) -> None:
        if kind == "text":
            await self.conn.write_message(payload)
        elif kind == "binary":
            await self.conn.write_message(payload, binary=True)
        else:
            self.conn.ping(payload)

    async def _read(self, timeout_s: float) -> tuple[bool, Any]:
        """(True, message or None) once read_message() resolved; (False, None) on timeout."""
        if self.pending is None:
            self.pending = kit.adapter_future(asyncio.ensure_future(self.conn.read_message()))
        done, _ = await asyncio.wait({self.pending}, timeout=max(0.0, timeout_s))
        if not done:
            return False, None
        task, self.pending = self.pending, None
        return True, task.result()

    async def receive(self, timeout_s: float) -> kit.Received:
        try:
            got, msg = await self._read(timeout_s)
        except Exception as exc:
            return kit.Received("error", exc=exc)
        if not got:
            return kit.Received("timeout")
        if msg is None:
            self.ended = True
            return kit.Received("closed", close=self.close_info()[0])
        return kit.Received("message", data=msg)

    async def close(self, code: int | None, reason: str) -> None:
        if code is None:
            self.conn.close()
        else:
            self.conn.close(code, reason)

    async def finish(self, budget_s: float) -> None:
        if self.conn is None or self.ended:
            return
        self.conn.close()  # no-op when the application already closed
        loop = asyncio.get_running_loop()
        until = loop.time() + budget_s
        while True:
            left = until - loop.time()
            got, msg = await self._read(left)
            if got and msg is None:
                self.ended = True
                return
            if not got:
                if self.stream is not None:
                    self.stream.close()  # what Tornado's own 5 s abort timer does
                raise TimeoutError(f"read_message() gave no None within {budget_s:.1f} s")

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        if self.conn is None:
            return None, "none"
        return {"code": self.conn.close_code, "reason": self.conn.close_reason}, "conn.close_code"

    def clean_info(self) -> tuple[bool | None, str | None]:
        """Tornado does not tell: read_message() gives None for every end, and
        on_close/close_code only say whether a close frame arrived."""
        if self.conn is None:
            return None, None
        return None, "none: no clean flag in Tornado (read_message() -> None for every end)"


def setup(version: str | None) -> kit.Library:
    # tornado.websocket of 5.x and older cannot be imported on Python 3.10+
    # (AttributeError): kit.main refuses those releases, saying so.
    import tornado

    return kit.Library(
        library="tornado",
        version=str(getattr(tornado, "version", version)),
        api="tornado.websocket.websocket_connect",
        new_driver=lambda: Driver(tornado),
        is_async=True,
    )


if __name__ == "__main__":
    sys.exit(kit.main(ADAPTER, "tornado", "tornado.websocket", setup))
