"""The run's journal: every fault and every notable moment as a JSON line with its wall
time (``faults.jsonl`` in the run's directory), and a short line on the console."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape


def wall_time(epoch_s: float | None = None) -> str:
    """``2026-12-01T04:23:44.123Z``"""
    moment = datetime.fromtimestamp(time.time() if epoch_s is None else epoch_s, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def open_append(path: Path) -> IO[str]:
    """``path`` opened for appending text lines (the caller closes it)."""
    return open(path, "a", encoding="utf-8")


class Journal:
    """Appends events to a JSON-lines file (flushed at once, so a killed run keeps them)."""

    def __init__(self, path: Path, console: Console) -> None:
        self.path = path
        self.console = console
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        self._file: IO[str] | None = open_append(path)
        #: the events kept in memory for the report (malformed records only go to the file)
        self.events: list[dict[str, Any]] = []

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def since_start(self, at: str) -> float | None:
        """Seconds from the journal's start to the RFC 3339 time ``at`` (None if unreadable)."""
        try:
            moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        return moment.timestamp() - self.t0_wall

    def event(self, event: str, message: str | None = None, *, keep: bool = True,
              style: str = "", **fields: Any) -> dict[str, Any]:
        """Record ``event`` now; print ``message`` (rich markup allowed in ``style`` only)."""
        record: dict[str, Any] = {"at": wall_time(), "t": round(self.elapsed(), 3), "event": event,
                                  **fields}
        if self._file is not None:
            self._file.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
            self._file.flush()
        if keep:
            self.events.append(record)
        if message is not None:
            text = escape(message)
            shown = f"[{style}]{text}[/]" if style else text
            self.console.print(f"[dim]{record['at'][11:23]} {record['t']:8.1f}s[/] {shown}",
                               highlight=False)
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
