"""What the databases hold at the end: the three event stores, the read model's applied
events, its views and its private store's tables; a fresh rebuild to compare them with;
and the views' figures next to the simulator's own computation of section 5."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg

from leancrm_devstack.local_database import owner_role
from leancrm_simulator.figures import Figures

from .processes import COMMAND_SERVICES, personal_data_kek

#: the public views of contract section 6 (backlog's age band moves with the clock, so
#: it is compared per channel)
VIEWS = ("interactions", "waste_ledger", "hourly_metrics", "capacity_hourly", "value_stream_daily",
         "waste_daily", "backlog", "feedback_daily", "customers", "improvements")
#: store tables that are bookkeeping of one build, not read-model content
NOT_CONTENT = ("consumer_offsets", "settings")


@dataclass
class StoredEvent:
    service: str
    event_type: str
    causation_id: str | None
    stream_id: str


@dataclass
class DatabaseSnapshot:
    #: event_id → the stored event, over the command services' stores
    events: dict[str, StoredEvent] = field(default_factory=dict)
    #: event ids in the active store's seen_events
    seen: set[str] = field(default_factory=set)
    active_store: str = ""
    #: command_id → status, in each service's processed_commands
    processed: dict[str, str] = field(default_factory=dict)


async def connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncio.wait_for(asyncpg.connect(dsn, command_timeout=120), 15)
    return conn


async def snapshot(admin_dsn: str) -> DatabaseSnapshot:
    snap = DatabaseSnapshot()
    conn = await connect(admin_dsn)
    try:
        for service in COMMAND_SERVICES:
            for r in await conn.fetch(f"SELECT event_id::text AS id, event_type, causation_id, "
                                      f"stream_id FROM {service}.events"):
                snap.events[r["id"]] = StoredEvent(service, r["event_type"], r["causation_id"],
                                                   r["stream_id"])
            for r in await conn.fetch(f"SELECT command_id, status FROM {service}.processed_commands"):
                snap.processed[r["command_id"]] = r["status"]
        snap.active_store = str(await conn.fetchval("SELECT store FROM waste_service.active_store"))
        snap.seen = {r["id"] for r in await conn.fetch(
            f"SELECT event_id::text AS id FROM {snap.active_store}.seen_events")}
    finally:
        await conn.close()
    return snap


async def views_content(dsn: str) -> dict[str, Counter[str]]:
    """Every row of every public view, as PostgreSQL writes it as text."""
    conn = await connect(dsn)
    try:
        out: dict[str, Counter[str]] = {}
        for view in VIEWS:
            sql = (f"SELECT t::text AS row FROM waste.{view} t" if view != "backlog" else
                   "SELECT (channel, sum(open_interactions))::text AS row FROM waste.backlog "
                   "GROUP BY channel")
            out[view] = Counter(r["row"] for r in await conn.fetch(sql))
        return out
    finally:
        await conn.close()


async def store_tables(dsn: str, store: str) -> dict[str, Counter[str]]:
    """Every row of every content table of a projector store."""
    conn = await connect(dsn)
    try:
        tables = [r["t"] for r in await conn.fetch(
            "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1", store)]
        out: dict[str, Counter[str]] = {}
        for table in tables:
            if table in NOT_CONTENT:
                continue
            out[table] = Counter(r["row"] for r in await conn.fetch(
                f"SELECT t::text AS row FROM {store}.{table} t"))
        return out
    finally:
        await conn.close()


def differences(before: dict[str, Counter[str]], after: dict[str, Counter[str]],
                samples: int = 3) -> dict[str, dict[str, Any]]:
    """Per table or view that differs: rows only before, only after, with a few samples."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, Counter()), after.get(name, Counter())
        if a == b:
            continue
        only_a, only_b = a - b, b - a
        out[name] = {"rows_before": sum(a.values()), "rows_after": sum(b.values()),
                     "only_before": sum(only_a.values()), "only_after": sum(only_b.values()),
                     "samples_only_before": [r[:400] for r in list(only_a)[:samples]],
                     "samples_only_after": [r[:400] for r in list(only_b)[:samples]]}
    return out


@dataclass
class RebuildOutcome:
    ok: bool
    took_s: float
    output: str
    old_store: str
    new_store: str | None


def _open_binary(path: Path) -> IO[bytes]:
    return open(path, "ab")


