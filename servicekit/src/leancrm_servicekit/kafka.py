"""Kafka edges shared by every service: how clients connect, topic creation, producers.

Written to the subset that works on both Apache Kafka and the embedded broker
(shared/notes/embedded-broker.md): explicit topic creation that reads the
response's error codes, ``acks=all`` producers with no idempotence and no
transactions.

Transport security is configured once, in the settings, and turned into client
options here and nowhere else: :func:`client_options` gives the keyword arguments of
every aiokafka client (producers, consumers, the admin client) and
:func:`broker_security` the same as faststream's ``security=``. Every Kafka client the
project makes receives them (the composition root carries them:
``Infrastructure.kafka_options``); README, "Security: transport".
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from leancrm_servicekit.logging import get_logger
from leancrm_servicekit.settings import SASL_PROTOCOLS, TLS_PROTOCOLS, ConfigurationError, ServiceSettings

TOPIC_ALREADY_EXISTS = 36
#: how long the TLS check waits after its handshake for a broker's refusal of the client
_ALERT_WAIT_S = 0.5
_SASL_SECURITY: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
    "PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}

log = get_logger(component="kafka")


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    """The transport security of every aiokafka client, from the settings:
    ``security_protocol``, and ``ssl_context`` (TLS) and ``sasl_*`` (SASL) as the
    protocol needs. Raises :class:`ConfigurationError` when a certificate or key cannot
    be loaded (the message names the variable)."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in TLS_PROTOCOLS:
        options["ssl_context"] = tls_context(settings)
    if protocol in SASL_PROTOCOLS:
        assert settings.kafka_sasl_password is not None  # the settings refuse SASL without one
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism,
                       sasl_plain_username=settings.kafka_sasl_username,
                       sasl_plain_password=settings.kafka_sasl_password.get_secret_value())
    return options


def tls_context(settings: ServiceSettings) -> ssl.SSLContext:
    """A client TLS context: verifies the brokers' certificates against
    ``kafka_ssl_cafile`` (or the system's CAs), checks their host names unless told not
    to, and presents the client certificate when one is given. At least TLS 1.2."""
    var = settings.variable
    cafile = settings.kafka_ssl_cafile
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=str(cafile) if cafile else None)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"{var('kafka_ssl_cafile')}={cafile}: no CA certificate could be read "
                                 f"from it (PEM expected): {exc}") from None
    if settings.kafka_ssl_certfile is not None:
        password = settings.kafka_ssl_key_password
        try:
            # a password is always given, so that an encrypted key without one fails here
            # instead of OpenSSL prompting on a terminal a container does not have
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile,
                                    password.get_secret_value() if password else "")
        except (ssl.SSLError, OSError) as exc:
            raise ConfigurationError(
                f"{var('kafka_ssl_certfile')}={settings.kafka_ssl_certfile} and {var('kafka_ssl_keyfile')}="
                f"{settings.kafka_ssl_keyfile}: the client certificate and key cannot be loaded ({exc}): "
                f"is the key the certificate's, and {var('kafka_ssl_key_password')} its password?"
            ) from None
    context.minimum_version = max(context.minimum_version, ssl.TLSVersion.TLSv1_2)
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def broker_security(options: Mapping[str, Any]) -> BaseSecurity | None:
    """:func:`client_options` as faststream's ``KafkaBroker(security=...)``, which gives
    them to the broker's producer, consumers and admin client."""
    protocol = options.get("security_protocol", "PLAINTEXT")
    context = options.get("ssl_context")
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    kind = _SASL_SECURITY[options["sasl_mechanism"]]
    return kind(options["sasl_plain_username"], options["sasl_plain_password"], ssl_context=context,
                use_ssl=protocol == "SASL_SSL")


