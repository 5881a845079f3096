"""The daily figures of the huddle and of the signals (XmR charts), read from the public
views of schema ``waste`` only, filtered by channel and agent team.

Per day (of the scope's business time zone; UTC by default) from ``first`` to ``last`` inclusive:

- flow, over the interactions *started* that day (``waste.interactions``): contacts,
  first-contact resolutions, failure demand, abandoned, the value-added and lead seconds
  of the ended ones, and the contacts still open (per channel);
- the quantity and occurrences of each waste whose ledger row occurred that day
  (``waste.waste_ledger``);
- staffed, busy and overproduction seconds (``waste.capacity_hourly``);
- answered within the threshold and offered contacts of the channels with a
  service-level threshold (``waste.service_level_hourly``, by the hour of start).

Filters: a channel filter applies to flow and to the ledger rows that have a channel
(overproduction has none, so it is left out), not to capacity (staffing has no
channel: the caller says so); a team filter applies to flow by ``waste.interactions.team``
(the last assigned agent's team), to the ledger and to capacity, not to service level
(its view has no team: the caller says so).

Besides, what is open *now*: open contacts per channel and age band (the bands of
``waste.backlog``) and the waiting accrued so far by the contacts still queued or on
hold (``waste.open_interactions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final

from leancrm_servicekit.db import Conn
from leancrm_waste.read.params import TIME_MAX, TIME_MIN, TIME_RANGE_WORDS
from leancrm_waste.read.timezone import midnight_in, zone_name

#: the longest span of days read at once (two years), so a query stays bounded
MAX_DAYS: Final = 731


@dataclass(frozen=True, slots=True)
class DailyScope:
    """The channels and agent teams the figures cover (empty: all), and the business time
    zone their days are cut in (:mod:`leancrm_waste.read.timezone`; default UTC)."""

    channels: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    zone: tzinfo = UTC


@dataclass(slots=True)
class DayFigures:
    """One day's raw sums (no rates: the report and the signals make them)."""

    day: date
    contacts: int = 0
    fcr: int = 0
    failure_demand: int = 0
    abandoned: int = 0
    value_added_s: float = 0.0
    lead_time_s: float = 0.0
    #: contacts started that day that are still open, per channel
    open_by_channel: dict[str, int] = field(default_factory=dict)
    #: quantity per waste type of the ledger rows that occurred that day
    wastes: dict[str, float] = field(default_factory=dict)
    staffed_s: float = 0.0
    busy_s: float = 0.0
    overproduction_s: float = 0.0
    #: service level's parts (waste.service_level_hourly, channels with a threshold):
    #: contacts answered within the threshold, and offered
    answered_within_threshold: float = 0.0
    offered: float = 0.0

    @property
    def open(self) -> int:
        return sum(self.open_by_channel.values())

    @property
    def has_data(self) -> bool:
        return bool(self.contacts) or any(self.wastes.values()) or bool(self.staffed_s)


#: every channel and team
ALL: Final = DailyScope()


