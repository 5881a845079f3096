"""Service settings, read from environment variables (prefix ``LEANCRM_``).

Every variable is documented in the README's "Configuration" section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every Lean CRM service reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="LEANCRM_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers, e.g. 'kafka-1:9092,kafka-2:9092'. Required to run a service.",
    )
    database_url: str | None = Field(
        default=None, description="PostgreSQL DSN (asyncpg form). Required to run a service."
    )
    db_schema: str | None = Field(
        default=None,
        description="PostgreSQL schema holding the service's tables; defaults to the service name.",
    )
    partitions: int = Field(default=6, ge=1, description="Partitions of topics created at start-up.")
    replication_factor: int = Field(default=1, ge=1, description="Replication of created topics.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    http_host: str = Field(default="127.0.0.1", description="Bind address of health/metrics HTTP.")
    http_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="HTTP port; unset = the service's default port; 0 = any free port.",
    )
    # operations access (servicekit/auth.py; README "Security: operations access")
    api_tokens: str | None = Field(
        default=None,
        description="The operations tokens accepted, as a JSON list of {name, sha256, scopes}: the "
                    "SHA-256 of each token, never the token itself.",
    )
    api_tokens_file: Path | None = Field(
        default=None,
        description="A file (a mounted secret) with the same JSON as LEANCRM_API_TOKENS; read again "
                    "when it changes. Both may be set: their tokens add up.",
    )
    metrics_require_token: bool = Field(
        default=False,
        description="/metrics answers only to a bearer token with the scope metrics:read "
                    "(default: open, on the service's own port).",
    )
    consumer_group: str | None = Field(
        default=None, description="Kafka consumer group; defaults to 'leancrm-<service>'."
    )
    session_timeout_ms: int = Field(default=6000, ge=6000)
    heartbeat_interval_ms: int = Field(default=2000, ge=100)
    batch_max_records: int = Field(
        default=500, ge=1, le=10_000, description="Commands handled in one transaction."
    )
    batch_timeout_ms: int = Field(
        default=20, ge=0, le=10_000,
        description="Longest wait to fill a command batch (lower: less latency, smaller batches).",
    )
    fetch_max_wait_ms: int = Field(
        default=50, ge=0, le=10_000,
        description="Longest the broker holds a fetch with no new record (lower: commands arriving "
                    "on an idle consumer are seen sooner, at the cost of more fetch requests).",
    )
    relay_enabled: bool = Field(
        default=True, description="Run the outbox relay in this process (false: another does)."
    )
    relay_batch_size: int = Field(default=1000, ge=1, le=50_000)
    relay_poll_interval_s: float = Field(
        default=1.0, gt=0, description="Outbox polling fallback when no NOTIFY arrives."
    )
    db_pool_size: int = Field(default=5, ge=1, le=100)
    db_connect_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Longest wait to open a database connection.")
    db_statement_timeout_s: float = Field(
        default=60.0, ge=0, le=3600,
        description="PostgreSQL statement_timeout of every service connection (0: none).")
    db_lock_timeout_s: float = Field(
        default=30.0, ge=0, le=3600,
        description="PostgreSQL lock_timeout: the longest a statement waits for a lock (0: none).")
    db_idle_in_transaction_timeout_s: float = Field(
        default=60.0, ge=0, le=3600,
        description="PostgreSQL idle_in_transaction_session_timeout: a session that went quiet in "
                    "a transaction (its process stopped or cut off) is ended and frees its locks.")
    db_tcp_keepalive_s: int = Field(
        default=15, ge=1, le=3600,
        description="Seconds of silence before PostgreSQL probes a client's connection; with 4 "
                    "probes this far apart, a client that vanished is dropped within ~a minute.")
    db_command_timeout_s: float = Field(
        default=120.0, gt=0, le=7200,
        description="Client side: the longest a query may take before the connection gives up on "
                    "the server (a server that vanished mid-query).")
    relay_lease_s: float = Field(
        default=30.0, ge=3, le=600,
        description="The relay leader's lease: a standby takes over once it expires (at once when "
                    "the leader's database session is gone).")
    gc_gen0_threshold: int = Field(
        default=50_000, ge=0,
        description="Allocations between collections of Python's youngest GC generation "
                    "(Python's default is 700; 0 keeps Python's defaults). See servicekit/runtime.py.",
    )


def require(value: str | None, name: str) -> str:
    """A required setting, or a clear error naming the variable."""
    if not value:
        raise SystemExit(
            f"{name} is not set. Set it to point at your infrastructure, or start the "
            "system with `scripts/run`, which starts an embedded PostgreSQL and broker."
        )
    return value
