"""The waste ledger (contract section 5, "The seven wastes"): one row per occurrence.

``interaction_wastes`` gives the rows one interaction alone determines; the
``defects/repeat_contact`` rows are in ``repeats`` and the ``overproduction`` rows in
``capacity``.

Choices where the contract is silent:

- ``channel``, ``reason``, ``customer_id`` on every row are the interaction's (from
  ``interaction.started``), also for rows after a channel switch, so ledger rows group
  with the interaction's other figures. Unknown (no ``started`` yet): None.
- ``team``: waiting/queue — the team that answered the episode, else the team last
  assigned before it; waiting/hold — the segment it interrupts; over_processing — the
  segment active at the identification, else the last assigned team; motion /
  transportation — the segment the transfer closes; defects and inventory (at the end)
  — the interaction's last assigned team. None when no agent was assigned (yet).
- ``defects/unresolved``, ``defects/not_first_agent`` and ``inventory/aged_backlog``
  occur "at the interaction's end", so they exist only once ``ended`` has arrived: an
  abandoned or resolved interaction that has not ended has none of them yet.
- ``not_first_agent``: resolved with at least one ``transferred`` before the
  ``resolved`` event (a transfer after the resolution does not make it one).
- ``aged_backlog``: ended − started strictly more than 24 h (exactly 24 h is not aged).
- ``source_event_id``: the event that caused the row — the episode's starting event
  (``queued``/``transferred``/``hold_started``), the ``customer_identified``, the
  ``transferred``, or ``ended`` for the rows at the end. ``key`` is unique per row and
  deterministic (waste_type/subtype/interaction/source), for idempotent upserts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from leancrm_waste.domain.interaction import InteractionFigures

AGED_AFTER = timedelta(hours=24)

WASTE_TYPES = ("overproduction", "transportation", "inventory", "motion", "defects",
               "over_processing", "waiting")


@dataclass(frozen=True)
class WasteRow:
    waste_type: str
    subtype: str
    occurred_at: datetime
    interaction_id: str | None
    customer_id: str | None
    channel: str | None
    reason: str | None
    team: str | None
    quantity: float
    unit: str  # "seconds" or "count"
    source_event_id: str | None
    key: str  # deterministic and unique per row: the projector upserts on it


def row_key(waste_type: str, subtype: str, *parts: object) -> str:
    return "/".join([waste_type, subtype, *("" if p is None else str(p) for p in parts)])


def interaction_wastes(f: InteractionFigures) -> list[WasteRow]:
    """The ledger rows this interaction alone determines, in (occurred_at, key) order."""
    rows: list[WasteRow] = []

    def add(waste_type: str, subtype: str, at: datetime, quantity: float, unit: str,
            source: str | None, team: str | None) -> None:
        rows.append(WasteRow(
            waste_type=waste_type, subtype=subtype, occurred_at=at, interaction_id=f.interaction_id,
            customer_id=f.customer_id, channel=f.channel, reason=f.reason, team=team,
            quantity=float(quantity), unit=unit, source_event_id=source,
            key=row_key(waste_type, subtype, f.interaction_id, source)))

    for ep in (*f.queue_episodes, *f.hold_episodes):
        d = ep.duration_s
        if d is not None and d > 0:
            add("waiting", ep.kind, ep.start, d, "seconds", ep.source_event_id, ep.team)
    for ident in f.identification_events[1:]:
        add("over_processing", "repeat_identification", ident.at, 1, "count", ident.event_id, ident.team)
    for t in f.transfer_events:
        if t.cross_channel:
            add("transportation", "channel_switch", t.at, 1, "count", t.event_id, t.team)
        else:
            add("motion", "handoff", t.at, 1, "count", t.event_id, t.team)
    if f.ended_at is not None:
        end, src, team = f.ended_at, f.ended_event_id, f.last_team
        if not f.resolved:  # includes abandoned
            add("defects", "unresolved", end, 1, "count", src, team)
        elif f.transfers_before_resolution > 0:
            add("defects", "not_first_agent", end, 1, "count", src, team)
        if f.started_at is not None and f.ended_at - f.started_at > AGED_AFTER:
            add("inventory", "aged_backlog", end, 1, "count", src, team)
    rows.sort(key=lambda r: (r.occurred_at, r.key))
    return rows
