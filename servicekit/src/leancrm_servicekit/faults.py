"""Which failures pass by themselves and which are a record's own.

Every consumer and the relay retry a *transient* failure with back-off, for as long as
it lasts, and count it as what it is (``leancrm_transient_errors_total``): a database
restarting, failing over or cut off, a lock or statement timeout, a broker that does
not answer. A failure that a record's own content causes when written (PostgreSQL
refusing a value) is that record's verdict, found by handling the batch's records one
at a time. Anything else is a bug: it stops the line, visibly, rather than skip work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import asyncpg
import asyncpg.exceptions as pg
from aiokafka.errors import KafkaError

from leancrm_servicekit.logging import get_logger

if TYPE_CHECKING:
    from leancrm_servicekit.metrics import ServiceMetrics

log = get_logger(component="faults")
T = TypeVar("T")

#: failures of the database connection or server that retrying overcomes
TRANSIENT_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # asyncpg's command_timeout, a connect that does not answer
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.InterfaceError,  # "connection is closed" after the server went away
    pg.OperatorInterventionError,  # class 57: admin shutdown, cannot connect now, statement timeout
    pg.InsufficientResourcesError,  # class 53: too many connections, disk full
    pg.TransactionRollbackError,  # class 40: serialization failure, deadlock
    pg.LockNotAvailableError,  # 55P03: lock_timeout
    pg.IdleInTransactionSessionTimeoutError,  # 25P03
    pg.ReadOnlySQLTransactionError,  # 25006: connected to a standby during a failover
    pg.InvalidCachedStatementError,  # a prepared statement outlived a schema change
)

#: failures PostgreSQL raises for the values being written: the record's, not the line's
RECORD_DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,  # class 22: a value out of range, text it cannot store
    pg.ProgramLimitExceededError,  # class 54: a value too large to index
    pg.NotNullViolationError,
    pg.CheckViolationError,
    pg.ForeignKeyViolationError,
    pg.ExclusionViolationError,
)


def is_transient_database_error(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_DATABASE_ERRORS)


def is_record_database_error(exc: BaseException) -> bool:
    return isinstance(exc, RECORD_DATABASE_ERRORS)


def is_transient_broker_error(exc: BaseException) -> bool:
    """A broker error that may pass: retriable Kafka errors, and timeouts or connection
    failures talking to the broker."""
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or type(exc).__name__ in {
            "KafkaConnectionError", "KafkaTimeoutError", "RequestTimedOutError",
            "NodeNotReadyError", "NotLeaderForPartitionError", "LeaderNotAvailableError",
        }
    return isinstance(exc, OSError | TimeoutError)


async def patiently(what: str, op: Callable[[], Awaitable[T]], *,
                    metrics: ServiceMetrics | None = None) -> T:
    """``op()`` until it succeeds, waiting out transient database and broker failures with
    back-off (a process started while PostgreSQL restarts or the broker is unreachable
    waits for them instead of exiting); any other failure is raised at once."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await op()
        except Exception as exc:
            if is_transient_database_error(exc):
                dependency = "database"
            elif is_transient_broker_error(exc):
                dependency = "broker"
            else:
                raise
            delay = min(0.5 * 2 ** min(attempt - 1, 5), 10.0)
            if metrics is not None:
                metrics.transient_errors.labels(dependency=dependency, error=type(exc).__name__).inc()
            log.warning("waiting_for_dependency", what=what, dependency=dependency,
                        error=repr(exc)[:300], attempt=attempt, retry_in_s=delay)
            await asyncio.sleep(delay)
