"""Crash reports of each runtime: blamed on the library only when its code is in the stack.

The reports are shaped like the runtimes' own; no library is claimed to
crash here (test_adapter_errors.py runs one through the harness).
"""

from __future__ import annotations

import pytest

from wsreplay.judging.crashes import LibraryCode, library_crash

GO = LibraryCode.of("go", "github.com/coder/websocket")
RUST = LibraryCode.of("rust", "tungstenite")
JAVA = LibraryCode.of("java", "org.java-websocket:Java-WebSocket")
OKHTTP = LibraryCode.of("java", "com.squareup.okhttp3:okhttp")
NODE = LibraryCode.of("node", "undici")

TUNGSTENITE_SRC = "/root/.cargo/registry/src/x/tungstenite-0.20.0/src/protocol/mod.rs"

CASES = [
    (
        GO,
        "panic: close of closed channel\n\ngoroutine 9 [running]:\n"
        "github.com/coder/websocket.(*Conn).close(...)\n\t/x/conn.go:1 +0x1\n",
        "go panic",
        "close of closed channel",
    ),
    (
        RUST,
        f"thread 'main' panicked at {TUNGSTENITE_SRC}:9:5:\nattempt to subtract with overflow\n",
        "rust panic",
        f"{TUNGSTENITE_SRC}:9:5:",
    ),
    (
        JAVA,
        'Exception in thread "WebSocketConnectReadThread-1" java.lang.NullPointerException: x\n'
        "\tat org.java_websocket.WebSocketImpl.decode(WebSocketImpl.java:1)\n",
        "java exception",
        "java.lang.NullPointerException: x",
    ),
    (
        OKHTTP,
        'Exception in thread "OkHttp Dispatcher" java.lang.IllegalStateException: boom\n'
        "\tat okhttp3.internal.ws.RealWebSocket.onReadClose(RealWebSocket.kt:1)\n",
        "java exception",
        "java.lang.IllegalStateException: boom",
    ),
    (
        NODE,
        "/cache/node_modules/undici/lib/web/websocket/websocket.js:10\n    x.y\n      ^\n\n"
        "TypeError: Cannot read properties of undefined (reading 'y')\n"
        "    at onSocketData (/cache/node_modules/undici/lib/web/websocket/receiver.js:5:3)\n",
        "node exception",
        "TypeError: Cannot read properties of undefined (reading 'y')",
    ),
]


@pytest.mark.parametrize(("library", "stderr", "kind", "message"), CASES)
def test_a_crash_in_the_library_is_found(library, stderr, kind, message):
    crash = library_crash(stderr, library)
    assert crash is not None
    assert crash["type"] == kind
    assert crash["message"] == message
    assert crash["where"].startswith("killed the client process, in ")


@pytest.mark.parametrize(("library", "stderr", "kind", "message"), CASES)
def test_the_same_crash_in_other_code_is_not_the_librarys(library, stderr, kind, message):
    other = LibraryCode(("no/such/library",))
    assert library_crash(stderr, other) is None


def test_library_frames_logged_before_the_report_do_not_count():
    stderr = (
        "debug: github.com/coder/websocket.(*Conn).Read returned EOF\n"
        "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"
    )
    assert library_crash(stderr, GO) is None


def test_no_report_no_crash():
    assert library_crash("Traceback (most recent call last):\nValueError: x\n", NODE) is None
