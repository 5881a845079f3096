"""Evidence from the services' logs: their errors and warnings by event, with samples.

Services log JSON lines (structlog: ``timestamp``, ``level``, ``event``); libraries and
crashes write plain text (aiokafka warnings, Python tracebacks), which is kept too.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOTABLE_LEVELS = ("critical", "error", "warning")
SAMPLE_CHARS = 700
#: words that make a plain-text line (a library's log, printed without a level) notable
PLAIN_WORDS = ("error", "exception", "failed", "warning", "unable", "refused")


@dataclass
class LogSummary:
    process: str
    #: (level, event) → how many lines
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (level, event) → the first and the last line of it
    samples: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    tracebacks: list[str] = field(default_factory=list)
    harness_lines: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "notable": [
                {"level": level, "event": event, "count": n,
                 "samples": self.samples.get((level, event), [])}
                for (level, event), n in sorted(self.counts.items(),
                                                key=lambda kv: (NOTABLE_LEVELS.index(kv[0][0]), -kv[1]))
            ],
            "tracebacks": self.tracebacks[:3],
        }


def _remember(summary: LogSummary, key: tuple[str, str], line: str) -> None:
    summary.counts[key] += 1
    kept = summary.samples.setdefault(key, [])
    if len(kept) < 2:
        kept.append(line[:SAMPLE_CHARS])
    else:
        kept[1] = line[:SAMPLE_CHARS]


def scan_log(path: Path, process: str) -> LogSummary:
    summary = LogSummary(process)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return summary
    traceback: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("--- chaos:"):
            summary.harness_lines += 1
            continue
        if traceback is not None:
            if line.startswith((" ", "\t")) or not line.strip() or line.startswith("Traceback"):
                traceback.append(line)
                continue
            traceback.append(line)  # the exception line ends it
            summary.tracebacks.append("\n".join(traceback)[-3000:])
            traceback = None
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                level = str(record.get("level", "")).lower()
                if level in NOTABLE_LEVELS:
                    _remember(summary, (level, str(record.get("event", "?"))), line)
                continue
        if line.startswith("Traceback"):
            traceback = [line]
            continue
        lowered = line.lower()
        if any(word in lowered for word in PLAIN_WORDS):
            shape = re.sub(r"[0-9]+", "#", line.strip())[:70]
            _remember(summary, ("warning", "(plain text) " + shape), line)
    if traceback is not None:
        summary.tracebacks.append("\n".join(traceback)[-3000:])
    return summary


def error_lines(path: Path, events: set[str], limit: int = 5) -> list[str]:
    """The first lines of ``path`` logging one of ``events`` (JSON lines only)."""
    out: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("event") in events:
                    out.append(line.rstrip()[:SAMPLE_CHARS])
                    if len(out) >= limit:
                        break
    except OSError:
        pass
    return out
