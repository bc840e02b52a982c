#!/usr/bin/env python3
"""wsreplay adapter for simple-websocket's client: ``simple_websocket.Client.connect(url)``.

It speaks the contract in harness/adapters/README.md through the shared
``wsreplay_adapterkit`` (harness/adapters/python-common/), which holds the
job, the knobs and the application's behaviour; this file holds only the
calls into simple-websocket. Standard library and simple-websocket only.

simple-websocket is a blocking client built on wsproto: ``Client.connect``
does the opening handshake in the calling thread, then a background thread
reads the socket, answers pings and queues whole messages; ``receive()``
takes the next one. Choices that shape what the application "sees":

- ``Client.connect(url)`` with the library's defaults (no ``ping_interval``,
  no ``max_message_size``, 4096-byte reads). Added only when a job asks:
  ``subprotocols=`` and, for wss://, ``ssl_context=`` (trusting exactly the
  job's CA). ``thread_class`` makes the background reader a daemon thread:
  the library's reader can stay blocked in ``recv()`` after its own
  ``close()`` (see below), and a non-daemon one would keep the adapter from
  exiting at EOF; nothing else about it changes.
- The opening handshake has no timeout in the library (``connect()`` reads
  until it has a response, forever). The adapter runs it in a helper thread
  and gives up after the job's open timeout (``connect_failed`` with a
  ``TimeoutError``); the helper thread is left to the library.
- Receiving is ``ws.receive(timeout=...)``: it returns the next queued
  message (``str`` or ``bytes``), ``None`` when the timeout passed, and
  raises ``ConnectionClosed`` once the connection is over and the queue is
  empty. Messages stay queued across a timeout, so an early end loses
  nothing.
- ``send``: ``ws.send(str)`` / ``ws.send(bytes)``; echo uses the same. The
  library has no call to send a ping: a ``send`` with a ping is reported
  unsupported. ``close_first``: ``ws.close(reason=code, message=reason)``
  (``ws.close()`` for a null code, which sends 1000). The library's close
  sends the frame and closes the socket at once, without waiting for the
  server's answer.
- The adapter's own close at the end: ``ws.close()`` if the library still
  says ``connected``.

Where the close code and reason come from: the ``ConnectionClosed`` that
ended receiving (``exc.reason``, ``exc.message``), else ``ws.close_reason``
/ ``ws.close_message`` after the end. The library starts both at 1005
(``NO_STATUS_RCVD``) and None and fills them from the server's close frame
only.
"""

from __future__ import annotations

import inspect
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))

import wsreplay_adapterkit as kit

ADAPTER = "python-simple-websocket"


def client_params(lib: Any) -> set[str]:
    """The parameter names of the client's connect call (1.0.0+) or constructor."""
    target = getattr(lib.Client, "connect", None) or lib.Client.__init__
    try:
        return set(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return set()


class DaemonThread(threading.Thread):
    """The library's reader thread, as a daemon (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, daemon=True, **kwargs)


class Driver:
    """One connection through a ``simple_websocket.Client``."""

    def __init__(self, simple_websocket: Any) -> None:
        self.lib = simple_websocket
        self.ws: Any = None
        self.subprotocol: str | None = None
        self.closed_by: Any = None  # the ConnectionClosed that ended receiving

    def unsupported(self, knobs: kit.Knobs) -> list[str]:
        # No ping call in the API: the library answers pings, never sends one on demand.
        missing = ["send"] if any(kind == "ping" for kind, _ in knobs.send) else []
        if knobs.subprotocols and "subprotocols" not in client_params(self.lib):
            missing.append("subprotocols")  # before 0.8.0
        # Its Client sends no Sec-WebSocket-Extensions in any release (only its
        # Server side accepts permessage-deflate): "off" is what it always does.
        if not kit.offer_meets(None, knobs.compression):
            missing.append("compression")
        return missing

    def http_status(self, exc: BaseException) -> int | None:
        status = getattr(exc, "status_code", None)
        return status if isinstance(status, int) else None

    def is_closed(self, exc: BaseException) -> bool:
        return isinstance(exc, self.lib.ConnectionClosed)

    def connect(self, job: kit.Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        kwargs: dict[str, Any] = {"thread_class": DaemonThread}
        if job.knobs.subprotocols:
            kwargs["subprotocols"] = list(job.knobs.subprotocols)
        if tls is not None:
            kwargs["ssl_context"] = tls

        def open_connection() -> Any:
            if hasattr(self.lib.Client, "connect"):
                return self.lib.Client.connect(job.url, **kwargs)
            return self.lib.Client(job.url, **kwargs)  # before 1.0.0 the constructor connects

        self.ws = kit.call_with_timeout(
            open_connection, timeout_s, "simple_websocket.Client.connect()", lambda ws: ws.close()
        )
        self.subprotocol = getattr(self.ws, "subprotocol", None)

    def send(self, kind: str, payload: Any) -> None:
        self.ws.send(payload)  # str: a text message, bytes: a binary one

    def receive(self, timeout_s: float) -> kit.Received:
        try:
            data = self.ws.receive(timeout=timeout_s)
        except self.lib.ConnectionClosed as exc:
            self.closed_by = exc
            return kit.Received("closed", exc=exc, close=self.close_info()[0])
        except Exception as exc:
            return kit.Received("error", exc=exc)
        if data is None:
            return kit.Received("timeout")
        return kit.Received("message", data=data)

    def close(self, code: int | None, reason: str) -> None:
        if code is None:
            self.ws.close()
        else:
            self.ws.close(reason=code, message=reason)

    def finish(self, budget_s: float) -> None:
        if self.ws is not None and self.ws.connected:
            self.ws.close()

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        if self.ws is None:
            return None, "none"
        if not hasattr(self.ws, "close_reason"):
            # before 0.5.0 neither the exception nor the connection carries a close code
            return {"code": None, "reason": None, "observable": False}, "none (before 0.5.0)"
        if self.closed_by is not None and hasattr(self.closed_by, "reason"):
            code, reason = self.closed_by.reason, self.closed_by.message
            source = "ConnectionClosed"
        else:
            code, reason = self.ws.close_reason, self.ws.close_message
            source = "ws.close_reason"
        return {"code": None if code is None else int(code), "reason": reason}, source

    def clean_info(self) -> tuple[bool | None, str | None]:
        """simple-websocket does not tell: ConnectionClosed ends every connection,
        with no clean/abnormal distinction (the code stays 1005 without a close frame)."""
        if self.ws is None:
            return None, None
        return None, "none: no clean flag in simple-websocket (ConnectionClosed for every end)"


def setup(version: str | None) -> kit.Library:
    import simple_websocket

    if not hasattr(simple_websocket, "Client"):  # 0.0.1 is an empty placeholder
        raise kit.Refused(f"simple-websocket {version} has no Client (the first with one is 0.1.0)")
    call = "Client.connect" if hasattr(simple_websocket.Client, "connect") else "Client"
    return kit.Library(
        library="simple-websocket",
        version=str(version),
        api=f"simple_websocket.{call} (wsproto {kit.distribution_version('wsproto')})",
        new_driver=lambda: Driver(simple_websocket),
        is_async=False,
    )


if __name__ == "__main__":
    sys.exit(kit.main(ADAPTER, "simple-websocket", "simple_websocket", setup))
