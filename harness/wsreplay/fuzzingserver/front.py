"""The fuzzingserver's front door: one TCP port that speaks Autobahn's URL protocol.

An Autobahn client driver connects to one port and asks, each time over a
WebSocket of its own, ``/getCaseCount``, ``/getCaseInfo?case=N``,
``/runCase?case=N&agent=A``, ``/getCaseStatus?case=N&agent=A`` and
``/updateReports?agent=A``. The front accepts every connection and *peeks* at
its request line (``MSG_PEEK``: nothing is consumed), then

- answers the control URLs itself, with a minimal server-side WebSocket from
  the standard library: the opening handshake of RFC 6455 4.2.2, one
  unmasked text message (the count, the case's JSON, the status), a close
  1000, and the client's close read until EOF or a timeout;
- hands each ``/runCase`` connection, its request still unread, to the C
  server (``wsreplay-server --handoff PATH``, server/README.md) with
  ``SCM_RIGHTS``, together with the request-target the server must route it
  by (`ControlHandler.run_target`). The server then reads the handshake and
  plays the scenario byte for byte, its splits, delays and RST included,
  which no proxy in between could keep.

A request the front cannot use (no request line within `head_timeout`, not
HTTP, a missing or bad parameter, a path it does not serve, a case that does
not exist) gets an HTTP error status with the reason in its body, or is
closed when nothing came; none of it stops the front.

What the answers mean (case numbers, statuses, reports) is the
`ControlHandler`'s business; the front only carries them. The handler is
called from the connections' threads, several at once.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

#: RFC 6455 1.3: appended to the client's key before hashing.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: The longest request head the front reads (as wsreplay-server's default).
MAX_HEAD = 8192
#: The longest request-target a handoff datagram may carry (server/handoff.h).
MAX_ROUTED_TARGET = 2048
#: Control URLs the front answers itself; /runCase goes to the C server.
CONTROL_PATHS = ("/getCaseCount", "/getCaseInfo", "/getCaseStatus", "/updateReports")
RUN_PATH = "/runCase"

OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class ControlHandler(Protocol):
    """What the front asks of the mode's session (ab15-interfaces.md)."""

    def case_count(self) -> int: ...

    def case_info(self, case: int) -> dict | None:
        """{"id": "1.1.1", "description": "..."}; None: no such case."""
        ...

    def run_target(self, case: int, agent: str) -> str | None:
        """The request-target for the C server; None: no such case, or excluded."""
        ...

    def case_status(self, case: int, agent: str) -> dict:
        """{"behavior": "OK"}; may block (bounded) until that case is judged."""
        ...

    def update_reports(self, agent: str | None) -> None:
        """Writes the reports; called before the close frame goes out."""
        ...


