#!/usr/bin/env python3
"""wsreplay adapter for aiohttp's WebSocket client: ``ClientSession().ws_connect(url)``.

It speaks the contract in harness/adapters/README.md through the shared
``wsreplay_adapterkit`` (harness/adapters/python-common/), which holds the
job, the knobs and the application's behaviour; this file holds only the
calls into aiohttp. Standard library and aiohttp only.

Choices that shape what the application "sees", and why:

- ``ClientSession()`` and ``ws_connect(url)`` with aiohttp's defaults, as an
  application that did not tune them: ``autoclose=True`` (when a close
  frame arrives, ``receive()`` answers it at once with close 1000 and closes
  the TCP connection), ``autoping=True`` (pings are answered inside
  ``receive()``, pongs swallowed), ``heartbeat=None`` (no keepalive pings),
  no receive timeout, the default close timeout (10 s), ``compress=0`` (no
  permessage-deflate offered), ``max_msg_size`` 4 MiB, ``trust_env=False``
  (no proxy from the environment).
  Added only when a job asks: ``protocols=`` (subprotocols), ``ssl=`` (a
  context trusting exactly the job's CA, for wss://) and ``compress=`` (the
  ``compression`` knob: "off" 0, "on" 15, an object the N that makes
  aiohttp's offer the one asked for, see ``compress_arg``).
- Receiving is ``await ws.receive()``, the call every other receive helper
  of aiohttp is built on. A wait that must end early (``recv_timeout_ms``,
  or a ``close_first.after_ms`` falling into it) does not cancel it: a
  cancelled ``receive()`` marks the connection as closed abnormally (close
  code 1006) in every aiohttp version, which would change what the
  application sees. The pending call is kept and awaited again, or ended by
  ``ws.close()``, which aiohttp documents as the way to stop a
  ``receive()`` running in another task (it then returns a CLOSING
  message).
- ``send``: ``send_str`` / ``send_bytes`` / ``ping(bytes)``; echo uses the
  same calls. ``close_first``: ``ws.close(code=..., message=reason)``
  (``ws.close()`` for a null code); aiohttp's close sends the frame and
  reads until the server's close frame, dropping data that arrives
  meanwhile, then ``receive()`` returns CLOSED.
- The end of the connection is the message type ``receive()`` returns:
  CLOSE (a close frame arrived), CLOSING or CLOSED (the connection is gone
  or going) are ``end: closed``; ERROR is ``end: error`` with the exception
  aiohttp put in the message. aiohttp raises nothing for a normal close, so
  ``error`` stays null then.

Where the close code and reason come from: ``ws.close_code`` after the end
(aiohttp's only close attribute), and the reason from the CLOSE message's
``extra`` when the end was a CLOSE message (aiohttp keeps no reason on the
connection, so it is null otherwise, e.g. after the application's own
close).
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))

import wsreplay_adapterkit as kit

ADAPTER = "python-aiohttp"


class Driver:
    """One connection through aiohttp's client."""

    def __init__(self, aiohttp: Any) -> None:
        self.aiohttp = aiohttp
        self.session: Any = None
        self.ws: Any = None
        self.subprotocol: str | None = None
        self.pending: asyncio.Future[Any] | None = None
        self.close_reason: str | None = None
        #: what ended receiving, as aiohttp said it: a message type name, or "exception"
        self.end_signal: str | None = None

    def unsupported(self, knobs: kit.Knobs) -> list[str]:
        # every other knob has an API in every supported version
        return [] if self.compress_arg(knobs.compression) is not None else ["compression"]

    def compress_arg(self, value: str | dict[str, Any]) -> int | None:
        """``ws_connect(compress=N)`` for the ``compression`` knob; None if aiohttp cannot.

        aiohttp's one option is ``compress``: 0 (its default) offers nothing,
        9..15 offers what its ``ws_ext_gen(compress=N)`` builds:
        ``permessage-deflate; client_max_window_bits``, plus
        ``server_max_window_bits=N`` below 15. An object is honoured when
        that offer, with N its ``server_max_window_bits`` (15 when absent),
        is what it asks for (`kit.offer_meets`).
        """
        if value == "default":
            return -1  # nothing passed
        if value == "off":
            return 0
        if value == "on":
            return 15
        if not isinstance(value, dict):
            return None
        bits = value.get("server_max_window_bits", 15)
        if not isinstance(bits, int) or not 9 <= bits <= 15:
            return None  # ws_ext_gen refuses 8 (ValueError), and the knob allows no more
        offer = kit.parse_offer(self.aiohttp.client.ws_ext_gen(compress=bits))
        return bits if kit.offer_meets(offer, value) else None

    def http_status(self, exc: BaseException) -> int | None:
        if isinstance(exc, self.aiohttp.ClientResponseError):
            status = getattr(exc, "status", None)
            return status if isinstance(status, int) else None
        return None

    def is_closed(self, exc: BaseException) -> bool:
        return self.ws is not None and self.ws.closed

    async def connect(self, job: kit.Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        self.session = self.aiohttp.ClientSession()
        kwargs: dict[str, Any] = {}
        compress = self.compress_arg(job.knobs.compression)
        if compress is not None and compress >= 0:
            kwargs["compress"] = compress
        if job.knobs.subprotocols:
            kwargs["protocols"] = list(job.knobs.subprotocols)
        if tls is not None:
            kwargs["ssl"] = tls
        self.ws = await asyncio.wait_for(self.session.ws_connect(job.url, **kwargs), timeout_s)
        self.subprotocol = self.ws.protocol

    async def send(self, kind: str, payload: Any) -> None:
        if kind == "text":
            await self.ws.send_str(payload)
        elif kind == "binary":
            await self.ws.send_bytes(payload)
        else:
            await self.ws.ping(payload)

    async def receive(self, timeout_s: float) -> kit.Received:
        WSMsgType = self.aiohttp.WSMsgType
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout_s
        while True:
            if self.pending is None:
                self.pending = kit.adapter_future(asyncio.ensure_future(self.ws.receive()))
            done, _ = await asyncio.wait({self.pending}, timeout=max(0.0, until - loop.time()))
            if not done:
                return kit.Received("timeout")
            task, self.pending = self.pending, None
            try:
                msg = task.result()
            except Exception as exc:
                self.end_signal = "exception"
                return kit.Received("error", exc=exc)
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                return kit.Received("message", data=msg.data)
            self.end_signal = f"WSMsgType.{msg.type.name}"
            if msg.type == WSMsgType.CLOSE:
                self.close_reason = msg.extra
                return kit.Received("closed", close=self.current_close())
            if msg.type in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                return kit.Received("closed", close=self.current_close())
            if msg.type == WSMsgType.ERROR:
                exc = msg.data if isinstance(msg.data, BaseException) else RuntimeError(msg.data)
                return kit.Received("error", exc=exc)
            # PING/PONG only reach the application with autoping off: not here.

    async def close(self, code: int | None, reason: str) -> None:
        if code is None:
            await self.ws.close()
        else:
            await self.ws.close(code=code, message=reason.encode("utf-8"))

    async def finish(self, budget_s: float) -> None:
        try:
            if self.ws is not None:
                # A no-op returning False once the connection is closed.
                await asyncio.wait_for(self.ws.close(), budget_s)
        finally:
            if self.pending is not None and not self.pending.done():
                self.pending.cancel()
            if self.session is not None:
                await self.session.close()

    def current_close(self) -> dict[str, Any]:
        return {"code": self.ws.close_code, "reason": self.close_reason}

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        if self.ws is None:
            return None, "none"
        return self.current_close(), "ws.close_code"

    def clean_info(self) -> tuple[bool | None, str | None]:
        """What aiohttp said about the end: a CLOSE message is a clean close, an ERROR
        message or a raised exception is not; after CLOSED/CLOSING (or the adapter's own
        close) it is ``ws.exception()`` and aiohttp's own abnormal-closure code (1006,
        which aiohttp sets itself on every error path)."""
        if self.ws is None:
            return None, None
        signal = self.end_signal
        if signal == "WSMsgType.CLOSE":
            return True, signal
        if signal in ("WSMsgType.ERROR", "exception"):
            return False, signal
        where = signal or "the adapter's close"
        if self.ws.exception() is not None:
            return False, f"{where}, ws.exception()"
        code = self.ws.close_code
        if code is None:
            return None, f"none: {where}, no ws.close_code"
        return code != 1006, f"{where}, ws.close_code {code}"


def setup(version: str | None) -> kit.Library:
    # aiohttp 3.6 and older cannot be imported on Python 3.11 (AttributeError):
    # kit.main refuses those releases, saying so.
    import aiohttp

    return kit.Library(
        library="aiohttp",
        version=str(aiohttp.__version__),
        api="aiohttp.ClientSession().ws_connect",
        new_driver=lambda: Driver(aiohttp),
        is_async=True,
    )


if __name__ == "__main__":
    sys.exit(kit.main(ADAPTER, "aiohttp", "aiohttp", setup))
