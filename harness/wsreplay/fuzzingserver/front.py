"""TEMPORARY STAND-IN for helper "front"'s module (issue 15): replaced by theirs at merge.

Only the interface of /work/notes/ab15-interfaces.md, so that session.py and
the CLI type-check before the real listener lands; `Front.start` refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ControlHandler(Protocol):
    def case_count(self) -> int: ...
    def case_info(self, case: int) -> dict | None: ...
    def run_target(self, case: int, agent: str) -> str | None: ...
    def case_status(self, case: int, agent: str) -> dict: ...
    def update_reports(self, agent: str | None) -> None: ...


class Front:
    def __init__(
        self, handler: ControlHandler, handoff_path: Path, host: str = "127.0.0.1", port: int = 9001
    ) -> None:
        self.handler = handler
        self.handoff_path = handoff_path
        self.host = host
        self.port = port

    def start(self) -> int:
        raise NotImplementedError("the fuzzingserver front is not merged yet")

    def stop(self) -> None:
        pass
