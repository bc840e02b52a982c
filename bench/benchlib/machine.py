"""What the figures were measured on: a figure without its machine and load means little."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime


def loadavg() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def describe() -> dict:
    """Cores, kernel, CPU model, load and time, at the start of the bench."""
    return {
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "load_at_start": loadavg(),
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
