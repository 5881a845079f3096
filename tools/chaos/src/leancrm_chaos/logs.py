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
    #: the last line of each traceback (the exception) → how many, and the last one in full
    tracebacks: Counter[str] = field(default_factory=Counter)
    traceback_samples: dict[str, str] = field(default_factory=dict)
    harness_lines: int = 0

    def add_traceback(self, lines: list[str]) -> None:
        exception = next((line for line in reversed(lines) if line.strip()), "?").strip()[:300]
        self.tracebacks[exception] += 1
        self.traceback_samples[exception] = "\n".join(lines)[-1500:]

    def as_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "notable": [
                {"level": level, "event": event, "count": n,
                 "samples": self.samples.get((level, event), [])}
                for (level, event), n in sorted(self.counts.items(),
                                                key=lambda kv: (NOTABLE_LEVELS.index(kv[0][0]), -kv[1]))
            ],
            "tracebacks": [{"exception": e, "count": n, "sample": self.traceback_samples[e]}
                           for e, n in self.tracebacks.most_common(5)],
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
    boxed = False  # a rich traceback (typer's): a box, then the exception line
    for line in text.splitlines():
        if line.startswith("--- chaos:"):
            summary.harness_lines += 1
            continue
        if boxed and traceback is not None:
            traceback.append(line)
            if line.strip() and not line.startswith(("│", "╭", "╰", " ")):
                summary.add_traceback(traceback)
                traceback, boxed = None, False
            continue
        if line.startswith("╭") and "Traceback" in line:
            traceback, boxed = [line], True
            continue
        if traceback is not None:
            if line.startswith((" ", "\t")) or not line.strip() or line.startswith("Traceback"):
                traceback.append(line)
                continue
            traceback.append(line)  # the exception line ends it
            summary.add_traceback(traceback)
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
        summary.add_traceback(traceback)
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


def find_lines(paths: dict[str, Path], needles: set[str], per_needle: int = 3
               ) -> dict[str, list[str]]:
    """For each needle (a marker, a command_id, an event_id), the first lines of the logs
    that name it, prefixed with the process: one pass over each log."""
    found: dict[str, list[str]] = {n: [] for n in needles}
    if not needles:
        return found
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    for process, path in paths.items():
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    for match in set(pattern.findall(line)):
                        kept = found[match]
                        if len(kept) < per_needle:
                            kept.append(f"{process}: {line.rstrip()[:SAMPLE_CHARS]}")
        except OSError:
            continue
    return found
