"""The views the projector installs are contract section 6 exactly: the same view
names in schema waste, the same columns in the same order (leancrm_contracts.read_model);
and the HTTP API serves the same columns."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from leancrm_contracts import read_model
from leancrm_devstack.testing import Infra
from leancrm_waste.projection import stores
from leancrm_waste.read import catalogue

pytestmark = pytest.mark.integration


async def test_the_installed_views_have_the_contracts_names_and_columns(infra: Infra) -> None:
    store = f"contract_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(infra.dsn)
    try:
        await stores.create_store(conn, store, 0.85)
        await stores.install_views(conn, store)
        rows = await conn.fetch(
            "SELECT c.relname AS view, array_agg(a.attname::text ORDER BY a.attnum) AS columns "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname = $1 AND c.relkind = 'v' GROUP BY c.relname", read_model.SCHEMA)
        installed = {r["view"]: tuple(r["columns"]) for r in rows}
        assert installed == dict(read_model.VIEWS)
    finally:
        await conn.execute(f"DROP SCHEMA {store} CASCADE")
        await conn.close()


def test_the_api_serves_every_view_with_the_contracts_columns() -> None:
    assert set(catalogue.VIEWS) == set(read_model.VIEWS)
    for name, view in catalogue.VIEWS.items():
        assert view.columns == read_model.VIEWS[name]
        assert set(view.order) - set(view.columns) <= {catalogue._BAND_ORDER}, name
