"""The launcher's DSN rewriting for per-service roles (pure)."""

from __future__ import annotations

import pytest

from leancrm_servicekit.local_database import INIT_SQL, dsn_with


@pytest.mark.parametrize(("dsn", "user", "database", "expected"), [
    ("postgresql://postgres:@/postgres?host=/tmp/pg", "customers", "leancrm",
     "postgresql://customers@/leancrm?host=/tmp/pg"),
    ("postgresql://admin:secret@db:5432/postgres", "leancrm_ops", None,
     "postgresql://leancrm_ops@db:5432/postgres"),
    ("postgres://db:5432/postgres", None, "leancrm", "postgres://db:5432/leancrm"),
    ("postgresql://admin:secret@db:5432/postgres", None, "leancrm",
     "postgresql://admin:secret@db:5432/leancrm"),
])
def test_dsn_with(dsn: str, user: str | None, database: str | None, expected: str) -> None:
    assert dsn_with(dsn, user=user, database=database) == expected


def test_dsn_with_refuses_what_is_not_postgresql() -> None:
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        dsn_with("mysql://db/x", user="customers")


def test_the_init_script_is_where_the_launcher_looks() -> None:
    assert INIT_SQL.is_file() and INIT_SQL.name == "leancrm-init.sql"
