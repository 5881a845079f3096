"""Aggregates of contract section 6 over sets of interactions: the reference the
projector's SQL is tested against.

``value_stream_rates`` — over the interactions given (``waste.value_stream_daily``
groups them by day of start in the business time zone, channel and reason:
``value_stream_daily``, default UTC):

- contacts = number of interactions;
- fcr_rate = first-contact resolutions / contacts;
- failure_demand_rate = interactions with repeat_of / contacts;
- transfer_rate = interactions with ≥ 1 transfer / contacts;
- abandonment_rate = abandoned (status) / contacts;
- avg_speed_of_answer_s = mean queue_wait_s of those that reached an agent (≥ 1
  ``agent_assigned``; queue_wait_s is the whole figure, re-queues after transfers included);
- avg_handle_s = mean handle_s of those that reached an agent;
- flow_efficiency = Σ value_added_s / Σ lead_time_s over ended interactions.

Every rate is None when its denominator is 0 (no contacts, nobody reached an agent,
nothing ended or Σ lead_time_s = 0). Interactions whose start is not known yet belong
to no day or hour and are left out of the grouped functions.

``backlog_age_band``: age < 1 h → ``<1h``; 1 h ≤ age ≤ 24 h → ``1-24h``; age > 24 h →
``>24h`` (24 h exactly is not yet ``>24h``, matching ``aged_backlog``'s "more than 24 h";
a negative age, from clock skew, is ``<1h``). ``backlog`` counts the interactions that
are still open in section 4's sense — not ended — whatever their status (so also
resolved or abandoned ones whose ``ended`` has not arrived), by channel and age band.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from math import fsum

from leancrm_waste.domain.capacity import hour_of
from leancrm_waste.domain.interaction import InteractionFigures
from leancrm_waste.domain.repeats import InteractionRecord
from leancrm_waste.domain.wastes import WasteRow

HOUR_S = 3600.0
DAY_S = 86400.0


def _ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _mean(values: list[float]) -> float | None:
    return None if not values else fsum(values) / len(values)


def _unique(records: Iterable[InteractionRecord]) -> list[InteractionRecord]:
    """One record per interaction_id (pass one each; if given twice, the last counts)."""
    by_id: dict[str | None, InteractionRecord] = {}
    for r in records:
        by_id[r.figures.interaction_id] = r
    return list(by_id.values())


@dataclass(frozen=True)
class ValueStreamRates:
    contacts: int
    fcr_rate: float | None
    failure_demand_rate: float | None
    transfer_rate: float | None
    abandonment_rate: float | None
    avg_speed_of_answer_s: float | None
    avg_handle_s: float | None
    flow_efficiency: float | None


def value_stream_rates(records: Iterable[InteractionRecord]) -> ValueStreamRates:
    rs = _unique(records)
    n = len(rs)
    answered = [r.figures for r in rs if r.figures.reached_agent]
    ended = [r.figures for r in rs if r.figures.ended_at is not None]
    return ValueStreamRates(
        contacts=n,
        fcr_rate=_ratio(sum(r.first_contact_resolution for r in rs), n),
        failure_demand_rate=_ratio(sum(r.repeat_of is not None for r in rs), n),
        transfer_rate=_ratio(sum(r.figures.transfers >= 1 for r in rs), n),
        abandonment_rate=_ratio(sum(r.figures.status == "abandoned" for r in rs), n),
        avg_speed_of_answer_s=_mean([f.queue_wait_s for f in answered]),
        avg_handle_s=_mean([f.handle_s for f in answered]),
        flow_efficiency=_ratio(fsum(f.value_added_s for f in ended),
                               fsum(f.lead_time_s or 0.0 for f in ended)),
    )


DayKey = tuple[date, str | None, str | None]


def value_stream_daily(records: Iterable[InteractionRecord], zone: tzinfo = UTC
                       ) -> dict[DayKey, ValueStreamRates]:
    """(day of start in ``zone``, the business time zone, channel, reason) → rates over
    the interactions started then."""
    groups: dict[DayKey, list[InteractionRecord]] = defaultdict(list)
    for r in _unique(records):
        f = r.figures
        if f.started_at is not None:
            groups[(f.started_at.astimezone(zone).date(), f.channel, f.reason)].append(r)
    return {k: value_stream_rates(v) for k, v in groups.items()}


@dataclass(frozen=True)
class WasteColumns:
    """The waste columns of ``waste.value_stream_daily`` (seconds for waiting, else counts)."""

    waiting_s: float = 0.0
    over_processing: int = 0
    motion: int = 0
    transportation: int = 0
    defects: int = 0
    inventory: int = 0


def waste_columns_daily(rows: Iterable[WasteRow], zone: tzinfo = UTC) -> dict[DayKey, WasteColumns]:
    """(day of occurred_at in ``zone``, the business time zone, channel, reason) → the
    ledger rows of interactions that occurred that day (overproduction rows belong to no
    interaction and are left out)."""
    unique = {r.key: r for r in rows}
    groups: dict[DayKey, list[WasteRow]] = defaultdict(list)
    for r in unique.values():
        if r.interaction_id is not None:
            groups[(r.occurred_at.astimezone(zone).date(), r.channel, r.reason)].append(r)

    def count(rs: list[WasteRow], waste_type: str) -> int:
        return sum(1 for r in rs if r.waste_type == waste_type)

    return {
        k: WasteColumns(
            waiting_s=fsum(r.quantity for r in rs if r.waste_type == "waiting"),
            over_processing=count(rs, "over_processing"), motion=count(rs, "motion"),
            transportation=count(rs, "transportation"), defects=count(rs, "defects"),
            inventory=count(rs, "inventory"))
        for k, rs in groups.items()
    }


@dataclass(frozen=True)
class HourlyMetrics:
    """A ``waste.hourly_metrics`` row's figures (sums of the interactions started in the hour)."""

    contacts: int
    resolved: int
    first_contact_resolutions: int
    failure_demand: int
    transfers: int
    abandoned: int
    queue_wait_s: float
    hold_s: float
    handle_s: float
    value_added_s: float
    lead_time_s: float | None  # None when none of them has ended


