"""A small hand-made read model: store rows written directly, figures worked by hand.

The day under review is D = Monday 15 June 2026; its previous seven days are 8–14 June.
7 June (before the window) and 16 June (after it) carry large figures that must not
count. Every interaction has its own customer unless it is meant as a repeat.

Each day of 8–14 June (k = 0..6), team ``care``:
  I1 billing/phone 09:00–09:10 resolved, value-added 300 s; waiting (queue) 100·(k+1) s
  I2 billing/phone 10:00–10:10 resolved after one same-channel transfer, identified twice:
     over_processing 1, motion 1, defects/not_first_agent 1
  I3 order_status/chat 11:00–11:10 resolved (300 s) — repeated by I4, so no FCR
  I4 order_status/chat 14:00–14:10 abandoned, same customer as I3: failure demand;
     defects/unresolved 1, and the view adds defects/repeat_contact on I3
  capacity care 09:00 staffed 3600 busy 3240; 10:00 staffed 3600 busy 1800
  → contacts 4, FCR 1/4, failure demand 1/4, abandonment 1/4, flow efficiency
    900/2400 = 0.375, occupancy 5040/7200 = 0.7, overproduction 0 + (1800 − 540) = 1260 s,
    waiting 100·(k+1) (average 400), over_processing 1, motion 1, transportation 0,
    defects 3, inventory 0.

D = 15 June:
  J1 billing/phone 09:00–09:10 resolved (300); waiting 1500 s — repeated by J5
  J2 billing/phone 10:00–10:20 resolved after two cross-channel transfers, identified
     twice (300): over_processing 1, transportation 2, defects/not_first_agent 1
  J3 order_status/chat 11:00–11:10 resolved (300) — repeated by J9
  J5 billing/phone 12:00–12:10 resolved (300), J1's customer: failure demand, FCR
  J6 billing/phone 13:00–13:10 unresolved (0): defects/unresolved 1
  J9 order_status/chat 16:00–16:05 resolved (100), J3's customer: failure demand, FCR
  K7 complaint/email started 7 June 08:00, ended 15 June 09:00: inventory 1 on D
  capacity care 09:00 and 10:00 staffed 3600 busy 1800 each; sales 11:00 3600/3600
  → contacts 6, FCR 2/6, failure demand 2/6, abandonment 0, flow efficiency
    1300/3900 = 1/3, occupancy 7200/10800 = 2/3, overproduction 1260 + 1260 + 0 = 2520 s,
    waiting 1500, over_processing 1, motion 0, transportation 2, defects 4 (two
    repeat_contact rows), inventory 1.
  Costs (defaults): overproduction 2520, waiting 1500, defects 1200, inventory 600,
  transportation 360, over_processing 30, motion 0 — total 6210 s.
  Failure demand by reason: order_status 1 of 2 (baseline 0.5), billing 1 of 4
  (baseline 0).

Feedback: D survey→service −0.5 and +0.5, idea→product +0.2 with votes +1 +1 −1;
14 June tweet→marketing −0.8. Customers: J1's ("Ada", retail) and J2's (forgotten).
Open now (backlog, relative to the database clock): phone 10 min, email 5 h, email and
chat 30 h.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from leancrm_waste.projection import stores

D = date(2026, 6, 15)
BASELINE = [date(2026, 6, 8) + timedelta(days=k) for k in range(7)]
NS = uuid.UUID("0b5e55ed-0000-4000-8000-000000000000")


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def uid(name: str) -> UUID:
    return uuid.uuid5(NS, name)


@dataclass
class DataSet:
    interactions: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    busy: list[tuple[UUID, datetime, str, float]] = field(default_factory=list)
    staffed: list[tuple[str, datetime, str, float]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    votes: list[tuple[UUID, UUID, int, datetime, UUID]] = field(default_factory=list)
    customers: list[tuple[UUID, str | None, str | None, str | None, bool]] = field(default_factory=list)
    ids: dict[str, UUID] = field(default_factory=dict)

    def interaction(self, name: str, *, start: datetime, end: datetime | None, channel: str,
                    reason: str, customer: str | None = None, status: str = "resolved",
                    transfers: int = 0, cross: int = 0, identifications: int = 1,
                    queue: float = 0.0, value_added: float = 300.0, team: str = "care") -> UUID:
        iid = uid(name)
        self.ids[name] = iid
        lead = (end - start).total_seconds() if end else None
        self.interactions.append(dict(
            interaction_id=iid, customer_id=uid("customer-" + (customer or name)), channel=channel,
            reason=reason, started_at=start, started_event_id=uid("started-" + name), ended_at=end,
            status=status, resolved_by="agent" if status == "resolved" else None,
            transfers=transfers, cross_channel_transfers=cross, identifications=identifications,
            queue_wait_s=queue, hold_s=0.0, handle_s=max(0.0, (lead or 0) - queue),
            value_added_s=value_added, lead_time_s=lead, reached_agent=status != "abandoned",
            team=team))
        return iid

    def waste(self, name: str, waste_type: str, subtype: str, when: datetime,
              quantity: float = 1.0) -> None:
        i = next(r for r in self.interactions if r["interaction_id"] == self.ids[name])
        self.ledger.append(dict(
            row_key=f"{name}/{waste_type}/{subtype}/{when.isoformat()}", interaction_id=i["interaction_id"],
            waste_type=waste_type, subtype=subtype, occurred_at=when, customer_id=i["customer_id"],
            channel=i["channel"], reason=i["reason"], team=i["team"], quantity=quantity,
            unit="seconds" if waste_type == "waiting" else "count",
            source_event_id=uid(f"event-{name}-{waste_type}-{when.isoformat()}")))

    def capacity(self, hour: datetime, team: str, staffed: float, busy: float) -> None:
        self.staffed.append((f"agent-{team}-{hour.isoformat()}", hour, team, staffed))
        if busy:
            self.busy.append((uid(f"busy-{team}-{hour.isoformat()}"), hour, team, busy))

    async def write(self, conn: asyncpg.Connection, store: str) -> None:
        cols = list(self.interactions[0])
        await conn.executemany(
            f"INSERT INTO {store}.interactions ({', '.join(cols)}) VALUES "
            f"({', '.join(f'${i + 1}' for i in range(len(cols)))})",
            [tuple(r[c] for c in cols) for r in self.interactions])
        lcols = list(self.ledger[0])
        await conn.executemany(
            f"INSERT INTO {store}.ledger ({', '.join(lcols)}) VALUES "
            f"({', '.join(f'${i + 1}' for i in range(len(lcols)))})",
            [tuple(r[c] for c in lcols) for r in self.ledger])
        await conn.executemany(f"INSERT INTO {store}.busy_hourly VALUES ($1, $2, $3, $4)", self.busy)
        await conn.executemany(f"INSERT INTO {store}.staffed_hourly VALUES ($1, $2, $3, $4)",
                               self.staffed)
        if self.feedback:
            fcols = list(self.feedback[0])
            await conn.executemany(
                f"INSERT INTO {store}.feedback ({', '.join(fcols)}) VALUES "
                f"({', '.join(f'${i + 1}' for i in range(len(fcols)))})",
                [tuple(r[c] for c in fcols) for r in self.feedback])
        await conn.executemany(
            f"INSERT INTO {store}.idea_votes (feedback_id, voter_customer_id, vote, voted_at, event_id) "
            "VALUES ($1, $2, $3, $4, $5)", self.votes)
        await conn.executemany(
            f"INSERT INTO {store}.customers (customer_id, segment, name, email, forgotten, personal_data) "
            "VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 THEN 'erased' ELSE 'clear' END)", self.customers)


def two_weeks(now: datetime) -> DataSet:
    ds = DataSet()
    for k, d in enumerate(BASELINE):
        p = f"{d}-"
        ds.interaction(p + "I1", start=at(d, 9), end=at(d, 9, 10), channel="phone", reason="billing",
                       queue=100.0 * (k + 1))
        ds.waste(p + "I1", "waiting", "queue", at(d, 9), 100.0 * (k + 1))
        ds.interaction(p + "I2", start=at(d, 10), end=at(d, 10, 10), channel="phone", reason="billing",
                       transfers=1, identifications=2)
        ds.waste(p + "I2", "over_processing", "repeat_identification", at(d, 10, 2))
        ds.waste(p + "I2", "motion", "handoff", at(d, 10, 5))
        ds.waste(p + "I2", "defects", "not_first_agent", at(d, 10, 10))
        ds.interaction(p + "I3", start=at(d, 11), end=at(d, 11, 10), channel="chat",
                       reason="order_status", customer=p + "X")
        ds.interaction(p + "I4", start=at(d, 14), end=at(d, 14, 10), channel="chat",
                       reason="order_status", customer=p + "X", status="abandoned", value_added=0.0)
        ds.waste(p + "I4", "defects", "unresolved", at(d, 14, 10))
        ds.capacity(at(d, 9), "care", 3600.0, 3240.0)
        ds.capacity(at(d, 10), "care", 3600.0, 1800.0)

    d = D
    ds.interaction("J1", start=at(d, 9), end=at(d, 9, 10), channel="phone", reason="billing",
                   customer="A", queue=1500.0)
    ds.waste("J1", "waiting", "queue", at(d, 9), 1500.0)
    ds.interaction("J2", start=at(d, 10), end=at(d, 10, 20), channel="phone", reason="billing",
                   customer="B", transfers=2, cross=2, identifications=2)
    ds.waste("J2", "over_processing", "repeat_identification", at(d, 10, 3))
    ds.waste("J2", "transportation", "channel_switch", at(d, 10, 5))
    ds.waste("J2", "transportation", "channel_switch", at(d, 10, 12))
    ds.waste("J2", "defects", "not_first_agent", at(d, 10, 20))
    ds.interaction("J3", start=at(d, 11), end=at(d, 11, 10), channel="chat", reason="order_status",
                   customer="C")
    ds.interaction("J5", start=at(d, 12), end=at(d, 12, 10), channel="phone", reason="billing",
                   customer="A")
    ds.interaction("J6", start=at(d, 13), end=at(d, 13, 10), channel="phone", reason="billing",
                   status="unresolved", value_added=0.0)
    ds.waste("J6", "defects", "unresolved", at(d, 13, 10))
    ds.interaction("J9", start=at(d, 16), end=at(d, 16, 5), channel="chat", reason="order_status",
                   customer="C", value_added=100.0)
    ds.capacity(at(d, 9), "care", 3600.0, 1800.0)
    ds.capacity(at(d, 10), "care", 3600.0, 1800.0)
    ds.capacity(at(d, 11), "sales", 3600.0, 3600.0)

    before = date(2026, 6, 7)
    ds.interaction("K7", start=at(before, 8), end=at(d, 9), channel="email", reason="complaint",
                   value_added=600.0, queue=100000.0)
    ds.waste("K7", "waiting", "queue", at(before, 8), 100000.0)
    ds.waste("K7", "inventory", "aged_backlog", at(d, 9))
    ds.interaction("K8", start=at(before, 9), end=at(before, 9, 10), channel="phone", reason="billing",
                   status="abandoned", value_added=0.0)
    ds.capacity(at(before, 10), "care", 3600.0, 0.0)

    after = D + timedelta(days=1)
    ds.interaction("L1", start=at(after, 9), end=at(after, 9, 10), channel="phone", reason="billing",
                   queue=99999.0)
    ds.waste("L1", "waiting", "queue", at(after, 9), 99999.0)
    ds.capacity(at(after, 10), "care", 3600.0, 0.0)

    for name, minutes, channel in (("O1", 10, "phone"), ("O2", 300, "email"), ("O3", 1800, "email"),
                                   ("O4", 1800, "chat")):
        ds.interaction(name, start=now - timedelta(minutes=minutes), end=None, channel=channel,
                       reason="billing", status="open", value_added=0.0)

    def fb(name: str, source: str, team: str, score: float, when: datetime) -> UUID:
        fid = uid("feedback-" + name)
        label = "negative" if score < -0.05 else "positive" if score > 0.05 else "neutral"
        ds.feedback.append(dict(feedback_id=fid, customer_id=None, source=source, received_at=when,
                                interaction_id=None, topic=None, rating=None, sentiment_score=score,
                                sentiment_label=label, routed_team=team))
        return fid

    fb("f1", "survey", "service", -0.5, at(d, 10))
    fb("f2", "survey", "service", 0.5, at(d, 11))
    idea = fb("f3", "idea", "product", 0.2, at(d, 12))
    fb("f4", "tweet", "marketing", -0.8, at(d - timedelta(days=1), 9))
    for i, vote in enumerate((1, 1, -1)):
        ds.votes.append((idea, uid(f"voter-{i}"), vote, at(d, 13, i), uid(f"vote-{i}")))
    ds.customers.append((uid("customer-A"), "retail", "Ada", "ada@example.com", False))
    ds.customers.append((uid("customer-B"), "SMB", None, None, True))
    return ds


async def install(dsn: str, store: str, now: datetime | None = None) -> DataSet:
    """A fresh store ``store`` with the data set, and the views of schema waste over it."""
    conn = await asyncpg.connect(dsn)
    try:
        db_now = now or await conn.fetchval("SELECT now()")
        ds = two_weeks(db_now)
        await stores.create_store(conn, store, 0.85)
        await ds.write(conn, store)
        await stores.install_views(conn, store)
        return ds
    finally:
        await conn.close()


async def point_views_at(dsn: str, store: str) -> None:
    """Other tests may have pointed the views of schema waste elsewhere since."""
    conn = await asyncpg.connect(dsn)
    try:
        await stores.install_views(conn, store)
    finally:
        await conn.close()
