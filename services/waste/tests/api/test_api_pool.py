"""The API reads on a pool of its own: readers that hold every API connection with long
statements do not stop the projector (nor its readiness), and are told to come back —
the whole service running, over the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import httpx
import pytest

from leancrm_devstack.testing import Infra, wait_until
from leancrm_simulator.knobs import Knobs
from leancrm_simulator.offline import offline_events, produce_events
from leancrm_simulator.scenario import generate
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

from .access import VIEWER, bearer, tokens_json

pytestmark = pytest.mark.integration


async def applied(dsn: str, schema: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        store = await conn.fetchval(f"SELECT store FROM {schema}.active_store")
        return int(await conn.fetchval(f"SELECT count(*) FROM {store}.seen_events"))
    finally:
        await conn.close()


async def test_readers_holding_every_api_connection_do_not_stop_the_projector(
        infra: Infra, bootstrap: str) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    service = WasteService(WasteSettings(
        kafka_bootstrap=bootstrap, database_url=infra.dsn, db_schema=schema, http_port=0,
        consumer_group=f"waste-{schema}", partitions=3, relay_poll_interval_s=0.2,
        api_pool_size=2, api_statement_timeout_s=300, api_tokens=tokens_json()))
    await service.start()
    held: list[asyncpg.pool.PoolConnectionProxy] = []
    sleepers: list[asyncio.Task[str]] = []
    try:
        assert service.api_pool is not None and service.pool is not None
        assert service.api_pool is not service.pool and service.api_pool.get_max_size() == 2
        # what slow readers do: every connection of the API busy with a long statement
        for _ in range(service.api_pool.get_max_size()):
            held.append(await service.api_pool.acquire())
        sleepers = [asyncio.create_task(c.execute("SELECT pg_sleep(120)")) for c in held]

        events = list(offline_events(generate(Knobs(customers=20, days=1, agents_per_team=1,
                                                    feedback_rate=0.3, seed=5))))
        distinct = len({e.value for e in events})
        await produce_events(bootstrap, events, linger_ms=5)

        async def all_applied() -> bool:
            return await applied(infra.dsn, schema) >= distinct

        # the projector goes on, on its own connections
        await wait_until(all_applied, timeout_s=45, what=f"{distinct} events applied while the "
                         "API's connections are all held")
        assert service.http is not None
        base = f"http://127.0.0.1:{service.http.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            ready = await c.get("/ready")
            assert ready.status_code == 200, ready.text
            r = await c.get("/api/v1/summary", headers=bearer(VIEWER))
            assert r.status_code == 503 and r.json()["error"] == "busy", r.text
            assert r.headers["retry-after"]
            for task in sleepers:
                task.cancel()
            await asyncio.gather(*sleepers, return_exceptions=True)
            for conn in held:
                await service.api_pool.release(conn)
            held.clear()
            r = await c.get("/api/v1/summary", headers=bearer(VIEWER))
            assert r.status_code == 200 and r.json()["headline"]["contacts"] is not None
    finally:
        for task in sleepers:
            task.cancel()
        await asyncio.gather(*sleepers, return_exceptions=True)
        for conn in held:
            with contextlib.suppress(Exception):
                await service.api_pool.release(conn)  # type: ignore[union-attr]
        await service.stop()
