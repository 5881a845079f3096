"""The read SQL: every query of the API, the dashboard and the huddle, over the public
views of schema ``waste`` (contract section 6) and nothing else, so what operations
see is exactly what ``leancrm_ops`` can read.

Filters become a WHERE clause of whitelisted columns (:mod:`leancrm_waste.read.catalogue`)
and positional parameters. Sums of seconds are taken in numeric, exactly, as in the
views: no figure depends on the order rows are read in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from leancrm_servicekit.db import Conn
from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.read.catalogue import _BAND_ORDER, FilterKind, TimeKind
from leancrm_waste.read.costs import MEASURED_IN_SECONDS
from leancrm_waste.read.params import (
    Scope,
    TimeRange,
    ViewQuery,
    midnight,
)
from leancrm_waste.read.shaping import number, with_rates


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

    def time(self, column: str, kind: TimeKind, time: TimeRange) -> None:
        if kind == "day":
            if time.start:
                self.add(f"{column} >= {self.arg(first_day_from(time.start), '::date')}")
            if time.end:
                self.add(f"{column} < {self.arg(first_day_from(time.end), '::date')}")
        else:
            if time.start:
                self.add(f"{column} >= {self.arg(time.start, '::timestamptz')}")
            if time.end:
                self.add(f"{column} < {self.arg(time.end, '::timestamptz')}")

    @property
    def where(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def first_day_from(instant: datetime) -> date:
    """The first day whose 00:00 UTC is at or after ``instant``."""
    u = instant.astimezone(UTC)
    d = u.date()
    return d if u == datetime(d.year, d.month, d.day, tzinfo=UTC) else d + timedelta(days=1)


_CASTS: Final[Mapping[FilterKind, str]] = {"enum": "::text", "slug": "::text", "label": "::text",
                                           "uuid": "::uuid", "bool": "::bool"}


async def fetch_view(conn: Conn, q: ViewQuery, withheld: Sequence[str] = ()
                     ) -> tuple[list[dict[str, Any]], bool]:
    """The rows of one page of a view, and whether more rows follow; the ``withheld``
    columns are null, and never leave the database."""
    v = q.view
    sql = _Sql()
    if v.time_column and v.time_kind:
        sql.time(v.time_column, v.time_kind, q.time)
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
    key = ", reason" if by_reason else ""
    rows = await conn.fetch(
        "SELECT (started_at AT TIME ZONE 'UTC')::date AS day" + key + ", count(*) AS contacts, "
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


async def capacity_by_day(conn: Conn, first: date, last: date) -> dict[date, dict[str, float]]:
    """Per day: staffed, busy and overproduction seconds of every team."""
    rows = await conn.fetch(
        "SELECT (bucket_start AT TIME ZONE 'UTC')::date AS day, "
        "sum(staffed_s::numeric)::float8 AS staffed_s, sum(busy_s::numeric)::float8 AS busy_s, "
        "sum(overproduction_s::numeric)::float8 AS overproduction_s "
        "FROM waste.capacity_hourly WHERE bucket_start >= $1::timestamptz AND bucket_start < $2::timestamptz "
        "GROUP BY 1", midnight(first), midnight(last + timedelta(days=1)))
    return {r["day"]: {k: float(r[k] or 0) for k in ("staffed_s", "busy_s", "overproduction_s")}
            for r in rows}


async def backlog(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    sql = _Sql()
    sql.any_of("channel", scope.channels, "::text")
    rows = await conn.fetch(
        f"SELECT channel, age_band, open_interactions FROM waste.backlog{sql.where} "
        f"ORDER BY {_BAND_ORDER}, channel", *sql.args)
    return [{k: number(r[k]) for k in ("channel", "age_band", "open_interactions")} for r in rows]


async def sentiment(conn: Conn, scope: Scope) -> list[dict[str, Any]]:
    """Feedback of the days in scope per source and routed team: count, average
    sentiment and negative share (the daily figures weighted by their counts), ideas
    and net idea votes."""
    sql = _Sql()
    sql.time("day", "day", scope.time)
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


async def summary_figures(conn: Conn, scope: Scope, statement_timeout_s: float | None = None
                          ) -> SummaryFigures:
    """Every figure of the dashboard, read in one snapshot of the read model (each
    statement cancelled after ``statement_timeout_s``, when given)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if statement_timeout_s is not None:
            await set_statement_timeout(conn, statement_timeout_s)
        totals = await waste_totals(conn, scope)
        flow = await flow_by_day(conn, scope)
        cap = await capacity(conn, scope)
        bl = await backlog(conn, scope)
        fb = await sentiment(conn, scope)
        now = await conn.fetchval("SELECT now()")
    return SummaryFigures(now, totals, flow, cap, bl, fb)
