"""/metrics of a command service protected when asked (LEANCRM_METRICS_REQUIRE_TOKEN):
a token with metrics:read reads it, others are refused saying what is missing, /health
and /ready stay open — a real service over the real broker and PostgreSQL (customers,
the kit's model service)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from leancrm_customers.app import SPEC
from leancrm_devstack.testing import Infra, settings_for_test
from leancrm_servicekit.auth import METRICS_READ, WASTE_READ, new_token, token_sha256
from leancrm_servicekit.command_service import CommandService

pytestmark = pytest.mark.integration

SCRAPER, VIEWER = new_token(), new_token()
TOKENS = json.dumps([{"name": "prometheus", "sha256": token_sha256(SCRAPER), "scopes": [METRICS_READ]},
                     {"name": "viewer", "sha256": token_sha256(VIEWER), "scopes": [WASTE_READ]}])


def service(infra: Infra, bootstrap: str, **extra: Any) -> CommandService:
    return CommandService(SPEC, settings_for_test("customers", infra, bootstrap,
                                                  f"t_{uuid.uuid4().hex[:12]}", **extra))


async def test_a_command_service_protects_metrics_when_asked(infra: Infra, bootstrap: str) -> None:
    svc = service(infra, bootstrap, api_tokens=TOKENS, metrics_require_token=True)
    await svc.start()
    try:
        assert svc.http is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.http.port}", timeout=10) as c:
            assert (await c.get("/health")).status_code == 200
            assert (await c.get("/ready")).status_code in (200, 503)  # answered, never refused
            r = await c.get("/metrics")
            assert r.status_code == 401 and r.json()["reason"] == "missing_token"
            assert r.headers["www-authenticate"] == 'Bearer realm="leancrm-customers", scope="metrics:read"'
            assert "leancrm_" not in r.text
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {VIEWER}"})
            assert r.status_code == 403 and r.json()["required_scope"] == METRICS_READ
            assert r.json()["message"] == ("the token 'viewer' lacks the scope metrics:read, which this "
                                           "needs (it has: waste:read)")
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {new_token()}"})
            assert r.status_code == 401 and r.json()["reason"] == "unknown_token"
            r = await c.get("/metrics", headers={"Authorization": f"Bearer {SCRAPER}"})
            assert r.status_code == 200 and "leancrm_command_results_total" in r.text
    finally:
        await svc.stop()


async def test_metrics_stay_open_by_default_and_a_bad_token_configuration_stops_the_start(
        infra: Infra, bootstrap: str) -> None:
    svc = service(infra, bootstrap)
    await svc.start()
    try:
        assert svc.http is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{svc.http.port}", timeout=10) as c:
            r = await c.get("/metrics")
            assert r.status_code == 200 and "leancrm_messages_in_total" in r.text
    finally:
        await svc.stop()

    broken = service(infra, bootstrap, metrics_require_token=True,
                     api_tokens=json.dumps([{"name": "prometheus", "sha256": "not-a-hash",
                                             "scopes": [METRICS_READ]}]))
    with pytest.raises(SystemExit, match="LEANCRM_API_TOKENS: token 0: sha256: must be the SHA-256"):
        await broken.start()
    assert broken.infra is None  # stopped before it connected to anything
