"""The customers service's own read state (table ``customers``), updated in the
same transaction as the events that change it. All its SQL is here."""

from __future__ import annotations

import json
from collections.abc import Sequence

from leancrm_contracts import customers as c
from leancrm_servicekit.db import Conn
from leancrm_servicekit.eventstore import StoredEvent

_REGISTER = """
INSERT INTO customers (customer_id, name, email, phone, segment, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (customer_id) DO NOTHING
"""
_CHANGE = """
UPDATE customers SET
    name = CASE WHEN $2::jsonb ? 'name' THEN $2::jsonb->>'name' ELSE name END,
    email = CASE WHEN $2::jsonb ? 'email' THEN $2::jsonb->>'email' ELSE email END,
    phone = CASE WHEN $2::jsonb ? 'phone' THEN $2::jsonb->>'phone' ELSE phone END,
    segment = CASE WHEN $2::jsonb ? 'segment' THEN $2::jsonb->>'segment' ELSE segment END,
    updated_at = $3
WHERE customer_id = $1
"""
_CONSENT = """
UPDATE customers SET consents = consents || jsonb_build_object($2::text, $3::boolean), updated_at = $4
WHERE customer_id = $1
"""
_FORGET = """
UPDATE customers SET name = NULL, email = NULL, phone = NULL, forgotten = TRUE, updated_at = $2
WHERE customer_id = $1
"""


async def apply(conn: Conn, events: Sequence[StoredEvent]) -> None:
    for e in events:
        d = e.data
        match e.event_type:
            case c.CustomerRegistered.event_type:
                await conn.execute(
                    _REGISTER, e.customer_id, d["name"], d.get("email"), d.get("phone"),
                    d["segment"], e.recorded_at,
                )
            case c.CustomerDetailsChanged.event_type:
                await conn.execute(_CHANGE, e.customer_id, json.dumps(d), e.recorded_at)
            case c.CustomerConsentChanged.event_type:
                await conn.execute(_CONSENT, e.customer_id, d["channel"], d["granted"], e.recorded_at)
            case c.CustomerForgotten.event_type:
                await conn.execute(_FORGET, e.customer_id, e.recorded_at)
