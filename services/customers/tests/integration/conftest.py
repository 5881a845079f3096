from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer

from leancrm_customers.app import SPEC
from leancrm_devstack.testing import Infra, settings_for_test
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.settings import ServiceSettings


def service_settings(infra: Infra, bootstrap: str, schema: str, **extra: object) -> ServiceSettings:
    return settings_for_test("customers", infra, bootstrap, schema, **extra)


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
