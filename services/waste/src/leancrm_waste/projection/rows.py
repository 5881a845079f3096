"""The rows the projector writes to its private store, and the stored events it
recomputes them from: plain records named like the store's columns (the SQL of
:mod:`leancrm_waste.projection.writes` dumps them as JSON records), no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

# The records below live for one batch and are made by the hundred thousand: plain
# slotted dataclasses, as a frozen one's __init__ costs about three times as much.


@dataclass(slots=True)
class RawEvent:
    stream_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(slots=True)
class InteractionRow:
    interaction_id: UUID
    customer_id: str | None
    channel: str | None
    reason: str | None
    started_at: datetime | None
    started_event_id: str | None
    ended_at: datetime | None
    status: str
    resolved_by: str | None
    transfers: int
    cross_channel_transfers: int
    identifications: int
    queue_wait_s: float
    hold_s: float
    handle_s: float
    value_added_s: float
    lead_time_s: float | None
    reached_agent: bool
    team: str | None
    queued_since: datetime | None = None
    on_hold_since: datetime | None = None


@dataclass(slots=True)
class LedgerRow:
    row_key: str
    interaction_id: UUID
    waste_type: str
    subtype: str
    occurred_at: datetime
    customer_id: str | None
    channel: str | None
    reason: str | None
    team: str | None
    quantity: float
    unit: str
    source_event_id: str | None


@dataclass(slots=True)
class AgentPeriodRow:
    agent_id: str
    signed_in_event_id: str
    team: str | None
    start_at: datetime
    end_at: datetime | None


@dataclass(slots=True)
class StaffedRow:
    agent_id: str
    bucket_start: datetime
    team: str
    staffed_s: float


@dataclass(slots=True)
class BusyRow:
    interaction_id: UUID
    bucket_start: datetime
    team: str
    busy_s: float
