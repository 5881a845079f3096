"""A command service on Kafka over TLS, for real: the embedded broker behind a TLS
terminator that requires a client certificate (mutual TLS), with a CA and certificates
the test makes. Every client of the service — the topic admin, faststream's consumer,
producer and admin, the relay's producer and its read-back consumer — connects through
the terminator, which counts each connection as TLS or plain: none is plain. A broker
certificate the service cannot verify stops its start with the reason and the
variable to fix, instead of a wait without end.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from leancrm_contracts.topics import COMMAND_RESULTS, CUSTOMERS_EVENTS
from leancrm_customers.app import SPEC
from leancrm_devstack.certificates import CertificateAuthority, CertificateFiles
from leancrm_devstack.embedded import EmbeddedBroker, free_port
from leancrm_devstack.testing import Infra, TopicReader, settings_for_test
from leancrm_devstack.tls_terminator import TlsTerminator
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.kafka import client_options, verify_broker_tls
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings

pytestmark = pytest.mark.integration


@dataclass
class Pki:
    ca: CertificateAuthority
    other_ca: CertificateAuthority
    broker: CertificateFiles
    client: CertificateFiles
    key_password_file: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority.create(directory)
    password = directory / "key-password"
    password.write_text("client-key-pw\n")
    return Pki(ca=ca, other_ca=CertificateAuthority.create(directory, "other-ca"),
               broker=ca.issue("broker"), client=ca.issue("service", ("leancrm-customers",), client=True,
                                                          key_password="client-key-pw"),
               key_password_file=password)


@pytest.fixture
def plain_broker(tmp_path: Path) -> Iterator[tuple[EmbeddedBroker, int]]:
    """The embedded broker, advertising the port its TLS terminator will take."""
    tls_port = free_port()
    broker = EmbeddedBroker(log_path=tmp_path / "broker.log", advertised_port=tls_port).start()
    try:
        yield broker, tls_port
    finally:
        broker.stop()


@pytest.fixture
async def terminator(plain_broker: tuple[EmbeddedBroker, int], pki: Pki) -> AsyncIterator[TlsTerminator]:
    broker, tls_port = plain_broker
    async with TlsTerminator(("127.0.0.1", broker.port), pki.broker, client_ca=pki.ca.cert,
                             port=tls_port) as terminator:
        yield terminator


def tls_settings(infra: Infra, terminator: TlsTerminator, pki: Pki, **extra: Any) -> ServiceSettings:
    tls: dict[str, Any] = {
        "kafka_security_protocol": "SSL", "kafka_ssl_cafile": pki.ca.cert,
        "kafka_ssl_certfile": pki.client.cert, "kafka_ssl_keyfile": pki.client.key,
        "kafka_ssl_key_password_file": pki.key_password_file}
    return settings_for_test("customers", infra, terminator.address, f"t_{uuid.uuid4().hex[:12]}",
                             **{**tls, **extra})


async def test_a_command_service_talks_to_kafka_only_over_tls(infra: Infra, terminator: TlsTerminator,
                                                              pki: Pki) -> None:
    settings = tls_settings(infra, terminator, pki)
    options = client_options(settings)  # another system's clients, configured the same way
    service = CommandService(SPEC, settings)
    await service.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=terminator.address, acks="all",
                                    client_id="test-producer", **options)
        await producer.start()
        try:
            async with TopicReader(terminator.address, COMMAND_RESULTS, CUSTOMERS_EVENTS,
                                   client_options={**options, "client_id": "test-reader"}) as reader:
                customer_id = str(uuid.uuid4())
                command = {"command_id": f"tls-{customer_id}", "command_type": "register_customer",
                           "occurred_at": "2026-12-01T09:00:00Z", "correlation_id": None,
                           "data": {"customer_id": customer_id, "name": "Ada", "email": "ada@example.com",
                                    "phone": None, "segment": "retail"}}
                await producer.send_and_wait(
                    SPEC.command_topic, json.dumps(command).encode(),
                    key=customer_id.encode(),
                    headers=[("content-type", b"application/json"), ("message_type", b"register_customer")])
                (result,) = await reader.wait_json(COMMAND_RESULTS, command_id=command["command_id"])
                assert result["status"] == "accepted", result
                (event,) = await reader.wait_json(CUSTOMERS_EVENTS, stream_id=customer_id)
                assert event["event_type"] == "customer.registered"
                assert event["event_id"] == result["event_ids"][0]
        finally:
            await producer.stop()
    finally:
        await service.stop()
    assert terminator.plain_connections == 0
    assert terminator.failed_handshakes == 0, terminator.handshake_errors
    seen = set(terminator.client_ids)
    # faststream's consumer, producer and admin (its client_id), the relay's producer
    # (aiokafka's numbered default), the topic admin and the relay's read-back consumer
    # (aiokafka's default), and the test's own two clients
    assert {"leancrm-customers", "aiokafka-0.14.0", "test-producer", "test-reader"} <= seen, seen
    assert any(c.startswith("aiokafka-producer-") for c in seen), seen
    assert terminator.tls_connections >= 8


async def test_a_broker_certificate_from_another_ca_stops_the_start_naming_the_variable(
        infra: Infra, terminator: TlsTerminator, pki: Pki) -> None:
    service = CommandService(SPEC, tls_settings(infra, terminator, pki, kafka_ssl_cafile=pki.other_ca.cert))
    started = time.monotonic()
    with pytest.raises(ConfigurationError) as caught:
        await asyncio.wait_for(service.start(), 30)
    assert time.monotonic() - started < 15  # said at once, not waited on
    message = str(caught.value)
    assert f"the Kafka broker {terminator.address} presented a certificate that does not verify" in message
    assert "LEANCRM_KAFKA_SSL_CAFILE" in message, message
    assert service.infra is None  # it stopped before migrating anything
    await service.stop()


async def test_a_broker_that_wants_a_client_certificate_says_so(infra: Infra, terminator: TlsTerminator,
                                                                 pki: Pki) -> None:
    settings = settings_for_test("customers", infra, terminator.address, "unused",
                                 kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca.cert)
    with pytest.raises(ConfigurationError, match="refused this client's certificate") as caught:
        await verify_broker_tls(terminator.address, client_options(settings))
    assert "LEANCRM_KAFKA_SSL_CERTFILE" in str(caught.value)


async def test_the_certificate_must_name_the_broker_unless_told_otherwise(
        plain_broker: tuple[EmbeddedBroker, int], pki: Pki, infra: Infra) -> None:
    broker, _ = plain_broker
    elsewhere = pki.ca.issue("elsewhere", ("kafka.example.internal",))
    async with TlsTerminator(("127.0.0.1", broker.port), elsewhere) as terminator:
        strict = settings_for_test("customers", infra, terminator.address, "unused",
                                   kafka_security_protocol="SSL", kafka_ssl_cafile=pki.ca.cert)
        with pytest.raises(ConfigurationError, match="LEANCRM_KAFKA_SSL_CHECK_HOSTNAME=false") as caught:
            await verify_broker_tls(terminator.address, client_options(strict))
        assert "does not name this host" in str(caught.value)
        relaxed = strict.model_copy(update={"kafka_ssl_check_hostname": False})
        await verify_broker_tls(terminator.address, client_options(relaxed))  # the chain still verifies
        other = strict.model_copy(update={"kafka_ssl_check_hostname": False,
                                          "kafka_ssl_cafile": pki.other_ca.cert})
        with pytest.raises(ConfigurationError, match="LEANCRM_KAFKA_SSL_CAFILE"):
            await verify_broker_tls(terminator.address, client_options(other))
