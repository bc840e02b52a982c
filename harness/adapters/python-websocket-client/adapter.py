#!/usr/bin/env python3
"""wsreplay adapter for websocket-client's blocking API: ``websocket.create_connection(url)``.

It speaks the contract in harness/adapters/README.md through the shared
``wsreplay_adapterkit`` (harness/adapters/python-common/), which holds the
job, the knobs and the application's behaviour; this file holds only the
calls into websocket-client. Standard library and websocket-client only.

Choices that shape what the application "sees", and why:

- ``create_connection(url, timeout=...)`` with the library's defaults
  otherwise (``enable_multithread=True``, UTF-8 validation on, no
  ``fire_cont_frame``). ``timeout`` is the socket timeout, the library's
  only way to bound the opening handshake; it is the job's open timeout
  (10 s at most). Proxies: the library reads ``http_proxy`` and friends
  but never for 127.0.0.1/localhost, which is where the scenario server is.
  Added only when a job asks: ``subprotocols=`` and, for wss://,
  ``sslopt={"ca_certs": <the job's CA>, "cert_reqs": CERT_REQUIRED}``: the
  library then loads that CA and no other roots, and checks the host name
  (every release reads these two keys; newer ones also take a ready
  ``context``, which older ones would pass on to ``ssl.wrap_socket`` and
  fail).
- Receiving is ``ws.recv_data()``, which returns ``(opcode, data)`` for each
  data message and also for the close frame (``recv()`` returns ``""`` for a
  close, which an application cannot tell from an empty text message).
  Pings are answered by the library inside the call. A receive wait is
  bounded with ``ws.settimeout(...)`` (the library's own read timeout,
  raising ``WebSocketTimeoutException``); its frame reader keeps a
  half-read frame across a timeout, so an early end loses nothing.
- A text message is decoded as ``recv()`` decodes it (``data.decode("utf-8")``).
  The library's own UTF-8 check lets some invalid payloads through (it never
  checks that the last sequence is complete, e.g. ``61 62 63 E2 82``); then
  the ``UnicodeDecodeError`` that ``recv()`` would raise ends receiving
  (``end: error``), and the message is not reported as received.
- The end of the connection: ``recv_data()`` returning ``OPCODE_CLOSE``
  (the library has already answered with its own close, 1000 and no
  reason), or ``WebSocketConnectionClosedException`` (the TCP connection
  ended with no close frame). Any other exception is ``end: error``.
- ``send``: ``send(text)`` / ``send_binary(bytes)`` / ``ping(bytes)``; echo
  uses the same calls. ``close_first``: ``ws.close(status=code,
  reason=bytes)`` (``ws.close()`` for a null code, which sends 1000). The
  library's close sends the frame, then reads frames until the server's
  close frame or its own timeout (3 s by default), dropping data messages
  that arrive meanwhile, and closes the socket; the next receive then
  raises ``WebSocketConnectionClosedException``.
- The adapter's final close is ``ws.close()`` (its timeout cut to the job's
  deadline) followed by ``ws.shutdown()``: after a close frame arrived the
  library has already sent its answer and its ``close()`` returns at once
  without closing the socket, which an application releases by dropping
  the object; ``shutdown()`` does that at a known moment.

Where the close code and reason come from: the close frame ``recv_data()``
returned (its payload: 2-byte code, then the UTF-8 reason, exactly as the
library's own ``WebSocketApp`` reads it); else, after the library's own
close, ``ws.close_frame`` where the version keeps it (newer releases); else
the library exposes no close code: ``{"code": null, "reason": null}``
(what ``WebSocketApp`` passes to ``on_close`` then).
"""

from __future__ import annotations

import inspect
import ssl
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-common"))

import wsreplay_adapterkit as kit

ADAPTER = "python-websocket-client"
#: socket.settimeout(0) would make the socket non-blocking, a different failure.
MIN_WAIT_S = 0.001
#: websocket-client's own default for WebSocket.close(timeout=...).
LIBRARY_CLOSE_TIMEOUT_S = 3.0