class Where:
    """A WHERE clause built with numbered parameters (``$1``, ``$2``, ...) and their values."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any, cast: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"

    def any_of(self, column: str, values: Sequence[str]) -> None:
        if values:
            self.clauses.append(f"{column} = ANY({self.arg(list(values), '::text[]')})")

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


def _check_span(first: date, last: date) -> None:
    for d in (first, last):
        if not TIME_MIN.date() <= d < TIME_MAX.date():
            raise ValueError(f"day {d.isoformat()} is out of range: a day must lie {TIME_RANGE_WORDS}")
    if last < first:
        raise ValueError(f"the last day {last} is before the first {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"at most {MAX_DAYS} days at once")


async def daily_figures(conn: Conn, first: date, last: date, scope: DailyScope = ALL
                        ) -> dict[date, DayFigures]:
    """The figures of every day from ``first`` to ``last`` (inclusive) that has any."""
    _check_span(first, last)
    start, end = midnight_in(first, scope.zone), midnight_in(last + timedelta(days=1), scope.zone)
    tz = zone_name(scope.zone)
    out: dict[date, DayFigures] = {}

    def of(d: date) -> DayFigures:
        return out.setdefault(d, DayFigures(d))

    w = Where()
    window = f"started_at >= {w.arg(start, '::timestamptz')} AND started_at < {w.arg(end, '::timestamptz')}"
    w.any_of("channel", scope.channels)
    w.any_of("team", scope.teams)
    for r in await conn.fetch(
            f"SELECT (started_at AT TIME ZONE {w.arg(tz, '::text')})::date AS day, channel, "
            "count(*) AS contacts, "
            "count(*) FILTER (WHERE first_contact_resolution) AS fcr, "
            "count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand, "
            "count(*) FILTER (WHERE status = 'abandoned') AS abandoned, "
            "count(*) FILTER (WHERE ended_at IS NULL) AS open, "
            "coalesce(sum(value_added_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8 AS va, "
            "coalesce(sum(lead_time_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8 AS lt "
            f"FROM waste.interactions WHERE {window} AND {w.sql} GROUP BY 1, 2 ORDER BY 1, 2", *w.args):
        f = of(r["day"])
        f.contacts += int(r["contacts"])
        f.fcr += int(r["fcr"])
        f.failure_demand += int(r["failure_demand"])
        f.abandoned += int(r["abandoned"])
        f.value_added_s += float(r["va"])
        f.lead_time_s += float(r["lt"])
        if r["open"]:
            f.open_by_channel[r["channel"] or "unknown"] = int(r["open"])

    w = Where()
    window = (f"occurred_at >= {w.arg(start, '::timestamptz')} "
              f"AND occurred_at < {w.arg(end, '::timestamptz')}")
    w.any_of("channel", scope.channels)
    w.any_of("team", scope.teams)
    for r in await conn.fetch(
            f"SELECT (occurred_at AT TIME ZONE {w.arg(tz, '::text')})::date AS day, waste_type, "
            "sum(quantity::numeric)::float8 AS quantity "
            f"FROM waste.waste_ledger WHERE {window} AND {w.sql} GROUP BY 1, 2", *w.args):
        of(r["day"]).wastes[r["waste_type"]] = float(r["quantity"] or 0)

    if not scope.channels:
        w = Where()
        window = (f"bucket_start >= {w.arg(start, '::timestamptz')} "
                  f"AND bucket_start < {w.arg(end, '::timestamptz')}")
        w.any_of("team", scope.teams)
        for r in await conn.fetch(
                f"SELECT (bucket_start AT TIME ZONE {w.arg(tz, '::text')})::date AS day, "
                "sum(staffed_s::numeric)::float8 AS staffed_s, sum(busy_s::numeric)::float8 AS busy_s, "
                "sum(overproduction_s::numeric)::float8 AS overproduction_s "
                f"FROM waste.capacity_hourly WHERE {window} AND {w.sql} GROUP BY 1", *w.args):
            f = of(r["day"])
            f.staffed_s, f.busy_s = float(r["staffed_s"] or 0), float(r["busy_s"] or 0)
            f.overproduction_s = float(r["overproduction_s"] or 0)
    if not scope.teams:
        w = Where()
        window = (f"bucket_start >= {w.arg(start, '::timestamptz')} "
                  f"AND bucket_start < {w.arg(end, '::timestamptz')}")
        w.any_of("channel", scope.channels)
        for r in await conn.fetch(
                f"SELECT (bucket_start AT TIME ZONE {w.arg(tz, '::text')})::date AS day, "
                "sum(answered_within_threshold)::float8 AS within, sum(offered)::float8 AS offered "
                f"FROM waste.service_level_hourly WHERE {window} AND threshold_s IS NOT NULL "
                f"AND {w.sql} GROUP BY 1", *w.args):
            f = of(r["day"])
            f.answered_within_threshold, f.offered = float(r["within"] or 0), float(r["offered"] or 0)
    return dict(sorted(out.items()))


async def reasons_by_day(conn: Conn, days: Sequence[date], scope: DailyScope = ALL
                         ) -> list[dict[str, Any]]:
    """Per day of ``days`` and reason: contacts and failure demand."""
    if not days:
        return []
    w = Where()
    day_list = w.arg(sorted(set(days)), "::date[]")
    tz = w.arg(zone_name(scope.zone), "::text")
    w.any_of("channel", scope.channels)
    w.any_of("team", scope.teams)
    rows = await conn.fetch(
        f"SELECT (started_at AT TIME ZONE {tz})::date AS day, reason, count(*) AS contacts, "
        "count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand "
        f"FROM waste.interactions WHERE (started_at AT TIME ZONE {tz})::date = ANY({day_list}) "
        f"AND started_at IS NOT NULL AND {w.sql} GROUP BY 1, 2 ORDER BY 1, 2", *w.args)
    return [{"day": r["day"], "reason": r["reason"] or "unknown", "contacts": int(r["contacts"]),
             "failure_demand": int(r["failure_demand"])} for r in rows]


#: waste.backlog's age bands (contract section 6)
AGE_BAND_SQL: Final = ("CASE WHEN now() - started_at < interval '1 hour' THEN '<1h' "
                       "WHEN now() - started_at <= interval '24 hours' THEN '1-24h' ELSE '>24h' END")


@dataclass(frozen=True, slots=True)
class OpenNow:
    """What is open at ``at`` (the database's clock)."""

    at: datetime
    #: (channel, age band, open contacts), bands in the order of waste.backlog
    backlog: list[tuple[str, str, int]]
    #: per channel: contacts queued or on hold now, and the waiting they have accrued
    #: so far in their open episodes (seconds, up to ``at``)
    waiting: dict[str, tuple[int, float]]


async def open_now(conn: Conn, scope: DailyScope = ALL) -> OpenNow:
    """The open contacts now, per channel and age band, and the live waiting of those
    still queued or on hold (``waste.open_interactions``)."""
    w = Where()
    w.any_of("channel", scope.channels)
    w.any_of("team", scope.teams)
    backlog = await conn.fetch(
        f"SELECT coalesce(channel, 'unknown') AS channel, {AGE_BAND_SQL} AS age_band, count(*) AS n "
        f"FROM waste.interactions WHERE ended_at IS NULL AND started_at IS NOT NULL AND {w.sql} "
        "GROUP BY 1, 2", *w.args)
    waiting = await conn.fetch(
        "SELECT coalesce(channel, 'unknown') AS channel, count(*) AS n, "
        "coalesce(sum(open_waiting_s::numeric), 0)::float8 AS s "
        f"FROM waste.open_interactions WHERE open_waiting_s IS NOT NULL AND {w.sql} "
        "GROUP BY 1 ORDER BY 1", *w.args)
    at = await conn.fetchval("SELECT now()")
    order = {"<1h": 0, "1-24h": 1, ">24h": 2}
    rows = sorted(((r["channel"], r["age_band"], int(r["n"])) for r in backlog),
                  key=lambda x: (order[x[1]], x[0]))
    return OpenNow(at=at, backlog=rows,
                   waiting={r["channel"]: (int(r["n"]), float(r["s"])) for r in waiting})


async def known_teams(conn: Conn) -> list[str]:
    """The agent teams the read model knows (staffed, or assigned to an interaction)."""
    rows = await conn.fetch(
        "SELECT team FROM waste.capacity_hourly WHERE team IS NOT NULL "
        "UNION SELECT team FROM waste.interactions WHERE team IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows]


async def unfinished(conn: Conn, start: datetime | None, end: datetime | None,
                     scope: DailyScope = ALL, reasons: Sequence[str] = ()) -> dict[str, Any]:
    """Honest periods: the contacts that started in [start, end) of the channels, reasons
    and teams in scope and are still open now, per channel, with the waiting accrued so
    far by those still queued or on hold (``waste.open_interactions``, live). A period
    with any is not finished: its closed figures leave that waiting out."""
    w = Where()
    if start is not None:
        w.clauses.append(f"started_at >= {w.arg(start, '::timestamptz')}")
    if end is not None:
        w.clauses.append(f"started_at < {w.arg(end, '::timestamptz')}")
    w.any_of("channel", scope.channels)
    w.any_of("reason", reasons)
    w.any_of("team", scope.teams)
    rows = await conn.fetch(
        "SELECT coalesce(channel, 'unknown') AS channel, count(*) AS open, "
        "count(open_waiting_s) AS waiting_now, "
        "coalesce(sum(open_waiting_s::numeric), 0)::float8 AS waiting_so_far_s "
        f"FROM waste.open_interactions WHERE {w.sql} GROUP BY 1 ORDER BY 1", *w.args)
    by_channel = [{"channel": r["channel"], "open": int(r["open"]), "waiting_now": int(r["waiting_now"]),
                   "waiting_so_far_s": float(r["waiting_so_far_s"])} for r in rows]
    total = sum(r["open"] for r in by_channel)
    return {"finished": total == 0, "open": total,
            "waiting_now": sum(r["waiting_now"] for r in by_channel),
            "waiting_so_far_s": sum(r["waiting_so_far_s"] for r in by_channel),
            "by_channel": by_channel, "at": await conn.fetchval("SELECT now()")}
