"""One improvements service per test module, on a broker of its own (the kit's
``module_bootstrap``); tests isolate themselves by fresh improvement ids."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from leancrm_devstack.testing import Infra, ServiceHarness, running_service
from leancrm_improvements.app import SPEC


@pytest.fixture(scope="module")
async def improvements(infra: Infra, module_bootstrap: str) -> AsyncIterator[ServiceHarness]:
    async with running_service(SPEC, infra, module_bootstrap) as h:
        yield h