class RequestError(Exception):
    """A request the front refuses: an HTTP status and the reason it sends."""

    def __init__(self, status: int, reason: str, headers: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


# ---- HTTP and WebSocket, the little the front needs --------------------------


@dataclass(frozen=True)
class RequestLine:
    method: str
    target: str
    version: str

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def params(self) -> dict[str, str]:
        """The query's parameters, percent-decoded; the first of a repeated one."""
        query = urlsplit(self.target).query
        return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


def parse_request_line(data: bytes) -> RequestLine | None:
    """The request line at the start of data; None while its CRLF has not come.

    Raises RequestError (400) when what came cannot be an HTTP/1.1 request line.
    """
    end = data.find(b"\r\n")
    if end < 0:
        if len(data) >= MAX_HEAD:
            raise RequestError(400, "request line too long")
        if data and not data[:1].isalpha():
            raise RequestError(400, "not an HTTP request")
        return None
    try:
        line = data[:end].decode("ascii")
    except UnicodeDecodeError:
        raise RequestError(400, "not an HTTP request (non-ASCII request line)") from None
    parts = line.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/"):
        raise RequestError(400, "not an HTTP request line")
    method, target, version = parts
    if not target.startswith("/"):
        raise RequestError(400, "the request-target must start with '/'")
    return RequestLine(method, target, version)


def parse_headers(head: bytes) -> dict[str, list[str]]:
    """Header fields of a request head (after its request line), by lower-case name."""
    fields: dict[str, list[str]] = {}
    for raw in head.split(b"\r\n")[1:]:
        if not raw:
            continue
        name, sep, value = raw.partition(b":")
        if not sep or not name or name != name.strip():
            raise RequestError(400, "malformed header field")
        fields.setdefault(name.decode("latin-1").lower(), []).append(
            value.strip().decode("latin-1")
        )
    return fields


def _tokens(values: list[str]) -> set[str]:
    return {t.strip().lower() for v in values for t in v.split(",") if t.strip()}


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode()


def check_upgrade(line: RequestLine, fields: dict[str, list[str]]) -> str:
    """The handshake's checks (RFC 6455 4.2.1); returns the accept value.

    Raises RequestError: 405 not GET, 400 a missing or bad field, 426 a
    version other than 13 (with the version the front speaks).
    """
    if line.method != "GET":
        raise RequestError(405, "a WebSocket handshake is a GET", ("Allow: GET",))
    if line.version != "HTTP/1.1":
        raise RequestError(400, "a WebSocket handshake needs HTTP/1.1")
    if len(fields.get("host", [])) != 1:
        raise RequestError(400, "one Host header field is required")
    if "websocket" not in _tokens(fields.get("upgrade", [])):
        raise RequestError(400, "Upgrade: websocket is required")
    if "upgrade" not in _tokens(fields.get("connection", [])):
        raise RequestError(400, "Connection: Upgrade is required")
    if fields.get("sec-websocket-version") != ["13"]:
        raise RequestError(
            426, "Sec-WebSocket-Version 13 is required", ("Sec-WebSocket-Version: 13",)
        )
    keys = fields.get("sec-websocket-key", [])
    try:
        valid = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
    except ValueError:
        valid = False
    if not valid:
        raise RequestError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return accept_key(keys[0])


_PHRASES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_PHRASES |= {426: "Upgrade Required", 500: "Internal Server Error", 503: "Service Unavailable"}


def error_response(err: RequestError) -> bytes:
    body = (err.reason + "\n").encode("utf-8", "replace")
    head = [
        f"HTTP/1.1 {err.status} {_PHRASES.get(err.status, 'Error')}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *err.headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def switching_protocols(accept: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode("ascii")


def server_frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (a server's, RFC 6455 5.1)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def close_frame(code: int = 1000, reason: str = "") -> bytes:
    return server_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode("utf-8"))


def _close_reason(text: str) -> str:
    """text cut to fit a close frame's reason (123 bytes of UTF-8, RFC 6455 5.5)."""
    data = text.encode("utf-8")[:123]
    return data.decode("utf-8", "ignore")


def next_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """Takes one complete frame (opcode, unmasked payload) off buf; None: not yet.

    Only what the front reads after its close: the client's pings, pongs,
    messages and its close. Raises RequestError on a frame it will not take
    (over 64 KiB): the connection is then simply closed.
    """
    if len(buf) < 2:
        return None
    opcode, size = buf[0] & 0x0F, buf[1] & 0x7F
    masked = bool(buf[1] & 0x80)
    pos = 2
    if size == 126:
        if len(buf) < 4:
            return None
        size = struct.unpack_from("!H", buf, 2)[0]
        pos = 4
    elif size == 127:
        if len(buf) < 10:
            return None
        size = struct.unpack_from("!Q", buf, 2)[0]
        pos = 10
    if size > 65536:
        raise RequestError(400, "frame too large")
    mask = b""
    if masked:
        if len(buf) < pos + 4:
            return None
        mask = bytes(buf[pos : pos + 4])
        pos += 4
    if len(buf) < pos + size:
        return None
    payload = bytes(buf[pos : pos + size])
    del buf[: pos + size]
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload


def _case_param(params: dict[str, str]) -> int:
    text = params.get("case")
    if text is None:
        raise RequestError(400, "the case parameter is missing (case=N)")
    if not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise RequestError(400, f"case={text!r} is not a case number (1, 2, ...)")
    return int(text)


def _agent_param(params: dict[str, str]) -> str:
    agent = params.get("agent")
    if not agent:
        raise RequestError(400, "the agent parameter is missing (agent=NAME)")
    return agent


# ---- the front ----------------------------------------------------------------


@dataclass
class FrontStats:
    """What the front did, for the log and the tests."""

    accepted: int = 0
    handed_over: int = 0
    answered: dict[str, int] = field(default_factory=dict)  # control path -> count
    refused: int = 0  # an HTTP error status went out
    dropped: int = 0  # closed without an answer: nothing came in time, or a gone client


class Front:
    """The listener on the fuzzingserver's port; control URLs here, cases to the C server.

    handoff_path is the unix socket of ``wsreplay-server --handoff PATH``,
    which must be listening before the first /runCase arrives. Timeouts, in
    seconds: head_timeout for the request line (and then the whole head of a
    control request), close_timeout for the client's close after the front's.
    At most max_connections are served at once; one more is closed at once.
    """

    def __init__(
        self,
        handler: ControlHandler,
        handoff_path: Path,
        host: str = "127.0.0.1",
        port: int = 9001,
        *,
        head_timeout: float = 10.0,
        close_timeout: float = 5.0,
        max_connections: int = 256,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.handler = handler
        self.handoff_path = Path(handoff_path)
        self.host = host
        self.port = port
        self.head_timeout = head_timeout
        self.close_timeout = close_timeout
        self.max_connections = max_connections
        self.log = log or (lambda message: None)
        self.stats = FrontStats()
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._conns: set[threading.Thread] = set()
        self._lock = threading.Lock()  # _conns, stats
        self._handoff: socket.socket | None = None
        self._handoff_lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifetime

    def start(self) -> int:
        """Binds (port 0 picks a free one), serves on threads; returns the port."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family, backlog=128)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"fuzzingserver-front:{self.port}", daemon=True
        )
        self._acceptor.start()
        return self.port

    def stop(self) -> None:
        """Stops accepting, waits (bounded) for the connections being served, closes all."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            self._listener.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        deadline = time.monotonic() + self.head_timeout + self.close_timeout
        with self._lock:
            conns = list(self._conns)
        for thread in conns:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._handoff_lock:
            if self._handoff is not None:
                self._handoff.close()
                self._handoff = None

    def __enter__(self) -> Front:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- accepting

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.05)  # out of descriptors, say: try again
                continue
            with self._lock:
                self.stats.accepted += 1
                busy = len(self._conns) >= self.max_connections
                if busy:
                    self.stats.dropped += 1
            if busy:
                self.log(f"front: {self.max_connections} connections served already; closed one")
                conn.close()
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self._conns.add(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._serve_one(conn)
        except OSError as exc:  # the client went away mid-answer
            self._count("dropped")
            self.log(f"front: connection lost: {exc}")
        except Exception as exc:  # the handler failed: the client hears of it, we go on
            self._count("refused")
            self.log(f"front: handler failed: {exc!r}")
            with contextlib.suppress(OSError):
                conn.sendall(error_response(RequestError(500, f"internal error: {exc!r}")))
        finally:
            conn.close()
            with self._lock:
                self._conns.discard(threading.current_thread())

    def _count(self, what: str, path: str = "") -> None:
        with self._lock:
            if what == "answered":
                self.stats.answered[path] = self.stats.answered.get(path, 0) + 1
            else:
                setattr(self.stats, what, getattr(self.stats, what) + 1)

    # -- one connection

    def _serve_one(self, conn: socket.socket) -> None:
        deadline = time.monotonic() + self.head_timeout
        try:
            line = self._peek_request_line(conn, deadline)
            if line is None:
                self._drop(conn)
                return
            if line.path == RUN_PATH:
                target = self._run_target(line)
                if self._hand_over(conn, target):
                    return
                raise RequestError(503, "the scenario server does not take connections")
            if line.path not in CONTROL_PATHS:
                raise RequestError(
                    404,
                    f"no such URL: {line.path} (the fuzzingserver's are "
                    f"{', '.join((*CONTROL_PATHS, RUN_PATH))})",
                )
            got = self._read_head(conn, deadline)
            if got is None:
                self._drop(conn)
                return
            head, early = got
            accept = check_upgrade(line, parse_headers(head))
        except RequestError as err:
            self._refuse(conn, err)
            return
        self._control(conn, line, accept, early)

    def _drop(self, conn: socket.socket) -> None:
        """Closes a connection that sent nothing usable in time, with FIN.

        What it did send is read first: close() with unread bytes would reset it.
        """
        self._count("dropped")
        with contextlib.suppress(OSError):
            conn.setblocking(False)
            while conn.recv(65536):
                pass

    def _refuse(self, conn: socket.socket, err: RequestError) -> None:
        self._count("refused")
        with contextlib.suppress(OSError):
            conn.sendall(error_response(err))
            conn.shutdown(socket.SHUT_WR)
            # What the client still sends is read, so that close() sends FIN, not RST.
            self._drain(conn, time.monotonic() + 1.0)

    def _peek_request_line(self, conn: socket.socket, deadline: float) -> RequestLine | None:
        """The request line, peeked at: the bytes stay in the socket for whoever reads it.

        None when the client closed or sent no complete line before the deadline.
        """
        pause = 0.002
        seen = -1
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            conn.settimeout(left)
            try:
                data = conn.recv(MAX_HEAD, socket.MSG_PEEK)
            except TimeoutError:
                return None
            if not data:
                return None
            line = parse_request_line(data)
            if line is not None:
                return line
            # Part of a line: peek returns the same bytes until more arrive,
            # so wait a little before looking again.
            if len(data) == seen:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.05)
            seen = len(data)

    def _read_head(self, conn: socket.socket, deadline: float) -> tuple[bytes, bytes] | None:
        """Reads (consumes) the whole request head of a control request.

        Returns the head and the bytes that came behind it: a control URL gets
        one message and a close, and frames the client sent right behind its
        head are read, with the rest, after the close. None: the client
        closed, or the head did not come before the deadline.
        """
        buf = b""
        while b"\r\n\r\n" not in buf:
            if len(buf) >= MAX_HEAD:
                raise RequestError(400, "request head too large")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            conn.settimeout(left)
            try:
                data = conn.recv(MAX_HEAD - len(buf))
            except TimeoutError:
                return None
            if not data:
                return None
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        return head, rest

    def _run_target(self, line: RequestLine) -> str:
        params = line.params()
        case = _case_param(params)
        agent = _agent_param(params)
        target = self.handler.run_target(case, agent)
        if target is None:
            raise RequestError(404, f"no case {case} for agent {agent!r}")
        if not (
            target.startswith("/")
            and len(target.encode()) <= MAX_ROUTED_TARGET
            and all(0x20 < ord(c) < 0x7F for c in target)
        ):
            raise RequestError(500, f"the handler gave a bad target: {target[:200]!r}")
        return target

    # -- the handoff

    def _hand_over(self, conn: socket.socket, target: str) -> bool:
        """Sends conn's descriptor and target to the C server; False if it cannot.

        One reconnect on a broken handoff socket (a server restarted, say).
        """
        with self._handoff_lock:
            for attempt in (1, 2):
                try:
                    if self._handoff is None:
                        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                        try:
                            sock.connect(str(self.handoff_path))
                        except OSError:
                            sock.close()
                            raise
                        self._handoff = sock
                    socket.send_fds(self._handoff, [target.encode("ascii")], [conn.fileno()])
                except OSError as exc:
                    if self._handoff is not None:
                        self._handoff.close()
                        self._handoff = None
                    self.log(
                        f"front: handoff to {self.handoff_path} failed ({exc}); "
                        f"{'retrying' if attempt == 1 else 'refused the case'}"
                    )
                    continue
                self._count("handed_over")
                return True
        return False

    # -- control URLs

    def _control(self, conn: socket.socket, line: RequestLine, accept: str, early: bytes) -> None:
        """The 101, the answer, the close 1000, the client's close."""
        conn.settimeout(self.close_timeout)
        try:
            answer = self._answer(line.path, line.params())
        except RequestError as err:
            self._refuse(conn, err)
            return
        conn.sendall(switching_protocols(accept))
        try:
            message = answer()
        except Exception as exc:
            # After the 101 an HTTP status cannot go out: a close 1011
            # (internal error, RFC 6455 7.4.1) says it, with the reason.
            self._count("refused")
            self.log(f"front: handler failed on {line.target}: {exc!r}")
            conn.sendall(close_frame(1011, _close_reason(f"internal error: {exc!r}")))
            self._await_close(conn, early)
            return
        out = server_frame(OP_TEXT, message.encode("utf-8")) if message is not None else b""
        conn.sendall(out + close_frame(1000))
        self._count("answered", line.path)
        self._await_close(conn, early)

    def _answer(self, path: str, params: dict[str, str]) -> Callable[[], str | None]:
        """The answer of a control URL, to be given after the 101: its message, or None.

        Parameters are checked before the 101 (RequestError: a bad one is a
        400, as in Autobahn), and so is the case of /getCaseInfo. The rest may
        take time (a status waits for its case's verdict), so it runs after.
        """
        handler = self.handler
        if path == "/getCaseCount":
            return lambda: json.dumps(handler.case_count())
        if path == "/getCaseInfo":
            case = _case_param(params)
            info = handler.case_info(case)
            if info is None:
                raise RequestError(400, f"no case {case} (there are {handler.case_count()})")
            return lambda: json.dumps(info)
        if path == "/getCaseStatus":
            case = _case_param(params)
            agent = _agent_param(params)
            return lambda: json.dumps(handler.case_status(case, agent))
        some = params.get("agent") or None  # /updateReports; none: every agent's

        def update() -> None:
            handler.update_reports(some)

        return update

    def _await_close(self, conn: socket.socket, early: bytes) -> None:
        """Reads until the client's close frame, then closes TCP first (RFC 6455 7.1.1)."""
        deadline = time.monotonic() + self.close_timeout
        buf = bytearray(early)
        while True:
            try:
                frame = next_frame(buf)
            except RequestError:
                return
            if frame is not None:
                if frame[0] == OP_CLOSE:
                    break
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            conn.settimeout(left)
            try:
                data = conn.recv(65536)
            except TimeoutError:
                return
            if not data:
                return
            buf += data
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
            self._drain(conn, time.monotonic() + self.close_timeout)

    @staticmethod
    def _drain(conn: socket.socket, deadline: float) -> None:
        """Reads and drops until EOF or the deadline."""
        while (left := deadline - time.monotonic()) > 0:
            conn.settimeout(left)
            try:
                if not conn.recv(65536):
                    return
            except (TimeoutError, OSError):
                return


_socket_names = itertools.count(1)


def handoff_socket_path(directory: Path) -> Path:
    """A path for the handoff socket under directory that fits sun_path (108 bytes).

    A deep work folder does not: then a short name of this process's in the
    system's temp folder (the server unlinks its socket when it stops).
    """
    path = directory / "handoff.sock"
    if len(os.fsencode(path)) < 100:
        return path
    name = f"wsreplay-handoff-{os.getpid()}-{next(_socket_names)}.sock"
    return Path(tempfile.gettempdir()) / name
