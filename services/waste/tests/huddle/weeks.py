"""A hand-made month for the huddle's fair comparisons, honest days and signals: store
rows written directly, every figure worked by hand here.

Every day of 1–27 June 2026 (k = 0..26), phone, billing, team care: 40 contacts, each
its own customer, 10 minutes long, a queue wait of 50 s (k even) or 70 s (k odd) each
(waiting per contact 50 / 70 s); u = 4 (k even) or 8 (k odd) of them unresolved (a
defects/unresolved row each, value-added 0), the others resolved with 300 s value-added.
Capacity care 09:00 and 10:00, staffed 3600 s each, busy 2700 s each (k even) or 2880 s
(k odd): occupancy 0.75 / 0.8, overproduction 2 × 360 = 720 s / 2 × 180 = 360 s.
→ FCR 0.9 / 0.8, failure demand 0, abandonment 0, flow efficiency 36·300/24000 = 0.45 /
32·300/24000 = 0.4, defects 10 / 20 per 100 contacts.
27 June (k = 26) besides: contacts 0–3 are customers R0–R3, contact 4 is product_info of
customer P; they are repeated on the 29th, so 27 June's FCR is 31/40 = 0.775.

Sunday 28 June: 10 contacts (resolved, 50 s waiting each): too few to judge.

Monday 29 June (D), 80 contacts, each 45 s waiting (3600 s: more than any Monday before,
but 45 s per contact, less than the Mondays' 60):
  phone/care 60: contacts 0–39 unresolved (defects 40); 40–43 billing by R0–R3 and 44
  product_info by P, resolved: failure demand 5 (and 5 repeat_contact defects on D);
  the rest resolved;
  email/sales 20, billing, resolved.
  capacity care 09:00 and 10:00 staffed 3600 busy 2700; sales 11:00 3600 / 1800.
→ FCR 40/80 = 0.5, failure demand 5/80, flow efficiency 40·300/48000 = 0.25, defects
45/80 = 56.25 per 100, occupancy 7200/10800, overproduction 360 + 360 + 1260 = 1980 s of
10800 staffed; team sales: 20 contacts, FCR 1, occupancy 0.5; channel email: 20 contacts.
Same-weekday baseline (the Mondays 1, 8, 15, 22 June, k = 0, 7, 14, 21): 160 contacts,
waiting 40·(50 + 70 + 50 + 70) = 9600 s → 60 s per contact; defects 24 → 15 per 100;
overproduction 2160 of 28800 staffed = 7.5 %; FCR 136/160 = 0.85.
Worst reasons on D: billing 79 contacts, 4 failure demand; product_info 1 of 1 (left out
below the minimum of contacts).

Tuesday 30 June: 40 phone contacts, resolved, 60 s waiting each, and 10 email contacts
still open, queued since 12:00 (no agent yet, so no team; no waiting counted yet):
50 contacts, waiting per contact 2400/50 = 48 s — "better" than the Tuesdays' 60 s only
because the emails' wait has not ended. The day is not finished.

XmR (baseline: the first 20 days with data, 1–20 June): FCR centre 0.85, mR 0.1, limits
0.85 ± 0.266 = [0.584, 1] (clipped); D's 0.5 is outside: a signal. Waiting per contact
centre 60 s, mR 20 s, limits [6.8, 113.2]; D's 45 s: within normal variation.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import asyncpg

from leancrm_waste.projection import stores

from ..api.dataset import DataSet, at

FIRST = date(2026, 6, 1)
SUNDAY = date(2026, 6, 28)
D = date(2026, 6, 29)
TUESDAY = date(2026, 6, 30)
QUEUED_SINCE = at(TUESDAY, 12)


def _contact(ds: DataSet, name: str, start: datetime, *, resolved: bool = True, wait: float = 60.0,
             channel: str = "phone", reason: str = "billing", customer: str | None = None,
             team: str = "care") -> None:
    ds.interaction(name, start=start, end=start + timedelta(minutes=10), channel=channel,
                   reason=reason, customer=customer, queue=wait, team=team,
                   status="resolved" if resolved else "unresolved",
                   value_added=300.0 if resolved else 0.0)
    ds.waste(name, "waiting", "queue", start, wait)
    if not resolved:
        ds.waste(name, "defects", "unresolved", start + timedelta(minutes=10))


def month() -> DataSet:
    ds = DataSet()
    for k in range(27):
        d = FIRST + timedelta(days=k)
        u, wait, busy = (4, 50.0, 2700.0) if k % 2 == 0 else (8, 70.0, 2880.0)
        for i in range(40):
            customer, reason = None, "billing"
            if k == 26 and i < 4:
                customer = f"R{i}"
            if k == 26 and i == 4:
                customer, reason = "P", "product_info"
            _contact(ds, f"{d}-{i}", at(d, 8) + timedelta(minutes=5 * i), resolved=i < 40 - u,
                     wait=wait, reason=reason, customer=customer)
        ds.capacity(at(d, 9), "care", 3600.0, busy)
        ds.capacity(at(d, 10), "care", 3600.0, busy)

    for i in range(10):
        _contact(ds, f"sun-{i}", at(SUNDAY, 9) + timedelta(minutes=5 * i), wait=50.0)

    for i in range(60):
        customer, reason = None, "billing"
        if 40 <= i <= 43:
            customer = f"R{i - 40}"
        if i == 44:
            customer, reason = "P", "product_info"
        _contact(ds, f"D-{i}", at(D, 8) + timedelta(minutes=3 * i), resolved=i >= 40, wait=45.0,
                 reason=reason, customer=customer)
    for i in range(20):
        _contact(ds, f"D-mail-{i}", at(D, 12) + timedelta(minutes=5 * i), wait=45.0, channel="email",
                 team="sales")
    ds.capacity(at(D, 9), "care", 3600.0, 2700.0)
    ds.capacity(at(D, 10), "care", 3600.0, 2700.0)
    ds.capacity(at(D, 11), "sales", 3600.0, 1800.0)

    for i in range(40):
        _contact(ds, f"tue-{i}", at(TUESDAY, 8) + timedelta(minutes=5 * i), wait=60.0)
    for i in range(10):
        name = f"tue-mail-{i}"
        ds.interaction(name, start=QUEUED_SINCE - timedelta(minutes=1), end=None, channel="email",
                       reason="billing", status="open", value_added=0.0)
    for r in ds.interactions:
        open_email = r["interaction_id"] in {ds.ids[f"tue-mail-{i}"] for i in range(10)}
        r["queued_since"] = QUEUED_SINCE if open_email else None
        r["on_hold_since"] = None
        if open_email:
            r["team"] = None
    return ds


async def install(dsn: str, store: str) -> DataSet:
    """A fresh store ``store`` with the month, and the views of schema waste over it."""
    conn = await asyncpg.connect(dsn)
    try:
        ds = month()
        await stores.create_store(conn, store, 0.85)
        await ds.write(conn, store)
        await stores.install_views(conn, store)
        return ds
    finally:
        await conn.close()


def store_name() -> str:
    return f"huddle_month_{uuid.uuid4().hex[:10]}"