HourKey = tuple[datetime, str | None, str | None]


def hourly_metrics(records: Iterable[InteractionRecord]) -> dict[HourKey, HourlyMetrics]:
    """(UTC hour of ``interaction.started``, channel, reason) → sums."""
    groups: dict[HourKey, list[InteractionRecord]] = defaultdict(list)
    for r in _unique(records):
        f = r.figures
        if f.started_at is not None:
            groups[(hour_of(f.started_at), f.channel, f.reason)].append(r)
    out = {}
    for k, rs in groups.items():
        fs = [r.figures for r in rs]
        leads = [f.lead_time_s for f in fs if f.lead_time_s is not None]
        out[k] = HourlyMetrics(
            contacts=len(rs),
            resolved=sum(f.resolved for f in fs),
            first_contact_resolutions=sum(r.first_contact_resolution for r in rs),
            failure_demand=sum(r.repeat_of is not None for r in rs),
            transfers=sum(f.transfers for f in fs),
            abandoned=sum(f.status == "abandoned" for f in fs),
            queue_wait_s=fsum(f.queue_wait_s for f in fs),
            hold_s=fsum(f.hold_s for f in fs),
            handle_s=fsum(f.handle_s for f in fs),
            value_added_s=fsum(f.value_added_s for f in fs),
            lead_time_s=fsum(leads) if leads else None,
        )
    return out


def backlog_age_band(age_s: float) -> str:
    if age_s < HOUR_S:
        return "<1h"
    if age_s <= DAY_S:
        return "1-24h"
    return ">24h"


def backlog(figures: Iterable[InteractionFigures], now: datetime) -> dict[tuple[str | None, str], int]:
    """(channel, age band) → open (not ended) interactions, age = now − started_at."""
    unique = {f.interaction_id: f for f in figures}
    out: dict[tuple[str | None, str], int] = defaultdict(int)
    for f in unique.values():
        if f.ended_at is None and f.started_at is not None:
            out[(f.channel, backlog_age_band((now - f.started_at).total_seconds()))] += 1
    return dict(out)
