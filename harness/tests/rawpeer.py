"""A raw TCP peer for testing the server itself: exact bytes, bad behaviour on purpose.

This is not a WebSocket client library and makes no claim about one; it
lets tests send what no library would (garbage, huge headers, one byte a
second) and read the server's bytes exactly as they arrive.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def upgrade_request(
    path: str, key: str | None = None, extra: str = "", version: str = "13"
) -> tuple[bytes, str]:
    key = key or base64.b64encode(os.urandom(16)).decode()
    head = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n"
    )
    return head.encode(), key


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def masked_frame(
    opcode: int, payload: bytes, fin: bool = True, mask: bytes = b"\x01\x02\x03\x04"
) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_close(sock: socket.socket, timeout: float = 5.0) -> list[bytes]:
    """Every recv() result until EOF: the list shows how the bytes arrived."""
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            chunks.append(b"<RST>")
            break
        if not data:
            break
        chunks.append(data)
    return chunks


def read_exact(sock: socket.socket, n: int, timeout: float = 5.0) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = sock.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf


def read_http_head(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, bytes]:
    """(head up to and including the blank line, bytes already read after it)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        data = sock.recv(4096)
        if not data:
            break
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers (its port).

    Not a WebSocket (or TLS) server: the peer of an opening handshake that hangs.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
