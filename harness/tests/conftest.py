"""What the harness's tests share: the `./wsreplay` launcher and one way to run it.

Test modules import these (``from conftest import WSREPLAY, wsreplay``) rather
than each keeping its own copy; pytest has already imported this module by then.
"""

from __future__ import annotations

import subprocess

from wsreplay.paths import REPO_ROOT

#: The launcher a user runs, so the tests drive the CLI exactly as people do.
WSREPLAY = str(REPO_ROOT / "wsreplay")


def wsreplay(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``./wsreplay ARGS`` to the end: exit status, stdout and stderr as text.

    ``timeout`` (seconds) bounds a hung command; a run that installs client
    versions on first use needs minutes.
    """
    return subprocess.run([WSREPLAY, *args], capture_output=True, text=True, timeout=timeout)