async def rebuild(env: dict[str, str], admin_dsn: str, log_path: Path,
                  timeout_s: float) -> RebuildOutcome:
    """``python -m leancrm_waste rebuild`` as the waste role: a new store from the topics,
    the views switched to it."""
    conn = await connect(admin_dsn)
    try:
        old = str(await conn.fetchval("SELECT store FROM waste_service.active_store"))
    finally:
        await conn.close()
    started = time.monotonic()
    log = _open_binary(log_path)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "leancrm_waste", "rebuild", "--timeout", str(int(timeout_s)),
            env={**env, "COLUMNS": "120"}, stdin=asyncio.subprocess.DEVNULL, stdout=log,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            code: int | None = await asyncio.wait_for(proc.wait(), timeout_s + 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            code = None
    finally:
        log.close()
    took = time.monotonic() - started
    output = (await asyncio.to_thread(log_path.read_text, errors="replace"))[-3000:]
    conn = await connect(admin_dsn)
    try:
        new = str(await conn.fetchval("SELECT store FROM waste_service.active_store"))
    finally:
        await conn.close()
    ok = code == 0 and new != old
    return RebuildOutcome(ok, took, output if not ok else output[-500:], old,
                          new if new != old else None)


async def view_figures(dsn: str) -> dict[str, float]:
    """The section-5 totals the views give (as services/waste's simulator test reads them)."""
    conn = await connect(dsn)
    try:
        i = await conn.fetchrow("""
            SELECT count(*) AS contacts,
                   count(*) FILTER (WHERE status = 'resolved') AS resolved,
                   count(*) FILTER (WHERE status = 'abandoned') AS abandoned,
                   count(*) FILTER (WHERE status = 'unresolved') AS unresolved,
                   count(*) FILTER (WHERE status = 'open') AS still_open,
                   count(*) FILTER (WHERE first_contact_resolution) AS first_contact_resolutions,
                   count(*) FILTER (WHERE repeat_of IS NOT NULL) AS failure_demand,
                   coalesce(sum(identifications), 0) AS identifications,
                   coalesce(sum(queue_wait_s), 0) AS queue_wait_s,
                   coalesce(sum(hold_s), 0) AS hold_s, coalesce(sum(handle_s), 0) AS handle_s,
                   coalesce(sum(value_added_s), 0) AS value_added_s,
                   coalesce(sum(lead_time_s), 0) AS lead_time_s
            FROM waste.interactions""")
        w = {r["waste_type"]: int(r["n"]) for r in await conn.fetch(
            "SELECT waste_type, count(*) AS n FROM waste.waste_ledger GROUP BY waste_type")}
        c = await conn.fetchrow(
            "SELECT coalesce(sum(staffed_s), 0) AS staffed, coalesce(sum(busy_s), 0) AS busy, "
            "coalesce(sum(overproduction_s), 0) AS over FROM waste.capacity_hourly")
        cust = await conn.fetchrow("SELECT count(*) AS n, count(*) FILTER (WHERE forgotten) AS f "
                                   "FROM waste.customers")
        feedback = {r["source"]: int(r["n"]) for r in await conn.fetch(
            "SELECT source, sum(feedback_count) AS n FROM waste.feedback_daily GROUP BY source")}
    finally:
        await conn.close()
    assert i is not None and c is not None and cust is not None  # aggregates give one row
    out = {k: float(v) for k, v in dict(i).items()}
    for waste_type in ("over_processing", "motion", "transportation", "defects", "inventory"):
        out[waste_type] = float(w.get(waste_type, 0))
    out.update(staffed_s=float(c["staffed"]), busy_s=float(c["busy"]),
               overproduction_s=float(c["over"]), customers_registered=float(cust["n"]),
               customers_forgotten=float(cust["f"]))
    for source, n in feedback.items():
        out[f"feedback_{source}"] = float(n)
    return out


def expected_figures(f: Figures) -> dict[str, float]:
    out = {name: float(getattr(f, name)) for name in (
        "contacts", "resolved", "abandoned", "unresolved", "still_open", "first_contact_resolutions",
        "failure_demand", "identifications", "queue_wait_s", "hold_s", "handle_s", "value_added_s",
        "lead_time_s", "over_processing", "motion", "transportation", "defects", "inventory",
        "staffed_s", "busy_s", "overproduction_s", "customers_registered", "customers_forgotten")}
    for source, n in f.feedback_by_source.items():
        out[f"feedback_{source}"] = float(n)
    return out


def compare_figures(got: dict[str, float], want: dict[str, float]) -> dict[str, dict[str, float | None]]:
    """The figures that differ (relative 1e-9, absolute 1e-6, as the waste tests compare)."""
    out: dict[str, dict[str, float | None]] = {}
    for name in sorted(set(got) | set(want)):
        g, w = got.get(name), want.get(name)
        if (g is None and w == 0) or (w is None and g == 0):
            continue
        if g is None or w is None or abs(g - w) > max(1e-6, 1e-9 * max(abs(g), abs(w))):
            out[name] = {"views": g, "simulator": w}
    return out


def waste_env(roles: dict[str, str], bootstrap: str, session_timeout_ms: int) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEANCRM_")}
    # a rebuild makes a schema and replaces views: as the schema's owner
    return {**base, **personal_data_kek(), "LEANCRM_DATABASE_URL": roles["waste"],
            "LEANCRM_MIGRATION_DATABASE_URL": roles[owner_role("waste")],
            "LEANCRM_KAFKA_BOOTSTRAP": bootstrap,
            "LEANCRM_REPLICATION_FACTOR": "1", "LEANCRM_SESSION_TIMEOUT_MS": str(session_timeout_ms)}
