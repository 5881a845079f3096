"""The projector's bridge to the pure waste domain (``leancrm_waste.domain``): stored
events in, the store's rows out. Section 5 itself lives in the domain, once.

Figures that need other interactions (repeat_of, first_contact_resolution,
defects/repeat_contact) and overproduction are derived set-based in the views; the
domain's ``repeats`` and ``capacity`` functions are their reference in tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from leancrm_waste.domain.capacity import (
    SignInPeriod,
    busy_by_hour,
    hour_of,
    periods_after,
    split_by_hour,
    staffed_from,
)
from leancrm_waste.domain.events import Event
from leancrm_waste.domain.interaction import summarise_interaction, waiting_since
from leancrm_waste.domain.wastes import interaction_wastes
from leancrm_waste.projection.rows import (
    AgentPeriodRow,
    BusyRow,
    InteractionRow,
    LedgerRow,
    RawEvent,
    StaffedRow,
)

__all__ = ["agent_tail", "interaction", "split_by_hour"]


def _id(value: str | None) -> str | None:
    """An id as the validated event gave it (canonical UUID text, parsed by PostgreSQL)."""
    return value or None


def interaction(interaction_id: UUID, events: Sequence[RawEvent]
                ) -> tuple[InteractionRow, list[LedgerRow], list[BusyRow]]:
    f = summarise_interaction(
        (Event(e.event_id, e.event_type, e.occurred_at, e.data) for e in events),
        str(interaction_id),
    )
    row = InteractionRow(
        interaction_id=interaction_id, customer_id=_id(f.customer_id), channel=f.channel,
        reason=f.reason, started_at=f.started_at, started_event_id=_id(f.started_event_id),
        ended_at=f.ended_at, status=f.status, resolved_by=f.resolved_by, transfers=f.transfers,
        cross_channel_transfers=f.cross_channel_transfers, identifications=f.identifications,
        queue_wait_s=f.queue_wait_s, hold_s=f.hold_s, handle_s=f.handle_s,
        value_added_s=f.value_added_s, lead_time_s=f.lead_time_s, reached_agent=f.reached_agent,
        team=f.last_team,
    )
    row.queued_since, row.on_hold_since = waiting_since(f)
    ledger = [
        LedgerRow(row_key=w.key, interaction_id=interaction_id, waste_type=w.waste_type,
                  subtype=w.subtype, occurred_at=w.occurred_at, customer_id=_id(w.customer_id),
                  channel=w.channel, reason=w.reason, team=w.team, quantity=w.quantity,
                  unit=w.unit, source_event_id=_id(w.source_event_id))
        for w in interaction_wastes(f)
    ]
    busy = [BusyRow(interaction_id, hour, team, seconds)
            for (hour, team), seconds in sorted(busy_by_hour(f.agent_segments).items())]
    return row, ledger, busy


def agent_tail(agent_id: str, cut: datetime | None, records: Sequence[Any],
               kept: Sequence[Any]) -> tuple[list[AgentPeriodRow], list[StaffedRow]]:
    """One agent's sign-in periods after ``cut`` (a resume point; None: all) from its
    events after it, and its staffed seconds per UTC hour and team (at sign-in) from
    the cut's hour on, closed periods only. ``records`` carry event_id, event_type,
    occurred_at and team; ``kept`` are the stored closed periods that began by the cut
    and reach past its hour."""
    events = [Event(r["event_id"], r["event_type"], r["occurred_at"],
                    {"agent_id": agent_id, "team": r["team"]}) for r in records]
    periods = periods_after(cut, events)
    earlier = [SignInPeriod(agent_id, r["team"], r["start_at"], r["end_at"], r["signed_in_event_id"])
               for r in kept]
    by_hour = staffed_from(None if cut is None else hour_of(cut), earlier + periods)
    return ([AgentPeriodRow(agent_id, p.source_event_id, p.team, p.start, p.end) for p in periods],
            [StaffedRow(agent_id, hour, team, seconds)
             for (hour, team), seconds in sorted(by_hour.items())])
