from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from leancrm_customers.app import SPEC
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.settings import ServiceSettings
from leancrm_servicekit.testing import Infra


def service_settings(infra: Infra, bootstrap: str, schema: str, **extra: object) -> ServiceSettings:
    return ServiceSettings(
        kafka_bootstrap=bootstrap,
        database_url=infra.dsn,
        db_schema=schema,
        http_port=0,
        partitions=3,
        consumer_group=f"customers-{uuid.uuid4().hex[:8]}",
        relay_poll_interval_s=0.2,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def customers(infra: Infra, bootstrap: str, schema_name: str) -> AsyncIterator[CommandService]:
    service = CommandService(SPEC, service_settings(infra, bootstrap, schema_name))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
