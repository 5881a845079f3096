"""Service settings, read from environment variables (prefix ``LEANCRM_``).

Every variable is documented in the README's "Configuration" section. Settings that
cannot work together are refused when read, with a message naming the variables
(``ServiceSettings`` checks its Kafka transport security; ``load_settings`` turns any
refusal into a :class:`ConfigurationError` listing them).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

if TYPE_CHECKING:
    from leancrm_servicekit.crypto import Keyring

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
#: protocols that encrypt with TLS / that authenticate with SASL
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
_SASL_FIELDS = ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password",
                "kafka_sasl_password_file")
_TLS_FIELDS = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", "kafka_ssl_key_password",
               "kafka_ssl_key_password_file", "kafka_ssl_check_hostname")
_OPTIONAL_TEXT = ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password",
                  "kafka_sasl_password_file", "kafka_ssl_cafile", "kafka_ssl_certfile",
                  "kafka_ssl_keyfile", "kafka_ssl_key_password", "kafka_ssl_key_password_file",
                  "personal_data_kek", "personal_data_kek_file", "personal_data_previous_keks")


class ConfigurationError(Exception):
    """Settings that cannot work: the message names the variables and what to do."""


class ServiceSettings(BaseSettings):
    """What every Lean CRM service reads at start-up."""

    model_config = SettingsConfigDict(env_prefix="LEANCRM_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        description="Kafka bootstrap servers, e.g. 'kafka-1:9092,kafka-2:9092'. Required to run a service.",
    )
    # -- Kafka transport security: one place for every Kafka client the project makes
    # (leancrm_servicekit.kafka.client_options; README "Security: transport") ----------
    kafka_security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS).")
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with a SASL_* protocol).")
    kafka_sasl_username: str | None = Field(default=None, description="The SASL user.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="The SASL password (or kafka_sasl_password_file).")
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="A file holding the SASL password (a mounted secret).")
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="PEM file of the CA(s) that signed the brokers' certificates; "
                                  "unset: the system's trusted CAs.")
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate, for brokers that require one (mutual TLS).")
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="PEM private key of kafka_ssl_certfile.")
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted kafka_ssl_keyfile (or ..._file).")
    kafka_ssl_key_password_file: Path | None = Field(
        default=None, description="A file holding kafka_ssl_key_password (a mounted secret).")
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Check that a broker's certificate names the host connected to; "
                                  "the chain is verified either way.")
    unknown_variables: Literal["warn", "fail"] = Field(
        default="warn", description="A LEANCRM_* variable nothing reads: warn at start-up, or fail.")
    database_url: str | None = Field(
        default=None, description="PostgreSQL DSN (asyncpg form). Required to run a service."
    )
    migration_database_url: str | None = Field(
        default=None,
        description="PostgreSQL DSN of the schema's owner role: migrations (and the waste "
                    "projector's stores) are made with it, at start-up and by `migrate`, and the "
                    "service runs as LEANCRM_DATABASE_URL. Unset: the service migrates as "
                    "LEANCRM_DATABASE_URL when that role may, and otherwise only checks that "
                    "nothing is left to apply.",
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
    # -- personal data: the key-encryption key (servicekit/crypto.py; README "Erasure
    # (crypto-shredding)"). Required by the customers service; the waste projector without
    # it shows personal data as withheld ------------------------------------------------
    personal_data_kek: SecretStr | None = Field(
        default=None,
        description="The key-encryption key that wraps each customer's data key: 32 random bytes "
                    "as base64 (or personal_data_kek_file). Only entitled services get it.")
    personal_data_kek_file: Path | None = Field(
        default=None, description="A file holding LEANCRM_PERSONAL_DATA_KEK (a mounted secret).")
    personal_data_previous_keks: SecretStr | None = Field(
        default=None,
        description="Earlier key-encryption keys, base64, comma-separated: they still unwrap keys "
                    "wrapped before a rotation, never wrap new ones.")
    gc_gen0_threshold: int = Field(
        default=50_000, ge=0,
        description="Allocations between collections of Python's youngest GC generation "
                    "(Python's default is 700; 0 keeps Python's defaults). See servicekit/runtime.py.",
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator(*_OPTIONAL_TEXT, mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """An empty variable (``LEANCRM_KAFKA_SSL_CAFILE=``) is an unset one."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_kafka_security(self) -> ServiceSettings:
        """Refuse Kafka security settings that are incomplete or contradict each other,
        naming the variables; read the secrets given as files."""
        errors: list[str] = []
        name = self.variable
        protocol = self.kafka_security_protocol
        given_fields = set(self.model_fields_set)  # before secrets are read from their files
        for secret, path in (("kafka_sasl_password", "kafka_sasl_password_file"),
                             ("kafka_ssl_key_password", "kafka_ssl_key_password_file")):
            errors.extend(self._read_secret_file(secret, path))
        if protocol in SASL_PROTOCOLS:
            missing = [name(f) for f in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
                       if not getattr(self, f)]
            if missing:
                errors.append(f"{name('kafka_security_protocol')}={protocol} authenticates with SASL and "
                              f"needs {_and(missing)} (the mechanism: PLAIN, SCRAM-SHA-256 or "
                              f"SCRAM-SHA-512; the password may come from "
                              f"{name('kafka_sasl_password_file')})")
        else:
            given = [name(f) for f in _SASL_FIELDS if f in given_fields and getattr(self, f)]
            if given:
                errors.append(f"{_and(given)} {_is(given)} set, but {name('kafka_security_protocol')}="
                              f"{protocol} uses no SASL: set it to SASL_SSL (or SASL_PLAINTEXT), or "
                              f"unset {_them(given)}")
        if protocol in TLS_PROTOCOLS:
            errors.extend(self._check_tls_files())
        else:
            given = [name(f) for f in _TLS_FIELDS if f in given_fields and getattr(self, f) is not None]
            if given:
                errors.append(f"{_and(given)} {_is(given)} set, but {name('kafka_security_protocol')}="
                              f"{protocol} does not use TLS: set it to SSL (or SASL_SSL), or unset "
                              f"{_them(given)}")
        if errors:
            raise ValueError("\n  ".join(errors))
        return self

    @model_validator(mode="after")
    def _check_personal_data_kek(self) -> ServiceSettings:
        """Read the KEK from its file, and refuse one that is not 32 bytes of base64, naming
        the variable (never the value)."""
        from leancrm_servicekit.crypto import Kek

        errors = self._read_secret_file("personal_data_kek", "personal_data_kek_file")
        if not errors and self.personal_data_kek is not None:
            try:
                Kek.from_base64(self.personal_data_kek.get_secret_value())
            except ValueError as exc:
                errors.append(f"{self.variable('personal_data_kek')}: {exc}")
        for n, text in enumerate(_split(self.personal_data_previous_keks), 1):
            try:
                Kek.from_base64(text)
            except ValueError as exc:
                errors.append(f"{self.variable('personal_data_previous_keks')}, key {n}: {exc}")
        if self.personal_data_previous_keks is not None and self.personal_data_kek is None:
            errors.append(f"{self.variable('personal_data_previous_keks')} is set without "
                          f"{self.variable('personal_data_kek')}: the current key wraps, earlier "
                          "ones only unwrap")
        if errors:
            raise ValueError("\n  ".join(errors))
        return self

    def personal_data_keyring(self) -> Keyring | None:
        """The KEKs configured (``None`` when there is none: personal data is withheld)."""
        from leancrm_servicekit.crypto import Kek, Keyring

        if self.personal_data_kek is None:
            return None
        return Keyring.of(Kek.from_base64(self.personal_data_kek.get_secret_value()),
                          [Kek.from_base64(k) for k in _split(self.personal_data_previous_keks)])

    def _read_secret_file(self, secret: str, path_field: str) -> list[str]:
        path: Path | None = getattr(self, path_field)
        if path is None:
            return []
        if getattr(self, secret) is not None:
            return [f"{self.variable(secret)} and {self.variable(path_field)} are both set: give the "
                    "secret one way"]
        try:
            text = path.read_text().rstrip("\r\n")
        except OSError as exc:
            return [f"{self.variable(path_field)}={path}: cannot be read ({exc.strerror or exc})"]
        if not text:
            return [f"{self.variable(path_field)}={path}: the file is empty"]
        setattr(self, secret, SecretStr(text))
        return []

    def _check_tls_files(self) -> list[str]:
        errors = []
        for f in ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile"):
            path: Path | None = getattr(self, f)
            if path is None:
                continue
            if not path.is_file():
                errors.append(f"{self.variable(f)}={path}: no such file")
            elif not os.access(path, os.R_OK):
                errors.append(f"{self.variable(f)}={path}: not readable by this process")
        cert, key = self.kafka_ssl_certfile, self.kafka_ssl_keyfile
        if key is not None and cert is None:
            errors.append(f"{self.variable('kafka_ssl_keyfile')} is set without "
                          f"{self.variable('kafka_ssl_certfile')}: a client key needs its certificate")
        if cert is not None and key is None and cert.is_file() and b"PRIVATE KEY" not in cert.read_bytes():
            errors.append(f"{self.variable('kafka_ssl_certfile')}={cert} holds no private key: set "
                          f"{self.variable('kafka_ssl_keyfile')} to the certificate's key")
        if self.kafka_ssl_key_password is not None and cert is None:
            errors.append(f"{self.variable('kafka_ssl_key_password')} is set without a client "
                          f"certificate ({self.variable('kafka_ssl_certfile')})")
        return errors

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable of ``field``: ``kafka_bootstrap`` → ``LEANCRM_KAFKA_BOOTSTRAP``."""
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _split(keys: SecretStr | None) -> list[str]:
    return [k.strip() for k in (keys.get_secret_value() if keys else "").split(",") if k.strip()]


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _is(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _them(names: list[str]) -> str:
    return "it" if len(names) == 1 else "them"


S = TypeVar("S", bound=BaseSettings)


def load_settings(settings_type: type[S], env: Mapping[str, str] | None = None) -> S:
    """``settings_type`` read from the process environment (or from ``env`` alone), or a
    :class:`ConfigurationError` naming every variable that is wrong and why."""
    try:
        return settings_type() if env is None else _from_mapping(settings_type, env)
    except ValidationError as exc:
        prefix = str(settings_type.model_config.get("env_prefix", ""))
        problems = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            field = ".".join(str(part) for part in error["loc"])
            problems.append(f"{prefix}{field}".upper() + f": {message}" if field else message)
        raise ConfigurationError(f"invalid settings ({settings_type.__name__}):\n  "
                                 + "\n  ".join(problems)) from None


def _from_mapping(settings_type: type[S], env: Mapping[str, str]) -> S:
    """``settings_type`` from the variables of ``env`` alone, not the process's."""
    prefix = str(settings_type.model_config.get("env_prefix", "")).upper()
    given = {k.upper(): v for k, v in env.items()}
    values = {f: given[f"{prefix}{f}".upper()] for f in settings_type.model_fields
              if f"{prefix}{f}".upper() in given}
    settings: S = _mapping_only(settings_type)(**values)
    return settings


@functools.cache
def _mapping_only(settings_type: type[S]) -> type[S]:
    """A subclass of ``settings_type`` that reads nothing but its keyword arguments."""

    class Given(settings_type):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                       init_settings: PydanticBaseSettingsSource,
                                       **_: PydanticBaseSettingsSource
                                       ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    Given.__name__ = Given.__qualname__ = settings_type.__name__
    return Given


def require(value: str | None, name: str) -> str:
    """A required setting, or a clear error naming the variable."""
    if not value:
        raise SystemExit(
            f"{name} is not set. Set it to point at your infrastructure, or start the "
            "system with `scripts/run`, which starts an embedded PostgreSQL and broker."
        )
    return value