class Driver:
    """One connection through websocket-client's WebSocket object."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        self.ws: Any = None
        self.subprotocol: str | None = None
        self.close_seen: dict[str, Any] | None = None
        self.close_source = "none"
        #: how the library signalled the end: (clean, what it was), once it did
        self.end_signal: tuple[bool, str] | None = None
        self.app_closed = False  # the application called close() (close_first)

    def unsupported(self, knobs: kit.Knobs) -> list[str]:
        # Before 0.21.0 the library offers no subprotocols (and ignores the keyword).
        if knobs.subprotocols and not hasattr(self.websocket.WebSocket(), "subprotocol"):
            return ["subprotocols"]
        # No release has permessage-deflate (no offer, no option): "off" is
        # what it always does, "on" or an offer it cannot make.
        if not kit.offer_meets(None, knobs.compression):
            return ["compression"]
        return []

    def http_status(self, exc: BaseException) -> int | None:
        status = getattr(exc, "status_code", None)
        return status if isinstance(status, int) else None

    def is_closed(self, exc: BaseException) -> bool:
        return isinstance(exc, self.websocket.WebSocketConnectionClosedException)

    def is_timeout(self, exc: BaseException) -> bool:
        """The socket timeout ran out during the handshake: the library raises its own
        WebSocketTimeoutException (or socket.timeout, a TimeoutError)."""
        return kit.is_timeout(exc) or isinstance(exc, self.websocket.WebSocketTimeoutException)

    def connect(self, job: kit.Job, tls: ssl.SSLContext | None, timeout_s: float) -> None:
        kwargs: dict[str, Any] = {}
        if job.knobs.subprotocols:
            kwargs["subprotocols"] = list(job.knobs.subprotocols)
        if tls is not None:
            # Every release builds its TLS context from these options (newer
            # ones also take a ready "context", older ones pass unknown keys
            # to ssl.wrap_socket and fail): only this CA, verification on.
            kwargs["sslopt"] = {"ca_certs": job.ca_file, "cert_reqs": ssl.CERT_REQUIRED}
        self.ws = self.websocket.create_connection(job.url, timeout=timeout_s, **kwargs)
        self.subprotocol = getattr(self.ws, "subprotocol", None)

    def send(self, kind: str, payload: Any) -> None:
        if kind == "text":
            self.ws.send(payload)
        elif kind == "binary":
            self.ws.send_binary(payload)
        else:
            self.ws.ping(payload)

    def receive(self, timeout_s: float) -> kit.Received:
        ABNF = self.websocket.ABNF
        try:
            self.ws.settimeout(max(MIN_WAIT_S, timeout_s))
            opcode, data = self.ws.recv_data()
        except self.websocket.WebSocketTimeoutException:
            return kit.Received("timeout")
        except self.websocket.WebSocketConnectionClosedException as exc:
            self.end_signal = self.end_signal or (False, kit.qualname(exc).rsplit(".", 1)[-1])
            return kit.Received("closed", exc=exc, close=self.close_info()[0])
        except Exception as exc:
            self.end_signal = self.end_signal or (False, kit.qualname(exc))
            return kit.Received("error", exc=exc)
        if opcode == ABNF.OPCODE_TEXT:
            if not isinstance(data, (bytes, bytearray)):
                return kit.Received("message", data=data)
            try:
                # what recv() does with a text message
                return kit.Received("message", data=data.decode("utf-8"))
            except UnicodeDecodeError as exc:
                self.end_signal = self.end_signal or (False, kit.qualname(exc))
                return kit.Received("error", exc=exc)
        if opcode == ABNF.OPCODE_BINARY:
            return kit.Received("message", data=bytes(data))
        if opcode == ABNF.OPCODE_CLOSE:
            self.close_seen = kit.close_from_payload(data)
            self.close_source = "recv_data close frame"
            self.end_signal = self.end_signal or (True, "recv_data() -> OPCODE_CLOSE")
            return kit.Received("closed", close=self.close_seen)
        # recv_data() returns nothing else without control_frame=True
        return kit.Received("error", exc=RuntimeError(f"recv_data() returned opcode {opcode}"))

    def close(self, code: int | None, reason: str) -> None:
        self.app_closed = True
        if code is None:
            self.ws.close()
        else:
            self.ws.close(status=code, reason=reason.encode("utf-8"))

    def finish(self, budget_s: float) -> None:
        if self.ws is None:
            return
        try:
            if "timeout" in inspect.signature(self.ws.close).parameters:
                self.ws.close(timeout=min(LIBRARY_CLOSE_TIMEOUT_S, budget_s))
            else:  # before 0.35 the wait is fixed at 3 s
                self.ws.close()
        finally:
            self.ws.shutdown()

    def close_info(self) -> tuple[dict[str, Any] | None, str]:
        if self.close_seen is not None:
            return self.close_seen, self.close_source
        frame = getattr(self.ws, "close_frame", None)
        if frame is not None:
            return kit.close_from_payload(frame.data), "ws.close_frame"
        # No close frame came, and the library has no close code of its own on this
        # path (WebSocketConnectionClosedException carries none; WebSocketApp passes
        # None, None to on_close): nothing to observe.
        return {"code": None, "reason": None, "observable": False}, "none"

    def clean_info(self) -> tuple[bool | None, str | None]:
        """A close frame returned by recv_data() is the library's normal end; an
        exception (WebSocketConnectionClosedException: the connection was lost) is not.
        When receiving ended otherwise, the library said nothing."""
        if self.ws is None:
            return None, None
        if self.app_closed and (self.end_signal is None or not self.end_signal[0]):
            # close() returns no outcome and closes the socket, so the exception that
            # follows is expected; only newer releases keep the server's close frame.
            if getattr(self.ws, "close_frame", None) is not None:
                return True, "close() then ws.close_frame"
            return None, "none: close() returns no outcome"
        if self.end_signal is None:
            return None, "none: the library signalled no end"
        return self.end_signal


def setup(version: str | None) -> kit.Library:
    import websocket

    return kit.Library(
        library="websocket-client",
        version=str(getattr(websocket, "__version__", version)),
        api="websocket.create_connection",
        new_driver=lambda: Driver(websocket),
        is_async=False,
    )


if __name__ == "__main__":
    sys.exit(kit.main(ADAPTER, "websocket-client", "websocket", setup))
