"""Reading JSON lines from a child's stdout pipe without blocking past a deadline."""

from __future__ import annotations

import os
import select
import time


class LineReader:
    """Lines from one pipe; bytes after a line are kept for the next call."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def readline(self, timeout_s: float) -> tuple[str | None, str]:
        """(line, "") or (None, "timeout") / (None, "eof")."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, "timeout"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None, "eof"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace"), ""
