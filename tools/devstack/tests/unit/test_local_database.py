"""The launcher's DSN rewriting for per-service roles (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leancrm_devstack.local_database import DatabaseSetupError, dsn_with, init_sql_path, needs_tls


@pytest.mark.parametrize(("dsn", "user", "database", "expected"), [
    ("postgresql://postgres:@/postgres?host=/tmp/pg", "customers", "leancrm",
     "postgresql://customers@/leancrm?host=/tmp/pg"),
    ("postgresql://admin:secret@db:5432/postgres", "leancrm_ops", None,
     "postgresql://leancrm_ops@db:5432/postgres"),
    ("postgres://db:5432/postgres", None, "leancrm", "postgres://db:5432/leancrm"),
    ("postgresql://admin:secret@db:5432/postgres", None, "leancrm",
     "postgresql://admin:secret@db:5432/leancrm"),
    ("postgresql://admin:secret@db:5432/postgres?sslmode=verify-full&sslrootcert=/etc/ca.pem", "customers",
     "leancrm", "postgresql://customers@db:5432/leancrm?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
])
def test_dsn_with(dsn: str, user: str | None, database: str | None, expected: str) -> None:
    assert dsn_with(dsn, user=user, database=database) == expected


def test_dsn_with_refuses_what_is_not_postgresql() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        dsn_with("mysql://db/x", user="customers")


def test_the_init_script_is_found_in_the_checkout_not_beside_the_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEANCRM_INIT_SQL", raising=False)
    found = init_sql_path()  # the tests run in the checkout
    assert found.is_file() and found.name == "leancrm-init.sql"
    assert init_sql_path(found.parents[2] / "services" / "waste") == found  # from below, too
    with pytest.raises(DatabaseSetupError, match="LEANCRM_INIT_SQL"):
        init_sql_path(tmp_path)  # elsewhere, it says how to point at it
    monkeypatch.setenv("LEANCRM_INIT_SQL", str(found))
    assert init_sql_path(tmp_path) == found


@pytest.mark.parametrize(("dsn", "tls"), [
    ("postgresql://u@db/x", False), ("postgresql://u@db/x?sslmode=prefer", False),
    ("postgresql://u@db/x?sslmode=require", True),
    ("postgresql://u@db/x?sslrootcert=/c&sslmode=verify-full", True),
])
def test_which_dsns_need_a_psql_with_tls(dsn: str, tls: bool) -> None:
    assert needs_tls(dsn) is tls
