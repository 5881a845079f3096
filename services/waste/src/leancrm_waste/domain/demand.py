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

Over a period (contract section 6.2, ``/api/v1/demand`` and ``/api/v1/lead-times``):
percentiles of days do not combine, so a period's distribution is taken over the
period's own interactions.

- :func:`demand_over`: the interactions that *started* in ``[start, end)``, per channel
  and reason, per reason, per channel and in all (:func:`demand_table` sums the counts);
  a null channel or reason is ``unknown``.
- :func:`lead_times_over`: the interactions that *ended* in ``[start, end)`` with a lead
  time, whenever they started, per reason and overall: the continuous 50th, 85th and
  95th percentiles and a histogram in the fixed buckets :data:`LEAD_TIME_BUCKETS`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from math import inf
from typing import Final

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


# ---------------------------------------------------------------------------------------
# Over a period (contract section 6.2)

#: what a null channel or reason is called in a period's tables
UNKNOWN: Final = "unknown"
#: the histogram's buckets: (label, lower bound inclusive, upper bound exclusive), seconds
LEAD_TIME_BUCKETS: Final[tuple[tuple[str, float, float], ...]] = (
    ("<1h", 0.0, 3600.0),
    ("1-4h", 3600.0, 4 * 3600.0),
    ("4-24h", 4 * 3600.0, 86400.0),
    ("1-3d", 86400.0, 3 * 86400.0),
    (">3d", 3 * 86400.0, inf),
)
BUCKET_LABELS: Final = tuple(b[0] for b in LEAD_TIME_BUCKETS)


def bucket_of(lead_time_s: float) -> str:
    """The label of the bucket ``lead_time_s`` falls in (a negative lead time, which the
    projector never makes, counts in the first)."""
    for label, _, upper in LEAD_TIME_BUCKETS:
        if lead_time_s < upper:
            return label
    return LEAD_TIME_BUCKETS[-1][0]  # pragma: no cover - the last upper bound is infinite


@dataclass(frozen=True)
class LeadDistribution:
    """The lead times of a set of ended interactions; percentiles None when there are none."""

    ended_interactions: int
    p50_lead_time_s: float | None
    p85_lead_time_s: float | None
    p95_lead_time_s: float | None
    histogram: Mapping[str, int] = field(default_factory=dict)


def lead_distribution(leads: Sequence[float]) -> LeadDistribution:
    """Count, continuous percentiles (:func:`percentile_cont`) and histogram of ``leads``."""
    hist = dict.fromkeys(BUCKET_LABELS, 0)
    for v in leads:
        hist[bucket_of(v)] += 1
    return LeadDistribution(len(leads), percentile_cont(leads, 0.5), percentile_cont(leads, 0.85),
                            percentile_cont(leads, 0.95), hist)


@dataclass(frozen=True)
class PeriodLeadTimes:
    overall: LeadDistribution
    by_reason: Mapping[str, LeadDistribution]


def _in(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


def lead_times_over(records: Iterable[InteractionRecord], start: datetime, end: datetime
                    ) -> PeriodLeadTimes:
    """The lead times of the interactions that ended in ``[start, end)``, per reason and
    overall."""
    per_reason: dict[str, list[float]] = defaultdict(list)
    for r in {r.figures.interaction_id: r for r in records}.values():
        f = r.figures
        if _in(f.ended_at, start, end) and f.lead_time_s is not None:
            per_reason[f.reason or UNKNOWN].append(f.lead_time_s)
    every = [v for leads in per_reason.values() for v in leads]
    return PeriodLeadTimes(lead_distribution(every),
                           {k: lead_distribution(v) for k, v in sorted(per_reason.items())})


def demand_of(contacts: int, failure: int) -> Demand:
    """Value and failure demand of ``contacts`` of which ``failure`` are repeats (a share
    of 0 contacts is NaN: the API gives it as null)."""
    return Demand(contacts, contacts - failure, failure, failure / contacts if contacts else float("nan"))


@dataclass(frozen=True)
class DemandTable:
    rows: Mapping[tuple[str, str], Demand]  # (channel, reason)
    by_reason: Mapping[str, Demand]
    by_channel: Mapping[str, Demand]
    total: Demand


def demand_table(counts: Mapping[tuple[str, str], tuple[int, int]]) -> DemandTable:
    """(channel, reason) → (contacts, failure demand), summed per reason, per channel and
    in all."""
    reason: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    channel: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (c, r), (n, fail) in counts.items():
        for acc in (reason[r], channel[c]):
            acc[0] += n
            acc[1] += fail
    return DemandTable(
        rows={k: demand_of(*v) for k, v in sorted(counts.items())},
        by_reason={k: demand_of(*v) for k, v in sorted(reason.items())},
        by_channel={k: demand_of(*v) for k, v in sorted(channel.items())},
        total=demand_of(sum(n for n, _ in counts.values()), sum(f for _, f in counts.values())))


def demand_over(records: Iterable[InteractionRecord], start: datetime, end: datetime) -> DemandTable:
    """Value and failure demand of the interactions that started in ``[start, end)``."""
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    for r in {r.figures.interaction_id: r for r in records}.values():
        f = r.figures
        if _in(f.started_at, start, end):
            key = (f.channel or UNKNOWN, f.reason or UNKNOWN)
            n, fail = counts.get(key, (0, 0))
            counts[key] = (n + 1, fail + (r.repeat_of is not None))
    return demand_table(counts)
