"""Settings written as ``name=value`` pairs separated by commas (``phone=30,chat=120``):
the one splitting rule the thresholds and costs share. Pure."""

from __future__ import annotations

from collections.abc import Iterator


def assignments(text: str) -> Iterator[tuple[str, str, str | None]]:
    """Each non-empty part of ``text`` as (part, name, value), stripped; value None when the
    part has no ``=``."""
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        yield part, name, value if sep else None
