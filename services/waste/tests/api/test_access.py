"""Operations access to the API, the dashboard and /metrics: each scope's access and
refusal, the 401 and 403 answers, tokens configured hashed from the variable and from a
file, personal data withheld without its scope, the reads' bounds — against the real
PostgreSQL read model of dataset.py."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from leancrm_devstack.testing import Infra
from leancrm_servicekit.auth import Guard
from leancrm_waste.read.api import ReadLimits, api_routes
from leancrm_waste.read.catalogue import VIEWS
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

from .access import (
    ANALYST,
    HOLDERS,
    PERSONAL_ONLY,
    SCRAPER,
    STRANGER,
    VIEWER,
    bearer,
    guard,
    no_tokens_guard,
    tokens_json,
)
from .dataset import install, point_views_at, uid

pytestmark = pytest.mark.integration

#: every endpoint that serves data: each needs waste:read
DATA = ["/api/v1/summary", "/api/v1/breakdown", "/api/v1/lag", *(f"/api/v1/{v}" for v in VIEWS)]
#: the parameters an endpoint cannot answer without
NEEDED = {"/api/v1/breakdown": {"by": "team"}}
#: what is open whatever the tokens: no data in it
OPEN = ["/", "/dashboard", "/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css",
        "/api/v1", "/api/v1/openapi.json"]
ALL_TOKENS = [t for t, _ in HOLDERS.values()] + [STRANGER]


class FakeConsumer:
    def lag(self) -> dict[str, int]:
        return {"crm.interactions.events.v1/0": 2}


@dataclass
class FakeService:
    api_pool: asyncpg.Pool | None
    consumer: FakeConsumer | None = None


@dataclass
class Store:
    dsn: str
    name: str
    pool: asyncpg.Pool


@pytest.fixture(scope="module")
async def store(infra: Infra) -> AsyncIterator[Store]:
    name = f"api_a_{uuid.uuid4().hex[:10]}"
    await install(infra.dsn, name)
    pool = await asyncpg.create_pool(infra.dsn, min_size=1, max_size=2)
    yield Store(infra.dsn, name, pool)
    await pool.close()


@pytest.fixture(autouse=True)
async def views_on_this_store(store: Store) -> None:
    await point_views_at(store.dsn, store.name)


def client_of(app: Starlette, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://waste",
                             headers=headers)


def app_of(store: Store, g: Guard, limits: ReadLimits | None = None) -> Starlette:
    return Starlette(routes=api_routes(FakeService(store.pool, FakeConsumer()), guard=g, limits=limits))


def assert_no_token_in(r: httpx.Response) -> None:
    shown = r.text + json.dumps(dict(r.headers))
    assert not any(t in shown for t in ALL_TOKENS), shown


def refused(r: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["reason"] == reason and body["required_scope"] == "waste:read", body
    assert body["error"] == {401: "unauthorized", 403: "forbidden"}[status]
    assert r.headers["cache-control"] == "no-store"
    assert_no_token_in(r)
    return dict(body)


async def test_every_data_endpoint_needs_a_token_with_waste_read(store: Store) -> None:
    async with client_of(app_of(store, guard())) as c:
        for path in DATA:
            r = await c.get(path)
            body = refused(r, 401, "missing_token")
            assert r.headers["www-authenticate"] == 'Bearer realm="leancrm-waste", scope="waste:read"'
            assert body["message"] == ("this needs a bearer token with the scope waste:read: send the "
                                       "header 'Authorization: Bearer <token>'")

            r = await c.get(path, headers=bearer(STRANGER))
            body = refused(r, 401, "unknown_token")
            assert r.headers["www-authenticate"] == (
                'Bearer realm="leancrm-waste", error="invalid_token", '
                'error_description="unknown or revoked token"')
            assert "unknown or revoked" in body["message"]

            for header in (f"Basic {ANALYST}", ANALYST, f"Bearer {ANALYST},x"):
                r = await c.get(path, headers={"Authorization": header})
                refused(r, 401, "malformed_header")
                assert 'error="invalid_request"' in r.headers["www-authenticate"]

            for token, name in ((SCRAPER, "scraper"), (PERSONAL_ONLY, "personal-only")):
                r = await c.get(path, headers=bearer(token))
                body = refused(r, 403, "insufficient_scope")
                assert r.headers["www-authenticate"] == (
                    'Bearer realm="leancrm-waste", error="insufficient_scope", scope="waste:read"')
                assert body["token"] == name and "waste:read" not in body["token_scopes"]
                assert body["message"].startswith(f"the token '{name}' lacks the scope waste:read")

            for token in (VIEWER, ANALYST):
                r = await c.get(path, headers=bearer(token), params=NEEDED.get(path))
                assert r.status_code == 200, (path, r.text)
                assert r.headers["cache-control"] == "no-store"
        for path in OPEN:
            assert (await c.get(path)).status_code == 200, path


async def test_the_token_is_checked_before_the_parameters(store: Store) -> None:
    async with client_of(app_of(store, guard())) as c:
        r = await c.get("/api/v1/interactions", params={"channel": "fax", "limit": "0"})
        refused(r, 401, "missing_token")
        r = await c.get("/api/v1/summary", params={"from": "yesterday"}, headers=bearer(SCRAPER))
        refused(r, 403, "insufficient_scope")
        r = await c.get("/api/v1/interactions", params={"channel": "fax"}, headers=bearer(VIEWER))
        assert r.status_code == 400 and set(r.json()["errors"]) == {"channel"}


async def test_name_and_email_are_withheld_without_personal_read(store: Store) -> None:
    async with client_of(app_of(store, guard())) as c:
        full = (await c.get("/api/v1/customers", headers=bearer(ANALYST))).json()
        assert "withheld" not in full
        ada = next(r for r in full["rows"] if r["name"] == "Ada")
        assert ada["email"] and ada["segment"] == "retail"

        r = await c.get("/api/v1/customers", headers=bearer(VIEWER))
        assert r.status_code == 200
        body = r.json()
        assert body["withheld"] == ["name", "email"]
        assert body["withheld_because"] == ("the token 'viewer' lacks the scope personal:read; "
                                            "name, email are null")
        assert [r["customer_id"] for r in body["rows"]] == [r["customer_id"] for r in full["rows"]]
        assert all(r["name"] is None and r["email"] is None for r in body["rows"])
        assert "Ada" not in r.text and ada["email"] not in r.text
        # the other columns and the filters are served as they are
        assert {r["segment"] for r in body["rows"]} == {r["segment"] for r in full["rows"]}
        forgotten = (await c.get("/api/v1/customers", params={"forgotten": "true"},
                                 headers=bearer(VIEWER))).json()
        assert [r["customer_id"] for r in forgotten["rows"]] == [str(uid("customer-B"))]
        # no other view serves personal data, and none filters or orders by it
        for view in VIEWS.values():
            assert set(view.personal) <= {"name", "email"}
            assert not {f.column for f in view.filters} & set(view.personal)
            assert not set(view.order) & set(view.personal)
        assert [v.name for v in VIEWS.values() if v.personal] == ["customers"]
        for path in DATA:
            if path != "/api/v1/customers":
                assert "withheld" not in (await c.get(path, headers=bearer(VIEWER),
                                                      params=NEEDED.get(path))).json()


async def test_with_no_token_configured_the_data_answers_401_saying_how_to_configure_one(
        store: Store) -> None:
    async with client_of(app_of(store, no_tokens_guard())) as c:
        for path in DATA:
            for headers in (None, bearer(ANALYST)):
                r = await c.get(path, headers=headers)
                body = refused(r, 401, "no_token_configured")
                assert r.headers["www-authenticate"] == 'Bearer realm="leancrm-waste", scope="waste:read"'
                assert "no token is configured on this service" in body["message"]
                assert "LEANCRM_API_TOKENS or LEANCRM_API_TOKENS_FILE" in body["message"]
        for path in OPEN:
            assert (await c.get(path)).status_code == 200, path
        page = await c.get("/dashboard")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["referrer-policy"] == "no-referrer"
        assert 'id="token-form"' in page.text
        doc = (await c.get("/api/v1/openapi.json")).json()
        assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        assert all(doc["paths"][p]["get"]["security"] == [{"bearer": ["waste:read"]}] for p in DATA)
        assert {"401", "403"} <= set(doc["paths"]["/api/v1/summary"]["get"]["responses"])
        assert "personal:read" in doc["paths"]["/api/v1/customers"]["get"]["responses"]["200"]["description"]


def service_app(store: Store, **settings: Any) -> tuple[WasteService, Starlette]:
    """The routes of a WasteService made from ``settings``, reading the test's store."""
    service = WasteService(WasteSettings(**settings))
    service.api_pool = store.pool
    return service, Starlette(routes=service.routes())


