"""Demand by type and the lead-time distribution (contract section 5, "Service level,
demand and lead times"): the reference ``waste.demand_daily`` and
``waste.lead_time_daily`` are tested against.

- **demand_daily**, per (day of start in the business time zone, default UTC,
  channel, reason): failure demand = the
  interactions that are a repeat (repeat_of set); value demand = contacts − failure
  demand; failure_demand_share = failure demand / contacts.
- **lead_time_daily**, per (day of *end* in that zone, reason), over every channel: the
  continuous 50th, 85th and 95th percentiles of lead_time_s of the interactions that
  ended that day. A lead time is known only at the end, so it is counted then and
  never changes afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, tzinfo

from leancrm_waste.domain.repeats import InteractionRecord
from leancrm_waste.domain.service_level import percentile_cont


@dataclass(frozen=True)
class Demand:
    contacts: int
    value_demand: int
    failure_demand: int
    failure_demand_share: float


DemandKey = tuple[date, str | None, str | None]


def demand_daily(records: Iterable[InteractionRecord], zone: tzinfo = UTC) -> dict[DemandKey, Demand]:
    """(day of start in ``zone``, the business time zone, channel, reason) → value and
    failure demand."""
    groups: dict[DemandKey, list[InteractionRecord]] = defaultdict(list)
    for r in {r.figures.interaction_id: r for r in records}.values():
        f = r.figures
        if f.started_at is not None:
            groups[(f.started_at.astimezone(zone).date(), f.channel, f.reason)].append(r)
    out = {}
    for k, rs in groups.items():
        failure = sum(r.repeat_of is not None for r in rs)
        out[k] = Demand(contacts=len(rs), value_demand=len(rs) - failure, failure_demand=failure,
                        failure_demand_share=failure / len(rs))
    return out


@dataclass(frozen=True)
class LeadTimes:
    ended_interactions: int
    p50_lead_time_s: float
    p85_lead_time_s: float
    p95_lead_time_s: float


LeadKey = tuple[date, str | None]


def lead_time_daily(records: Iterable[InteractionRecord], zone: tzinfo = UTC) -> dict[LeadKey, LeadTimes]:
    """(day of end in ``zone``, the business time zone, reason) → lead-time percentiles
    of the interactions ended then."""
    groups: dict[LeadKey, list[float]] = defaultdict(list)
    for r in {r.figures.interaction_id: r for r in records}.values():
        f = r.figures
        if f.ended_at is not None and f.lead_time_s is not None:
            groups[(f.ended_at.astimezone(zone).date(), f.reason)].append(f.lead_time_s)
    out = {}
    for k, leads in groups.items():
        p50, p85, p95 = (percentile_cont(leads, p) for p in (0.5, 0.85, 0.95))
        assert p50 is not None and p85 is not None and p95 is not None  # leads is not empty
        out[k] = LeadTimes(len(leads), p50, p85, p95)
    return out
