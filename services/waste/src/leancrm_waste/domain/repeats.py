"""Figures that need a customer's other interactions (contract section 5).

- **repeat_of**: "the customer's most recent earlier interaction with the same reason
  that started at most 7 days before this one's start (null if none)".
  "At most 7 days" is inclusive: started exactly 7 days (to the microsecond) before
  counts; one microsecond more does not.
  "Earlier" uses the total order (started_at, interaction_id): two interactions of one
  customer and reason that start at the same instant are ordered by interaction_id
  (string order), the later one being a repeat of the earlier. So each interaction's
  repeat_of is its immediate predecessor in that order if that started within 7 days,
  and at most one interaction is a repeat of any given one (chains A ← B ← C, never a
  fan). Interactions whose start, reason or customer is not known yet take no part
  (their repeat_of is None and nothing links to them).
- **first_contact_resolution**: resolved, zero transfers (over the whole interaction),
  and no later interaction is a repeat of it — so it turns false when a repeat arrives.
  "Resolved" means a ``resolved`` event exists, even before ``ended``.
- **defects/repeat_contact**: one row on the earlier interaction (its customer, channel,
  reason and last assigned team) per repeat pointing at it, occurred_at = the repeat's
  start, source_event_id = the repeat's ``interaction.started`` event.

Every result is a function of the set of interactions: arrival order cannot change it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from leancrm_waste.domain.interaction import InteractionFigures
from leancrm_waste.domain.wastes import WasteRow, row_key

REPEAT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class InteractionStart:
    """What linking needs of one interaction (plus what a repeat_contact row carries)."""

    interaction_id: str
    reason: str | None
    started_at: datetime
    customer_id: str | None = None
    channel: str | None = None
    team: str | None = None  # the last assigned team, for the repeat_contact row
    started_event_id: str | None = None

    @classmethod
    def from_figures(cls, f: InteractionFigures) -> InteractionStart | None:
        if f.interaction_id is None or f.started_at is None:
            return None
        return cls(f.interaction_id, f.reason, f.started_at, f.customer_id, f.channel, f.last_team,
                   f.started_event_id)


def _sequence_key(s: InteractionStart) -> tuple[datetime, str]:
    return (s.started_at, s.interaction_id)


def _unique(starts: Iterable[InteractionStart]) -> dict[str, InteractionStart]:
    """One start per interaction_id; if one is given twice with different contents, the
    smallest by (started_at, repr) is kept, so input order cannot matter."""
    out: dict[str, InteractionStart] = {}
    for s in starts:
        seen = out.get(s.interaction_id)
        if seen is None or (s.started_at, repr(s)) < (seen.started_at, repr(seen)):
            out[s.interaction_id] = s
    return out


def link_repeats(starts: Iterable[InteractionStart]) -> dict[str, str | None]:
    """interaction_id → repeat_of (or None), over ONE customer's interactions."""
    unique = _unique(starts)
    customers = {s.customer_id for s in unique.values() if s.customer_id is not None}
    if len(customers) > 1:
        raise ValueError(f"link_repeats is per customer, got {sorted(customers)}")
    by_reason: dict[str, list[InteractionStart]] = defaultdict(list)
    for s in unique.values():
        if s.reason is not None:
            by_reason[s.reason].append(s)
    links: dict[str, str | None] = dict.fromkeys(unique)
    for group in by_reason.values():
        group.sort(key=_sequence_key)
        previous: InteractionStart | None = None
        for s in group:
            within = previous is not None and s.started_at - previous.started_at <= REPEAT_WINDOW
            links[s.interaction_id] = previous.interaction_id if within and previous is not None else None
            previous = s
    return links


def repeated(links: Mapping[str, str | None]) -> frozenset[str]:
    """The interactions some later interaction is a repeat of."""
    return frozenset(v for v in links.values() if v is not None)


def first_contact_resolution(resolved: bool, transfers: int, has_repeat: bool) -> bool:
    return resolved and transfers == 0 and not has_repeat


def repeat_contact_rows(starts: Iterable[InteractionStart],
                        links: Mapping[str, str | None] | None = None) -> list[WasteRow]:
    """``defects/repeat_contact`` rows, one on each earlier interaction a repeat points to.

    ``links`` defaults to ``link_repeats(starts)`` (then ``starts`` is one customer's)."""
    unique = _unique(starts)
    if links is None:
        links = link_repeats(unique.values())
    rows = []
    for repeat_id, earlier_id in links.items():
        if earlier_id is None or repeat_id not in unique or earlier_id not in unique:
            continue
        repeat, earlier = unique[repeat_id], unique[earlier_id]
        rows.append(WasteRow(
            waste_type="defects", subtype="repeat_contact", occurred_at=repeat.started_at,
            interaction_id=earlier.interaction_id, customer_id=earlier.customer_id,
            channel=earlier.channel, reason=earlier.reason, team=earlier.team, quantity=1.0,
            unit="count", source_event_id=repeat.started_event_id,
            key=row_key("defects", "repeat_contact", earlier.interaction_id, repeat.interaction_id)))
    rows.sort(key=lambda r: (r.occurred_at, r.key))
    return rows


@dataclass(frozen=True)
class InteractionRecord:
    """A full ``waste.interactions`` row: the figures plus the two linked columns."""

    figures: InteractionFigures
    repeat_of: str | None
    first_contact_resolution: bool


def link_interactions(figures: Iterable[InteractionFigures]) -> list[InteractionRecord]:
    """repeat_of and first_contact_resolution for interactions of any customers
    (grouped by customer_id; one record per interaction_id, ordered by it)."""
    by_id = {f.interaction_id: f for f in figures if f.interaction_id is not None}
    per_customer: dict[str, list[InteractionStart]] = defaultdict(list)
    for f in by_id.values():
        start = InteractionStart.from_figures(f)
        if start is not None and f.customer_id is not None:
            per_customer[f.customer_id].append(start)
    links: dict[str, str | None] = {}
    for starts in per_customer.values():
        links.update(link_repeats(starts))
    has_repeat = repeated(links)
    return [
        InteractionRecord(
            figures=f,
            repeat_of=links.get(iid),
            first_contact_resolution=first_contact_resolution(f.resolved, f.transfers, iid in has_repeat))
        for iid, f in sorted(by_id.items())
        if iid is not None
    ]
