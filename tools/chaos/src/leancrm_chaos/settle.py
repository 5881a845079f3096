"""Settling after the fault window: wait, with a deadline, until the system is at rest.

At rest means: every process runs, every HTTP service answers /ready with 200, every
outbox (the command services' and the projector's, for its dead letters) is
empty, every command consumer group has committed up to the high watermark of its
command topic, the projector's stored offsets are at the high watermark of every event
partition (and its /api/v1/lag says 0), the harness has read every topic to its end,
and no recovery probe is still on its way — twice in a row. Whatever is still not at
rest at the deadline is a stalled line and is reported as such, with what each service
said about itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

from leancrm_contracts.topics import COMMAND_TOPICS, EVENT_TOPICS

from .journal import Journal
from .probes import Prober
from .processes import COMMAND_SERVICES, OPERATIONS_TOKEN, PROJECTOR, Supervisor
from .topics import TopicTap

OUTBOXES = {"customers": "customers.outbox", "interactions": "interactions.outbox",
            "feedback": "feedback.outbox", "improvements": "improvements.outbox",
            "waste": "waste_service.outbox"}
GROUP_OF_TOPIC = {topic: f"leancrm-{service}"
                  for topic, service in zip(COMMAND_TOPICS, COMMAND_SERVICES, strict=True)}


@dataclass
class RestState:
    not_ready: dict[str, Any] = field(default_factory=dict)
    outbox_rows: dict[str, int | None] = field(default_factory=dict)
    #: "topic/partition" → messages not yet committed by the command consumer group
    command_lag: dict[str, int | None] = field(default_factory=dict)
    #: "topic/partition" → events not yet applied by the projector (stored offsets)
    projector_lag: dict[str, int | None] = field(default_factory=dict)
    #: what each projector instance says on /api/v1/lag
    projector_reported_lag: dict[str, Any] = field(default_factory=dict)
    #: each projector instance's non-zero leancrm_consumer_lag gauges on /metrics
    #: ("topic/partition" → value, and whether the instance still holds that partition)
    metrics_lag: dict[str, dict[str, Any]] = field(default_factory=dict)
    reader_behind: dict[str, int | None] = field(default_factory=dict)
    probes_pending: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def at_rest(self) -> bool:
        return (not self.not_ready and all(v == 0 for v in self.outbox_rows.values())
                and not self.command_lag and not self.projector_lag and not self.reader_behind
                and all(r.get("total") == 0 for r in self.projector_reported_lag.values())
                and self.probes_pending == 0 and not self.errors)

    def stuck_lines(self) -> list[str]:
        """Every line that did not come to rest: one stall each."""
        lines = [f"process {name} not ready: {state}" for name, state in self.not_ready.items()]
        lines += [f"outbox of {svc} holds {n} rows" for svc, n in self.outbox_rows.items() if n]
        lines += [f"command consumer behind on {tp} by {n}" for tp, n in self.command_lag.items()]
        lines += [f"projector behind on {tp} by {n}" for tp, n in self.projector_lag.items()]
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {"at_rest": self.at_rest, "not_ready": self.not_ready,
                "outbox_rows": self.outbox_rows, "command_lag": self.command_lag,
                "projector_lag": self.projector_lag,
                "projector_reported_lag": self.projector_reported_lag,
                "metrics_lag": self.metrics_lag,
                "reader_behind": self.reader_behind, "probes_pending": self.probes_pending,
                "errors": self.errors}


@dataclass
class Settled:
    at_rest: bool
    took_s: float
    state: RestState


async def rest_state(supervisor: Supervisor, tap: TopicTap, prober: Prober, admin_dsn: str,
                     admin: AIOKafkaAdminClient, http: httpx.AsyncClient) -> RestState:
    st = RestState()
    ready = await supervisor.readiness(http)
    st.not_ready = {n: s for n, s in ready.items() if not s.get("ready")}
    st.probes_pending = len(prober.pending())
    try:
        st.reader_behind = await tap.behind()
    except Exception as exc:  # reported as not at rest
        st.errors.append(f"topic reader: {exc!r}")
    highwater = tap.highwaters((*COMMAND_TOPICS, *EVENT_TOPICS))
    try:
        conn = await asyncio.wait_for(asyncpg.connect(admin_dsn, command_timeout=10), 5)
        try:
            for service, table in OUTBOXES.items():
                exists = await conn.fetchval("SELECT to_regclass($1)", table)
                st.outbox_rows[service] = (int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
                                           if exists else None)
            store = await conn.fetchval("SELECT store FROM waste_service.active_store")
            stored = {(r["topic"], r["partition"]): int(r["next_offset"]) for r in await conn.fetch(
                f"SELECT topic, partition, next_offset FROM {store}.consumer_offsets")}
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)
        for tp, high in highwater.items():
            if tp.topic in EVENT_TOPICS:
                done = stored.get((tp.topic, tp.partition), 0)
                if high is None or done < high:
                    st.projector_lag[f"{tp.topic}/{tp.partition}"] = None if high is None else high - done
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        st.errors.append(f"database: {exc!r}")
    for topic, group in GROUP_OF_TOPIC.items():
        tps = [tp for tp in highwater if tp.topic == topic]
        try:
            committed = await asyncio.wait_for(
                admin.list_consumer_group_offsets(group, partitions=tps), 10)
        except Exception as exc:  # reported as not at rest
            st.errors.append(f"offsets of {group}: {exc!r}")
            continue
        for tp in tps:
            high = highwater[tp]
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else 0
            if high is None or offset < high:
                st.command_lag[f"{tp.topic}/{tp.partition}"] = None if high is None else high - offset
    for name, proc in supervisor.procs.items():
        if proc.spec.kind != PROJECTOR or proc.spec.http_port is None:
            continue
        base = f"http://127.0.0.1:{proc.spec.http_port}"
        try:
            r = await http.get(f"{base}/api/v1/lag", timeout=3.0)
            r.raise_for_status()  # a refused read is an error, not "no lag"
            body = r.json()
            held = set(body.get("partitions") or {})
            st.projector_reported_lag[name] = {"total": body.get("total"), "partitions": len(held)}
            metrics = (await http.get(f"{base}/metrics", timeout=3.0)).text
            gauges = {k: v for k, v in metrics_lag(metrics).items() if v}
            if gauges:
                st.metrics_lag[name] = {k: {"lag": v, "held": k in held} for k, v in gauges.items()}
        except (httpx.HTTPError, ValueError) as exc:
            st.projector_reported_lag[name] = {"total": None, "error": repr(exc)}
    return st


_GAUGE = re.compile(r'^leancrm_consumer_lag\{([^}]*)\}\s+(\S+)$', re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def metrics_lag(text: str) -> dict[str, float]:
    """``leancrm_consumer_lag`` of a Prometheus text page, by "topic/partition"."""
    out: dict[str, float] = {}
    for labels, value in _GAUGE.findall(text):
        named = dict(_LABEL.findall(labels))
        out[f"{named.get('topic')}/{named.get('partition')}"] = float(value)
    return out


async def settle(supervisor: Supervisor, tap: TopicTap, prober: Prober, admin_dsn: str,
                 bootstrap: str, journal: Journal, timeout_s: float) -> Settled:
    started = time.monotonic()
    deadline = started + timeout_s
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await asyncio.wait_for(admin.start(), 30)
    calm = 0
    last_note = 0.0
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {OPERATIONS_TOKEN}"}) as http:
            while True:
                state = await rest_state(supervisor, tap, prober, admin_dsn, admin, http)
                calm = calm + 1 if state.at_rest else 0
                if calm >= 2:
                    took = time.monotonic() - started
                    journal.event("settled", f"at rest after {took:.1f}s", style="green",
                                  took_s=round(took, 3))
                    return Settled(True, took, state)
                if time.monotonic() > deadline:
                    took = time.monotonic() - started
                    journal.event("not_settled", f"NOT at rest after {took:.0f}s: "
                                  f"{'; '.join(state.stuck_lines()[:6]) or state.errors[:3]}",
                                  style="bold red", **state.as_dict())
                    return Settled(False, took, state)
                if time.monotonic() - last_note > 10:
                    last_note = time.monotonic()
                    journal.event("settling", "settling: " + _summary(state), style="dim",
                                  **state.as_dict())
                await asyncio.sleep(1.0)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(admin.close(), 10)


def _summary(st: RestState) -> str:
    parts = []
    if st.not_ready:
        parts.append(f"not ready: {', '.join(st.not_ready)}")
    backlog = {k: v for k, v in st.outbox_rows.items() if v}
    if backlog:
        parts.append(f"outbox {backlog}")
    if st.command_lag:
        parts.append(f"command lag {sum(v or 0 for v in st.command_lag.values())}")
    if st.projector_lag:
        parts.append(f"projector lag {sum(v or 0 for v in st.projector_lag.values())}")
    if st.reader_behind:
        parts.append(f"reader behind {len(st.reader_behind)} partitions")
    if st.probes_pending:
        parts.append(f"{st.probes_pending} probes on their way")
    if st.errors:
        parts.append(f"errors {st.errors[:2]}")
    return "; ".join(parts) or "at rest"