def transport_warnings(settings: ServiceSettings) -> list[str]:
    """What is weak about the chosen transport, said once at start-up."""
    if settings.kafka_security_protocol == "SASL_PLAINTEXT":
        return [f"{settings.variable('kafka_security_protocol')}=SASL_PLAINTEXT: the SASL exchange and "
                "every message cross the network unencrypted; use SASL_SSL"]
    if settings.kafka_security_protocol in TLS_PROTOCOLS and not settings.kafka_ssl_check_hostname:
        return [f"{settings.variable('kafka_ssl_check_hostname')}=false: any certificate the CA signed "
                "is accepted for any broker"]
    return []


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port`` pairs of a bootstrap list (``[v6]:port`` too)."""
    out = []
    for item in bootstrap.split(","):
        item = item.strip()
        if not item:
            continue
        host, _, port = item.rpartition(":")
        out.append((host.strip("[]") or item, int(port) if port.isdigit() else 9092))
    return out


async def verify_broker_tls(bootstrap: str, options: Mapping[str, Any], *, variable_of: Any = None,
                            timeout_s: float = 10.0) -> None:
    """A TLS handshake with each bootstrap server before any client starts, so that a
    certificate that does not verify stops the process with a clear reason (aiokafka
    only logs it, then reports "Unable to bootstrap"). A server that does not answer is
    no configuration error: the clients wait for it themselves."""
    context = options.get("ssl_context")
    if context is None:
        return
    name = variable_of or ServiceSettings.variable

    async def handshake(host: str, port: int) -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host, port, ssl=context, server_hostname=host, ssl_handshake_timeout=timeout_s),
                timeout_s + 1)
        except ssl.SSLCertVerificationError as exc:
            raise ConfigurationError(
                f"the Kafka broker {host}:{port} presented a certificate that does not verify: "
                f"{exc.verify_message or exc.reason} ({_verification_hint(exc, name)})") from None
        except ssl.SSLError as exc:
            if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
                raise ConnectionError(f"{host}:{port} closed the TLS handshake: {exc}") from None
            raise _handshake_refused(host, port, exc, options, name) from None
        try:
            # a broker that wants a client certificate (TLS 1.3) says so only after the
            # handshake, in an alert; one that accepts says nothing until asked
            await asyncio.wait_for(reader.read(1), _ALERT_WAIT_S)
        except TimeoutError:
            pass
        except ssl.SSLError as exc:
            raise _handshake_refused(host, port, exc, options, name) from None
        except OSError:
            pass  # gone: the clients will say so
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    results = await asyncio.gather(*(handshake(h, p) for h, p in bootstrap_addresses(bootstrap)),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, ConfigurationError):
            raise result
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed and len(failed) == len(results):
        log.warning("kafka_tls_not_checked", bootstrap=bootstrap, error=repr(failed[0])[:300],
                    message="no bootstrap server answered the TLS check; the clients will keep trying")


def _handshake_refused(host: str, port: int, exc: ssl.SSLError, options: Mapping[str, Any],
                       name: Any) -> ConfigurationError:
    reason = str(exc.reason or exc)
    if "ALERT" in reason and ("CERTIFICATE" in reason or "UNKNOWN_CA" in reason):
        return ConfigurationError(
            f"the Kafka broker {host}:{port} refused this client's certificate ({reason}): it wants one "
            f"it trusts — set {name('kafka_ssl_certfile')} and {name('kafka_ssl_keyfile')} to a "
            "certificate signed by a CA the broker trusts, and its key")
    return ConfigurationError(
        f"the TLS handshake with the Kafka broker {host}:{port} failed ({reason}): is it a TLS "
        f"listener ({name('kafka_security_protocol')}={options.get('security_protocol')})?")


def _verification_hint(exc: ssl.SSLCertVerificationError, name: Any) -> str:
    if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
        return (f"the certificate does not name this host: use a bootstrap address it names, or "
                f"{name('kafka_ssl_check_hostname')}=false")
    return (f"it is not signed by a CA in {name('kafka_ssl_cafile')} (or the system's CAs when unset), "
            "or it expired")


def encode_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in headers]


def decode_headers(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (headers or ())}


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], partitions: int, replication_factor: int, *,
    client_options: Mapping[str, Any] | None = None,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the topics that are missing; return the ones created. ``configs``: topic →
    its configuration (e.g. ``KEY_TOPIC_CONFIG``: compacted), for the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000,
                                **(client_options or {}))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor,
                      topic_configs=dict((configs or {}).get(t, {}))) for t in missing]
        )
        created = []
        for topic, code, *rest in getattr(response, "topic_errors", getattr(response, "topics", [])):
            if code == 0:
                created.append(topic)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"creating topic {topic} failed with Kafka error code {code}: {rest}")
        return created
    finally:
        await admin.close()


def make_producer(bootstrap: str, **overrides: object) -> AIOKafkaProducer:
    """An at-least-once producer: acks=all, no idempotence, no transactions; give it
    :func:`client_options` among ``overrides``."""
    options: dict[str, object] = {
        "bootstrap_servers": bootstrap,
        "acks": "all",
        "enable_idempotence": False,
        "linger_ms": 2,
        "request_timeout_ms": 10000,
        "retry_backoff_ms": 200,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def stop_quietly(producer: AIOKafkaProducer, timeout_s: float = 5.0) -> None:
    with contextlib.suppress(Exception):  # best effort on shutdown, timeouts included
        await asyncio.wait_for(producer.stop(), timeout_s)
