"""One feedback service per test module, on a broker of its own (the kit's
``module_bootstrap``).

Starting a service and joining a reader's consumer group take seconds, so every
test of the module shares them and isolates itself by fresh ids (and, for the
DLQ, fresh keys) instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from leancrm_devstack.testing import Infra, running_service
from leancrm_feedback.app import SPEC

from .helpers import Harness


@pytest.fixture(scope="module")
async def feedback(infra: Infra, module_bootstrap: str) -> AsyncIterator[Harness]:
    async with running_service(SPEC, infra, module_bootstrap) as h:
        yield Harness(service=h.service, producer=h.producer, reader=h.reader, db=h.db)