async def test_tokens_configured_hashed_in_the_variable(store: Store, monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv("LEANCRM_API_TOKENS", tokens_json(viewer=HOLDERS["viewer"]))
    _, app = service_app(store)  # WasteSettings() reads the variable
    async with client_of(app) as c:
        assert (await c.get("/api/v1/waste_daily", headers=bearer(VIEWER))).status_code == 200
        refused(await c.get("/api/v1/waste_daily", headers=bearer(ANALYST)), 401, "unknown_token")
        assert (await c.get("/api/v1/customers", headers=bearer(VIEWER))).json()["withheld"] == [
            "name", "email"]


async def test_tokens_configured_hashed_in_a_file_are_rotated_without_a_restart(
        store: Store, tmp_path: Path) -> None:
    secret = tmp_path / "tokens.json"
    secret.write_text(tokens_json(analyst=HOLDERS["analyst"]))
    _, app = service_app(store, api_tokens=tokens_json(viewer=HOLDERS["viewer"]),
                         api_tokens_file=secret)
    async with client_of(app) as c:
        names = (await c.get("/api/v1/customers", headers=bearer(ANALYST))).json()
        assert "Ada" in {r["name"] for r in names["rows"]}
        assert (await c.get("/api/v1/summary", headers=bearer(VIEWER))).status_code == 200

        # the analyst's token revoked, a scraper's added: the next request sees it
        rotated = tmp_path / "tokens.new"
        rotated.write_text(tokens_json(scraper=HOLDERS["scraper"]))
        os.replace(rotated, secret)
        refused(await c.get("/api/v1/customers", headers=bearer(ANALYST)), 401, "unknown_token")
        refused(await c.get("/api/v1/summary", headers=bearer(SCRAPER)), 403, "insufficient_scope")
        assert (await c.get("/api/v1/summary", headers=bearer(VIEWER))).status_code == 200

        # a file broken by hand: nothing is accepted until it is fixed
        secret.write_text("[{")
        r = await c.get("/api/v1/summary", headers=bearer(VIEWER))
        assert r.status_code == 503 and r.json()["reason"] == "configuration_unusable"
        assert "cannot be used" in r.json()["message"] and r.headers["retry-after"]


def test_a_token_configuration_that_cannot_be_used_stops_the_service(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="LEANCRM_API_TOKENS: token 0: sha256: must be the SHA-256"):
        WasteService(WasteSettings(api_tokens=json.dumps([{"name": "a", "sha256": ANALYST,
                                                           "scopes": ["waste:read"]}])))
    with pytest.raises(SystemExit, match=r"LEANCRM_API_TOKENS_FILE .* cannot be read"):
        WasteService(WasteSettings(api_tokens_file=tmp_path / "absent.json"))


async def test_health_stays_open_and_metrics_are_protected_when_asked(store: Store) -> None:
    _, open_app = service_app(store, api_tokens=tokens_json())
    async with client_of(open_app) as c:
        assert (await c.get("/metrics")).status_code == 200  # open by default
        assert (await c.get("/health")).status_code == 200
    _, app = service_app(store, api_tokens=tokens_json(), metrics_require_token=True)
    async with client_of(app) as c:
        assert (await c.get("/health")).json() == {"service": "waste", "status": "alive"}
        assert (await c.get("/ready")).status_code == 503  # answered (not started), never 401
        r = await c.get("/metrics")
        assert r.status_code == 401 and r.json()["required_scope"] == "metrics:read"
        assert r.headers["www-authenticate"] == 'Bearer realm="leancrm-waste", scope="metrics:read"'
        r = await c.get("/metrics", headers=bearer(ANALYST))
        assert r.status_code == 403 and r.json()["reason"] == "insufficient_scope"
        assert r.json()["message"].startswith("the token 'analyst' lacks the scope metrics:read")
        r = await c.get("/metrics", headers=bearer(SCRAPER))
        assert r.status_code == 200 and "leancrm_messages_in_total" in r.text
        # the scraper reads metrics and nothing else
        refused(await c.get("/api/v1/summary", headers=bearer(SCRAPER)), 403, "insufficient_scope")


async def lock_everything(dsn: str, schema: str) -> asyncpg.Connection:
    """A connection holding ACCESS EXCLUSIVE locks on every table of ``schema`` (in an
    open transaction): any read of them waits."""
    conn = await asyncpg.connect(dsn)
    tables = [r["tablename"] for r in await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema)]
    tx = conn.transaction()
    await tx.start()
    for t in tables:
        await conn.execute(f"LOCK TABLE {schema}.{t} IN ACCESS EXCLUSIVE MODE")
    return conn


