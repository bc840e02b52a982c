"""Memory of a process and its descendants, read from /proc.

VmHWM is the kernel's own peak RSS of a process, so sampling every 100 ms
loses nothing but the last 100 ms of a process's life. The harness's server
and adapters are its children (`./wsreplay` execs python), so one watcher on
the harness's pid sees them all.
"""

from __future__ import annotations

import os
import threading


def status_kib(pid: int, field: str) -> int | None:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), or None if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _parents() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, comm) for every process now."""
    table: dict[int, tuple[int, str]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split at the last ')'
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        table[int(name)] = (ppid, comm)
    return table


def descendants(root: int) -> dict[int, str]:
    """pid -> comm of root's descendants (not root itself)."""
    table = _parents()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, comm) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = comm
                frontier.append(pid)
    return found


class TreeWatcher:
    """Samples the peak RSS (VmHWM) of a process tree until stopped.

    `peaks` maps a role to the largest peak seen in it: `root` (the process
    watched), and each descendant by its command name (`wsreplay-server`,
    `python3`, ...). A role that several processes share keeps the largest.
    """

    def __init__(self, root: int, interval_s: float = 0.1) -> None:
        self.root = root
        self.interval_s = interval_s
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> TreeWatcher:
        self._thread.start()
        return self

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join()
        return dict(self.peaks)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval_s)

    def _sample(self) -> None:
        roles = {self.root: "root", **descendants(self.root)}
        for pid, role in roles.items():
            hwm = status_kib(pid, "VmHWM")
            if hwm is not None and hwm > self.peaks.get(role, 0):
                self.peaks[role] = hwm
