"""The client against the real services on the embedded stack: commands built from the
contract's models are accepted, rejected or answered invalid, each result awaited by
command_id through the client's own committed consumer group — which a restarted client
resumes instead of reading the results topic again from its beginning."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest

from leancrm_client import LeanCrmClient, ResultTimeout, build_command
from leancrm_contracts import customers
from leancrm_contracts import interactions as m
from leancrm_devstack.testing import Infra, running_services

pytestmark = pytest.mark.integration


@pytest.fixture
async def services(infra: Infra, bootstrap: str) -> AsyncIterator[None]:
    from leancrm_customers.app import SPEC as CUSTOMERS
    from leancrm_interactions.app import SPEC as INTERACTIONS

    async with running_services((CUSTOMERS, INTERACTIONS), infra, bootstrap):
        yield


async def test_accepted_rejected_invalid_and_duplicate(services: None, bootstrap: str) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    cid, iid = uuid.uuid4(), uuid.uuid4()
    async with LeanCrmClient(bootstrap, name=name, result_timeout_s=60) as crm:
        registered = await crm.execute(customers.RegisterCustomer(
            customer_id=cid, name="Ada Lovelace", segment="retail"))
        assert registered.status == "accepted" and len(registered.event_ids) == 1

        # several in flight at once, each result matched to its own command
        started = await crm.send(m.StartInteraction(interaction_id=iid, customer_id=cid,
                                                    channel="phone", reason="billing"))
        early = await crm.send(m.ResolveInteraction(interaction_id=iid, resolved_by="agent"))
        unknown = await crm.send(m.EndInteraction(interaction_id=uuid.uuid4()))
        assert (await started.result()).status == "accepted"
        refused = await early.result()  # no agent assigned yet (section 4)
        assert refused.status == "rejected" and refused.error is not None
        assert refused.error.code == "conflict" and "no agent assigned" in refused.error.message
        missing = await unknown.result()
        assert missing.error is not None and missing.error.code == "not_found"

        # headers that contradict the command: invalid (section 2)
        out = build_command(m.EndInteraction(interaction_id=iid))
        lying = dataclasses.replace(out, headers=(out.headers[0], ("message_type", b"start_hold")))
        invalid = await (await crm.send_command(lying)).result()
        assert invalid.error is not None and invalid.error.code == "invalid"
        assert "message_type" in invalid.error.message

        # sending again with the same command_id: duplicate, with the original's events
        again = await crm.execute(customers.RegisterCustomer(
            customer_id=cid, name="Ada Lovelace", segment="retail"), command_id=registered.command_id)
        assert again.status == "duplicate" and again.event_ids == registered.event_ids

        with pytest.raises(ResultTimeout):
            await crm.expect("never-sent").result(timeout_s=0.5)


async def test_a_restarted_client_resumes_from_its_committed_offsets(
    services: None, bootstrap: str
) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    cid = uuid.uuid4()
    async with LeanCrmClient(bootstrap, name=name, result_timeout_s=60) as crm:
        assert (await crm.execute(customers.RegisterCustomer(
            customer_id=cid, name="Grace", segment="business"))).status == "accepted"
        before = await crm.results.positions()
    # sent while no instance is running: its result waits in the topic for the group
    async with LeanCrmClient(bootstrap, name=f"{name}-other", result_timeout_s=60) as other:
        sent = await other.send(customers.ChangeCustomerDetails(customer_id=cid, name="Grace H."))
        assert (await sent.result()).status == "accepted"
    crm = LeanCrmClient(bootstrap, name=name, result_timeout_s=60)
    pending = crm.expect(sent.command_id)  # before start: nothing read can slip by
    async with crm:
        result = await pending.result()
        assert result.status == "accepted" and result.command_id == sent.command_id
        after = await crm.results.positions()
        assert all(after[tp] >= before[tp] for tp in before)
        # it read on from its committed offsets: the new results, not the whole topic
        assert crm.results.consumed <= sum(after[tp] - before[tp] for tp in before)