async def test_a_read_that_runs_too_long_is_cancelled_by_the_statement_timeout(store: Store) -> None:
    app = app_of(store, guard(), ReadLimits(statement_timeout_s=0.5, acquire_timeout_s=5))
    blocker = await lock_everything(store.dsn, store.name)
    try:
        async with client_of(app, bearer(VIEWER)) as c:
            for path in ("/api/v1/summary", "/api/v1/interactions"):
                started = time.monotonic()
                r = await asyncio.wait_for(c.get(path), 15)  # without the timeout: waits for ever
                assert r.status_code == 503, r.text
                assert r.json()["error"] == "timeout"
                assert r.json()["message"].startswith("the query took longer than 0.5 s and was cancelled")
                assert time.monotonic() - started < 10
    finally:
        await blocker.close()
    async with client_of(app, bearer(VIEWER)) as c:
        assert (await c.get("/api/v1/summary")).status_code == 200


async def test_when_every_api_connection_is_busy_a_reader_is_told_to_come_back(store: Store) -> None:
    one = await asyncpg.create_pool(store.dsn, min_size=1, max_size=1)
    app = Starlette(routes=api_routes(FakeService(one), guard=guard(),
                                      limits=ReadLimits(acquire_timeout_s=0.3)))
    try:
        async with one.acquire(), client_of(app, bearer(VIEWER)) as c:
            started = time.monotonic()
            r = await asyncio.wait_for(c.get("/api/v1/waste_daily"), 15)
            assert r.status_code == 503 and r.json()["error"] == "busy", r.text
            assert r.headers["retry-after"] == "2" and time.monotonic() - started < 5
        async with client_of(app, bearer(VIEWER)) as c:
            assert (await asyncio.wait_for(c.get("/api/v1/waste_daily"), 10)).status_code == 200
    finally:
        await one.close()
