"""The read SQL: every query of the API, the dashboard and the huddle, over the public
views of schema ``waste`` (contract section 6) and nothing else, so what operations
see is exactly what ``leancrm_ops`` can read.

Filters become a WHERE clause of whitelisted columns (:mod:`leancrm_waste.read.catalogue`)
and positional parameters. Sums of seconds are taken in numeric, exactly, as in the
views: no figure depends on the order rows are read in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final

from leancrm_servicekit.db import Conn
from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.read.catalogue import _BAND_ORDER, BREAKDOWN_BY, FilterKind, TimeKind
from leancrm_waste.read.costs import MEASURED_IN_SECONDS
from leancrm_waste.read.params import (
    BreakdownQuery,
    Scope,
    TimeRange,
    ViewQuery,
)
from leancrm_waste.read.querystring import BadRequest, shown
from leancrm_waste.read.shaping import number, with_rates
from leancrm_waste.read.timezone import first_day_from, midnight_in, zone_name


class _Sql:
    """A WHERE clause built from whitelisted columns and positional parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def any_of(self, column: str, values: Sequence[Any] | None, cast: str) -> None:
        if values:
            self.add(f"{column} = ANY({self.arg(list(values), cast + '[]')})")

    def time(self, column: str, kind: TimeKind, time: TimeRange, zone: tzinfo = UTC) -> None:
        """``column`` in ``[time.start, time.end)``: a day column (days of ``zone``, the
        business time zone the views cut days in) by the days that start in it."""
        if kind == "day":
            if time.start:
                self.add(f"{column} >= {self.arg(first_day_from(time.start, zone), '::date')}")
            if time.end:
                self.add(f"{column} < {self.arg(first_day_from(time.end, zone), '::date')}")
        else:
            if time.start:
                self.add(f"{column} >= {self.arg(time.start, '::timestamptz')}")
            if time.end:
                self.add(f"{column} < {self.arg(time.end, '::timestamptz')}")

    @property
    def where(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


_CASTS: Final[Mapping[FilterKind, str]] = {"enum": "::text", "slug": "::text", "label": "::text",
                                           "uuid": "::uuid", "bool": "::bool"}


async def fetch_view(conn: Conn, q: ViewQuery, withheld: Sequence[str] = (), zone: tzinfo = UTC
                     ) -> tuple[list[dict[str, Any]], bool]:
    """The rows of one page of a view, and whether more rows follow; the ``withheld``
    columns are null, and never leave the database. ``zone``: the business time zone (of
    the views' day columns)."""
    v = q.view
    sql = _Sql()
    if v.time_column and v.time_kind:
        sql.time(v.time_column, v.time_kind, q.time, zone)
    for f in v.filters:
        sql.any_of(f.column, q.values.get(f.param), _CASTS[f.kind])
    direction = " DESC" if q.descending else ""
    order = ", ".join(f"{k}{direction}" for k in v.order)
    cols = ", ".join(f"NULL AS {c}" if c in withheld else c for c in v.columns)
    text = (f"SELECT {cols} FROM waste.{v.name}{sql.where} ORDER BY {order} "
            f"LIMIT {sql.arg(q.limit + 1, '::int')} OFFSET {sql.arg(q.offset, '::int')}")
    records = await conn.fetch(text, *sql.args)
    rows = [{k: number(r[k]) for k in v.columns} for r in records[: q.limit]]
    return rows, len(records) > q.limit


#: The values of each open filter (a slug: reasons, agent teams) that the read model
#: knows, from the public views: a filter value outside them is a 400 naming them.
KNOWN_VALUES_SQL: Final[Mapping[str, str]] = {
    "reason": "SELECT DISTINCT reason FROM waste.interactions WHERE reason IS NOT NULL ORDER BY 1",
    "team": "SELECT team FROM waste.capacity_hourly WHERE team IS NOT NULL "
            "UNION SELECT team FROM waste.interactions WHERE team IS NOT NULL ORDER BY 1",
    "segment": "SELECT DISTINCT segment FROM waste.customers WHERE segment IS NOT NULL ORDER BY 1",
}
#: known values a 400 lists at most (it counts the others)
MAX_KNOWN_LISTED: Final = 40


async def known_values(conn: Conn, keys: Sequence[str]) -> dict[str, list[str]]:
    """The known values of each of ``keys`` (of :data:`KNOWN_VALUES_SQL`), sorted."""
    return {k: [r[0] for r in await conn.fetch(KNOWN_VALUES_SQL[k])] for k in keys}


def unknown_values(given: Mapping[str, tuple[str, Sequence[Any]]],
                   known: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Per parameter (``param -> (known key, values given)``): what it names that the read
    model does not know, with the known values; empty when every value is known."""
    errors: dict[str, str] = {}
    for param, (key, values) in given.items():
        have = set(known.get(key, ()))
        missing = [v for v in values if v not in have]
        if not missing:
            continue
        names = list(known.get(key, ()))
        listed = ", ".join(names[:MAX_KNOWN_LISTED]) + (
            f" and {len(names) - MAX_KNOWN_LISTED:,} more" if len(names) > MAX_KNOWN_LISTED else "")
        errors[param] = (f"unknown {key} {', '.join(shown(str(v)) for v in missing[:5])}"
                         f"{' …' if len(missing) > 5 else ''} "
                         f"({'known: ' + listed if names else 'the read model knows none yet'})")
    return errors


class KnownValues:
    """The known values of the open filters, read at most every ``ttl_s`` seconds (they
    scan the interactions; the dashboard asks every few seconds). A value not among them
    is looked up afresh before it is refused, so a team that has just appeared is never
    a 400; a list up to ``ttl_s`` old only lags in what the page offers."""

    def __init__(self, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._values: dict[str, list[str]] = {}
        self._read_at: dict[str, float] = {}

    async def get(self, conn: Conn, keys: Sequence[str], fresh: bool = False) -> dict[str, list[str]]:
        now = self.clock()
        stale = [k for k in keys if fresh or k not in self._read_at or now - self._read_at[k] >= self.ttl_s]
        if stale:
            self._values.update(await known_values(conn, stale))
            self._read_at.update(dict.fromkeys(stale, now))
        return {k: self._values[k] for k in keys}

    async def check(self, conn: Conn, given: Mapping[str, tuple[str, Sequence[Any]]]) -> None:
        """A :class:`BadRequest` when a value of ``given`` (``param -> (known key, values)``)
        is not known to the read model."""
        given = {p: kv for p, kv in given.items() if kv[1]}
        if not given:
            return
        keys = sorted({k for k, _ in given.values()})
        if unknown_values(given, await self.get(conn, keys)):
            errors = unknown_values(given, await self.get(conn, keys, fresh=True))
            if errors:
                raise BadRequest(errors)


async def check_known(conn: Conn, given: Mapping[str, tuple[str, Sequence[Any]]],
                      known: KnownValues | None = None) -> None:
    """A :class:`BadRequest` when a value of ``given`` (``param -> (known key, values)``)
    is not known to the read model (through ``known``, a cache, when given)."""
    await (known or KnownValues(ttl_s=0)).check(conn, given)


async def set_statement_timeout(conn: Conn, seconds: float) -> None:
    """Cancel any statement of the current transaction that runs longer than ``seconds``."""
    await conn.execute(f"SET LOCAL statement_timeout = '{max(1, round(seconds * 1000))}ms'")


async def waste_totals(conn: Conn, scope: Scope) -> dict[str, dict[str, Any]]:
    """Per waste type over the scope: occurrences (rows with a positive quantity),
    quantity and unit. Channel and reason filters leave out overproduction rows (they
    have none); the team filter applies to every row."""
    sql = _Sql()
    sql.time("occurred_at", "instant", scope.time)
    sql.any_of("channel", scope.channels, "::text")
    sql.any_of("reason", scope.reasons, "::text")
    sql.any_of("team", scope.teams, "::text")
    rows = await conn.fetch(
        "SELECT waste_type, count(*) FILTER (WHERE quantity > 0) AS occurrences, "
        f"coalesce(sum(quantity::numeric), 0)::float8 AS quantity FROM waste.waste_ledger{sql.where} "
        "GROUP BY waste_type", *sql.args)
    got = {r["waste_type"]: r for r in rows}
    return {w: {"occurrences": int(got[w]["occurrences"]) if w in got else 0,
                "quantity": float(got[w]["quantity"]) if w in got else 0.0,
                "unit": "seconds" if w in MEASURED_IN_SECONDS else "count"}
            for w in WASTE_TYPES}

async def waste_by_day(conn: Conn, first: date, last: date) -> dict[date, dict[str, float]]:
    """Quantity of each waste per day (waste.waste_daily), days first..last inclusive."""
    rows = await conn.fetch(
        "SELECT day, waste_type, quantity::float8 AS quantity FROM waste.waste_daily "
        "WHERE day >= $1::date AND day <= $2::date", first, last)
    out: dict[date, dict[str, float]] = {}
    for r in rows:
        out.setdefault(r["day"], {})[r["waste_type"]] = float(r["quantity"] or 0)
    return out


async def flow_by_day(conn: Conn, scope: Scope, by_reason: bool = False) -> list[dict[str, Any]]:
    """Per day of the interactions' start (and reason): contacts, first-contact resolutions,
    failure demand, abandoned, transferred and the value-added and lead seconds of the
    ended ones, with the rates of waste.value_stream_daily over all channels and
    reasons in scope (flow efficiency = Σ value_added_s / Σ lead_time_s over ended
    interactions)."""
    sql = _Sql()
    sql.time("started_at", "instant", scope.time)
    sql.any_of("channel", scope.channels, "::text")
    sql.any_of("reason", scope.reasons, "::text")
    sql.any_of("team", scope.teams, "::text")
    key = ", reason" if by_reason else ""
    tz = sql.arg(zone_name(scope.zone), "::text")
    rows = await conn.fetch(
        f"SELECT (started_at AT TIME ZONE {tz})::date AS day" + key + ", count(*) AS contacts, "
        "count(*) FILTER (WHERE first_contact_resolution) AS fcr, "
        "count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand, "
        "count(*) FILTER (WHERE status = 'abandoned') AS abandoned, "
        "count(*) FILTER (WHERE transfers >= 1) AS transferred, "
        "coalesce(sum(value_added_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8 "
        "AS value_added_s, "
        "coalesce(sum(lead_time_s::numeric) FILTER (WHERE ended_at IS NOT NULL), 0)::float8 "
        "AS lead_time_s "
        f"FROM waste.interactions{sql.where} GROUP BY 1{key} ORDER BY 1{key}", *sql.args)
    return [with_rates(dict(r)) for r in rows]
async def capacity(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    sql = _Sql()
    sql.time("bucket_start", "hour", scope.time)
    sql.any_of("team", scope.teams, "::text")
    rows = await conn.fetch(
        "SELECT bucket_start, team, staffed_s, busy_s, idle_s, occupancy, overproduction_s "
        f"FROM waste.capacity_hourly{sql.where} ORDER BY bucket_start, team", *sql.args)
    return [dict(r) for r in rows]


async def capacity_by_day(conn: Conn, first: date, last: date, zone: tzinfo = UTC
                          ) -> dict[date, dict[str, float]]:
    """Per day of ``zone`` (the business time zone; an hour counts on the day it starts):
    staffed, busy and overproduction seconds of every team."""
    rows = await conn.fetch(
        "SELECT (bucket_start AT TIME ZONE $3::text)::date AS day, "
        "sum(staffed_s::numeric)::float8 AS staffed_s, sum(busy_s::numeric)::float8 AS busy_s, "
        "sum(overproduction_s::numeric)::float8 AS overproduction_s "
        "FROM waste.capacity_hourly WHERE bucket_start >= $1::timestamptz AND bucket_start < $2::timestamptz "
        "GROUP BY 1", midnight_in(first, zone), midnight_in(last + timedelta(days=1), zone), zone_name(zone))
    return {r["day"]: {k: float(r[k] or 0) for k in ("staffed_s", "busy_s", "overproduction_s")}
            for r in rows}


#: waste.backlog's age bands (contract section 6), for a backlog read from
#: waste.interactions when the filters need its reason or team
_AGE_BAND_OF = ("CASE WHEN now() - started_at < interval '1 hour' THEN '<1h' "
                "WHEN now() - started_at <= interval '24 hours' THEN '1-24h' ELSE '>24h' END")


async def backlog(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    """What is open now per channel and age band, of the channels, reasons and teams in
    scope (the period does not apply: it is now). By channel alone, waste.backlog; by
    reason or team, the same bands counted over waste.interactions."""
    sql = _Sql()
    sql.any_of("channel", scope.channels, "::text")
    if scope.reasons or scope.teams:
        sql.any_of("reason", scope.reasons, "::text")
        sql.any_of("team", scope.teams, "::text")
        sql.add("ended_at IS NULL")
        source = (f"(SELECT channel, {_AGE_BAND_OF} AS age_band, count(*) AS open_interactions "
                  f"FROM waste.interactions{sql.where} GROUP BY 1, 2) b")
        args = sql.args
    else:
        source, args = f"waste.backlog{sql.where}", sql.args
    rows = await conn.fetch(
        f"SELECT channel, age_band, open_interactions FROM {source} "
        f"ORDER BY {_BAND_ORDER}, channel", *args)
    return [{k: number(r[k]) for k in ("channel", "age_band", "open_interactions")} for r in rows]


async def sentiment(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    """Feedback of the days in scope per source and routed team: count, average
    sentiment and negative share (the daily figures weighted by their counts), ideas
    and net idea votes."""
    sql = _Sql()
    sql.time("day", "day", scope.time, scope.zone)
    rows = await conn.fetch(
        "SELECT source, routed_team AS team, sum(feedback_count)::bigint AS feedback_count, "
        "(sum(avg_sentiment::numeric * feedback_count) "
        "   / nullif(sum(feedback_count) FILTER (WHERE avg_sentiment IS NOT NULL), 0))::float8 "
        "   AS avg_sentiment, "
        "(sum(negative_share::numeric * feedback_count) "
        "   / nullif(sum(feedback_count) FILTER (WHERE negative_share IS NOT NULL), 0))::float8 "
        "   AS negative_share, "
        "sum(ideas)::bigint AS ideas, sum(idea_votes)::bigint AS idea_votes "
        f"FROM waste.feedback_daily{sql.where} GROUP BY source, routed_team "
        "ORDER BY source, routed_team", *sql.args)
    return [{k: number(v) for k, v in dict(r).items()} for r in rows]


@dataclass(frozen=True, slots=True)
class SummaryFigures:
    """What the summary shows, as read in one snapshot (shaped by
    :func:`leancrm_waste.read.shaping.summary`)."""

    generated_at: datetime
    totals: dict[str, dict[str, Any]]
    flow: list[dict[str, Any]]
    capacity: list[dict[str, Any]]
    backlog: list[dict[str, Any]]
    sentiment: list[dict[str, Any]]
    #: the reasons and agent teams the read model knows
    known: dict[str, list[str]]


async def summary_figures(conn: Conn, scope: Scope, statement_timeout_s: float | None = None,
                          known_cache: KnownValues | None = None) -> SummaryFigures:
    """Every figure of the dashboard, read in one snapshot of the read model (each
    statement cancelled after ``statement_timeout_s``, when given); a reason or team
    the read model does not know is a :class:`BadRequest` naming the known ones."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if statement_timeout_s is not None:
            await set_statement_timeout(conn, statement_timeout_s)
        cache = known_cache or KnownValues(ttl_s=0)
        await cache.check(conn, {"reason": ("reason", scope.reasons), "team": ("team", scope.teams)})
        known = await cache.get(conn, ("reason", "team"))
        totals = await waste_totals(conn, scope)
        flow = await flow_by_day(conn, scope)
        cap = await capacity(conn, scope)
        bl = await backlog(conn, scope)
        fb = await sentiment(conn, scope)
        now = await conn.fetchval("SELECT now()")
    return SummaryFigures(now, totals, flow, cap, bl, fb, known)


async def waste_breakdown(conn: Conn, q: BreakdownQuery, statement_timeout_s: float | None = None,
                          known: KnownValues | None = None) -> list[dict[str, Any]]:
    """Occurrences and quantity of each waste over the scope per value of ``q.by`` (a
    column of waste.waste_ledger: channel, reason or team; null: the row has none, e.g.
    a queue wait before any agent has a team). By channel or reason, overproduction has
    no rows: it is counted per team-hour. Read in one snapshot with the known-values check
    (a :class:`BadRequest` for an unknown reason or team)."""
    if q.by not in BREAKDOWN_BY:
        raise ValueError(f"by must be one of {', '.join(BREAKDOWN_BY)}")
    scope = q.scope
    sql = _Sql()
    sql.time("occurred_at", "instant", scope.time)
    sql.any_of("channel", scope.channels, "::text")
    sql.any_of("reason", scope.reasons, "::text")
    sql.any_of("team", scope.teams, "::text")
    sql.any_of("waste_type", q.wastes, "::text")
    if q.by != "team":
        sql.add("waste_type <> 'overproduction'")
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if statement_timeout_s is not None:
            await set_statement_timeout(conn, statement_timeout_s)
        await check_known(conn, {"reason": ("reason", scope.reasons), "team": ("team", scope.teams)}, known)
        rows = await conn.fetch(
            f"SELECT waste_type, {q.by} AS value, count(*) FILTER (WHERE quantity > 0) AS occurrences, "
            "coalesce(sum(quantity::numeric), 0)::float8 AS quantity "
            f"FROM waste.waste_ledger{sql.where} GROUP BY 1, 2", *sql.args)
    return [dict(r) for r in rows]
