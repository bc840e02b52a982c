"""A client process killed by its library: told apart from a broken adapter.

Adapters catch what a library throws outside the application's calls and
report it as `crash`. Some crashes cannot be caught: a Go panic in a
goroutine the library started, a Rust panic that unwinds through `main`, an
exception that kills a JVM or Node.js thread with no handler. The process
dies, and its runtime prints a crash report on stderr. When that report
points into the library under test, the library crashed the application,
which is a `fail` for the library, not an `error` of the harness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..contract import Crash

#: The first line of each runtime's crash report, with the exception's type and message.
_REPORTS = (
    # Go: "panic: runtime error: index out of range [3] with length 3"
    ("go panic", re.compile(r"^panic: (?P<message>.+)$", re.M)),
    # Rust: "thread 'main' panicked at src/lib.rs:10:5:" (the message follows)
    ("rust panic", re.compile(r"^thread '[^']*' panicked at (?P<message>.+)$", re.M)),
    # Java: 'Exception in thread "main" java.lang.IllegalStateException: boom'
    ("java exception", re.compile(r'^Exception in thread "[^"]*" (?P<message>.+)$', re.M)),
    # Node.js: "TypeError: Cannot read properties of undefined" above "    at …" lines
    (
        "node exception",
        re.compile(r"^(?P<message>(?:[A-Z]\w*)?Error(?: \[\w+\])?: .+)\n\s+at ", re.M),
    ),
)


@dataclass(frozen=True)
class LibraryCode:
    """How a library's code shows in a crash report's stack: path or package fragments."""

    fragments: tuple[str, ...]

    @classmethod
    def of(cls, language: str, package: str) -> LibraryCode:
        """The fragments for one adapter's library (its manifest's language and package)."""
        if language == "go":
            return cls((package + "/", package + "."))
        if language == "rust":
            return cls((f"/{package}-", f"{package}::"))
        if language == "java":
            group = package.split(":", 1)[0]
            return cls(("okhttp3.",) if "okhttp" in group else (group.replace("-", "_") + ".",))
        if language in ("node", "browser"):
            return cls((f"node_modules/{package}/",))
        return cls((f"site-packages/{package}/",))


def library_crash(stderr: str, library: LibraryCode) -> Crash | None:
    """The crash the process's last report blames on the library, or None.

    Only the text from the report's first line on is read, so a library
    frame logged earlier cannot make an adapter bug look like a crash.
    """
    found = None
    for kind, pattern in _REPORTS:
        for match in pattern.finditer(stderr):
            if found is None or match.start() > found[1].start():
                found = (kind, match)
    if found is None:
        return None
    kind, match = found
    report = stderr[match.start() :]
    frame = next(
        (line.strip() for line in report.splitlines() if any(f in line for f in library.fragments)),
        None,
    )
    if frame is None:
        return None
    return {
        "type": kind,
        "message": match["message"].strip()[:500],
        "where": f"killed the client process, in {frame[:200]}",
    }
