"""The figures the alert rules read, from the active store (contract section 5, "Alert
rules"), and the table of active alerts in the service's own schema. Every query is
bounded: the open-interaction index, a day of ledger rows, one hour of capacity; the
daily rates (a scan of the interactions) are read by the caller at most every few
minutes. "Now" is the database's clock."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from leancrm_servicekit.db import Conn, check_identifier
from leancrm_waste.domain.alerts import RATES, ActiveAlert, AlertInputs, Key

ACTIVE_TABLE = "active_alerts"

_AGED_BACKLOG = """
SELECT channel, count(*) AS n FROM {store}.interactions
WHERE ended_at IS NULL AND started_at IS NOT NULL AND started_at < now() - interval '24 hours'
GROUP BY channel
"""
# queue episodes (waiting/queue ledger rows, occurred_at = the episode's start) that ended
# in the last 15 minutes and started at most 24 h 15 min ago
_QUEUE_WAIT_P90 = """
SELECT channel, percentile_cont(0.9) WITHIN GROUP (ORDER BY quantity) AS p90 FROM (
    SELECT channel, quantity, occurred_at + quantity * interval '1 second' AS ended
    FROM {store}.ledger
    WHERE waste_type = 'waiting' AND subtype = 'queue'
      AND occurred_at >= now() - interval '24 hours 15 minutes' AND occurred_at <= now()
) e
WHERE ended > now() - interval '15 minutes' AND ended <= now() AND channel IS NOT NULL
GROUP BY channel
"""
# the last complete UTC hour, per team, as waste.capacity_hourly has it
_OCCUPANCY = """
WITH hour AS (SELECT date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                     - interval '1 hour' AS h),
staffed AS (SELECT team, sum(staffed_s::numeric) AS s FROM {store}.staffed_hourly, hour
            WHERE bucket_start = hour.h GROUP BY team),
busy AS (SELECT team, sum(busy_s::numeric) AS b FROM {store}.busy_hourly, hour
         WHERE bucket_start = hour.h GROUP BY team)
SELECT s.team, (coalesce(b.b, 0) / s.s)::double precision AS occupancy
FROM staffed s LEFT JOIN busy b USING (team)
WHERE s.s > 0
"""
# the business time zone the views cut their days in (contract section 6), from the store
_ZONE = "(SELECT coalesce((SELECT business_timezone FROM {store}.settings), 'UTC') AS tz) z"
# every complete day's rates over every channel (waste.value_stream_daily's definitions),
# days of the business time zone: up to the start of today there
_DAILY_RATES = """
SELECT (started_at AT TIME ZONE z.tz)::date AS day,
       (count(*) FILTER (WHERE first_contact_resolution))::double precision / count(*) AS fcr_rate,
       (count(*) FILTER (WHERE repeat_of IS NOT NULL))::double precision / count(*) AS failure_demand_rate,
       (count(*) FILTER (WHERE status = 'abandoned'))::double precision / count(*) AS abandonment_rate
FROM {store}.interactions_linked, """ + _ZONE + """
WHERE started_at < date_trunc('day', now() AT TIME ZONE z.tz) AT TIME ZONE z.tz
GROUP BY 1 ORDER BY 1
"""
# the latest complete day (yesterday in the business time zone) and the database's now
_YESTERDAY = "SELECT ((now() AT TIME ZONE z.tz)::date - 1) AS d, now() AS now FROM " + _ZONE


def _q(sql: str, store: str) -> str:
    return sql.replace("{store}", check_identifier(store))


async def read_inputs(conn: Conn, store: str,
                      daily_rates: dict[str, list[tuple[date, float | None]]] | None
                      ) -> tuple[AlertInputs, datetime]:
    """The rules' figures now (``daily_rates`` as last read by :func:`read_daily_rates`),
    and the database's now."""
    clock = await conn.fetchrow(_q(_YESTERDAY, store))
    assert clock is not None
    aged = {r["channel"]: int(r["n"]) for r in await conn.fetch(_q(_AGED_BACKLOG, store))
            if r["channel"] is not None}
    p90 = {r["channel"]: float(r["p90"]) for r in await conn.fetch(_q(_QUEUE_WAIT_P90, store))}
    occupancy = {r["team"]: float(r["occupancy"]) for r in await conn.fetch(_q(_OCCUPANCY, store))}
    inputs = AlertInputs(aged_backlog=aged, queue_wait_p90=p90, occupancy=occupancy,
                         daily_rates=daily_rates or {}, latest_day=clock["d"])
    return inputs, clock["now"]


async def read_daily_rates(conn: Conn, store: str) -> dict[str, list[tuple[date, float | None]]]:
    out: dict[str, list[tuple[date, float | None]]] = defaultdict(list)
    for r in await conn.fetch(_q(_DAILY_RATES, store)):
        for rate in RATES:
            out[rate].append((r["day"], r[rate]))
    return dict(out)


async def ensure_active_table(conn: Conn, schema: str) -> None:
    s = check_identifier(schema)
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {s}.{ACTIVE_TABLE} ("
        " rule TEXT NOT NULL, subject TEXT NOT NULL, value DOUBLE PRECISION NOT NULL,"
        " threshold DOUBLE PRECISION NOT NULL, raised_at TIMESTAMPTZ NOT NULL,"
        " event_id UUID NOT NULL, PRIMARY KEY (rule, subject))")


async def lock_active(conn: Conn, schema: str) -> dict[Key, ActiveAlert]:
    """The active alerts, the table locked against other evaluators (readers still read)
    until the transaction ends: two replicas never raise one alert twice."""
    s = check_identifier(schema)
    await conn.execute(f"LOCK TABLE {s}.{ACTIVE_TABLE} IN EXCLUSIVE MODE")
    return {(r["rule"], r["subject"]): ActiveAlert(r["rule"], r["subject"], r["value"], r["threshold"],
                                                   r["raised_at"])
            for r in await conn.fetch(f"SELECT * FROM {s}.{ACTIVE_TABLE}")}


async def record(conn: Conn, schema: str, raised: list[tuple[ActiveAlert, str]], cleared: list[Key]) -> None:
    s = check_identifier(schema)
    if cleared:
        await conn.execute(
            f"DELETE FROM {s}.{ACTIVE_TABLE} t USING unnest($1::text[], $2::text[]) AS c(rule, subject) "
            "WHERE t.rule = c.rule AND t.subject = c.subject",
            [k[0] for k in cleared], [k[1] for k in cleared])
    if raised:
        await conn.executemany(
            f"INSERT INTO {s}.{ACTIVE_TABLE} (rule, subject, value, threshold, raised_at, event_id) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            [(a.rule, a.subject, a.value, a.threshold, a.raised_at, event_id) for a, event_id in raised])


async def active(conn: Conn, schema: str) -> list[ActiveAlert]:
    s = check_identifier(schema)
    return [ActiveAlert(r["rule"], r["subject"], r["value"], r["threshold"], r["raised_at"])
            for r in await conn.fetch(f"SELECT * FROM {s}.{ACTIVE_TABLE} ORDER BY rule, subject")]
