"""Every figure is the same whether the events arrive once or several times, in one
batch or many, from one projector instance or several sharing a consumer group
(contract section 5, last line) — each case compared view by view, row by row."""

from __future__ import annotations

import pytest

from leancrm_devstack.testing import Infra
from leancrm_waste.service import WasteService

from .conftest import VIEWS, produce, running, scenario_events, snapshot, wait_applied, waste_settings

pytestmark = pytest.mark.integration


async def test_once_twice_small_batches_and_two_instances_give_identical_views(
    infra: Infra, bootstrap: str
) -> None:
    events = scenario_events()
    distinct = len(events)
    await produce(bootstrap, events)

    # 1. once, large batches
    s1 = WasteService(waste_settings(infra, bootstrap, "w_once", projector_batch_max_records=5000))
    async with running(s1):
        await wait_applied(infra.dsn, "w_once", distinct)
        once = await snapshot(infra.dsn)
    assert len(once["interactions"]) > 100 and len(once["waste_ledger"]) > 100

    # every event again: the topics now hold each event twice
    await produce(bootstrap, events)

    # 2. twice, batches of 7
    s2 = WasteService(waste_settings(infra, bootstrap, "w_twice", projector_batch_max_records=7))
    async with running(s2):
        await wait_applied(infra.dsn, "w_twice", distinct)
        await _drained(s2)
        twice = await snapshot(infra.dsn)

    # 3. two instances in one consumer group, batches of 100
    a = WasteService(waste_settings(infra, bootstrap, "w_pair", projector_batch_max_records=100))
    b = WasteService(waste_settings(infra, bootstrap, "w_pair", projector_batch_max_records=100))
    async with running(a, b):
        await wait_applied(infra.dsn, "w_pair", distinct)
        await _drained(a, b)
        pair = await snapshot(infra.dsn)
        assert a.consumer is not None and b.consumer is not None

    for view in VIEWS:
        assert twice[view] == once[view], f"waste.{view} differs when events arrive twice"
        assert pair[view] == once[view], f"waste.{view} differs with two projector instances"


async def _drained(*services: WasteService) -> None:
    from leancrm_devstack.testing import wait_until

    await wait_until(lambda: all((s.consumer is not None and s.consumer.caught_up()) or
                                 (s.consumer is not None and not s.consumer.consumer.assignment())
                                 for s in services), 60, what="every partition read to its end")
