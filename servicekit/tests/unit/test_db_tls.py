"""Which failures to open a database connection are the settings' (said at once, with
what to fix) and which are the server's (waited out): pure, with stand-in openings."""

from __future__ import annotations

import re

import pytest

from leancrm_servicekit.db import check_tls_files, opened
from leancrm_servicekit.faults import is_transient_database_error
from leancrm_servicekit.settings import ConfigurationError

DSN = "postgresql://svc:pw@db.internal:6432/leancrm?sslmode=verify-full&sslrootcert=/etc/ca.pem"


async def failing(exc: BaseException) -> None:
    raise exc


async def test_a_server_that_refuses_tls_to_a_dsn_that_requires_it_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        await opened(DSN, failing(ConnectionError(
            'PostgreSQL server at "db.internal:6432" rejected SSL upgrade')))
    message = str(caught.value)
    assert message.startswith("PostgreSQL at db.internal:6432 does not offer TLS")
    assert "sslmode=verify-full" in message and "pw" not in message


async def test_a_server_that_is_not_there_is_still_waited_for() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(ConnectionRefusedError) as caught:
        await opened(DSN, failing(refused))
    assert is_transient_database_error(caught.value)


def test_the_files_a_dsn_names_must_exist() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("names sslrootcert=/etc/ca.pem: no such file")):
        check_tls_files(DSN)
    check_tls_files("postgresql://svc@db/leancrm?sslmode=require")  # nothing named, nothing checked
